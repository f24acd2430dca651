"""Whole runs: dry run, chains, before/after sheets, outputs that are inputs, output folder checks, escaped names."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image as PILImage
from typer.testing import CliRunner

from mirnet_cli.cli.app import app
from tests.conftest import FIXTURES

runner = CliRunner()
GOLDEN_V2 = FIXTURES / "golden" / "v2_nfeat16" / "weights.safetensors"


def _photo(path: Path, size=(40, 28), seed=0, value=None) -> Path:
    rng = np.random.default_rng(seed)
    shape = (size[1], size[0], 3)
    arr = (rng.random(shape) * 255 if value is None else np.full(shape, value)).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    PILImage.fromarray(arr).save(path)
    return path


def _run(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def dual_pixel_weights(tmp_path_factory):
    import torch

    from mirnet_cli import build_model
    from mirnet_cli.loading.checkpoint import save_pretrained

    torch.manual_seed(0)
    model = build_model("mirnet_v2", n_feat=16, n_MRB=1, inp_channels=6, task="defocus_deblurring")
    return save_pretrained(model, tmp_path_factory.mktemp("dp") / "model")


# ----------------------------------------------------------------------------------------------- dry run


def test_dry_run_shows_the_plan_and_the_model_and_writes_nothing(tmp_path):
    folder = tmp_path / "photos"
    _photo(folder / "a.png")
    _photo(folder / "b.png", seed=1)
    out = tmp_path / "out"
    out.mkdir()
    _photo(out / "b.png")
    res = _run("denoise", folder, "-o", out, "--model", "bundled", "--dry-run", "--compare")
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    assert f"{folder / 'a.png'} -> {out / 'a.png'}" in lines
    assert f"{folder / 'b.png'} -> {out / 'b.png'}  (skip: output exists; --overwrite to redo)" in lines
    assert any(line.startswith("model for denoise: mirnet_v2-nf16-denoise on cpu") for line in lines)
    assert lines[-1] == ("dry run: would process 1, skip 1 (output exists; --overwrite to redo); "
                         "nothing was loaded or written")
    assert sorted(p.name for p in out.iterdir()) == ["b.png"]  # no output, no compare folder, nothing
    plan = json.loads(_run("denoise", folder, "-o", out, "--model", "bundled", "--dry-run", "--json", "-").stdout)
    assert plan["dry_run"] is True and plan["models"][0]["model"] == "mirnet_v2-nf16-denoise"
    assert [item["skip"] for item in plan["items"]] == [None, "output exists; --overwrite to redo"]


def test_dry_run_never_downloads(tmp_path, monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE")

    def no_network(*args, **kwargs):
        raise AssertionError("a dry run must not fetch anything")

    monkeypatch.setattr("mirnet_cli.loading.sources.fetch", no_network)
    res = _run("denoise", _photo(tmp_path / "a.png"), "--dry-run")
    assert res.exit_code == 0, res.output
    assert "model for denoise: mirnet_v2-real-denoising-sidd" in res.stdout and "would be downloaded" in res.stdout


def test_a_run_with_every_output_present_loads_no_model(tmp_path, monkeypatch):
    src = _photo(tmp_path / "a.png")
    out = tmp_path / "out"
    assert _run("denoise", src, "-o", out, "--weights", GOLDEN_V2, "--device", "cpu", "-q").exit_code == 0
    monkeypatch.setattr("mirnet_cli.restore.selection.choose_weights",
                        lambda *a, **k: (_ for _ in ()).throw(AssertionError("no model needed")))
    res = _run("denoise", src, "-o", out, "--weights", GOLDEN_V2, "--device", "cpu")
    assert res.exit_code == 0, res.output
    assert "done 0, skipped 1 (output exists; --overwrite to redo), failed 0" in res.stderr


# ----------------------------------------------------------------------------------------------- chains


def test_task_chain_runs_in_memory_with_each_steps_own_model(tmp_path):
    folder = tmp_path / "scans"
    _photo(folder / "a.png", size=(24, 16))
    res = _run("restore", folder, "--task", "denoise,oldphoto", "--model", "bundled", "--device", "cpu",
               "--json", "-")
    assert res.exit_code == 0, res.output
    out = tmp_path / "scans_mirnet-denoise+oldphoto"
    assert sorted(p.name for p in out.iterdir()) == [".mirnet-output", "a.png"]  # no intermediate files
    summary = json.loads(res.stdout)
    assert summary["model"] == "mirnet_v2-nf16-denoise + mirnet_v2-nf16-oldphoto"
    # the same result as running the two commands one after the other (8-bit between them aside)
    one = _run("restore", folder, "--task", "denoise", "--model", "bundled", "--device", "cpu", "-q",
               "-o", tmp_path / "step1")
    two = _run("restore", tmp_path / "step1", "--task", "oldphoto", "--model", "bundled", "--device", "cpu", "-q",
               "-o", tmp_path / "step2")
    assert one.exit_code == 0 and two.exit_code == 0
    chained = np.asarray(PILImage.open(out / "a.png"), dtype=np.float32)
    separate = np.asarray(PILImage.open(tmp_path / "step2" / "a.png"), dtype=np.float32)
    assert np.abs(chained - separate).mean() < 2.0


# ----------------------------------------------------------------------------------------------- compare


def test_compare_writes_a_sheet_per_photo(tmp_path):
    src = _photo(tmp_path / "in" / "a.png", size=(24, 16))
    res = _run("super-resolve", src, "--scale", "2", "--weights", GOLDEN_V2, "--device", "cpu", "-q",
               "-o", tmp_path / "out", "--compare")
    assert res.exit_code == 0, res.output
    sheet = PILImage.open(tmp_path / "out" / "mirnet-compare" / "a.jpg")
    assert sheet.size == (48 * 2 + 8, 32)


# ----------------------------------------------------------------------------------------------- no input lost


def test_deblur_refuses_to_overwrite_its_own_input_views(tmp_path, dual_pixel_weights):
    d = tmp_path / "d"
    left, right = _photo(d / "left.png", size=(24, 20)), _photo(d / "right.png", size=(24, 20), seed=1)
    before = left.read_bytes(), right.read_bytes()
    for extra in ([], ["--overwrite"]):
        res = _run("deblur", "--left", left, "--right", right, "-o", d, "--weights", dual_pixel_weights,
                   "--device", "cpu", *extra)
        assert res.exit_code == 2, res.output
        assert "would overwrite its input" in res.stderr and "left.png" in res.stderr
    assert (left.read_bytes(), right.read_bytes()) == before


def test_deblur_folder_layout_refuses_an_output_folder_holding_the_views(tmp_path, dual_pixel_weights):
    data = tmp_path / "dpdd"
    for side in ("inputL", "inputR"):
        _photo(data / side / "s1.png", size=(24, 20), seed=len(side))
    before = (data / "inputL" / "s1.png").read_bytes()
    for out in ("inputL", "inputR"):
        res = _run("deblur", data, "-o", data / out, "--overwrite", "--weights", dual_pixel_weights, "--device", "cpu")
        assert res.exit_code == 2, res.output
        assert "would overwrite its input" in res.stderr
    assert (data / "inputL" / "s1.png").read_bytes() == before


def test_json_report_may_not_be_an_input(tmp_path):
    src = _photo(tmp_path / "a.png")
    res = _run("denoise", src, "--weights", GOLDEN_V2, "--device", "cpu", "--json", src, "-o", tmp_path / "o")
    assert res.exit_code == 2 and "would overwrite its input" in res.stderr
    assert PILImage.open(src).size == (40, 28)


def test_json_report_to_a_file(tmp_path):
    src = _photo(tmp_path / "a.png")
    res = _run("denoise", src, "--weights", GOLDEN_V2, "--device", "cpu", "-q", "-o", tmp_path / "o",
               "--json", tmp_path / "report.json")
    assert res.exit_code == 0, res.output
    assert json.loads((tmp_path / "report.json").read_text())["counts"] == {"done": 1, "skipped": 0, "failed": 0}


# ----------------------------------------------------------------------------------------------- checked first


def test_output_that_is_a_file_is_refused_before_the_model_is_loaded(tmp_path, monkeypatch):
    monkeypatch.setattr("mirnet_cli.loading.checkpoint.load_model",
                        lambda *a, **k: (_ for _ in ()).throw(AssertionError("checked too late")))
    src = _photo(tmp_path / "a.png")
    (tmp_path / "file.txt").write_text("x")
    for out, reason in ((tmp_path / "file.txt", "is a file"), (tmp_path / "file.txt" / "sub", "is a file")):
        res = _run("denoise", src, "--weights", GOLDEN_V2, "-o", out)
        assert res.exit_code == 2 and reason in res.stderr, res.output


@pytest.mark.skipif(sys.platform == "win32" or os.geteuid() == 0, reason="root ignores permissions")
def test_unwritable_output_folder_is_refused_before_the_model_is_loaded(tmp_path, monkeypatch):
    monkeypatch.setattr("mirnet_cli.loading.checkpoint.load_model",
                        lambda *a, **k: (_ for _ in ()).throw(AssertionError("checked too late")))
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        res = _run("denoise", _photo(tmp_path / "a.png"), "--weights", GOLDEN_V2, "-o", locked / "out")
        assert res.exit_code == 2 and "permission denied" in res.stderr
    finally:
        locked.chmod(0o700)


def test_output_folder_check_names_what_is_wrong(tmp_path, monkeypatch):
    from mirnet_cli.cli.commands._options import check_output_dir
    from mirnet_cli.errors import MirnetError

    monkeypatch.setattr(os, "access", lambda path, mode: False)  # as an unwritable folder looks to a normal user
    with pytest.raises(MirnetError, match="permission denied"):
        check_output_dir(tmp_path / "new" / "out")
    monkeypatch.undo()
    check_output_dir(tmp_path / "new" / "out")  # fine: it will be created


def test_a_file_name_with_a_newline_cannot_forge_an_error_line(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "x\nerror: forged.png").write_bytes(b"not an image")
    _photo(folder / "good.png")
    res = _run("denoise", folder, "--weights", GOLDEN_V2, "--device", "cpu", "-o", tmp_path / "out")
    assert res.exit_code == 1
    errors = [line for line in res.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "x\\nerror: forged.png" in errors[0]
    assert not any(line.startswith("error: forged") for line in res.stderr.splitlines())


# ----------------------------------------------------------------------------------------------- low light


def test_lowlight_skips_well_exposed_photos_per_file_unless_forced(tmp_path):
    folder = tmp_path / "night"
    _photo(folder / "bright.png", value=170)
    _photo(folder / "dark.png", value=12)
    res = _run("enhance", folder, "--task", "lowlight", "--model", "bundled", "--device", "cpu",
               "-o", tmp_path / "out")
    assert res.exit_code == 0, res.output
    assert any(line.startswith(f"skipped {folder / 'bright.png'}: looks well exposed") for line in res.stderr.splitlines())
    assert "skipped 1 (looks well exposed" in res.stderr
    assert not (tmp_path / "out" / "bright.png").exists() and (tmp_path / "out" / "dark.png").exists()
    res = _run("enhance", folder, "--task", "lowlight", "--model", "bundled", "--device", "cpu", "-q",
               "-o", tmp_path / "out", "--force")
    assert res.exit_code == 0 and (tmp_path / "out" / "bright.png").exists()


def test_sixteen_bit_views_stay_16_bit_through_the_batch_runner(tmp_path, dual_pixel_weights):
    rng = np.random.default_rng(3)
    for side in ("L", "R"):
        cv2.imwrite(str(tmp_path / f"s_{side}.png"), (rng.random((20, 24, 3)) * 65535).astype(np.uint16))
    res = _run("deblur", tmp_path, "--weights", dual_pixel_weights, "--device", "cpu", "-q", "-o", tmp_path / "o")
    assert res.exit_code == 0, res.output
    assert cv2.imread(str(tmp_path / "o" / "s.png"), cv2.IMREAD_UNCHANGED).dtype == np.uint16
    shutil.rmtree(tmp_path / "o")


# ----------------------------------------------------------------------------------------------- own outputs


def test_recursive_run_never_reprocesses_the_tools_own_outputs(tmp_path):
    tiny = tmp_path / "tiny"
    _photo(tiny / "t.png", size=(24, 16))
    assert _run("denoise", tiny / "t.png", "--weights", GOLDEN_V2, "--device", "cpu", "-q").exit_code == 0
    assert (tiny / "mirnet-denoise" / "t.png").is_file()
    res = _run("denoise", tiny, "-r", "--weights", GOLDEN_V2, "--device", "cpu", "--json", "-")
    assert res.exit_code == 0, res.output
    inputs = [Path(r["input"]) for r in json.loads(res.stdout)["results"]]
    assert inputs == [tiny / "t.png"]
    assert "not searching" in res.stderr and "mirnet-denoise" in res.stderr


def test_rerun_into_the_input_folder_with_a_suffix_skips_earlier_outputs(tmp_path):
    folder = tmp_path / "photos"
    _photo(folder / "a.png", size=(24, 16))
    _photo(folder / "b.png", size=(24, 16), seed=1)
    args = ("denoise", folder, "-o", folder, "--suffix", "_dn", "--weights", GOLDEN_V2, "--device", "cpu")
    assert _run(*args, "-q").exit_code == 0
    res = _run(*args)
    assert res.exit_code == 0, res.output  # it used to abort: "output would overwrite its input"
    assert "done 0, skipped 4 (2 earlier output of this command, 2 output exists; --overwrite to redo)" in res.stderr
    res = _run(*args, "--overwrite", "--json", "-")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["counts"] == {"done": 2, "skipped": 2, "failed": 0}
    assert sorted(p.name for p in folder.iterdir()) == ["a.png", "a_dn.png", "b.png", "b_dn.png"]


def test_unsupported_images_in_a_folder_are_counted_as_skipped(tmp_path):
    folder = tmp_path / "mixed"
    _photo(folder / "a.png", size=(24, 16))
    PILImage.new("RGB", (8, 8)).save(folder / "anim.gif")
    (folder / "new.avif").write_bytes(b"\x00\x00\x00\x1cftypavif")
    res = _run("denoise", folder, "--weights", GOLDEN_V2, "--device", "cpu", "-o", tmp_path / "out")
    assert res.exit_code == 0, res.output
    assert f"skipped {folder / 'anim.gif'}: unsupported format .gif" in res.stderr
    assert "done 1, skipped 2 (1 unsupported format .gif, 1 unsupported format .avif), failed 0" in res.stderr
    only = tmp_path / "gifs"
    only.mkdir()
    PILImage.new("RGB", (8, 8)).save(only / "x.gif")
    res = _run("denoise", only, "--weights", GOLDEN_V2)
    assert res.exit_code == 2 and "1 in unsupported formats: .gif" in res.stderr


def test_orphaned_temp_files_of_a_killed_run_are_removed_at_start(tmp_path):
    from mirnet_cli.io.formats import TEMP_SUFFIX

    out = tmp_path / "out"
    out.mkdir()
    orphan = out / f".a.png.999999999-x1y2{TEMP_SUFFIX}"
    orphan.write_bytes(b"half a PNG")
    os.utime(orphan, (1, 1))
    res = _run("denoise", _photo(tmp_path / "a.png"), "--weights", GOLDEN_V2, "--device", "cpu", "-o", out)
    assert res.exit_code == 0, res.output
    assert not orphan.exists() and "removed 1 unfinished file" in res.stderr
    assert sorted(p.name for p in out.iterdir()) == ["a.png"]


# ----------------------------------------------------------------------------------------------- memory


def _png_header_only(path: Path, width: int, height: int) -> Path:
    """A small file whose PNG header announces width x height (the pixel data stops after a few rows)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = zlib.compress(b"\x00" + b"\x00" * (3 * width) * 1)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", rows) + chunk(b"IEND", b""))
    return path


def test_a_photo_too_big_for_memory_is_refused_in_one_line_and_the_batch_goes_on(tmp_path, monkeypatch):
    from types import SimpleNamespace

    import psutil

    monkeypatch.setattr(psutil, "virtual_memory", lambda: SimpleNamespace(available=16 * 10**9, total=32 * 10**9))
    folder = tmp_path / "in"
    folder.mkdir()
    _png_header_only(folder / "a_huge.png", 30000, 30000)
    _photo(folder / "b_good.png")
    res = _run("denoise", folder, "--weights", GOLDEN_V2, "--device", "cpu", "-o", tmp_path / "out", "--tile", "64")
    assert res.exit_code == 1, res.output
    errors = [line for line in res.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "a_huge.png: needs about" in errors[0] and "30000x30000" in errors[0]
    assert (tmp_path / "out" / "b_good.png").is_file()
    assert "done 1, skipped 0, failed 1" in res.stderr and "Traceback" not in res.output
