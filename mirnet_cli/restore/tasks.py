"""What each restoration command does to an image before and after the network."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class TaskSpec:
    """One restoration task.

    Attributes:
        key: registry task key (``denoise``, ``enhance:lowlight``, ``super-resolve:x4``, ``deblur`` …).
        label: short name used for default output folders (``mirnet-<label>``) and messages.
        scale: super-resolution factor; the released SR nets keep the input size, so the image is bicubically
            upsampled by ``scale`` first and the network restores the detail.
        dual_pixel: the network takes the left and right views stacked (6 channels, left first).
    """

    key: str
    label: str
    scale: int = 1
    dual_pixel: bool = False

    def prepare(self, pixels: np.ndarray) -> np.ndarray:
        """Input pixels (H×W×3 float32 in [0,1]) → network input (upsampled for SR)."""
        if self.scale == 1:
            return pixels
        return upsample_bicubic(pixels, self.scale)


def upsample_bicubic(pixels: np.ndarray, scale: int) -> np.ndarray:
    """Bicubic ×scale (OpenCV INTER_CUBIC, a = -0.75), clipped to [0,1]."""
    import cv2

    h, w = pixels.shape[:2]
    out = cv2.resize(pixels, (w * scale, h * scale), interpolation=cv2.INTER_CUBIC)
    return np.clip(out, 0.0, 1.0).astype(np.float32, copy=False)


def task_for(command: str, *, task: str | None = None, scale: int | None = None) -> TaskSpec:
    """The :class:`TaskSpec` for a command name and its options."""
    if command == "denoise":
        return TaskSpec("denoise", "denoise")
    if command == "enhance":
        t = (task or "lowlight").lower()
        if t not in ("lowlight", "contrast"):
            raise ValueError(f"--task must be lowlight or contrast, not {task!r}")
        return TaskSpec(f"enhance:{t}", t)
    if command == "super-resolve":
        if scale not in (2, 3, 4):
            raise ValueError(f"--scale must be 2, 3 or 4, not {scale}")
        return TaskSpec(f"super-resolve:x{scale}", f"x{scale}", scale=scale)
    if command == "deblur":
        return TaskSpec("deblur", "deblur", dual_pixel=True)
    if command == "restore":
        key = task or "restore"
        return TaskSpec(key, key.replace(":", "-"))
    raise ValueError(f"unknown command {command!r}")
