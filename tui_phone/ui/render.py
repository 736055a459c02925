"""Rendering the one State, coalesced (issue 17).

A change marks the screen dirty; ``Frames`` draws the latest state at most
once a frame, and waits while a burst is still arriving (up to ``MAX_WAIT``,
so a steady flood still shows). A change after a quiet frame draws at once
(the next loop turn, no frame wait): "registered" shows as soon as it is known. Each pane is a ``StateView``: it renders
from its own slice of the state and skips the work when that slice did not
change, so 2,000 presence NOTIFYs redraw the team pane once and nothing else."""

from __future__ import annotations

import time
from typing import Callable

FRAME = 1 / 60  # seconds
MAX_WAIT = 0.1  # a steady flood still shows this often


class StateView:
    """A pane that renders from ``slice_of(state)``; ``renders`` counts the times it did."""

    renders = 0
    _shown_slice: object = None

    def slice_of(self, state) -> object:
        raise NotImplementedError

    def show(self, state) -> None:
        raise NotImplementedError

    def render_state(self, state, force: bool = False) -> bool:
        """Show ``state`` unless this pane's slice of it is what it shows already."""
        part = self.slice_of(state)
        if not force and self.renders and part == self._shown_slice:
            return False
        self._shown_slice = part
        self.renders += 1
        self.show(state)
        return True


class Frames:
    """Calls ``draw`` once per burst of ``dirty()`` calls: a frame after the
    last one, or ``MAX_WAIT`` after the first, whichever comes first; at once
    when nothing was drawn or changed for a frame."""

    def __init__(self, later: Callable, draw: Callable[[], None]):
        """``later(delay, fn)`` runs ``fn`` after ``delay`` seconds and returns a handle with ``cancel()``."""
        self._later, self._draw = later, draw
        self._first = 0.0  # when the oldest change not yet drawn arrived
        self._last = 0.0
        self._timer = None
        self._drawn = 0.0  # when the last draw was
        self.draws = 0

    def dirty(self) -> None:
        now = time.monotonic()
        self._last = now
        if self._timer is None:
            self._first = now
            quiet = now - self._drawn >= FRAME  # no pending change: the last one is drawn
            self._timer = self._later(0 if quiet else FRAME, self._draw_now if quiet else self._due)

    def _due(self) -> None:
        now = time.monotonic()
        if now - self._last < FRAME and now - self._first < MAX_WAIT:  # still arriving: wait a frame more
            self._timer = self._later(FRAME, self._due)
            return
        self._draw_now()

    def _draw_now(self) -> None:
        self._timer = None
        self._drawn = time.monotonic()
        self.draws += 1
        self._draw()

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
