"""Whole runs over hostile or unlucky inputs (issue 20): special files in folders, odd options, clear messages."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage
from typer.testing import CliRunner

from mirnet_cli.cli.app import app
from tests.conftest import ROOT

runner = CliRunner()


def _photo(path: Path, size=(24, 16), seed=0) -> Path:
    arr = (np.random.default_rng(seed).random((size[1], size[0], 3)) * 255).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    PILImage.fromarray(arr).save(path)
    return path


def _mirnet(*args, timeout=240):
    """The CLI in a subprocess with a timeout: a regression that blocks fails instead of hanging the suite."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    try:
        return subprocess.run([sys.executable, "-m", "mirnet_cli", *map(str, args)], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        pytest.fail(f"mirnet {' '.join(map(str, args))} did not finish within {timeout} s")


@pytest.mark.skipif(not hasattr(os, "mkfifo") or not Path("/dev/zero").exists(), reason="needs POSIX pipes, /dev/zero")
def test_a_pipe_and_a_link_to_dev_zero_in_a_folder_are_skipped_and_the_batch_finishes(tmp_path):
    folder = tmp_path / "photos"
    _photo(folder / "a.png")
    os.mkfifo(folder / "b_pipe.png")
    os.symlink("/dev/zero", folder / "z.png")
    out = tmp_path / "out"
    dry = _mirnet("denoise", folder, "-o", out, "--model", "bundled", "--dry-run", timeout=120)
    assert dry.returncode == 0, dry.stderr
    assert f"{folder / 'b_pipe.png'}: skip (not a regular file (named pipe); only regular files are read)" \
        in dry.stdout.splitlines()
    assert f"{folder / 'z.png'}: skip (not a regular file (device, through a link to /dev/zero)" in dry.stdout
    assert dry.stdout.splitlines()[-1].startswith("dry run: would process 1, skip 2 (not a regular file")
    res = _mirnet("denoise", folder, "-o", out, "--model", "bundled")
    assert res.returncode == 0, res.stderr
    assert (out / "a.png").is_file() and not (out / "z.png").exists()
    assert "done 1, skipped 2 (not a regular file), failed 0" in res.stderr, res.stderr
    assert f"skipped {folder / 'b_pipe.png'}: not a regular file (named pipe)" in res.stderr
