"""The compact models shipped in weights/bundled/: they load, the offline chain picks them and says so, their
provenance is complete, and they actually restore (no network; the autouse fixture sets HF_HUB_OFFLINE=1 and an
empty HF_HOME)."""

from __future__ import annotations

import hashlib
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from mirnet_cli import load_model
from mirnet_cli.engine.inference import InferenceEngine
from mirnet_cli.loading.registry import load_registry
from mirnet_cli.restore.selection import choose_weights
from tests.conftest import FIXTURES, ROOT

BUNDLED = {"denoise": "mirnet_v2-nf16-denoise", "enhance:lowlight": "mirnet_v2-nf16-lowlight",
           "enhance:contrast": "mirnet_v2-nf16-contrast", "super-resolve:x2": "mirnet_v2-nf16-sr",
           "super-resolve:x3": "mirnet_v2-nf16-sr", "super-resolve:x4": "mirnet_v2-nf16-sr",
           "oldphoto": "mirnet_v2-nf16-oldphoto"}
# Least PSNR gain over the input (identity) on every held-back set. SR's input is the bicubic upsampling, and
# issue 12 asks ≥ 0.3 dB over it (Y, border = scale); contrast only has to beat the identity (target +1 dB, not
# reached by the compact model: see its registry entry); the others are far above 1 dB.
MIN_GAIN_DB = {"denoise": 1.0, "enhance:lowlight": 1.0, "oldphoto": 1.0, "super-resolve": 0.3,
               "enhance:contrast": 0.0}
REGISTRY_JSON = json.loads((ROOT / "weights" / "registry.json").read_text())
RAW = {e["name"]: e for e in REGISTRY_JSON["entries"]}


@pytest.mark.parametrize("task,name", sorted(BUNDLED.items()))
def test_offline_chain_picks_the_bundled_model_and_says_why(task, name):
    choice = choose_weights(task)
    assert choice.source == name
    assert "bundled" in choice.notice
    # The notice says why: the official checkpoint can't be had offline, or there is none for this task.
    official = [e for e in REGISTRY_JSON["entries"] if task in e["default_for"] and not e.get("bundled")]
    assert ("HF_HUB_OFFLINE" if official else "no official checkpoint") in choice.notice


@pytest.mark.parametrize("name", sorted(BUNDLED.values()))
def test_bundled_weights_are_small_fp16_and_match_the_registry(name):
    entry = load_registry()[name]
    folder = entry.bundled_path
    data = (folder / "model.safetensors").read_bytes()
    assert hashlib.sha256(data).hexdigest() == entry.sha256
    assert len(data) < 2_000_000

    from safetensors.torch import load_file

    tensors = load_file(folder / "model.safetensors")
    assert {t.dtype for t in tensors.values()} == {torch.float16}
    model = load_model(name)
    assert not model.training and model.architecture == "mirnet_v2"
    assert next(model.parameters()).dtype == torch.float32  # fp16 on disk, fp32 to run on the CPU
    assert 100_000 < sum(p.numel() for p in model.parameters()) < 1_500_000


@pytest.mark.parametrize("name", sorted(BUNDLED.values()))
def test_provenance_is_complete_and_evaluation_is_on_held_back_images(name):
    prov = RAW[name]["provenance"]
    for field in ("trained_with", "recipe", "training_data", "iterations", "wall_time_s", "device", "parameters",
                  "evaluation"):
        assert prov.get(field) not in (None, "", []), field
    assert (ROOT / prov["recipe"]).is_file()
    data = prov["training_data"]
    assert data["source"] and data["terms"] and data["held_back"]
    assert prov["iterations"] >= 1000 and prov["wall_time_s"] > 0

    evaluation = prov["evaluation"]
    # Each held-back set is scored for the model and for a classical baseline, with the identity alongside.
    assert any(ev["model"].startswith("baseline:") for ev in evaluation)
    assert any(not ev["model"].startswith("baseline:") for ev in evaluation)
    held_back = set(data["held_back"])
    # Every training folder is named with where it came from and on what terms.
    for src in data["sources"]:
        assert src["dir"] and src["source"] != "unknown" and src["terms"] != "unknown", src
    trained_on = {src["dir"] for src in data["sources"]}
    for ev in evaluation:
        assert {"psnr", "ssim", "input_psnr", "input_ssim"} <= set(ev["mean"])
        if ev["data_dir"] in trained_on:  # a test set drawn from a training folder: only held-back images
            assert set(ev["images"]) <= held_back, ev["tag"]
        # Evaluation sets the project keeps out of training are never a training folder (a folder of that name:
        # $MIRNET_TRAIN_DATA/fivek_train holds FiveK pairs outside DPE's test split, checked by prepare_data.py).
        for kept_out in ("sidd", "set14", "set5", "mcmaster", "fivek", "lowlight_eval"):
            assert not any(kept_out in (part.lower() for part in Path(d).parts) for d in trained_on), (name, kept_out)
        if not ev["model"].startswith("baseline:"):
            # The model must beat doing nothing on every held-back set, by the margin its task asks for.
            assert ev["mean"]["psnr"] > ev["mean"]["input_psnr"] + MIN_GAIN_DB[RAW[name]["task"]], ev["tag"]


def test_readme_tables_match_the_registry():
    spec = importlib.util.spec_from_file_location("readme_table", ROOT / "weights" / "bundled" / "readme_table.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    readme = (ROOT / "README.md").read_text()
    assert module.render(REGISTRY_JSON) in readme, "run: python weights/bundled/readme_table.py --write"
    assert module.render_night(REGISTRY_JSON) in readme, "run: python weights/bundled/readme_table.py --write"


def test_the_low_light_model_was_checked_on_real_night_photos():
    night = RAW[BUNDLED["enhance:lowlight"]]["provenance"]["night_photos"]
    assert len(night["images"]) >= 50 and {"model", "clahe-gamma", "input"} <= set(night["mean"])
    for row in night["images"]:
        for who in ("model", "clahe-gamma"):
            assert {"saturation", "clipped", "tint", "brightness"} <= set(row[who])


def _smooth_photo(h: int = 96, w: int = 128) -> np.ndarray:
    """A smooth synthetic scene (gradients and soft discs) in [0, 1], HxWx3."""
    y, x = np.mgrid[0:h, 0:w] / np.array([h, w])[:, None, None]
    img = np.stack([0.2 + 0.6 * x, 0.3 + 0.4 * y, 0.5 + 0.3 * np.sin(3 * x + 2 * y)], axis=-1)
    for cy, cx, r, colour in [(0.4, 0.3, 0.2, (0.9, 0.2, 0.1)), (0.6, 0.7, 0.25, (0.1, 0.3, 0.8))]:
        d = np.sqrt((y - cy) ** 2 + (x - cx) ** 2)
        weight = np.clip((r - d) / 0.03, 0, 1)[..., None]
        img = img * (1 - weight) + np.array(colour) * weight
    return img.clip(0, 1)


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(1.0 / np.mean((a - b) ** 2)))


def test_bundled_denoiser_removes_sensor_noise():
    clean = _smooth_photo()
    rng = np.random.default_rng(0)
    # Poisson–Gaussian noise, like the training degradation: signal-dependent shot noise plus read noise.
    noisy = (rng.poisson(clean * 60) / 60 + rng.normal(0, 0.03, clean.shape)).clip(0, 1)
    out = InferenceEngine(load_model(BUNDLED["denoise"]), device="cpu").restore(noisy.astype(np.float32))
    assert out.shape == clean.shape and np.isfinite(out).all()
    assert _psnr(out, clean) > _psnr(noisy, clean) + 3.0


def test_bundled_lowlight_model_enhances_a_held_back_lol_photo():
    from mirnet_cli.io.images import read_image

    low = read_image(FIXTURES / "lol780_low_crop.png").pixels
    high = read_image(FIXTURES / "lol780_high_crop.png").pixels
    out = InferenceEngine(load_model(BUNDLED["enhance:lowlight"]), device="cpu").restore(low)
    assert out.mean() > 3 * low.mean()
    # Measured: 11.56 → 15.81 dB on this crop (the whole photo: 16.02 dB; the five held-back photos: 19.06).
    assert _psnr(out, high) > _psnr(low, high) + 4.0


def _bicubic(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    from PIL import Image

    planes = [np.asarray(Image.fromarray(c.astype(np.float32), mode="F").resize(size, Image.BICUBIC)) for c in
              img.transpose(2, 0, 1)]
    return np.clip(np.stack(planes, axis=2), 0, 1).astype(np.float32)


def test_bundled_super_resolver_beats_bicubic_at_every_factor():
    from mirnet_cli.io.images import read_image

    # A real photo (held-back LoL 780, 252×192: divisible by 2, 3 and 4); smooth synthetic scenes are too easy
    # for bicubic to leave anything to gain. Measured: +0.54 / +0.40 / +0.21 dB (RGB, border = scale).
    hr = read_image(FIXTURES / "lol780_high_crop.png").pixels[:192, :252, :3].astype(np.float32)
    engine = InferenceEngine(load_model(BUNDLED["super-resolve:x4"]), device="cpu")
    for s in (2, 3, 4):
        lr = _bicubic(hr, (252 // s, 192 // s))
        up = _bicubic(lr, (252, 192))
        out = engine.restore(up)
        assert out.shape == hr.shape
        inner = (slice(s, -s), slice(s, -s))  # the SR protocol's border crop
        assert _psnr(out[inner], hr[inner]) > _psnr(up[inner], hr[inner]) + 0.1, s


def test_bundled_contrast_model_restores_a_flat_rendering():
    from mirnet_cli.datasets.degradations import degrade
    from mirnet_cli.io.images import read_image

    # A real photo (held-back LoL 780) flattened as the synthetic training data was. Mean gain measured: +1.39 dB for
    # the first bundled model (trained on these renderings alone), +0.78 dB for the campaign's (real FiveK pairs ask
    # for a gentler edit; +1.63 dB on the shared FiveK pairs); doing nothing scores 0.
    photo = read_image(FIXTURES / "lol780_high_crop.png").pixels[..., :3].astype(np.float32)
    engine = InferenceEngine(load_model(BUNDLED["enhance:contrast"]), device="cpu")
    gains = []
    for seed in range(6):
        flat = degrade(photo, "contrast", np.random.default_rng(seed))
        gains.append(_psnr(engine.restore(flat), photo) - _psnr(flat, photo))
    assert np.mean(gains) > 0.5


@pytest.mark.parametrize("args", [
    ["denoise"],
    ["enhance", "--task", "lowlight"],
    ["enhance", "--task", "contrast"],
    ["super-resolve", "--scale", "2"],
    ["super-resolve", "--scale", "3"],
    ["super-resolve", "--scale", "4"],
    ["restore", "--task", "oldphoto"],
], ids=lambda a: "-".join(a))
def test_every_single_image_command_runs_offline_without_model_or_weights(args, tmp_path):
    """HF_HUB_OFFLINE=1 and an empty HF_HOME (autouse fixture), the real registry, no --model/--weights."""
    from PIL import Image
    from typer.testing import CliRunner

    from mirnet_cli.cli.app import app

    src = tmp_path / "in.png"
    # The held-back LoL crop (dark, so `enhance --task lowlight` does not skip it as well exposed), 96×72.
    low = Image.open(FIXTURES / "lol780_low_crop.png").convert("RGB").resize((96, 72))
    low.save(src)
    out = tmp_path / "out"
    res = CliRunner().invoke(app, [args[0], str(src), *args[1:], "-o", str(out), "--device", "cpu"])
    assert res.exit_code == 0, res.output
    assert "bundled" in res.output  # the one-line notice says which model ran and why
    result = Image.open(out / "in.png")
    scale = int(args[2]) if args[0] == "super-resolve" else 1
    assert result.size == (96 * scale, 72 * scale)


def test_deblur_offline_says_in_one_line_it_needs_the_official_checkpoint(tmp_path):
    from PIL import Image
    from typer.testing import CliRunner

    from mirnet_cli.cli.app import app

    left, right = tmp_path / "l.png", tmp_path / "r.png"
    for p in (left, right):
        Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(p)
    res = CliRunner().invoke(app, ["deblur", "--left", str(left), "--right", str(right), "-o", str(tmp_path / "o"),
                                   "--device", "cpu"])
    assert res.exit_code != 0 and "Traceback" not in res.output
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and "dual-pixel training data" in lines[0] and "mirnet download" in lines[0], res.output
