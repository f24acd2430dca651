"""Encoders for 16-bit PNG and TIFF that also carry the ICC profile and EXIF.

Pillow cannot write 16-bit colour images and OpenCV cannot write ICC/EXIF, so both 16-bit formats are written
here with numpy + zlib (compression runs in C). Both are plain, widely readable files:

* PNG: bit depth 16, colour types 0 (grey), 4 (grey+alpha), 2 (RGB), 6 (RGBA); per-row adaptive filter
  (the libpng heuristic: the filter with the smallest sum of |signed bytes|); ``iCCP`` and ``eXIf`` chunks.
* TIFF: little-endian baseline TIFF, 16 bits/sample, chunky, Adobe Deflate (8) with horizontal predictor (2),
  strips of about 1 MiB, unassociated alpha as ExtraSamples=2, ICC in tag 34675, EXIF/GPS sub-IFDs and the
  descriptive IFD0 tags (Make, Model, DateTime, ...) from the EXIF block.
"""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np

from mirnet_cli.io._exif import DESCRIPTIVE_TAGS, EXIF_HEADER, SUB_IFDS

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_COLOR_TYPE = {1: 0, 2: 4, 3: 2, 4: 6}
_IDAT_CHUNK = 1 << 20
_FILTER_ROWS = 256  # rows filtered per numpy batch: bounds temporary memory on very large images


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">L", len(payload)) + kind + payload + struct.pack(">L", zlib.crc32(kind + payload))


def _filter_rows(rows: np.ndarray, prev: np.ndarray, bpp: int) -> np.ndarray:
    """PNG-filter a batch of scanlines (uint8, ``n x rowbytes``), choosing per row among the 5 filters.

    ``prev`` is the scanline just above the batch (zeros for the first row). With ``a`` = byte ``bpp`` to the
    left, ``b`` = byte above, ``c`` = above-left: None x, Sub x-a, Up x-b, Average x-floor((a+b)/2),
    Paeth x-P(a,b,c), all modulo 256 (uint8 arithmetic wraps exactly like that). The cost of a filtered row
    is the sum of its bytes read as signed, in absolute value (libpng's heuristic). Returns ``n x (1 + rowbytes)``, filter type first.
    """
    x = rows
    b = np.vstack([prev[None], x[:-1]])
    a = np.zeros_like(x)
    a[:, bpp:] = x[:, :-bpp]
    c = np.zeros_like(x)
    c[:, bpp:] = b[:, :-bpp]
    # Paeth predictor, with |p-a| = |b-c|, |p-b| = |a-c|, |p-c| = |a+b-2c| where p = a+b-c.
    bc = b.astype(np.int16) - c
    ac = a.astype(np.int16) - c
    pa, pb = np.abs(bc), np.abs(ac)
    pc = np.abs(bc + ac)
    paeth = np.where((pa <= pb) & (pa <= pc), a, np.where(pb <= pc, b, c))
    average = (a >> 1) + (b >> 1) + (a & b & 1)
    candidates = (x, x - a, x - b, x - average, x - paeth)
    # Cost estimated on every 4th byte: the choice is a compression heuristic, not a correctness matter.
    cost = np.stack(
        [np.minimum(v[:, ::4], np.negative(v[:, ::4])).sum(axis=1, dtype=np.uint32) for v in candidates]
    )
    choice = cost.argmin(axis=0)
    out = np.empty((rows.shape[0], rows.shape[1] + 1), dtype=np.uint8)
    out[:, 0] = choice
    for kind, values in enumerate(candidates):
        picked = choice == kind
        if picked.any():
            out[picked, 1:] = values[picked]
    return out


def encode_png16(array: np.ndarray, icc_profile: bytes | None = None, exif: bytes | None = None) -> bytes:
    """Encode ``H x W x C`` uint16 (C = 1, 2, 3 or 4: grey, grey+alpha, RGB, RGBA) as a 16-bit PNG."""
    height, width, channels = array.shape
    color_type = _PNG_COLOR_TYPE[channels]
    rows = np.ascontiguousarray(array, dtype=">u2").view(np.uint8).reshape(height, width * channels * 2)
    bpp = channels * 2
    compressor = zlib.compressobj(6)
    idat = io.BytesIO()
    prev = np.zeros(rows.shape[1], dtype=np.uint8)
    for start in range(0, height, _FILTER_ROWS):
        batch = rows[start : start + _FILTER_ROWS]
        idat.write(compressor.compress(_filter_rows(batch, prev, bpp).tobytes()))
        prev = batch[-1]
    idat.write(compressor.flush())
    data = idat.getvalue()

    out = io.BytesIO()
    out.write(_PNG_SIGNATURE)
    out.write(_png_chunk(b"IHDR", struct.pack(">LLBBBBB", width, height, 16, color_type, 0, 0, 0)))
    if icc_profile:
        # iCCP: profile name (1-79 Latin-1 bytes), NUL, compression method 0, zlib stream.
        out.write(_png_chunk(b"iCCP", b"ICC Profile\x00\x00" + zlib.compress(icc_profile)))
    if exif:
        body = exif[len(EXIF_HEADER) :] if exif.startswith(EXIF_HEADER) else exif
        out.write(_png_chunk(b"eXIf", body))
    for start in range(0, max(len(data), 1), _IDAT_CHUNK):
        out.write(_png_chunk(b"IDAT", data[start : start + _IDAT_CHUNK]))
    out.write(_png_chunk(b"IEND", b""))
    return out.getvalue()


def exif_tags_for_tiff(exif: bytes | None) -> dict[int, object]:
    """Descriptive IFD0 tags plus Exif/GPS sub-IFDs (as dicts) from an EXIF block, ready for a TIFF IFD."""
    if not exif:
        return {}
    from PIL import Image as PILImage

    parsed = PILImage.Exif()
    parsed.load(exif)
    tags: dict[int, object] = {tag: parsed[tag] for tag in parsed if tag in DESCRIPTIVE_TAGS}
    for tag in SUB_IFDS:
        sub = parsed.get_ifd(tag)
        if sub:
            tags[tag] = dict(sub)
    return tags


def encode_tiff16(array: np.ndarray, icc_profile: bytes | None = None, exif: bytes | None = None) -> bytes:
    """Encode ``H x W x C`` uint16 (C = 1, 2, 3 or 4: grey, grey+alpha, RGB, RGBA) as a 16-bit TIFF."""
    from PIL import TiffImagePlugin, TiffTags

    height, width, channels = array.shape
    samples = np.ascontiguousarray(array, dtype="<u2")
    # Horizontal predictor: each sample minus the same channel of the pixel to its left, modulo 2**16.
    diff = samples.copy()
    diff[:, 1:] -= samples[:, :-1]
    row_bytes = width * channels * 2
    rows_per_strip = max(1, (1 << 20) // row_bytes)
    strips = [
        zlib.compress(diff[start : start + rows_per_strip].tobytes(), 6)
        for start in range(0, height, rows_per_strip)
    ]
    offsets, pos = [], 0
    for strip in strips:
        offsets.append(pos)  # relative: Pillow shifts StripOffsets past the IFD and its auxiliary data
        pos += len(strip)

    ifd = TiffImagePlugin.ImageFileDirectory_v2(prefix=b"II")
    for tag, value in exif_tags_for_tiff(exif).items():
        ifd[tag] = value
        if isinstance(value, dict):
            ifd.tagtype[tag] = TiffTags.LONG
    short, long_ = TiffTags.SHORT, TiffTags.LONG
    structural: list[tuple[int, object, int]] = [
        (256, width, long_),  # ImageWidth
        (257, height, long_),  # ImageLength
        (258, (16,) * channels, short),  # BitsPerSample
        (259, 8, short),  # Compression: Adobe Deflate
        (262, 1 if channels <= 2 else 2, short),  # Photometric: BlackIsZero / RGB
        (273, tuple(offsets), long_),  # StripOffsets
        (277, channels, short),  # SamplesPerPixel
        (278, rows_per_strip, long_),  # RowsPerStrip
        (279, tuple(len(s) for s in strips), long_),  # StripByteCounts
        (284, 1, short),  # PlanarConfiguration: chunky
        (317, 2, short),  # Predictor: horizontal differencing
        (339, (1,) * channels, short),  # SampleFormat: unsigned integer
    ]
    if channels in (2, 4):
        structural.append((338, (2,), short))  # ExtraSamples: unassociated alpha
    if icc_profile:
        structural.append((34675, icc_profile, TiffTags.UNDEFINED))
    for tag, value, typ in structural:
        ifd.tagtype[tag] = typ
        ifd[tag] = value
    header = b"II*\x00" + struct.pack("<L", 8)
    return header + ifd.tobytes(8) + b"".join(strips)
