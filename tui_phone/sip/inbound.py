"""Connections from outside to the phone's TCP and TLS listeners, kept few
(owner thread).

Why (pjsip 2.15.1, PEERS.md §9): every accepted connection takes one of the
ioqueue's 64 slots. pjsip destroys the transport of a connection the far end
closed at once, but its slot waits 500 ms on the ioqueue's closing list
(``PJ_IOQUEUE_KEY_FREE_DELAY``) before it can be used again, and registering
a socket while the free list is empty is an assertion that aborts the
process: about 60 connect-and-close attempts within half a second killed the
phone, and each held-open connection kept its slot for good.

pjsip accepts in a loop for as long as connections are queued and reports
each new one to the transport state callback (``Endpoint.onTransportState``)
before it accepts the next, on the owner thread. ``Inbound.state`` counts
them there: more than ``OPEN_MAX`` at once and the new one is shut down (a
phone needs a handful, its registrar uses the phone's own connection); when
the open ones plus those that ended within ``WINDOW`` reach ``SLOTS`` the
listeners close: a socket filter drops new SYNs (the far end retries, as
with a full backlog) and connections already queued are accepted here and
reset, so pjsip's loop finds none. ``tick`` opens them again once the slots
are back.

A TLS connection becomes a transport (and reaches the callback) only after
its handshake; before that pjsip's TLS socket already holds a slot, and a
failed handshake ends without any callback. So for TLS ``tick`` also counts
the sockets accepted on the TLS port among the process's open files, and
those that went away within ``WINDOW``; reads of a new TLS socket are always
deferred to a later poll, so each one is seen at least once. A handshake
that never starts is ended after ``HANDSHAKE_TIMEOUT_MS`` (``TlsConfig``).
That is a bound only between polls: pjsip's TLS accept loop calls no Python
and goes on while the kernel has a connection queued, so a flood with more
connections in flight than the slots left (about 30) can still take them
all within one poll (one took 56; a watcher thread did not react in time on
two busy cores). README, "TCP and TLS listeners".
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import socket
import struct
import time
from collections import deque

from ..events import Log
from . import pjmodule

OPEN_MAX = 8  # incoming connections open at once
SLOTS = 16  # ioqueue slots incoming connections may hold, open or freshly closed (capacity.py reserves them)
WINDOW = 0.7  # seconds a closed connection's slot stays unusable (the 500 ms free delay + margin)
HANDSHAKE_TIMEOUT_MS = 10_000  # a TLS connection that does not finish its handshake in this time is closed
CONNECTED, DESTROY = 0, 3  # pjsip_transport_state
SO_ATTACH_FILTER, SO_DETACH_FILTER = 26, 27  # Linux
_DROP_ALL = struct.pack("HBBI", 0x06, 0, 0, 0)  # classic BPF: "ret #0", keep no byte of any packet


_FD_DIR = "/proc/self/fd" if os.path.isdir("/proc/self/fd") else "/dev/fd"


def _open_fds() -> list[int]:
    return [int(name) for name in os.listdir(_FD_DIR)]


def _tcp_socket(fd: int, inode: int = 0) -> tuple[socket.socket, int, bool] | None:
    """(our duplicate, local port, listening) for a TCP socket fd (still ``inode``, when given), else None."""
    try:
        copy = os.dup(fd)
    except OSError:
        return None
    try:
        s = socket.socket(fileno=copy)
    except OSError:
        os.close(copy)
        return None
    if inode and os.fstat(copy).st_ino != inode:  # closed and reused since we looked
        s.close()
        return None
    try:
        if s.type == socket.SOCK_STREAM and s.family in (socket.AF_INET, socket.AF_INET6):
            return s, s.getsockname()[1], bool(s.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN))
    except OSError:
        pass
    s.close()
    return None


def listening_sockets(ports: set[int]) -> list[socket.socket]:
    """Our own handles (duplicates) on pjsip's listening TCP sockets on ``ports``."""
    found = []
    for fd in _open_fds():
        tcp = _tcp_socket(fd)
        if tcp and tcp[2] and tcp[1] in ports:
            tcp[0].setblocking(False)
            found.append(tcp[0])
        elif tcp:
            tcp[0].close()
    return found


def _inode(fd: int) -> int:
    """The socket's inode ("socket:[123]"), 0 for other files."""
    try:
        link = os.readlink(f"{_FD_DIR}/{fd}")
    except OSError:
        return 0
    return int(link[8:-1]) if link.startswith("socket:[") else 0


class Inbound:
    def __init__(self, emit):
        self.emit = emit
        self.listeners: list[socket.socket] = []
        self.open: dict[int, bool] = {}  # accepted transport handle → is TCP (TLS ones are counted as sockets)
        self.tls_ports: set[int] = set()
        self._tls: set[int] = set()  # inodes of sockets accepted on a TLS port, open at the last look
        self._other: set[int] = set()  # inodes known not to be those
        self._ended: deque[float] = deque()  # when incoming connections ended (slot still closing)
        self.closed = False  # listeners refuse new connections
        self.refused = 0  # since the last report
        self._reported_at = 0.0
        self._filter = ctypes.create_string_buffer(_DROP_ALL)

    def watch(self, ports: set[int], tls_ports: set[int]) -> None:
        """Find the TCP/TLS listeners pjsip opened on ``ports`` (after transportCreate)."""
        self.listeners = listening_sockets(ports) if ports else []
        self.tls_ports = tls_ports

    def in_use(self, now: float) -> int:
        while self._ended and now - self._ended[0] > WINDOW:
            self._ended.popleft()
        return sum(self.open.values()) + len(self._tls) + len(self._ended)

    def state(self, hnd: int, state: int) -> None:
        """The transport state callback, for every transport."""
        if state == DESTROY:
            if self.open.pop(hnd, False):
                self._ended.append(time.monotonic())
            return
        if state != CONNECTED:
            return
        kind = ctypes.string_at(hnd, 5)[:4]  # obj_name, the transport's first field: tcps…/tlss… when accepted
        if kind not in (b"tcps", b"tlss"):
            return
        now = time.monotonic()
        self.open[hnd] = kind == b"tcps"
        if len(self.open) > OPEN_MAX:
            self.refused += 1
            pjmodule.shutdown_transport(hnd)  # pjsip checks for this right after the callback
        if self.in_use(now) >= SLOTS:
            self._close()

    def tick(self) -> float | None:
        """After each poll: count TLS sockets, close the listeners when the
        slots are used up, open them again once they are back; when to look
        again (monotonic), or None."""
        now = time.monotonic()
        if self.tls_ports:
            self._count_tls(now)
            if self.in_use(now) >= SLOTS:
                self._close()
        if not self.closed:
            return None
        if self.in_use(now) < SLOTS // 2:
            self._set_filter(False)
            self.closed = False
            return None
        return self._ended[0] + WINDOW if self._ended else None  # else only an event (a poll) frees a slot

    def _count_tls(self, now: float) -> None:
        """Sockets accepted on a TLS port now open; those gone since the last look ended now."""
        live, seen = set(), set()
        for fd in _open_fds():
            inode = _inode(fd)
            if not inode or inode in self._other:
                seen.add(inode)
                continue
            if inode not in self._tls:
                tcp = _tcp_socket(fd, inode)
                if tcp:
                    tcp[0].close()
                if not tcp or tcp[2] or tcp[1] not in self.tls_ports:
                    self._other.add(inode)
                    seen.add(inode)
                    continue
            live.add(inode)
        self._ended.extend([now] * len(self._tls - live))
        self._tls = live
        self._other &= seen  # forget closed files (inodes are reused)

    def _close(self) -> None:
        if not self.closed:
            self._set_filter(True)
            self.closed = True
        for listener in self.listeners:  # what the kernel queued already: reset, unseen by pjsip
            while True:
                try:
                    conn, _ = listener.accept()
                except OSError:  # BlockingIOError: queue empty
                    break
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                conn.close()
                self.refused += 1

    def _set_filter(self, on: bool) -> None:
        for listener in self.listeners:
            with contextlib.suppress(OSError):  # not Linux: draining alone sheds (later)
                if on:
                    prog = struct.pack("HL", 1, ctypes.addressof(self._filter))
                    listener.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, prog)
                else:
                    listener.setsockopt(socket.SOL_SOCKET, SO_DETACH_FILTER, 0)

    def report(self) -> None:
        """One log line every 10 s at most for the connections refused since the last one."""
        now = time.monotonic()
        if self.refused and now - self._reported_at >= 10:
            self._reported_at = now
            self.emit(Log("warning", f"refused {self.refused} incoming TCP/TLS connections (more than "
                                     f"{OPEN_MAX} open, or too many in a short time)", time.time()))
            self.refused = 0

    def close(self) -> None:
        """Let go of the listeners (before libDestroy closes pjsip's own handles)."""
        for listener in self.listeners:
            listener.close()
        self.listeners = []
