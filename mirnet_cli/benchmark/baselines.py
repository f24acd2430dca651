"""Classical baselines, wrapped as models so the benchmark scores them exactly like a network.

* ``identity``: the input itself (what you get by doing nothing);
* ``nlmeans``: OpenCV ``fastNlMeansDenoisingColored`` (Buades et al., "A non-local algorithm for image
  denoising", CVPR 2005) on the 8-bit image (given in OpenCV's BGR order, which its Lab conversion assumes),
  7×7 patches, 21×21 search window, filter strength h = hColor. ``nlmeans:h=12`` fixes h; plain ``nlmeans`` on
  a test set with targets searches h (:func:`search_nlmeans_h`) and reports the best, so that a network is
  compared with the best this classical method can do on that data, not with an arbitrary h;
* ``clahe-gamma`` (or ``clahe``): a low-light baseline: gamma ``γ = log(0.45) / log(mean luma)`` (so the mean luma
  becomes about 0.45), then CLAHE (clip 2.0, 8×8 tiles) on the L channel of Lab;
* ``autolevels``: a contrast baseline, each channel stretched so that its 0.5th and 99.5th percentiles become 0
  and 1: ``y_c = clip((x_c − p_c^{0.5}) / (p_c^{99.5} − p_c^{0.5}), 0, 1)`` ("auto levels" of photo editors);
  ``autolevels:low=1,high=99`` changes the percentiles;
* ``bicubic``: the super-resolution baseline, the bicubic upsampling itself. SR test sets hand every model the
  low-resolution image already upsampled with PIL's bicubic (Keys a = −0.5, MATLAB's ``imresize`` kernel), so
  this returns its input unchanged under the name the SR tables use.

Each takes and returns [1,3,H,W] float in [0,1]; they run on the CPU and do not tile (``size_multiple = 1``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

BASELINES = ("identity", "nlmeans", "clahe-gamma", "clahe", "autolevels", "bicubic")


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
        self.h = float(h)
        self.config = {"h": self.h}

    def apply(self, rgb8: np.ndarray) -> np.ndarray:
        import cv2

        # OpenCV expects BGR: fed RGB, its Lab conversion weights the channels wrongly (red and blue swapped).
        bgr = np.ascontiguousarray(rgb8[..., ::-1])
        out = cv2.fastNlMeansDenoisingColored(bgr, None, self.h, self.h, 7, 21)
        return np.ascontiguousarray(out[..., ::-1])


# Filter strengths tried by search_nlmeans_h: light JPEG-camera noise wants h ≈ 3–6, heavy phone noise 20–30.
NLMEANS_H_GRID = (2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 12.0, 15.0, 18.0, 21.0, 25.0, 30.0, 35.0, 40.0, 50.0)


def search_nlmeans_h(score: Callable[[nn.Module], float],
                     grid: tuple[float, ...] = NLMEANS_H_GRID) -> tuple[float, dict[float, float]]:
    """The filter strength ``h`` (= hColor) of :class:`NLMeans` that maximises ``score`` (e.g. mean PSNR on a test
    set), from ``grid``; the search stops once the score has fallen for two grid steps past the best.

    Returns:
        ``(best_h, {h: score})`` for every h tried.
    """
    scores: dict[float, float] = {}
    best_h, falling = None, 0
    for h in grid:
        scores[h] = float(score(NLMeans(h).eval()))
        if best_h is None or scores[h] > scores[best_h]:
            best_h, falling = h, 0
        else:
            falling += 1
            if falling >= 2:
                break
    return best_h, scores


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


class AutoLevels(_Classical):
    def __init__(self, low: float = 0.5, high: float = 99.5):
        super().__init__("autolevels")
        self.low, self.high = float(low), float(high)
        self.config = {"low": self.low, "high": self.high}

    def apply(self, rgb8: np.ndarray) -> np.ndarray:
        rgb = rgb8.astype(np.float32)
        lo = np.percentile(rgb, self.low, axis=(0, 1))
        hi = np.percentile(rgb, self.high, axis=(0, 1))
        span = np.maximum(hi - lo, 1.0)  # a flat channel stays as it is rather than exploding
        out = np.where(hi - lo >= 1.0, (rgb - lo) / span * 255.0, rgb)
        return np.clip(np.round(out), 0, 255).astype(np.uint8)


class Bicubic(Identity):
    def __init__(self):
        super().__init__()
        self.architecture, self.source = "bicubic", "baseline:bicubic"


def parse_baseline(spec: str) -> tuple[str, dict[str, float]]:
    """``"nlmeans:h=12"`` → ``("nlmeans", {"h": 12.0})``; ``"clahe-gamma"`` → ``("clahe-gamma", {})``."""
    from ..errors import MirnetError

    name, _, rest = spec.partition(":")
    params: dict[str, float] = {}
    for item in filter(None, rest.split(",")):
        key, sep, value = item.partition("=")
        try:
            params[key.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep:
            raise MirnetError(f"--baseline {spec}: parameters are key=number, e.g. nlmeans:h=12")
    return name.strip(), params


def make_baseline(name: str) -> nn.Module:
    """The baseline called ``name`` (one of :data:`BASELINES`, optionally with parameters: ``nlmeans:h=12``)."""
    from ..errors import MirnetError

    base, params = parse_baseline(name)
    table = {"identity": Identity, "nlmeans": NLMeans, "clahe-gamma": ClaheGamma, "clahe": ClaheGamma,
             "autolevels": AutoLevels, "bicubic": Bicubic}
    if base not in table:
        raise MirnetError(f"unknown baseline {base!r}; choose from {', '.join(BASELINES)}")
    allowed = {"nlmeans": {"h"}, "autolevels": {"low", "high"}}.get(base, set())
    unknown = set(params) - allowed
    if unknown:
        raise MirnetError(f"--baseline {name}: {base} takes "
                          + (", ".join(sorted(allowed)) if allowed else "no parameters")
                          + f", not {', '.join(sorted(unknown))}")
    if "h" in params and not params["h"] > 0:
        raise MirnetError(f"--baseline {name}: h must be > 0")
    if base == "autolevels" and not 0 <= params.get("low", 0.5) < params.get("high", 99.5) <= 100:
        raise MirnetError(f"--baseline {name}: need 0 <= low < high <= 100 (percentiles)")
    return table[base](**params).eval()
