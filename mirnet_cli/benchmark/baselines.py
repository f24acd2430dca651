"""Classical baselines, wrapped as models so the benchmark scores them exactly like a network.

* ``identity``: the input itself (what you get by doing nothing);
* ``nlmeans``: OpenCV ``fastNlMeansDenoisingColored`` (Buades et al., "A non-local algorithm for image
  denoising", CVPR 2005) on the 8-bit image, h = hColor = 10, 7×7 patches, 21×21 search window;
* ``clahe-gamma``: a low-light baseline: gamma ``γ = log(0.45) / log(mean luma)`` (so the mean luma becomes about
  0.45), then CLAHE (clip 2.0, 8×8 tiles) on the L channel of Lab.

Each takes and returns [1,3,H,W] float in [0,1]; they run on the CPU and do not tile (``size_multiple = 1``).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

BASELINES = ("identity", "nlmeans", "clahe-gamma")


class _Classical(nn.Module):
    size_multiple = 1
    in_channels = out_channels = 3
    supports_half = False

    def __init__(self, name: str):
        super().__init__()
        self.architecture = name
        self.config: dict = {}
        self.source = f"baseline:{name}"

    def apply(self, rgb8: np.ndarray) -> np.ndarray:  # pragma: no cover - overridden
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outs = []
        for img in x.detach().float().cpu():
            rgb8 = np.clip(np.round(img.permute(1, 2, 0).numpy() * 255), 0, 255).astype(np.uint8)
            out = self.apply(np.ascontiguousarray(rgb8)).astype(np.float32) / 255.0
            outs.append(torch.from_numpy(out).permute(2, 0, 1))
        return torch.stack(outs).to(x.dtype)


class Identity(_Classical):
    def __init__(self):
        super().__init__("identity")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.clone()


class NLMeans(_Classical):
    def __init__(self, h: float = 10.0):
        super().__init__("nlmeans")
        self.h = h

    def apply(self, rgb8: np.ndarray) -> np.ndarray:
        import cv2

        return cv2.fastNlMeansDenoisingColored(rgb8, None, self.h, self.h, 7, 21)


class ClaheGamma(_Classical):
    def __init__(self, target_mean: float = 0.45, clip: float = 2.0):
        super().__init__("clahe-gamma")
        self.target_mean, self.clip = target_mean, clip

    def apply(self, rgb8: np.ndarray) -> np.ndarray:
        import cv2

        rgb = rgb8.astype(np.float32) / 255.0
        luma = float(np.clip((rgb @ np.array([0.299, 0.587, 0.114], np.float32)).mean(), 1e-3, 0.999))
        gamma = np.log(self.target_mean) / np.log(luma)
        bright = np.clip(np.power(rgb, gamma) * 255.0 + 0.5, 0, 255).astype(np.uint8)
        lab = cv2.cvtColor(bright, cv2.COLOR_RGB2LAB)
        lab[..., 0] = cv2.createCLAHE(clipLimit=self.clip, tileGridSize=(8, 8)).apply(lab[..., 0])
        return cv2.cvtColor(lab, cv2.COLOR_LAB2RGB)


def make_baseline(name: str) -> nn.Module:
    """The baseline called ``name`` (one of :data:`BASELINES`)."""
    from ..errors import MirnetError

    table = {"identity": Identity, "nlmeans": NLMeans, "clahe-gamma": ClaheGamma}
    if name not in table:
        raise MirnetError(f"unknown baseline {name!r}; choose from {', '.join(BASELINES)}")
    return table[name]().eval()
