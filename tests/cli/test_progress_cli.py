"""What a run prints, through a real process: on a pseudo-terminal (live status line) and off a terminal."""

from __future__ import annotations

import os
import select
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

from tests.conftest import FIXTURES

GOLDEN_V2 = FIXTURES / "golden" / "v2_nfeat16" / "weights.safetensors"


def _photos(folder: Path) -> list[Path]:
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True)
    paths = []
    for name, (w, h) in (("a.png", (40, 28)), ("b.png", (24, 16))):
        PILImage.fromarray((rng.random((h, w, 3)) * 255).astype(np.uint8)).save(folder / name)
        paths.append(folder / name)
    return paths


def _command(folder: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "mirnet_cli", "denoise", str(folder), "--weights", str(GOLDEN_V2),
            "--device", "cpu", "-o", str(out), *extra]


def _env() -> dict[str, str]:
    return {**os.environ, "HF_HUB_OFFLINE": "1", "COLUMNS": "120", "PYTHONUNBUFFERED": "1"}


def _run_on_a_pty(argv: list[str]) -> tuple[int, str]:
    pty = pytest.importorskip("pty")
    pid, fd = pty.fork()
    if pid == 0:  # child
        os.environ.update(_env())
        os.execv(argv[0], argv)
    chunks = []
    while True:
        ready, _, _ = select.select([fd], [], [], 60)
        if not ready:
            break
        try:
            data = os.read(fd, 65536)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), b"".join(chunks).decode("utf-8", "replace")


def test_off_a_terminal_one_line_per_finished_file_and_no_control_characters(tmp_path):
    _photos(tmp_path / "in")
    res = subprocess.run(_command(tmp_path / "in", tmp_path / "out"), capture_output=True, text=True, env=_env())
    assert res.returncode == 0, res.stderr
    lines = res.stderr.splitlines()
    done = [line for line in lines if line.startswith("ok ")]
    assert len(done) == 2
    assert done[0].startswith(f"ok {tmp_path / 'in' / 'a.png'}  40x28  ") and done[0].endswith(
        f" s  -> {tmp_path / 'out' / 'a.png'}")
    assert "24x16" in done[1]
    assert lines[-1].startswith("done 2, skipped 0, failed 0 in ")
    assert "\r" not in res.stderr and "\x1b" not in res.stderr


def test_quiet_prints_nothing_but_errors(tmp_path):
    _photos(tmp_path / "in")
    (tmp_path / "in" / "broken.png").write_bytes(b"nope")
    res = subprocess.run(_command(tmp_path / "in", tmp_path / "out", "-q"), capture_output=True, text=True,
                         env=_env())
    assert res.returncode == 1
    lines = res.stderr.splitlines()
    assert lines[0].startswith("error: ") and "broken.png" in lines[0]
    assert lines[1].startswith("done 2, skipped 0, failed 1") and len(lines) == 2


@pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pseudo-terminal")
def test_on_a_terminal_a_live_status_line_and_the_per_file_lines(tmp_path):
    _photos(tmp_path / "in")
    code, text = _run_on_a_pty(_command(tmp_path / "in", tmp_path / "out"))
    assert code == 0, text
    frames = [f for f in text.replace("\n", "\r").split("\r\x1b[2K") if f.strip()]
    status = [f for f in frames if f.startswith("mirnet ")]
    assert status, text
    assert all(f.split()[1].count(":") == 1 for f in status)  # elapsed time m:ss first
    assert any("1/2 a.png" in f and "%" in f for f in status)  # the file being worked on and how far along
    assert any(f.startswith("mirnet 0:0") and "loading" in f for f in status)  # even before the first photo
    per_file = [line for line in text.replace("\r\x1b[2K", "\n").splitlines() if line.startswith("ok /")]
    assert len(per_file) == 2  # the per-file lines stay on screen
    # the status line is erased at the end: the summary is the last thing on screen
    last = [line for line in text.replace("\r\x1b[2K", "\n").replace("\r", "\n").splitlines() if line.strip()][-1]
    assert last.startswith("done 2, skipped 0, failed 0 in ")
