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
