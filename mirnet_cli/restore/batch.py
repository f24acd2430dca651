"""Run a model over many photos: skip what is done, report what failed, never lose anything.

* an output that already exists is skipped (``--overwrite`` replaces it), so re-running a batch resumes it;
* a bad input gets one line naming the file and the reason, and the batch goes on (``fail_fast`` stops);
* outputs are written atomically by :func:`mirnet_cli.io.images.write_image`;
* the run ends with a :class:`Summary` (done / skipped / failed) that the command prints or emits as JSON.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..errors import ImageReadError, MirnetError
from .tasks import TaskSpec


@dataclass
class ItemResult:
    """What happened to one input (or one dual-pixel pair)."""

    input: str
    status: str  # done | skipped | failed
    output: str | None = None
    reason: str | None = None
    seconds: float = 0.0


@dataclass
class Summary:
    """All results of a batch, in input order."""

    results: list[ItemResult] = field(default_factory=list)
    model: str | None = None
    device: str | None = None
    precision: str | None = None
    seconds: float = 0.0

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.results)

    @property
    def exit_code(self) -> int:
        """1 when anything failed, else 0."""
        return 1 if self.count("failed") else 0

    def line(self) -> str:
        return (f"done {self.count('done')}, skipped {self.count('skipped')}, failed {self.count('failed')}"
                f" in {self.seconds:.1f} s")

    def to_dict(self) -> dict:
        return {"model": self.model, "device": self.device, "precision": self.precision,
                "seconds": round(self.seconds, 3),
                "counts": {s: self.count(s) for s in ("done", "skipped", "failed")},
                "results": [asdict(r) for r in self.results]}


class Reporter:
    """One progress bar over files (TTY only, not with ``quiet``) and one line per problem on stderr."""

    def __init__(self, total: int, quiet: bool = False, desc: str = "photos"):
        self.quiet = quiet
        self.bar = None
        if not quiet and total > 1 and sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=desc, unit="img", file=sys.stderr, leave=False)

    def problem(self, text: str) -> None:
        # Problems are shown even with --quiet: a user must know which file failed.
        if self.bar is not None:
            self.bar.write(text, file=sys.stderr)
        else:
            print(text, file=sys.stderr, flush=True)

    def info(self, text: str) -> None:
        if not self.quiet:
            self.problem(text)

    def step(self) -> None:
        if self.bar is not None:
            self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _process(reporter: Reporter, summary: Summary, label: str, out: Path, overwrite: bool,
             work: Callable[[], None]) -> bool:
    """Run one item's ``work``; record the result. Returns False when the item failed."""
    start = time.perf_counter()
    if out.exists() and not overwrite:
        summary.results.append(ItemResult(label, "skipped", str(out), "output exists (use --overwrite)"))
        reporter.step()
        return True
    try:
        work()
    except MirnetError as exc:
        text = str(exc)
        reason = text if isinstance(exc, ImageReadError) or label in text else f"{label}: {text}"
        summary.results.append(ItemResult(label, "failed", None, reason, time.perf_counter() - start))
        reporter.problem(f"error: {reason}")
        reporter.step()
        return False
    except (RuntimeError, ValueError, OSError) as exc:  # e.g. an image the network cannot take
        reason = f"{label}: {str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__}"
        summary.results.append(ItemResult(label, "failed", None, reason, time.perf_counter() - start))
        reporter.problem(f"error: {reason}")
        reporter.step()
        return False
    summary.results.append(ItemResult(label, "done", str(out), None, time.perf_counter() - start))
    reporter.step()
    return True


def run_images(task: TaskSpec, engine, plan: Sequence[tuple[Path, Path]], *, overwrite: bool = False,
               fail_fast: bool = False, jpeg_quality: int = 95, reporter: Reporter | None = None,
               summary: Summary | None = None) -> Summary:
    """Restore every ``(input, output)`` pair of ``plan`` with ``engine``.

    Bit depth, grayscale, alpha (resized for SR), EXIF (orientation 1) and ICC travel from input to output.
    """
    from ..io.images import read_image, write_image

    summary = summary or Summary()
    reporter = reporter or Reporter(len(plan))
    for src, out in plan:
        def work(src=src, out=out):
            image = read_image(src)
            restored = engine.restore(task.prepare(image.pixels))
            write_image(out, image.with_pixels(restored), jpeg_quality=jpeg_quality)

        if not _process(reporter, summary, str(src), out, overwrite, work) and fail_fast:
            break
    reporter.close()
    return summary


def run_pairs(engine, plan: Sequence[tuple[Path, Path, Path]], *, overwrite: bool = False,
              fail_fast: bool = False, jpeg_quality: int = 95, reporter: Reporter | None = None,
              summary: Summary | None = None) -> Summary:
    """Dual-pixel deblurring of ``(left, right, output)`` triples: input ``cat([L, R])``, left view first.

    The output keeps the left view's metadata and the larger bit depth of the two views (16-bit in → 16-bit out).
    """
    from ..io.images import read_image, write_image

    summary = summary or Summary()
    reporter = reporter or Reporter(len(plan), desc="pairs")
    for left, right, out in plan:
        def work(left=left, right=right, out=out):
            lv, rv = read_image(left), read_image(right)
            if lv.pixels.shape != rv.pixels.shape:
                raise MirnetError(f"{left}: left view is {lv.width}x{lv.height} but the right view {right} is "
                                  f"{rv.width}x{rv.height}; the two views must have the same size")
            restored = engine.restore(np.concatenate([lv.pixels, rv.pixels], axis=2))
            result = lv.with_pixels(restored)
            result.bit_depth = max(lv.bit_depth, rv.bit_depth)
            write_image(out, result, jpeg_quality=jpeg_quality)

        if not _process(reporter, summary, str(left), out, overwrite, work) and fail_fast:
            break
    reporter.close()
    return summary
