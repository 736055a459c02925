"""The real `tui-phone` in tmux at 80×24: keys are typed, the screen is read."""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.peers import require, sipp_uas

ROOT = Path(__file__).resolve().parents[2]


class Tmux:
    def __init__(self, tmp_path: Path, command: list[str], env: dict, size: tuple[int, int] = (80, 24)):
        self.name = f"tp{os.getpid()}{int(time.time() * 1000) % 100000}"
        self.sock = str(tmp_path / "tmux.sock")
        self.size = size
        exports = " ".join(f"{k}={v}" for k, v in env.items())
        # COLUMNS/LINES reach the server from pytest (80x24) and would override the pane's size
        cmd = f"env -u COLUMNS -u LINES {exports} {' '.join(command)}; sleep 5"
        subprocess.run(["tmux", "-S", self.sock, "new-session", "-d", "-s", self.name, "-x", str(size[0]),
                        "-y", str(size[1]), cmd], check=True)

    def keys(self, *keys: str) -> None:
        subprocess.run(["tmux", "-S", self.sock, "send-keys", "-t", self.name, *keys], check=True)

    def screen(self) -> str:
        return subprocess.run(["tmux", "-S", self.sock, "capture-pane", "-p", "-t", self.name],
                              capture_output=True, text=True).stdout

    def wait_for(self, text: str, timeout: float = 10) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            if text in screen:
                return screen
            time.sleep(0.1)
        raise TimeoutError(f"{text!r} not on screen:\n{self.screen()}")

    def wait_gone(self, text: str, timeout: float = 10) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            if text not in screen:
                return screen
            time.sleep(0.1)
        raise TimeoutError(f"{text!r} still on screen:\n{self.screen()}")

    def close(self) -> None:
        subprocess.run(["tmux", "-S", self.sock, "kill-server"], capture_output=True)


def phone_setup(tmp_path: Path, proxy_port: int) -> tuple[Path, dict]:
    """A config with one direct account whose calls go to 127.0.0.1:`proxy_port`, and private XDG dirs."""
    cfg = tmp_path / "config.toml"
    cfg.write_text('[[accounts]]\nname = "alice"\nuri = "sip:alice@127.0.0.1"\nbind = "127.0.0.1"\n'
                   f'proxy = "sip:127.0.0.1:{proxy_port}"\n')
    run = tmp_path / "run"
    run.mkdir(mode=0o700)
    env = {"XDG_RUNTIME_DIR": str(run), "XDG_CONFIG_HOME": str(tmp_path / "cfg"),
           "XDG_DATA_HOME": str(tmp_path / "data"), "XDG_STATE_HOME": str(tmp_path / "state"),
           "TERM": "xterm-256color"}
    return cfg, env


@pytest.fixture
def tmux_phone(tmp_path, sipp_dir):
    require("tmux")
    uas = sipp_uas(sipp_dir, scenario="ringing", duration_ms=300)
    cfg, env = phone_setup(tmp_path, uas.port)
    t = Tmux(tmp_path, [shutil.which("python3") and sys.executable, "-m", "tui_phone", "--config", str(cfg)],
             {**env, "PYTHONPATH": str(ROOT)})
    t.env, t.cfg, t.uas = env, cfg, uas
    try:
        yield t
    finally:
        t.close()


def test_dial_from_keyboard_see_connected_hang_up(tmux_phone):
    t = tmux_phone
    t.wait_for("ready for direct calls")
    t.keys("2", "0", "0", "Enter")
    screen = t.wait_for("Connected")
    assert "200" in screen and "out" in screen
    t.keys("h")
    t.wait_for("Disconnected")
    assert t.uas.wait(10) == 0


def test_open_link_from_another_shell_is_on_screen(tmux_phone):
    t = tmux_phone
    t.wait_for("ready for direct calls")
    r = subprocess.run([sys.executable, "-m", "tui_phone", "--config", str(t.cfg), "open",
                        "phone.systems://dialpad?number=200"], env={**os.environ, **t.env},
                       capture_output=True, text=True, cwd=ROOT, timeout=20)
    assert r.returncode == 0, r.stderr
    t.wait_for("200")  # prefilled in the dialpad, not dialled
    assert "Ringback" not in t.screen() and "Connected" not in t.screen()
    t.keys("Enter")
    t.wait_for("Connected")
    t.keys("q")
    deadline = time.monotonic() + 10
    while "tui-phone" in t.screen().splitlines()[0] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert t.uas.wait(10) == 0  # quitting sent the BYE
