"""Presence on the owner thread: what we publish, and whom we watch.

We PUBLISH the user's chosen status, or ``in-call`` while a call is up; each
watched URI is a pjsua2 ``Buddy`` subscription. NOTIFY bodies are parsed
here (``sip/pidf.py``) because ``Buddy.getInfo()`` aborts pjsua2 2.15 when
the PIDF carries a note (PEERS.md §8).

Who may watch us: a SUBSCRIBE is accepted from the account's registrar or
proxy (a PBX relays its users' subscriptions) and from a member of our own
team list (user@host, any port); anyone else gets 403, so a stranger on the
network cannot follow when we are in a call (found by an outside probe).
"""

from __future__ import annotations

import re
import socket
import time
from typing import TYPE_CHECKING

import pjsua2 as pj

from .. import events
from ..commands import Result, SetStatus, Watch
from ..uri import SipUri, parse_remote
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
        self._refused: set[tuple[str, str]] = set()  # strangers whose SUBSCRIBE was refused (logged once)

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

    def may_watch(self, acc_cfg, from_uri: str, source: str) -> bool:
        """Whether the sender of a SUBSCRIBE (its From, the packet's source
        address "ip:port") may see our status (module docstring)."""
        ip = source.rpartition(":")[0].strip("[]")
        servers = [u for u in (acc_cfg.registrar, acc_cfg.proxy) if u]
        if ip and any(ip in _addresses(u) for u in servers):
            return True
        who = _user_host(from_uri)
        return bool(who) and any(_user_host(uri) == who for uri in self.buddies)

    def refused(self, from_uri: str) -> None:
        """One log line per stranger (the first 20), not one per SUBSCRIBE."""
        who = _user_host(from_uri) or ("?", "?")
        if who not in self._refused and len(self._refused) < 20:
            self._refused.add(who)
            self.engine.emit(events.Log("warning", f"refused to show your status to sip:{who[0]}@{who[1]} "
                                                   "(not on your team list, not your registrar)", time.time()))

    def close(self) -> None:
        """Unsubscribe (before the accounts go)."""
        self.buddies.clear()


def _user_host(uri: str) -> tuple[str, str] | None:
    """(user, host) of a From value or a team member's URI (display name, tag, port dropped)."""
    try:
        u = SipUri.parse(parse_remote(uri)[0])
    except ValueError:
        return None
    return u.user.lower(), u.host.lower().strip("[]")


_RESOLVED: dict[str, frozenset[str]] = {}


def _addresses(uri: str) -> frozenset[str]:
    """The IP addresses of a registrar/proxy URI's host (looked up once)."""
    if uri not in _RESOLVED:
        try:
            host = SipUri.parse(uri).host.strip("[]")
            _RESOLVED[uri] = frozenset(a[4][0] for a in socket.getaddrinfo(host, None))
        except (ValueError, OSError):
            _RESOLVED[uri] = frozenset()
    return _RESOLVED[uri]
