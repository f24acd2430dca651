"""mirnet: photo restoration with MIRNet (ECCV 2020) and MIRNet-v2 (TPAMI 2022).

The public Python API: ``load_model`` and ``build_model`` (the networks), ``restore_image`` (one image of any size:
padding, tiling and clamping as the commands do) and ``InferenceEngine`` (the same, made once for many images).
They are imported lazily so that ``import mirnet_cli`` (and therefore ``mirnet --help``) does not import torch.
"""

from ._version import __version__

__all__ = ["InferenceEngine", "__version__", "build_model", "load_model", "restore_image"]


def __getattr__(name: str):
    if name == "load_model":
        from .loading.checkpoint import load_model

        return load_model
    if name == "build_model":
        from .models import build_model

        return build_model
    if name == "restore_image":
        from .api import restore_image

        return restore_image
    if name == "InferenceEngine":
        from .engine.inference import InferenceEngine

        return InferenceEngine
    raise AttributeError(f"module 'mirnet_cli' has no attribute {name!r}")
