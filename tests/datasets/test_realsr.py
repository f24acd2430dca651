"""The realsr adapter: SwinIR and RealSR layouts, scale inference, modcrop."""

from __future__ import annotations

import pytest

from mirnet_cli.datasets import dataset_task, load_dataset
from mirnet_cli.errors import MirnetError
from tests.datasets.conftest import rand_u8, write_rgb


def test_realsr_swinir_layout_upsamples_and_crops_hr(tmp_path):
    for i, n in enumerate(["baby", "bird"]):
        hr = rand_u8(26, 33, i)  # not multiples of 4 -> modcrop to 24x32
        write_rgb(tmp_path / "HR" / f"{n}.png", hr)
        write_rgb(tmp_path / "LR_bicubic" / "X4" / f"{n}x4.png", rand_u8(6, 8, i + 10))
    write_rgb(tmp_path / "LR_bicubic" / "X2" / "babyx2.png", rand_u8(13, 16, 0))
    with pytest.raises(MirnetError, match="pick one with --scale"):
        load_dataset("realsr", tmp_path)
    ds = load_dataset("realsr", tmp_path, scale=4)
    assert [s.name for s in ds.samples] == ["babyx4", "birdx4"]
    x, y = ds.samples[0].load()
    assert x.shape == y.shape == (24, 32, 3)
    p = ds.protocol
    assert (p.color, p.crop, p.crop_style, p.scale) == ("y", 4, "matlab", 4)
    assert dataset_task("realsr", 4) == "super-resolve:x4"


def test_realsr_x_folder_layout_same_size_and_bad_ratio(tmp_path):
    for n in ["Canon_001"]:
        write_rgb(tmp_path / "x3" / "LR" / f"{n}_LR3.png", rand_u8(15, 15, 0))
        write_rgb(tmp_path / "x3" / "HR" / f"{n}_HR.png", rand_u8(15, 15, 1))
    ds = load_dataset("realsr", tmp_path)  # scale inferred from the only x{s} folder
    assert ds.protocol.scale == 3
    x, y = ds.samples[0].load()
    assert x.shape == y.shape == (15, 15, 3)  # RealSR v1: LR already at HR size, no resize
    ds2 = load_dataset("realsr", tmp_path / "x3")  # the x{s} folder itself
    assert len(ds2) == 1
    write_rgb(tmp_path / "x3" / "LR" / "Canon_001_LR3.png", rand_u8(7, 7, 0))
    with pytest.raises(MirnetError, match="not a x3 reduction"):
        load_dataset("realsr", tmp_path, scale=3).samples[0].load()
