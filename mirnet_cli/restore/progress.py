"""What a batch shows while it runs: a live status line on a terminal, one line per finished file.

* On a terminal (and without ``--quiet``) one status line is redrawn in place by a timer thread, at least once
  a second, so long work never looks dead: elapsed time, the current file, the progress within it (from the
  engine's ``progress(done, total)`` callback: tiles, or the network's blocks when the image runs whole) and an
  overall estimate of the time left, weighted by the work each file needs (its pixel count), not by the number
  of files.
* Every finished file gets one permanent line (name, size, seconds, output), printed above the status line;
  off a terminal only these lines are written (no control characters in logs).
* ``--quiet`` silences everything but errors.

Every line goes through :func:`one_line`, so a file name holding a newline or a terminal escape cannot split a
message or forge another one.
"""

from __future__ import annotations

import shutil
import sys
import threading
import time
from typing import TextIO

__all__ = ["Progress", "format_duration", "one_line"]

_CONTROL_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def one_line(text: str) -> str:
    """``text`` with control characters escaped (``\\n``, ``\\r``, ``\\t``, ``\\x1b`` …): always one line."""
    if text.isprintable():
        return text
    out = []
    for ch in text:
        if ch.isprintable() or ch == " ":
            out.append(ch)
        else:
            out.append(_CONTROL_ESCAPES.get(ch) or (f"\\x{ord(ch):02x}" if ord(ch) < 256 else f"\\u{ord(ch):04x}"))
    return "".join(out)


def format_duration(seconds: float) -> str:
    """``0:07``, ``3:10``, ``1:02:03`` (hours only when needed)."""
    seconds = max(0, int(seconds + 0.5))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class Progress:
    """The display of one run (see the module docstring). Thread-safe; use as a context manager.

    Args:
        stream: where everything goes (stderr).
        quiet: only errors are written.
        live: draw the status line; default: ``stream`` is a terminal and not ``quiet``.
        interval: seconds between redraws of the status line.
        clock: time source (tests pass a fake one).
    """

    #: The display of the run in progress, if any: library warnings are printed through it (see cli.app).
    active: Progress | None = None

    def __init__(self, stream: TextIO | None = None, *, quiet: bool = False, live: bool | None = None,
                 interval: float = 0.25, clock=time.monotonic):
        self.stream = stream if stream is not None else sys.stderr
        self.quiet = quiet
        isatty = getattr(self.stream, "isatty", None)
        self.live = (not quiet and bool(isatty and isatty())) if live is None else (live and not quiet)
        self.interval = interval
        self.clock = clock
        self.started = clock()
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._drawn = False
        # What the status line shows.
        self._phase = ""
        self._total_work = 0.0
        self._done_work = 0.0
        self._count = 0
        self._index = 0
        self._item = ""
        self._item_work = 0.0
        self._item_fraction = 0.0
        self._work_started: float | None = None

    # ------------------------------------------------------------------ life cycle
    def __enter__(self) -> Progress:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def start(self) -> None:
        """Start the timer thread that redraws the status line (only when live)."""
        Progress.active = self
        if self.live and self._thread is None:
            self._draw()
            self._thread = threading.Thread(target=self._tick, name="mirnet-progress", daemon=True)
            self._thread.start()

    def close(self) -> None:
        """Stop redrawing and erase the status line; permanent lines stay."""
        if Progress.active is self:
            Progress.active = None
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        with self._lock:
            self._erase()

    def _tick(self) -> None:
        while not self._stop.wait(self.interval):
            self._draw()

    # ------------------------------------------------------------------ what is going on
    def phase(self, text: str) -> None:
        """Describe the current step before the batch starts (``loading model …``)."""
        with self._lock:
            self._phase = text
        self._draw()

    def start_batch(self, total_work: float, count: int) -> None:
        """The batch begins: ``count`` items needing ``total_work`` units (pixels) in all."""
        with self._lock:
            self._total_work, self._count, self._done_work = float(total_work), count, 0.0
            self._work_started = self.clock()
            self._phase = ""
        self._draw()

    def start_item(self, index: int, label: str, work: float) -> None:
        """Item ``index`` (1-based) starts; it needs ``work`` units."""
        with self._lock:
            self._index, self._item, self._item_work, self._item_fraction = index, label, float(work), 0.0
        self._draw()

    def item_phase(self, text: str) -> None:
        """What the current item is doing (``reading``, ``writing``, a chain step)."""
        with self._lock:
            self._phase = text
        self._draw()

    def update(self, fraction: float) -> None:
        """The current item is ``fraction`` (0..1) done. Cheap: the timer thread redraws."""
        with self._lock:
            self._item_fraction = min(max(float(fraction), 0.0), 1.0)

    def end_item(self) -> None:
        """The current item is over (done, skipped or failed): its work counts as done for the estimate."""
        with self._lock:
            self._done_work += self._item_work
            self._item, self._item_work, self._item_fraction, self._phase = "", 0.0, 0.0, ""

    def remove_work(self, work: float) -> None:
        """An item turned out to need no work (skipped before starting)."""
        with self._lock:
            self._total_work = max(0.0, self._total_work - work)

    # ------------------------------------------------------------------ permanent lines
    def line(self, text: str) -> None:
        """A permanent line (a finished file, a notice); not shown with ``quiet``."""
        if not self.quiet:
            self._write(text)

    def error(self, text: str) -> None:
        """A permanent line that is shown even with ``quiet``."""
        self._write(text)

    def _write(self, text: str) -> None:
        with self._lock:
            self._erase()
            self.stream.write(one_line(text) + "\n")
            self.stream.flush()
            self._render()

    # ------------------------------------------------------------------ the status line
    def eta(self) -> float | None:
        """Seconds left for the whole batch, from the work rate so far; ``None`` until it can be told."""
        with self._lock:
            if self._work_started is None or self._total_work <= 0:
                return None
            done = self._done_work + self._item_work * self._item_fraction
            spent = self.clock() - self._work_started
            if done <= 0 or spent < 1.0:
                return None
            return max(0.0, (self._total_work - done) * spent / done)

    def status(self) -> str:
        """The status line's text (without control characters)."""
        with self._lock:
            parts = [f"mirnet {format_duration(self.clock() - self.started)}"]
            if self._item:
                bar_len = 10
                filled = int(self._item_fraction * bar_len + 1e-9)
                head = f"{self._index}/{self._count} {self._item}" if self._count > 1 else self._item
                step = f" {self._phase}" if self._phase else ""
                parts.append(f"{head}{step} [{'#' * filled}{'.' * (bar_len - filled)}] "
                             f"{int(self._item_fraction * 100)}%")
                if self._count > 1 and self._total_work > 0:
                    done = self._done_work + self._item_work * self._item_fraction
                    parts.append(f"all {int(100 * done / self._total_work)}%")
                eta = self.eta()
                if eta is not None:
                    parts.append(f"~{format_duration(eta)} left")
            elif self._phase:
                parts.append(self._phase)
            return " | ".join(parts)

    def _draw(self) -> None:
        if not self.live:
            return
        with self._lock:
            if self._stop.is_set():
                return
            self._render()

    def _render(self) -> None:
        if not self.live or self._stop.is_set():
            return
        width = max(20, shutil.get_terminal_size((80, 24)).columns - 1)
        text = one_line(self.status())
        if len(text) > width:
            text = text[: width - 1] + "…"
        self.stream.write("\r\x1b[2K" + text)
        self.stream.flush()
        self._drawn = True

    def _erase(self) -> None:
        if self._drawn:
            self.stream.write("\r\x1b[2K")
            self.stream.flush()
            self._drawn = False
