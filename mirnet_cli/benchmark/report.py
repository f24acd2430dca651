"""Turning benchmark results into a terminal table, JSON and CSV."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any

__all__ = ["format_quality_table", "format_speed_table", "jsonable", "write_csv", "write_json"]

_METRIC_ORDER = ("psnr", "ssim", "mae", "lpips")


def jsonable(obj: Any) -> Any:
    """Copy of ``obj`` that strict JSON accepts: non-finite floats become ``None`` (PSNR of identical images is
    ``inf``), paths and other objects become strings."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if obj is None or isinstance(obj, (str, int, bool)):
        return obj
    if hasattr(obj, "item"):  # numpy scalars
        return jsonable(obj.item())
    return str(obj)


def write_json(data: Any, path: str | Path) -> Path:
    """Write results as indented strict JSON (see :func:`jsonable`), atomically."""
    from ..io.atomic import atomic_write_bytes

    text = json.dumps(jsonable(data), indent=2, allow_nan=False) + "\n"
    return atomic_write_bytes(Path(path).expanduser(), text.encode("utf-8"))


def _metric_columns(records: list[dict[str, Any]]) -> list[str]:
    present = {k for r in records for k in r}
    cols = [m for m in _METRIC_ORDER if m in present]
    cols += [f"input_{m}" for m in _METRIC_ORDER if f"input_{m}" in present]
    return cols


def write_csv(results: dict[str, Any] | list[dict[str, Any]], path: str | Path) -> Path:
    """One row per image (``dataset, name, group, height, width, seconds, psnr, ssim, …, input_psnr, …``) plus one
    ``name = "mean"`` row per dataset (and ``"mean:<group>"`` rows for DPDD groups). Written atomically."""
    from ..io.atomic import atomic_write_bytes

    runs = results if isinstance(results, list) else [results]
    all_records = [r for run in runs for r in run.get("images", [])]
    metric_cols = _metric_columns(all_records)
    header = ["dataset", "name", "group", "height", "width", "seconds", *metric_cols]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)

    def cell(value: Any) -> Any:
        if isinstance(value, float):
            return "inf" if math.isinf(value) else f"{value:.6f}"
        return "" if value is None else value

    for run in runs:
        for rec in run.get("images", []):
            writer.writerow([run.get("dataset"), *(cell(rec.get(c)) for c in header[1:])])
        mean = run.get("mean", {})
        writer.writerow(
            [run.get("dataset"), "mean", "", "", "", "", *(cell(mean.get(c)) for c in metric_cols)]
        )
        for group, values in (run.get("groups") or {}).items():
            writer.writerow(
                [
                    run.get("dataset"),
                    f"mean:{group}",
                    group,
                    "",
                    "",
                    "",
                    *(cell(values.get(c)) for c in metric_cols),
                ]
            )
    return atomic_write_bytes(Path(path).expanduser(), buf.getvalue().encode("utf-8"))


def _fmt(metric: str, value: Any) -> str:
    if not isinstance(value, (int, float)):
        return "-"
    if math.isinf(value):
        return "inf"
    return f"{value:.2f}" if metric == "psnr" else f"{value:.4f}"


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(h).ljust(w) for h, w in zip(header, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    for r in rows:
        lines.append(
            "  ".join(
                str(c).rjust(w) if i else str(c).ljust(w)
                for i, (c, w) in enumerate(zip(r, widths, strict=True))
            )
        )
    return "\n".join(lines)


def format_quality_table(runs: list[dict[str, Any]]) -> str:
    """Mean metrics per dataset (and DPDD group), with the input baseline and the paper's numbers beside them.

    Columns: ``dataset  n  PSNR  SSIM  [MAE  LPIPS]  input PSNR  input SSIM  paper PSNR  paper SSIM``.
    """
    metrics = [m for m in _METRIC_ORDER if any(m in run.get("mean", {}) for run in runs)]
    if not metrics:
        return "\n".join(
            f"{run.get('dataset')}: {run.get('count', 0)} image(s) processed, no ground truth" for run in runs
        )
    header = ["dataset", "n", *(m.upper() for m in metrics)]
    header += [f"input {m.upper()}" for m in ("psnr", "ssim") if m in metrics]
    header += ["paper PSNR", "paper SSIM"]
    rows: list[list[str]] = []
    for run in runs:
        paper = run.get("paper") or {}
        entries = [(run.get("dataset", "?"), run.get("count", 0), run.get("mean", {}))]
        group_counts: dict[str, int] = {}
        for rec in run.get("images", []):
            if "group" in rec:
                group_counts[rec["group"]] = group_counts.get(rec["group"], 0) + 1
        for group, values in (run.get("groups") or {}).items():
            entries.append((f"  {group}", group_counts.get(group, 0), values))
        for i, (label, n, values) in enumerate(entries):
            row = [str(label), str(n), *(_fmt(m, values.get(m)) for m in metrics)]
            row += [_fmt(m, values.get(f"input_{m}")) for m in ("psnr", "ssim") if m in metrics]
            row += [
                _fmt("psnr", paper.get("psnr")) if i == 0 else "",
                _fmt("ssim", paper.get("ssim")) if i == 0 else "",
            ]
            rows.append(row)
    return _table(header, rows)


def format_speed_table(result: dict[str, Any]) -> str:
    """Latency / throughput / memory per input size, then the large-photo line and the reference comparison."""
    header = ["size", "median ms", "MP/s", "plain ms", "speedup", "GFLOPs", "GFLOP/s", "peak MiB (+increase)"]
    rows = []
    for r in result.get("sizes", []):
        rows.append(
            [
                f"{r['height']}x{r['width']}",
                f"{r['median_s'] * 1000:.1f}",
                f"{r['megapixels_per_s']:.3f}",
                "-" if r.get("plain_median_s") is None else f"{r['plain_median_s'] * 1000:.1f}",
                "-" if r.get("speedup") is None else f"{r['speedup']:.2f}x",
                "-" if r.get("gflops") is None else f"{r['gflops']:.1f}",
                "-" if r.get("achieved_gflops_per_s") is None else f"{r['achieved_gflops_per_s']:.1f}",
                "-"
                if r.get("peak_memory_mib") is None
                else f"{r['peak_memory_mib']:.0f} (+{r.get('memory_increase_mib', 0.0):.0f})",
            ]
        )
    lines = [
        f"model {result.get('model')}  params {result.get('parameters', 0) / 1e6:.3f} M  "
        f"device {result.get('device')}  precision {result.get('precision')}  backend {result.get('backend', 'torch')}"
        + (f"  threads {result['threads']}" if result.get("threads") else ""),
        _table(header, rows),
    ]
    if any(r.get("speedup") is not None for r in result.get("sizes", [])):
        lines.append("median ms: the default path (the engine); plain: the same weights in eager fp32 NCHW as the "
                     "authors wrote it, timed in alternating runs; speedup = plain / default")
    if result.get("precision_reason"):
        lines.append(f"precision {result.get('precision_asked', 'auto')}: {result['precision_reason']}")
    for r in result.get("speedup_by_threads") or []:
        notes = [n for n, on in (("PyTorch's default", r.get("default")), ("this run's", r.get("used"))) if on]
        lines.append(f"speed-up over the authors' code at {r['size']}x{r['size']}, {r['threads']} thread"
                     f"{'s' if r['threads'] != 1 else ''}{' (' + ', '.join(notes) + ')' if notes else ''}: "
                     f"{r['speedup']:.2f}x ({r['plain_median_s'] * 1000:.1f} -> {r['median_s'] * 1000:.1f} ms)")
    kinds = {r.get("memory_kind") for r in result.get("sizes", [])}
    if "process_rss" in kinds:
        lines.append(
            "memory: peak resident set size of the whole process during one pass (+ increase over before it)"
        )
    elif "cuda_allocated" in kinds:
        lines.append(
            "memory: peak CUDA memory allocated by tensors during one pass (+ increase over before it)"
        )
    large = result.get("large")
    if large:
        lines.append(
            f"large photo {large['width']}x{large['height']} ({large['megapixels']:.2f} MP) through the engine: "
            f"{large['seconds']:.2f} s, peak {large.get('peak_memory_mib') or 0:.0f} MiB"
        )
        if large.get("plan_text"):
            lines.append(f"  plan: {large['plan_text']}")
        if large.get("whole_seconds") is not None:
            lines.append(
                f"  whole image (tile 0): {large['whole_seconds']:.2f} s; tiled/whole time "
                f"{large['tiled_over_whole_time']:.3f} (CPU time {large['tiled_over_whole_cpu_time']:.3f}); tiled vs "
                f"whole output {large['tiled_vs_whole_psnr_8bit']:.1f} dB PSNR (8-bit)"
            )
    ref = result.get("reference")
    if ref:
        if ref.get("available"):
            for r in ref.get("sizes", []):
                lines.append(
                    f"reference ({ref.get('implementation')}) {r['height']}x{r['width']}: {r['median_s'] * 1000:.1f} ms "
                    f"vs ours {r.get('ours_median_s', math.nan) * 1000:.1f} ms (alternating runs), "
                    f"ours/reference time ratio {r['ratio']:.3f}"
                )
        else:
            lines.append(f"reference: {ref.get('message')}")
    return "\n".join(lines)
