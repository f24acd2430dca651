"""``benchmark`` command through Typer's CliRunner on a private app (the lead registers it in app.py)."""

from __future__ import annotations

import csv
import json

import pytest
import typer
from typer.testing import CliRunner

from mirnet_cli.cli.commands import benchmark as benchmark_cmd
from tests.benchmark.conftest import make_pairs

app = typer.Typer()
app.command("benchmark")(benchmark_cmd.benchmark)
app.command("noop")(lambda: None)  # a second command keeps "benchmark" as a subcommand name
runner = CliRunner()


@pytest.fixture
def tiny_weights(tmp_path_factory):
    from mirnet_cli import build_model
    from mirnet_cli.loading.checkpoint import save_pretrained

    folder = tmp_path_factory.mktemp("w") / "tiny"
    save_pretrained(build_model("mirnet_v2", n_feat=16, n_MRB=1), folder)
    return folder


def test_quality_folder_json_csv(tmp_path, tiny_weights):
    make_pairs(tmp_path, "in", "gt", ["a", "b"], size=(24, 28))
    out_json, out_csv = tmp_path / "r.json", tmp_path / "r.csv"
    result = runner.invoke(
        app,
        [
            "benchmark",
            "--input-dir",
            str(tmp_path / "in"),
            "--target-dir",
            str(tmp_path / "gt"),
            "--weights",
            str(tiny_weights),
            "--device",
            "cpu",
            "--precision",
            "fp32",
            "--quiet",
            "--json",
            str(out_json),
            "--csv",
            str(out_csv),
            "--limit",
            "1",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "PSNR" in result.stdout and "folder" in result.stdout
    data = json.loads(out_json.read_text())
    # The shape: the dataset's result is the top level.
    assert set(data) >= {"dataset", "model", "protocol", "images", "mean"} and "speed" not in data
    assert data["dataset"] == "folder" and data["count"] == 1
    assert data["images"][0]["name"] == "a" and data["mean"]["psnr"] > 0
    rows = list(csv.DictReader(out_csv.open()))
    assert [r["name"] for r in rows] == ["a", "mean"]


def test_speed_with_random_architecture(tmp_path):
    out_json = tmp_path / "s.json"
    result = runner.invoke(
        app,
        [
            "benchmark",
            "--speed",
            "--model",
            "mirnet_v2",
            "--sizes",
            "16",
            "--repeats",
            "1",
            "--warmup",
            "0",
            "--large-mp",
            "0",
            "--device",
            "cpu",
            "--quiet",
            "--json",
            str(out_json),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "16x16" in result.stdout
    speed = json.loads(out_json.read_text())["speed"]
    assert speed["sizes"][0]["median_s"] > 0 and speed["parameters"] == 5_858_560


def test_errors_are_one_line(tmp_path, tiny_weights):
    result = runner.invoke(app, ["benchmark"])
    assert result.exit_code == 2 and "error: nothing to do" in result.output
    (tmp_path / "x").mkdir()
    result = runner.invoke(
        app,
        ["benchmark", "--dataset", "lol", "--data-dir", str(tmp_path / "x"), "--weights", str(tiny_weights)],
    )
    assert result.exit_code == 2
    assert (
        "error: lol:" in result.output
        and "low/ + high/" in result.output
        and "Traceback" not in result.output
    )
    result = runner.invoke(app, ["benchmark", "--speed", "--model", "mirnet_v2", "--sizes", "a,b"])
    assert result.exit_code == 2 and "--sizes" in result.output
    make_pairs(tmp_path / "lol", "low", "high", ["1"])
    result = runner.invoke(
        app, ["benchmark", "--dataset", "lol", "--data-dir", str(tmp_path / "lol"), "--model", "mirnet_v2"]
    )
    assert result.exit_code == 2 and "error: --model mirnet_v2 builds a randomly initialised" in result.output


def test_paper_metrics_matching():
    from types import SimpleNamespace

    entry = SimpleNamespace(paper_metrics={"dataset": "MIT-Adobe FiveK", "psnr": 23.97, "ssim": 0.931})
    assert benchmark_cmd.paper_metrics_for(entry, "fivek")["psnr"] == 23.97
    assert benchmark_cmd.paper_metrics_for(entry, "lol") is None
    assert benchmark_cmd.paper_metrics_for(entry, "folder") is None
    assert benchmark_cmd.paper_metrics_for(None, "fivek") is None


def test_default_model_choice_is_one_line_when_unavailable(tmp_path):
    # Offline (conftest sets HF_HUB_OFFLINE) with an empty cache: the default chain either falls back to a
    # bundled model (exit 0) or fails with one line (exit 2); never a traceback.
    make_pairs(tmp_path, "low", "high", ["1"], size=(16, 16))
    result = runner.invoke(
        app,
        [
            "benchmark",
            "--dataset",
            "lol",
            "--data-dir",
            str(tmp_path),
            "--device",
            "cpu",
            "--precision",
            "fp32",
        ],
    )
    assert result.exit_code in (0, 2), result.output
    assert "Traceback" not in result.output
    if result.exit_code == 2:
        assert "error:" in result.output
    else:
        assert "PSNR" in result.stdout
