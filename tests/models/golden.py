"""Run a golden case (weights + inputs + outputs from the authors' implementation) against our model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from mirnet_cli import load_model

F64_TOL = 1e-9
F32_TOL = 1e-4
SIZES = ("64x64", "40x56")


def check_golden_case(case_dir: Path) -> None:
    cfg = json.loads((case_dir / "config.json").read_text())
    model = load_model(case_dir / "weights.safetensors")
    assert model.config | {} == {**model.config, **{k: v for k, v in cfg["constructor_config"].items() if k in model.config}}
    for size in SIZES:
        x = np.load(case_dir / f"input_{size}.npy")
        ref64 = np.load(case_dir / f"output_{size}.npy")
        ref32 = np.load(case_dir / f"output_{size}_float32.npy")
        with torch.no_grad():
            out64 = model.double()(torch.from_numpy(x)).numpy()
            out32 = model.float()(torch.from_numpy(x).float()).numpy()
        assert out64.shape == ref64.shape
        err64 = np.abs(out64 - ref64).max()
        err32 = np.abs(out32 - ref32).max()
        assert err64 < F64_TOL, f"{case_dir.name} {size}: float64 max abs error {err64:.3g} >= {F64_TOL}"
        assert err32 < F32_TOL, f"{case_dir.name} {size}: float32 max abs error {err32:.3g} >= {F32_TOL}"
