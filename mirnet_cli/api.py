"""The high-level Python call: restore one image of any size, as the commands do.

The networks need sizes that are multiples of their ``size_multiple`` (4 for MIRNet / MIRNet-v2), and a large
photo does not fit through them in one piece; calling ``model(x)`` directly fails on such sizes. The engine
(:class:`~mirnet_cli.engine.inference.InferenceEngine`) reflect-pads, tiles with seamless blending when needed,
backs off on out-of-memory and clamps; :func:`restore_image` wraps it for one image.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["restore_image"]


def restore_image(model: Any, image: np.ndarray, *, device: str = "auto", precision: str = "auto",
                  tile: str | int = "auto", tile_overlap: int = 32) -> np.ndarray:
    """Restore ``image`` (any size) with ``model``: pad, tile, run, crop and clamp, like ``mirnet restore``.

    Args:
        model: a network from :func:`mirnet_cli.load_model` / :func:`mirnet_cli.build_model`, or anything
            ``load_model`` accepts (a file, folder, registry name, ``hf://…`` or URL).
        image: ``H x W x C`` (or ``H x W``) array: uint8 (0-255), uint16 (0-65535) or float in [0, 1]; C is the
            model's input channels (3, or 6 = left‖right views for dual-pixel deblurring).
        device, precision, tile, tile_overlap: as the commands' options (``auto`` picks CUDA > MPS > CPU, fp16
            on CUDA with an fp32 guard; tiles only when the image does not fit in memory).

    Returns:
        The restored image, same height and width, in the input's dtype and range (float32 for float input).
        Super-resolution models keep the size: upsample first (``mirnet_cli.restore.tasks.upsample_bicubic``).

    For many images, make the engine once: ``InferenceEngine(model, device=…).restore(float_image)``.
    """
    from .engine.inference import InferenceEngine

    if isinstance(model, (str, bytes)) or hasattr(model, "__fspath__"):
        from .loading.checkpoint import load_model

        model = load_model(model)
    array = np.asarray(image)
    if array.dtype == np.uint8:
        scale = 255.0
    elif array.dtype == np.uint16:
        scale = 65535.0
    elif array.dtype.kind == "f":
        scale = None
    else:
        raise ValueError(f"image must be uint8, uint16 or float in [0, 1], got {array.dtype}")
    pixels = array.astype(np.float32) / scale if scale else array.astype(np.float32, copy=False)
    engine = InferenceEngine(model, device=device, precision=precision, tile=tile, tile_overlap=tile_overlap)
    out = engine.restore(pixels)
    if scale is None:
        return out
    return np.round(out * scale).astype(array.dtype)
