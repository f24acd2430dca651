"""``synthetic``: clean photos degraded with a fixed seed, a reproducible test set for any degradation."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import MirnetError
from ._base import Dataset, Sample, _require_dir, _wrong_layout, list_images, load_rgb
from ._protocols import _SSIM_WANG, Protocol
from ._registry import SYNTHETIC_TASKS


def synthetic_dataset(clean_dir: str | Path | None, degrade_mode: str | None, seed: int = 0) -> Dataset:
    """Clean photos degraded with a fixed seed (``mirnet_cli.datasets.degradations``): a reproducible test set.

    Sample *i* (in sorted file order) is ``degrade(clean_i, mode, Generator([seed, i]))``, quantised to 8 bits as
    if it had been saved, against the clean photo as target.
    """
    from .degradations import MODES, degrade

    root = _require_dir(clean_dir, "synthetic", "a folder of clean images")
    if degrade_mode not in MODES:
        raise MirnetError(f"synthetic: --degrade must be one of {', '.join(MODES)}")
    files = list_images(root)
    if not files:
        raise _wrong_layout("synthetic", root, "a folder of clean images")

    def make(index: int, path: Path) -> Sample:
        def load() -> tuple[np.ndarray, np.ndarray]:
            clean = load_rgb(path)
            noisy = degrade(clean, degrade_mode, np.random.default_rng([seed, index]))
            return (np.round(noisy * 255.0) / 255.0).astype(np.float32), clean

        return Sample(name=path.stem, inputs=(path,), target=path, load=load)

    protocol = Protocol(task=SYNTHETIC_TASKS.get(degrade_mode, degrade_mode), quantize_bits=8,
                        ssim=dict(_SSIM_WANG),
                        notes=f"clean images degraded with '{degrade_mode}' (seed {seed}, input quantised to 8 "
                              "bits); 8-bit RGB output vs the clean image, no crop.")
    return Dataset("synthetic", root, f"clean images + {degrade_mode} (seed {seed})",
                   [make(i, p) for i, p in enumerate(files)], protocol)
