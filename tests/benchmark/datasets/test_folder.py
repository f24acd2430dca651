"""The folder adapter: --input-dir (+ --target-dir), SR protocol from --task."""

from __future__ import annotations

import pytest

from mirnet_cli.benchmark.datasets import load_dataset
from mirnet_cli.errors import MirnetError
from tests.benchmark.conftest import make_pairs


def test_folder_adapter(tmp_path):
    make_pairs(tmp_path, "in", "gt", ["p", "q"])
    ds = load_dataset("folder", input_dir=tmp_path / "in", target_dir=tmp_path / "gt")
    assert len(ds) == 2 and ds.protocol.has_targets
    only = load_dataset("folder", input_dir=tmp_path / "in")
    assert only.samples[0].target is None and not only.protocol.has_targets
    with pytest.raises(MirnetError, match="--input-dir"):
        load_dataset("folder")
    sr = load_dataset(
        "folder", input_dir=tmp_path / "in", target_dir=tmp_path / "gt", task="super-resolve:x2"
    )
    assert sr.protocol.scale == 2 and sr.protocol.color == "y"
