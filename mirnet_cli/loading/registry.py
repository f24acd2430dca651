"""The checkpoint registry: ``weights/registry.json`` read into :class:`CheckpointEntry` objects.

The registry is data, not code. Schema version 1 is a JSON object
``{"schema_version": 1, "_schema": "<summary>", "entries": [ {...}, ... ]}``. Each entry has these fields:

========================  ==========================================================================================
``name``                  unique id used on the command line, e.g. ``mirnet_v2-real-denoising-sidd`` (required)
``task``                  task key the checkpoint was trained for (required): ``denoise``, ``deblur``,
                          ``super-resolve:x2|x3|x4``, ``enhance:lowlight``, ``enhance:contrast``
``architecture``          ``mirnet`` (v1) or ``mirnet_v2`` (required)
``config``                the authors' constructor arguments, passed to ``build_model`` (required, an object)
``sources``               ``hf://owner/repo/path[@rev]`` or ``https://`` URLs, tried in order (``[]`` when none)
``revision``              default Hub revision for ``hf://`` sources that do not name one (``null``: ``main``)
``sha256``                hex digest of the checkpoint file; ``null`` when nobody could verify it yet
``container``             how the state_dict is wrapped: ``params`` (BasicSR), ``state_dict`` (v1 training
                          script), ``safetensors``, or ``null``
``licence``               licence name; shown once on first use (see ``sources.fetch``)
``licence_url``           where the licence text lives
``paper``                 citation
``paper_metrics``         ``{"dataset", "psnr", "ssim", "protocol"}`` from the paper, or ``null`` when not recorded
``scale``                 super-resolution factor, or ``null``
``input_contract``        what the network expects (channels, range, size multiple)
``notes``                 free text
``manual_download``       ``{"url", "filename", "instructions"}`` for files that cannot be fetched automatically
``bundled``               folder *relative to the registry's folder* holding ``model.safetensors`` +
                          ``config.json`` (models shipped with the package), or ``null``
``default_for``           task keys for which this entry is a default choice
``priority``              ``official`` | ``bundled`` | ``community``: among the defaults for one task key,
                          entries are ordered by this rank, then by their order in the file
========================  ==========================================================================================

Only ``name``, ``task``, ``architecture`` and ``config`` are required; the others default to ``null``/``[]``.
An entry must be obtainable somehow: at least one of ``sources``, ``bundled`` or ``manual_download``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..architectures import ARCHITECTURES
from ..errors import MirnetError

SCHEMA_VERSION = 1
REGISTRY_FILENAME = "registry.json"
# Lower rank = tried first among the defaults for one task key.
PRIORITY_RANK = {"official": 0, "bundled": 1, "community": 2}
REQUIRED_FIELDS = ("name", "task", "architecture", "config")


class RegistryError(MirnetError):
    """The registry file is missing, not valid JSON, or an entry breaks the schema."""


@dataclass(frozen=True)
class CheckpointEntry:
    """One released (or bundled) checkpoint. Field meanings: see the module docstring.

    ``registry_dir`` is the folder of the registry file the entry came from; ``bundled`` is relative to it.
    """

    name: str
    task: str
    architecture: str
    config: dict[str, Any]
    sources: tuple[str, ...] = ()
    revision: str | None = None
    sha256: str | None = None
    container: str | None = None
    licence: str | None = None
    licence_url: str | None = None
    paper: str | None = None
    paper_metrics: dict[str, Any] | None = None
    scale: int | None = None
    input_contract: str | None = None
    notes: str | None = None
    manual_download: dict[str, str] | None = None
    bundled: str | None = None
    default_for: tuple[str, ...] = ()
    priority: str = "official"
    provenance: dict[str, Any] | None = None  # how a bundled model was made: command, data, licences, metrics
    registry_dir: Path | None = field(default=None, compare=False)

    @property
    def bundled_path(self) -> Path | None:
        """Absolute path of the bundled model folder, or ``None`` when the entry is not bundled."""
        if self.bundled is None:
            return None
        base = self.registry_dir if self.registry_dir is not None else weights_dir()
        return (base / self.bundled).resolve()

    @property
    def source_kind(self) -> str:
        """Where the weights come from: ``bundled``, ``hf``, ``url``, ``manual`` or ``none``."""
        if self.bundled is not None:
            return "bundled"
        if self.sources:
            return "hf" if self.sources[0].startswith("hf://") else "url"
        if self.manual_download:
            return "manual"
        return "none"

    @property
    def manual_message(self) -> str | None:
        """The one-line "download manually" hint, or ``None`` when the entry has no manual download."""
        if not self.manual_download:
            return None
        what = self.manual_download.get("filename") or "the checkpoint"
        return (f"{self.name} cannot be downloaded automatically: download {what} manually from "
                f"{self.manual_download['url']}, then pass --weights PATH")

    def to_dict(self) -> dict[str, Any]:
        """The entry as plain JSON-able data (``registry_dir`` dropped, tuples as lists)."""
        out: dict[str, Any] = {}
        for name in _FIELD_NAMES:
            value = getattr(self, name)
            out[name] = list(value) if isinstance(value, tuple) else value
        return out


_FIELD_NAMES = tuple(f for f in CheckpointEntry.__dataclass_fields__ if f != "registry_dir")


def weights_dir_candidates() -> list[Path]:
    """The folders searched for ``registry.json``, in order.

    1. ``$MIRNET_WEIGHTS_DIR`` when set (then it is the only candidate: an explicit setting must not silently
       fall back to another registry);
    2. ``weights/`` of a source checkout (next to the ``mirnet_cli`` package);
    3. ``mirnet_cli/_weights`` (package data of an installed wheel, if packaging puts it there).
    """
    env = os.environ.get("MIRNET_WEIGHTS_DIR")
    if env:
        return [Path(os.path.expanduser(env))]
    package_dir = Path(__file__).resolve().parents[1]
    return [package_dir.parent / "weights", package_dir / "_weights"]


def weights_dir() -> Path:
    """The first candidate folder (see :func:`weights_dir_candidates`) that holds a ``registry.json``.

    Raises:
        RegistryError: no candidate has a registry (the message lists where it looked).
    """
    candidates = weights_dir_candidates()
    for folder in candidates:
        if (folder / REGISTRY_FILENAME).is_file():
            return folder
    where = ", ".join(str(c) for c in candidates)
    hint = " (set by MIRNET_WEIGHTS_DIR)" if os.environ.get("MIRNET_WEIGHTS_DIR") else ""
    raise RegistryError(f"no {REGISTRY_FILENAME} found in {where}{hint}")


def load_registry(path: str | Path | None = None) -> dict[str, CheckpointEntry]:
    """Read and validate a registry.

    Args:
        path: a ``registry.json`` file or a folder containing one; ``None`` uses :func:`weights_dir`.

    Returns:
        ``{name: CheckpointEntry}`` in file order.

    Raises:
        RegistryError: unreadable file, bad JSON, wrong schema version, or an invalid entry (the message names
            the file and the entry).
    """
    if path is None:
        file = weights_dir() / REGISTRY_FILENAME
    else:
        file = Path(path)
        if file.is_dir():
            file = file / REGISTRY_FILENAME
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RegistryError(f"{file}: registry not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RegistryError(f"{file}: cannot read the registry ({exc})") from None
    except json.JSONDecodeError as exc:
        raise RegistryError(f"{file}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(data, dict) or not isinstance(data.get("entries"), list):
        raise RegistryError(f"{file}: expected an object with an 'entries' list")
    version = data.get("schema_version")
    if version != SCHEMA_VERSION:
        raise RegistryError(f"{file}: schema_version {version!r} is not supported (expected {SCHEMA_VERSION})")

    registry: dict[str, CheckpointEntry] = {}
    for index, raw in enumerate(data["entries"]):
        entry = _parse_entry(raw, index, file)
        if entry.name in registry:
            raise RegistryError(f"{file}: entry {entry.name!r} appears twice")
        registry[entry.name] = entry
    return registry


def _parse_entry(raw: Any, index: int, file: Path) -> CheckpointEntry:
    """Validate one raw JSON entry and turn it into a :class:`CheckpointEntry`."""
    label = f"{file}: entry #{index}"
    if not isinstance(raw, dict):
        raise RegistryError(f"{label}: expected an object")
    if isinstance(raw.get("name"), str):
        label = f"{file}: entry {raw['name']!r}"
    missing = [k for k in REQUIRED_FIELDS if raw.get(k) in (None, "")]
    if missing:
        raise RegistryError(f"{label}: missing required field(s) {', '.join(missing)}")
    unknown = sorted(set(raw) - set(_FIELD_NAMES))
    if unknown:
        raise RegistryError(f"{label}: unknown field(s) {', '.join(unknown)}")

    def check(name: str, types: type | tuple[type, ...], what: str) -> None:
        value = raw.get(name)
        if value is not None and not isinstance(value, types):
            raise RegistryError(f"{label}: field {name!r} must be {what}, got {type(value).__name__}")

    for name in ("name", "task", "architecture", "revision", "sha256", "container", "licence", "licence_url",
                 "paper", "input_contract", "notes", "bundled", "priority"):
        check(name, str, "a string")
    check("config", dict, "an object")
    check("paper_metrics", dict, "an object")
    check("manual_download", dict, "an object")
    check("provenance", dict, "an object")
    check("sources", list, "a list")
    check("default_for", list, "a list")
    check("scale", int, "an integer")

    if raw["architecture"] not in ARCHITECTURES:
        raise RegistryError(f"{label}: architecture {raw['architecture']!r} is not one of {', '.join(ARCHITECTURES)}")
    sources = tuple(raw.get("sources") or ())
    for src in sources:
        if not isinstance(src, str) or not src.startswith(("hf://", "https://", "http://")):
            raise RegistryError(f"{label}: source {src!r} must start with hf://, https:// or http://")
    default_for = tuple(raw.get("default_for") or ())
    if not all(isinstance(k, str) and k for k in default_for):
        raise RegistryError(f"{label}: default_for must be a list of task keys")
    sha = raw.get("sha256")
    if sha is not None and (len(sha) != 64 or any(c not in "0123456789abcdefABCDEF" for c in sha)):
        raise RegistryError(f"{label}: sha256 must be 64 hex digits or null")
    priority = raw.get("priority") or "official"
    if priority not in PRIORITY_RANK:
        raise RegistryError(f"{label}: priority {priority!r} is not one of {', '.join(PRIORITY_RANK)}")
    manual = raw.get("manual_download")
    if manual is not None and not isinstance(manual.get("url"), str):
        raise RegistryError(f"{label}: manual_download needs a 'url'")
    if not sources and raw.get("bundled") is None and manual is None:
        raise RegistryError(f"{label}: needs at least one of sources, bundled or manual_download")

    values = {k: raw.get(k) for k in _FIELD_NAMES if raw.get(k) is not None}
    values.update(sources=sources, default_for=default_for, priority=priority,
                  sha256=sha.lower() if sha else None)
    return CheckpointEntry(**values, registry_dir=file.resolve().parent)


def task_matches(task_key: str, candidate: str) -> bool:
    """Whether ``task_key`` (as typed) names ``candidate``: equal, or a family prefix (``enhance`` matches
    ``enhance:lowlight``; ``super-resolve`` matches ``super-resolve:x4``)."""
    return candidate == task_key or candidate.startswith(task_key + ":")


def entries_for_task(
    task_key: str, registry: dict[str, CheckpointEntry] | None = None, *, defaults_only: bool = False
) -> list[CheckpointEntry]:
    """Entries able to run ``task_key``, best first.

    An entry qualifies when its ``task`` or one of its ``default_for`` keys matches ``task_key``
    (see :func:`task_matches`). Ordering: entries with a matching ``default_for`` first, then by ``priority``
    rank (official, bundled, community), then file order. So ``entries_for_task(key)[0]`` is the default.

    Args:
        task_key: e.g. ``"denoise"``, ``"enhance:lowlight"``, ``"super-resolve:x4"`` or a family (``"enhance"``).
        registry: an already loaded registry (default: :func:`load_registry`).
        defaults_only: keep only entries whose ``default_for`` matches.
    """
    reg = load_registry() if registry is None else registry
    found: list[tuple[int, int, int, CheckpointEntry]] = []
    for order, entry in enumerate(reg.values()):
        is_default = any(task_matches(task_key, k) for k in entry.default_for)
        if not is_default and (defaults_only or not task_matches(task_key, entry.task)):
            continue
        found.append((0 if is_default else 1, PRIORITY_RANK[entry.priority], order, entry))
    found.sort(key=lambda t: t[:3])
    return [t[3] for t in found]


def known_task_keys(registry: dict[str, CheckpointEntry] | None = None) -> list[str]:
    """Every task key mentioned by the registry (``task`` and ``default_for``), sorted."""
    reg = load_registry() if registry is None else registry
    keys = {e.task for e in reg.values()}
    for e in reg.values():
        keys.update(e.default_for)
    return sorted(keys)


__all__ = [
    "CheckpointEntry",
    "PRIORITY_RANK",
    "RegistryError",
    "entries_for_task",
    "known_task_keys",
    "load_registry",
    "task_matches",
    "weights_dir",
    "weights_dir_candidates",
]
