"""Options shared by the restoration commands, declared once (Typer ``Annotated`` aliases), and their checks.

Every option is checked by :func:`check_options` before anything slow or remote happens (finding inputs, choosing
or downloading a model): a bad value is one line and exit code 2.
"""

from __future__ import annotations

import functools
import inspect
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

#: The inputs. Described in each command's docstring (``PHOTO_OR_FOLDER...``): Typer's own line for an argument
#: shows its Python type (``<list[Path]>``), which means nothing to a photographer.
Paths = Annotated[list[Path], typer.Argument(show_default=False, metavar="PHOTO_OR_FOLDER", hidden=True)]
Suffix = Annotated[str, typer.Option(metavar="TEXT", help="Appended to each output file name before the extension.")]
Ext = Annotated[str, typer.Option(
    metavar="FORMAT", help="Output format: png, jpg, tif, webp, bmp or same (RAW → 16-bit TIFF).")]
JpegQuality = Annotated[int, typer.Option(min=1, max=100, metavar="1-100",
                                          help="Quality for JPEG / lossy WebP outputs.")]
Device = Annotated[str, typer.Option(
    metavar="DEVICE", help="auto, cpu, cuda, cuda:N or mps. auto: cuda > mps > cpu; a named device that is "
                           "missing is an error.")]
Precision = Annotated[str, typer.Option(
    metavar="PRECISION", help="auto, fp32, fp16 or bf16 (auto: fp16 on CUDA with a NaN guard, fp32 elsewhere).")]
Tile = Annotated[str, typer.Option(
    metavar="auto|0|PIXELS",
    help="auto (whole image when it fits in memory), 0 (never tile) or a tile size in pixels.")]
TileOverlap = Annotated[int, typer.Option(min=0, metavar="PIXELS",
                                          help="Overlap between tiles, blended with a cosine window.")]
Context = Annotated[str, typer.Option(
    metavar="auto|full|fast|tile",
    help="How tiles get the model's image-wide statistics. full: from the whole image (tiles match a "
         "whole-image pass); fast: from 4x and 6x downscaled copies (+9% time); tile: each tile its own "
         "(fastest, visible tile-to-tile differences on some models); auto: full when it fits in memory, else fast.")]
MaxMemory = Annotated[str | None, typer.Option(
    metavar="SIZE", help="Memory budget, e.g. 2G or 800M: the whole process on the CPU (default 2.25G), the "
                         "tile batch on a GPU (default 70% of its free memory).")]
Backend = Annotated[str, typer.Option(
    envvar="MIRNET_BACKEND", metavar="auto|torch|openvino|onnxruntime",
    help="CPU runtime. auto: PyTorch (the fastest in fp32 where measured). openvino / onnxruntime: pip install "
         "'mirnet-cli[openvino]' (or [onnxruntime]); the model is exported once per checkpoint, about a minute; "
         "openvino with --precision bf16 was 2.4x the authors' speed on MIRNet-v2. GPUs always run PyTorch.")]
Threads = Annotated[str, typer.Option(
    envvar="MIRNET_THREADS", metavar="auto|N",
    help="CPU threads. auto: one per core that is idle when the run starts (a core shared with another busy "
         "program slows every thread down: 3x measured with one other process on 2 cores).")]
Verbose = Annotated[bool, typer.Option(
    "--verbose", "-v", help="Say how each photo was run: whole or tiles (size, overlap, batch), global context, "
                            "pixels computed per output pixel.")]
Weights = Annotated[str | None, typer.Option(
    "--weights", "-w", metavar="SOURCE",
    help="Checkpoint: a file or folder, a registry name, hf://owner/repo/file[@rev] or an https URL.")]
Model = Annotated[str | None, typer.Option(
    "--model", "-m", metavar="NAME",
    help="official, bundled, or a registry name (see `mirnet models`). Default: official when available, "
         "else the bundled compact model.")]
Recursive = Annotated[bool, typer.Option("--recursive", "-r", help="Descend into sub-folders; mirror them in the output.")]
Overwrite = Annotated[bool, typer.Option(
    "--overwrite", help="Replace outputs that exist (default: skip them, so re-runs resume).")]
KeepGoing = Annotated[bool, typer.Option("--keep-going/--fail-fast", help="Go on past a bad file (default) or stop.")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="Only errors: no progress, no per-file lines.")]
JsonOut = Annotated[str | None, typer.Option(
    "--json", metavar="PATH", help="Write a machine-readable summary to PATH (- for stdout).")]
DryRun = Annotated[bool, typer.Option(
    "--dry-run", help="Show inputs → outputs and the model that would be used; load and write nothing.")]
Compare = Annotated[bool, typer.Option(
    "--compare", help="Also write an input | output sheet (JPEG) per photo, in OUTPUT/mirnet-compare/.")]
Force = Annotated[bool, typer.Option(
    "--force", help="Process photos the task would skip (an already well-exposed photo for low light).")]

#: ``--ext`` values; ``jpeg`` and ``tiff`` are accepted spellings of ``jpg`` and ``tif``.
EXT_CHOICES = ("png", "jpg", "tif", "webp", "bmp", "same")
_EXT_ALIASES = {"jpeg": "jpg", "tiff": "tif"}


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
    context: str = "auto"
    max_memory: str | None = None
    backend: str = "auto"
    threads: str = "auto"
    verbose: bool = False
    weights: str | None = None
    model: str | None = None
    recursive: bool = False
    overwrite: bool = False
    keep_going: bool = True
    quiet: bool = False
    json_out: str | None = None
    dry_run: bool = False
    compare: bool = False


def _output_option(default_name: str) -> Any:
    return Annotated[Path | None, typer.Option(
        "--output", "-o", metavar="FOLDER",
        help=f"Output folder. Default: {default_name}")]


def _common(default_name: str) -> dict[str, Any]:
    return {
        "output": _output_option(default_name), "suffix": Suffix, "ext": Ext, "jpeg_quality": JpegQuality,
        "device": Device, "precision": Precision, "tile": Tile, "tile_overlap": TileOverlap, "context": Context,
        "max_memory": MaxMemory, "backend": Backend, "threads": Threads, "verbose": Verbose, "weights": Weights,
        "model": Model, "recursive": Recursive, "overwrite": Overwrite, "keep_going": KeepGoing, "quiet": Quiet,
        "json_out": JsonOut, "dry_run": DryRun, "compare": Compare,
    }


def default_output_help(label: str) -> str:
    """``photos_mirnet-<label>/`` beside a folder, ``mirnet-<label>/`` beside a file (see default_output_dir)."""
    return f"a new folder beside the input: photos_mirnet-{label}/ for a folder photos/, mirnet-{label}/ next to a file."


def with_common_options(default_output: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Give a command the shared options without repeating them in every signature.

    The command declares its own parameters plus ``opts: CommonOptions``; Typer sees its own parameters followed
    by the common options, and the wrapper folds those back into one :class:`CommonOptions`.

    Args:
        default_output: the end of ``--output``'s help: where this command writes when ``-o`` is not given.
    """
    common_annotations = _common(default_output)

    def decorate(fn: Callable[..., None]) -> Callable[..., None]:
        sig = inspect.signature(fn, eval_str=True)  # real annotations: Typer reads Argument/Option from them
        own = [p for name, p in sig.parameters.items() if name != "opts"]
        defaults = CommonOptions()
        common = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=getattr(defaults, name),
                                    annotation=annotation) for name, annotation in common_annotations.items()]

        @functools.wraps(fn)
        def command(*args: Any, **kwargs: Any) -> None:
            opts = CommonOptions(**{name: kwargs.pop(name) for name in common_annotations if name in kwargs})
            return fn(*args, opts=opts, **kwargs)

        command.__signature__ = sig.replace(parameters=own + common)  # type: ignore[attr-defined]
        command.__annotations__ = {**{k: v for k, v in fn.__annotations__.items() if k != "opts"},
                                   **common_annotations}
        return command

    return decorate


# ----------------------------------------------------------------------------------------------- checks


def check_ext(ext: str) -> str:
    """The canonical ``--ext`` value, or :class:`~mirnet_cli.errors.MirnetError` naming the choices."""
    from ...errors import MirnetError

    value = ext.strip().lower().lstrip(".")
    value = _EXT_ALIASES.get(value, value)
    if value not in EXT_CHOICES:
        raise MirnetError(f"--ext {ext}: not an output format; choose {', '.join(EXT_CHOICES[:-1])} or same")
    return value


def check_suffix(suffix: str) -> None:
    """A suffix must stay inside the file name (no folder separators, no control characters)."""
    from ...errors import MirnetError

    if any(sep in suffix for sep in {"/", os.sep, os.altsep or "/"}) or not suffix.isprintable():
        raise MirnetError(f"--suffix {suffix!r}: must be plain text (no folder separators or control characters)")


def check_tile(tile: str) -> str | int:
    """``--tile``: ``"auto"`` or a size in pixels (0 = whole image), parsed by the engine's own rules."""
    from ...engine.tiling import parse_tile
    from ...errors import MirnetError

    try:
        return parse_tile(tile)
    except ValueError as exc:
        raise MirnetError(str(exc)) from None


def check_json_path(value: str | None) -> Path | None:
    """``--json PATH``: ``None`` for stdout (``-``); a path must not be a folder and its folder must exist."""
    from ...errors import MirnetError

    if value is None or value == "-":
        return None
    path = Path(value)
    if path.is_dir():
        raise MirnetError(f"--json {value}: is a folder; give a file name (or - for stdout)")
    if not path.parent.is_dir() and str(path.parent) not in ("", "."):
        raise MirnetError(f"--json {value}: folder {path.parent} does not exist")
    return path


def check_output_dir(path: Path) -> None:
    """The output folder is usable: not a file, and writable (it or the nearest folder above that exists)."""
    from ...errors import MirnetError

    if path.exists() and not path.is_dir():
        raise MirnetError(f"-o {path}: is a file, not a folder")
    probe = path
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        raise MirnetError(f"-o {path}: {probe} is a file, so the folder cannot be created")
    if probe.exists() and not os.access(probe, os.W_OK | os.X_OK):
        raise MirnetError(f"-o {path}: cannot write in {probe} (permission denied)")


def check_context(context: str) -> str:
    """``--context``: one of the engine's context modes."""
    from ...engine.global_context import CONTEXT_MODES
    from ...errors import MirnetError

    value = context.strip().lower()
    if value not in CONTEXT_MODES:
        raise MirnetError(f"invalid value {context!r}; use one of {', '.join(CONTEXT_MODES)}")
    return value


def check_max_memory(size: str | None) -> int | None:
    """``--max-memory``: a size such as ``2G`` (the engine's parser)."""
    from ...engine.memory import parse_size
    from ...errors import MirnetError

    if size is None:
        return None
    try:
        return parse_size(size)
    except ValueError as exc:
        raise MirnetError(str(exc)) from None


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity where the system tells, else all)."""
    import os

    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def check_threads(threads: str, say=None) -> str | int:
    """``--threads``: ``auto`` or a positive number, capped at the cores this process may use (more threads than
    cores only wait for each other: ``--threads 999`` on 2 cores ran 6x slower); ``say`` gets the one-line note."""
    from ...errors import MirnetError

    value = str(threads).strip().lower()
    if value == "auto":
        return value
    if not value.isdigit() or int(value) < 1:
        raise MirnetError(f"invalid value {threads!r}; use auto or a number of threads >= 1")
    cores = usable_cores()
    if int(value) > cores:
        if say is not None:
            say(f"note: --threads {int(value)}: this machine has {cores} core(s) for this process; using {cores} "
                "(more threads than cores only wait for each other)")
        return cores
    return int(value)


def check_engine_options(opts: CommonOptions) -> tuple[Any, Any]:
    """Device, precision and tiling options, checked before any input is read or any model is chosen.

    Returns:
        ``(device, dtype)`` as the engine will use them (``auto`` precision assumes a model that runs in fp16).
    """
    from ...engine.device import resolve_device, resolve_precision
    from ...errors import MirnetError

    for option, check in (("--tile", lambda: check_tile(opts.tile)), ("--device", lambda: resolve_device(opts.device)),
                          ("--context", lambda: check_context(getattr(opts, "context", "auto"))),
                          ("--max-memory", lambda: check_max_memory(getattr(opts, "max_memory", None))),
                          ("--threads", lambda: check_threads(getattr(opts, "threads", "auto"),
                                                              say=lambda text: typer.echo(text, err=True)))):
        try:
            check()
        except MirnetError as exc:
            raise MirnetError(f"{option}: {exc}") from None
    device = resolve_device(opts.device)
    try:
        dtype = resolve_precision(opts.precision, device)
    except MirnetError as exc:
        raise MirnetError(f"--precision: {exc}") from None
    from ...engine.backends import resolve_backend

    try:
        resolve_backend(getattr(opts, "backend", "auto"), device)
    except MirnetError as exc:
        raise MirnetError(f"--backend: {exc}") from None
    return device, dtype
