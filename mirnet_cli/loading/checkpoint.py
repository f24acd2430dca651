"""Read checkpoints safely, recognise the architecture from the tensors, build and load the model.

What people actually have, and what this accepts:

* files: ``.safetensors``, or ``.pth`` / ``.pt`` / ``.ckpt`` / ``.bin`` read with ``torch.load(weights_only=True)``
  (a pickle that would construct arbitrary Python objects is refused, never executed);
* folders: ``model.safetensors`` + ``config.json`` (the layout of ``PyTorchModelHubMixin`` and of
  :func:`save_pretrained`);
* containers: ``{'params_ema': …}``, ``{'params': …}`` (BasicSR / MIRNet-v2), ``{'state_dict': …}`` (MIRNet v1),
  ``{'model_state_dict': …}``, ``{'model': …}``, ``{'net': …}`` or a bare state dict; ``module.`` prefixes
  (``nn.DataParallel``) are stripped.

The architecture and its constructor config come from the keys and shapes themselves (spandrel-style detection,
by each model module's ``config_from_state_dict``), so ``--weights any.pth`` needs no ``--arch``. A config given
with the weights (``config.json``, safetensors metadata, the registry entry) is data too: it may only agree with
the tensors and fill in what they cannot show, every argument is bounded, and the network is checked on the meta
device before any memory is allocated. Weights that cannot be right (integer, bool or complex tensors, NaN or
Inf) are refused.
"""

from __future__ import annotations

import json
import pickle
import re
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from ..architectures import canonical_architecture
from ..errors import CheckpointError
from ..models import build_model

PICKLE_SUFFIXES = {".pth", ".pt", ".ckpt", ".bin", ".pkl", ".pickle"}
CONTAINER_KEYS = ("params_ema", "params", "state_dict", "model_state_dict", "model", "net", "network", "generator")
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
FORMAT_TAG = "mirnet-cli/1"


# --------------------------------------------------------------------------------------------------- reading
def read_checkpoint(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Read a checkpoint file into a flat ``{key: tensor}`` dict plus whatever metadata it carries.

    Returns:
        ``(state_dict, meta)``. ``meta`` may hold ``architecture`` and ``config`` (from safetensors metadata).

    Raises:
        CheckpointError: unreadable file, unsafe pickle, or no tensors found.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path}: empty file")
    meta: dict[str, Any] = {}
    if path.suffix.lower() == ".safetensors":
        from safetensors import SafetensorError, safe_open

        try:
            with safe_open(str(path), framework="pt", device="cpu") as f:
                raw_meta = f.metadata() or {}
                obj: Any = {k: f.get_tensor(k) for k in f.keys()}
        except (SafetensorError, OSError, ValueError) as exc:
            raise CheckpointError(f"{path}: not a readable safetensors file ({_first_line(exc)})") from None
        meta = _parse_meta(raw_meta)
    else:
        obj = _torch_load_safely(path)
    state = unwrap_state_dict(obj, path)
    return state, meta


def _sniff(path: Path) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read(64)
    except OSError:
        return b""


def _not_a_checkpoint(path: Path, head: bytes) -> str | None:
    """Why a file is plainly not a PyTorch checkpoint (JSON or other text), or ``None``."""
    text = head.lstrip()
    if path.suffix.lower() == ".json" or text[:1] in (b"{", b"["):
        hint = (f"; pass the folder that holds it with its weights ({WEIGHTS_FILE})" if path.name == CONFIG_FILE
                else "")
        return f"{path}: a JSON file, not weights (mirnet reads .safetensors/.pth/.pt/.ckpt/.bin files){hint}"
    if head[:2] == b"PK" or head[:1] == b"\x80":  # a zip archive (torch.save) or a pickle
        return None
    if head and all(32 <= b < 127 or b in (9, 10, 13) for b in head):
        return f"{path}: a text file, not weights (mirnet reads .safetensors/.pth/.pt/.ckpt/.bin files)"
    return None


def _torch_load_safely(path: Path) -> Any:
    head = _sniff(path)
    plain = _not_a_checkpoint(path, head)
    if plain is not None:
        raise CheckpointError(plain)
    protocol = head[1] if head[:1] == b"\x80" and len(head) > 1 else None
    try:
        with warnings.catch_warnings():  # PyTorch warns about pickle protocols > 2 before failing on them
            warnings.filterwarnings("ignore", message=".*pickle protocol.*")
            return torch.load(str(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        # weights_only=True stops at the first global that is not a tensor/container type: nothing has run.
        m = re.search(r"GLOBAL ([\w.]+)", str(exc))
        if m is None and protocol is not None and protocol > 2:
            raise CheckpointError(
                f"{path}: an old-style PyTorch file written with pickle protocol {protocol}, which PyTorch's safe "
                "loader cannot read; re-save it with torch.save(state_dict, path) (default settings) or convert it "
                "to .safetensors where you trust it") from None
        if m is None:
            op = re.search(r"Unsupported operand (\d+)", str(exc))
            detail = f" (unsupported pickle operation {op.group(1)})" if op else ""
            raise CheckpointError(f"{path}: not a PyTorch checkpoint its safe loader can read{detail}") from None
        raise CheckpointError(
            f"{path}: refused to load: it references {m.group(1)}, a pickled Python object that could run code. "
            "Only weights are loaded from untrusted files; convert it to .safetensors where you trust it."
        ) from None
    except (RuntimeError, OSError, EOFError, ValueError, AttributeError, ImportError) as exc:
        raise CheckpointError(f"{path}: not a readable PyTorch checkpoint ({_first_line(exc)[:200]})") from None


def _parse_meta(raw: Mapping[str, str]) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    if "architecture" in raw:
        meta["architecture"] = raw["architecture"]
    if "config" in raw:
        try:
            meta["config"] = json.loads(raw["config"])
        except json.JSONDecodeError:
            pass
    return meta


def unwrap_state_dict(obj: Any, source: str | Path = "checkpoint") -> dict[str, torch.Tensor]:
    """Find the state dict inside a training container and strip ``module.`` prefixes.

    Args:
        obj: what ``torch.load`` returned (or a dict of tensors).
        source: used in error messages.
    """
    for _ in range(3):  # containers nest at most a couple of levels deep in practice
        if not isinstance(obj, Mapping):
            break
        if obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
            break
        inner = next((obj[k] for k in CONTAINER_KEYS if isinstance(obj.get(k), Mapping)), None)
        if inner is None:
            break
        obj = inner
    if not isinstance(obj, Mapping):
        raise CheckpointError(f"{source}: expected a state dict, found {type(obj).__name__}")
    state = {str(k): v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    if not state:
        found = ", ".join(sorted(map(str, obj.keys()))[:8])
        raise CheckpointError(f"{source}: no tensors found (top-level keys: {found or 'none'})")
    while all(k.startswith("module.") for k in state):
        state = {k[len("module."):]: v for k, v in state.items()}
    return state


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


# --------------------------------------------------------------------------------------------------- detection
def _model_modules() -> dict[str, Any]:
    """Each architecture's module, which knows its own keys (``matches_state_dict``) and reads its constructor
    config from the shapes (``config_from_state_dict``). MIRNet-v2 is tried first."""
    from ..models import mirnet_v1, mirnet_v2

    return {"mirnet_v2": mirnet_v2, "mirnet": mirnet_v1}


def detect_architecture(
    state: Mapping[str, torch.Tensor], declared: Mapping[str, Any] | None = None, source: str | Path = ""
) -> tuple[str, dict[str, Any]]:
    """Recognise MIRNet / MIRNet-v2 and recover the constructor config from keys and tensor shapes.

    Args:
        state: the state dict (keys and shapes are read, values are not).
        declared: a config given with the weights (``config.json``, metadata, registry); it may only repeat what
            the tensors say, and fills in what they cannot show (MIRNet-v2's ``task``).
        source: named in error messages.

    Returns:
        ``(architecture, config)`` for :func:`mirnet_cli.models.build_model`, every argument within the bounds of
        the architecture's ``CONFIG_BOUNDS``.

    Raises:
        CheckpointError: the keys belong to neither architecture, or the config cannot be right.
    """
    if declared is not None and not isinstance(declared, Mapping):
        raise CheckpointError(f"{source or 'checkpoint'}: the model config is not a JSON object")
    for arch, module in _model_modules().items():
        if module.matches_state_dict(state):
            try:
                return arch, module.config_from_state_dict(state, declared)
            except ValueError as exc:
                raise CheckpointError(f"{source or 'checkpoint'}: {arch} weights: {exc}") from None
    raise CheckpointError(_not_mirnet_message(state, source))


def _not_mirnet_message(state: Mapping[str, Any], source: str | Path = "") -> str:
    sample = ", ".join(list(state)[:4])
    buffers = [k for k in state if k.endswith(("running_mean", "running_var", "num_batches_tracked"))]
    other = "; it has BatchNorm buffers, so it is another network" if buffers else ""
    return (f"{source or 'the checkpoint'}: not a MIRNet / MIRNet-v2 state dict (its keys are neither MIRNet nor "
            f"MIRNet-v2's; first keys: {sample}){other}")


def check_weights(state: Mapping[str, torch.Tensor], source: str | Path = "") -> None:
    """Refuse weights that cannot be right: integer, bool or complex tensors, and NaN or Inf values.

    Raises:
        CheckpointError: naming the first offending key and how many there are.
    """
    where = source or "checkpoint"
    wrong = [k for k, v in state.items() if not v.is_floating_point()]
    if wrong:
        more = f" (and {len(wrong) - 1} more)" if len(wrong) > 1 else ""
        raise CheckpointError(f"{where}: {wrong[0]}{more} holds {str(state[wrong[0]].dtype).replace('torch.', '')} "
                              "values; network weights are floating point")
    bad = [k for k, v in state.items() if not _all_finite(v)]
    if bad:
        more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
        raise CheckpointError(f"{where}: {bad[0]}{more} holds NaN or Inf values; these weights cannot give an image")


class _ParametersOnMeta(TorchFunctionMode):
    """Parameters (made with ``torch.empty``) go to the meta device: their shapes, without memory.

    Narrower than ``with torch.device("meta")`` on purpose: small tensors made from data (v1's blur filter) stay
    on the CPU, so no meta arithmetic kernel runs (the first one imports sympy and torch._dynamo, ~1-2 s).
    """

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = dict(kwargs or {})
        if func is torch.empty and kwargs.get("device") is None:
            kwargs["device"] = "meta"
        return func(*args, **kwargs)


def _all_finite(t: torch.Tensor) -> bool:
    # numpy on the CPU: one pass and no per-op dispatch (torch.isfinite costs ~ms per tensor on a busy machine)
    if t.device.type == "cpu" and t.dtype in (torch.float32, torch.float64, torch.float16):
        import numpy as np

        return bool(np.isfinite(t.detach().numpy()).all())
    return bool(torch.isfinite(t).all())


# --------------------------------------------------------------------------------------------------- loading
def load_state_dict_strict(model: nn.Module, state: Mapping[str, torch.Tensor], source: str | Path = "") -> None:
    """``model.load_state_dict(state, strict=True)`` with a short, readable error on mismatch."""
    _check_keys_and_shapes(model, state, source)
    model.load_state_dict(state, strict=True)


def _check_keys_and_shapes(model: nn.Module, state: Mapping[str, torch.Tensor], source: str | Path) -> None:
    """Raise a one-line CheckpointError unless ``state`` has exactly ``model``'s keys and shapes (``model`` may
    live on the meta device: only shapes are compared)."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    wrong = [f"{k} {tuple(state[k].shape)} != {tuple(v.shape)}" for k, v in expected.items()
             if k in state and tuple(state[k].shape) != tuple(v.shape)]
    if missing or unexpected or wrong:
        parts = []
        for label, items in (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong)):
            if items:
                shown = ", ".join(items[:5]) + (f", … (+{len(items) - 5} more)" if len(items) > 5 else "")
                parts.append(f"{len(items)} {label}: {shown}")
        name = getattr(model, "architecture", type(model).__name__)
        raise CheckpointError(f"{source or 'checkpoint'} does not match {name}{_cfg_text(model)}: " + "; ".join(parts))


def _cfg_text(model: nn.Module) -> str:
    cfg = getattr(model, "config", None)
    return f" ({', '.join(f'{k}={v}' for k, v in cfg.items())})" if cfg else ""


def read_config_file(path: str | Path) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """Read a ``config.json`` in any of the three shapes in use.

    * ours: ``{"architecture": "mirnet_v2", "config": {...}, ...}``;
    * the golden cases: ``{"architecture": "MIRNet_v2", "constructor_config": {...}}``;
    * ``PyTorchModelHubMixin``: the constructor kwargs at top level, plus ``"architecture"``.

    Returns:
        ``(architecture, constructor_config, whole_document)``.
    """
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path}: unreadable config ({_first_line(exc)})") from None
    arch = doc.get("architecture")
    if not arch:
        raise CheckpointError(f"{path}: no 'architecture' field")
    try:
        arch = canonical_architecture(arch)
    except ValueError as exc:
        raise CheckpointError(f"{path}: {exc}") from None
    if isinstance(doc.get("config"), Mapping):
        cfg = dict(doc["config"])
    elif isinstance(doc.get("constructor_config"), Mapping):
        cfg = dict(doc["constructor_config"])
    else:
        import inspect

        from ..models import ARCHITECTURES

        allowed = set(inspect.signature(ARCHITECTURES[arch].__init__).parameters)
        cfg = {k: v for k, v in doc.items() if k in allowed}
    return arch, cfg, doc


def model_from_state(
    state: Mapping[str, torch.Tensor],
    architecture: str | None = None,
    config: Mapping[str, Any] | None = None,
    source: str | Path = "",
) -> nn.Module:
    """Build the right model for ``state`` and load it strictly.

    The tensors are the truth, and nothing is allocated before they are checked: the weights must be finite floats
    (:func:`check_weights`), the architecture and config come from the keys and shapes (a given ``architecture``
    / ``config`` may only agree with them; see :func:`detect_architecture`), every argument is bounded, and the
    network is first built on the meta device (no memory) to compare its keys and shapes with ``state``. So the
    model built at the end is never larger than the tensors the file holds.

    Raises:
        CheckpointError: one line naming ``source`` and the reason.
    """
    where = source or "checkpoint"
    det_arch, config = detect_architecture(state, config, source)  # keys and shapes only: another network is
    check_weights(state, source)  # called what it is, not refused for its integer buffers
    if architecture is not None:
        try:
            wanted = canonical_architecture(architecture)
        except ValueError as exc:
            raise CheckpointError(f"{where}: {exc}") from None
        if wanted != det_arch:
            raise CheckpointError(f"{where}: the config says {wanted} but the weights are {det_arch}")
    try:
        with _ParametersOnMeta():
            skeleton = build_model(det_arch, **config)
        _check_keys_and_shapes(skeleton, state, source)
        model = build_model(det_arch, **config)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"{where}: bad model config ({_first_line(exc)})") from None
    load_state_dict_strict(model, state, source)
    return model.eval()


def load_checkpoint_path(path: str | Path, config_hint: Mapping[str, Any] | None = None) -> nn.Module:
    """Load a local file or export folder into a model (CPU, float32, eval mode).

    Args:
        path: a checkpoint file or a folder with ``model.safetensors`` (+ ``config.json``).
        config_hint: ``{"architecture": ..., "config": {...}}`` from the registry, used when the file has none.
    """
    path = Path(path)
    arch = cfg = None
    extra: dict[str, Any] = {}
    if path.is_dir():
        cfg_file = path / CONFIG_FILE
        weights = path / WEIGHTS_FILE
        if not weights.is_file():
            candidates = sorted(p for p in path.iterdir() if p.suffix.lower() in PICKLE_SUFFIXES | {".safetensors"})
            if len(candidates) != 1:
                raise CheckpointError(f"{path}: expected {WEIGHTS_FILE} (or exactly one checkpoint file) in the folder")
            weights = candidates[0]
        if cfg_file.is_file():
            arch, cfg, extra = read_config_file(cfg_file)
        path = weights
    state, meta = read_checkpoint(path)
    if arch is None and "architecture" in meta and "config" in meta:
        try:
            arch, cfg = canonical_architecture(meta["architecture"]), meta["config"]
        except ValueError:
            arch = cfg = None
    if arch is None and config_hint:
        arch, cfg = canonical_architecture(config_hint["architecture"]), config_hint.get("config")
    state = {k: v.float() if v.is_floating_point() else v for k, v in state.items()}
    model = model_from_state(state, arch, cfg, source=path)
    model.source = str(path)
    model.card = extra
    return model


def resolve_source(source: str | Path) -> tuple[Path, dict[str, Any] | None]:
    """Where the weights of ``source`` are on this machine, and the registry's ``{"architecture", "config"}`` hint.

    A local path is used as it is; a registry name, ``hf://`` or URL goes through the verified download code
    (cache, sha256, offline mode).
    """
    local = Path(str(source)).expanduser()
    if local.exists():
        return local, None
    # registry / cache / network; imported here so the local-path path stays light
    from .registry import RegistryError, load_registry
    from .sources import fetch

    try:
        entry = load_registry().get(str(source))
    except RegistryError:  # no registry (e.g. a bare wheel): hf:// and URLs still work
        entry = None
    hint = {"architecture": entry.architecture, "config": entry.config} if entry is not None else None
    return Path(fetch(entry if entry is not None else str(source))), hint


def load_model(source: str | Path, device: str | torch.device = "cpu") -> nn.Module:
    """Load a MIRNet / MIRNet-v2 model from anything people point at.

    Args:
        source: a registry name (see ``mirnet models``), a local file or folder, ``hf://owner/repo/file[@rev]``,
            or an ``https://`` URL. Architecture and config are detected from the checkpoint.
        device: where to put the model.

    Returns:
        The model in eval mode, float32, with ``.architecture``, ``.config``, ``.facts`` and
        ``.source``.

    Raises:
        CheckpointError / SourceError with a one-line message.
    """
    local, hint = resolve_source(source)
    model = load_checkpoint_path(local, config_hint=hint)
    if hint is not None:
        model.registry_name = str(source)
    return model.to(device)


# --------------------------------------------------------------------------------------------------- export
def save_pretrained(
    model: nn.Module,
    folder: str | Path,
    *,
    dtype: torch.dtype | None = None,
    card: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``model.safetensors`` + ``config.json`` (the ``PyTorchModelHubMixin`` layout), atomically.

    Args:
        model: a model built by :func:`build_model` (needs ``.architecture`` and ``.config``).
        folder: created if missing.
        dtype: store floating tensors in this dtype (e.g. ``torch.float16`` for bundled weights); loading casts
            them back to float32.
        card: extra JSON fields for ``config.json`` (task, provenance, metrics, …).

    Returns:
        The folder.
    """
    from safetensors.torch import save

    from ..io.atomic import atomic_write_bytes

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    arch, cfg = model.architecture, dict(model.config)
    # clone: safetensors refuses shared storage, and v1 shares DAU modules under several keys by design
    tensors = {}
    for k, v in model.state_dict().items():
        v = v.detach().to("cpu")
        if dtype is not None and v.is_floating_point():
            v = v.to(dtype)
        tensors[k] = v.clone().contiguous()
    meta = {"architecture": arch, "config": json.dumps(cfg), "format": FORMAT_TAG}
    atomic_write_bytes(folder / WEIGHTS_FILE, save(tensors, metadata=meta))
    doc = {"architecture": arch, "config": cfg, "format": FORMAT_TAG, **dict(card or {})}
    atomic_write_bytes(folder / CONFIG_FILE, (json.dumps(doc, indent=2) + "\n").encode())
    return folder
