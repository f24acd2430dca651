"""Run models over many photos: skip what is done, report what failed, never lose anything.

* an output that already exists is skipped (``--overwrite`` replaces it), so re-running a batch resumes it;
* a bad input gets one line naming the file and the reason, and the batch goes on (``fail_fast`` stops); this
  holds for *any* error of one file, a ``MemoryError`` or an unexpected exception included, so the summary is
  always printed;
* outputs are written atomically by :func:`mirnet_cli.io.images.write_image`;
* each finished file gets one line (name, size, seconds); :class:`~.progress.Progress` shows the live status;
* each output is claimed before it is computed (:func:`mirnet_cli.io.atomic.claim_output`): a second run into the
  same folder skips what the first is making, and says so;
* after a write fails for a full disk (ENOSPC), the remaining photos for that disk are not computed: they are
  skipped as not started, with the reason;
* the run ends with a :class:`Summary` (done / skipped / failed) that the command prints or emits as JSON.

A batch runs one or more :class:`Step` s per image (``--task denoise,super-resolve:x2`` chains them in memory,
without intermediate files).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ImageReadError, MirnetError
from .progress import Progress, one_line
from .tasks import TaskSpec

#: Reason recorded for outputs that exist (re-runs resume).
OUTPUT_EXISTS = "output exists; --overwrite to redo"
#: Reason recorded for the photo being restored when Ctrl-C (or SIGTERM) stopped the batch.
INTERRUPTED = "interrupted while it was restored"
#: Reason recorded for photos not computed because their output disk is full (followed by the folder).
NO_SPACE = "not started: no space left on device"


@dataclass
class ItemResult:
    """What happened to one input (or one dual-pixel pair)."""

    input: str
    status: str  # done | skipped | failed
    output: str | None = None
    reason: str | None = None
    seconds: float = 0.0
    plan: list[dict] | None = None  # how the engine ran each step (tiles, context, memory budget)


@dataclass
class Summary:
    """All results of a batch, in input order."""

    results: list[ItemResult] = field(default_factory=list)
    model: str | None = None
    device: str | None = None
    precision: str | None = None
    seconds: float = 0.0
    interrupted: bool = False  # Ctrl-C stopped the batch
    not_started: int = 0  # inputs an interrupted batch never reached

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.results)

    @property
    def exit_code(self) -> int:
        """1 when anything failed (also when everything did), else 0."""
        return 1 if self.count("failed") else 0

    def skip_reasons(self) -> str:
        """``" (3 output exists; --overwrite to redo, 1 unsupported format .gif)"``, or ``""``."""
        reasons = Counter(_reason_kind(r.reason) for r in self.results if r.status == "skipped")
        if not reasons:
            return ""
        if len(reasons) == 1:
            return f" ({next(iter(reasons))})"
        return " (" + ", ".join(f"{n} {why}" for why, n in reasons.most_common()) + ")"

    def line(self) -> str:
        never = f", not started {self.not_started}" if self.not_started else ""
        return (f"done {self.count('done')}, skipped {self.count('skipped')}{self.skip_reasons()}, "
                f"failed {self.count('failed')}{never} in {self.seconds:.1f} s")

    def to_dict(self) -> dict:
        return {"model": self.model, "device": self.device, "precision": self.precision,
                "seconds": round(self.seconds, 3), "interrupted": self.interrupted,
                "counts": {**{s: self.count(s) for s in ("done", "skipped", "failed")},
                           **({"not_started": self.not_started} if self.not_started else {})},
                "results": [asdict(r) for r in self.results]}


def _reason_kind(reason: str | None) -> str:
    """The part of a skip reason that is the same for every file it applies to (before any figures)."""
    if not reason:
        return "no reason given"
    return reason.split(" (", 1)[0]


class Skip(Exception):
    """Raised inside an item's work: the item is skipped with this reason (not a failure)."""


@dataclass
class Step:
    """One model applied to every image: the task's pre-processing, then the engine.

    Attributes:
        spec: what the task does before the network (bicubic upsampling for SR) and when it should not run.
        engine: an :class:`~mirnet_cli.engine.inference.InferenceEngine` (anything with ``restore``).
        model: the model's name, for messages and the summary.
        cost: relative compute per pixel (the parameter count), to split an image's progress between steps.
    """

    spec: TaskSpec
    engine: Any
    model: str = ""
    cost: float = 1.0


@dataclass
class Job:
    """One output to make from one image (or from a left/right pair of views).

    Attributes:
        inputs: the image, or the left and right views (left first).
        output: the output file.
        label: how messages name it (the input as given; the left view for pairs).
        size: ``(width, height)`` read from the file header before any decoding, or ``None`` if unknown.
        compare: where to write the input | output sheet (``--compare``), or ``None``.
    """

    inputs: tuple[Path, ...]
    output: Path
    label: str
    size: tuple[int, int] | None = None
    compare: Path | None = None

    @property
    def pixels(self) -> int | None:
        return self.size[0] * self.size[1] if self.size else None


#: RAM per input pixel for decoding: the stored samples (up to 8 bytes, 16-bit RGBA), the float32 RGB copy and alpha.
DECODE_BYTES_PER_PIXEL = 24
#: RAM per pixel a step needs besides the network's activations (which the engine tiles to fit): the input tensor
#: and its padded copy, the blending accumulators, the output and its conversions back to an array. Measured as
#: the peak RSS growth of read → engine (tile 64) → write with the bundled model on the CPU: 79 and 73 bytes per
#: pixel at 600² and 1200², 82 per output pixel for ×2 super-resolution.
STEP_BYTES_PER_PIXEL = 80
#: Share of the available RAM a photo may plan to use; the rest is left for the network's activations.
MEMORY_SHARE = 0.8


def memory_needed(pixels: int, steps: Sequence[Step], views: int = 1) -> int:
    """Bytes of RAM one image needs outside the network (see :data:`STEP_BYTES_PER_PIXEL`), at its peak step.

    Args:
        pixels: input width x height.
        steps: the models applied in turn (super-resolution multiplies the pixels of the steps after it).
        views: 2 for dual-pixel pairs (two images decoded, a 6-channel network input).
    """
    peak, current = 0.0, float(pixels)
    for step in steps:
        previous = current
        current *= step.spec.scale**2
        need = (STEP_BYTES_PER_PIXEL + 12 * (views - 1) * 2) * current + 12 * previous
        peak = max(peak, need)
    return int(DECODE_BYTES_PER_PIXEL * views * pixels + peak)


def _gb(n: float) -> str:
    return f"{n / 1e9:.1f} GB" if n >= 1e8 else f"{n / 1e6:.0f} MB"


def check_memory(job: Job, steps: Sequence[Step], available: int | None = None) -> None:
    """Refuse, before decoding, a photo whose processing cannot fit in the RAM available now.

    Raises:
        MirnetError: ``<file>: needs about N GB of memory (W x H), M GB available …``.
    """
    if job.size is None:
        return
    need = memory_needed(job.pixels or 0, steps, views=len(job.inputs))
    if available is None:
        import psutil

        available = int(psutil.virtual_memory().available)
    if need > MEMORY_SHARE * available:
        width, height = job.size
        raise MirnetError(f"{job.label}: needs about {_gb(need)} of memory ({width}x{height}, "
                          f"{width * height / 1e6:.0f} MP) but {_gb(available)} is available; process it on a "
                          "machine with more memory, or reduce it first")


def work_units(pixels: int, steps: Sequence[Step]) -> float:
    """Compute an image of ``pixels`` needs: each step's cost times the pixels it runs on (SR multiplies them)."""
    total, current = 0.0, float(pixels)
    for step in steps:
        current *= step.spec.scale**2
        total += step.cost * current
    return total


def _error_reason(label: str, exc: BaseException) -> str:
    """One readable reason naming the file."""
    if isinstance(exc, MirnetError):
        text = str(exc)
        return text if isinstance(exc, ImageReadError) or label in text else f"{label}: {text}"
    if isinstance(exc, MemoryError):
        return f"{label}: out of memory while processing it (close other programs, or use a smaller --tile)"
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if isinstance(exc, (RuntimeError, ValueError, OSError)):  # e.g. an image the network cannot take
        return f"{label}: {first or type(exc).__name__}"
    return f"{label}: unexpected error {type(exc).__name__}{': ' + first if first else ''}"


def _size_text(shape: tuple[int, ...]) -> str:
    h, w = shape[:2]
    return f"{w}x{h}"


class BatchRunner:
    """Runs :class:`Job` s through :class:`Step` s, recording results in a :class:`Summary`.

    Args:
        steps: the models, applied in order.
        progress: the display.
        summary: where results go.
        overwrite: replace existing outputs instead of skipping them.
        fail_fast: stop at the first failure.
        jpeg_quality: quality of JPEG / lossy WebP outputs.
        force: run even where a step's :meth:`TaskSpec.check` objects (a well-exposed photo for low light).
        memory_check: called with a job before it is decoded; raises :class:`MirnetError` when the job cannot
            fit in memory. Default: :func:`check_memory` against the RAM available at that moment.
    """

    def __init__(self, steps: Sequence[Step], *, progress: Progress, summary: Summary, overwrite: bool = False,
                 fail_fast: bool = False, jpeg_quality: int = 95, force: bool = False,
                 memory_check: Callable[[Job], None] | None = None, verbose: bool = False):
        self.steps = list(steps)
        self.verbose = verbose
        self._plans: list[dict] = []
        self.progress = progress
        self.summary = summary
        self.overwrite = overwrite
        self.fail_fast = fail_fast
        self.jpeg_quality = jpeg_quality
        self.force = force
        self.memory_check = memory_check or (lambda job: check_memory(job, self.steps))

    # ------------------------------------------------------------------ the batch
    def run(self, jobs: Sequence[Job]) -> Summary:
        """Process every job in order; never raises for a single job's failure (``KeyboardInterrupt`` excepted).

        Decoding the next photo and encoding the previous one run in two helper threads while the current one is
        restored (an image on a GPU takes about as long as its PNG encode), so at most three photos are in memory:
        the one being read, the one being restored, the one being written. Results and per-file lines keep the
        input order of the summary; a file's line appears when its output is on disk.

        Each output is claimed before its photo is read (another run making it → skipped, said in one line), and
        released once written or failed; after a full disk, the later photos for that disk are not started.
        """
        from concurrent.futures import ThreadPoolExecutor

        known = [j.pixels for j in jobs if j.pixels]
        typical = float(np.median(known)) if known else 1.0
        work = [work_units(j.pixels or typical, self.steps) for j in jobs]
        todo = [i for i, j in enumerate(jobs) if self.overwrite or not j.output.exists()]
        self.progress.start_batch(sum(work[i] for i in todo), len(todo))
        results: dict[int, ItemResult] = {}
        for index, job in enumerate(jobs):
            if index not in todo:
                results[index] = ItemResult(job.label, "skipped", str(job.output), OUTPUT_EXISTS)
        self._failed = False
        self._claims: dict[int, Path] = {}
        self._no_space: dict[object, str] = {}  # disk → the folder whose write found it full
        reader = ThreadPoolExecutor(1, thread_name_prefix="mirnet-read")
        writer = ThreadPoolExecutor(1, thread_name_prefix="mirnet-write")
        pending = None  # the previous job's write: (index, job, future)
        queue = iter(todo)

        def next_job() -> int | None:
            """The next job that may start (claimed, disk not full), its read submitted; the others recorded."""
            for index in queue:
                if self._admit(index, jobs[index], results):
                    reads[index] = reader.submit(self._checked_read, jobs[index])
                    return index
            return None

        try:
            reads = {}
            current, position = next_job(), 0
            while current is not None:
                following = next_job()  # read ahead while this one is restored
                index, job = current, jobs[current]
                current = following
                full = self._disk_full(job)
                if full is not None:  # a write failed for a full disk since this job was claimed
                    reads.pop(index).cancel()
                    self._release(index)
                    results[index] = ItemResult(job.label, "skipped", None, full)
                    continue
                position += 1
                self.progress.start_item(position, job.inputs[0].name, work[index])
                start = time.perf_counter()
                self._plans = []
                try:
                    restored = self._restore(job, reads.pop(index).result())
                except KeyboardInterrupt:
                    results[index] = ItemResult(job.label, "skipped", None, INTERRUPTED, time.perf_counter() - start)
                    raise
                except Skip as exc:
                    self._release(index)
                    results[index] = ItemResult(job.label, "skipped", None, str(exc), time.perf_counter() - start)
                    self.progress.line(f"skipped {job.label}: {exc}")
                except Exception as exc:  # noqa: BLE001 - one file's failure never aborts the batch
                    self._release(index)
                    results[index] = self._failure(job, exc, start)
                else:
                    pending = self._finish_write(pending, results)  # one write at a time: bounded memory
                    pending = (index, job, writer.submit(self._write_claimed, job, *restored), start, self._plans)
                self.progress.end_item()
                if self.fail_fast and self._failed:
                    break
            pending = self._finish_write(pending, results)
        finally:
            self._finish_write(pending, results)  # also on Ctrl-C: the output being written is completed
            reader.shutdown(wait=True, cancel_futures=True)
            writer.shutdown(wait=True)
            for index in list(self._claims):
                self._release(index)
            self.summary.results.extend(results[i] for i in sorted(results))
        return self.summary

    # ------------------------------------------------------------------ claims and full disks
    @staticmethod
    def _disk_of(path: Path) -> object:
        """The file system ``path`` would be written on (its nearest existing folder's device)."""
        import os

        folder = path.parent
        while True:
            try:
                return os.stat(folder).st_dev
            except OSError:
                if folder.parent == folder:
                    return str(path.parent)
                folder = folder.parent

    def _disk_full(self, job: Job) -> str | None:
        """The reason a job is not started (its output disk was found full), or ``None``."""
        if not self._no_space:
            return None
        return self._no_space.get(self._disk_of(job.output))

    def _note_no_space(self, job: Job) -> None:
        self._no_space.setdefault(self._disk_of(job.output), f"{NO_SPACE} for {job.output.parent}")

    def _admit(self, index: int, job: Job, results: dict[int, ItemResult]) -> bool:
        """Claim the job's output before any work on it; record why not where it cannot start."""
        from ..io.atomic import OutputBusy, claim_output, is_no_space, release_claim

        full = self._disk_full(job)
        if full is not None:
            results[index] = ItemResult(job.label, "skipped", None, full)
            return False
        try:
            claim = claim_output(job.output)
        except OutputBusy as exc:
            results[index] = ItemResult(job.label, "skipped", None, str(exc))
            self.progress.line(f"skipped {job.label}: {exc}")
            return False
        except Exception as exc:  # noqa: BLE001 - the output folder refuses even a small file
            if is_no_space(exc):
                self._note_no_space(job)
            results[index] = self._failure(job, exc, time.perf_counter())
            return False
        if not self.overwrite and job.output.exists():  # another run finished it since this one started
            release_claim(claim)
            results[index] = ItemResult(job.label, "skipped", str(job.output), OUTPUT_EXISTS)
            return False
        self._claims[index] = claim
        return True

    def _release(self, index: int) -> None:
        from ..io.atomic import release_claim

        release_claim(self._claims.pop(index, None))

    def _write_claimed(self, job: Job, *restored) -> str:
        """:meth:`_write` in the writer thread; a full disk is noted at once, so no later photo for it starts."""
        from ..io.atomic import is_no_space

        try:
            return self._write(job, *restored)
        except BaseException as exc:
            if is_no_space(exc):
                self._note_no_space(job)
            raise

    def _finish_write(self, pending, results: dict[int, ItemResult]):
        """Wait for the pending write (if any) and record its job's result and line."""
        if pending is None:
            return None
        index, job, future, start, plans = pending
        if index in results:
            return None
        try:
            size = future.result()
        except Exception as exc:  # noqa: BLE001 - e.g. a full disk: this file fails, the batch goes on
            results[index] = self._failure(job, exc, start)
            return None
        finally:
            self._release(index)
        seconds = time.perf_counter() - start
        results[index] = ItemResult(job.label, "done", str(job.output), None, seconds, plans)
        self.progress.line(f"ok {job.label}  {size}  {seconds:.1f} s  -> {job.output}")
        return None

    def _failure(self, job: Job, exc: BaseException, start: float) -> ItemResult:
        reason = _error_reason(job.label, exc)
        self.progress.error(f"error: {reason}")
        self._failed = True
        return ItemResult(job.label, "failed", None, reason, time.perf_counter() - start)

    # ------------------------------------------------------------------ one job
    def _checked_read(self, job: Job):
        """The memory check, then the decoded photo (in the reader thread; errors surface at the job's turn)."""
        self.memory_check(job)
        return self._read(job)

    def _read(self, job: Job):
        from ..io.images import read_image

        if len(job.inputs) == 1:
            image = read_image(job.inputs[0])
            return image, image.pixels, image.pixels
        left, right = (read_image(p) for p in job.inputs)
        if left.pixels.shape != right.pixels.shape:
            raise MirnetError(f"{job.inputs[0]}: left view is {left.width}x{left.height} but the right view "
                              f"{job.inputs[1]} is {right.width}x{right.height}; the two views must have the same size")
        left.bit_depth = max(left.bit_depth, right.bit_depth)  # 16-bit views give a 16-bit result
        return left, np.concatenate([left.pixels, right.pixels], axis=2), left.pixels

    def _restore(self, job: Job, read):
        """Run the steps on a decoded photo; returns what :meth:`_write` needs."""
        image, pixels, before = read
        in_size = _size_text(pixels.shape)
        units = [work_units(pixels.shape[0] * pixels.shape[1], self.steps[: i + 1]) for i in range(len(self.steps))]
        total = units[-1] or 1.0
        for i, step in enumerate(self.steps):
            if not self.force:
                why = step.spec.check(pixels)
                if why:
                    raise Skip(why)
            done_before = units[i - 1] if i else 0.0
            share = units[i] - done_before
            if len(self.steps) > 1:
                self.progress.item_phase(f"{i + 1}/{len(self.steps)} {step.spec.label}")
            else:
                self.progress.item_phase("")

            def report(done: float, whole: float, base=done_before, share=share) -> None:
                self.progress.update((base + share * (done / whole if whole else 1.0)) / total)

            prepared = step.spec.prepare(pixels)
            pixels = step.engine.restore(prepared, progress=report)
            del prepared
            plan = getattr(step.engine, "last_plan", None)  # any engine-like object may run a step
            if plan is not None:
                self._plans.append(plan.to_dict())
                if self.verbose:
                    self.progress.line(f"  {job.label}: {plan.describe()}")
            self.progress.update(units[i] / total)
        return image, pixels, before, in_size

    def _write(self, job: Job, image, pixels, before, in_size: str) -> str:
        """Encode and write the output (atomically) and the compare sheet; in the writer thread."""
        from ..io.images import write_image

        write_image(job.output, image.with_pixels(pixels), jpeg_quality=self.jpeg_quality)
        if job.compare is not None:
            from .compare import write_compare_sheet

            try:
                write_compare_sheet(job.compare, before, pixels, icc_profile=image.icc_profile)
            except Exception as exc:  # noqa: BLE001 - the output is written; a missing sheet is only a warning
                self.progress.error(f"warning: {job.label}: no before/after sheet: {_error_reason(job.label, exc)}")
        out_size = _size_text(pixels.shape)
        return in_size if out_size == in_size else f"{in_size} -> {out_size}"


__all__ = ["NO_SPACE", "OUTPUT_EXISTS", "BatchRunner", "ItemResult", "Job", "Skip", "Step", "Summary", "check_memory",
           "memory_needed", "one_line", "work_units"]
