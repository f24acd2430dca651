"""The dnd adapter (inputs only)."""

from __future__ import annotations

import pytest
import scipy.io

from mirnet_cli.datasets import load_dataset
from mirnet_cli.errors import MirnetError
from tests.datasets.conftest import rand_u8, write_rgb


def test_dnd_mats_and_pngs(tmp_path):
    scipy.io.savemat(tmp_path / "1.mat", {"im_noisy": rand_u8(16, 16, 0)})
    write_rgb(tmp_path / "1.png", rand_u8(16, 16, 0))
    ds = load_dataset("dnd", tmp_path)
    assert ds.layout.startswith("*.mat") and len(ds) == 1
    x, y = ds.samples[0].load()
    assert y is None and x.shape == (16, 16, 3)
    assert not ds.protocol.has_targets
    write_rgb(tmp_path / "png" / "input" / "0001_01.png", rand_u8(16, 16, 1))
    ds2 = load_dataset("dnd", tmp_path / "png")
    assert ds2.samples[0].name == "0001_01" and ds2.samples[0].target is None
    (tmp_path / "empty").mkdir()
    with pytest.raises(MirnetError, match="dnd: .*im_noisy"):
        load_dataset("dnd", tmp_path / "empty")
