"""Make docs/tiling-context.jpg: LoL photos through the bundled low-light model, whole and in 128-pixel tiles
with each --context mode. Usage: python docs/make_tiling_sheet.py 778 665 (ids of ../shared/data/lol/low)."""

import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from mirnet_cli.engine.inference import InferenceEngine
from mirnet_cli.loading.checkpoint import load_model

LOL = Path(__file__).resolve().parents[2] / "shared" / "data" / "lol" / "low"
net = load_model("mirnet_v2-nf16-lowlight")
rows = []
for name in sys.argv[1:]:
    img = np.asarray(Image.open(LOL / f"{name}.png").convert("RGB"), dtype=np.float32) / 255
    panels = [("input", img)]
    panels.append(("whole image", InferenceEngine(net, device="cpu", tile=0).restore(img)))
    for mode in ("tile", "fast", "full"):
        panels.append((f"--tile 128 --context {mode}", InferenceEngine(net, device="cpu", tile=128, context=mode).restore(img)))
    rows.append(panels)
w, h = 300, 200
sheet = Image.new("RGB", (w * len(rows[0]), (h + 18) * len(rows)), "white")
d = ImageDraw.Draw(sheet)
for r, panels in enumerate(rows):
    for c, (label, arr) in enumerate(panels):
        im = Image.fromarray((np.clip(arr, 0, 1) * 255).round().astype(np.uint8)).resize((w, h), Image.LANCZOS)
        sheet.paste(im, (c * w, r * (h + 18) + 18))
        d.text((c * w + 4, r * (h + 18) + 3), label, fill="black")
sheet.save(Path(__file__).with_name("tiling-context.jpg"), quality=85)
