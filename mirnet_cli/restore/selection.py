"""Which checkpoint a command uses.

Order, first match wins:

1. ``--weights SOURCE``: exactly that (path, registry name, ``hf://…`` or URL);
2. ``--model NAME``: ``official``, ``bundled`` or a registry name;
3. the task's default chain: the authors' checkpoint when it is cached or can be downloaded now, otherwise the
   compact model bundled in ``weights/`` with a one-line notice saying why.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import SourceError


@dataclass(frozen=True)
class Choice:
    """The source to load and, when the default chain fell back, the notice to show once."""

    source: str
    registry_name: str | None = None
    notice: str | None = None


def choose_weights(task_key: str, *, weights: str | None = None, model: str | None = None,
                   arch: str | None = None, download: bool = True, session: dict | None = None) -> Choice:
    """Pick the checkpoint for ``task_key`` (see the module docstring).

    Args:
        task_key: registry task key, e.g. ``denoise`` or ``super-resolve:x4``.
        weights: explicit source; wins over everything.
        model: ``official``, ``bundled`` or a registry name.
        arch: ``mirnet`` or ``mirnet_v2`` to restrict the registry entries considered.
        download: fetch an official checkpoint that is not cached. ``False`` (``--dry-run``) never touches the
            network: an official checkpoint that would be downloaded is chosen with a notice saying so.
        session: a dict shared by the choices of one run: once a download failed (no network, …), the later
            choices fall back to the bundled model without trying the network again and without a notice (the
            first one said why).

    Raises:
        SourceError: nothing usable (with the reason: manual download needed, offline and not cached, …).
    """
    from ..loading.registry import entries_for_task, load_registry
    from ..loading.sources import fetch, is_cached, is_offline

    if weights:
        return Choice(weights)
    registry = load_registry()
    if model and model not in ("official", "bundled"):
        if model not in registry:
            raise SourceError(f"--model {model}: not a registry name (see `mirnet models`)")
        return Choice(model, model)

    candidates = [e for e in entries_for_task(task_key, registry) if arch is None or e.architecture == arch]
    official = [e for e in candidates if e.priority == "official"]
    bundled = [e for e in candidates if e.bundled is not None]
    arch_note = f" ({arch})" if arch else ""
    if model == "bundled":
        if not bundled:
            raise SourceError(f"no bundled model for {task_key}{arch_note}; see `mirnet models`")
        return Choice(bundled[0].name, bundled[0].name)

    reasons: list[str] = []  # why each official candidate could not be used, best candidate first
    short = why = ""  # the same for the best candidate: in a few words (the notice), with the cause (the error)
    for entry in official:
        if is_cached(entry):
            return Choice(entry.name, entry.name)
        if entry.manual_message:
            reasons.append(entry.manual_message)
            short = short or f"the official {entry.name} needs a manual download"
            why = why or short
            continue
        if is_offline():
            reasons.append(f"{entry.name} is not cached and HF_HUB_OFFLINE=1")
            short = short or f"the official {entry.name} is not cached and HF_HUB_OFFLINE=1"
            why = why or short
            continue
        if not download:
            fallback = f"; if that fails: {bundled[0].name} (bundled)" if bundled and model != "official" else ""
            return Choice(entry.name, entry.name, notice=f"not cached: would be downloaded{fallback}")
        if session is not None and session.get("download_failed") and bundled and model != "official":
            return Choice(bundled[0].name, bundled[0].name)  # said once already this run: quiet now
        try:
            fetch(entry)
            return Choice(entry.name, entry.name)
        except SourceError as exc:
            reasons.append(str(exc))
            if not short:
                detail = str(exc).split(" | ")[0].removeprefix(f"could not fetch {entry.name}: ")
                detail = re.sub(r"\[Errno -?\d+\] ", "", re.sub(r"^download failed for [^ ]+: ", "", detail))
                short = (f"the official {entry.name} could not be downloaded: {detail}; `mirnet download "
                         f"{entry.name}` once online makes it the default")
                why = f"the official {entry.name} could not be downloaded: {detail}"
                if session is not None:
                    session["download_failed"] = detail
    reason = reasons[0] if reasons else f"no official checkpoint is registered for {task_key}{arch_note}"
    if model == "official":
        raise SourceError(reason)
    if bundled:
        entry = bundled[0]
        return Choice(entry.name, entry.name,
                      notice=f"using the bundled compact model {entry.name}: {short or reason}")
    raise SourceError(no_offline_model_message(task_key, official, why or reason))


def download_url(entry) -> str | None:
    """Where a person can download ``entry``'s checkpoint with a browser, or ``None``."""
    for src in entry.sources:
        if src.startswith(("https://", "http://")):
            return src
        if src.startswith("hf://"):
            from ..loading.sources import parse_hf_source

            spec = parse_hf_source(src)
            if spec.filename:
                return (f"https://huggingface.co/{spec.repo_id}/resolve/{spec.revision or entry.revision or 'main'}"
                        f"/{spec.filename}")
            return f"https://huggingface.co/{spec.repo_id}"
    return (entry.manual_download or {}).get("url")


# Tasks without a bundled compact model, and why (said when their official checkpoint cannot be had).
_NO_BUNDLED = {
    "deblur": "dual-pixel deblurring has no bundled model (it needs dual-pixel training data)",
}


def no_offline_model_message(task_key: str, official: list, why: str) -> str:
    """The one-line error for a task with no bundled model whose official checkpoint cannot be had now: why, where
    to download it, and how to make that file the default."""
    no_bundled = _NO_BUNDLED.get(task_key.split(":")[0])
    why = f"{no_bundled}; {why}" if no_bundled else why
    entry = next((e for e in official if download_url(e)), None)
    if entry is None:
        return f"{why}; pass --weights FILE"
    return (f"no offline model for {task_key} ({why}); download {download_url(entry)} where there is a network, "
            f"then `mirnet download {entry.name} --from FILE` makes it the default (or pass --weights FILE)")


def planned_choice(task_key: str, registry: dict | None = None) -> tuple[object | None, str]:
    """What the default chain would use for ``task_key`` now, without downloading or printing (``mirnet models``).

    Returns:
        ``(entry or None, how)``: ``how`` says in a few words why (cached, downloaded on first use, bundled
        fallback) or, with ``None``, what to do.
    """
    from ..loading.registry import entries_for_task, load_registry
    from ..loading.sources import is_cached, is_offline

    registry = load_registry() if registry is None else registry
    candidates = entries_for_task(task_key, registry)
    official = [e for e in candidates if e.priority == "official"]
    bundled = [e for e in candidates if e.bundled is not None and is_cached(e)]
    for entry in official:
        if is_cached(entry):
            return entry, "official, cached"
    fallback = f", else the bundled {bundled[0].name}" if bundled else ""
    if not is_offline():
        for entry in official:
            if entry.sources:
                return entry, f"official, downloaded on first use{fallback}"
    if bundled:
        return bundled[0], ("bundled: the official checkpoint is not cached (offline)" if official
                            else "bundled: no official checkpoint")
    target = next((e for e in official if download_url(e)), None)
    if target is None:
        return None, "none: pass --weights FILE"
    return None, f"none offline: `mirnet download {target.name}` (or `--from FILE`)"
