"""Model registry: the two architectures, their builders and the facts inference needs about them."""

from __future__ import annotations

import inspect
from dataclasses import dataclass

from torch import nn

from .. import architectures as _names
from ..architectures import canonical_architecture
from .mirnet_v1 import MIRNet
from .mirnet_v2 import MIRNetV2

#: The class of each architecture name of :data:`mirnet_cli.architectures.ARCHITECTURES` (defined there, once).
ARCHITECTURES: dict[str, type[nn.Module]] = dict(zip(_names.ARCHITECTURES, (MIRNet, MIRNetV2), strict=True))


@dataclass(frozen=True)
class ModelFacts:
    """What the inference engine and the CLI need to know about an architecture (spandrel-style descriptor).

    Attributes:
        size_multiple: H and W must be multiples of this (both nets downsample twice by 2).
        supports_fp16: fp16 inference is allowed on CUDA (guarded against NaN/Inf tiles by the engine).
        supports_bf16: bf16 is numerically safe (only used where the device runs it natively).
        global_context: the output at a pixel depends on the whole image (v2's context blocks, SKFF pooling),
            so tiling is an approximation; overlap hides the seams.
    """

    architecture: str
    size_multiple: int = 4
    supports_fp16: bool = True
    supports_bf16: bool = True
    global_context: bool = True


FACTS = {"mirnet": ModelFacts("mirnet"), "mirnet_v2": ModelFacts("mirnet_v2")}


def build_model(architecture: str, **config) -> nn.Module:
    """Build an untrained MIRNet (``"mirnet"``) or MIRNet-v2 (``"mirnet_v2"``).

    Args:
        architecture: ``"mirnet"`` or ``"mirnet_v2"`` (aliases such as ``"MIRNet_v2"`` are accepted).
        **config: the authors' constructor arguments (``n_feat``, ``chan_factor``, ``n_MRB``, ``inp_channels``,
            ``task``, …). Unknown arguments raise ``TypeError`` naming them.

    Returns:
        The model in eval mode, with ``.architecture``, ``.config``, ``.size_multiple`` and ``.facts``.
    """
    arch = canonical_architecture(architecture)
    cls = ARCHITECTURES[arch]
    allowed = set(inspect.signature(cls.__init__).parameters) - {"self"}
    unknown = sorted(set(config) - allowed)
    if unknown:
        raise TypeError(f"{arch} does not take {', '.join(unknown)}; its arguments are {', '.join(sorted(allowed))}")
    model = cls(**config)
    model.facts = FACTS[arch]
    return model.eval()


__all__ = ["ARCHITECTURES", "FACTS", "MIRNet", "MIRNetV2", "ModelFacts", "build_model", "canonical_architecture"]
