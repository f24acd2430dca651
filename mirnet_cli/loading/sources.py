"""Resolve a weights *source* to a local file or folder, downloading and caching it when needed.

A source is one of:

* a **registry name** (``mirnet_v2-real-denoising-sidd``, see ``weights/registry.json``): a bundled folder if the
  entry has one, else the entry's ``sources`` in order (the first one already cached wins, then each is
  downloaded in turn). Entries with only ``manual_download`` raise :class:`SourceError` with a one-line hint;
* ``hf://owner/repo/path/in/repo.ext[@revision]``: one file from the Hugging Face Hub, via ``hf_hub_download``
  into the Hub's standard cache;
* ``hf://owner/repo[@revision]``: ``model.safetensors`` + ``config.json`` of a Hub repo (``snapshot_download``);
  the snapshot folder is returned;
* ``https://…`` / ``http://…``: downloaded with urllib into
  ``<HF_HOME>/mirnet/url/<first 16 hex of sha256(url)>/<file name>``;
* a **local path**: a file is returned as is; a folder must hold ``model.safetensors`` (the folder is returned) or
  exactly one checkpoint file (that file is returned).

Environment, read at *call* time (``huggingface_hub`` reads it at import time, which would make tests and
long-lived processes ignore later changes): ``HF_HOME`` (else ``$XDG_CACHE_HOME/huggingface``, else
``~/.cache/huggingface``: the same rule as ``huggingface_hub.constants.HF_HOME``), ``HF_HUB_CACHE``, and
``HF_HUB_OFFLINE=1`` (no network attempt at all: cached files work, anything else raises :class:`SourceError`).

Integrity: a URL download is hashed while it streams. When the expected sha256 is known and differs, the file is
deleted and :class:`SourceError` says so. When the registry publishes none, the first download's digest is recorded
(trust on first use, said in one ``note:`` line) and pins the file from then on: ``<file>.sha256`` next to a URL
download or an imported file, ``<HF_HOME>/mirnet/sha256/hf/<path in the Hub cache>.sha256`` for Hub files. Every
:func:`fetch` of a cached file hashes the file itself (about 0.1 s per 100 MB) and compares it with the registry's
sha256, else with the recorded one: a cached file replaced or corrupted after its download is refused with a
one-line error, never used. A later download (``--force``) must match the pin too. Files land in the cache only
through an atomic rename, so an interrupted download never leaves a half file under the final name, and a failed
download leaves no empty folder behind.

Imported files: ``mirnet download NAME --from FILE`` copies a file obtained elsewhere (e.g. without a network) to
``<HF_HOME>/mirnet/imported/<NAME>/`` (see :mod:`mirnet_cli.loading.cache`); :func:`fetch` of the entry uses it
before its ``sources``.

Licences: the first time a registry entry with a ``licence`` is fetched, one ``note:`` line is printed to stderr
and a marker ``<HF_HOME>/mirnet/licences-accepted/<name>`` is written so that it is not shown again.

This module resolves sources and registry entries (bundled, imported, cached, downloaded; licences). Below it, each
imported here: :mod:`._locations` (cache folders, offline mode), :mod:`._digests` (sha256 records, trust on first
use), :mod:`._hub` (``hf://``) and :mod:`._url` (``https://`` downloads).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from ..errors import SourceError
from ._digests import _read_digest, _sidecar, _verify, digest_record, sha256_file
from ._hub import HF_FOLDER_FILES, HFSource, _fetch_hf, _hf_cached, _hf_cached_verified, parse_hf_source
from ._locations import (
    cache_root,
    hf_home,
    hub_cache_dir,
    imported_dir,
    imported_file,
    is_offline,
    licence_marker,
    url_cache_path,
)
from ._url import URL_TIMEOUT_S, _download_url, _url_cached
from .registry import CheckpointEntry, RegistryError, load_registry

#: File suffixes accepted as "a checkpoint file" inside a local folder.
CHECKPOINT_SUFFIXES = (".safetensors", ".pth", ".pt", ".ckpt", ".bin")


# ----------------------------------------------------------------------------------------------------------------
# Public API


def fetch(
    entry_or_source: CheckpointEntry | str | os.PathLike[str],
    force: bool = False,
    *,
    sha256: str | None = None,
    registry: dict[str, CheckpointEntry] | None = None,
) -> Path:
    """Resolve a source to a local path, downloading it when it is not cached.

    Args:
        entry_or_source: a :class:`CheckpointEntry`, a registry name, ``hf://…``, an ``http(s)://`` URL or a path.
            Strings are tried as: URL scheme, then an existing local path, then a registry name.
        force: download again even when cached (not possible offline). Local paths ignore it.
        sha256: expected digest for a bare URL / ``hf://`` file (entries carry their own).
        registry: an already loaded registry for name look-ups (default: :func:`load_registry`).

    Returns:
        A checkpoint file, or a folder holding ``model.safetensors`` (+ ``config.json``).

    Raises:
        SourceError: one line naming the source and the reason (missing file, manual download needed,
            offline and not cached, HTTP error, sha256 mismatch, …).
    """
    if isinstance(entry_or_source, CheckpointEntry):
        return _fetch_entry(entry_or_source, force)
    source = os.fspath(entry_or_source)
    if source.startswith("hf://"):
        return _fetch_hf(source, revision=None, sha256=sha256, force=force)
    if source.startswith(("https://", "http://")):
        return _fetch_url(source, sha256=sha256, force=force)
    path = Path(source).expanduser()
    if path.exists():
        return resolve_local(path)
    entry = _lookup_name(source, registry)
    if entry is not None:
        return _fetch_entry(entry, force)
    raise SourceError(f"{source}: no such file or folder, and not a known model name (see `mirnet models`)")


def is_cached(
    entry_or_source: CheckpointEntry | str | os.PathLike[str],
    *,
    registry: dict[str, CheckpointEntry] | None = None,
) -> bool:
    """Whether :func:`fetch` would succeed without the network. Never downloads, never prints, never raises
    for missing things (an unknown name is simply not cached)."""
    if isinstance(entry_or_source, CheckpointEntry):
        entry = entry_or_source
        if entry.bundled is not None and _local_ok(entry.bundled_path):
            return True
        if imported_file(entry.name) is not None:
            return True
        return any(_present(src, entry.sha256, entry.revision) for src in entry.sources)
    source = os.fspath(entry_or_source)
    if source.startswith(("hf://", "https://", "http://")):
        return _present(source, None, None)
    if Path(source).expanduser().exists():
        return _local_ok(Path(source).expanduser())
    entry = _lookup_name(source, registry)
    return entry is not None and is_cached(entry)


def resolve_local(path: str | os.PathLike[str]) -> Path:
    """A local file as is; a folder with ``model.safetensors`` as is; a folder with exactly one checkpoint file
    (``.safetensors``/``.pth``/``.pt``/``.ckpt``/``.bin``) → that file.

    Raises:
        SourceError: missing path, or a folder with no / several checkpoint files.
    """
    p = Path(path).expanduser()
    if p.is_file():
        return p
    if not p.is_dir():
        raise SourceError(f"{p}: no such file or folder")
    if (p / "model.safetensors").is_file():
        return p
    found = sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in CHECKPOINT_SUFFIXES)
    if len(found) == 1:
        return found[0]
    if not found:
        raise SourceError(f"{p}: folder holds no model.safetensors and no checkpoint file "
                          f"({', '.join(CHECKPOINT_SUFFIXES)})")
    names = ", ".join(f.name for f in found[:5]) + (", …" if len(found) > 5 else "")
    raise SourceError(f"{p}: folder holds several checkpoint files ({names}); pass one of them")


# ----------------------------------------------------------------------------------------------------------------
# Registry entries


def _lookup_name(name: str, registry: dict[str, CheckpointEntry] | None) -> CheckpointEntry | None:
    if registry is None:
        try:
            registry = load_registry()
        except RegistryError:
            return None  # no registry: the caller reports "not a file and not a known name"
    return registry.get(name)


def _fetch_entry(entry: CheckpointEntry, force: bool) -> Path:
    if entry.bundled is not None:
        bundled = entry.bundled_path
        if bundled is not None and bundled.exists():
            path = resolve_local(bundled)
            _licence_notice(entry)
            return path
        if not entry.sources:
            raise SourceError(f"{entry.name}: the bundled model folder {bundled} is missing")
    imported = imported_file(entry.name)
    if imported is not None and not force:
        path = _verify(imported, entry.sha256, entry.name)
        if path is not None:
            _licence_notice(entry)
            return path
    if not entry.sources:
        raise SourceError(entry.manual_message or f"{entry.name}: the registry gives no way to obtain it")

    if not force:
        for src in entry.sources:
            cached = _cached_path(src, entry.sha256, entry.revision, label=entry.name)
            if cached is not None:
                _licence_notice(entry)
                return cached
    if is_offline():
        what = "cannot be downloaded again" if force else "is not in the cache"
        raise SourceError(f"{entry.name} {what} and HF_HUB_OFFLINE=1 (no network); "
                          f"unset it or run `mirnet download {entry.name}` where there is a network")

    errors: list[str] = []
    for src in entry.sources:
        try:
            if src.startswith("hf://"):
                path = _fetch_hf(src, revision=entry.revision, sha256=entry.sha256, force=force, label=entry.name)
            else:
                path = _fetch_url(src, sha256=entry.sha256, force=force, label=entry.name)
        except SourceError as exc:
            errors.append(str(exc))
            continue
        if imported is not None:  # --force: the fresh download replaces the imported copy
            _remove_tree(imported.parent)
        _licence_notice(entry)
        return path
    raise SourceError(f"could not fetch {entry.name}: " + " | ".join(errors))


def _licence_notice(entry: CheckpointEntry) -> None:
    """Print the licence line once per cache (marker file), to stderr."""
    if not entry.licence:
        return
    marker = licence_marker(entry.name)
    if marker.exists():
        return
    where = f" ({entry.licence_url})" if entry.licence_url else ""
    print(f"note: {entry.name} is distributed under the {entry.licence}{where}; this note is shown once.",
          file=sys.stderr)
    try:
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text(f"{entry.licence}\n{entry.licence_url or ''}\n", encoding="utf-8")
    except OSError:
        pass  # read-only cache: the note simply shows again next time


def _local_ok(path: Path | None) -> bool:
    if path is None:
        return False
    try:
        resolve_local(path)
    except SourceError:
        return False
    return True


def _cached_path(source: str, sha256: str | None, revision: str | None, *, label: str = "") -> Path | None:
    """The cached, verified local path of an ``hf://`` or URL source, or ``None`` (no network access).

    Raises:
        SourceError: the cached file no longer matches the digest recorded at its download.
    """
    if source.startswith("hf://"):
        return _hf_cached_verified(source, revision, sha256, label or source)
    return _url_cached(source, sha256, label=label)


def _present(source: str, sha256: str | None, revision: str | None) -> bool:
    """Whether a cached copy of ``source`` exists (cheap: no hashing; :func:`fetch` verifies it on use)."""
    if source.startswith("hf://"):
        try:
            return _hf_cached(source, revision) is not None
        except SourceError:
            return False
    path = url_cache_path(source)
    if not path.is_file():
        return False
    recorded = _read_digest(_sidecar(path))
    return not (sha256 and recorded and recorded != sha256.lower())


# ----------------------------------------------------------------------------------------------------------------
# Plain URLs (the download itself is :mod:`._url`'s; it is called through this module's name)


def _fetch_url(url: str, *, sha256: str | None, force: bool, label: str = "") -> Path:
    if not force:
        cached = _url_cached(url, sha256, label=label)
        if cached is not None:
            return cached
    if is_offline():
        what = "cannot be downloaded again" if force else "is not in the cache"
        raise SourceError(f"{url} {what} and HF_HUB_OFFLINE=1 (no network)")
    return _download_url(url, url_cache_path(url), sha256, label=label or url)


def _remove_tree(folder: Path) -> None:
    import shutil

    shutil.rmtree(folder, ignore_errors=True)


__all__ = [
    "CHECKPOINT_SUFFIXES",
    "HF_FOLDER_FILES",
    "HFSource",
    "SourceError",
    "cache_root",
    "digest_record",
    "fetch",
    "hf_home",
    "hub_cache_dir",
    "imported_dir",
    "imported_file",
    "is_cached",
    "is_offline",
    "licence_marker",
    "parse_hf_source",
    "resolve_local",
    "sha256_file",
    "URL_TIMEOUT_S",
    "url_cache_path",
]
