"""The architecture names, defined once.

Torch-free on purpose: the registry, the CLI (``mirnet --help`` must not import torch) and the model package all
read the names from here; :mod:`mirnet_cli.models` maps them to the classes.
"""

from __future__ import annotations

#: Canonical names: ``mirnet`` (MIRNet, ECCV 2020) and ``mirnet_v2`` (MIRNet-v2, TPAMI 2022).
ARCHITECTURES: tuple[str, ...] = ("mirnet", "mirnet_v2")

# Names people (and config.json files of the golden cases / the authors' yml) use for the same thing.
_ALIASES = {"mirnet": "mirnet", "mirnet_v1": "mirnet", "mirnetv1": "mirnet", "mirnet_v2": "mirnet_v2",
            "mirnetv2": "mirnet_v2", "mirnet2": "mirnet_v2"}


def canonical_architecture(name: str) -> str:
    """``"MIRNet_v2"``, ``"mirnet-v2"``, ``"MIRNet"`` … → ``"mirnet_v2"`` / ``"mirnet"``.

    Raises:
        ValueError: not a name of either architecture.
    """
    key = str(name).strip().lower().replace("-", "_")
    if key not in _ALIASES:
        raise ValueError(f"unknown architecture {name!r}; expected one of {sorted(ARCHITECTURES)}")
    return _ALIASES[key]


__all__ = ["ARCHITECTURES", "canonical_architecture"]
