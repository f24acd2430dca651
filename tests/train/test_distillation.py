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


class _Warm(nn.Module):
    """A stand-in teacher that brightens and adds a yellow cast (like IAT on a sodium-lit night photo)."""

    provenance = {"sha256": "ab" * 32, "architecture": "warm"}

    def __init__(self):
        super().__init__()
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return (x ** 0.5 * torch.tensor([1.0, 0.95, 0.7]).view(1, 3, 1, 1)).clamp(0, 1)


def _mean_ab(img: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.cvtColor(img.astype(np.float32), cv2.COLOR_RGB2Lab)[..., 1:].reshape(-1, 2).mean(0)


def test_keep_colour_gives_the_target_the_inputs_mean_colour_and_keeps_its_lightness_and_blacks():
    import cv2

    from mirnet_cli.train.data import keep_colour

    rng = np.random.default_rng(0)
    inp = (rng.random((40, 50, 3)) * 0.3).astype(np.float32)
    inp[:10] = 0.0  # a black sky
    warm = _Warm()(torch.from_numpy(inp.transpose(2, 0, 1))[None])[0].permute(1, 2, 0).numpy()
    assert abs(_mean_ab(warm) - _mean_ab(inp)).max() > 5  # the teacher's cast
    kept = keep_colour(warm, inp)
    assert abs(_mean_ab(kept) - _mean_ab(inp)).max() < 0.5
    lightness = lambda a: cv2.cvtColor(a.astype(np.float32), cv2.COLOR_RGB2Lab)[..., 0]  # noqa: E731
    assert abs(lightness(kept) - lightness(warm)).mean() < 1.0
    assert np.abs(kept[:10]).max() < 1e-3  # black stays black, not tinted


def test_keep_colour_sources_adjust_the_teachers_targets_only(photos):
    from mirnet_cli.train.data import keep_colour

    plain = PatchDataset(0, sources=[Source(inputs=clean_images(photos))], teacher=_Warm())
    kept = PatchDataset(0, sources=[Source(inputs=clean_images(photos), keep_colour="input")], teacher=_Warm())
    whole_in, whole_plain = plain._source(0, 1)
    _, whole_kept = kept._source(0, 1)
    assert np.allclose(whole_kept, keep_colour(whole_plain, whole_in), atol=1e-6)
    assert torch.equal(plain[(3, 32)][0], kept[(3, 32)][0])  # same input patch


def test_zoom_shows_the_patch_more_of_the_scene_and_zero_keeps_the_old_stream(tmp_path):
    from PIL import Image

    ramp = np.tile(np.linspace(0, 1, 256, dtype=np.float32), (128, 1))
    Image.fromarray((np.stack([ramp] * 3, -1) * 255).round().astype(np.uint8)).save(tmp_path / "ramp.png")
    src = lambda: [Source(inputs=clean_images(tmp_path))]  # noqa: E731
    plain, zero = PatchDataset(0, sources=src(), teacher=_Grey()), PatchDataset(0, sources=src(), teacher=_Grey(), zoom=0.0)
    zoomed = PatchDataset(0, sources=src(), teacher=_Grey(), zoom=1.0)
    span = lambda ds, i: float(np.ptp(ds[(i, 32)][0].numpy()[0, 0]))  # noqa: E731 - horizontal extent seen
    assert all(torch.equal(plain[(i, 32)][0], zero[(i, 32)][0]) for i in range(5))
    plain_spans, zoom_spans = [span(plain, i) for i in range(30)], [span(zoomed, i) for i in range(30)]
    assert max(plain_spans) < 0.13  # 32 of 256 columns
    assert np.mean(zoom_spans) > 1.5 * np.mean(plain_spans) and max(zoom_spans) > 0.2
    assert all(tuple(zoomed[(i, 32)][1].shape) == (3, 32, 32) for i in range(5))


def test_the_teacher_cache_spares_the_teacher_on_the_next_run(photos, tmp_path):
    cache = tmp_path / "cache"
    first = _Warm()
    ds = PatchDataset(0, sources=[Source(inputs=clean_images(photos))], teacher=first, teacher_cache=cache)
    targets = [ds._source(0, k)[1] for k in range(4)]
    assert first.calls == 4 and len(list(cache.glob("*.npy"))) == 4 and not list(cache.glob(".*"))
    again = _Warm()
    ds2 = PatchDataset(0, sources=[Source(inputs=clean_images(photos))], teacher=again, teacher_cache=cache)
    assert all(np.allclose(ds2._source(0, k)[1], targets[k], atol=2e-3) for k in range(4))
    assert again.calls == 0
    other = _Warm()
    other.provenance = {"sha256": "cd" * 32}  # another teacher's outputs are not this one's
    PatchDataset(0, sources=[Source(inputs=clean_images(photos))], teacher=other, teacher_cache=cache)._source(0, 0)
    assert other.calls == 1


@pytest.mark.parametrize("settings, message", [
    (["data.zoom=1.5"], "data.zoom is a share"),
    (["teacher_cache=cache"], "teacher_cache needs a teacher"),
])
def test_zoom_and_teacher_cache_settings_are_checked(settings, message, tmp_path):
    with pytest.raises(TrainConfigError, match=message):
        apply_set(load_config(None), [*settings, f"out={tmp_path}"]).check()


def test_keep_colour_needs_a_teacher(photos):
    cfg = load_config(None)
    cfg.data.sources = [{"dir": str(photos), "keep_colour": True}]
    with pytest.raises(TrainConfigError, match="keep_colour .* needs a teacher"):
        cfg.check()


def test_a_sources_own_teacher_weight_overrides_the_runs(pairs):
    samples = paired_samples(pairs)
    plain = PatchDataset(0, sources=[Source(pairs=samples)])
    mixed = PatchDataset(0, sources=[Source(pairs=samples, teacher_weight=0.0)], teacher=_Grey(), teacher_weight=0.9)
    assert np.array_equal(_target(mixed, 5), _target(plain, 5))  # ground truth only for this source
    half = PatchDataset(0, sources=[Source(pairs=samples, teacher_weight=0.5)], teacher=_Grey(), teacher_weight=0.9)
    assert np.allclose(_target(half, 5), 0.5 * 0.5 + 0.5 * _target(plain, 5), atol=1e-6)


def test_a_synthetic_source_with_teacher_weight_0_learns_the_clean_photo(photos):
    teacher = _Grey()
    plain = PatchDataset(0, sources=[Source(clean=clean_images(photos), mode="denoise")])
    own = PatchDataset(0, sources=[Source(clean=clean_images(photos), mode="denoise", teacher_weight=0.0)],
                       teacher=teacher, teacher_weight=1.0)
    assert np.array_equal(_target(own, 2), _target(plain, 2)) and not teacher.shapes


@pytest.mark.parametrize("source, message", [
    ({"teacher_weight": 1.5}, "teacher_weight must be from 0 to 1"),
    ({"teacher_weight": 0.5, "unpaired": True}, "needs a teacher and a paired or synthetic source"),
])
def test_a_sources_teacher_weight_is_checked(source, message, pairs):
    cfg = apply_set(load_config(None), ["teacher=some.pth"])
    cfg.data.sources = [{"dir": str(pairs), **source}]
    with pytest.raises(TrainConfigError, match=message):
        cfg.check()


def test_keep_colour_target_gives_pairs_the_ground_truths_mean_colour(pairs):
    from mirnet_cli.train.data import keep_colour

    samples = paired_samples(pairs)
    taught = PatchDataset(0, sources=[Source(pairs=samples, keep_colour="target")], teacher=_Warm(), teacher_weight=1.0)
    plain = PatchDataset(0, sources=[Source(pairs=samples)], teacher=_Warm(), teacher_weight=1.0)
    truth = PatchDataset(0, sources=[Source(pairs=samples)])
    _, warm = plain._source(0, 1)
    _, gt = truth._source(0, 1)
    assert np.allclose(taught._source(0, 1)[1], keep_colour(warm, gt), atol=1e-6)
    assert abs(_mean_ab(taught._source(0, 1)[1]) - _mean_ab(gt)).max() < 0.5


@pytest.mark.parametrize("source", [{"keep_colour": "sky"}, {"keep_colour": "target", "unpaired": True}])
def test_keep_colour_values_are_checked(source, pairs):
    cfg = apply_set(load_config(None), ["teacher=some.pth"])
    cfg.data.sources = [{"dir": str(pairs), **source}]
    with pytest.raises(TrainConfigError, match="keep_colour must be"):
        cfg.check()


def test_a_teacher_without_a_digest_is_never_cached(photos, tmp_path):
    anonymous = _Warm()
    anonymous.provenance = {"sha256": None}  # e.g. a folder without model.safetensors: nothing names its outputs
    ds = PatchDataset(0, sources=[Source(inputs=clean_images(photos))], teacher=anonymous, teacher_cache=tmp_path / "c")
    ds._source(0, 0)
    assert anonymous.calls == 1 and not (tmp_path / "c").exists()
