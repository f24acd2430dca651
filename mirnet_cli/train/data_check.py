"""Check a training set before training: every file is probed once, bad ones are reported (one line each) and
skipped, and too few good images stop the run before it starts.

The probe is cheap but real: the header is parsed, JPEGs are decoded at 1/8 scale (every compressed byte is still
read, so truncation shows), PNG chunk checksums are verified, other formats are decoded. Anything that slips past
(and fails only on the full decode) is skipped at run time by :class:`mirnet_cli.train.data.PatchDataset`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from ..errors import MirnetError

__all__ = ["check_training_set", "probe_image"]


def probe_image(path: str | os.PathLike[str]) -> str | None:
    """Why ``path`` cannot be a training image, or ``None`` when it looks sound (see the module docstring).

    Files that Pillow does not read (``.mat``, ``.npy``, RAW) are not probed: ``None``.
    """
    from PIL import Image, UnidentifiedImageError

    from ..io.formats import RASTER_EXTENSIONS

    p = Path(path)
    if p.suffix.lower() not in RASTER_EXTENSIONS:
        return None
    try:
        if not p.is_file():
            return "file not found"
        if p.stat().st_size == 0:
            return "empty file"
        with Image.open(p) as im:
            w, h = im.size
            if w == 0 or h == 0:
                return "image has no pixels"
            if im.format in ("JPEG", "MPO"):
                im.draft("RGB", (max(1, w // 8), max(1, h // 8)))
                im.load()
            elif im.format == "PNG":
                im.verify()
            else:
                im.load()
    except UnidentifiedImageError:
        return "not an image or unsupported format"
    except Image.DecompressionBombError:
        return "image too large (possible decompression bomb)"
    except (OSError, SyntaxError, ValueError, EOFError, IndexError) as exc:
        text = str(exc).strip().splitlines()
        return f"truncated or corrupt image data ({text[0] if text else type(exc).__name__})"
    return None


def check_training_set(items: Sequence[Any], files: Callable[[Any], Sequence[Path]], *, min_images: int | None,
                       say: Callable[[str], None], what: str = "training image") -> list[Any]:
    """Keep the items whose files all pass :func:`probe_image`; say one line per bad file and a count.

    Args:
        items: clean image paths, or paired samples.
        files: the files of one item (``lambda p: [p]``, or a sample's inputs and target).
        min_images: the fewest good items to go on with; ``None``: at least half of them (and at least one).
        say: where the lines go (``warning: …``).
        what: the noun used in messages.

    Raises:
        MirnetError: fewer good items than the minimum.
    """
    flat = [f for item in items for f in files(item)]
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:  # decoders release the GIL
        reasons = dict(zip(flat, pool.map(probe_image, flat), strict=True))
    good, bad = [], 0
    for item in items:
        problems = [(f, reasons[f]) for f in files(item) if reasons[f]]
        if problems:
            bad += 1
            for f, reason in problems:
                say(f"warning: skipped {what} {f}: {reason}")
        else:
            good.append(item)
    need = max(1, math.ceil(len(items) / 2)) if min_images is None else max(1, int(min_images))
    if bad:
        say(f"warning: skipped {bad} of {len(items)} {what}s (unreadable); training on {len(good)}")
    if len(good) < need:
        rule = "at least half of them" if min_images is None else f"data.min_images = {need}"
        raise MirnetError(f"only {len(good)} of {len(items)} {what}s can be read; {rule} must be usable "
                          "(fix or remove the files above, or lower data.min_images)")
    return good
