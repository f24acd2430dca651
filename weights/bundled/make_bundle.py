"""Copy a `mirnet train` run into weights/bundled/<name>/ (fp16) and register it, with its provenance.

Usage (from the repository root):
    python weights/bundled/make_bundle.py NAME RUN_DIR RECIPE --task KEY --wall-time SECONDS \
        [--eval BENCHMARK_JSON ...] [--description TEXT]

The evaluation JSON files are `mirnet benchmark --json` outputs on held-back images (the model's own run and the
baselines'); their means are stored in the registry entry and in config.json.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

from mirnet_cli import load_model
from mirnet_cli.loading.checkpoint import save_pretrained

ROOT = Path(__file__).resolve().parents[2]
DATA_TERMS = {
    "kodak24": ("Kodak24 (Kodak Lossless True Color Image Suite) via Zelex/images @ 0b8a89d",
                "no licence file in the source repository; commonly redistributed as free test images"),
    "lol": ("LoL eval15 (Wei et al., BMVC 2018) via arnabroy734/low_light_enhancement @ 754d28e",
            "research dataset; no licence file in either repository"),
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("name")
    ap.add_argument("run", type=Path)
    ap.add_argument("recipe", type=Path)
    ap.add_argument("--task", required=True)
    ap.add_argument("--wall-time", type=float, required=True)
    ap.add_argument("--eval", type=Path, nargs="*", default=[])
    ap.add_argument("--description", default="")
    args = ap.parse_args()

    model = load_model(args.run)
    train_cfg = json.loads((args.run / "train_config.json").read_text())
    log = [json.loads(x) for x in (args.run / "log.jsonl").read_text().splitlines()]
    iterations = max(r["iteration"] for r in log if r["kind"] == "train")
    data_key = Path(train_cfg["data"]["train_dir"]).name
    source, terms = DATA_TERMS.get(data_key, (train_cfg["data"]["train_dir"], "unknown"))
    evaluation = []
    for path in args.eval:
        # A `mirnet benchmark --json` result written by weights/bundled/evaluate.sh (its file name is the row's tag).
        r = json.loads(path.read_text())
        evaluation.append({
            "tag": path.stem, "dataset": r["dataset"], "data_dir": r["data_dir"], "model": r["model"],
            "images": [im["name"] for im in r["images"]],
            "mean": {k: round(v, 4) for k, v in r["mean"].items()},
            "protocol": {k: r["protocol"][k] for k in ("color", "crop_border", "quantize_bits")},
            "reproduce": "weights/bundled/evaluate.sh",
        })
    provenance = {
        "trained_with": f"mirnet train --config {args.recipe.as_posix()}",
        "recipe": args.recipe.as_posix(),
        "training_data": {"source": source, "terms": terms, "held_back": train_cfg["data"]["exclude"],
                          "synthetic": train_cfg["data"]["synthetic"]},
        "iterations": iterations,
        "patch": train_cfg["schedule"]["patch_size"], "batch": train_cfg["schedule"]["batch_size"],
        "wall_time_s": round(args.wall_time), "device": "CPU, 2 cores (no GPU was available)",
        "parameters": sum(p.numel() for p in model.parameters()),
        "evaluation": evaluation,
    }
    folder = ROOT / "weights" / "bundled" / args.name
    import torch

    save_pretrained(model, folder, dtype=torch.float16, card={"task": args.task, "provenance": provenance})
    digest = hashlib.sha256((folder / "model.safetensors").read_bytes()).hexdigest()

    reg_path = ROOT / "weights" / "registry.json"
    reg = json.loads(reg_path.read_text())
    entry = {
        "name": args.name, "task": args.task, "architecture": model.architecture, "config": model.config,
        "sources": [], "revision": None, "sha256": digest, "container": "safetensors",
        "licence": "Academic Public License (non-commercial): MIRNet-v2 architecture; trained by mirnet-cli on "
                   "research test images (see provenance)",
        "licence_url": "https://github.com/swz30/MIRNetv2/blob/main/LICENSE.md",
        "paper": "Zamir et al., Learning Enriched Features for Fast Image Restoration and Enhancement "
                 "(MIRNet-v2), IEEE TPAMI 2022 (architecture only; weights trained by mirnet-cli)",
        "paper_metrics": None, "scale": None,
        "input_contract": "RGB float in [0,1]; H and W multiples of 4 (reflect-pad, crop back)",
        "notes": args.description or None, "manual_download": None, "bundled": f"bundled/{args.name}",
        "default_for": [args.task], "priority": "bundled", "provenance": provenance,
    }
    reg["entries"] = [e for e in reg["entries"] if e["name"] != args.name] + [entry]
    reg_path.write_text(json.dumps(reg, indent=1, ensure_ascii=False) + "\n")
    print(f"{args.name}: {folder} ({(folder / 'model.safetensors').stat().st_size / 1e3:.0f} kB), sha256 {digest[:12]}…")


if __name__ == "__main__":
    main()
