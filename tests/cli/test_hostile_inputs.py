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


def _value_photo(path: Path, value: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    PILImage.fromarray(np.full((16, 24, 3), value, np.uint8)).save(path)
    return path


def test_an_output_folder_left_with_only_the_marker_is_removed(tmp_path):
    folder = tmp_path / "night"
    _value_photo(folder / "bright.png", 170)
    out = tmp_path / "out"
    res = runner.invoke(app, ["enhance", str(folder), "--task", "lowlight", "--model", "bundled", "--device", "cpu",
                              "-o", str(out), "--compare"])
    assert res.exit_code == 0, res.output
    assert "skipped 1 (looks well exposed" in res.stderr
    assert not out.exists()  # every photo was skipped: no folder holding only .mirnet-output


def test_a_second_run_skips_the_photo_the_first_is_making_and_says_so(tmp_path):
    import json
    import socket

    from mirnet_cli.io.atomic import claim_path

    folder = tmp_path / "photos"
    _photo(folder / "a.png")
    _photo(folder / "b.png", seed=1)
    out = tmp_path / "out"
    out.mkdir()
    first = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])  # "the first run"
    try:
        claim_path(out / "a.png").write_text(json.dumps({"pid": first.pid, "host": socket.gethostname()}))
        res = runner.invoke(app, ["denoise", str(folder), "-o", str(out), "--model", "bundled"])
    finally:
        first.kill()
        first.wait()
    assert res.exit_code == 0, res.output
    assert f"skipped {folder / 'a.png'}: being made by another mirnet run (process {first.pid})" in res.stderr
    assert "done 1, skipped 1 (being made by another mirnet run" in res.stderr
    assert not (out / "a.png").exists() and (out / "b.png").is_file()


def test_the_interrupted_summary_says_how_many_photos_were_never_started(tmp_path, monkeypatch):
    folder = tmp_path / "photos"
    for i in range(4):
        _photo(folder / f"p{i}.png", seed=i)
    calls = []

    def interrupt_on_second(self, job, read):
        calls.append(job.label)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return read[0], read[1], read[2], "24x16"

    monkeypatch.setattr("mirnet_cli.restore.batch.BatchRunner._restore", interrupt_on_second)
    res = runner.invoke(app, ["denoise", str(folder), "-o", str(tmp_path / "out"), "--model", "bundled"])
    assert res.exit_code == 130, res.output
    assert ("interrupted: done 1, skipped 1 (interrupted while it was restored), failed 0, not started 2 in "
            in res.stderr), res.stderr


def test_threads_beyond_the_core_count_are_capped_with_a_note(tmp_path):
    from mirnet_cli.cli.commands._options import check_threads, usable_cores

    cores = usable_cores()
    notes = []
    assert check_threads("999", say=notes.append) == cores
    assert notes == [f"note: --threads 999: this machine has {cores} core(s) for this process; using {cores} "
                     "(more threads than cores only wait for each other)"]
    assert check_threads(str(cores), say=notes.append) == cores and len(notes) == 1
    res = runner.invoke(app, ["denoise", str(_photo(tmp_path / "a.png")), "--threads", "999", "--dry-run",
                              "--model", "bundled"])
    assert res.exit_code == 0, res.output
    assert [line for line in res.stderr.splitlines() if "--threads 999" in line] == notes[:1]


def test_offline_the_failed_download_is_explained_once_with_how_to_make_it_the_default(tmp_path, monkeypatch):
    from mirnet_cli.errors import SourceError
    from mirnet_cli.loading import sources

    monkeypatch.delenv("HF_HUB_OFFLINE")
    tries = []
    real_fetch = sources.fetch

    def offline(entry, *args, **kwargs):
        if getattr(entry, "bundled", None) is not None or not hasattr(entry, "bundled"):
            return real_fetch(entry, *args, **kwargs)  # bundled models are files in the package
        tries.append(entry.name)
        raise SourceError(f"could not fetch {entry.name}: download failed for https://example.org/w.pth: "
                          "[Errno -2] Name or service not known (no network?)")

    monkeypatch.setattr("mirnet_cli.loading.sources.fetch", offline)
    res = runner.invoke(app, ["restore", str(_photo(tmp_path / "a.png")), "--task", "denoise,super-resolve:x2",
                              "-o", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    notes = [line for line in res.stderr.splitlines() if "could not be downloaded" in line]
    assert len(notes) == 1 and len(tries) == 1, res.stderr  # said once, not tried again for the second step
    assert "Name or service not known (no network?)" in notes[0] and "[Errno" not in notes[0]
    assert f"`mirnet download {tries[0]}` once online makes it the default" in notes[0]


def _fake_fetch(monkeypatch, fail):
    from mirnet_cli.loading import sources

    real_fetch = sources.fetch

    def fetch(entry, *args, **kwargs):
        if getattr(entry, "bundled", None) is not None:
            return real_fetch(entry, *args, **kwargs)
        return fail(entry)

    monkeypatch.setattr("mirnet_cli.loading.sources.fetch", fetch)


def test_download_offline_says_what_was_done_and_why_the_rest_failed(monkeypatch):
    from mirnet_cli.errors import SourceError

    def no_network(entry):
        raise SourceError(f"could not fetch {entry.name}: download failed for https://example.org/x.pth: "
                          "[Errno -2] Name or service not known (no network?)")

    _fake_fetch(monkeypatch, no_network)
    res = runner.invoke(app, ["download", "denoise", "super-resolve:x4"])
    assert res.exit_code == 1
    assert res.stderr.strip().splitlines()[-1] == ("done 0, bundled 2 (in the package: nothing to download), "
                                                   "skipped 0, failed 2 (no network?)")


def test_an_interrupted_download_says_how_many_were_never_started(monkeypatch):
    def interrupt(entry):
        raise KeyboardInterrupt

    _fake_fetch(monkeypatch, interrupt)
    res = runner.invoke(app, ["download", "denoise", "super-resolve:x4"])
    assert res.exit_code == 130
    last = res.stderr.strip().splitlines()[-1]
    assert last.startswith("interrupted: done 0, ") and last.endswith(", interrupted 1, not started 3"), last


def test_a_file_name_starting_with_a_dash_gets_the_hint_to_use_double_dash(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _photo(tmp_path / "-x.png")
    res = runner.invoke(app, ["denoise", "-x.png", "--dry-run"])
    assert res.exit_code == 2
    assert res.stderr.strip() == ("error: no such option: -x (see `mirnet denoise --help`); -x.png looks like a file "
                                  "name: put it after `--` (mirnet denoise -- -x.png) or write ./-x.png")
    res = runner.invoke(app, ["denoise", "--dry-run", "--model", "bundled", "--", "-x.png"])
    assert res.exit_code == 0, res.output  # the hint works


def test_task_errors_list_every_accepted_spelling():
    res = runner.invoke(app, ["restore", "a.png", "--task", "foo"])
    assert res.exit_code == 2
    for spelling in ("x2", "x3", "x4", "super-resolve:x3", "contrast", "lowlight"):
        assert f" {spelling}," in res.stderr or f" {spelling})" in res.stderr, spelling


def test_deblur_into_the_views_folder_writes_beside_the_views_never_over_them(tmp_path):
    # the README's exact promise (issue 20): `-o` the views' own folder writes s.png beside s_L.png and s_R.png
    import torch

    from mirnet_cli import build_model
    from mirnet_cli.loading.checkpoint import save_pretrained

    torch.manual_seed(0)
    weights = save_pretrained(build_model("mirnet_v2", n_feat=16, n_MRB=1, inp_channels=6, task="defocus_deblurring"),
                              tmp_path / "dp")
    views = tmp_path / "views"
    left, right = _photo(views / "s_L.png", size=(24, 20)), _photo(views / "s_R.png", size=(24, 20), seed=1)
    before = left.read_bytes(), right.read_bytes()
    res = runner.invoke(app, ["deblur", str(views), "-o", str(views), "--overwrite", "--weights", str(weights),
                              "--device", "cpu"])
    assert res.exit_code == 0, res.output
    assert (views / "s.png").is_file() and (left.read_bytes(), right.read_bytes()) == before
