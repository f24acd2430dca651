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

    def check(self, pixels: np.ndarray) -> str | None:
        """Why this task should not run on ``pixels`` (``--force`` overrides), or ``None``.

        Low-light enhancement brightens whatever it is given, so a photo that is already well exposed comes out
        blown out: such a photo (mean luminance above :data:`WELL_EXPOSED_LUMA`) is skipped with the reason.
        """
        if self.key != "enhance:lowlight":
            return None
        luma = mean_luminance(pixels)
        if luma > WELL_EXPOSED_LUMA:
            return (f"looks well exposed (mean brightness {luma:.2f} > {WELL_EXPOSED_LUMA}); low-light enhancement "
                    "would blow it out (--force to process anyway)")
        return None

    def prepare(self, pixels: np.ndarray) -> np.ndarray:
        """Input pixels (H×W×3 float32 in [0,1]) → network input (upsampled for SR)."""
        if self.scale == 1:
            return pixels
        return upsample_bicubic(pixels, self.scale)


#: Mean Rec. 709 luminance (of the stored sRGB values in [0, 1]) above which a photo is taken as well exposed.
#: Measured with the same formula: the 15 LoL low-light inputs have means 0.025-0.098; well-exposed photos (Kodak,
#: Set14, McMaster, FiveK inputs, the LoL normal-light targets) 0.17-0.77, median about 0.43.
WELL_EXPOSED_LUMA = 0.25


def mean_luminance(pixels: np.ndarray) -> float:
    """Mean of ``0.2126 R + 0.7152 G + 0.0722 B`` over an ``H x W x 3`` image in [0, 1]."""
    weights = np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)
    step = max(1, int((pixels.shape[0] * pixels.shape[1] / 1e6) ** 0.5))  # subsample big photos: a mean is enough
    return float((pixels[::step, ::step, :3] @ weights).mean())


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


#: Short spellings accepted in a ``--task`` chain, with the registry key they stand for.
_ALIASES = {"lowlight": "enhance:lowlight", "contrast": "enhance:contrast", "super-resolve": "super-resolve:x4",
            "x2": "super-resolve:x2", "x3": "super-resolve:x3", "x4": "super-resolve:x4"}


def task_for_key(key: str, known: list[str]) -> TaskSpec:
    """The :class:`TaskSpec` for a registry task key, as its own command would run it.

    ``denoise``, ``enhance:lowlight`` (or ``lowlight``), ``enhance:contrast``, ``super-resolve:xN`` (or ``xN``)
    and any other key in ``known`` (the registry's task keys, e.g. ``oldphoto``).

    Raises:
        ValueError: an unknown key, with the known ones.
    """
    text = _ALIASES.get(key.strip().lower(), key.strip().lower())
    if text not in known:
        raise ValueError(f"unknown task {key.strip()!r} (tasks: {', '.join(sorted(set(known) | set(_ALIASES)))})")
    if text == "denoise":
        return task_for("denoise")
    if text.startswith("enhance:"):
        return task_for("enhance", task=text.split(":", 1)[1])
    if text.startswith("super-resolve:x") and text[len("super-resolve:x"):].isdigit():
        return task_for("super-resolve", scale=int(text[len("super-resolve:x"):]))
    if text == "deblur":
        return task_for("deblur")
    return task_for("restore", task=text)


def parse_chain(text: str, known: list[str]) -> list[TaskSpec]:
    """``"denoise,super-resolve:x2"`` → the steps, in order (see :func:`task_for_key`).

    Raises:
        ValueError: an unknown or empty step, or dual-pixel deblurring (it needs two views) in a chain.
    """
    tokens = [t.strip() for t in text.split(",")]
    if not tokens or any(not t for t in tokens):
        raise ValueError(f"--task {text!r}: give task keys separated by commas, e.g. denoise,super-resolve:x2")
    steps = [task_for_key(t, known) for t in tokens]
    if len(steps) > 1 and any(s.dual_pixel for s in steps):
        raise ValueError("deblur takes two dual-pixel views and cannot be chained; run `mirnet deblur` first")
    return steps


def chain_label(steps: list[TaskSpec]) -> str:
    """Folder label of a chain: ``denoise+x2``."""
    return "+".join(s.label for s in steps)
