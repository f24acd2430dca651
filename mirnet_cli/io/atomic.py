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
    "CLAIM_SUFFIX",
    "TEMP_SUFFIX",
    "AtomicWriteError",
    "OutputBusy",
    "atomic_open",
    "atomic_write_bytes",
    "claim_output",
    "claim_path",
    "clean_stale_temp_files",
    "is_no_space",
    "is_temp_file",
    "release_claim",
]

#: An output being made right now has an exclusive marker ``.<name>.mirnet-claim`` beside it (see :func:`claim_output`).
CLAIM_SUFFIX = ".mirnet-claim"

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
    error = AtomicWriteError(f"{target}: cannot write: {exc.strerror or exc}")
    error.errno = exc.errno  # callers tell a full disk (ENOSPC) from other refusals
    return error


def is_no_space(exc: BaseException) -> bool:
    """True for an error that says the disk (or the user's quota) is full."""
    import errno

    full = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}
    while exc is not None:
        if isinstance(exc, OSError) and exc.errno in full:
            return True
        exc = exc.__cause__ or exc.__context__
    return False


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
    """Remove orphaned temporary files of :func:`atomic_open` (a run killed mid-write) from ``folders``, and the
    claims of :func:`claim_output` whose process is gone.

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
            if entry.name.startswith(".") and entry.name.endswith(CLAIM_SUFFIX):
                with contextlib.suppress(OSError):
                    if _claim_is_stale(Path(entry.path), now):
                        os.unlink(entry.path)
                        removed.append(Path(entry.path))
                continue
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


# ------------------------------------------------------------------------------------------------- claims
#: The folders :func:`claim_output` created for each claim (deepest first).
_made_for: dict[Path, list[Path]] = {}


class OutputBusy(Exception):
    """Another live process claimed this output (:func:`claim_output`); ``str()`` says which."""


def claim_path(target: str | Path) -> Path:
    """The in-progress marker of ``target``: ``.<name>.mirnet-claim`` in the same folder (hidden, so never an input)."""
    target = Path(target)
    return target.parent / f".{target.name[:100]}{CLAIM_SUFFIX}"


def _host() -> str:
    import socket

    with contextlib.suppress(OSError):
        return socket.gethostname()
    return ""


def _read_claim(claim: Path) -> dict:
    import json

    try:
        data = json.loads(claim.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _claim_is_stale(claim: Path, now: float | None = None) -> bool:
    """A claim whose process is gone (same machine), or older than :data:`STALE_AFTER_S` (unreadable, another
    machine on a shared folder)."""
    import time

    now = time.time() if now is None else now
    try:
        age = now - claim.stat().st_mtime
    except FileNotFoundError:
        return True
    holder = _read_claim(claim)
    pid = holder.get("pid")
    if isinstance(pid, int) and holder.get("host") == _host():
        return not _process_alive(pid)
    return age > (STALE_AFTER_S if holder else 60.0)  # an empty claim is a writer killed while writing it


def claim_output(target: str | Path) -> Path:
    """Claim ``target`` for this process before computing it, so that two runs into one folder never both make it.

    The claim is a small file created exclusively (``O_CREAT | O_EXCL``) beside the output's temporary file, holding
    this process's id and host; :func:`release_claim` removes it (on success, failure, Ctrl-C or SIGTERM). A claim
    left by a process that is gone (``kill -9``) is taken over: it is first moved aside under a unique name, so
    that of two runs taking over the same stale claim only one wins.

    Returns:
        The claim file, for :func:`release_claim`.

    Raises:
        OutputBusy: a live process holds the claim (its message names it).
        AtomicWriteError: the claim cannot be created (``errno`` kept: a full disk is ENOSPC).
    """
    import json
    import time

    target = Path(target)
    claim = claim_path(target)
    body = json.dumps({"pid": os.getpid(), "host": _host(), "output": target.name, "since": time.time()})
    try:
        missing = []  # folders made for this claim: removed again with it when they stay empty
        folder = target.parent
        while not folder.exists() and folder.parent != folder:
            missing.append(folder)
            folder = folder.parent
        target.parent.mkdir(parents=True, exist_ok=True)
        for _attempt in range(5):
            try:
                fd = os.open(claim, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666 & ~_UMASK)
            except FileExistsError:
                if not _claim_is_stale(claim):
                    holder = _read_claim(claim)
                    who = f"process {holder['pid']}" if isinstance(holder.get("pid"), int) else "another process"
                    if holder.get("host") and holder.get("host") != _host():
                        who += f" on {holder['host']}"
                    raise OutputBusy(f"being made by another mirnet run ({who}); not computed twice") from None
                aside = claim.with_name(f"{claim.name}.{os.getpid()}-taken")
                try:
                    os.rename(claim, aside)  # atomic: one taker wins
                except FileNotFoundError:
                    continue
                if not _claim_is_stale(aside):  # a live claim made in between: put it back
                    with contextlib.suppress(OSError):
                        os.link(aside, claim)
                with contextlib.suppress(OSError):
                    os.unlink(aside)
                continue
            try:
                os.write(fd, body.encode("utf-8"))
            finally:
                os.close(fd)
            _made_for[claim] = missing
            return claim
    except OSError as exc:
        raise _failed(target, exc) from exc
    raise OutputBusy("being made by another mirnet run (its claim keeps changing); not computed twice")


def release_claim(claim: Path | None) -> None:
    """Remove a claim made by :func:`claim_output` (a missing one is fine), and the folders made for it if they stayed
    empty (the photo failed or was skipped)."""
    if claim is not None:
        with contextlib.suppress(OSError):
            os.unlink(claim)
        for folder in _made_for.pop(claim, []):  # deepest first
            try:
                os.rmdir(folder)
            except OSError:
                break
