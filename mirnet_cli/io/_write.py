"""Encoding and writing images: quantisation, the encoders per format, and the atomic write.

Beside :mod:`mirnet_cli.io.raw` above :mod:`mirnet_cli.io._decode` (it writes the :class:`Image` the decoders
return); public names are re-exported by :mod:`mirnet_cli.io.images`: import them from there. What is kept on
write (bit depth, alpha, grayscale, EXIF with orientation 1, ICC) is described there.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
from PIL import Image as PILImage

from mirnet_cli.errors import ImageWriteError
from mirnet_cli.io._decode import Image, ImageIOWarning
from mirnet_cli.io._exif import reset_exif_orientation
from mirnet_cli.io.atomic import atomic_write_bytes
from mirnet_cli.io.formats import SIXTEEN_BIT_FORMATS, format_for_path

__all__ = ["ImageWriteWarning", "encode_image", "quantize", "write_image"]


class ImageWriteWarning(ImageIOWarning):
    """Something could not be stored in the chosen output format (alpha, 16 bits, ICC/EXIF)."""


def quantize(values: np.ndarray, bit_depth: int) -> np.ndarray:
    """Float [0, 1] → uint8/uint16: ``round(clip(x, 0, 1) * (2**bit_depth - 1))`` (NaN → 0)."""
    if bit_depth not in (8, 16):
        raise ValueError(f"bit_depth must be 8 or 16, got {bit_depth}")
    top = 255 if bit_depth == 8 else 65535
    scaled = np.clip(np.nan_to_num(np.asarray(values, dtype=np.float32), nan=0.0), 0.0, 1.0) * top
    return np.rint(scaled).astype(np.uint8 if bit_depth == 8 else np.uint16)


def _warn(message: str) -> None:
    # The default warning filter shows each distinct message once per call site.
    warnings.warn(message, ImageWriteWarning, stacklevel=3)


def encode_image(
    pixels: np.ndarray,
    fmt: str,
    *,
    bit_depth: int = 8,
    alpha: np.ndarray | None = None,
    grayscale: bool = False,
    exif: bytes | None = None,
    icc_profile: bytes | None = None,
    jpeg_quality: int = 95,
    webp_lossless: bool = True,
) -> bytes:
    """Encode float [0, 1] ``H x W x 3`` (or ``H x W [x 1]``) pixels to the bytes of a ``fmt`` file.

    Args:
        pixels: colour values; for ``grayscale`` the written channel is the mean of the three channels.
        fmt: ``"PNG"``, ``"JPEG"``, ``"TIFF"``, ``"WEBP"`` or ``"BMP"``.
        bit_depth: 8 or 16. 16 is kept for PNG and TIFF; other formats fall back to 8 with a warning.
        alpha: optional ``H x W`` float [0, 1]; dropped with a warning for JPEG and BMP.
        grayscale: write one colour channel.
        exif: EXIF block (with or without the ``Exif\\0\\0`` header); its orientation is always written as
            1 because ``pixels`` are upright. Not storable in BMP (warning).
        icc_profile: ICC profile bytes; not storable in BMP (warning).
        jpeg_quality: JPEG quality 1-100 (4:4:4 chroma, no subsampling); also the quality of lossy WebP.
        webp_lossless: write WebP losslessly (default) instead of lossy.

    Raises:
        ValueError: bad shapes or format.
    """
    fmt = fmt.upper()
    if fmt not in ("PNG", "JPEG", "TIFF", "WEBP", "BMP"):
        raise ValueError(f"cannot write format {fmt!r}")
    if bit_depth not in (8, 16):
        raise ValueError(f"bit_depth must be 8 or 16, got {bit_depth}")
    pixels = np.asarray(pixels)
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    if pixels.ndim != 3 or pixels.shape[2] not in (1, 3):
        raise ValueError(f"pixels must be H x W x 3 or H x W, got shape {pixels.shape}")
    height, width = pixels.shape[:2]
    if pixels.shape[2] == 1:
        grayscale_values = pixels[:, :, 0]
        colour = np.repeat(pixels, 3, axis=2)
    else:
        grayscale_values = pixels.astype(np.float32).mean(axis=2)
        colour = pixels
    if alpha is not None:
        alpha = np.asarray(alpha)
        if alpha.ndim == 3 and alpha.shape[2] == 1:
            alpha = alpha[:, :, 0]
        if alpha.shape != (height, width):
            raise ValueError(f"alpha must be {height} x {width}, got shape {alpha.shape}")

    try:
        # Pixels handed to us are upright (orientation is applied on read), so the file must say so.
        exif = reset_exif_orientation(exif)
    except ValueError:
        _warn("damaged EXIF block dropped")
        exif = None
    icc_profile = icc_profile or None
    if bit_depth == 16 and fmt not in SIXTEEN_BIT_FORMATS:
        _warn(f"{fmt} cannot store 16 bits per channel; writing 8-bit (use .png or .tif to keep 16 bits)")
        bit_depth = 8
    if alpha is not None and fmt in ("JPEG", "BMP"):
        _warn(f"{fmt} cannot store transparency; the alpha channel is dropped (use .png, .tif or .webp)")
        alpha = None
    if fmt == "BMP" and (exif or icc_profile):
        _warn("BMP cannot store EXIF or ICC metadata; they are dropped (use .png, .tif, .jpg or .webp)")
        exif = icc_profile = None
    if fmt == "WEBP" and grayscale:
        grayscale = False  # WebP has no grey mode: stored as RGB with equal channels
        colour = np.repeat(grayscale_values[:, :, None], 3, axis=2)

    planes = [grayscale_values[:, :, None]] if grayscale else [colour]
    if alpha is not None:
        planes.append(alpha[:, :, None])
    stacked = quantize(np.concatenate(planes, axis=2), bit_depth)

    if bit_depth == 16:
        from mirnet_cli.io._encoders import encode_png16, encode_tiff16

        if fmt == "PNG":
            return encode_png16(stacked, icc_profile, exif)
        if stacked.shape[2] == 2:
            # Grey+alpha 16-bit TIFF is poorly supported by readers (Pillow, OpenCV): store as RGBA.
            stacked = np.concatenate([np.repeat(stacked[:, :, :1], 3, axis=2), stacked[:, :, 1:]], axis=2)
        return encode_tiff16(stacked, icc_profile, exif)

    if fmt == "BMP" and stacked.shape[2] == 2:
        stacked = stacked[:, :, 0]
    im = PILImage.fromarray(stacked[:, :, 0] if stacked.shape[2] == 1 else stacked)
    options: dict[str, object] = {}
    if icc_profile:
        options["icc_profile"] = icc_profile
    if exif:
        options["exif"] = exif
    if fmt == "JPEG":
        options.update(quality=int(jpeg_quality), subsampling=0)
        if exif and len(exif) > 65533:
            _warn("EXIF block too large for JPEG (over 64 KiB); it is dropped")
            options.pop("exif")
    elif fmt == "WEBP":
        options.update(lossless=webp_lossless, exact=True)
        if not webp_lossless:
            options["quality"] = int(jpeg_quality)
    elif fmt == "TIFF":
        options["compression"] = "tiff_adobe_deflate"
    buffer = io.BytesIO()
    im.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def write_image(
    path: str | Path,
    image: Image | np.ndarray,
    *,
    bit_depth: int | None = None,
    alpha: np.ndarray | None = None,
    grayscale: bool | None = None,
    exif: bytes | None = None,
    icc_profile: bytes | None = None,
    jpeg_quality: int = 95,
    webp_lossless: bool = True,
) -> Path:
    """Atomically write ``image`` to ``path``; the format comes from the extension.

    Keyword arguments left as ``None`` are taken from ``image`` when it is an :class:`Image` (for a bare
    array: 8-bit, no alpha, grayscale only for ``H x W`` / ``H x W x 1`` arrays, no metadata).
    Pass ``exif=b""`` or ``icc_profile=b""`` to drop the image's metadata. Parent folders are created.
    Lossy fallbacks (16 → 8 bits, alpha or metadata the format cannot hold) warn with
    :class:`ImageWriteWarning`. 16-bit PNG/TIFF are written by our own encoders and keep ICC and EXIF
    (TIFF keeps the descriptive IFD0 tags and the Exif/GPS sub-IFDs).

    Returns:
        The written path.

    Raises:
        ImageWriteError: unsupported extension or bad data; :class:`~mirnet_cli.io.atomic.AtomicWriteError`
            (a subclass) when the file system refused the write.
    """
    path = Path(path)
    try:
        fmt = format_for_path(path)
    except ValueError as exc:
        raise ImageWriteError(f"{path}: {exc}") from None
    if isinstance(image, Image):
        pixels = image.pixels
        bit_depth = image.bit_depth if bit_depth is None else bit_depth
        alpha = image.alpha if alpha is None else alpha
        grayscale = image.grayscale if grayscale is None else grayscale
        exif = image.exif if exif is None else exif
        icc_profile = image.icc_profile if icc_profile is None else icc_profile
    else:
        pixels = np.asarray(image)
        if grayscale is None:
            grayscale = pixels.ndim == 2 or (pixels.ndim == 3 and pixels.shape[2] == 1)
        bit_depth = 8 if bit_depth is None else bit_depth
    try:
        data = encode_image(
            pixels,
            fmt,
            bit_depth=bit_depth,
            alpha=alpha,
            grayscale=bool(grayscale),
            exif=exif,
            icc_profile=icc_profile,
            jpeg_quality=jpeg_quality,
            webp_lossless=webp_lossless,
        )
    except (ValueError, OSError, TypeError) as exc:
        raise ImageWriteError(f"{path}: cannot encode {fmt}: {exc}") from None
    atomic_write_bytes(path, data)  # AtomicWriteError is an ImageWriteError
    return path
