"""``https://`` / ``http://`` sources: streamed, hashed downloads into ``<HF_HOME>/mirnet/url/`` with an atomic
rename, and the checks of a cached download."""

from __future__ import annotations

import hashlib
import http.client
import os
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from ..errors import SourceError
from ._digests import _CHUNK, _read_digest, _sidecar, _tofu_note, _verify, _write_quietly
from ._locations import _first_line, url_cache_path

#: Seconds without data before a URL download gives up.
URL_TIMEOUT_S = 60.0


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


def _stderr_is_tty() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False
