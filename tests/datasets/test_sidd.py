"""The sidd adapter: official block .mat files, DANet single blocks, PNG pairs."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.io

from mirnet_cli.datasets import load_dataset
from mirnet_cli.errors import MirnetError
from tests.datasets.conftest import make_pairs, noisy_of, rand_u8


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


def test_a_parent_folder_names_the_sub_folders_that_match(tmp_path):
    # ../shared/data/sidd holds crops/ (noisy/ + gt/) and val_block/ (noisy.mat + gt.mat): say so (issue 20)
    make_pairs(tmp_path / "crops", "noisy", "gt", ["a", "b"])
    block = rand_u8(16, 16, seed=0)
    (tmp_path / "val_block").mkdir()
    scipy.io.savemat(tmp_path / "val_block" / "noisy.mat", {"im_noisy": noisy_of(block, 0)})
    scipy.io.savemat(tmp_path / "val_block" / "gt.mat", {"im_gt": block})
    (tmp_path / "other").mkdir()
    with pytest.raises(MirnetError) as info:
        load_dataset("sidd", tmp_path)
    message = str(info.value)
    assert "does not have the expected layout" in message
    assert "inside it, crops/ (noisy/ + gt/ PNG pairs), val_block/ (noisy.mat + gt.mat (single block)) match" in message
    assert f"--data-dir {tmp_path / 'crops'}" in message and "other/" not in message
