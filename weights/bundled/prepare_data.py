"""Lay out the training (and night-photo evaluation) data of the bundled models, outside the repository.

Usage (from the repository root):

    python weights/bundled/prepare_data.py --mirrors DIR --out "$MIRNET_TRAIN_DATA" [--shared ../shared/data]

``--mirrors`` holds git snapshots of the source repositories as ``owner+name/repo`` (bare git directories, as
the team's fetch tool leaves them). Every file is read at the pinned commit below, so the data is the same on
every machine; nothing here is committed to this repository. The recipes in ``weights/bundled/recipes/`` name the
folders as ``$MIRNET_TRAIN_DATA/<set>/…``.

Each training file is then checked against the evaluation sets in ``--shared`` (``MANIFEST.sha256``): no byte-
identical copy is allowed, and low-light pairs are also compared by content with the held-back LoL images (a
re-encoded copy would not match by hash). FiveK pairs (``fivek_train``) are refused by id when DPE's test split
holds them, and by hash or content when they are one of the shared FiveK evaluation pairs. LoL's our485 pairs
(``lol485``) are laid out only next to ``--shared``'s LoL eval15: every pair that is an eval15 image (name, hash,
content) or the same scene at another exposure is dropped.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import re
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
    "lol485": ("KaushikSenth/Final-Report", "66661bb5f6b796a8f0751df9bbd332d74ba76cac", [
        ("LOLdataset/our485/low", ".png", "low", None),
        ("LOLdataset/our485/high", ".png", "high", None),
    ], "training: LoL (LOL-v1) training split 'our485', low/normal-light 600×400 pairs (Wei, Wang, Yang, Liu, "
       "'Deep Retinex Decomposition for Low-Light Enhancement', BMVC 2018), minus the pairs that are, or show the "
       "scene of, an eval15 image; licence: LoL is published by its authors for research use "
       "(https://daooshee.github.io/BMVC2018website/), not for redistribution beyond that; the repository (a "
       "student project that committed the unzipped LOLdataset.zip) has no licence file"),
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
    # (repository, commit, input folder, Expert C folder, tag, licence): pairs matched by FiveK id (aNNNN)
    "fivek_train": (None, None, [
        ("sjmoran/curl-image-enhancement", "4be9753a8063f9833423e4aa5947ae7a64b114f8",
         "adobe5k_dpe/curl_example_test_input", "adobe5k_dpe/curl_example_test_output", "curl",
         "BSD-3-Clause (the README's License section; no LICENSE file at this commit)"),
        ("sjmoran/deeplpf-image-enhancement", "fd05d129e5f0cb18a6c5afe2fd4f6ebde9445b9f",
         "adobe5k_dpe/deeplpf_example_test_input", "adobe5k_dpe/deeplpf_example_test_output", "lpf",
         "BSD-3-Clause (the repository's LICENSE, (c) 2020 Huawei Technologies Co., Ltd.)"),
        ("eezkni/UEGAN", "80a9efefd8c265bb9dd48bf6c2dc66d3db912052",
         "data/fivek/test/raw", "data/fivek/test/label", "ue",
         "MIT (the README's License section; no LICENSE file at this commit)"),
        ("eezkni/UEGAN", "80a9efefd8c265bb9dd48bf6c2dc66d3db912052",
         "data/fivek/val/raw", "data/fivek/val/label", "ue",
         "MIT (the README's License section; no LICENSE file at this commit)"),
    ], "training: FiveK-style input → expert C pairs (8-bit RGB PNG, input/<id>.png + expertC/<id>.png), the "
       "example/test images these repositories ship (Lightroom renderings, long side 512; UEGAN's are squashed to "
       "512×512); image terms: MIT-Adobe FiveK (Bychkovsky et al., CVPR 2011, "
       "https://data.csail.mit.edu/graphics/fivek/, LicenseAdobe.txt / LicenseAdobeMIT.txt): research use only — "
       "the code licences cover the repositories, not the photographs"),
}
LOL_HELD_BACK = ("665", "669", "748", "778", "780")
# DPE's FiveK split (its own list is only in a dead external zip): the 3D-LUT/AdaInt copy, which follows DPE.
FIVEK_SPLIT = ("ImCharlesY/AdaInt", "5678851339dff90becb09c3dec41e7214207ccbc", "adaint/annfiles/FiveK/test.txt",
               "adaint/annfiles/FiveK/train.txt", "Apache-2.0 (the repository's LICENSE)")
FIVEK_IDS = [f"a{i:04d}" for i in range(1, 5001)]


def _git(mirror: Path, *args: str) -> bytes:
    return subprocess.run(["git", f"--git-dir={mirror}", *args], check=True, capture_output=True).stdout


def extract(mirrors: Path, out: Path, shared: Path = Path("../shared/data")) -> list[Path]:
    written = []
    for name, (repo, commit, rules, use) in SOURCES.items():
        if name == "teachers":
            written += extract_teachers(mirrors, out, rules, use)
            continue
        if name == "fivek_train":
            written += extract_fivek(mirrors, out, rules, use, shared)
            continue
        if name == "lol485":
            written += extract_lol485(mirrors, out, repo, commit, rules, use, shared)
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


def fivek_refusal(fid: str, test_ids: set[str], train_ids: set[str]) -> str | None:
    """Why a FiveK id may not be trained on, or None. Ids in neither list (a0160, a2952) are refused too: only the
    ids the split assigns to training are known to be outside its test set."""
    if fid in test_ids:
        return "in DPE's 498-image test split"
    if fid not in train_ids:
        return "not in the DPE/3D-LUT train list"
    return None


def _thumb(im, resample: int | None = None) -> np.ndarray:
    from PIL import Image

    resample = Image.LANCZOS if resample is None else resample
    return np.asarray(im.convert("RGB").resize((64, 64), resample), np.float32) / 255.0


def shared_fivek(shared: Path) -> list[tuple[str, str, np.ndarray]]:
    """(name, sha256, 64×64 thumbnail) of every evaluation image in ``shared/fivek`` (inputs and targets)."""
    from PIL import Image

    return [(f"{f.parent.name}/{f.name}", hashlib.sha256(f.read_bytes()).hexdigest(), _thumb(Image.open(f)))
            for f in sorted((shared / "fivek").glob("*/*.png"))]


def same_as_shared(files: list[tuple[bytes, object]], shared: list[tuple[str, str, np.ndarray]]) -> str | None:
    """The shared image one of ``(file bytes, decoded image)`` is, by sha256 or at 64 px (a re-encoded or resized
    copy has another hash), or None."""
    for data, im in files:
        digest, thumb = hashlib.sha256(data).hexdigest(), _thumb(im)
        for name, ref_digest, ref_thumb in shared:
            if digest == ref_digest or float(np.abs(thumb - ref_thumb).mean()) < 2 / 255:
                return f"same image as shared fivek/{name}"
    return None


def _fivek_listing(mirror: Path, commit: str, folder: str) -> dict[str, list[tuple[str, str]]]:
    """FiveK id → sorted [(path, blob)] of one folder."""
    files: dict[str, list[tuple[str, str]]] = {}
    for line in _git(mirror, "ls-tree", commit, f"{folder}/").decode().splitlines():
        meta, path = line.split("\t", 1)
        m = re.match(r"(a\d{4})", Path(path).name)
        if m and meta.split()[1] == "blob":
            files.setdefault(m.group(1), []).append((path, meta.split()[2]))
    return {k: sorted(v) for k, v in files.items()}


def _fivek_pair(mirror: Path, inputs: list[tuple[str, str]], targets: list[tuple[str, str]]):
    """((input path, target path, [input bytes, target bytes], [decoded images]), None) for the first same-size pair,
    or (None, why there is none)."""
    from PIL import Image

    sizes = []
    # DeepLPF ships each photo as .tif and as .png in several crops: the .tif pair first, then the .png one.
    for ext in (".tif", ".png"):
        ins = [f for f in inputs if f[0].lower().endswith(ext)]
        tgts = [f for f in targets if f[0].lower().endswith(ext)]
        if not (ins and tgts):
            if ins or tgts:
                sizes.append(f"{ext} {'input' if ins else 'target'} only")
            continue
        try:
            data = [_git(mirror, "cat-file", "blob", f[0][1]) for f in (ins, tgts)]
        except subprocess.CalledProcessError:  # a file the snapshot lacks (too large)
            sizes.append(f"{ext} not in the snapshot")
            continue
        ims = [Image.open(io.BytesIO(d)) for d in data]
        if ims[0].size == ims[1].size:
            return (ins[0][0], tgts[0][0], data, ims), None
        sizes.append(f"{ext} {ims[0].size[0]}×{ims[0].size[1]} vs {ims[1].size[0]}×{ims[1].size[1]}")
    return None, f"no same-size input/target pair ({'; '.join(sizes) or 'no .tif or .png pair'})"


def extract_fivek(mirrors: Path, out: Path, rules: list, use: str, shared: Path) -> list[Path]:
    """fivek_train/: input → expert C pairs, each id checked against DPE's split and the shared FiveK pairs."""
    from PIL import Image

    repo, commit, test_path, train_path, split_licence = FIVEK_SPLIT
    split_mirror = mirrors / repo.replace("/", "+") / "repo"
    if not split_mirror.exists():  # without the split no id can be cleared
        print(f"fivek_train: {split_mirror} missing (fetch {repo}); skipped")
        return []
    test_list = _git(split_mirror, "show", f"{commit}:{test_path}").decode().split()
    test_ids, train_ids = set(test_list), set(_git(split_mirror, "show", f"{commit}:{train_path}").decode().split())
    excluded = [k for k in FIVEK_IDS if fivek_refusal(k, test_ids, train_ids)]
    if not (shared / "fivek").is_dir():
        print(f"no {shared / 'fivek'}: fivek_train content check skipped (the DPE-split check still applies)")
    evaluation = shared_fivek(shared)
    dest = out / "fivek_train"
    kept: dict[str, tuple[str, ...]] = {}
    lines, written, origins, dropped = [], [], {}, []
    for src_repo, src_commit, in_folder, tgt_folder, tag, licence in rules:
        mirror = mirrors / src_repo.replace("/", "+") / "repo"
        if not mirror.exists():
            print(f"fivek_train: {mirror} missing (fetch {src_repo}); {in_folder} skipped")
            continue
        origins[f"{src_repo} @ {src_commit}"] = None
        inputs = _fivek_listing(mirror, src_commit, in_folder)
        targets = _fivek_listing(mirror, src_commit, tgt_folder)
        ids = []
        for fid in sorted(inputs.keys() & targets.keys()):
            why = fivek_refusal(fid, test_ids, train_ids)
            if not why:
                pair, why = _fivek_pair(mirror, inputs[fid], targets[fid])
            if not why:
                in_path, tgt_path, data, ims = pair
            if not why and any(im.mode.startswith(("I", "F")) for im in ims):  # 16-bit/float, not 8-bit renderings
                why = f"not 8-bit ({ims[0].mode}, {ims[1].mode})"
            if not why:
                a, b = (np.asarray(im.convert("RGB")) for im in ims)  # RGBA sources: alpha dropped
                if np.array_equal(a, b):
                    why = "input identical to target (a broken pair)"
                elif evaluation and (match := same_as_shared(list(zip(data, ims, strict=True)), evaluation)):
                    why = match
                elif fid in kept:
                    why = f"already taken from {kept[fid][0]}"
            if why:
                print(f"fivek_train: {fid} ({tag}, {src_repo}/{in_folder}): {why}; skipped")
                dropped.append(f"{fid} ({tag}): {why}")
                continue
            for sub, arr, im in (("input", a, ims[0]), ("expertC", b, ims[1])):
                target = dest / sub / f"{fid}.png"
                target.parent.mkdir(parents=True, exist_ok=True)
                # the TIFFs carry an sRGB profile: kept, so a viewer shows what the source shows
                Image.fromarray(arr).save(target, icc_profile=im.info.get("icc_profile"))
                written.append(target)
            owner = src_repo.replace("/", "+")
            psnr = 10 * np.log10(255 ** 2 / float(((a.astype(np.float64) - b) ** 2).mean()))
            kept[fid] = (tag, f"{owner}/{in_path}", f"{owner}/{tgt_path}", f"{a.shape[1]}x{a.shape[0]}", f"{psnr:.2f}")
            ids.append(fid)
        lines.append(f"{src_repo} @ {src_commit}: {in_folder}/ → input/, {tgt_folder}/ → expertC/; "
                     f"{len(ids)} pairs ({' '.join(ids) or 'none'}); licence {licence}")
    if not kept:
        return written
    excluded_name = f"excluded_ids_{len(excluded)}.txt"
    (dest / "dpe_mit498_test_ids.txt").write_text("\n".join(test_list) + "\n")
    (dest / excluded_name).write_text("\n".join(excluded) + "\n")
    (dest / "MANIFEST.tsv").write_text(
        "id\tsource\tinput_path(repo-relative after owner+name)\ttarget_path\tsize\tpsnr_in_vs_tgt_dB\n"
        + "".join("\t".join((k, *row)) + "\n" for k, row in sorted(kept.items())))
    origins = "; ".join(origins)
    (dest / "SOURCE.txt").write_text(
        f"{origins}; DPE split: {repo} @ {commit}\n{use}\n" + "\n".join(lines) + "\n"
        f"COUNT: {len(kept)} pairs (per-pair origin, size and PSNR in MANIFEST.tsv)\n"
        f"EXCLUSION: a FiveK id in DPE's 498-image test split, or in no DPE/3D-LUT train list, is refused "
        f"({len(excluded)} ids, {excluded_name}); lists: {repo} @ {commit}, {test_path} "
        f"(→ dpe_mit498_test_ids.txt) and {train_path}, licence {split_licence}. Every kept pair also differs from "
        f"the {len(evaluation)} shared FiveK evaluation images (sha256 and 64 px thumbnails); pairs whose input is "
        f"identical to the target, or without a same-size input/target, are dropped.\n"
        f"DROPPED: {'; '.join(dropped) or 'none'}\n")
    print(f"fivek_train: {len(kept)} pairs from {origins} — {len(excluded)} FiveK ids refused (DPE split)")
    return written


LOL_DARK = 0.25  # a low image at least this bright (RGB mean in [0, 1]) is not a low-light input
# grey-structure correlation (low with low or high with high): our485's 11 same-scene frames of eval15 score
# ≥ 0.983, the closest pair kept 0.820 (195.png)
LOL_SAME_SCENE = 0.97


def _structure(im) -> np.ndarray:
    """64×64 grey thumbnail at zero mean and unit variance: the mean of the product of two is their correlation,
    which ignores exposure, so it finds the same scene shot darker or brighter."""
    from PIL import Image

    x = np.asarray(im.convert("L").resize((64, 64), Image.BILINEAR), np.float64).ravel()
    x = x - x.mean()
    return x / (x.std() or 1.0)


def _png_8bit_rgb(data: bytes) -> bool:
    """PNG IHDR says 8 bits per channel, colour type 2 (RGB): Pillow opens 16-bit RGB PNGs as "RGB" too."""
    return data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR" and data[24:26] == b"\x08\x02"


def shared_lol(shared: Path) -> dict[str, list] | None:
    """LoL eval15 from ``shared/lol``: each image's (name, sha256, 64 px RGB thumbnail), and each scene's (name,
    low structure, high structure); None when there is none to check against."""
    from PIL import Image

    files = sorted((shared / "lol").glob("*/*.png"))
    sides = {side: {f.name for f in files if f.parent.name == side} for side in ("low", "high")}
    scenes = sorted(sides["low"] & sides["high"])
    if not scenes:
        return None
    ims = {f"{f.parent.name}/{f.name}": (f.read_bytes(), Image.open(f)) for f in files}
    return {
        "images": [(k, hashlib.sha256(d).hexdigest(), _thumb(im, Image.BILINEAR)) for k, (d, im) in ims.items()],
        "scenes": [(s, _structure(ims[f"low/{s}"][1]), _structure(ims[f"high/{s}"][1])) for s in scenes],
    }


def lol_refusal(name: str, data: dict[str, bytes], ims: dict, evaluation: dict[str, list]) -> str | None:
    """Why one our485 pair (``data``/``ims`` keyed "low", "high") may not be trained on, or None."""
    from PIL import Image

    # (1) eval15 itself: LoL numbers its photos across both splits, so the same name is the same photo
    if name in {s for s, _, _ in evaluation["scenes"]}:
        return f"name of an eval15 image ({name})"
    for side in ("low", "high"):
        digest, thumb = hashlib.sha256(data[side]).hexdigest(), _thumb(ims[side], Image.BILINEAR)
        for ref, ref_digest, ref_thumb in evaluation["images"]:
            if digest == ref_digest:
                return f"{side} identical (sha256) to eval {ref}"
            diff = float(np.abs(thumb - ref_thumb).mean())
            if diff < 2 / 255:  # a re-encoded copy, or the next frame of an eval15 shot
                return f"{side} content ~ eval {ref} (diff {diff * 255:.2f}/255)"
    # (2) a usable low-light pair
    if not all(_png_8bit_rgb(data[s]) and ims[s].mode == "RGB" for s in ("low", "high")):
        return f"not 8-bit RGB ({ims['low'].mode}, {ims['high'].mode})"
    if ims["low"].size != ims["high"].size:
        (lw, lh), (hw, hh) = ims["low"].size, ims["high"].size
        return f"sizes differ ({lw}×{lh} vs {hw}×{hh})"
    low, high = (float(np.asarray(ims[s], np.float32).mean()) / 255 for s in ("low", "high"))
    if low >= LOL_DARK:
        return f"low mean {low:.3f} ≥ {LOL_DARK} (not dark enough)"
    if low >= high:
        return f"low not darker than high ({low:.3f} vs {high:.3f})"
    # (3) an eval15 scene at another exposure: too close to the test photos, though not the same picture
    low_s, high_s = _structure(ims["low"]), _structure(ims["high"])
    for scene, ref_low, ref_high in evaluation["scenes"]:
        c_low, c_high = float((low_s * ref_low).mean()), float((high_s * ref_high).mean())
        if max(c_low, c_high) >= LOL_SAME_SCENE:
            return f"scene of eval {scene} (corr high {c_high:.3f}, low {c_low:.3f})"
    return None


def extract_lol485(mirrors: Path, out: Path, repo: str, commit: str, rules: list, use: str,
                   shared: Path) -> list[Path]:
    """lol485/{low,high}: LoL's our485 pairs, byte-identical to the source blobs, without eval15 or its scenes."""
    from PIL import Image

    mirror = mirrors / repo.replace("/", "+") / "repo"
    if not mirror.exists():
        print(f"lol485: {mirror} missing (fetch {repo}); skipped")
        return []
    evaluation = shared_lol(shared)
    if evaluation is None:  # without eval15 no pair can be cleared
        print(f"lol485: no LoL eval15 in {shared / 'lol'} (low/, high/): cannot check the evaluation images; "
              "not laid out")
        return []
    blobs: dict[str, dict[str, tuple[str, str]]] = {}  # name → side → (path, blob)
    for folder, suffix, side, _ in rules:
        for line in _git(mirror, "ls-tree", commit, f"{folder}/").decode().splitlines():
            meta, path = line.split("\t", 1)
            if path.endswith(suffix) and meta.split()[1] == "blob":  # .DS_Store and the like are not photos
                blobs.setdefault(Path(path).name, {})[side] = (path, meta.split()[2])
    dest = out / "lol485"
    written, kept, dropped, means = [], [], [], []
    for name in sorted(blobs, key=lambda n: (len(n), n)):  # numeric names: 2.png before 10.png
        if len(blobs[name]) < 2:
            why = f"no {'high' if 'low' in blobs[name] else 'low'} image"
        else:
            try:
                data = {side: _git(mirror, "cat-file", "blob", blob) for side, (_, blob) in blobs[name].items()}
            except subprocess.CalledProcessError:  # a file the snapshot lacks (too large)
                data = None
            if data is None:
                why = "not in the snapshot"
            else:
                try:
                    ims = {side: Image.open(io.BytesIO(d)) for side, d in data.items()}
                    for im in ims.values():
                        im.load()
                except OSError as e:  # a broken file: skipped, not fatal to the whole step
                    why = f"not a readable image ({e})"
                else:
                    why = lol_refusal(name, data, ims, evaluation)
        if why:
            print(f"lol485: {name}: {why}; skipped")
            dropped.append(f"{name}: {why}")
            continue
        for side in ("low", "high"):
            target = dest / side / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data[side])  # the source bytes: provenance checkable with git hash-object
            written.append(target)
        means.append(tuple(float(np.asarray(ims[s], np.float32).mean()) / 255 for s in ("low", "high")))
        kept.append(name)
    if not kept:
        return written
    low_mean, high_mean = (float(np.mean([m[i] for m in means])) for i in (0, 1))
    n_images = len(evaluation["images"])
    (dest / "SOURCE.txt").write_text(
        f"{repo} @ {commit}\n{use}\n"
        f"Source paths: {', '.join(f'{folder}/*{suffix} → {side}/' for folder, suffix, side, _ in rules)} "
        f"(file names kept; bytes identical to the source blobs).\n"
        f"COUNT: {len(kept)} pairs (of {len(blobs)}); mean brightness (RGB mean in [0, 1]) low {low_mean:.4f}, "
        f"high {high_mean:.4f}, max low {max(m[0] for m in means):.4f}.\n"
        f"CHECKS against the {n_images} LoL eval15 images in {shared / 'lol'}: (1) no eval15 name, no sha256 match, "
        f"no 64 px RGB thumbnail (bilinear) within a mean abs diff of 2/255 of one, for the low and the high image; "
        f"(2) both 8-bit RGB PNG, same size, low mean < {LOL_DARK}, low darker than high; (3) no eval15 scene at "
        f"another exposure: 64 px grey thumbnails (bilinear, zero mean, unit variance) correlating "
        f"≥ {LOL_SAME_SCENE} with an eval15 scene's, low with low or high with high.\n"
        f"DROPPED ({len(dropped)}): {'; '.join(dropped) or 'none'}\n")
    print(f"lol485: {len(kept)} pairs from {repo} @ {commit[:7]}, {len(dropped)} dropped — {use}")
    return written


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
    files = extract(args.mirrors, args.out, args.shared)
    check_against_evaluation(files, args.out, args.shared)
    keep_dark(args.out)


if __name__ == "__main__":
    main()
