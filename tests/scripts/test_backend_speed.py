"""scripts/backend_speed.py: the README's one-process comparison of the CPU paths runs and reports every variant."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_backend_speed_reports_plain_and_the_default_path():
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "backend_speed.py"), "mirnet_v2-nf16-denoise",
                           "--size", "32", "--repeats", "2", "--threads", "1", "--backends", ""],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = dict(re.findall(r"^(plain \(authors' code\)|torch)\s+\d+ ms\s+speed-up\s+([\d.]+)x$", proc.stdout, re.M))
    assert set(rows) == {"plain (authors' code)", "torch"}
    assert float(rows["plain (authors' code)"]) == 1.0 and float(rows["torch"]) > 0
    # the default path computes the same function as the authors' code
    diff = re.search(r"^torch\s+max abs difference to plain ([\d.e+-]+)$", proc.stderr, re.M)
    assert diff and float(diff.group(1)) < 1e-4
