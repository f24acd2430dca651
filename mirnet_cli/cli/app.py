"""The ``mirnet`` Typer application.

Each command lives in its own module under ``mirnet_cli.cli.commands`` and is registered here.
Command modules import torch and friends *inside* the command function, so ``mirnet --help``
stays instant.
"""

from __future__ import annotations

import typer

from .._version import __version__
from .commands import benchmark as benchmark_cmd
from .commands import deblur as deblur_cmd
from .commands import denoise as denoise_cmd
from .commands import enhance as enhance_cmd
from .commands import models as models_cmd
from .commands import restore as restore_cmd
from .commands import super_resolve as super_resolve_cmd
from .commands import train as train_cmd

app = typer.Typer(
    name="mirnet",
    help="Restore photos with MIRNet / MIRNet-v2: denoise, enhance, super-resolve, dual-pixel deblur.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"mirnet {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version_callback, is_eager=True, help="Show the version and exit."
    ),
) -> None:
    """Restore photos with MIRNet / MIRNet-v2."""
    _one_line_warnings()


def _one_line_warnings() -> None:
    """Show library warnings (device fallback, fp32 recompute, lossy output format) as one plain line."""
    import sys
    import warnings

    def show(message, category, filename, lineno, file=None, line=None):
        print(f"warning: {message}", file=file or sys.stderr)

    warnings.showwarning = show


app.command("denoise")(denoise_cmd.denoise)
app.command("enhance")(enhance_cmd.enhance)
app.command("super-resolve")(super_resolve_cmd.super_resolve)
app.command("deblur")(deblur_cmd.deblur)
app.command("restore")(restore_cmd.restore)
app.command("train")(train_cmd.train)
app.command("benchmark", epilog=benchmark_cmd.EPILOG)(benchmark_cmd.benchmark)
app.command("models")(models_cmd.models)
app.command("download")(models_cmd.download)
app.command("cache")(models_cmd.cache)


def main() -> None:
    app()
