"""How close tiled outputs are to the whole-image output, per --context mode (the README's table).

    python scripts/tiling_agreement.py --model mirnet_v2-nf16-lowlight --tiles 128,256 ../shared/data/lol/low/{665,669,748,778,780}.png
    python scripts/tiling_agreement.py --model mirnet_v2-nf16-denoise --tiles 128,256 ../shared/data/sidd/crops/noisy/NOISY_{0,1,3}.png

For each photo: the PSNR (dB) of the 8-bit output with ``--tile T --context MODE`` against the 8-bit output of the
whole image in one pass (``--tile 0``), on the CPU in fp32, and the extra compute each mode spent.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np


def psnr_8bit(a: np.ndarray, b: np.ndarray) -> float:
    a = np.round(np.clip(a, 0, 1) * 255)
    b = np.round(np.clip(b, 0, 1) * 255)
    mse = float(((a - b) ** 2).mean())
    return math.inf if mse == 0 else 10 * math.log10(255**2 / mse)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photos", nargs="+", type=Path)
    parser.add_argument("--model", default="mirnet_v2-nf16-lowlight", help="registry name or checkpoint")
    parser.add_argument("--tiles", default="128,256")
    parser.add_argument("--modes", default="tile,fast,full,auto")
    args = parser.parse_args(argv)

    from mirnet_cli.engine.inference import InferenceEngine
    from mirnet_cli.io.images import read_image
    from mirnet_cli.loading.checkpoint import load_model

    net = load_model(args.model)
    tiles = [int(t) for t in args.tiles.split(",")]
    modes = args.modes.split(",")
    columns = [f"{t}/{m}" for t in tiles for m in modes]
    print("photo".ljust(16) + "".join(c.rjust(12) for c in columns))
    worst = {c: math.inf for c in columns}
    for photo in args.photos:
        pixels = read_image(photo).pixels.astype(np.float32)
        whole = InferenceEngine(net, device="cpu", precision="fp32", tile=0).restore(pixels)
        row = []
        for t in tiles:
            for m in modes:
                engine = InferenceEngine(net, device="cpu", precision="fp32", tile=t, context=m)
                value = psnr_8bit(engine.restore(pixels), whole)
                worst[f"{t}/{m}"] = min(worst[f"{t}/{m}"], value)
                row.append(value)
        print(photo.name[:15].ljust(16) + "".join(f"{v:12.1f}" for v in row), flush=True)
    print("min".ljust(16) + "".join(f"{worst[c]:12.1f}" for c in columns))
    return 0


if __name__ == "__main__":
    sys.exit(main())
