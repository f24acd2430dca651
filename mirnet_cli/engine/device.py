"""Choosing the compute device and the numeric precision.

``resolve_device`` turns a user spec (``auto|cpu|cuda|cuda:N|mps``) into a ``torch.device``. ``auto`` takes the
best device there is (CUDA, then MPS, then the CPU); a device asked for by name that is missing is an error
with the reason, never a silent switch to the CPU (a batch meant for a GPU would crawl for hours).

``resolve_precision`` turns ``auto|fp32|fp16|bf16`` into a ``torch.dtype``. It refuses combinations that
would be broken or pathologically slow (fp16 on the CPU; bf16 without native hardware support, which on a
CPU without AVX512-BF16/AMX runs roughly 500x slower than fp32) with a one-line
:class:`~mirnet_cli.errors.MirnetError`.
"""

from __future__ import annotations

import warnings

import torch

from ..errors import MirnetError
from .cpu import cpu_has_amx, cpu_has_native_bf16

__all__ = [
    "BF16_MIN_PARAMETERS",
    "PrecisionFallbackWarning",
    "auto_precision",
    "cpu_bf16_choice",
    "cpu_has_native_bf16",
    "parse_precision",
    "resolve_device",
    "resolve_precision",
]

DEVICE_CHOICES = ("auto", "cpu", "cuda", "cuda:N", "mps")
PRECISION_CHOICES = ("auto", "fp32", "fp16", "bf16")

# Accepted spellings for each precision.
_PRECISION_ALIASES: dict[str, str] = {
    "fp32": "fp32",
    "float32": "fp32",
    "float": "fp32",
    "full": "fp32",
    "fp16": "fp16",
    "float16": "fp16",
    "half": "fp16",
    "bf16": "bf16",
    "bfloat16": "bf16",
}
_PRECISION_DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
_DTYPE_NAMES = {v: k for k, v in _PRECISION_DTYPES.items()}


class PrecisionFallbackWarning(UserWarning):
    """Reduced precision misbehaved (NaN/Inf or a black output) and some work was redone in fp32."""


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def _cuda_available() -> tuple[bool, str]:
    """Whether CUDA works and, when it does not, why in a few words (the driver's own message if it gave one)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if torch.cuda.is_available():  # a broken driver says why in a warning, which we show in the error
            return True, ""
    if getattr(torch.version, "cuda", None) is None:
        return False, "this PyTorch build has no CUDA support (a CPU-only wheel)"
    for warning in caught:
        text = str(warning.message).strip().splitlines()
        if text:
            return False, f"CUDA could not start: {text[0].rstrip('.')}"
    return False, "no CUDA GPU was found"


def _missing(spec: str, reason: str) -> MirnetError:
    best = "the Apple GPU (mps)" if spec != "mps" and _mps_available() else "the CPU"
    return MirnetError(f"device {spec} is not available: {reason}; use --device auto to run on the best "
                       f"device there is ({best} here)")


def resolve_device(spec: str | torch.device = "auto") -> torch.device:
    """Turn a device spec into a ``torch.device``.

    Args:
        spec: ``"auto"`` (CUDA, else Apple MPS, else CPU), ``"cpu"``, ``"cuda"``, ``"cuda:N"``, ``"mps"``
            (case-insensitive), or a ``torch.device``.

    Returns:
        The device to run on. ``"cuda"`` without an index becomes ``cuda:0`` (the current device).

    Raises:
        MirnetError: unknown spec; a named device that is not available (``cuda`` without a working CUDA, with
            the reason: CPU-only PyTorch, the driver's error, no GPU; ``mps`` off Apple silicon); ``cuda:N`` with
            N beyond the installed GPUs. Only ``auto`` falls back to the CPU.
    """
    text = str(spec).strip().lower()
    if text == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", torch.cuda.current_device())
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if text == "cpu":
        return torch.device("cpu")
    if text == "mps":
        if not _mps_available():
            mps = getattr(torch.backends, "mps", None)
            built = mps is not None and mps.is_built()
            raise _missing(text, "MPS (Apple GPU) is not available on this machine" if built
                           else "this PyTorch build has no MPS (Apple GPU) support")
        return torch.device("mps")
    if text == "cuda" or text.startswith("cuda:"):
        index: int | None = None
        if text != "cuda":
            suffix = text.split(":", 1)[1]
            if not suffix.isdigit():
                raise MirnetError(f"invalid device {spec!s}; use one of {', '.join(DEVICE_CHOICES)}")
            index = int(suffix)
        available, reason = _cuda_available()
        if not available:
            raise _missing(text, reason)
        count = torch.cuda.device_count()
        if index is None:
            return torch.device("cuda", torch.cuda.current_device())
        if index >= count:
            raise MirnetError(
                f"device {text} does not exist: this machine has {count} CUDA device(s) (cuda:0..cuda:{count - 1})"
            )
        return torch.device("cuda", index)
    raise MirnetError(f"invalid device {spec!s}; use one of {', '.join(DEVICE_CHOICES)}")


def parse_precision(spec: str | torch.dtype) -> str:
    """Normalise a precision spec to ``"auto"``, ``"fp32"``, ``"fp16"`` or ``"bf16"``.

    Accepts ``torch.float32/float16/bfloat16`` and spellings such as ``half``, ``float16``, ``bfloat16``.

    Raises:
        MirnetError: anything else.
    """
    if isinstance(spec, torch.dtype):
        if spec not in _DTYPE_NAMES:
            raise MirnetError(f"unsupported precision {spec}; use one of {', '.join(PRECISION_CHOICES)}")
        return _DTYPE_NAMES[spec]
    text = str(spec).strip().lower()
    if text == "auto":
        return "auto"
    if text not in _PRECISION_ALIASES:
        raise MirnetError(f"invalid precision {spec!s}; use one of {', '.join(PRECISION_CHOICES)}")
    return _PRECISION_ALIASES[text]


#: ``--precision auto`` on the CPU: bf16 where the CPU runs it natively **and** the model is large enough for bf16
#: to have been measured faster than fp32 there (the model's parameter count stands for its work per pixel: the
#: MIRNets are fully convolutional). Small models lose: their convolutions are a smaller share of the time, and the
#: element-wise work, resampling and the context block's matrix products run slower in bf16 than in fp32.
#: Measured at 256², 1 thread, alternating runs in one process (``scripts/backend_speed.py --torch-bf16``, and a
#: sweep over MIRNet-v2 widths with random weights):
#:
#: * ``amx``: Xeon with AMX (a 2-core VM of this project; amx_bf16, avx512_bf16), bf16 speed-up over fp32 after
#:   the channel-row and vector fixes in :mod:`mirnet_cli.models.common`: the bundled n_feat 16 models (0.24 M
#:   parameters) 1.16x at 256² (denoise and low light, 7-11 alternating runs) and 1.24x at 512² (0.81x before the
#:   fixes); random-weight widths n_feat 32 (0.94 M) 1.61x, n_feat 48 (2.1 M) 2.14x, n_feat 80 (5.86 M, the
#:   official networks) 2.38-2.75x. Smaller models than the bundled ones were not measured: they stay fp32.
#: * ``avx512_bf16`` without AMX: AMD EPYC (Zen 5) per issue 21 and the README's earlier table (measured there,
#:   not on this machine): MIRNet-v2 (5.86 M) bf16 1.6-1.7x faster than fp32, the bundled n_feat 16 models 0.8x
#:   (slower). Nothing between was measured on such a CPU, so the threshold admits the official networks (5.86 M;
#:   MIRNet v1 31.8 M) and nothing near the bundled size. (This Xeon with AMX switched off,
#:   ``ONEDNN_MAX_CPU_ISA=AVX512_CORE_BF16``, before the fixes, ran bf16 at 0.61-0.97x of fp32 for n_feat 16-80,
#:   and fp32 itself 1.5x slower than with AMX on: oneDNN's capped
#:   kernels there are no stand-in for Zen's.)
#:
#: CPUs without either (AVX2 only) emulate bf16 some 500x slower: never bf16 there.
BF16_MIN_PARAMETERS = {"amx": 200_000, "avx512_bf16": 4_000_000}


def cpu_bf16_choice(parameters: int | None, supports_bf16: bool = True) -> tuple[bool, str]:
    """Whether ``--precision auto`` runs a model of ``parameters`` in bf16 on this CPU, and why (a few words).

    ``parameters`` None (unknown) counts as a large model. See :data:`BF16_MIN_PARAMETERS` for the rule and its
    measurements.
    """
    if not supports_bf16:
        return False, "fp32 (the model's facts rule bf16 out)"
    if not cpu_has_native_bf16():
        return False, "fp32 (this CPU has no native bf16: no AVX512-BF16 or AMX, bf16 would be emulated ~500x slower)"
    kind, isa = ("amx", "AMX present") if cpu_has_amx() else ("avx512_bf16", "AVX512-BF16 without AMX")
    threshold = BF16_MIN_PARAMETERS[kind]
    if parameters is None or parameters >= threshold:
        size = "" if parameters is None else f", {parameters / 1e6:.2f} M parameters >= {threshold / 1e6:.1f} M"
        return True, f"bf16 ({isa}{size}: measured faster than fp32)"
    return False, (f"fp32 ({isa}, but at {parameters / 1e6:.2f} M parameters < {threshold / 1e6:.1f} M bf16 was "
                   "not measured faster than fp32)")


def auto_precision(device: torch.device | str, supports_half: bool = True, supports_bf16: bool = False,
                   parameters: int | None = None) -> tuple[torch.dtype, str]:
    """What ``--precision auto`` picks on ``device`` for a model, and the reason (``mirnet benchmark --speed``)."""
    kind = torch.device(device).type
    if kind == "cuda":
        return (torch.float16, "fp16 (CUDA autocast)") if supports_half else (
            torch.float32, "fp32 (the model's facts rule fp16 out)")
    if kind == "cpu":
        use, reason = cpu_bf16_choice(parameters, supports_bf16)
        return (torch.bfloat16 if use else torch.float32), reason
    return torch.float32, f"fp32 (the default on {kind})"


def resolve_precision(
    spec: str | torch.dtype, device: torch.device | str, supports_half: bool = True, supports_bf16: bool = False,
    parameters: int | None = None,
) -> torch.dtype:
    """Choose the compute dtype for ``device``.

    Args:
        spec: ``auto|fp32|fp16|bf16`` (or a ``torch.dtype``).
        device: the device from :func:`resolve_device`.
        supports_half: False when the model is known to misbehave in fp16 (a model may declare
            ``supports_half = False``); then ``auto`` picks fp32 on CUDA. An explicit ``fp16`` is still
            honoured; the engine's NaN guard recomputes broken tiles in fp32.
        supports_bf16: True when the model's output in bf16 is known to stay close to fp32 (its facts say so,
            from measurements on real photos); only then may ``auto`` pick bf16 on the CPU.
        parameters: the model's parameter count, for the CPU's bf16 rule (None: a large model).

    Returns:
        ``auto``: fp16 on CUDA (fp32 if ``supports_half`` is False); on the CPU bf16 when it runs bf16 natively,
        the model ``supports_bf16`` and is large enough for bf16 to have been measured faster there
        (:func:`cpu_bf16_choice`, :data:`BF16_MIN_PARAMETERS`), else fp32; fp32 on MPS.

    Raises:
        MirnetError: fp16 on the CPU; bf16 on a CUDA GPU without bf16 support, on a CPU without native
            bf16 (see :func:`cpu_has_native_bf16`) or on MPS.
    """
    device = torch.device(device)
    name = parse_precision(spec)
    kind = device.type
    if name == "auto":
        return auto_precision(device, supports_half, supports_bf16, parameters)[0]
    if name == "fp32":
        return torch.float32
    if name == "fp16":
        if kind == "cpu":
            raise MirnetError("fp16 is not supported on the CPU; use --precision fp32")
        return torch.float16
    # bf16
    if kind == "cuda":
        if not torch.cuda.is_bf16_supported():
            raise MirnetError("bf16 is not supported on this GPU; use --precision fp16 or fp32")
        return torch.bfloat16
    if kind == "cpu":
        if not cpu_has_native_bf16():
            raise MirnetError(
                "bf16 on this CPU has no native support (no avx512_bf16/amx_bf16) and runs ~500x slower "
                "than fp32; use --precision fp32"
            )
        return torch.bfloat16
    raise MirnetError(f"bf16 is not supported on {kind}; use --precision fp16 or fp32")
