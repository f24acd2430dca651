"""scripts/backend_speed.py: the README's one-process comparison of the CPU paths runs and reports every variant."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_backend_speed_reports_plain_and_the_default_path():
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "backend_speed.py"), "mirnet_v2-nf16-denoise",
                           "--size", "32", "--repeats", "2", "--threads", "1", "--backends", "", "--torch-bf16"],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    names = r"plain \(authors' code\)|torch \(default: (?:fp32|bf16)\)|torch fp32|torch bf16"
    rows = dict(re.findall(rf"^({names})\s+\d+ ms\s+speed-up\s+([\d.]+)x$", proc.stdout, re.M))
    default = [name for name in rows if name.startswith("torch (default")]
    assert len(default) == 1 and "plain (authors' code)" in rows
    assert float(rows["plain (authors' code)"]) == 1.0 and float(rows[default[0]]) > 0
    # the fast formulation in fp32 (the default's or the extra variant) computes the authors' function
    fp32 = re.escape(default[0] if "fp32" in default[0] else "torch fp32")
    diff = re.search(rf"^{fp32}\s+max abs difference to plain ([\d.e+-]+)$", proc.stderr, re.M)
    assert diff and float(diff.group(1)) < 1e-4
