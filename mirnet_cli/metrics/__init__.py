"""Image quality metrics (PSNR, SSIM, MAE) with the conventions of the MIRNet evaluation scripts.

See :mod:`mirnet_cli.metrics.core` for formulas, conventions and references.
"""

from .core import crop_border, gaussian_window_1d, mae, mse, psnr, quantize, rgb_to_y, ssim, ssim_map

__all__ = [
    "crop_border",
    "gaussian_window_1d",
    "mae",
    "mse",
    "psnr",
    "quantize",
    "rgb_to_y",
    "ssim",
    "ssim_map",
]
