"""`mirnet denoise`: remove real camera noise."""

from __future__ import annotations

from typing import Annotated

import typer

from ._options import (
    Device, Ext, JpegQuality, JsonOut, KeepGoing, Model, Output, Overwrite, Paths, Precision, Quiet, Recursive,
    Suffix, Tile, TileOverlap, Weights,
)
from ._run import run_restore


def denoise(
    paths: Paths,
    arch: Annotated[str, typer.Option(help="mirnet_v2 (default) or mirnet (v1; its weights are a manual download).")] = "mirnet_v2",
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
    """Remove real sRGB camera noise (SIDD-trained MIRNet-v2 by default).

    Example: mirnet denoise photos/ -o clean/ --device cuda
    """
    from ...restore.tasks import task_for

    run_restore(task_for("denoise"), paths, arch=arch, output=output, suffix=suffix, ext=ext, jpeg_quality=jpeg_quality, device=device, precision=precision,
        tile=tile, tile_overlap=tile_overlap, weights=weights, model=model, recursive=recursive, overwrite=overwrite,
        keep_going=keep_going, quiet=quiet, json_out=json_out)
