"""`mirnet train` from the command line: flags, --resume from the run's own settings, SIGKILL, torchrun DDP."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from mirnet_cli import load_model
from mirnet_cli.cli.app import app

ROOT = Path(__file__).resolve().parents[2]
TINY = ["--set", "model.n_feat=8", "--set", "model.chan_factor=2.0", "--set", "model.n_MRB=1"]


def _common(photos: Path, out: Path) -> list[str]:
    return ["--train-dir", str(photos), "--synthetic", "denoise", *TINY, "--patch-size", "32", "--batch-size", "2",
            "--device", "cpu", "--out", str(out), "--seed", "1", "--workers", "0", "-q",
            "--set", "schedule.log_every=1"]


def _iterations(out: Path) -> list[int]:
    rows = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    return [r["iteration"] for r in rows if r["kind"] == "train"]


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def test_flags_then_resume_with_only_out_and_iters(photos, tmp_path):
    out = tmp_path / "run"
    runner = CliRunner()
    res = runner.invoke(app, ["train", *_common(photos, out), "--iters", "3", "--lr", "5e-4", "--no-amp"])
    assert res.exit_code == 0, res.output
    saved = json.loads((out / "train_config.json").read_text())
    assert saved["optim"]["lr"] == 5e-4 and saved["model"]["n_feat"] == 8 and saved["amp"] == "off"
    # The run's own train_config.json is the base: no need to repeat the data and model flags.
    res = runner.invoke(app, ["train", "--out", str(out), "--resume", "--iters", "5", "-q"])
    assert res.exit_code == 0, res.output
    assert _iterations(out) == [1, 2, 3, 4, 5]
    assert load_model(out).config["n_feat"] == 8


def test_cli_errors_are_one_line(photos, tmp_path):
    # usage and setting errors exit 2, like every other command (issue 20)
    runner = CliRunner()
    res = runner.invoke(app, ["train", "--iters", "1", "--out", str(tmp_path / "x")])
    assert res.exit_code == 2 and "--train-dir" in res.output and "Traceback" not in res.output
    res = runner.invoke(app, ["train", *_common(photos, tmp_path / "y"), "--set", "optim.lrr=1"])
    assert res.exit_code == 2 and "optim.lrr" in res.output and "did you mean 'lr'" in res.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("schedule: [1, 2\n")
    res = runner.invoke(app, ["train", "--config", str(bad)])
    assert res.exit_code == 2 and "bad.yaml" in res.output and len(res.output.strip().splitlines()) == 1


@pytest.mark.slow
def test_sigkill_then_resume_continues_the_curve(photos, tmp_path):
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "mirnet_cli", "train", *_common(photos, out), "--checkpoint-every", "4"]
    proc = subprocess.Popen([*cmd, "--iters", "1000"], cwd=ROOT, env=_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and not list((out / "checkpoints").glob("iter_*.pt")):
            assert proc.poll() is None, proc.stderr.read().decode()
            time.sleep(0.1)
        time.sleep(0.3)  # let it get between checkpoints
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    done = max(int(p.stem[5:]) for p in (out / "checkpoints").glob("iter_*.pt"))
    assert 0 < done < 1000
    res = subprocess.run([*cmd, "--iters", str(done + 6), "--resume"], cwd=ROOT, env=_env(),
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert _iterations(out) == list(range(1, done + 7))  # continued from the checkpoint, no duplicates
    assert torch.load(out / "checkpoints" / f"iter_{done + 6:08d}.pt", weights_only=True)["iteration"] == done + 6
    assert load_model(out).config["n_feat"] == 8


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_torchrun_two_processes_gloo(photos, tmp_path):
    out = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
           "--master_port", str(_free_port()), "-m", "mirnet_cli", "train", *_common(photos, out),
           "--iters", "4", "--checkpoint-every", "2", "--val-dir", str(photos), "--val-every", "4",
           "--set", "data.val_crop=32"]
    res = subprocess.run(cmd, cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    # only rank 0 writes: each checkpoint once, each log row once
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["best.pt", "iter_00000002.pt",
                                                                      "iter_00000004.pt"]
    assert _iterations(out) == [1, 2, 3, 4]
    rows = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert [r["iteration"] for r in rows if r["kind"] == "val"] == [4]
    ckpt = torch.load(out / "checkpoints" / "iter_00000004.pt", weights_only=True)
    assert ckpt["world_size"] == 2
    assert load_model(out).config["n_feat"] == 8
