"""Building blocks shared by both MIRNet generations, and the switch between the two formulations of forward.

Every block computes the authors' function in one of two ways (same module tree, same state-dict keys):

* the **fast formulation** (default): no 5-D ``torch.stack``, pooling and attention that keep the channels-last
  memory layout, one shared pooling where the authors pool the same tensor twice, and in-place activations and
  residual adds on temporaries when gradients are off. It matches the authors' outputs to float rounding (the
  golden tests check both formulations in float64 and float32).
* the **reference formulation**: the authors' code, operation for operation. ``mirnet benchmark --speed`` times it
  as the baseline ("plain path"), and the golden tests keep it exact. Select it with :func:`reference_forward`.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

_formulation = threading.local()


def use_reference() -> bool:
    """True inside :func:`reference_forward` (in this thread)."""
    return getattr(_formulation, "reference", False)


@contextlib.contextmanager
def reference_forward(enabled: bool = True) -> Iterator[None]:
    """Run the models' forward exactly as the authors wrote it (for benchmarks and equivalence tests)."""
    previous = use_reference()
    _formulation.reference = enabled
    try:
        yield
    finally:
        _formulation.reference = previous


def sum_of(tensors: Sequence[torch.Tensor]) -> torch.Tensor:
    """``t0 + t1 + …`` in a new tensor (the first add allocates, the rest are in place on that new tensor)."""
    total = tensors[0] + tensors[1]
    for t in tensors[2:]:
        total.add_(t)
    return total


#: Per-channel broadcasts (``x * v`` with ``v`` of shape [B, C, 1, 1]) run on channels-last maps viewed as rows of
#: at least this many elements (see :func:`pixel_rows`).
ROW_ELEMENTS = 256


def row_factor(channels: int, pixels: int) -> int:
    """How many pixels one row holds: ``k`` with ``k * channels >= ROW_ELEMENTS`` dividing ``pixels`` (1: none)."""
    if channels >= ROW_ELEMENTS:
        return 1
    for k in range(-(-ROW_ELEMENTS // channels), 1, -1):
        if pixels % k == 0:
            return k
    return 1


def pixel_rows(x: torch.Tensor, k: int) -> torch.Tensor | None:
    """A channels-last ``x`` [B, C, H, W] viewed (never copied) as [B, H·W/k, k·C], or None where it cannot be.

    A per-channel vector broadcast over a channels-last map has an inner loop of only C elements: with C = 16, 24
    or 36 (the bundled models' widths) that is shorter than one AVX-512 register of bf16 (32 lanes), and PyTorch's
    element-wise kernels fall back to scalar code: ``x + v`` took 5.6 ms in bf16 against 0.46 ms on these rows
    (16 × 256², one thread, Xeon with AMX); fp32 gains little. The vector goes with it as ``vector_rows(v, k)``.
    """
    b, c, h, w = x.shape
    if k <= 1 or not x.is_contiguous(memory_format=torch.channels_last) or (h * w) % k:
        return None
    try:
        return x.permute(0, 2, 3, 1).view(b, h * w // k, k * c)
    except RuntimeError:
        return None


def vector_rows(v: torch.Tensor, k: int) -> torch.Tensor:
    """A per-channel vector [B, C, 1, 1] repeated to match :func:`pixel_rows`: [B, 1, k·C]."""
    b, c = v.shape[0], v.shape[1]
    return v.reshape(b, 1, c).repeat(1, 1, k)


def rows_to_map(rows: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """The inverse of :func:`pixel_rows` for a new tensor ``rows``: a channels-last [B, C, H, W] view."""
    b, c, h, w = like.shape
    return rows.view(b, h, w, c).permute(0, 3, 1, 2)


#: Off: the vector convolutions run as convolutions (for A/B timing and the equivalence test).
VECTOR_MATMUL = True
#: PyTorch's grain size (``at::internal::GRAIN_SIZE``): element-wise work below it stays on the calling thread.
_SERIAL_ELEMENTS = 32768


class VectorConv(nn.Conv2d):
    """A 1×1 convolution on per-image vectors (SKFF's squeeze and excitation, GCNet's transform).

    Same parameters and state-dict keys as ``nn.Conv2d``. On a [B, C, 1, 1] input without gradients (CPU, CUDA) it
    runs in at least fp32, outside autocast, as products and a row sum on the calling thread (a matrix product
    when the batch makes that larger than PyTorch's grain size): under bf16 autocast each of these convolutions was a
    oneDNN call with its own weight reorder and parallel region (11.5 ms per MIRNet-v2 forward at one thread, and
    2.3 s of a 9.2 s forward at two threads on a core shared with another process, where every parallel region
    waits for the descheduled thread), for a few hundred multiply-adds. The fp32 path's convolutions on vectors
    also opened a parallel region each (0.4 s of 8.0 s at two shared threads).
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if (not VECTOR_MATMUL or use_reference() or torch.is_grad_enabled() or x.dim() != 4
                or x.shape[-2:] != (1, 1) or self.groups != 1 or x.device.type not in ("cpu", "cuda")
                or torch.jit.is_tracing()):
            return super().forward(x)
        dtype = torch.promote_types(x.dtype, torch.float32)
        weight = self.weight.reshape(self.out_channels, -1).to(dtype)
        bias = None if self.bias is None else self.bias.to(dtype)
        v = x.reshape(x.shape[0], 1, -1).to(dtype)
        with torch.autocast(x.device.type, enabled=False):
            if v.shape[0] * weight.numel() <= _SERIAL_ELEMENTS:
                # Products and a row sum: below PyTorch's grain size these run on the calling thread, whereas
                # a BLAS call opens a parallel region even for 80x80 (0.1 s of a forward at 2 shared threads).
                y = (v * weight).sum(-1)
                if bias is not None:
                    y = y + bias
            else:
                y = F.linear(v[:, 0], weight, bias)
        return y.reshape(x.shape[0], self.out_channels, 1, 1)


class SKFF(nn.Module):
    """Selective Kernel Feature Fusion (MIRNet §3.2).

    Given ``k`` branches ``L_i`` of shape [B,C,H,W]:

    .. math::
        U = \\sum_i L_i,\\quad z = \\mathrm{act}(W_{du} \\cdot \\mathrm{GAP}(U)),\\quad
        s_i = \\mathrm{softmax}_i(W_i z),\\quad V = \\sum_i s_i \\odot L_i

    Args:
        in_channels: C.
        height: number of branches fused (3 in v1, 2 in v2).
        reduction: channel reduction of the squeeze conv; its width is ``max(int(C/reduction), 4)``.
        act: ``nn.PReLU()`` in v1, ``nn.LeakyReLU(0.2)`` in v2 (the latter has no state-dict key).

    State-dict keys: ``conv_du.0.weight``, [``conv_du.1.weight`` for PReLU], ``fcs.{i}.weight``.
    """

    def __init__(self, in_channels: int, height: int, act: nn.Module, reduction: int = 8, bias: bool = False):
        super().__init__()
        self.height = height
        d = max(int(in_channels / reduction), 4)
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.conv_du = nn.Sequential(VectorConv(in_channels, d, 1, padding=0, bias=bias), act)
        self.fcs = nn.ModuleList([VectorConv(d, in_channels, 1, stride=1, bias=bias) for _ in range(height)])
        self.softmax = nn.Softmax(dim=1)

    def forward(self, inp_feats: list[torch.Tensor]) -> torch.Tensor:
        if use_reference():
            return self._forward_reference(inp_feats)
        # The pooled vector reaches the rest of the block only through self.conv_du: the engine's global-context
        # hooks (engine/global_context.py) replace it there for tiles (GLOBAL_OPS in the model files).
        u = sum_of(inp_feats)
        z = self.conv_du(self.avg_pool(u))
        b, c = z.shape[0], u.shape[1]
        logits = torch.cat([fc(z) for fc in self.fcs], dim=1).view(b, self.height, c, 1, 1)
        attention = torch.softmax(logits, dim=1)
        if torch.is_grad_enabled():
            out = inp_feats[0] * attention[:, 0]
            for i in range(1, self.height):
                out = out + inp_feats[i] * attention[:, i]
            return out
        attention = attention.to(u.dtype)  # under bf16 autocast the softmax is fp32: mixed types are slow
        k = row_factor(c, u.shape[2] * u.shape[3])
        rows = [pixel_rows(t, k) for t in (u, *inp_feats)]
        if all(r is not None for r in rows):
            out_rows, feats = rows[0], rows[1:]
            torch.mul(feats[0], vector_rows(attention[:, 0], k), out=out_rows)  # U is no longer needed
            for i in range(1, self.height):
                out_rows.addcmul_(feats[i], vector_rows(attention[:, i], k))
            return u
        out = torch.mul(inp_feats[0], attention[:, 0], out=u)  # U is no longer needed: reuse its memory
        for i in range(1, self.height):
            out.addcmul_(inp_feats[i], attention[:, i])
        return out

    def _forward_reference(self, inp_feats: list[torch.Tensor]) -> torch.Tensor:
        feats = torch.stack(inp_feats, dim=1)  # [B, k, C, H, W]
        feats_z = self.conv_du(self.avg_pool(feats.sum(dim=1)))
        attention = torch.stack([fc(feats_z) for fc in self.fcs], dim=1)  # [B, k, C, 1, 1]
        attention = self.softmax(attention)
        return (feats * attention).sum(dim=1)


# --------------------------------------------------------------------- constructor configs read from state dicts
# Shared by ``config_from_state_dict`` of each model module: the tensors are the truth, a declared config
# (config.json, safetensors metadata, the registry) may only repeat what they say, and every argument is bounded,
# so that no file can make the loader build a network larger than the tensors it holds.


def key_indices(keys: Iterable[str], pattern: str) -> list[int]:
    """Sorted distinct integers captured by the first group of ``pattern`` (matched at the start of each key)."""
    rx = re.compile(pattern)
    return sorted({int(m.group(1)) for key in keys if (m := rx.match(key))})


def tensor_shape(state: Mapping[str, Any], key: str, ndim: int) -> tuple[int, ...]:
    """The shape of ``state[key]``, which must be a tensor with ``ndim`` dimensions.

    Raises:
        ValueError: missing, not a tensor, or another number of dimensions.
    """
    value = state.get(key)
    if not isinstance(value, torch.Tensor):
        raise ValueError(f"{key} is missing")
    if value.dim() != ndim:
        raise ValueError(f"{key} has shape {tuple(value.shape)}, expected {ndim} dimensions")
    return tuple(int(s) for s in value.shape)


def check_config(config: Mapping[str, Any], bounds: Mapping[str, tuple[Any, ...]]) -> None:
    """Every argument known and within its bounds.

    ``bounds`` maps a name to ``(low, high)`` (an integer, or a number when ``low`` is a float), ``(bool,)`` or a
    tuple of allowed values (e.g. ``(None, "defocus_deblurring")``).

    Raises:
        ValueError: an unknown argument, a wrong type or a value out of bounds (naming it and the bounds).
    """
    for name, value in config.items():
        if name not in bounds:
            raise ValueError(f"unknown argument {name!r} (expected {', '.join(bounds)})")
        rule = bounds[name]
        if rule == (bool,):
            if not isinstance(value, bool):
                raise ValueError(f"{name} must be true or false, not {value!r}")
        elif len(rule) == 2 and isinstance(rule[0], (int, float)) and not isinstance(rule[0], bool):
            low, high = rule
            number = (int, float) if isinstance(low, float) else int
            if isinstance(value, bool) or not isinstance(value, number) or not low <= value <= high:
                kind = "a number" if isinstance(low, float) else "an integer"
                raise ValueError(f"{name} must be {kind} from {low} to {high}, not {value!r}")
        elif value not in rule:
            raise ValueError(f"{name} must be one of {', '.join(map(repr, rule))}, not {value!r}")


def merge_declared(derived: dict[str, Any], declared: Mapping[str, Any] | None, free: Mapping[str, Any],
                   bounds: Mapping[str, tuple[Any, ...]]) -> dict[str, Any]:
    """The config to build: ``derived`` (read from the tensors) plus the ``free`` arguments the tensors do not show
    (their defaults, or the declared values).

    Raises:
        ValueError: a declared value differs from the tensors', or any value is out of ``bounds``.
    """
    declared = dict(declared or {})
    check_config(declared, bounds)
    check_config(derived, bounds)
    for name, value in declared.items():
        if name in derived and value != derived[name]:
            raise ValueError(f"the config says {name}={value!r} but the weights have {name}={derived[name]!r}")
    return {**derived, **{k: declared.get(k, v) for k, v in free.items()}}
