"""``sidd``: the SIDD sRGB validation set.

Layouts: ``ValidationNoisyBlocksSrgb.mat`` + ``ValidationGtBlocksSrgb.mat`` (uint8 ``[40, 32, 256, 256, 3]``,
the official validation blocks), or DANet-style single blocks ``noisy.mat`` (key ``im_noisy``) +
``gt.mat`` (key ``im_gt``), or PNG pairs in ``noisy/`` + ``gt/`` or ``input/`` + ``groundtruth/`` (or
``input/`` + ``target/``), where ``NOISY`` in an input name maps to ``GT`` in the target name.
"""

from __future__ import annotations

import re
from functools import cached_property
from pathlib import Path

import numpy as np

from ..errors import MirnetError
from ._base import (
    Dataset,
    Sample,
    _check_same_size,
    _first_existing,
    _pair_by_stem,
    _pair_samples,
    _require_dir,
    _to_float,
    _wrong_layout,
)
from ._mat import _mat_array, _mat_image
from ._protocols import _sidd_protocol

_SIDD_EXPECTED = (
    "ValidationNoisyBlocksSrgb.mat + ValidationGtBlocksSrgb.mat, or noisy.mat (im_noisy) + gt.mat (im_gt), or "
    "noisy/ + gt/ (or input/ + groundtruth/, input/ + target/) PNG folders"
)


class _LazyMat:
    """Loads a big .mat variable once, on first use, and shares it between the samples."""

    def __init__(self, path: Path, keys: tuple[str, ...]):
        self.path, self.keys = path, keys

    @cached_property
    def array(self) -> np.ndarray:
        arr = _mat_array(self.path, self.keys)
        if arr.ndim != 5 or arr.shape[-1] != 3:
            raise MirnetError(
                f"{self.path}: expected blocks shaped [images, blocks, H, W, 3], got {arr.shape}"
            )
        return arr


def _noisy_to_gt(stem: str) -> str:
    return re.sub("noisy", "gt", stem, flags=re.IGNORECASE).casefold()


def sidd_dataset(data_dir: str | Path | None) -> Dataset:
    """SIDD sRGB validation: official block .mat files, DANet-style block .mat files, or PNG pairs."""
    root = _require_dir(data_dir, "sidd", _SIDD_EXPECTED)
    noisy_mat, gt_mat = root / "ValidationNoisyBlocksSrgb.mat", root / "ValidationGtBlocksSrgb.mat"
    if noisy_mat.is_file():
        if not gt_mat.is_file():
            raise MirnetError(f"sidd: {noisy_mat} found but not its ground truth {gt_mat.name}")
        noisy = _LazyMat(noisy_mat, ("ValidationNoisyBlocksSrgb",))
        gt = _LazyMat(gt_mat, ("ValidationGtBlocksSrgb",))
        shape = noisy.array.shape
        if gt.array.shape != shape:
            raise MirnetError(
                f"sidd: {noisy_mat.name} {shape} and {gt_mat.name} {gt.array.shape} differ in shape"
            )

        def make(i: int, k: int) -> Sample:
            def load() -> tuple[np.ndarray, np.ndarray]:
                return _to_float(noisy.array[i, k], noisy_mat), _to_float(gt.array[i, k], gt_mat)

            # Same names as the authors' saved PNGs ('%04d_%02d.png', 1-based).
            return Sample(name=f"{i + 1:04d}_{k + 1:02d}", inputs=(noisy_mat,), target=gt_mat, load=load)

        samples = [make(i, k) for i in range(shape[0]) for k in range(shape[1])]
        return Dataset("sidd", root, "ValidationNoisyBlocksSrgb.mat blocks", samples, _sidd_protocol())

    if (root / "noisy.mat").is_file():
        n_path, g_path = root / "noisy.mat", root / "gt.mat"
        if not g_path.is_file():
            raise MirnetError(f"sidd: {n_path} found but not its ground truth gt.mat (key im_gt)")

        def load_block() -> tuple[np.ndarray, np.ndarray]:
            x = _mat_image(n_path, ("im_noisy",))
            y = _mat_image(g_path, ("im_gt",))
            _check_same_size(x, y, n_path, g_path)
            return x, y

        sample = Sample(name="noisy", inputs=(n_path,), target=g_path, load=load_block)
        return Dataset("sidd", root, "noisy.mat + gt.mat (single block)", [sample], _sidd_protocol())

    dirs = _first_existing(root, [("noisy", "gt"), ("input", "groundtruth"), ("input", "target")])
    if dirs is None:
        raise _wrong_layout("sidd", root, _SIDD_EXPECTED, sidd_dataset)
    pairs = _pair_by_stem(dirs[0], dirs[1], input_key=_noisy_to_gt, dataset="sidd")
    layout = f"{dirs[0].name}/ + {dirs[1].name}/ PNG pairs"
    return Dataset("sidd", root, layout, _pair_samples(pairs), _sidd_protocol())
