"""Knowledge distillation (`mirnet train --teacher`): targets, unpaired inputs, settings, provenance."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from mirnet_cli import build_model
from mirnet_cli.errors import MirnetError
from mirnet_cli.loading.checkpoint import save_pretrained
from mirnet_cli.train.config import TrainConfigError, apply_set, load_config
from mirnet_cli.train.data import PatchDataset, Source, clean_images, paired_samples
from mirnet_cli.train.loop import train

QUIET = dict(progress=False, log=lambda s: None)
TINY = ["model.n_feat=8", "model.chan_factor=2.0", "model.n_MRB=1"]


class _Grey(nn.Module):
    """A stand-in teacher whose output is known: mid grey everywhere; counts the images it saw."""

    def __init__(self):
        super().__init__()
        self.shapes: list[tuple[int, ...]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.shapes.append(tuple(x.shape))
        return torch.full_like(x, 0.5)


def _target(ds: PatchDataset, index: int = 0, patch: int = 32) -> np.ndarray:
    return ds[(index, patch)][1].numpy()


def test_unpaired_inputs_learn_the_teachers_output_on_the_whole_photo(photos):
    teacher = _Grey()
    ds = PatchDataset(0, sources=[Source(inputs=clean_images(photos))], teacher=teacher, teacher_weight=0.3)
    assert np.allclose(_target(ds), 0.5)  # no ground truth: the teacher alone, whatever the weight
    assert teacher.shapes[0] == (1, 3, 48, 64)  # the whole 64×48 photo, not the 32-pixel patch


def test_paired_targets_blend_teacher_and_ground_truth(pairs):
    samples = paired_samples(pairs)
    plain = PatchDataset(0, sources=[Source(pairs=samples)])
    taught = PatchDataset(0, sources=[Source(pairs=samples)], teacher=_Grey(), teacher_weight=0.25)
    gt, blended = _target(plain, 5), _target(taught, 5)
    assert np.allclose(blended, 0.25 * 0.5 + 0.75 * gt, atol=1e-6)
    assert torch.equal(plain[(5, 32)][0], taught[(5, 32)][0])  # same input patch: only the target changes


def test_synthetic_targets_blend_the_teacher_on_the_degraded_patch(photos):
    teacher = _Grey()
    plain = PatchDataset(0, sources=[Source(clean=clean_images(photos), mode="denoise")])
    taught = PatchDataset(0, sources=[Source(clean=clean_images(photos), mode="denoise")], teacher=teacher,
                          teacher_weight=1.0)
    assert np.allclose(_target(taught, 2), 0.5) and not np.allclose(_target(plain, 2), 0.5)
    assert teacher.shapes[-1] == (1, 3, 32, 32)


def test_unpaired_inputs_without_a_teacher_are_refused(photos, tmp_path):
    with pytest.raises(MirnetError, match="teacher"):
        PatchDataset(0, sources=[Source(inputs=clean_images(photos))])
    cfg = apply_set(load_config(None), [f"out={tmp_path / 'run'}"])
    cfg.data.sources = [{"dir": str(photos), "unpaired": True}]
    with pytest.raises(TrainConfigError, match="unpaired .*--teacher"):
        cfg.check()
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("setting, message", [
    ("teacher_weight=1.5", "teacher_weight must be from 0 to 1"),
    ("teacher_sigma=0", "teacher_sigma must be in"),
])
def test_teacher_settings_are_checked(setting, message, tmp_path):
    cfg = apply_set(load_config(None), ["teacher=some.pth", setting, f"out={tmp_path}"])
    with pytest.raises(TrainConfigError, match=message):
        cfg.check()


def test_sigma_without_a_teacher_is_refused():
    with pytest.raises(TrainConfigError, match="teacher_sigma needs a teacher"):
        apply_set(load_config(None), ["teacher_sigma=25"]).check()


def test_a_student_trains_from_a_mirnet_teacher_and_records_it(photos, tmp_path):
    torch.manual_seed(0)
    teacher_dir = tmp_path / "teacher"
    save_pretrained(build_model("mirnet_v2", n_feat=8, chan_factor=2.0, n_MRB=1), teacher_dir)
    out = tmp_path / "student"
    cfg = apply_set(load_config(None), [
        *TINY, f"teacher={teacher_dir}", "teacher_weight=0.5", "schedule.iters=2", "schedule.patch_size=32",
        "schedule.batch_size=2", f"out={out}", "device=cpu", "data.workers=0", "schedule.log_every=1"])
    cfg.data.sources = [{"dir": str(photos), "unpaired": True}, {"dir": str(photos), "synthetic": "denoise"}]
    summary = train(cfg, **QUIET)
    assert summary["iterations"] == 2
    recorded = json.loads((out / "teacher.json").read_text())
    assert recorded["architecture"] == "mirnet_v2" and len(recorded["sha256"]) == 64
    card = json.loads((out / "config.json").read_text())
    assert card["training"]["teacher"]["sha256"] == recorded["sha256"]


def test_a_teacher_that_cannot_be_loaded_stops_before_any_folder_is_made(photos, tmp_path):
    bad = tmp_path / "bad.pth"
    torch.save({"conv.weight": torch.zeros(2, 2)}, bad)
    out = tmp_path / "run"
    cfg = apply_set(load_config(None), [*TINY, f"teacher={bad}", f"data.train_dir={photos}",
                                        "data.synthetic=denoise", f"out={out}", "device=cpu"])
    with pytest.raises(MirnetError, match="not a teacher mirnet knows"):
        train(cfg, **QUIET)
    assert not Path(out).exists()


def test_a_missing_teacher_is_a_usage_error_exit_2(photos, tmp_path):
    from typer.testing import CliRunner

    from mirnet_cli.cli.app import app

    out = tmp_path / "run"
    result = CliRunner().invoke(app, ["train", "--teacher", str(tmp_path / "none.pth"), "--train-dir", str(photos),
                                      "--synthetic", "denoise", "--out", str(out), "--iters", "1"])
    assert result.exit_code == 2, result.output
    assert "--teacher" in result.output and "Traceback" not in result.output
    assert not out.exists()
