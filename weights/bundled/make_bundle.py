"""Copy a `mirnet train` run into weights/bundled/<name>/ (fp16) and register it, with its provenance.

Usage (from the repository root):
    python weights/bundled/make_bundle.py NAME RUN_DIR RECIPE --task KEY [--default-for KEY ...] \
        [--earlier RUN_DIR RECIPE ...] [--wall-time SECONDS] [--device TEXT] [--eval BENCHMARK_JSON ...] \
        [--night NIGHT_JSON] [--checkpoint best.pt] [--description TEXT] [--init-from CONFIG_JSON]
    python weights/bundled/make_bundle.py --update-eval NAME BENCHMARK_JSON ...   # new scores, same weights
    python weights/bundled/make_bundle.py --swap-eval NAME BENCHMARK_JSON ...     # only those rows' records
    python weights/bundled/make_bundle.py --swap-night NAME NIGHT_JSON            # a new night-photo check

The training data of the provenance comes from the run's resolved settings (``train_config.json``: ``train_dir``
and every ``data.sources`` entry, each with what it was used for, where it came from and on what terms). The
evaluation JSON files are `mirnet benchmark --json` outputs on held-back images (the model's own run and the
baselines'); their means are stored in the registry entry and in config.json. The wall time defaults to the
training seconds the run logged (across resumes).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
from pathlib import Path

from mirnet_cli import load_model
from mirnet_cli.loading.checkpoint import save_pretrained

ROOT = Path(__file__).resolve().parents[2]
# Data in ../shared/data: where each set came from and on what terms (see ../shared/data/README.md).
SHARED_TERMS = {
    "kodak24": ("Kodak24 (Kodak Lossless True Color Image Suite) via Zelex/images @ 0b8a89d",
                "no licence file in the source repository; commonly redistributed as free test images"),
    "cbsd68": ("CBSD68 (Berkeley segmentation images) via cszn/FFDNet @ e787f46",
               "no licence file in the source repository; BSDS images are for research use"),
    "lol": ("LoL eval15 (Wei et al., BMVC 2018) via arnabroy734/low_light_enhancement @ 754d28e",
            "research dataset; no licence file in either repository"),
}


def _expand(folder: str) -> Path:
    return Path(os.path.expandvars(os.path.expanduser(folder)))


def describe_source(folder: str) -> dict[str, str]:
    """``{dir, source, terms}`` for a training folder: a ../shared/data set, or a prepare_data.py set (its
    ``SOURCE.txt`` names the repository, commit and terms)."""
    path = _expand(folder)
    for parent in [path, *path.parents]:
        if parent.name in SHARED_TERMS and parent.parent.name == "data":
            source, terms = SHARED_TERMS[parent.name]
            return {"dir": folder, "source": source, "terms": terms}
        note = parent / "SOURCE.txt"
        if note.is_file():
            origin, *use = note.read_text().splitlines()
            return {"dir": folder, "source": origin.strip(), "terms": " ".join(use).strip()}
    return {"dir": folder, "source": "unknown", "terms": "unknown"}


def training_data(data: dict) -> dict:
    """The provenance's ``training_data``: every source with its use, plus the joined ``source``/``terms`` lines
    and the held-back stems (global and per source)."""
    specs = []
    if data.get("train_dir"):
        specs.append({"dir": data["train_dir"], "synthetic": data.get("synthetic"), "weight": 1.0, "exclude": []})
    specs += data.get("sources") or []
    sources, held_back = [], list(data.get("exclude") or [])
    for spec in specs:
        info = describe_source(spec["dir"])
        use = ("unpaired inputs (distillation: the teacher's output is the target)" if spec.get("unpaired")
               else f"synthetic {spec['synthetic']}" if spec.get("synthetic") else "real pairs")
        info.update(use=use,
                    weight=float(spec.get("weight", 1.0)))
        if spec.get("exclude"):
            info["held_back"] = list(spec["exclude"])
            held_back += [s for s in spec["exclude"] if s not in held_back]
        sources.append(info)
    return {
        "source": "; ".join(dict.fromkeys(s["source"] for s in sources)),
        "terms": "; ".join(dict.fromkeys(s["terms"] for s in sources)),
        "held_back": held_back,
        "synthetic": data.get("synthetic"),
        "sources": sources,
    }


def stage_record(run: Path, recipe: Path) -> dict:
    """Recipe, iterations, logged training seconds, patch and batch of one training run."""
    cfg = json.loads((run / "train_config.json").read_text())
    rows = [json.loads(x) for x in (run / "log.jsonl").read_text().splitlines()]
    rows = [r for r in rows if r["kind"] == "train"]
    return {"recipe": recipe.as_posix(), "iterations": max(r["iteration"] for r in rows),
            "wall_time_s": round(max(r["seconds"] for r in rows)), "patch": cfg["schedule"]["patch_size"],
            "batch": cfg["schedule"]["batch_size"], "lr": cfg["optim"]["lr"]}


def evaluation_record(path: Path) -> dict:
    """One `mirnet benchmark --json` result written by weights/bundled/evaluate.sh (its file name is the tag)."""
    r = json.loads(path.read_text())
    record = {
        "tag": path.stem, "dataset": r["dataset"], "data_dir": r["data_dir"], "model": r["model"],
        "images": [im["name"] for im in r["images"]],
        "mean": {k: round(v, 4) for k, v in r["mean"].items()},
        "protocol": {k: r["protocol"][k] for k in ("color", "crop_border", "quantize_bits")},
        "reproduce": "weights/bundled/evaluate.sh",
    }
    if r.get("baseline"):
        record["baseline"] = r["baseline"]
    return record


def _bundled_entry(name: str) -> tuple[Path, dict, dict]:
    """``(registry path, registry, entry)`` of the bundled model ``name``."""
    reg_path = ROOT / "weights" / "registry.json"
    reg = json.loads(reg_path.read_text())
    entry = next((e for e in reg["entries"] if e["name"] == name and e.get("bundled")), None)
    if entry is None:
        raise SystemExit(f"{name}: no bundled model of that name in {reg_path}")
    return reg_path, reg, entry


def _write_provenance(reg_path: Path, reg: dict, entry: dict) -> None:
    """The registry and the bundled config.json card, both with the entry's provenance."""
    reg_path.write_text(json.dumps(reg, indent=1, ensure_ascii=False) + "\n")
    card_path = ROOT / "weights" / entry["bundled"] / "config.json"
    card = json.loads(card_path.read_text())
    card["provenance"] = entry["provenance"]
    card_path.write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n")


def night_record(path: Path) -> dict:
    """The provenance record of a ``night_check.py --json`` output: sets, means, issue 19's checks (every photo and
    as the tool runs), per-photo figures."""
    night = json.loads(path.read_text())
    record = {"sets": sorted({row["name"].split("/")[0] for row in night["images"]}), "max_side": night["max_side"],
              "mean": night["mean"], "images": night["images"], "reproduce": "weights/bundled/evaluate.sh night"}
    for key in ("targets", "targets_as_run"):
        if key in night:
            record[key] = night[key]
    return record


def swap_night(name: str, path: Path) -> None:
    """Replace the night-photo check of an already bundled model (weights unchanged)."""
    reg_path, reg, entry = _bundled_entry(name)
    entry["provenance"]["night_photos"] = night_record(path)
    _write_provenance(reg_path, reg, entry)
    print(f"{name}: night-photo check replaced from {path}")


def update_evaluation(name: str, evals: list[Path]) -> None:
    """Replace the evaluation records of an already bundled model (weights unchanged), e.g. after a baseline
    changed; the registry entry and the bundled config.json card are both rewritten."""
    reg_path, reg, entry = _bundled_entry(name)
    entry["provenance"]["evaluation"] = [evaluation_record(p) for p in evals]
    _write_provenance(reg_path, reg, entry)
    print(f"{name}: {len(evals)} evaluation record(s) replaced")


def swap_evaluation(name: str, evals: list[Path]) -> None:
    """Replace only the records that ``evals`` score anew: same held-back set (TASK-SET of the tag) and same kind
    (model or baseline), e.g. a new classical baseline for one table row; every other record stays."""
    reg_path, reg, entry = _bundled_entry(name)

    def key(record: dict) -> tuple[str, bool]:
        return "-".join(record["tag"].split("-")[:2]), record["model"].startswith("baseline:")

    new = [evaluation_record(p) for p in evals]
    replaced = {key(r) for r in new}
    kept = [r for r in entry["provenance"]["evaluation"] if key(r) not in replaced]
    entry["provenance"]["evaluation"] = kept + new
    _write_provenance(reg_path, reg, entry)
    print(f"{name}: {len(new)} evaluation record(s) swapped, {len(kept)} kept")


def main() -> None:
    import sys

    if sys.argv[1:2] == ["--swap-eval"]:
        # make_bundle.py --swap-eval NAME BENCHMARK_JSON ...
        swap_evaluation(sys.argv[2], [Path(p) for p in sys.argv[3:]])
        return
    if sys.argv[1:2] == ["--swap-night"]:
        # make_bundle.py --swap-night NAME NIGHT_JSON
        swap_night(sys.argv[2], Path(sys.argv[3]))
        return
    if sys.argv[1:2] == ["--update-eval"]:
        # make_bundle.py --update-eval NAME BENCHMARK_JSON ...
        update_evaluation(sys.argv[2], [Path(p) for p in sys.argv[3:]])
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("name")
    ap.add_argument("run", type=Path)
    ap.add_argument("recipe", type=Path)
    ap.add_argument("--task", required=True)
    ap.add_argument("--default-for", nargs="*", default=None, help="task keys (default: --task)")
    ap.add_argument("--wall-time", type=float, default=None)
    ap.add_argument("--device", default="CPU: 2 shared cores, 1 training thread (no GPU was lent to this task)")
    ap.add_argument("--eval", type=Path, nargs="*", default=[])
    ap.add_argument("--earlier", nargs=2, action="append", default=[], metavar=("RUN_DIR", "RECIPE"),
                    help="an earlier stage this run was initialised from (--init), oldest first; repeatable")
    ap.add_argument("--init-from", type=Path, default=None,
                    help="config.json of the bundled model the first stage started from (its `init`, e.g. from git "
                         "before it was replaced): its stages and iterations come first in the provenance")
    ap.add_argument("--description", default="")
    ap.add_argument("--night", type=Path, default=None, help="weights/bundled/night_check.py --json output")
    ap.add_argument("--checkpoint", default=None,
                    help="bundle RUN_DIR/checkpoints/FILE (e.g. best.pt: the iteration the run's own validation "
                         "chose) instead of the exported final weights")
    args = ap.parse_args()

    model = load_model(args.run / "checkpoints" / args.checkpoint if args.checkpoint else args.run)
    stages = [stage_record(Path(run), Path(recipe)) for run, recipe in args.earlier]
    stages.append(stage_record(args.run, args.recipe))
    if args.init_from is not None:
        prior = json.loads(args.init_from.read_text())["provenance"]
        stages[:0] = prior.get("stages") or [{
            "recipe": prior["recipe"], "iterations": prior["iterations"], "wall_time_s": prior["wall_time_s"],
            "patch": prior.get("patch"), "batch": prior.get("batch"), "trained_with": prior["trained_with"]}]
    train_cfg = json.loads((args.run / "train_config.json").read_text())
    iterations = sum(st["iterations"] for st in stages)
    wall = args.wall_time if args.wall_time is not None else sum(st["wall_time_s"] for st in stages)
    schedule = train_cfg["schedule"]
    provenance = {
        "trained_with": " && ".join(st.get("trained_with") or f"mirnet train --config {st['recipe']}" for st in stages),
        "recipe": args.recipe.as_posix(),
        "training_data": training_data(train_cfg["data"]),
        "iterations": iterations,
        "patch": schedule["patch_size"], "batch": schedule["batch_size"],
        "wall_time_s": round(wall), "device": args.device,
        "parameters": sum(p.numel() for p in model.parameters()),
        "evaluation": [evaluation_record(p) for p in args.eval],
    }
    if len(stages) > 1:
        provenance["stages"] = stages
    if train_cfg.get("teacher"):
        teacher = json.loads((args.run / "teacher.json").read_text()) if (args.run / "teacher.json").is_file() else {}
        note = _expand(train_cfg["teacher"]).parent / "SOURCE.txt"
        origin = next((line for line in (note.read_text().splitlines() if note.is_file() else [])
                       if line.startswith(_expand(train_cfg["teacher"]).name + ":")), "")
        provenance["teacher"] = {**teacher, "weight": train_cfg.get("teacher_weight"),
                                 "origin": origin.split(":", 1)[1].strip() if origin else "unknown"}
    if args.checkpoint:
        import torch

        ckpt = torch.load(args.run / "checkpoints" / args.checkpoint, map_location="cpu", weights_only=True)
        provenance["weights_from"] = {
            "checkpoint": args.checkpoint, "iteration": int(ckpt["iteration"]),
            "chosen_by": "best validation PSNR of the run (its own validation images, not the evaluation sets)"
            if args.checkpoint == "best.pt" else "named on the command line"}
    if args.night is not None:
        provenance["night_photos"] = night_record(args.night)
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
                   "research images (see provenance)",
        "licence_url": "https://github.com/swz30/MIRNetv2/blob/main/LICENSE.md",
        "paper": "Zamir et al., Learning Enriched Features for Fast Image Restoration and Enhancement "
                 "(MIRNet-v2), IEEE TPAMI 2022 (architecture only; weights trained by mirnet-cli)",
        "paper_metrics": None, "scale": None,
        "input_contract": "RGB float in [0,1]; H and W multiples of 4 (reflect-pad, crop back)"
                          + ("; bicubic-upsampled to the output size first" if args.task.startswith("super-resolve")
                             else ""),
        "notes": args.description or None, "manual_download": None, "bundled": f"bundled/{args.name}",
        "default_for": args.default_for or [args.task], "priority": "bundled", "provenance": provenance,
    }
    names = [e["name"] for e in reg["entries"]]
    if args.name in names:  # keep its place in the file (the order breaks ties between defaults)
        reg["entries"][names.index(args.name)] = entry
    else:
        reg["entries"].append(entry)
    reg_path.write_text(json.dumps(reg, indent=1, ensure_ascii=False) + "\n")
    print(f"{args.name}: {folder} ({(folder / 'model.safetensors').stat().st_size / 1e3:.0f} kB), sha256 {digest[:12]}…")


if __name__ == "__main__":
    main()
