"""scripts/gpu_check.sh in its dry mode (CPU, small model): the script runs and writes its JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_gpu_check_dry_run_writes_the_report(tmp_path):
    out = tmp_path / "gpu.json"
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = subprocess.run(["bash", str(ROOT / "scripts" / "gpu_check.sh"), "--dry-run", str(out)], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(out.read_text())
    assert report["dry_run"] is True and report["device"] == "cpu"
    first = report["speed"][0]
    assert first["precision"] == "float32" and [r["height"] for r in first["sizes"]] == [64, 128]
    assert all(r["median_s"] > 0 and r["speedup"] > 0 for r in first["sizes"])
    assert first["large"]["plan"] is not None and first["large"]["seconds"] > 0
    for row in report["fp16_vs_fp32"]:  # bf16 where this CPU has it natively, else none
        assert row["psnr_db"] > 30 and row["fp32_fallbacks"] >= 0


def test_gpu_check_refuses_without_cuda_unless_dry():
    import torch

    if torch.cuda.is_available():
        return  # on a GPU machine the real run is what scripts/gpu_check.sh does
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "gpu_check.py")], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 2 and "--dry-run" in proc.stderr
