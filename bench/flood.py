"""A state-changing command flood: the real TUI (in tmux) beside a headless
phone, in the same run (issue 17).

Each phone gets its own config and XDG dirs. A client sends ``SetStatus``
(available ↔ unavailable: every one changes the state, like a presence storm
from a big team) over the control socket at N commands/s for S seconds,
pipelined on one connection, and times every reply by its ``src``. On the TUI,
a key is typed into the dialpad every 0.25 s during the flood (``tmux
send-keys``) and timed until ``tmux capture-pane`` shows it. Printed per
phone: reply p50/p95/max, dropped (no reply 5 s after the flood), key-echo
p50/p95; then the TUI/headless ratio of reply p95.

    .venv/bin/python bench/flood.py [--rate 1000] [--seconds 10]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ('[[accounts]]\nname = "alice"\nuri = "sip:alice@127.0.0.1"\nbind = "127.0.0.1"\n'
          '[audio]\nnull = true\n')
PROBE = "*#0123456789"  # typed into the dialpad; "*#…" appears nowhere else on screen


def setup(home: Path) -> tuple[Path, dict, Path]:
    home.mkdir(mode=0o700)
    env = {}
    for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_RUNTIME_DIR"):
        (home / var.lower()).mkdir(mode=0o700)
        env[var] = str(home / var.lower())
    config = home / "config.toml"
    config.write_text(CONFIG)
    return config, env, home / "xdg_runtime_dir" / "tui-phone" / "control.sock"


def wait_socket(path: Path, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.socket(socket.AF_UNIX) as s:
                s.settimeout(2)
                s.connect(str(path))
                s.sendall(b'{"mt":"GetState"}\n')
                if s.recv(65536):
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"no phone answered at {path}")


def quantile(ms: list[float], q: int) -> float:
    return statistics.quantiles(ms, n=100)[q - 1] if len(ms) >= 2 else (ms[0] if ms else float("nan"))


def flood(path: Path, rate: float, seconds: float) -> tuple[list[float], int, int]:
    """Reply times (ms), commands sent, replies missing."""
    sent: dict[str, float] = {}
    got: dict[str, float] = {}
    s = socket.socket(socket.AF_UNIX)
    s.connect(str(path))

    def read() -> None:
        buf = b""
        while True:
            try:
                data = s.recv(1 << 16)
            except OSError:
                return
            if not data:
                return
            now = time.perf_counter()
            buf += data
            *lines, buf = buf.split(b"\n")
            for line in lines:
                src = json.loads(line).get("src")
                if src is not None:
                    got[src] = now

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    count = int(rate * seconds)
    start = time.perf_counter()
    for i in range(count):
        due = start + i / rate
        while (wait := due - time.perf_counter()) > 0:
            time.sleep(min(wait, 0.002))
        src = str(i)
        msg = {"mt": "SetStatus", "status": "unavailable" if i % 2 == 0 else "available", "src": src}
        sent[src] = time.perf_counter()
        s.sendall(json.dumps(msg).encode() + b"\n")
    deadline = time.perf_counter() + 5
    while len(got) < count and time.perf_counter() < deadline:
        time.sleep(0.05)
    s.close()
    return [(got[k] - t) * 1000 for k, t in sent.items() if k in got], count, count - len(got)


class Tmux:
    def __init__(self, home: Path, argv: list[str], env: dict):
        self.sock, self.name = str(home / "tmux.sock"), "flood"
        exports = " ".join(f"{k}={v}" for k, v in env.items())
        subprocess.run(["tmux", "-S", self.sock, "new-session", "-d", "-s", self.name, "-x", "100", "-y", "30",
                        f"env -u COLUMNS -u LINES {exports} {' '.join(argv)}"], check=True)

    def keys(self, *keys: str) -> None:
        subprocess.run(["tmux", "-S", self.sock, "send-keys", "-t", self.name, *keys], check=True)

    def screen(self) -> str:
        return subprocess.run(["tmux", "-S", self.sock, "capture-pane", "-p", "-t", self.name],
                              capture_output=True, text=True).stdout

    def close(self) -> None:
        subprocess.run(["tmux", "-S", self.sock, "kill-server"], capture_output=True)


def echo_probe(tmux: Tmux, stop: threading.Event, out: list[float]) -> None:
    """Type one dialpad character every 0.25 s; time each until the screen shows it."""
    typed = ""
    while not stop.is_set():
        if len(typed) == len(PROBE):
            tmux.keys("C-u")  # clear the field (not timed)
            typed = ""
            time.sleep(0.25)
        ch = PROBE[len(typed)]
        typed += ch
        t = time.perf_counter()
        tmux.keys("-l", ch)
        deadline = t + 10
        while len(typed) >= 2 and typed not in tmux.screen() and time.perf_counter() < deadline:
            pass
        if len(typed) >= 2:  # one character alone is not unique on screen
            out.append((time.perf_counter() - t) * 1000)
        time.sleep(0.25)


def line(name: str, ms: list[float], sent: int, dropped: int, echo: list[float] | None = None) -> str:
    text = (f"{name:<9} sent={sent} reply p50_ms={quantile(ms, 50):.1f} p95_ms={quantile(ms, 95):.1f} "
            f"max_ms={max(ms) if ms else float('nan'):.1f} dropped={dropped}")
    if echo is not None:
        text += f" key_echo p50_ms={quantile(echo, 50):.1f} p95_ms={quantile(echo, 95):.1f} n={len(echo)}"
    return text


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rate", type=float, default=1000)
    ap.add_argument("--seconds", type=float, default=10)
    args = ap.parse_args()
    if not shutil.which("tmux"):
        sys.exit("flood.py needs tmux")
    work = Path(tempfile.mkdtemp(prefix="tui-phone-flood-"))
    python = sys.executable
    procs: list[subprocess.Popen] = []
    tmux = None
    try:
        config, env, sock = setup(work / "headless")
        err = open(work / "headless" / "stderr.log", "w")
        procs.append(subprocess.Popen([python, "-m", "tui_phone", "--config", str(config), "--headless"],
                                      env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=err,
                                      stdin=subprocess.DEVNULL, cwd=ROOT))
        wait_socket(sock)
        ms, sent, dropped = flood(sock, args.rate, args.seconds)
        headless = line("headless", ms, sent, dropped)

        config, env, sock = setup(work / "tui")
        env["PYTHONPATH"] = os.environ.get("PYTHONPATH", str(ROOT))
        tmux = Tmux(work / "tui", [python, "-m", "tui_phone", "--config", str(config)], env)
        wait_socket(sock)
        time.sleep(1)  # first paint done, the dialpad focused
        echo: list[float] = []
        stop = threading.Event()
        probe = threading.Thread(target=echo_probe, args=(tmux, stop, echo), daemon=True)
        probe.start()
        tms, tsent, tdropped = flood(sock, args.rate, args.seconds)
        stop.set()
        probe.join(15)
        print(f"rate={args.rate:g}/s seconds={args.seconds:g} command=SetStatus (available/unavailable)")
        print(headless)
        print(line("tui", tms, tsent, tdropped, echo))
        if ms and tms:
            print(f"ratio tui/headless reply p95={quantile(tms, 95) / quantile(ms, 95):.1f}")
    finally:
        if tmux is not None:
            tmux.close()
        for p in procs:
            p.terminate()
            p.wait(10)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
