"""The table of test sets: names, aliases, model tasks and help text, and :func:`load_dataset`, which reads it.

:data:`DATASET_SPECS` is the one place a test set is registered: ``mirnet benchmark --dataset`` takes its
names and aliases and ``--help`` its lines from here, and :func:`load_dataset` / :func:`dataset_task` look
names up here. Importing this module is cheap (no numpy, no adapter), because the CLI builds its help from
it; an adapter module is imported only when its test set is opened.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import MirnetError

if TYPE_CHECKING:
    from ._base import Dataset

__all__ = [
    "DATASETS",
    "DATASET_SPECS",
    "DATASET_TASKS",
    "SYNTHETIC_TASKS",
    "DatasetRequest",
    "DatasetSpec",
    "dataset_choices",
    "dataset_help",
    "dataset_task",
    "find_spec",
    "load_dataset",
]


@dataclass(frozen=True)
class DatasetRequest:
    """The ``mirnet benchmark`` options an adapter may read (each reads only those it needs)."""

    data_dir: str | Path | None = None
    input_dir: str | Path | None = None
    target_dir: str | Path | None = None
    scale: int | None = None
    task: str | None = None
    degrade: str | None = None
    seed: int = 0
    pair_pattern: str | None = None


@dataclass(frozen=True)
class DatasetSpec:
    """One registered test set.

    Attributes:
        name: the ``--dataset`` value, also :attr:`Dataset.name` of what it opens.
        help: one line for ``mirnet benchmark --help``: what the set is and the layout expected.
        open: builds the :class:`~mirnet_cli.datasets.Dataset` from a :class:`DatasetRequest`,
            importing the adapter module on first use.
        aliases: other accepted ``--dataset`` values (names and aliases are matched case-insensitively).
        task: registry task key of the default model (``super-resolve`` gets ``:x{scale}``); ``None`` when
            ``--task`` decides (folder) or ``--degrade`` does (see ``degrade_tasks``).
        degrade_tasks: task key per ``--degrade`` mode (synthetic).
        paper: the MIRNet papers report numbers on this set (shown beside the scores when the model's
            registry entry records them).
    """

    name: str
    help: str
    open: Callable[[DatasetRequest], Dataset]
    aliases: tuple[str, ...] = ()
    task: str | None = None
    degrade_tasks: Mapping[str, str] = field(default_factory=dict)
    paper: bool = False


def _adapter(module: str, function: str) -> Callable[..., Dataset]:
    """``function`` of the adapter ``module`` of this package, imported when a test set is opened."""
    return getattr(importlib.import_module(f"{__package__}.{module}"), function)


def _folder_scale(request: DatasetRequest) -> int | None:
    """``--scale``, else the factor of ``--task super-resolve:xN`` (which implies the SR protocol)."""
    if request.scale is None and request.task:
        m = re.fullmatch(r"super-resolve:x(\d+)", request.task.strip().lower())
        return int(m.group(1)) if m else None
    return request.scale


# Registry task key (see mirnet_cli.loading.registry) per --degrade mode of the synthetic set.
SYNTHETIC_TASKS = {"denoise": "denoise", "poisson": "denoise", "lowlight": "enhance:lowlight",
                   "contrast": "enhance:contrast", "oldphoto": "oldphoto", "oldphoto-wide": "oldphoto",
                   "oldphoto-unseen": "oldphoto"}

DATASET_SPECS: tuple[DatasetSpec, ...] = (
    DatasetSpec(
        "sidd",
        "SIDD sRGB validation: the block .mat files, noisy.mat + gt.mat, or noisy/ + gt/ PNG pairs",
        lambda r: _adapter("sidd", "sidd_dataset")(r.data_dir),
        task="denoise",
        paper=True,
    ),
    DatasetSpec(
        "dnd",
        "DND sRGB crops (*.mat or images), inputs only: writes the submission files, no metrics",
        lambda r: _adapter("dnd", "dnd_dataset")(r.data_dir),
        task="denoise",
        paper=True,
    ),
    DatasetSpec(
        "lol",
        "LoL low-light pairs: low/ + high/ (or input/ + target/)",
        lambda r: _adapter("paired", "lol_dataset")(r.data_dir),
        aliases=("lolv1",),
        task="enhance:lowlight",
        paper=True,
    ),
    DatasetSpec(
        "fivek",
        "MIT-Adobe FiveK: input/ + expertC/ (or input/ + target/)",
        lambda r: _adapter("paired", "fivek_dataset")(r.data_dir),
        aliases=("mit-adobe-fivek", "mit5k"),
        task="enhance:contrast",
        paper=True,
    ),
    DatasetSpec(
        "realsr",
        "super-resolution pairs: HR/ + LR_bicubic/X{s}/, or x{s}/LR/ + x{s}/HR/ (--scale)",
        lambda r: _adapter("realsr", "realsr_dataset")(r.data_dir, r.scale),
        aliases=("sr",),
        task="super-resolve",
        paper=True,
    ),
    DatasetSpec(
        "dpdd",
        "dual-pixel defocus deblurring: inputL/ + inputR/ + target/ 16-bit PNGs",
        lambda r: _adapter("dpdd", "dpdd_dataset")(r.data_dir),
        task="deblur",
        paper=True,
    ),
    DatasetSpec(
        "folder",
        "any --input-dir (+ --target-dir matched by file name, or by --pair-pattern '*_noise=*_gt'); --task "
        "or --scale picks the protocol",
        lambda r: _adapter("folder", "folder_dataset")(
            r.input_dir if r.input_dir is not None else r.data_dir,
            r.target_dir,
            scale=_folder_scale(r),
            task=r.task,
            pair_pattern=r.pair_pattern,
        ),
    ),
    DatasetSpec(
        "synthetic",
        "a --data-dir of clean photos degraded with --degrade and --seed",
        lambda r: _adapter("synthetic", "synthetic_dataset")(r.data_dir, r.degrade, r.seed),
        degrade_tasks=SYNTHETIC_TASKS,
    ),
)

DATASETS = tuple(spec.name for spec in DATASET_SPECS)
# Registry task key of each dataset with a fixed task, used to pick the default model.
DATASET_TASKS = {spec.name: spec.task for spec in DATASET_SPECS if spec.task}

_BY_NAME = {spec.name: spec for spec in DATASET_SPECS}
_BY_KEY = {key: spec for spec in DATASET_SPECS for key in (spec.name, *spec.aliases)}


def find_spec(name: str) -> DatasetSpec | None:
    """The spec registered under ``name`` or one of its aliases (case and surrounding spaces ignored)."""
    return _BY_KEY.get(name.strip().lower())


def dataset_choices() -> str:
    """The ``--dataset`` values for help texts: ``sidd, dnd, lol (lolv1), ... or synthetic``."""
    names = [f"{s.name} ({', '.join(s.aliases)})" if s.aliases else s.name for s in DATASET_SPECS]
    return ", ".join(names[:-1]) + " or " + names[-1]


def dataset_help() -> str:
    """One line per test set (name, aliases, what it is), for the end of ``mirnet benchmark --help``."""
    lines = ["Test sets (--dataset):"]
    for spec in DATASET_SPECS:
        aliases = f" (also {', '.join(spec.aliases)})" if spec.aliases else ""
        lines.append(f"* {spec.name}{aliases}: {spec.help}")
    return "\n".join(lines)


def dataset_task(name: str, scale: int | None = None, degrade: str | None = None) -> str | None:
    """Registry task key for a dataset name (``None`` for ``folder``), e.g. ``realsr`` + 4 → ``super-resolve:x4``."""
    spec = _BY_NAME.get(name)
    if spec is None:
        return None
    if spec.degrade_tasks:
        return spec.degrade_tasks.get(degrade or "")
    task = spec.task
    if task == "super-resolve" and scale:
        return f"{task}:x{scale}"
    return task


def load_dataset(
    name: str,
    data_dir: str | Path | None = None,
    *,
    input_dir: str | Path | None = None,
    target_dir: str | Path | None = None,
    scale: int | None = None,
    task: str | None = None,
    degrade: str | None = None,
    seed: int = 0,
    pair_pattern: str | None = None,
) -> Dataset:
    """Resolve a dataset by adapter name or alias (see :data:`DATASET_SPECS` and the adapter modules).

    Raises:
        MirnetError: unknown name, or a folder in the wrong layout (the message says which was expected).
    """
    spec = find_spec(name)
    if spec is None:
        raise MirnetError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    if pair_pattern and spec.name != "folder":
        raise MirnetError(f"--pair-pattern is for --dataset folder, not {spec.name}")
    return spec.open(DatasetRequest(data_dir, input_dir, target_dir, scale, task, degrade, seed, pair_pattern))
