"""`mirnet denoise`: remove real camera noise."""

from __future__ import annotations

from typing import Annotated

import typer

from ._options import CommonOptions, Paths, default_output_help, with_common_options
from ._run import run_restore


@with_common_options(default_output_help("denoise"))
def denoise(
    paths: Paths,
    arch: Annotated[str, typer.Option(
        metavar="ARCH", help="mirnet_v2 (default) or mirnet (v1; its weights are a manual download).")] = "mirnet_v2",
    *,
    opts: CommonOptions,
) -> None:
    """Remove real sRGB camera noise (SIDD-trained MIRNet-v2 by default).

    PHOTO_OR_FOLDER...: image files (PNG, JPEG, TIFF, WebP, BMP, camera RAW) and/or folders of them.

    Example: mirnet denoise photos/ -o clean/ --device cuda
    """
    from ...restore.tasks import task_for

    run_restore(task_for("denoise"), paths, opts, arch=check_arch(arch))


def check_arch(arch: str | None) -> str | None:
    """``--arch``: ``mirnet_v2``, ``mirnet`` (v1) or ``None``."""
    if arch is None:
        return None
    value = arch.strip().lower().replace("-", "_")
    if value not in ("mirnet_v2", "mirnet"):
        raise typer.BadParameter(f"{arch!r}: choose mirnet_v2 or mirnet (v1)", param_hint="--arch")
    return value
