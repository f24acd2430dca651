"""Model registry: the two architectures, their builders and the facts inference needs about them."""

from __future__ import annotations

import inspect

from torch import nn

from .. import architectures as _names
from ..architectures import canonical_architecture
from .facts import GlobalOp, ModelFacts, facts_of
from .mirnet_v1 import MIRNet
from .mirnet_v2 import MIRNetV2

#: The class of each architecture name of :data:`mirnet_cli.architectures.ARCHITECTURES` (defined there, once).
ARCHITECTURES: dict[str, type[nn.Module]] = dict(zip(_names.ARCHITECTURES, (MIRNet, MIRNetV2), strict=True))


def check_model_config(architecture: str, config: dict) -> None:
    """The loader's bounds (each model module's ``CONFIG_BOUNDS``: ``n_feat`` 4–512, ``n_MRB`` 1–16, …) applied to
    constructor arguments, so that nothing can be built or trained that ``load_model`` would refuse.

    Raises:
        ValueError: an unknown argument, a wrong type or a value out of bounds (naming it and the bounds).
    """
    from . import mirnet_v1, mirnet_v2
    from .common import check_config

    bounds = {"mirnet": mirnet_v1.CONFIG_BOUNDS, "mirnet_v2": mirnet_v2.CONFIG_BOUNDS}[canonical_architecture(architecture)]
    check_config(config, bounds)


def build_model(architecture: str, **config) -> nn.Module:
    """Build an untrained MIRNet (``"mirnet"``) or MIRNet-v2 (``"mirnet_v2"``).

    Args:
        architecture: ``"mirnet"`` or ``"mirnet_v2"`` (aliases such as ``"MIRNet_v2"`` are accepted).
        **config: the authors' constructor arguments (``n_feat``, ``chan_factor``, ``n_MRB``, ``inp_channels``,
            ``task``, …). Unknown arguments raise ``TypeError`` naming them; values outside the bounds the loader
            applies (:func:`check_model_config`) raise ``ValueError``.

    Returns:
        The model in eval mode, with ``.architecture``, ``.config`` and ``.facts``.
    """
    arch = canonical_architecture(architecture)
    cls = ARCHITECTURES[arch]
    allowed = set(inspect.signature(cls.__init__).parameters) - {"self"}
    unknown = sorted(set(config) - allowed)
    if unknown:
        raise TypeError(f"{arch} does not take {', '.join(unknown)}; its arguments are {', '.join(sorted(allowed))}")
    check_model_config(arch, config)
    return cls(**config).eval()


__all__ = [
    "ARCHITECTURES", "GlobalOp", "MIRNet", "MIRNetV2", "ModelFacts", "build_model", "canonical_architecture",
    "check_model_config", "facts_of",
]
