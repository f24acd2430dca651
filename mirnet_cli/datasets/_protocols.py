"""The scoring conventions of each test set: :class:`Protocol` and the authors' protocols that adapters use."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Protocol:
    """How outputs are scored for one test set (mirrors the authors' evaluation scripts).

    Attributes:
        task: ``denoise``, ``enhance``, ``super_resolution`` or ``defocus_deblur``.
        color: ``"rgb"`` (metrics on the three channels) or ``"y"`` (MATLAB ``rgb2ycbcr`` luma, rounded to
            integers as MATLAB does for uint8 images).
        crop: border removed before scoring (0 = none).
        crop_style: ``"matlab"`` = ``img(s:end-s, s:end-s)`` (``s−1`` top/left, ``s`` bottom/right), or
            ``"symmetric"``.
        quantize_bits: the output is clamped and rounded to this many bits before scoring (how the authors'
            saved PNGs look); ``None`` = score the clamped float output (as the authors' SIDD and DPDD scripts do).
        ssim: keyword arguments for :func:`mirnet_cli.metrics.ssim` (window etc.).
        metrics: metric names reported per image.
        scale: SR factor (``None`` otherwise).
        upsample: how a smaller input is brought to the target size (``None`` = never).
        notes: free-text caveats, shown in the JSON.
    """

    task: str
    color: str = "rgb"
    crop: int = 0
    crop_style: str = "symmetric"
    quantize_bits: int | None = 8
    ssim: dict[str, Any] = field(
        default_factory=lambda: {"gaussian": True, "sigma": 1.5, "sample_covariance": False}
    )
    metrics: tuple[str, ...] = ("psnr", "ssim")
    scale: int | None = None
    upsample: str | None = None
    notes: str = ""
    has_targets: bool = True

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly description of the conventions (goes into the results as ``"protocol"``)."""
        if self.ssim.get("gaussian", True):
            window = (
                f"Gaussian 11x11 sigma {self.ssim.get('sigma', 1.5)}, population covariance, valid region"
            )
        else:
            window = (
                f"uniform {self.ssim.get('win_size', 7)}x{self.ssim.get('win_size', 7)}, "
                f"{'sample' if self.ssim.get('sample_covariance') else 'population'} covariance, valid region"
            )
        colour = (
            "RGB, per channel averaged" if self.color == "rgb" else "Y (BT.601 studio swing, rounded), 0-255"
        )
        return {
            "task": self.task,
            "metrics": list(self.metrics) if self.has_targets else [],
            "color": self.color,
            "psnr": "10*log10(peak^2/MSE) over all channels; peak 1 on [0,1] RGB, 255 on Y",
            "ssim": f"Wang et al. 2004: {window}; K1 0.01, K2 0.03; {colour}",
            "crop_border": self.crop,
            "crop_style": self.crop_style if self.crop else None,
            "quantize_bits": self.quantize_bits,
            "clamp": "[0, 1]",
            "scale": self.scale,
            "upsample": self.upsample,
            "notes": self.notes,
        }


# protocols (see docs/architecture-facts.md §5 for the authors' scripts)

_SSIM_WANG = {"gaussian": True, "sigma": 1.5, "sample_covariance": False}
_MATLAB_SSIM_NOTE = (
    "The paper's SSIM comes from MATLAB ssim() on RGB, which by default treats the RGB array as a 3-D volume "
    "(replicate padding, full map); this tool averages Wang's 2-D SSIM over channels, so SSIM may differ in the "
    "third decimal."
)


def _sidd_protocol() -> Protocol:
    return Protocol(
        task="denoise",
        quantize_bits=None,
        ssim=dict(_SSIM_WANG),
        notes="Clamped float output vs ground truth, full RGB, no crop, as test_real_denoising_sidd.py + "
        "evaluate_sidd.m. " + _MATLAB_SSIM_NOTE,
    )


def _enhance_protocol(name: str) -> Protocol:
    return Protocol(
        task="enhance",
        quantize_bits=8,
        ssim=dict(_SSIM_WANG),
        notes=f"{name}: 8-bit RGB output (as saved by Enhancement/test.py) vs target, no crop, as "
        "evaluate_PSNR_SSIM.m. " + _MATLAB_SSIM_NOTE,
    )


def _sr_protocol(scale: int, upsampled: bool) -> Protocol:
    return Protocol(
        task="super_resolution",
        color="y",
        crop=scale,
        crop_style="matlab",
        quantize_bits=8,
        ssim=dict(_SSIM_WANG),
        scale=scale,
        upsample="PIL bicubic (Keys a=-0.5) to the HR size" if upsampled else None,
        notes="8-bit output, img(s:end-s, s:end-s) crop, rgb2ycbcr Y (rounded like MATLAB on uint8), psnr and "
        "Wang's ssim_index on Y, as Super_Resolution/evaluate_PSNR_SSIM.m. MIRNet has no upsampler: LR "
        "inputs smaller than HR are bicubic-upsampled first (MATLAB imresize differs slightly at the borders).",
    )


def _dpdd_protocol() -> Protocol:
    try:
        import lpips  # noqa: F401

        has_lpips = True
    except ImportError:
        has_lpips = False
    return Protocol(
        task="defocus_deblur",
        quantize_bits=None,
        ssim={"gaussian": False, "win_size": 7, "sample_covariance": True},
        metrics=("psnr", "ssim", "mae", "lpips") if has_lpips else ("psnr", "ssim", "mae"),
        notes="Clamped float output vs 16-bit target on [0,1] RGB as test_dual_pixel_defocus_deblur.py: PSNR, "
        "skimage default SSIM (uniform 7x7, sample covariance, data_range 1), MAE"
        + (", LPIPS-Alex." if has_lpips else "; LPIPS skipped (pip install lpips).")
        + " Input baseline = mean of the L and R views.",
    )


def _plain_protocol(task: str = "restore") -> Protocol:
    return Protocol(
        task=task, quantize_bits=8, ssim=dict(_SSIM_WANG), notes="8-bit RGB output vs target, no crop."
    )
