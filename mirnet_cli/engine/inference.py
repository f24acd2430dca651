"""The inference engine shared by the restore commands, the benchmark and training validation.

One :class:`InferenceEngine` wraps a model with everything that running it on real photos needs:

* device and precision (:mod:`.device`), the CPU runtime (:mod:`.cpu`: allocator, channels-last) and reduced
  precision through autocast, guarded: a tile whose fp16/bf16 output has NaN/Inf, or collapsed to black while
  the input was not black, is recomputed in fp32;
* reflect padding to the model's ``size_multiple`` and cropping back;
* a memory plan (:mod:`.plan` over :mod:`.memory`): the whole image in one pass when it fits the budget, else
  tiles (count first, then the smallest tile, see :func:`.tiling.fit_tile`) batched through the model as far as
  the budget allows, blended with separable raised-cosine windows (:class:`.tiling.GridAccumulator`);
* global context (:mod:`.global_context`): for models with global operations, every tile receives the vectors
  that a pass over a downscaled copy of the whole image computed, so tiles agree with each other and with the
  whole-image pass instead of each normalising itself;
* out-of-memory back-off (halve the batch, then the tile) and progress callbacks (:mod:`.progress`).

The image and the blending accumulators stay on the CPU in float32; only one tile batch lives on the device.
"""

from __future__ import annotations

import contextlib
import gc
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import MirnetError
from ..models.facts import ModelFacts, facts_of
from .backends import CompiledModel, resolve_backend
from .cpu import choose_threads, tune_allocator
from .device import (
    PrecisionFallbackWarning,
    auto_precision,
    parse_precision,
    resolve_device,
    resolve_precision,
)
from .global_context import CONTEXT_MODES, GlobalContext
from .memory import (
    CPU_AVAILABLE_FRACTION,
    DEFAULT_CPU_MAX_MEMORY,
    DEVICE_FREE_FRACTION,
    GENERIC_LIVE_MAPS,
    available_memory_bytes,
    estimate_bytes_per_pixel,
    parse_size,
    process_rss,
)
from .plan import FAST_CONTEXT_SCALES, MAX_TILE_BATCH, Plan, TilePlanner
from .progress import ProgressCallback, _Progress
from .tiling import (
    MIN_TILE,
    GridAccumulator,
    crop_padding,
    plan_tiles,
    reflect_pad_to_multiple,
)

__all__ = [
    "CONTEXT_MODES",
    "GENERIC_LIVE_MAPS",
    "FAST_CONTEXT_SCALES",
    "MAX_TILE_BATCH",
    "InferenceEngine",
    "Plan",
    "ProgressCallback",
    "available_memory_bytes",
    "estimate_bytes_per_pixel",
    "is_oom_error",
]


_OOM_MARKERS = (
    "out of memory",  # CUDA ("CUDA out of memory"), MPS ("MPS backend out of memory"), HIP
    "can't allocate memory",  # CPU: DefaultCPUAllocator
    "cublas_status_alloc_failed",
    "cudnn_status_alloc_failed",
)


def is_oom_error(exc: BaseException) -> bool:
    """True if ``exc`` is an out-of-memory error from CUDA, MPS or the CPU allocator."""
    oom_type = getattr(torch.cuda, "OutOfMemoryError", None)
    if oom_type is not None and isinstance(exc, oom_type):
        return True
    if isinstance(exc, MemoryError):
        return True
    if isinstance(exc, RuntimeError):
        message = str(exc).lower()
        return any(marker in message for marker in _OOM_MARKERS)
    return False


def _guard_tile(out: torch.Tensor, inp: torch.Tensor, black: float = 1e-3, content: float = 0.05) -> bool:
    """True when a reduced-precision tile output is broken and must be recomputed in fp32.

    Broken means: any NaN/Inf, or the output collapsed to black (``max(out) < black``) although the input was
    not black (``max(inp) > content``). fp16 overflow in MIRNet's attention paths shows up as one of the two.
    """
    if not bool(torch.isfinite(out).all()):
        return True
    return bool(out.amax() < black) and bool(inp.amax() > content)


def _same_device(a: torch.device, b: torch.device) -> bool:
    return a.type == b.type and (a.index or 0) == (b.index or 0)


def _supports_half(model: nn.Module) -> bool:
    return facts_of(model).supports_fp16


def extrapolate_vectors(recorded: list[tuple[float, list[torch.Tensor]]]) -> list[torch.Tensor]:
    """Global vectors of the full-size image, extrapolated from copies downscaled by different factors.

    A vector computed on a copy downscaled ``s``× differs from the full-size one by an amount that grows about
    linearly with ``s`` (measured on LoL: relative error 0.045, 0.079, 0.134, 0.177 at 1.5×, 2×, 3×, 4×), so
    two copies at ``s1 < s2`` give the Richardson-style estimate ``v(1) = v(s1) + (v(s1) - v(s2)) (s1 - 1) /
    (s2 - s1)``. One copy: its own vectors.

    Args:
        recorded: ``[(scale, vectors)]`` with ``vectors`` in the model's call order.
    """
    if len(recorded) == 1:
        return recorded[0][1]
    (s1, v1), (s2, v2) = sorted(recorded, key=lambda r: r[0])[:2]
    if len(v1) != len(v2):
        raise RuntimeError("the context copies called a different number of global operations")
    k = (s1 - 1.0) / (s2 - s1)
    return [a + (a - b) * k for a, b in zip(v1, v2, strict=True)]


class InferenceEngine(TilePlanner):
    """Run an image-to-image model on images of any size.

    Args:
        model: an ``nn.Module`` mapping ``[N, C_in, h, w]`` to ``[N, C_out, h, w]``. What the engine assumes about
            it comes from :func:`mirnet_cli.models.facts_of` (``size_multiple``, fp16/bf16 support, global
            operations, activation memory); ``in_channels`` is checked against the input when present.
        device: ``auto|cpu|cuda|cuda:N|mps`` or a ``torch.device`` (see :func:`.device.resolve_device`).
        precision: ``auto|fp32|fp16|bf16`` or a ``torch.dtype`` (see :func:`.device.resolve_precision`).
        tile: ``"auto"`` (whole image when it fits the memory budget, else the largest tiles that do), ``0``
            (always the whole image), or a tile side of at least 64 pixels; strings such as ``"512"`` work.
        tile_overlap: minimum overlap between neighbouring tiles in pixels (less than half the tile).
        progress: show a tqdm bar over the work of each image (callers with their own display pass a callback
            to :meth:`run` instead).
        context: ``auto|full|fast|tile``, how tiles get the model's global vectors (see
            :mod:`.global_context`): ``full`` from the whole image (tiles then match the whole-image pass to float
            rounding; when the whole image does not fit the memory budget, extrapolated from the largest copies
            that do), ``fast`` extrapolated from copies downscaled 4× and 6× (:data:`FAST_CONTEXT_SCALES`; more
            when memory demands), ``tile`` each tile its own (other tools' behaviour); ``auto`` = ``full`` when
            the whole image fits the memory budget, else ``fast``.
        max_memory: memory budget, e.g. ``"2G"`` or bytes: on the CPU the whole process (default
            :data:`~.memory.DEFAULT_CPU_MAX_MEMORY`), on CUDA/MPS the device memory of one tile batch (default
            a fraction of the free memory).
        backend: ``torch`` (default), ``openvino``, ``onnxruntime`` or ``auto`` (PyTorch, the fastest fp32
            runtime measured; the others run when asked for, on the CPU only): see :mod:`.backends`. The model is
            exported once per checkpoint and cached; global context, tiling and the precision guard work the same.
        threads: CPU threads, process-wide: a number, ``"auto"`` (``MIRNET_THREADS``, else one per physical core
            that is idle when the first engine starts: see :func:`.cpu.choose_threads`; the restore commands use
            it), or None (default: PyTorch's setting is left alone).
        channels_last: run in the channels-last memory layout (default: on CPU and CUDA when the model's facts
            say its forward keeps that layout).
        min_tile: the out-of-memory back-off gives up below this tile side; also the smallest tile accepted.
        _unchecked_precision: private, for tests only: use ``precision`` (a dtype) as given, without the
            device checks of ``resolve_precision``; this is how the fp16 guard is tested on the CPU.

    Attributes:
        device, dtype: where and in which precision the model runs (fp16/bf16 through autocast).
        model: the model on ``device`` in float32 (the caller's model itself if it already was).
        facts: the model's :class:`~mirnet_cli.models.facts.ModelFacts`.
        last_plan: the :class:`Plan` of the last image.
        stats: counters, cumulative over ``run`` calls: ``tiles`` (tiles run, a whole image counting as one),
            ``context_passes`` (passes over a context copy), ``fp32_fallbacks`` (tiles recomputed in fp32),
            ``oom_retries``; and for the last run ``tile_size`` (largest tile side, 0 = whole image) and
            ``tile_overlap``.
    """

    def __init__(
        self,
        model: nn.Module,
        device: str | torch.device = "auto",
        precision: str | torch.dtype = "auto",
        tile: str | int = "auto",
        tile_overlap: int = 32,
        progress: bool = False,
        *,
        context: str = "auto",
        max_memory: str | int | None = None,
        backend: str = "torch",
        threads: int | str | None = None,
        channels_last: bool | None = None,
        min_tile: int = MIN_TILE,
        memory_fraction: float | None = None,
        _unchecked_precision: bool = False,
    ):
        self.facts: ModelFacts = facts_of(model)
        self.device = resolve_device(device)
        parameters = sum(p.numel() for p in model.parameters())
        if _unchecked_precision:
            self.dtype = {"auto": torch.float32, "fp32": torch.float32, "fp16": torch.float16,
                          "bf16": torch.bfloat16}[parse_precision(precision)]
        else:
            self.dtype = resolve_precision(precision, self.device, supports_half=self.facts.supports_fp16,
                                           supports_bf16=self.facts.supports_bf16, parameters=parameters)
        #: Why this precision: ``auto``'s rule in a few words (see :func:`.device.auto_precision`), else "asked for".
        self.precision_reason = (
            auto_precision(self.device, self.facts.supports_fp16, self.facts.supports_bf16, parameters)[1]
            if not _unchecked_precision and parse_precision(precision) == "auto"
            else f"{parse_precision(self.dtype)} (asked for with --precision)")
        self.size_multiple = max(1, int(self.facts.size_multiple))
        self.min_tile = max(self.size_multiple, int(min_tile))
        self.tile = self._parse_tile(tile)
        if int(tile_overlap) < 0:
            raise MirnetError(f"tile overlap must be >= 0, got {tile_overlap}")
        self.tile_overlap = int(tile_overlap)
        context = str(context).strip().lower()
        if context not in CONTEXT_MODES:
            raise MirnetError(f"invalid context mode {context!r}; use one of {', '.join(CONTEXT_MODES)}")
        self.context = context
        try:
            self.max_memory = None if max_memory is None else parse_size(max_memory)
        except ValueError as exc:
            raise MirnetError(str(exc)) from None
        self.memory_fraction = memory_fraction
        self.progress = progress
        if channels_last is None:
            channels_last = self.facts.channels_last and self.device.type in ("cpu", "cuda")
        self.channels_last = bool(channels_last)
        self.threads: int | None = None
        if self.device.type == "cpu":
            tune_allocator()
            if threads is not None:  # None: leave PyTorch's (process-wide) setting to the caller
                self.threads = choose_threads(None if threads == "auto" else int(threads))
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True  # tiles share one shape: the autotuned kernels are reused
        self._source_model = model
        self.backend = resolve_backend(backend, self.device)
        self.model = self._prepared(model)
        self.compiled: CompiledModel | None = None
        self._compiled_fp32: CompiledModel | None = None
        if self.backend != "torch":
            if self.dtype not in (torch.float32, torch.bfloat16):
                raise MirnetError(f"{self.backend} runs fp32 or bf16; use --precision fp32")
            self.compiled = CompiledModel(model, self.backend, "bf16" if self.dtype == torch.bfloat16 else "fp32",
                                          threads=self.threads)
        self._warned_fp32 = False
        self.last_plan: Plan | None = None
        self.stats: dict[str, Any] = {"tiles": 0, "context_passes": 0, "fp32_fallbacks": 0, "oom_retries": 0,
                                      "tile_size": 0, "tile_overlap": 0}

    # ------------------------------------------------------------------ configuration helpers
    def _prepared(self, model: nn.Module) -> nn.Module:
        """``model`` on the device in float32 and the engine's memory layout; a converted copy if it is not
        already (the caller's model is never converted in place: training validation reuses it)."""
        floats = [t for t in list(model.parameters()) + list(model.buffers()) if t.is_floating_point()]
        layout = torch.channels_last if self.channels_last else torch.contiguous_format
        ready = all(_same_device(t.device, self.device) and t.dtype == torch.float32 for t in floats) and all(
            t.is_contiguous(memory_format=layout) for t in floats if t.ndim == 4)
        if ready:
            return model
        import copy

        with torch.inference_mode(False):
            prepared = copy.deepcopy(model).to(device=self.device, dtype=torch.float32)
            if self.channels_last:
                prepared = prepared.to(memory_format=torch.channels_last)
        return prepared

    def _budget(self, pixels: int, channels_in: int, channels_out: int) -> int:
        """Bytes available for the activations of one tile batch when an image of ``pixels`` starts."""
        if self.device.type == "cpu":
            cap = self.max_memory if self.max_memory is not None else DEFAULT_CPU_MAX_MEMORY
            rss = process_rss()
            if self.compiled is not None:  # a compiled graph's memory is reused by the next tile or photo
                rss -= self.compiled.held_bytes()
            # The engine's own image-sized buffers: the padded input copy, the blending sum (normalised in
            # place), and the caller's clamped HWC copy of the result.
            images = 4 * pixels * (channels_in + 2 * channels_out)
            budget = cap - rss - images
            fraction = self.memory_fraction if self.memory_fraction is not None else CPU_AVAILABLE_FRACTION
            budget = min(budget, int(fraction * available_memory_bytes(self.device)))
        else:
            fraction = self.memory_fraction if self.memory_fraction is not None else DEVICE_FREE_FRACTION
            budget = int(fraction * available_memory_bytes(self.device))
            if self.max_memory is not None:
                budget = min(budget, self.max_memory)
        return max(int(budget), 0)

    # ------------------------------------------------------------------ running
    @contextlib.contextmanager
    def _precision(self, dtype: torch.dtype) -> Iterator[None]:
        if dtype == torch.float32:
            yield
        else:
            with torch.autocast(self.device.type, dtype=dtype):
                yield

    def _to_device(self, x: torch.Tensor) -> torch.Tensor:
        if self.device.type == "cuda":
            x = x.pin_memory().to(self.device, non_blocking=True)
        else:
            x = x.to(self.device)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return x

    def _call(self, inp: torch.Tensor, ctx: GlobalContext | None, ctx_mode: str | None,
              compiled: CompiledModel | None, dtype: torch.dtype) -> torch.Tensor:
        """The model on one batch, in ``ctx_mode`` (None, record, inject), by PyTorch or a compiled backend."""
        if compiled is not None:
            if ctx_mode == "record":
                out, ctx.vectors = compiled.record(inp)
                return out
            return compiled.inject(inp, ctx.vectors) if ctx_mode == "inject" else compiled(inp)
        if ctx is not None:
            ctx.begin(ctx_mode)
        with self._precision(dtype):
            return self.model(inp)

    def _fp32_compiled(self) -> CompiledModel | None:
        if self.compiled is None or self.compiled.precision == "fp32":
            return self.compiled
        if self._compiled_fp32 is None:
            self._compiled_fp32 = CompiledModel(self._source_model, self.backend, "fp32", threads=self.threads)
        return self._compiled_fp32

    def _forward(self, inp: torch.Tensor, ctx: GlobalContext | None, ctx_mode: str | None,
                 progress: _Progress) -> torch.Tensor:
        """One batch: CPU float32 in, CPU float32 out; the reduced-precision guard lives here."""
        dev_inp = self._to_device(inp) if self.compiled is None else inp
        with progress.blocks(self.model, inp.shape[0] * inp.shape[-2] * inp.shape[-1]):
            out = self._call(dev_inp, ctx, ctx_mode, self.compiled, self.dtype)
        if not isinstance(out, torch.Tensor):
            raise MirnetError(f"the model returned {type(out).__name__}, expected a tensor")
        if out.ndim != 4 or out.shape[0] != inp.shape[0] or out.shape[-2:] != inp.shape[-2:]:
            raise MirnetError(f"the model turned a {tuple(inp.shape)} input into {tuple(out.shape)}; "
                              "the engine supports same-size restoration models only")
        if self.dtype != torch.float32 and ctx_mode != "record":
            broken = [i for i in range(out.shape[0]) if _guard_tile(out[i], dev_inp[i])]
            if broken:
                redo = self._call(dev_inp[broken].float(), ctx, ctx_mode, self._fp32_compiled(), torch.float32)
                out = out.float()
                out[broken] = redo.to(out.dtype)
                self.stats["fp32_fallbacks"] += len(broken)
                self._warn_fallback()
        self.stats["context_passes" if ctx_mode == "record" else "tiles"] += 1 if ctx_mode == "record" else out.shape[0]
        return out.to(device="cpu", dtype=torch.float32).contiguous()

    def _warn_fallback(self) -> None:
        if not self._warned_fp32:
            self._warned_fp32 = True
            warnings.warn(f"{parse_precision(self.dtype)} produced NaN/Inf or black output on some tiles; "
                          "recomputed them in fp32", PrecisionFallbackWarning, stacklevel=5)

    def _record_context(self, xp: torch.Tensor, plan: Plan, ctx: GlobalContext, progress: _Progress) -> None:
        """Run each context copy whole and leave the (extrapolated) global vectors in ``ctx``."""
        m = self.size_multiple
        recorded = []
        for scale in plan.context_scales:
            h = max(m, round(plan.height / scale / m) * m)
            w = max(m, round(plan.width / scale / m) * m)
            copy = xp if (h, w) == (plan.height, plan.width) else F.interpolate(
                xp, size=(h, w), mode="bilinear", align_corners=False, antialias=True)
            self._forward(copy, ctx, "record", progress)
            recorded.append(((plan.height * plan.width / (h * w)) ** 0.5, ctx.vectors))
        ctx.vectors = extrapolate_vectors(recorded)

    def _run_plan(self, xp: torch.Tensor, plan: Plan, progress: _Progress) -> torch.Tensor:
        if not plan.tiled:
            return self._forward(xp, None, None, progress)
        batch = xp.shape[0]
        rows = plan_tiles(plan.height, plan.tile_h, plan.overlap, self.size_multiple)
        cols = plan_tiles(plan.width, plan.tile_w, plan.overlap, self.size_multiple)
        use_ctx = plan.context in ("fast", "full")
        with GlobalContext(self.model) if use_ctx else contextlib.nullcontext() as ctx:
            if use_ctx:
                self._record_context(xp, plan, ctx, progress)
            acc: GridAccumulator | None = None
            cells = [(i, j) for i in range(len(rows)) for j in range(len(cols))]
            for start in range(0, len(cells), plan.batch):
                group = cells[start : start + plan.batch]
                tiles = [xp[..., rows[i] : rows[i] + plan.tile_h, cols[j] : cols[j] + plan.tile_w] for i, j in group]
                out = self._forward(torch.cat(tiles, 0), ctx, "inject" if use_ctx else None, progress)
                if acc is None:
                    acc = GridAccumulator(batch, out.shape[1], plan.height, plan.width, rows, cols,
                                          plan.tile_h, plan.tile_w, plan.overlap)
                for k, (i, j) in enumerate(group):
                    acc.add(out[k * batch : (k + 1) * batch], i, j)
        assert acc is not None
        return acc.result()

    def _free_device_memory(self) -> None:
        gc.collect()
        if self.device.type == "cuda":
            torch.cuda.empty_cache()
        elif self.device.type == "mps" and hasattr(torch, "mps"):
            torch.mps.empty_cache()

    def run(self, x: torch.Tensor, progress: ProgressCallback | None = None) -> torch.Tensor:
        """Restore ``x``.

        Args:
            x: ``[N, C, H, W]`` (normally N = 1) float in [0, 1]; moved to the CPU as float32 first.
            progress: ``progress(done, total)`` after each unit of work (see :data:`ProgressCallback`).

        Returns:
            ``[N, C_out, H, W]`` float32 on the CPU, **not** clamped (callers clamp to [0, 1]).

        Raises:
            MirnetError: wrong channel count for the model, out of memory even at ``min_tile``.
        """
        if not isinstance(x, torch.Tensor) or x.ndim != 4:
            raise ValueError(f"expected a [N, C, H, W] tensor, got {getattr(x, 'shape', type(x))}")
        expected = getattr(self._source_model, "in_channels", None)
        if isinstance(expected, int) and x.shape[1] != expected:
            raise MirnetError(f"the model expects {expected} input channels but the image has {x.shape[1]}")
        x = x.detach().to(device="cpu", dtype=torch.float32)
        xp, pads = reflect_pad_to_multiple(x, self.size_multiple)
        del x
        batch, channels, height, width = xp.shape
        out_channels = getattr(self._source_model, "out_channels", channels)
        plan = self.plan(height, width, batch, channels, out_channels if isinstance(out_channels, int) else channels)
        tracker = _Progress(plan, self.facts, progress, bar=self.progress)
        was_training = self.model.training
        self.model.eval()
        try:
            while True:
                self.last_plan = plan
                self.stats["tile_size"] = max(plan.tile_h, plan.tile_w)
                self.stats["tile_overlap"] = plan.overlap
                tracker.start(plan)
                failed = False
                try:
                    with torch.inference_mode():
                        out = self._run_plan(xp, plan, tracker)
                except Exception as exc:  # re-raised below unless it is an out-of-memory error
                    if not is_oom_error(exc):
                        raise
                    failed = True  # handled below, once the traceback (holding tile tensors) is gone
                if not failed:
                    break
                self._free_device_memory()
                plan = self._shrink(plan)
                self.stats["oom_retries"] += 1
        finally:
            self.model.train(was_training)
            tracker.close()
        result = crop_padding(out, pads)
        # Tensors made under inference_mode refuse in-place updates later (e.g. the caller's clamp_); a clone
        # outside it is a normal tensor (and drops the padding's memory).
        if result.is_inference() or any(pads):
            result = result.clone()
        return result

    __call__ = run

    def restore(self, image: np.ndarray, progress: ProgressCallback | None = None) -> np.ndarray:
        """Restore a photo: ``[H, W, C]`` (or ``[H, W]``) float32 in [0, 1] to ``[H, W, C_out]`` in [0, 1].

        Any size works (padded to the model's multiple, tiled when large, cropped back). A 2-D input gives a
        2-D output when the model has one output channel.
        """
        arr = np.asarray(image, dtype=np.float32)
        squeeze = arr.ndim == 2
        if squeeze:
            arr = arr[..., None]
        if arr.ndim != 3:
            raise ValueError(f"expected an [H, W, C] image, got shape {arr.shape}")
        x = torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1)))[None]
        del arr
        y = self.run(x, progress=progress)
        del x
        out = y[0].clamp_(0.0, 1.0).permute(1, 2, 0).contiguous().numpy()
        if squeeze and out.shape[2] == 1:
            out = out[..., 0]
        return out


