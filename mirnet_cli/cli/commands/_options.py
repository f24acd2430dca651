"""Options shared by the restoration commands, declared once (Typer ``Annotated`` aliases)."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

Paths = Annotated[list[Path], typer.Argument(help="Image files and/or folders (PNG, JPEG, TIFF, WebP, BMP, camera RAW).",
                                             show_default=False)]
Output = Annotated[Path | None, typer.Option(
    "--output", "-o", help="Output folder (default: a new sibling folder such as photos_mirnet-denoise/).")]
Suffix = Annotated[str, typer.Option(help="Appended to each output file name before the extension.")]
Ext = Annotated[str, typer.Option(help="Output format: png, jpg, tif, webp or same (RAW → 16-bit TIFF).")]
JpegQuality = Annotated[int, typer.Option(min=1, max=100, help="Quality for JPEG / lossy WebP outputs.")]
Device = Annotated[str, typer.Option(help="auto, cpu, cuda, cuda:N or mps (auto: cuda > mps > cpu).")]
Precision = Annotated[str, typer.Option(
    help="auto, fp32, fp16 or bf16 (auto: fp16 on CUDA with a NaN guard, fp32 elsewhere).")]
Tile = Annotated[str, typer.Option(
    help="auto (whole image when it fits in memory), 0 (never tile) or a tile size in pixels.")]
TileOverlap = Annotated[int, typer.Option(min=0, help="Overlap between tiles, blended with a cosine window.")]
Weights = Annotated[str | None, typer.Option(
    help="Checkpoint to use: a file or folder, a registry name, hf://owner/repo/file[@rev] or an https URL.")]
Model = Annotated[str | None, typer.Option(
    help="official, bundled, or a registry name (see `mirnet models`). Default: official when available, "
         "else the bundled compact model.")]
Recursive = Annotated[bool, typer.Option("--recursive", "-r", help="Descend into sub-folders; mirror them in the output.")]
Overwrite = Annotated[bool, typer.Option(help="Replace outputs that exist (default: skip them, so re-runs resume).")]
KeepGoing = Annotated[bool, typer.Option("--keep-going/--fail-fast", help="Go on past a bad file (default) or stop.")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars or notices; errors are still shown.")]
JsonOut = Annotated[bool, typer.Option("--json", help="Print a machine-readable JSON summary on stdout.")]


@dataclass(frozen=True)
class CommonOptions:
    """The options every restoration command takes (see :func:`with_common_options`)."""

    output: Path | None = None
    suffix: str = ""
    ext: str = "same"
    jpeg_quality: int = 95
    device: str = "auto"
    precision: str = "auto"
    tile: str = "auto"
    tile_overlap: int = 32
    weights: str | None = None
    model: str | None = None
    recursive: bool = False
    overwrite: bool = False
    keep_going: bool = True
    quiet: bool = False
    json_out: bool = False


_COMMON: dict[str, Any] = {
    "output": Output, "suffix": Suffix, "ext": Ext, "jpeg_quality": JpegQuality, "device": Device,
    "precision": Precision, "tile": Tile, "tile_overlap": TileOverlap, "weights": Weights, "model": Model,
    "recursive": Recursive, "overwrite": Overwrite, "keep_going": KeepGoing, "quiet": Quiet, "json_out": JsonOut,
}


def with_common_options(fn: Callable[..., None]) -> Callable[..., None]:
    """Give a command the shared options without repeating them in every signature.

    The command declares its own parameters plus ``opts: CommonOptions``; Typer sees its own parameters followed
    by the common options, and the wrapper folds those back into one :class:`CommonOptions`.
    """
    sig = inspect.signature(fn, eval_str=True)  # real annotations: Typer reads Argument/Option from them
    own = [p for name, p in sig.parameters.items() if name != "opts"]
    defaults = CommonOptions()
    common = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=getattr(defaults, name),
                                annotation=annotation) for name, annotation in _COMMON.items()]

    @functools.wraps(fn)
    def command(*args: Any, **kwargs: Any) -> None:
        opts = CommonOptions(**{name: kwargs.pop(name) for name in _COMMON if name in kwargs})
        return fn(*args, opts=opts, **kwargs)

    command.__signature__ = sig.replace(parameters=own + common)  # type: ignore[attr-defined]
    command.__annotations__ = {**{k: v for k, v in fn.__annotations__.items() if k != "opts"}, **_COMMON}
    return command
