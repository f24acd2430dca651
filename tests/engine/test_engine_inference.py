"""InferenceEngine: padding, tiling equivalence, seams, auto tiles, OOM back-off, fp16 guard."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from torch import nn

from mirnet_cli.engine import device as dev
from mirnet_cli.engine import inference
from mirnet_cli.engine.device import PrecisionFallbackWarning
from mirnet_cli.engine.inference import (
    InferenceEngine,
    _guard_tile,
    estimate_bytes_per_pixel,
    is_oom_error,
)
from mirnet_cli.errors import MirnetError


class LocalNet(nn.Module):
    """Three 3x3 convs: receptive radius 3, so tiling with overlap >= 16 must equal the whole image."""

    size_multiple = 4

    def __init__(self, cin: int = 3, cout: int = 3, padding_mode: str = "zeros", seed: int = 0):
        super().__init__()
        torch.manual_seed(seed)
        self.in_channels, self.out_channels = cin, cout
        self.body = nn.Sequential(
            nn.Conv2d(cin, 8, 3, padding=1, padding_mode=padding_mode),
            nn.LeakyReLU(0.2),
            nn.Conv2d(8, 8, 3, padding=1, padding_mode=padding_mode),
            nn.LeakyReLU(0.2),
            nn.Conv2d(8, cout, 3, padding=1, padding_mode=padding_mode),
        )
        self.seen: list[tuple[int, ...]] = []

    def forward(self, x):
        assert x.shape[-2] % self.size_multiple == 0 and x.shape[-1] % self.size_multiple == 0
        self.seen.append(tuple(x.shape))
        return self.body(x)


class FakeOOM(nn.Module):
    """Wraps a model and raises an out-of-memory error when the input has more than `limit` pixels."""

    size_multiple = 4

    def __init__(self, inner: nn.Module, limit: int, error=None):
        super().__init__()
        self.inner, self.limit = inner, limit
        self.error = error or (
            lambda: torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2 GiB")
        )

    def forward(self, x):
        if x.shape[-2] * x.shape[-1] > self.limit:
            raise self.error()
        return self.inner(x)


def engine(model, **kw) -> InferenceEngine:
    kw.setdefault("device", "cpu")
    kw.setdefault("precision", "fp32")
    kw.setdefault("min_tile", 16)  # these small test images use small tiles
    return InferenceEngine(model, **kw)


def test_whole_image_pads_and_crops_back():
    model = LocalNet()
    x = torch.rand(1, 3, 37, 50)
    y = engine(model, tile=0).run(x)
    assert y.shape == (1, 3, 37, 50) and y.dtype == torch.float32 and y.device.type == "cpu"
    assert model.seen == [(1, 3, 40, 52)]
    padded = torch.nn.functional.pad(x, (0, 2, 0, 3), mode="reflect")
    with torch.no_grad():
        expected = model.body(padded)[..., :37, :50]
    torch.testing.assert_close(y, expected)
    y.clamp_(0, 1)  # a normal tensor, not an inference-mode one


def test_tiled_equals_whole_for_a_local_model():
    model = LocalNet()
    x = torch.rand(1, 3, 101, 157)
    whole = engine(model, tile=0).run(x)
    tiled_engine = engine(model, tile=48, tile_overlap=16)
    tiled = tiled_engine.run(x)
    assert tiled_engine.stats["tile_size"] <= 48 and tiled_engine.stats["tiles"] > 4
    assert len(set(model.seen[1:])) == 1  # equal tiles, no thin one
    assert max(h * w for *_, h, w in model.seen[1:]) <= 48 * 48
    assert (tiled - whole).abs().max() < 1e-5


def test_output_is_not_clamped_and_restore_clamps():
    class Scale(nn.Module):
        def forward(self, x):
            return 3 * x - 1

    x = torch.rand(1, 3, 16, 16)
    y = engine(Scale()).run(x)
    assert y.min() < 0 and y.max() > 1
    img = np.random.default_rng(0).random((10, 13, 3), dtype=np.float32)
    out = engine(Scale()).restore(img)
    assert out.shape == (10, 13, 3) and out.dtype == np.float32
    assert out.min() >= 0 and out.max() <= 1
    np.testing.assert_allclose(out, np.clip(3 * img - 1, 0, 1), atol=1e-6)
    gray = engine(nn.Identity()).restore(img[..., 0])
    assert gray.shape == (10, 13)


def test_no_seams_on_a_constant_image():
    # replicate padding: a constant input gives a constant output everywhere, so any seam is a blending bug
    model = LocalNet(padding_mode="replicate")
    x = torch.full((1, 3, 99, 130), 0.4)  # rows: uneven overlaps (starts 0, 16, 32, 52, 68)
    eng = engine(model, tile=32, tile_overlap=12)
    y = eng.run(x)
    assert eng.stats["tiles"] > 6
    assert (y - y[0, :, :1, :1]).abs().max() < 1e-5


def test_dual_pixel_six_in_three_out():
    model = LocalNet(cin=6, cout=3)
    x = torch.rand(1, 6, 70, 90)
    tiled = engine(model, tile=32, tile_overlap=16).run(x)
    whole = engine(model, tile=0).run(x)
    assert tiled.shape == (1, 3, 70, 90)
    assert (tiled - whole).abs().max() < 1e-5
    with pytest.raises(MirnetError, match="expects 6 input channels but the image has 3"):
        engine(model).run(torch.rand(1, 3, 16, 16))


def test_auto_tile_whole_image_when_it_fits_and_tiles_when_memory_is_tiny(monkeypatch):
    model = LocalNet()
    x = torch.rand(1, 3, 120, 200)
    eng = engine(model, tile="auto")
    whole = eng.run(x)
    assert eng.stats["tile_size"] == 0 and eng.stats["tiles"] == 1

    per_pixel = estimate_bytes_per_pixel(model, torch.float32)
    monkeypatch.setattr(inference, "available_memory_bytes", lambda device: int(2 * per_pixel * 70 * 70))
    model.seen.clear()
    eng = engine(model, tile="auto", tile_overlap=16)
    tiled = eng.run(x)
    assert 64 <= eng.stats["tile_size"] <= 70 and eng.stats["tile_size"] % 4 == 0
    assert eng.stats["tiles"] > 1
    # the device only ever saw tile-sized inputs: peak device memory does not scale with the image
    assert max(h * w for *_, h, w in model.seen) <= 70 * 70
    assert (tiled - whole).abs().max() < 1e-5


def test_estimate_bytes_per_pixel_declared_and_generic():
    model = LocalNet()
    generic = estimate_bytes_per_pixel(model, torch.float32)
    assert generic == 4 * inference.GENERIC_LIVE_MAPS * 8  # widest layer has 8 channels
    assert estimate_bytes_per_pixel(model, torch.float16) == generic / 2
    model.activation_bytes_per_pixel = 1000
    assert estimate_bytes_per_pixel(model, torch.float32) == 1000
    assert estimate_bytes_per_pixel(model, torch.float16) == 500
    model.activation_bytes_per_pixel = lambda dtype: 123.0
    assert estimate_bytes_per_pixel(model, torch.float16) == 123.0


@pytest.mark.parametrize(
    "error",
    [
        lambda: torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2 GiB"),
        lambda: RuntimeError("MPS backend out of memory (MPS allocated: 1 GB)"),
        lambda: RuntimeError(
            "[enforce fail] DefaultCPUAllocator: can't allocate memory: you tried to allocate 8 GB"
        ),
    ],
)
def test_oom_backoff_halves_the_tile(error):
    inner = LocalNet()
    x = torch.rand(1, 3, 200, 200)
    expected = engine(inner, tile=0).run(x)
    eng = engine(FakeOOM(inner, limit=100 * 100, error=error), tile=0, tile_overlap=16)
    y = eng.run(x)
    # half the side (100), then the count-first plan shrinks it: 3 tiles of 80 cover 200 px with overlap 16
    assert eng.stats["oom_retries"] == 1 and eng.stats["tile_size"] == 80
    assert (y - expected).abs().max() < 1e-5


def test_oom_backoff_gives_up_below_min_tile():
    eng = engine(FakeOOM(LocalNet(), limit=40 * 40), tile=256, min_tile=64)
    with pytest.raises(MirnetError, match="out of memory on cpu even with 64x64"):
        eng.run(torch.rand(1, 3, 300, 300))
    assert eng.stats["oom_retries"] >= 2  # the side halves down to 64, then it gives up


def test_other_errors_are_not_swallowed():
    class Broken(nn.Module):
        def forward(self, x):
            raise RuntimeError("shape mismatch")

    eng = engine(Broken())
    with pytest.raises(RuntimeError, match="shape mismatch"):
        eng.run(torch.rand(1, 3, 8, 8))
    assert eng.stats["oom_retries"] == 0


def test_is_oom_error():
    assert is_oom_error(torch.cuda.OutOfMemoryError("x"))
    assert is_oom_error(RuntimeError("CUDA out of memory."))
    assert is_oom_error(MemoryError())
    assert not is_oom_error(RuntimeError("expected scalar type Half"))
    assert not is_oom_error(ValueError("out of memory"))


def test_guard_tile():
    inp = torch.full((1, 3, 4, 4), 0.5)
    ok = torch.full((1, 3, 4, 4), 0.4)
    assert not _guard_tile(ok, inp)
    assert _guard_tile(ok.clone().index_fill_(3, torch.tensor([1]), float("nan")), inp)
    assert _guard_tile(ok.clone().index_fill_(3, torch.tensor([1]), float("inf")), inp)
    assert _guard_tile(torch.zeros_like(ok), inp)  # collapsed to black
    assert not _guard_tile(torch.zeros_like(ok), torch.zeros_like(inp))  # black in, black out is fine


class HalfBreaks(nn.Module):
    """Returns NaN (or black) in fp16 for tiles containing a bright marker; fine in fp32."""

    size_multiple = 4

    def __init__(self, mode: str = "nan"):
        super().__init__()
        self.net = LocalNet(padding_mode="replicate")
        self.mode = mode

    def forward(self, x):
        features = self.net(x)
        y = features + x  # residual, like MIRNet: the output looks like an image
        if features.dtype == torch.float16:  # under fp16 autocast; per sample, as tiles may come in batches
            marked = x[:, 0].amax(dim=(1, 2)) > 0.95
            y = y.clone()
            y[marked] = y[marked] * float("nan") if self.mode == "nan" else 0.0
        return y


@pytest.mark.parametrize("mode", ["nan", "black"])
def test_fp16_guard_recomputes_broken_tiles_in_fp32(mode):
    x = torch.full((1, 3, 96, 96), 0.5)
    x[:, 0, 70:80, 70:80] = 1.0  # the marker: only tiles covering it break
    model = HalfBreaks(mode)
    reference = engine(model, tile=40, tile_overlap=16).run(x)
    eng = InferenceEngine(
        model, device="cpu", precision=torch.float16, tile=40, tile_overlap=16, min_tile=16,
        _unchecked_precision=True
    )
    assert eng.dtype == torch.float16
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        y = eng.run(x)
        eng.run(x)  # second image: still one warning per engine
    fallbacks = [w for w in caught if issubclass(w.category, PrecisionFallbackWarning)]
    assert len(fallbacks) == 1 and "recomputed them in fp32" in str(fallbacks[0].message)
    assert y.dtype == torch.float32 and y.device.type == "cpu"
    assert bool(torch.isfinite(y).all())
    assert 0 < eng.stats["fp32_fallbacks"] < eng.stats["tiles"]
    assert (y - reference).abs().max() < 2e-2  # fp16 tiles vs fp32 tiles
    # the caller's model was not converted in place
    assert all(p.dtype == torch.float32 for p in model.parameters())


def test_fp16_on_cpu_refused_by_engine():
    with pytest.raises(MirnetError, match="fp16 is not supported on the CPU"):
        InferenceEngine(LocalNet(), device="cpu", precision="fp16")


def test_unavailable_named_device_is_refused_by_engine(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(dev, "_mps_available", lambda: False)
    with pytest.raises(MirnetError, match="device cuda is not available.*--device auto"):
        InferenceEngine(LocalNet(), device="cuda", precision="auto")
    assert InferenceEngine(LocalNet(), device="auto").device == torch.device("cpu")


def test_supports_half_false_keeps_fp32_on_auto():
    model = LocalNet()
    model.supports_half = False
    assert (
        dev.resolve_precision("auto", "cuda", supports_half=inference._supports_half(model)) == torch.float32
    )
    model.supports_half = True
    assert inference._supports_half(model)


def test_model_mode_is_restored_and_progress_bar_runs():
    model = LocalNet().train()
    eng = engine(model, tile=32, tile_overlap=8, progress=True)
    assert eng.model is model  # already on the CPU in fp32: no copy
    eng.run(torch.rand(1, 3, 70, 70))
    assert model.training


@pytest.mark.parametrize("tile", ["-1", "big", -5])
def test_bad_tile_values(tile):
    with pytest.raises(MirnetError, match="tile"):
        engine(LocalNet(), tile=tile)


@pytest.mark.parametrize("tile", [3, "63"])
def test_tiles_below_64_pixels_are_refused_by_default(tile):
    # --tile 3 once planned 961 passes for a 64² image (a 24 MP photo would need millions)
    with pytest.raises(MirnetError, match="too small: use at least 64 pixels"):
        InferenceEngine(LocalNet(), device="cpu", tile=tile)


def test_tile_strings_and_rounding():
    assert engine(LocalNet(), tile="auto").tile == "auto"
    assert engine(LocalNet(), tile="0").tile == 0
    assert engine(LocalNet(), tile="130").tile == 128  # rounded down to the size multiple


def test_model_changing_size_is_rejected():
    class Up(nn.Module):
        def forward(self, x):
            return torch.nn.functional.interpolate(x, scale_factor=2)

    with pytest.raises(MirnetError, match="same-size"):
        engine(Up()).run(torch.rand(1, 3, 8, 8))


def test_tiny_mirnet_v2_tiled_and_whole():
    from mirnet_cli import build_model

    model = build_model("mirnet_v2", n_feat=16)
    x = torch.rand(1, 3, 70, 90)
    whole = engine(model, tile=0).run(x)
    eng = engine(model, tile=48, tile_overlap=24)
    tiled = eng.run(x)
    assert whole.shape == tiled.shape == (1, 3, 70, 90)
    assert eng.stats["tiles"] == 6  # 72x92 after padding: 2 x 3 tiles of 48
    assert bool(torch.isfinite(whole).all()) and bool(torch.isfinite(tiled).all())
    # global context makes tiled != whole, but they stay close for an untrained net on the same image
    assert (tiled - whole).abs().mean() < 0.1
