"""Integrity of cached files: sha256 records, checks on every use, and trust on first use.

The digest of a file is recorded at its download (``<file>.sha256`` beside URL downloads and imported files,
``<HF_HOME>/mirnet/sha256/hf/<path in the Hub cache>.sha256`` for Hub files); every use hashes the file again and
compares it with the registry's sha256, else with the recorded one (see :mod:`mirnet_cli.loading.sources`).
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
from pathlib import Path

from ..errors import SourceError
from ._locations import cache_root, hub_cache_dir

_CHUNK = 1 << 20


def digest_record(path: str | os.PathLike[str]) -> Path:
    """Where the sha256 of a cached file is recorded: ``<file>.sha256`` beside URL downloads and imported files;
    under ``<HF_HOME>/mirnet/sha256/hf/`` for files in the Hub cache (which is huggingface_hub's to manage)."""
    p = Path(path)
    try:
        rel = p.relative_to(hub_cache_dir())
    except ValueError:
        return _sidecar(p)
    return cache_root() / "sha256" / "hf" / rel.parent / (rel.name + ".sha256")


def _read_digest(record: Path) -> str | None:
    try:
        text = record.read_text(encoding="ascii").split()
    except (OSError, UnicodeDecodeError):
        return None
    digest = text[0].lower() if text else ""
    return digest if re.fullmatch(r"[0-9a-f]{64}", digest) else None


def _record_digest(record: Path, digest: str) -> None:
    try:
        record.parent.mkdir(parents=True, exist_ok=True)
    except OSError:
        return
    _write_quietly(record, digest + "\n")


def _tofu_note(label: str, digest: str, first: bool = True) -> None:
    when = "the first download's" if first else "this file's"
    print(f"note: {label}: no sha256 is published for it; recorded {when} ({digest[:12]}…) and every later use is "
          "checked against it (trust on first use)", file=sys.stderr)


class _Stale(Exception):
    """The cached file is not the one the registry's sha256 names (the registry moved on, or the file changed)."""


def _check(path: Path, expected: str | None, label: str) -> Path:
    """Hash ``path`` and compare it with the registry's sha256, else with the recorded one (recording it on first
    use).

    Raises:
        _Stale: the registry expects another digest (the caller deletes the file and downloads it again).
        SourceError: the file changed since its digest was recorded.
    """
    digest = sha256_file(path)
    record = digest_record(path)
    recorded = _read_digest(record)
    if expected:
        if digest != expected.lower():
            raise _Stale(digest)
        if recorded != digest:
            _record_digest(record, digest)
        return path
    if recorded is None:
        _record_digest(record, digest)
        _tofu_note(label or path.name, digest, first=False)
    elif digest != recorded:
        raise SourceError(
            f"{path}: the cached file changed since it was downloaded (sha256 {digest[:12]}…, recorded "
            f"{recorded[:12]}…): replaced or corrupted, so it is not used; fetch it again with `mirnet download "
            f"{label or path.name} --force` or remove it with `mirnet cache --clear`")
    return path


def _verify(path: Path, expected: str | None, label: str) -> Path | None:
    """:func:`_check`, deleting a stale file (and its record) with a warning; ``None`` then."""
    try:
        return _check(path, expected, label)
    except _Stale as stale:
        print(f"warning: cached {path} has sha256 {stale}, expected {expected.lower()}; deleted it",
              file=sys.stderr)
        path.unlink(missing_ok=True)
        digest_record(path).unlink(missing_ok=True)
        return None


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def _write_quietly(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="ascii")
    except OSError:
        pass  # the sidecar is an optimisation; the file itself is fine
