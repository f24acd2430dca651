"""MIRNet v1: the authors' key layout, shared weights, buffers and the golden outputs."""

from __future__ import annotations

import json

import pytest
import torch

from mirnet_cli import build_model
from tests.conftest import FIXTURES, shared_path
from tests.models.golden import check_golden_case


def test_golden_v1_nfeat16():
    check_golden_case(FIXTURES / "golden" / "v1_nfeat16")


def test_default_keys_and_shapes_equal_the_authors():
    ref = json.loads(shared_path("docs", "keys", "keys_mirnet_v1.json").read_text())
    model = build_model("mirnet")
    mine = [(k, list(v.shape)) for k, v in model.state_dict().items()]
    assert mine == [(e["key"], e["shape"]) for e in ref["keys"]]
    assert sum(p.numel() for p in model.parameters()) == 31_787_419  # the paper's 31.8 M


def test_shared_dau_columns_and_prelu():
    model = build_model("mirnet", n_feat=16)
    sd = model.state_dict()
    a = sd["body.0.body.0.blocks.1.0.body.0.weight"]
    b = sd["body.0.body.0.blocks.1.1.body.0.weight"]
    assert a.data_ptr() == b.data_ptr(), "the DAU columns of one scale are one module in the reference"
    slopes = {sd[k].data_ptr() for k in sd if k.endswith("body.1.weight") and ".blocks." in k}
    assert len(slopes) == 1, "one PReLU slope is shared by every DAU"


def test_loaded_filter_buffers_are_used():
    model = build_model("mirnet", n_feat=8, n_RRG=1, n_MSRB=1)
    x = torch.rand(1, 3, 16, 16)
    with torch.no_grad():
        before = model(x)
        for name, buf in model.named_buffers():
            if name.endswith("filt"):
                buf.mul_(1.5)
        after = model(x)
    assert not torch.allclose(before, after)


def test_global_residual_requires_equal_channels():
    with pytest.raises(ValueError):
        build_model("mirnet", in_channels=6, out_channels=3)
