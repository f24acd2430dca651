"""Before/after sheets (``--compare``): the input and the output side by side in one JPEG.

The input is resized (bicubic) to the output's size, so super-resolution is compared at the same scale; both
panels are then scaled down together when they would be wider than :data:`MAX_PANEL_WIDTH`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

#: Widest panel written; wider images are scaled down (area averaging) so a sheet stays a reasonable file.
MAX_PANEL_WIDTH = 2048
#: Grey gap between the panels, in pixels.
GAP = 8


def compare_sheet(before: np.ndarray, after: np.ndarray, labels: tuple[str, str] = ("input", "output")) -> np.ndarray:
    """``H x (2W + GAP) x 3`` uint8: ``before`` | ``after``, each labelled in its top-left corner.

    Args:
        before: the input, ``h x w x 3`` float in [0, 1] (any size: resized to ``after``'s).
        after: the output, ``H x W x 3`` float in [0, 1].
        labels: the two captions.
    """
    import cv2

    height, width = after.shape[:2]
    before = np.asarray(before, dtype=np.float32)[..., :3]
    after = np.asarray(after, dtype=np.float32)[..., :3]
    if before.shape[:2] != (height, width):
        before = cv2.resize(before, (width, height), interpolation=cv2.INTER_CUBIC)
    if width > MAX_PANEL_WIDTH:
        size = (MAX_PANEL_WIDTH, max(1, round(height * MAX_PANEL_WIDTH / width)))
        before = cv2.resize(before, size, interpolation=cv2.INTER_AREA)
        after = cv2.resize(after, size, interpolation=cv2.INTER_AREA)
    panels = [_label(np.round(np.clip(p, 0.0, 1.0) * 255).astype(np.uint8), text)
              for p, text in zip((before, after), labels, strict=True)]
    gap = np.full((panels[0].shape[0], GAP, 3), 128, dtype=np.uint8)
    return np.concatenate([panels[0], gap, panels[1]], axis=1)


def _label(panel: np.ndarray, text: str) -> np.ndarray:
    """Write ``text`` in white on a dark box in the uint8 panel's top-left corner (skipped on tiny panels)."""
    import cv2

    height, width = panel.shape[:2]
    scale = max(0.4, min(width, height) / 800)
    (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    if tw + 12 > width or th + base + 12 > height:
        return panel
    panel = np.ascontiguousarray(panel)
    box = panel[: th + base + 10, : tw + 12]
    box[:] = (box * 0.35).astype(np.uint8)
    cv2.putText(panel, text, (6, th + 5), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1, cv2.LINE_AA)
    return panel


def write_compare_sheet(path: str | Path, before: np.ndarray, after: np.ndarray, *,
                        icc_profile: bytes | None = None, quality: int = 90) -> Path:
    """Write :func:`compare_sheet` as an 8-bit JPEG (atomically; with the photo's ICC profile)."""
    from ..io.images import write_image

    sheet = compare_sheet(before, after).astype(np.float32) / 255.0  # exact on the 8-bit write
    return write_image(Path(path), sheet, bit_depth=8, icc_profile=icc_profile, jpeg_quality=quality)
