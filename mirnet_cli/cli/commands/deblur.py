"""`mirnet deblur`: dual-pixel defocus deblurring from left/right views."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from ._options import CommonOptions, with_common_options
from ._run import fail, finish, load_for_task


@with_common_options
def deblur(
    folders: Annotated[list[Path] | None, typer.Argument(
        help="Folders holding view pairs: DPDD layout inputL/ + inputR/, or *_L.* / *_R.* files.",
        show_default=False)] = None,
    left: Annotated[Path | None, typer.Option(help="Left dual-pixel view (with --right).")] = None,
    right: Annotated[Path | None, typer.Option(help="Right dual-pixel view (with --left).")] = None,
    *,
    opts: CommonOptions,
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
        out_dir = opts.output if opts.output is not None else default_output_dir(first, spec.label)
        for folder in folders or []:
            found, issues = find_dual_pixel_pairs(folder, recursive=opts.recursive, exclude_dirs=[out_dir])
            pairs += found
            problems += issues
        plan = []
        for pair in pairs:
            out = output_path_for_pair(pair, out_dir, opts.suffix, output_extension(pair.left, opts.ext, None))
            plan.append((pair.left, pair.right, out))
        choice, net, engine = load_for_task(spec, opts)
    except MirnetError as exc:
        raise fail(str(exc)) from None
    from ...restore.batch import ItemResult

    reporter = Reporter(len(plan), quiet=opts.quiet, desc="pairs")
    for path, reason in problems:
        summary.results.append(ItemResult(str(path), "failed", None, f"{path}: {reason}"))
        reporter.problem(f"error: {path}: {reason}")
    summary.model = choice.registry_name or str(choice.source)
    summary.device, summary.precision = str(engine.device), str(engine.dtype).replace("torch.", "")
    if not plan and not problems:
        raise fail("no left/right view pairs found")
    run_pairs(engine, plan, overwrite=opts.overwrite, fail_fast=not opts.keep_going,
              jpeg_quality=opts.jpeg_quality, summary=summary, reporter=reporter)
    summary.seconds = time.perf_counter() - start
    finish(summary, json_out=opts.json_out, quiet=opts.quiet)
