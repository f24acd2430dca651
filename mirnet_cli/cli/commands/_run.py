"""The flow every restoration command shares: find inputs → choose and load the model → engine → batch.

Heavy modules (torch, the model, the engine) are imported inside :func:`run_restore`, never at import time.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer


def fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(1)


def load_for_task(spec, opts, *, arch: str | None = None):
    """Choose, load and wrap the model in an engine. Raises MirnetError with a readable message."""
    from ...engine.inference import InferenceEngine
    from ...errors import MirnetError
    from ...loading.checkpoint import load_model
    from ...restore.selection import choose_weights

    choice = choose_weights(spec.key, weights=opts.weights, model=opts.model, arch=arch)
    if choice.notice and not opts.quiet:
        typer.echo(f"note: {choice.notice}", err=True)
    net = load_model(choice.source)
    wants = 6 if spec.dual_pixel else 3
    if net.in_channels != wants:
        raise MirnetError(f"{choice.source}: this model takes {net.in_channels} input channels but "
                          f"`{spec.label}` feeds it {wants}")
    engine = InferenceEngine(net, device=opts.device, precision=opts.precision, tile=opts.tile,
                             tile_overlap=opts.tile_overlap,
                             progress=not opts.quiet and sys.stderr.isatty())
    return choice, net, engine


def finish(summary, *, json_out: bool, quiet: bool) -> None:
    """Print the summary (stderr, or JSON on stdout) and exit 1 when anything failed."""
    if json_out:
        typer.echo(json.dumps(summary.to_dict(), indent=2))
    if not quiet or summary.exit_code:
        typer.echo(summary.line(), err=True)
    raise typer.Exit(summary.exit_code)


def run_restore(spec, paths: list[Path], opts, *, arch: str | None = None) -> None:
    """Restore single images (denoise, enhance, super-resolve, restore) with the shared ``opts``."""
    import time

    from ...errors import MirnetError
    from ...io.discovery import default_output_dir, find_inputs, plan_outputs
    from ...restore.batch import Reporter, Summary, run_images

    start = time.perf_counter()
    try:
        if not paths:
            raise MirnetError("no input given")
        out_dir = opts.output if opts.output is not None else default_output_dir(paths[0], spec.label)
        items = find_inputs(paths, recursive=opts.recursive, exclude_dirs=[out_dir])
        if not items:
            raise MirnetError(f"no images found in {', '.join(map(str, paths))}"
                              + ("" if opts.recursive else " (use --recursive for sub-folders)"))
        plan = [(item.path, out) for item, out in plan_outputs(items, out_dir, opts.suffix, opts.ext)]
        choice, net, engine = load_for_task(spec, opts, arch=arch)
    except MirnetError as exc:
        raise fail(str(exc)) from None
    summary = Summary(model=choice.registry_name or str(choice.source), device=str(engine.device),
                      precision=str(engine.dtype).replace("torch.", ""))
    if not opts.quiet:
        typer.echo(f"{len(plan)} image(s) → {out_dir}  [model {summary.model}, {summary.device}, "
                   f"{summary.precision}]", err=True)
    run_images(spec, engine, plan, overwrite=opts.overwrite, fail_fast=not opts.keep_going,
               jpeg_quality=opts.jpeg_quality, summary=summary, reporter=Reporter(len(plan), quiet=opts.quiet))
    summary.seconds = time.perf_counter() - start
    finish(summary, json_out=opts.json_out, quiet=opts.quiet)

