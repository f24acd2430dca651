"""FFDNet and DnCNN (colour), as published in KAIR's model zoo (Kai Zhang, MIT licence), as denoising teachers.

* DnCNN (Zhang et al., TIP 2017): 20 conv layers of 64 channels, residual: ``y = x − f(x)``; ``dncnn_color_blind``
  was trained on additive white Gaussian noise of unknown level.
* FFDNet (Zhang et al., TIP 2018): the image is split into four half-resolution sub-images (pixel unshuffle),
  a noise-level map ``σ/255`` is appended, 12 conv layers of 96 channels predict the clean sub-images, which
  are shuffled back: ``y = PS(f([PU(x), σ]))``. Real noise is spatially correlated, so a σ above the noise's own
  standard deviation works best (on real phone noise, σ 40–50 for 8-bit images).

Written for mirnet from the papers; the Sequential key layout (``model.0``, ``model.2``, …) equals KAIR's, so the
published ``.pth`` files load with ``strict=True``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn


def _plain_cnn(cin: int, feat: int, cout: int, layers: int) -> nn.Sequential:
    mods: list[nn.Module] = [nn.Conv2d(cin, feat, 3, padding=1), nn.ReLU(inplace=True)]
    for _ in range(layers - 2):
        mods += [nn.Conv2d(feat, feat, 3, padding=1), nn.ReLU(inplace=True)]
    mods.append(nn.Conv2d(feat, cout, 3, padding=1))
    return nn.Sequential(*mods)


def _layers(state: Mapping[str, Any]) -> int:
    return len([k for k in state if k.startswith("model.") and k.endswith(".weight")])


class DnCNN(nn.Module):
    architecture = "dncnn"

    def __init__(self, channels: int = 3, features: int = 64, layers: int = 20):
        super().__init__()
        self.model = _plain_cnn(channels, features, channels, layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x - self.model(x)


class FFDNet(nn.Module):
    """``forward(x)`` uses ``self.sigma`` (8-bit units; set it, or pass ``sigma``)."""

    architecture = "ffdnet"

    def __init__(self, channels: int = 3, features: int = 96, layers: int = 12, sigma: float = 25.0):
        super().__init__()
        self.model = _plain_cnn(4 * channels + 1, features, 4 * channels, layers)
        self.sigma = float(sigma)

    def forward(self, x: torch.Tensor, sigma: float | None = None) -> torch.Tensor:
        h, w = x.shape[-2:]
        x = F.pad(x, (0, w % 2, 0, h % 2), mode="replicate")
        sub = F.pixel_unshuffle(x, 2)
        level = torch.full_like(sub[:, :1], (self.sigma if sigma is None else float(sigma)) / 255.0)
        return F.pixel_shuffle(self.model(torch.cat([sub, level], 1)), 2)[..., :h, :w]


def _first_conv(state: Mapping[str, Any]) -> tuple[int, ...] | None:
    """The shape of ``model.0.weight`` (a tensor, or a shape list as in a key manifest) when every key is KAIR's."""
    w = state.get("model.0.weight")
    if w is None or not all(k.startswith("model.") for k in state):
        return None
    return tuple(w.shape) if hasattr(w, "shape") else tuple(w)


def matches_ffdnet(state: Mapping[str, Any]) -> bool:
    shape = _first_conv(state)
    return shape is not None and shape[1:] == (13, 3, 3)


def matches_dncnn(state: Mapping[str, Any]) -> bool:
    shape = _first_conv(state)
    return shape is not None and shape[1:] == (3, 3, 3)


def build_ffdnet(state: Mapping[str, Any]) -> nn.Module:
    return FFDNet(features=int(state["model.0.weight"].shape[0]), layers=_layers(state))


def build_dncnn(state: Mapping[str, Any]) -> nn.Module:
    return DnCNN(features=int(state["model.0.weight"].shape[0]), layers=_layers(state))


__all__ = ["DnCNN", "FFDNet", "build_dncnn", "build_ffdnet", "matches_dncnn", "matches_ffdnet"]
