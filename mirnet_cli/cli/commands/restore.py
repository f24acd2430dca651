"""`mirnet restore`: run any checkpoint (or any registered task) over photos."""

from __future__ import annotations

from typing import Annotated

import typer

from ._options import CommonOptions, Paths, with_common_options
from ._run import run_restore


@with_common_options
def restore(
    paths: Paths,
    task: Annotated[str | None, typer.Option(
        help="A registry task key (e.g. oldphoto, denoise) when no --weights is given.")] = None,
    *,
    opts: CommonOptions,
) -> None:
    """Run any MIRNet / MIRNet-v2 checkpoint over photos.

    --weights takes a file, folder, registry name, hf://owner/repo/file\\[@rev] or URL; the architecture is
    detected from the checkpoint. --task oldphoto uses the bundled old-photo model.

    Example: mirnet restore scans/ --weights my_finetune/ -o restored/
    """
    from ...restore.tasks import task_for

    if not opts.weights and not task and not opts.model:
        raise typer.BadParameter("give --weights SOURCE (or --task / --model to pick a registered checkpoint)")
    run_restore(task_for("restore", task=task), paths, opts)
