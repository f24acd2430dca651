"""The inference engine shared by the restore commands, the benchmark and training validation.

One :class:`InferenceEngine` wraps a model with everything that running it on real photos needs:

* device and precision choice (:mod:`.device`), with the model moved and cast once;
* reflect padding to the model's ``size_multiple`` and cropping back;
* tiling with seamless blending (:mod:`.tiling`); with ``tile="auto"`` the whole image runs in one pass
  when the estimated activation memory fits, otherwise tiles are sized from the free memory;
* out-of-memory back-off: halve the tile and retry;
* a reduced-precision guard: a tile whose fp16/bf16 output has NaN/Inf, or collapsed to black while the
  input was not black, is recomputed in fp32.

The full image and the blending accumulators always stay on the CPU in float32; only one tile at a time
lives on the device, so peak device memory does not grow with the image.
"""

from __future__ import annotations

import copy
import gc
import math
import warnings
from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import MirnetError
from .device import PrecisionFallbackWarning, parse_precision, resolve_device, resolve_precision
from .tiling import TileAccumulator, blend_window, crop_padding, plan_tiles, reflect_pad_to_multiple

__all__ = [
    "GENERIC_LIVE_MAPS",
    "InferenceEngine",
    "available_memory_bytes",
    "estimate_bytes_per_pixel",
    "is_oom_error",
]

#: Generic activation estimate: this many full-resolution feature maps of the model's widest layer are
#: assumed alive at once. Measured peaks (CPU, fp32, peak RSS slope between 256² and 512²) are about
#: 3.9 KB/px for MIRNet-v2 (n_feat 80, widest 180 channels: ~5.4 maps) and 4.0 KB/px for MIRNet v1
#: (n_feat 64, widest 256 channels: ~3.9 maps), so 12 leaves a 2-3x margin.
GENERIC_LIVE_MAPS = 12

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
    if isinstance(exc, (RuntimeError, MemoryError)):
        if isinstance(exc, MemoryError):
            return True
        message = str(exc).lower()
        return any(marker in message for marker in _OOM_MARKERS)
    return False


def _itemsize(dtype: torch.dtype) -> int:
    return torch.empty((), dtype=dtype).element_size()


def _widest_channels(model: nn.Module) -> int:
    widest = 0
    for module in model.modules():
        for attr in ("out_channels", "in_channels"):
            value = getattr(module, attr, None)
            if isinstance(value, int):
                widest = max(widest, value)
    if widest == 0:  # not a conv net we recognise: fall back to parameter shapes
        for p in model.parameters():
            if p.ndim >= 1:
                widest = max(widest, int(p.shape[0]))
    return max(widest, 1)


def estimate_bytes_per_pixel(model: nn.Module, dtype: torch.dtype) -> float:
    """Estimated peak device memory per input pixel (batch 1) for one forward pass.

    Calibration: a model may declare ``activation_bytes_per_pixel``, either a number measured in fp32
    (scaled by ``itemsize / 4`` for other dtypes) or a callable ``f(dtype) -> bytes``. Otherwise the
    generic estimate is ``itemsize(dtype) * GENERIC_LIVE_MAPS * C_max``, where ``C_max`` is the widest
    channel count of the model's layers.
    """
    declared = getattr(model, "activation_bytes_per_pixel", None)
    if declared is not None:
        if callable(declared):
            return float(declared(dtype))
        return float(declared) * _itemsize(dtype) / 4.0
    return float(_itemsize(dtype) * GENERIC_LIVE_MAPS * _widest_channels(model))


def available_memory_bytes(device: torch.device) -> int:
    """Memory available for activations on ``device``, in bytes.

    * CUDA: ``torch.cuda.mem_get_info`` free memory, plus memory PyTorch's caching allocator holds
      but does not use (it can be reused without asking the driver).
    * MPS: Apple GPUs share system RAM, so a conservative ``min(available RAM, total RAM / 2)``, further
      limited by Metal's recommended working set when PyTorch exposes it.
    * CPU: ``psutil.virtual_memory().available``.
    """
    import psutil

    device = torch.device(device)
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        cached = torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)
        return int(free + max(cached, 0))
    vm = psutil.virtual_memory()
    if device.type == "mps":
        budget = min(vm.available, vm.total // 2)
        mps = getattr(torch, "mps", None)
        if mps is not None and hasattr(mps, "recommended_max_memory"):
            try:
                budget = min(budget, mps.recommended_max_memory() - mps.driver_allocated_memory())
            except RuntimeError:
                pass
        return int(max(budget, 0))
    return int(vm.available)


def _guard_tile(out: torch.Tensor, inp: torch.Tensor, black: float = 1e-3, content: float = 0.05) -> bool:
    """True when a reduced-precision tile output is broken and must be recomputed in fp32.

    Broken means: any NaN/Inf, or the output collapsed to black (``max(out) < black``) although the
    input was not black (``max(inp) > content``). fp16 overflow in MIRNet's attention/softmax paths
    shows up as one of the two.
    """
    if not bool(torch.isfinite(out).all()):
        return True
    return bool(out.amax() < black) and bool(inp.amax() > content)


def _same_device(a: torch.device, b: torch.device) -> bool:
    return a.type == b.type and (a.index or 0) == (b.index or 0)


def _prepared(model: nn.Module, device: torch.device, dtype: torch.dtype) -> nn.Module:
    """``model`` on ``device`` in ``dtype``: the model itself if it already is, else a converted copy.

    The caller's model is never converted in place (training validation reuses the training model).
    """
    floats = [t for t in list(model.parameters()) + list(model.buffers()) if t.is_floating_point()]
    if all(_same_device(t.device, device) and t.dtype == dtype for t in floats):
        return model
    with torch.inference_mode(False):
        return copy.deepcopy(model).to(device=device, dtype=dtype)


def _supports_half(model: nn.Module) -> bool:
    declared = getattr(model, "supports_half", None)
    if declared is not None:
        return bool(declared)
    facts = getattr(model, "facts", None)
    return bool(getattr(facts, "supports_fp16", True))


class InferenceEngine:
    """Run an image-to-image model on images of any size.

    Args:
        model: an ``nn.Module`` mapping ``[N, C_in, h, w]`` to ``[N, C_out, h, w]`` (same spatial size).
            Optional attributes: ``size_multiple`` (int, default 1), ``supports_half`` (bool; also read
            from ``model.facts.supports_fp16``), ``activation_bytes_per_pixel`` (see
            :func:`estimate_bytes_per_pixel`), ``in_channels`` (checked against the input).
        device: ``auto|cpu|cuda|cuda:N|mps`` or a ``torch.device`` (see :func:`.device.resolve_device`).
        precision: ``auto|fp32|fp16|bf16`` or a ``torch.dtype`` (see :func:`.device.resolve_precision`).
        tile: ``"auto"`` (whole image when it fits in memory, else tiles sized from free memory), ``0``
            (always the whole image), or a tile side in pixels (rounded down to ``size_multiple``).
            Strings such as ``"512"`` are accepted.
        tile_overlap: minimum overlap between tiles in pixels (capped at half the tile).
        progress: show a tqdm bar over the tiles (only when there is more than one).
        min_tile: the out-of-memory back-off gives up below this tile side.
        memory_fraction: fraction of the free memory that ``tile="auto"`` plans to use.
        _unchecked_precision: private, for tests only: use ``precision`` (a dtype) as given, without the
            device checks of ``resolve_precision``; this is how the fp16 guard is tested on the CPU.

    Attributes:
        device, dtype: what the model runs in.
        model: the model on ``device`` in ``dtype`` (the caller's model itself if it already was).
        size_multiple: padding multiple.
        stats: counters, cumulative over ``run`` calls: ``tiles`` (forward passes), ``fp32_fallbacks``
            (tiles recomputed in fp32), ``oom_retries``; and for the last run ``tile_size`` (0 = whole
            image) and ``tile_overlap``.
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
        min_tile: int = 64,
        memory_fraction: float = 0.5,
        _unchecked_precision: bool = False,
    ):
        self.device = resolve_device(device)
        if _unchecked_precision:
            self.dtype = {
                "auto": torch.float32,
                "fp32": torch.float32,
                "fp16": torch.float16,
                "bf16": torch.bfloat16,
            }[parse_precision(precision)]
        else:
            self.dtype = resolve_precision(precision, self.device, supports_half=_supports_half(model))
        self.size_multiple = max(1, int(getattr(model, "size_multiple", 1) or 1))
        self.tile = self._parse_tile(tile)
        if int(tile_overlap) < 0:
            raise MirnetError(f"tile overlap must be >= 0, got {tile_overlap}")
        self.tile_overlap = int(tile_overlap)
        self.progress = progress
        self.min_tile = max(self.size_multiple, int(min_tile))
        self.memory_fraction = float(memory_fraction)
        self._source_model = model
        self.model = _prepared(model, self.device, self.dtype)
        self._fp32: nn.Module | None = None
        self._warned_fp32 = False
        self.stats: dict[str, Any] = {
            "tiles": 0,
            "fp32_fallbacks": 0,
            "oom_retries": 0,
            "tile_size": 0,
            "tile_overlap": 0,
        }

    # ------------------------------------------------------------------ configuration helpers
    def _round_tile(self, tile: int) -> int:
        m = self.size_multiple
        return max(m, tile - tile % m)

    def _parse_tile(self, tile: str | int) -> str | int:
        if isinstance(tile, str):
            text = tile.strip().lower()
            if text == "auto":
                return "auto"
            if not text.lstrip("-").isdigit():
                raise MirnetError(
                    f"invalid tile size {tile!r}; use auto, 0 (whole image) or a number of pixels"
                )
            tile = int(text)
        tile = int(tile)
        if tile < 0:
            raise MirnetError(f"tile size must be >= 0 (0 = whole image), got {tile}")
        return 0 if tile == 0 else self._round_tile(tile)

    def _auto_tile(self, batch: int, height: int, width: int) -> int:
        """0 (whole image) if the estimate fits ``memory_fraction`` of the free memory, else a tile side."""
        per_pixel = estimate_bytes_per_pixel(self._source_model, self.dtype) * batch
        budget = self.memory_fraction * available_memory_bytes(self.device)
        if per_pixel * height * width <= budget:
            return 0
        side = int(math.sqrt(max(budget, 0.0) / per_pixel))
        return self._round_tile(max(side, self.min_tile))

    def _smaller_tile(self, tile: int, height: int, width: int) -> int:
        """Tile side after an out-of-memory error: half the current one, but not below ``min_tile``."""
        current = tile if tile else max(height, width)
        current = min(current, max(height, width))
        if current <= self.min_tile:
            raise MirnetError(
                f"out of memory on {self.device} even with {current}x{current} pixel tiles; "
                "free memory on the device, or use --device cpu"
            )
        return self._round_tile(max(current // 2, self.min_tile))

    def _free_device_memory(self) -> None:
        gc.collect()
        if self.device.type == "cuda":
            torch.cuda.empty_cache()
        elif self.device.type == "mps" and hasattr(torch, "mps"):
            torch.mps.empty_cache()

    def _fp32_model(self) -> nn.Module:
        """fp32 copy of the model on the device, made on first use (only when reduced precision fails)."""
        if self.dtype == torch.float32:
            return self.model
        if self._fp32 is None:
            with torch.inference_mode(False):
                self._fp32 = copy.deepcopy(self._source_model).to(device=self.device, dtype=torch.float32)
            self._fp32.eval()
        return self._fp32

    # ------------------------------------------------------------------ running
    def _forward(self, inp: torch.Tensor) -> torch.Tensor:
        """One tile: CPU float32 in, CPU float32 out; the reduced-precision guard lives here."""
        dev_inp = inp.to(self.device)
        out = self.model(dev_inp.to(self.dtype))
        if not isinstance(out, torch.Tensor):
            raise MirnetError(f"the model returned {type(out).__name__}, expected a tensor")
        if self.dtype != torch.float32 and _guard_tile(out, dev_inp):
            del out
            out = self._fp32_model()(dev_inp)
            self.stats["fp32_fallbacks"] += 1
            if not self._warned_fp32:
                self._warned_fp32 = True
                name = parse_precision(self.dtype)
                warnings.warn(
                    f"{name} produced NaN/Inf or black output on some tiles; recomputed them in fp32",
                    PrecisionFallbackWarning,
                    stacklevel=4,
                )
        if out.ndim != 4 or out.shape[0] != inp.shape[0] or out.shape[-2:] != inp.shape[-2:]:
            raise MirnetError(
                f"the model turned a {tuple(inp.shape)} input into {tuple(out.shape)}; "
                "the engine supports same-size restoration models only"
            )
        self.stats["tiles"] += 1
        return out.to(device="cpu", dtype=torch.float32)

    def _run_tiled(self, xp: torch.Tensor, tile: int) -> torch.Tensor:
        """Run on the padded image ``xp`` with tiles of side ``tile`` (0: whole image)."""
        from tqdm.auto import tqdm

        batch, _, height, width = xp.shape
        if tile == 0 or (tile >= height and tile >= width):
            self.stats["tile_size"], self.stats["tile_overlap"] = 0, 0
            return self._forward(xp)
        m = self.size_multiple
        overlap = min(self.tile_overlap, tile // 2)
        th, tw = min(tile, height), min(tile, width)
        ys = plan_tiles(height, th, overlap, m)
        xs = plan_tiles(width, tw, overlap, m)
        self.stats["tile_size"], self.stats["tile_overlap"] = tile, overlap
        windows: dict[tuple[bool, bool, bool, bool], torch.Tensor] = {}
        acc: TileAccumulator | None = None
        total = len(ys) * len(xs)
        with tqdm(
            total=total, desc="tiles", unit="tile", leave=False, disable=not (self.progress and total > 1)
        ) as bar:
            for y in ys:
                for x in xs:
                    out = self._forward(xp[..., y : y + th, x : x + tw])
                    if acc is None:
                        acc = TileAccumulator(batch, out.shape[1], height, width)
                    edges = (y > 0, y + th < height, x > 0, x + tw < width)
                    if edges not in windows:
                        top, bottom, left, right = edges
                        windows[edges] = blend_window(
                            th, tw, overlap, top=top, bottom=bottom, left=left, right=right
                        )
                    acc.add(out, y, x, windows[edges])
                    bar.update(1)
        assert acc is not None
        return acc.result()

    def run(self, x: torch.Tensor) -> torch.Tensor:
        """Restore ``x``.

        Args:
            x: ``[N, C, H, W]`` (normally N = 1) float in [0, 1]; moved to the CPU as float32 first.

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
        batch, _, height, width = xp.shape
        tile = self._auto_tile(batch, height, width) if self.tile == "auto" else int(self.tile)
        was_training = self.model.training
        self.model.eval()
        try:
            while True:
                failed = False
                try:
                    with torch.inference_mode():
                        out = self._run_tiled(xp, tile)
                except Exception as exc:  # re-raised below unless it is an out-of-memory error
                    if not is_oom_error(exc):
                        raise
                    failed = True  # handled below, once the traceback (holding tile tensors) is gone
                if not failed:
                    break
                self._free_device_memory()
                tile = self._smaller_tile(tile, height, width)
                self.stats["oom_retries"] += 1
        finally:
            self.model.train(was_training)
        result = crop_padding(out, pads)
        # Tensors made under inference_mode refuse in-place updates later (e.g. the caller's clamp_);
        # a clone outside it is a normal tensor (and drops the padding's memory).
        if result.is_inference() or any(pads):
            result = result.clone()
        return result

    __call__ = run

    def restore(self, image: np.ndarray) -> np.ndarray:
        """Convenience wrapper: ``[H, W, C]`` (or ``[H, W]``) float32 in [0, 1] to ``[H, W, C_out]`` in [0, 1].

        A 2-D input gives a 2-D output when the model has one output channel.
        """
        arr = np.asarray(image, dtype=np.float32)
        squeeze = arr.ndim == 2
        if squeeze:
            arr = arr[..., None]
        if arr.ndim != 3:
            raise ValueError(f"expected an [H, W, C] image, got shape {arr.shape}")
        x = torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1)))[None]
        y = self.run(x).clamp_(0.0, 1.0)
        out = y[0].permute(1, 2, 0).contiguous().numpy()
        if squeeze and out.shape[2] == 1:
            out = out[..., 0]
        return out
