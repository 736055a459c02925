"""The phone as a service, end to end: a headless phone, TUIs attached to it
in tmux (locally and through ``ssh -L``), and a phone started through
``ssh -R`` that plays into the local PulseAudio. Real processes only:
tui-phone, sipp, baresip, sshd, pulseaudio."""

import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.e2e.test_tmux import ROOT, Tmux
from tests.peers import Baresip, Pulse, Sshd, baresip_account, make_tone_wav, require, sipp_uac, sipp_uas, \
    stop_process
from tests.phoneproc import HeadlessPhone, direct
from tests.sound import Pcm, tone
from tui_phone.service import socket_owner

XDG = ("XDG_RUNTIME_DIR", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME")


def tui(tmp_path: Path, name: str, phone: HeadlessPhone, *args: str, env: dict | None = None) -> Tmux:
    """A TUI in its own tmux server: ``tui-phone --config CFG ARGS`` with the phone's XDG dirs."""
    require("tmux")
    where = tmp_path / name
    where.mkdir()
    view_env = {**{k: phone.env[k] for k in XDG}, "TERM": "xterm-256color", "PYTHONPATH": str(ROOT), **(env or {})}
    return Tmux(where, [sys.executable, "-m", "tui_phone", "--config", str(phone.config), *args], view_env)


def tui_pid(t: Tmux) -> int:
    """The tui-phone process in the tmux pane (the pane's shell runs it as its child)."""
    shell = int(subprocess.run(["tmux", "-S", t.sock, "list-panes", "-t", t.name, "-F", "#{pane_pid}"],
                               capture_output=True, text=True, check=True).stdout.split()[0])
    children = Path(f"/proc/{shell}/task/{shell}/children").read_text().split()
    return int(children[0])


@pytest.fixture
def phone(tmp_path):
    p = HeadlessPhone(tmp_path, direct())
    p.start()
    yield p
    p.stop()


def test_two_attached_tuis_ring_either_answers_and_a_killed_one_leaves_the_call(tmp_path, sipp_dir, phone):
    one = tui(tmp_path, "one", phone)  # plain `tui-phone`: a phone runs for this config, so it attaches
    two = tui(tmp_path, "two", phone, "attach")
    try:
        for t in (one, two):
            t.wait_for("attached", 15)
        uac = sipp_uac(sipp_dir, phone.sip_address, "alice", "uac-wait-bye", timeout=60)
        for t in (one, two):
            t.wait_for("Alerting", 10)
        one.keys("a")
        for t in (one, two):
            t.wait_for("Connected", 10)
        os.kill(tui_pid(one), signal.SIGKILL)
        time.sleep(2)
        assert uac.returncode is None, "the call ended when an attached TUI was killed"
        assert [c["state"] for c in phone.model["calls"]] == ["Connected"]
        assert "Connected" in two.screen()
        two.keys("h")
        two.wait_for("Disconnected", 10)
        assert uac.wait(15) == 0
        assert "already running" not in phone.stderr() and "Traceback" not in phone.stderr()
    finally:
        one.close()
        two.close()


@pytest.fixture
def sshd(tmp_path):
    with Sshd(tmp_path / "ssh") as s:
        yield s


def test_tui_attached_through_ssh_socket_forwarding_places_and_ends_a_call(tmp_path, sipp_dir, sshd):
    uas = sipp_uas(sipp_dir, scenario="ringing", duration_ms=300)
    phone = HeadlessPhone(tmp_path, direct() + f'proxy = "sip:127.0.0.1:{uas.port}"\n').start()
    local = tmp_path / "tp.sock"  # the recipe: ssh -L /tmp/tp.sock:$XDG_RUNTIME_DIR/tui-phone/control.sock host
    link = sshd.forward("-L", f"{local}:{phone.socket}", wait_for=local)
    elsewhere = tmp_path / "laptop"  # the view's own XDG dirs: nothing of the phone's but the forwarded socket
    (elsewhere / "run").mkdir(parents=True, mode=0o700)
    view = tui(tmp_path, "view", phone, "attach", "--socket", str(local),
               env={"XDG_RUNTIME_DIR": str(elsewhere / "run"), "XDG_CONFIG_HOME": str(elsewhere / "cfg"),
                    "XDG_DATA_HOME": str(elsewhere / "data"), "XDG_STATE_HOME": str(elsewhere / "state")})
    try:
        view.wait_for("attached", 15)
        view.keys("2", "0", "0", "Enter")
        view.wait_for("Connected", 15)
        call = phone.wait_call_state("Connected", 5)
        assert call["num"] == "200"
        view.keys("h")
        view.wait_for("Disconnected", 10)
        phone.wait_for(lambda m: not m["calls"], 10, "the call ended on the phone")
        assert not (elsewhere / "run" / "tui-phone").exists()  # the view started no engine of its own
    finally:
        view.close()
        stop_process(link)
        phone.stop()


def test_phone_started_through_ssh_plays_into_the_forwarded_pulseaudio(tmp_path, sshd):
    for b in ("pulseaudio", "pactl", "parec", "baresip"):
        require(b)
    with Pulse(tmp_path / "pulse", sinks=("spk", "mic")) as pulse:
        pulse.set_defaults("spk", "mic.monitor")
        bob = Baresip(tmp_path / "bob", baresip_account("bob"),
                      tone_wav=make_tone_wav(tmp_path / "tone1k.wav", seconds=60, freq=1000.0, amplitude=0.3))
        bob.start()
        forwarded = tmp_path / "pulse-remote.sock"  # the recipe: ssh -R /tmp/pulse-$USER.sock:…/pulse/native
        phone = HeadlessPhone(tmp_path, direct(), env={"PULSE_SERVER": f"unix:{forwarded}"})
        remote_env = " ".join(f"{k}={v}" for k, v in phone.env.items() if k in (*XDG, "PULSE_SERVER")) + \
            f" PYTHONPATH={ROOT}"
        ssh = sshd.argv("-R", f"{forwarded}:{pulse.socket}")
        phone.launcher = lambda argv: [*ssh, f"cd {ROOT} && env {remote_env} {shlex.join(argv)}"]
        spk = Pcm(tmp_path / "spk.raw", 16000, wav=False)
        rec = pulse.record("spk.monitor", spk.path, rate=16000)
        try:
            phone.start(30)
            doctor = subprocess.run([*sshd.argv(), f"cd {ROOT} && env {remote_env} {sys.executable} -m tui_phone "
                                     f"--config {phone.config} doctor"], capture_output=True, text=True, timeout=60)
            sound = next(line for line in doctor.stdout.splitlines() if line.startswith("sound server"))
            assert "forwarded through SSH (sshd" in sound and "default sink spk" in sound, doctor.stdout
            assert doctor.returncode == 0 and "phone: running" in doctor.stdout
            # memfd descriptors cannot cross a forwarded socket: the phone turned shared memory off by itself
            assert "sound server forwarded over SSH: shared memory off" in phone.stderr()
            r = phone.api({"mt": "StartCall", "sip": bob.uri})
            assert r["ok"], r
            phone.wait_call_state("Connected", 10, r["id"])
            start = spk.wait_tone(1000.0, timeout=15)
            spk.wait_samples(start + 2 * 16000, timeout=8)
            hz, share, rms = tone(spk.window(start, start + 2 * 16000), 16000)
            print(f"forwarded speaker: {hz:.1f} Hz, share {share:.3f}, rms {rms:.3f}")
            assert abs(hz - 1000) < 20 and share > 0.95 and rms > 0.05, (hz, share, rms)
            assert phone.api({"mt": "DisconnectCall", "id": r["id"]})["ok"]
        finally:
            pulse.stop_child(rec)
            phone.stop()
            bob.quit()
