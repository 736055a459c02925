"""A scripted SIP engine for UI pilots: a real implementation of the Engine
ABC (no pjsua2, no network) that carries out Commands by emitting the events
a SIP engine would, in order. Pane tests run in milliseconds on it; what SIP
does is proven by the contract tests against real peers.

``incoming(...)`` plays a call arriving (turned away with 486 while the own
status is unavailable, as the real engine does); ``far_end_hangs_up`` a BYE,
``far_end_cancels`` a CANCEL (a missed call); each outgoing call goes to the
Request-URI the real engine would build and is answered unless its target or
that URI is in ``busy``. There is no sound device: the audio state says so with the real
engine's note, and Mute is refused with the real reason. ``play(events)``
sends a burst of events from the engine's own thread, as pjsua2's owner
thread would (a presence storm, say).
"""

from __future__ import annotations

import itertools
import queue
import threading
import time
from concurrent.futures import Future

from tui_phone.commands import (
    Command,
    ConnectCall,
    DisconnectCall,
    Dtmf,
    Hold,
    Mute,
    Result,
    Retrieve,
    SetStatus,
    StartCall,
    Watch,
)
from tui_phone.events import (
    AudioState,
    CallAdded,
    CallEnded,
    CallProgress,
    CallRemoved,
    CallState,
    OwnStatus,
    RegState,
)
from tui_phone.sip.calls import target_uri
from tui_phone.sip.engine import Emit, Engine
from tui_phone.uri import parse_remote

S = CallState


class ScriptedEngine(Engine):
    def __init__(self, config=None, accounts=("alice",), busy: tuple[str, ...] = ()):
        self.config = config
        if config is not None:
            accounts = tuple(a.name for a in config.accounts)
        self.accounts = accounts
        self.status = "available"
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self.busy = busy
        self.calls: dict[int, CallState] = {}
        self.sent: list[Command] = []  # every command carried out, in order
        self._ids = itertools.count(1)
        self.emit: Emit = lambda e: None
        self.local_address = "127.0.0.1:5060"

    # ----- Engine ---------------------------------------------------------------
    def start(self, emit: Emit) -> None:
        self.emit = emit
        self._thread = threading.Thread(target=self._run, name="scripted-engine", daemon=True)
        self._thread.start()
        for name in self.accounts:
            emit(RegState(name, True, 0, "direct"))
        null = self.config is not None and self.config.audio.get("null")
        reason = "audio off: [audio] null = true" if null else "audio off: the scripted engine has no sound device"
        emit(AudioState("", False, f"{reason}; calls connect without sound"))  # as sip/sound.py says it

    def _run(self) -> None:
        while (job := self._jobs.get()) is not None:
            job()

    def stop(self) -> None:
        for cid in list(self.calls):
            self._end(cid, 200, "Normal call clearing")
        if self._thread is not None:
            self._jobs.put(None)
            self._thread.join(5)

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

    def submit(self, command: Command) -> Future:
        fut: Future = Future()
        fut.set_result(self._do(command))
        return fut

    # ----- the script -----------------------------------------------------------
    def incoming(self, sip: str = "sip:carol@127.0.0.1:5099", dn: str = "Carol") -> int:
        cid = next(self._ids)
        user = sip.split(":", 1)[1].split("@", 1)[0]
        self.calls[cid] = S.ALERTING
        self.emit(CallAdded(cid, "i", sip, user if user.isdigit() else "", dn, self.accounts[0], f"g{cid}",
                            time.time()))
        if self.status == "unavailable":  # the real engine answers 486 and never rings
            self._end(cid, 486, "Busy Here")
        return cid

    def far_end_cancels(self, cid: int) -> None:
        self._end(cid, 487, "Request Terminated")

    def far_end_hangs_up(self, cid: int) -> None:
        self._end(cid, 200, "Normal call clearing")

    def _progress(self, cid: int, state: CallState, code: int = 0, reason: str = "") -> None:
        self.calls[cid] = state
        self.emit(CallProgress(cid, state, code, reason, time.time()))

    def _end(self, cid: int, code: int, reason: str) -> None:
        if self.calls.pop(cid, None) is not None:
            self.emit(CallEnded(cid, code, reason, time.time()))
            self.emit(CallRemoved(cid))

    def _do(self, command: Command) -> Result:
        self.sent.append(command)
        match command:
            case StartCall(target=target):
                cid = next(self._ids)
                self.calls[cid] = S.SETUP
                if self.config is not None:
                    sip, num, dn = parse_remote(target_uri(target, self.config.accounts[0]))
                else:
                    sip, num, dn = target if ":" in target else f"sip:{target}@127.0.0.1", "", ""
                self.emit(CallAdded(cid, "o", sip, num, dn, self.accounts[0], f"g{cid}", time.time()))
                self._progress(cid, S.DIALING)
                self._progress(cid, S.RINGBACK, 180, "Ringing")
                if target in self.busy or sip in self.busy:
                    self._end(cid, 486, "Busy Here")
                else:
                    self._progress(cid, S.CONNECTED, 200, "OK")
                return Result(True, cid)
            case SetStatus(status=status):
                self.status = status
                self.emit(OwnStatus(status))
                return Result(True)
            case Watch():
                return Result(True)
            case Mute():
                return Result.fail("no sound device: nothing to mute", "refused")
        cid = getattr(command, "id", None)
        if cid is None:
            return Result.fail(f"{type(command).__name__} reached the engine without a call id", "bad_input")
        if cid not in self.calls:
            return Result.fail(f"no call with id {cid}", "not_found")
        match command:
            case ConnectCall():
                self._progress(cid, S.CONNECTED, 200, "OK")
            case DisconnectCall(code=code):
                rejecting = self.calls[cid] is S.ALERTING
                self._end(cid, code or 486 if rejecting else 200, "Busy Here" if rejecting else "Normal call clearing")
            case Hold():
                self._progress(cid, S.HOLDING)
            case Retrieve():
                self._progress(cid, S.CONNECTED)
            case Dtmf():
                if self.calls[cid] is not S.CONNECTED:
                    return Result.fail("DTMF needs a connected call", "conflict")
            case _:
                return Result.fail(f"{type(command).__name__} is not scripted", "bad_input")
        return Result(True, cid)
