"""``folder``: any ``--input-dir`` (+ optional ``--target-dir``), matched by file stem or ``--pair-pattern``."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from ..errors import MirnetError
from ._base import Dataset, _pair_by_stem, _pair_samples
from ._protocols import Protocol, _plain_protocol, _sr_protocol
from .realsr import _sr_key, _sr_sample


def pair_pattern_keys(pattern: str) -> tuple[Callable[[str], str | None], Callable[[str], str | None]]:
    """Key functions for ``--pair-pattern``: ``"*_noise=*_gt"`` pairs ``01_noise`` with ``01_gt``.

    Each side is a file-stem pattern in which ``*`` stands for the shared part (exactly one ``*`` per side;
    matched case-insensitively); a stem that does not fit its side's pattern is not part of the set. One side
    only (``"*_noise"``) means the target is the bare shared part (``01_noise`` ↔ ``01``).
    """
    sides = [p.strip() for p in pattern.split("=")]
    if len(sides) == 1:
        sides.append("*")
    if len(sides) != 2 or any(side.count("*") != 1 for side in sides):
        raise MirnetError(f"--pair-pattern {pattern!r}: expected INPUT=TARGET stem patterns with one * each, "
                          "e.g. '*_noise=*_gt'")

    def key(side: str) -> Callable[[str], str | None]:
        head, tail = side.split("*")
        rx = re.compile(re.escape(head) + "(.+)" + re.escape(tail), re.IGNORECASE)

        def match(stem: str) -> str | None:
            m = rx.fullmatch(stem)
            return m.group(1).casefold() if m else None

        return match

    return key(sides[0]), key(sides[1])


def folder_dataset(
    input_dir: str | Path | None,
    target_dir: str | Path | None = None,
    *,
    scale: int | None = None,
    task: str | None = None,
    pair_pattern: str | None = None,
) -> Dataset:
    """Any folder of inputs (+ optional targets matched by file stem).

    With ``scale`` > 1 the SR protocol is used (Y channel, border crop = scale, bicubic pre-upsampling of
    inputs smaller than their targets); otherwise 8-bit RGB PSNR/SSIM without crop. ``pair_pattern`` maps input
    stems to target stems (:func:`pair_pattern_keys`); with it the targets may sit in the input folder (the
    default target folder is then the input folder).
    """
    if input_dir is None:
        raise MirnetError("folder: pass --input-dir (and --target-dir for metrics)")
    inp = Path(input_dir).expanduser()
    if not inp.is_dir():
        raise MirnetError(f"folder: --input-dir {inp} is not a folder")
    tgt = None
    if target_dir is None and pair_pattern:
        target_dir = inp
    if target_dir is not None:
        tgt = Path(target_dir).expanduser()
        if not tgt.is_dir():
            raise MirnetError(f"folder: --target-dir {tgt} is not a folder")
    if scale and scale > 1:
        if pair_pattern:
            raise MirnetError("folder: --pair-pattern is for same-size pairs; SR pairs are matched by their "
                              "x{scale} / LR / HR suffixes")
        pairs = _pair_by_stem(inp, tgt, input_key=_sr_key(scale), target_key=_sr_key(scale), dataset="folder")
        samples = [_sr_sample(i, t, scale) for i, t in pairs]
        return Dataset(
            "folder", inp, "input dir + target dir (SR)", samples, _sr_protocol(scale, upsampled=True)
        )
    if pair_pattern:
        input_key, target_key = pair_pattern_keys(pair_pattern)
        pairs = _pair_by_stem(inp, tgt, input_key=input_key, target_key=target_key, dataset="folder")
    else:
        pairs = _pair_by_stem(inp, tgt, dataset="folder")
    protocol = _plain_protocol(task or "restore")
    if tgt is None:
        protocol = Protocol(
            task=protocol.task, has_targets=False, notes="no --target-dir: outputs only, no metrics"
        )
    return Dataset(
        "folder", inp, "input dir + target dir" if tgt else "input dir", _pair_samples(pairs), protocol
    )
