"""bf16 against fp32 on real photos, per model: the README's bf16 quality table (issue 21's ≥ 45 dB bar).

    python scripts/bf16_quality.py --data ../shared/data --photos 3 --crop 512
    python scripts/bf16_quality.py --models mirnet_v2-nf16-denoise --json bf16.json

Each model restores real photos of its task through the inference engine (default tiling and global context) in
fp32 and in bf16 (autocast on the CPU; needs a CPU with native bf16), and the PSNR of the bf16 output against the
fp32 one is reported (outputs clamped to [0, 1], peak 1; per photo, then the minimum and the mean). Photos are
centre-cropped to ``--crop`` pixels per side to keep the full networks' runs short. The official architectures are
checked with the golden weights of ``../shared/golden`` (the authors' networks with random weights: no official
checkpoint is downloadable offline), on the same photos as the denoiser.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

#: model -> (photo folder under --data, how the photo is turned into the model's input)
TASKS = {
    "mirnet_v2-nf16-denoise": ("sidd/crops/noisy", "as is"),
    "mirnet_v2-nf16-lowlight": ("lol/low", "as is"),
    "mirnet_v2-nf16-contrast": ("fivek/input", "as is"),
    "mirnet_v2-nf16-sr": ("set14", "bicubic x2 down and up"),
    "mirnet_v2-nf16-oldphoto": ("kodak24", "as is"),
    "golden:v2_default": ("kodak24", "as is"),
    "golden:v1_nfeat16": ("kodak24", "as is"),
}


def _photos(folder: Path, count: int) -> list[Path]:
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg", ".bmp", ".tif"))
    step = max(1, len(files) // max(count, 1))
    return files[::step][:count]


def _load(path: Path, crop: int, how: str):
    import numpy as np
    from PIL import Image

    img = Image.open(path).convert("RGB")
    w, h = img.size
    cw, ch = min(w, crop), min(h, crop)
    left, top = (w - cw) // 2, (h - ch) // 2
    img = img.crop((left, top, left + cw, top + ch))
    if how.startswith("bicubic"):
        img = img.resize((cw // 2, ch // 2), Image.BICUBIC).resize((cw, ch), Image.BICUBIC)
    return np.asarray(img, dtype=np.float32) / 255.0


def _psnr(a, b) -> float:
    mse = float(((a - b) ** 2).mean())
    return math.inf if mse == 0 else 10 * math.log10(1.0 / mse)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data", type=Path)
    parser.add_argument("--golden", default="../shared/golden", type=Path)
    parser.add_argument("--models", default=",".join(TASKS), help="comma-separated, from: " + ", ".join(TASKS))
    parser.add_argument("--photos", type=int, default=3, help="photos per model")
    parser.add_argument("--crop", type=int, default=512)
    parser.add_argument("--threads", default="auto")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)

    from mirnet_cli import load_model
    from mirnet_cli.engine.cpu import choose_threads, cpu_has_amx, cpu_has_native_bf16
    from mirnet_cli.engine.inference import InferenceEngine

    if not cpu_has_native_bf16():
        print("this CPU has no native bf16 (AVX512-BF16 or AMX): nothing to measure", file=sys.stderr)
        return 1
    threads = choose_threads(None if args.threads == "auto" else int(args.threads))
    rows = []
    for name in args.models.split(","):
        folder, how = TASKS[name]
        source = args.golden / name.split(":", 1)[1] / "weights.safetensors" if name.startswith("golden:") else name
        model = load_model(str(source))
        parameters = sum(p.numel() for p in model.parameters())
        fp32 = InferenceEngine(model, device="cpu", precision="fp32", threads=threads)
        bf16 = InferenceEngine(model, device="cpu", precision="bf16", threads=threads)
        auto = InferenceEngine(model, device="cpu", precision="auto", threads=threads)
        scores = []
        for path in _photos(args.data / folder, args.photos):
            image = _load(path, args.crop, how)
            a, b = fp32.restore(image), bf16.restore(image)
            scores.append({"photo": str(path.relative_to(args.data)), "psnr": _psnr(a, b),
                           "fallbacks": bf16.stats["fp32_fallbacks"]})
            print(f"{name:26s} {scores[-1]['photo']:32s} {scores[-1]['psnr']:6.2f} dB", file=sys.stderr, flush=True)
        values = [s["psnr"] for s in scores]
        rows.append({"model": name, "parameters": parameters, "photos": scores, "input": f"{folder} ({how})",
                     "min_psnr": min(values), "mean_psnr": sum(values) / len(values),
                     "auto": str(auto.dtype).replace("torch.", ""), "auto_reason": auto.precision_reason})
    isa = "AMX" if cpu_has_amx() else "AVX512-BF16, no AMX"
    print(f"bf16 vs fp32 on real photos (centre crops of at most {args.crop}², {threads} thread(s), {isa})")
    print("| model | parameters | photos (input) | bf16 vs fp32 PSNR, min / mean | `auto` here |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(f"| `{r['model']}` | {r['parameters'] / 1e6:.2f} M | {len(r['photos'])} × {r['input']} | "
              f"{r['min_psnr']:.1f} / {r['mean_psnr']:.1f} dB | {r['auto']} |")
    if args.json is not None:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0 if all(r["min_psnr"] >= 45 for r in rows) else 2


if __name__ == "__main__":
    raise SystemExit(main())
