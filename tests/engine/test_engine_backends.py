"""Optional CPU runtimes (OpenVINO, ONNX Runtime): choice, export with global context, cache, equivalence."""

from __future__ import annotations

import math

import pytest
import torch

from mirnet_cli import build_model
from mirnet_cli.engine import backends
from mirnet_cli.engine.backends import CompiledModel, backend_available, resolve_backend
from mirnet_cli.engine.global_context import GlobalContext
from mirnet_cli.engine.inference import InferenceEngine
from mirnet_cli.errors import MirnetError

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def tiny():
    """A small MIRNet-v2 (one MRB per group) with random weights: quick to export, every global op present."""
    torch.manual_seed(0)
    return build_model("mirnet_v2", n_feat=16, n_MRB=1)


@pytest.fixture
def compiled_cache(tmp_path_factory, monkeypatch):
    # one export per backend for the whole module, not one per test
    folder = tmp_path_factory.getbasetemp() / "compiled-cache"
    monkeypatch.setenv("MIRNET_COMPILED_CACHE", str(folder))
    return folder


def image(h: int, w: int) -> torch.Tensor:
    yy, xx = torch.meshgrid(torch.linspace(0, 1, h), torch.linspace(0, 1, w), indexing="ij")
    return torch.stack([0.1 + 0.8 * xx, 0.3 * yy + 0.2, 0.9 - 0.7 * xx * yy])[None]


def psnr(a, b) -> float:
    mse = float(((a.clamp(0, 1) - b.clamp(0, 1)) ** 2).mean())
    return 99.0 if mse == 0 else 10 * math.log10(1 / mse)


def test_resolve_backend_rules(monkeypatch):
    monkeypatch.setattr(backends, "backend_available", lambda name: name == "torch")
    assert resolve_backend("auto", CPU) == "torch"
    assert resolve_backend("TORCH", CPU) == "torch"
    with pytest.raises(MirnetError, match=r"pip install 'mirnet-cli\[openvino\]'"):
        resolve_backend("openvino", CPU)
    with pytest.raises(MirnetError, match="invalid backend 'tensorrt'"):
        resolve_backend("tensorrt", CPU)
    monkeypatch.setattr(backends, "backend_available", lambda name: True)
    # auto stays PyTorch even with both runtimes installed: its default path was the fastest fp32 runtime measured
    assert resolve_backend("auto", CPU) == "torch"
    assert resolve_backend("openvino", CPU) == "openvino"
    assert resolve_backend("auto", torch.device("cuda", 0)) == "torch"  # GPUs always run PyTorch
    with pytest.raises(MirnetError, match="runs on the CPU only"):
        resolve_backend("onnxruntime", torch.device("cuda", 0))


def test_bf16_needs_openvino(tiny, compiled_cache):
    with pytest.raises(MirnetError, match="runs fp32 only"):
        CompiledModel(tiny, "onnxruntime", precision="bf16")


@pytest.mark.parametrize("backend", ["openvino", "onnxruntime"])
def test_compiled_model_records_and_injects_like_pytorch(tiny, compiled_cache, backend):
    if not backend_available(backend):
        pytest.skip(f"{backend} is not installed (it is in the dev extras that CI installs)")
    compiled = CompiledModel(tiny, backend)
    assert compiled.exported_now and (compiled.folder / "done").exists()
    x = image(64, 96)
    crop = x[..., :32, :48]
    with torch.inference_mode(), GlobalContext(tiny) as ctx:
        ctx.begin("record")
        y = tiny(x)
        vectors = ctx.vectors
        ctx.begin("inject")
        crop_y = tiny(crop)
    cy, cvec = compiled.record(x)
    assert len(cvec) == len(vectors) > 10
    torch.testing.assert_close(cy, y, atol=1e-4, rtol=1e-4)
    for a, b in zip(cvec, vectors, strict=True):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(compiled.inject(crop, vectors), crop_y, atol=1e-4, rtol=1e-4)
    batch = torch.cat([crop, x[..., 32:, 48:]], 0)  # dynamic batch and size
    assert compiled.inject(batch, vectors).shape == (2, 3, 32, 48)
    # the second use reads the cache instead of exporting again
    assert not CompiledModel(tiny, backend).exported_now


@pytest.mark.parametrize("backend", ["openvino", "onnxruntime"])
def test_engine_with_a_backend_tiles_with_global_context(tiny, compiled_cache, backend):
    if not backend_available(backend):
        pytest.skip(f"{backend} is not installed (it is in the dev extras that CI installs)")
    x = image(96, 128)
    whole_torch = InferenceEngine(tiny, device="cpu", tile=0).run(x)
    whole = InferenceEngine(tiny, device="cpu", tile=0, backend=backend).run(x)
    assert psnr(whole, whole_torch) > 80
    eng = InferenceEngine(tiny, device="cpu", tile=64, tile_overlap=16, context="full", backend=backend)
    tiled = eng.run(x)
    assert eng.last_plan.backend == backend and eng.last_plan.tiles > 1 and eng.stats["context_passes"] == 1
    torch_tiled = InferenceEngine(tiny, device="cpu", tile=64, tile_overlap=16, context="full").run(x)
    assert psnr(tiled, torch_tiled) > 80  # the same algorithm, only another runtime


def test_openvino_compiles_per_shape_and_keeps_one_per_graph(tiny, compiled_cache):
    # OpenVINO plans memory only for static shapes (dynamic ones took 7.5x the activation memory), and a compiled
    # graph holds that memory: each input shape is compiled, one shape per graph is kept, and what it holds is
    # reported so the engine's plan can count it as reusable.
    if not backend_available("openvino"):
        pytest.skip("openvino is not installed (it is in the dev extras that CI installs)")
    compiled = CompiledModel(tiny, "openvino")
    assert compiled.held_bytes() == 0
    for h, w in [(32, 48), (64, 64), (64, 64), (96, 128)]:
        x = image(h, w)
        with torch.inference_mode():
            expected = tiny(x)
        torch.testing.assert_close(compiled(x), expected, atol=1e-4, rtol=1e-4)
        shape, graph, held, _before = compiled._ov_compiled["record"]
        assert shape == (1, 3, h, w) and graph.inputs[0].get_partial_shape().is_static
        assert held is not None and held >= 0
    assert list(compiled._ov_compiled) == ["record"]  # the inject graph is compiled only when tiles use it
    assert compiled.held_bytes() == compiled._ov_compiled["record"][2]
