"""A camera pipeline run backwards and forwards, to put realistic sensor noise into sRGB photos.

Brooks et al., "Unprocessing Images for Learned Raw Denoising" (CVPR 2019) invert each step of a camera's
image processing so that a clean sRGB photo becomes a plausible raw Bayer image; noise is then added where a
sensor adds it (shot + read noise on the raw values) and the photo is developed again. Guo et al., "Toward
Convolutional Blind Denoising of Real Photographs" (CBDNet, CVPR 2019) use the same idea with JPEG at the end.
The result has what real sRGB noise has and white Gaussian noise lacks: it is signal dependent, its colour
channels are correlated by the colour matrix, it is spatially correlated by demosaicing, and it is shaped by the
tone curve (strong in the shadows) and by JPEG.

Steps (all on H×W×3 float32 in [0, 1]; parameters drawn from the ``numpy.random.Generator`` given):

* :func:`unprocess`: tone curve⁻¹ (smoothstep) → gamma⁻¹ → sRGB→camera colour matrix (a random convex mix of
  four real cameras' XYZ→camera matrices) → white balance⁻¹ (highlights kept) → RGGB mosaic;
* :func:`add_sensor_noise`: ``y ~ N(x, a·x + b)`` with shot ``a`` log-uniform and read ``b`` on the log-linear
  fit of Brooks et al. (``log b = 2.18 log a + 1.2 + N(0, 0.26²)``);
* :func:`process`: demosaic (Malvar–He–Cutler, as MATLAB and SIDD's pipeline; or OpenCV's bilinear / edge-aware)
  → white balance → camera→sRGB → gamma → tone curve, optionally JPEG.

Running :func:`process` on the clean mosaic gives back (nearly) the input; only the noise differs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# sRGB (D65) → XYZ.
_RGB2XYZ = np.array([[0.4124564, 0.3575761, 0.1804375],
                     [0.2126729, 0.7151522, 0.0721750],
                     [0.0193339, 0.1191920, 0.9503041]], np.float64)
# XYZ → camera matrices of four cameras (Adobe DNG colour matrices, as listed by Brooks et al. 2019).
_XYZ2CAMS = np.array([
    [[1.0234, -0.2969, -0.2266], [-0.5625, 1.6328, -0.0469], [-0.0703, 0.2188, 0.6406]],
    [[0.4913, -0.0541, -0.0202], [-0.6130, 1.3513, 0.2906], [-0.1564, 0.2151, 0.7183]],
    [[0.8380, -0.2630, -0.0639], [-0.2887, 1.0725, 0.2496], [-0.0627, 0.1427, 0.5438]],
    [[0.6596, -0.2079, -0.0562], [-0.4782, 1.3016, 0.1933], [-0.0970, 0.1581, 0.5181]],
], np.float64)

# Shot noise range (variance per unit signal on [0, 1] raw values): from light DSLR noise (sRGB noise std ≈ 0.01)
# up to the heavy noise of small phone sensors at high ISO (≈ 0.13 in SIDD's darkest crops). Brooks et al. use
# [1e-4, 1.2e-2]. Beyond ~2e-2 the developed noise (std > 0.15) is far heavier than real photos get, and such
# samples would dominate the loss.
SHOT_RANGE = (5e-5, 2e-2)


@dataclass(frozen=True)
class Camera:
    """The drawn pipeline parameters: ``rgb2cam`` (3×3, rows sum to 1), white-balance gains, gamma, and whether
    the smoothstep tone curve is applied."""

    rgb2cam: np.ndarray
    red_gain: float
    blue_gain: float
    rgb_gain: float
    gamma: float
    tone_curve: bool

    @property
    def cam2rgb(self) -> np.ndarray:
        return np.linalg.inv(self.rgb2cam)


def random_camera(rng: np.random.Generator) -> Camera:
    """Draw a camera: colour matrix, gains (Brooks et al.: red 1.9–2.4, blue 1.5–1.9, brightness 1/N(0.8, 0.1)),
    gamma 2.0–2.6 and, 3 times in 4, the smoothstep tone curve."""
    weights = rng.uniform(1e-8, 1e8, size=4)
    xyz2cam = np.tensordot(weights / weights.sum(), _XYZ2CAMS, axes=1)
    rgb2cam = xyz2cam @ _RGB2XYZ
    rgb2cam = rgb2cam / rgb2cam.sum(axis=1, keepdims=True)
    rgb_gain = 1.0 / float(np.clip(rng.normal(0.8, 0.1), 0.5, 1.1))
    return Camera(rgb2cam=rgb2cam.astype(np.float32), red_gain=float(rng.uniform(1.9, 2.4)),
                  blue_gain=float(rng.uniform(1.5, 1.9)), rgb_gain=rgb_gain, gamma=float(rng.uniform(2.0, 2.6)),
                  tone_curve=bool(rng.random() < 0.75))


def _smoothstep(x: np.ndarray) -> np.ndarray:
    return 3 * x * x - 2 * x * x * x


def _inverse_smoothstep(y: np.ndarray) -> np.ndarray:
    y = np.clip(y, 0.0, 1.0)
    return 0.5 - np.sin(np.arcsin(1.0 - 2.0 * y) / 3.0)


def _gains(cam: Camera) -> np.ndarray:
    return np.array([cam.red_gain, 1.0, cam.blue_gain], np.float32) * cam.rgb_gain


def mosaic(rgb: np.ndarray) -> np.ndarray:
    """H×W×3 → H×W RGGB Bayer mosaic (R at even rows/cols, B at odd rows/cols). H and W must be even."""
    out = rgb[..., 1].copy()
    out[0::2, 0::2] = rgb[0::2, 0::2, 0]
    out[1::2, 1::2] = rgb[1::2, 1::2, 2]
    return out


# Malvar, He and Cutler, "High-quality linear interpolation for demosaicing of Bayer-patterned color images"
# (ICASSP 2004): 5×5 kernels (÷8) that add the neighbouring colours' Laplacian to bilinear interpolation. MATLAB's
# `demosaic` uses this method, and so does the pipeline that rendered SIDD's sRGB images.
_MHC_G_AT_RB = np.array([[0, 0, -1, 0, 0], [0, 0, 2, 0, 0], [-1, 2, 4, 2, -1], [0, 0, 2, 0, 0], [0, 0, -1, 0, 0]],
                        np.float32) / 8
_MHC_ROW = np.array([[0, 0, 0.5, 0, 0], [0, -1, 0, -1, 0], [-1, 4, 5, 4, -1], [0, -1, 0, -1, 0], [0, 0, 0.5, 0, 0]],
                    np.float32) / 8  # R (B) at a green pixel of an R (B) row
_MHC_COL = _MHC_ROW.T.copy()  # R (B) at a green pixel of an R (B) column
_MHC_DIAG = np.array([[0, 0, -1.5, 0, 0], [0, 2, 0, 2, 0], [-1.5, 0, 6, 0, -1.5], [0, 2, 0, 2, 0], [0, 0, -1.5, 0, 0]],
                     np.float32) / 8  # R at a blue pixel, B at a red pixel
DEMOSAIC_METHODS = ("bilinear", "ea", "mhc")


def _demosaic_mhc(raw: np.ndarray) -> np.ndarray:
    import cv2

    def conv(kernel: np.ndarray) -> np.ndarray:
        return cv2.filter2D(raw, -1, kernel, borderType=cv2.BORDER_REFLECT_101)

    g_rb, row, col, diag = conv(_MHC_G_AT_RB), conv(_MHC_ROW), conv(_MHC_COL), conv(_MHC_DIAG)
    out = np.empty(raw.shape + (3,), np.float32)
    r, g, b = out[..., 0], out[..., 1], out[..., 2]
    # RGGB: R at (even, even), G at (even, odd) and (odd, even), B at (odd, odd).
    r[0::2, 0::2], g[0::2, 0::2], b[0::2, 0::2] = raw[0::2, 0::2], g_rb[0::2, 0::2], diag[0::2, 0::2]
    r[0::2, 1::2], g[0::2, 1::2], b[0::2, 1::2] = row[0::2, 1::2], raw[0::2, 1::2], col[0::2, 1::2]
    r[1::2, 0::2], g[1::2, 0::2], b[1::2, 0::2] = col[1::2, 0::2], raw[1::2, 0::2], row[1::2, 0::2]
    r[1::2, 1::2], g[1::2, 1::2], b[1::2, 1::2] = diag[1::2, 1::2], g_rb[1::2, 1::2], raw[1::2, 1::2]
    return out


def demosaic(raw: np.ndarray, method: str = "bilinear") -> np.ndarray:
    """RGGB mosaic (float in [0, 1]) → H×W×3 (float32, not clipped for ``mhc``).

    ``bilinear`` and ``ea`` (edge-aware) are OpenCV's, on 16-bit values; ``mhc`` is Malvar–He–Cutler's gradient-
    corrected linear interpolation, whose red and blue channels borrow green's fine detail (and noise).
    """
    if method == "mhc":
        return _demosaic_mhc(raw.astype(np.float32))
    import cv2

    code = cv2.COLOR_BayerBG2RGB_EA if method == "ea" else cv2.COLOR_BayerBG2RGB
    q = np.clip(np.round(raw * 65535.0), 0, 65535).astype(np.uint16)
    return cv2.cvtColor(q, code).astype(np.float32) / 65535.0


def unprocess(img: np.ndarray, cam: Camera) -> np.ndarray:
    """sRGB photo → linear camera raw mosaic (H×W, float32), undoing tone curve, gamma, colour and white balance."""
    x = _inverse_smoothstep(img) if cam.tone_curve else np.clip(img, 0.0, 1.0)
    x = np.power(np.maximum(x, 1e-8), cam.gamma)
    x = x @ cam.rgb2cam.T
    # Dividing by the gains would clip highlights once they are applied again: fade the division out near white.
    gains = _gains(cam)
    gray = x.mean(axis=2, keepdims=True)
    mask = (np.maximum(gray - 0.9, 0.0) / 0.1) ** 2
    safe = np.maximum(mask + (1.0 - mask) * gains, gains)
    x = np.clip(x / safe, 0.0, 1.0)
    return mosaic(x.astype(np.float32))


def process(raw: np.ndarray, cam: Camera, *, demosaic_method: str = "bilinear") -> np.ndarray:
    """Develop an RGGB mosaic: demosaic → white balance → colour matrix → gamma → tone curve (float32 sRGB)."""
    x = demosaic(np.clip(raw, 0.0, 1.0), demosaic_method)
    x = np.clip(x * _gains(cam), 0.0, 1.0)
    x = np.clip(x @ cam.cam2rgb.T, 0.0, 1.0)
    x = np.power(np.maximum(x, 1e-8), 1.0 / cam.gamma)
    if cam.tone_curve:
        x = _smoothstep(x)
    return np.clip(x, 0.0, 1.0).astype(np.float32)


def noise_levels(rng: np.random.Generator, shot_range: tuple[float, float] = SHOT_RANGE) -> tuple[float, float]:
    """``(shot, read)`` variances: shot log-uniform in ``shot_range``, read on Brooks et al.'s log-linear fit."""
    log_shot = rng.uniform(np.log(shot_range[0]), np.log(shot_range[1]))
    log_read = 2.18 * log_shot + 1.20 + rng.normal(0.0, 0.26)
    return float(np.exp(log_shot)), float(np.exp(log_read))


def add_sensor_noise(raw: np.ndarray, shot: float, read: float, rng: np.random.Generator) -> np.ndarray:
    """Heteroscedastic Gaussian approximation of Poisson + read noise: ``y = x + n``, ``Var[n] = shot·x + read``."""
    std = np.sqrt(np.maximum(raw, 0.0) * shot + read)
    return (raw + std * rng.standard_normal(raw.shape).astype(np.float32)).astype(np.float32)


def even_crop(img: np.ndarray) -> tuple[np.ndarray, tuple[int, int]]:
    """Pad H and W up to even numbers (edge) so the Bayer pattern tiles; returns the padded image and the size."""
    h, w = img.shape[:2]
    if h % 2 or w % 2:
        img = np.pad(img, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
    return img, (h, w)
