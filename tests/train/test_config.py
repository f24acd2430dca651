"""Config files, --set overrides and the progressive-patch schedule."""

from __future__ import annotations

import pytest

from mirnet_cli.errors import MirnetError
from mirnet_cli.train.config import apply_set, load_config


def test_yaml_and_toml_files(tmp_path):
    (tmp_path / "a.yaml").write_text("arch: mirnet\nmodel: {n_feat: 32}\nschedule: {iters: 50}\n")
    (tmp_path / "b.toml").write_text('arch = "mirnet_v2"\n[optim]\nlr = 1e-4\n[data]\nsynthetic = "sr"\n')
    a, b = load_config(tmp_path / "a.yaml"), load_config(tmp_path / "b.toml")
    assert (a.arch, a.model, a.schedule.iters) == ("mirnet", {"n_feat": 32}, 50)
    assert (b.optim.lr, b.data.synthetic) == (1e-4, "sr")


def test_set_overrides_parse_yaml_scalars():
    cfg = apply_set(load_config(None), ["model.n_feat=16", "optim.lr=1e-3", "schedule.progressive=false",
                                        "data.exclude=[a, b]", "optim.betas=[0.8, 0.99]"])
    assert cfg.model["n_feat"] == 16 and cfg.optim.lr == 1e-3 and cfg.schedule.progressive is False
    assert cfg.data.exclude == ["a", "b"] and cfg.optim.betas == (0.8, 0.99)


def test_unknown_key_is_named():
    with pytest.raises(MirnetError, match="optim.lrr"):
        apply_set(load_config(None), ["optim.lrr=1"])
    with pytest.raises(MirnetError, match="key=value"):
        apply_set(load_config(None), ["optim.lr"])


def test_v2_progressive_schedule_follows_the_paper():
    cfg = apply_set(load_config(None), ["schedule.iters=240000"])
    assert cfg.stages() == [(0, 128, 8), (92000, 144, 5), (156000, 192, 4), (204000, 224, 2)]
    assert cfg.stage_at(156000) == (2, 192, 4)
    v1 = apply_set(load_config(None), ["arch=mirnet"])
    assert v1.stages() == [(0, 128, 16)]
    fixed = apply_set(load_config(None), ["schedule.patch_size=64", "schedule.batch_size=3"])
    assert fixed.stages() == [(0, 64, 3)]


def test_yaml_exponents_types_and_model_values(tmp_path):
    (tmp_path / "c.yml").write_text("optim: {lr: 2e-4, betas: [0.8, 0.99]}\nmodel: {chan_factor: 1.5e0}\n"
                                    "schedule: {iters: 1e3}\n")
    cfg = load_config(tmp_path / "c.yml")
    assert cfg.optim.lr == 2e-4 and cfg.optim.betas == (0.8, 0.99)
    assert cfg.model == {"chan_factor": 1.5} and cfg.schedule.iters == 1000 and isinstance(cfg.schedule.iters, int)
    cfg = apply_set(cfg, ["optim.grad_clip=1e-2", "model.bias=true", "schedule.batch_size=null", "task=denoise"])
    assert cfg.optim.grad_clip == 0.01 and cfg.model["bias"] is True and cfg.schedule.batch_size is None
    with pytest.raises(MirnetError, match="schedule.iters expects a whole number"):
        apply_set(cfg, ["schedule.iters=lots"])
    with pytest.raises(MirnetError, match="c.yml"):
        (tmp_path / "c.yml").write_text("optim: {lrr: 1}\n")
        load_config(tmp_path / "c.yml")


def test_check_rejects_impossible_values():
    for bad, match in [("schedule.iters=0", "schedule.iters"), ("data.synthetic=blur", "data.synthetic"),
                       ("amp=fp8", "amp"), ("arch=unet", "arch"), ("schedule.patch_size=30", "multiple of 4"),
                       ("optim.loss=ssim", "optim.loss")]:
        with pytest.raises(MirnetError, match=match):
            apply_set(load_config(None), [bad]).check()
    assert apply_set(load_config(None), ["arch=MIRNet-v2"]).check().arch == "mirnet_v2"


def test_precedence_file_then_flags_then_set(tmp_path):
    from mirnet_cli.cli.commands.train import build_config

    (tmp_path / "r.toml").write_text('out = "from_file"\n[optim]\nlr = 1e-3\n[schedule]\niters = 9\n')
    cfg = build_config(tmp_path / "r.toml", {"lr": 5e-4, "iters": None, "amp": False}, ["optim.lr=7e-4"])
    assert cfg.optim.lr == 7e-4 and cfg.schedule.iters == 9 and cfg.out == "from_file" and cfg.amp == "off"


def test_progressive_batches_scale_with_batch_size_and_short_runs():
    cfg = apply_set(load_config(None), ["schedule.iters=100", "schedule.batch_size=16"])
    assert cfg.stages() == [(0, 128, 16), (38, 144, 10), (65, 192, 8), (85, 224, 4)]
    assert [cfg.stage_at(i)[1] for i in (0, 37, 38, 99)] == [128, 128, 144, 224]
    assert apply_set(load_config(None), ["schedule.progressive=false"]).stages() == [(0, 128, 8)]
