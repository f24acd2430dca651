"""Speed benchmark: latency, throughput, memory and FLOPs of a model at fixed input sizes.

Per size ``s`` (input ``[1, C, s, s]``), the **default path** — what the restore commands run:
``InferenceEngine(model, device, precision, tile=0, backend)`` (fast formulation, channels-last, allocator tuning,
autocast, or an OpenVINO / ONNX Runtime export) — and the **plain path** — the same module in eager PyTorch, fp32,
NCHW, the authors' formulation (:func:`mirnet_cli.models.common.reference_forward`), no backend — are timed in
alternating calls on the same input, so the ratio ``plain / default`` (``speedup``) is not biased by load that
changes during the run:

* ``warmup`` untimed forward passes (cuDNN autotuning, allocator warm-up), then ``repeats`` timed ones.
  On CUDA each pass is timed with CUDA events between ``torch.cuda.synchronize()`` calls; on the CPU with
  ``time.perf_counter``. The median is reported (robust to stragglers), plus min and mean.
* throughput ``MP/s = s² / 10⁶ / median``;
* peak memory: CUDA ``max_memory_allocated`` during one pass (and the increase over what was allocated
  before it); CPU: peak resident set size sampled every few ms during one pass (and its increase);
* FLOPs of one forward pass from ``torch.utils.flop_counter.FlopCounterMode`` (convolutions and matrix
  products; a multiply-add counts 2, element-wise ops are not counted), and the achieved
  ``GFLOP/s = FLOPs / median``. Papers usually quote multiply-adds as "FLOPs": MIRNet-v2's "140 G" at 256×256
  is 279 GFLOPs here;
* parameters: unique tensors only (``model.parameters()`` de-duplicates shared weights, e.g. MIRNet v1's
  shared DAU columns and PReLU).

``large_mp`` adds one end-to-end run of a synthetic photo of that many megapixels (4:3), or ``large_image`` a real
one, through the :class:`~mirnet_cli.engine.inference.InferenceEngine` at its defaults (memory plan, tiles, global
context, transfers): seconds, peak memory, and the plan (tiles, overlap, context, pixels computed per output
pixel). ``large_whole`` also runs the same photo whole (``tile=0``) and reports the time ratio and the PSNR between
the tiled and the whole-image output.

On the CPU, ``thread_speedups`` (default) times the first size again, alternating the same way, at one thread
and at PyTorch's default thread count (one per physical core), besides the run's own ``threads``: the speed-up
over the authors' code at each (``speedup_by_threads``), as the README's speed section reports it. The precision
``auto`` chose and why is ``precision_reason`` (see :func:`mirnet_cli.engine.device.auto_precision`).

``reference=True`` times spandrel_extra_arches' ``MIRNet2`` (an independent copy of the authors' MIRNet-v2)
with the same weights on the same inputs, when that package is installed.
"""

from __future__ import annotations

import copy
import math
import statistics
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["count_flops", "count_parameters", "load_reference_model", "run_speed", "time_forward"]

_MIB = 1024.0 * 1024.0


def count_parameters(model: Any) -> int:
    """Number of unique parameter elements (shared tensors counted once)."""
    return int(sum(p.numel() for p in model.parameters()))


def count_flops(model: Any, x: Any) -> int | None:
    """FLOPs of ``model(x)`` counted by ``FlopCounterMode`` (convolutions/matmuls; a MAC = 2 FLOPs)."""
    import torch

    try:
        from torch.utils.flop_counter import FlopCounterMode
    except ImportError:  # pragma: no cover - torch < 2.1
        return None
    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        model(x)
    return int(counter.get_total_flops())


class _RssSampler:
    """Samples this process's resident set size in a background thread (CPU peak memory of one pass)."""

    def __init__(self, interval: float = 0.002):
        import psutil

        self._proc = psutil.Process()
        self.interval = interval
        self.start_rss = 0
        self.peak_rss = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _poll(self) -> None:
        while not self._stop.is_set():
            self.peak_rss = max(self.peak_rss, self._proc.memory_info().rss)
            self._stop.wait(self.interval)

    def __enter__(self) -> _RssSampler:
        self.start_rss = self.peak_rss = self._proc.memory_info().rss
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.peak_rss = max(self.peak_rss, self._proc.memory_info().rss)


def _measure_memory(fn: Callable[[], Any], device: Any) -> dict[str, float]:
    """Peak memory of one call of ``fn``: ``peak_memory_mib`` and ``memory_increase_mib``."""
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)
        before = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        fn()
        torch.cuda.synchronize(device)
        peak = torch.cuda.max_memory_allocated(device)
        return {
            "peak_memory_mib": peak / _MIB,
            "memory_increase_mib": (peak - before) / _MIB,
            "memory_kind": "cuda_allocated",
        }
    with _RssSampler() as sampler:
        fn()
    return {
        "peak_memory_mib": sampler.peak_rss / _MIB,
        "memory_increase_mib": (sampler.peak_rss - sampler.start_rss) / _MIB,
        "memory_kind": "process_rss",
    }


def time_forward(fn: Callable[[], Any], device: Any, repeats: int, warmup: int) -> list[float]:
    """Seconds per call of ``fn`` over ``repeats`` timed calls after ``warmup`` untimed ones."""
    import torch

    for _ in range(warmup):
        fn()
    times: list[float] = []
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        for _ in range(repeats):
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            torch.cuda.synchronize(device)
            times.append(start.elapsed_time(end) / 1000.0)
        return times
    for _ in range(repeats):
        if device.type == "mps":
            torch.mps.synchronize()
        t0 = time.perf_counter()
        fn()
        if device.type == "mps":
            torch.mps.synchronize()
        times.append(time.perf_counter() - t0)
    return times


def load_reference_model(model: Any) -> tuple[Any | None, str]:
    """spandrel's MIRNet2 with ``model``'s weights, or ``(None, reason)``.

    Needs ``spandrel`` and ``spandrel_extra_arches`` (``pip install spandrel spandrel_extra_arches``); only
    MIRNet-v2 exists there (no package implements MIRNet v1).
    """
    if getattr(model, "architecture", None) != "mirnet_v2":
        return None, "the reference implementation (spandrel_extra_arches MIRNet2) only exists for MIRNet-v2"
    try:
        import spandrel
        import spandrel_extra_arches
    except ImportError as exc:
        # spandrel imports every architecture, some of which need torchvision: say which module is missing.
        missing = getattr(exc, "name", None) or str(exc)
        return None, (
            f"the reference implementation cannot be imported ({missing} is missing; "
            "pip install spandrel spandrel_extra_arches, which also need torchvision); skipping the reference timing"
        )
    try:
        spandrel_extra_arches.install()
    except Exception:  # already installed into the registry (install() refuses duplicates)
        pass
    try:
        descriptor = spandrel.ModelLoader().load_from_state_dict(model.state_dict())
    except Exception as exc:  # unsupported config etc.
        return (
            None,
            f"spandrel could not load these weights: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}",
        )
    version = getattr(spandrel_extra_arches, "__version__", "?")
    return descriptor.model.eval(), f"spandrel_extra_arches {version} MIRNet2"


def _asked(precision: Any) -> str:
    from ..engine.device import parse_precision

    try:
        return parse_precision(precision)
    except Exception:  # reported by the engine already
        return str(precision)


def _engine(model: Any, device: str, precision: str, backend: str, **kw: Any) -> Any:
    from ..engine.inference import InferenceEngine

    return InferenceEngine(model, device=device, precision=precision, backend=backend, **kw)


def _plain_forward(model: Any, x: Any) -> Callable[[], Any]:
    """The plain path: eager fp32 NCHW, the authors' formulation, no engine."""
    import torch

    from ..models.common import reference_forward

    def forward() -> Any:
        with torch.inference_mode(), reference_forward():
            return model(x)

    return forward


def _bench_size(engine: Any, plain_model: Any, size: int, channels: int, repeats: int, warmup: int,
                flops: bool) -> dict[str, Any]:
    """Time the default path (``engine``) and the plain path (``plain_model``) at ``size``², alternating."""
    import torch

    dev = engine.device
    gen = torch.Generator().manual_seed(size)
    x = torch.rand(1, channels, size, size, generator=gen)
    x_plain = x.to(dev)

    def default() -> Any:
        return engine.run(x)

    plain = _plain_forward(plain_model, x_plain) if plain_model is not None else None
    for _ in range(warmup):
        default()
        if plain is not None:
            plain()
    times: list[float] = []
    plain_times: list[float] = []
    for _ in range(repeats):
        times += time_forward(default, dev, 1, 0)
        if plain is not None:
            plain_times += time_forward(plain, dev, 1, 0)
    median = statistics.median(times)
    row: dict[str, Any] = {
        "height": size,
        "width": size,
        "repeats": repeats,
        "warmup": warmup,
        "median_s": median,
        "min_s": min(times),
        "mean_s": statistics.fmean(times),
        "megapixels_per_s": size * size / 1e6 / median if median > 0 else math.inf,
    }
    if plain_times:
        row["plain_median_s"] = statistics.median(plain_times)
        row["speedup"] = row["plain_median_s"] / median if median > 0 else math.inf
    row.update(_measure_memory(default, dev))
    if flops and plain_model is not None:
        from ..models.common import reference_forward

        with reference_forward():
            n = count_flops(plain_model, x_plain)
        row["gflops"] = None if n is None else n / 1e9
        row["achieved_gflops_per_s"] = None if n is None or median <= 0 else n / 1e9 / median
    return row


def run_speed(
    model: Any,
    *,
    sizes: Sequence[int] = (256, 512, 1024),
    repeats: int = 10,
    warmup: int = 2,
    device: str = "auto",
    precision: str = "auto",
    large_mp: float = 12.0,
    tile: Any = "auto",
    tile_overlap: int = 32,
    reference: bool = False,
    model_name: str | None = None,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
    backend: str = "torch",
    plain: bool = True,
    large_image: Any = None,
    large_whole: bool = False,
    context: str = "auto",
    max_memory: Any = None,
    threads: Any = None,
    thread_speedups: bool = True,
) -> dict[str, Any]:
    """Time ``model`` at each size and (optionally) one large photo through the engine.

    Args:
        model: an ``nn.Module`` taking ``[1, C, H, W]``; sizes must be multiples of its ``size_multiple``.
        sizes: square input sizes.
        repeats, warmup: timed and untimed passes per size (``repeats`` ≥ 1).
        device, precision: as for the inference engine (``auto`` = CUDA/MPS/CPU; fp16 on CUDA, else fp32).
        large_mp: megapixels of the synthetic photo run end to end through the engine; 0 skips it.
        tile, tile_overlap, context, max_memory: engine settings for the large photo.
        reference: also time spandrel_extra_arches' MIRNet2 with the same weights (MIRNet-v2 only).
        log: receives one-line progress notes.
        backend: the engine's backend for the default path (``torch``, ``openvino``, ``onnxruntime``, ``auto``).
        plain: also time the plain path at each size (alternating with the default path).
        large_image: a real photo (path) instead of the synthetic ``large_mp`` one.
        large_whole: also run the large photo whole and compare time and output with the tiled run.
        threads: CPU threads (``"auto"``, a number, or None for PyTorch's setting); the plain path runs with the
            same (process-wide) setting, so the comparison is fair.
        thread_speedups: on the CPU with the plain path, also the first size's speed-up at 1 thread and at
            PyTorch's default thread count (``speedup_by_threads``).

    Returns:
        ``{"model", "architecture", "device", "precision", "parameters", "sizes": [...], "large": {...}|None,
        "reference": {...}|None}`` (see the module docstring for the per-size fields).
    """
    import torch

    if repeats < 1:
        raise ValueError("repeats must be at least 1")
    say = log if (log is not None and progress) else (lambda _msg: None)
    from ..models.facts import facts_of

    multiple = facts_of(model).size_multiple
    for s in sizes:
        if s < multiple or s % multiple:
            from ..errors import MirnetError

            raise MirnetError(f"--sizes: {s} is not a positive multiple of {multiple}")
    channels = int(
        getattr(model, "in_channels", None) or (getattr(model, "config", {}) or {}).get("inp_channels", 3)
    )
    source_model = model
    default_threads = torch.get_num_threads()  # PyTorch's setting before --threads changes it
    engine = _engine(model, device, precision, backend, tile=0, threads=threads)
    dev, dtype = engine.device, engine.dtype
    # The plain path times a converted copy: the caller's model (reused for quality runs) is left as it was.
    plain_model = copy.deepcopy(model).to(dev, torch.float32).eval() if plain else None

    result: dict[str, Any] = {
        "model": model_name
        or getattr(model, "source", None)
        or getattr(model, "architecture", type(model).__name__),
        "architecture": getattr(model, "architecture", None),
        "device": str(dev),
        "device_name": torch.cuda.get_device_name(dev) if dev.type == "cuda" else None,
        "precision": str(dtype).replace("torch.", ""),
        "precision_asked": _asked(precision),
        "precision_reason": getattr(engine, "precision_reason", None),
        "backend": engine.backend,
        "threads": torch.get_num_threads() if dev.type == "cpu" else None,
        "channels_last": engine.channels_last,
        "torch": torch.__version__,
        "parameters": count_parameters(model),
        "input_channels": channels,
        "sizes": [],
        "large": None,
        "reference": None,
    }
    for s in sizes:
        say(f"timing {s}x{s} (default and plain path, alternating) ...")
        result["sizes"].append(_bench_size(engine, plain_model, s, channels, repeats, warmup, flops=True))
    if thread_speedups and plain_model is not None and dev.type == "cpu" and sizes:
        result["speedup_by_threads"] = _thread_speedups(engine, plain_model, result["sizes"][0], channels, repeats,
                                                        warmup, default_threads, say)

    if (large_mp and large_mp > 0) or large_image is not None:
        result["large"] = _bench_large(
            source_model, large_mp, channels, dev, say, large_image=large_image, large_whole=large_whole,
            settings=dict(device=device, precision=precision, backend=backend, tile=tile, tile_overlap=tile_overlap,
                          context=context, max_memory=max_memory, threads=threads),
        )

    if reference:
        ref_model, message = load_reference_model(source_model)
        if ref_model is None:
            result["reference"] = {"available": False, "message": message}
            say(f"reference: {message}")
        else:
            ref_model = ref_model.to(dev, dtype).eval()
            model = copy.deepcopy(source_model).to(dev, dtype).eval()
            rows = []
            for ours in result["sizes"]:
                s = ours["height"]
                say(f"timing reference {s}x{s} ...")
                rows.append(_bench_pair(model, ref_model, s, channels, dev, dtype, repeats, warmup))
            result["reference"] = {"available": True, "implementation": message, "sizes": rows}
    return result


def _thread_speedups(engine: Any, plain_model: Any, first: dict[str, Any], channels: int, repeats: int, warmup: int,
                     default_threads: int, say: Callable[[str], None]) -> list[dict[str, Any]]:
    """The first size's speed-up over the authors' code at 1 thread, the run's threads and PyTorch's default."""
    import torch

    used = torch.get_num_threads()
    size = first["height"]
    rows = []
    for count in sorted({1, used, max(1, default_threads)}):
        if count == used:
            row = first
        else:
            say(f"timing {size}x{size} again at {count} thread(s) ...")
            torch.set_num_threads(count)
            try:
                row = _bench_size(engine, plain_model, size, channels, repeats, warmup, flops=False)
            finally:
                torch.set_num_threads(used)
        rows.append({"threads": count, "size": size, "median_s": row["median_s"],
                     "plain_median_s": row["plain_median_s"], "speedup": row["speedup"],
                     "default": count == default_threads, "used": count == used})
    return rows


def _bench_pair(
    model: Any, ref_model: Any, size: int, channels: int, dev: Any, dtype: Any, repeats: int, warmup: int
) -> dict[str, Any]:
    """Time ``model`` and ``ref_model`` on the same input in alternating calls.

    Interleaving puts both under the same conditions (allocator state, caches, clock boost, other load), so the
    ratio is not biased towards whichever model happened to be timed second.
    """
    import torch

    gen = torch.Generator().manual_seed(size)
    x = torch.rand(1, channels, size, size, generator=gen).to(dev, dtype)

    def runner(m: Any) -> Callable[[], Any]:
        def forward() -> Any:
            with torch.inference_mode():
                return m(x)

        return forward

    ours_fn, ref_fn = runner(model), runner(ref_model)
    for _ in range(warmup):
        ours_fn()
        ref_fn()
    ours_t: list[float] = []
    ref_t: list[float] = []
    for _ in range(repeats):
        ours_t += time_forward(ours_fn, dev, 1, 0)
        ref_t += time_forward(ref_fn, dev, 1, 0)
    ours_median, ref_median = statistics.median(ours_t), statistics.median(ref_t)
    row: dict[str, Any] = {
        "height": size,
        "width": size,
        "median_s": ref_median,
        "ours_median_s": ours_median,
        "megapixels_per_s": size * size / 1e6 / ref_median if ref_median > 0 else math.inf,
        # > 1 means ours is slower than the reference, < 1 faster.
        "ratio": ours_median / ref_median if ref_median > 0 else math.inf,
    }
    row.update(_measure_memory(ref_fn, dev))
    return row


def _large_photo(large_mp: float, channels: int, large_image: Any) -> Any:
    import numpy as np
    import torch

    if large_image is not None:
        from ..io.images import read_image

        pixels = read_image(large_image).pixels
        if pixels.ndim == 2:
            pixels = pixels[..., None]
        x = torch.from_numpy(np.ascontiguousarray(pixels[..., :channels].transpose(2, 0, 1)))[None].float()
        return x
    height = max(4, int(round(math.sqrt(large_mp * 1e6 * 3 / 4))))
    width = max(4, int(round(height * 4 / 3)))
    # A smooth gradient plus noise: content does not change the cost, but keeps values photo-like.
    gen = torch.Generator().manual_seed(0)
    yy = torch.linspace(0, 1, height).view(1, 1, height, 1)
    xx = torch.linspace(0, 1, width).view(1, 1, 1, width)
    x = (0.5 * yy + 0.3 * xx).expand(1, channels, height, width) + 0.05 * torch.randn(
        1, channels, height, width, generator=gen
    )
    return x.clamp(0, 1).contiguous()


def _bench_large(
    model: Any,
    large_mp: float,
    channels: int,
    dev: Any,
    say: Callable[[str], None],
    *,
    large_image: Any,
    large_whole: bool,
    settings: dict[str, Any],
) -> dict[str, Any]:
    import torch

    x = _large_photo(large_mp, channels, large_image)
    height, width = x.shape[-2:]
    what = str(large_image) if large_image is not None else "synthetic photo"
    say(f"running a {width}x{height} ({width * height / 1e6:.2f} MP) {what} through the engine ...")

    def timed(engine: Any, holder: dict[str, Any]) -> Callable[[], None]:
        def run() -> None:
            t0, c0 = time.perf_counter(), time.process_time()
            holder["out"] = engine.run(x)
            if dev.type == "cuda":
                torch.cuda.synchronize(dev)
            holder["seconds"] = time.perf_counter() - t0
            holder["cpu_seconds"] = time.process_time() - c0  # all threads; steadier than wall time under load

        return run

    engine = _engine(model, **settings)
    tiled: dict[str, Any] = {}
    mem = _measure_memory(timed(engine, tiled), dev)
    plan = engine.last_plan
    row = {
        "source": what,
        "height": height,
        "width": width,
        "megapixels": height * width / 1e6,
        "seconds": tiled["seconds"],
        "cpu_seconds": tiled["cpu_seconds"],
        "megapixels_per_s": height * width / 1e6 / tiled["seconds"],
        "tile": settings["tile"],
        "tile_overlap": settings["tile_overlap"],
        "plan": plan.to_dict() if plan is not None else None,
        "plan_text": plan.describe() if plan is not None else None,
        **mem,
    }
    if large_whole:
        say("running it whole (tile 0) for the tiling overhead and agreement ...")
        whole_settings = {**settings, "tile": 0, "max_memory": None}
        whole: dict[str, Any] = {}
        timed(_engine(model, **whole_settings), whole)()
        a = (tiled["out"].clamp(0, 1) * 255).round()
        b = (whole["out"].clamp(0, 1) * 255).round()
        mse = float(((a - b) ** 2).mean())
        row["whole_seconds"] = whole["seconds"]
        row["whole_cpu_seconds"] = whole["cpu_seconds"]
        row["tiled_over_whole_time"] = tiled["seconds"] / whole["seconds"]
        row["tiled_over_whole_cpu_time"] = tiled["cpu_seconds"] / whole["cpu_seconds"]
        row["tiled_vs_whole_psnr_8bit"] = math.inf if mse == 0 else 10 * math.log10(255**2 / mse)
    return row
