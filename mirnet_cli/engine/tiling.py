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
    "MIN_TILE",
    "GridAccumulator",
    "blend_window",
    "crop_padding",
    "edge_ramp",
    "fit_tile",
    "parse_tile",
    "plan_tiles",
    "reflect_pad_to_multiple",
]

#: Smallest tile side accepted (pixels). Below it the network's receptive field is mostly padding and a photo
#: would need millions of passes (``--tile 3`` planned 961 passes for a 64² image).
MIN_TILE = 64


def parse_tile(spec: str | int, minimum: int = MIN_TILE) -> str | int:
    """Parse a ``--tile`` value: ``"auto"``, ``0`` (the whole image in one pass) or a side of at least
    ``minimum`` (:data:`MIN_TILE`) pixels.

    Raises:
        ValueError: with a one-line message naming the value and what is accepted.
    """
    if isinstance(spec, str):
        text = spec.strip().lower()
        if text == "auto":
            return "auto"
        if not text.lstrip("-").isdigit():
            raise ValueError(f"invalid tile size {spec!r}; use auto, 0 (whole image) or a number of pixels >= {minimum}")
        spec = int(text)
    tile = int(spec)
    if tile < 0:
        raise ValueError(f"tile size must be >= 0 (0 = whole image), got {tile}")
    if 0 < tile < minimum:
        raise ValueError(f"tile size {tile} is too small: use at least {minimum} pixels, 0 (whole image) or auto")
    return tile


def fit_tile(length: int, max_tile: int, overlap: int, multiple: int = 1) -> int:
    """The smallest tile that covers ``length`` with as few tiles as ``max_tile`` needs (count first, then size).

    With ``n = ceil((length - overlap) / (max_tile - overlap))`` tiles, the tile is
    ``ceil((length + (n - 1) overlap) / n)`` rounded up to ``multiple`` (never above ``max_tile``), so the
    tiles overlap by about ``overlap`` instead of by whatever ``max_tile`` leaves over: e.g. a 1024-pixel axis
    with ``max_tile`` 512 and overlap 32 gets 3 tiles of 364 rather than 3 tiles of 512. This is chaiNNer's rule.
    """
    if max_tile >= length:
        return length
    step = max_tile - overlap
    if step <= 0:
        raise ValueError(f"tile overlap ({overlap}) must be smaller than the tile ({max_tile})")
    n = math.ceil((length - overlap) / step)
    tile = math.ceil((length + (n - 1) * overlap) / n)
    tile += (-tile) % multiple
    return min(tile, max_tile - max_tile % multiple if max_tile >= multiple else max_tile)


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


class GridAccumulator:
    """Blends the outputs of a product grid of tiles (row starts × column starts), on the CPU in float32.

    Every tile's window is separable, ``w(y, x) = wy_i(y) wx_j(x)`` (:func:`edge_ramp` per axis), so the total
    weight is separable too, ``W(y, x) = (sum_i wy_i(y)) (sum_j wx_j(x))``: the accumulator keeps the weighted
    sum ``[N, C, H, W]`` and two 1-D weight sums instead of a full weight map. Peak device memory stays one tile
    batch, independent of the image size.

    Args:
        batch, channels, height, width: the (padded) output size.
        rows, cols: tile start offsets along each axis (from :func:`plan_tiles`).
        tile_h, tile_w: tile size.
        overlap: ramp length at interior edges (see :func:`edge_ramp`).
    """

    def __init__(self, batch: int, channels: int, height: int, width: int, rows: list[int], cols: list[int],
                 tile_h: int, tile_w: int, overlap: int):
        self.sum = torch.zeros(batch, channels, height, width, dtype=torch.float32)
        self.wy = [edge_ramp(tile_h, overlap, y > 0, y + tile_h < height) for y in rows]
        self.wx = [edge_ramp(tile_w, overlap, x > 0, x + tile_w < width) for x in cols]
        self.norm_y = torch.zeros(height, dtype=torch.float32)
        self.norm_x = torch.zeros(width, dtype=torch.float32)
        for y, w in zip(rows, self.wy, strict=True):
            self.norm_y[y : y + tile_h] += w
        for x, w in zip(cols, self.wx, strict=True):
            self.norm_x[x : x + tile_w] += w
        if bool((self.norm_y <= 0).any()) or bool((self.norm_x <= 0).any()):
            raise RuntimeError("some pixels are not covered by any tile")  # a planning bug, not user error
        self.rows, self.cols, self.tile_h, self.tile_w = rows, cols, tile_h, tile_w

    def add(self, out: torch.Tensor, row: int, col: int) -> None:
        """Accumulate tile ``(row, col)``'s output ``[N, C, tile_h, tile_w]`` (any dtype/device)."""
        y, x = self.rows[row], self.cols[col]
        out = out.detach().to(device="cpu", dtype=torch.float32)
        window = self.wy[row][:, None] * self.wx[col][None, :]
        self.sum[..., y : y + self.tile_h, x : x + self.tile_w].addcmul_(out, window)

    def result(self) -> torch.Tensor:
        """The blended image ``[N, C, H, W]`` (float32, CPU); the sum is normalised in place, band by band."""
        inv_x = 1.0 / self.norm_x
        for start in range(0, self.sum.shape[-2], 256):  # bands keep the temporary weight map small
            band = slice(start, start + 256)
            self.sum[..., band, :].mul_((1.0 / self.norm_y[band])[:, None] * inv_x[None, :])
        return self.sum
