"""The lol and fivek adapters (two folders matched by file name)."""

from __future__ import annotations

import numpy as np

from mirnet_cli.datasets import load_dataset
from tests.datasets.conftest import make_pairs


def test_lol_pairs_and_loader(lol_dir):
    ds = load_dataset("lol", lol_dir)
    assert [s.name for s in ds.samples] == ["1", "2", "10"]
    assert ds.layout == "low/ + high/"
    x, y = ds.samples[0].load()
    assert x.shape == y.shape == (22, 30, 3) and x.dtype == np.float32
    assert 0 <= x.min() and x.max() <= 1
    assert ds.protocol.quantize_bits == 8 and ds.protocol.color == "rgb" and ds.protocol.crop == 0


def test_lol_input_target_layout_and_fivek(tmp_path):
    make_pairs(tmp_path / "a", "input", "target", ["x", "y"])
    assert len(load_dataset("lol", tmp_path / "a")) == 2
    make_pairs(tmp_path / "b", "input", "expertC", ["a0001"])
    ds = load_dataset("fivek", tmp_path / "b")
    assert ds.samples[0].target.parent.name == "expertC"
    assert len(load_dataset("fivek", tmp_path / "a")) == 2  # input/ + target/
