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
deleted and :class:`SourceError` says so; otherwise the digest is stored next to the file as ``<file>.sha256``
(so a registry whose ``sha256`` is still ``null`` can be completed from a real download). Files land in the cache
only through an atomic rename, so an interrupted download never leaves a half file under the final name.

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
        return any(_cached_path(src, entry.sha256, entry.revision) is not None for src in entry.sources)
    source = os.fspath(entry_or_source)
    if source.startswith(("hf://", "https://", "http://")):
        try:
            return _cached_path(source, None, None) is not None
        except SourceError:
            return False
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
    if not entry.sources:
        raise SourceError(entry.manual_message or f"{entry.name}: the registry gives no way to obtain it")

    if not force:
        for src in entry.sources:
            cached = _cached_path(src, entry.sha256, entry.revision)
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
                path = _fetch_hf(src, revision=entry.revision, sha256=entry.sha256, force=force)
            else:
                path = _fetch_url(src, sha256=entry.sha256, force=force)
        except SourceError as exc:
            errors.append(str(exc))
            continue
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


def _cached_path(source: str, sha256: str | None, revision: str | None) -> Path | None:
    """The cached local path of an ``hf://`` or URL source, or ``None`` (no network access)."""
    if source.startswith("hf://"):
        return _hf_cached(source, revision)
    return _url_cached(source, sha256)


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


def _fetch_hf(source: str, *, revision: str | None, sha256: str | None, force: bool) -> Path:
    from huggingface_hub.utils import (
        EntryNotFoundError,
        HfHubHTTPError,
        HFValidationError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    offline = is_offline()
    if not force:
        cached = _hf_cached(source, revision)
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

    if sha256 and path.is_file():
        digest = sha256_file(path)
        if digest != sha256.lower():
            blob = path.resolve()
            for p in {path, blob}:
                p.unlink(missing_ok=True)
            raise SourceError(f"sha256 mismatch for {path.name} from {source}: expected {sha256.lower()}, "
                              f"got {digest}; the file was deleted")
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


def _url_cached(url: str, sha256: str | None) -> Path | None:
    """The cached download of ``url`` if present (and matching ``sha256`` when one is expected)."""
    path = url_cache_path(url)
    if not path.is_file():
        return None
    if sha256:
        side = _sidecar(path)
        try:
            recorded = side.read_text(encoding="ascii").split()[0].lower()
        except (OSError, IndexError, UnicodeDecodeError):
            recorded = sha256_file(path)
            _write_quietly(side, recorded + "\n")
        if recorded != sha256.lower():
            # The registry now expects another file (or the cache was tampered with): drop it, fetch again.
            print(f"warning: cached {path} has sha256 {recorded}, expected {sha256.lower()}; deleted it",
                  file=sys.stderr)
            path.unlink(missing_ok=True)
            side.unlink(missing_ok=True)
            return None
    return path


def _fetch_url(url: str, *, sha256: str | None, force: bool) -> Path:
    if not force:
        cached = _url_cached(url, sha256)
        if cached is not None:
            return cached
    if is_offline():
        what = "cannot be downloaded again" if force else "is not in the cache"
        raise SourceError(f"{url} {what} and HF_HUB_OFFLINE=1 (no network)")
    return _download_url(url, url_cache_path(url), sha256)


def _download_url(url: str, dest: Path, sha256: str | None) -> Path:
    """Stream ``url`` to a temporary file next to ``dest``, hash it, verify, then rename it into place."""
    from tqdm.auto import tqdm

    from .._version import __version__

    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".incomplete")
    except OSError as exc:
        raise SourceError(f"cannot write to the cache folder {dest.parent}: {exc.strerror or exc}") from None
    tmp = Path(tmp_name)
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
        _write_quietly(_sidecar(dest), digest + "\n")
        os.replace(tmp, dest)
    except urllib.error.HTTPError as exc:
        raise SourceError(f"download failed for {url}: HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        raise SourceError(f"download failed for {url}: {exc.reason} (no network?)") from None
    except (http.client.HTTPException, TimeoutError, OSError) as exc:
        raise SourceError(f"download failed for {url}: {_first_line(exc) or type(exc).__name__}") from None
    finally:
        tmp.unlink(missing_ok=True)
    return dest


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
    "fetch",
    "hf_home",
    "hub_cache_dir",
    "is_cached",
    "is_offline",
    "licence_marker",
    "parse_hf_source",
    "resolve_local",
    "sha256_file",
    "url_cache_path",
]
