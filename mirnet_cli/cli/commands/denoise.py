"""`mirnet denoise`: remove real camera noise."""

from __future__ import annotations

from typing import Annotated

import typer

from ._options import CommonOptions, Paths, with_common_options
from ._run import run_restore


@with_common_options
def denoise(
    paths: Paths,
    arch: Annotated[str, typer.Option(
        help="mirnet_v2 (default) or mirnet (v1; its weights are a manual download).")] = "mirnet_v2",
    *,
    opts: CommonOptions,
) -> None:
    """Remove real sRGB camera noise (SIDD-trained MIRNet-v2 by default).

    Example: mirnet denoise photos/ -o clean/ --device cuda
    """
    from ...restore.tasks import task_for

    run_restore(task_for("denoise"), paths, opts, arch=arch)
