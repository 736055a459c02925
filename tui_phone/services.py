"""What runs around the phone in both the TUI and headless mode: the
control socket, the HTTP listener (when enabled) and the notifier (when a
URL is configured). Started and closed together."""

from __future__ import annotations

import asyncio

from .control.server import ControlServer
from .locations import socket_path
from .phone import Phone


class Services:
    def __init__(self, phone: Phone):
        from .notify import Notifier

        config = phone.config
        self.phone = phone
        self.control = ControlServer(phone, socket_path(config.control["socket"]))
        self.http = None
        if config.http["enabled"]:  # imported only then: it is 25 ms of the TUI's first paint
            from .control.http import HttpListener

            self.http = HttpListener(phone)
        notifier = Notifier(phone)
        self.notifier = notifier if notifier.enabled else None
        self._closed = False
        self.recorder = None

    async def start(self) -> None:
        """Raises AlreadyRunning (socket) or OSError (HTTP port taken)."""
        asyncio.get_running_loop().set_exception_handler(self._loop_error)
        await self.control.start()
        if self.http:
            try:
                await self.http.start()
            except OSError as e:
                await self.control.close()
                raise OSError(f"HTTP listener on 127.0.0.1:{self.http.port}: {e.strerror}") from None
        if self.notifier:
            self.notifier.start()
        from .history import Recorder

        self.recorder = Recorder(self.phone)

    def _loop_error(self, loop, context: dict) -> None:
        """What asyncio would print as a traceback on stderr (e.g. accept() out of
        file descriptors under a connection flood) becomes one log line."""
        exc = context.get("exception")
        text = context.get("message") or "error"
        if exc is not None:
            text += f": {type(exc).__name__}: {exc}"
        self.phone.log("warning", f"asyncio: {text}")

    async def stop_inputs(self) -> None:
        """No more commands from outside (socket, HTTP): first step of a shutdown."""
        if self.http:
            await self.http.close()
        await self.control.close()

    async def close(self) -> None:
        """After the phone stopped: its last calls are recorded and notified, then
        everything closes."""
        if self._closed:
            return
        self._closed = True
        await self.stop_inputs()
        await asyncio.sleep(0.05)  # engine events of the shutdown are still hopping to the loop
        if self.recorder:
            await self.recorder.close()
        if self.notifier:
            await self.notifier.close()
        self.phone.close_contacts()
