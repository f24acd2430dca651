"""Small EXIF helpers that keep the original bytes wherever possible.

We store EXIF as the APP1 payload form ``b"Exif\\0\\0" + <TIFF structure>`` (what JPEG carries and what Pillow
reads and writes for JPEG, PNG, WebP and TIFF). Orientation is applied to the pixels on read, so the stored tag must
then say 1 ("as stored"); we patch that value in place instead of re-serialising the whole block, so that maker
notes and other offset-sensitive data survive byte for byte.
"""

from __future__ import annotations

import struct

import numpy as np

EXIF_HEADER = b"Exif\x00\x00"
ORIENTATION_TAG = 0x0112

# IFD0 tags that describe the picture (not its storage) and are worth carrying over from EXIF into a TIFF.
DESCRIPTIVE_TAGS = frozenset(
    {
        0x010E,  # ImageDescription
        0x010F,  # Make
        0x0110,  # Model
        0x0112,  # Orientation
        0x011A,  # XResolution
        0x011B,  # YResolution
        0x0128,  # ResolutionUnit
        0x0131,  # Software
        0x0132,  # DateTime
        0x013B,  # Artist
        0x8298,  # Copyright
    }
)
SUB_IFDS = (0x8769, 0x8825)  # Exif IFD, GPS IFD (the Interop IFD rides inside the Exif IFD)

_TIFF_LE = b"II*\x00"
_TIFF_BE = b"MM\x00*"


def normalize_exif(data: bytes | None) -> bytes | None:
    """Return ``data`` as ``b"Exif\\0\\0" + TIFF`` or ``None`` when it is empty or not an EXIF block."""
    if not data:
        return None
    data = bytes(data)
    if data.startswith(EXIF_HEADER):
        body = data[len(EXIF_HEADER) :]
    else:
        body = data
    if not (body.startswith(_TIFF_LE) or body.startswith(_TIFF_BE)):
        return None
    return EXIF_HEADER + body


def _orientation_entry(body: bytes) -> tuple[str, int] | None:
    """Byte order and offset of the IFD0 orientation entry's value field in ``body`` (TIFF bytes), if any."""
    endian = "<" if body[:2] == b"II" else ">"
    (ifd0,) = struct.unpack_from(endian + "L", body, 4)
    (count,) = struct.unpack_from(endian + "H", body, ifd0)
    for i in range(count):
        entry = ifd0 + 2 + 12 * i
        tag, typ, n = struct.unpack_from(endian + "HHL", body, entry)
        if tag == ORIENTATION_TAG:
            if typ != 3 or n != 1:  # SHORT, one value: anything else is malformed
                raise ValueError("malformed orientation tag")
            return endian, entry + 8
    return None


def exif_orientation(exif: bytes | None) -> int:
    """Orientation value (1..8) stored in IFD0 of a normalised EXIF block; 1 when absent or invalid."""
    exif = normalize_exif(exif)
    if exif is None:
        return 1
    body = exif[len(EXIF_HEADER) :]
    try:
        found = _orientation_entry(body)
        if found is None:
            return 1
        endian, pos = found
        (value,) = struct.unpack_from(endian + "H", body, pos)
    except (struct.error, ValueError):
        return 1
    return value if 1 <= value <= 8 else 1


def reset_exif_orientation(exif: bytes | None) -> bytes | None:
    """Copy of ``exif`` (normalised) whose IFD0 orientation says 1; other bytes are untouched.

    Raises:
        ValueError: when the block is too damaged to find IFD0.
    """
    exif = normalize_exif(exif)
    if exif is None:
        return None
    body = bytearray(exif[len(EXIF_HEADER) :])
    try:
        found = _orientation_entry(bytes(body))
    except struct.error as exc:
        raise ValueError(f"damaged EXIF block: {exc}") from None
    if found is not None:
        endian, pos = found
        struct.pack_into(endian + "H", body, pos, 1)
    return EXIF_HEADER + bytes(body)


def apply_orientation(array: np.ndarray, orientation: int) -> np.ndarray:
    """Turn an ``H x W [x C]`` array stored with EXIF ``orientation`` into its upright view.

    Same mapping as Pillow's ``ImageOps.exif_transpose``: 2 mirror left-right, 3 rotate 180°, 4 mirror
    top-bottom, 5 transpose, 6 rotate 90° clockwise, 7 transverse, 8 rotate 90° counter-clockwise.
    Returns a contiguous array (a copy unless ``orientation`` is 1).
    """
    if orientation == 2:
        out = array[:, ::-1]
    elif orientation == 3:
        out = array[::-1, ::-1]
    elif orientation == 4:
        out = array[::-1]
    elif orientation == 5:
        out = np.swapaxes(array, 0, 1)
    elif orientation == 6:
        out = np.rot90(array, k=-1)
    elif orientation == 7:
        out = np.swapaxes(array[::-1, ::-1], 0, 1)
    elif orientation == 8:
        out = np.rot90(array, k=1)
    else:
        return array
    return np.ascontiguousarray(out)
