"""Run the real ``tui-phone --headless`` as a subprocess and drive it over
its control socket, as a CRM or script would."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from tui_phone.control.client import connect, messages, request

ROOT = Path(__file__).resolve().parents[1]


class HeadlessPhone:
    """A headless tui-phone with its own config, XDG dirs and socket.

    ``models`` collects every ModelUpdate from a Subscribe connection, so a
    test can wait for a sequence of states without racing. ``env`` adds or
    overrides environment variables of the phone (and of ``cli()``).
    """

    def __init__(self, workdir: Path, config: str, name: str = "phone", env: dict | None = None,
                 args: tuple[str, ...] = ()):
        self.dir = Path(workdir) / name
        self.dir.mkdir(parents=True, exist_ok=True)
        self.config = self.dir / "config.toml"
        self.config.write_text(config)
        runtime = self.dir / "run"
        runtime.mkdir(mode=0o700, exist_ok=True)
        self.env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime),
                    "XDG_CONFIG_HOME": str(self.dir / "cfg"), "XDG_DATA_HOME": str(self.dir / "data"),
                    "XDG_STATE_HOME": str(self.dir / "state")}
        self.env.update(env or {})  # e.g. Pulse.env (PULSE_SERVER), applied last
        self.args = args  # more command-line options, e.g. ("--debug",)
        self.socket = runtime / "tui-phone" / "control.sock"
        self.stderr_path = self.dir / "stderr.log"
        self.proc: subprocess.Popen | None = None
        self.models: list[dict] = []
        self._cond = threading.Condition()
        self._sub: socket.socket | None = None
        self.launcher = None  # argv -> argv: runs the phone another way (through ssh: tests/e2e/test_attach.py)

    def cli(self, *args: str, timeout: float = 20) -> subprocess.CompletedProcess:
        """Run ``tui-phone --config … ARGS`` against this instance."""
        return subprocess.run([sys.executable, "-m", "tui_phone", "--config", str(self.config), *args],
                              env=self.env, capture_output=True, text=True, timeout=timeout, cwd=ROOT)

    def start(self, timeout: float = 15) -> "HeadlessPhone":
        self._err = open(self.stderr_path, "w")
        argv = [sys.executable, "-m", "tui_phone", "--config", str(self.config), "--headless", *self.args]
        self.proc = subprocess.Popen(
            self.launcher(argv) if self.launcher else argv, env=self.env, stdout=subprocess.DEVNULL,
            stderr=self._err, stdin=subprocess.DEVNULL, cwd=ROOT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"tui-phone exited {self.proc.returncode}: {self.stderr()}")
            if "headless, SIP on" in self.stderr():
                self._subscribe()
                return self
            time.sleep(0.02)
        raise TimeoutError(f"tui-phone did not start: {self.stderr()}")

    def stderr(self) -> str:
        return self.stderr_path.read_text() if self.stderr_path.exists() else ""

    @property
    def sip_address(self) -> str:
        for line in self.stderr().splitlines():
            if "headless, SIP on " in line:
                return line.split("SIP on ", 1)[1].split(",", 1)[0]
        raise RuntimeError("not started")

    def api(self, msg: dict, timeout: float = 10) -> dict:
        return request(self.socket, msg, timeout)

    def _subscribe(self) -> None:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(str(self.socket))
        s.sendall(b'{"mt":"Subscribe"}\n')
        self._sub = s
        threading.Thread(target=self._read_updates, args=(s,), daemon=True).start()
        # started = the sound device decided too: the engine asks PortAudio a moment after the REGISTERs
        self.wait_for(lambda m: m["audio"]["device"] or m["audio"]["note"], 5, "the sound device decided")

    def _read_updates(self, s: socket.socket) -> None:
        buf = b""
        while True:
            try:
                data = s.recv(65536)
            except OSError:
                return
            if not data:
                return
            buf += data
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                msg = json.loads(line)
                if msg.get("mt") == "ModelUpdate":
                    with self._cond:
                        self.models.append(msg["model"]["dev:tui-phone"]["model"])
                        self._cond.notify_all()

    @property
    def model(self) -> dict:
        with self._cond:
            return self.models[-1]

    def mark(self) -> int:
        """A point in the update stream: ``wait_for(..., since=mark)`` ignores older updates."""
        with self._cond:
            return len(self.models)

    def wait_for(self, predicate, timeout: float = 10, what: str = "condition", since: int = 0) -> dict:
        """Wait until some ModelUpdate (from ``since`` on) satisfies ``predicate(model)``; return it."""
        deadline = time.monotonic() + timeout
        seen = since
        with self._cond:
            while True:
                for m in self.models[seen:]:
                    if predicate(m):
                        return m
                seen = len(self.models)
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"timed out waiting for {what}; last model: "
                                       f"{self.models[-1] if self.models else None}\n{self.stderr()}")
                self._cond.wait(left)

    def wait_call_state(self, state: str, timeout: float = 10, cid: int | None = None, since: int = 0) -> dict:
        m = self.wait_for(lambda m: any(c["state"] == state and (cid is None or c["id"] == cid)
                                        for c in m["calls"]), timeout, f"a call in state {state}", since)
        return next(c for c in m["calls"] if c["state"] == state and (cid is None or c["id"] == cid))

    def call_states(self, cid: int) -> list[str]:
        """Every distinct state call ``cid`` went through, in order."""
        out: list[str] = []
        with self._cond:
            for m in self.models:
                for c in m["calls"]:
                    if c["id"] == cid and (not out or out[-1] != c["state"]):
                        out.append(c["state"])
        return out

    def stop(self, timeout: float = 10) -> int:
        """SIGTERM, as a service manager would; returns the exit code."""
        if self._sub:
            self._sub.close()
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        if self.launcher:  # our child is ssh: signal the phone itself, found by its control socket
            from tui_phone.service import socket_owner

            owner = socket_owner(str(self.socket))
            if owner:
                os.kill(owner[0], signal.SIGTERM)
        else:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise
        finally:
            self._err.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def account(name: str, kamailio_port: int, password: str, transport: str = "udp") -> str:
    return (f'[[accounts]]\nname = "{name}"\nuri = "sip:{name}@127.0.0.1:{kamailio_port}"\n'
            f'registrar = "sip:127.0.0.1:{kamailio_port}"\nusername = "{name}"\n'
            f'password = "{password}"\ntransport = "{transport}"\nbind = "127.0.0.1"\n')


def direct(name: str = "alice", port: int = 0) -> str:
    return (f'[[accounts]]\nname = "{name}"\nuri = "sip:{name}@127.0.0.1"\n'
            f'bind = "127.0.0.1"\nlocal_port = {port}\n')


def exchange(path: Path, data: bytes, expect: int, timeout: float = 5) -> list[dict]:
    """Send raw bytes to a control socket; the first ``expect`` replies (fewer if it closes)."""
    from itertools import islice

    with connect(path, timeout) as s:
        s.sendall(data)
        return list(islice(messages(s), expect))
