"""Presence on the owner thread: what we publish, and whom we watch.

We PUBLISH the user's chosen status, or ``in-call`` while a call is up; each
watched URI is a pjsua2 ``Buddy`` subscription. NOTIFY bodies are parsed
here (``sip/pidf.py``) because ``Buddy.getInfo()`` aborts pjsua2 2.15 when
the PIDF carries a note (PEERS.md §8).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pjsua2 as pj

from .. import events
from ..commands import Result, SetStatus, Watch
from .pidf import parse_pidf, presence_status

if TYPE_CHECKING:
    from .pjsua2_engine import PjEngine

# What we publish for each status: (PIDF basic open?, RPID activity, note).
PUBLISHED = {
    "available": (True, pj.PJRPID_ACTIVITY_UNKNOWN, "Available"),
    "unavailable": (True, pj.PJRPID_ACTIVITY_AWAY, "Unavailable"),
    "in-call": (True, pj.PJRPID_ACTIVITY_BUSY, "In call"),
    "dnd": (True, pj.PJRPID_ACTIVITY_BUSY, "Do not disturb"),
}


class Buddy(pj.Buddy):
    def __init__(self, engine: "PjEngine", uri: str):
        super().__init__()
        self.engine, self.uri = engine, uri

    def onBuddyState(self):
        """Unused: Buddy.getInfo() aborts pjsua2 2.15 (std::bad_alloc) when the
        PIDF carries a note, so NOTIFY bodies are parsed in onBuddyEvSubState."""

    def onBuddyEvSubState(self, prm):
        self.engine._guard(self.engine.presence.buddy_event, self, prm)


class Presence:
    def __init__(self, engine: "PjEngine"):
        self.engine = engine
        self.buddies: dict[str, Buddy] = {}
        self.chosen = "available"  # the user's status; in-call overrides it while a call is live
        self.published = "available"

    def set_status(self, cmd: SetStatus) -> Result:
        self.chosen = cmd.status
        self.update()
        return Result(True)

    def publish(self, acc: pj.Account, status: str) -> None:
        online, activity, note = PUBLISHED[status]
        ps = pj.PresenceStatus()
        ps.status = pj.PJSUA_BUDDY_STATUS_ONLINE if online else pj.PJSUA_BUDDY_STATUS_OFFLINE
        ps.activity = activity
        ps.note = note
        acc.setOnlineStatus(ps)

    def update(self) -> None:
        """Publish in-call while a call is up, else the user's own choice."""
        status = "in-call" if self.engine.calls.confirmed() else self.chosen
        if status != self.published:
            self.published = status
            for acc in self.engine._accounts.values():
                self.publish(acc, status)
            self.engine.emit(events.OwnStatus(status))

    def watch(self, cmd: Watch) -> Result:
        for uri in list(self.buddies):
            if uri not in cmd.uris:
                del self.buddies[uri]  # deleting the Buddy ends its subscription
        for uri in cmd.uris:
            if uri in self.buddies:
                continue
            cfg = pj.BuddyConfig()
            cfg.uri = uri
            cfg.subscribe = True
            buddy = Buddy(self.engine, uri)
            buddy.create(next(iter(self.engine._accounts.values())), cfg)
            self.buddies[uri] = buddy
            self.engine.emit(events.Presence(uri, "offline", "subscribing"))
        return Result(True)

    def buddy_event(self, buddy: Buddy, prm) -> None:
        """A message of the presence subscription: a NOTIFY (its PIDF, or a
        terminated subscription) or a failed SUBSCRIBE → the member's status."""
        e = prm.e
        if e.type != pj.PJSIP_EVENT_TSX_STATE or e.body.tsxState.type != pj.PJSIP_EVENT_RX_MSG:
            return
        msg = e.body.tsxState.src.rdata.wholeMsg
        head, _, body = msg.partition("\r\n\r\n")
        emit = self.engine.emit
        if msg.startswith("NOTIFY "):
            pidf = parse_pidf(body) if "pidf+xml" in head.lower() and body.strip() else None
            if pidf is not None:
                online, activities, note = pidf
                emit(events.Presence(buddy.uri, presence_status(online, activities, note), note))
            elif re.search(r"^Subscription-State:\s*terminated", head, re.I | re.M):
                emit(events.Presence(buddy.uri, "offline", "subscription ended"))
        elif msg.startswith("SIP/2.0 ") and re.search(r"^CSeq:\s*\d+\s+SUBSCRIBE", head, re.I | re.M):
            code = int(msg[8:11]) if msg[8:11].isdigit() else 0
            if code >= 300:
                emit(events.Presence(buddy.uri, "offline", msg.split("\r\n", 1)[0][12:].strip()))

    def close(self) -> None:
        """Unsubscribe (before the accounts go)."""
        self.buddies.clear()
