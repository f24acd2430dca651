"""Exceptions that the CLI turns into one readable line (``error: <message>``) instead of a traceback."""

from __future__ import annotations

from pathlib import Path


class MirnetError(Exception):
    """Base class for errors caused by the user's input, files or environment."""


class CheckpointError(MirnetError):
    """A checkpoint cannot be read, is unsafe, or does not match the architecture."""


class SourceError(MirnetError):
    """A weights source (registry name, path, hf://, URL) cannot be resolved or fetched."""


class ImageReadError(MirnetError):
    """An input image cannot be read. ``str()`` gives ``<path>: <reason>``."""

    def __init__(self, path: str | Path, reason: str):
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{path}: {reason}")


class ImageWriteError(MirnetError):
    """An output image cannot be written."""
