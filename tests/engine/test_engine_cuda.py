"""The CUDA path (run by scripts/gpu_check.sh on a GPU machine; skipped where there is no CUDA device)."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from mirnet_cli.engine.inference import InferenceEngine
from mirnet_cli.engine.memory import DEVICE_FREE_FRACTION, available_memory_bytes
from mirnet_cli.loading.checkpoint import load_model

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (scripts/gpu_check.sh runs these)"),
]


def photo(h: int = 384, w: int = 512) -> torch.Tensor:
    yy, xx = torch.meshgrid(torch.linspace(0, 1, h), torch.linspace(0, 1, w), indexing="ij")
    base = torch.stack([0.2 + 0.6 * xx, 0.3 * yy + 0.2, 0.8 - 0.6 * xx * yy])[None]
    return (base + 0.05 * torch.randn(1, 3, h, w, generator=torch.Generator().manual_seed(0))).clamp(0, 1)


def psnr(a, b) -> float:
    mse = float(((a.clamp(0, 1) - b.clamp(0, 1)) ** 2).mean())
    return math.inf if mse == 0 else 10 * math.log10(1 / mse)


@pytest.mark.parametrize("name", ["mirnet_v2-nf16-denoise", "mirnet_v2-nf16-lowlight"])
def test_fp16_autocast_channels_last_matches_fp32(name):
    net = load_model(name)
    x = photo()
    fp32 = InferenceEngine(net, device="cuda", precision="fp32", tile=0).run(x)
    eng = InferenceEngine(net, device="cuda", precision="auto", tile=0)
    assert eng.dtype == torch.float16 and eng.channels_last
    fp16 = eng.run(x)
    assert psnr(fp16, fp32) > 40
    assert eng.stats["fp32_fallbacks"] == 0


def test_tiles_with_global_context_on_cuda_agree_with_the_whole_image():
    net = load_model("mirnet_v2-nf16-lowlight")
    x = photo() * 0.2  # a dark photo
    whole = InferenceEngine(net, device="cuda", precision="fp16", tile=0).run(x)
    eng = InferenceEngine(net, device="cuda", precision="fp16", tile=128, context="full")
    tiled = eng.run(x)
    assert eng.last_plan.tiles > 4 and eng.last_plan.batch > 1  # tiles batched on the GPU
    assert psnr(tiled, whole) > 45


def test_memory_plan_reads_the_free_device_memory():
    net = load_model("mirnet_v2-nf16-denoise")
    eng = InferenceEngine(net, device="cuda", precision="fp16")
    plan = eng.plan(4000, 3000)
    assert 0 < plan.budget_bytes <= DEVICE_FREE_FRACTION * available_memory_bytes(eng.device) * 1.01
    capped = InferenceEngine(net, device="cuda", precision="fp16", max_memory="256M").plan(4000, 3000)
    assert capped.budget_bytes <= 256 * 1024**2 and capped.tiled


def test_fp16_guard_recomputes_nan_tiles_in_fp32():
    class Overflow(nn.Module):
        size_multiple = 4

        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 3, 3, padding=1)

        def forward(self, x):
            y = self.conv(x)
            if y.dtype == torch.float16:  # under autocast: blow up where the input is bright
                y = torch.where(x.amax(dim=1, keepdim=True) > 0.95, y * float("inf"), y)
            return y + x

    x = photo(256, 256) * 0.5
    x[..., 200:220, 200:220] = 1.0
    eng = InferenceEngine(Overflow().cuda(), device="cuda", precision="fp16", tile=128, tile_overlap=16)
    with pytest.warns(UserWarning, match="recomputed them in fp32"):
        y = eng.run(x)
    assert bool(torch.isfinite(y).all()) and 0 < eng.stats["fp32_fallbacks"] < eng.stats["tiles"]
