"""`mirnet enhance`: low-light or contrast enhancement."""

from __future__ import annotations

from typing import Annotated

import typer

from ._options import CommonOptions, Force, Paths, with_common_options
from ._run import run_restore
from .denoise import check_arch


@with_common_options("a new folder beside the input: photos_mirnet-lowlight/ for a folder photos/ "
                     "(photos_mirnet-contrast/ with --task contrast), mirnet-lowlight/ next to a file.")
def enhance(
    paths: Paths,
    task: Annotated[str, typer.Option(
        metavar="TASK", help="lowlight (LoL-trained) or contrast (MIT-Adobe FiveK-trained).")] = "lowlight",
    arch: Annotated[str | None, typer.Option(metavar="ARCH", help="Restrict to mirnet_v2 or mirnet (v1).")] = None,
    force: Force = False,
    *,
    opts: CommonOptions,
) -> None:
    """Brighten under-exposed photos (--task lowlight) or retouch tone and contrast (--task contrast).

    PHOTO_OR_FOLDER...: image files (PNG, JPEG, TIFF, WebP, BMP, camera RAW) and/or folders of them.

    With --task lowlight, a photo that is already well exposed (mean brightness above 0.25) is skipped with
    the reason; --force processes it anyway.

    Example: mirnet enhance night/ --task lowlight
    """
    from ...restore.tasks import task_for

    try:
        spec = task_for("enhance", task=task)
    except ValueError as exc:
        raise typer.BadParameter(str(exc).replace("--task must be", "must be"), param_hint="--task") from None
    run_restore(spec, paths, opts, arch=check_arch(arch), force=force)
