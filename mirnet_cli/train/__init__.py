"""Training and fine-tuning MIRNet / MIRNet-v2 (``mirnet train``).

* :mod:`.config` — the :class:`TrainConfig` dataclass tree, YAML/TOML files and ``--set key=value`` overrides;
* :mod:`.data` — paired / synthetic patch datasets and the resumable, rank-aware batch sampler (the synthetic
  degradations of clean photos are :mod:`mirnet_cli.datasets.degradations`, shared with the benchmark);
* :mod:`.state` — checkpoint files (atomic, ``weights_only``-loadable) and RNG states;
* :mod:`.runtime` — ranks (single process or DDP), the log files and the stop signals around the loop;
* :mod:`.loop` — :func:`train`, single process or DDP under ``torchrun``.

``from mirnet_cli.train import train, load_config`` does not import torch until ``train`` is used.
"""

from __future__ import annotations

from typing import Any

from .config import TrainConfig, apply_set, load_config

__all__ = ["TrainConfig", "apply_set", "load_config", "train"]


def __getattr__(name: str) -> Any:
    if name == "train":
        from .loop import train

        return train
    raise AttributeError(f"module 'mirnet_cli.train' has no attribute {name!r}")
