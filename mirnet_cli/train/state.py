"""Training checkpoints: atomic writes, rotation, RNG states, and loading with ``torch.load(weights_only=True)``.

A checkpoint (``OUT/checkpoints/iter_XXXXXXXX.pt`` or ``best.pt``) is a plain dict of tensors, numbers, strings,
lists and dicts — nothing that needs arbitrary unpickling::

    format         "mirnet-train-state", version 1
    iteration      iterations completed
    arch, model_config
    model          the state_dict (unwrapped from DDP)
    optimizer      Adam state_dict
    params_ema     the weights' moving average when ``optim.ema`` > 0 (what validation scores and the export holds;
                   ``load_model`` prefers this key), with ``ema_updates``
    scaler         GradScaler state_dict ({} when AMP fp16 is off)
    scheduler      {"name": "cosine", "total": T, "lr": η₀, "eta_min": …, "last_lr": …} (the lr is a pure function
                   of the iteration; recorded for inspection)
    stage          progressive-patch stage index, patch and batch in force at ``iteration``
    samples        sample indices are a function of the iteration (see data.py): nothing else to store
    rng            python (list), numpy (MT19937 key as a tensor + position), torch CPU and CUDA states (tensors)
    best_psnr, best_iteration, config (JSON text of the TrainConfig), world_size, torch

Files are written with ``torch.save`` into a bytes buffer and then :func:`mirnet_cli.io.atomic.atomic_write_bytes`
(temporary file + ``os.replace``), so a job killed with SIGKILL leaves either the old or the new file, never a
partial one.
"""

from __future__ import annotations

import io
import random
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import CheckpointError

__all__ = [
    "CKPT_RE",
    "FORMAT",
    "checkpoint_files",
    "get_rng_state",
    "latest_checkpoint",
    "load_training_state",
    "prune_checkpoints",
    "save_checkpoint",
    "set_rng_state",
]

FORMAT = "mirnet-train-state"
CKPT_RE = re.compile(r"^iter_(\d{8})\.pt$")


def get_rng_state() -> dict[str, Any]:
    """Python, numpy (global) and torch RNG states in ``weights_only``-loadable form."""
    version, state, gauss = random.getstate()
    _name, key, pos, has_gauss, cached = np.random.get_state()
    out: dict[str, Any] = {
        "python": [version, list(state), gauss],
        "numpy": {"key": torch.from_numpy(key.astype(np.int64)), "pos": int(pos), "has_gauss": int(has_gauss),
                  "cached_gaussian": float(cached)},
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        out["cuda"] = torch.cuda.get_rng_state_all()
    return out


def set_rng_state(st: dict[str, Any]) -> None:
    """Restore what :func:`get_rng_state` saved (also reads the first checkpoints' numpy format)."""
    if "torch" in st:
        torch.set_rng_state(st["torch"])
    if "python" in st:
        version, state, gauss = st["python"]
        random.setstate((int(version), tuple(int(x) for x in state), gauss))
    np_state = st.get("numpy")
    if isinstance(np_state, dict):
        key = np.asarray(np_state["key"].numpy() if torch.is_tensor(np_state["key"]) else np_state["key"])
        np.random.set_state(("MT19937", key.astype(np.uint32), int(np_state["pos"]), int(np_state["has_gauss"]),
                             float(np_state["cached_gaussian"])))
    elif np_state is not None:  # a bare key list (first format)
        np.random.set_state(("MT19937", np.array(np_state, dtype=np.uint32), 624, 0, 0.0))
    cuda = st.get("cuda")
    if cuda and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda)


def _atomic_write(path: Path, data: bytes) -> None:
    from ..io.atomic import atomic_write_bytes

    atomic_write_bytes(path, data)


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> Path:
    """``torch.save`` ``state`` to memory, then write it to ``path`` atomically."""
    path = Path(path)
    buf = io.BytesIO()
    torch.save(state, buf)
    _atomic_write(path, buf.getvalue())
    return path


def checkpoint_files(out: str | Path) -> list[tuple[int, Path]]:
    """``[(iteration, path), …]`` of ``OUT/checkpoints/iter_*.pt``, oldest first."""
    folder = Path(out) / "checkpoints"
    if not folder.is_dir():
        return []
    found = []
    for p in folder.iterdir():
        m = CKPT_RE.match(p.name)
        if m and p.is_file():
            found.append((int(m.group(1)), p))
    return sorted(found)


def latest_checkpoint(out: str | Path) -> Path | None:
    files = checkpoint_files(out)
    return files[-1][1] if files else None


def prune_checkpoints(out: str | Path, keep: int) -> list[Path]:
    """Delete all but the newest ``keep`` ``iter_*.pt`` files (``best.pt`` is never touched)."""
    files = checkpoint_files(out)
    removed = []
    for _, old in files[: max(0, len(files) - max(int(keep), 1))]:
        old.unlink(missing_ok=True)
        removed.append(old)
    return removed


def _load(path: Path) -> dict[str, Any]:
    try:
        empty = path.stat().st_size == 0
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot read training checkpoint ({exc.strerror or exc})") from None
    if empty:  # e.g. a disk that filled up, or a copy cut short
        raise CheckpointError(f"{path}: empty training checkpoint (0 bytes)")
    try:
        state = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:
        lines = str(exc).strip().splitlines()
        reason = lines[0][:200] if lines else type(exc).__name__  # EOFError() has no message
        raise CheckpointError(f"{path}: cannot read training checkpoint ({reason})") from None
    if not isinstance(state, dict) or "model" not in state or "iteration" not in state:
        raise CheckpointError(f"{path}: not a mirnet training checkpoint (no model/iteration)")
    return state


def load_training_state(out_or_file: str | Path) -> tuple[Path, dict[str, Any]]:
    """Load the newest readable checkpoint of a run folder (or the given ``.pt`` file).

    A newest file that cannot be read (it should not happen: writes are atomic, but disks fail) is skipped with a
    warning in favour of the one before.

    Raises:
        CheckpointError: no checkpoint, or none readable.
    """
    target = Path(out_or_file)
    if target.is_file():
        return target, _load(target)
    files = checkpoint_files(target)
    if not files:
        raise CheckpointError(f"{target}: nothing to resume (no checkpoints/iter_*.pt)")
    last_error: CheckpointError | None = None
    for _, path in reversed(files):
        try:
            return path, _load(path)
        except CheckpointError as exc:
            warnings.warn(f"{exc}; trying the previous checkpoint", stacklevel=2)
            last_error = exc
    assert last_error is not None
    raise last_error
