"""Training data: paired folders (the layouts ``mirnet benchmark`` reads) or clean photos degraded on the fly.

Every sample is a pure function of ``(seed, sample_index, patch)``: the crop, flips and degradation come from a
generator seeded with those numbers. Resuming at iteration *i* therefore replays exactly the data an
uninterrupted run would have seen, whatever the number of workers, without saving any sampler state.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from ..errors import MirnetError
from .degradations import MODES, degrade

PAIRED_ADAPTERS = ("lol", "fivek", "sidd")


def _read(path: Path) -> np.ndarray:
    from ..io.images import read_image

    return read_image(path).pixels


def clean_images(folder: str | Path, exclude: list[str] = ()) -> list[Path]:
    """Images under ``folder`` (recursive, sorted), minus the held-back stems."""
    from ..io.formats import is_image_path, is_raw_path

    root = Path(folder)
    if not root.is_dir():
        raise MirnetError(f"{root}: training folder not found")
    files = sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith(".")
                   and is_image_path(p) and not is_raw_path(p) and p.stem not in set(exclude))
    if not files:
        raise MirnetError(f"{root}: no training images found")
    return files


def paired_samples(folder: str | Path, exclude: list[str] = ()):
    """Pairs from the first benchmark adapter whose layout matches ``folder`` (LoL, FiveK, SIDD, folder)."""
    from ..benchmark.datasets import load_dataset

    errors = []
    for name in PAIRED_ADAPTERS:
        try:
            ds = load_dataset(name, folder)
        except MirnetError as exc:
            errors.append(str(exc))
            continue
        samples = [s for s in ds.samples if s.name not in set(exclude) and s.target is not None]
        if samples:
            return samples
    raise MirnetError(f"{folder}: no input/target pairs found (expected low/ + high/, input/ + target/, "
                      "input/ + expertC/ or noisy/ + gt/); use --synthetic MODE for a folder of clean photos")


def _crop_flip(arrays: list[np.ndarray], patch: int, rng: np.random.Generator) -> list[np.ndarray]:
    h, w = arrays[0].shape[:2]
    if h < patch or w < patch:  # small images: reflect-pad up to the patch
        ph, pw = max(0, patch - h), max(0, patch - w)
        arrays = [np.pad(a, ((0, ph), (0, pw), (0, 0)), mode="reflect") for a in arrays]
        h, w = arrays[0].shape[:2]
    top, left = int(rng.integers(0, h - patch + 1)), int(rng.integers(0, w - patch + 1))
    out = [a[top:top + patch, left:left + patch] for a in arrays]
    if rng.random() < 0.5:
        out = [a[:, ::-1] for a in out]
    if rng.random() < 0.5:
        out = [a[::-1] for a in out]
    return [np.ascontiguousarray(a) for a in out]


def _chw(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1), dtype=np.float32))


class PatchDataset(Dataset):
    """Random training patches. Indexed by ``(sample_index, patch)`` from :class:`StageBatchSampler`.

    Args:
        seed: run seed.
        pairs: paired samples (from :func:`paired_samples`), or
        clean: clean image paths plus ``mode`` (a synthetic degradation from :data:`MODES`).
    """

    def __init__(self, seed: int, *, pairs=None, clean: list[Path] | None = None, mode: str | None = None,
                 scale: int = 4):
        if (pairs is None) == (clean is None):
            raise ValueError("give either pairs or clean images")
        if clean is not None and mode not in MODES:
            raise MirnetError(f"--synthetic must be one of {', '.join(MODES)}, not {mode!r}")
        self.seed, self.pairs, self.clean, self.mode, self.scale = seed, pairs, clean, mode, scale
        self._cache: dict[int, list[np.ndarray]] = {}

    def __len__(self) -> int:
        return len(self.pairs if self.pairs is not None else self.clean)

    def _source(self, k: int) -> list[np.ndarray]:
        if k not in self._cache:
            if self.pairs is not None:
                inp, tgt = self.pairs[k].load()
                self._cache[k] = [inp, tgt]
            else:
                self._cache[k] = [_read(self.clean[k])]
        return self._cache[k]

    def __getitem__(self, key: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
        index, patch = key
        rng = np.random.default_rng([self.seed, index])
        k = int(rng.integers(0, len(self)))
        arrays = self._source(k)
        if self.pairs is not None:
            inp, tgt = _crop_flip(arrays, patch, rng)
        else:
            (tgt,) = _crop_flip(arrays, patch, rng)
            inp = degrade(tgt, self.mode, rng, scale=self.scale)
        return _chw(inp), _chw(tgt)


class StageBatchSampler(Sampler):
    """Yields, for iterations ``start … total-1``, the list of ``(sample_index, patch)`` of this rank's batch.

    Sample indices are unique across iterations and ranks: ``((it · world + rank) · 64 + j)``.
    """

    MAX_BATCH = 64

    def __init__(self, cfg, start: int, total: int, rank: int = 0, world: int = 1):
        self.cfg, self.start, self.total, self.rank, self.world = cfg, start, total, rank, world

    def __len__(self) -> int:
        return max(0, self.total - self.start)

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        for it in range(self.start, self.total):
            _, patch, batch = self.cfg.stage_at(it)
            base = (it * self.world + self.rank) * self.MAX_BATCH
            yield [(base + j, patch) for j in range(min(batch, self.MAX_BATCH))]


def validation_pairs(cfg) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """Fixed validation ``(name, input, target)`` arrays: real pairs, or clean images degraded with a fixed seed.

    Images are centre-cropped to ``data.val_crop`` (a multiple of 4) to keep validation quick.
    """
    data = cfg.data
    if not data.val_dir:
        return []
    crop = max(4, data.val_crop - data.val_crop % 4)

    def centre(a: np.ndarray) -> np.ndarray:
        h, w = a.shape[:2]
        ch, cw = min(h, crop), min(w, crop)
        top, left = (h - ch) // 2, (w - cw) // 2
        return a[top:top + ch, left:left + cw]

    out = []
    if data.synthetic:
        files = clean_images(data.val_dir)
        if data.val_names:
            files = [p for p in files if p.stem in set(data.val_names)]
        for i, path in enumerate(files[: data.val_count]):
            tgt = centre(_read(path))
            inp = degrade(tgt, data.synthetic, np.random.default_rng([cfg.seed, 10**9 + i]), scale=data.scale)
            out.append((path.stem, inp, tgt))
    else:
        samples = paired_samples(data.val_dir)
        if data.val_names:
            samples = [s for s in samples if s.name in set(data.val_names)]
        for s in samples[: data.val_count]:
            inp, tgt = s.load()
            out.append((s.name, centre(inp), centre(tgt)))
    return out
