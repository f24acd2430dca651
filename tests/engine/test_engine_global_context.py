"""Global context for tiles: hooks, context copies, and tiles that agree with the whole-image pass (v1 and v2)."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from mirnet_cli import load_model
from mirnet_cli.engine.global_context import GlobalContext
from mirnet_cli.engine.inference import InferenceEngine, extrapolate_vectors
from mirnet_cli.models.facts import GlobalOp, facts_of
from tests.conftest import FIXTURES

CASES = ["v1_nfeat16", "v2_nfeat16"]


def golden_model(case: str) -> nn.Module:
    return load_model(FIXTURES / "golden" / case / "weights.safetensors")


def smooth_image(h: int, w: int, seed: int = 0) -> torch.Tensor:
    """A photo-like test image: smooth gradients and blobs with very different brightness across the frame (a
    tile of the dark side normalises itself differently from a tile of the bright side)."""
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.linspace(0, 1, h), torch.linspace(0, 1, w), indexing="ij")
    base = torch.stack([0.1 + 0.8 * xx, 0.2 + 0.5 * yy * xx, 0.9 - 0.8 * xx * (1 - yy)])
    blobs = torch.nn.functional.interpolate(torch.rand(1, 3, 6, 8, generator=g), size=(h, w), mode="bicubic")
    return (0.7 * base[None] + 0.3 * blobs).clamp(0, 1)


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = float(((a.clamp(0, 1) - b.clamp(0, 1)) ** 2).mean())
    return 99.0 if mse == 0 else 10 * math.log10(1.0 / mse)


@pytest.mark.parametrize("case", CASES)
def test_facts_declare_the_global_operations(case):
    model = golden_model(case)
    facts = facts_of(model)
    assert facts.global_context and facts.size_multiple == 4
    sites = [m for m in model.modules() for op in facts.global_ops if isinstance(m, op.block)]
    assert sites, "the facts name blocks that exist in the model"
    for op in facts.global_ops:
        assert isinstance(op, GlobalOp)


@pytest.mark.parametrize("case", CASES)
def test_recorded_vectors_injected_into_the_same_image_change_nothing(case):
    model = golden_model(case)
    x = smooth_image(48, 64)
    with torch.inference_mode():
        plain = model(x)
        with GlobalContext(model) as ctx:
            ctx.begin("record")
            recorded = model(x)
            n = ctx.count
            ctx.begin("inject")
            injected = model(x)
    assert n > 10  # every SKFF / context block / channel attention call was seen
    assert torch.equal(plain, recorded)
    torch.testing.assert_close(injected, plain, rtol=0, atol=1e-6)
    assert not any(m._forward_pre_hooks for m in model.modules())  # hooks removed on exit


def test_injection_changes_what_a_crop_computes():
    """A crop with the whole image's vectors differs from the crop alone: the vectors really reach the blocks."""
    model = golden_model("v2_nfeat16")
    x = smooth_image(64, 96)
    crop = x[..., :, :48]
    with torch.inference_mode(), GlobalContext(model) as ctx:
        alone = model(crop)
        ctx.begin("record")
        model(x)
        ctx.begin("inject")
        with_context = model(crop)
    assert (alone - with_context).abs().max() > 1e-3


def test_inject_without_record_is_an_error():
    model = golden_model("v2_nfeat16")
    with GlobalContext(model) as ctx, pytest.raises(RuntimeError, match="record them first"):
        ctx.begin("inject")


def test_extrapolation_recovers_a_linear_trend():
    v1 = [torch.tensor([1.0, -2.0]), torch.tensor([0.5])]
    slope = [torch.tensor([0.3, 0.1]), torch.tensor([-0.2])]
    at = lambda s: [a + b * (s - 1) for a, b in zip(v1, slope, strict=True)]  # noqa: E731
    out = extrapolate_vectors([(3.0, at(3.0)), (5.0, at(5.0))])
    for got, want in zip(out, v1, strict=True):
        torch.testing.assert_close(got, want)
    assert extrapolate_vectors([(2.0, v1)]) is v1  # one copy: its own vectors


@pytest.mark.parametrize("case", CASES)
def test_tiles_agree_with_the_whole_image(case):
    """With the whole image's vectors (``full``) tiles match the whole-image pass far better than tiles that
    normalise themselves (``tile``); ``fast`` (small extrapolated copies) lies in between."""
    model = golden_model(case)
    x = smooth_image(160, 224)
    whole = InferenceEngine(model, device="cpu", precision="fp32", tile=0).run(x)
    scores = {}
    for mode in ("tile", "fast", "full"):
        eng = InferenceEngine(model, device="cpu", precision="fp32", tile=96, tile_overlap=32, context=mode)
        out = eng.run(x)
        assert eng.last_plan.tiled and eng.last_plan.tiles > 4
        assert eng.stats["context_passes"] == len(eng.last_plan.context_scales)
        assert eng.last_plan.context_scales == {"tile": (), "fast": (2.5,), "full": (1.0,)}[mode]  # 2.5: smallest copy
        scores[mode] = psnr(out, whole)
    assert scores["full"] > 60, scores
    assert scores["full"] > scores["fast"] > scores["tile"], scores


def test_auto_context_is_full_when_the_whole_image_fits_and_fast_otherwise(monkeypatch):
    model = golden_model("v2_nfeat16")
    eng = InferenceEngine(model, device="cpu", precision="fp32", tile=96)
    plan = eng.plan(160, 224)
    assert plan.context == "full" and plan.context_scales == (1.0,)
    # a budget too small for a whole pass: two downscaled copies, extrapolated
    monkeypatch.setattr(eng, "_budget", lambda *a: int(plan.bytes_per_pixel * 100 * 100))
    plan = eng.plan(1600, 2240)
    assert plan.context == "fast" and len(plan.context_scales) == 2
    assert plan.context_scales[0] >= 3 and plan.context_scales[1] > plan.context_scales[0]
    # each copy fits the budget
    assert all(1600 * 2240 / s**2 <= 100 * 100 * 1.01 for s in plan.context_scales)


def test_context_tile_and_models_without_global_ops_skip_the_copy():
    model = golden_model("v2_nfeat16")
    assert InferenceEngine(model, device="cpu", tile=96, context="tile").plan(160, 224).context == "tile"

    class Local(nn.Module):
        size_multiple = 4

        def forward(self, x):
            return x

    plan = InferenceEngine(Local(), device="cpu", tile=96).plan(160, 224)
    assert plan.tiled and plan.context == "none" and plan.context_scales == ()


def test_bad_context_mode_is_refused():
    from mirnet_cli.errors import MirnetError

    with pytest.raises(MirnetError, match="invalid context mode 'exactly'"):
        InferenceEngine(golden_model("v2_nfeat16"), device="cpu", context="exactly")
