"""Global context for tiles: every tile computes what the whole-image pass computes there.

MIRNet and MIRNet-v2 contain *global operations* (declared in ``model.facts.global_ops``): SKFF's global average
pool, GCNet's attention pooling, v1's channel attention. Each turns a whole feature map into one vector per image.
A tile that computes them from its own pixels gets different vectors than the whole image would, and neighbouring
tiles then differ in brightness and colour (measured on LoL photos with the bundled low-light model: 20–29 dB
between ``--tile 128`` and the whole image).

This module hooks the model's global operations (forward pre-hooks on the submodules that consume the vectors;
the model code is untouched) and runs them in two modes:

* ``record``: a forward pass stores every global vector, in call order (a module applied twice, as MIRNet-v2's
  RCBs and SKFFs are, gives two entries);
* ``inject``: a forward pass (of a tile, or a batch of tiles) receives the stored vectors instead of computing its
  own.

The engine (:mod:`.inference`) records the vectors on a copy of the whole image, downscaled to fit the memory
budget and the time budget, then injects them into every tile. Measured on LoL photos with the bundled low-light
model (tiles of 128 and 256, PSNR of tiled vs whole-image output, 8-bit): vectors from the whole image 66-71 dB,
from a 2× downscaled copy 50-56 dB, 3× 48 dB, 4× 43-47 dB; each tile its own vectors 20-34 dB.

Why not accumulate exact statistics over the tiles instead (TLC, Chu et al., ECCV 2022; the GroupNorm
aggregation of Tiled VAE)? The operations are chained: the statistics of operation k depend on the vectors of
all operations before it, so one gathering pass over the tiles gives later operations statistics conditioned on
the wrong earlier vectors. Measured: one such refinement pass over a 3× copy's vectors *lowered* the agreement
from 48.5 to 38.5 dB, two passes reached 49.9 dB; exactness needs one pass per operation (about 80 in
MIRNet-v2) or all tiles' activations in memory at once, i.e. the whole-image pass that tiling avoids.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ..models.facts import GlobalOp, facts_of

__all__ = ["CONTEXT_MODES", "GlobalContext"]

#: ``--context`` choices (see the engine): ``auto`` = ``full`` when the whole image fits the memory budget, else
#: ``fast``; ``fast``: vectors extrapolated from copies downscaled 4× and 6× (more when memory demands); ``full``: from the largest copy the memory budget allows, the whole image when it fits
#: (tiles then match the whole-image pass to float rounding); ``tile``: each tile its own vectors (what other
#: tools do; visible tile-to-tile differences on some models).
CONTEXT_MODES = ("auto", "full", "fast", "tile")


class GlobalContext:
    """Hooks on a model's global operations; see the module docstring.

    Args:
        models: the model (and, if any, its fp32 fallback copy: both must see the same vectors).
        global_ops: the operations to hook; default ``facts_of(models[0]).global_ops``.

    Use as a context manager (hooks are removed on exit) and call :meth:`begin` before each forward pass.
    """

    def __init__(self, models: nn.Module | Sequence[nn.Module], global_ops: Sequence[GlobalOp] | None = None):
        self.models = [models] if isinstance(models, nn.Module) else list(models)
        self.global_ops = tuple(facts_of(self.models[0]).global_ops if global_ops is None else global_ops)
        self.mode: str | None = None  # None: hooks pass everything through
        self.vectors: list[torch.Tensor] = []  # [C] float32 per operation call, in call order
        self._index = 0
        self._handles: list = []

    # ---------------------------------------------------------------- lifecycle
    def __enter__(self) -> GlobalContext:
        for model in self.models:
            for module in model.modules():
                for op in self.global_ops:
                    if isinstance(module, op.block):
                        self._attach(module, op)
        return self

    def __exit__(self, *exc) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    def _attach(self, block: nn.Module, op: GlobalOp) -> None:
        self._handles.append(getattr(block, op.consumer).register_forward_pre_hook(self._on_consumer))

    @property
    def count(self) -> int:
        """Number of global-operation calls in one forward pass (known after a recorded pass)."""
        return len(self.vectors)

    def begin(self, mode: str | None) -> None:
        """Prepare for one forward pass in ``mode`` (``record`` clears the stored vectors; None passes through)."""
        if mode not in (None, "record", "inject"):
            raise ValueError(f"unknown global-context mode {mode!r}")
        if mode == "record":
            self.vectors = []
        if mode == "inject" and not self.vectors:
            raise RuntimeError("no global vectors to inject: record them first")
        self.mode, self._index = mode, 0

    # ---------------------------------------------------------------- hooks
    def _on_consumer(self, module: nn.Module, args: tuple):
        if self.mode is None:
            return None
        index = self._index
        self._index += 1
        vec = args[0]
        if self.mode == "record":
            if vec.shape[0] != 1:
                raise RuntimeError("global vectors are recorded from one image at a time")
            self.vectors.append(vec.detach()[0, :, 0, 0].float().clone())
            return None
        if index >= len(self.vectors):
            raise RuntimeError("the model called more global operations than were recorded")
        stored = self.vectors[index].to(device=vec.device, dtype=vec.dtype).view(1, -1, 1, 1)
        return (stored.expand_as(vec).contiguous(),)
