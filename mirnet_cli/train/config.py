"""Training configuration: one dataclass tree, loadable from YAML or TOML, overridable with ``--set key=value``.

Defaults follow the papers' recipe: Charbonnier loss (ε = 1e-3), Adam (β 0.9/0.999), lr 2e-4 cosine-annealed to
1e-6; MIRNet v1 trains on 128² patches in batches of 16; MIRNet-v2 uses progressive patches 128→144→192→224 with
batches 8→5→4→2 over 92k/64k/48k/36k of 240k iterations, which this tool scales to the run's length. (The
released MIRNetv2 ``Options/*.yml`` copy Restormer's six-stage 128→384 schedule and an L1 loss; we follow the
paper's four stages and Charbonnier loss.)

Precedence, lowest first: defaults < config file < command-line flags < ``--set key=value``. Keys mirror the file:
``--set optim.lr=1e-4``, ``--set model.n_feat=16`` (``model.*`` are the authors' constructor arguments, passed to
:func:`mirnet_cli.build_model` as they are).

Example YAML::

    arch: mirnet_v2
    model: {n_feat: 16, n_MRB: 1}
    data: {train_dir: photos/, val_dir: val/, synthetic: denoise}
    optim: {lr: 2e-4}
    schedule: {iters: 20000, val_every: 1000}
"""

from __future__ import annotations

import difflib
import json
import re
import types
import typing
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any

from ..errors import MirnetError

__all__ = [
    "AMP_MODES",
    "DataConfig",
    "OptimConfig",
    "ScheduleConfig",
    "TrainConfig",
    "TrainConfigError",
    "V2_BATCHES",
    "V2_PATCHES",
    "V2_STAGE_FRACTIONS",
    "apply_overrides",
    "apply_set",
    "config_json",
    "copy_config",
    "dump_yaml",
    "load_config",
    "parse_scalar",
    "set_value",
]

# MIRNet-v2 progressive schedule (fractions of the run, patch sizes, per-process batch sizes).
V2_STAGE_FRACTIONS = (92 / 240, 64 / 240, 48 / 240, 36 / 240)
V2_PATCHES = (128, 144, 192, 224)
V2_BATCHES = (8, 5, 4, 2)

AMP_MODES = ("auto", "fp16", "bf16", "off")
LOSSES = ("charbonnier", "l1", "mse")
SMALL_IMAGE_MODES = ("pad", "skip")


class TrainConfigError(MirnetError):
    """A training setting is unknown, has the wrong type or an invalid value."""


@dataclass
class DataConfig:
    train_dir: str | None = None  # paired folder (input/ + target/, low/ + high/, …) or clean images (synthetic)
    val_dir: str | None = None  # same layout; synthetic mode degrades its clean images with a fixed seed
    synthetic: str | None = None  # denoise | lowlight | sr | oldphoto | contrast | …: degrade clean images on the fly
    scale: int = 4  # for synthetic sr
    scales: list[int] = field(default_factory=list)  # synthetic sr: draw the factor per sample from these (e.g. [2, 3, 4])
    # More training sources mixed with train_dir: [{dir, synthetic (optional: paired when absent), weight, exclude}]
    sources: list[dict[str, Any]] = field(default_factory=list)
    exposure: list[float] = field(default_factory=list)  # synthetic: [min_ev, max_ev] scene exposure of the clean patch
    val_crop: int = 256  # validation images are centre-cropped to at most this size (speed)
    val_count: int = 8  # at most this many validation images
    val_samples: int = 0  # save this many validation outputs as PNG under OUT/samples/iter_XXXXXXXX/
    exclude: list[str] = field(default_factory=list)  # file stems never used for training (held back)
    val_names: list[str] = field(default_factory=list)  # validate on these stems only (default: all in val_dir)
    workers: int | None = None  # DataLoader workers (default: 0 on CPU, 4 on CUDA)
    flips: bool = True  # random horizontal / vertical flips
    small_images: str = "pad"  # images smaller than the patch: pad (reflect) | skip (with a warning)
    cache_mb: int = 1024  # decoded-image cache per data process (0 = read every time)
    min_images: int | None = None  # fewest readable training images to start (default: half of those found)
    # Paired / unpaired samples: this share is first shrunk (area average, both images alike) by a factor drawn
    # log-uniformly down to the one that fits the photo's short side in the patch, so the patch sees the whole scene
    # as the model does at inference (MIRNet-v2's context blocks pool over the whole image).
    zoom: float = 0.0


@dataclass
class OptimConfig:
    lr: float = 2e-4
    betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = 0.0
    eta_min: float = 1e-6  # cosine annealing floor
    loss: str = "charbonnier"  # charbonnier | l1 | mse
    charbonnier_eps: float = 1e-3
    grad_clip: float | None = None  # max gradient norm (None: no clipping)
    # Exponential moving average of the weights (0 = off; e.g. 0.999): validation, best.pt and the exported model
    # use the average, which smooths out the last steps' noise (small batches swing a low-light model's exposure).
    ema: float = 0.0


@dataclass
class ScheduleConfig:
    iters: int = 1000
    batch_size: int | None = None  # per process; with progressive patches it scales the stage batches
    patch_size: int | None = None  # fixed patch (disables the progressive patches)
    progressive: bool | None = None  # default: True for mirnet_v2, False for mirnet
    checkpoint_every: int = 500
    val_every: int = 500
    log_every: int = 10  # rows in log.jsonl / log.csv (mean loss over the window)
    print_every: int = 100  # terminal lines when stderr is not a terminal (no progress bar)
    keep_last: int = 2  # iter_*.pt checkpoints kept (best.pt is kept besides)


@dataclass
class TrainConfig:
    arch: str = "mirnet_v2"
    task: str | None = None  # task key recorded in the export (denoise, enhance:lowlight, oldphoto, …)
    model: dict[str, Any] = field(default_factory=dict)  # the authors' constructor arguments
    init: str | None = None  # fine-tune from any checkpoint load_model accepts (path, registry name, hf://, URL)
    out: str = "runs/mirnet"
    seed: int = 0
    device: str = "auto"
    amp: str = "auto"  # auto (fp16 on CUDA, off elsewhere) | fp16 | bf16 | off; bf16 also on CPUs with native bf16
    threads: int | None = None  # CPU intra-op threads (default: PyTorch's); 1 is fastest on a busy 2-core machine
    # Knowledge distillation: the teacher's output is the target of unpaired inputs and is blended into the target
    # of every other sample (target = w · teacher(input) + (1 − w) · ground truth, w = teacher_weight).
    teacher: str | None = None  # any checkpoint load_model accepts, or a foreign teacher (IAT, FFDNet, DnCNN)
    teacher_weight: float = 0.5
    teacher_sigma: float | None = None  # FFDNet teachers: noise level in 8-bit units
    # Folder for the teacher's outputs on whole training images (paired and unpaired sources), keyed by the
    # teacher's and the image's sha256, so a resumed or repeated run does not compute them again.
    teacher_cache: str | None = None
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        """Defaults overlaid with ``values`` (a nested dict as written by :meth:`to_dict`)."""
        return apply_overrides(cls(), values)

    def is_progressive(self) -> bool:
        progressive = self.schedule.progressive
        if progressive is None:
            progressive = self.arch in ("mirnet_v2",)
        return bool(progressive) and self.schedule.patch_size is None

    def stages(self) -> list[tuple[int, int, int]]:
        """``[(first_iteration, patch, batch), …]`` for this run (one stage when the patch is fixed).

        Progressive (MIRNet-v2): stage *k* starts at ``round(Σ_{j<k} f_j · iters)`` with the paper's fractions
        ``f = (92, 64, 48, 36)/240``; the per-process batch of each stage is ``round(B · b_k / 8)`` (at least
        1) with ``b = (8, 5, 4, 2)`` and ``B`` = ``schedule.batch_size`` (default 8), which keeps the pixels per
        batch roughly constant as the patch grows.
        """
        if not self.is_progressive():
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

    def check(self) -> TrainConfig:
        """Reject values that cannot work, with a one-line :class:`TrainConfigError` naming the setting."""
        from ..datasets.degradations import MODES
        from ..models import canonical_architecture

        try:
            self.arch = canonical_architecture(self.arch)
        except ValueError as exc:
            raise TrainConfigError(f"arch: {exc}") from None
        _check_model_settings(self.arch, self.model)
        positive = {"schedule.iters": self.schedule.iters, "schedule.checkpoint_every": self.schedule.checkpoint_every,
                    "schedule.val_every": self.schedule.val_every, "schedule.log_every": self.schedule.log_every,
                    "schedule.print_every": self.schedule.print_every, "schedule.keep_last": self.schedule.keep_last,
                    "data.scale": self.data.scale, "data.val_crop": self.data.val_crop}
        for key in ("schedule.batch_size", "schedule.patch_size"):
            value = getattr(self.schedule, key.split(".")[1])
            if value is not None:
                positive[key] = value
        for key, value in positive.items():
            if value < 1:
                raise TrainConfigError(f"{key} must be at least 1, got {value}")
        if self.schedule.patch_size is not None and self.schedule.patch_size % 4:
            raise TrainConfigError(f"schedule.patch_size must be a multiple of 4 (MIRNet downsamples twice), "
                                   f"got {self.schedule.patch_size}")
        if self.data.synthetic is not None and self.data.synthetic not in MODES:
            raise TrainConfigError(f"data.synthetic must be one of {', '.join(MODES)}, not {self.data.synthetic!r}")
        if any(s < 1 for s in self.data.scales):
            raise TrainConfigError(f"data.scales must be factors >= 1, got {self.data.scales}")
        if self.data.exposure and (len(self.data.exposure) != 2 or self.data.exposure[0] > self.data.exposure[1]):
            raise TrainConfigError(f"data.exposure must be [min_ev, max_ev], got {self.data.exposure}")
        for i, src in enumerate(self.data.sources):
            where = f"data.sources[{i}]"
            if not isinstance(src, dict) or not src.get("dir"):
                raise TrainConfigError(f"{where} needs a 'dir' (and optionally synthetic, weight, exclude)")
            known = ("dir", "synthetic", "weight", "exclude", "unpaired", "keep_colour", "teacher_weight",
                     "partial_edit")
            unknown = set(src) - set(known)
            if unknown:
                raise TrainConfigError(f"{where}: unknown key(s) {', '.join(sorted(unknown))} "
                                       f"(known: {', '.join(known)})")
            if "teacher_weight" in src:
                tw = src["teacher_weight"]
                if src.get("unpaired") or not self.teacher:
                    raise TrainConfigError(f"{where}.teacher_weight blends a teacher into a source's ground truth: "
                                           "it needs a teacher and a paired or synthetic source")
                if not isinstance(tw, (int, float)) or isinstance(tw, bool) or not 0.0 <= tw <= 1.0:
                    raise TrainConfigError(f"{where}.teacher_weight must be from 0 to 1, got {tw!r}")
            if "partial_edit" in src:
                pe = src["partial_edit"]
                if src.get("unpaired") or src.get("synthetic"):
                    raise TrainConfigError(f"{where}.partial_edit blends a pair's ground truth into its input: it "
                                           "needs a paired source")
                if not isinstance(pe, (int, float)) or isinstance(pe, bool) or not 0.0 <= pe < 1.0:
                    raise TrainConfigError(f"{where}.partial_edit must be from 0 to below 1, got {pe!r}")
            colour = src.get("keep_colour")
            if colour not in (None, False, True, "input", "target") or (colour == "target" and src.get("unpaired")):
                raise TrainConfigError(f"{where}.keep_colour must be true / input (the input's mean colour) or, for "
                                       f"pairs, target (the ground truth's), got {colour!r}")
            if colour and (not self.teacher or src.get("synthetic")):
                raise TrainConfigError(f"{where}.keep_colour adjusts a teacher's targets of paired or unpaired "
                                       "photos: it needs a teacher (--teacher SOURCE) and no synthetic")
            if src.get("unpaired") and not self.teacher:
                raise TrainConfigError(f"{where} is unpaired (inputs only): its targets come from a teacher; "
                                       "give --teacher SOURCE")
            if src.get("unpaired") and src.get("synthetic"):
                raise TrainConfigError(f"{where}: unpaired and synthetic exclude each other")
            if src.get("synthetic") is not None and src["synthetic"] not in MODES:
                raise TrainConfigError(f"{where}.synthetic must be one of {', '.join(MODES)}, not {src['synthetic']!r}")
            try:
                weight = float(src.get("weight", 1.0))
            except (TypeError, ValueError):
                weight = -1.0
            if not weight > 0:
                raise TrainConfigError(f"{where}.weight must be a number > 0, got {src.get('weight')!r}")
        if not 0.0 <= self.data.zoom <= 1.0:
            raise TrainConfigError(f"data.zoom is a share of the samples, from 0 to 1, got {self.data.zoom}")
        if self.teacher_cache and not self.teacher:
            raise TrainConfigError("teacher_cache needs a teacher (--teacher SOURCE)")
        if not 0.0 <= self.teacher_weight <= 1.0:
            raise TrainConfigError(f"teacher_weight must be from 0 to 1, got {self.teacher_weight}")
        if self.teacher_sigma is not None and not 0 < self.teacher_sigma <= 255:
            raise TrainConfigError(f"teacher_sigma must be in (0, 255] (8-bit units), got {self.teacher_sigma}")
        if self.teacher_sigma is not None and not self.teacher:
            raise TrainConfigError("teacher_sigma needs a teacher (--teacher SOURCE)")
        if self.data.small_images not in SMALL_IMAGE_MODES:
            raise TrainConfigError(f"data.small_images must be pad or skip, not {self.data.small_images!r}")
        if str(self.amp).lower() not in AMP_MODES:
            raise TrainConfigError(f"amp must be one of {', '.join(AMP_MODES)}, not {self.amp!r}")
        if not 0.0 <= float(self.optim.ema) < 1.0:
            raise TrainConfigError(f"optim.ema must be in [0, 1) (0 = off, e.g. 0.999), not {self.optim.ema!r}")
        if self.optim.loss not in LOSSES:
            raise TrainConfigError(f"optim.loss must be one of {', '.join(LOSSES)}, not {self.optim.loss!r}")
        if not (self.optim.lr > 0 and 0 <= self.optim.eta_min <= self.optim.lr):
            raise TrainConfigError(f"need 0 <= optim.eta_min <= optim.lr and lr > 0 (lr {self.optim.lr}, "
                                   f"eta_min {self.optim.eta_min})")
        if self.data.min_images is not None and self.data.min_images < 1:
            raise TrainConfigError(f"data.min_images must be at least 1, got {self.data.min_images}")
        if self.threads is not None and self.threads < 1:
            raise TrainConfigError(f"threads must be at least 1, got {self.threads}")
        if self.data.workers is not None and self.data.workers < 0:
            raise TrainConfigError(f"data.workers must be >= 0, got {self.data.workers}")
        return self


def _check_model_settings(arch: str, model: dict[str, Any]) -> None:
    """``model.*`` within the bounds the loader applies to checkpoints (one set, in the model modules), so training
    never builds a network that ``--weights`` would refuse; checked before anything is built or written."""
    from ..models import check_model_config

    try:
        check_model_config(arch, model)
    except ValueError as exc:
        text = str(exc)
        where = "model: " if text.startswith("unknown argument") else "model."
        raise TrainConfigError(f"{where}{text} (the bounds `--weights` checks when loading a {arch} model)") from None


# ------------------------------------------------------------------------------------------------ YAML / TOML
def _yaml_loader():
    """A SafeLoader that also reads ``1e-4`` as a float (YAML 1.1, and so PyYAML, wants ``1.0e-4``)."""
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_implicit_resolver(
        "tag:yaml.org,2002:float",
        re.compile(r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
                    |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
                    |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
                    |[-+]?\.(?:inf|Inf|INF)
                    |\.(?:nan|NaN|NAN))$""", re.X),
        list("-+0123456789."),
    )
    return Loader


def parse_scalar(text: str) -> Any:
    """Parse a ``--set`` value as YAML: ``16`` → int, ``1e-4`` → float, ``true``, ``null``, ``[1, 2]``, text."""
    import yaml

    try:
        return yaml.load(text, Loader=_yaml_loader())  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError:
        return text


# ------------------------------------------------------------------------------------------------ overrides
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _type_name(hint: Any) -> str:
    return getattr(hint, "__name__", None) or str(hint).replace("typing.", "")


def _coerce(hint: Any, value: Any, key: str) -> Any:
    """Convert ``value`` to the annotated type ``hint`` (int, float, bool, str, X | None, list[X], tuple[…], dict)."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return _coerce(arg, value, key)
            except TrainConfigError as exc:
                errors.append(str(exc))
        raise TrainConfigError(errors[0] if errors else f"{key}: bad value {value!r}")
    if hint is Any:
        return value
    if hint is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "yes", "on", "1", "false", "no", "off", "0"):
            return value.lower() in ("true", "yes", "on", "1")
        raise TrainConfigError(f"{key} expects true or false, got {value!r}")
    if hint is int:
        if isinstance(value, bool):
            raise TrainConfigError(f"{key} expects a whole number, got {value!r}")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)  # 1e4 → 10000
        if isinstance(value, str):
            try:
                return int(float(value)) if float(value).is_integer() else int(value)
            except ValueError:
                pass
        raise TrainConfigError(f"{key} expects a whole number, got {value!r}")
    if hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        raise TrainConfigError(f"{key} expects a number, got {value!r}")
    if hint is str:
        if isinstance(value, (dict, list)):
            raise TrainConfigError(f"{key} expects text, got {value!r}")
        return str(value)
    if origin is list:
        items = value if isinstance(value, (list, tuple)) else [value]
        return [_coerce(args[0], v, key) if args else v for v in items]
    if origin is tuple:
        if not isinstance(value, (list, tuple)) or (args and len(value) != len(args)):
            raise TrainConfigError(f"{key} expects a list of {len(args)} values, got {value!r}")
        return tuple(_coerce(a, v, key) for a, v in zip(args, value, strict=True)) if args else tuple(value)
    if origin is dict or hint is dict:
        if not isinstance(value, dict):
            raise TrainConfigError(f"{key} expects a mapping, got {value!r}")
        return dict(value)
    return value


def _unknown(key: str, names: list[str]) -> TrainConfigError:
    head = key.rsplit(".", 1)[-1]
    close = difflib.get_close_matches(head, names, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return TrainConfigError(f"unknown training setting {key!r}{hint} (known here: {', '.join(sorted(names))})")


def _apply(obj: Any, key_path: list[str], value: Any, full_key: str) -> None:
    head, rest = key_path[0], key_path[1:]
    if isinstance(obj, dict):  # the free-form ``model`` section
        if rest:
            sub = obj.setdefault(head, {})
            if not isinstance(sub, dict):
                raise TrainConfigError(f"{full_key}: {head} is not a section")
            _apply(sub, rest, value, full_key)
        else:
            obj[head] = value
        return
    names = [f.name for f in fields(obj)]
    if head not in names:
        raise _unknown(full_key, names)
    current = getattr(obj, head)
    if rest:
        if not (is_dataclass(current) or isinstance(current, dict)):
            raise TrainConfigError(f"{'.'.join(full_key.split('.')[: -len(rest)])} is a setting, not a section")
        _apply(current, rest, value, full_key)
        return
    if is_dataclass(current):
        if not isinstance(value, dict):
            raise TrainConfigError(f"{full_key} is a section; set its keys, e.g. {full_key}.<key>=…")
        for k, v in value.items():
            _apply(current, [str(k)], v, f"{full_key}.{k}")
        return
    setattr(obj, head, _coerce(_hints(type(obj))[head], value, full_key))


def apply_overrides(cfg: TrainConfig, values: dict[str, Any]) -> TrainConfig:
    """Merge a nested dict (from a file) into ``cfg``. Unknown keys raise :class:`TrainConfigError`."""
    for key, value in values.items():
        if key == "model" and isinstance(value, dict):
            cfg.model = {**cfg.model, **value}
            continue
        _apply(cfg, [str(key)], value, str(key))
    return cfg


def apply_set(cfg: TrainConfig, assignments: list[str]) -> TrainConfig:
    """Apply ``--set a.b=value`` strings; values are YAML scalars (``16``, ``1e-4``, ``true``, ``[1, 2]``)."""
    for item in assignments:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise TrainConfigError(f"--set expects key=value, got {item!r}")
        _apply(cfg, key.split("."), parse_scalar(raw.strip()), key)
    return cfg


def set_value(cfg: TrainConfig, key: str, value: Any) -> None:
    """Set one dotted ``key`` to an already-typed ``value`` (what command-line flags use)."""
    _apply(cfg, key.split("."), value, key)


def load_config(path: str | Path | None) -> TrainConfig:
    """Defaults, then the YAML (``.yaml``/``.yml``) or TOML (``.toml``) file when given."""
    cfg = TrainConfig()
    if path is None:
        return cfg
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TrainConfigError(f"{path}: cannot read config ({exc.strerror or exc})") from None
    try:
        if path.suffix.lower() == ".toml":
            values = _toml_loads(text)
        else:
            import yaml

            values = yaml.load(text, Loader=_yaml_loader()) or {}  # noqa: S506 - a SafeLoader subclass
    except TrainConfigError:
        raise
    except Exception as exc:  # yaml / toml syntax errors
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise TrainConfigError(f"{path}: not valid {path.suffix.lstrip('.').upper() or 'YAML'} ({first})") from None
    if not isinstance(values, dict):
        raise TrainConfigError(f"{path}: expected a mapping of settings at the top level")
    try:
        return apply_overrides(cfg, values)
    except TrainConfigError as exc:
        raise TrainConfigError(f"{path}: {exc}") from None


def _toml_loads(text: str) -> dict[str, Any]:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        try:
            import tomli as tomllib  # type: ignore[no-redef]
        except ModuleNotFoundError:
            raise TrainConfigError("TOML configs need Python 3.11+ (or `pip install tomli`); use YAML") from None
    return tomllib.loads(text)


def config_json(cfg: TrainConfig) -> str:
    return json.dumps(cfg.to_dict(), sort_keys=True)


def dump_yaml(cfg: TrainConfig) -> str:
    """The resolved settings as YAML (written to ``OUT/train_config.yaml`` for the record)."""
    import yaml

    values = cfg.to_dict()
    values["optim"]["betas"] = list(values["optim"]["betas"])
    return yaml.safe_dump(values, sort_keys=False)


def copy_config(cfg: TrainConfig) -> TrainConfig:
    """A deep copy (the loop fills in ``arch``/``model`` when fine-tuning or resuming)."""
    return TrainConfig.from_dict(json.loads(config_json(cfg)))
