"""Camera RAW decoding with rawpy (LibRaw), imported lazily so the CLI starts fast without it.

Development settings: camera white balance, LibRaw's default AHD demosaic, sRGB primaries and gamma, automatic
brightness (LibRaw's 1 % highlight clipping), 16 bits per channel. LibRaw applies the camera's orientation
(flip) itself. The result is an :class:`~mirnet_cli.io.images.Image` with ``format="RAW"`` and
``bit_depth=16``; outputs default to 16-bit TIFF (see :func:`mirnet_cli.io.formats.output_extension`).
For TIFF-based RAW files (DNG, NEF, CR2, ARW, PEF, ...) the camera EXIF (make, model, date, exposure) is kept
with orientation reset to 1.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np

from mirnet_cli.errors import ImageReadError
from mirnet_cli.io.formats import RAW_EXTENSIONS, is_raw_path

__all__ = ["RAW_EXTENSIONS", "is_raw_path", "read_raw"]


def _raw_exif(data: bytes) -> bytes | None:
    """EXIF of a TIFF-structured RAW file (orientation reset to 1), or ``None``. Never raises."""
    if not (data.startswith(b"II*\x00") or data.startswith(b"MM\x00*")):
        return None  # not TIFF-based (RAF, CRW, X3F, CR3, ...): no EXIF kept
    try:
        from PIL import Image as PILImage

        from mirnet_cli.io._decode import exif_from_tiff_tags
        from mirnet_cli.io._exif import reset_exif_orientation

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            source = PILImage.Exif()
            source.load(data)  # parses IFD0 of the TIFF structure and, on demand, its sub-IFDs
            return reset_exif_orientation(exif_from_tiff_tags(source))
    except Exception:  # noqa: BLE001 - metadata is a bonus; the pixels are what matter
        return None


def read_raw(path: str | Path, *, max_pixels: int | None = None):
    """Develop a camera RAW file to 16-bit sRGB.

    ``rawpy.postprocess(use_camera_wb=True, output_bps=16, output_color=sRGB, no_auto_bright=False)``;
    pixels are ``uint16 / 65535`` as float32 ``H x W x 3``.

    Args:
        path: the RAW file (unicode names are fine: the bytes are handed to LibRaw from memory).
        max_pixels: limit on width × height (default :func:`mirnet_cli.io.images.max_pixels_limit`).

    Returns:
        :class:`mirnet_cli.io.images.Image` with ``format="RAW"``, ``bit_depth=16``, no alpha, no ICC.

    Raises:
        ImageReadError: missing/empty file, rawpy not installed, or LibRaw cannot decode it.
    """
    from mirnet_cli.io._decode import Image, max_pixels_limit, read_file_bytes, too_large_reason

    path = Path(path)
    limit = max_pixels_limit(max_pixels)
    data = read_file_bytes(path)
    try:
        import rawpy
    except ImportError:
        raise ImageReadError(
            path, "camera RAW support needs the 'rawpy' package (pip install rawpy)"
        ) from None

    try:
        with rawpy.imread(io.BytesIO(data)) as raw:
            sizes = raw.sizes
            if sizes.width * sizes.height > limit:
                raise ImageReadError(path, too_large_reason(sizes.width, sizes.height, limit))
            rgb = raw.postprocess(
                use_camera_wb=True,
                output_bps=16,
                output_color=rawpy.ColorSpace.sRGB,
                no_auto_bright=False,
            )
    except ImageReadError:
        raise
    except rawpy.LibRawFileUnsupportedError:
        raise ImageReadError(path, "not a camera RAW file LibRaw can read (unsupported or corrupt)") from None
    except (rawpy.LibRawError, rawpy.NotSupportedError, OSError, ValueError) as exc:
        reason = str(exc) or type(exc).__name__
        raise ImageReadError(path, f"cannot decode camera RAW data: {reason}") from None

    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ImageReadError(path, f"unexpected RAW development result of shape {rgb.shape}")
    pixels = rgb.astype(np.float32) / 65535.0
    return Image(
        pixels=np.ascontiguousarray(pixels),
        alpha=None,
        bit_depth=16,
        grayscale=False,
        exif=_raw_exif(data),
        icc_profile=None,
        format="RAW",
        path=path,
    )
