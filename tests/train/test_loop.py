"""Training runs end to end: the loss falls, runs resume exactly (also after SIGKILL), DDP on gloo, export."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from mirnet_cli import load_model
from mirnet_cli.train.config import apply_set, load_config
from mirnet_cli.train.loop import train

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clean")
    rng = np.random.default_rng(0)
    for i in range(4):
        yy, xx = np.mgrid[0:48, 0:64] / 64.0
        base = np.stack([xx, yy, 0.5 + 0.4 * np.sin((i + 2) * 3 * xx)], axis=2)
        img = np.clip(base + 0.05 * rng.standard_normal((48, 64, 1)), 0, 1)
        Image.fromarray((img * 255).astype(np.uint8)).save(folder / f"img{i}.png")
    return folder


def _cfg(photos, out, *extra):
    return apply_set(load_config(None), [
        f"data.train_dir={photos}", "data.synthetic=denoise", "model.n_feat=16", "model.n_MRB=1",
        "schedule.patch_size=32", "schedule.batch_size=2", "schedule.log_every=1", "optim.lr=1e-3",
        f"out={out}", "device=cpu", "seed=3", *extra])


def _log(out: Path, kind="train"):
    rows = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    return [r for r in rows if r["kind"] == kind]


def test_loss_decreases_and_export_loads(photos, tmp_path):
    out = tmp_path / "run"
    train(_cfg(photos, out, "schedule.iters=30", "schedule.checkpoint_every=10"), progress=False, log=lambda s: None)
    losses = [r["loss"] for r in _log(out)]
    assert len(losses) == 30
    assert np.mean(losses[-5:]) < 0.7 * np.mean(losses[:5])
    model = load_model(out)  # model.safetensors + config.json
    assert model.config["n_feat"] == 16 and model.config["n_MRB"] == 1
    ckpt = torch.load(out / "checkpoints" / "iter_00000030.pt", weights_only=True)  # safe to load
    model2 = load_model(out)
    x = torch.rand(1, 3, 16, 16)
    with torch.no_grad():
        assert torch.equal(model(x), model2(x))
    assert ckpt["iteration"] == 30
    assert sorted(p.name for p in (out / "checkpoints").glob("iter_*.pt")) == ["iter_00000020.pt", "iter_00000030.pt"]


def test_resume_is_exact_and_extends_a_finished_run(photos, tmp_path):
    straight, split = tmp_path / "straight", tmp_path / "split"
    quiet = dict(progress=False, log=lambda s: None)
    train(_cfg(photos, straight, "schedule.iters=12", "schedule.checkpoint_every=6"), **quiet)
    train(_cfg(photos, split, "schedule.iters=6", "schedule.checkpoint_every=6", "optim.eta_min=1e-6"), **quiet)
    # The first run had a 6-iteration cosine schedule; extend it to 12 (a finished run continues).
    train(_cfg(photos, split, "schedule.iters=12", "schedule.checkpoint_every=6"), resume=True, **quiet)
    assert [r["iteration"] for r in _log(split)] == list(range(1, 13))
    a = load_model(straight).state_dict()
    b = load_model(split).state_dict()
    assert a.keys() == b.keys()
    assert not all(torch.equal(a[k], b[k]) for k in a)  # different lr schedules over the first 6 iterations
    # same schedule: 6 + resume 6 == 12 straight
    exact = tmp_path / "exact"
    train(_cfg(photos, exact, "schedule.iters=12", "schedule.checkpoint_every=6"), **quiet)
    ckpt = exact / "checkpoints"
    for p in ckpt.glob("iter_00000012.pt"):
        p.unlink()
    (exact / "model.safetensors").unlink()
    train(_cfg(photos, exact, "schedule.iters=12", "schedule.checkpoint_every=6"), resume=True, **quiet)
    c = load_model(exact).state_dict()
    assert all(torch.allclose(a[k], c[k], atol=1e-6) for k in a)


def _cli(*args, env=None):
    return [sys.executable, "-m", "mirnet_cli", "train", *map(str, args)]


def _common(photos, out):
    return ["--train-dir", photos, "--synthetic", "denoise", "--set", "model.n_feat=16", "--set", "model.n_MRB=1",
            "--patch-size", "32", "--batch-size", "2", "--device", "cpu", "--out", out, "--seed", "1", "-q",
            "--set", "schedule.log_every=1"]


@pytest.mark.slow
def test_sigkill_then_resume_finishes(photos, tmp_path):
    out = tmp_path / "killed"
    proc = subprocess.Popen(_cli(*_common(photos, out), "--iters", "400", "--checkpoint-every", "5"),
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and not list((out / "checkpoints").glob("iter_*.pt")):
        time.sleep(0.2)
    time.sleep(0.5)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = max(int(p.stem[5:]) for p in (out / "checkpoints").glob("iter_*.pt"))
    assert 0 < done_before < 400
    res = subprocess.run(_cli(*_common(photos, out), "--iters", str(done_before + 10), "--resume"),
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    iters = [r["iteration"] for r in _log(out)]
    assert iters[-1] == done_before + 10
    assert iters[-10:] == list(range(done_before + 1, done_before + 11))  # continued, not restarted
    assert (out / "model.safetensors").is_file()


@pytest.mark.slow
def test_ddp_two_processes_gloo(photos, tmp_path):
    out = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29517",
           "-m", "mirnet_cli", "train", *map(str, _common(photos, out)), "--iters", "6", "--checkpoint-every", "3"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    res = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)
    assert res.returncode == 0, res.stderr[-2000:]
    assert sorted(p.name for p in (out / "checkpoints").glob("iter_*.pt")) == ["iter_00000003.pt", "iter_00000006.pt"]
    iters = [r["iteration"] for r in _log(out)]
    assert iters == list(range(1, 7))  # one writer: no duplicated rows
    assert load_model(out).config["n_feat"] == 16


def test_missing_training_data_is_a_clear_error(tmp_path):
    from typer.testing import CliRunner

    from mirnet_cli.cli.app import app

    res = CliRunner().invoke(app, ["train", "--iters", "1", "--out", str(tmp_path / "x")])
    assert res.exit_code == 1 and "--train-dir" in res.output
