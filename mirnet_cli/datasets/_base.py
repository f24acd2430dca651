"""What every adapter shares: :class:`Sample`, :class:`Dataset`, image listing and loading, pairing by file stem.

Images are matched by file stem; folders are listed in natural order (``2.png`` before ``10.png``), which is
also the order the DPDD label files index into.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ImageReadError, MirnetError
from ..io.formats import RASTER_EXTENSIONS
from ._protocols import Protocol

# Benchmark pairs are raster files only (a RAW file has no paired target); the same set the restore commands read.
IMAGE_EXTENSIONS = RASTER_EXTENSIONS

Loader = Callable[[], "tuple[np.ndarray, np.ndarray | None]"]

Loader = Callable[[], "tuple[np.ndarray, np.ndarray | None]"]


@dataclass
class Sample:
    """One test image.

    Attributes:
        name: the input file stem (``%04d_%02d`` image/block for SIDD block files), used for output names.
        inputs: input file(s): one path, or the left and right views for dual-pixel data.
        target: ground-truth file, or ``None`` (DND).
        load: returns ``(input, target)``: input ``H×W×C`` float32 in [0, 1] (C = 3, or 6 = L‖R for
            DPDD, already upsampled for SR), target ``H×W×3`` float32 in [0, 1] or ``None``.
        group: subset label (``"indoor"``/``"outdoor"`` for DPDD) or ``None``.
    """

    name: str
    inputs: tuple[Path, ...]
    target: Path | None
    load: Loader
    group: str | None = None


@dataclass
class Dataset:
    """A resolved test set: which adapter, which layout was found, the samples and the scoring protocol."""

    name: str
    root: Path | None
    layout: str
    samples: list[Sample]
    protocol: Protocol

    def __len__(self) -> int:
        return len(self.samples)


def natural_key(text: str) -> list[Any]:
    """Sort key that orders embedded numbers numerically (``img2`` < ``img10``), like ``natsort``."""
    return [int(tok) if tok.isdigit() else tok.casefold() for tok in re.split(r"(\d+)", text)]


def list_images(folder: Path, extensions: Iterable[str] = IMAGE_EXTENSIONS) -> list[Path]:
    """Image files directly inside ``folder`` (not recursive, hidden files skipped), in natural order."""
    exts = {e.lower() for e in extensions}
    files = [
        p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in exts
    ]
    return sorted(files, key=lambda p: natural_key(p.name))


def _to_float(arr: np.ndarray, path: Path) -> np.ndarray:
    if arr.dtype == np.uint8:
        return arr.astype(np.float32) / 255.0
    if arr.dtype == np.uint16:
        return arr.astype(np.float32) / 65535.0
    if np.issubdtype(arr.dtype, np.floating):
        return np.clip(arr.astype(np.float32), 0.0, 1.0)
    raise ImageReadError(path, f"unsupported pixel type {arr.dtype}")


def _rgb3(arr: np.ndarray, path: Path) -> np.ndarray:
    """Grey → RGB, drop alpha; channels last."""
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=-1)
    if arr.ndim != 3 or arr.shape[-1] not in (1, 3, 4):
        raise ImageReadError(path, f"expected an H×W×3 RGB image, got shape {arr.shape}")
    if arr.shape[-1] == 1:
        arr = np.repeat(arr, 3, axis=-1)
    return arr[..., :3]


def load_rgb(path: str | Path) -> np.ndarray:
    """Read an image file as ``H×W×3`` float32 RGB in [0, 1], keeping 16-bit precision.

    Goes through :func:`mirnet_cli.io.images.read_image` (stored sample values scaled by 255 or 65535, EXIF
    orientation applied, alpha dropped), which matches the authors' ``cv2.imread`` + BGR→RGB + ``/255``
    (``/65535`` for 16-bit) loaders.

    Raises:
        ImageReadError: missing, unreadable or unsupported file.
    """
    from ..io.images import read_image

    return read_image(Path(path)).pixels  # always H×W×3 float32 (grey replicated, alpha kept apart)


def upsample_bicubic(img: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bicubic resize of an ``H×W×C`` float image to ``height×width`` with PIL ``BICUBIC``.

    PIL's bicubic uses the Keys kernel with a = −0.5, the same kernel as MATLAB ``imresize(..., 'bicubic')``
    (OpenCV's ``INTER_CUBIC`` uses a = −0.75). For upscaling the two agree except within a couple of pixels of
    the border (PIL renormalises the truncated kernel, MATLAB replicates edge pixels), which the SR protocol
    crops away. Each channel is resized in float32 ("F" mode), so nothing is rounded to 8 bit.
    """
    from PIL import Image

    chans = [
        np.asarray(
            Image.fromarray(np.ascontiguousarray(img[..., c], dtype=np.float32), mode="F").resize(
                (width, height), Image.Resampling.BICUBIC
            )
        )
        for c in range(img.shape[-1])
    ]
    return np.clip(np.stack(chans, axis=-1), 0.0, 1.0).astype(np.float32)


def _pair_by_stem(
    input_dir: Path,
    target_dir: Path | None,
    *,
    input_key: Callable[[str], str | None] = lambda s: s.casefold(),
    target_key: Callable[[str], str | None] = lambda s: s.casefold(),
    dataset: str,
) -> list[tuple[Path, Path | None]]:
    """Match files of ``input_dir`` with files of ``target_dir`` by (normalised) stem.

    A key function may return ``None`` for a file that is not part of the set (e.g. a target lying in the same
    folder as the inputs); such files are skipped.

    Raises:
        MirnetError: no images, duplicate stems, or inputs without a target (named in the message).
    """
    inputs = [p for p in list_images(input_dir) if input_key(p.stem) is not None]
    if not inputs:
        raise MirnetError(f"{dataset}: no images in {input_dir}")
    if target_dir is None:
        return [(p, None) for p in inputs]
    targets: dict[str, Path] = {}
    for t in list_images(target_dir):
        key = target_key(t.stem)
        if key is None:
            continue
        if key in targets:
            raise MirnetError(
                f"{dataset}: two targets with the same name in {target_dir}: {targets[key].name}, {t.name}"
            )
        targets[key] = t
    pairs: list[tuple[Path, Path | None]] = []
    missing: list[str] = []
    seen: set[str] = set()
    for p in inputs:
        key = input_key(p.stem)
        if key in seen:
            raise MirnetError(f"{dataset}: two inputs with the same name in {input_dir}: {p.stem}.*")
        seen.add(key)
        if key not in targets:
            missing.append(p.name)
            continue
        pairs.append((p, targets[key]))
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise MirnetError(f"{dataset}: no target in {target_dir} for {shown} (files are matched by name)")
    return pairs


def _pair_samples(pairs: list[tuple[Path, Path | None]]) -> list[Sample]:
    def make(inp: Path, tgt: Path | None) -> Sample:
        def load() -> tuple[np.ndarray, np.ndarray | None]:
            x = load_rgb(inp)
            y = load_rgb(tgt) if tgt is not None else None
            _check_same_size(x, y, inp, tgt)
            return x, y

        return Sample(name=inp.stem, inputs=(inp,), target=tgt, load=load)

    return [make(i, t) for i, t in pairs]


def _check_same_size(x: np.ndarray, y: np.ndarray | None, inp: Path, tgt: Path | None) -> None:
    if y is not None and x.shape[:2] != y.shape[:2]:
        raise MirnetError(
            f"{inp}: size {x.shape[1]}x{x.shape[0]} differs from its target {tgt} ({y.shape[1]}x{y.shape[0]})"
        )


def _first_existing(root: Path, pairs: Iterable[tuple[str, ...]]) -> tuple[Path, ...] | None:
    for names in pairs:
        paths = tuple(root / n for n in names)
        if all(p.is_dir() for p in paths):
            return paths
    return None


def _require_dir(root: Path | None, dataset: str, expected: str) -> Path:
    if root is None:
        raise MirnetError(f"{dataset}: pass --data-dir (expected layout: {expected})")
    root = Path(root).expanduser()
    if not root.is_dir():
        raise MirnetError(f"{dataset}: {root} is not a folder (expected layout: {expected})")
    return root


_probing = False  # _wrong_layout looks one level down only, never further


def _wrong_layout(dataset: str, root: Path, expected: str, probe: Callable[[Path], Dataset] | None = None
                  ) -> MirnetError:
    """The error for a folder that is not the test set's layout; with ``probe`` (the adapter), it also names the
    sub-folders that are (``../shared/data/sidd`` → ``crops/`` and ``val_block/`` match)."""
    global _probing
    hint = ""
    if probe is not None and not _probing:
        found = []
        _probing = True
        try:
            subs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))[:64]
            for sub in subs:
                try:
                    matched = probe(sub)
                except Exception:  # noqa: BLE001 - not this layout either
                    continue
                if matched.samples:
                    found.append((sub, matched.layout))
        except OSError:
            pass
        finally:
            _probing = False
        if found:
            listed = ", ".join(f"{sub.name}/ ({layout})" for sub, layout in found)
            hint = (f"; inside it, {listed} {'matches' if len(found) == 1 else 'match'}: pass "
                    f"{'it' if len(found) == 1 else 'one'} as --data-dir (e.g. --data-dir {found[0][0]})")
    return MirnetError(f"{dataset}: {root} does not have the expected layout: {expected}{hint}")


def select_names(dataset: Dataset, names: Iterable[str]) -> Dataset:
    """Keep only the samples whose name (input file stem) is in ``names``; unknown names are an error."""
    wanted = [n for n in names if n]
    have = {s.name for s in dataset.samples}
    missing = [n for n in wanted if n not in have]
    if missing:
        raise MirnetError(f"{dataset.name}: no sample named {', '.join(missing)} (have e.g. "
                          f"{', '.join(sorted(have)[:5])})")
    keep = set(wanted)
    dataset.samples = [s for s in dataset.samples if s.name in keep]
    return dataset
