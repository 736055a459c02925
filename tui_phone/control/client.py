"""The control client: stdlib only, so ``tui-phone open`` is fast.

Must not import textual, pjsua2 or phonenumbers (a test checks it).
"""

from __future__ import annotations

import json
import socket

TYPE_CHECKING = False  # typing is not imported at run time: `tui-phone open` loads only json and socket
if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


class NotRunning(ConnectionError):
    """No tui-phone answers on the socket (exit code 3)."""


def connect(path: Path | str, timeout: float | None = 10) -> socket.socket:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(str(path))
    except (FileNotFoundError, ConnectionRefusedError) as e:
        s.close()
        raise NotRunning(f"no running tui-phone (socket {path}: {e.strerror})") from None
    except OSError:
        s.close()
        raise
    return s


def messages(sock: socket.socket) -> Iterator[dict]:
    """Yield each JSON line the server sends until it closes."""
    buf = b""
    while True:
        data = sock.recv(65536)
        if not data:
            return
        buf += data
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            if line.strip():
                yield json.loads(line)


def request(path: Path | str, msg: dict, timeout: float = 10) -> dict:
    """Send one message and return the server's reply to it."""
    with connect(path, timeout) as s:
        s.sendall(json.dumps(msg).encode() + b"\n")
        for reply in messages(s):
            return reply
    raise ConnectionError("the phone closed the connection without replying")


def stream(path: Path | str, msg: dict) -> Iterator[dict]:
    """Send one message and yield every line that comes back (Subscribe)."""
    with connect(path, None) as s:
        s.sendall(json.dumps(msg).encode() + b"\n")
        yield from messages(s)
