"""The first five minutes (issue 15), the real binary in tmux at 80×24 and
100×30: the first screen does not trap anyone (help and quit from the
dialpad, always in the footer), the first call's number is shown in full,
and a new call takes the cursor from an ended one."""

import sys
import time
from pathlib import Path

import pytest

from tests.e2e.test_tmux import ROOT, Tmux
from tests.peers import require, sipp_uas

SIZES = [(80, 24), (100, 30)]


def start(tmp_path: Path, size: tuple[int, int]) -> Tmux:
    """The phone on a direct account (no proxy: dialled URIs go where they say)."""
    require("tmux")
    cfg = tmp_path / "config.toml"
    cfg.write_text('[[accounts]]\nname = "alice"\nuri = "sip:alice@127.0.0.1"\nbind = "127.0.0.1"\n'
                   '[audio]\nnull = true\n')
    run = tmp_path / "run"
    run.mkdir(mode=0o700)
    env = {"XDG_RUNTIME_DIR": str(run), "XDG_CONFIG_HOME": str(tmp_path / "cfg"),
           "XDG_DATA_HOME": str(tmp_path / "data"), "XDG_STATE_HOME": str(tmp_path / "state"),
           "TERM": "xterm-256color", "PYTHONPATH": str(ROOT)}
    t = Tmux(tmp_path, [sys.executable, "-m", "tui_phone", "--config", str(cfg)], env, size)
    t.wait_for("ready for direct calls", timeout=20)
    return t


def footer(t: Tmux, timeout: float = 10) -> str:
    """The bottom line once the footer has drawn its keys (it composes after the first paint)."""
    deadline = time.monotonic() + timeout
    while True:
        bottom = t.screen().split("\n")[t.size[1] - 1]
        if "^q" in bottom or time.monotonic() > deadline:
            return bottom
        time.sleep(0.1)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_help_and_quit_from_the_dialpad_and_in_the_footer(tmp_path, size):
    t = start(tmp_path, size)
    try:
        bottom = footer(t)
        assert "Help" in bottom and "Quit" in bottom, t.screen()  # at 80 columns too
        t.keys("?")  # the focus starts in the dialpad: ? is no dial character, it opens the help
        t.wait_for("Ctrl+P opens the command palette")
        t.keys("Escape")
        t.wait_gone("Ctrl+P opens the command palette")
        t.keys("d")  # back to the dialpad (Escape left it); focus moves after keys already read
        time.sleep(0.5)
        t.keys(*"bob.q")  # letters still type there, q included
        t.wait_for("bob.q")
        t.keys("F1")
        t.wait_for("Ctrl+P opens the command palette")
        t.keys("F1")
        t.wait_gone("Ctrl+P opens the command palette")
        t.keys("C-c" if size[0] == 80 else "C-q")  # from inside the dialpad
        t.wait_gone("Quit")
    finally:
        t.close()


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_first_call_shown_in_full_and_a_new_call_takes_the_cursor(tmp_path, sipp_dir, size):
    ringing = sipp_uas(sipp_dir, scenario="ringing", duration_ms=500)
    busy = sipp_uas(sipp_dir, scenario="busy")
    t = start(tmp_path, size)
    try:
        first = f"bob@127.0.0.1:{ringing.port}"
        t.keys(*first, "Enter")
        screen = t.wait_for("Connected")
        row = next(line for line in screen.splitlines() if "out" in line and "Connected" in line)
        assert first in row, screen  # the first call's number in full in its row, not "sip:b…"
        t.keys("h")
        t.wait_for("Disconnected")
        assert ringing.wait(10) == 0
        t.keys("d")
        time.sleep(0.5)
        t.keys(*f"busy@127.0.0.1:{busy.port}", "Enter")
        screen = t.wait_for("486 Busy")
        # the detail box describes the new call, not the ended one the cursor sat on
        screen = t.wait_for(f"call 2 to <sip:busy@127.0.0.1:{busy.port}>")
        assert "call 1 to" not in screen
        assert busy.wait(10) == 0
    finally:
        t.close()
        ringing.stop()
        busy.stop()
