"""``--precision auto`` on the CPU (bf16 where native and measured faster), the bf16 guard, the channel rows."""

from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn

from mirnet_cli import build_model
from mirnet_cli.engine import device as dev
from mirnet_cli.engine.device import (
    BF16_MIN_PARAMETERS,
    PrecisionFallbackWarning,
    auto_precision,
    cpu_bf16_choice,
)
from mirnet_cli.engine.inference import InferenceEngine
from mirnet_cli.models import common
from mirnet_cli.models.common import pixel_rows, row_factor, rows_to_map, vector_rows

CPUS = {  # (native bf16, AMX)
    "avx2": (False, False),
    "avx512_bf16": (True, False),  # AMD EPYC (Zen 4/5)
    "amx": (True, True),  # Xeon Sapphire Rapids and later
}


@pytest.fixture
def cpu(monkeypatch):
    def use(kind: str) -> None:
        native, amx = CPUS[kind]
        monkeypatch.setattr(dev, "cpu_has_native_bf16", lambda: native)
        monkeypatch.setattr(dev, "cpu_has_amx", lambda: amx)

    return use


BUNDLED = 237_000  # n_feat 16
OFFICIAL = 5_860_000  # the authors' MIRNet-v2 (n_feat 80)


@pytest.mark.parametrize(
    ("kind", "parameters", "expected"),
    [
        ("avx2", BUNDLED, torch.float32),
        ("avx2", OFFICIAL, torch.float32),  # emulated bf16: never
        ("amx", BUNDLED, torch.bfloat16),  # 1.16-1.24x at n_feat 16
        ("amx", 120_000, torch.float32),  # smaller than anything measured
        ("amx", 940_000, torch.bfloat16),  # n_feat 32: 1.5x faster
        ("amx", OFFICIAL, torch.bfloat16),
        ("avx512_bf16", BUNDLED, torch.float32),  # 0.8x on AMD EPYC
        ("avx512_bf16", 2_110_000, torch.float32),  # n_feat 48: below the no-AMX threshold
        ("avx512_bf16", OFFICIAL, torch.bfloat16),  # 1.7x on AMD EPYC
        ("amx", None, torch.bfloat16),  # unknown size: a large model
    ],
)
def test_auto_precision_rule(cpu, kind, parameters, expected):
    cpu(kind)
    dtype, reason = auto_precision("cpu", supports_bf16=True, parameters=parameters)
    assert dtype == expected
    assert reason.startswith("bf16" if expected == torch.bfloat16 else "fp32")
    assert dev.resolve_precision("auto", "cpu", supports_bf16=True, parameters=parameters) == expected
    # the model's facts can always rule bf16 out
    assert auto_precision("cpu", supports_bf16=False, parameters=parameters)[0] == torch.float32


def test_auto_precision_reasons(cpu):
    cpu("amx")
    assert "AMX present" in cpu_bf16_choice(OFFICIAL)[1]
    assert "not measured faster" in cpu_bf16_choice(120_000)[1]
    cpu("avx512_bf16")
    assert "AVX512-BF16 without AMX" in cpu_bf16_choice(OFFICIAL)[1]
    cpu("avx2")
    assert "no native bf16" in cpu_bf16_choice(OFFICIAL)[1]
    assert BF16_MIN_PARAMETERS["amx"] < BF16_MIN_PARAMETERS["avx512_bf16"] < OFFICIAL


def test_auto_precision_other_devices():
    assert auto_precision("cuda")[0] == torch.float16
    assert auto_precision("cuda", supports_half=False)[0] == torch.float32
    assert auto_precision("mps")[0] == torch.float32
    assert dev.resolve_precision("auto", "cpu") == torch.float32  # supports_bf16 defaults to False


def test_engine_counts_the_models_parameters(cpu):
    cpu("amx")
    small = build_model("mirnet_v2", n_feat=16, n_MRB=1)
    large = build_model("mirnet_v2", n_feat=32, n_MRB=2)
    assert sum(p.numel() for p in small.parameters()) < BF16_MIN_PARAMETERS["amx"]
    assert sum(p.numel() for p in large.parameters()) >= BF16_MIN_PARAMETERS["amx"]
    e_small, e_large = InferenceEngine(small, device="cpu"), InferenceEngine(large, device="cpu")
    assert e_small.dtype == torch.float32 and "not measured faster" in e_small.precision_reason
    assert e_large.dtype == torch.bfloat16 and e_large.precision_reason.startswith("bf16 (AMX present")
    assert InferenceEngine(large, device="cpu", precision="fp32").precision_reason == (
        "fp32 (asked for with --precision)")
    cpu("avx2")
    assert InferenceEngine(large, device="cpu").dtype == torch.float32


class BreaksInBf16(nn.Module):
    """NaN (or black) under bf16 autocast for samples with a bright marker; fine in fp32."""

    size_multiple = 4

    def __init__(self, mode: str):
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(3, 3, 3, padding=1, padding_mode="replicate")
        self.mode = mode

    def forward(self, x):
        features = self.conv(x)
        y = 0.1 * features + x
        if features.dtype == torch.bfloat16:
            marked = x[:, 0].amax(dim=(1, 2)) > 0.95
            y = y.clone()
            y[marked] = y[marked] * float("nan") if self.mode == "nan" else 0.0
        return y


@pytest.mark.parametrize("mode", ["nan", "black"])
def test_bf16_guard_on_cpu_recomputes_broken_tiles_in_fp32(mode):
    """The CUDA fp16 guard's CPU counterpart: the same check and fp32 redo for bf16 tiles."""
    x = torch.full((1, 3, 96, 96), 0.5)
    x[:, 0, 70:80, 70:80] = 1.0
    model = BreaksInBf16(mode)
    reference = InferenceEngine(model, device="cpu", precision="fp32", tile=40, tile_overlap=16, min_tile=16).run(x)
    # _unchecked_precision: bf16 even where this CPU would refuse it (a tiny model: emulation is fast enough)
    eng = InferenceEngine(model, device="cpu", precision=torch.bfloat16, tile=40, tile_overlap=16, min_tile=16,
                          _unchecked_precision=True)
    assert eng.dtype == torch.bfloat16
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        y = eng.run(x)
    fallbacks = [w for w in caught if issubclass(w.category, PrecisionFallbackWarning)]
    assert len(fallbacks) == 1 and "bf16 produced NaN/Inf or black output" in str(fallbacks[0].message)
    assert bool(torch.isfinite(y).all()) and y.dtype == torch.float32
    assert 0 < eng.stats["fp32_fallbacks"] < eng.stats["tiles"]
    assert (y - reference).abs().max() < 3e-2


@pytest.mark.parametrize(("channels", "pixels", "k"), [(16, 65536, 16), (24, 16384, 8), (36, 4096, 8),
                                                       (80, 4096, 4), (256, 4096, 1), (16, 7 * 7, 7)])
def test_row_factor(channels, pixels, k):
    got = row_factor(channels, pixels)
    assert got == k and pixels % got == 0


def test_pixel_rows_are_views_and_round_trip():
    x = torch.rand(2, 16, 8, 12).contiguous(memory_format=torch.channels_last)
    v = torch.rand(2, 16, 1, 1)
    k = row_factor(16, 8 * 12)
    rows = pixel_rows(x, k)
    assert rows is not None and rows.data_ptr() == x.data_ptr() and rows.shape == (2, 8 * 12 // k, 16 * k)
    back = rows_to_map(rows + vector_rows(v, k), x)
    torch.testing.assert_close(back, x + v)
    assert back.is_contiguous(memory_format=torch.channels_last)
    assert pixel_rows(x.contiguous(), k) is None  # NCHW: no rows (the caller broadcasts as before)
    assert pixel_rows(x, 5) is None  # does not divide H*W


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_channel_rows_do_not_change_the_output(dtype):
    model = build_model("mirnet_v2", n_feat=16, n_MRB=1).to(dtype).eval().to(memory_format=torch.channels_last)
    x = torch.rand(1, 3, 32, 48, dtype=dtype).contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        rows = model(x)
        old, common.ROW_ELEMENTS = common.ROW_ELEMENTS, 0  # rows off: the broadcasts as before
        try:
            plain = model(x)
        finally:
            common.ROW_ELEMENTS = old
    torch.testing.assert_close(rows, plain, rtol=0, atol=1e-12 if dtype == torch.float64 else 1e-5)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_vector_matmul_does_not_change_the_output(dtype):
    model = build_model("mirnet_v2", n_feat=16, n_MRB=1).to(dtype).eval()
    assert isinstance(model.body[0].body[0].skff_top.fcs[0], common.VectorConv)
    x = torch.rand(1, 3, 32, 32, dtype=dtype)
    with torch.inference_mode():
        fast = model(x)
        old, common.VECTOR_MATMUL = common.VECTOR_MATMUL, False
        try:
            convs = model(x)
        finally:
            common.VECTOR_MATMUL = old
    torch.testing.assert_close(fast, convs, rtol=0, atol=1e-12 if dtype == torch.float64 else 1e-5)


def test_vector_conv_runs_in_fp32_under_bf16_autocast():
    conv = common.VectorConv(8, 4, 1).eval()
    v = torch.rand(2, 8, 1, 1)
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
        y = conv(v.to(torch.bfloat16))
    assert y.dtype == torch.float32 and y.shape == (2, 4, 1, 1)
    torch.testing.assert_close(y, torch.nn.functional.conv2d(v.to(torch.bfloat16).float(), conv.weight, conv.bias))


def test_blocked_context_matches_the_plain_product():
    from mirnet_cli.models.mirnet_v2 import _blocked_context

    torch.manual_seed(0)
    pixels = torch.rand(2, 64 * 48, 16)
    attn = torch.softmax(torch.rand(2, 64 * 48, 1), dim=1)
    k = row_factor(16, 64 * 48)
    assert k == 16
    torch.testing.assert_close(_blocked_context(attn, pixels, k), attn.transpose(1, 2) @ pixels)
    low = _blocked_context(attn.bfloat16(), pixels.bfloat16(), k).float()
    torch.testing.assert_close(low, attn.transpose(1, 2) @ pixels, rtol=2e-2, atol=2e-3)
