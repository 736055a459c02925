"""The engine interface: what the phone asks of a SIP stack (``PjEngine``
implements it on pjsua2; tests can implement it too)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from concurrent.futures import Future
from typing import Callable

from ..commands import Command, Result
from ..events import Event

Emit = Callable[[Event], None]


class Engine(ABC):
    """Owns the SIP stack. ``emit`` is called from the engine's own thread;
    the caller decides how to move events to its loop."""

    @abstractmethod
    def start(self, emit: Emit) -> None:
        """Start the stack and register accounts; returns once it is ready."""

    @abstractmethod
    def stop(self) -> None:
        """Hang up live calls (BYE), unregister and destroy the stack."""

    @abstractmethod
    def submit(self, command: Command) -> "Future[Result]":
        """Queue a command; thread-safe. The future resolves once the engine
        has acted on it (a call id, or an error line)."""

    def audio_levels(self) -> "tuple[float, float] | None":
        """(microphone, speaker) level 0..1 of the last 20 ms, for a meter;
        None without a sound device. Any thread, cheap: polled by the UI."""
        return None
