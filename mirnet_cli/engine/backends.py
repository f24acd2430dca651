"""Optional CPU runtimes: the model exported once to OpenVINO or ONNX Runtime, run by the engine.

``pip install 'mirnet-cli[openvino]'`` (or ``[onnxruntime]``) and ``--backend auto|torch|openvino|onnxruntime``.
``auto`` is PyTorch (see :func:`resolve_backend`); on CUDA and MPS the engine always runs PyTorch. Measured with
``scripts/backend_speed.py`` (one process, alternating runs, one thread, 2-core AMD EPYC with AVX-512 and
AVX512-BF16, no AMX), speed-up over the authors' code in eager PyTorch fp32:

==========================  ===============  ==========  ==========  ==========  ============
model, size                 PyTorch default  PyTorch      OpenVINO    OpenVINO    ONNX Runtime
                            (fp32)           bf16         fp32        bf16        fp32
==========================  ===============  ==========  ==========  ==========  ============
MIRNet-v2, 256²             1.78             2.97         1.71        2.36        1.34
bundled n_feat 16, 256²     1.76             1.40         0.87        1.52        1.14
==========================  ===============  ==========  ==========  ==========  ============

Max abs difference to the authors' code: 2.6e-6 PyTorch, 2.3e-6 OpenVINO fp32, 8.4e-3 OpenVINO bf16, 7e-7 ONNX
Runtime. With two threads on the same busy 2-core machine OpenVINO fared better than PyTorch (3.6x vs 2.1x), but
``--threads auto`` would not use two threads there.

How the global context survives export: the model is exported twice, as two small wrappers around it with the
engine's :class:`~.global_context.GlobalContext` hooks active while tracing, so the hooks become graph edges:

* ``record(x) -> (y, v_0, …, v_{L-1})``: the output and every global vector (whole images, context copies);
* ``inject(x, v_0, …, v_{L-1}) -> y``: tiles receive the vectors as inputs.

Both are exported with dynamic batch, height and width. ONNX Runtime runs them as they are; OpenVINO compiles
them for each input shape, because its CPU plugin plans memory only for static shapes: nf16 denoiser at 512², peak
activation memory 3,786 B/px dynamic vs 502 static (4.8 s vs 3.3 s); MIRNet-v2 at 256², 18,719 vs 2,189 B/px; a
compile took 1.6 s for either. A compiled graph holds its activation memory until it is dropped, so one shape per
graph (record, inject) is kept: a tiled photo compiles its context copies and its tile shape, and the next photo
of the same size reuses the tile graph. The memory the kept graphs hold is reported by :meth:`CompiledModel.held_bytes`
so that the engine's memory plan counts it as reusable, not as taken. The exported files are cached under
``<HF_HOME>/mirnet/compiled/<key>/``, ``key`` a hash of the weights, the configuration, the backend and its version,
so the export (about a minute for MIRNet-v2 on 2 cores) happens once per checkpoint. Exports trace the authors'
formulation (:func:`mirnet_cli.models.common.reference_forward`): the runtimes fuse it themselves, and the fast
formulation's ``out=`` products do not convert.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..errors import MirnetError
from ..models.common import reference_forward
from ..models.facts import facts_of
from .global_context import GlobalContext
from .memory import process_rss

__all__ = ["BACKENDS", "CompiledModel", "backend_available", "compiled_cache_dir", "resolve_backend"]

BACKENDS = ("auto", "torch", "openvino", "onnxruntime")
_EXPORT_FORMAT = "2"  # bump when the wrappers or export settings change: old cache entries are then ignored


def backend_available(name: str) -> bool:
    """Whether the runtime's Python package is installed (``onnxruntime`` also needs ``onnx`` to export)."""
    if name == "torch":
        return True
    if name == "openvino":
        return importlib.util.find_spec("openvino") is not None
    if name == "onnxruntime":
        return all(importlib.util.find_spec(m) is not None for m in ("onnxruntime", "onnx"))
    return False


def resolve_backend(spec: str, device: torch.device) -> str:
    """``auto|torch|openvino|onnxruntime`` → the backend to use on ``device``.

    ``auto`` is PyTorch: at one thread its default path was the fastest fp32 runtime for every model and size
    measured (scripts/backend_speed.py, 2-core AMD EPYC, speed-up over the authors' code: MIRNet-v2 256² PyTorch
    1.78x, OpenVINO 1.71x, ONNX Runtime 1.34x; bundled n_feat-16 model 256² 1.76x / 0.87x / 1.14x, 1024² 2.04x /
    0.94x / 1.23x). The compiled runtimes run when asked for (OpenVINO bf16 was 2.36x on MIRNet-v2).

    Raises:
        MirnetError: unknown name; an extra that is not installed (with the pip command); an extra on a
            device other than the CPU.
    """
    name = str(spec).strip().lower()
    if name not in BACKENDS:
        raise MirnetError(f"invalid backend {spec!r}; use one of {', '.join(BACKENDS)}")
    device = torch.device(device)
    if name == "auto":
        return "torch"
    if name != "torch" and device.type != "cpu":
        raise MirnetError(f"backend {name} runs on the CPU only; use --device cpu, or --backend torch on {device.type}")
    if not backend_available(name):
        raise MirnetError(f"backend {name} is not installed: pip install 'mirnet-cli[{name}]' (or use --backend torch)")
    return name


def compiled_cache_dir() -> Path:
    """``<HF_HOME>/mirnet/compiled`` (``MIRNET_COMPILED_CACHE`` overrides it)."""
    env = os.environ.get("MIRNET_COMPILED_CACHE")
    if env:
        return Path(env).expanduser()
    from ..loading.sources import cache_root

    return cache_root() / "compiled"


def _backend_version(backend: str) -> str:
    module = __import__(backend)
    return str(getattr(module, "__version__", "?"))


def _cache_key(model: nn.Module, backend: str) -> str:
    h = hashlib.sha256()
    h.update(f"{_EXPORT_FORMAT}|{backend}|{_backend_version(backend)}|{torch.__version__}|".encode())
    h.update(json.dumps(getattr(model, "config", {}), sort_keys=True, default=str).encode())
    for key, tensor in model.state_dict().items():
        h.update(key.encode())
        h.update(str(tuple(tensor.shape)).encode())
        h.update(tensor.detach().to("cpu", torch.float32).contiguous().numpy().tobytes())
    return h.hexdigest()[:24]


class _Record(nn.Module):
    """``x -> (y, *global vectors)``: what the engine's ``record`` mode computes, as one traceable graph."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor):
        with GlobalContext(self.model) as ctx:
            ctx.begin("record")
            y = self.model(x)
            return (y, *ctx.vectors)


class _Inject(nn.Module):
    """``(x, *global vectors) -> y``: the engine's ``inject`` mode as one traceable graph."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor, *vectors: torch.Tensor) -> torch.Tensor:
        with GlobalContext(self.model) as ctx:
            ctx.vectors = list(vectors)
            ctx.begin("inject")
            return self.model(x)


class CompiledModel:
    """A model exported to OpenVINO or ONNX Runtime (cached on disk), with the engine's two entry points.

    Args:
        model: the PyTorch model (float32, CPU) — exported on first use, or read from the cache.
        backend: ``openvino`` or ``onnxruntime``.
        precision: ``fp32``, or ``bf16`` (OpenVINO only: its CPU plugin's bf16 inference precision).
        threads: intra-op threads (None: the runtime's default, all physical cores).
    """

    def __init__(self, model: nn.Module, backend: str, precision: str = "fp32", threads: int | None = None):
        if backend not in ("openvino", "onnxruntime"):
            raise ValueError(f"not a compiled backend: {backend}")
        if precision == "bf16" and backend != "openvino":
            raise MirnetError(f"{backend} runs fp32 only on the CPU; use --precision fp32 or --backend openvino")
        self.backend, self.precision = backend, precision
        self.has_context = facts_of(model).global_context
        self.size_multiple = facts_of(model).size_multiple
        self.folder = compiled_cache_dir() / _cache_key(model, backend)
        self.exported_now = False
        if not (self.folder / "done").exists():
            self._export(model)
            self.exported_now = True
        self._load(threads)

    # ---------------------------------------------------------------- export
    def _example(self, model: nn.Module) -> tuple[torch.Tensor, list[torch.Tensor]]:
        channels = int(getattr(model, "in_channels", 3))
        side = 8 * max(self.size_multiple, 1)
        x = torch.rand(1, channels, side, side + self.size_multiple, generator=torch.Generator().manual_seed(0))
        with torch.no_grad(), reference_forward():
            _y, *vectors = _Record(model)(x)
        return x, vectors

    def _export(self, model: nn.Module) -> None:
        model = model.float().eval()
        x, vectors = self._example(model)
        self.folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".export-", dir=self.folder.parent))
        try:
            with torch.no_grad(), reference_forward(), warnings.catch_warnings():
                # tracing warns about the hooks' Python checks and ONNX about its legacy exporter: both expected
                warnings.simplefilter("ignore")
                if self.backend == "openvino":
                    self._export_openvino(model, x, vectors, tmp)
                else:
                    self._export_onnx(model, x, vectors, tmp)
            (tmp / "done").write_text(json.dumps({"vectors": len(vectors)}))
            try:
                os.replace(tmp, self.folder)  # atomic: a half-written export is never used
            except OSError:  # another process finished the same export first
                if not (self.folder / "done").exists():
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def _export_openvino(self, model: nn.Module, x: torch.Tensor, vectors: list[torch.Tensor], out: Path) -> None:
        import openvino as ov

        image = ov.PartialShape([-1, x.shape[1], -1, -1])
        record = ov.convert_model(_Record(model), example_input=x, input=[image])
        ov.save_model(record, str(out / "record.xml"), compress_to_fp16=False)
        if self.has_context:
            shapes = [image] + [ov.PartialShape(list(v.shape)) for v in vectors]
            inject = ov.convert_model(_Inject(model), example_input=(x, *vectors), input=shapes)
            ov.save_model(inject, str(out / "inject.xml"), compress_to_fp16=False)

    def _export_onnx(self, model: nn.Module, x: torch.Tensor, vectors: list[torch.Tensor], out: Path) -> None:
        axes = {0: "batch", 2: "height", 3: "width"}
        names = [f"v{i}" for i in range(len(vectors))]
        torch.onnx.export(_Record(model), (x,), str(out / "record.onnx"), dynamo=False, opset_version=17,
                          input_names=["x"], output_names=["y", *names], dynamic_axes={"x": axes, "y": axes})
        if self.has_context:
            torch.onnx.export(_Inject(model), (x, *vectors), str(out / "inject.onnx"), dynamo=False,
                              opset_version=17, input_names=["x", *names], output_names=["y"],
                              dynamic_axes={"x": axes, "y": axes})

    # ---------------------------------------------------------------- run
    def _load(self, threads: int | None) -> None:
        if self.backend == "openvino":
            import openvino as ov

            config: dict[str, Any] = {"INFERENCE_PRECISION_HINT": "bf16" if self.precision == "bf16" else "f32"}
            if threads:
                config["INFERENCE_NUM_THREADS"] = int(threads)
            self._ov_core, self._ov_config = ov.Core(), config
            # graph name -> (input shape, compiled graph, bytes it holds, process memory before it was compiled)
            self._ov_compiled: dict[str, tuple[tuple[int, ...], Any, int | None, int]] = {}
            # compiled per input shape on first use (see the module docstring): the names stand for the graphs
            self._record = "record"
            self._inject = "inject" if self.has_context else None
        else:
            import onnxruntime as ort

            options = ort.SessionOptions()
            if threads:
                options.intra_op_num_threads = int(threads)
            providers = ["CPUExecutionProvider"]
            self._record = ort.InferenceSession(str(self.folder / "record.onnx"), options, providers=providers)
            self._inject = (ort.InferenceSession(str(self.folder / "inject.onnx"), options, providers=providers)
                            if self.has_context else None)

    def _run(self, compiled: Any, inputs: list[torch.Tensor]) -> list[torch.Tensor]:
        arrays = [t.detach().to("cpu", torch.float32).contiguous().numpy() for t in inputs]
        if self.backend == "openvino":
            graph = compiled
            compiled = self._openvino_for(graph, arrays[0].shape)
            result = compiled.create_infer_request().infer(arrays)
            shape, _compiled, held, before = self._ov_compiled[graph]
            if held is None:  # first inference of a new graph: what it took stays held (activation plan, weights)
                self._ov_compiled[graph] = (shape, compiled, max(process_rss() - before, 0), before)
            return [torch.from_numpy(result[o].copy()) for o in compiled.outputs]
        names = [i.name for i in compiled.get_inputs()]
        return [torch.from_numpy(a) for a in compiled.run(None, dict(zip(names, arrays, strict=True)))]

    def _openvino_for(self, graph: str, shape: tuple[int, ...]) -> Any:
        """``graph`` (record or inject) compiled for an input of ``shape``: the kept one when the shape matches, else
        the kept one is dropped first (its memory freed) and the graph compiled for ``shape``."""
        kept = self._ov_compiled.pop(graph, None)
        if kept is not None and kept[0] == tuple(shape):
            self._ov_compiled[graph] = kept
            return kept[1]
        del kept
        before = process_rss()
        model = self._ov_core.read_model(str(self.folder / f"{graph}.xml"))
        model.reshape({model.inputs[0].get_any_name(): list(shape)})
        compiled = self._ov_core.compile_model(model, "CPU", self._ov_config)
        self._ov_compiled[graph] = (tuple(shape), compiled, None, before)  # held: measured after the first inference
        return compiled

    def held_bytes(self) -> int:
        """Memory held by the kept compiled graphs (measured around their compile and first inference): it is
        reused by the next inference of the same shape, or freed before another shape is compiled."""
        if self.backend != "openvino":
            return 0  # ONNX Runtime's arena is in the process's memory like PyTorch's
        return sum(held or 0 for _shape, _compiled, held, _before in self._ov_compiled.values())

    def record(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """``y`` and the global vectors of ``x`` (one image)."""
        y, *vectors = self._run(self._record, [x])
        return y, [v.reshape(-1) for v in vectors]

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """``y`` for a batch, each image (tile) computing its own global vectors."""
        return self._run(self._record, [x])[0]

    def inject(self, x: torch.Tensor, vectors: list[torch.Tensor]) -> torch.Tensor:
        """``y`` for a batch of tiles that all use ``vectors``."""
        if self._inject is None:
            return self(x)
        return self._run(self._inject, [x, *vectors])[0]
