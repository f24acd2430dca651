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
import fnmatch
import hashlib
import io
import re
import subprocess
from pathlib import Path

import numpy as np

# fivek_train: a pair whose long side exceeds FIVEK_MAX_SIDE px is downscaled (both images alike, PIL LANCZOS)
# to a long side of FIVEK_LONG_SIDE px, as the 512-px renderings of the other sources
FIVEK_MAX_SIDE, FIVEK_LONG_SIDE = 1024, 512

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
    # (repository, commit, input folder, Expert C folder, tag, licence[, note]): pairs matched by FiveK id (aNNNN);
    # a folder may end in a file-name pattern ("dir/*_C.jpg") when inputs and targets share one folder
    "fivek_train": (None, None, [
        ("sjmoran/curl-image-enhancement", "4be9753a8063f9833423e4aa5947ae7a64b114f8",
         "adobe5k_dpe/curl_example_test_input", "adobe5k_dpe/curl_example_test_output", "curl",
         "BSD-3-Clause (the README's License section; no LICENSE file at this commit)",
         "Expert C: CURL's Adobe-DPE data (Lightroom export, Expert C as the label, long side 512)"),
        ("sjmoran/deeplpf-image-enhancement", "fd05d129e5f0cb18a6c5afe2fd4f6ebde9445b9f",
         "adobe5k_dpe/deeplpf_example_test_input", "adobe5k_dpe/deeplpf_example_test_output", "lpf",
         "BSD-3-Clause (the repository's LICENSE, (c) 2020 Huawei Technologies Co., Ltd.)",
         "Expert C: docs/ADOBE_DPE_DATASET.md ('Expert C retouching as the target')"),
        ("eezkni/UEGAN", "80a9efefd8c265bb9dd48bf6c2dc66d3db912052",
         "data/fivek/test/raw", "data/fivek/test/label", "ue",
         "MIT (the README's License section; no LICENSE file at this commit)",
         "Expert C: the README's data preparation (collection Experts/C as the label); data/fivek/train/raw and "
         "train/exp are unpaired (other photos), not used"),
        ("eezkni/UEGAN", "80a9efefd8c265bb9dd48bf6c2dc66d3db912052",
         "data/fivek/val/raw", "data/fivek/val/label", "ue",
         "MIT (the README's License section; no LICENSE file at this commit)",
         "Expert C: as data/fivek/test"),
        ("hermosayhl/DeepUPE_pytorch", "7aa9a67a55cac1e9057d6f39d525780e5c6b88e4",
         "high_resolution/input", "high_resolution/expertC_gt", "upe",
         "none stated (no LICENSE file, no licence in the README at this commit)",
         "Expert C: the README trains on 'the ExpertC image pairs' of FiveK, folders input/ and expertC_gt/; "
         "full-size JPEGs (the 4 MiB+ ones are not in the snapshot), downscaled here"),
        ("zakaria-narjis/ai-photo-enhancer", "c0eb0673040ed777b1b4646cba493c7b3f57d06e",
         "src/sample_images/*_original.jpg", "src/sample_images/*_C.jpg", "zak",
         "none stated (no LICENSE file, no licence in the README at this commit)",
         "Expert C: the file suffix _C and the repository's loader (EXPERTC_FOLDER = './dataset/expertC/' vs "
         "./dataset/original/); 512-px JPEGs"),
    ], "training: FiveK-style input → expert C pairs (8-bit RGB PNG, input/<id>.png + expertC/<id>.png), the "
       "example/test images these repositories ship (Lightroom renderings, long side 512; UEGAN's are squashed to "
       f"512×512; sources with a long side over {FIVEK_MAX_SIDE} px are downscaled alike to {FIVEK_LONG_SIDE} px, "
       "PIL LANCZOS); image terms: MIT-Adobe FiveK (Bychkovsky et al., CVPR 2011, "
       "https://data.csail.mit.edu/graphics/fivek/, LicenseAdobe.txt / LicenseAdobeMIT.txt): research use only — "
       "the code licences cover the repositories, not the photographs"),
    # (repository, commit, folder, suffix, tag, licence, held-out folder): clean photos for bicubic ×2/×3/×4 SR,
    # decoded and written as 8-bit RGB PNG; ids in the held-out folder (BSD100) are refused, and it is a content
    # reference too
    "sr_clean": (None, None, [
        ("Sisso16/ssn_pytorch", "c4f9ac8c43397cbacbf2e2ba1505efafa769435d", "BSR/BSDS500/data/images/train", ".jpg",
         "bsds500", "MIT (the repository's LICENSE, (c) 2020 teppei suzuki; it covers the code, not the photos)",
         "BSR/BSDS500/data/images/val"),
    ], "training (super-resolution, clean HR): the BSDS500 training photos (= the BSDS300 train split, 200 Corel "
       "photos, JPEG quality 95, all 481×321 in this copy: BSDS's portrait photos seem turned by 90°, its test and val "
       "folders keep 321×481 ones), decoded and written as 8-bit RGB PNG (no resizing); image terms: Berkeley "
       "Segmentation Dataset (Martin, Fowlkes, Tal, Malik, ICCV 2001; Arbeláez et al., TPAMI 2011, "
       "https://www2.eecs.berkeley.edu/Research/Projects/CS/vision/grouping/resources.html): non-commercial research "
       "and educational use only — the code licence covers the repository, not the photographs"),
}
LOL_HELD_BACK = ("665", "669", "748", "778", "780")
# DPE's FiveK split (its own list is only in a dead external zip): the 3D-LUT/AdaInt copy, which follows DPE.
FIVEK_SPLIT = ("ImCharlesY/AdaInt", "5678851339dff90becb09c3dec41e7214207ccbc", "adaint/annfiles/FiveK/test.txt",
               "adaint/annfiles/FiveK/train.txt", "Apache-2.0 (the repository's LICENSE)")
FIVEK_IDS = [f"a{i:04d}" for i in range(1, 5001)]


def _git(mirror: Path, *args: str) -> bytes:
    return subprocess.run(["git", f"--git-dir={mirror}", *args], check=True, capture_output=True).stdout


def _blobs(mirror: Path, commit: str, folder: str, suffix: str = "", *, any_case: bool = False) -> list[tuple[str, str]]:
    """Sorted (path, blob) of the files of one folder at ``commit`` whose name ends with ``suffix`` (in any case
    with ``any_case``): .DS_Store, Thumbs.db and sub-folders are left out."""
    files = []
    for line in _git(mirror, "ls-tree", commit, f"{folder}/").decode().splitlines():
        meta, path = line.split("\t", 1)
        if meta.split()[1] == "blob" and (path.lower() if any_case else path).endswith(suffix):
            files.append((path, meta.split()[2]))
    return sorted(files)


def extract(mirrors: Path, out: Path, shared: Path = Path("../shared/data"), only: list[str] | None = None) -> list[Path]:
    written = []
    for name, (repo, commit, rules, use) in SOURCES.items():
        if only and name not in only:
            continue
        if name == "teachers":
            written += extract_teachers(mirrors, out, rules, use)
            continue
        if name == "fivek_train":
            written += extract_fivek(mirrors, out, rules, use, shared)
            continue
        if name == "lol485":
            written += extract_lol485(mirrors, out, repo, commit, rules, use, shared)
            continue
        if name == "sr_clean":
            written += extract_sr_clean(mirrors, out, rules, use, shared)
            continue
        mirror = mirrors / repo.replace("/", "+") / "repo"
        if not mirror.exists():
            print(f"{name}: {mirror} missing (fetch {repo}); skipped")
            continue
        count = 0
        for folder, suffix, dest, rename in rules:
            for path, blob in _blobs(mirror, commit, folder, suffix):
                fname = Path(path).name
                if rename:
                    fname = fname.replace(*rename)
                target = out / name / dest / fname
                target.parent.mkdir(parents=True, exist_ok=True)
                try:
                    target.write_bytes(_git(mirror, "cat-file", "blob", blob))
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


FIVEK_SAME_PICTURE = 0.97  # 64 px grey-structure correlation at or above which two images show the same picture


def same_as_shared(files: list[tuple[bytes, object]], shared: list[tuple[str, str, np.ndarray]]) -> str | None:
    """The shared image one of ``(file bytes, decoded image)`` is, by sha256 or at 64 px (a re-encoded or resized
    copy has another hash; another rendering of the same photo keeps its structure), or None."""
    from PIL import Image

    def structure(thumb: np.ndarray) -> np.ndarray:  # of the 64 px thumbnails, as _structure
        return _structure(Image.fromarray(np.uint8(np.rint(thumb * 255))))

    structures = {}
    for data, im in files:
        digest, thumb = hashlib.sha256(data).hexdigest(), _thumb(im)
        own = structure(thumb)
        for name, ref_digest, ref_thumb in shared:
            if digest == ref_digest or float(np.abs(thumb - ref_thumb).mean()) < 2 / 255:
                return f"same image as shared fivek/{name}"
            if name not in structures:
                structures[name] = structure(ref_thumb)
            corr = float((own * structures[name]).mean())
            if corr >= FIVEK_SAME_PICTURE:
                return f"same picture as shared fivek/{name} (structure correlation {corr:.3f})"
    return None


def _fivek_listing(mirror: Path, commit: str, folder: str) -> dict[str, list[tuple[str, str]]]:
    """FiveK id → sorted [(path, blob)] of one folder; a last component with "*" is a file-name pattern."""
    pattern = "*"
    if "*" in folder.rsplit("/", 1)[-1]:
        folder, pattern = folder.rsplit("/", 1)
    files: dict[str, list[tuple[str, str]]] = {}
    for path, blob in _blobs(mirror, commit, folder):
        m = re.match(r"(a\d{4})", Path(path).name)
        if m and fnmatch.fnmatchcase(Path(path).name, pattern):
            files.setdefault(m.group(1), []).append((path, blob))
    return {k: sorted(v) for k, v in files.items()}


def _fivek_pair(mirror: Path, inputs: list[tuple[str, str]], targets: list[tuple[str, str]]):
    """((input path, target path, [input bytes, target bytes], [decoded images]), None) for the first same-size pair,
    or (None, why there is none)."""
    from PIL import Image

    sizes = []
    # DeepLPF ships each photo as .tif and as .png in several crops: the .tif pair first, then the .png one; other
    # sources ship JPEGs.
    for ext in (".tif", ".png", ".jpg"):
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
    return None, f"no same-size input/target pair ({'; '.join(sizes) or 'no .tif, .png or .jpg pair'})"


def _fivek_rgb(im) -> np.ndarray:
    """8-bit RGB array (an alpha channel dropped), downscaled to a long side of FIVEK_LONG_SIDE px (PIL LANCZOS)
    when its long side exceeds FIVEK_MAX_SIDE px; the input and the target of a pair have one size, so both are
    downscaled alike."""
    from PIL import Image

    rgb = im.convert("RGB")
    if max(rgb.size) > FIVEK_MAX_SIDE:
        scale = FIVEK_LONG_SIDE / max(rgb.size)
        rgb = rgb.resize((round(rgb.width * scale), round(rgb.height * scale)), Image.LANCZOS)
    return np.asarray(rgb)


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
    psnrs: list[float] = []
    for src_repo, src_commit, in_folder, tgt_folder, tag, licence, *note in rules:
        mirror = mirrors / src_repo.replace("/", "+") / "repo"
        if not mirror.exists():
            print(f"fivek_train: {mirror} missing (fetch {src_repo}); {in_folder} skipped")
            continue
        origins[f"{src_repo} @ {src_commit}"] = None
        inputs = _fivek_listing(mirror, src_commit, in_folder)
        targets = _fivek_listing(mirror, src_commit, tgt_folder)
        ids, resized, source_psnrs = [], [], []
        for fid in sorted(inputs.keys() & targets.keys()):
            why = fivek_refusal(fid, test_ids, train_ids)
            if not why:
                pair, why = _fivek_pair(mirror, inputs[fid], targets[fid])
            if not why:
                in_path, tgt_path, data, ims = pair
            if not why and any(im.mode.startswith(("I", "F")) for im in ims):  # 16-bit/float, not 8-bit renderings
                why = f"not 8-bit ({ims[0].mode}, {ims[1].mode})"
            if not why:
                a, b = (_fivek_rgb(im) for im in ims)  # RGBA sources: alpha dropped
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
            source_psnrs.append(psnr)
            if ims[0].size != (a.shape[1], a.shape[0]):
                resized.append(f"{fid} {ims[0].size[0]}×{ims[0].size[1]} → {a.shape[1]}×{a.shape[0]}")
        psnrs += source_psnrs
        extra = f"; mean PSNR(input, expertC) {np.mean(source_psnrs):.2f} dB" if source_psnrs else ""
        extra += f"; downscaled: {', '.join(resized)}" if resized else ""
        extra += f"; {note[0]}" if note else ""
        shown = [f if "*" in f.rsplit("/", 1)[-1] else f"{f}/" for f in (in_folder, tgt_folder)]
        lines.append(f"{src_repo} @ {src_commit}: {shown[0]} → input/, {shown[1]} → expertC/; "
                     f"{len(ids)} pairs ({' '.join(ids) or 'none'}); licence {licence}{extra}")
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
        f"COUNT: {len(kept)} pairs (per-pair origin, size and PSNR in MANIFEST.tsv); mean PSNR(input, expertC), "
        f"8-bit RGB: {np.mean(psnrs):.2f} dB\n"
        f"EXCLUSION: a FiveK id in DPE's 498-image test split, or in no DPE/3D-LUT train list, is refused "
        f"({len(excluded)} ids, {excluded_name}); lists: {repo} @ {commit}, {test_path} "
        f"(→ dpe_mit498_test_ids.txt) and {train_path}, licence {split_licence}. Every kept pair also differs from "
        f"the {len(evaluation)} shared FiveK evaluation images (sha256, 64 px thumbnails within 2/255, 64 px grey "
        f"structure correlation < {FIVEK_SAME_PICTURE}); pairs whose input is "
        f"identical to the target, or without a same-size input/target, are dropped.\n"
        f"DROPPED: {'; '.join(dropped) or 'none'}\n")
    print(f"fivek_train: {len(kept)} pairs from {origins} — {len(excluded)} FiveK ids refused (DPE split)")
    return written


LOL_DARK = 0.25  # a low image at least this bright (RGB mean in [0, 1]) is not a low-light input
# grey-structure correlation (low with low or high with high): our485's 11 same-scene frames of eval15 score
# ≥ 0.983, the closest pair kept 0.820 (195.png)
LOL_SAME_SCENE = 0.97


def _structure(im, resample: int | None = None) -> np.ndarray:
    """64×64 grey thumbnail at zero mean and unit variance: the mean of the product of two is their correlation,
    which ignores exposure, so it finds the same scene shot darker or brighter."""
    from PIL import Image

    resample = Image.BILINEAR if resample is None else resample
    x = np.asarray(im.convert("L").resize((64, 64), resample), np.float64).ravel()
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
        for path, blob in _blobs(mirror, commit, folder, suffix):
            blobs.setdefault(Path(path).name, {})[side] = (path, blob)
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


# sr_clean: clean photos for bicubic super-resolution, checked against every evaluation image in --shared.
SR_SHARED = ("set5", "set14", "mcmaster", "kodak24", "cbsd68", "lol", "sidd", "dnd", "fivek")
SR_SAME = 0.95  # grey-structure correlation (64 px LANCZOS, any 90° rotation) at which two photos are the same
SR_MIN_SIDE = 256  # shortest side of a usable photo (the training crops are cut from it)
SR_MIN_QUALITY = 90  # a JPEG below this (IJG-scale estimate of its luminance table) carries block artefacts
# IJG's luminance quantisation table (quality 50): a JPEG's quality is read off its scaling
_IJG_LUMA = np.array([16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
                      14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113,
                      92, 49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99], np.float64)


def jpeg_quality(im) -> int | None:
    """The IJG quality (1–100) whose luminance table is closest to this JPEG's, or None for a non-JPEG."""
    tables = getattr(im, "quantization", None)
    if im.format != "JPEG" or not tables:
        return None
    total = float(np.sum(tables[0]))

    def table(q: int) -> np.ndarray:
        scale = 5000 / q if q < 50 else 200 - 2 * q
        return np.clip(np.floor((_IJG_LUMA * scale + 50) / 100), 1, 255)

    return min(range(1, 101), key=lambda q: (abs(float(table(q).sum()) - total), -q))


def _sr_structures(im) -> list[np.ndarray]:
    """The 64 px LANCZOS grey structure (see _structure) of an image and of its 90°, 180° and 270° rotations."""
    from PIL import Image

    im = im.convert("RGB")
    turns = (None, Image.Transpose.ROTATE_90, Image.Transpose.ROTATE_180, Image.Transpose.ROTATE_270)
    return [_structure(im if t is None else im.transpose(t), Image.LANCZOS) for t in turns]


def shared_sr(shared: Path) -> dict | None:
    """Every evaluation file of ``shared``: the sha256s of MANIFEST.sha256 and of each file of SR_SHARED, and the
    (name, structure of each rotation) of each PNG; None when there is none to check against."""
    from PIL import Image

    files = sorted(f for sub in SR_SHARED for f in (shared / sub).rglob("*") if f.is_file())
    if not files:
        return None
    digests = {hashlib.sha256(f.read_bytes()).hexdigest(): f"shared {f.relative_to(shared).as_posix()}" for f in files}
    manifest = shared / "MANIFEST.sha256"
    for line in manifest.read_text().splitlines() if manifest.exists() else []:
        if line.strip():
            digest, name = line.split(maxsplit=1)
            digests.setdefault(digest, f"shared {name.removeprefix('./')}")
    images = [(f"shared {f.relative_to(shared).as_posix()}", _sr_structures(Image.open(f)))
              for f in files if f.suffix == ".png"]
    return {"digests": digests, "images": images}


def sr_refusal(data: bytes, im, held_out: set[str], stem: str, evaluation: dict,
               kept: list[tuple[str, list[np.ndarray]]]) -> tuple[str | None, list[np.ndarray] | None]:
    """(why one candidate photo may not be laid out, or None; its structures)."""
    if stem in held_out:
        return f"id {stem} is a BSD100 image (BSDS300 test = BSDS500 val)", None
    digest = hashlib.sha256(data).hexdigest()
    if digest in evaluation["digests"]:
        return f"identical (sha256) to {evaluation['digests'][digest]}", None
    if im.mode not in ("RGB", "RGBA", "L", "P") or (im.format == "PNG" and data[24] != 8):  # IHDR bit depth
        return f"not an 8-bit photo ({im.format} {im.mode})", None
    if min(im.size) < SR_MIN_SIDE:
        return f"too small ({im.size[0]}×{im.size[1]}, short side < {SR_MIN_SIDE})", None
    quality = jpeg_quality(im)
    if quality is not None and quality < SR_MIN_QUALITY:
        return f"JPEG quality {quality} < {SR_MIN_QUALITY}", None
    mine = _sr_structures(im)
    for what, images in (("same picture as", evaluation["images"]), ("near-duplicate of kept", kept)):
        for label, refs in images:
            corr = max(float((mine[0] * ref).mean()) for ref in refs)
            if corr >= SR_SAME:
                return f"{what} {label} (corr {corr:.3f})", None
    return None, mine


def extract_sr_clean(mirrors: Path, out: Path, rules: list, use: str, shared: Path) -> list[Path]:
    """sr_clean/<tag>_<stem>.png: clean photos as 8-bit RGB PNG (decoded pixels, no resizing), none of them an
    evaluation image (id, sha256, or content at any 90° rotation), a near-duplicate of another, small or blocky."""
    from PIL import Image

    evaluation = shared_sr(shared)
    if evaluation is None:  # without the evaluation sets no photo can be cleared
        print(f"sr_clean: no evaluation images in {shared} ({', '.join(SR_SHARED)}): cannot check them; not laid out")
        return []
    dest = out / "sr_clean"
    written, kept, rows, dropped, lines = [], [], [], [], []
    for repo, commit, folder, suffix, tag, licence, held_folder in rules:
        mirror = mirrors / repo.replace("/", "+") / "repo"
        if not mirror.exists():
            print(f"sr_clean: {mirror} missing (fetch {repo}); {folder} skipped")
            continue
        held = _blobs(mirror, commit, held_folder, suffix, any_case=True) if held_folder else []
        held_out = {Path(p).stem for p, _ in held}
        for path, blob in held:  # the held-out photos are evaluation images too: their copies are refused
            data = _git(mirror, "cat-file", "blob", blob)
            evaluation["digests"].setdefault(hashlib.sha256(data).hexdigest(), f"BSD100 {repo}/{path}")
            evaluation["images"].append((f"BSD100 {repo}/{path}", _sr_structures(Image.open(io.BytesIO(data)))))
        count = 0
        for path, blob in _blobs(mirror, commit, folder, suffix, any_case=True):
            stem, name = Path(path).stem, f"{tag}_{Path(path).stem}.png"
            try:
                data = _git(mirror, "cat-file", "blob", blob)
                im = Image.open(io.BytesIO(data))
                im.load()
            except subprocess.CalledProcessError:  # a file the snapshot lacks (too large)
                why = "not in the snapshot"
            except OSError as e:
                why = f"not a readable image ({e})"
            else:
                why, mine = sr_refusal(data, im, held_out, stem, evaluation, kept)
            if why:
                print(f"sr_clean: {repo}/{path}: {why}; skipped")
                dropped.append(f"{repo}/{path}: {why}")
                continue
            target = dest / name
            target.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(np.asarray(im.convert("RGB"))).save(target, "PNG")  # pixels only: no profile, no alpha
            written.append(target)
            kept.append((name, mine))
            rows.append((name, repo, path, hashlib.sha256(data).hexdigest(), str(im.size[0]), str(im.size[1])))
            count += 1
        lines.append(f"{repo} @ {commit}: {folder}/*{suffix} → {tag}_<stem>.png, {count} photos; held out (BSD100): "
                     f"{held_folder}/ ({len(held_out)} ids); licence {licence}")
    if not kept:
        return written
    size = sum(f.stat().st_size for f in written)
    (dest / "MANIFEST.tsv").write_text("name\tsource_repo\tpath\tsource_blob_sha256\twidth\theight\n"
                                       + "".join("\t".join(row) + "\n" for row in rows))
    (dest / "SOURCE.txt").write_text(
        "; ".join(f"{repo} @ {commit}" for repo, commit, *_ in rules) + f"\n{use}\n" + "\n".join(lines) + "\n"
        f"COUNT: {len(kept)} photos, {size / 2 ** 20:.1f} MiB of PNG (per-photo origin, blob sha256 and size in "
        f"MANIFEST.tsv)\n"
        f"EXCLUSION: never an image of Set5, Set14, McMaster, BSD100/B100 (the BSDS300 test ids = BSDS500 val), "
        f"Urban100, Manga109, DIV2K test, RealSR test, Kodak kodim19–24, Nam, DND, RNI15, DICM, LIME, MEF, NPE, VV, "
        f"LoL, SIDD, nor of CBSD68 (already trained on). Checked: (1) no id of the held-out BSD100 folder; (2) no "
        f"sha256 of a file of {', '.join(SR_SHARED)} in --shared or of its MANIFEST.sha256, nor of a BSD100 photo; "
        f"(3) no 64×64 LANCZOS grey thumbnail (zero mean, unit variance) correlating ≥ {SR_SAME} with one of the "
        f"{len(evaluation['images'])} shared/BSD100 images at any 90° rotation; (4) no near-duplicate (same "
        f"measure) of a photo already kept; (5) 8-bit, short side ≥ {SR_MIN_SIDE}, JPEG quality ≥ {SR_MIN_QUALITY}. "
        f"Sources are natural Corel photos: none is from Urban100, Manga109, DIV2K, RealSR, Nam, RNI15, MEF, NPE or "
        f"VV (not in --shared, so not checked by content). Set5's woman is BSDS 302003 turned and rescaled (corr "
        f"0.965 here): Set5/Set14 can be crops of such photos, so a one-off search (normalised cross-correlation of "
        f"every Set5 HR and Set14 image, 4 rotations, scales 0.2–1.0, in every BSDS500 train photo at half size) was "
        f"run on this commit: 302003 ↔ woman (0.993) is the only match; the next best is 0.853 (noise: small "
        f"low-texture templates).\n"
        f"DROPPED ({len(dropped)}): {'; '.join(dropped) or 'none'}\n")
    print(f"sr_clean: {len(kept)} photos, {len(dropped)} dropped — {use}")
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
    ap.add_argument("--only", action="append", choices=list(SOURCES), help="lay out only this set (repeatable)")
    args = ap.parse_args()
    files = extract(args.mirrors, args.out, args.shared, args.only)
    check_against_evaluation(files, args.out, args.shared)
    if not args.only or "zerodce" in args.only:
        keep_dark(args.out)


if __name__ == "__main__":
    main()
