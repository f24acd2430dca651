"""Training data: deterministic samples, disjoint sampler keys across ranks, small images, paired folders."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from mirnet_cli.errors import MirnetError
from mirnet_cli.train.config import apply_set, load_config
from mirnet_cli.train.data import (
    PatchDataset,
    SmallImageWarning,
    StageBatchSampler,
    clean_images,
    paired_samples,
    sample_key,
    validation_pairs,
)


def test_samples_are_a_pure_function_of_their_key(photos):
    a = PatchDataset(7, clean=clean_images(photos), mode="denoise")
    b = PatchDataset(7, clean=clean_images(photos), mode="denoise", cache_mb=0)
    x1, y1 = a[(123, 32)]
    x2, y2 = b[(123, 32)]
    assert x1.shape == y1.shape == (3, 32, 32) and x1.dtype == torch.float32
    assert torch.equal(x1, x2) and torch.equal(y1, y2)
    assert not torch.equal(x1, a[(124, 32)][0])
    assert not torch.equal(x1, PatchDataset(8, clean=clean_images(photos), mode="denoise")[(123, 32)][0])
    assert 0.0 <= float(x1.min()) and float(x1.max()) <= 1.0 and not torch.equal(x1, y1)


def test_sampler_keys_are_unique_across_iterations_ranks_and_big_batches():
    cfg = apply_set(load_config(None), ["schedule.iters=6", "schedule.patch_size=32", "schedule.batch_size=100"])
    keys = []
    for rank in range(2):
        batches = list(StageBatchSampler(cfg, 2, 6, rank=rank, world=2))
        assert len(batches) == 4 and all(len(b) == 100 and b[0][1] == 32 for b in batches)
        keys += [k for b in batches for k, _ in b]
    assert len(set(keys)) == len(keys) == 800
    assert sample_key(5, 1, 2, 3) == (5 * 2 + 1) * 64 + 3  # the stream of runs with batches <= 64


def test_progressive_sampler_follows_the_stages():
    cfg = apply_set(load_config(None), ["schedule.iters=10", "schedule.batch_size=8"])
    sizes = [(b[0][1], len(b)) for b in StageBatchSampler(cfg, 0, 10)]
    assert sizes[0] == (128, 8) and sizes[-1] == (224, 2) and len(sizes) == 10


def test_small_images_are_padded_or_skipped(tmp_path):
    Image.fromarray(np.full((20, 24, 3), 128, np.uint8)).save(tmp_path / "small.png")
    Image.fromarray(np.full((40, 40, 3), 64, np.uint8)).save(tmp_path / "big.png")
    padded = PatchDataset(0, clean=clean_images(tmp_path), mode="sr")
    assert len(padded) == 2
    for key in range(6):
        assert padded[(key, 32)][1].shape == (3, 32, 32)
    with pytest.warns(SmallImageWarning, match="small.png"):
        skipped = PatchDataset(0, clean=clean_images(tmp_path), mode="sr", min_size=32, small_images="skip")
    assert [p.name for p in skipped.clean] == ["big.png"]
    with pytest.raises(MirnetError, match="no training images"), pytest.warns(SmallImageWarning):
        PatchDataset(0, clean=clean_images(tmp_path), mode="sr", min_size=64, small_images="skip")


def test_paired_folders_and_crops_stay_aligned(pairs, tmp_path):
    samples = paired_samples(pairs)
    assert sorted(s.name for s in samples) == ["p0", "p1", "p2"]
    assert [s.name for s in paired_samples(pairs, exclude=["p1"])] == ["p0", "p2"]
    # identical input and target files: the crops (and flips) must be identical too
    texture = (np.random.default_rng(0).random((40, 52, 3)) * 255).astype(np.uint8)
    for sub in ("input", "target"):
        (tmp_path / sub).mkdir()
        Image.fromarray(texture).save(tmp_path / sub / "t.png")
    ds = PatchDataset(0, pairs=paired_samples(tmp_path))
    for key in range(8):
        inp, tgt = ds[(key, 16)]
        assert inp.shape == (3, 16, 16) and torch.equal(inp, tgt)


def test_missing_or_unpaired_folders_are_clear(tmp_path, photos):
    with pytest.raises(MirnetError, match="not found"):
        clean_images(tmp_path / "nope")
    with pytest.raises(MirnetError, match="--synthetic"):
        paired_samples(photos)


def test_synthetic_validation_is_fixed(photos):
    cfg = apply_set(load_config(None), [f"data.val_dir={photos}", "data.synthetic=lowlight", "data.val_crop=30",
                                        "data.val_count=2"])
    a, b = validation_pairs(cfg), validation_pairs(cfg)
    assert [n for n, _, _ in a] == ["img0", "img1"]
    assert a[0][1].shape == (28, 28, 3)  # centre crop, rounded down to a multiple of 4
    assert all(np.array_equal(x[1], y[1]) for x, y in zip(a, b, strict=True))
