"""`mirnet enhance`: low-light or contrast enhancement."""

from __future__ import annotations

from typing import Annotated

import typer

from ._options import CommonOptions, Paths, with_common_options
from ._run import run_restore


@with_common_options
def enhance(
    paths: Paths,
    task: Annotated[str, typer.Option(
        help="lowlight (LoL-trained) or contrast (MIT-Adobe FiveK-trained).")] = "lowlight",
    arch: Annotated[str | None, typer.Option(help="Restrict to mirnet_v2 or mirnet (v1).")] = None,
    *,
    opts: CommonOptions,
) -> None:
    """Brighten under-exposed photos (--task lowlight) or retouch tone and contrast (--task contrast).

    Example: mirnet enhance night/ --task lowlight
    """
    from ...restore.tasks import task_for

    try:
        spec = task_for("enhance", task=task)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    run_restore(spec, paths, opts, arch=arch)
