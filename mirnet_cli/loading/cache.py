"""What mirnet keeps in its caches, importing a file obtained elsewhere, and clearing (``mirnet cache``).

Three kinds of cached checkpoints, all verified on use by :func:`mirnet_cli.loading.sources.fetch`:

* ``download``: URL downloads, ``<HF_HOME>/mirnet/url/<key>/<file>`` (+ ``<file>.sha256``);
* ``imported``: files given with ``mirnet download NAME --from FILE``, ``<HF_HOME>/mirnet/imported/<NAME>/``;
* ``hub``: ``hf://`` files of registry entries in the Hugging Face cache (shared with other tools: only the
  registry's own files are listed or removed).

plus ``partial``: the temporary file of a download that was killed (never used; removed by ``--clear``).
Torch-free: listing and clearing never load a model.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import SourceError
from ._digests import _CHUNK, _record_digest, _sidecar, digest_record
from ._hub import _delete_hf_file, _hf_cached, _hf_files
from ._locations import cache_root, imported_dir, imported_file, url_cache_path
from .registry import CheckpointEntry

KINDS = ("download", "imported", "hub", "partial")


@dataclass(frozen=True)
class CachedItem:
    """One cached file: where, how big, what kind (see :data:`KINDS`), and the registry entry it belongs to."""

    path: Path
    size: int
    kind: str
    entry: str | None = None


def cached_items(registry: dict[str, CheckpointEntry]) -> list[CachedItem]:
    """Every checkpoint file mirnet cached, by entry in registry order, then files no entry claims."""
    items: list[CachedItem] = []
    seen: set[Path] = set()

    def add(path: Path, kind: str, entry: str | None) -> None:
        if path in seen or not path.is_file():
            return
        seen.add(path)
        items.append(CachedItem(path, path.stat().st_size, kind, entry))

    for entry in registry.values():
        imported = imported_file(entry.name)
        if imported is not None:
            add(imported, "imported", entry.name)
        for src in entry.sources:
            if src.startswith("hf://"):
                cached = _hf_cached(src, entry.revision)
                for f in _hf_files(cached) if cached is not None else []:
                    add(f, "hub", entry.name)
            else:
                add(url_cache_path(src), "download", entry.name)
    root = cache_root()
    for folder, kind in ((root / "url", "download"), (root / "imported", "imported")):
        for path in sorted(folder.glob("*/*")) if folder.is_dir() else []:
            if path.name.endswith(".sha256"):
                continue
            partial = path.name.endswith(".incomplete")
            add(path, "partial" if partial else kind, None if partial or kind == "download" else path.parent.name)
    return items


def clear_items(items: list[CachedItem]) -> tuple[int, int]:
    """Delete the files, their sha256 records and the folders left empty. Returns ``(files, bytes)`` removed."""
    removed = freed = 0
    for item in items:
        try:
            if item.kind == "hub":
                _delete_hf_file(item.path)
            else:
                item.path.unlink(missing_ok=True)
                digest_record(item.path).unlink(missing_ok=True)
        except OSError as exc:
            raise SourceError(f"cannot remove {item.path}: {exc.strerror or exc}") from None
        removed += 1
        freed += item.size
        if item.kind != "hub":
            _prune_empty(item.path.parent)
    return removed, freed


def _prune_empty(folder: Path) -> None:
    """Remove ``folder`` and its parents while they are empty, up to (not including) the cache root."""
    root = cache_root()
    while folder != root and root in folder.parents:
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent


def import_file(entry: CheckpointEntry, file: str | os.PathLike[str]) -> tuple[Path, str]:
    """Copy ``file`` into the cache as entry ``entry``'s checkpoint, used by :func:`fetch` before its sources.

    The copy is hashed as it is written; a registry sha256 must match, otherwise the digest is recorded and checked
    on every later use. The copy lands under its final name by an atomic rename and replaces an earlier import.

    Returns:
        ``(path of the copy, its sha256)``.

    Raises:
        SourceError: unreadable file, a sha256 other than the registry's, or a cache that cannot be written.
    """
    src = Path(file).expanduser()
    folder = imported_dir(entry.name)
    name = re.sub(r"[^A-Za-z0-9._+-]", "_", src.name).lstrip(".") or "checkpoint"
    created = not folder.exists()
    h = hashlib.sha256()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".incomplete")
    except OSError as exc:
        raise SourceError(f"cannot write to the cache folder {folder}: {exc.strerror or exc}") from None
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, open(src, "rb") as inp:
            while chunk := inp.read(_CHUNK):
                out.write(chunk)
                h.update(chunk)
        digest = h.hexdigest()
        if entry.sha256 and digest != entry.sha256:
            raise SourceError(f"{src} is not {entry.name}: its sha256 is {digest}, the registry expects "
                              f"{entry.sha256}")
        dest = folder / name
        for old in folder.iterdir():
            if old.is_file() and old != tmp:
                old.unlink()
        os.replace(tmp, dest)
        _record_digest(_sidecar(dest), digest)
    except OSError as exc:
        raise SourceError(f"cannot import {src}: {exc.strerror or exc}") from None
    finally:
        tmp.unlink(missing_ok=True)
        if created and folder.is_dir() and not any(folder.iterdir()):
            _prune_empty(folder)
    return dest, digest


def entry_file(entry: CheckpointEntry, items: list[CachedItem] | None = None) -> Path | None:
    """The file :func:`fetch` would use for ``entry`` without the network (bundled, imported or cached), if any."""
    if entry.bundled is not None and entry.bundled_path is not None:
        weights = entry.bundled_path / "model.safetensors"
        if weights.is_file():
            return weights
    for item in items if items is not None else cached_items({entry.name: entry}):
        if item.entry == entry.name and item.kind != "partial":
            return item.path
    return None


def human_size(n: int) -> str:
    """``1536`` → ``"1.5 kB"`` (powers of 1000, as file managers show sizes)."""
    value = float(n)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} GB"


__all__ = ["KINDS", "CachedItem", "cached_items", "clear_items", "entry_file", "human_size", "import_file"]
