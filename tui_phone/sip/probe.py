"""Registrar liveness for UDP accounts.

Over UDP nothing tells a client that its registrar restarted and forgot the
binding: pjsua would only notice at the next refresh, minutes later. A
``RegistrarProbe`` sends an OPTIONS (RFC 3261 §11) every ``interval``
seconds from its own socket; any response means "up". Two unanswered
probes in a row mean "down"; the first answer after that means "up" again,
and the engine re-REGISTERs at once.
"""

from __future__ import annotations

import socket
import time
import uuid

from ..uri import SipUri


def registrar_address(uri: str) -> tuple[str, int] | None:
    """(host, port) of a ``sip:host[:port]`` registrar URI (port 5060 by default)."""
    try:
        where = SipUri.parse(uri)
    except ValueError:
        return None
    return where.host.strip("[]"), where.port or 5060


class RegistrarProbe:
    def __init__(self, host: str, port: int, interval: float = 2.0, timeout: float = 1.5):
        info = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0]
        self.addr = info[4]
        self.sock = socket.socket(info[0], socket.SOCK_DGRAM)
        self.sock.setblocking(False)
        self.sock.bind(("127.0.0.1", 0) if info[4][0].startswith("127.") else ("", 0))
        self.interval, self.timeout = interval, timeout
        self.up = True
        self.misses = 0
        self.next_at = time.monotonic() + interval
        self.pending: tuple[str, float] | None = None  # (call-id, sent at)
        self.cseq = 0

    def _options(self, call_id: str) -> bytes:
        host, port = self.sock.getsockname()[:2]
        target = f"{self.addr[0]}:{self.addr[1]}"
        self.cseq += 1
        return (f"OPTIONS sip:{target} SIP/2.0\r\n"
                f"Via: SIP/2.0/UDP {host}:{port};rport;branch=z9hG4bK{uuid.uuid4().hex[:16]}\r\n"
                f"Max-Forwards: 70\r\nFrom: <sip:probe@{host}>;tag={uuid.uuid4().hex[:8]}\r\n"
                f"To: <sip:{target}>\r\nCall-ID: {call_id}\r\nCSeq: {self.cseq} OPTIONS\r\n"
                "User-Agent: tui-phone\r\nContent-Length: 0\r\n\r\n").encode()

    def due(self) -> float:
        """When ``poll`` has work next (monotonic). Only the next send: an
        answer waits in the socket, and a probe unanswered by then is late
        anyway (timeout < interval), so the owner loop need not wake for it.
        While the registrar is down, an answer means "back, REGISTER now": the
        socket is not pjsua's, so it is looked at every 50 ms while a probe waits."""
        if self.pending is not None and not self.up:
            return min(self.next_at, time.monotonic() + 0.05)
        return self.next_at if self.timeout < self.interval or self.pending is None \
            else min(self.next_at, self.pending[1] + self.timeout)

    def poll(self, now: float) -> str | None:
        """Advance; returns "down" or "up" on a change, else None. Never blocks."""
        while True:
            try:
                data = self.sock.recv(65536)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:  # ICMP port unreachable surfaces here: no answer
                break
            if self.pending and f"Call-ID: {self.pending[0]}".encode() in data:
                self.pending = None
                self.misses = 0
                if not self.up:
                    self.up = True
                    return "up"
        if self.pending and now - self.pending[1] > self.timeout:
            self.pending = None
            self.misses += 1
            if self.up and self.misses >= 2:
                self.up = False
                return "down"
        if self.pending is None and now >= self.next_at:
            call_id = uuid.uuid4().hex
            try:
                self.sock.sendto(self._options(call_id), self.addr)
            except OSError:
                pass
            self.pending = (call_id, now)
            self.next_at = now + self.interval
        return None

    def close(self) -> None:
        self.sock.close()
