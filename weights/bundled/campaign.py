"""The bundled models' training campaign: resumable state in the repository, one command to resume them all.

Each bundled model in training has a folder ``weights/campaign/<task>/`` committed with the project:

* ``state.pt``: the newest training checkpoint of ``mirnet train`` (weights, Adam state, RNG, iteration: a few MB),
  so any machine continues exactly where the last session stopped;
* ``train_config.json`` (+ ``teacher.json``): the run's resolved settings and the teacher's provenance;
* ``curve.csv``: every validation of the campaign (iteration, PSNR, SSIM, training seconds, machine, date), and
  ``curve.png``, the learning curve drawn from it.

Usage (from the repository root, ``$MIRNET_TRAIN_DATA`` laid out by weights/bundled/prepare_data.py):

    python weights/bundled/campaign.py status
    python weights/bundled/campaign.py start TASK RECIPE            # a new model: first run of its recipe
    python weights/bundled/campaign.py resume --minutes 60 [TASK…]  # all (or some) models, in parallel, then save
    python weights/bundled/campaign.py save [TASK…]                 # runs/campaign/<task> → weights/campaign/<task>

``resume`` restores ``runs/campaign/<task>/`` from the committed state when the run folder is missing or older,
runs ``mirnet train --out runs/campaign/<task> --resume`` for every task at once (one thread each on the CPU; pass
``--device cuda`` on a GPU machine), stops them with SIGTERM after ``--minutes`` (the training loop writes a
checkpoint at the next safe point) and saves. A finished run is extended by ``--extend`` iterations.
"""

from __future__ import annotations

import argparse
import csv
import datetime as _dt
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STATE = ROOT / "weights" / "campaign"
RUNS = ROOT / "runs" / "campaign"
CURVE_FIELDS = ["iteration", "psnr", "ssim", "seconds", "machine", "date"]


def machine() -> str:
    """A short description of where training ran: the GPU, or the CPU model and its bf16 units."""
    try:
        import torch

        if torch.cuda.is_available():
            return f"GPU {torch.cuda.get_device_name(0)}"
    except Exception:  # noqa: BLE001 - a description only
        pass
    name, flags = platform.processor() or "CPU", set()
    try:
        text = Path("/proc/cpuinfo").read_text()
        m = re.search(r"model name\s*:\s*(.+)", text)
        name = m.group(1).strip() if m else name
        m = re.search(r"flags\s*:\s*(.+)", text)
        flags = set(m.group(1).split()) if m else set()
    except OSError:
        pass
    units = "AMX" if "amx_bf16" in flags else ("AVX512-BF16" if "avx512_bf16" in flags else "no native bf16")
    return f"CPU {name} ({os.cpu_count()} cores, {units})"


def tasks(names: list[str] | None) -> list[str]:
    found = sorted(p.name for p in STATE.iterdir() if (p / "state.pt").is_file()) if STATE.is_dir() else []
    if not names:
        return found
    missing = [n for n in names if n not in found and not (RUNS / n).is_dir()]
    if missing:
        raise SystemExit(f"no campaign state or run for {', '.join(missing)} (start it first)")
    return names


def _iteration(path: Path) -> int:
    import torch

    return int(torch.load(path, map_location="cpu", weights_only=True)["iteration"])


def newest_checkpoint(run: Path) -> Path | None:
    ckpts = sorted((run / "checkpoints").glob("iter_*.pt"))
    return ckpts[-1] if ckpts else None


def restore(task: str) -> None:
    """runs/campaign/<task> from the committed state, unless the run folder already holds that iteration or later."""
    state, run = STATE / task / "state.pt", RUNS / task
    if not state.is_file():
        return
    have = newest_checkpoint(run)
    it = _iteration(state)
    if have is not None and _iteration(have) >= it:
        return
    (run / "checkpoints").mkdir(parents=True, exist_ok=True)
    shutil.copy2(state, run / "checkpoints" / f"iter_{it:08d}.pt")
    for name in ("train_config.json", "teacher.json"):
        if (STATE / task / name).is_file():
            shutil.copy2(STATE / task / name, run / name)
    print(f"{task}: restored iteration {it} from {state}")


def _val_rows(run: Path) -> list[dict]:
    log = run / "log.jsonl"
    if not log.is_file():
        return []
    rows = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    return [r for r in rows if r.get("kind") == "val"]


def save(task: str, where: str | None = None) -> None:
    run, dest = RUNS / task, STATE / task
    ckpt = newest_checkpoint(run)
    if ckpt is None:
        print(f"{task}: no checkpoint in {run}; nothing saved")
        return
    dest.mkdir(parents=True, exist_ok=True)
    tmp = dest / "state.pt.tmp"
    shutil.copy2(ckpt, tmp)
    os.replace(tmp, dest / "state.pt")
    for name in ("train_config.json", "teacher.json"):
        if (run / name).is_file():
            shutil.copy2(run / name, dest / name)
    # The curve keeps every validation ever made; rows of this machine are added once (by iteration).
    curve = dest / "curve.csv"
    old = list(csv.DictReader(curve.open())) if curve.is_file() else []
    seen = {int(r["iteration"]) for r in old}
    today, here = _dt.date.today().isoformat(), where or machine()
    new = [{"iteration": r["iteration"], "psnr": f"{r['psnr']:.4f}", "ssim": f"{r['ssim']:.5f}",
            "seconds": f"{r['seconds']:.0f}", "machine": here, "date": today}
           for r in _val_rows(run) if int(r["iteration"]) not in seen]
    rows = sorted(old + new, key=lambda r: int(r["iteration"]))
    tmp = curve.with_suffix(".csv.tmp")  # the committed curve is never left half-written
    with tmp.open("w", newline="") as f:
        writer = csv.DictWriter(f, CURVE_FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, curve)
    draw_curve(task, rows, dest / "curve.png")
    print(f"{task}: saved iteration {_iteration(dest / 'state.pt')} ({len(new)} new validation rows)")


def draw_curve(task: str, rows: list[dict], path: Path) -> None:
    """Validation PSNR against iteration (one colour per machine), as a small PNG with PIL."""
    from PIL import Image, ImageDraw

    w, h, pad = 640, 360, 48
    img = Image.new("RGB", (w, h), "white")
    d = ImageDraw.Draw(img)
    d.text((pad, 8), f"{task}: validation PSNR (dB) vs iteration", fill="black")
    if not rows:
        img.save(path)
        return
    xs = [int(r["iteration"]) for r in rows]
    ys = [float(r["psnr"]) for r in rows]
    x0, x1 = 0, max(xs) or 1
    y0, y1 = min(ys) - 0.2, max(ys) + 0.2
    sx = lambda x: pad + (w - 2 * pad) * (x - x0) / (x1 - x0)  # noqa: E731
    sy = lambda y: h - pad - (h - 2 * pad) * (y - y0) / (y1 - y0)  # noqa: E731
    d.rectangle([pad, pad, w - pad, h - pad], outline="grey")
    for k in range(5):
        yv = y0 + (y1 - y0) * k / 4
        d.text((4, sy(yv) - 6), f"{yv:.2f}", fill="black")
        xv = x0 + (x1 - x0) * k / 4
        d.text((sx(xv) - 12, h - pad + 6), f"{xv:.0f}", fill="black")
    palette = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e"]
    machines = list(dict.fromkeys(r["machine"] for r in rows))
    pts = [(sx(x), sy(y)) for x, y in zip(xs, ys, strict=True)]
    d.line(pts, fill="#888888", width=1)
    for (px, py), r in zip(pts, rows, strict=True):
        c = palette[machines.index(r["machine"]) % len(palette)]
        d.ellipse([px - 3, py - 3, px + 3, py + 3], fill=c)
    for i, m in enumerate(machines):
        d.text((pad + 6, pad + 6 + 14 * i), m[:80], fill=palette[i % len(palette)])
    img.save(path)


def resume(names: list[str], minutes: float, extend: int, device: str | None) -> None:
    procs = []
    for task in names:
        restore(task)
        run = RUNS / task
        ckpt = newest_checkpoint(run)
        if ckpt is None:
            print(f"{task}: nothing to resume (start it with its recipe first)")
            continue
        cfg = json.loads((run / "train_config.json").read_text())
        total, it = int(cfg["schedule"]["iters"]), _iteration(ckpt)
        cmd = ["mirnet", "train", "--out", str(run), "--resume", "--quiet"]
        if it >= total:
            cmd += ["--iters", str(it + extend)]
        if device:
            cmd += ["--device", device, "--set", "threads=null", "--set", "data.workers=4"]
        log = (run / "campaign.log").open("a")
        print(f"{task}: iteration {it} → {max(total, it + extend) if it >= total else total}: {' '.join(cmd)}")
        procs.append((task, subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)))
    deadline = time.monotonic() + minutes * 60
    while procs and any(p.poll() is None for _, p in procs) and time.monotonic() < deadline:
        time.sleep(5)
    for _task, p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)  # the loop checkpoints at the next safe point
    for task, p in procs:
        try:
            p.wait(timeout=600)
        except subprocess.TimeoutExpired:
            p.kill()
        save(task)


def start(task: str, recipe: Path) -> None:
    out = RUNS / task
    cmd = ["mirnet", "train", "--config", str(recipe), "--out", str(out)]
    print(" ".join(cmd))
    code = subprocess.run(cmd, cwd=ROOT).returncode
    save(task)  # also after an interrupted run: its last checkpoint is the state to resume from
    if code:
        raise SystemExit(code)


def status() -> None:
    for task in tasks(None):
        rows = list(csv.DictReader((STATE / task / "curve.csv").open())) if (STATE / task / "curve.csv").is_file() else []
        best = max(rows, key=lambda r: float(r["psnr"])) if rows else None
        print(f"{task}: iteration {_iteration(STATE / task / 'state.pt')}"
              + (f", best validation {float(best['psnr']):.2f} dB at {best['iteration']}" if best else ""))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("status")
    p = sub.add_parser("start")
    p.add_argument("task")
    p.add_argument("recipe", type=Path)
    p = sub.add_parser("resume")
    p.add_argument("tasks", nargs="*")
    p.add_argument("--minutes", type=float, default=60.0)
    p.add_argument("--extend", type=int, default=2000, help="iterations added to a finished run")
    p.add_argument("--device", default=None, help="e.g. cuda (default: each run's own setting)")
    p = sub.add_parser("save")
    p.add_argument("tasks", nargs="*")
    p.add_argument("--machine", default=None, help="what to record as the machine (default: this one)")
    args = ap.parse_args(argv)
    if args.cmd == "status":
        status()
    elif args.cmd == "start":
        start(args.task, args.recipe)
    elif args.cmd == "resume":
        resume(tasks(args.tasks), args.minutes, args.extend, args.device)
    else:
        for task in tasks(args.tasks) if args.tasks else sorted(p.name for p in RUNS.iterdir() if p.is_dir()):
            save(task, args.machine)


if __name__ == "__main__":
    sys.exit(main())
