"""``mirnet models`` (list the checkpoint registry) and ``mirnet download`` (fill the cache ahead of time)."""

from __future__ import annotations

import json

import typer

from ._run import fail as _fail


def models(
    json_output: bool = typer.Option(False, "--json", help="Print the registry as JSON instead of a table."),
) -> None:
    """List the known checkpoints: name, task, architecture, where they come from, cached or not, licence."""
    from ...errors import MirnetError
    from ...loading.registry import load_registry
    from ...loading.sources import is_cached

    try:
        registry = load_registry()
    except MirnetError as exc:
        raise _fail(str(exc)) from None

    rows = []
    for entry in registry.values():
        cached = is_cached(entry)
        rows.append((entry, cached))

    if json_output:
        data = []
        for entry, cached in rows:
            item = entry.to_dict()
            item.update(source=entry.source_kind, cached=cached)
            data.append(item)
        typer.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return

    header = ("NAME", "TASK", "ARCH", "SOURCE", "CACHED", "LICENCE")
    table = [header] + [
        (e.name, e.task, e.architecture, e.source_kind, "yes" if c else "no", e.licence or "-") for e, c in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header) - 1)]
    for row in table:
        cells = [cell.ljust(w) for cell, w in zip(row[:-1], widths, strict=True)] + [row[-1]]
        typer.echo("  ".join(cells).rstrip())
    manual = [e for e, c in rows if e.source_kind == "manual" and not c]
    if manual:
        typer.echo(f"\n{len(manual)} checkpoint(s) need a manual download (Google Drive); "
                   "`mirnet download NAME` prints where to get them.")


def download(
    tasks: list[str] | None = typer.Argument(
        None, metavar="TASK_OR_NAME", show_default=False, help="Task keys (denoise, deblur, enhance:lowlight, super-resolve:x4, enhance, …) or model names."
    ),
    all_: bool = typer.Option(False, "--all", help="Fetch every checkpoint that can be downloaded automatically."),
    force: bool = typer.Option(False, "--force", help="Download again even when cached."),
) -> None:
    """Download checkpoints into the cache so later runs work offline.

    A task key fetches its default checkpoint(s); a model name fetches that checkpoint.

    MIRNet v1 checkpoints live on Google Drive only: naming one prints where to get it (exit 1); --all skips them.
    """
    from ...errors import MirnetError
    from ...loading.registry import entries_for_task, known_task_keys, load_registry
    from ...loading.sources import fetch

    if not tasks and not all_:
        raise _fail("name task keys or model names to download, or pass --all (see `mirnet models`)")
    try:
        registry = load_registry()
    except MirnetError as exc:
        raise _fail(str(exc)) from None

    selected = []  # (entry, explicitly named?)
    if all_:
        selected += [(e, False) for e in registry.values()]
    for token in tasks or []:
        if token in registry:
            selected.append((registry[token], True))
            continue
        matches = entries_for_task(token, registry, defaults_only=True)
        if not matches:
            keys = ", ".join(known_task_keys(registry))
            raise _fail(f"{token!r} is neither a model name nor a task key (task keys: {keys})")
        selected += [(e, True) for e in matches]

    seen: dict[str, bool] = {}
    for entry, named in selected:
        seen[entry.name] = seen.get(entry.name, False) or named

    done = skipped = failed = 0
    for name, named in seen.items():
        entry = registry[name]
        if entry.source_kind == "manual" and not named:
            typer.echo(f"skipped {name}: {entry.manual_message}", err=True)
            skipped += 1
            continue
        try:
            path = fetch(entry, force=force)
        except MirnetError as exc:
            typer.echo(f"error: {exc}", err=True)
            failed += 1
            continue
        typer.echo(f"{name}: {path}")
        done += 1
    if len(seen) > 1:
        typer.echo(f"done {done}, skipped {skipped} (manual download), failed {failed}", err=True)
    if failed:
        raise typer.Exit(1)
