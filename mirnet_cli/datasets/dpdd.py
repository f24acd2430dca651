"""``dpdd``: dual-pixel defocus deblurring (DPDD).

Layout: ``inputL/`` + ``inputR/`` + ``target/`` 16-bit PNGs, optional ``indoor_labels.npy`` /
``outdoor_labels.npy`` (1-based indices into the sorted file list).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ..errors import MirnetError
from ._base import Dataset, Sample, _check_same_size, _pair_by_stem, _require_dir, _wrong_layout, load_rgb
from ._protocols import _dpdd_protocol

_DPDD_EXPECTED = (
    "inputL/ + inputR/ + target/ 16-bit PNG folders (optional indoor_labels.npy, outdoor_labels.npy)"
)


def _dp_key(stem: str) -> str:
    return re.sub(r"[_\-](?:l|r|c|left|right|center)$", "", stem, flags=re.IGNORECASE).casefold()


def dpdd_dataset(data_dir: str | Path | None) -> Dataset:
    """Dual-pixel defocus deblurring (DPDD): 6-channel input L‖R (left view first), 16-bit target."""
    root = _require_dir(data_dir, "dpdd", _DPDD_EXPECTED)
    l_dir, r_dir, t_dir = root / "inputL", root / "inputR", root / "target"
    if not (l_dir.is_dir() and r_dir.is_dir() and t_dir.is_dir()):
        raise _wrong_layout("dpdd", root, _DPDD_EXPECTED, dpdd_dataset)
    left = _pair_by_stem(l_dir, r_dir, input_key=_dp_key, target_key=_dp_key, dataset="dpdd")
    with_target = _pair_by_stem(l_dir, t_dir, input_key=_dp_key, target_key=_dp_key, dataset="dpdd")
    triples = [(lp, rp, tp) for (lp, rp), (_, tp) in zip(left, with_target, strict=True)]

    groups: dict[int, str] = {}
    for label in ("indoor", "outdoor"):
        f = root / f"{label}_labels.npy"
        if f.is_file():
            try:
                idx = np.load(f).astype(int).ravel()
            except (OSError, ValueError) as exc:
                raise MirnetError(f"{f}: cannot read the labels ({exc})") from None
            for i in idx:
                if not 1 <= i <= len(triples):
                    raise MirnetError(f"{f}: index {i} out of range 1..{len(triples)} (indices are 1-based)")
                groups[int(i) - 1] = label

    def make(n: int, lp: Path, rp: Path, tp: Path) -> Sample:
        def load() -> tuple[np.ndarray, np.ndarray]:
            left_img, right_img, target = load_rgb(lp), load_rgb(rp), load_rgb(tp)
            _check_same_size(left_img, right_img, lp, rp)
            _check_same_size(left_img, target, lp, tp)
            return np.concatenate([left_img, right_img], axis=-1), target  # L first, as the authors

        return Sample(name=lp.stem, inputs=(lp, rp), target=tp, load=load, group=groups.get(n))

    samples = [make(n, *t) for n, t in enumerate(triples)]
    return Dataset("dpdd", root, "inputL/ + inputR/ + target/", samples, _dpdd_protocol())
