"""Training data: paired folders (the layouts ``mirnet benchmark`` reads) or clean photos degraded on the fly.

Every sample is a pure function of ``(seed, sample_index, patch)``: the source image, the crop, the flips and the
degradation all come from ``numpy.random.default_rng([seed, sample_index])``. The sampler hands out sample indices
that depend only on the iteration, the rank and the position in the batch, so resuming at iteration *i* replays
exactly the data an uninterrupted run would have seen — whatever the number of workers, and without saving any
sampler state. (It plays the role of ``DistributedSampler``: each rank gets disjoint samples.)
"""

from __future__ import annotations

import warnings
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from ..errors import MirnetError
from .degradations import MODES, degrade

__all__ = [
    "PAIRED_ADAPTERS",
    "PatchDataset",
    "SmallImageWarning",
    "StageBatchSampler",
    "UnreadableImageWarning",
    "clean_images",
    "paired_samples",
    "sample_key",
    "validation_pairs",
    "worker_init",
]

# Benchmark adapters tried, in order, on a paired training / validation folder.
PAIRED_ADAPTERS = ("lol", "fivek", "sidd", "dpdd", "realsr")


class SmallImageWarning(UserWarning):
    """Some training images are smaller than the patch and were skipped (``data.small_images: skip``)."""


class UnreadableImageWarning(UserWarning):
    """A training image failed to decode during training and was skipped (see ``PatchDataset``)."""


def _read(path: Path) -> np.ndarray:
    from ..io.images import read_image

    return read_image(path).pixels


def _image_size(path: Path) -> tuple[int, int] | None:
    """``(height, width)`` from the file header (cheap), or ``None`` when PIL cannot tell."""
    try:
        from PIL import Image

        with Image.open(path) as im:
            w, h = im.size
        return h, w
    except Exception:  # RAW, .mat, …: the size is only known after decoding
        return None


def clean_images(folder: str | Path, exclude: list[str] | tuple[str, ...] = ()) -> list[Path]:
    """Images under ``folder`` (recursive, sorted), minus the held-back stems."""
    from ..io.formats import is_image_path, is_raw_path

    root = Path(folder).expanduser()
    if not root.is_dir():
        raise MirnetError(f"{root}: training folder not found")
    skip = set(exclude)
    files = sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith(".")
                   and is_image_path(p) and not is_raw_path(p) and p.stem not in skip)
    if not files:
        raise MirnetError(f"{root}: no images found")
    return files


def paired_samples(folder: str | Path, exclude: list[str] | tuple[str, ...] = (), *, scale: int = 4) -> list[Any]:
    """Pairs from the first benchmark adapter whose layout matches ``folder``.

    Tried in order: LoL (``low/ + high/`` or ``input/ + target/``), FiveK (``input/ + expertC/``), SIDD
    (``noisy/ + gt/``, …), DPDD (``inputL/ + inputR/ + target/``, 6-channel input) and RealSR (``data.scale``).
    Returns :class:`mirnet_cli.benchmark.datasets.Sample` objects with a ``target``.
    """
    from ..benchmark.datasets import load_dataset

    root = Path(folder).expanduser()
    if not root.is_dir():
        raise MirnetError(f"{root}: data folder not found")
    skip = set(exclude)
    for name in PAIRED_ADAPTERS:
        try:
            ds = load_dataset(name, root, scale=scale) if name == "realsr" else load_dataset(name, root)
        except MirnetError:
            continue
        samples = [s for s in ds.samples if s.name not in skip and s.target is not None]
        if samples:
            return samples
    raise MirnetError(f"{root}: no input/target pairs found (expected low/ + high/, input/ + target/, "
                      "input/ + expertC/ or noisy/ + gt/ matched by file name); use --synthetic MODE for a "
                      "folder of clean photos")


def _crop_flip(arrays: list[np.ndarray], patch: int, rng: np.random.Generator, flips: bool = True) -> list[np.ndarray]:
    """The same random ``patch × patch`` crop (and flips) of every array; small images are reflect-padded."""
    h, w = arrays[0].shape[:2]
    if h < patch or w < patch:
        ph, pw = max(0, patch - h), max(0, patch - w)
        arrays = [np.pad(a, ((0, ph), (0, pw), (0, 0)), mode="reflect" if min(h, w) > 1 else "edge")
                  for a in arrays]
        h, w = arrays[0].shape[:2]
    top, left = int(rng.integers(0, h - patch + 1)), int(rng.integers(0, w - patch + 1))
    out = [a[top:top + patch, left:left + patch] for a in arrays]
    # Always draw both numbers so that the stream does not depend on ``flips``.
    hflip, vflip = rng.random() < 0.5, rng.random() < 0.5
    if flips and hflip:
        out = [a[:, ::-1] for a in out]
    if flips and vflip:
        out = [a[::-1] for a in out]
    return [np.ascontiguousarray(a) for a in out]


def _chw(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1), dtype=np.float32))


class _ByteLRU:
    """Decoded images, least recently used first out, bounded in bytes (one per data process)."""

    def __init__(self, budget_bytes: int):
        self.budget = max(0, int(budget_bytes))
        self.items: OrderedDict[int, list[np.ndarray]] = OrderedDict()
        self.size = 0

    def get(self, key: int) -> list[np.ndarray] | None:
        value = self.items.get(key)
        if value is not None:
            self.items.move_to_end(key)
        return value

    def put(self, key: int, value: list[np.ndarray]) -> None:
        nbytes = sum(a.nbytes for a in value)
        if nbytes > self.budget:
            return
        self.items[key] = value
        self.size += nbytes
        while self.size > self.budget:
            _, old = self.items.popitem(last=False)
            self.size -= sum(a.nbytes for a in old)


class PatchDataset(Dataset):
    """Random training patches, indexed by ``(sample_index, patch)`` keys from :class:`StageBatchSampler`.

    Args:
        seed: the run seed.
        pairs: paired samples (from :func:`paired_samples`), or
        clean: clean image paths plus ``mode``, a synthetic degradation from :data:`MODES`.
        scale: SR factor for ``mode="sr"``.
        flips: random horizontal and vertical flips.
        min_size: with ``small_images="skip"``, images whose shorter side is below this are dropped with one
            :class:`SmallImageWarning` (``"pad"``, the default, reflect-pads them to the patch instead).
        cache_mb: decoded images kept in memory per process.
    """

    def __init__(self, seed: int, *, pairs: list[Any] | None = None, clean: list[Path] | None = None,
                 mode: str | None = None, scale: int = 4, flips: bool = True, min_size: int = 0,
                 small_images: str = "pad", cache_mb: int = 1024):
        if (pairs is None) == (clean is None):
            raise ValueError("give either pairs or clean images")
        if clean is not None and mode not in MODES:
            raise MirnetError(f"--synthetic must be one of {', '.join(MODES)}, not {mode!r}")
        self.seed, self.mode, self.scale, self.flips = int(seed), mode, int(scale), bool(flips)
        self.pairs, self.clean = pairs, clean
        if small_images == "skip" and min_size > 0:
            self._drop_small(min_size)
        if len(self) == 0:
            raise MirnetError(f"no training images of at least {min_size}×{min_size} pixels "
                              "(use data.small_images=pad to pad small images)")
        self._cache = _ByteLRU(cache_mb * 2**20)
        self._unreadable: set[int] = set()  # items that failed to decode in this process

    def _paths(self) -> list[Path]:
        if self.clean is not None:
            return list(self.clean)
        return [s.inputs[0] for s in self.pairs]

    def _drop_small(self, min_size: int) -> None:
        keep = []
        for path in self._paths():
            size = _image_size(path)
            keep.append(size is None or min(size) >= min_size)
        dropped = [p.name for p, k in zip(self._paths(), keep, strict=True) if not k]
        if dropped:
            shown = ", ".join(dropped[:5]) + (f" and {len(dropped) - 5} more" if len(dropped) > 5 else "")
            warnings.warn(f"skipped {len(dropped)} training image(s) smaller than {min_size}×{min_size}: {shown}",
                          SmallImageWarning, stacklevel=3)
        if self.clean is not None:
            self.clean = [p for p, k in zip(self.clean, keep, strict=True) if k]
        else:
            self.pairs = [s for s, k in zip(self.pairs, keep, strict=True) if k]

    def __len__(self) -> int:
        return len(self.pairs if self.pairs is not None else self.clean)

    def _source(self, k: int) -> list[np.ndarray]:
        arrays = self._cache.get(k)
        if arrays is None:
            if self.pairs is not None:
                inp, tgt = self.pairs[k].load()
                if inp.shape[:2] != tgt.shape[:2]:
                    raise MirnetError(f"{self.pairs[k].inputs[0]}: input {inp.shape[1]}×{inp.shape[0]} and target "
                                      f"{tgt.shape[1]}×{tgt.shape[0]} differ in size")
                arrays = [inp, tgt]
            else:
                arrays = [_read(self.clean[k])]
            self._cache.put(k, arrays)
        return arrays

    def _readable_source(self, k: int) -> list[np.ndarray]:
        """The arrays of item ``k``, or of the next item that can be read.

        A file that fails to decode is reported once per process and skipped, always in favour of the same next
        item, so a run and its ``--resume`` see the same samples instead of dying at the same place forever.
        """
        from ..errors import ImageReadError

        for step in range(len(self)):
            j = (k + step) % len(self)
            if j in self._unreadable:
                continue
            try:
                return self._source(j)
            except (MirnetError, OSError, ValueError, MemoryError) as exc:
                self._unreadable.add(j)
                what = str(exc) if isinstance(exc, (ImageReadError, MirnetError)) else f"{self._paths()[j]}: {exc}"
                warnings.warn(f"skipped an unreadable training image: {what}", UnreadableImageWarning, stacklevel=2)
        raise MirnetError("none of the training images can be read any more")

    def __getitem__(self, key: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
        index, patch = key
        rng = np.random.default_rng([self.seed, index])
        k = int(rng.integers(0, len(self)))
        arrays = self._readable_source(k)
        if self.pairs is not None:
            inp, tgt = _crop_flip(arrays, patch, rng, self.flips)
        else:
            (tgt,) = _crop_flip(arrays, patch, rng, self.flips)
            inp = degrade(tgt, self.mode, rng, scale=self.scale)
        return _chw(inp), _chw(tgt)


_STRIDE = 64  # sample indices reserved per (iteration, rank) for the first 64 samples of a batch


def sample_key(iteration: int, rank: int, world: int, j: int) -> int:
    """The sample index of the ``j``-th patch of ``rank``'s batch at ``iteration`` (unique over the run).

    ``(iteration · world + rank) · 64 + j`` for ``j < 64``; larger batches continue in a disjoint range above
    2⁶², so every sample of every rank and iteration gets its own random stream.
    """
    slot = iteration * world + rank
    if j < _STRIDE:
        return slot * _STRIDE + j
    return 2**62 + slot * 2**20 + j


class StageBatchSampler(Sampler):
    """Yields, for iterations ``start … total−1``, this rank's batch as ``[(sample_index, patch), …]``.

    The patch and batch size follow the progressive stages of the config, so one ``DataLoader`` serves the whole
    run (workers keep prefetching across stage boundaries).
    """

    def __init__(self, cfg: Any, start: int, total: int, rank: int = 0, world: int = 1):
        self.cfg, self.start, self.total, self.rank, self.world = cfg, start, total, rank, world

    def __len__(self) -> int:
        return max(0, self.total - self.start)

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        for it in range(self.start, self.total):
            _, patch, batch = self.cfg.stage_at(it)
            yield [(sample_key(it, self.rank, self.world, j), patch) for j in range(batch)]


def worker_init(worker_id: int) -> None:
    """DataLoader ``worker_init_fn``: one thread per worker, distinct seeds for any incidental randomness.

    The samples themselves do not depend on these seeds (see the module docstring); this only keeps libraries that
    use the global generators from producing identical streams in every worker.
    """
    import random
    import signal

    # Ctrl-C goes to the whole process group: let the main process stop cleanly (it checkpoints, then closes us).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    seed = torch.initial_seed() % 2**32  # differs per worker (base_seed + worker_id)
    np.random.seed(seed)
    random.seed(seed)
    torch.set_num_threads(1)
    try:
        import cv2

        cv2.setNumThreads(0)
    except Exception:  # pragma: no cover - cv2 is a dependency, but never fail a worker over threads
        pass


def validation_pairs(cfg: Any) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """Fixed validation ``(name, input, target)`` arrays: real pairs, or clean images degraded with a fixed seed.

    Synthetic validation inputs use ``default_rng([seed, 10⁹ + i])`` for image *i*, so they are identical in every
    validation round and after a resume. Images are centre-cropped to ``data.val_crop`` (rounded down to a
    multiple of 4) to keep validation quick.
    """
    data = cfg.data
    if not data.val_dir:
        return []
    crop = max(4, data.val_crop - data.val_crop % 4)

    def centre(a: np.ndarray) -> np.ndarray:
        h, w = a.shape[:2]
        ch, cw = min(h, crop), min(w, crop)
        top, left = (h - ch) // 2, (w - cw) // 2
        return np.ascontiguousarray(a[top:top + ch, left:left + cw])

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
        samples = paired_samples(data.val_dir, scale=data.scale)
        if data.val_names:
            samples = [s for s in samples if s.name in set(data.val_names)]
        for s in samples[: data.val_count]:
            inp, tgt = s.load()
            out.append((s.name, centre(inp), centre(tgt)))
    if not out:
        raise MirnetError(f"{data.val_dir}: no validation images"
                          + (f" named {', '.join(data.val_names)}" if data.val_names else ""))
    return out
