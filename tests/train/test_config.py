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
