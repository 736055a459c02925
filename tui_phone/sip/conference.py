"""The local conference: our calls' audio mixed in pjsua's conference bridge.

Owner thread only. Joining takes held calls off hold and connects every
member's audio to every other's (we hear and speak to all of them); a
split keeps one call and puts the others on hold. Holds go through
``Calls.set_hold`` like every other hold.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from ..commands import Result, Split
from ..events import ConferenceSet, Log

if TYPE_CHECKING:
    from .calls import SipCall
    from .pjsua2_engine import PjEngine


class Conference:
    def __init__(self, engine: "PjEngine"):
        self.engine = engine
        self.members: set[int] = set()  # call ids

    def join(self) -> Result:
        """Every connected or held call into one conference."""
        e = self.engine
        calls = e.calls.confirmed()
        if len(calls) < 2:
            return Result.fail("a conference needs two connected or held calls", "conflict")
        for c in calls:
            e.calls.set_hold(c, False)
        self.members = {c.cid for c in calls}
        self._connect(True)
        e.emit(ConferenceSet(tuple(sorted(self.members))))
        e.emit(Log("info", "conference: " + ", ".join(f"call {c}" for c in sorted(self.members)), time.time()))
        return Result(True)

    def split(self, cmd: Split) -> Result:
        """End the conference; the named call stays connected, the others wait on hold."""
        if cmd.id is None:  # Phone.execute names the call (store.resolve): the engine never guesses
            return Result.fail("Split names no call (give a call id)", "bad_input")
        if not self.members:
            return Result.fail("no conference to split", "conflict")
        if cmd.id not in self.members:
            return Result.fail(f"call {cmd.id} is not in the conference", "not_found")
        keep = cmd.id
        self._connect(False)
        for c in self._present():
            if c.cid != keep:
                self.engine.calls.set_hold(c, True)
        self.members = set()
        self.engine.emit(ConferenceSet(()))
        return Result(True, keep)

    def media_changed(self, call: "SipCall") -> None:
        """Media renegotiated (unhold re-creates the streams): reconnect the members."""
        if call.cid in self.members:
            self._connect(True)

    def left(self, cid: int) -> None:
        """A member's call ended; a conference of one is none."""
        if cid in self.members:
            self.members.discard(cid)
            if len(self.members) < 2:
                self.members = set()
            self.engine.emit(ConferenceSet(tuple(sorted(self.members))))

    def _present(self) -> list["SipCall"]:
        return [c for c in self.engine.calls if c.cid in self.members and c.hasMedia()]

    def _connect(self, on: bool) -> None:
        members = self._present()
        for a in members:
            for b in members:
                if a is not b:
                    self.engine._guard(lambda a=a, b=b: (a.getAudioMedia(-1).startTransmit if on else
                                                         a.getAudioMedia(-1).stopTransmit)(b.getAudioMedia(-1)))
