"""Padding, tile planning and seamless blending.

MIRNet and MIRNet-v2 need the spatial size to be a multiple of 4 (their downsampling pyramid), so an
image is reflect-padded on the bottom and right first and the output is cropped back, exactly as the
authors' demo does. Large images are then split into overlapping tiles of one size, and the tile outputs
are blended with a smooth window so that no seams appear.

Blending: each tile output ``y_t`` gets a weight ``w_t(p)``; the result is
``y(p) = sum_t w_t(p) y_t(p) / sum_t w_t(p)``. The window (:func:`blend_window`) is 1 inside the tile and
at edges that lie on the image border, and at each *interior* edge it is 0 on a thin margin (the pixels
that saw the tile's artificial zero-padded border) followed by a raised-cosine ramp. For two neighbours
overlapping by exactly ``overlap`` pixels the two ramps sum to 1, and in general the normalisation
above makes any overlap work. Every pixel has a strictly positive weight sum, see :func:`edge_ramp`.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

__all__ = [
    "TileAccumulator",
    "blend_window",
    "crop_padding",
    "edge_ramp",
    "plan_tiles",
    "reflect_pad_to_multiple",
]


def reflect_pad_to_multiple(x: torch.Tensor, multiple: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """Pad ``x`` ([N, C, H, W]) on the bottom and right so that H and W are multiples of ``multiple``.

    Uses reflection (like the MIRNet-v2 demo). Reflection needs the pad to be smaller than the dimension;
    for tiny images where it is not, that axis falls back to edge replication.

    Returns:
        ``(padded, (pad_h, pad_w))``; undo with :func:`crop_padding`.
    """
    if multiple < 1:
        raise ValueError(f"multiple must be >= 1, got {multiple}")
    h, w = x.shape[-2:]
    pad_h = (-h) % multiple
    pad_w = (-w) % multiple
    # Pad each axis on its own so that one tiny axis does not force replication on the other.
    if pad_w:
        x = F.pad(x, (0, pad_w, 0, 0), mode="reflect" if pad_w < w else "replicate")
    if pad_h:
        x = F.pad(x, (0, 0, 0, pad_h), mode="reflect" if pad_h < h else "replicate")
    return x, (pad_h, pad_w)


def crop_padding(y: torch.Tensor, pads: tuple[int, int]) -> torch.Tensor:
    """Remove bottom/right padding added by :func:`reflect_pad_to_multiple`."""
    pad_h, pad_w = pads
    h, w = y.shape[-2:]
    return y[..., : h - pad_h, : w - pad_w]


def plan_tiles(length: int, tile: int, overlap: int, multiple: int = 1) -> list[int]:
    """Start offsets of equally sized tiles covering ``[0, length)`` along one axis.

    All tiles have size ``t = min(tile, length)``: no thin last tile. ``tile`` is first rounded down to a
    multiple of ``multiple`` (at least ``multiple``). The count is the smallest
    ``n = ceil((length - overlap) / (t - overlap))`` that covers the axis with at least ``overlap`` pixels
    shared between neighbours, and the starts are spread evenly, ``s_i = round(i (length - t) / (n - 1))``,
    rounded to multiples of ``multiple`` (so every tile sees the same downsampling grid as the whole image;
    ``n`` grows if that rounding would shrink an overlap; starts are not aligned when ``t - overlap <
    multiple``). The last tile ends exactly at ``length``.

    Args:
        length: axis length; should already be a multiple of ``multiple`` (pad first).
        tile: requested tile size.
        overlap: minimum overlap between neighbouring tiles; must be smaller than the tile.
        multiple: alignment of tile sizes and starts.

    Returns:
        Sorted start offsets; ``[0]`` when one tile covers the axis.
    """
    if length < 1:
        raise ValueError(f"length must be >= 1, got {length}")
    if multiple < 1:
        raise ValueError(f"multiple must be >= 1, got {multiple}")
    t = max(multiple, tile - tile % multiple)
    if t >= length:
        return [0]
    overlap = max(0, overlap)
    if overlap >= t:
        raise ValueError(f"tile overlap ({overlap}) must be smaller than the tile ({t})")
    span = length - t  # the last start
    # Align starts to `multiple` unless the allowed step is finer than that.
    align = multiple if t - overlap >= multiple else 1
    n = max(2, math.ceil((length - overlap) / (t - overlap)))
    while True:
        starts = [round(i * span / (n - 1) / align) * align for i in range(n)]
        starts[-1] = span  # exact end even if length is not aligned
        starts = sorted(set(starts))
        steps = [b - a for a, b in zip(starts, starts[1:], strict=False)]
        if max(steps) <= t - overlap:
            return starts
        n += 1  # rounding widened a step beyond the overlap; use one more tile


def edge_ramp(
    size: int, overlap: int, ramp_start: bool, ramp_end: bool, margin: int | None = None
) -> torch.Tensor:
    """1-D blending profile of length ``size`` (float32).

    At an edge with a ramp, with distance ``i`` from the edge (0 at the outermost pixel), margin
    ``m = overlap // 4`` (if not given) and ramp length ``r = overlap - 2m``:

    * ``w(i) = 0`` for ``i < m`` (pixels that are unreliable because the tile's border is artificial),
    * ``w(i) = 1/2 - 1/2 cos(pi (i - m + 1/2) / r)`` for ``m <= i < m + r`` (raised cosine, never 0),
    * ``w(i) = 1`` further in.

    The mirrored ramp of a neighbour overlapping by exactly ``overlap`` is ``1 - w``, so the weights sum
    to 1. For any overlap ``>= overlap`` every pixel lies at distance ``>= m`` from the interior edges of at
    least one tile (the tile with the largest start ``<= p - m``), so the weight sum is positive.
    Edges without a ramp (image border) have weight 1 up to the edge.
    """
    weight = torch.ones(size, dtype=torch.float32)
    if overlap <= 0:
        return weight
    m = overlap // 4 if margin is None else margin
    m = max(0, min(m, (overlap - 1) // 2))
    r = overlap - 2 * m
    i = torch.arange(size, dtype=torch.float64)
    ramp = torch.ones(size, dtype=torch.float64)
    inside = (i >= m) & (i < m + r)
    ramp[inside] = 0.5 - 0.5 * torch.cos(math.pi * (i[inside] - m + 0.5) / r)
    ramp[i < m] = 0.0
    ramp = ramp.float()
    if ramp_start:
        weight = torch.minimum(weight, ramp)
    if ramp_end:
        weight = torch.minimum(weight, ramp.flip(0))
    return weight


def blend_window(
    h: int,
    w: int,
    overlap: int,
    *,
    top: bool = True,
    bottom: bool = True,
    left: bool = True,
    right: bool = True,
    margin: int | None = None,
) -> torch.Tensor:
    """Separable 2-D blending window ``[h, w]`` (float32): ``edge_ramp(h) ⊗ edge_ramp(w)``.

    ``top/bottom/left/right`` say whether that edge is *interior* (shared with a neighbouring tile, so it
    gets a ramp); edges on the image border must be False so that they keep weight 1.
    """
    wy = edge_ramp(h, overlap, top, bottom, margin)
    wx = edge_ramp(w, overlap, left, right, margin)
    return wy[:, None] * wx[None, :]


class TileAccumulator:
    """Weighted sum of tile outputs, kept on the CPU in float32 whatever the compute device.

    Peak device memory is then one tile, independent of the image size. ``add`` accepts a tile output
    of any dtype/device; ``result`` returns ``sum(w y) / sum(w)``.
    """

    def __init__(self, batch: int, channels: int, height: int, width: int):
        self.sum = torch.zeros(batch, channels, height, width, dtype=torch.float32)
        self.weight = torch.zeros(1, 1, height, width, dtype=torch.float32)

    def add(self, out: torch.Tensor, top: int, left: int, window: torch.Tensor) -> None:
        """Accumulate ``out`` ([N, C, h, w]) at ``(top, left)`` with weight ``window`` ([h, w])."""
        h, w = out.shape[-2:]
        out = out.detach().to(device="cpu", dtype=torch.float32)
        window = window.to(device="cpu", dtype=torch.float32)
        self.sum[..., top : top + h, left : left + w].addcmul_(out, window)
        self.weight[..., top : top + h, left : left + w].add_(window)

    def result(self) -> torch.Tensor:
        """The blended image [N, C, H, W] float32 on the CPU."""
        if bool((self.weight <= 0).any()):
            raise RuntimeError("some pixels were not covered by any tile")  # a planning bug, not user error
        return self.sum / self.weight
