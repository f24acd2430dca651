"""Where the weights cache lives, read from the environment at *call* time, and whether the network may be used.

``<HF_HOME>/mirnet`` holds our own files: URL downloads (``url/``), imported files (``imported/<NAME>/``),
digest records of Hub files (``sha256/hf/``) and licence markers (``licences-accepted/``); the Hub's files stay in
the Hub cache. See :mod:`mirnet_cli.loading.sources` for the rules.
"""

from __future__ import annotations

import hashlib
import os
import re
import urllib.parse
from pathlib import Path

_TRUE = {"1", "on", "yes", "true"}


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


def licence_marker(name: str) -> Path:
    """The marker file recording that the licence of entry ``name`` was shown."""
    return cache_root() / "licences-accepted" / re.sub(r"[^A-Za-z0-9._+-]", "_", name)


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


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
