"""Each synthetic degradation keeps shape and range, is seeded, and actually degrades."""

from __future__ import annotations

import numpy as np
import pytest

from mirnet_cli.metrics import psnr
from mirnet_cli.train.degradations import MODES, degrade


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
    a = degrade(clean, mode, np.random.default_rng(5))
    b = degrade(clean, mode, np.random.default_rng(5))
    c = degrade(clean, mode, np.random.default_rng(6))
    assert np.array_equal(a, b) and not np.array_equal(a, c)


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
