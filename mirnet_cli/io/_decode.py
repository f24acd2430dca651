"""What both decoders share: the :class:`Image` they return, the pixel limit, file reading, TIFF-tag EXIF (and
:class:`ImageIOWarning`, which the writer's warnings extend).

One layer below :mod:`mirnet_cli.io.raw`, :mod:`mirnet_cli.io._write` and :mod:`mirnet_cli.io.images`, so that
imports inside ``mirnet_cli.io`` only go down: formats, _exif -> _decode -> raw, _write -> images
(``tests/io/test_io_layers.py``).
Public names are re-exported by :mod:`mirnet_cli.io.images`; import them from there.
"""

from __future__ import annotations

import os
import stat
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image as PILImage

from mirnet_cli.errors import ImageReadError
from mirnet_cli.io._exif import DESCRIPTIVE_TAGS, SUB_IFDS, normalize_exif
from mirnet_cli.io.formats import special_file_reason

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "MAX_PIXELS_ENV",
    "Image",
    "ImageIOWarning",
    "exif_from_tiff_tags",
    "max_pixels_limit",
    "open_regular",
    "read_file_bytes",
    "too_large_reason",
]

#: Default pixel-count limit (width × height) guarding against decompression bombs.
DEFAULT_MAX_PIXELS = 40_000 * 40_000
#: Environment variable overriding :data:`DEFAULT_MAX_PIXELS`.
MAX_PIXELS_ENV = "MIRNET_MAX_PIXELS"


class ImageIOWarning(UserWarning):
    """Something in an image file is not carried through (extra pages, a damaged EXIF block, ...)."""


@dataclass
class Image:
    """A decoded image plus everything needed to write it back faithfully.

    Attributes:
        pixels: float32 ``H x W x 3`` RGB in [0, 1]; grayscale sources are replicated to 3 channels.
        alpha: float32 ``H x W`` in [0, 1], or ``None`` when the source has no transparency.
        bit_depth: 8 or 16, from the stored sample type (RAW → 16).
        grayscale: the source stored a single colour channel (written back as one channel).
        exif: EXIF block as ``b"Exif\\0\\0" + TIFF data`` with orientation already reset to 1, or ``None``.
        icc_profile: embedded ICC profile bytes, or ``None``.
        format: ``"PNG"``, ``"JPEG"``, ``"TIFF"``, ``"WEBP"``, ``"BMP"``, ``"RAW"`` (or another Pillow name).
        path: the file it was read from, if any.
    """

    pixels: np.ndarray
    alpha: np.ndarray | None = None
    bit_depth: int = 8
    grayscale: bool = False
    exif: bytes | None = None
    icc_profile: bytes | None = None
    format: str = "PNG"
    path: Path | None = None

    def __post_init__(self) -> None:
        if self.pixels.ndim != 3 or self.pixels.shape[2] != 3:
            raise ValueError(f"Image.pixels must be H x W x 3, got shape {self.pixels.shape}")
        if self.bit_depth not in (8, 16):
            raise ValueError(f"Image.bit_depth must be 8 or 16, got {self.bit_depth}")
        if self.alpha is not None and self.alpha.shape != self.pixels.shape[:2]:
            raise ValueError(f"Image.alpha must be H x W = {self.pixels.shape[:2]}, got {self.alpha.shape}")

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    def with_pixels(self, pixels: np.ndarray) -> Image:
        """Copy with new ``H' x W' x 3`` pixels and the same metadata.

        When the size changes (super-resolution), alpha is resized to match with bicubic interpolation,
        clipped to [0, 1].
        """
        alpha = self.alpha
        if alpha is not None and alpha.shape != pixels.shape[:2]:
            import cv2

            alpha = cv2.resize(alpha, (pixels.shape[1], pixels.shape[0]), interpolation=cv2.INTER_CUBIC)
            alpha = np.clip(alpha, 0.0, 1.0).astype(np.float32)
        return replace(self, pixels=pixels, alpha=alpha)


def max_pixels_limit(max_pixels: int | None = None) -> int:
    """The decompression-bomb limit: ``max_pixels`` if given, else ``$MIRNET_MAX_PIXELS``, else 40000²."""
    if max_pixels is not None:
        return int(max_pixels)
    value = os.environ.get(MAX_PIXELS_ENV, "").strip().replace("_", "")
    if value:
        try:
            return int(float(value))
        except ValueError:
            warnings.warn(f"ignoring {MAX_PIXELS_ENV}={value!r}: not a number", stacklevel=2)
    return DEFAULT_MAX_PIXELS


def too_large_reason(width: int, height: int, limit: int) -> str:
    """The one-line reason given when an image exceeds the pixel limit."""
    return (
        f"image too large: {width}x{height} = {width * height:,} pixels exceeds the limit of {limit:,} "
        f"(possible decompression bomb; raise {MAX_PIXELS_ENV} if the file is trusted)"
    )


#: DNG's UniqueCameraModel: the camera's name where a DNG has no Model tag (some converters write only this one).
UNIQUE_CAMERA_MODEL = 0xC614
_MAKE, _MODEL = 0x010F, 0x0110


def _clean_text(value):
    """A string tag without its NUL padding (Kodak RAW files pad to a fixed length) or surrounding spaces; other
    values unchanged. An empty string becomes ``None`` (the tag is dropped)."""
    if isinstance(value, str):
        value = value.split("\x00", 1)[0].strip()
        return value or None
    return value


def exif_from_tiff_tags(source: PILImage.Exif) -> bytes | None:
    """EXIF block built from a TIFF-structured file's IFD0 (TIFF, DNG, NEF, CR2, ...).

    Keeps only descriptive tags (make, model, date, ...) and the Exif/GPS sub-IFDs, not the storage tags
    (strip offsets, compression, ...) that would be wrong for any other file. Strings lose their NUL padding; a DNG
    with only ``UniqueCameraModel`` keeps that as the model (the camera's name).
    """
    out = PILImage.Exif()
    for tag in source:
        if tag in DESCRIPTIVE_TAGS:
            value = _clean_text(source[tag])
            if value is not None:
                out[tag] = value
    if _MODEL not in out:
        unique = _clean_text(source.get(UNIQUE_CAMERA_MODEL))
        if isinstance(unique, str):
            out[_MODEL] = unique
    for tag in SUB_IFDS:
        sub = source.get_ifd(tag)
        if sub:
            cleaned = {k: _clean_text(v) for k, v in dict(sub).items()}
            out[tag] = {k: v for k, v in cleaned.items() if v is not None}
    return normalize_exif(out.tobytes()) if len(out) else None


def open_regular(path: str | Path) -> BinaryIO:
    """``open(path, "rb")`` for a regular file only: checked with ``stat`` (links resolved) before it is opened, then
    opened without blocking and checked again with ``fstat`` (no race with a file swapped for a pipe meanwhile).

    Raises:
        ImageReadError: a named pipe, socket or device (``/dev/zero`` would be read without end, a pipe would block
            for ever).
        OSError: the file cannot be opened (missing, a folder, permission denied, ...).
    """
    path = Path(path)
    why = special_file_reason(path)
    if why is not None:
        raise ImageReadError(path, why)
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(21, "Is a directory", str(path))
        if not stat.S_ISREG(mode):
            raise ImageReadError(path, "not a regular file; only regular files are read")
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_file_bytes(path: Path) -> bytes:
    """The whole file, or :class:`ImageReadError` naming why it cannot be read (missing, folder, empty, ...).

    Never an unbounded read: only a regular file is opened (:func:`open_regular`: named pipes, sockets and devices
    such as ``/dev/zero`` are refused), and at most the size ``fstat`` gave is read; a file that grew meanwhile is
    refused.
    """
    path = Path(path)
    try:
        with open_regular(path) as handle:
            size = os.fstat(handle.fileno()).st_size
            data = handle.read(size)
            grew = bool(handle.read(1))
        if grew:
            raise ImageReadError(path, f"the file grew while it was read (larger than its {size:,} bytes); "
                                       "process it once it is complete")
    except ImageReadError:
        raise
    except FileNotFoundError:
        raise ImageReadError(path, "file not found") from None
    except IsADirectoryError:
        raise ImageReadError(path, "is a folder, not an image file") from None
    except PermissionError:
        raise ImageReadError(path, "permission denied") from None
    except OSError as exc:
        raise ImageReadError(path, f"cannot read file: {exc.strerror or exc}") from None
    if not data:
        raise ImageReadError(path, "empty file")
    return data
