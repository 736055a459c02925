"""Call history: every call that ends is one row in the contacts database
(in, out, missed, rejected), with time, duration, number, name and the SIP
code and reason. ``Recorder`` subscribes to the phone; writes run in a
worker thread so no call event waits on SQLite."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from .events import CallRemoved, CallTurnedAway, Event
from .store import Call, State

KINDS = ("in", "out", "missed", "rejected", "forwarded")
REJECT_CODES = (486, 603, 480)  # what we answer when the user (or "unavailable", dnd) rejects


@dataclass(frozen=True)
class HistoryEntry:
    id: int | None
    started: float
    dir: str
    kind: str
    num: str
    sip: str
    name: str
    account: str
    duration: float
    code: int
    reason: str
    reason_remote: str = ""  # the far end's Reason header
    redirected_to: str = ""  # followed 3xx target, or where we forwarded the call
    recording: str = ""  # the WAV file of the call

    @property
    def who(self) -> str:
        return self.name or self.num or self.sip

    @property
    def target(self) -> str:
        """What to dial to call back / redial."""
        return self.num or self.sip


def classify(call: Call) -> str:
    """in / out for answered calls, missed for unanswered incoming ones,
    rejected when we turned it down (486/603, 480 for do not disturb),
    forwarded when we answered 302, out for every outgoing call."""
    if call.dir == "o":
        return "out"
    if call.code == 302 and call.connected_at is None:
        return "forwarded"
    if call.connected_at is not None:
        return "in"
    return "rejected" if call.code in REJECT_CODES else "missed"


def entry_for(call: Call) -> HistoryEntry:
    duration = (call.ended_at - call.connected_at) if call.connected_at and call.ended_at else 0.0
    return HistoryEntry(None, call.started, call.dir, classify(call), call.num, call.sip, call.dn,
                        call.account, max(0.0, duration), call.code, call.reason, call.reason_remote,
                        call.redirected_to, call.recording_file)


class Recorder:
    """Writes each ended call to the history table."""

    def __init__(self, phone):
        self.phone = phone
        self._tasks: set[asyncio.Task] = set()
        self._unsubscribe = phone.subscribe(self._on_change)

    def _on_change(self, state: State, event: Event) -> None:
        if isinstance(event, CallTurnedAway):
            self._record(HistoryEntry(None, event.at, "i", "missed", event.num, event.sip, event.dn,
                                      "", 0.0, event.code, event.reason))
            return
        if not isinstance(event, CallRemoved) or not state.ended or state.ended[-1].id != event.id:
            return
        self._record(entry_for(state.ended[-1]))

    def _record(self, entry: HistoryEntry) -> None:
        task = asyncio.get_running_loop().create_task(self._write(entry))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _write(self, entry: HistoryEntry) -> None:
        try:
            await asyncio.to_thread(self.phone.contacts.add_history, entry)
        except Exception as e:  # noqa: BLE001 - history must never break a call
            self.phone.log("warning", f"history: {e}")
            return
        self.phone.history_changed(entry)

    async def close(self) -> None:
        self._unsubscribe()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
