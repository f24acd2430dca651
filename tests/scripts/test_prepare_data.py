"""weights/bundled/prepare_data.py, fivek_train: DPE's test split and the shared FiveK pairs are never trained on.

The real step reads pinned snapshots under --mirrors; here tiny git repositories with synthetic images stand in for
them, so these tests need neither the mirrors nor ../shared/data.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture()
def prep():
    spec = importlib.util.spec_from_file_location("prepare_data", ROOT / "weights" / "bundled" / "prepare_data.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _smooth(seed: int, size=(64, 48)) -> np.ndarray:
    """A photo-like (low-frequency) 8-bit RGB image: its 64 px thumbnail survives re-encoding."""
    small = (np.random.default_rng(seed).random((4, 5, 3)) * 255).astype(np.uint8)
    return np.asarray(Image.fromarray(small).resize(size, Image.BICUBIC))


def _png(arr: np.ndarray, path: Path, mode: str = "RGB") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).convert(mode).save(path)


def _shared(root: Path) -> Path:
    for sub, seed in (("input", 1), ("expertC", 2)):
        _png(_smooth(seed), root / "fivek" / sub / "a0100.png")
    return root


def _mirror(mirrors: Path, repo: str, files: dict[str, bytes]) -> str:
    """A bare git snapshot of ``files`` at mirrors/owner+name/repo, as the fetch tool leaves it; its commit."""
    work = mirrors.parent / "work" / repo.replace("/", "+")
    for rel, data in files.items():
        (work / rel).parent.mkdir(parents=True, exist_ok=True)
        (work / rel).write_bytes(data)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"]
    subprocess.run([*git, "init", "-q", str(work)], check=True)
    subprocess.run([*git, "-C", str(work), "add", "-A"], check=True)
    subprocess.run([*git, "-C", str(work), "commit", "-q", "-m", "snapshot"], check=True)
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(mirrors / repo.replace("/", "+") / "repo")],
                   check=True)
    return subprocess.run(["git", "-C", str(work), "rev-parse", "HEAD"], check=True, capture_output=True,
                          text=True).stdout.strip()


def _encode(arr: np.ndarray, fmt: str = "PNG", mode: str = "RGB", **options) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).convert(mode).save(buf, fmt, **options)
    return buf.getvalue()


def test_dpe_split_refusal(prep):
    test, train = {"a0003"}, {"a0002", "a0005"}
    assert prep.fivek_refusal("a0002", test, train) is None
    assert "test split" in prep.fivek_refusal("a0003", test, train)
    assert "train list" in prep.fivek_refusal("a0004", test, train)  # in no list: refused too
    assert len([k for k in prep.FIVEK_IDS if prep.fivek_refusal(k, test, train)]) == 4998


def test_shared_pair_check_by_hash_and_by_content(prep, tmp_path):
    shared = prep.shared_fivek(_shared(tmp_path / "shared"))
    assert [name for name, _, _ in shared] == ["expertC/a0100.png", "input/a0100.png"]
    same = (tmp_path / "shared" / "fivek" / "input" / "a0100.png").read_bytes()
    found = prep.same_as_shared([(same, Image.open(io.BytesIO(same)))], shared)
    assert found == "same image as shared fivek/input/a0100.png"
    # an enlarged, re-encoded copy: another hash, the same image at 64 px
    copy = _encode(np.asarray(Image.fromarray(_smooth(2)).resize((128, 96), Image.LANCZOS)), "JPEG", quality=95)
    assert "expertC/a0100.png" in prep.same_as_shared([(copy, Image.open(io.BytesIO(copy)))], shared)
    other = _encode(_smooth(3))
    assert prep.same_as_shared([(other, Image.open(io.BytesIO(other)))], shared) is None
    assert prep.shared_fivek(tmp_path / "nowhere") == []


def test_extract_fivek_lays_out_only_allowed_pairs(prep, tmp_path, monkeypatch, capsys):
    mirrors, out, shared = tmp_path / "mirrors", tmp_path / "out", _shared(tmp_path / "shared")
    train = ["a0002", "a0005", "a0006", "a0007", "a0008", "a0009", "a0100"]
    split = _mirror(mirrors, "x/split", {"test.txt": b"a0003\na0100\n", "train.txt": "\n".join(train).encode()})
    monkeypatch.setattr(prep, "FIVEK_SPLIT", ("x/split", split, "test.txt", "train.txt", "Apache-2.0"))
    kept_in, kept_out = _smooth(10), _smooth(11)
    tif_in, tif_out = _smooth(12), _smooth(13)
    brighter = np.minimum(_smooth(2).astype(np.int16) + 1, 255).astype(np.uint8)
    files = {
        "in/a0002-kept_input.png": _encode(kept_in, mode="RGBA"), "out/a0002-kept.png": _encode(kept_out),
        "in/a0003-test.png": _encode(_smooth(14)), "out/a0003-test.png": _encode(_smooth(15)),
        "in/a0004-nolist.png": _encode(_smooth(16)), "out/a0004-nolist.png": _encode(_smooth(17)),
        "in/a0005-same.png": _encode(_smooth(18)), "out/a0005-same_gt.png": _encode(_smooth(18)),
        "in/a0006-crop.png": _encode(_smooth(19)), "out/a0006-crop.png": _encode(_smooth(20, (60, 46))),
        "in/a0006-crop.tif": _encode(_smooth(19), "TIFF"),
        # the .tif pair is taken over a same-size .png pair
        "in/a0007-both.tif": _encode(tif_in, "TIFF"), "out/a0007-both.tif": _encode(tif_out, "TIFF"),
        "in/a0007-both.png": _encode(_smooth(21)), "out/a0007-both.png": _encode(_smooth(22)),
        # the shared target, one level brighter: another hash, the same picture
        "in/a0008-shared.png": _encode(_smooth(23)), "out/a0008-shared.png": _encode(brighter),
        "in/a0100-sharedid.png": _encode(_smooth(1)), "out/a0100-sharedid.png": _encode(_smooth(2)),
    }
    commit = _mirror(mirrors, "x/src", files)
    rules = [("x/src", commit, "in", "out", "src", "MIT"), ("x/gone", commit, "in", "out", "gone", "MIT")]

    written = prep.extract_fivek(mirrors, out, rules, "training: test pairs", shared)

    dest = out / "fivek_train"
    assert sorted(p.relative_to(dest).as_posix() for p in written) == [
        "expertC/a0002.png", "expertC/a0007.png", "input/a0002.png", "input/a0007.png"]
    for name, arr in (("input/a0002", kept_in), ("expertC/a0002", kept_out),
                      ("input/a0007", tif_in), ("expertC/a0007", tif_out)):
        im = Image.open(dest / f"{name}.png")
        assert im.mode == "RGB" and np.array_equal(np.asarray(im), arr)  # RGBA input: alpha dropped
    log = capsys.readouterr().out
    assert "a0003 (src, x/src/in): in DPE's 498-image test split; skipped" in log
    assert "a0004 (src, x/src/in): not in the DPE/3D-LUT train list; skipped" in log
    assert "a0100 (src, x/src/in): in DPE's 498-image test split; skipped" in log
    assert "a0005 (src, x/src/in): input identical to target" in log
    assert "a0006 (src, x/src/in): no same-size input/target pair (.tif input only; .png 64×48 vs 60×46)" in log
    assert "a0008 (src, x/src/in): same image as shared fivek/expertC/a0100.png" in log
    assert sum("x+gone/repo missing" in line for line in log.splitlines()) == 1
    source = (dest / "SOURCE.txt").read_text()
    assert source.splitlines()[0] == f"x/src @ {commit}; DPE split: x/split @ {split}"
    assert "2 pairs (a0002 a0007); licence MIT" in source and "COUNT: 2 pairs" in source
    assert "refused (4994 ids, excluded_ids_4994.txt)" in source  # a0100 is in both lists: refused
    assert (dest / "dpe_mit498_test_ids.txt").read_text() == "a0003\na0100\n"
    excluded = (dest / "excluded_ids_4994.txt").read_text().split()
    assert {"a0003", "a0004", "a0100"} <= set(excluded) and not set(train[:-1]) & set(excluded)
    assert [row.split("\t")[0] for row in (dest / "MANIFEST.tsv").read_text().splitlines()[1:]] == ["a0002", "a0007"]


def test_fivek_step_without_mirrors_says_so_and_writes_nothing(prep, tmp_path, capsys):
    _, _, rules, use = prep.SOURCES["fivek_train"]
    assert prep.extract_fivek(tmp_path / "mirrors", tmp_path / "out", rules, use, tmp_path / "shared") == []
    log = capsys.readouterr().out.strip().splitlines()
    assert log == [f"fivek_train: {tmp_path / 'mirrors' / 'ImCharlesY+AdaInt' / 'repo'} missing "
                   "(fetch ImCharlesY/AdaInt); skipped"]
    assert not (tmp_path / "out").exists()


def test_fivek_sources_name_their_terms(prep):
    repo, commit, rules, use = prep.SOURCES["fivek_train"]
    assert repo is None and commit is None
    assert {r[0] for r in rules} == {"sjmoran/curl-image-enhancement", "sjmoran/deeplpf-image-enhancement",
                                     "eezkni/UEGAN", "hermosayhl/DeepUPE_pytorch", "zakaria-narjis/ai-photo-enhancer"}
    assert all(len(r[1]) == 40 and r[5] for r in rules)  # pinned commits, a licence each
    assert all("Expert C" in r[6] for r in rules if len(r) > 6)  # the newer sources say why the target is expert C
    assert "MIT-Adobe FiveK" in use and "research use only" in use and "downscaled alike to 512 px" in use


def test_fivek_jpegs_name_patterns_and_downscaling(prep, tmp_path, monkeypatch, capsys):
    """A folder may hold inputs and targets apart by a name pattern; JPEG pairs over 1024 px are downscaled alike."""
    mirrors, out, shared = tmp_path / "mirrors", tmp_path / "out", _shared(tmp_path / "shared")
    split = _mirror(mirrors, "x/split", {"test.txt": b"a0003\n", "train.txt": b"a0002\na0005\na0006\n"})
    monkeypatch.setattr(prep, "FIVEK_SPLIT", ("x/split", split, "test.txt", "train.txt", "Apache-2.0"))
    big_in, big_out = _smooth(30, (1200, 800)), _smooth(31, (1200, 800))
    small_in, small_out = _smooth(32, (300, 200)), _smooth(33, (300, 200))
    files = {
        "hr/input/a0002-big.jpg": _encode(big_in, "JPEG", quality=95),
        "hr/expertC_gt/a0002-big.jpg": _encode(big_out, "JPEG", quality=95),
        "samples/a0005-x_original.jpg": _encode(small_in, "JPEG", quality=95),
        "samples/a0005-x_C.jpg": _encode(small_out, "JPEG", quality=95),
        "samples/a0005-x_B.jpg": _encode(_smooth(34, (300, 200)), "JPEG", quality=95),  # another expert: ignored
        "samples/a0006-y_original.jpg": _encode(_smooth(35, (300, 200)), "JPEG"),  # no _C target: not a pair
    }
    commit = _mirror(mirrors, "x/src", files)
    rules = [("x/src", commit, "hr/input", "hr/expertC_gt", "hr", "MIT"),
             ("x/src", commit, "samples/*_original.jpg", "samples/*_C.jpg", "smp", "none stated", "Expert C: _C")]

    written = prep.extract_fivek(mirrors, out, rules, "training: test pairs", shared)

    dest = out / "fivek_train"
    assert sorted(p.relative_to(dest).as_posix() for p in written) == [
        "expertC/a0002.png", "expertC/a0005.png", "input/a0002.png", "input/a0005.png"]
    for name, arr in (("input/a0002", big_in), ("expertC/a0002", big_out)):
        im = Image.open(dest / f"{name}.png")
        assert im.mode == "RGB" and im.size == (512, 341)  # 1200×800 → long side 512, both alike
        expected = np.asarray(Image.fromarray(arr).resize((512, 341), Image.LANCZOS), np.float32)
        assert np.abs(np.asarray(im, np.float32) - expected).mean() < 3  # the same picture (JPEG-coded source)
    assert Image.open(dest / "input" / "a0005.png").size == (300, 200)  # under 1024 px: kept at its size
    manifest = (dest / "MANIFEST.tsv").read_text().splitlines()[1:]
    assert [row.split("\t")[:2] + row.split("\t")[4:5] for row in manifest] == [
        ["a0002", "hr", "512x341"], ["a0005", "smp", "300x200"]]
    assert manifest[1].split("\t")[2:4] == ["x+src/samples/a0005-x_original.jpg", "x+src/samples/a0005-x_C.jpg"]
    source = (dest / "SOURCE.txt").read_text()
    assert "downscaled: a0002 1200×800 → 512×341" in source
    assert "samples/*_original.jpg → input/, samples/*_C.jpg → expertC/; 1 pairs (a0005); licence none stated" in source
    assert "; Expert C: _C" in source and "mean PSNR(input, expertC)" in source
    assert "a0006" not in capsys.readouterr().out  # an input without a target is no candidate


def test_shared_pair_check_by_structure(prep, tmp_path):
    """Another rendering of a shared photo (its tones changed, its structure kept) is refused too."""
    shared = prep.shared_fivek(_shared(tmp_path / "shared"))
    darker = _encode((_smooth(1).astype(np.float32) * 0.6 + 10).astype(np.uint8), "JPEG", quality=90)
    found = prep.same_as_shared([(darker, Image.open(io.BytesIO(darker)))], shared)
    assert found.startswith("same picture as shared fivek/input/a0100.png (structure correlation")


# lol485: LoL's our485 pairs, laid out only when the LoL eval15 images in ../shared/data/lol can be checked.

LOL = "LOLdataset/our485"


def _dark(arr: np.ndarray, gain: float = 0.15) -> np.ndarray:
    return (arr * gain).astype(np.uint8)


def _lol_shared(root: Path) -> Path:
    """Two eval15 scenes, 1.png and 2.png: a dark low image and its normal-light high image."""
    for name, seed in (("1.png", 40), ("2.png", 41)):
        high = _smooth(seed, (24, 16))
        _png(_dark(high), root / "lol" / "low" / name)
        _png(high, root / "lol" / "high" / name)
    return root


def _lol_source(prep, monkeypatch, mirrors: Path, files: dict[str, bytes]) -> tuple:
    commit = _mirror(mirrors, "x/lol", files)
    repo, _, rules, use = prep.SOURCES["lol485"]
    monkeypatch.setitem(prep.SOURCES, "lol485", ("x/lol", commit, rules, use))
    return prep.SOURCES["lol485"]


def test_lol485_drops_eval15_its_scenes_and_unusable_pairs(prep, tmp_path, monkeypatch, capsys):
    shared = _lol_shared(tmp_path / "shared")
    ev = {f"{side}/{n}": np.asarray(Image.open(shared / "lol" / side / n)) for side in ("low", "high")
          for n in ("1.png", "2.png")}
    kept_low, kept_high = _encode(_dark(_smooth(30, (24, 16)))), _encode(_smooth(30, (24, 16)))
    bright = (_smooth(35, (24, 16)) * 0.3 + 60).astype(np.uint8)  # a dim photo, not a dark one
    pairs = {
        "10.png": (kept_low, kept_high),
        # one level brighter than eval low/1.png: another hash, the same picture
        "11.png": (_encode(ev["low/1.png"] + 1), _encode(_smooth(31, (24, 16)))),
        # eval scene 2 at another exposure: too far for the content check, same structure (low, then high)
        "12.png": (_encode(_dark(ev["low/2.png"], 0.5)), _encode(_smooth(33, (24, 16)))),
        "13.png": (_encode(_dark(_smooth(34, (24, 16)))), _encode(_dark(ev["high/2.png"], 0.8))),
        "14.png": (_encode(bright), _encode(np.minimum(bright.astype(np.int16) + 60, 255).astype(np.uint8))),
        "15.png": (_encode(_dark(_smooth(36, (24, 16)))), _encode(_smooth(36, (20, 16)))),
        "16.png": (_encode(_dark(_smooth(37, (24, 16))), mode="RGBA"), _encode(_smooth(37, (24, 16)))),
        "18.png": (_encode(_dark(_smooth(38, (24, 16)))), (shared / "lol" / "high" / "1.png").read_bytes()),
        "1.png": (_encode(_dark(_smooth(39, (24, 16)))), _encode(_smooth(39, (24, 16)))),
    }
    files = {f"{LOL}/{side}/{name}": pair[i] for name, pair in pairs.items() for i, side in enumerate(("low", "high"))}
    files |= {f"{LOL}/low/17.png": kept_low, f"{LOL}/low/.DS_Store": b"\0", f"{LOL}/high/.DS_Store": b"\0"}
    repo, commit, rules, use = _lol_source(prep, monkeypatch, tmp_path / "mirrors", files)

    written = prep.extract_lol485(tmp_path / "mirrors", tmp_path / "out", repo, commit, rules, use, shared)

    dest = tmp_path / "out" / "lol485"
    assert sorted(p.relative_to(dest).as_posix() for p in written) == ["high/10.png", "low/10.png"]
    assert (dest / "low" / "10.png").read_bytes() == kept_low  # the source bytes, not a re-encoding
    assert (dest / "high" / "10.png").read_bytes() == kept_high
    log = capsys.readouterr().out
    assert "lol485: 1.png: name of an eval15 image (1.png); skipped" in log
    assert "lol485: 11.png: low content ~ eval low/1.png (diff 1.00/255); skipped" in log
    assert "lol485: 12.png: scene of eval 2.png (corr high" in log
    assert "lol485: 13.png: scene of eval 2.png (corr high" in log
    assert f"lol485: 14.png: low mean {bright.mean() / 255:.3f} ≥ 0.25 (not dark enough); skipped" in log
    assert "lol485: 15.png: sizes differ (24×16 vs 20×16); skipped" in log
    assert "lol485: 16.png: not 8-bit RGB (RGBA, RGB); skipped" in log
    assert "lol485: 17.png: no high image; skipped" in log
    assert "lol485: 18.png: high identical (sha256) to eval high/1.png; skipped" in log
    assert "DS_Store" not in log and "10.png" not in log
    source = (dest / "SOURCE.txt").read_text()
    assert source.splitlines()[0] == f"x/lol @ {commit}"
    assert "COUNT: 1 pairs (of 10)" in source and "DROPPED (9): 1.png: name of an eval15 image" in source


def test_lol485_same_scene_measure_ignores_exposure(prep):
    scene, other = Image.fromarray(_smooth(41, (24, 16))), Image.fromarray(_smooth(30, (24, 16)))
    darker = Image.fromarray(_dark(np.asarray(scene), 0.3))
    assert float((prep._structure(scene) * prep._structure(darker)).mean()) > 0.99
    assert float((prep._structure(scene) * prep._structure(other)).mean()) < prep.LOL_SAME_SCENE
    flat = Image.new("RGB", (24, 16), (9, 9, 9))  # no structure: correlation 0, not a division by zero
    assert float((prep._structure(flat) * prep._structure(scene)).mean()) == 0.0


@pytest.mark.parametrize("layout", ["none", "low only"])
def test_lol485_refuses_without_eval15(prep, tmp_path, monkeypatch, capsys, layout):
    shared = tmp_path / "shared"
    if layout == "low only":
        _png(_dark(_smooth(40, (24, 16))), shared / "lol" / "low" / "1.png")
    pair = _encode(_dark(_smooth(30, (24, 16)))), _encode(_smooth(30, (24, 16)))
    files = {f"{LOL}/low/10.png": pair[0], f"{LOL}/high/10.png": pair[1]}
    repo, commit, rules, use = _lol_source(prep, monkeypatch, tmp_path / "mirrors", files)

    assert prep.extract_lol485(tmp_path / "mirrors", tmp_path / "out", repo, commit, rules, use, shared) == []
    assert capsys.readouterr().out.strip().splitlines() == [
        f"lol485: no LoL eval15 in {shared / 'lol'} (low/, high/): cannot check the evaluation images; not laid out"]
    assert not (tmp_path / "out").exists()


def test_lol485_without_mirror_says_so(prep, tmp_path, capsys):
    repo, commit, rules, use = prep.SOURCES["lol485"]
    shared = _lol_shared(tmp_path / "shared")
    assert prep.extract_lol485(tmp_path / "mirrors", tmp_path / "out", repo, commit, rules, use, shared) == []
    assert capsys.readouterr().out.strip().splitlines() == [
        f"lol485: {tmp_path / 'mirrors' / 'KaushikSenth+Final-Report' / 'repo'} missing "
        "(fetch KaushikSenth/Final-Report); skipped"]
    assert not (tmp_path / "out").exists()


def test_lol485_source_is_pinned_and_names_its_terms(prep):
    repo, commit, rules, use = prep.SOURCES["lol485"]
    assert (repo, commit) == ("KaushikSenth/Final-Report", "66661bb5f6b796a8f0751df9bbd332d74ba76cac")
    assert [r[:3] for r in rules] == [(f"{LOL}/low", ".png", "low"), (f"{LOL}/high", ".png", "high")]
    assert "BMVC 2018" in use and "research use" in use and "no licence file" in use


# sr_clean: clean photos for super-resolution, never an evaluation image (id, hash, content at any 90° rotation).

BSDS = "BSR/BSDS500/data/images"


def _sr_shared(root: Path) -> Path:
    """A Set5 and a Set14 image (the sizes of real ones), and the MANIFEST.sha256 of --shared."""
    _png(_smooth(60, (300, 260)), root / "set14" / "face.png")
    _png(_smooth(61, (260, 300)), root / "set5" / "HR" / "woman.png")
    (root / "MANIFEST.sha256").write_text("0" * 64 + "  ./sidd/noisy.mat\n")
    return root


def test_sr_clean_refuses_evaluation_images_and_lays_out_clean_ones(prep, tmp_path, capsys):
    shared = _sr_shared(tmp_path / "shared")
    set14 = np.asarray(Image.open(shared / "set14" / "face.png"))
    val = _smooth(62, (320, 256))
    kept_jpeg = _encode(_smooth(63, (320, 256)), "JPEG", quality=95)
    kept_rgba = _smooth(64, (256, 320))
    files = {
        f"{BSDS}/val/3096.jpg": _encode(val, "JPEG", quality=95),
        f"{BSDS}/train/3096.jpg": _encode(_smooth(65, (320, 256)), "JPEG", quality=95),  # a BSD100 id
        f"{BSDS}/train/a_kept.jpg": kept_jpeg,
        f"{BSDS}/train/b_rgba.png": _encode(kept_rgba, mode="RGBA"),
        # Set14's image enlarged and re-encoded: another hash, the same picture at 64 px
        f"{BSDS}/train/c_set14.jpg": _encode(np.asarray(Image.fromarray(set14).resize((420, 364), Image.LANCZOS)),
                                             "JPEG", quality=95),
        f"{BSDS}/train/d_set5.png": _encode(np.rot90(np.asarray(Image.open(shared / "set5" / "HR" / "woman.png")))),
        f"{BSDS}/train/e_exact.png": (shared / "set14" / "face.png").read_bytes(),
        f"{BSDS}/train/f_valcopy.png": _encode(val),  # a BSD100 photo under another name
        f"{BSDS}/train/g_small.png": _encode(_smooth(66, (255, 400))),
        f"{BSDS}/train/h_blocky.jpg": _encode(_smooth(67, (320, 256)), "JPEG", quality=50),
        f"{BSDS}/train/i_dup.png": _encode(np.minimum(_smooth(63, (320, 256)).astype(np.int16) + 3, 255)
                                           .astype(np.uint8)),
        f"{BSDS}/train/Thumbs.db": b"\0" * 64,
    }
    commit = _mirror(tmp_path / "mirrors", "x/bsds", files)
    rules = [("x/bsds", commit, f"{BSDS}/train", "", "bsds500", "MIT", f"{BSDS}/val"),
             ("x/gone", commit, f"{BSDS}/train", ".jpg", "gone", "MIT", f"{BSDS}/val")]

    written = prep.extract_sr_clean(tmp_path / "mirrors", tmp_path / "out", rules, "training: SR photos", shared)

    dest = tmp_path / "out" / "sr_clean"
    assert [p.name for p in written] == ["bsds500_a_kept.png", "bsds500_b_rgba.png"]
    decoded = np.asarray(Image.open(io.BytesIO(kept_jpeg)).convert("RGB"))
    for name, arr in (("bsds500_a_kept.png", decoded), ("bsds500_b_rgba.png", kept_rgba)):
        im = Image.open(dest / name)
        assert im.format == "PNG" and im.mode == "RGB" and np.array_equal(np.asarray(im), arr)  # alpha dropped
    log = capsys.readouterr().out
    src = f"sr_clean: x/bsds/{BSDS}/train"
    assert f"{src}/3096.jpg: id 3096 is a BSD100 image" in log
    assert f"{src}/c_set14.jpg: same picture as shared set14/face.png (corr" in log
    assert f"{src}/d_set5.png: same picture as shared set5/HR/woman.png (corr" in log  # turned by 90°
    assert f"{src}/e_exact.png: identical (sha256) to shared set14/face.png" in log
    assert f"{src}/f_valcopy.png: same picture as BSD100 x/bsds/{BSDS}/val/3096.jpg" in log
    assert f"{src}/g_small.png: too small (255×400, short side < 256)" in log
    assert f"{src}/h_blocky.jpg: JPEG quality 50 < 90" in log
    assert f"{src}/i_dup.png: near-duplicate of kept bsds500_a_kept.png (corr" in log
    assert f"{src}/Thumbs.db: not a readable image" in log
    assert sum("x+gone/repo missing" in line for line in log.splitlines()) == 1
    rows = [row.split("\t") for row in (dest / "MANIFEST.tsv").read_text().splitlines()]
    assert rows[0] == ["name", "source_repo", "path", "source_blob_sha256", "width", "height"]
    assert rows[1] == ["bsds500_a_kept.png", "x/bsds", f"{BSDS}/train/a_kept.jpg",
                       hashlib.sha256(kept_jpeg).hexdigest(), "320", "256"]
    source = (dest / "SOURCE.txt").read_text()
    assert f"x/bsds @ {commit}: {BSDS}/train/* → bsds500_<stem>.png, 2 photos" in source
    assert "COUNT: 2 photos" in source and "DROPPED (9):" in source


def test_sr_clean_needs_the_evaluation_sets(prep, tmp_path, capsys):
    _, _, rules, use = prep.SOURCES["sr_clean"]
    assert prep.extract_sr_clean(tmp_path / "mirrors", tmp_path / "out", rules, use, tmp_path / "shared") == []
    assert capsys.readouterr().out.strip().startswith(f"sr_clean: no evaluation images in {tmp_path / 'shared'}")
    assert not (tmp_path / "out").exists()


def test_sr_clean_jpeg_quality(prep):
    for quality in (50, 75, 90, 95):
        data = _encode(_smooth(70, (64, 64)), "JPEG", quality=quality)
        assert prep.jpeg_quality(Image.open(io.BytesIO(data))) == quality
    assert prep.jpeg_quality(Image.open(io.BytesIO(_encode(_smooth(70))))) is None


def test_sr_clean_source_is_pinned_and_names_its_terms(prep):
    repo, commit, rules, use = prep.SOURCES["sr_clean"]
    assert repo is None and commit is None
    assert [r[:5] for r in rules] == [("Sisso16/ssn_pytorch", "c4f9ac8c43397cbacbf2e2ba1505efafa769435d",
                                       f"{BSDS}/train", ".jpg", "bsds500")]
    assert rules[0][6] == f"{BSDS}/val" and "MIT" in rules[0][5]
    assert "non-commercial research" in use and "BSDS300 train" in use
