"""`mirnet train` refuses what the loader refuses (one set of bounds, checked before anything is built or written),
and its setting and usage errors exit 2 with no run folder left behind (issue 20)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mirnet_cli.cli.app import app
from mirnet_cli.models import build_model, check_model_config
from mirnet_cli.models import mirnet_v2 as v2
from mirnet_cli.train.config import TrainConfig, TrainConfigError

runner = CliRunner()


def _train(photos: Path, out: Path, *extra: str):
    return runner.invoke(app, ["train", "--train-dir", str(photos), "--synthetic", "denoise", "--patch-size", "32",
                               "--batch-size", "2", "--iters", "2", "--device", "cpu", "--workers", "0", "-q",
                               "--out", str(out), *extra])


@pytest.mark.parametrize("setting, message", [
    ("model.n_MRB=1000", "model.n_MRB must be an integer from 1 to 16, not 1000"),
    ("model.n_feat=2", "model.n_feat must be an integer from 4 to 512, not 2"),
    ("model.n_feat=100000", "model.n_feat must be an integer from 4 to 512, not 100000"),
    ("model.chan_factor=9.0", "model.chan_factor must be a number from 1.0 to 4.0, not 9.0"),
    ("model.n_blocks=3", "model: unknown argument 'n_blocks'"),
    ("optim.lr=-1", "lr > 0"),
    ("optim.lrr=1", "optim.lrr"),
])
def test_settings_the_loader_would_refuse_exit_2_at_once_and_leave_no_run_folder(photos, tmp_path, setting, message):
    out = tmp_path / "run"
    start = time.perf_counter()
    res = _train(photos, out, "--set", setting)
    assert res.exit_code == 2, res.output
    assert message in res.output and "Traceback" not in res.output and len(res.output.strip().splitlines()) == 1
    assert time.perf_counter() - start < 30  # refused before any network is built (n_MRB=1000 trained for 171 s)
    assert not out.exists()


def test_train_and_the_loader_share_one_set_of_bounds():
    for name, rule in v2.CONFIG_BOUNDS.items():
        if len(rule) == 2 and isinstance(rule[0], int) and not isinstance(rule[0], bool):
            with pytest.raises(TrainConfigError, match=f"model.{name} must be"):
                TrainConfig(model={name: rule[1] + 1}).check()
            with pytest.raises(ValueError, match=f"{name} must be"):
                check_model_config("mirnet_v2", {name: rule[1] + 1})
    with pytest.raises(ValueError, match="n_MRB must be an integer from 1 to 16"):
        build_model("mirnet_v2", n_MRB=17)  # the Python API builds nothing the loader refuses either
    with pytest.raises(TrainConfigError, match="model.n_MSRB must be an integer from 1 to 16"):
        TrainConfig(arch="mirnet", model={"n_MSRB": 40}).check()
    TrainConfig(model={"n_feat": 16, "n_MRB": 16}).check()  # the extremes are fine


def test_a_data_problem_after_the_run_folder_was_made_leaves_no_empty_folder(tmp_path):
    empty = tmp_path / "no_photos"
    empty.mkdir()
    out = tmp_path / "run"
    res = runner.invoke(app, ["train", "--train-dir", str(empty), "--synthetic", "denoise", "--set", "model.n_feat=8",
                              "--iters", "1", "--device", "cpu", "-q", "--out", str(out)])
    assert res.exit_code in (1, 2) and "Traceback" not in res.output, res.output
    assert not out.exists()
