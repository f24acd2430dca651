"""MIRNet-v2: the authors' key layout, ignored arguments, dual-pixel mode and the golden outputs."""

from __future__ import annotations

import json

import pytest
import torch

from mirnet_cli import build_model
from tests.conftest import FIXTURES, shared_path
from tests.models.golden import check_golden_case


def test_golden_v2_nfeat16():
    check_golden_case(FIXTURES / "golden" / "v2_nfeat16")


@pytest.mark.slow
@pytest.mark.parametrize("case", ["v2_default", "v2_dualpixel"])
def test_golden_full_size(case):
    check_golden_case(shared_path("golden", case))


@pytest.mark.parametrize(
    "keys_file,config",
    [("keys_mirnet_v2.json", {}), ("keys_mirnet_v2_dualpixel.json", {"inp_channels": 6, "task": "defocus_deblurring"})],
)
def test_keys_and_shapes_equal_the_authors(keys_file, config):
    ref = json.loads(shared_path("docs", "keys", keys_file).read_text())
    model = build_model("mirnet_v2", **config)
    assert [(k, list(v.shape)) for k, v in model.state_dict().items()] == [(e["key"], e["shape"]) for e in ref["keys"]]


def test_parameter_counts_match_the_paper():
    assert sum(p.numel() for p in build_model("mirnet_v2").parameters()) == 5_858_560
    dp = build_model("mirnet_v2", inp_channels=6, task="defocus_deblurring")
    assert sum(p.numel() for p in dp.parameters()) == 5_860_720


def test_ignored_arguments_change_nothing():
    a = build_model("mirnet_v2", n_feat=16)
    b = build_model("mirnet_v2", n_feat=16, n_RRG=9, height=5, width=7, scale=4)
    assert [(k, v.shape) for k, v in a.state_dict().items()] == [(k, v.shape) for k, v in b.state_dict().items()]


def test_dual_pixel_uses_feature_residual():
    model = build_model("mirnet_v2", n_feat=16, inp_channels=6, task="defocus_deblurring")
    torch.nn.init.zeros_(model.conv_out.weight)
    with torch.no_grad():
        out = model(torch.rand(1, 6, 16, 16))
    assert out.shape == (1, 3, 16, 16)
    assert torch.count_nonzero(out) == 0  # nothing of the input image is added in this mode


def test_unknown_argument_is_named():
    with pytest.raises(TypeError, match="n_feats"):
        build_model("mirnet_v2", n_feats=8)
