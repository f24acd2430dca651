"""Inference engine: device and precision choice, padding, tiling with blending, OOM back-off, fp16 guard.

Names are imported lazily so that ``import mirnet_cli.engine`` does not import torch.

Public API::

    InferenceEngine(model, device="auto", precision="auto", tile="auto", tile_overlap=32, progress=False)
        .run(x: Tensor[N,C,H,W]) -> Tensor[N,C_out,H,W]   (float32, CPU, not clamped)
        .restore(img: ndarray[H,W,C]) -> ndarray[H,W,C_out] (float32, clamped to [0, 1])
    resolve_device(spec) -> torch.device
    resolve_precision(spec, device, supports_half=True) -> torch.dtype
"""

from __future__ import annotations

_EXPORTS = {
    "InferenceEngine": "inference",
    "available_memory_bytes": "inference",
    "estimate_bytes_per_pixel": "inference",
    "is_oom_error": "inference",
    "DeviceFallbackWarning": "device",
    "PrecisionFallbackWarning": "device",
    "cpu_has_native_bf16": "device",
    "parse_precision": "device",
    "resolve_device": "device",
    "resolve_precision": "device",
    "blend_window": "tiling",
    "crop_padding": "tiling",
    "plan_tiles": "tiling",
    "reflect_pad_to_multiple": "tiling",
    "TileAccumulator": "tiling",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        import importlib

        module = importlib.import_module(f".{_EXPORTS[name]}", __name__)
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
