"""`mirnet deblur`: dual-pixel defocus deblurring from left/right views."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Optional

import typer

from ._options import (
    Device, Ext, JpegQuality, JsonOut, KeepGoing, Model, Output, Overwrite, Precision, Quiet, Recursive,
    Suffix, Tile, TileOverlap, Weights,
)
from ._run import fail, finish, load_for_task


def deblur(
    folders: Annotated[Optional[list[Path]], typer.Argument(
        help="Folders holding view pairs: DPDD layout inputL/ + inputR/, or *_L.* / *_R.* files.",
        show_default=False)] = None,
    left: Annotated[Optional[Path], typer.Option(help="Left dual-pixel view (with --right).")] = None,
    right: Annotated[Optional[Path], typer.Option(help="Right dual-pixel view (with --left).")] = None,
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
    """Remove defocus blur using the two dual-pixel views of a photo (MIRNet-v2 DPDD model).

    The network takes the left and right views stacked, left first. 16-bit views give a 16-bit result.

    Example: mirnet deblur --left scene_L.png --right scene_R.png    ·    mirnet deblur dpdd_test/
    """
    from ...errors import MirnetError
    from ...io.discovery import DualPixelPair, default_output_dir, find_dual_pixel_pairs, output_path_for_pair
    from ...io.formats import output_extension
    from ...restore.batch import Reporter, Summary, run_pairs
    from ...restore.tasks import task_for

    start = time.perf_counter()
    spec = task_for("deblur")
    summary = Summary()
    try:
        pairs: list[DualPixelPair] = []
        problems: list[tuple[Path, str]] = []
        if (left is None) != (right is None):
            raise MirnetError("--left and --right go together")
        if left is not None and right is not None:
            for view in (left, right):
                if not view.is_file():
                    raise MirnetError(f"{view}: no such file")
            name = left.stem[:-2] if left.stem.lower().endswith("_l") else left.stem
            pairs.append(DualPixelPair(name=name, left=left, right=right))
        if not folders and left is None:
            raise MirnetError("give --left L --right R, or a folder of view pairs")
        first = left if left is not None else folders[0]
        out_dir = output if output is not None else default_output_dir(first, spec.label)
        for folder in folders or []:
            found, issues = find_dual_pixel_pairs(folder, recursive=recursive, exclude_dirs=[out_dir])
            pairs += found
            problems += issues
        plan = []
        for pair in pairs:
            out = output_path_for_pair(pair, out_dir, suffix, output_extension(pair.left, ext, None))
            plan.append((pair.left, pair.right, out))
        choice, net, engine = load_for_task(spec, weights=weights, model=model, arch=None, device=device,
                                            precision=precision, tile=tile, tile_overlap=tile_overlap,
                                            quiet=quiet)
    except MirnetError as exc:
        raise fail(str(exc)) from None
    from ...restore.batch import ItemResult

    reporter = Reporter(len(plan), quiet=quiet, desc="pairs")
    for path, reason in problems:
        summary.results.append(ItemResult(str(path), "failed", None, f"{path}: {reason}"))
        reporter.problem(f"error: {path}: {reason}")
    summary.model = choice.registry_name or str(choice.source)
    summary.device, summary.precision = str(engine.device), str(engine.dtype).replace("torch.", "")
    if not plan and not problems:
        raise fail("no left/right view pairs found")
    run_pairs(engine, plan, overwrite=overwrite, fail_fast=not keep_going, jpeg_quality=jpeg_quality,
              summary=summary, reporter=reporter)
    summary.seconds = time.perf_counter() - start
    finish(summary, json_out=json_out, quiet=quiet)
