"""Progress of one image through the engine: ``progress(done, total)`` callbacks and the optional tqdm bar."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

from torch import nn

from ..models.facts import ModelFacts
from .plan import Plan

#: ``progress(done, total)``: called with work units (pixels × passes) so that ``done / total`` is the fraction
#: of the current image's work.
ProgressCallback = Callable[[float, float], None]


class _Progress:
    """Turns forward passes into ``progress(done, total)`` calls, at block granularity.

    Units are pixels: the context copy's, then each tile batch's (or the whole image's). Within a forward pass,
    forward hooks on the model's progress blocks (``facts.progress_blocks``, else its top-level children) advance
    the count by the pass's pixels divided by the number of blocks, so a whole 12 MP image moves in ~8 steps
    instead of one.
    """

    def __init__(self, plan: Plan, facts: ModelFacts, callback: ProgressCallback | None, bar: bool = False):
        self.facts = facts
        self.callbacks: list[ProgressCallback] = [callback] if callback is not None else []
        self._bar = None
        if bar:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=100, desc="image", unit="%", leave=False,
                             bar_format="{desc}: {percentage:3.0f}%|{bar}| {elapsed}<{remaining}")
            self.callbacks.append(self._update_bar)
        self.done = 0.0
        self.total = 1.0

    def _update_bar(self, done: float, total: float) -> None:
        assert self._bar is not None
        self._bar.n = round(100 * done / total, 1)
        self._bar.refresh()

    def start(self, plan: Plan) -> None:
        """Begin (or, after an out-of-memory retry, restart) counting for ``plan``."""
        px = plan.height * plan.width
        work = plan.tiles * plan.tile_h * plan.tile_w if plan.tiled else px
        work += sum(int(px / s**2) for s in plan.context_scales)  # copies are rounded later: a few pixels off
        self.done, self.total = 0.0, float(max(work, 1))
        self._emit()

    def _emit(self) -> None:
        for cb in self.callbacks:
            cb(min(self.done, self.total), self.total)

    @contextlib.contextmanager
    def blocks(self, model: nn.Module, pixels: int) -> Iterator[None]:
        """Advance by ``pixels`` over one forward pass of ``model``, block by block."""
        if not self.callbacks:
            yield
            return
        kinds = self.facts.progress_blocks
        blocks = [m for m in model.modules() if kinds and isinstance(m, kinds)] or list(model.children())
        start = self.done
        step = pixels / max(len(blocks), 1)

        def advance(*_args) -> None:
            self.done = min(self.done + step, start + pixels)
            self._emit()

        handles = [b.register_forward_hook(advance) for b in blocks]
        try:
            yield
        finally:
            for h in handles:
                h.remove()
        self.done = start + pixels
        self._emit()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
