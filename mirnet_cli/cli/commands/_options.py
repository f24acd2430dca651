"""Options shared by the restoration commands, declared once (Typer ``Annotated`` aliases)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

Paths = Annotated[list[Path], typer.Argument(help="Image files and/or folders (PNG, JPEG, TIFF, WebP, BMP, camera RAW).",
                                             show_default=False)]
Output = Annotated[Optional[Path], typer.Option(
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
Weights = Annotated[Optional[str], typer.Option(
    help="Checkpoint to use: a file or folder, a registry name, hf://owner/repo/file[@rev] or an https URL.")]
Model = Annotated[Optional[str], typer.Option(
    help="official, bundled, or a registry name (see `mirnet models`). Default: official when available, "
         "else the bundled compact model.")]
Recursive = Annotated[bool, typer.Option("--recursive", "-r", help="Descend into sub-folders; mirror them in the output.")]
Overwrite = Annotated[bool, typer.Option(help="Replace outputs that exist (default: skip them, so re-runs resume).")]
KeepGoing = Annotated[bool, typer.Option("--keep-going/--fail-fast", help="Go on past a bad file (default) or stop.")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars or notices; errors are still shown.")]
JsonOut = Annotated[bool, typer.Option("--json", help="Print a machine-readable JSON summary on stdout.")]
