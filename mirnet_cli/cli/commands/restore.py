"""`mirnet restore`: run any checkpoint, any registered task, or a chain of tasks over photos."""

from __future__ import annotations

from typing import Annotated

import typer

from ._options import CommonOptions, Force, Paths, with_common_options
from ._run import run_restore


@with_common_options("a new folder beside the input named after the task: photos_mirnet-oldphoto/ for "
                     "--task oldphoto on a folder photos/ (photos_mirnet-denoise+x2/ for a chain), "
                     "mirnet-<task>/ next to a file; photos_mirnet-restore/ with --weights.")
def restore(
    paths: Paths,
    task: Annotated[str | None, typer.Option(
        metavar="TASK[,TASK...]",
        help="A registry task key (oldphoto, denoise, lowlight, contrast, super-resolve:x2 …), or several "
             "separated by commas to chain them in memory, e.g. denoise,super-resolve:x2.")] = None,
    force: Force = False,
    *,
    opts: CommonOptions,
) -> None:
    """Run any MIRNet / MIRNet-v2 checkpoint, or a chain of tasks, over photos.

    PHOTO_OR_FOLDER...: image files (PNG, JPEG, TIFF, WebP, BMP, camera RAW) and/or folders of them.

    --weights takes a file, folder, registry name, hf://owner/repo/file[@rev] or URL; the architecture is
    detected from the checkpoint. --task oldphoto uses the bundled old-photo model. --task a,b runs task a then
    task b on each photo without intermediate files; each step's model is chosen as its own command would.

    Example: mirnet restore photos/ --task denoise,super-resolve:x2
    """
    from ...loading.registry import known_task_keys
    from ...restore.tasks import parse_chain, task_for

    if not opts.weights and not task and not opts.model:
        raise typer.BadParameter("give --weights SOURCE (or --task / --model to pick a registered checkpoint)")
    if task is None or (opts.weights and "," not in task):
        steps = [task_for("restore", task=task)]
    else:
        try:
            steps = parse_chain(task, known_task_keys())
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--task") from None
    run_restore(steps, paths, opts, force=force)
