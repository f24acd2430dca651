"""``lol`` and ``fivek``: two image folders matched by file name.

Layouts: ``lol``: ``low/`` + ``high/`` or ``input/`` + ``target/``; ``fivek``: ``input/`` + ``expertC/`` or
``input/`` + ``target/``.
"""

from __future__ import annotations

from pathlib import Path

from ._base import Dataset, _first_existing, _pair_by_stem, _pair_samples, _require_dir, _wrong_layout
from ._protocols import Protocol, _enhance_protocol


def _paired_dataset(
    name: str, data_dir: str | Path | None, options: list[tuple[str, str]], protocol: Protocol
) -> Dataset:
    expected = " or ".join(f"{a}/ + {b}/" for a, b in options) + " image folders matched by file name"
    root = _require_dir(data_dir, name, expected)
    dirs = _first_existing(root, options)
    if dirs is None:
        raise _wrong_layout(name, root, expected,
                            lambda sub: _paired_dataset(name, sub, options, protocol))
    pairs = _pair_by_stem(dirs[0], dirs[1], dataset=name)
    return Dataset(name, root, f"{dirs[0].name}/ + {dirs[1].name}/", _pair_samples(pairs), protocol)


def lol_dataset(data_dir: str | Path | None) -> Dataset:
    """LoL (LOL-v1 eval15): ``low/`` + ``high/`` (or ``input/`` + ``target/``)."""
    return _paired_dataset("lol", data_dir, [("low", "high"), ("input", "target")], _enhance_protocol("LoL"))


def fivek_dataset(data_dir: str | Path | None) -> Dataset:
    """MIT-Adobe FiveK: ``input/`` + ``expertC/`` (or ``input/`` + ``target/``)."""
    return _paired_dataset(
        "fivek", data_dir, [("input", "expertC"), ("input", "target")], _enhance_protocol("FiveK")
    )
