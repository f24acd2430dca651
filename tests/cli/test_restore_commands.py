"""End-to-end CLI runs of denoise / enhance / super-resolve / deblur / restore with small real models."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image as PILImage
from typer.testing import CliRunner

from mirnet_cli.cli.app import app
from tests.conftest import FIXTURES, shared_path

runner = CliRunner()
GOLDEN_V2 = FIXTURES / "golden" / "v2_nfeat16" / "weights.safetensors"


@pytest.fixture(scope="module")
def dual_pixel_weights(tmp_path_factory):
    import torch

    from mirnet_cli import build_model
    from mirnet_cli.loading.checkpoint import save_pretrained

    torch.manual_seed(0)
    model = build_model("mirnet_v2", n_feat=16, n_MRB=1, inp_channels=6, task="defocus_deblurring")
    return save_pretrained(model, tmp_path_factory.mktemp("dp") / "model")


def _photo(path: Path, size=(40, 28), seed=0, mode="RGB") -> Path:
    rng = np.random.default_rng(seed)
    arr = (rng.random((size[1], size[0], 3)) * 255).astype(np.uint8)
    im = PILImage.fromarray(arr).convert(mode)
    path.parent.mkdir(parents=True, exist_ok=True)
    im.save(path)
    return path


def _run(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_denoise_single_file_with_golden_weights(tmp_path):
    src = _photo(tmp_path / "in" / "photo.png")
    res = _run("denoise", src, "--weights", GOLDEN_V2, "-o", tmp_path / "out", "--quiet", "--device", "cpu")
    assert res.exit_code == 0, res.output
    out = tmp_path / "out" / "photo.png"
    assert out.is_file()
    got = np.asarray(PILImage.open(out))
    assert got.shape == (28, 40, 3) and got.dtype == np.uint8
    assert not np.array_equal(got, np.asarray(PILImage.open(src)))  # the network did something


def test_default_output_folder_is_a_sibling_and_inputs_untouched(tmp_path):
    folder = tmp_path / "photos"
    src = _photo(folder / "a.png")
    before = src.read_bytes()
    res = _run("denoise", folder, "--weights", GOLDEN_V2, "--quiet", "--device", "cpu")
    assert res.exit_code == 0, res.output
    assert (tmp_path / "photos_mirnet-denoise" / "a.png").is_file()
    assert src.read_bytes() == before
    assert sorted(p.name for p in folder.iterdir()) == ["a.png"]


def test_batch_with_corrupt_file_keeps_going_and_exits_1(tmp_path):
    folder = tmp_path / "batch"
    _photo(folder / "good1.png", seed=1)
    _photo(folder / "good2.jpg", seed=2)
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20)
    (folder / "empty.jpg").write_bytes(b"")
    res = _run("denoise", folder, "--weights", GOLDEN_V2, "-o", tmp_path / "out", "--device", "cpu", "--json", "-")
    assert res.exit_code == 1
    assert (tmp_path / "out" / "good1.png").is_file() and (tmp_path / "out" / "good2.jpg").is_file()
    summary = json.loads(res.stdout[res.stdout.index("{"):])
    assert summary["counts"] == {"done": 2, "skipped": 0, "failed": 2}
    failed = {Path(r["input"]).name: r["reason"] for r in summary["results"] if r["status"] == "failed"}
    assert set(failed) == {"broken.png", "empty.jpg"}
    assert all(name in reason for name, reason in failed.items())
    assert "Traceback" not in res.output
    assert "done 2, skipped 0, failed 2" in res.stderr


def test_rerun_skips_existing_outputs_and_fail_fast(tmp_path):
    folder = tmp_path / "batch"
    _photo(folder / "a.png")
    out = tmp_path / "out"
    assert _run("denoise", folder, "--weights", GOLDEN_V2, "-o", out, "-q", "--device", "cpu").exit_code == 0
    stamp = (out / "a.png").stat().st_mtime_ns
    res = _run("denoise", folder, "--weights", GOLDEN_V2, "-o", out, "--device", "cpu", "--json", "-")
    assert res.exit_code == 0
    assert json.loads(res.stdout[res.stdout.index("{"):])["counts"]["skipped"] == 1
    assert (out / "a.png").stat().st_mtime_ns == stamp
    # outputs inside the input tree are never picked up as inputs
    res = _run("denoise", tmp_path, "-r", "--weights", GOLDEN_V2, "-o", out, "--device", "cpu", "--json", "-")
    names = [Path(r["input"]).name for r in json.loads(res.stdout[res.stdout.index("{"):])["results"]]
    assert names == ["a.png"]


def test_fail_fast_stops_at_first_failure(tmp_path):
    folder = tmp_path / "batch"
    (folder).mkdir()
    (folder / "a_bad.png").write_bytes(b"nope")
    _photo(folder / "b_good.png")
    res = _run("denoise", folder, "--weights", GOLDEN_V2, "-o", tmp_path / "o", "--fail-fast", "--device", "cpu")
    assert res.exit_code == 1
    assert not (tmp_path / "o" / "b_good.png").exists()


def test_recursive_mirrors_tree_and_unicode_names(tmp_path):
    root = tmp_path / "Fotos été"
    _photo(root / "2024" / "café_日本.png")
    _photo(root / "top.png", seed=3)
    res = _run("denoise", root, "-r", "--weights", GOLDEN_V2, "-o", tmp_path / "résultats", "-q", "--device", "cpu")
    assert res.exit_code == 0, res.output
    assert (tmp_path / "résultats" / "2024" / "café_日本.png").is_file()
    assert (tmp_path / "résultats" / "top.png").is_file()


def test_sixteen_bit_grayscale_and_alpha_survive(tmp_path):
    rng = np.random.default_rng(5)
    rgb16 = (rng.random((24, 32, 3)) * 65535).astype(np.uint16)
    cv2.imwrite(str(tmp_path / "deep.png"), rgb16)
    _photo(tmp_path / "gray.png", mode="L")
    _photo(tmp_path / "alpha.png", mode="RGBA")
    res = _run("restore", tmp_path / "deep.png", tmp_path / "gray.png", tmp_path / "alpha.png",
               "--weights", GOLDEN_V2, "-o", tmp_path / "out", "-q", "--device", "cpu")
    assert res.exit_code == 0, res.output
    assert cv2.imread(str(tmp_path / "out" / "deep.png"), cv2.IMREAD_UNCHANGED).dtype == np.uint16
    assert PILImage.open(tmp_path / "out" / "gray.png").mode == "L"
    rgba = PILImage.open(tmp_path / "out" / "alpha.png")
    assert rgba.mode == "RGBA"
    assert np.array_equal(np.asarray(rgba)[..., 3], np.asarray(PILImage.open(tmp_path / "alpha.png"))[..., 3])


def test_super_resolve_upsamples_and_resizes_alpha(tmp_path):
    _photo(tmp_path / "small.png", size=(12, 8), mode="RGBA")
    res = _run("super-resolve", tmp_path / "small.png", "--scale", "3", "--weights", GOLDEN_V2,
               "-o", tmp_path / "out", "--ext", "png", "-q", "--device", "cpu")
    assert res.exit_code == 0, res.output
    out = PILImage.open(tmp_path / "out" / "small.png")
    assert out.size == (36, 24) and out.mode == "RGBA"
    assert "bicubic" in _run("super-resolve", "--help").output


def test_enhance_rejects_unknown_task(tmp_path):
    res = _run("enhance", _photo(tmp_path / "a.png"), "--task", "sunset", "--weights", GOLDEN_V2)
    assert res.exit_code != 0 and "lowlight or contrast" in res.output


def test_wrong_model_for_task_is_a_one_line_error(tmp_path, dual_pixel_weights):
    res = _run("denoise", _photo(tmp_path / "a.png"), "--weights", dual_pixel_weights, "--device", "cpu")
    assert res.exit_code == 2 and "6 input channels" in res.stderr and "Traceback" not in res.output


def test_deblur_pairs_in_a_folder_16bit(tmp_path, dual_pixel_weights):
    rng = np.random.default_rng(7)
    data = tmp_path / "dpdd"
    for side in ("inputL", "inputR"):
        (data / side).mkdir(parents=True)
        for name in ("s1.png", "s2.png"):
            cv2.imwrite(str(data / side / name), (rng.random((20, 24, 3)) * 65535).astype(np.uint16))
    (data / "inputL" / "orphan.png").write_bytes((data / "inputL" / "s1.png").read_bytes())
    res = _run("deblur", data, "--weights", dual_pixel_weights, "-o", tmp_path / "out", "--device", "cpu", "--json", "-")
    assert res.exit_code == 1  # the orphan left view is reported
    assert "orphan.png" in res.stderr and "right view" in res.stderr
    for name in ("s1.png", "s2.png"):
        out = cv2.imread(str(tmp_path / "out" / name), cv2.IMREAD_UNCHANGED)
        assert out.dtype == np.uint16 and out.shape == (20, 24, 3)


def test_deblur_left_right_options_and_size_mismatch(tmp_path, dual_pixel_weights):
    left = _photo(tmp_path / "scene_L.png", size=(24, 20))
    right = _photo(tmp_path / "scene_R.png", size=(24, 20), seed=1)
    res = _run("deblur", "--left", left, "--right", right, "--weights", dual_pixel_weights,
               "-o", tmp_path / "out", "-q", "--device", "cpu")
    assert res.exit_code == 0, res.output
    assert (tmp_path / "out" / "scene.png").is_file()
    bad_right = _photo(tmp_path / "bad_R.png", size=(28, 20))
    res = _run("deblur", "--left", left, "--right", bad_right, "--weights", dual_pixel_weights,
               "-o", tmp_path / "out2", "--device", "cpu")
    assert res.exit_code == 1 and "same size" in res.stderr


def test_raw_file_from_shared_data(tmp_path):
    raw = shared_path("data", "raw", "RAW_KODAK_DC50.KDC")
    res = _run("denoise", raw, "--weights", GOLDEN_V2, "-o", tmp_path / "out", "-q", "--device", "cpu",
               "--tile", "256")
    assert res.exit_code == 0, res.output
    out = cv2.imread(str(tmp_path / "out" / "RAW_KODAK_DC50.tif"), cv2.IMREAD_UNCHANGED)
    assert out is not None and out.dtype == np.uint16 and out.ndim == 3
    tif = PILImage.open(tmp_path / "out" / "RAW_KODAK_DC50.tif")  # photo managers can sort and colour-manage it
    assert tif.info.get("icc_profile") and tif.getexif().get(0x010F) == "Eastman Kodak Company"
    assert tif.getexif().get_ifd(0x8769).get(0x8827) == 84  # ISO, from LibRaw


def test_missing_input_is_one_line(tmp_path):
    res = _run("denoise", tmp_path / "nope.png", "--weights", GOLDEN_V2)
    assert res.exit_code == 2 and "nope.png" in res.stderr and "Traceback" not in res.output


def test_exif_orientation_and_icc_survive_a_restore(tmp_path):
    from PIL import ImageCms

    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    arr = (np.random.default_rng(3).random((24, 40, 3)) * 255).astype(np.uint8)  # stored landscape
    exif = PILImage.Exif()
    exif[0x0112] = 6  # rotate 90° CW for display
    exif[0x010F] = "TestCam"
    PILImage.fromarray(arr).save(tmp_path / "cam.jpg", exif=exif.tobytes(), icc_profile=icc, quality=95)
    res = _run("restore", tmp_path / "cam.jpg", "--weights", GOLDEN_V2, "-o", tmp_path / "out", "-q", "--device", "cpu")
    assert res.exit_code == 0, res.output
    out = PILImage.open(tmp_path / "out" / "cam.jpg")
    assert out.size == (24, 40)  # orientation applied: portrait
    assert out.info.get("icc_profile") == icc
    assert out.getexif().get(0x0112, 1) == 1 and out.getexif().get(0x010F) == "TestCam"
