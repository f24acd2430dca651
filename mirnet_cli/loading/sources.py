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
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import NamedTuple

from ..errors import SourceError
from .registry import CheckpointEntry, RegistryError, load_registry

#: File suffixes accepted as "a checkpoint file" inside a local folder.
CHECKPOINT_SUFFIXES = (".safetensors", ".pth", ".pt", ".ckpt", ".bin")
#: Files fetched for a whole-repo ``hf://owner/repo`` source.
HF_FOLDER_FILES = ("model.safetensors", "config.json")
#: Seconds without data before a URL download gives up.
URL_TIMEOUT_S = 60.0
_CHUNK = 1 << 20
_TRUE = {"1", "on", "yes", "true"}


# ----------------------------------------------------------------------------------------------------------------
# Cache locations and offline mode (all computed from the environment at call time)


def hf_home() -> Path:
    """``$HF_HOME``, else ``$XDG_CACHE_HOME/huggingface``, else ``~/.cache/huggingface`` (huggingface_hub's rule)."""
    env = os.environ.get("HF_HOME")
    if env:
        return Path(os.path.expandvars(os.path.expanduser(env)))
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(os.path.expandvars(os.path.expanduser(xdg))) / "huggingface"


def hub_cache_dir() -> Path:
    """The Hub cache: ``$HF_HUB_CACHE``, else the legacy ``$HUGGINGFACE_HUB_CACHE``, else ``<HF_HOME>/hub``."""
    env = os.environ.get("HF_HUB_CACHE") or os.environ.get("HUGGINGFACE_HUB_CACHE")
    if env:
        return Path(os.path.expandvars(os.path.expanduser(env)))
    return hf_home() / "hub"


def cache_root() -> Path:
    """Our own cache area, ``<HF_HOME>/mirnet`` (URL downloads, licence markers)."""
    return hf_home() / "mirnet"


def is_offline() -> bool:
    """Whether ``HF_HUB_OFFLINE`` (or ``TRANSFORMERS_OFFLINE``) is set to a true value right now."""
    value = os.environ.get("HF_HUB_OFFLINE") or os.environ.get("TRANSFORMERS_OFFLINE") or ""
    return value.strip().lower() in _TRUE


def url_cache_path(url: str) -> Path:
    """Where the download of ``url`` is cached: ``<HF_HOME>/mirnet/url/<sha256(url)[:16]>/<file name>``.

    The file name is the last segment of the URL path (percent-decoded, made safe); ``download`` when empty.
    """
    key = hashlib.sha256(url.encode("utf-8")).hexdigest()[:16]
    name = urllib.parse.unquote(urllib.parse.urlsplit(url).path.rsplit("/", 1)[-1])
    name = re.sub(r"[^A-Za-z0-9._+-]", "_", name).lstrip(".") or "download"
    return cache_root() / "url" / key / name


# ----------------------------------------------------------------------------------------------------------------
# hf:// parsing


class HFSource(NamedTuple):
    """A parsed ``hf://`` source. ``filename`` is ``None`` for a whole-repo source."""

    repo_id: str
    filename: str | None
    revision: str | None


def parse_hf_source(source: str) -> HFSource:
    """Split ``hf://owner/repo[/path/in/repo][@revision]``.

    Raises:
        SourceError: not of that form.
    """
    if not source.startswith("hf://"):
        raise SourceError(f"{source}: not an hf:// source")
    body, revision = source[len("hf://"):], None
    if "@" in body:
        body, revision = body.rsplit("@", 1)
        if not revision:
            raise SourceError(f"{source}: empty revision after '@'")
    parts = [p for p in body.split("/") if p]
    if len(parts) < 2:
        raise SourceError(f"{source}: expected hf://owner/repo[/path/in/repo][@revision]")
    filename = "/".join(parts[2:]) or None
    return HFSource(f"{parts[0]}/{parts[1]}", filename, revision)


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


def licence_marker(name: str) -> Path:
    """The marker file recording that the licence of entry ``name`` was shown."""
    return cache_root() / "licences-accepted" / re.sub(r"[^A-Za-z0-9._+-]", "_", name)


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
        cached = _hf_cached(source, revision)
        return None if cached is None else _verify_hf(cached, sha256, label or source)
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
# Integrity records (see the module docstring)


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


# ----------------------------------------------------------------------------------------------------------------
# Hugging Face Hub


def _hf_call(source: str, revision: str | None, *, local_only: bool, force: bool = False) -> Path:
    """Run hf_hub_download / snapshot_download for ``source`` with the cache dir computed now."""
    from huggingface_hub import hf_hub_download, snapshot_download

    spec = parse_hf_source(source)
    rev = spec.revision or revision
    cache_dir = str(hub_cache_dir())
    if spec.filename is not None:
        return Path(hf_hub_download(spec.repo_id, spec.filename, revision=rev, cache_dir=cache_dir,
                                    local_files_only=local_only, force_download=force))
    folder = Path(snapshot_download(spec.repo_id, revision=rev, cache_dir=cache_dir,
                                    allow_patterns=list(HF_FOLDER_FILES), local_files_only=local_only,
                                    force_download=force))
    if not (folder / "model.safetensors").is_file():
        raise SourceError(f"{source}: the repository snapshot has no model.safetensors")
    return folder


def _hf_cached(source: str, revision: str | None) -> Path | None:
    from huggingface_hub.utils import EntryNotFoundError, HFValidationError

    try:
        return _hf_call(source, revision, local_only=True)
    except (EntryNotFoundError, HFValidationError, SourceError, OSError, ValueError):
        # LocalEntryNotFoundError is both an EntryNotFoundError and an OSError, depending on the version
        return None


def _hf_files(path: Path) -> list[Path]:
    """The files to verify for an ``hf://`` result: the file, or the folder's model files."""
    return [path] if path.is_file() else [path / f for f in HF_FOLDER_FILES if (path / f).is_file()]


def _delete_hf_file(path: Path) -> None:
    """Remove a Hub cache file: the snapshot link, its blob and our record of it."""
    blob = path.resolve()
    digest_record(path).unlink(missing_ok=True)
    for p in {path, blob}:
        p.unlink(missing_ok=True)


def _verify_hf(path: Path, sha256: str | None, label: str) -> Path | None:
    """Check a cached ``hf://`` file (or a snapshot's model files); the registry's sha256 applies to the weights."""
    for f in _hf_files(path):
        expected = sha256 if f == path or f.name == "model.safetensors" else None
        try:
            _check(f, expected, label)
        except _Stale as stale:
            print(f"warning: cached {f} has sha256 {stale}, expected {sha256}; deleted it", file=sys.stderr)
            _delete_hf_file(f)
            return None
    return path


def _fetch_hf(source: str, *, revision: str | None, sha256: str | None, force: bool, label: str = "") -> Path:
    from huggingface_hub.utils import (
        EntryNotFoundError,
        HfHubHTTPError,
        HFValidationError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    offline = is_offline()
    label = label or source
    if not force:
        cached = _cached_path(source, sha256, revision, label=label)
        if cached is not None:
            return cached
    if offline:
        what = "cannot be downloaded again" if force else "is not in the cache"
        raise SourceError(f"{source} {what} and HF_HUB_OFFLINE=1 (no network)")
    spec = parse_hf_source(source)
    rev = spec.revision or revision or "main"
    try:
        path = _hf_call(source, revision, local_only=False, force=force)
    except LocalEntryNotFoundError:
        raise SourceError(f"{source} is not in the cache and the Hub cannot be reached (no network?)") from None
    except RevisionNotFoundError:
        raise SourceError(f"{source}: revision {rev!r} not found in {spec.repo_id}") from None
    except RepositoryNotFoundError:
        raise SourceError(f"{source}: repository {spec.repo_id} not found (or private/gated: log in with "
                          "`hf auth login`)") from None
    except EntryNotFoundError:
        raise SourceError(f"{source}: {spec.filename} is not in {spec.repo_id}@{rev}") from None
    except HfHubHTTPError as exc:
        raise SourceError(f"{source}: Hub error: {_first_line(exc)}") from None
    except (HFValidationError, ValueError) as exc:
        raise SourceError(f"{source}: {_first_line(exc)}") from None
    except OSError as exc:
        raise SourceError(f"{source}: download failed: {_first_line(exc)}") from None

    for f in _hf_files(path):
        expected = sha256 if f == path or f.name == "model.safetensors" else None
        digest, record = sha256_file(f), digest_record(f)
        pinned = _read_digest(record)
        if expected and digest != expected.lower():
            _delete_hf_file(f)
            raise SourceError(f"sha256 mismatch for {f.name} from {source}: expected {expected.lower()}, "
                              f"got {digest}; the file was deleted")
        if not expected and pinned and digest != pinned:
            raise SourceError(f"{f.name} from {source} differs from the first download (sha256 {digest[:12]}…, "
                              f"recorded {pinned[:12]}…); not used. `mirnet cache --clear` forgets the old one")
        if pinned != digest:
            _record_digest(record, digest)
            if not expected:
                _tofu_note(label, digest)
    return path


# ----------------------------------------------------------------------------------------------------------------
# Plain URLs


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def _url_cached(url: str, sha256: str | None, *, label: str = "") -> Path | None:
    """The cached download of ``url``, hashed and checked against ``sha256`` (a stale file is deleted: ``None``)
    or against the digest recorded at its download.

    Raises:
        SourceError: the file changed since its download.
    """
    path = url_cache_path(url)
    if not path.is_file():
        return None
    return _verify(path, sha256, label or url)


def _fetch_url(url: str, *, sha256: str | None, force: bool, label: str = "") -> Path:
    if not force:
        cached = _url_cached(url, sha256, label=label)
        if cached is not None:
            return cached
    if is_offline():
        what = "cannot be downloaded again" if force else "is not in the cache"
        raise SourceError(f"{url} {what} and HF_HUB_OFFLINE=1 (no network)")
    return _download_url(url, url_cache_path(url), sha256, label=label or url)


def _download_url(url: str, dest: Path, sha256: str | None, *, label: str = "") -> Path:
    """Stream ``url`` to a temporary file next to ``dest``, hash it, verify (against ``sha256``, else the digest
    pinned by the first download), then rename it into place. A failure leaves no file and no empty folder."""
    from tqdm.auto import tqdm

    from .._version import __version__

    pinned = None if sha256 else _read_digest(_sidecar(dest))
    created = _missing_parents(dest.parent)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".incomplete")
    except OSError as exc:
        _remove_empty(created)
        raise SourceError(f"cannot write to the cache folder {dest.parent}: {exc.strerror or exc}") from None
    tmp = Path(tmp_name)
    done = False
    h = hashlib.sha256()
    received = 0
    try:
        request = urllib.request.Request(url, headers={"User-Agent": f"mirnet-cli/{__version__}"})
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(request, timeout=URL_TIMEOUT_S) as resp:
            length = resp.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            with tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=dest.name,
                      file=sys.stderr, disable=not _stderr_is_tty(), leave=False) as bar:
                while chunk := resp.read(_CHUNK):
                    out.write(chunk)
                    h.update(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
        if total is not None and received != total:
            raise SourceError(f"download of {url} was cut short ({received} of {total} bytes)")
        digest = h.hexdigest()
        if sha256 and digest != sha256.lower():
            tmp.unlink(missing_ok=True)
            dest.unlink(missing_ok=True)  # a stale copy (force=True) is no better
            _sidecar(dest).unlink(missing_ok=True)
            raise SourceError(f"sha256 mismatch for {dest.name} from {url}: expected {sha256.lower()}, "
                              f"got {digest}; the file was deleted")
        if pinned and digest != pinned:
            raise SourceError(f"{url} now sends another file than the first download (sha256 {digest[:12]}…, "
                              f"recorded {pinned[:12]}…); not used. `mirnet cache --clear` forgets the old one")
        _write_quietly(_sidecar(dest), digest + "\n")
        os.replace(tmp, dest)
        done = True
        if not sha256 and not pinned:
            _tofu_note(label or url, digest)
    except urllib.error.HTTPError as exc:
        raise SourceError(f"download failed for {url}: HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        raise SourceError(f"download failed for {url}: {exc.reason} (no network?)") from None
    except (http.client.HTTPException, TimeoutError, OSError) as exc:
        raise SourceError(f"download failed for {url}: {_first_line(exc) or type(exc).__name__}") from None
    finally:
        tmp.unlink(missing_ok=True)
        if not done:
            _remove_empty(created)
    return dest


def _missing_parents(folder: Path) -> list[Path]:
    """``folder`` and those of its parents that do not exist yet, deepest first."""
    missing = []
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    return missing


def _remove_empty(folders: list[Path]) -> None:
    """Remove the folders a failed download created, deepest first, as long as they are empty."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            return


def _remove_tree(folder: Path) -> None:
    import shutil

    shutil.rmtree(folder, ignore_errors=True)


def imported_dir(name: str) -> Path:
    """The folder holding the copy of entry ``name`` imported with ``mirnet download NAME --from FILE``."""
    return cache_root() / "imported" / re.sub(r"[^A-Za-z0-9._+-]", "_", name)


def imported_file(name: str) -> Path | None:
    """The imported checkpoint file of entry ``name``, or ``None``."""
    folder = imported_dir(name)
    if not folder.is_dir():
        return None
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.endswith(".sha256")
                   and not p.name.startswith("."))
    return files[0] if files else None


def _write_quietly(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="ascii")
    except OSError:
        pass  # the sidecar is an optimisation; the file itself is fine


def _stderr_is_tty() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


__all__ = [
    "CHECKPOINT_SUFFIXES",
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
    "url_cache_path",
]
