"""weights/bundled/night_check.py: the no-reference night-photo figures and the --names filter."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def night_check():
    spec = importlib.util.spec_from_file_location("night_check", ROOT / "weights" / "bundled" / "night_check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_metrics_of_a_black_sky_and_a_grey_one(night_check):
    black = np.zeros((16, 16, 3), np.float32)
    black[:4] = 0.3  # a lit strip; 75 % of the picture is sky
    grey = black.copy()
    grey[4:] = 0.2
    assert night_check.metrics(black, black)["p5_luma"] == 0.0
    assert night_check.metrics(grey, black)["p5_luma"] == pytest.approx(0.2, abs=1e-6)
    assert night_check.metrics(np.ones_like(black), black)["clipped"] == 1.0


def test_names_keeps_only_the_held_out_photos(night_check, tmp_path):
    rng = np.random.default_rng(0)
    for stem in ("10", "11", "12"):
        Image.fromarray((rng.random((24, 32, 3)) * 40).astype(np.uint8)).save(tmp_path / f"{stem}.png")
    rows, images = night_check.run([tmp_path], "mirnet_v2-nf16-lowlight", 32, names={"10", "12"})
    assert [r["name"] for r in rows] == [f"{tmp_path.name}/10.png", f"{tmp_path.name}/12.png"]
    assert len(images) == 2 and images[0][1].shape == (24, 32, 3)
    # the enhancer brightens a dark photo
    assert rows[0]["model"]["brightness"] > rows[0]["input"]["brightness"]


def test_a_well_exposed_photo_is_marked_as_the_tool_skips_it(night_check, tmp_path):
    Image.fromarray(np.full((24, 32, 3), 20, np.uint8)).save(tmp_path / "dark.png")
    Image.fromarray(np.full((24, 32, 3), 150, np.uint8)).save(tmp_path / "bright.png")
    rows, _ = night_check.run([tmp_path], "mirnet_v2-nf16-lowlight", 32)
    skips = {r["name"].split("/")[1]: r["tool_skips"] for r in rows}
    assert skips["dark.png"] is None
    assert "well exposed" in skips["bright.png"]


def _row(p5_in: float, p5_out: float, db: float, skip: str | None) -> dict:
    figures = {"a": 0.0, "b": 0.0, "clipped": 0.0}
    return {"tool_skips": skip, "input": dict(figures, p5_luma=p5_in),
            "model": dict(figures, p5_luma=p5_out, b=db, clipped=0.1)}


def test_targets_as_run_leave_out_the_photos_the_tool_skips(night_check):
    rows = [_row(0.01, 0.05, 2.0, None), _row(0.01, 0.20, 8.0, "looks well exposed"), _row(0.30, 0.40, 2.0, None)]
    every = night_check.targets(rows)
    assert every["photos"] == 3 and every["dark_photos"] == 2
    assert every["dark_p5_luma_max"] == pytest.approx(0.20) and every["mean_db"] == pytest.approx(4.0)
    run = night_check.targets(rows, as_run=True)
    assert run["photos"] == 2 and run["dark_photos"] == 1
    assert run["dark_p5_luma_max"] == pytest.approx(0.05) and run["mean_db"] == pytest.approx(2.0)
