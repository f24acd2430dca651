"""Classical baselines scored like models."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mirnet_cli.benchmark.baselines import make_baseline
from mirnet_cli.errors import MirnetError
from mirnet_cli.metrics import psnr


def _noisy_pair(seed=0):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:64, 0:64] / 64.0
    clean = np.stack([xx, yy, 0.5 * (xx + yy)], axis=2).astype(np.float32)
    noisy = np.clip(clean + rng.normal(0, 0.08, clean.shape), 0, 1).astype(np.float32)
    return clean, noisy


def _run(model, img):
    with torch.no_grad():
        return model(torch.from_numpy(img.transpose(2, 0, 1)).unsqueeze(0))[0].permute(1, 2, 0).numpy()


def test_identity_returns_input():
    _, noisy = _noisy_pair()
    assert np.array_equal(_run(make_baseline("identity"), noisy), noisy)


def test_nlmeans_reduces_noise():
    clean, noisy = _noisy_pair()
    assert psnr(_run(make_baseline("nlmeans"), noisy), clean) > psnr(noisy, clean) + 3


def test_clahe_gamma_brightens_dark_images():
    _, img = _noisy_pair()
    dark = img * 0.1
    out = _run(make_baseline("clahe-gamma"), dark)
    assert out.mean() > 3 * dark.mean() and out.min() >= 0 and out.max() <= 1


def test_unknown_baseline():
    with pytest.raises(MirnetError, match="nlmeans"):
        make_baseline("median")


def test_nlmeans_feeds_opencv_bgr_and_returns_rgb():
    import cv2

    clean, noisy = _noisy_pair(1)
    # A colourful image: swapping R and B changes what OpenCV's Lab conversion sees.
    noisy = np.clip(noisy * np.array([1.0, 0.4, 0.1], np.float32), 0, 1)
    out = _run(make_baseline("nlmeans:h=12"), noisy)
    rgb8 = np.clip(np.round(noisy * 255), 0, 255).astype(np.uint8)
    want = cv2.fastNlMeansDenoisingColored(np.ascontiguousarray(rgb8[..., ::-1]), None, 12, 12, 7, 21)[..., ::-1]
    wrong = cv2.fastNlMeansDenoisingColored(rgb8, None, 12, 12, 7, 21)
    assert np.array_equal(np.round(out * 255).astype(np.uint8), want)
    assert not np.array_equal(want, wrong)


def test_nlmeans_h_is_a_parameter():
    assert make_baseline("nlmeans").h == 10.0 and make_baseline("nlmeans:h=3.5").h == 3.5
    with pytest.raises(MirnetError, match="key=number"):
        make_baseline("nlmeans:h")
    with pytest.raises(MirnetError, match="takes h, not sigma"):
        make_baseline("nlmeans:sigma=3")
    with pytest.raises(MirnetError, match="no parameters"):
        make_baseline("clahe-gamma:h=3")


def test_h_search_finds_the_best_strength_and_stops_past_it():
    from mirnet_cli.benchmark.baselines import search_nlmeans_h

    clean, noisy = _noisy_pair(2)
    tried = []

    def score(model):
        tried.append(model.h)
        return psnr(_run(model, noisy), clean)

    best, scores = search_nlmeans_h(score, grid=(2.0, 5.0, 10.0, 20.0, 40.0, 80.0, 160.0))
    assert scores[best] == max(scores.values()) and list(scores) == tried
    assert 5.0 <= best <= 40.0  # σ = 0.08 (20/255) noise wants a medium strength
    assert len(tried) < 7  # stopped once the score kept falling


def test_clahe_is_the_clahe_gamma_baseline():
    _, img = _noisy_pair(2)
    dark = img * 0.1
    assert np.array_equal(_run(make_baseline("clahe"), dark), _run(make_baseline("clahe-gamma"), dark))


def test_autolevels_stretches_each_channel_to_its_percentiles():
    rng = np.random.default_rng(3)
    img = (0.3 + 0.2 * rng.random((64, 64, 3))).astype(np.float32)  # flat: every channel within [0.3, 0.5]
    img[..., 2] *= 0.5  # a colour cast auto-levels removes
    out = _run(make_baseline("autolevels"), img)
    for c in range(3):
        lo, hi = np.percentile(out[..., c], [0.5, 99.5])
        assert lo < 0.02 and hi > 0.98, (c, lo, hi)
    assert abs(out[..., 2].mean() - out[..., 0].mean()) < 0.05  # the cast is gone
    # A flat channel (no spread) is left alone instead of dividing by zero.
    flat = np.full((16, 16, 3), 0.4, np.float32)
    assert np.allclose(_run(make_baseline("autolevels"), flat), np.round(flat * 255) / 255)


def test_autolevels_parameters_are_checked():
    assert make_baseline("autolevels:low=1,high=99").config == {"low": 1.0, "high": 99.0}
    with pytest.raises(MirnetError, match="low < high"):
        make_baseline("autolevels:low=60,high=40")
    with pytest.raises(MirnetError, match="takes no parameters"):
        make_baseline("bicubic:a=-0.75")


def test_bicubic_is_the_upsampled_input():
    _, img = _noisy_pair(4)
    model = make_baseline("bicubic")
    assert model.architecture == "bicubic" and np.array_equal(_run(model, img), img)
