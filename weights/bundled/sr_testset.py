"""Make the bicubic super-resolution test set the bundled SR model is scored on: Set14 + McMaster.

Usage (from the repository root):  python weights/bundled/sr_testset.py OUT_DIR [--data ../shared/data]

Writes ``OUT_DIR/HR/<set>_<name>.png`` and ``OUT_DIR/LR_bicubic/X{2,3,4}/<set>_<name>x{s}.png``, the layout
``mirnet benchmark --dataset realsr --scale s`` reads. The HR image is cropped to a multiple of 12 (so one HR
serves every factor); the LR image is PIL's antialiased bicubic reduction (Keys a = −0.5, like MATLAB's
``imresize``), saved as 8-bit PNG. Grayscale images (Set14's bridge) are expanded to RGB first.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

SETS = ("set14", "mcmaster")
SCALES = (2, 3, 4)


def make(out: Path, data: Path) -> int:
    count = 0
    for name in SETS:
        for path in sorted((data / name).glob("*.png")):
            img = Image.open(path).convert("RGB")
            w, h = img.size
            hr = img.crop((0, 0, w - w % 12, h - h % 12))
            stem = f"{name}_{path.stem}"
            (out / "HR").mkdir(parents=True, exist_ok=True)
            hr.save(out / "HR" / f"{stem}.png")
            for s in SCALES:
                lr = hr.resize((hr.width // s, hr.height // s), Image.BICUBIC)
                folder = out / "LR_bicubic" / f"X{s}"
                folder.mkdir(parents=True, exist_ok=True)
                lr.save(folder / f"{stem}x{s}.png")
            assert np.asarray(hr).ndim == 3
            count += 1
    return count


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--data", type=Path, default=Path("../shared/data"))
    args = ap.parse_args()
    print(f"{make(args.out, args.data)} images → {args.out}")


if __name__ == "__main__":
    main()
