"""``hf://`` sources: parsing, the Hugging Face Hub cache (``hf_hub_download`` / ``snapshot_download``) and the
digest checks of Hub files."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import NamedTuple

from ..errors import SourceError
from ._digests import _check, _read_digest, _record_digest, _Stale, _tofu_note, digest_record, sha256_file
from ._locations import _first_line, hub_cache_dir, is_offline

#: Files fetched for a whole-repo ``hf://owner/repo`` source.
HF_FOLDER_FILES = ("model.safetensors", "config.json")


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


def _hf_cached_verified(source: str, revision: str | None, sha256: str | None, label: str) -> Path | None:
    """The cached, verified local path of an ``hf://`` source, or ``None`` (no network access).

    Raises:
        SourceError: the cached file no longer matches the digest recorded at its download.
    """
    cached = _hf_cached(source, revision)
    return None if cached is None else _verify_hf(cached, sha256, label)


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
        cached = _hf_cached_verified(source, revision, sha256, label)
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
