"""Themes and colour depth end to end: the real `tui-phone` in tmux at 80×24,
read back with ``capture-pane -e`` (which keeps the colour escape codes)."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.peers import require

ROOT = Path(__file__).resolve().parents[2]
# Theme backgrounds (themes/*.toml) as truecolor SGR parameters.
DARK_BG = "48;2;15;20;25"  # tui-phone        #0F1419
LIGHT_BG = "48;2;247;249;251"  # tui-phone-light  #F7F9FB
CONTRAST_BG = "48;2;0;0;0"  # tui-phone-contrast #000000
SGR = re.compile(r"\x1b\[([0-9;]*)m")


def tui_phone() -> list[str]:
    """The installed console script next to this interpreter, else ``python -m tui_phone``."""
    script = Path(sys.executable).with_name("tui-phone")
    return [str(script)] if script.exists() else [sys.executable, "-m", "tui_phone"]


class Tmux:
    """One tmux server on a private socket running one command at 80×24."""

    def __init__(self, tmp_path: Path, command: list[str], env: dict, unset: tuple[str, ...] = ()):
        self.name = f"tt{os.getpid()}{int(time.time() * 1000) % 100000}"
        self.sock = str(tmp_path / f"{self.name}.sock")  # one server per session: no reuse races
        args = ["env", *(f"-u{k}" for k in unset), *(f"{k}={v}" for k, v in env.items()), *command]
        cmd = " ".join(shlex.quote(a) for a in args) + "; echo EXITED $?; sleep 30"
        subprocess.run(["tmux", "-S", self.sock, "new-session", "-d", "-s", self.name, "-x", "80", "-y", "24",
                        cmd], check=True)

    def keys(self, *keys: str, literal: bool = False) -> None:
        subprocess.run(["tmux", "-S", self.sock, "send-keys", "-t", self.name, *(["-l"] if literal else []), *keys],
                       check=True)
        if keys[-1] == "Escape":
            time.sleep(0.4)  # else the next key arrives as Alt+key (ESCDELAY is 100 ms)

    def screen(self, escapes: bool = False) -> str:
        return subprocess.run(["tmux", "-S", self.sock, "capture-pane", "-p", *(["-e"] if escapes else []),
                               "-t", self.name], capture_output=True, text=True).stdout

    def wait_for(self, text: str, timeout: float = 15, escapes: bool = False) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen(escapes)
            if text in screen:
                return screen
            if "EXITED" in screen:
                break
            time.sleep(0.1)
        raise AssertionError(f"{text!r} not on screen:\n{self.screen()}")

    def wait_until(self, ok, what: str, timeout: float = 15) -> str:
        """Poll the screen (with colour codes) until ``ok(screen)``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen(escapes=True)
            if ok(screen):
                return screen
            time.sleep(0.1)
        raise AssertionError(f"{what}: not on screen:\n{self.screen()}")

    def close(self) -> None:
        subprocess.run(["tmux", "-S", self.sock, "kill-server"], capture_output=True)


CONFIG = """\
# my phone
[[accounts]]
name = "alice"
uri = "sip:alice@127.0.0.1"
bind = "127.0.0.1"  # loopback only

[audio]
null = true  # no sound card in CI

[ui]
theme = "tui-phone"  # the default
"""


@pytest.fixture
def phone(tmp_path):
    """Start ``tui-phone --config … [ARGS]`` in tmux with private XDG dirs;
    ``term`` is the TERM inside, ``unset`` lists variables removed."""
    require("tmux")
    cfg = tmp_path / "config.toml"
    cfg.write_text(CONFIG)
    run = tmp_path / "run"
    run.mkdir(mode=0o700)
    sessions = []

    def start(*args: str, term: str = "xterm-256color", unset=(), **extra: str) -> Tmux:
        env = {"XDG_RUNTIME_DIR": str(run), "XDG_CONFIG_HOME": str(tmp_path / "cfg"),
               "XDG_DATA_HOME": str(tmp_path / "data"), "XDG_STATE_HOME": str(tmp_path / "state"),
               "PYTHONPATH": str(ROOT), "TERM": term, **extra}
        t = Tmux(tmp_path, [*tui_phone(), "--config", str(cfg), *args], env, unset=tuple(unset))
        t.cfg = cfg
        sessions.append(t)
        return t

    try:
        yield start
    finally:
        for t in sessions:
            t.close()


def colours(screen: str) -> set[str]:
    """Every SGR parameter list on the captured screen."""
    return set(SGR.findall(screen))


def quit_cleanly(t: Tmux) -> None:
    t.keys("Escape")
    t.keys("q")
    t.wait_for("EXITED 0", timeout=15)


def test_dark_default_then_light_from_the_command_line(phone):
    t = phone(COLORTERM="truecolor")
    t.wait_for("ready for direct calls")
    t.wait_until(lambda s: DARK_BG in colours(s) and LIGHT_BG not in colours(s), "the dark default theme")
    quit_cleanly(t)
    t.close()

    t = phone("--theme", "tui-phone-light", COLORTERM="truecolor")
    t.wait_for("ready for direct calls")
    t.wait_until(lambda s: LIGHT_BG in colours(s) and DARK_BG not in colours(s), "the light theme")
    assert "Dialpad" in t.screen() and "alice@127.0.0.1" in t.screen()
    quit_cleanly(t)
    assert t.cfg.read_text() == CONFIG  # --theme is for this run: the config is not rewritten


def test_theme_switched_in_the_palette_is_saved(phone):
    t = phone("--theme", "tui-phone-light", COLORTERM="truecolor")
    t.wait_for("ready for direct calls")
    t.keys("Escape")  # out of the dialpad
    t.keys("C-p")
    t.wait_for("🔎")
    t.keys("theme", literal=True)
    t.wait_for("Change the current theme")
    t.keys("Enter")
    t.wait_for("Search for themes")
    t.keys("contrast", literal=True)
    t.wait_for("tui-phone-contrast")
    t.keys("Enter")
    deadline = time.monotonic() + 10
    while 'theme = "tui-phone-contrast"' not in t.cfg.read_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    text = t.cfg.read_text()
    assert 'theme = "tui-phone-contrast"' in text
    assert "# my phone" in text and "# loopback only" in text and "# no sound card in CI" in text
    t.wait_until(lambda s: CONTRAST_BG in colours(s) and LIGHT_BG not in colours(s),
                 "the whole screen repainted in tui-phone-contrast")
    t.wait_for("saved to")  # the log pane says where
    quit_cleanly(t)


@pytest.mark.parametrize("term, extra", [
    ("screen", {}),  # GNU screen / tmux default: 16 colours
    ("xterm-16color", {}),
    ("xterm-16color", {"TEXTUAL_COLOR_SYSTEM": "standard"}),
    ("xterm-256color", {}),  # no COLORTERM: 256 colours
], ids=["screen", "xterm-16color", "textual-standard", "xterm-256color-no-colorterm"])
def test_limited_terminals_still_render(phone, term, extra):
    t = phone(term=term, unset=("COLORTERM",), **extra)
    t.wait_for("ready for direct calls")
    screen = t.wait_for("^p palette")  # the footer repaints when focus settles: under load it lags
    lines = screen.splitlines()
    assert "alice" in lines[0] and "status: available" in lines[0]  # the status line
    assert "Dialpad" in screen and "Calls" in screen and "Contacts" in screen
    assert "^p palette" in lines[-1]  # the footer
    assert "Traceback" not in screen
    sgr = colours(t.screen(escapes=True))
    truecolor = {p for p in sgr if "38;2;" in p or "48;2;" in p}
    assert not truecolor, f"truecolor sent to TERM={term}: {sorted(truecolor)[:5]}"
    if term == "xterm-256color":
        assert any("38;5;" in p for p in sgr)
    else:
        assert not any("38;5;" in p or "48;5;" in p for p in sgr)
    # still usable: the palette opens and closes, the app quits cleanly
    t.keys("Escape")
    t.keys("C-p")
    t.wait_for("🔎")
    t.keys("Escape")
    quit_cleanly(t)
