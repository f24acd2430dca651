"""Memory: how much a forward pass needs, how much the engine may use, and sizes people type (``2G``).

The engine plans every image against a budget:

* on the CPU, ``max_memory`` caps the whole process (default :data:`DEFAULT_CPU_MAX_MEMORY`, and never more than
  :data:`CPU_AVAILABLE_FRACTION` of what is free): what the process already holds (Python, torch, the model, the
  decoded image) and the engine's image-sized buffers are subtracted first, and the activations of one tile batch
  get the rest;
* on CUDA and MPS the activations get a fraction of the device's free memory (``max_memory`` lowers it).
"""

from __future__ import annotations

import re

import torch
from torch import nn

from ..models.facts import facts_of

__all__ = [
    "CPU_AVAILABLE_FRACTION",
    "DEFAULT_CPU_MAX_MEMORY",
    "DEVICE_FREE_FRACTION",
    "GENERIC_LIVE_MAPS",
    "available_memory_bytes",
    "estimate_bytes_per_pixel",
    "format_size",
    "parse_size",
    "process_rss",
]

GiB = 1024**3

#: Default cap on the process's memory on the CPU. Measured (``/usr/bin/time -v``, 12 MP photo): max RSS 2.09 GiB
#: with the bundled denoiser and 2.50 GiB with the full MIRNet-v2 under this cap (max RSS also counts freed heap
#: that glibc keeps); a 2.5 GiB cap took the full MIRNet-v2 to 3.04 GiB for no fewer pixels computed.
DEFAULT_CPU_MAX_MEMORY = int(2.25 * GiB)

#: The CPU budget never exceeds this fraction of the RAM that is available when the image starts.
CPU_AVAILABLE_FRACTION = 0.6

#: Fraction of the free device memory (CUDA, MPS) that one tile batch may use; the rest absorbs allocator
#: fragmentation and cuDNN workspaces.
DEVICE_FREE_FRACTION = 0.7

#: Generic activation estimate for models that declare none: this many full-resolution feature maps of the
#: model's widest layer are assumed alive at once (MIRNet measured 4-5.4, so 12 leaves a 2-3x margin).
GENERIC_LIVE_MAPS = 12

_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": GiB, "t": 1024**4}


def parse_size(text: str | int | float) -> int:
    """Parse a memory size: ``2G``, ``1.5GiB``, ``512M``, ``800MB``, or a number of bytes (binary units).

    Raises:
        ValueError: with a one-line message.
    """
    if isinstance(text, (int, float)):
        value = float(text)
    else:
        m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([kmgt]?)(i?b)?\s*", str(text).lower())
        if m is None:
            raise ValueError(f"invalid memory size {text!r}; use e.g. 2G, 1.5GiB, 512M")
        value = float(m.group(1)) * _UNITS[m.group(2)]
    if value < 64 * 1024**2:
        raise ValueError(f"memory size {text!r} is too small; use at least 64M")
    return int(value)


def format_size(n: float) -> str:
    """``2.3 GiB``, ``512 MiB``."""
    return f"{n / GiB:.1f} GiB" if n >= GiB else f"{n / 1024**2:.0f} MiB"


def process_rss() -> int:
    """Memory this process holds and uses, in bytes: the resident set minus freed heap memory that glibc keeps
    for reuse (:func:`.cpu.tune_allocator` makes it keep more), which new allocations take first."""
    import psutil

    rss = int(psutil.Process().memory_info().rss)
    return max(rss - _free_heap_bytes(), 0)


def _free_heap_bytes() -> int:
    """Free bytes inside glibc's heap (``mallinfo2().fordblks``); 0 elsewhere."""
    import ctypes
    import ctypes.util

    class _MallInfo2(ctypes.Structure):
        _fields_ = [(name, ctypes.c_size_t) for name in
                    ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
                     "keepcost")]

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        fn = libc.mallinfo2
    except (OSError, AttributeError):
        return 0
    fn.restype = _MallInfo2
    return int(fn().fordblks)


def available_memory_bytes(device: torch.device) -> int:
    """Memory available on ``device``, in bytes.

    * CUDA: ``torch.cuda.mem_get_info`` free memory, plus memory PyTorch's caching allocator holds but does not
      use (it can be reused without asking the driver).
    * MPS: Apple GPUs share system RAM, so a conservative ``min(available RAM, total RAM / 2)``, further limited
      by Metal's recommended working set when PyTorch exposes it.
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
    """Estimated peak activation memory per input pixel (batch 1) of one forward pass.

    From the model's facts (``activation_bytes_per_pixel``: fp32 bytes, scaled by ``itemsize / 4`` for other
    dtypes, or a callable ``f(dtype) -> bytes``); otherwise ``itemsize(dtype) * GENERIC_LIVE_MAPS * C_max``, with
    ``C_max`` the widest channel count of the model's layers.
    """
    declared = facts_of(model).activation_bytes_per_pixel
    if declared is not None:
        if callable(declared):
            return float(declared(dtype))
        return float(declared) * _itemsize(dtype) / 4.0
    return float(_itemsize(dtype) * GENERIC_LIVE_MAPS * _widest_channels(model))
