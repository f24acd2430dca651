"""Training runs end to end (in process): the loss falls, resume is exact, export round-trips, fine-tuning, logs."""

from __future__ import annotations

import json
import math
import os
import signal
from pathlib import Path

import numpy as np
import pytest
import torch

from mirnet_cli import build_model, load_model
from mirnet_cli.errors import MirnetError
from mirnet_cli.train.config import apply_set, load_config
from mirnet_cli.train.loop import TrainingInterrupted, train

QUIET = dict(progress=False, log=lambda s: None)
TINY = ["model.n_feat=8", "model.chan_factor=2.0", "model.n_MRB=1"]


def _cfg(data: Path, out: Path, *extra: str, synthetic: str | None = "denoise"):
    sets = [f"data.train_dir={data}", *TINY, "schedule.patch_size=32", "schedule.batch_size=2",
            "schedule.log_every=1", "optim.lr=1e-3", f"out={out}", "device=cpu", "seed=3", "data.workers=0"]
    if synthetic:
        sets.append(f"data.synthetic={synthetic}")
    return apply_set(load_config(None), [*sets, *extra])


def _rows(out: Path, kind: str = "train") -> list[dict]:
    rows = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    return [r for r in rows if r["kind"] == kind]


def _ckpts(out: Path) -> list[str]:
    return sorted(p.name for p in (out / "checkpoints").glob("iter_*.pt"))


def test_loss_decreases_and_export_round_trips(photos, tmp_path):
    out = tmp_path / "run"
    summary = train(_cfg(photos, out, "schedule.iters=30", "schedule.checkpoint_every=10"), **QUIET)
    losses = summary["losses"]
    assert len(losses) == 30 and [r["iteration"] for r in _rows(out)] == list(range(1, 31))
    assert np.mean(losses[-3:]) < 0.8 * np.mean(losses[:3]), losses
    # keep_last=2: older checkpoints are rotated away; the final one is safe to load with weights_only
    assert _ckpts(out) == ["iter_00000020.pt", "iter_00000030.pt"]
    ckpt = torch.load(out / "checkpoints" / "iter_00000030.pt", weights_only=True)
    assert ckpt["iteration"] == 30 and ckpt["arch"] == "mirnet_v2"
    # export → load_model gives the trained network
    exported = load_model(out)
    assert exported.config["n_feat"] == 8 and exported.config["n_MRB"] == 1
    reference = build_model("mirnet_v2", **ckpt["model_config"])
    reference.load_state_dict(ckpt["model"])
    x = torch.rand(1, 3, 24, 28)
    with torch.no_grad():
        assert torch.allclose(exported(x), reference.eval()(x), atol=1e-6)
    card = json.loads((out / "config.json").read_text())
    assert card["training"]["iterations"] == 30
    assert (out / "log.csv").read_text().splitlines()[0].startswith("kind,iteration,loss")


def test_resume_is_exact_and_drops_log_rows_past_the_checkpoint(photos, tmp_path):
    straight, split = tmp_path / "straight", tmp_path / "split"
    train(_cfg(photos, straight, "schedule.iters=10", "schedule.checkpoint_every=5"), **QUIET)
    train(_cfg(photos, split, "schedule.iters=10", "schedule.checkpoint_every=5"), **QUIET)
    # Pretend the second run was killed after its checkpoint at 5 (and after logging iterations 6–10).
    (split / "checkpoints" / "iter_00000010.pt").unlink()
    (split / "model.safetensors").unlink()
    summary = train(_cfg(photos, split, "schedule.iters=10", "schedule.checkpoint_every=5"), resume=True, **QUIET)
    assert len(summary["losses"]) == 5
    assert [r["iteration"] for r in _rows(split)] == list(range(1, 11))  # no duplicated rows 6–10
    a, b = load_model(straight).state_dict(), load_model(split).state_dict()
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)
    log_a = [r["loss"] for r in _rows(straight)]
    log_b = [r["loss"] for r in _rows(split)]
    assert np.allclose(log_a, log_b, rtol=1e-5)


def test_a_finished_run_extends_with_more_iters(photos, tmp_path):
    out = tmp_path / "run"
    train(_cfg(photos, out, "schedule.iters=4", "schedule.checkpoint_every=4"), **QUIET)
    before = load_model(out).state_dict()
    summary = train(_cfg(photos, out, "schedule.iters=7", "schedule.checkpoint_every=4"), resume=True, **QUIET)
    assert summary["iterations"] == 7 and len(summary["losses"]) == 3
    assert [r["iteration"] for r in _rows(out)] == list(range(1, 8))
    after = load_model(out).state_dict()
    assert not all(torch.equal(before[k], after[k]) for k in before)
    # resuming a finished run with the same length does nothing and keeps the export
    again = train(_cfg(photos, out, "schedule.iters=7"), resume=True, **QUIET)
    assert again["losses"] == [] and again["iterations"] == 7


def test_data_workers_do_not_change_the_samples(photos, tmp_path):
    a = train(_cfg(photos, tmp_path / "w0", "schedule.iters=3"), **QUIET)
    b = train(_cfg(photos, tmp_path / "w2", "schedule.iters=3", "data.workers=2"), **QUIET)
    assert np.allclose(a["losses"], b["losses"], rtol=1e-5)


def test_fresh_run_into_an_existing_run_is_refused_and_resume_needs_a_checkpoint(photos, tmp_path):
    out = tmp_path / "run"
    with pytest.raises(MirnetError, match="nothing to resume"):
        train(_cfg(photos, out, "schedule.iters=2"), resume=True, **QUIET)
    train(_cfg(photos, out, "schedule.iters=2"), **QUIET)
    with pytest.raises(MirnetError, match="--resume"):
        train(_cfg(photos, out, "schedule.iters=2"), **QUIET)


def test_paired_data_validation_best_and_samples(pairs, tmp_path):
    out = tmp_path / "paired"
    train(_cfg(pairs, out, "schedule.iters=4", "schedule.val_every=2", "schedule.checkpoint_every=4",
               f"data.val_dir={pairs}", "data.val_samples=1", "data.val_crop=32", synthetic=None), **QUIET)
    vals = _rows(out, "val")
    assert [r["iteration"] for r in vals] == [2, 4]
    assert all(5 < r["psnr"] < 60 and 0 < r["ssim"] <= 1 for r in vals)
    best = torch.load(out / "checkpoints" / "best.pt", weights_only=True)
    assert best["best_psnr"] == max(r["psnr"] for r in vals)
    assert (out / "samples" / "iter_00000002" / "p0.png").is_file()
    assert json.loads((out / "config.json").read_text())["training"]["best_val_psnr"] == best["best_psnr"]


def test_fine_tune_from_an_export(photos, tmp_path):
    base, tuned = tmp_path / "base", tmp_path / "tuned"
    train(_cfg(photos, base, "schedule.iters=2"), **QUIET)
    cfg = apply_set(load_config(None), [f"data.train_dir={photos}", "data.synthetic=sr", f"init={base}",
                                        "schedule.patch_size=32", "schedule.batch_size=1", "schedule.iters=2",
                                        f"out={tuned}", "device=cpu", "schedule.log_every=1"])
    train(cfg, **QUIET)
    start, end = load_model(base).state_dict(), load_model(tuned).state_dict()
    assert load_model(tuned).config == load_model(base).config  # the architecture came from --init
    assert not all(torch.equal(start[k], end[k]) for k in start)
    clash = apply_set(load_config(None), [f"data.train_dir={photos}", "data.synthetic=sr", f"init={base}",
                                          "model.n_feat=16", f"out={tmp_path / 'clash'}", "device=cpu"])
    with pytest.raises(MirnetError, match="n_feat"):
        train(clash, **QUIET)


def test_fine_tune_grows_zero_biases_into_a_bias_free_checkpoint(photos, tmp_path):
    from mirnet_cli.train.loop import build_training_model

    base = tmp_path / "base"
    train(_cfg(photos, base, "schedule.iters=2"), **QUIET)
    cfg = apply_set(load_config(None), [f"init={base}", "model.bias=true"])
    grown = build_training_model(cfg).eval()
    assert cfg.model["bias"] is True and cfg.model["n_feat"] == 8 and "conv_in.bias" in grown.state_dict()
    assert all(float(p.abs().max()) == 0.0 for n, p in grown.named_parameters() if n.endswith(".bias"))
    x = torch.rand(1, 3, 24, 28)
    with torch.no_grad():
        assert torch.equal(grown(x), load_model(base).eval()(x))  # the same function at the first step
    tuned = tmp_path / "tuned"
    train(_cfg(photos, tuned, "schedule.iters=3", f"init={base}", "model.bias=true"), **QUIET)
    trained = load_model(tuned)
    assert trained.config["bias"] is True and float(trained.state_dict()["conv_in.bias"].abs().max()) > 0


def test_ctrl_c_writes_a_checkpoint_and_resumes(photos, tmp_path):
    out = tmp_path / "stopped"
    seen = []

    def log(text: str) -> None:  # non-tty progress lines arrive once per iteration (print_every=1)
        seen.append(text)
        if text.startswith("iteration 3/"):
            os.kill(os.getpid(), signal.SIGINT)

    cfg = _cfg(photos, out, "schedule.iters=8", "schedule.checkpoint_every=100", "schedule.print_every=1")
    with pytest.raises(TrainingInterrupted, match="iteration 3"):
        train(cfg, progress=True, log=log)
    assert _ckpts(out) == ["iter_00000003.pt"]
    train(cfg, resume=True, **QUIET)
    assert [r["iteration"] for r in _rows(out)] == list(range(1, 9))


def test_bad_model_settings_are_one_line_errors(photos, tmp_path):
    with pytest.raises(MirnetError, match="n_feet"):
        train(_cfg(photos, tmp_path / "x", "model.n_feet=8"), **QUIET)
    with pytest.raises(MirnetError, match="amp fp16 is not supported on cpu"):
        train(_cfg(photos, tmp_path / "y", "amp=fp16"), **QUIET)
    with pytest.raises(MirnetError, match="no training data"):
        train(apply_set(load_config(None), [f"out={tmp_path / 'z'}", "device=cpu"]), **QUIET)


def test_bf16_autocast_on_the_cpu_follows_the_hardware(monkeypatch):
    import mirnet_cli.engine.device as device_mod
    from mirnet_cli.train.loop import _amp_dtype

    cpu = torch.device("cpu")
    monkeypatch.setattr(device_mod, "cpu_has_native_bf16", lambda *a, **k: True)
    assert _amp_dtype("bf16", cpu) is torch.bfloat16
    assert _amp_dtype("auto", cpu) is None  # never by default: the user asks for it after measuring
    monkeypatch.setattr(device_mod, "cpu_has_native_bf16", lambda *a, **k: False)
    with pytest.raises(MirnetError, match="avx512_bf16"):
        _amp_dtype("bf16", cpu)


def test_training_steps_under_cpu_bf16_autocast(photos, tmp_path, monkeypatch):
    import mirnet_cli.engine.device as device_mod

    # Whether or not this CPU has bf16 instructions, autocast must run the step and keep fp32 weights.
    monkeypatch.setattr(device_mod, "cpu_has_native_bf16", lambda *a, **k: True)
    out = tmp_path / "bf16"
    summary = train(_cfg(photos, out, "amp=bf16", "schedule.iters=2"), **QUIET)
    assert summary["iterations"] == 2 and all(math.isfinite(v) for v in summary["losses"])
    assert next(load_model(out).parameters()).dtype == torch.float32


def test_training_on_mixed_sources_without_train_dir(photos, pairs, tmp_path):
    cfg = apply_set(load_config(None), [
        *TINY, "schedule.patch_size=32", "schedule.batch_size=2", "schedule.iters=2", "schedule.val_every=2",
        "device=cpu", f"out={tmp_path / 'mix'}", "data.synthetic=denoise", f"data.val_dir={photos}",
        "data.val_count=1", "data.val_crop=32", "threads=1",
        f"data.sources=[{{dir: {pairs}}}, {{dir: {photos}, synthetic: denoise, weight: 2}}]"])
    summary = train(cfg, **QUIET)
    assert summary["iterations"] == 2 and summary["last_val"]["psnr"] > 0


def test_weight_average_follows_the_formula():
    from mirnet_cli.train.loop import WeightAverage

    model = torch.nn.Linear(2, 1)
    with torch.no_grad():
        model.weight.fill_(1.0)
    avg = WeightAverage(model, 0.999)
    with torch.no_grad():
        model.weight.fill_(3.0)
    avg.update(model)  # n = 1: d = min(0.999, 2/11)
    d = 2 / 11
    assert torch.allclose(avg.model.weight, torch.full_like(model.weight, d * 1.0 + (1 - d) * 3.0))
    assert not avg.model.weight.requires_grad


def test_ema_is_validated_exported_checkpointed_and_resumed_exactly(pairs, tmp_path):
    straight, split = tmp_path / "straight", tmp_path / "split"
    extra = ["schedule.iters=8", "schedule.checkpoint_every=4", "optim.ema=0.9", f"data.val_dir={pairs}",
             "schedule.val_every=4", "data.val_crop=32"]
    train(_cfg(pairs, straight, *extra, synthetic=None), **QUIET)
    ckpt = torch.load(straight / "checkpoints" / "iter_00000008.pt", weights_only=True)
    assert ckpt["ema_updates"] == 8 and set(ckpt["params_ema"]) == set(ckpt["model"])
    assert not all(torch.equal(ckpt["params_ema"][k], ckpt["model"][k]) for k in ckpt["model"])
    exported = load_model(straight).state_dict()  # the export is the average, not the last step
    assert all(torch.allclose(exported[k], ckpt["params_ema"][k]) for k in exported)
    best = load_model(straight / "checkpoints" / "best.pt").state_dict()  # and so is a checkpoint read as a model
    best_ckpt = torch.load(straight / "checkpoints" / "best.pt", weights_only=True)
    assert all(torch.allclose(best[k], best_ckpt["params_ema"][k]) for k in best)
    # resuming from the checkpoint at 4 gives the same average as the straight run
    train(_cfg(pairs, split, *extra, synthetic=None), **QUIET)
    (split / "checkpoints" / "iter_00000008.pt").unlink()
    (split / "model.safetensors").unlink()
    train(_cfg(pairs, split, *extra, synthetic=None), resume=True, **QUIET)
    again = load_model(split).state_dict()
    assert all(torch.allclose(exported[k], again[k], atol=1e-6) for k in exported)


def test_ema_setting_is_checked(photos, tmp_path):
    with pytest.raises(MirnetError, match="optim.ema"):
        train(_cfg(photos, tmp_path / "run", "schedule.iters=2", "optim.ema=1.0"), **QUIET)
