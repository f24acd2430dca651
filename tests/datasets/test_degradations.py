"""Each synthetic degradation keeps shape and range, is seeded, and actually degrades."""

from __future__ import annotations

import numpy as np
import pytest

from mirnet_cli.datasets.degradations import MODES, degrade
from mirnet_cli.metrics import psnr


@pytest.fixture(scope="module")
def clean():
    yy, xx = np.mgrid[0:96, 0:128] / 128.0
    img = np.stack([0.2 + 0.6 * xx, 0.3 + 0.5 * yy, 0.5 + 0.3 * np.sin(6 * xx)], axis=2)
    texture = 0.15 * (np.random.default_rng(0).random(img.shape[:2]) - 0.5)  # fine detail, like a real photo
    return np.clip(img + texture[..., None], 0, 1).astype(np.float32)


@pytest.mark.parametrize("mode", MODES)
def test_shape_range_and_degrades(clean, mode):
    out = degrade(clean, mode, np.random.default_rng(0), scale=4)
    assert out.shape == clean.shape and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0
    assert psnr(out, clean) < 35.0, f"{mode} barely changed the image"


@pytest.mark.parametrize("mode", MODES)
def test_seeded(clean, mode):
    # Bicubic SR at one factor is deterministic up to the upsampling kernel: draw the factor too.
    scale = [2, 3, 4] if mode == "sr" else 4
    a = degrade(clean, mode, np.random.default_rng(5), scale=scale)
    b = degrade(clean, mode, np.random.default_rng(5), scale=scale)
    assert np.array_equal(a, b)
    assert any(not np.array_equal(a, degrade(clean, mode, np.random.default_rng(s), scale=scale)) for s in (6, 7, 8))


def test_lowlight_is_darker(clean):
    assert degrade(clean, "lowlight", np.random.default_rng(1)).mean() < 0.6 * clean.mean()


def test_sr_loses_detail(clean):
    rng = np.random.default_rng(2)
    detail = np.clip(clean + 0.2 * (rng.random(clean.shape) > 0.5), 0, 1).astype(np.float32)
    out = degrade(detail, "sr", np.random.default_rng(3), scale=4)
    hf = lambda a: np.abs(np.diff(a, axis=1)).mean()  # noqa: E731
    assert hf(out) < 0.5 * hf(detail)


def test_unknown_mode(clean):
    with pytest.raises(ValueError, match="oldphoto"):
        degrade(clean, "sepia", np.random.default_rng(0))


# ------------------------------------------------------------------------------------------------ camera pipeline
def test_unprocess_then_process_gives_the_photo_back():
    from mirnet_cli.datasets import camera

    yy, xx = np.mgrid[0:64, 0:96] / 96.0
    smooth = np.stack([0.1 + 0.8 * xx, 0.2 + 0.6 * yy, 0.5 + 0.3 * np.sin(4 * xx)], axis=2).astype(np.float32)
    for seed, method in zip(range(6), camera.DEMOSAIC_METHODS * 2, strict=True):
        cam = camera.random_camera(np.random.default_rng(seed))
        back = camera.process(camera.unprocess(smooth, cam), cam, demosaic_method=method)
        # Colour matrix, gains, gamma and tone curve are undone exactly; only demosaicing (which cannot restore
        # pixel-level detail, so the test image is smooth) and 16-bit rounding differ.
        assert psnr(back[4:-4, 4:-4], smooth[4:-4, 4:-4]) > 40.0


def test_malvar_he_cutler_demosaicing_keeps_more_detail_than_bilinear(clean):
    from mirnet_cli.datasets import camera

    yy, xx = np.mgrid[0:64, 0:64]
    detail = (0.5 + 0.4 * np.sin(xx / 1.7)[..., None] * np.array([1.0, 0.8, 0.6]) * np.cos(yy / 2.3)[..., None])
    detail = detail.astype(np.float32)
    raw = camera.mosaic(detail)
    inner = (slice(4, -4), slice(4, -4))
    mhc = camera.demosaic(raw, "mhc")
    # Known samples pass through unchanged; elsewhere MHC beats bilinear interpolation clearly.
    np.testing.assert_array_equal(mhc[0::2, 0::2, 0], raw[0::2, 0::2])
    np.testing.assert_array_equal(mhc[0::2, 1::2, 1], raw[0::2, 1::2])
    assert psnr(mhc[inner], detail[inner]) > psnr(camera.demosaic(raw, "bilinear")[inner], detail[inner]) + 2.0


def test_camera_matrix_rows_sum_to_one_and_gains_are_in_range():
    from mirnet_cli.datasets import camera

    cam = camera.random_camera(np.random.default_rng(3))
    np.testing.assert_allclose(cam.rgb2cam.sum(axis=1), 1.0, atol=1e-5)
    assert 1.9 <= cam.red_gain <= 2.4 and 1.5 <= cam.blue_gain <= 1.9 and 2.0 <= cam.gamma <= 2.6


def test_read_noise_follows_the_shot_noise():
    from mirnet_cli.datasets import camera

    levels = [camera.noise_levels(np.random.default_rng(s)) for s in range(200)]
    shot, read = np.log(np.array(levels)).T
    assert np.corrcoef(shot, read)[0, 1] > 0.9  # log-linear, as measured on real sensors
    lo, hi = camera.SHOT_RANGE
    assert np.exp(shot).min() >= lo and np.exp(shot).max() <= hi


def test_camera_noise_is_signal_dependent_spatially_and_chromatically_correlated():
    from mirnet_cli.datasets import camera

    # On the sensor the variance is shot·x + read: brighter raw values are noisier.
    raw = np.concatenate([np.full((64, 64), 0.05, np.float32), np.full((64, 64), 0.6, np.float32)], axis=1)
    n_raw = camera.add_sensor_noise(raw, 0.01, 1e-5, np.random.default_rng(0)) - raw
    assert n_raw[:, 64:].std() > 2.5 * n_raw[:, :64].std()
    flat = np.full((96, 96, 3), 0.5, np.float32)
    n = degrade(flat, "denoise", np.random.default_rng(11)) - flat
    assert n.std() > 0
    # Demosaicing spreads each raw sample over its neighbours: adjacent pixels' noise is correlated.
    g = n[..., 1]
    corr = np.corrcoef(g[:, :-1].ravel(), g[:, 1:].ravel())[0, 1]
    assert corr > 0.1
    # The colour matrix mixes channels: the noise of R and G is correlated.
    assert abs(np.corrcoef(n[..., 0].ravel(), n[..., 1].ravel())[0, 1]) > 0.05


def test_camera_noise_levels_span_light_to_heavy(clean):
    scores = [psnr(degrade(clean, "denoise", np.random.default_rng(s)), clean) for s in range(40)]
    assert min(scores) < 22.0 and max(scores) > 35.0


def test_camera_noise_keeps_odd_sizes():
    odd = np.random.default_rng(0).random((33, 45, 3)).astype(np.float32)
    for mode in ("denoise", "lowlight"):
        assert degrade(odd, mode, np.random.default_rng(1)).shape == odd.shape


def test_lowlight_is_8_bit_and_keeps_colour_balance(clean):
    outs = [degrade(clean, "lowlight", np.random.default_rng(s)) for s in range(12)]
    for out in outs:
        np.testing.assert_allclose(out * 255.0, np.round(out * 255.0), atol=1e-3)
    # No systematic colour cast: the white-balance error is small and symmetric, so the mean chromaticity over
    # draws stays near the photo's own. (Noise clipped at black lifts red and blue a little more than green in the
    # darkest draws, a slight magenta as in real sensors' shadows, hence the tolerance.)
    chroma = lambda a: a.reshape(-1, 3).mean(0) / a.mean()  # noqa: E731
    mean_chroma = np.mean([chroma(o) for o in outs], axis=0)
    np.testing.assert_allclose(mean_chroma, chroma(clean), atol=0.2)


def test_sr_draws_its_factor_from_a_list(clean):
    rng = np.random.default_rng(2)
    detail = np.clip(clean + 0.2 * (rng.random(clean.shape) > 0.5), 0, 1).astype(np.float32)
    losses = {round(psnr(degrade(detail, "sr", np.random.default_rng(s), scale=[2, 4]), detail), 1)
              for s in range(12)}
    assert max(losses) - min(losses) > 0.5  # ×2 keeps more than ×4
    x2 = psnr(degrade(detail, "sr", np.random.default_rng(0), scale=2), detail)
    x4 = psnr(degrade(detail, "sr", np.random.default_rng(0), scale=4), detail)
    assert x2 > x4


def test_contrast_flattens_and_dulls(clean):
    outs = [degrade(clean, "contrast", np.random.default_rng(s)) for s in range(20)]
    sat = lambda a: (a.max(axis=2) - a.min(axis=2)).mean()  # noqa: E731
    assert np.mean([sat(o) for o in outs]) < sat(clean)
    assert np.mean([o.std() for o in outs]) < clean.std()


def test_oldphoto_wide_spans_faint_to_heavy_damage(clean):
    scores = [psnr(degrade(clean, "oldphoto-wide", np.random.default_rng(i)), clean) for i in range(24)]
    assert max(scores) - min(scores) > 8  # not one fixed severity
    assert max(scores) > 27 and min(scores) < 22  # faint prints as well as heavy ones


def test_oldphoto_unseen_is_the_issues_held_out_damage():
    import cv2

    flat = np.full((64, 96, 3), 0.5, np.float32)
    out = degrade(flat, "oldphoto-unseen", np.random.default_rng(0))
    lab = cv2.cvtColor(out, cv2.COLOR_RGB2Lab)
    assert lab[..., 2].mean() > 5  # warm sepia toning
    bright = (out > 0.79).all(-1)
    assert 0 < bright.mean() < 0.2  # a few thin white scratches
    grain = out[~bright] - out[~bright].mean(0)
    assert abs(grain.std() * 255 - 8) < 1.5  # film grain σ 8/255 (monochrome: the channels move together)
    assert np.corrcoef(grain[:, 0], grain[:, 2])[0, 1] > 0.95
