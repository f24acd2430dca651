"""mirnet: photo restoration with MIRNet (ECCV 2020) and MIRNet-v2 (TPAMI 2022).

The public Python API is ``load_model`` and ``build_model``. They are imported lazily so that
``import mirnet_cli`` (and therefore ``mirnet --help``) does not import torch.
"""

from ._version import __version__

__all__ = ["__version__", "build_model", "load_model"]


def __getattr__(name: str):
    if name == "load_model":
        from .loading.checkpoint import load_model

        return load_model
    if name == "build_model":
        from .models import build_model

        return build_model
    raise AttributeError(f"module 'mirnet_cli' has no attribute {name!r}")
