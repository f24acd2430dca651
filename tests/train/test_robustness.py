"""Training survives bad data, broken checkpoints and signals (issue 14, items 6, 7 and 11)."""

from __future__ import annotations

import io
import os
import shutil
import signal
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from mirnet_cli.errors import MirnetError
from mirnet_cli.train import loop
from mirnet_cli.train.data import PatchDataset, UnreadableImageWarning, clean_images
from mirnet_cli.train.data_check import probe_image
from mirnet_cli.train.loop import TrainingInterrupted, train
from tests.train.test_loop import QUIET, _cfg, _ckpts, _rows


def _png_with_broken_pixels(path: Path) -> Path:
    """A PNG whose header and chunk checksums are fine but whose compressed pixels are garbage: it passes the
    up-front probe and fails only when decoded (as a file damaged after the check would)."""
    buf = io.BytesIO()
    Image.fromarray((np.random.default_rng(0).random((48, 64, 3)) * 255).astype(np.uint8)).save(buf, "PNG")
    data, out, i = buf.getvalue(), bytearray(buf.getvalue()[:8]), 8
    while i < len(data):
        (n,) = struct.unpack(">I", data[i:i + 4])
        kind, body = data[i + 4:i + 8], data[i + 8:i + 8 + n]
        if kind == b"IDAT":
            body = bytes(b ^ 0x5A for b in body)
        out += struct.pack(">I", n) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
        i += 12 + n
    path.write_bytes(bytes(out))
    return path


@pytest.fixture
def messy(photos, tmp_path):
    """The four good photos plus four bad files of different kinds."""
    folder = tmp_path / "messy"
    shutil.copytree(photos, folder)
    (folder / "empty.png").write_bytes(b"")
    (folder / "notes.jpg").write_text("not an image")
    jpeg = io.BytesIO()
    Image.open(photos / "img0.png").save(jpeg, "JPEG")
    (folder / "cut.jpg").write_bytes(jpeg.getvalue()[: len(jpeg.getvalue()) // 2])
    png = (photos / "img1.png").read_bytes()
    (folder / "cut.png").write_bytes(png[: len(png) // 2])
    return folder


def test_probe_names_the_problem(messy, tmp_path):
    assert probe_image(messy / "img0.png") is None
    assert probe_image(messy / "empty.png") == "empty file"
    assert probe_image(messy / "notes.jpg") == "not an image or unsupported format"
    assert probe_image(messy / "cut.jpg").startswith("truncated or corrupt image data")
    assert probe_image(messy / "cut.png").startswith("truncated or corrupt image data")
    assert probe_image(_png_with_broken_pixels(tmp_path / "late.png")) is None  # found only when decoded


def test_bad_training_images_are_reported_once_each_and_skipped(messy, tmp_path):
    said: list[str] = []
    summary = train(_cfg(messy, tmp_path / "run", "schedule.iters=6"), progress=False, log=said.append)
    assert len(summary["losses"]) == 6 and all(np.isfinite(summary["losses"]))
    skipped = [line for line in said if line.startswith("warning: skipped training image ")]
    assert sorted(Path(line.split(" ")[4].rstrip(":")).name for line in skipped) == [
        "cut.jpg", "cut.png", "empty.png", "notes.jpg"]
    assert "warning: skipped 4 of 8 training images (unreadable); training on 4" in said
    assert any(", 4 training image(s)" in line for line in said)


def test_too_few_good_images_stop_before_training(messy, tmp_path):
    for name in ("img1.png", "img2.png", "img3.png"):
        (messy / name).unlink()
    with pytest.raises(MirnetError, match=r"only 1 of 5 training images can be read; at least half of them"):
        train(_cfg(messy, tmp_path / "a", "schedule.iters=2"), **QUIET)
    assert not (tmp_path / "a" / "checkpoints").exists() or not _ckpts(tmp_path / "a")
    with pytest.raises(MirnetError, match=r"data.min_images = 3"):
        train(_cfg(messy, tmp_path / "b", "schedule.iters=2", "data.min_images=3"), **QUIET)
    summary = train(_cfg(messy, tmp_path / "c", "schedule.iters=2", "data.min_images=1"), **QUIET)
    assert len(summary["losses"]) == 2


def test_a_sample_that_fails_at_run_time_skips_to_the_next_the_same_way_every_time(photos, tmp_path):
    folder = tmp_path / "late"
    shutil.copytree(photos, folder)
    _png_with_broken_pixels(folder / "img1.png")  # replaces a good photo after nobody checked it
    files = clean_images(folder)
    with pytest.warns(UnreadableImageWarning, match="img1.png"):
        a = [PatchDataset(3, clean=files, mode="denoise")[(key, 16)] for key in range(12)]
    b_ds = PatchDataset(3, clean=files, mode="denoise", cache_mb=0)
    with pytest.warns(UnreadableImageWarning):
        b = [b_ds[(key, 16)] for key in range(12)]
    assert all(torch.equal(x[0], y[0]) and torch.equal(x[1], y[1]) for x, y in zip(a, b, strict=True))
    broken = tmp_path / "broken"
    broken.mkdir()
    _png_with_broken_pixels(broken / "only.png")
    with pytest.raises(MirnetError, match="none of the training images can be read"), \
            pytest.warns(UnreadableImageWarning):
        PatchDataset(0, clean=clean_images(broken), mode="denoise")[(0, 16)]


def test_a_run_and_its_resume_go_past_an_image_that_breaks_at_run_time(photos, tmp_path):
    folder = tmp_path / "late"
    shutil.copytree(photos, folder)
    _png_with_broken_pixels(folder / "img2.png")
    out = tmp_path / "run"
    with pytest.warns(UnreadableImageWarning, match="img2.png"):
        train(_cfg(folder, out, "schedule.iters=6", "schedule.checkpoint_every=3"), **QUIET)
    (out / "checkpoints" / "iter_00000006.pt").unlink()
    with pytest.warns(UnreadableImageWarning):
        summary = train(_cfg(folder, out, "schedule.iters=8", "schedule.checkpoint_every=3"), resume=True, **QUIET)
    assert summary["iterations"] == 8 and len(summary["losses"]) == 5


def test_resume_past_an_empty_newest_checkpoint(photos, tmp_path):
    out = tmp_path / "run"
    train(_cfg(photos, out, "schedule.iters=4", "schedule.checkpoint_every=2"), **QUIET)
    (out / "checkpoints" / "iter_00000004.pt").write_bytes(b"")  # e.g. the disk filled up
    with pytest.warns(UserWarning, match="iter_00000004.pt: empty training checkpoint"):
        summary = train(_cfg(photos, out, "schedule.iters=5", "schedule.checkpoint_every=2"), resume=True, **QUIET)
    assert summary["iterations"] == 5 and len(summary["losses"]) == 3  # resumed from iteration 2
    assert [r["iteration"] for r in _rows(out)] == list(range(1, 6))


def _signal_inside(monkeypatch, phase: str, iteration: int, seen: list[str]):
    """Send SIGTERM to ourselves from inside the forward (``phase="forward"``) or backward pass of ``iteration``
    (1-based), and record every forward block that runs from then on."""
    real = loop.build_training_model

    def build(cfg):
        model = real(cfg)
        calls = {"forward": 0, "backward": 0}
        blocks = [m for m in model.modules() if type(m).__name__ == "MRB"]
        per_pass = len(blocks)

        def forward_hook(module, args):
            calls["forward"] += 1
            if seen and seen[-1] == "signal sent":
                seen.append("forward block after the signal")
            if phase == "forward" and calls["forward"] == (iteration - 1) * per_pass + 1:
                seen.append("signal sent")
                os.kill(os.getpid(), signal.SIGTERM)

        def backward_hook(module, grad_in, grad_out):
            calls["backward"] += 1
            if phase == "backward" and calls["backward"] == (iteration - 1) * per_pass + 1:
                seen.append("signal sent")
                os.kill(os.getpid(), signal.SIGTERM)

        for block in blocks:
            block.register_forward_pre_hook(forward_hook)
            block.register_full_backward_hook(backward_hook)
        return model

    monkeypatch.setattr(loop, "build_training_model", build)


@pytest.mark.parametrize("phase", ["forward", "backward"])
def test_sigterm_stops_inside_the_iteration_and_the_resume_is_exact(photos, tmp_path, monkeypatch, phase):
    straight = train(_cfg(photos, tmp_path / "straight", "schedule.iters=6"), **QUIET)
    real_build = loop.build_training_model
    seen: list[str] = []
    _signal_inside(monkeypatch, phase, 4, seen)
    out = tmp_path / "stopped"
    cfg = _cfg(photos, out, "schedule.iters=6", "schedule.checkpoint_every=100")
    with pytest.raises(TrainingInterrupted, match="interrupted at iteration 3"):
        train(cfg, **QUIET)
    # The 4th iteration was dropped where the signal came: no more forward blocks, no optimiser step.
    assert seen == ["signal sent"]
    assert _ckpts(out) == ["iter_00000003.pt"]
    assert torch.load(out / "checkpoints" / "iter_00000003.pt", weights_only=True)["iteration"] == 3
    monkeypatch.setattr(loop, "build_training_model", real_build)
    resumed = train(cfg, resume=True, **QUIET)
    assert [r["iteration"] for r in _rows(out)] == list(range(1, 7))
    assert np.allclose(straight["losses"][3:], resumed["losses"], rtol=1e-5)
