"""The flow every restoration command shares: find inputs → choose and load the model → engine → batch.

Heavy modules (torch, the model, the engine) are imported inside :func:`run_restore`, never at import time.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer


def parse_tile(tile: str) -> str | int:
    value = tile.strip().lower()
    if value == "auto":
        return "auto"
    if value.isdigit():
        return int(value)
    raise typer.BadParameter(f"--tile must be auto, 0 or a number of pixels, not {tile!r}")


def fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(1)


def load_for_task(spec, *, weights, model, arch, device, precision, tile, tile_overlap, quiet):
    """Choose, load and wrap the model in an engine. Raises MirnetError with a readable message."""
    from ...engine.inference import InferenceEngine
    from ...errors import MirnetError
    from ...loading.checkpoint import load_model
    from ...restore.selection import choose_weights

    choice = choose_weights(spec.key, weights=weights, model=model, arch=arch)
    if choice.notice and not quiet:
        typer.echo(f"note: {choice.notice}", err=True)
    net = load_model(choice.source)
    wants = 6 if spec.dual_pixel else 3
    if net.in_channels != wants:
        raise MirnetError(f"{choice.source}: this model takes {net.in_channels} input channels but "
                          f"`{spec.label}` feeds it {wants}")
    engine = InferenceEngine(net, device=device, precision=precision, tile=parse_tile(tile),
                             tile_overlap=tile_overlap, progress=not quiet)
    return choice, net, engine


def finish(summary, *, json_out: bool, quiet: bool) -> None:
    """Print the summary (stderr, or JSON on stdout) and exit 1 when anything failed."""
    if json_out:
        typer.echo(json.dumps(summary.to_dict(), indent=2))
    if not quiet or summary.exit_code:
        typer.echo(summary.line(), err=True)
    raise typer.Exit(summary.exit_code)


def run_restore(spec, paths: list[Path], *, output, suffix, ext, jpeg_quality, device, precision, tile,
                tile_overlap, weights, model, recursive, overwrite, keep_going, quiet, json_out,
                arch: str | None = None) -> None:
    """Restore single images (denoise, enhance, super-resolve, restore)."""
    import time

    from ...errors import MirnetError
    from ...io.discovery import default_output_dir, find_inputs, plan_outputs
    from ...restore.batch import Summary, run_images

    start = time.perf_counter()
    try:
        if not paths:
            raise MirnetError("no input given")
        out_dir = output if output is not None else default_output_dir(paths[0], spec.label)
        items = find_inputs(paths, recursive=recursive, exclude_dirs=[out_dir])
        if not items:
            raise MirnetError(f"no images found in {', '.join(map(str, paths))}"
                              + ("" if recursive else " (use --recursive for sub-folders)"))
        plan = [(item.path, out) for item, out in plan_outputs(items, out_dir, suffix, ext)]
        choice, net, engine = load_for_task(spec, weights=weights, model=model, arch=arch, device=device,
                                            precision=precision, tile=tile, tile_overlap=tile_overlap,
                                            quiet=quiet)
    except MirnetError as exc:
        raise fail(str(exc)) from None
    summary = Summary(model=choice.registry_name or str(choice.source), device=str(engine.device),
                      precision=str(engine.dtype).replace("torch.", ""))
    if not quiet:
        typer.echo(f"{len(plan)} image(s) → {out_dir}  [model {summary.model}, {summary.device}, "
                   f"{summary.precision}]", err=True)
    run_images(spec, engine, plan, overwrite=overwrite, fail_fast=not keep_going, jpeg_quality=jpeg_quality,
               summary=summary, reporter=_reporter(len(plan), quiet))
    summary.seconds = time.perf_counter() - start
    finish(summary, json_out=json_out, quiet=quiet)


def _reporter(total: int, quiet: bool):
    from ...restore.batch import Reporter

    return Reporter(total, quiet=quiet)

