"""The flow every restoration command shares.

check every option → find inputs and plan outputs → choose the model(s) → (``--dry-run`` stops here) → load →
run the batch with a live display → summary and exit code.

Exit codes (documented in ``mirnet --help`` and the README): 0 every input done or skipped; 1 one or more inputs
failed (also when all of them did); 2 the run could not start: a usage error (bad option, missing input, unusable
output folder) or no usable model; nothing was processed. Ctrl-C stops with 130 after printing the summary so far.

Heavy modules (torch, the model, the engine) are imported inside functions, never at import time.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import typer

from ...restore.progress import Progress, one_line

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def fail(message: str, code: int = EXIT_USAGE) -> typer.Exit:
    """Print ``error: <message>`` (one line) and return the exit to raise (usage error by default)."""
    typer.echo(f"error: {one_line(message)}", err=True)
    return typer.Exit(code)


@dataclass
class Planned:
    """What a run will do, decided before any model is loaded."""

    out_dir: Path
    jobs: list = field(default_factory=list)  # restore.batch.Job
    problems: list[tuple[Path, str]] = field(default_factory=list)  # inputs that fail before any work
    skipped: list[tuple[Path, str]] = field(default_factory=list)  # inputs skipped before any work, with why
    own_outputs: list[Path] = field(default_factory=list)  # earlier results of this command among the inputs

    def note_passed_over(self, scan, progress: Progress) -> None:
        """Record a scan's unsupported images (skipped, per file) and tell which mirnet folders were not searched."""
        from ...io.discovery import unsupported_reason

        self.skipped += [(path, unsupported_reason(path)) for path in scan.unsupported]
        self.skipped += list(getattr(scan, "special", ()))  # pipes, sockets, devices: never opened
        for folder in scan.output_dirs:
            progress.line(f"note: not searching {folder}: mirnet wrote it (delete its .mirnet-output file to "
                          "include it)")


#: Why an earlier result of the same command is not processed again.
OWN_OUTPUT = "earlier output of this command (not processed again)"


class RestoreRun:
    """One run of a restoration command (see the module docstring).

    Args:
        steps: the tasks applied to every image, in order (one, or a ``--task a,b`` chain).
        opts: the common options.
        arch: restrict the model choice to an architecture.
        force: run a task where its check says not to (``--force``).
    """

    def __init__(self, steps: Sequence[Any], opts: Any, *, arch: str | None = None, force: bool = False):
        self.steps = list(steps)
        self.opts = opts
        self.arch = arch
        self.force = force
        self.start = time.perf_counter()
        self.label = "+".join(s.label for s in self.steps)
        self.progress = Progress(quiet=opts.quiet, live=False if opts.dry_run else None)
        self.device = self.dtype = None
        self.json_path: Path | None = None
        self.ext = "same"

    # ------------------------------------------------------------------ checks
    def check_options(self) -> None:
        """Every option, before anything slow or remote (raises MirnetError → exit 2)."""
        from ...errors import MirnetError
        from ._options import check_engine_options, check_ext, check_json_path, check_suffix

        opts = self.opts
        self.ext = check_ext(opts.ext)
        check_suffix(opts.suffix)
        self.json_path = check_json_path(opts.json_out)
        if len(self.steps) > 1 and opts.weights:
            raise MirnetError("--weights names one checkpoint but --task chains several steps; each step picks its "
                              "model as its own command does (--model official or bundled applies to all)")
        if len(self.steps) > 1 and opts.model not in (None, "official", "bundled"):
            raise MirnetError(f"--model {opts.model}: a chain of tasks takes --model official or bundled only")
        if opts.model not in (None, "official", "bundled") and not opts.weights:
            from ...loading.registry import load_registry

            if opts.model not in load_registry():
                raise MirnetError(f"--model {opts.model}: not a registry name (see `mirnet models`)")
        self.progress.phase("starting PyTorch, checking the device")
        self.device, self.dtype = check_engine_options(opts)

    def output_dir(self, first_input: Path) -> Path:
        from ...io.discovery import default_output_dir
        from ._options import check_output_dir

        out_dir = self.opts.output if self.opts.output is not None else default_output_dir(first_input, self.label)
        check_output_dir(out_dir)
        return out_dir

    # ------------------------------------------------------------------ planning
    def plan_images(self, paths: Sequence[Path]) -> Planned:
        """Inputs → jobs (one image each)."""
        from ...errors import MirnetError
        from ...io.discovery import plan_outputs, scan_inputs, split_own_outputs
        from ...restore.batch import Job

        if not paths:
            raise MirnetError("no input given")
        plan = Planned(self.output_dir(paths[0]))
        self.progress.phase("finding photos")
        scan = scan_inputs(paths, recursive=self.opts.recursive, exclude_dirs=[plan.out_dir])
        if not scan.items:
            unsupported = sorted({p.suffix.lower() for p in scan.unsupported})
            raise MirnetError(f"no images found in {', '.join(map(str, paths))}"
                              + (f" ({len(scan.unsupported)} in unsupported formats: {', '.join(unsupported)})"
                                 if unsupported else "")
                              + (f" ({len(scan.special)} not regular files, e.g. {scan.special[0][0]}: "
                                 f"{scan.special[0][1]})" if scan.special else "")
                              + ("" if self.opts.recursive else " (use --recursive for sub-folders)"))
        plan.note_passed_over(scan, self.progress)
        items, own = split_own_outputs(scan.items, plan.out_dir, self.opts.suffix, self.ext)
        plan.own_outputs = [item.path for item in own]
        for item, out in plan_outputs(items, plan.out_dir, self.opts.suffix, self.ext):
            plan.jobs.append(Job((item.path,), out, str(item.path), compare=self.compare_path(plan.out_dir, out)))
        self.check_reports_are_not_inputs([p for job in plan.jobs for p in job.inputs])
        return plan

    def compare_path(self, out_dir: Path, out: Path) -> Path | None:
        """``OUT/mirnet-compare/<same relative path>.jpg`` with ``--compare``."""
        if not self.opts.compare:
            return None
        return out_dir / "mirnet-compare" / out.relative_to(out_dir).with_suffix(".jpg")

    def check_reports_are_not_inputs(self, inputs: Sequence[Path]) -> None:
        from ...io.discovery import ensure_no_output_is_input

        if self.json_path is not None:
            ensure_no_output_is_input([self.json_path], inputs)

    # ------------------------------------------------------------------ models
    def choose(self) -> list[Any]:
        """The checkpoint of every step (no download with --dry-run)."""
        from ...restore.selection import choose_weights

        choices = []
        session: dict = {}  # a failed download is said once, then not tried again in this run
        for spec in self.steps:
            self.progress.phase(f"choosing the model for {spec.key}")
            choice = choose_weights(spec.key, weights=self.opts.weights, model=self.opts.model, arch=self.arch,
                                    download=not self.opts.dry_run, session=session)
            if choice.notice and not self.opts.dry_run:  # a dry run lists it with the plan
                self.progress.line(f"note: {choice.notice}")
            choices.append(choice)
        return choices

    def load(self, choices: Sequence[Any]) -> list[Any]:
        """Load every chosen checkpoint into an engine (raises MirnetError for a model that does not fit)."""
        from ...engine.backends import resolve_backend
        from ...engine.inference import InferenceEngine
        from ...errors import MirnetError
        from ...loading.checkpoint import load_model
        from ...restore.batch import Step
        from ._options import check_threads

        steps = []
        for spec, choice in zip(self.steps, choices, strict=True):
            name = choice.registry_name or str(choice.source)
            self.progress.phase(f"loading {name}")
            net = load_model(choice.source)
            backend = resolve_backend(self.opts.backend, self.device)
            if backend != "torch":
                self.progress.phase(f"loading {name} ({backend}: a new checkpoint is exported once, ~1 min)")
            wants = 6 if spec.dual_pixel else 3
            if net.in_channels != wants:
                raise MirnetError(f"{choice.source}: this model takes {net.in_channels} input channels but "
                                  f"`{spec.label}` feeds it {wants}")
            engine = InferenceEngine(net, device=self.device, precision=self.opts.precision, tile=self.opts.tile,
                                     tile_overlap=self.opts.tile_overlap, context=self.opts.context,
                                     max_memory=self.opts.max_memory, backend=backend,
                                     threads=check_threads(self.opts.threads))
            steps.append(Step(spec, engine, name, float(sum(p.numel() for p in net.parameters())) or 1.0))
        return steps

    # ------------------------------------------------------------------ running
    def dry_run(self, plan: Planned, choices: Sequence[Any]) -> typer.Exit:
        """Print what would happen (stdout), write nothing."""
        from ...restore.batch import OUTPUT_EXISTS

        rows = []
        for job in plan.jobs:
            skip = OUTPUT_EXISTS if job.output.exists() and not self.opts.overwrite else None
            rows.append({"input": [str(p) for p in job.inputs], "output": str(job.output),
                         "compare": str(job.compare) if job.compare else None, "skip": skip})
        rows += [{"input": [str(p)], "output": None, "compare": None, "skip": why} for p, why in plan.skipped]
        rows += [{"input": [str(p)], "output": None, "compare": None, "skip": OWN_OUTPUT} for p in plan.own_outputs]
        rows += [{"input": [str(p)], "output": None, "compare": None, "error": why} for p, why in plan.problems]
        models = [{"task": spec.key, "model": c.registry_name or str(c.source), "note": c.notice}
                  for spec, c in zip(self.steps, choices, strict=True)]
        todo = sum(1 for r in rows if not r.get("skip") and not r.get("error"))
        skipped = sum(1 for r in rows if r.get("skip"))
        if self.json_path is not None or self.opts.json_out == "-":
            self.write_json({"dry_run": True, "output_dir": str(plan.out_dir), "device": str(self.device),
                             "precision": str(self.dtype).replace("torch.", ""), "models": models, "items": rows})
        if self.opts.json_out != "-":
            for row in rows:
                source = " + ".join(row["input"])
                if row.get("error"):
                    typer.echo(one_line(f"{source}: cannot be processed: {row['error']}"))
                elif row["output"] is None:
                    typer.echo(one_line(f"{source}: skip ({row['skip']})"))
                else:
                    tail = f"  (skip: {row['skip']})" if row["skip"] else ""
                    typer.echo(one_line(f"{source} -> {row['output']}{tail}"))
            for m in models:
                note = f"  ({m['note']})" if m["note"] else ""
                typer.echo(one_line(f"model for {m['task']}: {m['model']} on {self.device}, "
                                    f"{str(self.dtype).replace('torch.', '')}{note}"))
            reasons = sorted({r["skip"] for r in rows if r.get("skip")})
            why = f" ({'; '.join(reasons)})" if reasons else ""
            typer.echo(f"dry run: would process {todo}, skip {skipped}{why}; nothing was loaded or written")
        return typer.Exit(EXIT_OK)

    def execute(self, plan: Planned, steps: Sequence[Any]):
        """Run the batch; returns the Summary. SIGTERM stops it like Ctrl-C (the output being written is
        completed, claims are released, the summary is printed)."""
        from ...restore.batch import BatchRunner, Summary

        summary = Summary(model=" + ".join(s.model for s in steps), device=str(self.device),
                          precision=str(steps[0].engine.dtype).replace("torch.", ""))
        self.record_before_work(summary, plan)
        created = self.prepare_output_folders(plan)
        self.progress.line(f"{len(plan.jobs)} {'pair(s)' if steps[0].spec.dual_pixel else 'image(s)'} -> "
                           f"{plan.out_dir}  [model {summary.model}, {summary.device}, {summary.precision}]")
        runner = BatchRunner(steps, progress=self.progress, summary=summary, overwrite=self.opts.overwrite,
                             fail_fast=not self.opts.keep_going, jpeg_quality=self.opts.jpeg_quality,
                             force=self.force, verbose=self.opts.verbose)
        try:
            with _sigterm_as_interrupt():
                runner.run(plan.jobs)
        except KeyboardInterrupt:
            summary.interrupted = True
        finally:
            remove_unused_output_folders(created)
        if summary.interrupted:
            seen = {r.input for r in summary.results}
            summary.not_started = sum(1 for job in plan.jobs if job.label not in seen)
        return summary

    def prepare_output_folders(self, plan: Planned) -> list[Path]:
        """Create and mark the folders mirnet writes (never searched for inputs again); drop stale temp files and
        claims. Returns the folders this run created."""
        from ...io.atomic import clean_stale_temp_files
        from ...io.discovery import mark_output_dir

        created = [plan.out_dir] if mark_output_dir(plan.out_dir, self.label) else []
        if self.opts.compare and mark_output_dir(plan.out_dir / "mirnet-compare", self.label):
            created.insert(0, plan.out_dir / "mirnet-compare")
        folders = {job.output.parent for job in plan.jobs} | {job.compare.parent for job in plan.jobs if job.compare}
        removed = [p for p in clean_stale_temp_files(sorted(folders)) if not p.name.endswith(".mirnet-claim")]
        if removed:
            self.progress.line(f"note: removed {len(removed)} unfinished file(s) left by an interrupted run "
                               f"(e.g. {removed[0]})")
        return created

    def measure(self, plan: Planned) -> None:
        """Read each photo's size from its header (memory plan and the time-left estimate), before any decoding."""
        from ...io.images import image_size

        self.progress.phase("reading image sizes")
        for job in plan.jobs:
            if self.opts.overwrite or not job.output.exists():
                job.size = image_size(job.inputs[0])

    def work_left(self, plan: Planned) -> bool:
        return any(self.opts.overwrite or not job.output.exists() for job in plan.jobs)

    def summary_without_work(self, plan: Planned):
        """The summary of a run where every output exists already (or nothing is left to do)."""
        from ...restore.batch import OUTPUT_EXISTS, ItemResult, Summary

        summary = Summary(device=str(self.device), precision=str(self.dtype).replace("torch.", ""))
        self.record_before_work(summary, plan)
        summary.results += [ItemResult(job.label, "skipped", str(job.output), OUTPUT_EXISTS) for job in plan.jobs]
        return summary

    def record_before_work(self, summary, plan: Planned) -> None:
        """Inputs that failed or were skipped while planning: into the summary, with a line each where useful."""
        from ...restore.batch import ItemResult

        for path, reason in plan.problems:
            summary.results.append(ItemResult(str(path), "failed", None, f"{path}: {reason}"))
            self.progress.error(f"error: {path}: {reason}")
        for path, reason in plan.skipped:
            summary.results.append(ItemResult(str(path), "skipped", None, reason))
            self.progress.line(f"skipped {path}: {reason}")
        # earlier results of this command: in the summary's count, not one line each on every re-run
        summary.results += [ItemResult(str(path), "skipped", None, OWN_OUTPUT) for path in plan.own_outputs]

    def write_json(self, data: dict) -> None:
        text = json.dumps(data, indent=2, ensure_ascii=False)
        if self.json_path is None:
            typer.echo(text)
        else:
            from ...io.atomic import atomic_write_bytes

            atomic_write_bytes(self.json_path, (text + "\n").encode("utf-8"))

    def finish(self, summary) -> typer.Exit:
        """Print the summary line (and JSON); the exit to raise."""
        summary.seconds = time.perf_counter() - self.start
        self.progress.close()
        if self.opts.json_out is not None:
            self.write_json(summary.to_dict())
        if summary.interrupted:
            typer.echo(f"interrupted: {summary.line()}", err=True)
            return typer.Exit(EXIT_INTERRUPTED)
        if not self.opts.quiet or summary.exit_code:
            typer.echo(summary.line(), err=True)
        return typer.Exit(summary.exit_code)

    # ------------------------------------------------------------------ the whole flow
    def run(self, plan_inputs) -> None:
        """``plan_inputs(run) -> Planned``; raises typer.Exit with the exit code."""
        from ...errors import MirnetError

        with self.progress:
            try:
                self.check_options()
                plan = plan_inputs(self)
                if not self.opts.dry_run and not plan.problems and not self.work_left(plan):
                    self.progress.close()  # everything is done already: no model to choose, fetch or load
                    raise self.finish(self.summary_without_work(plan))
                if not self.opts.dry_run:
                    self.measure(plan)
                choices = self.choose()
                if self.opts.dry_run:
                    self.progress.close()
                    raise self.dry_run(plan, choices)
                steps = self.load(choices)
            except MirnetError as exc:
                self.progress.close()
                raise fail(str(exc)) from None
            except KeyboardInterrupt:
                self.progress.close()
                raise fail("interrupted before any photo was processed", EXIT_INTERRUPTED) from None
            summary = self.execute(plan, steps)
        raise self.finish(summary)


class _sigterm_as_interrupt:
    """Within the block, SIGTERM raises KeyboardInterrupt in the main thread (so claims and temporary files are
    cleaned up as on Ctrl-C); a no-op outside the main thread or where signals cannot be set."""

    def __enter__(self):
        import signal
        import threading

        self.previous = None
        if threading.current_thread() is threading.main_thread() and hasattr(signal, "SIGTERM"):
            def interrupt(signum, frame):
                raise KeyboardInterrupt

            try:
                self.previous = signal.signal(signal.SIGTERM, interrupt)
            except (ValueError, OSError):
                self.previous = None
        return self

    def __exit__(self, *exc):
        import signal

        if self.previous is not None:
            signal.signal(signal.SIGTERM, self.previous)
        return False


def remove_unused_output_folders(created: Sequence[Path]) -> None:
    """Remove folders this run created that hold nothing but mirnet's marker (every photo was skipped or failed):
    an empty result folder is noise. Sub-folders first."""
    import contextlib

    from ...io.formats import OUTPUT_MARKER

    for folder in created:
        with contextlib.suppress(OSError):
            if {p.name for p in folder.iterdir()} <= {OUTPUT_MARKER}:
                (folder / OUTPUT_MARKER).unlink(missing_ok=True)
                folder.rmdir()


def run_restore(steps, paths: list[Path], opts, *, arch: str | None = None, force: bool = False) -> None:
    """Restore single images (denoise, enhance, super-resolve, restore) with the shared ``opts``."""
    if not isinstance(steps, (list, tuple)):
        steps = [steps]
    RestoreRun(steps, opts, arch=arch, force=force).run(lambda run: run.plan_images(paths))
