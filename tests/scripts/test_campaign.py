"""weights/bundled/campaign.py: the campaign state saved into the repository resumes exactly, and its curve grows."""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from mirnet_cli.train.config import apply_set, load_config
from mirnet_cli.train.loop import train

ROOT = Path(__file__).resolve().parents[2]
QUIET = dict(progress=False, log=lambda s: None)


@pytest.fixture()
def campaign(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("campaign", ROOT / "weights" / "bundled" / "campaign.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "STATE", tmp_path / "weights" / "campaign")
    monkeypatch.setattr(module, "RUNS", tmp_path / "runs" / "campaign")
    return module


def _photos(folder: Path) -> Path:
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True)
    for i in range(3):
        Image.fromarray((rng.random((40, 48, 3)) * 255).astype(np.uint8)).save(folder / f"p{i}.png")
    return folder


def _cfg(photos: Path, out: Path, iters: int):
    return apply_set(load_config(None), [
        "model.n_feat=8", "model.chan_factor=2.0", "model.n_MRB=1", f"data.train_dir={photos}",
        "data.synthetic=denoise", f"data.val_dir={photos}", "data.val_count=1", "data.val_crop=32",
        "schedule.patch_size=32", "schedule.batch_size=2", "schedule.val_every=2", "schedule.checkpoint_every=2",
        f"schedule.iters={iters}", "device=cpu", "data.workers=0", f"out={out}", "seed=4"])


def test_saved_state_resumes_on_another_machine_exactly_and_the_curve_keeps_its_rows(campaign, tmp_path):
    photos = _photos(tmp_path / "photos")
    run = campaign.RUNS / "denoise"
    torch.manual_seed(0)
    train(_cfg(photos, run, 2), **QUIET)
    campaign.save("denoise", "machine A")
    state = campaign.STATE / "denoise"
    assert (state / "state.pt").is_file() and (state / "curve.png").is_file()
    assert [r["iteration"] for r in csv.DictReader((state / "curve.csv").open())] == ["2"]

    # Another machine: no run folder, only the committed state.
    import shutil

    shutil.rmtree(campaign.RUNS)
    campaign.restore("denoise")
    resumed = train(_cfg(photos, run, 4), resume=True, **QUIET)
    campaign.save("denoise", "machine B")
    rows = list(csv.DictReader((state / "curve.csv").open()))
    assert [(r["iteration"], r["machine"]) for r in rows] == [("2", "machine A"), ("4", "machine B")]

    # The same run resumed in its own folder gives the same losses: the saved state lost nothing.
    torch.manual_seed(0)
    train(_cfg(photos, tmp_path / "here", 2), **QUIET)
    in_place = train(_cfg(photos, tmp_path / "here", 4), resume=True, **QUIET)
    assert resumed["losses"] == in_place["losses"]
