"""Idle cost: CPU and wakeups of a registered phone with no call, beside a baresip started here.

    .venv/bin/python bench/idle.py [--seconds 60] [--parts headless,tui] [--json]

One Kamailio on 127.0.0.1; alice is the phone (UDP, so its registrar keep-alive OPTIONS runs), bob is
baresip (the reference: a C softphone registered to the same Kamailio, idle in the same run). After a
settle of 3 s each process is watched for ``--seconds``:
  cpu_pct   – utime+stime of every thread (/proc/PID/stat) as % of one core
  wakeups/s – voluntary + involuntary context switches of every thread (/proc/PID/task/*/status): each is
              the thread leaving the CPU, i.e. one sleep → wake cycle (what powertop counts as wakeups)
  rss_mb    – VmRSS at the end
Parts: ``headless`` = ``tui-phone --headless``; ``tui`` = the real TUI in tmux at 100×30 (the Contacts
database empty, isolated XDG dirs), and a minimal Textual app (one Static, nothing else) as Textual's own
floor. Issue 17's goals: headless ≤ 0.3 % and ≤ 20 wakeups/s; TUI ≤ 1.0 % (the minimal Textual app's figure).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.peers import Baresip, Kamailio, baresip_account  # noqa: E402
from tests.phoneproc import HeadlessPhone, account  # noqa: E402

MINIMAL_TEXTUAL = """
from textual.app import App
from textual.widgets import Static
class Minimal(App):
    def compose(self):
        yield Static("minimal Textual app")
Minimal().run()
"""


def ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def switches(pid: int) -> int:
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            for line in (task / "status").read_text().splitlines():
                if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                    total += int(line.split()[1])
        except FileNotFoundError:  # a thread ended meanwhile
            pass
    return total


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def watch(pids: dict[str, int], seconds: float) -> dict:
    """CPU %, wakeups/s and RSS of each named process over the same `seconds`."""
    hz = os.sysconf("SC_CLK_TCK")
    t0 = time.monotonic()
    start = {n: (ticks(p), switches(p)) for n, p in pids.items()}
    time.sleep(seconds)
    dt = time.monotonic() - t0
    out = {}
    for n, p in pids.items():
        c0, s0 = start[n]
        out[n] = {"cpu_pct": round(100.0 * (ticks(p) - c0) / hz / dt, 2),
                  "wakeups_per_s": round((switches(p) - s0) / dt, 1), "rss_mb": rss_mb(p)}
    return out


def tmux_pid(sock: str, name: str) -> int:
    """The program in the tmux pane: the pane's process (``sh -c`` execs a lone command) or its only child."""
    pane = subprocess.run(["tmux", "-S", sock, "list-panes", "-t", name, "-F", "#{pane_pid}"],
                          capture_output=True, text=True, check=True).stdout.split()[0]
    children = Path(f"/proc/{pane}/task/{pane}/children").read_text().split()
    return int(children[0]) if children else int(pane)


def in_tmux(work: Path, name: str, argv: list[str], env: dict, ready: str) -> tuple[str, int]:
    sock = str(work / f"{name}.tmux")
    exports = " ".join(f"{k}={v}" for k, v in env.items())
    subprocess.run(["tmux", "-S", sock, "new-session", "-d", "-s", name, "-x", "100", "-y", "30",
                    f"env -u COLUMNS -u LINES {exports} {' '.join(argv)}"], check=True)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        screen = subprocess.run(["tmux", "-S", sock, "capture-pane", "-p", "-t", name],
                                capture_output=True, text=True).stdout
        if ready in screen:
            return sock, tmux_pid(sock, name)
        time.sleep(0.1)
    raise RuntimeError(f"{name}: {ready!r} never on screen:\n{screen}")


def run(seconds: float, parts: tuple[str, ...]) -> dict:
    res: dict = {"seconds": seconds}
    with tempfile.TemporaryDirectory(prefix="tui-idle-") as tmp:
        work = Path(tmp)
        kam = Kamailio(work / "kam").start()
        bob = phone = None
        socks = []
        try:
            bob = Baresip(work / "bob", baresip_account("bob", "bobpw", kam.domain)).start()
            bob.wait_registered(10)
            phone = HeadlessPhone(work, account("alice", kam.port, "alicepw"), "alice").start()
            phone.wait_for(lambda m: m.get("registered"), 10, "registered")
            pids = {"baresip": bob.proc.pid}
            if "headless" in parts:
                pids["headless"] = phone.proc.pid
            if "tui" in parts:
                env = {**{k: phone.env[k] for k in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME")},
                       "XDG_RUNTIME_DIR": str(work / "tui-run"), "TERM": "xterm-256color", "PYTHONPATH": str(ROOT)}
                (work / "tui-run").mkdir(mode=0o700)
                tui_cfg = work / "tui.toml"
                tui_cfg.write_text(account("carol", kam.port, "carolpw"))
                sock, pids["tui"] = in_tmux(work, "tui", [sys.executable, "-m", "tui_phone", "--config",
                                                          str(tui_cfg)], env, " registered ")
                socks.append(sock)
                (work / "minimal.py").write_text(MINIMAL_TEXTUAL)
                sock, pids["minimal_textual"] = in_tmux(work, "min", [sys.executable, str(work / "minimal.py")],
                                                        env, "minimal Textual app")
                socks.append(sock)
            time.sleep(3.0)  # settle: start-up work, first refreshes
            res.update(watch(pids, seconds))
        finally:
            for sock in socks:
                subprocess.run(["tmux", "-S", sock, "kill-server"], capture_output=True)
            if phone:
                phone.stop()
            if bob:
                bob.stop()
            kam.stop()
    return res


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--parts", default="headless,tui", help="comma-separated: headless, tui")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    parts = tuple(p.strip() for p in a.parts.split(",") if p.strip())
    res = run(a.seconds, parts)
    if a.json:
        print(json.dumps(res))
        return 0
    print(f"idle, {a.seconds:g} s, registered to Kamailio, no call:")
    for name in ("headless", "tui", "minimal_textual", "baresip"):
        if name in res:
            r = res[name]
            print(f"  {name:16s} cpu {r['cpu_pct']:5.2f} % of a core  wakeups {r['wakeups_per_s']:7.1f}/s  "
                  f"rss {r['rss_mb']:5.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
