"""Colour-cast check of a low-light enhancer on real night photos that have no ground truth (DICM, LIME, …).

Usage (from the repository root):

    python weights/bundled/night_check.py FOLDER [FOLDER …] [--model mirnet_v2-nf16-lowlight]
        [--max-side 512] [--json night.json] [--sheet sheet.jpg] [--sheet-rows 4] [--names 10,1090,…]

Each photo is reduced to ``--max-side`` pixels (area interpolation; speed) and enhanced by the model and by the
CLAHE + gamma baseline (``mirnet benchmark --baseline clahe-gamma``). Per output (8-bit):

* ``saturation``: mean HSV saturation, ``(max − min) / max`` per pixel (0 where max = 0) — over-saturated
  outputs score high;
* ``clipped``: fraction of pixels with a channel at 255 (blown lights and skies);
* ``tint``: how much further from neutral grey the mean chromaticity ``c = (R, G, B) / (R + G + B)`` of the output
  is than the input's, ``100 · (‖c_out − ⅓‖ − ‖c_in − ⅓‖)`` — positive when the output is more tinted than the
  photo (an invented orange or purple cast), near 0 when it keeps the photo's colour, negative when it neutralises;
* ``brightness``: mean of the output (0–1);
* ``p5_luma``: the 5th percentile of luma (BT.601, 0–1): a night sky must stay dark (issue 19: ≤ 0.10 where the
  photo's own is ≤ 0.02);
* ``a``, ``b``: mean CIELAB a* and b* (OpenCV's 8-bit Lab, shifted back to signed units): a colour cast shows as
  a shift from the photo's own (issue 19: within 3).

``--teacher FILE`` adds a distillation teacher (e.g. IAT) as a fourth column. Writes the per-image figures and
their means as JSON, and a contact sheet (input | model | CLAHE + gamma [| teacher]) of the first
``--sheet-rows`` photos as JPEG, and prints issue 19's night-photo checks twice: over every photo (as if
``mirnet enhance --force`` were given) and as the tool runs, without the photos its well-exposed guard skips (mean
brightness above 0.25; each photo's ``tool_skips`` says why).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

EXTENSIONS = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"}


def metrics(out: np.ndarray, inp: np.ndarray) -> dict[str, float]:
    """The no-reference figures of one 8-bit-quantised output (H×W×3 float in [0, 1]) against its input."""
    o8 = np.round(np.clip(out, 0, 1) * 255.0)
    mx, mn = o8.max(axis=2), o8.min(axis=2)
    sat = np.where(mx > 0, (mx - mn) / np.maximum(mx, 1e-6), 0.0)

    def tint(a: np.ndarray) -> float:
        m = a.reshape(-1, 3).mean(axis=0)
        return float(np.linalg.norm(m / max(float(m.sum()), 1e-6) - 1.0 / 3.0))

    import cv2

    luma = np.clip(out, 0, 1) @ np.array([0.299, 0.587, 0.114], np.float32)
    lab = cv2.cvtColor(o8.astype(np.uint8), cv2.COLOR_RGB2LAB).reshape(-1, 3).astype(np.float64)
    return {"saturation": float(sat.mean()), "clipped": float((o8 >= 255).any(axis=2).mean()),
            "tint": 100.0 * (tint(out) - tint(inp)), "brightness": float(out.mean()),
            "p5_luma": float(np.percentile(luma, 5)), "a": float(lab[:, 1].mean() - 128.0),
            "b": float(lab[:, 2].mean() - 128.0)}


def _load(path: Path, max_side: int) -> tuple[np.ndarray, str | None]:
    """The photo reduced to ``max_side`` pixels, and why ``mirnet enhance --task lowlight`` would skip it (or None):
    the tool's own well-exposed guard, on the photo at its own size as the tool reads it."""
    import cv2

    from mirnet_cli.io.images import read_image
    from mirnet_cli.restore.tasks import task_for

    img = read_image(path).pixels[..., :3].astype(np.float32)
    skip = task_for("enhance", task="lowlight").check(img)
    h, w = img.shape[:2]
    scale = max_side / max(h, w)
    if scale < 1:
        img = cv2.resize(img, (max(4, round(w * scale)), max(4, round(h * scale))), interpolation=cv2.INTER_AREA)
    return np.clip(img, 0, 1), skip


def run(folders: list[Path], model_name: str, max_side: int, teacher_path: Path | None = None,
        names: set[str] | None = None) -> tuple[list[dict], list[tuple[np.ndarray, ...]]]:
    import torch

    from mirnet_cli import load_model
    from mirnet_cli.benchmark.baselines import make_baseline
    from mirnet_cli.engine.inference import InferenceEngine

    net = InferenceEngine(load_model(model_name), device="cpu", precision="fp32", tile=0)
    base = make_baseline("clahe-gamma")
    teacher = None
    if teacher_path is not None:
        from mirnet_cli.teachers import load_teacher

        teacher = load_teacher(teacher_path)
    rows, images = [], []
    for folder in folders:
        for path in sorted(p for p in folder.iterdir() if p.suffix.lower() in EXTENSIONS
                           and (names is None or p.stem in names)):
            inp, skip = _load(path, max_side)
            out = np.clip(net.restore(inp), 0, 1)
            with torch.no_grad():
                ref = base(torch.from_numpy(inp.transpose(2, 0, 1)).unsqueeze(0))[0].permute(1, 2, 0).numpy()
            row = {"name": f"{folder.name}/{path.name}", "tool_skips": skip, "input": metrics(inp, inp),
                   "model": metrics(out, inp), "clahe-gamma": metrics(ref, inp)}
            shown = [inp, out, ref]
            if teacher is not None:
                taught = teacher(torch.from_numpy(inp.transpose(2, 0, 1)).unsqueeze(0))[0].permute(1, 2, 0).numpy()
                row["teacher"] = metrics(taught, inp)
                shown.append(taught)
            rows.append(row)
            images.append(tuple(shown))
    return rows, images


def contact_sheet(images: list[tuple[np.ndarray, ...]], path: Path, rows: int, width: int = 240) -> None:
    """Rows of input | model | baseline, each tile ``width`` pixels wide; JPEG (quality 88) unless ``path`` ends in
    ``.png``."""
    import cv2

    lines = []
    for triple in images[:rows]:
        tiles = []
        for img in triple:
            h, w = img.shape[:2]
            tiles.append(cv2.resize(img, (width, round(h * width / w)), interpolation=cv2.INTER_AREA))
        height = min(t.shape[0] for t in tiles)
        lines.append(np.concatenate([t[:height] for t in tiles], axis=1))
    sheet = np.concatenate(lines, axis=0)
    bgr = np.round(np.clip(sheet, 0, 1)[..., ::-1] * 255).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    params = [] if path.suffix.lower() == ".png" else [cv2.IMWRITE_JPEG_QUALITY, 88]
    if not cv2.imwrite(str(path), bgr, params):
        raise SystemExit(f"{path}: could not write the contact sheet")


def targets(rows: list[dict], who: str = "model", as_run: bool = False) -> dict[str, float]:
    """Issue 19's night-photo checks for ``who``: dark skies stay dark, no cast, no more clipping than the teacher.

    ``as_run``: only the photos ``mirnet enhance --task lowlight`` processes; it skips a well-exposed photo (mean
    brightness above 0.25, e.g. a backlit daytime shot whose shadows are black) and leaves it as it is, unless
    ``--force``. Without ``as_run`` every photo counts, as if ``--force`` were given.
    """
    rows = [r for r in rows if not (as_run and r.get("tool_skips"))]
    dark = [r for r in rows if r["input"]["p5_luma"] <= 0.02]
    nan = float("nan")
    out = {
        "photos": len(rows),
        "dark_photos": len(dark),
        "dark_p5_luma_max": max((r[who]["p5_luma"] for r in dark), default=nan),
        "dark_p5_luma_mean": float(np.mean([r[who]["p5_luma"] for r in dark])) if dark else nan,
        "mean_da": float(np.mean([r[who]["a"] - r["input"]["a"] for r in rows])) if rows else nan,
        "mean_db": float(np.mean([r[who]["b"] - r["input"]["b"] for r in rows])) if rows else nan,
        "clipped": float(np.mean([r[who]["clipped"] for r in rows])) if rows else nan,
    }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folders", type=Path, nargs="+")
    ap.add_argument("--model", default="mirnet_v2-nf16-lowlight")
    ap.add_argument("--max-side", type=int, default=512)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--sheet", type=Path)
    ap.add_argument("--sheet-rows", type=int, default=4)
    ap.add_argument("--teacher", type=Path, default=None, help="a teacher file (e.g. IAT) shown as a 4th column")
    ap.add_argument("--names", default=None,
                    help="only the photos with these file stems (comma-separated), e.g. a training folder's held-out "
                         "photos: the black-level check of a training recipe's own validation")
    args = ap.parse_args()
    names = None if args.names is None else {n.strip() for n in args.names.split(",") if n.strip()}
    rows, images = run(args.folders, args.model, args.max_side, args.teacher, names)
    if not rows:
        raise SystemExit("night_check: no photos to check (folders empty or --names matched none)")
    keys = ("saturation", "clipped", "tint", "brightness", "p5_luma", "a", "b")
    whos = ("input", "model", "clahe-gamma") + (("teacher",) if args.teacher else ())
    mean = {who: {k: float(np.mean([r[who][k] for r in rows])) for k in keys} for who in whos}
    print(f"{len(rows)} photos; mean saturation / clipped / tint / brightness / p5 luma / a* / b*:")
    for who, m in mean.items():
        print(f"  {who:12s} {m['saturation']:.3f} / {m['clipped']:.4f} / {m['tint']:+.2f} / {m['brightness']:.3f}"
              f" / {m['p5_luma']:.3f} / {m['a']:+.2f} / {m['b']:+.2f}")
    checks = {who: targets(rows, who) for who in whos if who != "input"}
    as_run = {who: targets(rows, who, as_run=True) for who in whos if who != "input"}
    skipped = sum(1 for r in rows if r.get("tool_skips"))
    for title, table in (("every photo (as with --force)", checks),
                         (f"as `mirnet enhance --task lowlight` runs ({skipped} of {len(rows)} skipped as well "
                          "exposed)", as_run)):
        print(f"issue 19 checks, {title}:")
        for who, t in table.items():
            print(f"  {who:12s} dark photos {t['dark_photos']}: p5 luma max {t['dark_p5_luma_max']:.3f} mean "
                  f"{t['dark_p5_luma_mean']:.3f}; Δa* {t['mean_da']:+.2f} Δb* {t['mean_db']:+.2f}; clipped "
                  f"{100 * t['clipped']:.2f} %")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"model": args.model, "max_side": args.max_side, "images": rows,
                                         "mean": mean, "targets": checks, "targets_as_run": as_run},
                                        indent=1) + "\n")
    if args.sheet:
        contact_sheet(images, args.sheet, args.sheet_rows)


if __name__ == "__main__":
    main()
