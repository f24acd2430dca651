"""`mirnet enhance`: low-light or contrast enhancement."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from ._options import (
    Device, Ext, JpegQuality, JsonOut, KeepGoing, Model, Output, Overwrite, Paths, Precision, Quiet, Recursive,
    Suffix, Tile, TileOverlap, Weights,
)
from ._run import run_restore


def enhance(
    paths: Paths,
    task: Annotated[str, typer.Option(help="lowlight (LoL-trained) or contrast (MIT-Adobe FiveK-trained).")] = "lowlight",
    arch: Annotated[Optional[str], typer.Option(help="Restrict to mirnet_v2 or mirnet (v1).")] = None,
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
    """Brighten under-exposed photos (--task lowlight) or retouch tone and contrast (--task contrast).

    Example: mirnet enhance night/ --task lowlight
    """
    from ...restore.tasks import task_for

    try:
        spec = task_for("enhance", task=task)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    run_restore(spec, paths, arch=arch, output=output, suffix=suffix, ext=ext, jpeg_quality=jpeg_quality, device=device, precision=precision,
        tile=tile, tile_overlap=tile_overlap, weights=weights, model=model, recursive=recursive, overwrite=overwrite,
        keep_going=keep_going, quiet=quiet, json_out=json_out)
