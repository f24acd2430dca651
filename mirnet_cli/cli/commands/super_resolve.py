"""`mirnet super-resolve`: ×2, ×3, ×4 super-resolution."""

from __future__ import annotations

from typing import Annotated

import typer

from ._options import (
    Device, Ext, JpegQuality, JsonOut, KeepGoing, Model, Output, Overwrite, Paths, Precision, Quiet, Recursive,
    Suffix, Tile, TileOverlap, Weights,
)
from ._run import run_restore


def super_resolve(
    paths: Paths,
    scale: Annotated[int, typer.Option(help="Upscaling factor: 2, 3 or 4.")] = 4,
    output: Output = None,
    suffix: Suffix = "",
    ext: Ext = "same",
    jpeg_quality: JpegQuality = 95,
    device: Device = "auto",
    precision: Precision = "auto",
    tile: Tile = "auto",
    tile_overlap: TileOverlap = 32,
    weights: Weights = None,
    model: Model = None,
    recursive: Recursive = False,
    overwrite: Overwrite = False,
    keep_going: KeepGoing = True,
    quiet: Quiet = False,
    json_out: JsonOut = False,
) -> None:
    """Upscale photos ×2, ×3 or ×4.

    The released MIRNet SR networks keep the input size, so each image is first upsampled bicubically by
    --scale and the network then restores the detail (as the papers' RealSR protocol does). Alpha channels are
    resized bicubically.

    Example: mirnet super-resolve small.png --scale 4
    """
    from ...restore.tasks import task_for

    try:
        spec = task_for("super-resolve", scale=scale)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    run_restore(spec, paths, output=output, suffix=suffix, ext=ext, jpeg_quality=jpeg_quality, device=device, precision=precision,
        tile=tile, tile_overlap=tile_overlap, weights=weights, model=model, recursive=recursive, overwrite=overwrite,
        keep_going=keep_going, quiet=quiet, json_out=json_out)
