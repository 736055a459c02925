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
    AlreadyRunning when a live instance answers on it."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    st = path.parent.stat()
    if st.st_uid != os.getuid():
        raise AlreadyRunning(f"{path.parent} belongs to another user; refusing to use it")
    if st.st_mode & 0o077:
        os.chmod(path.parent, 0o700)
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
            writer.write(protocol.encode(protocol.error("permission denied: different user")))
            writer.close()
            return
        self._writers.add(writer)
        unsubscribe = None
        decoder = protocol.Decoder()
        try:
            while data := await reader.read(65536):
                for msg in decoder.feed(data):
                    if isinstance(msg, protocol.ProtocolError):
                        self._send(writer, protocol.error(str(msg)))
                    elif msg["mt"] == "Subscribe":
                        if unsubscribe is None:
                            unsubscribe = self._subscribe(writer, msg.get("src"))
                    else:
                        try:
                            self._send(writer, await self.handle(msg))
                        except Exception as e:  # noqa: BLE001 - a bug must not cost the connection
                            self.phone.log("error", f"control: {msg['mt']} failed: {type(e).__name__}: {e}")
                            self._send(writer, protocol.reply(msg, Result.fail("the phone could not carry out this request (see the log)")))
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            if unsubscribe:
                unsubscribe()
            self._writers.discard(writer)
            writer.close()

    def _send(self, writer: asyncio.StreamWriter, msg: dict) -> None:
        if not writer.is_closing():
            writer.write(protocol.encode(msg))

    def _subscribe(self, writer: asyncio.StreamWriter, src):
        last = None

        def push(state, _event=None):
            nonlocal last
            current = model(state)
            if current != last:
                last = current
                msg = {"mt": "ModelUpdate", "model": current}
                if src is not None:
                    msg["src"] = src
                self._send(writer, msg)

        push(self.phone.state)
        return self.phone.subscribe(push)

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
