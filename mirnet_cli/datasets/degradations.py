"""Synthetic degradations for training on clean photos (all take and return H×W×3 float32 RGB in [0,1]).

Each function draws its random parameters from the ``numpy.random.Generator`` it is given, so a sample is a pure
function of its seed (that is what makes training resumable to the exact same data).

Modes (``--synthetic MODE``):

* ``denoise``: real camera noise through the camera pipeline run backwards and forwards
  (:mod:`mirnet_cli.datasets.camera`; Brooks et al. CVPR 2019, CBDNet CVPR 2019), from light DSLR noise to heavy
  phone noise, sometimes JPEG-compressed;
* ``lowlight``: an under-exposed capture of the same scene: exposure, a small white-balance error and the sensor
  noise of a dark raw (shot + read, amplified by the development), developed and saved in 8 bits;
* ``sr``: bicubic ×1/s downscaling (antialiased, as MATLAB's ``imresize``) and bicubic ×s upsampling back, ``s``
  from the ``scale`` argument (one factor, or a list to draw from);
* ``oldphoto``: fading, sepia, grain, scratches, dust and JPEG;
* ``oldphoto-wide``: the same damages, each present or not and from faint to heavy, so that a model also learns
  to leave a mildly damaged print's colours alone;
* ``oldphoto-unseen``: an evaluation damage no training mode makes: 40 % duotone sepia toning, film grain σ 8/255
  and thin white scratches (issue 19's held-out test);
* ``contrast``: the flat, untouched rendering a retoucher starts from: exposure and contrast off, duller colours,
  a white-balance error (the target is the photo as given);
* ``poisson``: Poisson–Gaussian noise added in linear sRGB (the simpler model earlier versions used for
  ``denoise``); ``sr-blur``: Gaussian blur + area downsampling + mild noise (the earlier ``sr``).
"""

from __future__ import annotations

import numpy as np

MODES = ("denoise", "lowlight", "sr", "oldphoto", "oldphoto-wide", "oldphoto-unseen", "contrast", "poisson",
         "sr-blur")


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


def _demosaic_method(rng: np.random.Generator) -> str:
    """Malvar–He–Cutler most of the time (MATLAB's and SIDD's demosaicing, which gives red and blue green's fine
    noise), OpenCV's bilinear or edge-aware otherwise (blotchier chroma noise, as simpler pipelines leave)."""
    u = rng.random()
    return "mhc" if u < 0.7 else ("ea" if u < 0.85 else "bilinear")


def camera_noise(img: np.ndarray, rng: np.random.Generator, *, shot_range: tuple[float, float] | None = None,
                 jpeg_prob: float = 0.3, jpeg_q: tuple[int, int] = (70, 98)) -> np.ndarray:
    """Real-looking camera noise: the photo is unprocessed to a raw mosaic, shot and read noise are added there,
    and the noise is developed with the same pipeline (demosaic, white balance, colour matrix, gamma, tone curve).

    Only the developed noise is added to the photo, ``y = x + (P(r + n) − P(r))`` with ``r`` the unprocessed mosaic
    and ``P`` the development, so the clean part of ``y`` is exactly ``x`` (demosaicing does not blur the target)
    while the noise has the structure that real sRGB noise has. With probability ``jpeg_prob`` the result is
    JPEG-compressed (quality in ``jpeg_q``), as phone and camera JPEGs are.
    """
    from . import camera

    padded, (h, w) = camera.even_crop(img)
    cam = camera.random_camera(rng)
    raw = camera.unprocess(padded, cam)
    shot, read = camera.noise_levels(rng, shot_range or camera.SHOT_RANGE)
    noisy_raw = camera.add_sensor_noise(raw, shot, read, rng)
    method = _demosaic_method(rng)
    noise = camera.process(noisy_raw, cam, demosaic_method=method) - camera.process(raw, cam, demosaic_method=method)
    out = np.clip(padded + noise, 0.0, 1.0)[:h, :w].astype(np.float32)
    if rng.random() < jpeg_prob:
        out = _jpeg(out, rng.integers(jpeg_q[0], jpeg_q[1] + 1))
    return np.ascontiguousarray(out, dtype=np.float32)


def low_light(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The same scene captured too dark: exposure × 0.01–0.4 (log-uniform; LoL's pairs span 0.012–0.08) on the raw
    values, a white-balance error
    of a few per cent per channel, the shot and read noise of that dark raw (the development amplifies it), then
    development with the drawn camera and 8-bit quantisation, as a real under-exposed JPEG/PNG is stored.

    The white-balance error is small and symmetric, so the network learns brightness, not colour: the target's
    colours are the photo's own.
    """
    from . import camera

    padded, (h, w) = camera.even_crop(img)
    cam = camera.random_camera(rng)
    raw = camera.unprocess(padded, cam)
    exposure = float(np.exp(rng.uniform(np.log(0.01), np.log(0.4))))
    wb = np.exp(rng.normal(0.0, 0.04, size=3)).astype(np.float32)
    wb_mosaic = camera.mosaic(np.broadcast_to(wb, padded.shape).astype(np.float32))
    dark = raw * exposure * wb_mosaic
    shot, read = camera.noise_levels(rng, (1e-4, 1e-2))
    noisy = camera.add_sensor_noise(dark, shot, read, rng)
    out = camera.process(noisy, cam, demosaic_method=_demosaic_method(rng))[:h, :w]
    return (np.round(out * 255.0) / 255.0).astype(np.float32)


def poisson_gaussian_noise(img: np.ndarray, rng: np.random.Generator, *, shot=(2e-4, 1.2e-2),
                           read=(1e-5, 2e-3), correlated_prob=0.5, jpeg_prob=0.5, jpeg_q=(75, 95)) -> np.ndarray:
    """Sensor noise added in linear sRGB: ``y = x + n`` with ``Var[n] = a·x + b`` (shot ``a``, read ``b``).

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


def flat_rendering(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """What a retoucher starts from: exposure off by −1.3…+0.5 EV, contrast flattened toward mid-grey (an S-curve
    undone), saturation × 0.6–1.0, a white-balance error (±8 % per channel) and sometimes a lifted black level."""
    lin = _srgb_to_linear(img)
    lin = lin * float(2.0 ** rng.uniform(-1.3, 0.5))
    lin = lin * np.exp(rng.normal(0.0, 0.08, size=3)).astype(np.float32)
    out = _linear_to_srgb(np.clip(lin, 0, 1))
    k = float(rng.uniform(0.55, 1.0))  # contrast: blend with a flat (mid-grey pivot) version
    pivot = float(np.clip(out.mean(), 0.2, 0.6))
    out = pivot + k * (out - pivot)
    gray = out @ np.array([0.299, 0.587, 0.114], np.float32)
    out = gray[..., None] + float(rng.uniform(0.6, 1.0)) * (out - gray[..., None])
    if rng.random() < 0.3:
        lift = float(rng.uniform(0.0, 0.08))
        out = lift + (1.0 - lift) * out
    return (np.round(np.clip(out, 0, 1) * 255.0) / 255.0).astype(np.float32)


def bicubic_sr(img: np.ndarray, rng: np.random.Generator, scale: int | list[int] | tuple[int, ...] = 4) -> np.ndarray:
    """Super-resolution input as the benchmarks make it: antialiased bicubic ×1/s (PIL, like MATLAB ``imresize``),
    quantised to 8 bits, then bicubic ×s back to the original size (half the time OpenCV's kernel, as
    ``mirnet super-resolve`` uses, half PIL's, as ``mirnet benchmark`` uses). ``s`` is drawn from ``scale`` when
    it is a list."""
    import cv2
    from PIL import Image

    scales = [int(scale)] if np.isscalar(scale) else [int(s) for s in scale]
    s = scales[int(rng.integers(0, len(scales)))]
    h, w = img.shape[:2]
    lh, lw = max(1, h // s), max(1, w // s)
    # The benchmarks' LR images are 8-bit files, so the network sees 8-bit LR. Only the top-left lh·s × lw·s
    # region has an exact LR counterpart; the few rows/columns beyond it (when s does not divide the patch)
    # repeat the last upsampled row/column.
    src = Image.fromarray(np.clip(np.round(img[: lh * s, : lw * s] * 255.0), 0, 255).astype(np.uint8))
    small = src.resize((lw, lh), Image.BICUBIC)
    if rng.random() < 0.5:
        up = np.asarray(small.resize((lw * s, lh * s), Image.BICUBIC), np.float32) / 255.0
    else:
        up = cv2.resize(np.asarray(small, np.float32) / 255.0, (lw * s, lh * s), interpolation=cv2.INTER_CUBIC)
    if up.shape[:2] != (h, w):
        up = np.pad(up, ((0, h - up.shape[0]), (0, w - up.shape[1]), (0, 0)), mode="edge")
    return np.clip(up, 0, 1).astype(np.float32)


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
    h, w = img.shape[:2]
    out = _blur(img, rng.uniform(0.3, 1.2))
    tone = np.clip(out @ _SEPIA.T, 0, 1)
    out = out + rng.uniform(0.2, 0.9) * (tone - out)
    fade = rng.uniform(0.55, 0.85)
    out = out * fade + (1 - fade) * rng.uniform(0.55, 0.85) * np.array([1.0, 0.96, 0.85], np.float32)
    grain = _blur(rng.standard_normal((h, w)).astype(np.float32), rng.uniform(0.5, 1.2))
    grain = grain / max(float(grain.std()), 1e-6)
    out = out + rng.uniform(0.02, 0.06) * grain[..., None]
    scratches = _scratches(h, w, rng, lines=(1, 6), dust=(5, 40))
    sign = 1.0 if rng.random() < 0.7 else -1.0  # mostly bright (emulsion lost), sometimes dark
    out = np.clip(out + sign * scratches[..., None], 0, 1)
    return _jpeg(out.astype(np.float32), rng.integers(20, 61))


def _scratches(h: int, w: int, rng: np.random.Generator, lines: tuple[int, int],
               dust: tuple[int, int]) -> np.ndarray:
    """An H×W mask of scratches (1–2 px lines, mostly top to bottom) and dust specks; each count is drawn from
    ``[low, high)``."""
    import cv2

    marks = np.zeros((h, w), np.float32)
    for _ in range(int(rng.integers(*lines))):
        x0, x1 = rng.integers(0, w, size=2)
        y0, y1 = 0, h - 1
        if rng.random() < 0.3:  # some scratches run sideways
            (x0, y0), (x1, y1) = (0, int(rng.integers(0, h))), (w - 1, int(rng.integers(0, h)))
        cv2.line(marks, (int(x0), int(y0)), (int(x1), int(y1)), float(rng.uniform(0.4, 1.0)),
                 thickness=int(rng.integers(1, 3)))
    for _ in range(int(rng.integers(*dust))):
        cv2.circle(marks, (int(rng.integers(0, w)), int(rng.integers(0, h))), int(rng.integers(1, 3)),
                   float(rng.uniform(0.3, 0.9)), thickness=-1)
    return marks


def old_photo_wide(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """:func:`old_photo`'s damages scaled by one severity ``s`` drawn uniformly from [0, 1] (a clean print at 0).

    Sepia ``0.9·s·u``, fading to ``1 − 0.45·s·u``, softness σ 0.3–1.2 with probability ``s``, grain
    ``0.005 + 0.055·s·u`` (sharp or clumped), up to ``5·s`` scratches and ``40·s`` dust specks, JPEG (quality 30–90)
    with probability ``s / 2``; each ``u`` uniform in [0.3, 1]. A model trained on heavy damage only learns to pull
    every photo's colours and contrast hard; from the whole range it learns how much a print needs.
    """
    h, w = img.shape[:2]
    s = float(rng.uniform())
    u = lambda: float(rng.uniform(0.3, 1.0))  # noqa: E731
    out = _blur(img, rng.uniform(0.3, 1.2)) if rng.random() < s else img.astype(np.float32)
    tone = np.clip(out @ _SEPIA.T, 0, 1)
    out = out + 0.9 * s * u() * (tone - out)
    fade = 1.0 - 0.45 * s * u()
    out = out * fade + (1 - fade) * rng.uniform(0.55, 0.85) * np.array([1.0, 0.96, 0.85], np.float32)
    grain = rng.standard_normal((h, w)).astype(np.float32)
    if rng.random() < 0.5:
        grain = _blur(grain, rng.uniform(0.5, 1.2))
    grain = grain / max(float(grain.std()), 1e-6)
    out = out + (0.005 + 0.055 * s * u()) * grain[..., None]
    marks = _scratches(h, w, rng, lines=(0, int(5 * s) + 1), dust=(0, int(40 * s) + 1))
    sign = 1.0 if rng.random() < 0.7 else -1.0
    out = np.clip(out + sign * marks[..., None], 0, 1).astype(np.float32)
    return _jpeg(out, rng.integers(30, 91)) if rng.random() < s / 2 else out


#: Duotone sepia of :func:`old_photo_unseen`: black → dark brown, white → warm paper (not the sepia matrix of the
#: training modes).
_DUOTONE = (np.array([0.16, 0.09, 0.03], np.float32), np.array([1.0, 0.93, 0.80], np.float32))


def old_photo_unseen(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Issue 19's held-out old-print damage, made by no training mode: 40 % duotone sepia toning (luma mapped
    between a brown and a paper tone), monochrome film grain σ 8/255 per pixel, 1–4 thin (1-pixel) white
    scratches; no fading, blur or JPEG."""
    import cv2

    h, w = img.shape[:2]
    luma = img @ np.array([0.299, 0.587, 0.114], np.float32)
    dark, paper = _DUOTONE
    toned = dark + luma[..., None] * (paper - dark)
    out = 0.6 * img + 0.4 * toned
    out = out + (8 / 255) * rng.standard_normal((h, w)).astype(np.float32)[..., None]
    marks = np.zeros((h, w), np.float32)
    for _ in range(int(rng.integers(1, 5))):
        x0, x1 = rng.integers(0, w, size=2)
        cv2.line(marks, (int(x0), 0), (int(x1), h - 1), float(rng.uniform(0.8, 1.0)), thickness=1)
    out = np.maximum(out, marks[..., None])
    return np.clip(out, 0, 1).astype(np.float32)


def degrade(img: np.ndarray, mode: str, rng: np.random.Generator, *,
            scale: int | list[int] | tuple[int, ...] = 4) -> np.ndarray:
    """Apply the degradation ``mode`` (one of :data:`MODES`); ``scale`` is the SR factor (or factors to draw from)."""
    if mode == "denoise":
        return camera_noise(img, rng)
    if mode == "lowlight":
        return low_light(img, rng)
    if mode == "sr":
        return bicubic_sr(img, rng, scale)
    if mode == "oldphoto":
        return old_photo(img, rng)
    if mode == "oldphoto-wide":
        return old_photo_wide(img, rng)
    if mode == "oldphoto-unseen":
        return old_photo_unseen(img, rng)
    if mode == "contrast":
        return flat_rendering(img, rng)
    if mode == "poisson":
        return poisson_gaussian_noise(img, rng)
    if mode == "sr-blur":
        return blur_downsample(img, rng, scale if np.isscalar(scale) else max(scale))
    raise ValueError(f"unknown synthetic mode {mode!r}; choose from {', '.join(MODES)}")
