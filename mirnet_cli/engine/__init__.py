"""Inference engine: device and precision, memory plan, padding, tiling with blending and global context, OOM
back-off, reduced-precision guard.

Names are imported lazily so that ``import mirnet_cli.engine`` does not import torch.

Public API::

    InferenceEngine(model, device="auto", precision="auto", tile="auto", tile_overlap=32,
                    context="auto", max_memory=None)
        .run(x: Tensor[N,C,H,W], progress=None) -> Tensor[N,C_out,H,W]   (float32, CPU, not clamped)
        .restore(img: ndarray[H,W,C], progress=None) -> ndarray[H,W,C_out] (float32, clamped to [0, 1])
        .plan(H, W) -> Plan   (whole or tiles, batch, context copy: what --verbose reports)
    resolve_device(spec) -> torch.device
    resolve_precision(spec, device, supports_half=True, supports_bf16=False, parameters=None) -> torch.dtype
    auto_precision(device, supports_half, supports_bf16, parameters) -> (torch.dtype, reason)
        (the CPU's bf16 rule: BF16_MIN_PARAMETERS; InferenceEngine.precision_reason)
"""

from __future__ import annotations

_EXPORTS = {
    "InferenceEngine": "inference",
    "Plan": "plan",
    "is_oom_error": "inference",
    "GlobalContext": "global_context",
    "CONTEXT_MODES": "global_context",
    "available_memory_bytes": "memory",
    "estimate_bytes_per_pixel": "memory",
    "parse_size": "memory",
    "cpu_has_amx": "cpu",
    "tune_allocator": "cpu",
    "PrecisionFallbackWarning": "device",
    "BF16_MIN_PARAMETERS": "device",
    "auto_precision": "device",
    "cpu_has_native_bf16": "cpu",
    "parse_precision": "device",
    "resolve_device": "device",
    "resolve_precision": "device",
    "blend_window": "tiling",
    "crop_padding": "tiling",
    "fit_tile": "tiling",
    "parse_tile": "tiling",
    "plan_tiles": "tiling",
    "reflect_pad_to_multiple": "tiling",
    "GridAccumulator": "tiling",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        import importlib

        module = importlib.import_module(f".{_EXPORTS[name]}", __name__)
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
