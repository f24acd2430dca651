"""What the inference engine may assume about a model: one typed descriptor (spandrel-style).

The engine reads a model only through :func:`facts_of`: ``model.facts`` when the model declares it (both MIRNet
generations do, computed from their config), else a default built from the few attributes foreign models tend to
carry (``size_multiple``, ``supports_half``, ``activation_bytes_per_pixel``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from torch import nn

__all__ = ["GlobalOp", "ModelFacts", "facts_of"]


@dataclass(frozen=True)
class GlobalOp:
    """A global operation inside a model: a per-image vector computed from *all* pixels of a feature map.

    Tiling computes such vectors from one tile's pixels only; the engine's global-context module
    (:mod:`mirnet_cli.engine.global_context`) records them on a copy of the whole image and hands them to every
    tile instead, at the one place where the vector enters the rest of the block.

    Attributes:
        block: the module class that holds the operation (every instance of it in the model is one site), e.g.
            SKFF (global average pool), GCNet's context block (attention pooling), v1's channel attention.
        consumer: attribute name of the block's submodule whose only input is the vector ``[N, C, 1, 1]``.
    """

    block: type[nn.Module]
    consumer: str


@dataclass(frozen=True)
class ModelFacts:
    """What the inference engine and the CLI need to know about a model.

    Attributes:
        architecture: registry name (``"mirnet"``, ``"mirnet_v2"``) or ``"unknown"``.
        size_multiple: H and W of the input must be multiples of this (the engine reflect-pads).
        supports_fp16: fp16 is allowed on CUDA (the engine still guards every tile against NaN/Inf/black).
        supports_bf16: bf16 keeps the output close to fp32 (measured on real photos; used only where the device
            runs bf16 natively).
        global_ops: the model's global operations (empty: the output at a pixel depends on a bounded
            neighbourhood only, so plain overlapping tiles are exact up to the overlap).
        activation_bytes_per_pixel: peak activation memory of one forward pass per input pixel in fp32, or a
            callable ``f(dtype) -> bytes``; None: the engine's generic estimate from the widest layer.
        progress_blocks: module classes whose completion the engine reports as progress when an image runs
            whole (empty: the model's top-level children).
        channels_last: the model's forward keeps the channels-last memory layout, so the engine runs it that way
            on the CPU and CUDA (for a model that reshapes through NCHW views it is slower, so the default is
            False).
    """

    architecture: str = "unknown"
    size_multiple: int = 1
    supports_fp16: bool = True
    supports_bf16: bool = True
    global_ops: tuple[GlobalOp, ...] = ()
    activation_bytes_per_pixel: float | Callable[..., float] | None = None
    progress_blocks: tuple[type[nn.Module], ...] = field(default=())
    channels_last: bool = False

    @property
    def global_context(self) -> bool:
        """True when tiles need the whole image's global vectors to match a whole-image pass."""
        return bool(self.global_ops)


def facts_of(model: nn.Module) -> ModelFacts:
    """The model's declared facts, or a default built from the attributes foreign models commonly carry."""
    facts = getattr(model, "facts", None)
    if isinstance(facts, ModelFacts):
        return facts
    supports_half = getattr(model, "supports_half", None)
    return ModelFacts(
        architecture=str(getattr(model, "architecture", "unknown")),
        size_multiple=max(1, int(getattr(model, "size_multiple", 1) or 1)),
        supports_fp16=True if supports_half is None else bool(supports_half),
        supports_bf16=False if supports_half is False else True,
        activation_bytes_per_pixel=getattr(model, "activation_bytes_per_pixel", None),
    )
