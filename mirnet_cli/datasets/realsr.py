"""``realsr``: super-resolution pairs (RealSR, or Set5-style bicubic sets).

Layouts: ``HR/*.png`` + ``LR_bicubic/X{s}/<stem>x{s}.png`` (the SwinIR/Set5 layout), or ``x{s}/LR`` +
``x{s}/HR`` (also ``x{s}/input`` + ``x{s}/target``; ``data_dir`` may be the ``x{s}`` folder itself).
LR smaller than HR is bicubic-upsampled to the HR size first, because MIRNet has no upsampler.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..errors import MirnetError
from ._base import Dataset, Sample, _pair_by_stem, _require_dir, _wrong_layout, load_rgb, upsample_bicubic
from ._protocols import _sr_protocol


def _sr_key(scale: int) -> Callable[[str], str]:
    """Stem normaliser for SR pairs: ``babyx4``, ``baby_x4``, ``Canon_001_LR4``, ``Canon_001_HR`` → base name."""
    pattern = re.compile(rf"(?:[_\-]?x{scale}|[_\-](?:lr|hr)\d*)$", re.IGNORECASE)

    def key(stem: str) -> str:
        return pattern.sub("", stem).casefold()

    return key


def _sr_sample(lr_path: Path, hr_path: Path | None, scale: int) -> Sample:
    def load() -> tuple[np.ndarray, np.ndarray | None]:
        lr = load_rgb(lr_path)
        if hr_path is None:
            return lr, None
        hr = load_rgb(hr_path)
        if lr.shape[:2] == hr.shape[:2]:
            return lr, hr  # already HR-sized (RealSR "version 1")
        h, w = lr.shape[0] * scale, lr.shape[1] * scale
        if hr.shape[0] < h or hr.shape[1] < w or hr.shape[0] - h >= scale or hr.shape[1] - w >= scale:
            raise MirnetError(
                f"{lr_path}: {lr.shape[1]}x{lr.shape[0]} is not a x{scale} reduction of {hr_path} "
                f"({hr.shape[1]}x{hr.shape[0]})"
            )
        # HR sizes that are not a multiple of the scale are cropped (the usual "modcrop").
        return upsample_bicubic(lr, h, w), hr[:h, :w]

    return Sample(name=lr_path.stem, inputs=(lr_path,), target=hr_path, load=load)


def _scales_available(root: Path) -> list[int]:
    found: set[int] = set()
    for base in (root, root / "LR_bicubic"):
        if base.is_dir():
            for p in base.iterdir():
                m = re.fullmatch(r"[xX](\d+)", p.name)
                if m and p.is_dir():
                    found.add(int(m.group(1)))
    return sorted(found)


_REALSR_EXPECTED = (
    "HR/ + LR_bicubic/X{s}/<name>x{s}.png, or x{s}/LR/ + x{s}/HR/ (or x{s}/input/ + x{s}/target/), "
    "or a x{s} folder holding LR/ + HR/"
)


def realsr_dataset(data_dir: str | Path | None, scale: int | None = None) -> Dataset:
    """Super-resolution pairs (RealSR / Set5-style), scored on Y with a ``scale``-pixel border crop."""
    root = _require_dir(data_dir, "realsr", _REALSR_EXPECTED)
    if scale is None:
        m = re.fullmatch(r"[xX](\d+)", root.name)
        scales = [int(m.group(1))] if m else _scales_available(root)
        if len(scales) != 1:
            if not scales:
                raise _wrong_layout("realsr", root, _REALSR_EXPECTED)
            raise MirnetError(
                f"realsr: {root} has scales {', '.join(map(str, scales))}; pick one with --scale"
            )
        scale = scales[0]
    if scale < 1:
        raise MirnetError(f"realsr: invalid --scale {scale}")

    candidates: list[tuple[Path, Path, str]] = []
    for xdir in (root / f"x{scale}", root / f"X{scale}", root):
        for lr_name, hr_name in (("LR", "HR"), ("input", "target"), ("lr", "hr")):
            if (xdir / lr_name).is_dir() and (xdir / hr_name).is_dir():
                candidates.append(
                    (xdir / lr_name, xdir / hr_name, f"{xdir.name}/{lr_name}/ + {xdir.name}/{hr_name}/")
                )
    for lr_name in (f"X{scale}", f"x{scale}"):
        if (root / "LR_bicubic" / lr_name).is_dir() and (root / "HR").is_dir():
            candidates.insert(0, (root / "LR_bicubic" / lr_name, root / "HR", f"HR/ + LR_bicubic/{lr_name}/"))
    if not candidates:
        raise _wrong_layout("realsr", root, _REALSR_EXPECTED.replace("{s}", str(scale)))
    lr_dir, hr_dir, layout = candidates[0]
    key = _sr_key(scale)
    pairs = _pair_by_stem(lr_dir, hr_dir, input_key=key, target_key=key, dataset="realsr")
    samples = [_sr_sample(i, t, scale) for i, t in pairs]
    return Dataset("realsr", root, layout, samples, _sr_protocol(scale, upsampled=True))
