"""CPU runtime settings: the allocator, instruction-set features, the memory layout.

Measured on this project's 2-core machines (ratios from alternating runs in one process, torch 2.13.0):

* glibc's malloc returns every large temporary to the kernel and faults it back in on the next allocation; a
  MIRNet-v2 forward allocates hundreds of image-sized temporaries, so the page faults cost CPU time. Keeping freed
  memory in the heap (:func:`tune_allocator`) gave 0.87x the time of a 768² forward on an AMD EPYC (Zen 5), and
  0.56x on a Xeon (issue 11's figures, where the faults were ~45% of the time).
* channels-last convolutions are 1.5-1.9x faster than NCHW once the model's forward keeps the layout (see
  :mod:`mirnet_cli.models.common`), so the CPU path runs channels-last.
* threads: a forward pass is thousands of short parallel regions, each as slow as its slowest thread; a thread
  that shares its core with another busy program stalls them all. With one other CPU-bound process on the
  2-core machine, MIRNet-v2 at 256² took 3.3x longer with 2 threads than with 1 (the bundled model at 512²: 6.1x),
  so :func:`choose_threads` uses only the cores that are idle when the engine starts.
* bf16: PyTorch emulates it ~500x slower on CPUs without AVX512-BF16 or AMX; where it is native, it beats fp32
  only for models with enough work per pixel (AMX: 2.4x for MIRNet-v2, 1.2x for the bundled n_feat 16 models;
  AVX512-BF16 without AMX, AMD EPYC: 1.7x for MIRNet-v2, 0.8x for the bundled models). ``--precision auto``
  follows that rule: :data:`mirnet_cli.engine.device.BF16_MIN_PARAMETERS`.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from functools import lru_cache
from pathlib import Path

__all__ = ["choose_threads", "cpu_flags", "cpu_has_amx", "cpu_has_native_bf16", "tune_allocator"]

# glibc mallopt parameters (malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3

#: Allocations below this size come from the heap and are reused instead of being mmap'ed and faulted in anew.
#: Image-sized buffers above it (a 12 MP float32 RGB image is 144 MB) still go back to the system when freed.
MMAP_THRESHOLD = 256 * 1024**2
#: Freed heap memory is returned to the system only above this much.
TRIM_THRESHOLD = 1024**3

_tuned: bool | None = None


def tune_allocator() -> bool:
    """Make glibc keep freed memory for reuse (once per process). Returns True if it was applied.

    Skipped outside glibc (macOS, musl, Windows) and when ``MIRNET_MALLOC_TUNING=0``.
    """
    global _tuned
    if _tuned is not None:
        return _tuned
    _tuned = False
    if os.environ.get("MIRNET_MALLOC_TUNING", "1") == "0":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    ok = bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    _tuned = ok
    return ok


@lru_cache(maxsize=4)
def cpu_flags(cpuinfo: str | Path = "/proc/cpuinfo") -> frozenset[str]:
    """The CPU's feature flags (x86 ``flags`` / Arm ``Features`` of ``/proc/cpuinfo``); empty where unknown."""
    try:
        text = Path(cpuinfo).read_text(errors="replace")
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith(("flags", "Features")):
            return frozenset(line.split(":", 1)[-1].split())
    return frozenset()


def cpu_has_native_bf16(cpuinfo: str | Path = "/proc/cpuinfo") -> bool:
    """True if the CPU computes bf16 natively (x86 ``avx512_bf16`` or ``amx_bf16``).

    Without them PyTorch emulates bf16 convolutions, about 500x slower than fp32. Where ``/proc/cpuinfo`` does
    not exist (macOS, Windows) this returns False, which only ever makes us refuse bf16 on the CPU.
    """
    return bool(cpu_flags(str(cpuinfo)) & {"avx512_bf16", "amx_bf16"})


def cpu_has_amx(cpuinfo: str | Path = "/proc/cpuinfo") -> bool:
    """True if the CPU has AMX tiles for bf16 (``amx_bf16``): bf16 beats fp32 there from smaller models on."""
    return "amx_bf16" in cpu_flags(str(cpuinfo))


_chosen_threads: int | None = None


def choose_threads(requested: int | None = None) -> int:
    """Intra-op threads for CPU inference, applied to PyTorch (once per process unless ``requested`` changes).

    ``requested`` (or ``MIRNET_THREADS``) wins; otherwise PyTorch's default (one per physical core, or
    ``OMP_NUM_THREADS``) capped at the number of cores that were idle over a 0.2 s sample, at least 1.
    """
    import torch

    global _chosen_threads
    if requested is None and os.environ.get("MIRNET_THREADS", "").strip().isdigit():
        requested = int(os.environ["MIRNET_THREADS"])
    if requested is not None:
        threads = max(1, int(requested))
    elif _chosen_threads is not None:
        return _chosen_threads
    else:
        threads = max(1, min(torch.get_num_threads(), idle_cores()))
    torch.set_num_threads(threads)
    _chosen_threads = threads
    return threads


def idle_cores(sample: float = 0.2) -> int:
    """Logical cores not used by other programs right now (``psutil.cpu_percent`` over ``sample`` seconds)."""
    import psutil

    logical = psutil.cpu_count(logical=True) or 1
    busy = psutil.cpu_percent(interval=sample) / 100.0 * logical
    return max(1, int(logical - busy + 0.3))  # 0.3: a core used 70% by others is not idle
