"""``tui-phone service install|uninstall`` in a temp HOME (the unit passes
``systemd-analyze verify``), ``tui-phone doctor`` against a real private
PulseAudio, and ``attach`` refusing to start an engine."""

import os
import stat
import subprocess
import sys
from pathlib import Path

from tests.peers import Pulse, require

ROOT = Path(__file__).resolve().parents[2]


def cli(home: Path, *args, env: dict | None = None):
    base = {k: v for k, v in os.environ.items() if k not in ("XDG_CONFIG_HOME", "PULSE_SERVER")}
    return subprocess.run([sys.executable, "-m", "tui_phone", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=60, env={**base, "HOME": str(home), "XDG_RUNTIME_DIR": str(home / "run"),
                                           "XDG_DATA_HOME": str(home / "data"), **(env or {})})


def test_install_verify_uninstall_round_trip(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    config = tmp_path / "my config.toml"  # a space: ExecStart quotes it
    config.write_text('[[accounts]]\nname = "alice"\nuri = "sip:alice@127.0.0.1"\n')
    r = cli(home, "--config", str(config), "service", "install")
    assert r.returncode == 0, r.stderr
    unit = home / ".config" / "systemd" / "user" / "tui-phone.service"
    assert r.stdout.splitlines() == [f"wrote {unit}", "start it now and at every login: "
                                     "systemctl --user enable --now tui-phone"]
    assert stat.S_IMODE(unit.stat().st_mode) == 0o600
    assert stat.S_IMODE((home / ".config" / "systemd").stat().st_mode) == 0o700
    text = unit.read_text()
    assert "Restart=on-failure" in text and "WantedBy=default.target" in text
    exec_line = next(line for line in text.splitlines() if line.startswith("ExecStart="))
    assert exec_line.endswith(f'--config "{config}" --headless')
    require("systemd-analyze")
    (home / "run").mkdir(mode=0o700)
    verify = subprocess.run(["systemd-analyze", "verify", "--user", str(unit)], capture_output=True, text=True,
                            timeout=60, env={**os.environ, "HOME": str(home), "XDG_RUNTIME_DIR": str(home / "run")})
    problems = [line for line in verify.stderr.splitlines() if "tui-phone.service" in line]
    assert verify.returncode == 0 and not problems, verify.stderr
    # enabled by hand as systemctl would: uninstall removes the link too
    wants = unit.parent / "default.target.wants"
    wants.mkdir()
    (wants / "tui-phone.service").symlink_to(unit)
    again = cli(home, "--config", str(config), "service", "install")
    assert again.stdout.startswith(f"updated {unit}")
    r = cli(home, "service", "uninstall")
    assert r.returncode == 0 and not unit.exists() and not (wants / "tui-phone.service").is_symlink()
    assert f"removed {unit}" in r.stdout
    r = cli(home, "service", "uninstall")
    assert r.returncode == 1 and r.stderr.count("\n") == 1 and "no tui-phone service is installed" in r.stderr


def test_attach_without_a_phone_exits_3_and_starts_nothing(tmp_path):
    home = tmp_path / "home"
    (home / "run").mkdir(parents=True, mode=0o700)
    r = cli(home, "attach", "--socket", str(tmp_path / "none.sock"))
    assert r.returncode == 3 and r.stderr.strip() == (
        f"tui-phone: no running tui-phone to attach to (socket {tmp_path / 'none.sock'})")
    assert not (home / "run" / "tui-phone").exists()  # no engine, no socket of its own


def test_doctor_names_the_local_sound_server(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    with Pulse(tmp_path / "pulse") as pulse:
        r = cli(home, "doctor", env=pulse.env)
    assert r.returncode == 0, r.stdout + r.stderr
    line = next(line for line in r.stdout.splitlines() if line.startswith("sound server"))
    assert "local (pulseaudio pid" in line and "default sink nullsink" in line
    assert "phone: not running" in r.stdout and "no desktop session" in r.stdout


def test_doctor_says_when_no_sound_server_answers(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    r = cli(home, "doctor", env={"PULSE_SERVER": f"unix:{tmp_path}/nothing"})
    assert r.returncode == 1 and f"nobody answers on {tmp_path}/nothing (PULSE_SERVER)" in r.stdout
