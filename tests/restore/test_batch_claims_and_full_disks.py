"""Issue 20: a full output disk stops the computing (not only the writing), and two runs into one output folder
never compute the same photo (each output is claimed before it is computed)."""

from __future__ import annotations

import errno
import io
import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

from mirnet_cli.io.atomic import claim_output, claim_path, clean_stale_temp_files, release_claim
from mirnet_cli.restore.batch import BatchRunner, Job, Step, Summary
from mirnet_cli.restore.progress import Progress
from mirnet_cli.restore.tasks import task_for


class CountingEngine:
    dtype = "float32"

    def __init__(self, gate: threading.Event | None = None, error: BaseException | None = None):
        self.calls, self.gate, self.error, self.started = 0, gate, error, threading.Event()

    def restore(self, image, progress=None):
        self.calls += 1
        self.started.set()
        if self.gate is not None:
            assert self.gate.wait(60)
        if self.error is not None:
            raise self.error
        return image * 0.5


def _photos(folder: Path, n: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        arr = (np.random.default_rng(i).random((16, 24, 3)) * 255).astype(np.uint8)
        PILImage.fromarray(arr).save(folder / f"p{i}.png")
        paths.append(folder / f"p{i}.png")
    return paths


def _runner(engine, stream=None) -> BatchRunner:
    return BatchRunner([Step(task_for("denoise"), engine)], progress=Progress(stream or io.StringIO()),
                       summary=Summary())


def _jobs(paths, out: Path) -> list[Job]:
    return [Job((p,), out / p.name, str(p)) for p in paths]


def _claims(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob(".*.mirnet-claim")) if folder.exists() else []


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_after_a_full_disk_the_remaining_photos_are_not_computed(tmp_path, monkeypatch):
    paths = _photos(tmp_path / "in", 5)
    out = tmp_path / "out"

    def no_space(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("mirnet_cli.io.atomic.os.fsync", no_space)  # every image write hits a full disk
    engine = CountingEngine()
    summary = _runner(engine).run(_jobs(paths, out))
    # the photo restored while the first write was failing may have been computed; none after it
    assert engine.calls <= 2
    statuses = [r.status for r in summary.results]
    assert statuses.count("failed") == engine.calls and statuses.count("skipped") == 5 - engine.calls
    reasons = {r.reason for r in summary.results if r.status == "skipped"}
    assert reasons == {f"not started: no space left on device for {out}"}
    assert f"skipped {5 - engine.calls} (not started: no space left on device for {out})" in summary.line()
    assert "No space left on device" in summary.results[0].reason
    assert _claims(out) == [] and not list(out.glob("*.png"))


def test_a_photo_claimed_by_a_live_run_is_skipped_and_said(tmp_path):
    paths = _photos(tmp_path / "in", 2)
    out = tmp_path / "out"
    out.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        claim_path(out / "p0.png").write_text(json.dumps({"pid": holder.pid, "host": socket.gethostname()}))
        stream = io.StringIO()
        engine = CountingEngine()
        summary = _runner(engine, stream).run(_jobs(paths, out))
    finally:
        holder.kill()
        holder.wait()
    assert [r.status for r in summary.results] == ["skipped", "done"] and engine.calls == 1
    assert summary.results[0].reason == (f"being made by another mirnet run (process {holder.pid}); "
                                         "not computed twice")
    assert f"skipped {paths[0]}: being made by another mirnet run (process {holder.pid})" in stream.getvalue()
    assert _claims(out) == [".p0.png.mirnet-claim"]  # the other run's claim is left alone


def test_a_stale_claim_of_a_dead_process_is_taken_over(tmp_path):
    paths = _photos(tmp_path / "in", 1)
    out = tmp_path / "out"
    out.mkdir()
    claim_path(out / "p0.png").write_text(json.dumps({"pid": _dead_pid(), "host": socket.gethostname()}))
    summary = _runner(CountingEngine()).run(_jobs(paths, out))
    assert [r.status for r in summary.results] == ["done"] and (out / "p0.png").is_file()
    assert _claims(out) == []


def test_two_runs_into_one_folder_compute_each_photo_once(tmp_path):
    paths = _photos(tmp_path / "in", 2)
    out = tmp_path / "out"
    gate = threading.Event()
    first_engine = CountingEngine(gate=gate)
    first: dict = {}
    thread = threading.Thread(target=lambda: first.setdefault("summary", _runner(first_engine).run(_jobs(paths, out))))
    thread.start()
    try:
        assert first_engine.started.wait(30)  # the first run is computing p0 and has read p1 ahead
        second_engine = CountingEngine()
        second = _runner(second_engine).run(_jobs(paths, out))
    finally:
        gate.set()
        thread.join(60)
    assert second_engine.calls == 0
    assert [r.status for r in second.results] == ["skipped", "skipped"]
    assert all(r.reason.startswith("being made by another mirnet run") for r in second.results)
    assert [r.status for r in first["summary"].results] == ["done", "done"] and first_engine.calls == 2
    assert _claims(out) == []


@pytest.mark.parametrize("error", [RuntimeError("boom"), KeyboardInterrupt()])
def test_claims_are_removed_on_failure_and_on_interrupt(tmp_path, error):
    paths = _photos(tmp_path / "in", 3)
    out = tmp_path / "out"
    runner = _runner(CountingEngine(error=error))
    if isinstance(error, KeyboardInterrupt):
        with pytest.raises(KeyboardInterrupt):
            runner.run(_jobs(paths, out))
    else:
        assert runner.run(_jobs(paths, out)).count("failed") == 3
    assert _claims(out) == []


def test_claim_files_are_exclusive_and_stale_ones_are_cleaned(tmp_path):
    target = tmp_path / "a.png"
    claim = claim_output(target)
    assert claim.name == ".a.png.mirnet-claim" and json.loads(claim.read_text())["pid"] == os.getpid()
    with pytest.raises(Exception, match="being made by another mirnet run"):
        claim_output(target)  # this process's own claim is live too
    release_claim(claim)
    assert not claim.exists()
    stale = claim_path(tmp_path / "b.png")
    stale.write_text(json.dumps({"pid": _dead_pid(), "host": socket.gethostname()}))
    assert clean_stale_temp_files([tmp_path]) == [stale]


def test_a_sub_folder_made_for_a_claim_is_removed_when_its_photo_fails(tmp_path):
    paths = _photos(tmp_path / "in", 1)
    out = tmp_path / "out"
    out.mkdir()
    job = Job((paths[0],), out / "sub" / "deeper" / "p0.png", str(paths[0]))
    assert _runner(CountingEngine(error=RuntimeError("boom"))).run([job]).count("failed") == 1
    assert list(out.iterdir()) == []
