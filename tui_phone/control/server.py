"""The control socket: a private Unix socket speaking JSON lines.

Security: the directory is 0700 and the socket 0600 (umask set before
bind), each peer's uid is checked with SO_PEERCRED, a stale socket file is
replaced and a live one means another instance owns it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import struct
from pathlib import Path

from ..commands import Result, Source
from ..files import UnsafeDirectory, check_shared_parent, private_dir
from ..locations import runtime_dir
from ..phone import Phone
from ..store import model
from . import protocol, records


class AlreadyRunning(RuntimeError):
    pass


def peer_uid(sock: socket.socket) -> int:
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return struct.unpack("3i", creds)[1]


def prepare_path(path: Path) -> None:
    """Create the private directory and clear a stale socket, or raise
    AlreadyRunning when a live instance answers on it. An existing parent the
    phone did not create is never chmod-ed: one that others could write to
    (or that belongs to someone else) is refused (UnsafeDirectory, an OSError)."""
    if path.parent.exists():
        try:
            check_shared_parent(path.parent)
        except UnsafeDirectory as e:
            raise UnsafeDirectory(f"control socket: {e}") from None
        if path.parent == runtime_dir():
            private_dir(path.parent)  # the phone's own directory (an older version made it 0755)
    else:
        private_dir(path.parent)
    if path.exists() or path.is_symlink():
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        probe.settimeout(1)
        try:
            probe.connect(str(path))
        except OSError:
            path.unlink()  # stale: nobody listens
        else:
            raise AlreadyRunning(f"another tui-phone is already running (socket {path})")
        finally:
            probe.close()


STALL = 10.0
"""Seconds a client may leave a full send buffer unread before it is dropped."""
BACKLOG = 64 * 1024
"""Unsent bytes past which a subscriber gets only the latest model."""


class Stalled(Exception):
    """A client stopped reading; it was dropped."""


async def refuse(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, msg: dict) -> None:
    """Send one line and close gently: the peer's unread request is read and
    dropped first, else the close would be a reset that loses the line."""
    writer.write(protocol.encode(msg))
    with contextlib.suppress(Exception):
        writer.write_eof()
        await asyncio.wait_for(_discard(reader), 1)
    writer.close()


async def _discard(reader: asyncio.StreamReader) -> None:
    while await reader.read(65536):
        pass


class Subscription:
    """ModelUpdates to one connection. Each change goes out at once while the
    reader keeps up; once more than ``BACKLOG`` bytes wait unsent, the latest
    model replaces the one not yet sent (latest wins), so a slow reader costs
    one model and the transport's buffer, never a queue. A reader that takes
    nothing for ``STALL`` seconds is dropped (logged)."""

    def __init__(self, server: "ControlServer", writer: asyncio.StreamWriter, src):
        self.server, self.writer = server, writer
        self.last: dict | None = None
        self.pending: dict | None = None
        self.wake = asyncio.Event()
        self.again(src)
        self.unsubscribe = server.phone.subscribe(self.push)
        self.task = asyncio.get_running_loop().create_task(self._run())

    def again(self, src) -> None:
        """Subscribe (again, on the same connection): the full state at once,
        in order with the replies; later updates carry this ``src``."""
        self.src, self.last, self.pending = src, model(self.server.phone.state), None
        self._send(self.last)

    def push(self, state, _event=None) -> None:
        current = model(state)
        if current == self.last:
            return
        self.last = current
        if self.pending is None and self.writer.transport.get_write_buffer_size() <= BACKLOG:
            self._send(current)
        else:
            self.pending = current
            self.wake.set()

    def _send(self, current: dict) -> None:
        msg = {"mt": "ModelUpdate", "model": current}
        if self.src is not None:
            msg["src"] = self.src
        self.server._send(self.writer, msg)

    async def _run(self) -> None:
        with contextlib.suppress(ConnectionError, Stalled):
            while not self.writer.is_closing():
                await self.wake.wait()
                self.wake.clear()
                await self.server._drain(self.writer)
                if self.pending is not None:
                    current, self.pending = self.pending, None
                    self._send(current)

    def close(self) -> None:
        self.unsubscribe()
        self.task.cancel()


class ControlServer:
    def __init__(self, phone: Phone, path: Path):
        self.phone, self.path = phone, path
        self._server: asyncio.base_events.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        prepare_path(self.path)
        old = os.umask(0o177)
        try:
            self._server = await asyncio.start_unix_server(self._serve, path=str(self.path))
        finally:
            os.umask(old)
        os.chmod(self.path, 0o600)

    async def close(self) -> None:
        if self._server:
            server, self._server = self._server, None
            server.close()
            for w in list(self._writers):
                w.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 1)
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        if peer_uid(sock) != os.getuid():
            await refuse(reader, writer, protocol.error("permission denied: different user"))
            return
        self._writers.add(writer)
        subscription: Subscription | None = None
        decoder = protocol.Decoder()
        try:
            while data := await reader.read(65536):
                for msg in decoder.feed(data):
                    if isinstance(msg, protocol.ProtocolError):
                        self._send(writer, protocol.error(str(msg)))
                    elif msg["mt"] == "Subscribe":
                        if subscription is None:
                            subscription = Subscription(self, writer, msg.get("src"))
                        else:
                            subscription.again(msg.get("src"))
                    else:
                        try:
                            self._send(writer, await self.handle(msg))
                        except Exception as e:  # noqa: BLE001 - a bug must not cost the connection
                            self.phone.log("error", f"control: {msg['mt']} failed: {type(e).__name__}: {e}")
                            self._send(writer, protocol.reply(msg, Result.fail("the phone could not carry out this request (see the log)")))
                    await self._drain(writer)  # a client that sends but never reads is held back here
        except (ConnectionError, asyncio.CancelledError, Stalled):
            pass
        finally:
            if subscription:
                subscription.close()
            self._writers.discard(writer)
            writer.close()

    def _send(self, writer: asyncio.StreamWriter, msg: dict) -> None:
        if not writer.is_closing():
            writer.write(protocol.encode(msg))

    async def _drain(self, writer: asyncio.StreamWriter) -> None:
        """Wait while the connection holds more unsent bytes than the transport's
        limit; a reader that takes none of them for ``STALL`` seconds is dropped."""
        try:
            await asyncio.wait_for(writer.drain(), STALL)
        except asyncio.TimeoutError:
            unsent = writer.transport.get_write_buffer_size()
            self.phone.log("warning", f"control: dropped a connection that read nothing for {STALL:g} s "
                                      f"({unsent // 1024} KiB unsent)")
            writer.transport.abort()
            raise Stalled from None

    async def handle(self, msg: dict) -> dict:
        """Answer one request; bad input becomes an ok=false reply."""
        try:
            if msg["mt"] == "GetState":
                out = protocol.reply(msg, Result(True))
                out["model"] = model(self.phone.state)
                return out
            if msg["mt"] == "OpenUrl":
                return protocol.reply(msg, await self.open_url(msg))
            if msg["mt"] in records.REQUESTS:  # history, messages, contacts, team
                return await records.answer(self.phone, msg)
            cfg = self.phone.config.numbers
            command = protocol.to_command(msg, cfg["default_region"], cfg["external_prefix"])
        except protocol.ProtocolError as e:
            return protocol.reply(msg, Result.fail(str(e), "bad_input"))
        # an attached TUI marks what its user typed: the keyboard's rules (no dial-policy
        # question), as in the TUI that owns the engine; only this socket (same uid) takes it
        source = Source.KEYBOARD if msg.get("keyboard") is True else Source.SOCKET
        return protocol.reply(msg, await self.phone.execute(command, source))

    async def open_url(self, msg: dict) -> Result:
        url = msg.get("url")
        if not isinstance(url, str) or not url:
            return Result.fail('OpenUrl: "url" must be a non-empty string', "bad_input")
        return await self.phone.open_link(url, Source.LINK)
