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


def test_sources_mix_real_pairs_with_synthetic_by_weight(pairs, photos):
    from mirnet_cli.train.data import Source

    real = Source(pairs=paired_samples(pairs), weight=3.0, label="real")
    synth = Source(clean=clean_images(photos), mode="lowlight", weight=1.0, label="synthetic")
    ds = PatchDataset(5, sources=[real, synth], cache_mb=0)
    assert len(ds) == 3 + 4
    # Real targets are the saved clean PNGs; synthetic low-light inputs are much darker than their targets.
    dark = 0
    for key in range(200):
        inp, tgt = ds[(key, 16)]
        dark += float(inp.mean()) < 0.6 * float(tgt.mean())
    assert 30 <= dark <= 80  # ~1/4 of the samples are synthetic
    again = PatchDataset(5, sources=[real, synth])
    assert torch.equal(ds[(17, 16)][0], again[(17, 16)][0])


def test_sources_from_the_config(pairs, photos, monkeypatch):
    from mirnet_cli.train.data import build_sources

    monkeypatch.setenv("MIRNET_TEST_DATA", str(photos.parent))
    cfg = apply_set(load_config(None), [
        f"data.train_dir={pairs}", "data.exclude=[p0]",
        f"data.sources=[{{dir: $MIRNET_TEST_DATA/{photos.name}, synthetic: denoise, weight: 0.5, exclude: [img3]}}]"])
    sources = build_sources(cfg.data)
    assert [len(s) for s in sources] == [2, 3] and sources[0].mode is None and sources[1].mode == "denoise"
    assert sources[1].weight == 0.5 and [p.stem for p in sources[1].clean] == ["img0", "img1", "img2"]


@pytest.mark.parametrize("bad,match", [
    ("data.sources=[{synthetic: sr}]", "needs a 'dir'"),
    ("data.sources=[{dir: x, synth: sr}]", "unknown key"),
    ("data.sources=[{dir: x, synthetic: blur}]", "synthetic must be one of"),
    ("data.sources=[{dir: x, weight: 0}]", "weight must be a number > 0"),
    ("data.exposure=[1, -1]", "min_ev, max_ev"),
    ("data.scales=[0, 2]", "data.scales"),
    ("threads=0", "threads"),
    ("data.sources=[{dir: x, partial_edit: 1.0}]", "partial_edit must be from 0 to below 1"),
    ("data.sources=[{dir: x, synthetic: sr, partial_edit: 0.5}]", "partial_edit .* needs a paired source"),
])
def test_bad_source_settings_are_one_line_errors(bad, match):
    from mirnet_cli.train.config import TrainConfigError

    with pytest.raises(TrainConfigError, match=match):
        apply_set(load_config(None), [bad]).check()


def test_exposure_augmentation_darkens_target_and_input_alike(photos):
    base = PatchDataset(1, clean=clean_images(photos), mode="denoise", cache_mb=0)
    dark = PatchDataset(1, clean=clean_images(photos), mode="denoise", cache_mb=0, exposure=(-3.0, -2.0))
    for key in range(5):
        _, t0 = base[(key, 24)]
        x1, t1 = dark[(key, 24)]
        assert float(t1.mean()) < 0.7 * float(t0.mean())
        assert abs(float(x1.mean()) - float(t1.mean())) < 0.1  # the noisy input follows its darkened target


def test_sr_validation_takes_the_factors_in_turn(photos):
    cfg = apply_set(load_config(None), [f"data.val_dir={photos}", "data.synthetic=sr", "data.scales=[2, 4]",
                                        "data.val_crop=48", "data.val_count=4"])
    from mirnet_cli.metrics import psnr

    scores = [psnr(x, y) for _, x, y in validation_pairs(cfg)]
    assert scores[0] > scores[1] and scores[2] > scores[3]  # ×2, ×4, ×2, ×4


def test_partial_edit_moves_inputs_part_of_the_way_to_the_target(tmp_path):
    from mirnet_cli.train.data import Source, partial_edit

    x, y = np.zeros((4, 4, 3), np.float32), np.ones((4, 4, 3), np.float32)
    assert np.allclose(partial_edit([x], y, 0.25)[0], 0.25)
    for sub, value in (("input", 40), ("target", 200)):
        (tmp_path / sub).mkdir()
        Image.fromarray(np.full((40, 40, 3), value, np.uint8)).save(tmp_path / sub / "flat.png")
    plain = PatchDataset(0, sources=[Source(pairs=paired_samples(tmp_path))])
    edited = PatchDataset(0, sources=[Source(pairs=paired_samples(tmp_path), partial_edit=0.6)])
    shares = []
    for key in range(20):
        (a, t), (b, u) = plain[(key, 16)], edited[(key, 16)]
        assert torch.allclose(a, torch.full_like(a, 40 / 255)) and torch.equal(t, u)  # the target never moves
        shares.append(float((b.mean() - a.mean()) / (t.mean() - a.mean())))
    assert 0.0 <= min(shares) and max(shares) <= 0.6 and max(shares) - min(shares) > 0.2  # m ~ U(0, 0.6)
