"""Shared adapter machinery: natural order, listing, pairing by name, size checks, bicubic upsampling."""

from __future__ import annotations

import numpy as np
import pytest

from mirnet_cli.datasets import list_images, load_dataset, natural_key, upsample_bicubic
from mirnet_cli.errors import MirnetError
from tests.datasets.conftest import make_pairs, rand_u8, write_rgb


def test_natural_order_and_listing(tmp_path):
    for n in ["10", "2", "1"]:
        write_rgb(tmp_path / f"{n}.png", rand_u8(4, 4, 0))
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / ".hidden.png").write_bytes(b"")
    assert [p.stem for p in list_images(tmp_path)] == ["1", "2", "10"]
    assert sorted(["img10", "img2"], key=natural_key) == ["img2", "img10"]


def test_missing_target_is_named(tmp_path):
    make_pairs(tmp_path, "low", "high", ["1", "2"])
    (tmp_path / "high" / "2.png").unlink()
    with pytest.raises(MirnetError, match=r"no target .* for 2\.png"):
        load_dataset("lol", tmp_path)


def test_size_mismatch_is_reported(tmp_path):
    write_rgb(tmp_path / "low" / "1.png", rand_u8(12, 12, 0))
    write_rgb(tmp_path / "high" / "1.png", rand_u8(12, 16, 0))
    ds = load_dataset("lol", tmp_path)
    with pytest.raises(MirnetError, match="differs from its target"):
        ds.samples[0].load()


def test_upsample_bicubic_keeps_constant_and_range():
    img = np.full((5, 7, 3), 0.25, np.float32)
    up = upsample_bicubic(img, 10, 14)
    assert up.shape == (10, 14, 3)
    np.testing.assert_allclose(up, 0.25, atol=1e-6)
