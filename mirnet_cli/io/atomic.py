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

__all__ = [
    "TEMP_SUFFIX",
    "AtomicWriteError",
    "atomic_open",
    "atomic_write_bytes",
    "clean_stale_temp_files",
    "is_temp_file",
]

#: A temporary file whose writer is gone (or that is older than this, whoever wrote it) is stale.
STALE_AFTER_S = 3600.0


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

    Data go to ``.<name>.<pid>-<random>.mirnet-tmp`` in the same folder (same file system, so the final
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
        # The writer's process id in the name lets a later run tell an orphan (its writer was killed) from a
        # file being written right now (see clean_stale_temp_files).
        fd, tmp_name = tempfile.mkstemp(
            dir=target.parent, prefix=f".{target.name[:100]}.{os.getpid()}-", suffix=TEMP_SUFFIX
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


def _writer_pid(name: str) -> int | None:
    """The process id in ``.<name>.<pid>-<random>.mirnet-tmp``, or ``None`` (older or foreign names)."""
    stem = name[: -len(TEMP_SUFFIX)]
    last = stem.rsplit(".", 1)[-1]
    pid, dash, _rest = last.partition("-")
    return int(pid) if dash and pid.isdigit() else None


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        import psutil  # not os.kill(pid, 0): on Windows that would terminate the process

        return bool(psutil.pid_exists(pid))
    except Exception:  # noqa: BLE001 - cannot tell: leave its files alone
        return True


def clean_stale_temp_files(folders, *, now: float | None = None) -> list[Path]:
    """Remove orphaned temporary files of :func:`atomic_open` (a run killed mid-write) from ``folders``.

    Only this tool's temporary files (hidden, ending in ``.mirnet-tmp``) directly inside the given folders are
    considered. One is stale when the process that wrote it is no longer running (and the file is over a few
    seconds old), or when it is older than :data:`STALE_AFTER_S` whoever wrote it (another machine on a shared
    folder, an older naming scheme). Errors are ignored: cleaning up is a courtesy.

    Returns:
        The files removed.
    """
    import time

    now = time.time() if now is None else now
    removed: list[Path] = []
    for folder in folders:
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            if not (entry.name.startswith(".") and entry.name.endswith(TEMP_SUFFIX)):
                continue
            try:
                if not entry.is_file(follow_symlinks=False):
                    continue
                age = now - entry.stat(follow_symlinks=False).st_mtime
                pid = _writer_pid(entry.name)
                if age > STALE_AFTER_S or (pid is not None and age > 5.0 and not _process_alive(pid)):
                    os.unlink(entry.path)
                    removed.append(Path(entry.path))
            except OSError:
                continue
    return removed
