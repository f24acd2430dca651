"""The ``mirnet`` Typer application.

Each command lives in its own module under ``mirnet_cli.cli.commands`` and is registered here.
Command modules import torch and friends *inside* the command function, so ``mirnet --help``
stays instant.
"""

from __future__ import annotations

import typer
from typer.core import TyperCommand, TyperGroup

from .._version import __version__
from .commands import benchmark as benchmark_cmd
from .commands import deblur as deblur_cmd
from .commands import denoise as denoise_cmd
from .commands import enhance as enhance_cmd
from .commands import models as models_cmd
from .commands import restore as restore_cmd
from .commands import super_resolve as super_resolve_cmd
from .commands import train as train_cmd

EXIT_CODES_HELP = """Exit codes: 0 every input done (or skipped); 1 one or more inputs failed (also when all did);
2 usage error: a bad option or argument, a missing input, an unusable output folder or model; nothing was
processed."""

# Typer may vendor its own copy of Click: take the exception classes from Typer's MRO, not from `click`.
_UsageError = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "UsageError")
_ClickException = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")


class _UsageLine(_ClickException):
    """A usage error shown as one line (``error: …``) with exit code 2, instead of Click's usage block."""

    exit_code = 2

    def __init__(self, error: Exception):
        ctx = getattr(error, "ctx", None)
        where = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
        text = error.format_message() if hasattr(error, "format_message") else str(error)
        super().__init__(" ".join(text.split()) + where)

    def show(self, file=None) -> None:
        from ..restore.progress import one_line

        typer.echo(f"error: {one_line(self.message[:1].lower() + self.message[1:])}", err=True)


class _App(TyperGroup):
    """The root group: usage errors become one line (``error: …``, exit 2)."""

    @staticmethod
    def _convert(error: Exception, args: list[str] | None = None) -> Exception:
        if type(error).__name__ == "NoArgsIsHelpError":
            return error
        line = _UsageLine(error)
        name = getattr(error, "option_name", None)
        if type(error).__name__ == "NoSuchOption" and name and args:
            # `mirnet denoise -x.png`: a file whose name starts with "-" reads as options
            token = next((a for a in args if a.startswith(name) and len(a) > len(name) and "." in a), None)
            if token is None and name in args and any(a.startswith("-") and "." in a for a in args):
                token = next(a for a in args if a.startswith("-") and "." in a)
            if token is not None:
                ctx = getattr(error, "ctx", None)
                command = f"mirnet {ctx.info_name}" if ctx is not None and ctx.info_name else "mirnet COMMAND"
                line.message += (f"; {token} looks like a file name: put it after `--` ({command} -- {token}) "
                                 f"or write ./{token}")
        return line

    def make_context(self, info_name, args, *rest, **kwargs):
        given = list(args)
        try:
            return super().make_context(info_name, args, *rest, **kwargs)
        except _UsageError as error:
            raise self._convert(error, given) from None

    def invoke(self, ctx):
        given = [*getattr(ctx, "protected_args", []), *ctx.args]
        try:
            return super().invoke(ctx)
        except _UsageError as error:
            raise self._convert(error, given) from None


class _Command(TyperCommand):
    """A command whose help names values the classic way (``--data-dir PATH``), never as Python types.

    Recent Typer versions print every option's Python type (``--data-dir <path>``, ``--set <list[str]>``) and an
    argument's (``<list[Path]>``); options without a ``metavar`` get one derived from that type instead, and the
    arguments' type is left out (their name says what they are).
    """

    def format_help(self, ctx, formatter) -> None:
        for param in self.params:
            display = getattr(param, "display_type", None)
            if display is None:
                continue  # an older Typer on plain Click: already TEXT / PATH / INTEGER
            if getattr(param, "param_type_name", "") == "argument":
                param.display_type_rich = lambda ctx: None  # type: ignore[method-assign]
            elif param.metavar is None and not getattr(param, "is_flag", False):
                label = str(display(ctx)).strip("<>").removeprefix("list[").rstrip("]").split(" ")[0]
                param.metavar = {"str": "TEXT", "int": "INTEGER", "float": "NUMBER"}.get(label, label.upper())
        super().format_help(ctx, formatter)


app = typer.Typer(
    name="mirnet",
    cls=_App,
    help="Restore photos with MIRNet / MIRNet-v2: denoise, enhance, super-resolve, dual-pixel deblur.\n\n"
         + EXIT_CODES_HELP.replace("\n", " "),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain Click help: reads well at 80 columns, no boxes, no <bool> markers
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
        from ..restore.progress import Progress, one_line

        if Progress.active is not None and file is None:  # above the live status line; silent with --quiet
            Progress.active.line(f"warning: {message}")
        else:
            print(f"warning: {one_line(str(message))}", file=file or sys.stderr)

    warnings.showwarning = show


app.command("denoise", cls=_Command, short_help="Remove camera noise.")(denoise_cmd.denoise)
app.command("enhance", cls=_Command, short_help="Brighten low-light photos, or retouch contrast.")(enhance_cmd.enhance)
app.command("super-resolve", cls=_Command, short_help="Upscale photos ×2, ×3 or ×4.")(super_resolve_cmd.super_resolve)
app.command("deblur", cls=_Command, short_help="Remove defocus blur from dual-pixel view pairs.")(deblur_cmd.deblur)
app.command("restore", cls=_Command, short_help="Run any checkpoint, task or chain of tasks.")(restore_cmd.restore)
app.command("train", cls=_Command, short_help="Train or fine-tune a model.")(train_cmd.train)
app.command("benchmark", cls=_Command, short_help="Score a model on a test set, or time it.",
            epilog=benchmark_cmd.EPILOG)(benchmark_cmd.benchmark)
app.command("models", cls=_Command, short_help="List the known checkpoints.")(models_cmd.models)
app.command("download", cls=_Command, short_help="Fetch checkpoints into the cache.")(models_cmd.download)
app.command("cache", cls=_Command, short_help="Show or clean the checkpoint cache.")(models_cmd.cache)


def main() -> None:
    app()
