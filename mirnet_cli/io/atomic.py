"""Atomic file writes: a file appears complete at its final path, or not at all.

Used for images, checkpoints, reports. Only the standard library is imported here, so saving a checkpoint or a
JSON report does not pull in numpy or Pillow.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from mirnet_cli.errors import ImageWriteError
from mirnet_cli.io.formats import TEMP_SUFFIX

__all__ = ["TEMP_SUFFIX", "AtomicWriteError", "atomic_open", "atomic_write_bytes", "is_temp_file"]


class AtomicWriteError(ImageWriteError, OSError):
    """The file system refused a write (``<path>: cannot write: <reason>``).

    A :class:`~mirnet_cli.errors.MirnetError` (the CLI prints one line) that is also an ``OSError``, so code
    catching ``OSError`` keeps working.
    """


def _current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


# Read once at import (os.umask can only be read by setting it, which is not thread-safe later on).
_UMASK = _current_umask()


def is_temp_file(path: str | Path) -> bool:
    """True for temporary files made by :func:`atomic_open` (so discovery can skip leftovers)."""
    return Path(path).name.endswith(TEMP_SUFFIX)


def _failed(target: Path, exc: OSError) -> AtomicWriteError:
    return AtomicWriteError(f"{target}: cannot write: {exc.strerror or exc}")


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable (POSIX); a harmless no-op where folders cannot be opened."""
    with contextlib.suppress(OSError, AttributeError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def atomic_open(path: str | Path) -> Iterator[BinaryIO]:
    """Open a binary file that appears at ``path`` only if the ``with`` block finishes without error.

    Data go to ``.<name>.<random>.mirnet-tmp`` in the same folder (same file system, so the final
    ``os.replace`` is atomic), are flushed and fsync'ed, then renamed over ``path``. On any exception the
    temporary file is removed and an existing ``path`` is left untouched. Parent folders are created. The new
    file gets the permissions of the file it replaces, or the usual ``0o666 & ~umask`` (not mkstemp's 0600).

    Example: ``with atomic_open(p) as f: torch.save(state, f)``.

    Raises:
        AtomicWriteError: the file system refused (permission denied, disk full, ...), including an
            ``OSError`` raised inside the block. Other exceptions from the block pass through unchanged.
    """
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        # Name kept short enough for NAME_MAX even when the target's own name is long.
        fd, tmp_name = tempfile.mkstemp(
            dir=target.parent, prefix=f".{target.name[:100]}.", suffix=TEMP_SUFFIX
        )
    except OSError as exc:
        raise _failed(target, exc) from exc
    try:
        try:
            with os.fdopen(fd, "wb") as handle:
                yield handle
                handle.flush()
                os.fsync(handle.fileno())
            try:
                mode = os.stat(target).st_mode & 0o7777
            except FileNotFoundError:
                mode = 0o666 & ~_UMASK
            with contextlib.suppress(OSError):
                os.chmod(tmp_name, mode)
            os.replace(tmp_name, target)
        except AtomicWriteError:
            raise
        except OSError as exc:
            raise _failed(target, exc) from exc
        _fsync_dir(target.parent)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_open`); returns ``Path(path)``.

    Raises:
        AtomicWriteError: the file system refused the write (also an ``OSError``).
    """
    target = Path(path)
    with atomic_open(target) as handle:
        handle.write(data)
    return target
