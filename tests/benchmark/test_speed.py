"""Speed runner on the CPU with tiny models: fields present and positive (no timing assertions)."""

from __future__ import annotations

import math

import pytest

from mirnet_cli.benchmark.report import format_speed_table
from mirnet_cli.benchmark.speed import count_flops, count_parameters, load_reference_model, run_speed
from mirnet_cli.errors import MirnetError
from tests.benchmark.conftest import TinyConv


def test_speed_fields_cpu_tiny_conv():
    res = run_speed(
        TinyConv(),
        sizes=[32, 16],
        repeats=2,
        warmup=1,
        device="cpu",
        precision="fp32",
        large_mp=0.005,
        progress=False,
    )
    assert res["device"] == "cpu" and res["precision"] == "float32"
    assert res["parameters"] == 3 * 3 * 3 * 3 + 3
    assert [r["height"] for r in res["sizes"]] == [32, 16]
    for r in res["sizes"]:
        for key in (
            "median_s",
            "min_s",
            "mean_s",
            "megapixels_per_s",
            "gflops",
            "achieved_gflops_per_s",
            "peak_memory_mib",
        ):
            assert r[key] > 0, key
        assert "memory_increase_mib" in r and r["memory_kind"] == "process_rss"
    # conv 3->3, 3x3 kernel: 2 * 27 * 3 FLOPs per output pixel
    assert res["sizes"][0]["gflops"] == pytest.approx(2 * 27 * 3 * 32 * 32 / 1e9)
    large = res["large"]
    assert large["megapixels"] == pytest.approx(0.005, rel=0.05) and large["seconds"] > 0
    assert res["reference"] is None
    text = format_speed_table(res)
    assert "32x32" in text and "large photo" in text


def test_speed_tiny_mirnet_v2_and_reference_message():
    from mirnet_cli import build_model

    model = build_model("mirnet_v2", n_feat=16, n_MRB=1)
    res = run_speed(
        model,
        sizes=[32],
        repeats=1,
        warmup=0,
        device="cpu",
        precision="fp32",
        large_mp=0,
        reference=True,
        progress=False,
    )
    assert res["parameters"] == count_parameters(model) > 0
    assert res["large"] is None
    ref = res["reference"]
    try:
        import spandrel_extra_arches  # noqa: F401
    except ImportError:
        assert ref["available"] is False and "cannot be imported" in ref["message"]
        assert "is missing; pip install spandrel spandrel_extra_arches" in ref["message"]
        assert "reference: the reference implementation cannot be imported" in format_speed_table(res)
    else:  # pragma: no cover - optional package
        assert ref["available"] and ref["sizes"][0]["ratio"] > 0
    assert (
        next(model.parameters()).dtype.is_floating_point
        and next(model.parameters()).dtype == __import__("torch").float32
    )


def test_reference_only_for_v2():
    model, message = load_reference_model(TinyConv())
    assert model is None and "MIRNet-v2" in message


def test_count_flops_and_bad_sizes():
    import torch

    assert count_flops(TinyConv(), torch.zeros(1, 3, 8, 8)) == 2 * 27 * 3 * 64
    with pytest.raises(MirnetError, match="multiple of 4"):
        run_speed(TinyConv(), sizes=[30], repeats=1, warmup=0, device="cpu", large_mp=0, progress=False)
    with pytest.raises(ValueError):
        run_speed(TinyConv(), sizes=[32], repeats=0, device="cpu", large_mp=0, progress=False)
    assert math.isfinite(
        run_speed(TinyConv(), sizes=[4], repeats=1, warmup=0, device="cpu", large_mp=0, progress=False)[
            "sizes"
        ][0]["median_s"]
    )


def test_mirnet_v2_flops_match_paper_140g_macs():
    # MIRNet-v2 paper: 5.9 M parameters and 140 G "FLOPs" (multiply-adds) at 256x256; FlopCounterMode counts
    # 2 FLOPs per multiply-add. Counted on the meta device: shapes only, no arithmetic.
    import torch

    from mirnet_cli import build_model

    with torch.device("meta"):
        model = build_model("mirnet_v2")
    assert count_parameters(model) == 5_858_560
    gmacs = count_flops(model, torch.empty(1, 3, 256, 256, device="meta")) / 2 / 1e9
    assert gmacs == pytest.approx(140, abs=1.0)


def test_reference_is_timed_alternately_with_ours(monkeypatch):
    import copy

    import mirnet_cli.benchmark.speed as speed

    calls = []

    class Counting(TinyConv):
        def forward(self, x):
            calls.append(self.tag)
            return super().forward(x)

    ours = Counting()
    ours.tag = "ours"
    ref = copy.deepcopy(ours)
    ref.tag = "ref"
    monkeypatch.setattr(speed, "load_reference_model", lambda model: (ref, "fake reference"))
    res = run_speed(ours, sizes=[16], repeats=3, warmup=1, device="cpu", precision="fp32", large_mp=0,
                    reference=True, progress=False)
    row = res["reference"]["sizes"][0]
    assert res["reference"]["available"] and row["median_s"] > 0 and row["ours_median_s"] > 0
    assert row["ratio"] == pytest.approx(row["ours_median_s"] / row["median_s"])
    # The pair phase alternates (1 warm-up + 3 timed rounds), rather than timing one model after the other.
    assert "ours, ref, ours, ref, ours, ref, ours, ref" in ", ".join(calls)
    assert "vs ours" in format_speed_table(res)


def test_speedup_at_one_thread_and_the_default(monkeypatch):
    """The first size is timed again at 1 thread and at PyTorch's default; the report names both and the reason."""
    import torch

    from mirnet_cli import build_model

    model = build_model("mirnet_v2", n_feat=16, n_MRB=1)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(2)  # "PyTorch's default" for this test, whatever the machine has
        res = run_speed(model, sizes=[16], repeats=1, warmup=0, device="cpu", precision="auto", large_mp=0,
                        progress=False, threads=1)
    finally:
        torch.set_num_threads(threads)
    rows = res["speedup_by_threads"]
    assert [r["threads"] for r in rows] == [1, 2]
    assert rows[0]["used"] and not rows[0]["default"] and rows[1]["default"] and not rows[1]["used"]
    assert all(r["speedup"] > 0 and r["plain_median_s"] > 0 for r in rows)
    assert rows[0]["speedup"] == res["sizes"][0]["speedup"]  # the run's own thread count: the table's figure
    assert res["precision_asked"] == "auto" and res["precision_reason"].startswith(("fp32 (", "bf16 ("))
    text = format_speed_table(res)
    assert "precision auto: " + res["precision_reason"] in text
    assert "16x16, 1 thread (this run's): " in text and "16x16, 2 threads (PyTorch's default): " in text


def test_benchmark_speed_cli_prints_thread_speedups_and_precision_reason():
    import typer
    from typer.testing import CliRunner

    from mirnet_cli.cli.commands import benchmark as benchmark_cmd

    app = typer.Typer()
    app.command("benchmark")(benchmark_cmd.benchmark)
    app.command("noop")(lambda: None)
    result = CliRunner().invoke(app, ["benchmark", "--speed", "--model", "mirnet_v2", "--sizes", "16", "--repeats",
                                      "1", "--warmup", "0", "--large-mp", "0", "--device", "cpu", "--threads", "1",
                                      "--quiet"])
    assert result.exit_code == 0, result.output
    assert "precision auto: " in result.stdout
    assert "speed-up over the authors' code at 16x16, 1 thread (" in result.stdout
