"""Read checkpoints safely, recognise the architecture from the tensors, build and load the model.

What people actually have, and what this accepts:

* files: ``.safetensors``, or ``.pth`` / ``.pt`` / ``.ckpt`` / ``.bin`` read with ``torch.load(weights_only=True)``
  (a pickle that would construct arbitrary Python objects is refused, never executed);
* folders: ``model.safetensors`` + ``config.json`` (the layout of ``PyTorchModelHubMixin`` and of
  :func:`save_pretrained`);
* containers: ``{'params_ema': …}``, ``{'params': …}`` (BasicSR / MIRNet-v2), ``{'state_dict': …}`` (MIRNet v1),
  ``{'model_state_dict': …}``, ``{'model': …}``, ``{'net': …}`` or a bare state dict; ``module.`` prefixes
  (``nn.DataParallel``) are stripped.

The architecture and its constructor config come from, in this order: ``config.json`` / safetensors metadata,
the registry entry, then the keys and shapes themselves (spandrel-style detection), so ``--weights any.pth``
needs no ``--arch``.
"""

from __future__ import annotations

import json
import pickle
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..errors import CheckpointError
from ..models import build_model, canonical_architecture

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


def _torch_load_safely(path: Path) -> Any:
    try:
        return torch.load(str(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        # weights_only=True stops at the first global that is not a tensor/container type: nothing has run.
        m = re.search(r"GLOBAL ([\w.]+)", str(exc))
        what = f"it references {m.group(1)}" if m else "it holds more than plain tensors"
        raise CheckpointError(
            f"{path}: refused to load: {what}, a pickled Python object that could run code. Only weights are "
            "loaded from untrusted files; convert it to .safetensors where you trust it."
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
def detect_architecture(state: Mapping[str, torch.Tensor]) -> tuple[str, dict[str, Any]]:
    """Recognise MIRNet / MIRNet-v2 and recover the constructor config from keys and tensor shapes.

    Returns:
        ``(architecture, config)`` for :func:`mirnet_cli.models.build_model`.

    Raises:
        CheckpointError: the keys belong to neither architecture.
    """
    if "conv_in.weight" not in state or "conv_out.weight" not in state:
        raise CheckpointError(_not_mirnet_message(state))
    conv_in, conv_out = state["conv_in.weight"], state["conv_out.weight"]
    n_feat, in_ch, k = conv_in.shape[0], conv_in.shape[1], conv_in.shape[2]
    out_ch = conv_out.shape[0]
    bias = "conv_in.bias" in state
    n_groups = _count(state, r"body\.(\d+)\.")

    if "body.0.body.0.dau_top.body.0.weight" in state:
        c1 = state["body.0.body.0.dau_mid.body.0.weight"].shape[0]
        c2 = state["body.0.body.0.dau_bot.body.0.weight"].shape[0]
        config = dict(
            inp_channels=in_ch, out_channels=out_ch, n_feat=n_feat, chan_factor=_chan_factor(n_feat, c1, c2),
            n_MRB=_count(state, r"body\.0\.body\.(\d+)\.dau_top\."), bias=bias,
            task="defocus_deblurring" if in_ch != out_ch else None,
        )
        if n_groups != 4:
            raise CheckpointError(f"MIRNet-v2 always has 4 residual groups; this checkpoint has {n_groups}")
        return "mirnet_v2", config

    if "body.0.body.0.blocks.0.0.body.0.weight" in state:
        height = _count(state, r"body\.0\.body\.0\.blocks\.(\d+)\.0\.body\.0\.weight")
        width = _count(state, r"body\.0\.body\.0\.blocks\.0\.(\d+)\.body\.0\.weight")
        stride = 2
        if height > 1:
            stride = state["body.0.body.0.blocks.1.0.body.0.weight"].shape[0] // n_feat
        config = dict(
            in_channels=in_ch, out_channels=out_ch, n_feat=n_feat, kernel_size=k, stride=stride, n_RRG=n_groups,
            n_MSRB=_count(state, r"body\.0\.body\.(\d+)\.blocks\."), height=height, width=width, bias=bias,
        )
        return "mirnet", config

    raise CheckpointError(_not_mirnet_message(state))


def _count(state: Mapping[str, Any], pattern: str) -> int:
    rx = re.compile(pattern)
    return len({m.group(1) for key in state if (m := rx.match(key))})


def _chan_factor(n_feat: int, c1: int, c2: int) -> float:
    """The float f with int(n·f) == c1 and int(n·f²) == c2 (the reference computes channels that way)."""
    for cand in (round(c1 / n_feat, 4), round(c1 / n_feat, 2), round(c1 / n_feat, 1), c1 / n_feat):
        if int(n_feat * cand) == c1 and int(n_feat * cand**2) == c2:
            return cand
    raise CheckpointError(f"cannot find a chan_factor giving channels {n_feat}, {c1}, {c2}")


def _not_mirnet_message(state: Mapping[str, Any]) -> str:
    sample = ", ".join(list(state)[:4])
    return f"the checkpoint is neither MIRNet nor MIRNet-v2 (first keys: {sample})"


# --------------------------------------------------------------------------------------------------- loading
def load_state_dict_strict(model: nn.Module, state: Mapping[str, torch.Tensor], source: str | Path = "") -> None:
    """``model.load_state_dict(state, strict=True)`` with a short, readable error on mismatch."""
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
    model.load_state_dict(state, strict=True)


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
    """Build the right model for ``state`` and load it strictly. Config given here wins over detection."""
    if architecture is None or config is None:
        det_arch, det_cfg = detect_architecture(state)
        architecture = architecture or det_arch
        if config is None:
            config = det_cfg
    try:
        model = build_model(architecture, **dict(config))
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{source or 'checkpoint'}: bad model config ({exc})") from None
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


def load_model(source: str | Path, device: str | torch.device = "cpu") -> nn.Module:
    """Load a MIRNet / MIRNet-v2 model from anything people point at.

    Args:
        source: a registry name (see ``mirnet models``), a local file or folder, ``hf://owner/repo/file[@rev]``,
            or an ``https://`` URL. Architecture and config are detected from the checkpoint.
        device: where to put the model.

    Returns:
        The model in eval mode, float32, with ``.architecture``, ``.config``, ``.size_multiple``, ``.facts`` and
        ``.source``.

    Raises:
        CheckpointError / SourceError with a one-line message.
    """
    hint = None
    local = Path(str(source)).expanduser()
    if not local.exists():
        # registry / cache / network; imported here so the local-path path stays light
        from .registry import RegistryError, load_registry
        from .sources import fetch

        try:
            entry = load_registry().get(str(source))
        except RegistryError:  # no registry (e.g. a bare wheel): hf:// and URLs still work
            entry = None
        if entry is not None:
            hint = {"architecture": entry.architecture, "config": entry.config}
        local = fetch(entry if entry is not None else str(source))
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
