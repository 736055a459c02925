"""Toasts the phone's events raise: the ringing call's (gone when it stops
ringing), a held call left behind, an arriving message, an audio problem."""

from __future__ import annotations

from textual.notifications import Notification, Notify

from ..events import AudioState, CallAdded, CallEnded, CallState, Event, Message
from ..notify.desktop import desktop_notify
from ..store import State


def still_ringing(state: State, call_id: int) -> bool:
    call = state.call(call_id)
    return call is not None and call.state is CallState.ALERTING


class CallToasts:
    def __init__(self, app):
        self.app = app
        self.ringing: dict[int, Notification] = {}  # a ringing call's toast, gone when it stops ringing

    def on_event(self, state: State, event: Event) -> None:
        app = self.app
        for cid in [cid for cid in self.ringing if not still_ringing(state, cid)]:
            self._drop(self.ringing.pop(cid))
        if isinstance(event, CallAdded):
            self._ring(state, event.id)
        elif isinstance(event, AudioState) and event.note:
            app.notify(event.note, title="Audio", severity="warning", timeout=8)
        elif isinstance(event, CallEnded) and any(c.state is CallState.HOLDING for c in state.calls):
            held = next(c for c in state.calls if c.state is CallState.HOLDING)
            app.notify(f"Call {held.id} ({held.dn or held.who}) is on hold: press o to retrieve it", timeout=10)
        elif isinstance(event, Message) and event.dir == "i" and not event.key:
            app.bell()
            app.notify(f"{event.peer.split(':', 1)[-1]}: {event.text[:80]}", title="Message", timeout=8)

    def _ring(self, state: State, call_id: int) -> None:
        """A ringing incoming call rings and gets a toast (not while unavailable or
        in dnd: those calls are turned away at once)."""
        call = state.call(call_id)
        if call is None or call.dir != "i" or not still_ringing(state, call_id) \
                or state.status in ("unavailable", "dnd"):
            return
        app = self.app
        app.bell()
        who = call.dn or call.who
        toast = Notification(f"Incoming call from {who}", "Ringing", "information", 30, markup=False)
        self.ringing[call.id] = toast
        app.post_message(Notify(toast))
        if not app.attached:  # attached: the phone's own process shows it
            desktop_notify(f"Incoming call from {who}")

    def _drop(self, toast: Notification) -> None:
        if toast in self.app._notifications:
            self.app._unnotify(toast)
