"""Each model module reads its own constructor config from a state dict and bounds every argument (issue 14
item 2, issue 15 item 3: key detection next to each model, one ARCHITECTURES)."""

from __future__ import annotations

import pytest

from mirnet_cli import architectures, build_model
from mirnet_cli.models import mirnet_v1, mirnet_v2

V2 = build_model("mirnet_v2", n_feat=16, n_MRB=1).state_dict()
V1 = build_model("mirnet", n_feat=8, n_RRG=1, n_MSRB=1).state_dict()
MODULES = [(mirnet_v2, V2), (mirnet_v1, V1)]


@pytest.mark.parametrize("module,state", MODULES, ids=["v2", "v1"])
def test_each_module_recognises_only_its_own_keys(module, state):
    other = V1 if state is V2 else V2
    assert module.matches_state_dict(state) and not module.matches_state_dict(other)
    with pytest.raises(ValueError, match="not a MIRNet"):
        module.config_from_state_dict(other)


@pytest.mark.parametrize("module,state", MODULES, ids=["v2", "v1"])
def test_the_config_read_from_the_shapes_rebuilds_the_same_keys_and_shapes(module, state):
    config = module.config_from_state_dict(state)
    arch = "mirnet_v2" if module is mirnet_v2 else "mirnet"
    again = build_model(arch, **config).state_dict()
    assert {k: tuple(v.shape) for k, v in again.items()} == {k: tuple(v.shape) for k, v in state.items()}


def _out_of_bounds(rule):
    if rule == (bool,):
        return [1, "true", None]
    if len(rule) == 2 and isinstance(rule[0], (int, float)) and not isinstance(rule[0], bool):
        low, high = rule
        bad = [low - 1, high + 1, str(low), True]
        if isinstance(low, int):
            bad.append(float(low) + 0.5)
        return bad
    return ["something else", 0]


@pytest.mark.parametrize("module,state", MODULES, ids=["v2", "v1"])
def test_every_argument_is_bounded(module, state):
    assert set(module.CONFIG_BOUNDS) == set(module.config_from_state_dict(state))  # nothing unbounded
    for name, rule in module.CONFIG_BOUNDS.items():
        for value in _out_of_bounds(rule):
            with pytest.raises(ValueError, match=name):
                module.config_from_state_dict(state, {name: value})


def test_v1_stride_is_free_only_with_one_scale():
    one_scale = build_model("mirnet", n_feat=8, n_RRG=1, n_MSRB=1, height=1).state_dict()
    assert mirnet_v1.config_from_state_dict(one_scale)["stride"] == 2
    assert mirnet_v1.config_from_state_dict(one_scale, {"stride": 3})["stride"] == 3
    with pytest.raises(ValueError, match="the config says stride=3 but the weights have stride=2"):
        mirnet_v1.config_from_state_dict(V1, {"stride": 3})


def test_architecture_names_have_one_definition():
    from mirnet_cli.cli.commands import benchmark
    from mirnet_cli.loading import registry
    from mirnet_cli.models import ARCHITECTURES as classes

    assert registry.ARCHITECTURES is architectures.ARCHITECTURES
    assert benchmark.ARCHITECTURES is architectures.ARCHITECTURES
    assert tuple(classes) == architectures.ARCHITECTURES


def test_the_shipped_registry_configs_are_within_the_bounds():
    from mirnet_cli.loading.registry import load_registry
    from mirnet_cli.models.common import check_config

    for entry in load_registry().values():
        module = mirnet_v2 if entry.architecture == "mirnet_v2" else mirnet_v1
        check_config(entry.config, module.CONFIG_BOUNDS)
