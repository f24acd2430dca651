"""GPU check: the project's CUDA tests' figures in one JSON (see scripts/gpu_check.sh).

For the full MIRNet-v2 (the golden ``v2_default`` weights when ``../shared`` is present, else the same
architecture with random weights) in fp32 and fp16: ``mirnet benchmark --speed`` figures at 256² and 1024² and a
12 MP photo through the engine (latency, MP/s, peak memory, the tile plan); then, for each bundled model, the PSNR
of its fp16 output against its fp32 output on real photos (``samples/``), and the engine's fp16 guard fallbacks.

``--dry-run`` does the same on the CPU with a small model, small sizes and fp32/bf16 (or fp32 only), so that the
script itself is tested where no GPU is.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _psnr(a, b) -> float:
    import numpy as np

    a = np.round(np.clip(a, 0, 1) * 255)
    b = np.round(np.clip(b, 0, 1) * 255)
    mse = float(((a - b) ** 2).mean())
    return math.inf if mse == 0 else 10 * math.log10(255**2 / mse)


def _speed_model(dry: bool):
    from mirnet_cli import build_model, load_model

    golden = ROOT.parent / "shared" / "golden" / "v2_default" / "weights.safetensors"
    if dry:
        return build_model("mirnet_v2", n_feat=16, n_MRB=1), "mirnet_v2 n_feat 16 n_MRB 1 (random)"
    if golden.exists():
        return load_model(golden), "mirnet_v2 default (golden v2_default weights)"
    return build_model("mirnet_v2"), "mirnet_v2 default (random weights)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("gpu_check.json"))
    parser.add_argument("--dry-run", action="store_true", help="CPU, small model and sizes (tests the script)")
    args = parser.parse_args(argv)

    import torch

    from mirnet_cli.benchmark.speed import run_speed
    from mirnet_cli.engine.device import cpu_has_native_bf16
    from mirnet_cli.engine.inference import InferenceEngine
    from mirnet_cli.io.images import read_image
    from mirnet_cli.loading.checkpoint import load_model

    dry = args.dry_run
    if not dry and not torch.cuda.is_available():
        print("gpu_check: CUDA is not available here; use --dry-run to test the script on the CPU", file=sys.stderr)
        return 2
    device = "cpu" if dry else "cuda"
    reduced = ("bf16" if cpu_has_native_bf16() else None) if dry else "fp16"
    precisions = ["fp32"] + ([reduced] if reduced else [])
    sizes, large_mp, repeats = ([64, 128], 0.1, 2) if dry else ([256, 1024], 12.0, 5)
    started = time.perf_counter()
    report: dict = {
        "dry_run": dry,
        "device": device,
        "device_name": None if dry else torch.cuda.get_device_name(0),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "speed": [],
        "fp16_vs_fp32": [],
    }
    model, label = _speed_model(dry)
    report["speed_model"] = label
    for precision in precisions:
        if not dry:
            torch.cuda.empty_cache()
        result = run_speed(model, sizes=sizes, repeats=repeats, warmup=2, device=device, precision=precision,
                           large_mp=large_mp, plain=precision == "fp32", model_name=label, progress=False)
        report["speed"].append(result)
        print(f"speed {precision}: " + ", ".join(f"{r['height']}² {r['median_s'] * 1000:.1f} ms" for r in result["sizes"])
              + (f"; {result['large']['megapixels']:.1f} MP {result['large']['seconds']:.2f} s" if result["large"] else ""),
              file=sys.stderr)

    photos = sorted((ROOT / "samples").glob("*.png"))
    for name in ("mirnet_v2-nf16-denoise", "mirnet_v2-nf16-lowlight"):
        if reduced is None:
            break
        net = load_model(name)
        for photo in photos:
            pixels = read_image(photo).pixels
            fp32 = InferenceEngine(net, device=device, precision="fp32", tile=0).restore(pixels)
            engine = InferenceEngine(net, device=device, precision=reduced, tile=0)
            low = engine.restore(pixels)
            report["fp16_vs_fp32"].append({
                "model": name, "photo": photo.name, "precision": reduced, "psnr_db": _psnr(low, fp32),
                "fp32_fallbacks": engine.stats["fp32_fallbacks"], "tiles": engine.stats["tiles"],
            })
    report["seconds"] = time.perf_counter() - started
    tmp = args.out.with_name(args.out.name + ".tmp")
    tmp.write_text(json.dumps(report, indent=2, default=str, allow_nan=True))
    tmp.replace(args.out)  # atomic: a half-written report is never left behind
    print(f"gpu_check: wrote {args.out} in {report['seconds']:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
