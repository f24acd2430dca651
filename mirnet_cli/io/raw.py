"""Camera RAW decoding with rawpy (LibRaw), imported lazily so the CLI starts fast without it.

Development settings: camera white balance, LibRaw's default AHD demosaic, sRGB primaries and gamma, automatic
brightness (LibRaw's 1 % highlight clipping), 16 bits per channel. LibRaw applies the camera's orientation
(flip) itself. The result is an :class:`~mirnet_cli.io.images.Image` with ``format="RAW"`` and
``bit_depth=16``; outputs default to 16-bit TIFF (see :func:`mirnet_cli.io.formats.output_extension`).
Metadata, so that photo managers sort and colour-manage the result: the camera EXIF of TIFF-based RAW files (DNG,
NEF, CR2, ARW, PEF, ...), or else of the embedded JPEG preview (RAF, CR3, ...), is kept with orientation reset to
1; what LibRaw knows and the EXIF lacks (exposure time, f-number, ISO, focal length, date, lens) is filled in; and
the image carries an sRGB ICC profile (LibRaw develops to sRGB).
"""

from __future__ import annotations

import functools
import io
import warnings
from pathlib import Path

import numpy as np

from mirnet_cli.errors import ImageReadError
from mirnet_cli.io.formats import RAW_EXTENSIONS, is_raw_path, special_file_reason

__all__ = ["RAW_EXTENSIONS", "is_raw_path", "raw_size", "read_raw", "srgb_icc_profile"]


def _tiff_exif(data: bytes) -> bytes | None:
    """Descriptive EXIF of a TIFF-structured file (RAW, or a JPEG's APP1 body), or ``None``. Never raises."""
    if not (data.startswith(b"II*\x00") or data.startswith(b"MM\x00*")):
        return None
    try:
        from PIL import Image as PILImage

        from mirnet_cli.io._decode import exif_from_tiff_tags

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            source = PILImage.Exif()
            source.load(data)  # parses IFD0 of the TIFF structure and, on demand, its sub-IFDs
            return exif_from_tiff_tags(source)
    except Exception:  # noqa: BLE001 - metadata is a bonus; the pixels are what matter
        return None


def _preview_exif(raw) -> bytes | None:
    """EXIF of the JPEG preview embedded in the RAW file (RAF, CR3, ... are not TIFF-based), or ``None``."""
    try:
        import rawpy
        from PIL import Image as PILImage

        from mirnet_cli.io._exif import normalize_exif

        thumb = raw.extract_thumb()
        if thumb.format != rawpy.ThumbFormat.JPEG:
            return None
        exif = normalize_exif(PILImage.open(io.BytesIO(bytes(thumb.data))).info.get("exif"))
        return _tiff_exif(exif[6:]) if exif else None
    except Exception:  # noqa: BLE001 - no preview, or one without EXIF
        return None


# EXIF tags filled in from LibRaw when the file's own EXIF lacks them.
_EXIF_IFD, _DATETIME, _ARTIST = 0x8769, 0x0132, 0x013B
_EXPOSURE_TIME, _F_NUMBER, _ISO, _DATETIME_ORIGINAL, _FOCAL_LENGTH = 0x829A, 0x829D, 0x8827, 0x9003, 0x920A
_LENS_MAKE, _LENS_MODEL = 0xA433, 0xA434


def _with_libraw_facts(exif: bytes | None, raw) -> bytes | None:
    """``exif`` plus what LibRaw read from the RAW file and the EXIF does not already say. Never raises."""
    try:
        from PIL import Image as PILImage

        from mirnet_cli.io._exif import normalize_exif

        out = PILImage.Exif()
        if exif:
            out.load(exif[6:])
        sub = dict(out.get_ifd(_EXIF_IFD))
        other, lens = raw.other, raw.lens
        facts = {
            _EXPOSURE_TIME: float(other.shutter_speed) if other.shutter_speed > 0 else None,
            _F_NUMBER: float(other.aperture) if other.aperture > 0 else None,
            _ISO: int(round(other.iso_speed)) if other.iso_speed > 0 else None,
            _FOCAL_LENGTH: float(other.focal_length) if other.focal_length > 0 else None,
            _LENS_MAKE: lens.make.split("\x00", 1)[0].strip() or None,  # LibRaw's strings may keep NUL padding
            _LENS_MODEL: lens.model.split("\x00", 1)[0].strip() or None,
        }
        stamp = other.timestamp
        if stamp is not None and stamp.year > 1970:
            facts[_DATETIME_ORIGINAL] = stamp.strftime("%Y:%m:%d %H:%M:%S")
            if _DATETIME not in out:
                out[_DATETIME] = facts[_DATETIME_ORIGINAL]
        artist = other.artist.split("\x00", 1)[0].strip()
        if artist and _ARTIST not in out:
            out[_ARTIST] = artist
        added = {tag: value for tag, value in facts.items() if value is not None and tag not in sub}
        if not added and exif:
            return exif
        sub.update(added)
        if sub:
            out[_EXIF_IFD] = sub
        return normalize_exif(out.tobytes()) if len(out) else None
    except Exception:  # noqa: BLE001 - metadata is a bonus; keep what we had
        return exif


def _raw_exif(data: bytes, raw) -> bytes | None:
    """The EXIF to keep for a RAW file (see the module docstring), orientation reset to 1. Never raises."""
    from mirnet_cli.io._exif import reset_exif_orientation

    exif = _tiff_exif(data) or _preview_exif(raw)
    exif = _with_libraw_facts(exif, raw)
    try:
        return reset_exif_orientation(exif)
    except ValueError:
        return None


def raw_size(path: str | Path) -> tuple[int, int] | None:
    """``(width, height)`` LibRaw will develop, read from the file's metadata only; ``None`` if unknown."""
    if special_file_reason(path) is not None:  # a pipe or device is never handed to LibRaw
        return None
    try:
        import rawpy

        with rawpy.imread(str(path)) as raw:  # opens and parses; the sensor data is not unpacked
            sizes = raw.sizes
            return int(sizes.width), int(sizes.height)
    except Exception:  # noqa: BLE001 - rawpy missing, unsupported or corrupt: the read will say why
        return None


@functools.lru_cache(maxsize=1)
def srgb_icc_profile() -> bytes | None:
    """An sRGB ICC profile (LittleCMS's built-in one), for images developed to sRGB; ``None`` if unavailable."""
    try:
        from PIL import ImageCms

        return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    except Exception:  # noqa: BLE001 - Pillow built without LittleCMS
        return None


def read_raw(path: str | Path, *, max_pixels: int | None = None):
    """Develop a camera RAW file to 16-bit sRGB.

    ``rawpy.postprocess(use_camera_wb=True, output_bps=16, output_color=sRGB, no_auto_bright=False)``;
    pixels are ``uint16 / 65535`` as float32 ``H x W x 3``.

    Args:
        path: the RAW file (unicode names are fine: the bytes are handed to LibRaw from memory).
        max_pixels: limit on width × height (default :func:`mirnet_cli.io.images.max_pixels_limit`).

    Returns:
        :class:`mirnet_cli.io.images.Image` with ``format="RAW"``, ``bit_depth=16``, no alpha, the camera's EXIF
        (see the module docstring) and an sRGB ICC profile.

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
            exif = _raw_exif(data, raw)
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
        exif=exif,
        icc_profile=srgb_icc_profile(),
        format="RAW",
        path=path,
    )
