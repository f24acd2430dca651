"""`mirnet super-resolve`: ×2, ×3, ×4 super-resolution."""

from __future__ import annotations

from typing import Annotated

import typer

from ._options import CommonOptions, Paths, with_common_options
from ._run import run_restore


@with_common_options("a new folder beside the input: photos_mirnet-x4/ for a folder photos/ "
                     "(x2, x3 with --scale), mirnet-x4/ next to a file.")
def super_resolve(
    paths: Paths,
    scale: Annotated[int, typer.Option(metavar="2|3|4", help="Upscaling factor: 2, 3 or 4.")] = 4,
    *,
    opts: CommonOptions,
) -> None:
    """Upscale photos ×2, ×3 or ×4.

    PHOTO_OR_FOLDER...: image files (PNG, JPEG, TIFF, WebP, BMP, camera RAW) and/or folders of them.

    The released MIRNet SR networks keep the input size, so each image is first upsampled bicubically by
    --scale and the network then restores the detail (as the papers' RealSR protocol does). Alpha channels are
    resized bicubically.

    Example: mirnet super-resolve small.png --scale 4
    """
    from ...restore.tasks import task_for

    try:
        spec = task_for("super-resolve", scale=scale)
    except ValueError as exc:
        raise typer.BadParameter(str(exc).replace("--scale must be", "must be"), param_hint="--scale") from None
    run_restore(spec, paths, opts)
