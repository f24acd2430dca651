"""Training configuration: one dataclass tree, loadable from YAML or TOML, overridable with ``--set key=value``.

Defaults follow the papers' recipe: Charbonnier loss (ε = 1e-3), Adam (β 0.9/0.999), lr 2e-4 cosine-annealed to
1e-6; MIRNet v1 trains on 128² patches in batches of 16; MIRNet-v2 uses progressive patches 128→144→192→224 with
batches 8→5→4→2 over 92k/64k/48k/36k of 240k iterations (``Options/*.yml`` of the MIRNetv2 repository), which
this tool scales to the run's length.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any

import tomllib

from ..errors import MirnetError

# MIRNet-v2 progressive schedule (fractions of the run, patch sizes, batch sizes).
V2_STAGE_FRACTIONS = (92 / 240, 64 / 240, 48 / 240, 36 / 240)
V2_PATCHES = (128, 144, 192, 224)
V2_BATCHES = (8, 5, 4, 2)


@dataclass
class DataConfig:
    train_dir: str | None = None  # paired folder (input/ + target/, low/ + high/, …) or clean images (synthetic)
    val_dir: str | None = None
    synthetic: str | None = None  # denoise | lowlight | sr | oldphoto: degrade clean images on the fly
    scale: int = 4  # for synthetic sr
    val_crop: int = 256  # validation images are centre-cropped to at most this size (speed)
    val_count: int = 8  # at most this many validation images
    exclude: list[str] = field(default_factory=list)  # file stems never used for training (held back)
    val_names: list[str] = field(default_factory=list)  # validate on these stems only (default: all in val_dir)
    workers: int | None = None  # DataLoader workers (default: 0 on CPU, 4 on CUDA)


@dataclass
class OptimConfig:
    lr: float = 2e-4
    betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = 0.0
    eta_min: float = 1e-6
    charbonnier_eps: float = 1e-3
    grad_clip: float | None = None


@dataclass
class ScheduleConfig:
    iters: int = 1000
    batch_size: int | None = None  # fixed batch (disables the progressive batches)
    patch_size: int | None = None  # fixed patch (disables the progressive patches)
    progressive: bool | None = None  # default: True for mirnet_v2, False for mirnet
    checkpoint_every: int = 500
    val_every: int = 500
    log_every: int = 10
    keep_last: int = 2


@dataclass
class TrainConfig:
    arch: str = "mirnet_v2"
    task: str | None = None  # registry task key recorded in the export (denoise, enhance:lowlight, oldphoto, …)
    model: dict[str, Any] = field(default_factory=dict)  # the authors' constructor arguments
    init: str | None = None  # fine-tune from any checkpoint load_model accepts
    out: str = "runs/mirnet"
    seed: int = 0
    device: str = "auto"
    amp: str = "auto"  # auto (fp16 on CUDA) | fp16 | bf16 | off
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def stages(self) -> list[tuple[int, int, int]]:
        """``[(first_iteration, patch, batch), …]`` for this run (one stage when patch/batch are fixed)."""
        progressive = self.schedule.progressive
        if progressive is None:
            progressive = self.arch == "mirnet_v2"
        if not progressive or self.schedule.patch_size is not None:
            patch = self.schedule.patch_size or 128
            batch = self.schedule.batch_size or (16 if self.arch == "mirnet" else 8)
            return [(0, patch, batch)]
        out, start = [], 0
        for frac, patch, batch in zip(V2_STAGE_FRACTIONS, V2_PATCHES, V2_BATCHES, strict=True):
            if self.schedule.batch_size is not None:  # keep the pixels per batch roughly constant
                batch = max(1, round(self.schedule.batch_size * batch / V2_BATCHES[0]))
            out.append((start, patch, batch))
            start += round(frac * self.schedule.iters)
        return out

    def stage_at(self, iteration: int) -> tuple[int, int, int]:
        """``(stage_index, patch, batch)`` in force at a 0-based ``iteration``."""
        stages = self.stages()
        index = max(i for i, (first, _, _) in enumerate(stages) if iteration >= first)
        return index, stages[index][1], stages[index][2]


def _parse_scalar(text: str) -> Any:
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def _apply(obj: Any, key_path: list[str], value: Any, full_key: str) -> None:
    head, rest = key_path[0], key_path[1:]
    if isinstance(obj, dict):
        if rest:
            _apply(obj.setdefault(head, {}), rest, value, full_key)
        else:
            obj[head] = value
        return
    names = {f.name for f in fields(obj)}
    if head not in names:
        raise MirnetError(f"unknown training setting {full_key!r} (known at this level: {', '.join(sorted(names))})")
    if rest:
        _apply(getattr(obj, head), rest, value, full_key)
    else:
        current = getattr(obj, head)
        if is_dataclass(current):
            if not isinstance(value, dict):
                raise MirnetError(f"{full_key} is a section; set its keys, e.g. {full_key}.<key>=…")
            for k, v in value.items():
                _apply(current, [k], v, f"{full_key}.{k}")
        else:
            setattr(obj, head, _coerce(current, value, full_key))


def _coerce(current: Any, value: Any, key: str) -> Any:
    """Match the type of the default (YAML 1.1 reads ``1e-3`` as a string, for example)."""
    if isinstance(current, tuple) and isinstance(value, list):
        return tuple(value)
    if isinstance(current, float) and isinstance(value, (str, int)) and not isinstance(value, bool):
        try:
            return float(value)
        except ValueError:
            raise MirnetError(f"{key} expects a number, got {value!r}") from None
    if isinstance(current, int) and not isinstance(current, bool) and isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            raise MirnetError(f"{key} expects a whole number, got {value!r}") from None
    return value


def apply_overrides(cfg: TrainConfig, values: dict[str, Any]) -> TrainConfig:
    """Merge a nested dict (from a file) into ``cfg``."""
    for key, value in values.items():
        _apply(cfg, [key], value, key)
    return cfg


def apply_set(cfg: TrainConfig, assignments: list[str]) -> TrainConfig:
    """Apply ``--set a.b=value`` strings; values are YAML scalars (``16``, ``1e-4``, ``true``, ``[1, 2]``)."""
    for item in assignments:
        if "=" not in item:
            raise MirnetError(f"--set expects key=value, got {item!r}")
        key, _, raw = item.partition("=")
        _apply(cfg, key.strip().split("."), _parse_scalar(raw.strip()), key.strip())
    return cfg


def load_config(path: str | Path | None) -> TrainConfig:
    """Defaults, then the YAML (``.yaml``/``.yml``) or TOML (``.toml``) file when given."""
    cfg = TrainConfig()
    if path is None:
        return cfg
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise MirnetError(f"{path}: cannot read config ({exc.strerror})") from None
    try:
        if path.suffix.lower() == ".toml":
            values = tomllib.loads(text)
        else:
            import yaml

            values = yaml.safe_load(text) or {}
    except Exception as exc:  # yaml / toml syntax errors
        raise MirnetError(f"{path}: not valid {path.suffix.lstrip('.') or 'YAML'} ({str(exc).splitlines()[0]})") from None
    if not isinstance(values, dict):
        raise MirnetError(f"{path}: expected a mapping of settings")
    return apply_overrides(cfg, values)


def config_json(cfg: TrainConfig) -> str:
    return json.dumps(cfg.to_dict(), sort_keys=True)
