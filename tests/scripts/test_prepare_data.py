"""weights/bundled/prepare_data.py, fivek_train: DPE's test split and the shared FiveK pairs are never trained on.

The real step reads pinned snapshots under --mirrors; here tiny git repositories with synthetic images stand in for
them, so these tests need neither the mirrors nor ../shared/data.
"""

from __future__ import annotations

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
                                     "eezkni/UEGAN"}
    assert all(len(r[1]) == 40 and r[5] for r in rules)  # pinned commits, a licence each
    assert "MIT-Adobe FiveK" in use and "research use only" in use
