"""A scripted SIP engine for UI pilots that test rendering, not SIP.

``ScriptedEngine`` is a real implementation of the ``Engine`` ABC: its own
thread emits events (as pjsua2's does, through ``emit``), accounts are ready
for direct calls at start, ``SetStatus`` publishes the new status, and
``play`` sends a burst of events from that thread. Tests that claim SIP
behaviour use the pjsua2 engine against real peers instead."""

from __future__ import annotations

import queue
import threading
from concurrent.futures import Future

from tui_phone.commands import Result, SetStatus, Watch
from tui_phone.events import AudioState, OwnStatus, RegState
from tui_phone.sip.engine import Emit, Engine


class ScriptedEngine(Engine):
    def __init__(self, config):
        self.config = config
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self.emit: Emit | None = None

    def start(self, emit: Emit) -> None:
        self.emit = emit
        self._thread = threading.Thread(target=self._run, name="scripted-engine", daemon=True)
        self._thread.start()
        for account in self.config.accounts:
            emit(RegState(account.name, True, 0, "direct"))
        emit(AudioState("", False, ""))

    def _run(self) -> None:
        while (job := self._jobs.get()) is not None:
            job()

    def stop(self) -> None:
        if self._thread is not None:
            self._jobs.put(None)
            self._thread.join(5)

    def submit(self, command) -> Future:
        done: Future = Future()

        def act() -> None:
            if isinstance(command, SetStatus):
                self.emit(OwnStatus(command.status))
                done.set_result(Result(True))
            elif isinstance(command, Watch):
                done.set_result(Result(True))
            else:
                done.set_result(Result.fail(f"{type(command).__name__}: not scripted", "refused"))

        self._jobs.put(act)
        return done

    def play(self, events) -> Future:
        """Emit ``events`` one by one from the engine thread, as fast as it can;
        the future resolves when the last one was handed over."""
        done: Future = Future()

        def burst() -> None:
            for event in events:
                self.emit(event)
            done.set_result(None)

        self._jobs.put(burst)
        return done
