"""Reading and writing images without losing anything the restoration does not change.

What "nothing is lost" means here:

* bit depth: 16-bit PNG/TIFF (and RAW) stay 16-bit end to end; the depth is decided by the stored sample type,
  never by pixel values (a 16-bit file whose values are all < 256 is still 16-bit);
* alpha is kept aside untouched and re-attached on write (JPEG/BMP cannot hold it: dropped with a warning);
* grayscale files are written back as grayscale (single channel = mean of the three restored channels);
* EXIF orientation is applied on read, and the EXIF block is kept with orientation reset to 1; the ICC
  profile is kept and written back (JPEG, PNG, WebP, TIFF; 8 and 16 bit);
* writes are atomic (temporary file in the target folder + fsync + ``os.replace``): an interrupted or failed
  write never leaves a half-written output or clobbers an existing file.

Not carried over: XMP packets, PNG text chunks, DPI, and extra pages/frames (a warning names them).
Pixel arrays are float32 in [0, 1]: 8-bit value ``v`` ↔ ``v / 255``, 16-bit ↔ ``v / 65535``; writing rounds
``round(clip(x, 0, 1) * (2**bits - 1))`` so a read → write round trip is exact.

This module reads; encoding and writing are :mod:`mirnet_cli.io._write`'s, re-exported here with the rest of the
public names (import them from here).
"""

from __future__ import annotations

import contextlib
import io
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image as PILImage
from PIL import UnidentifiedImageError

from mirnet_cli.errors import ImageReadError
from mirnet_cli.io._decode import (
    DEFAULT_MAX_PIXELS,
    MAX_PIXELS_ENV,
    Image,
    ImageIOWarning,
    exif_from_tiff_tags,
    max_pixels_limit,
    open_regular,
    read_file_bytes,
    too_large_reason,
)
from mirnet_cli.io._exif import (
    apply_orientation,
    exif_orientation,
    normalize_exif,
    reset_exif_orientation,
)
from mirnet_cli.io._write import ImageWriteWarning, encode_image, quantize, write_image
from mirnet_cli.io.atomic import AtomicWriteError, atomic_open, atomic_write_bytes, is_temp_file
from mirnet_cli.io.formats import (
    FORMAT_BY_EXT,
    IMAGE_EXTENSIONS,
    RAW_EXTENSIONS,
    TEMP_SUFFIX,
    ext_for,
    format_for_path,
    is_raw_path,
    output_extension,
)

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "AtomicWriteError",
    "FORMAT_BY_EXT",
    "IMAGE_EXTENSIONS",
    "MAX_PIXELS_ENV",
    "RAW_EXTENSIONS",
    "TEMP_SUFFIX",
    "Image",
    "ImageIOWarning",
    "ImageWriteWarning",
    "atomic_open",
    "atomic_write_bytes",
    "encode_image",
    "ext_for",
    "format_for_path",
    "image_size",
    "is_temp_file",
    "max_pixels_limit",
    "output_extension",
    "quantize",
    "read_image",
    "write_image",
]


# --------------------------------------------------------------------------------------------------- reading


@contextlib.contextmanager
def _pillow_pixel_limit(limit: int) -> Iterator[None]:
    """Let Pillow's own bomb check follow our limit for one open, without its warning.

    Pillow raises ``DecompressionBombError`` above ``2 * MAX_IMAGE_PIXELS`` and warns above it; we check the
    exact limit ourselves right after opening, so the warning is redundant. Both settings are process-global
    (Pillow offers nothing per call); concurrent reads with *different* limits could see each other's value.
    """
    previous = PILImage.MAX_IMAGE_PIXELS
    PILImage.MAX_IMAGE_PIXELS = limit
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PILImage.DecompressionBombWarning)
            yield
    finally:
        PILImage.MAX_IMAGE_PIXELS = previous


def _tile_rawmode(im: PILImage.Image) -> str:
    """Pillow's raw decoder mode (e.g. ``"RGB;16B"``), which reveals the stored bits per sample."""
    try:
        args = im.tile[0].args if hasattr(im.tile[0], "args") else im.tile[0][3]
    except (IndexError, AttributeError, TypeError):
        return ""
    if isinstance(args, tuple):
        args = args[0] if args else ""
    return args if isinstance(args, str) else ""


def _stored_16bit_colour(im: PILImage.Image) -> bool:
    """True for 16-bit RGB/RGBA/LA data, which Pillow silently reduces to 8 bits on load."""
    if im.mode not in ("RGB", "RGBA", "LA", "RGBX"):
        return False
    rawmode = _tile_rawmode(im)
    if ";16" in rawmode or ";32" in rawmode:
        return True
    if im.format == "TIFF":
        bits = getattr(im, "tag_v2", {}).get(258)
        bits = bits if isinstance(bits, tuple) else (bits,)
        return any(isinstance(b, int) and b > 8 for b in bits)
    return False


def _read_exif(im: PILImage.Image) -> bytes | None:
    """The EXIF block of ``im`` in normalised form (orientation not yet reset)."""
    if im.format == "TIFF":
        return exif_from_tiff_tags(im.getexif())
    return normalize_exif(im.info.get("exif"))


def _decode_16bit_colour(path: Path, data: bytes) -> np.ndarray:
    """Decode 16-bit colour PNG/TIFF with OpenCV (Pillow cannot): ``H x W x C`` RGB(A) order, C in 3, 4."""
    import cv2

    array = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    if array is None:
        raise ImageReadError(path, "cannot decode 16-bit colour image data")
    if array.ndim == 2:
        array = array[:, :, None]
    if array.shape[2] == 3:
        array = array[:, :, ::-1]
    elif array.shape[2] == 4:
        array = array[:, :, [2, 1, 0, 3]]
    return np.ascontiguousarray(array)


def _to_unit_float(array: np.ndarray) -> tuple[np.ndarray, int]:
    """Scale stored samples to float32 [0, 1]; returns ``(values, bit_depth)``."""
    if array.dtype == np.uint8:
        return array.astype(np.float32) / 255.0, 8
    if array.dtype.kind in "ui" and array.dtype.itemsize == 2:
        return np.clip(array.astype(np.float32), 0, 65535) / 65535.0, 16
    if array.dtype.kind in "ui":
        # 32-bit integer samples (rare TIFFs): full unsigned range → [0, 1]; kept as 16-bit on write.
        top = 2.0**32 - 1 if array.dtype.kind == "u" else 2.0**31 - 1
        return (np.clip(array.astype(np.float64), 0, top) / top).astype(np.float32), 16
    if array.dtype.kind == "f":
        # Floating-point TIFFs are taken as linear-range [0, 1] data; written back as 16-bit.
        return np.clip(np.nan_to_num(array.astype(np.float32)), 0.0, 1.0), 16
    raise ValueError(f"unsupported sample type {array.dtype}")


def _pil_to_array(im: PILImage.Image, rawmode: str = "") -> tuple[np.ndarray, bool, bool, bytes | None]:
    """Convert a loaded Pillow image to a stored-type array with channels last.

    Returns ``(array, grayscale, has_alpha, icc_override)``; the array has 1 (grey), 2 (grey+alpha),
    3 (RGB) or 4 (RGBA) channels. ``icc_override`` is ``b""`` when a colour conversion made the embedded
    profile meaningless (CMYK/LAB → sRGB), else ``None``.
    """
    mode = im.mode
    transparency = "transparency" in im.info
    icc_override = None
    if mode in ("1", "L", "P", "RGB") and transparency:
        im = im.convert("LA" if mode in ("1", "L") else "RGBA")
    elif mode in ("1", "L"):
        im = im.convert("L")
    elif mode in ("LA", "La"):
        im = im.convert("LA")
    elif mode in ("P", "RGBX", "YCbCr", "HSV"):
        im = im.convert("RGB")
    elif mode in ("PA", "RGBa"):
        im = im.convert("RGBA")
    elif mode in ("CMYK", "LAB"):
        im, icc_override = _to_srgb(im), b""
    array = np.asarray(im)
    if mode == "I" and ";16" in rawmode:
        array = array.astype(np.uint16)  # older Pillow opens 16-bit grey PNG as 32-bit "I"
    if array.ndim == 2:
        array = array[:, :, None]
    if mode.startswith("I;16") and transparency and isinstance(im.info["transparency"], int):
        # 16-bit grey with a transparent key value (PNG tRNS).
        key = im.info["transparency"]
        alpha = np.where(array[:, :, 0] == key, 0, 65535).astype(array.dtype)
        array = np.concatenate([array, alpha[:, :, None]], axis=2)
    channels = array.shape[2]
    if channels not in (1, 2, 3, 4):
        raise ValueError(f"unsupported colour mode {mode}")
    return array, channels <= 2, channels in (2, 4), icc_override


def _to_srgb(im: PILImage.Image) -> PILImage.Image:
    """CMYK/LAB → sRGB, through the embedded ICC profile when there is one (Pillow's formula otherwise)."""
    icc = im.info.get("icc_profile")
    if icc:
        from PIL import ImageCms

        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            return ImageCms.profileToProfile(im, source, ImageCms.createProfile("sRGB"), outputMode="RGB")
        except Exception:  # noqa: BLE001 - a broken profile: fall back to the plain conversion
            pass
    if im.mode == "LAB":
        from PIL import ImageCms

        transform = ImageCms.buildTransform(
            ImageCms.createProfile("LAB"), ImageCms.createProfile("sRGB"), "LAB", "RGB"
        )
        return ImageCms.applyTransform(im, transform)
    return im.convert("RGB")


def _decode_failure(exc: BaseException, what: str) -> str:
    """The reason a decoder gave, in the user's words: Pillow's limits on metadata chunks name its internals
    (``PngImagePlugin.MAX_TEXT_CHUNK``), which say nothing to a photographer."""
    reason = str(exc) or type(exc).__name__
    if "MAX_TEXT_CHUNK" in reason or "MAX_TEXT_MEMORY" in reason or "Too much memory used in text chunks" in reason:
        return ("a text (metadata) chunk in the file is larger than the safety limit for metadata (possible "
                "decompression bomb); the pixels were not read. Strip the file's metadata to process it")
    return f"{what}: {reason}"


def read_image(path: str | Path, *, max_pixels: int | None = None) -> Image:
    """Read PNG, JPEG, TIFF, WebP, BMP or a camera RAW file into an :class:`Image`.

    RAW files (by extension, see :data:`RAW_EXTENSIONS`) go to :func:`mirnet_cli.io.raw.read_raw`.
    EXIF orientation is applied to the pixels (and alpha) and reset to 1 in the kept EXIF block.

    Args:
        path: the file (unicode names are fine).
        max_pixels: decompression-bomb limit on width × height; default :func:`max_pixels_limit`.

    Raises:
        ImageReadError: missing/empty/unreadable file, not an image, truncated or corrupt data, too large.
    """
    path = Path(path)
    limit = max_pixels_limit(max_pixels)
    if is_raw_path(path):
        from mirnet_cli.io.raw import read_raw

        return read_raw(path, max_pixels=limit)

    data = read_file_bytes(path)
    try:
        with _pillow_pixel_limit(limit):
            im = PILImage.open(io.BytesIO(data))
    except PILImage.DecompressionBombError:
        raise ImageReadError(path, "image too large (possible decompression bomb)") from None
    except UnidentifiedImageError:
        if data[:4] in (b"II*\x00", b"MM\x00*"):  # Pillow reads float TIFFs only in grey
            return _read_float_tiff(path, data, limit)
        raise ImageReadError(path, "not an image or unsupported format") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageReadError(path, _decode_failure(exc, "truncated or corrupt image data")) from None

    with im:
        width, height = im.size
        if width * height > limit:
            raise ImageReadError(path, too_large_reason(width, height, limit))
        if width == 0 or height == 0:
            raise ImageReadError(path, "image has no pixels")
        frames = getattr(im, "n_frames", 1)
        if frames > 1 and im.format != "MPO":  # MPO extra frames are phone previews/depth maps
            warnings.warn(
                f"{path}: has {frames} frames/pages; only the first is processed",
                ImageIOWarning,
                stacklevel=2,
            )
        sixteen_colour = _stored_16bit_colour(im)
        rawmode = _tile_rawmode(im)  # must be read before load(), which clears the tile list
        fmt = "JPEG" if im.format == "MPO" else (im.format or "UNKNOWN")
        try:
            im.load()  # decodes everything: truncated or corrupt data fails here, not later
            orientation = im.getexif().get(0x0112, 1)
            exif = _read_exif(im)
            icc = im.info.get("icc_profile") or None
            if sixteen_colour:
                array = _decode_16bit_colour(path, data)
                # Pillow opens 16-bit grey+alpha PNG as "RGBA" (raw mode "LA;16B").
                grayscale = im.mode == "LA" or rawmode.startswith("LA")
                if grayscale:  # OpenCV expands grey+alpha to BGRA
                    array = array[:, :, [0, 3]]
                has_alpha = array.shape[2] in (2, 4)
            else:
                array, grayscale, has_alpha, icc_override = _pil_to_array(im, rawmode)
                if icc_override is not None:
                    icc = icc_override or None
        except ImageReadError:
            raise
        except (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError) as exc:
            reason = str(exc) or type(exc).__name__
            if "truncated" in reason or isinstance(exc, (EOFError, SyntaxError)) or "broken" in reason:
                raise ImageReadError(path, _decode_failure(exc, "truncated or corrupt image data")) from None
            raise ImageReadError(path, _decode_failure(exc, "cannot decode image")) from None

    if not isinstance(orientation, int) or not 1 <= orientation <= 8:
        orientation = 1
    array = apply_orientation(array, orientation)
    try:
        exif = reset_exif_orientation(exif)
    except ValueError:
        if exif_orientation(exif) != 1:  # keeping it would rotate the result a second time elsewhere
            warnings.warn(f"{path}: damaged EXIF block dropped", ImageIOWarning, stacklevel=2)
            exif = None

    values, bit_depth = _to_unit_float(array)
    colour = values[:, :, :1] if grayscale else values[:, :, :3]
    pixels = np.ascontiguousarray(np.repeat(colour, 3, axis=2) if grayscale else colour, dtype=np.float32)
    alpha = np.ascontiguousarray(values[:, :, -1], dtype=np.float32) if has_alpha else None
    return Image(
        pixels=pixels,
        alpha=alpha,
        bit_depth=bit_depth,
        grayscale=grayscale,
        exif=exif,
        icc_profile=icc,
        format=fmt,
        path=path,
    )


def image_size(path: str | Path) -> tuple[int, int] | None:
    """``(width, height)`` of an image file from its header, without decoding the pixels; ``None`` if unknown.

    Cheap enough to call for every file of a batch before any is decoded (memory planning, progress weights).
    EXIF orientation is not applied (the pixel count is what matters). RAW files ask LibRaw. A named pipe,
    socket or device is never opened (``None``: the read says why).
    """
    path = Path(path)
    try:
        open_regular(path).close()
    except Exception:  # noqa: BLE001 - missing, special, unreadable: the read says why
        return None
    if is_raw_path(path):
        from mirnet_cli.io.raw import raw_size

        return raw_size(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with open_regular(path) as handle, _pillow_pixel_limit(2**62), PILImage.open(handle) as im:
                return int(im.size[0]), int(im.size[1])  # reads the header only
    except Exception:  # noqa: BLE001 - not readable by Pillow (float colour TIFF, corrupt, ...)
        pass
    try:
        with open_regular(path) as handle:
            head = handle.read(1 << 16)
        if head[:4] in (b"II*\x00", b"MM\x00*"):
            tags = PILImage.Exif()
            tags.load(head)
            width, height = tags.get(256), tags.get(257)
            if isinstance(width, int) and isinstance(height, int):
                return width, height
    except Exception:  # noqa: BLE001
        pass
    return None


def _read_float_tiff(path: Path, data: bytes, limit: int) -> Image:
    """Floating-point colour TIFF (32 or 64 bits per sample; Pillow opens only grey ones) through OpenCV.

    Values are taken as [0, 1] data like float grey TIFFs (clipped; written back as 16-bit). Orientation, ICC
    profile and descriptive EXIF tags come from the TIFF tags.
    """
    import cv2

    tags = PILImage.Exif()
    try:
        tags.load(data)
    except Exception:  # noqa: BLE001 - no readable IFD: not a TIFF we can do anything with
        raise ImageReadError(path, "not an image or unsupported format") from None

    def first(tag: int, default: int = 0) -> int:
        value = tags.get(tag, default)
        value = value[0] if isinstance(value, tuple) and value else value
        return int(value) if isinstance(value, (int, float)) else default

    width, height, bits = first(256), first(257), first(258, 8)
    if first(339, 1) != 3:  # SampleFormat 3 = IEEE floating point
        raise ImageReadError(path, "not an image or unsupported format")
    if bits not in (32, 64):
        raise ImageReadError(path, f"{bits}-bit floating-point TIFF is not supported (save it as 32-bit float "
                                   "or 16-bit integer)")
    if width * height > limit:
        raise ImageReadError(path, too_large_reason(width, height, limit))
    array = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    if array is None or array.size == 0:
        raise ImageReadError(path, "cannot decode floating-point TIFF data")
    if array.ndim == 2:
        array = array[:, :, None]
    channels = array.shape[2]
    if channels == 3:
        array = array[:, :, ::-1]
    elif channels == 4:
        array = array[:, :, [2, 1, 0, 3]]
    elif channels != 1:
        raise ImageReadError(path, f"floating-point TIFF with {channels} channels is not supported")
    array = apply_orientation(np.ascontiguousarray(array), first(0x0112, 1) if 1 <= first(0x0112, 1) <= 8 else 1)
    values, bit_depth = _to_unit_float(array)
    grayscale = channels == 1
    pixels = np.repeat(values, 3, axis=2) if grayscale else values[:, :, :3]
    icc = tags.get(34675)
    try:
        exif = reset_exif_orientation(exif_from_tiff_tags(tags))
    except ValueError:
        exif = None
    return Image(
        pixels=np.ascontiguousarray(pixels, dtype=np.float32),
        alpha=np.ascontiguousarray(values[:, :, 3], dtype=np.float32) if channels == 4 else None,
        bit_depth=bit_depth,
        grayscale=grayscale,
        exif=exif,
        icc_profile=bytes(icc) if isinstance(icc, (bytes, bytearray)) and icc else None,
        format="TIFF",
        path=path,
    )
