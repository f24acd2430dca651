"""Render the README's tables of the bundled models from the scores stored in weights/registry.json.

Usage (from the repository root):  python weights/bundled/readme_table.py [--write]

The scores come from `weights/bundled/evaluate.sh` (`mirnet benchmark --json` on held-back images, and the
night-photo check) via make_bundle.py, so the README, the registry and a fresh `evaluate.sh` run can be compared
figure by figure. `--write` replaces the tables between the README's markers; tests/restore/test_bundled_models.py
checks that the README is up to date.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MARKERS = {
    "bundled-table": ("<!-- bundled-table:begin -->", "<!-- bundled-table:end -->"),
    "night-table": ("<!-- night-table:begin -->", "<!-- night-table:end -->"),
}

# evaluate.sh tags are TASK-SET-WHO; TASK-SET names the held-back images and the degradation.
SETS = {
    "denoise-kodak": "Kodak kodim19–24, simulated camera noise (`--degrade denoise --seed 0`)",
    "denoise-sidd": "SIDD sRGB crops (6 real noisy phone photos)",
    "denoise-siddblock": "SIDD sRGB validation block (1 real 256² block)",
    "lowlight-lol": "LoL eval15 665, 669, 748, 778, 780 (real low/normal pairs)",
    "contrast-fivek": "FiveK (DPE test split, expert C): 9 pairs",
    "sr-x2": "Set14 + McMaster, bicubic ×2 (Y, border 2)",
    "sr-x3": "Set14 + McMaster, bicubic ×3 (Y, border 3)",
    "sr-x4": "Set14 + McMaster, bicubic ×4 (Y, border 4)",
    "oldphoto-kodak": "Kodak kodim19–24, simulated old-print damage (`--degrade oldphoto --seed 0`)",
    "oldphoto-unseen": "Kodak kodim19–24, an old-print damage no training mode makes (`--degrade oldphoto-unseen --seed 0`)",
}
BASELINE_NAMES = {"nlmeans": "OpenCV non-local means", "clahe-gamma": "CLAHE + gamma", "clahe": "CLAHE + gamma",
                  "identity": "bicubic", "bicubic": "bicubic",
                  "autolevels": "auto-levels (per channel, 0.5 / 99.5 %)"}


def _cell(mean: dict, prefix: str = "") -> str:
    return f"{mean[prefix + 'psnr']:.2f} / {mean[prefix + 'ssim']:.3f}"


def _baseline_label(ev: dict) -> str:
    name = ev["model"].split(":", 1)[1]
    label = BASELINE_NAMES.get(name, name)
    h = (ev.get("baseline") or {}).get("h")
    return f"{label} (h = {h:g})" if h is not None else label


def render(registry: dict) -> str:
    """The quality table: one row per (bundled model, held-back set), identity | classical baseline | model."""
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
            lines.append(
                f"| `{entry['name']}` | {SETS.get(key, key)} | {_cell(model['mean'], 'input_')} | "
                f"{_baseline_label(baseline)}: {_cell(baseline['mean'])} | {_cell(model['mean'])} |"
            )
    return "\n".join(lines)


def _night_checks(check: dict) -> list[str]:
    """Issue 19's night-photo checks, over every photo (as with ``--force``) and as ``mirnet enhance`` runs."""
    if "targets" not in check or "targets_as_run" not in check:
        return []
    whos = [(w, label) for w, label in (("model", "bundled model"), ("teacher", "IAT teacher"),
                                        ("clahe-gamma", "CLAHE + gamma")) if w in check["targets"]]
    skipped = sum(1 for r in check["images"] if r.get("tool_skips"))
    out = ["", "Issue 19's checks (dark photos: the input's 5th-percentile luma ≤ 0.02; bars: that percentile ≤ 0.10 "
           "on each dark photo, mean a*, b* shift within 3, clipping ≤ the teacher's + 2 points):", "",
           "| Photos | Output | Dark photos | Their 5th-pct. luma, max / mean | Mean Δa* / Δb* | Clipped pixels |",
           "| --- | --- | --- | --- | --- | --- |"]
    for key, label in (("targets", f"all {len(check['images'])} (as with `--force`)"),
                       ("targets_as_run", f"the {len(check['images']) - skipped} that `mirnet enhance` processes "
                                          f"({skipped} skipped as well exposed)")):
        for who, name in whos:
            t = check[key][who]
            out.append(f"| {label} | {name} | {t['dark_photos']} | {t['dark_p5_luma_max']:.3f} / "
                       f"{t['dark_p5_luma_mean']:.3f} | {t['mean_da']:+.2f} / {t['mean_db']:+.2f} | "
                       f"{100 * t['clipped']:.1f} % |")
    return out


def render_night(registry: dict) -> str:
    """Mean figures of the night-photo check (per-image figures in a collapsed table)."""
    checks = [(e["name"], e["provenance"]["night_photos"]) for e in registry["entries"]
              if e.get("bundled") and (e.get("provenance") or {}).get("night_photos")]
    if not checks:
        return "_No night-photo check recorded._"
    out = []
    for name, check in checks:
        mean = check["mean"]
        out += [
            f"{len(check['images'])} real low-light photos ({', '.join(check['sets'])}; reduced to "
            f"{check['max_side']} px on the long side), `{name}` against CLAHE + gamma:",
            "",
            "| Output | Mean saturation | Clipped pixels | Tint vs photo | Mean brightness |",
            "| --- | --- | --- | --- | --- |",
        ]
        for who, label in (("input", "Input photo"), ("model", "Bundled model"), ("clahe-gamma", "CLAHE + gamma")):
            m = mean[who]
            out.append(f"| {label} | {m['saturation']:.3f} | {100 * m['clipped']:.2f} % | {m['tint']:+.2f} | "
                       f"{m['brightness']:.3f} |")
        out += _night_checks(check)
        out += ["", "<details><summary>Per photo: saturation / clipped % / tint (model · CLAHE + gamma)</summary>",
                "", "| Photo | Bundled model | CLAHE + gamma |", "| --- | --- | --- |"]
        for row in check["images"]:
            cells = [f"{row[w]['saturation']:.3f} / {100 * row[w]['clipped']:.2f} / {row[w]['tint']:+.2f}"
                     for w in ("model", "clahe-gamma")]
            out.append(f"| {row['name']} | {cells[0]} | {cells[1]} |")
        out += ["", "</details>"]
    return "\n".join(out)


def main() -> None:
    registry = json.loads((ROOT / "weights" / "registry.json").read_text())
    tables = {"bundled-table": render(registry), "night-table": render_night(registry)}
    if "--write" not in sys.argv[1:]:
        print("\n\n".join(tables.values()))
        return
    readme = ROOT / "README.md"
    text = readme.read_text()
    for key, (begin, end) in MARKERS.items():
        if begin not in text:
            continue
        head, rest = text.split(begin, 1)
        _, tail = rest.split(end, 1)
        text = f"{head}{begin}\n{tables[key]}\n{end}{tail}"
    readme.write_text(text)
    print(f"updated {readme}")


if __name__ == "__main__":
    main()
