"""The gate: new INVITEs and SUBSCRIBEs from outside, screened before pjsua
creates anything for them (a pjsip module, ``pjmodule``; owner thread).

A burst of calls is shed with 486 or 503 + Retry-After (``capacity.py``
decides) instead of exhausting pjsip's ioqueue and killing the phone, and
listed in History up to 10 a minute; presence subscriptions from outside
are capped per hour (each holds memory until it expires).
"""

from __future__ import annotations

import time
from collections import deque
from typing import TYPE_CHECKING

from ..events import CallTurnedAway, Log
from ..uri import parse_remote
from . import pjmodule
from .capacity import RESERVED, RETRY_AFTER, Capacity
from .inbound import SLOTS

if TYPE_CHECKING:
    from .pjsua2_engine import PjEngine

SUBSCRIPTIONS_PER_HOUR = 200  # presence watchers from outside a dialog (each lives until it expires)


class Gate:
    def __init__(self, engine: "PjEngine"):
        self.engine = engine
        config = engine.config
        listens = any(a.transport in ("tcp", "tls") for a in config.accounts)  # accepted connections take slots
        self.capacity = Capacity(config.sip["max_calls"], 4 if any(a.ice for a in config.accounts) else 2,
                                 RESERVED + (SLOTS if listens else 0))
        self._turned: deque[float] = deque()  # when calls were turned away (history lists the first few)
        self._turned_ids: deque[str] = deque(maxlen=256)  # Call-IDs answered already (retransmissions)
        self._subscriptions: deque[float] = deque()  # when SUBSCRIBEs from outside were let through
        self._shed_unlisted = 0
        self._shed_subscribes = 0

    def pending_report(self) -> bool:
        """Shed calls or subscriptions wait for the next log line."""
        return bool(self._shed_unlisted or self._shed_subscribes)

    def live_calls(self) -> int:
        """Calls that hold one of pjsua's slots: ours, and ended ones pjsua still finishes."""
        return max(len(self.engine.calls), pjmodule.calls_in_use())

    def refuse(self) -> tuple[int, str] | None:
        """Whether a new call (either way) must be turned away now (``Capacity.refuse``)."""
        live = self.live_calls()
        return self.capacity.refuse(live, time.monotonic(), live - len(self.engine.calls))

    def screen(self, rq: pjmodule.RxRequest) -> bool:
        """The module hook: True when the request was answered (turned away) here."""
        self.engine._poked = True  # every SIP request from outside passes here: the owner loop looks after it
        if ";tag=" in rq.header("To").replace(" ", ""):
            return False  # in a dialog (or claims to be: pjsua answers 481)
        if rq.method == "SUBSCRIBE":
            return self._screen_subscribe(rq)
        if rq.method != "INVITE":
            return False
        refused = self.refuse()
        if refused is None:
            return False
        code, reason = refused
        rq.respond(code, (("Retry-After", str(RETRY_AFTER)),) if code == 503 else ())
        call_id = rq.header("Call-ID")
        if call_id not in self._turned_ids:  # a retransmission is answered again, listed once
            self._turned_ids.append(call_id)
            self._turned_away(rq.header("From"), code, reason)
        return True

    def _screen_subscribe(self, rq: pjmodule.RxRequest) -> bool:
        """At most SUBSCRIPTIONS_PER_HOUR new ones; the rest get 503 + Retry-After."""
        now = time.monotonic()
        while self._subscriptions and now - self._subscriptions[0] > 3600:
            self._subscriptions.popleft()
        if len(self._subscriptions) < SUBSCRIPTIONS_PER_HOUR:
            self._subscriptions.append(now)
            return False
        rq.respond(503, (("Retry-After", "600"),))
        self._shed_subscribes += 1
        return True

    def _turned_away(self, from_: str, code: int, reason: str) -> None:
        """History lists up to 10 turned-away calls a minute; past that (a
        scanner's flood) they are counted in one log line every 10 s."""
        now = time.monotonic()
        while self._turned and now - self._turned[0] > 60:
            self._turned.popleft()
        if len(self._turned) < 10:
            self._turned.append(now)
            sip, num, dn = parse_remote(from_)
            self.engine.emit(CallTurnedAway(sip, num, dn, code, reason, time.time()))
            return
        self._shed_unlisted += 1

    def report(self) -> None:
        """The log lines for what was shed unlisted (the owner loop calls this once a second)."""
        emit = self.engine.emit
        if self._shed_unlisted:
            emit(Log("warning", f"turned away {self._shed_unlisted} more calls in a burst "
                                "(too many calls at once; not listed in History)", time.time()))
            self._shed_unlisted = 0
        if self._shed_subscribes:
            emit(Log("warning", f"turned away {self._shed_subscribes} presence subscriptions (more than "
                                f"{SUBSCRIPTIONS_PER_HOUR} an hour from outside)", time.time()))
            self._shed_subscribes = 0
