"""PSNR / SSIM / Y / crop / quantise against scikit-image (a test-only dependency) and hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mirnet_cli.metrics import crop_border, gaussian_window_1d, mae, psnr, quantize, rgb_to_y, ssim, ssim_map
from tests.conftest import shared_path

skm = pytest.importorskip("skimage.metrics")


def _sk_ssim_wang(a, b, data_range=255.0, channel_axis=-1):
    return skm.structural_similarity(
        a,
        b,
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
        data_range=data_range,
        channel_axis=channel_axis,
    )


def _pair(shape, seed=0, noise=20.0):
    rng = np.random.default_rng(seed)
    a = rng.uniform(0, 255, shape)
    b = np.clip(a + rng.normal(0, noise, shape), 0, 255)
    return a, b


@pytest.mark.parametrize("shape", [(48, 64, 3), (37, 53, 3), (11, 11, 3), (40, 30, 1)])
def test_ssim_matches_skimage_wang_settings_random_rgb(shape):
    a, b = _pair(shape, seed=sum(shape))
    assert ssim(a, b) == pytest.approx(_sk_ssim_wang(a, b), abs=1e-9)


def test_ssim_matches_skimage_grey_and_uint8():
    a, b = _pair((50, 41), seed=3)
    assert ssim(a, b) == pytest.approx(_sk_ssim_wang(a, b, channel_axis=None), abs=1e-9)
    a8, b8 = a.round().astype(np.uint8), b.round().astype(np.uint8)
    assert ssim(a8, b8) == pytest.approx(_sk_ssim_wang(a8, b8, channel_axis=None), abs=1e-9)


def test_ssim_on_unit_range_equals_255_range():
    a, b = _pair((32, 32, 3), seed=5)
    assert ssim(a / 255.0, b / 255.0, data_range=1.0) == pytest.approx(ssim(a, b, data_range=255), abs=1e-9)


def test_ssim_uniform_sample_covariance_matches_skimage_default():
    # The MIRNet-v2 DPDD script calls structural_similarity(data_range=1, channel_axis=-1) with skimage defaults.
    a, b = _pair((40, 44, 3), seed=7)
    a, b = (a / 255).astype(np.float32), (b / 255).astype(np.float32)
    ours = ssim(a, b, data_range=1.0, gaussian=False, win_size=7, sample_covariance=True)
    ref = skm.structural_similarity(a, b, data_range=1, channel_axis=-1)  # computed in float32 by skimage
    assert ours == pytest.approx(float(ref), abs=2e-6)


def test_ssim_matches_skimage_on_real_lol_pair():
    low = shared_path("data", "lol", "low", "1.png")
    high = shared_path("data", "lol", "high", "1.png")
    cv2 = pytest.importorskip("cv2")
    a = cv2.imread(str(low))[..., ::-1].astype(np.float64)
    b = cv2.imread(str(high))[..., ::-1].astype(np.float64)
    assert ssim(a, b) == pytest.approx(_sk_ssim_wang(a, b), abs=1e-9)
    assert psnr(a / 255, b / 255) == pytest.approx(
        skm.peak_signal_noise_ratio(b / 255, a / 255, data_range=1), abs=1e-9
    )


def test_ssim_identical_is_one_and_worse_is_lower():
    a, b = _pair((32, 32, 3), seed=1)
    assert ssim(a, a) == pytest.approx(1.0, abs=1e-12)
    _, c = _pair((32, 32, 3), seed=1, noise=60.0)
    assert ssim(a, c) < ssim(a, b) < 1.0


def test_ssim_map_is_valid_region():
    a, b = _pair((30, 25), seed=2)
    assert ssim_map(a, b).shape == (20, 15)  # (H - 10) x (W - 10) for the 11x11 window


def test_ssim_rejects_tiny_and_mismatched_images():
    with pytest.raises(ValueError, match="smaller than"):
        ssim(np.zeros((8, 8)), np.zeros((8, 8)))
    with pytest.raises(ValueError, match="same shape"):
        ssim(np.zeros((16, 16)), np.zeros((16, 17)))


def test_gaussian_window_is_fspecial():
    g = gaussian_window_1d()
    w = np.outer(g, g)
    k = np.arange(-5, 6)
    ref = np.exp(-(k[:, None] ** 2 + k[None, :] ** 2) / (2 * 1.5**2))
    np.testing.assert_allclose(w, ref / ref.sum(), rtol=1e-12)
    assert w.shape == (11, 11)


def test_psnr_matches_skimage_and_formula():
    a, b = _pair((20, 30, 3), seed=4)
    a, b = a / 255, b / 255
    assert psnr(a, b) == pytest.approx(skm.peak_signal_noise_ratio(a, b, data_range=1.0), abs=1e-9)
    assert psnr(a * 255, b * 255, data_range=255) == pytest.approx(psnr(a, b), abs=1e-9)
    mse = np.mean((a - b) ** 2)
    assert psnr(a, b) == pytest.approx(10 * math.log10(1 / mse), abs=1e-12)
    assert psnr(a, a) == math.inf


def test_rgb_to_y_hand_values():
    img = np.array([[[1.0, 0.0, 0.0], [0.5, 0.25, 1.0]], [[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]]])
    y = rgb_to_y(img)
    np.testing.assert_allclose(y, [[81.481, 105.84475], [16.0, 235.0]], atol=1e-9)
    u8 = (img * 255).round().astype(np.uint8)
    assert rgb_to_y(u8)[0, 0] == pytest.approx(81.481)
    assert rgb_to_y(img, round_to_uint8=True)[0, 1] == 106.0
    with pytest.raises(ValueError):
        rgb_to_y(np.zeros((4, 4)))


def test_crop_border_symmetric_and_matlab():
    img = np.arange(100).reshape(10, 10)
    assert crop_border(img, 0) is img
    np.testing.assert_array_equal(crop_border(img, 2), img[2:8, 2:8])
    # MATLAB img(3:end-3, 3:end-3) keeps 1-based rows 3..7, i.e. 0-based 2..6
    np.testing.assert_array_equal(crop_border(img, 3, matlab=True), img[2:7, 2:7])
    with pytest.raises(ValueError):
        crop_border(img, 5)


def test_quantize_and_mae():
    x = np.array([-0.1, 0.0, 0.2, 0.5, 1.0, 1.3], dtype=np.float32)
    q8 = quantize(x, 8)
    np.testing.assert_allclose(q8 * 255, [0, 0, 51, 128, 255, 255])  # 127.5 -> 128 (round half to even)
    q16 = quantize(x, 16)
    np.testing.assert_allclose(q16 * 65535, np.rint(np.clip(x.astype(np.float64), 0, 1) * 65535), atol=1e-2)
    assert q8.dtype == np.float32
    assert mae(np.zeros((2, 2, 3)), np.full((2, 2, 3), 0.25)) == pytest.approx(0.25)
    with pytest.raises(ValueError):
        quantize(x, 0)
