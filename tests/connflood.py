"""TCP connection floods against a listener, as a port scanner or a
connection-exhaustion attack sends them: many connects in flight at once
(non-blocking), each closed at once, after some bytes, or held open.

Every attempt ends one way: ``connected`` (the handshake completed),
``timeout`` (no answer to the SYN within ``timeout``: a full backlog or a
listener that drops SYNs), ``refused`` or ``reset``.
"""

from __future__ import annotations

import errno
import selectors
import socket
import time
from collections import Counter

HOST = "127.0.0.1"


def flood(port: int, count: int, *, in_flight: int = 256, payload: bytes = b"", hold: bool = False,
          timeout: float = 3.0, host: str = HOST) -> tuple[Counter, list[socket.socket]]:
    """Make ``count`` connection attempts to ``host:port``, up to ``in_flight``
    at once. A connected socket gets ``payload`` (if any) and is closed, or,
    with ``hold``, kept open and returned. Returns (outcomes, held sockets)."""
    outcomes: Counter = Counter()
    held: list[socket.socket] = []
    sel = selectors.DefaultSelector()
    started = 0
    while started < count or sel.get_map():
        while started < count and len(sel.get_map()) < in_flight:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            rc = s.connect_ex((host, port))
            started += 1
            if rc not in (0, errno.EINPROGRESS):
                outcomes["refused" if rc == errno.ECONNREFUSED else "reset"] += 1
                s.close()
                continue
            sel.register(s, selectors.EVENT_WRITE, time.monotonic() + timeout)
        now = time.monotonic()
        for key, _ in sel.select(0.05):
            s = key.fileobj
            sel.unregister(s)
            err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                outcomes["refused" if err == errno.ECONNREFUSED else "reset"] += 1
                s.close()
                continue
            outcomes["connected"] += 1
            if payload:
                try:
                    s.send(payload)
                except OSError:
                    pass
            if hold:
                held.append(s)
            else:
                s.close()
        for key in list(sel.get_map().values()):
            if now > key.data:
                sel.unregister(key.fileobj)
                key.fileobj.close()
                outcomes["timeout"] += 1
    sel.close()
    return outcomes, held
