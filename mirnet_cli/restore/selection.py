"""Which checkpoint a command uses.

Order, first match wins:

1. ``--weights SOURCE``: exactly that (path, registry name, ``hf://…`` or URL);
2. ``--model NAME``: ``official``, ``bundled`` or a registry name;
3. the task's default chain: the authors' checkpoint when it is cached or can be downloaded now, otherwise the
   compact model bundled in ``weights/`` with a one-line notice saying why.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import SourceError


@dataclass(frozen=True)
class Choice:
    """The source to load and, when the default chain fell back, the notice to show once."""

    source: str
    registry_name: str | None = None
    notice: str | None = None


def choose_weights(task_key: str, *, weights: str | None = None, model: str | None = None,
                   arch: str | None = None) -> Choice:
    """Pick the checkpoint for ``task_key`` (see the module docstring).

    Args:
        task_key: registry task key, e.g. ``denoise`` or ``super-resolve:x4``.
        weights: explicit source; wins over everything.
        model: ``official``, ``bundled`` or a registry name.
        arch: ``mirnet`` or ``mirnet_v2`` to restrict the registry entries considered.

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
    for entry in official:
        if is_cached(entry):
            return Choice(entry.name, entry.name)
        if entry.manual_message:
            reasons.append(entry.manual_message)
            continue
        if is_offline():
            reasons.append(f"{entry.name} is not cached and HF_HUB_OFFLINE=1")
            continue
        try:
            fetch(entry)
            return Choice(entry.name, entry.name)
        except SourceError as exc:
            reasons.append(str(exc))
    reason = reasons[0] if reasons else f"no official checkpoint is registered for {task_key}{arch_note}"
    if model == "official":
        raise SourceError(reason)
    if bundled:
        entry = bundled[0]
        return Choice(entry.name, entry.name,
                      notice=f"using the bundled compact model {entry.name} ({reason})")
    raise SourceError(reason if "--weights" in reason else f"{reason}; pass --weights PATH")
