"""ALSA and PortAudio print their errors straight to file descriptor 2: the
terminal the TUI draws on. The real tui-phone in tmux, its sound server gone
while idle, places a call: the device cannot open, the screen says so in one
toast, and the libraries' lines land in native.log (--debug), not on screen."""

import sys
import time
from pathlib import Path

import pytest

from tests.e2e.test_tmux import ROOT, Tmux, phone_setup
from tests.peers import Pulse, require, sipp_uas


@pytest.fixture
def pulse(tmp_path):
    for b in ("pulseaudio", "pactl", "tmux"):
        require(b)
    p = Pulse(tmp_path / "pulse", sinks=("spk",)).start()
    yield p
    p.stop()


def test_library_errors_stay_off_the_screen(tmp_path, pulse, sipp_dir):
    uas = sipp_uas(sipp_dir, scenario="ringing", duration_ms=3000)
    cfg, env = phone_setup(tmp_path, uas.port)
    state = Path(env["XDG_STATE_HOME"])
    t = Tmux(tmp_path, [sys.executable, "-m", "tui_phone", "--debug", "--config", str(cfg)],
             {**env, "PYTHONPATH": str(ROOT), **pulse.env})
    try:
        t.wait_for("direct", 15)
        time.sleep(1.0)  # the engine has chosen its devices (none is open while idle)
        pulse.stop()
        t.keys(*"200", "Enter")
        screen = t.wait_for("lost", 15)  # the toast: audio device lost (...)
        time.sleep(0.5)
        screen = t.screen()
        assert "ALSA lib" not in screen and "Expression" not in screen, screen
        native = state / "tui-phone" / "native.log"
        deadline = time.monotonic() + 5
        while "ALSA lib" not in (native.read_text(errors="replace") if native.exists() else ""):
            assert time.monotonic() < deadline, f"no ALSA lines in {native}"
            time.sleep(0.1)
        assert native.stat().st_mode & 0o077 == 0
    finally:
        t.close()
