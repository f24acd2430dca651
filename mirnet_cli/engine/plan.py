"""The plan of one image: whole or tiles (count first, then size), tile batch, and the copies that give tiles
their global context; and the out-of-memory back-off that shrinks it. Pure arithmetic on the memory figures.

:class:`TilePlanner` is the planning half of :class:`~.inference.InferenceEngine`, which supplies the memory
budget (``_budget``) and the settings it reads.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from ..errors import MirnetError
from ..models.facts import ModelFacts
from .memory import estimate_bytes_per_pixel, format_size
from .tiling import fit_tile, parse_tile, plan_tiles

#: ``fast`` context: the global vectors of two copies of the image, downscaled 4× and 6× per side (9% extra
#: compute, so that with the tiles' overlap a big photo computes at most ~1.15 pixels per output pixel),
#: extrapolated linearly in the scale to 1× (see :func:`.inference.extrapolate_vectors`). Tiled-vs-whole PSNR, tiles of 256,
#: on small photos (the harshest case: a 600×400 LoL photo's 6× copy is 100×67): the retrained bundled low-light
#: model on the five held-back LoL photos, 3×+5× 42.3-47.3 dB (15%), 4×+6× 41.9-50.8 dB (9%), 4×+7× 42.1-51.7
#: (8%), 3.5×+6× 42.0-49.5 (11%); the bundled denoiser on SIDD crops 0, 1, 3: 59.7-62.0 / 58.7-61.0 / 58.5-60.8 /
#: 59.1-61.3. The previous low-light model: the 3× copy alone 38.9-48.4 dB, 3×+5× 45.2-50.1, 4×+6× 42.7-49.0; the
#: whole image's vectors 66-77 dB; no context (each tile its own) 20-34 dB.
FAST_CONTEXT_SCALES = (4.0, 6.0)

#: Largest tile batch; more brings nothing on a GPU already fed ~16 tiles of 256² and only costs memory.
MAX_TILE_BATCH = 16


@dataclass
class Plan:
    """How one image is run: what ``--verbose`` and ``--json`` report.

    ``tile_h``/``tile_w`` are 0 when the image runs whole. ``computed_ratio`` is the number of pixels the model
    processes (tiles, overlaps, the context copy) per output pixel.
    """

    height: int
    width: int
    images: int = 1  # N of the [N, C, H, W] input
    tile_h: int = 0
    tile_w: int = 0
    rows: int = 1
    cols: int = 1
    overlap: int = 0
    batch: int = 1
    context: str = "none"  # none | fast | full | tile
    context_scales: tuple[float, ...] = ()  # downscale of each context copy (1 = the whole image)
    budget_bytes: int = 0
    bytes_per_pixel: float = 0.0
    backend: str = "torch"

    @property
    def tiled(self) -> bool:
        return self.tile_h > 0

    @property
    def tiles(self) -> int:
        return self.rows * self.cols if self.tiled else 1

    @property
    def computed_ratio(self) -> float:
        out = self.height * self.width
        work = self.tiles * self.tile_h * self.tile_w if self.tiled else out
        work += sum(out / s**2 for s in self.context_scales)
        return work / out

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.update(tiles=self.tiles, computed_ratio=round(self.computed_ratio, 4))
        return d

    def _describe_context(self) -> str:
        scales = self.context_scales
        if scales == (1.0,):
            return f"global context from the whole image ({self.context})"
        copies = " and ".join(f"{s:.3g}x" for s in scales)
        how = "extrapolated from copies downscaled" if len(scales) > 1 else "from a copy downscaled"
        return f"global context {how} {copies} ({self.context})"

    def describe(self) -> str:
        """One line for ``--verbose``."""
        via = "" if self.backend == "torch" else f", {self.backend}"
        if not self.tiled:
            return (f"whole image {self.width}x{self.height} in one pass (memory budget "
                    f"{format_size(self.budget_bytes)}{via})")
        ctx = {
            "none": "no global context needed",
            "tile": "each tile its own global context",
        }.get(self.context, self._describe_context())
        return (f"{self.tiles} tiles of {self.tile_w}x{self.tile_h} ({self.cols}x{self.rows}), overlap {self.overlap}, "
                f"batch {self.batch}, {ctx}; {self.computed_ratio:.3f} pixels computed per output pixel "
                f"(memory budget {format_size(self.budget_bytes)}{via})")


class TilePlanner:
    """Plans images for :class:`~.inference.InferenceEngine` from its settings and its memory budget."""

    device: torch.device
    dtype: torch.dtype
    facts: ModelFacts
    size_multiple: int
    min_tile: int
    tile: str | int
    tile_overlap: int
    context: str
    backend: str
    _source_model: nn.Module

    def _budget(self, pixels: int, channels_in: int, channels_out: int) -> int:
        raise NotImplementedError  # the engine's: bytes for one tile batch's activations

    def _round_tile(self, tile: int) -> int:
        m = self.size_multiple
        return max(m, tile - tile % m)

    def _parse_tile(self, tile: str | int) -> str | int:
        try:
            parsed = parse_tile(tile, minimum=self.min_tile)
        except ValueError as exc:
            raise MirnetError(str(exc)) from None
        return parsed if parsed in ("auto", 0) else self._round_tile(int(parsed))

    def plan(self, height: int, width: int, batch: int = 1, channels_in: int = 3, channels_out: int = 3) -> Plan:
        """Plan a padded ``height × width`` image (multiples of ``size_multiple``): whole or tiles, batch,
        context copy. Pure arithmetic on the memory figures; nothing runs."""
        bpp = estimate_bytes_per_pixel(self._source_model, self.dtype)
        pixels = height * width
        budget = self._budget(batch * pixels, channels_in, channels_out)
        plan = Plan(height, width, images=batch, budget_bytes=budget, bytes_per_pixel=bpp, backend=self.backend)
        if self.tile == 0:
            return plan
        if self.tile == "auto":
            if batch * pixels * bpp <= budget:
                return plan
            side = self._round_tile(max(int(math.sqrt(max(budget, 0) / (bpp * batch))), self.min_tile))
        else:
            side = int(self.tile)
        if side >= height and side >= width:
            return plan
        return self._tile_plan(plan, side)

    def _tile_plan(self, plan: Plan, side: int) -> Plan:
        """Fill in ``plan``'s tiles (count first, then size), tile batch and context copy for tiles of at most
        ``side`` pixels."""
        m, height, width = self.size_multiple, plan.height, plan.width
        overlap = min(self.tile_overlap, side // 2 - 1)
        overlap -= overlap % m if overlap >= m else 0
        plan.tile_h = fit_tile(height, min(side, height), overlap, m)
        plan.tile_w = fit_tile(width, min(side, width), overlap, m)
        plan.rows = len(plan_tiles(height, plan.tile_h, overlap, m))
        plan.cols = len(plan_tiles(width, plan.tile_w, overlap, m))
        plan.overlap = overlap
        per_tile = plan.bytes_per_pixel * plan.tile_h * plan.tile_w * plan.images
        plan.batch = int(max(1, min(MAX_TILE_BATCH, plan.tiles, plan.budget_bytes // max(per_tile, 1))))
        if self.facts.global_context:
            plan.context, plan.context_scales = self._context_plan(plan)
        return plan

    def _context_plan(self, plan: Plan) -> tuple[str, tuple[float, ...]]:
        """Which copies of the image give the tiles their global vectors.

        ``full`` (and ``auto`` when the whole image's pass fits the memory budget): the whole image, exact.
        ``fast`` (and ``auto`` otherwise): two copies, ``FAST_CONTEXT_SCALES`` or, when memory demands, larger
        factors in the same ratio; ``full`` on an image too large for the budget: the two largest copies that fit.
        """
        if self.context == "tile" or plan.images > 1:  # several images at once: each would need its own vectors
            return "tile", ()
        pixels = plan.height * plan.width
        fits = max(plan.budget_bytes, 1) / plan.bytes_per_pixel  # pixels of one whole pass within the budget
        memory_scale = max(1.0, math.sqrt(pixels / max(fits, 1.0)))
        mode = self.context
        if mode == "auto":
            mode = "full" if memory_scale == 1.0 else "fast"
        if mode == "full" and memory_scale == 1.0:
            return mode, (1.0,)
        near, far = FAST_CONTEXT_SCALES
        first = max(memory_scale, near) if mode == "fast" else memory_scale
        # Every copy keeps at least 16 pixels per side at the model's coarsest level (1/4 for MIRNet).
        largest = max(1.0, min(plan.height, plan.width) / (16 * self.size_multiple))
        scales = tuple(sorted({round(min(first, largest), 3), round(min(first * far / near, largest), 3)}))
        return mode, scales

    def _shrink(self, plan: Plan) -> Plan:
        """The plan after an out-of-memory error: half the batch, else tiles of half the side."""
        if plan.tiled and plan.batch > 1:
            plan.batch //= 2
            return plan
        current = max(plan.tile_h, plan.tile_w) if plan.tiled else max(plan.height, plan.width)
        if current <= self.min_tile:
            raise MirnetError(f"out of memory on {self.device} even with {current}x{current} pixel tiles; "
                              "free memory on the device, or use --device cpu")
        side = self._round_tile(max(current // 2, self.min_tile))
        shrunk = Plan(plan.height, plan.width, images=plan.images, budget_bytes=plan.budget_bytes,
                      bytes_per_pixel=plan.bytes_per_pixel, backend=plan.backend)
        shrunk = self._tile_plan(shrunk, side)
        shrunk.batch = 1  # the budget estimate was too optimistic: do not batch again
        return shrunk
