"""File-extension tables shared by reading, writing and discovery.

Kept free of heavy imports (no numpy / PIL / rawpy) so that discovery and the CLI can use them cheaply.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

#: Camera RAW extensions (lower case, with dot) decoded with rawpy/LibRaw.
RAW_EXTENSIONS: frozenset[str] = frozenset(
    {
        ".dng", ".nef", ".nrw", ".cr2", ".cr3", ".crw", ".arw", ".srf", ".sr2", ".raf", ".rw2", ".orf",
        ".pef", ".srw", ".kdc", ".dcr", ".mrw", ".3fr", ".erf", ".mef", ".mos", ".x3f", ".iiq", ".rwl",
    }
)  # fmt: skip

#: Ordinary (non-RAW) image extensions we read and write, lower case with dot.
RASTER_EXTENSIONS: frozenset[str] = frozenset({".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp", ".bmp"})

#: Every extension picked up by input discovery (compare with ``suffix.lower()``).
IMAGE_EXTENSIONS: frozenset[str] = RASTER_EXTENSIONS | RAW_EXTENSIONS

#: Image formats we do not read: found in a folder they are counted as skipped, with the reason, not ignored.
UNSUPPORTED_IMAGE_EXTENSIONS: frozenset[str] = frozenset(
    {
        ".gif", ".avif", ".heic", ".heif", ".jxl", ".jp2", ".j2k", ".ico", ".psd", ".svg", ".exr", ".hdr",
        ".tga", ".pcx", ".ppm", ".pgm", ".pbm", ".dds", ".apng",
    }
)  # fmt: skip

#: A folder holding this file was written by mirnet: discovery never descends into it (re-runs with
#: ``--recursive`` must not process the tool's own outputs).
OUTPUT_MARKER = ".mirnet-output"

#: Pillow-style format name for each writable extension.
FORMAT_BY_EXT: dict[str, str] = {
    ".png": "PNG",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".tif": "TIFF",
    ".tiff": "TIFF",
    ".webp": "WEBP",
    ".bmp": "BMP",
}

#: Canonical extension for each format name (and for the ``--ext`` spellings).
_CANONICAL_EXT: dict[str, str] = {
    "png": ".png",
    "jpg": ".jpg",
    "jpeg": ".jpg",
    "tif": ".tif",
    "tiff": ".tif",
    "webp": ".webp",
    "bmp": ".bmp",
}

#: Temporary files made by :func:`mirnet_cli.io.images.atomic_open` end with this suffix (and start with ".").
TEMP_SUFFIX = ".mirnet-tmp"

#: Values accepted by ``--ext``.
EXT_CHOICES: tuple[str, ...] = ("png", "jpg", "tif", "webp", "same")

#: Formats that can hold 16 bits per channel when written by :func:`mirnet_cli.io.images.write_image`.
SIXTEEN_BIT_FORMATS: frozenset[str] = frozenset({"PNG", "TIFF"})


def is_raw_path(path: str | Path) -> bool:
    """True when ``path`` has a camera RAW extension (case-insensitive)."""
    return Path(path).suffix.lower() in RAW_EXTENSIONS


def is_image_path(path: str | Path) -> bool:
    """True when ``path`` has an extension that discovery treats as an image (raster or RAW)."""
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS


def ext_for(fmt_or_ext: str) -> str:
    """Canonical output extension for a format name or extension.

    ``"PNG"``, ``"png"``, ``".png"`` → ``".png"``; ``"JPEG"``/``"jpeg"``/``".jpg"`` → ``".jpg"``;
    ``"TIFF"``/``"tif"`` → ``".tif"``; ``"WEBP"`` → ``".webp"``; ``"BMP"`` → ``".bmp"``;
    ``"RAW"`` or any RAW extension → ``".tif"`` (RAW is read-only; 16-bit TIFF keeps its precision).

    Raises:
        ValueError: for anything else.
    """
    key = fmt_or_ext.strip().lower().lstrip(".")
    if key == "raw" or f".{key}" in RAW_EXTENSIONS:
        return ".tif"
    try:
        return _CANONICAL_EXT[key]
    except KeyError:
        raise ValueError(
            f"unsupported image format {fmt_or_ext!r} (choose from png, jpg, tif, webp, bmp)"
        ) from None


def format_for_path(path: str | Path) -> str:
    """Pillow-style format name (``"PNG"``, ``"JPEG"``, ``"TIFF"``, ``"WEBP"``, ``"BMP"``) for an output path.

    Raises:
        ValueError: when the extension is not a writable format (RAW files cannot be written).
    """
    suffix = Path(path).suffix.lower()
    if suffix in FORMAT_BY_EXT:
        return FORMAT_BY_EXT[suffix]
    if suffix in RAW_EXTENSIONS:
        raise ValueError(f"cannot write camera RAW files ({suffix}); use .tif for a 16-bit result")
    raise ValueError(
        f"unsupported output extension {suffix or '(none)'!r} (use .png, .jpg, .tif, .webp or .bmp)"
    )


def output_extension(input_path: str | Path, ext_option: str = "same", bit_depth: int | None = None) -> str:
    """Extension (with dot) for the output made from ``input_path`` under ``--ext``.

    Args:
        input_path: the input file.
        ext_option: ``png``, ``jpg``/``jpeg``, ``tif``/``tiff``, ``webp``, ``bmp`` or ``same``.
        bit_depth: bits per channel of the result. Only used with ``same``: when the input's format
            cannot hold 16 bits (e.g. JPEG) and ``bit_depth == 16``, ``.tif`` is chosen so nothing is lost.

    ``same`` keeps the input's extension exactly as spelled (``.JPG`` stays ``.JPG``), except:
    RAW inputs → ``.tif`` (16-bit TIFF); unknown extensions → ``.png``.

    Raises:
        ValueError: for an unknown ``ext_option``.
    """
    option = ext_option.strip().lower().lstrip(".")
    if option != "same":
        return ext_for(option)
    suffix = Path(input_path).suffix
    low = suffix.lower()
    if low in RAW_EXTENSIONS:
        return ".tif"
    if low not in FORMAT_BY_EXT:
        return ".png"
    if bit_depth == 16 and FORMAT_BY_EXT[low] not in SIXTEEN_BIT_FORMATS:
        return ".tif"
    return suffix


def _kind_of(mode: int) -> str | None:
    """What a non-regular file is (``"named pipe"``, ``"device"``, ``"socket"``, ``"folder"``), ``None`` if regular."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISFIFO(mode):
        return "named pipe"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device"
    if stat.S_ISSOCK(mode):
        return "socket"
    if stat.S_ISDIR(mode):
        return "folder"
    return "special file"


def special_file_reason(path: str | Path) -> str | None:
    """Why ``path`` (links resolved) must not be opened as an image, or ``None`` for a regular file.

    A named pipe would block the reader for ever and a device (``/dev/zero``) would be read without end, so every
    file is checked with ``stat`` before it is opened. A file that cannot be stat'ed (missing, a broken link) is
    left to the reader, which says why.
    """
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        return None
    kind = _kind_of(mode)
    if kind is None or kind == "folder":  # a folder: the caller says so in its own words
        return None
    where = ""
    if os.path.islink(path):
        where = f", through a link to {os.path.realpath(path)}"
    return f"not a regular file ({kind}{where}); only regular files are read"
