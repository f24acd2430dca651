"""`mirnet deblur`: dual-pixel defocus deblurring from left/right views."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ._options import CommonOptions, with_common_options
from ._run import Planned, RestoreRun


@with_common_options("a new folder beside the input: dpdd_mirnet-deblur/ for a folder dpdd/, mirnet-deblur/ "
                     "next to --left.")
def deblur(
    folders: Annotated[list[Path] | None, typer.Argument(show_default=False, metavar="FOLDER", hidden=True)] = None,
    left: Annotated[Path | None, typer.Option(metavar="FILE", help="Left dual-pixel view (with --right).")] = None,
    right: Annotated[Path | None, typer.Option(metavar="FILE", help="Right dual-pixel view (with --left).")] = None,
    *,
    opts: CommonOptions,
) -> None:
    """Remove defocus blur using the two dual-pixel views of a photo (MIRNet-v2 DPDD model).

    FOLDER...: folders holding view pairs: the DPDD layout inputL/ + inputR/, or *_L.* / *_R.* files. No output
    may be one of the views (such a run is refused before anything is written).

    The network takes the left and right views stacked, left first. 16-bit views give a 16-bit result.

    Examples:

    \b
      mirnet deblur --left scene_L.png --right scene_R.png
      mirnet deblur dpdd_test/ -o sharp/
    """
    from ...restore.tasks import task_for

    RestoreRun([task_for("deblur")], opts).run(lambda run: plan_pairs(run, folders or [], left, right))


def plan_pairs(run: RestoreRun, folders: list[Path], left: Path | None, right: Path | None) -> Planned:
    """View pairs → jobs; no output may be any view of any pair (nor two pairs share an output)."""
    from ...errors import MirnetError
    from ...io.discovery import DualPixelPair, output_path_for_pair, scan_dual_pixel_pairs
    from ...io.formats import output_extension
    from ...restore.batch import Job

    opts = run.opts
    pairs: list[DualPixelPair] = []
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
    plan = Planned(run.output_dir(left if left is not None else folders[0]))
    run.progress.phase("finding view pairs")
    for folder in folders:
        scan = scan_dual_pixel_pairs(folder, recursive=opts.recursive, exclude_dirs=[plan.out_dir])
        pairs += scan.pairs
        plan.problems += scan.problems
        plan.note_passed_over(scan, run.progress)
    if not pairs and not plan.problems:
        raise MirnetError("no left/right view pairs found" + (
            f" ({len(plan.skipped)} image(s) in unsupported formats)" if plan.skipped else ""))
    outputs = [output_path_for_pair(p, plan.out_dir, opts.suffix, output_extension(p.left, run.ext, None))
               for p in pairs]
    check_pair_outputs(pairs, outputs)
    for pair, out in zip(pairs, outputs, strict=True):
        plan.jobs.append(Job((pair.left, pair.right), out, str(pair.left), compare=run.compare_path(plan.out_dir, out)))
    run.check_reports_are_not_inputs([v for p in pairs for v in (p.left, p.right)])
    return plan


def check_pair_outputs(pairs, outputs: list[Path]) -> None:
    """Refuse an output that is any view of any pair (left or right), or that two pairs would share."""
    import os

    from ...errors import MirnetError
    from ...io.discovery import ensure_no_output_is_input

    ensure_no_output_is_input(outputs, [v for p in pairs for v in (p.left, p.right)])
    owners: dict[str, Path] = {}
    for pair, out in zip(pairs, outputs, strict=True):
        k = os.path.normcase(str(out.absolute()))
        if k in owners:
            raise MirnetError(f"{out}: the pairs of {owners[k]} and {pair.left} would both be written here; "
                              "process them separately or use --suffix")
        owners[k] = pair.left
