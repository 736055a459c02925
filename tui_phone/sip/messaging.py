"""SIP MESSAGE on the owner thread: send (with delivery status) and receive.

pjsua2 sends a MESSAGE through a ``Buddy`` (an unsubscribed one here), and
its ``userData`` is a C pointer, so a delivery report is matched to what we
sent by recipient and text.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import pjsua2 as pj

from ..commands import Result, SendSms
from ..events import Log, Message
from ..uri import parse_remote
from . import errors
from .calls import target_uri
from .presence import Buddy

if TYPE_CHECKING:
    from .pjsua2_engine import PjEngine


class Messaging:
    def __init__(self, engine: "PjEngine"):
        self.engine = engine
        self.buddies: dict[str, Buddy] = {}  # unsubscribed buddies that carry MESSAGEs
        self.pending: list[tuple[str, str, str]] = []  # (uri, text, key) awaiting a status
        self.abandoned = False  # quitting: late reports (from libDestroy) are not news

    def send(self, cmd: SendSms) -> Result:
        e = self.engine
        try:
            cmd.text.encode("utf-8")
        except UnicodeEncodeError:
            return Result.fail("the message has characters that are not valid Unicode", "bad_input")
        acc = next(iter(e._accounts.values()))
        uri = target_uri(cmd.to, acc.cfg)
        buddy = self.buddies.get(uri)
        if buddy is None:
            cfg = pj.BuddyConfig()
            cfg.uri = uri
            cfg.subscribe = False
            buddy = Buddy(e, uri)
            buddy.create(acc, cfg)
            self.buddies[uri] = buddy
        key = f"m{next(e.calls.ids)}"
        prm = pj.SendInstantMessageParam()
        prm.content = cmd.text
        prm.contentType = "text/plain"
        self.pending.append((uri, cmd.text, key))
        e.emit(Message(uri, "o", cmd.text, time.time(), "sending", key))
        buddy.sendInstantMessage(prm)
        return Result(True)

    def received(self, prm) -> None:
        sip, _, _ = parse_remote(prm.fromUri)
        body = prm.msgBody if "text/plain" in prm.contentType.lower() or not prm.contentType else \
            f"[{prm.contentType} message]"
        text = "".join(c for c in body if c.isprintable() or c == "\n")[:2000]
        self.engine.emit(Message(sip, "i", text, time.time(), "received"))

    def status(self, prm) -> None:
        if self.abandoned:
            return
        sip, _, _ = parse_remote(prm.toUri)
        match = next((p for p in self.pending if p[0] == sip and p[1] == prm.msgBody), None)
        key = ""
        if match is not None:
            self.pending.remove(match)
            key = match[2]
        ok, reason = prm.code // 100 == 2, errors.plain(prm.reason)
        self.engine.emit(Message(sip, "o", prm.msgBody, time.time(),
                                 "sent" if ok else f"failed: {prm.code} {reason}", key))
        if not ok:
            self.engine.emit(Log("error", f"message to {sip} failed: {prm.code} {reason}", time.time()))

    def abandon(self) -> bool:
        """Quitting: messages still awaiting a delivery report are marked as
        unconfirmed (the store keeps them). True when any were pending."""
        for uri, text, key in self.pending:
            self.engine.emit(Message(uri, "o", text, time.time(),
                                     "failed: the phone was closed before delivery was confirmed", key))
        had, self.pending, self.abandoned = bool(self.pending), [], True
        return had

    def close(self) -> None:
        self.buddies.clear()
