"""Contact sheet of real photos: input | model(s) | classical baseline | teacher, one row per photo, labelled.

Usage (from the repository root):

    python weights/bundled/contact_sheet.py OUT.jpg PHOTO [PHOTO …] --model NAME_OR_PATH [--model …]
        [--baseline nlmeans:h=25] [--teacher FILE [--teacher-sigma 50]] [--crop 256] [--width 256] [--scale 4]

Each photo is centre-cropped to ``--crop`` pixels (so noise and detail stay visible at 100 %), every column is
computed on that crop (models through the inference engine in fp32, baselines as ``mirnet benchmark`` runs them,
the teacher as ``mirnet train --teacher`` does) and shown ``--width`` pixels wide under a one-line label.
With ``--scale N`` (super-resolution) the crop is enlarged N times: the input column by pixel repetition, a bicubic
column as ``mirnet super-resolve`` upsamples before the network, and every model on that bicubic image.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def _crop(img: np.ndarray, size: int) -> np.ndarray:
    h, w = img.shape[:2]
    ch, cw = min(h, size), min(w, size)
    top, left = (h - ch) // 2, (w - cw) // 2
    return np.ascontiguousarray(img[top:top + ch, left:left + cw])


def columns(args: argparse.Namespace) -> list[tuple[str, object]]:
    import torch

    from mirnet_cli import load_model
    from mirnet_cli.benchmark.baselines import make_baseline
    from mirnet_cli.engine.inference import InferenceEngine

    cols: list[tuple[str, object]] = [("input", lambda x: x)]
    before = lambda x: x  # noqa: E731
    if args.scale > 1:
        from mirnet_cli.restore.tasks import upsample_bicubic

        n = args.scale
        cols = [(f"input (x{n} pixels)", lambda x: np.repeat(np.repeat(x, n, axis=0), n, axis=1))]
        before = lambda x: upsample_bicubic(x, n)  # noqa: E731
        cols.append((f"bicubic x{n}", before))
    for name in args.model:
        engine = InferenceEngine(load_model(name), device="cpu", precision="fp32", tile=0)
        cols.append((Path(name).name, lambda x, restore=engine.restore: restore(before(x))))

    def torch_fn(net):
        def run(x: np.ndarray) -> np.ndarray:
            with torch.no_grad():
                return net(torch.from_numpy(x.transpose(2, 0, 1)).unsqueeze(0))[0].permute(1, 2, 0).numpy()
        return run

    for spec in args.baseline:
        cols.append((spec, torch_fn(make_baseline(spec))))
    if args.teacher:
        from mirnet_cli.teachers import load_teacher

        teacher = load_teacher(args.teacher, sigma=args.teacher_sigma)
        label = f"teacher {teacher.architecture}" + (f" sigma {args.teacher_sigma:g}" if args.teacher_sigma else "")
        cols.append((label, torch_fn(teacher)))
    return cols


def main() -> None:
    import cv2

    from mirnet_cli.io.images import read_image

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("photos", type=Path, nargs="+")
    ap.add_argument("--model", action="append", default=[])
    ap.add_argument("--baseline", action="append", default=[])
    ap.add_argument("--teacher", type=Path)
    ap.add_argument("--teacher-sigma", type=float)
    ap.add_argument("--crop", type=int, default=256)
    ap.add_argument("--width", type=int, default=256)
    ap.add_argument("--scale", type=int, default=1, help="super-resolution factor (enlarge the crop N times)")
    args = ap.parse_args()
    cols = columns(args)
    rows = []
    for path in args.photos:
        x = _crop(read_image(path).pixels[..., :3].astype(np.float32), args.crop)
        tiles = []
        for label, fn in cols:
            y = np.clip(fn(x), 0, 1)
            h, w = y.shape[:2]
            tile = cv2.resize(y, (args.width, round(h * args.width / w)), interpolation=cv2.INTER_AREA)
            bar = np.full((18, args.width, 3), 255, np.uint8)
            cv2.putText(bar, f"{label}"[:34], (3, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
            tiles.append(np.concatenate([bar.astype(np.float32) / 255.0, tile], axis=0))
        height = min(t.shape[0] for t in tiles)
        rows.append(np.concatenate([t[:height] for t in tiles], axis=1))
        print(f"{path}: {len(cols)} columns")
    sheet = np.concatenate([r[:, : min(r.shape[1] for r in rows)] for r in rows], axis=0)
    bgr = np.round(sheet[..., ::-1] * 255).astype(np.uint8)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(args.out), bgr, [cv2.IMWRITE_JPEG_QUALITY, 90]):
        raise SystemExit(f"{args.out}: could not write")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
