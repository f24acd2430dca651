"""``mirnet models`` (the registry, what each task uses now), ``mirnet download`` (fill the cache ahead of time, or
import a file downloaded elsewhere) and ``mirnet cache`` (show and clear it)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from ._run import EXIT_FAILED
from ._run import fail as _fail


def _usage(message: str) -> typer.Exit:
    """A usage error: one line, exit code 2."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def _registry():
    from ...errors import MirnetError
    from ...loading.registry import load_registry

    try:
        return load_registry()
    except MirnetError as exc:
        raise _fail(str(exc)) from None


def models(
    json_output: bool = typer.Option(False, "--json", help="Print the registry as JSON instead of a table."),
) -> None:
    """List the known checkpoints (name, task, architecture, source, cached and size, licence), which one each
    task uses now, and where the cache is."""
    from ...loading.cache import cached_items, entry_file, human_size
    from ...loading.registry import known_task_keys
    from ...loading.sources import cache_root, is_cached
    from ...restore.selection import planned_choice

    registry = _registry()
    items = cached_items(registry)
    rows = []
    for entry in registry.values():
        cached = is_cached(entry)
        file = entry_file(entry, items) if cached else None
        rows.append((entry, cached, file.stat().st_size if file is not None else None))
    tasks = {key: planned_choice(key, registry) for key in known_task_keys(registry)
             if any(key in e.default_for for e in registry.values())}

    if json_output:
        data = []
        for entry, cached, size in rows:
            item = entry.to_dict()
            item.update(source=entry.source_kind, cached=cached, size_bytes=size,
                        used_now_for=[k for k, (e, _) in tasks.items() if e is not None and e.name == entry.name])
            data.append(item)
        typer.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return

    header = ("NAME", "TASK", "ARCH", "SOURCE", "CACHED", "LICENCE")
    table = [header] + [
        (e.name, e.task, e.architecture, e.source_kind, f"yes ({human_size(s)})" if c and s else "yes" if c else "no",
         e.licence or "-") for e, c, s in rows
    ]
    _print_table(table)
    typer.echo("")
    _print_table([("TASK", "USES NOW", "WHY")] + [(k, e.name if e else "-", how) for k, (e, how) in tasks.items()])
    manual = [e for e, c, _ in rows if e.source_kind == "manual" and not c]
    if manual:
        typer.echo(f"\n{len(manual)} checkpoint(s) need a manual download (Google Drive); "
                   "`mirnet download NAME` prints where to get them.")
    total = sum(i.size for i in items)
    typer.echo(f"\ncache: {cache_root()} ({len(items)} file(s), {human_size(total)}); "
               "`mirnet cache` lists and clears it")


def _print_table(table: list[tuple[str, ...]]) -> None:
    """Left-aligned columns; the last one is not padded."""
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]) - 1)]
    for row in table:
        cells = [cell.ljust(w) for cell, w in zip(row[:-1], widths, strict=True)] + [row[-1]]
        typer.echo("  ".join(cells).rstrip())


def download(
    tasks: list[str] | None = typer.Argument(
        None, metavar="TASK_OR_NAME", show_default=False, help="Task keys (denoise, deblur, enhance:lowlight, super-resolve:x4, enhance, …) or model names."
    ),
    all_: bool = typer.Option(False, "--all", help="Fetch every checkpoint that can be downloaded automatically."),
    force: bool = typer.Option(False, "--force", help="Download again even when cached."),
    from_file: Path | None = typer.Option(
        None, "--from", metavar="FILE", show_default=False,
        help="A checkpoint file downloaded elsewhere (e.g. on another machine): checked, copied into the cache as "
             "the one model NAME and used from then on (sha256 matched with the registry or recorded)."),
) -> None:
    """Download checkpoints into the cache so later runs work offline.

    A task key fetches its default checkpoint(s); a model name fetches that checkpoint.

    MIRNet v1 checkpoints live on Google Drive only: naming one prints where to get it (exit 1); --all skips them.
    Without a network here: download the file elsewhere, then `mirnet download NAME --from FILE`.
    """
    from ...errors import MirnetError
    from ...loading.registry import entries_for_task, known_task_keys
    from ...loading.sources import fetch

    if from_file is not None:
        _import(tasks or [], from_file, all_=all_, force=force)
        return
    if not tasks and not all_:
        raise _fail("name task keys or model names to download, or pass --all (see `mirnet models`)")
    registry = _registry()

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

    done = bundled = skipped = failed = 0
    reasons: list[str] = []
    names = list(seen.items())
    started = 0

    def summary() -> str:
        why = ""
        if failed and reasons and all("no network?" in r for r in reasons):
            why = " (no network?)"
        return (f"done {done}" + (f", bundled {bundled} (in the package: nothing to download)" if bundled else "")
                + f", skipped {skipped}" + (" (manual download)" if skipped else "") + f", failed {failed}{why}")

    try:
        for name, named in names:
            started += 1
            entry = registry[name]
            if entry.source_kind == "manual" and not named:
                typer.echo(f"skipped {name}: {entry.manual_message}", err=True)
                skipped += 1
                continue
            try:
                path = fetch(entry, force=force)
            except MirnetError as exc:
                hint = f", or import it once with `mirnet download {name} --from FILE`" if entry.manual_message else ""
                typer.echo(f"error: {exc}{hint}", err=True)
                reasons.append(str(exc))
                failed += 1
                continue
            typer.echo(f"{name}: {path}")
            if getattr(entry, "bundled", None) is not None:
                bundled += 1
            else:
                done += 1
    except KeyboardInterrupt:
        never = len(names) - started
        typer.echo(f"interrupted: {summary()}, interrupted 1, not started {never}", err=True)
        raise typer.Exit(130) from None
    if len(seen) > 1:
        typer.echo(summary(), err=True)
    if failed:
        raise typer.Exit(1)


def _import(names: list[str], file: Path, *, all_: bool, force: bool) -> None:
    """``mirnet download NAME --from FILE``: check that FILE is NAME's network, then copy it into the cache."""
    from ...errors import MirnetError
    from ...loading.registry import entries_for_task

    if all_ or force:
        raise _usage("--from takes one model name; it cannot be combined with --all or --force")
    if len(names) != 1:
        raise _usage("--from FILE needs exactly one model name, e.g. `mirnet download mirnet_v2-sr-x4-realsr "
                     "--from FILE` (see `mirnet models`)")
    file = file.expanduser()
    if not file.exists():
        raise _usage(f"--from {file}: no such file")
    if not file.is_file():
        raise _usage(f"--from {file}: not a file")
    registry = _registry()
    name = names[0]
    if name not in registry:
        matches = [e.name for e in entries_for_task(name, registry, defaults_only=True) if e.bundled is None]
        hint = f" (for {name}: {', '.join(matches)})" if matches else " (see `mirnet models`)"
        raise _usage(f"{name!r} is not a model name{hint}")
    entry = registry[name]
    if entry.bundled is not None:
        raise _usage(f"{name} is bundled with mirnet; there is nothing to import")
    try:
        from ...loading.cache import human_size, import_file
        from ...loading.checkpoint import model_from_state, read_checkpoint

        state, _ = read_checkpoint(file)
        model_from_state(state, entry.architecture, entry.config, source=file)  # is it this entry's network?
        path, digest = import_file(entry, file)
    except MirnetError as exc:
        raise _fail(f"{exc} (not imported as {name})", EXIT_FAILED) from None
    check = ("matches the registry" if entry.sha256
             else "recorded; every later use is checked against it (trust on first use)")
    typer.echo(f"{name}: {file} imported to {path} ({human_size(path.stat().st_size)}, sha256 {digest[:12]}… {check})")


def cache(
    names: list[str] | None = typer.Argument(
        None, metavar="NAME", show_default=False, help="Only these models (default: everything cached)."),
    clear: bool = typer.Option(False, "--clear", help="Delete the listed files (and their sha256 records)."),
    json_output: bool = typer.Option(False, "--json", help="Print the list as JSON."),
) -> None:
    """Show what is cached (downloads, imported files, Hub files of the registry's models) and clear it.

    Partial files of killed downloads are listed as `partial`. Bundled models are part of mirnet, not the cache.
    """
    from ...errors import MirnetError
    from ...loading.cache import cached_items, clear_items, human_size
    from ...loading.sources import cache_root

    registry = _registry()
    unknown = [n for n in names or [] if n not in registry]
    if unknown:
        raise _usage(f"not a model name: {', '.join(unknown)} (see `mirnet models`)")
    items = cached_items(registry)
    if names:
        items = [i for i in items if i.entry in names]
    if json_output and not clear:
        typer.echo(json.dumps([{"entry": i.entry, "kind": i.kind, "size_bytes": i.size, "path": str(i.path)}
                               for i in items], indent=2))
        return
    root = cache_root()
    if not items:
        typer.echo(f"nothing cached{' for ' + ', '.join(names) if names else ''} in {root}")
        return
    if clear:
        try:
            count, freed = clear_items(items)
        except MirnetError as exc:
            raise _fail(str(exc), EXIT_FAILED) from None
        typer.echo(f"removed {count} file(s), {human_size(freed)}, from {root}")
        return
    typer.echo(f"cache: {root}")
    _print_table([("MODEL", "KIND", "SIZE", "PATH")]
                 + [(i.entry or "-", i.kind, human_size(i.size), str(i.path)) for i in items])
    typer.echo(f"{len(items)} file(s), {human_size(sum(i.size for i in items))}; "
               "`mirnet cache --clear [NAME…]` deletes them")
