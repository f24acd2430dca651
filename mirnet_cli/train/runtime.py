"""What a training run needs around its loop: the ranks (single process or ``torchrun``), the log files, and the
Ctrl-C / SIGTERM handling that stops at a safe point."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist

from ..errors import MirnetError


# ------------------------------------------------------------------------------------------------ distributed
class Dist:
    """Rank facts; a single process when not started by ``torchrun`` (``WORLD_SIZE`` unset or 1)."""

    def __init__(self, device_spec: str):
        self.world = int(os.environ.get("WORLD_SIZE", "1") or 1)
        self.rank = int(os.environ.get("RANK", "0") or 0)
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0") or 0)
        self.started_group = False
        spec = (device_spec or "auto").strip().lower()
        if self.world > 1:
            use_cuda = spec.startswith("cuda") or (spec == "auto" and torch.cuda.is_available())
            if use_cuda:
                if not torch.cuda.is_available():
                    raise MirnetError("--device cuda was requested but CUDA is not available on this node")
                torch.cuda.set_device(self.local_rank)
                self.device = torch.device("cuda", self.local_rank)
            else:
                self.device = torch.device("cpu")
            if not dist.is_initialized():
                dist.init_process_group("nccl" if use_cuda else "gloo", init_method="env://")
                self.started_group = True
        else:
            from ..engine.device import resolve_device

            self.device = resolve_device(spec)

    @property
    def main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.world > 1:
            if self.device.type == "cuda":
                dist.barrier(device_ids=[self.local_rank])
            else:
                dist.barrier()

    def mean(self, value: float) -> float:
        """Mean of ``value`` over the ranks (every rank must call it)."""
        if self.world == 1:
            return value
        t = torch.tensor([value], dtype=torch.float64, device=self.device)
        dist.all_reduce(t)
        return float(t.item()) / self.world

    def close(self) -> None:
        if self.started_group and dist.is_initialized():
            dist.destroy_process_group()


# ------------------------------------------------------------------------------------------------ logging
def _atomic_text(path: Path, text: str) -> None:
    from ..io.atomic import atomic_write_bytes

    atomic_write_bytes(path, text.encode("utf-8"))


class RunLog:
    """``log.jsonl`` + ``log.csv`` (rank 0 only). Rows are appended and flushed as they come."""

    FIELDS = ["kind", "iteration", "loss", "lr", "patch", "batch", "seconds", "psnr", "ssim"]

    def __init__(self, out: Path, enabled: bool):
        self.enabled = enabled
        self.jsonl, self.csv = out / "log.jsonl", out / "log.csv"

    def truncate_after(self, iteration: int) -> None:
        """Drop rows logged after ``iteration`` (work a killed run did past its last checkpoint)."""
        if not self.enabled:
            return
        rows = []
        if self.jsonl.exists():
            for line in self.jsonl.read_text(encoding="utf-8").splitlines():
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:  # a line cut short by SIGKILL
                    continue
                if int(row.get("iteration", 0)) <= iteration:
                    rows.append(row)
        _atomic_text(self.jsonl, "".join(json.dumps(r) + "\n" for r in rows))
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(self.FIELDS)
        for r in rows:
            writer.writerow([r.get(k, "") for k in self.FIELDS])
        _atomic_text(self.csv, buf.getvalue())

    def write(self, **row: Any) -> None:
        if not self.enabled:
            return
        with self.jsonl.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(row) + "\n")
        with self.csv.open("a", newline="", encoding="utf-8") as fh:
            csv.writer(fh).writerow([row.get(k, "") for k in self.FIELDS])


# ------------------------------------------------------------------------------------------------ signals
class _StopNow(Exception):
    """Raised by the signal handler inside the interruptible part of an iteration (data, forward, loss)."""


class _StopFlag:
    """Ctrl-C / SIGTERM stop training at the next safe point (single process only).

    Inside :meth:`interruptible` (fetching the batch, the forward pass, the loss: nothing has changed the model or
    the optimiser yet) the handler raises :class:`_StopNow` at once, and the iteration in progress is dropped.
    Elsewhere (backward, optimiser step, validation, checkpoint) it sets a flag that the loop checks right after
    the backward pass and between iterations, so a stop never waits for a whole iteration and never leaves a
    half-applied step. A second Ctrl-C raises ``KeyboardInterrupt`` at once.
    """

    def __init__(self, enabled: bool):
        self.set = False
        self.signal_name = ""
        self._old: dict[int, Any] = {}
        self._interruptible = False
        self.enabled = enabled and threading.current_thread() is threading.main_thread()

    def __enter__(self) -> _StopFlag:
        if self.enabled:
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    @contextlib.contextmanager
    def interruptible(self) -> Iterator[None]:
        """A stretch of the iteration that a signal may cut short (see the class docstring)."""
        if self.set:
            raise _StopNow
        self._interruptible = True
        try:
            yield
        finally:
            self._interruptible = False

    def _handle(self, signum: int, frame: Any) -> None:
        if self.set and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.set, self.signal_name = True, signal.Signals(signum).name
        if self._interruptible:
            self._interruptible = False
            raise _StopNow
        print(f"{self.signal_name}: stopping at the next safe point (a checkpoint is written first)",
              file=sys.stderr, flush=True)

    def __exit__(self, *exc: Any) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)
