"""Training data: paired folders (the layouts ``mirnet benchmark`` reads) or clean photos degraded on the fly.

Every sample is a pure function of ``(seed, sample_index, patch)``: the source image, the crop, the flips and the
degradation all come from ``numpy.random.default_rng([seed, sample_index])``. The sampler hands out sample indices
that depend only on the iteration, the rank and the position in the batch, so resuming at iteration *i* replays
exactly the data an uninterrupted run would have seen — whatever the number of workers, and without saving any
sampler state. (It plays the role of ``DistributedSampler``: each rank gets disjoint samples.)
"""

from __future__ import annotations

import os
import warnings
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from ..datasets.degradations import MODES, degrade
from ..errors import MirnetError

__all__ = [
    "PAIRED_ADAPTERS",
    "PatchDataset",
    "SmallImageWarning",
    "Source",
    "StageBatchSampler",
    "UnreadableImageWarning",
    "build_sources",
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


def data_path(folder: str | Path) -> Path:
    """A data folder setting as a path: ``~`` and environment variables (``$MIRNET_TRAIN_DATA/…``) expanded, so a
    recipe can name data that lives outside the repository."""
    return Path(os.path.expandvars(os.path.expanduser(str(folder))))


def clean_images(folder: str | Path, exclude: list[str] | tuple[str, ...] = ()) -> list[Path]:
    """Images under ``folder`` (recursive, sorted), minus the held-back stems."""
    from ..io.formats import is_image_path, is_raw_path

    root = data_path(folder)
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
    Returns :class:`mirnet_cli.datasets.Sample` objects with a ``target``.
    """
    from ..datasets import load_dataset

    root = data_path(folder)
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
        self.items: OrderedDict[Any, list[np.ndarray]] = OrderedDict()
        self.size = 0

    def get(self, key: Any) -> list[np.ndarray] | None:
        value = self.items.get(key)
        if value is not None:
            self.items.move_to_end(key)
        return value

    def put(self, key: Any, value: list[np.ndarray]) -> None:
        nbytes = sum(a.nbytes for a in value)
        if nbytes > self.budget:
            return
        self.items[key] = value
        self.size += nbytes
        while self.size > self.budget:
            _, old = self.items.popitem(last=False)
            self.size -= sum(a.nbytes for a in old)


@dataclass
class Source:
    """One training source: paired samples, clean images degraded on the fly with ``mode``, or ``inputs`` alone
    (unpaired: a teacher's output on each whole image is its target).

    ``weight`` is the share of the samples drawn from it (relative to the other sources' weights); ``label`` is
    what the training log calls it.
    """

    pairs: list[Any] | None = None
    clean: list[Path] | None = None
    mode: str | None = None
    weight: float = 1.0
    label: str = ""
    inputs: list[Path] | None = None
    # The teacher's targets take the mean colour of the input ("input") or of the ground truth ("target", pairs):
    # see :func:`keep_colour`. None: the teacher's colours.
    keep_colour: str | None = None
    teacher_weight: float | None = None  # this source's share of the teacher in its targets (default: the run's)
    # Pairs: each input becomes (1 − m)·input + m·ground truth, m ~ U(0, partial_edit), see :func:`partial_edit`.
    partial_edit: float = 0.0

    def __post_init__(self) -> None:
        if sum(x is not None for x in (self.pairs, self.clean, self.inputs)) != 1:
            raise ValueError("give either pairs, clean images or unpaired inputs")
        if self.clean is not None and self.mode not in MODES:
            raise MirnetError(f"--synthetic must be one of {', '.join(MODES)}, not {self.mode!r}")
        if not self.weight > 0:
            raise MirnetError(f"{self.label or 'data source'}: weight must be > 0, got {self.weight}")

    def paths(self) -> list[Path]:
        if self.pairs is not None:
            return [s.inputs[0] for s in self.pairs]
        return list(self.clean if self.clean is not None else self.inputs)

    def __len__(self) -> int:
        return len(self.paths())

    def describe(self) -> str:
        kind = f"{self.mode}" if self.mode else ("unpaired" if self.inputs is not None else "pairs")
        return f"{self.label or 'data'} ({len(self)} {kind})"


def keep_colour(target: np.ndarray, inp: np.ndarray) -> np.ndarray:
    r"""``target`` with the mean CIELAB a*, b* of ``inp``: a chroma shift proportional to lightness.

    .. math:: (a^*, b^*)'_i = (a^*, b^*)_i + \frac{L^*_i}{\bar{L}^*}\,\big(\overline{(a^*, b^*)}_{inp}
              - \overline{(a^*, b^*)}_{target}\big)

    so the target's mean a*, b* become the input's (the colour-cast measure of ``night_check.py``) while its
    lightness (the teacher's tone curve) is untouched, and black stays neutral black (the shift fades with L*).
    A teacher whose colour matrix warms sodium-lit night scenes (IAT) then teaches brightening without the cast.

    Args:
        target: H×W×3 sRGB in [0, 1] (the teacher's output).
        inp: the input it was computed from, same size.

    Returns:
        float32 H×W×3 in [0, 1]; ``target`` unchanged when it is black.
    """
    import cv2

    lab_t = cv2.cvtColor(np.clip(target, 0, 1).astype(np.float32), cv2.COLOR_RGB2Lab)
    lab_x = cv2.cvtColor(np.clip(inp, 0, 1).astype(np.float32), cv2.COLOR_RGB2Lab)
    light = lab_t[..., 0]
    mean_l = float(light.mean())
    if mean_l < 1e-3:
        return target
    shift = lab_x[..., 1:].reshape(-1, 2).mean(0) - lab_t[..., 1:].reshape(-1, 2).mean(0)
    lab_t[..., 1:] += (light / mean_l)[..., None] * shift.astype(np.float32)
    return np.clip(cv2.cvtColor(lab_t, cv2.COLOR_Lab2RGB), 0.0, 1.0).astype(np.float32)


def partial_edit(inputs: list[np.ndarray], target: np.ndarray, m: float) -> list[np.ndarray]:
    r"""Inputs moved a share ``m`` of the way to the ground truth: :math:`x' = (1 - m)\,x + m\,y`.

    Retouching pairs (FiveK) come in several input renderings, some much flatter than others; a model trained on
    flat inputs alone applies its whole edit to an input that is already half way there. Blending in part of the
    target shows it inputs that need less, with the same target. Inputs of another size (none in practice) are
    left as they are.
    """
    return [((1.0 - m) * x + m * target).astype(np.float32) if x.shape == target.shape else x for x in inputs]


def zoom_out(arrays: list[np.ndarray], patch: int, rng: np.random.Generator) -> list[np.ndarray]:
    """``arrays`` shrunk alike (area average) by a factor drawn log-uniformly from [patch / short side, 1]."""
    import cv2

    h, w = arrays[0].shape[:2]
    lo = patch / min(h, w)
    if lo >= 1.0:
        return arrays
    factor = float(np.exp(rng.uniform(np.log(lo), 0.0)))
    size = (max(patch, round(w * factor)), max(patch, round(h * factor)))
    return [cv2.resize(a, size, interpolation=cv2.INTER_AREA) for a in arrays]


def expose(img: np.ndarray, ev: float) -> np.ndarray:
    """Scene exposure change by ``ev`` stops, in linear light (sRGB transfer function), clipped to [0, 1]."""
    lin = np.where(img <= 0.04045, img / 12.92, ((img + 0.055) / 1.055) ** 2.4)
    lin = np.clip(lin * float(2.0 ** ev), 0.0, 1.0)
    out = np.where(lin <= 0.0031308, 12.92 * lin, 1.055 * np.power(lin, 1 / 2.4) - 0.055)
    return np.clip(out, 0.0, 1.0).astype(np.float32)


class PatchDataset(Dataset):
    """Random training patches, indexed by ``(sample_index, patch)`` keys from :class:`StageBatchSampler`.

    Args:
        seed: the run seed.
        pairs: paired samples (from :func:`paired_samples`), or
        clean: clean image paths plus ``mode``, a synthetic degradation from :data:`MODES`, or
        sources: several :class:`Source` objects mixed by weight (each sample draws its source first).
        scale: SR factor for ``mode="sr"``, or a list of factors to draw from.
        flips: random horizontal and vertical flips.
        min_size: with ``small_images="skip"``, images whose shorter side is below this are dropped with one
            :class:`SmallImageWarning` (``"pad"``, the default, reflect-pads them to the patch instead).
        cache_mb: decoded images kept in memory per process.
        exposure: ``(min_ev, max_ev)``: synthetic samples first change the clean patch's exposure by a uniform
            number of stops (the target too), e.g. ``(-2.5, 0)`` to train on dark scenes as well as bright ones.
        teacher: a :class:`~mirnet_cli.teachers.Teacher` for distillation, or None. It runs on whole images for
            paired and unpaired sources (its global statistics are the photo's, not a patch's; the result is
            cached with the image) and on the degraded patch for synthetic sources.
        teacher_weight: ``w`` in ``target = w · teacher(input) + (1 − w) · ground truth`` (unpaired: the teacher).
        teacher_cache: folder for the teacher's outputs on whole images (float16 ``.npy`` named by the teacher's
            and the image's sha256, written atomically), or None to keep them in memory only.
        zoom: share of paired / unpaired samples first shrunk by :func:`zoom_out`, so that a patch sees the whole
            scene (0: never; no random numbers are drawn then, so older runs keep their sample stream).
    """

    def __init__(self, seed: int, *, pairs: list[Any] | None = None, clean: list[Path] | None = None,
                 mode: str | None = None, sources: list[Source] | None = None,
                 scale: int | list[int] = 4, flips: bool = True, min_size: int = 0,
                 small_images: str = "pad", cache_mb: int = 1024, exposure: tuple[float, float] | None = None,
                 teacher: Any = None, teacher_weight: float = 0.5, teacher_cache: str | Path | None = None,
                 zoom: float = 0.0):
        if sources is None:
            if (pairs is None) == (clean is None):
                raise ValueError("give either pairs or clean images")
            sources = [Source(pairs=pairs, clean=clean, mode=mode if clean is not None else None)]
        elif pairs is not None or clean is not None:
            raise ValueError("give sources, or pairs / clean images, not both")
        self.seed, self.scale, self.flips = int(seed), scale, bool(flips)
        self.sources = list(sources)
        self.exposure = tuple(exposure) if exposure else None
        self.teacher, self.teacher_weight = teacher, float(teacher_weight)
        self.teacher_cache = Path(teacher_cache) if teacher_cache else None
        self.zoom = float(zoom)
        if teacher is None and any(s.inputs is not None for s in self.sources):
            raise MirnetError("unpaired training inputs need a teacher (--teacher SOURCE)")
        if small_images == "skip" and min_size > 0:
            self._drop_small(min_size)
        if len(self) == 0 or any(len(s) == 0 for s in self.sources):
            raise MirnetError(f"no training images of at least {min_size}×{min_size} pixels "
                              "(use data.small_images=pad to pad small images)")
        weights = np.array([s.weight for s in self.sources], np.float64)
        self._cum = np.cumsum(weights / weights.sum())
        self._cache = _ByteLRU(cache_mb * 2**20)
        self._unreadable: set[tuple[int, int]] = set()  # (source, item) that failed to decode in this process

    # Kept for callers of the single-source form.
    @property
    def mode(self) -> str | None:
        return self.sources[0].mode

    @property
    def pairs(self) -> list[Any] | None:
        return self.sources[0].pairs if len(self.sources) == 1 else None

    @property
    def clean(self) -> list[Path] | None:
        return self.sources[0].clean if len(self.sources) == 1 else None

    def _drop_small(self, min_size: int) -> None:
        dropped = []
        for src in self.sources:
            keep = []
            for path in src.paths():
                size = _image_size(path)
                keep.append(size is None or min(size) >= min_size)
            dropped += [p.name for p, k in zip(src.paths(), keep, strict=True) if not k]
            if src.clean is not None:
                src.clean = [p for p, k in zip(src.clean, keep, strict=True) if k]
            elif src.inputs is not None:
                src.inputs = [p for p, k in zip(src.inputs, keep, strict=True) if k]
            else:
                src.pairs = [s for s, k in zip(src.pairs, keep, strict=True) if k]
        if dropped:
            shown = ", ".join(dropped[:5]) + (f" and {len(dropped) - 5} more" if len(dropped) > 5 else "")
            warnings.warn(f"skipped {len(dropped)} training image(s) smaller than {min_size}×{min_size}: {shown}",
                          SmallImageWarning, stacklevel=3)

    def __len__(self) -> int:
        return sum(len(s) for s in self.sources)

    def _source(self, j: int, k: int) -> list[np.ndarray]:
        arrays = self._cache.get((j, k))
        if arrays is None:
            src = self.sources[j]
            if src.pairs is not None:
                inp, tgt = src.pairs[k].load()
                if inp.shape[:2] != tgt.shape[:2]:
                    raise MirnetError(f"{src.pairs[k].inputs[0]}: input {inp.shape[1]}×{inp.shape[0]} and target "
                                      f"{tgt.shape[1]}×{tgt.shape[0]} differ in size")
                arrays = [inp, self._distil(inp, tgt, src.pairs[k].inputs[0], src.keep_colour, src.teacher_weight)]
            elif src.inputs is not None:
                inp = _read(src.inputs[k])
                arrays = [inp, self._distil(inp, None, src.inputs[k], src.keep_colour)]
            else:
                arrays = [_read(src.clean[k])]
            self._cache.put((j, k), arrays)
        return arrays

    def _distil(self, inp: np.ndarray, tgt: np.ndarray | None, path: Path | None = None,
                colour: str | None = None, weight: float | None = None) -> np.ndarray:
        """The training target of ``inp``: the ground truth, the teacher's output, or their blend."""
        w = self.teacher_weight if weight is None else float(weight)
        if self.teacher is None or (tgt is not None and w == 0.0):
            assert tgt is not None
            return tgt
        taught = self._taught(inp, path)
        if colour:
            taught = keep_colour(taught, tgt if colour == "target" and tgt is not None else inp)
        if tgt is None:
            return np.ascontiguousarray(taught)
        return np.ascontiguousarray(w * taught + (1.0 - w) * tgt, dtype=np.float32)

    def _taught(self, inp: np.ndarray, path: Path | None) -> np.ndarray:
        """The teacher's output on the whole image ``inp`` (read from / written to the teacher cache)."""
        cached = None
        teacher = getattr(self.teacher, "provenance", None) or {}
        # Outputs are filed under the teacher's digest: a teacher without one (nothing to tell it from another) is
        # never cached.
        if self.teacher_cache is not None and path is not None and teacher.get("sha256"):
            from ..loading.sources import sha256_file

            key = f"{teacher['sha256'][:16]}-{teacher.get('sigma', '')}-{sha256_file(path)[:32]}"
            cached = self.teacher_cache / f"{key}.npy"
            try:
                arr = np.load(cached, allow_pickle=False)
                if arr.shape == inp.shape:
                    return arr.astype(np.float32)
            except (OSError, ValueError):
                pass
        with torch.no_grad():
            out = self.teacher(torch.from_numpy(np.ascontiguousarray(inp.transpose(2, 0, 1)))[None].float())
        taught = np.ascontiguousarray(out[0].permute(1, 2, 0).numpy(), dtype=np.float32)
        if cached is not None:
            try:
                cached.parent.mkdir(parents=True, exist_ok=True)
                tmp = cached.with_name(f".{cached.name}.{os.getpid()}.tmp")
                with open(tmp, "wb") as fh:
                    np.save(fh, taught.astype(np.float16), allow_pickle=False)
                os.replace(tmp, cached)
            except OSError as exc:  # a cache is an optimisation: a full disk costs time, not the run
                warnings.warn(f"teacher cache not written ({cached}): {exc}", stacklevel=2)
        return taught

    def _readable_source(self, j: int, k: int) -> list[np.ndarray]:
        """The arrays of item ``k`` of source ``j``, or of the next item of that source that can be read.

        A file that fails to decode is reported once per process and skipped, always in favour of the same next
        item, so a run and its ``--resume`` see the same samples instead of dying at the same place forever.
        """
        from ..errors import ImageReadError

        src = self.sources[j]
        for step in range(len(src)):
            i = (k + step) % len(src)
            if (j, i) in self._unreadable:
                continue
            try:
                return self._source(j, i)
            except (MirnetError, OSError, ValueError, MemoryError) as exc:
                self._unreadable.add((j, i))
                what = str(exc) if isinstance(exc, (ImageReadError, MirnetError)) else f"{src.paths()[i]}: {exc}"
                warnings.warn(f"skipped an unreadable training image: {what}", UnreadableImageWarning, stacklevel=2)
        raise MirnetError("none of the training images can be read any more" + (f" ({src.label})" if src.label else ""))

    def __getitem__(self, key: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
        index, patch = key
        rng = np.random.default_rng([self.seed, index])
        # A single source draws nothing extra, so its sample stream is that of earlier versions.
        j = 0 if len(self.sources) == 1 else int(np.searchsorted(self._cum, rng.random(), side="right"))
        j = min(j, len(self.sources) - 1)
        src = self.sources[j]
        k = int(rng.integers(0, len(src)))
        arrays = self._readable_source(j, k)
        if src.clean is None:
            if src.partial_edit > 0 and src.pairs is not None:  # draws nothing unless the source asks for it
                arrays = [*partial_edit(arrays[:-1], arrays[-1], float(rng.uniform(0.0, src.partial_edit))),
                          arrays[-1]]
            if self.zoom > 0 and rng.random() < self.zoom:
                arrays = zoom_out(arrays, patch, rng)
            inp, tgt = _crop_flip(arrays, patch, rng, self.flips)
        else:
            (tgt,) = _crop_flip(arrays, patch, rng, self.flips)
            if self.exposure is not None:
                tgt = expose(tgt, float(rng.uniform(*self.exposure)))
            inp = degrade(tgt, src.mode, rng, scale=self.scale)
            if self.teacher is not None:
                tgt = self._distil(inp, tgt, weight=src.teacher_weight)
        return _chw(inp), _chw(tgt)


def _colour_reference(spec: dict[str, Any]) -> str | None:
    """A source's ``keep_colour``: ``true`` / ``input`` → "input", ``target`` → "target", absent / false → None."""
    value = spec.get("keep_colour")
    if value is None or value is False:
        return None
    return "input" if value is True else str(value)


def build_sources(data: Any, scale: int | list[int] = 4, *,
                  say: Callable[[str], None] | None = None) -> list[Source]:
    """The training sources of a :class:`~mirnet_cli.train.config.DataConfig`: ``train_dir`` (paired, or clean
    photos with ``synthetic``) and each entry of ``sources`` (``{dir, synthetic?, weight?, exclude?}``); every
    source also skips the stems in ``data.exclude``.

    Every file is probed once first (:func:`~mirnet_cli.train.data_check.check_training_set`: one line per bad
    file through ``say``, and each source needs ``data.min_images`` good items, by default half of them).
    """
    from .data_check import check_training_set

    report = say or (lambda text: None)
    min_images = getattr(data, "min_images", None)
    out = []
    specs = []
    if data.train_dir:
        specs.append({"dir": data.train_dir, "synthetic": data.synthetic, "weight": 1.0, "exclude": []})
    specs += list(data.sources)
    for spec in specs:
        folder = spec["dir"]
        exclude = list(data.exclude) + list(spec.get("exclude") or [])
        mode = spec.get("synthetic")
        weight = float(spec.get("weight", 1.0))
        label = "/".join(data_path(folder).parts[-2:]) or str(folder)
        tw = spec.get("teacher_weight")
        teacher_weight = None if tw is None else float(tw)
        if spec.get("unpaired"):
            inputs = check_training_set(clean_images(folder, exclude), lambda p: [p], min_images=min_images,
                                        say=report)
            out.append(Source(inputs=inputs, weight=weight, label=label, keep_colour=_colour_reference(spec)))
        elif mode:
            clean = check_training_set(clean_images(folder, exclude), lambda p: [p], min_images=min_images,
                                       say=report)
            out.append(Source(clean=clean, mode=mode, weight=weight, label=label, teacher_weight=teacher_weight))
        else:
            pairs = check_training_set(paired_samples(folder, exclude, scale=scale if isinstance(scale, int) else 4),
                                       lambda s: [*s.inputs, s.target], min_images=min_images, say=report,
                                       what="training pair")
            out.append(Source(pairs=pairs, weight=weight, label=label, keep_colour=_colour_reference(spec),
                              teacher_weight=teacher_weight, partial_edit=float(spec.get("partial_edit", 0.0))))
    if not out:
        raise MirnetError("no training data: give --train-dir (paired folders, or clean photos with --synthetic) "
                          "or data.sources")
    return out


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
            # With several SR factors, the validation images take them in turn.
            scale = data.scales[i % len(data.scales)] if data.scales else data.scale
            inp = degrade(tgt, data.synthetic, np.random.default_rng([cfg.seed, 10**9 + i]), scale=scale)
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
