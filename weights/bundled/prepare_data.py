"""Lay out the training (and night-photo evaluation) data of the bundled models, outside the repository.

Usage (from the repository root):

    python weights/bundled/prepare_data.py --mirrors DIR --out "$MIRNET_TRAIN_DATA" [--shared ../shared/data]

``--mirrors`` holds git snapshots of the source repositories as ``owner+name/repo`` (bare git directories, as
the team's fetch tool leaves them). Every file is read at the pinned commit below, so the data is the same on
every machine; nothing here is committed to this repository. The recipes in ``weights/bundled/recipes/`` name the
folders as ``$MIRNET_TRAIN_DATA/<set>/…``.

Each training file is then checked against the evaluation sets in ``--shared`` (``MANIFEST.sha256``): no byte-
identical copy is allowed, and low-light pairs are also compared by content with the held-back LoL images (a
re-encoded copy would not match by hash).
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
from pathlib import Path

import numpy as np

# set name → (repository, commit, [(folder in the repository, file filter, destination folder, rename)], use)
SOURCES = {
    "polyu": ("csjunxu/PolyU-Real-World-Noisy-Images-Dataset", "3af0f2646b267a00446fe4b7113a15e67bc80b4e", [
        ("CroppedImages", "_real.JPG", "pairs/input", ("_real.JPG", ".JPG")),
        ("CroppedImages", "_mean.JPG", "pairs/target", ("_mean.JPG", ".JPG")),
    ], "training: 100 real noisy / clean (mean of shots) 512² crops from 5 DSLR cameras (Xu et al. 2018); "
       "licence: non-commercial research use (the repository's License.txt)"),
    "lol_extra": ("saurabh-kd-singh/low-light-image-enhancement", "fa0990aff74cbdf551b9630486206953146d4804", [
        ("data_root/train/low", ".png", "pairs/low", None),
        ("data_root/train/high", ".png", "pairs/high", None),
        ("data_root/eval/low", ".png", "pairs/low", None),
        ("data_root/eval/high", ".png", "pairs/high", None),
    ], "training: 323 low/normal-light 600×400 pairs in the LoL layout (LoL-style captures; the repository "
       "names no source or licence)"),
    "lowlight_eval": ("Li-Chongyi/Zero-DCE", "e0f4adc54d0f23348c4a9b84acc08fe8778d5bfd", [
        ("Zero-DCE_code/data/test_data/DICM", "", "DICM", None),
        ("Zero-DCE_code/data/test_data/LIME", "", "LIME", None),
    ], "EVALUATION ONLY: real night/low-light photos (DICM, LIME) for the colour-cast check; never train on them"),
}
LOL_HELD_BACK = ("665", "669", "748", "778", "780")


def _git(mirror: Path, *args: str) -> bytes:
    return subprocess.run(["git", f"--git-dir={mirror}", *args], check=True, capture_output=True).stdout


def extract(mirrors: Path, out: Path) -> list[Path]:
    written = []
    for name, (repo, commit, rules, use) in SOURCES.items():
        mirror = mirrors / repo.replace("/", "+") / "repo"
        if not mirror.exists():
            print(f"{name}: {mirror} missing (fetch {repo}); skipped")
            continue
        count = 0
        for folder, suffix, dest, rename in rules:
            listing = _git(mirror, "ls-tree", commit, f"{folder}/").decode().splitlines()
            for line in listing:
                meta, path = line.split("\t", 1)
                if not path.endswith(suffix) or meta.split()[1] != "blob":
                    continue
                fname = Path(path).name
                if rename:
                    fname = fname.replace(*rename)
                target = out / name / dest / fname
                target.parent.mkdir(parents=True, exist_ok=True)
                try:
                    target.write_bytes(_git(mirror, "cat-file", "blob", meta.split()[2]))
                except subprocess.CalledProcessError:  # a file the snapshot lacks (too large)
                    print(f"{name}: {path} is not in the snapshot; skipped")
                    continue
                written.append(target)
                count += 1
        (out / name / "SOURCE.txt").write_text(f"{repo} @ {commit}\n{use}\n")
        print(f"{name}: {count} files from {repo} @ {commit[:7]} — {use}")
    return written


def check_against_evaluation(files: list[Path], out: Path, shared: Path) -> None:
    manifest = shared / "MANIFEST.sha256"
    if not manifest.exists():
        print(f"no {manifest}: evaluation-set check skipped")
        return
    evaluation = {line.split()[0] for line in manifest.read_text().splitlines() if line.strip()}
    clashes = [f for f in files if "lowlight_eval" not in f.parts
               and hashlib.sha256(f.read_bytes()).hexdigest() in evaluation]
    if clashes:
        raise SystemExit(f"training files identical to evaluation files: {', '.join(map(str, clashes))}")
    print(f"{len(files)} files: none is byte-identical to a file of {shared}")

    from PIL import Image

    held = {k: np.asarray(Image.open(shared / "lol" / "high" / f"{k}.png"), np.float32)[::4, ::4]
            for k in LOL_HELD_BACK if (shared / "lol" / "high" / f"{k}.png").exists()}
    near = []
    for f in sorted((out / "lol_extra" / "pairs" / "high").glob("*.png")):
        a = np.asarray(Image.open(f).convert("RGB"), np.float32)[::4, ::4]
        for k, b in held.items():
            if a.shape == b.shape and float(((a - b) ** 2).mean()) < 200.0:  # < ~25 dB apart: same scene
                near.append(f"{f.name}≈{k}")
    if near:
        raise SystemExit(f"low-light training images match held-back LoL images: {', '.join(near)}")
    print(f"low-light pairs: none matches the held-back LoL images {', '.join(held)} by content")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mirrors", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--shared", type=Path, default=Path("../shared/data"))
    args = ap.parse_args()
    files = extract(args.mirrors, args.out)
    check_against_evaluation(files, args.out, args.shared)


if __name__ == "__main__":
    main()
