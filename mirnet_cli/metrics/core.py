"""Full-reference image quality metrics used to score MIRNet outputs.

Everything here is plain numpy + ``scipy.ndimage`` (scikit-image is only a test dependency, used to
cross-check these functions). Arrays are ``H×W`` (grey) or ``H×W×C`` (channels last). Computations run in
float64 regardless of the input dtype.

Conventions
-----------
* **Data range.** ``psnr`` defaults to ``data_range=1.0`` (images in [0, 1]); ``ssim`` defaults to
  ``data_range=255`` (images on the 0–255 scale, as in MATLAB and Wang's ``ssim_index``). Pass the range that
  matches your data. SSIM is invariant to scaling the data and the range together, so ``ssim(a, b, 1.0)`` on
  [0, 1] data equals ``ssim(255*a, 255*b, 255)`` up to float rounding.
* **Colour.** RGB metrics are computed per channel on the RGB image (PSNR over all channels at once, SSIM
  per channel then averaged). Super-resolution papers use the luma channel instead: see :func:`rgb_to_y`.
* **Borders.** Nothing is cropped unless you call :func:`crop_border` first. SR protocols crop ``scale``
  pixels.
* **Quantisation.** Most published numbers are computed on the 8-bit PNG the authors saved, i.e. after
  ``clamp`` and rounding to 8 bit: use :func:`quantize` to reproduce that.

References
----------
* Z. Wang, A. C. Bovik, H. R. Sheikh, E. P. Simoncelli, "Image quality assessment: from error visibility to
  structural similarity", IEEE TIP 13(4):600–612, 2004 (and the reference ``ssim_index.m``, 2003).
* ITU-R BT.601 / MATLAB ``rgb2ycbcr`` for the luma conversion.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage


def _as_float64(x: np.ndarray) -> np.ndarray:
    return np.asarray(x, dtype=np.float64)


def _check_same_shape(a: np.ndarray, b: np.ndarray) -> None:
    if a.shape != b.shape:
        raise ValueError(f"images must have the same shape, got {a.shape} and {b.shape}")


def quantize(x: np.ndarray, bits: int = 8) -> np.ndarray:
    """Clamp to [0, 1], round to ``bits``-bit integers and map back to [0, 1] (float32).

    ``q = round(clip(x, 0, 1) · (2^bits − 1)) / (2^bits − 1)``, rounding half to even like skimage's
    ``img_as_ubyte`` / ``np.rint``. This reproduces what the authors' scripts save: ``img_as_ubyte`` PNGs for
    8-bit tasks, ``uint16(round(out · 65535))`` for dual-pixel defocus deblurring.

    Args:
        x: image with values nominally in [0, 1].
        bits: 8 or 16 (any positive integer works).

    Returns:
        float32 array of the same shape, values on the ``bits``-bit grid.
    """
    if bits < 1:
        raise ValueError(f"bits must be positive, got {bits}")
    peak = float(2**bits - 1)
    q = np.rint(np.clip(_as_float64(x), 0.0, 1.0) * peak) / peak
    return q.astype(np.float32)


def mse(a: np.ndarray, b: np.ndarray) -> float:
    """Mean squared error ``mean((a − b)²)`` over every element, in float64."""
    a, b = _as_float64(a), _as_float64(b)
    _check_same_shape(a, b)
    return float(np.mean((a - b) ** 2))


def mae(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute error ``mean(|a − b|)`` over every element, in float64.

    With channels of equal size this equals the per-channel MAE averaged over channels, which is how the
    MIRNet-v2 DPDD script computes it (scikit-learn ``mean_absolute_error`` per channel, then the mean).
    """
    a, b = _as_float64(a), _as_float64(b)
    _check_same_shape(a, b)
    return float(np.mean(np.abs(a - b)))


def psnr(a: np.ndarray, b: np.ndarray, data_range: float = 1.0) -> float:
    """Peak signal-to-noise ratio in dB.

    ``PSNR = 10 · log10(data_range² / MSE)`` with the MSE over all pixels and channels (for RGB this is the
    "RGB PSNR" of the MIRNet scripts, not a per-channel average). Identical images give ``inf``.

    Args:
        a, b: arrays of the same shape.
        data_range: the peak value: 1.0 for [0, 1] images (default), 255 for 8-bit scale data (e.g. the Y
            channel from :func:`rgb_to_y`, as MATLAB ``psnr`` does on uint8).
    """
    err = mse(a, b)
    if err == 0.0:
        return math.inf
    return 10.0 * math.log10(float(data_range) ** 2 / err)


def rgb_to_y(img: np.ndarray, *, round_to_uint8: bool = False) -> np.ndarray:
    """Luma (Y) of an RGB image, MATLAB ``rgb2ycbcr`` convention (ITU-R BT.601, studio swing).

    ``Y = 16 + 65.481·R + 128.553·G + 24.966·B`` with R, G, B in [0, 1]; the result is on the 0–255 scale
    and lies in [16, 235]. Use ``data_range=255`` for PSNR/SSIM on it.

    Args:
        img: ``H×W×3`` RGB. Floating-point input is taken to be in [0, 1]; ``uint8`` input is divided by 255,
            ``uint16`` by 65535.
        round_to_uint8: round Y to integers, as MATLAB does when ``rgb2ycbcr`` gets a ``uint8`` image (the
            SR evaluation script ``evaluate_PSNR_SSIM.m`` reads the PNGs as uint8, so its Y is rounded;
            halves round up, as MATLAB does).

    Returns:
        ``H×W`` float64 array.
    """
    arr = np.asarray(img)
    if arr.ndim != 3 or arr.shape[-1] != 3:
        raise ValueError(f"rgb_to_y expects an H×W×3 RGB image, got shape {arr.shape}")
    if arr.dtype == np.uint8:
        rgb = arr.astype(np.float64) / 255.0
    elif arr.dtype == np.uint16:
        rgb = arr.astype(np.float64) / 65535.0
    else:
        rgb = arr.astype(np.float64)
    y = 16.0 + 65.481 * rgb[..., 0] + 128.553 * rgb[..., 1] + 24.966 * rgb[..., 2]
    if round_to_uint8:
        # MATLAB's conversion to uint8 rounds halves away from zero (Y is positive, so floor(y + 0.5)).
        y = np.clip(np.floor(y + 0.5), 0, 255)
    return y


def crop_border(img: np.ndarray, n: int, *, matlab: bool = False) -> np.ndarray:
    """Remove an ``n``-pixel border from the first two (spatial) axes.

    * ``matlab=False`` (BasicSR ``crop_border``): ``img[n:H−n, n:W−n]``.
    * ``matlab=True``: the MATLAB expression ``img(n:end−n, n:end−n, :)`` used by the MIRNet-v2 SR script;
      with 1-based indexing it keeps rows ``n−1 … H−n−1`` (0-based), i.e. removes ``n−1`` pixels at the
      top/left and ``n`` at the bottom/right.

    ``n <= 0`` returns the image unchanged.
    """
    if n <= 0:
        return img
    h, w = img.shape[:2]
    top = n - 1 if matlab else n
    if h - top - n <= 0 or w - top - n <= 0:
        raise ValueError(f"cannot crop a {n}-pixel border from a {h}×{w} image")
    return img[top : h - n, top : w - n, ...]


def gaussian_window_1d(sigma: float = 1.5, radius: int = 5) -> np.ndarray:
    """Normalised 1-D Gaussian taps ``g[k] ∝ exp(−k² / 2σ²)``, ``k = −radius … radius``.

    The 2-D window ``outer(g, g)`` equals MATLAB ``fspecial('gaussian', 2·radius+1, sigma)`` (and the
    kernel of ``scipy.ndimage.gaussian_filter(sigma=1.5, truncate=3.5)``): 11×11, σ = 1.5 by default.
    """
    k = np.arange(-radius, radius + 1, dtype=np.float64)
    g = np.exp(-(k**2) / (2.0 * sigma**2))
    return g / g.sum()


def _filter_valid(x: np.ndarray, taps: np.ndarray) -> np.ndarray:
    """Separable 2-D correlation with ``taps`` on both axes, keeping only the 'valid' region.

    Equivalent to MATLAB ``filter2(outer(taps, taps), x, 'valid')``: each output pixel only sees input pixels,
    so the padding mode used internally never reaches the result.
    """
    r = (len(taps) - 1) // 2
    out = ndimage.correlate1d(x, taps, axis=0, mode="reflect")
    out = ndimage.correlate1d(out, taps, axis=1, mode="reflect")
    return out[r : x.shape[0] - r, r : x.shape[1] - r]


def ssim_map(
    a: np.ndarray,
    b: np.ndarray,
    data_range: float = 255.0,
    *,
    gaussian: bool = True,
    sigma: float = 1.5,
    win_size: int | None = None,
    sample_covariance: bool = False,
    k1: float = 0.01,
    k2: float = 0.03,
) -> np.ndarray:
    """Local SSIM map of two single-channel images, 'valid' region only (see :func:`ssim`)."""
    a, b = _as_float64(a), _as_float64(b)
    _check_same_shape(a, b)
    if a.ndim != 2:
        raise ValueError(f"ssim_map expects 2-D arrays, got shape {a.shape}")
    if gaussian:
        # radius int(3.5σ + 0.5): 5 for σ = 1.5, i.e. the 11×11 window of Wang et al.
        radius = int(3.5 * sigma + 0.5) if win_size is None else (win_size - 1) // 2
        taps = gaussian_window_1d(sigma, radius)
    else:
        size = 7 if win_size is None else win_size
        taps = np.full(size, 1.0 / size)
    n = len(taps)
    if n % 2 == 0:
        raise ValueError("the SSIM window size must be odd")
    if min(a.shape) < n:
        raise ValueError(f"images of shape {a.shape} are smaller than the {n}×{n} SSIM window")

    # Population (biased) statistics as in Wang et al.; skimage's default uses the sample covariance,
    # i.e. an extra factor n²/(n²−1) on the (co)variances.
    cov_norm = (n * n) / (n * n - 1.0) if sample_covariance else 1.0
    mu_a = _filter_valid(a, taps)
    mu_b = _filter_valid(b, taps)
    var_a = cov_norm * (_filter_valid(a * a, taps) - mu_a * mu_a)
    var_b = cov_norm * (_filter_valid(b * b, taps) - mu_b * mu_b)
    cov_ab = cov_norm * (_filter_valid(a * b, taps) - mu_a * mu_b)
    c1 = (k1 * data_range) ** 2
    c2 = (k2 * data_range) ** 2
    num = (2.0 * mu_a * mu_b + c1) * (2.0 * cov_ab + c2)
    den = (mu_a * mu_a + mu_b * mu_b + c1) * (var_a + var_b + c2)
    return num / den


def ssim(
    a: np.ndarray,
    b: np.ndarray,
    data_range: float = 255.0,
    *,
    gaussian: bool = True,
    sigma: float = 1.5,
    win_size: int | None = None,
    sample_covariance: bool = False,
    k1: float = 0.01,
    k2: float = 0.03,
) -> float:
    """Structural similarity (mean SSIM) of Wang et al. 2004.

    For local means μ, variances σ² and covariance σ_ab taken under the window w::

        SSIM = ((2 μ_a μ_b + C1)(2 σ_ab + C2)) / ((μ_a² + μ_b² + C1)(σ_a² + σ_b² + C2)),
        C1 = (K1 · L)², C2 = (K2 · L)², L = data_range,

    averaged over the 'valid' positions, i.e. where the window lies entirely inside the image (an
    ``(H−n+1)×(W−n+1)`` map for an ``n×n`` window). This is Wang's ``ssim_index.m`` (``filter2(..., 'valid')``)
    and equals ``skimage.metrics.structural_similarity(gaussian_weights=True, sigma=1.5,
    use_sample_covariance=False, data_range=L)``: skimage filters with reflection padding and then crops
    ``(n−1)//2`` pixels, which leaves exactly the valid positions.

    Defaults: Gaussian 11×11 window with σ = 1.5, K1 = 0.01, K2 = 0.03, population statistics, L = 255.
    ``gaussian=False`` selects a uniform ``win_size×win_size`` window (7 by default); together with
    ``sample_covariance=True`` this is skimage's *default* ``structural_similarity``, which the MIRNet-v2
    dual-pixel script uses (with ``data_range=1``).

    Colour images (``H×W×C``) are scored per channel and the channel scores averaged (skimage
    ``channel_axis=-1``). Note that MATLAB's built-in ``ssim`` differs: it treats an RGB array as a 3-D volume
    by default, pads with 'replicate' and averages the full-size map, so SSIM published from MATLAB ``ssim``
    on RGB can differ slightly in the third decimal.

    Args:
        a, b: arrays of the same shape, ``H×W`` or ``H×W×C``, on the scale given by ``data_range``.
        data_range: dynamic range L of the data (255 for 0–255 data, 1.0 for [0, 1] data).
        gaussian, sigma, win_size, sample_covariance, k1, k2: window and constants, see above.

    Returns:
        Mean SSIM; 1.0 for identical images.
    """
    a, b = _as_float64(a), _as_float64(b)
    _check_same_shape(a, b)
    kwargs = dict(
        gaussian=gaussian,
        sigma=sigma,
        win_size=win_size,
        sample_covariance=sample_covariance,
        k1=k1,
        k2=k2,
    )
    if a.ndim == 2:
        return float(ssim_map(a, b, data_range, **kwargs).mean())
    if a.ndim == 3:
        scores = [ssim_map(a[..., c], b[..., c], data_range, **kwargs).mean() for c in range(a.shape[-1])]
        return float(np.mean(scores))
    raise ValueError(f"ssim expects H×W or H×W×C arrays, got shape {a.shape}")
