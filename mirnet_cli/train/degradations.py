"""Synthetic degradations for training on clean photos (all take and return H×W×3 float32 RGB in [0,1]).

Each function draws its random parameters from the ``numpy.random.Generator`` it is given, so a sample is a pure
function of its seed (that is what makes training resumable to the exact same data).
"""

from __future__ import annotations

import numpy as np

MODES = ("denoise", "lowlight", "sr", "oldphoto")


def _srgb_to_linear(x: np.ndarray) -> np.ndarray:
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


def _linear_to_srgb(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return np.where(x <= 0.0031308, 12.92 * x, 1.055 * np.power(x, 1 / 2.4) - 0.055)


def _jpeg(img: np.ndarray, quality: int) -> np.ndarray:
    import cv2

    bgr = np.clip(np.round(img[..., ::-1] * 255), 0, 255).astype(np.uint8)
    ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1].astype(np.float32) / 255.0


def _blur(img: np.ndarray, sigma: float) -> np.ndarray:
    import cv2

    if sigma <= 0.05:
        return img
    return cv2.GaussianBlur(img, (0, 0), sigmaX=float(sigma), borderType=cv2.BORDER_REFLECT)


def poisson_gaussian_noise(img: np.ndarray, rng: np.random.Generator, *, shot=(2e-4, 1.2e-2),
                           read=(1e-5, 2e-3), correlated_prob=0.5, jpeg_prob=0.5, jpeg_q=(75, 95)) -> np.ndarray:
    """Sensor noise: in linear light, ``y = x + n`` with ``Var[n] = a·x + b`` (shot ``a``, read ``b``).

    ``a`` and ``b`` are drawn log-uniformly from the ranges. With probability ``correlated_prob`` the noise is
    slightly blurred (σ 0.4–0.8 px), as demosaicing and in-camera denoising leave it, and with probability
    ``jpeg_prob`` the result is JPEG-compressed (mild, quality 75–95), as phone photos are.
    """
    a = float(np.exp(rng.uniform(*np.log(shot))))
    b = float(np.exp(rng.uniform(*np.log(read))))
    lin = _srgb_to_linear(img)
    noise = rng.standard_normal(img.shape).astype(np.float32)
    if rng.random() < correlated_prob:
        sigma = rng.uniform(0.4, 0.8)
        blurred = _blur(noise, sigma)
        noise = blurred / max(float(blurred.std()), 1e-6)
    noisy = lin + noise * np.sqrt(a * np.clip(lin, 0, 1) + b)
    out = _linear_to_srgb(noisy).astype(np.float32)
    if rng.random() < jpeg_prob:
        out = _jpeg(out, rng.integers(jpeg_q[0], jpeg_q[1] + 1))
    return np.clip(out, 0, 1).astype(np.float32)


def low_light(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Under-exposure: linear exposure × 0.03–0.25, a mild gamma change, a colour cast (±15 % per channel) and
    the sensor noise that a dark exposure brings."""
    lin = _srgb_to_linear(img)
    lin = lin * rng.uniform(0.03, 0.25)
    lin = lin * rng.uniform(0.85, 1.15, size=3).astype(np.float32)
    lin = np.power(np.clip(lin, 0, 1), rng.uniform(0.9, 1.2))
    noise = rng.standard_normal(img.shape).astype(np.float32)
    a, b = rng.uniform(1e-4, 2e-3), rng.uniform(1e-6, 1e-4)
    lin = lin + noise * np.sqrt(a * lin + b)
    return np.clip(_linear_to_srgb(lin), 0, 1).astype(np.float32)


def blur_downsample(img: np.ndarray, rng: np.random.Generator, scale: int = 4) -> np.ndarray:
    """Super-resolution input: Gaussian blur (σ 0.2–0.3·scale), ×1/scale area downsampling, mild noise, then
    bicubic upsampling back to the original size (the MIRNet SR networks keep the input size)."""
    import cv2

    h, w = img.shape[:2]
    small = cv2.resize(_blur(img, rng.uniform(0.2, 0.3) * scale), (max(1, w // scale), max(1, h // scale)),
                       interpolation=cv2.INTER_AREA)
    small = small + rng.normal(0, rng.uniform(0, 0.01), small.shape).astype(np.float32)
    up = cv2.resize(np.clip(small, 0, 1), (w, h), interpolation=cv2.INTER_CUBIC)
    return np.clip(up, 0, 1).astype(np.float32)


_SEPIA = np.array([[0.393, 0.769, 0.189], [0.349, 0.686, 0.168], [0.272, 0.534, 0.131]], np.float32)


def old_photo(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A scanned old print: fading (lower contrast, lifted blacks), sepia/yellowing, softness, film grain,
    scratches and dust, then JPEG artefacts (quality 20–60)."""
    import cv2

    h, w = img.shape[:2]
    out = _blur(img, rng.uniform(0.3, 1.2))
    tone = np.clip(out @ _SEPIA.T, 0, 1)
    out = out + rng.uniform(0.2, 0.9) * (tone - out)
    fade = rng.uniform(0.55, 0.85)
    out = out * fade + (1 - fade) * rng.uniform(0.55, 0.85) * np.array([1.0, 0.96, 0.85], np.float32)
    grain = _blur(rng.standard_normal((h, w)).astype(np.float32), rng.uniform(0.5, 1.2))
    grain = grain / max(float(grain.std()), 1e-6)
    out = out + rng.uniform(0.02, 0.06) * grain[..., None]
    scratches = np.zeros((h, w), np.float32)
    for _ in range(int(rng.integers(1, 6))):
        x0, x1 = rng.integers(0, w, size=2)
        y0, y1 = 0, h - 1
        if rng.random() < 0.3:  # some scratches run sideways
            (x0, y0), (x1, y1) = (0, int(rng.integers(0, h))), (w - 1, int(rng.integers(0, h)))
        cv2.line(scratches, (int(x0), int(y0)), (int(x1), int(y1)), float(rng.uniform(0.4, 1.0)),
                 thickness=int(rng.integers(1, 3)))
    for _ in range(int(rng.integers(5, 40))):
        cv2.circle(scratches, (int(rng.integers(0, w)), int(rng.integers(0, h))), int(rng.integers(1, 3)),
                   float(rng.uniform(0.3, 0.9)), thickness=-1)
    sign = 1.0 if rng.random() < 0.7 else -1.0  # mostly bright (emulsion lost), sometimes dark
    out = np.clip(out + sign * scratches[..., None], 0, 1)
    return _jpeg(out.astype(np.float32), rng.integers(20, 61))


def degrade(img: np.ndarray, mode: str, rng: np.random.Generator, *, scale: int = 4) -> np.ndarray:
    """Apply the degradation ``mode`` (one of :data:`MODES`)."""
    if mode == "denoise":
        return poisson_gaussian_noise(img, rng)
    if mode == "lowlight":
        return low_light(img, rng)
    if mode == "sr":
        return blur_downsample(img, rng, scale)
    if mode == "oldphoto":
        return old_photo(img, rng)
    raise ValueError(f"unknown synthetic mode {mode!r}; choose from {', '.join(MODES)}")
