"""Global context for tiles: every tile computes what the whole-image pass computes there.

MIRNet and MIRNet-v2 contain *global operations* (declared in ``model.facts.global_ops``): SKFF's global average
pool, GCNet's attention pooling, v1's channel attention. Each turns a whole feature map into one vector per image.
A tile that computes them from its own pixels gets different vectors than the whole image would, and neighbouring
tiles then differ in brightness and colour (measured on LoL photos with the bundled low-light model: 20–29 dB
between ``--tile 128`` and the whole image).

This module hooks the model's global operations (forward pre-hooks on the blocks and on the submodules that
consume the vectors; the model code is untouched) and runs them in three modes:

* ``record``: a forward pass stores every global vector, in call order (a module applied twice, as MIRNet-v2's
  RCBs and SKFFs are, gives two entries).
* ``inject``: a forward pass (of a tile, or a batch of tiles) receives the stored vectors instead of computing its
  own.
* ``gather``: like ``inject``, and also accumulates each operation's exact sufficient statistics over the tile's
  *core* (the part of the image that the tile owns in a partition of the image), so that after all tiles have
  run, :meth:`GlobalContext.gathered` returns the whole image's vectors computed from full-resolution tile
  features:

  - mean: ``sum_p x_p`` and the pixel count;
  - attention: a streaming log-sum-exp, ``M = max_p l_p``, ``S = sum_p e^{l_p - M}``,
    ``V = sum_p e^{l_p - M} x_p`` (merged across tiles by rescaling to the larger ``M``), and ``c = V / S``.

How the engine uses it (:mod:`.inference`): the vectors are first *recorded* on a downscaled copy of the image
that fits the memory budget (``fast``); ``exact`` then refines them with one ``gather`` pass over the tiles: the
statistics of operation k are exact when the vectors of operations before k were, and in practice one pass
brings the tiles to within float rounding of the whole-image pass. The statistics are taken in float64.

References: Chu et al., "Improving Image Restoration by Revisiting Global Information Aggregation" (TLC,
ECCV 2022) — the train/test mismatch of global pooling on crops; the GroupNorm aggregation of Tiled VAE
(pkuliyi2015/multidiffusion-upscaler-for-automatic1111) for accumulating statistics across tiles.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..models.common import sum_of
from ..models.facts import GlobalOp, facts_of

__all__ = ["CONTEXT_MODES", "Core", "GlobalContext"]

#: ``--context`` choices. ``auto``: ``fast`` (or nothing when the image runs whole); ``exact``: ``fast`` plus one
#: gathering pass over the tiles; ``fast``: vectors from a downscaled copy; ``tile``: each tile its own vectors
#: (the behaviour of other tools; fastest, with visible tile-to-tile differences on some models).
CONTEXT_MODES = ("auto", "exact", "fast", "tile")


@dataclass(frozen=True)
class Core:
    """The rows ``[top, bottom)`` and columns ``[left, right)`` a tile owns, in the tile's own coordinates, and
    the tile's size (to find the scale of a feature map from its shape)."""

    top: int
    bottom: int
    left: int
    right: int
    height: int
    width: int

    def crop(self, feat: torch.Tensor) -> torch.Tensor:
        """The core of a feature map ``[..., h, w]`` of this tile at any of the model's scales."""
        fy = self.height / feat.shape[-2]
        fx = self.width / feat.shape[-1]
        return feat[..., int(self.top / fy) : int(self.bottom / fy), int(self.left / fx) : int(self.right / fx)]


class _Stats:
    """Sufficient statistics of one global operation, accumulated over cores (float64)."""

    def __init__(self, kind: str):
        self.kind = kind
        self.total: torch.Tensor | None = None  # mean: sum; attention: V
        self.count = 0  # mean: pixels
        self.log_max: torch.Tensor | None = None  # attention: M
        self.norm: torch.Tensor | None = None  # attention: S

    def add_mean(self, feat: torch.Tensor) -> None:
        s = feat.sum(dim=(-2, -1), dtype=torch.float64)  # [C]
        self.total = s if self.total is None else self.total + s
        self.count += feat.shape[-2] * feat.shape[-1]

    def add_attention(self, feat: torch.Tensor, logits: torch.Tensor) -> None:
        # feat [C, h, w], logits [h, w]
        lg = logits.reshape(-1).double()
        m = lg.max()
        e = torch.exp(lg - m)
        s = e.sum()
        v = feat.reshape(feat.shape[0], -1).double() @ e
        if self.log_max is None:
            self.log_max, self.norm, self.total = m, s, v
            return
        new = torch.maximum(self.log_max, m)
        a, b = torch.exp(self.log_max - new), torch.exp(m - new)
        self.norm = self.norm * a + s * b
        self.total = self.total * a + v * b
        self.log_max = new

    def vector(self) -> torch.Tensor:
        if self.total is None:
            raise RuntimeError("no statistics were gathered for a global operation")
        if self.kind == "mean":
            return (self.total / self.count).float()
        return (self.total / self.norm).float()


class GlobalContext:
    """Hooks on a model's global operations; see the module docstring.

    Args:
        models: the model (and, if any, its fp32 fallback copy: both must see the same vectors).
        global_ops: the operations to hook; default ``facts_of(models[0]).global_ops``.

    Use as a context manager (hooks are removed on exit), set :attr:`mode` and :attr:`cores` before each forward
    call.
    """

    def __init__(self, models: nn.Module | Sequence[nn.Module], global_ops: Sequence[GlobalOp] | None = None):
        self.models = [models] if isinstance(models, nn.Module) else list(models)
        self.global_ops = tuple(facts_of(self.models[0]).global_ops if global_ops is None else global_ops)
        self.mode: str | None = None  # None: hooks pass everything through
        self.vectors: list[torch.Tensor] = []  # [C] float32 per operation call, in call order
        self.cores: Sequence[Core] | None = None  # per batch element, for "gather"
        self._stats: list[_Stats] = []
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
        consumer = getattr(block, op.consumer)
        self._handles.append(block.register_forward_pre_hook(lambda mod, args: self._on_block(mod, args, op)))
        self._handles.append(consumer.register_forward_pre_hook(self._on_consumer))

    @property
    def count(self) -> int:
        """Number of global-operation calls in one forward pass (known after a recorded pass)."""
        return len(self.vectors)

    def begin(self, mode: str | None, cores: Sequence[Core] | None = None) -> None:
        """Prepare for one forward call in ``mode`` (``record`` clears the stored vectors)."""
        if mode not in (None, "record", "inject", "gather"):
            raise ValueError(f"unknown global-context mode {mode!r}")
        if mode == "record":
            self.vectors = []
        if mode in ("inject", "gather") and not self.vectors:
            raise RuntimeError("no global vectors to inject: record them first")
        self.mode, self.cores, self._index = mode, cores, 0

    def start_gathering(self) -> None:
        """Forget earlier statistics (call before a gathering pass over all tiles)."""
        self._stats = []

    def gathered(self) -> list[torch.Tensor]:
        """The whole image's vectors from the statistics of the last gathering pass."""
        if len(self._stats) != len(self.vectors):
            raise RuntimeError(f"gathered {len(self._stats)} of {len(self.vectors)} global operations")
        return [s.vector() for s in self._stats]

    # ---------------------------------------------------------------- hooks
    def _on_block(self, block: nn.Module, args: tuple, op: GlobalOp) -> None:
        if self.mode != "gather":
            return
        inp = args[0]
        feat = sum_of(inp) if isinstance(inp, (list, tuple)) else inp  # SKFF pools the sum of its inputs
        index = self._index  # this block's consumer call comes next, with this index
        while len(self._stats) <= index:
            self._stats.append(_Stats(op.kind))
        stats = self._stats[index]
        if op.kind == "attention":
            conv = getattr(block, op.logits)
            logits = F.conv2d(feat, conv.weight.to(feat.dtype), None if conv.bias is None else conv.bias.to(feat.dtype))
        assert self.cores is not None and len(self.cores) == feat.shape[0], "one core per batch element"
        for i, core in enumerate(self.cores):
            if op.kind == "mean":
                stats.add_mean(core.crop(feat[i]))
            else:
                stats.add_attention(core.crop(feat[i]), core.crop(logits[i, 0]))

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
