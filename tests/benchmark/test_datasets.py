"""Every dataset adapter on tiny synthetic layouts (and the shared real data when present)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.io

from mirnet_cli.benchmark.datasets import (
    dataset_task,
    list_images,
    load_dataset,
    natural_key,
    upsample_bicubic,
)
from mirnet_cli.errors import MirnetError
from tests.benchmark.conftest import make_pairs, noisy_of, rand_u8, write_rgb
from tests.conftest import shared_path


def test_natural_order_and_listing(tmp_path):
    for n in ["10", "2", "1"]:
        write_rgb(tmp_path / f"{n}.png", rand_u8(4, 4, 0))
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / ".hidden.png").write_bytes(b"")
    assert [p.stem for p in list_images(tmp_path)] == ["1", "2", "10"]
    assert sorted(["img10", "img2"], key=natural_key) == ["img2", "img10"]


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


def test_wrong_layout_names_the_expected_one(tmp_path):
    (tmp_path / "stuff").mkdir()
    with pytest.raises(MirnetError, match=r"lol: .* expected layout: low/ \+ high/"):
        load_dataset("lol", tmp_path)
    with pytest.raises(MirnetError, match=r"dpdd: .*inputL/ \+ inputR/ \+ target/"):
        load_dataset("dpdd", tmp_path)
    with pytest.raises(MirnetError, match="ValidationNoisyBlocksSrgb.mat"):
        load_dataset("sidd", tmp_path)
    with pytest.raises(MirnetError, match="not a folder"):
        load_dataset("fivek", tmp_path / "missing")
    with pytest.raises(MirnetError, match="unknown dataset"):
        load_dataset("imagenet", tmp_path)


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


def test_sidd_official_block_mats(tmp_path):
    rng = np.random.default_rng(0)
    gt = rng.integers(0, 256, (2, 3, 16, 16, 3), dtype=np.uint8)
    noisy = noisy_of(gt, 0)
    scipy.io.savemat(tmp_path / "ValidationNoisyBlocksSrgb.mat", {"ValidationNoisyBlocksSrgb": noisy})
    scipy.io.savemat(tmp_path / "ValidationGtBlocksSrgb.mat", {"ValidationGtBlocksSrgb": gt})
    ds = load_dataset("sidd", tmp_path)
    assert len(ds) == 6
    assert [s.name for s in ds.samples[:4]] == ["0001_01", "0001_02", "0001_03", "0002_01"]
    x, y = ds.samples[4].load()  # image 2, block 2
    np.testing.assert_array_equal(np.rint(x * 255).astype(np.uint8), noisy[1, 1])
    np.testing.assert_array_equal(np.rint(y * 255).astype(np.uint8), gt[1, 1])
    assert ds.protocol.quantize_bits is None  # the authors score the float output (Idenoised.mat)


def test_sidd_wrong_mat_key_and_missing_gt(tmp_path):
    scipy.io.savemat(
        tmp_path / "ValidationNoisyBlocksSrgb.mat", {"wrong": np.zeros((1, 1, 4, 4, 3), np.uint8)}
    )
    with pytest.raises(MirnetError, match="ValidationGtBlocksSrgb.mat"):
        load_dataset("sidd", tmp_path)
    scipy.io.savemat(
        tmp_path / "ValidationGtBlocksSrgb.mat",
        {"ValidationGtBlocksSrgb": np.zeros((1, 1, 4, 4, 3), np.uint8)},
    )
    with pytest.raises(MirnetError, match="no variable named ValidationNoisyBlocksSrgb"):
        load_dataset("sidd", tmp_path)


def test_sidd_v73_mat_gives_clear_error(tmp_path):
    # A MATLAB v7.3 file is HDF5: scipy refuses it. Fake one with the HDF5 signature at offset 512.
    header = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2024 HDF5 schema 1.00 .".ljust(
        116
    )
    data = header + b"\x00" * 8 + b"\x00\x02IM" + b"\x00" * (512 - 128) + b"\x89HDF\r\n\x1a\n" + b"\x00" * 64
    (tmp_path / "ValidationNoisyBlocksSrgb.mat").write_bytes(data)
    (tmp_path / "ValidationGtBlocksSrgb.mat").write_bytes(data)
    # Without h5py: "needs h5py"; with it: h5py cannot parse this fake body. Either way one clear line.
    with pytest.raises(MirnetError, match="v7.3"):
        load_dataset("sidd", tmp_path)


def test_sidd_danet_single_block(tmp_path):
    gt = rand_u8(16, 16, 3)
    scipy.io.savemat(tmp_path / "noisy.mat", {"im_noisy": noisy_of(gt, 3)})
    scipy.io.savemat(tmp_path / "gt.mat", {"im_gt": gt})
    ds = load_dataset("sidd", tmp_path)
    assert len(ds) == 1 and ds.samples[0].name == "noisy"
    x, y = ds.samples[0].load()
    np.testing.assert_array_equal(np.rint(y * 255).astype(np.uint8), gt)


def test_sidd_png_pairs_noisy_gt_mapping(tmp_path):
    make_pairs(tmp_path, "noisy", "gt", ["0", "1"], input_fmt="NOISY_{}", target_fmt="GT_{}")
    ds = load_dataset("sidd", tmp_path)
    assert [(s.name, s.target.name) for s in ds.samples] == [("NOISY_0", "GT_0.png"), ("NOISY_1", "GT_1.png")]
    make_pairs(tmp_path / "v1", "input", "groundtruth", ["0001_NOISY_SRGB_010"])
    (tmp_path / "v1" / "groundtruth" / "0001_NOISY_SRGB_010.png").rename(
        tmp_path / "v1" / "groundtruth" / "0001_GT_SRGB_010.png"
    )
    assert load_dataset("sidd", tmp_path / "v1").samples[0].target.name == "0001_GT_SRGB_010.png"


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


def test_upsample_bicubic_keeps_constant_and_range():
    img = np.full((5, 7, 3), 0.25, np.float32)
    up = upsample_bicubic(img, 10, 14)
    assert up.shape == (10, 14, 3)
    np.testing.assert_allclose(up, 0.25, atol=1e-6)


def _dpdd(root: Path, names: list[str]) -> Path:
    for i, n in enumerate(names):
        rng = np.random.default_rng(i)
        clean = rng.integers(0, 65536, (16, 20, 3), dtype=np.uint16)
        write_rgb(root / "target" / f"{n}.png", clean)
        write_rgb(root / "inputL" / f"{n}.png", noisy_of(clean, i))
        write_rgb(root / "inputR" / f"{n}.png", noisy_of(clean, i + 50))
    return root


def test_dpdd_16bit_six_channels_and_groups(tmp_path):
    root = _dpdd(tmp_path, ["a1", "a2", "a10"])
    np.save(root / "indoor_labels.npy", np.array([1, 3]))
    np.save(root / "outdoor_labels.npy", np.array([2]))
    ds = load_dataset("dpdd", root)
    assert [s.name for s in ds.samples] == ["a1", "a2", "a10"]
    assert [s.group for s in ds.samples] == ["indoor", "outdoor", "indoor"]
    x, y = ds.samples[0].load()
    assert x.shape == (16, 20, 6) and y.shape == (16, 20, 3)
    # 16-bit precision is kept (not reduced to 8 bit)
    vals = np.unique(np.rint(y * 65535).astype(np.int64) % 257)
    assert len(vals) > 1
    assert ds.protocol.ssim == {"gaussian": False, "win_size": 7, "sample_covariance": True}
    np.save(root / "outdoor_labels.npy", np.array([4]))
    with pytest.raises(MirnetError, match="out of range"):
        load_dataset("dpdd", root)


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


def test_real_shared_layouts():
    data = shared_path("data")
    assert len(load_dataset("lol", data / "lol")) == 15
    assert len(load_dataset("fivek", data / "fivek")) == 9
    assert len(load_dataset("sidd", data / "sidd" / "crops")) == 6
    assert load_dataset("sidd", data / "sidd" / "val_block").layout.startswith("noisy.mat")
    assert len(load_dataset("realsr", data / "set5", scale=4)) == 5
    assert len(load_dataset("dnd", data / "dnd")) == 1


def test_synthetic_dataset_is_reproducible_and_names_filter(tmp_path):
    import numpy as np
    from PIL import Image as PILImage

    from mirnet_cli.benchmark.datasets import load_dataset, select_names
    from mirnet_cli.errors import MirnetError

    rng = np.random.default_rng(0)
    for name in ("a", "b", "c"):
        PILImage.fromarray((rng.random((20, 24, 3)) * 255).astype(np.uint8)).save(tmp_path / f"{name}.png")
    ds = load_dataset("synthetic", tmp_path, degrade="denoise", seed=4)
    assert [s.name for s in ds.samples] == ["a", "b", "c"] and ds.protocol.quantize_bits == 8
    x1, y1 = ds.samples[1].load()
    x2, _ = load_dataset("synthetic", tmp_path, degrade="denoise", seed=4).samples[1].load()
    x3, _ = load_dataset("synthetic", tmp_path, degrade="denoise", seed=5).samples[1].load()
    assert np.array_equal(x1, x2) and not np.array_equal(x1, x3) and not np.array_equal(x1, y1)
    assert np.array_equal(np.round(x1 * 255) / 255, x1)  # quantised like a saved file
    assert [s.name for s in select_names(ds, ["c", "a"]).samples] == ["a", "c"]
    with pytest.raises(MirnetError, match="zzz"):
        select_names(ds, ["zzz"])
    with pytest.raises(MirnetError, match="--degrade"):
        load_dataset("synthetic", tmp_path, degrade="blur")
