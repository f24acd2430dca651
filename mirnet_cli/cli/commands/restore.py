"""`mirnet restore`: run any checkpoint (or any registered task) over photos."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from ._options import (
    Device, Ext, JpegQuality, JsonOut, KeepGoing, Model, Output, Overwrite, Paths, Precision, Quiet, Recursive,
    Suffix, Tile, TileOverlap, Weights,
)
from ._run import run_restore


def restore(
    paths: Paths,
    task: Annotated[Optional[str], typer.Option(
        help="A registry task key (e.g. oldphoto, denoise) when no --weights is given.")] = None,
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
    """Run any MIRNet / MIRNet-v2 checkpoint over photos: --weights takes a file, folder, registry name,
    hf://owner/repo/file[@rev] or URL; the architecture is detected from the checkpoint.

    Example: mirnet restore scans/ --weights my_finetune/ -o restored/
    """
    from ...restore.tasks import task_for

    if not weights and not task and not model:
        raise typer.BadParameter("give --weights SOURCE (or --task / --model to pick a registered checkpoint)")
    run_restore(task_for("restore", task=task), paths, output=output, suffix=suffix, ext=ext, jpeg_quality=jpeg_quality, device=device, precision=precision,
        tile=tile, tile_overlap=tile_overlap, weights=weights, model=model, recursive=recursive, overwrite=overwrite,
        keep_going=keep_going, quiet=quiet, json_out=json_out)
