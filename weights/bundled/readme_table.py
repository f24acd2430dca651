"""Render the README's table of the bundled models from the scores stored in weights/registry.json.

Usage (from the repository root):  python weights/bundled/readme_table.py [--write]

The scores come from `weights/bundled/evaluate.sh` (`mirnet benchmark --json` on held-back images) via make_bundle.py,
so the README, the registry and a fresh `evaluate.sh` run can be compared figure by figure. `--write` replaces the
table between the README's markers; tests/restore/test_bundled_models.py checks that the README is up to date.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BEGIN, END = "<!-- bundled-table:begin -->", "<!-- bundled-table:end -->"

# evaluate.sh tags are TASK-SET-WHO; TASK-SET names the held-back images and the degradation.
SETS = {
    "denoise-kodak": "Kodak kodim19–24, simulated sensor noise + JPEG (`--degrade denoise --seed 0`)",
    "denoise-sidd": "SIDD sRGB validation crops (6 real noisy phone photos)",
    "denoise-siddblock": "SIDD sRGB validation block (1 real 256² block)",
    "lowlight-lol": "LoL eval15 665, 669, 748, 778, 780 (real low/normal pairs)",
    "oldphoto-kodak": "Kodak kodim19–24, simulated old-print damage (`--degrade oldphoto --seed 0`)",
}
BASELINE_NAMES = {"nlmeans": "OpenCV non-local means", "clahe-gamma": "CLAHE + gamma"}


def _cell(mean: dict, prefix: str = "") -> str:
    return f"{mean[prefix + 'psnr']:.2f} / {mean[prefix + 'ssim']:.3f}"


def render(registry: dict) -> str:
    """The markdown table: one row per (bundled model, held-back set), identity | classical baseline | model."""
    lines = [
        "| Model | Held-back images (never trained on) | Input (identity) | Classical baseline | Bundled model |",
        "| --- | --- | --- | --- | --- |",
    ]
    for entry in registry["entries"]:
        if not entry.get("bundled"):
            continue
        groups: dict[str, dict[str, dict]] = {}
        for ev in entry["provenance"]["evaluation"]:
            key = "-".join(ev["tag"].split("-")[:2])
            who = "baseline" if ev["model"].startswith("baseline:") else "model"
            groups.setdefault(key, {})[who] = ev
        for key, pair in groups.items():
            model, baseline = pair["model"], pair["baseline"]
            base_name = baseline["model"].split(":", 1)[1]
            lines.append(
                f"| `{entry['name']}` | {SETS.get(key, key)} | {_cell(model['mean'], 'input_')} | "
                f"{BASELINE_NAMES.get(base_name, base_name)}: {_cell(baseline['mean'])} | "
                f"{_cell(model['mean'])} |"
            )
    return "\n".join(lines)


def main() -> None:
    registry = json.loads((ROOT / "weights" / "registry.json").read_text())
    table = render(registry)
    if "--write" not in sys.argv[1:]:
        print(table)
        return
    readme = ROOT / "README.md"
    text = readme.read_text()
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    readme.write_text(f"{head}{BEGIN}\n{table}\n{END}{tail}")
    print(f"updated {readme}")


if __name__ == "__main__":
    main()
