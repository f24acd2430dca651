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
    "zerodce": ("Li-Chongyi/Zero-DCE_extension", "09f202b690f82da939b8e6ec8535960ae97ad8bd", [
        ("Zero-DCE++/data/train_data", ".jpg", "all", None),
    ], "training (unpaired, distillation inputs): Zero-DCE++'s 2002 multi-exposure training photos (SICE part 1); "
       "only the dark ones (mean brightness < 0.25) are kept, in dark/; licence: the repository's terms "
       "(non-commercial research use, like MIRNet's own)"),
    "teachers": (None, None, [
        ("cuiziteng/Illumination-Adaptive-Transformer", "c76472265247f47cea57649af28b15018bb64cb1",
         "IAT_enhance/best_Epoch_lol_v1.pth", "iat_lol_v1.pth",
         "6fb32236152283d3f3633ea1b79601c7e819efbf9d87d6b4767e1db0f1f3435b", "Apache-2.0 (the repository's LICENSE)"),
        ("zhengdihan/Unsupervised_denoising", "dadd26a2981901153f465549a31d1c458c703464",
         "model_zoo/ffdnet_color.pth", "ffdnet_color.pth",
         "286f04f7e3a20254c067ba95efb5d3339f4fc8a09a365a93cd469184d4cdb279",
         "MIT (KAIR, cszn/KAIR, Kai Zhang; this copy's repository has no licence file of its own)"),
        ("zhengdihan/Unsupervised_denoising", "dadd26a2981901153f465549a31d1c458c703464",
         "model_zoo/dncnn_color_blind.pth", "dncnn_color_blind.pth",
         "dfe11a6b703304df82cdf236f431fc6492766c7b9119d97e943edeb392c710a3",
         "MIT (KAIR, cszn/KAIR, Kai Zhang; this copy's repository has no licence file of its own)"),
    ], "distillation teachers (weights are data: loaded with weights_only=True by mirnet_cli.teachers)"),
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
        if name == "teachers":
            written += extract_teachers(mirrors, out, rules, use)
            continue
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


def extract_teachers(mirrors: Path, out: Path, rules: list, use: str) -> list[Path]:
    """Teacher weights, each checked against the sha256 recorded here (the provenance names it)."""
    lines = []
    for repo, commit, path, fname, digest, licence in rules:
        mirror = mirrors / repo.replace("/", "+") / "repo"
        if not mirror.exists():
            print(f"teachers: {mirror} missing (fetch {repo}); {fname} skipped")
            continue
        data = _git(mirror, "show", f"{commit}:{path}")
        if hashlib.sha256(data).hexdigest() != digest:
            raise SystemExit(f"teachers: {repo}@{commit}:{path} is not the recorded file (sha256 differs)")
        target = out / "teachers" / fname
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        lines.append(f"{fname}: {repo} @ {commit}, {path}, sha256 {digest}, licence {licence}")
    if lines:
        (out / "teachers" / "SOURCE.txt").write_text("\n".join(lines) + f"\n{use}\n")
        print(f"teachers: {len(lines)} files — {use}")
    return []  # weights, not images: the evaluation-set check does not apply


def keep_dark(out: Path, limit: float = 0.25) -> None:
    """zerodce/all → zerodce/dark: the photos dark enough for low-light enhancement (as `enhance`'s guard)."""
    from PIL import Image

    src, dst = out / "zerodce" / "all", out / "zerodce" / "dark"
    if not src.is_dir():
        return
    dst.mkdir(parents=True, exist_ok=True)
    kept = 0
    for f in sorted(src.glob("*.jpg")):
        a = np.asarray(Image.open(f).convert("RGB"), np.float32) / 255.0
        if float((a @ np.array([0.299, 0.587, 0.114], np.float32)).mean()) < limit:
            (dst / f.name).write_bytes(f.read_bytes())
            kept += 1
    print(f"zerodce: {kept} dark photos (mean brightness < {limit}) in {dst}")


def check_against_evaluation(files: list[Path], out: Path, shared: Path) -> None:
    manifest = shared / "MANIFEST.sha256"
    if not manifest.exists():
        print(f"no {manifest}: evaluation-set check skipped")
        return
    evaluation = {line.split()[0] for line in manifest.read_text().splitlines() if line.strip()}
    # The night photos kept for evaluation (DICM, LIME) count as evaluation files too.
    evaluation |= {hashlib.sha256(f.read_bytes()).hexdigest() for f in (out / "lowlight_eval").rglob("*")
                   if f.is_file() and f.name != "SOURCE.txt"}
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
    keep_dark(args.out)


if __name__ == "__main__":
    main()
