"""The engine's audio behaviour heard at a real (PulseAudio null-sink) device:
generated ring, ringback and call-waiting tones, switching the output device
during a call, and a sound server that vanishes mid-call.

Every test runs the real headless tui-phone (pjsua2 + sounddevice) against
sipp on 127.0.0.1, records the speaker sink's monitor with parec and looks for
the tone's frequencies by FFT.
"""
from __future__ import annotations

import time

import pytest

from tests.peers import Pulse, baresip_account, require, sipp_uac, sipp_uas
from tests.phoneproc import HeadlessPhone, direct
from tests.sound import Pcm

RATE = 16000


@pytest.fixture
def pulse(tmp_path):
    for b in ("pulseaudio", "pactl", "parec"):
        require(b)
    with Pulse(tmp_path / "pulse", sinks=("spk", "spk2")) as p:
        yield p


def config(extra: str = "") -> str:
    return direct("alice") + extra


def listen(pulse: Pulse, tmp_path, source: str = "spk.monitor") -> Pcm:
    """A recorder of `source` running for the whole test (warm: a parec started on demand here sometimes
    delivers nothing for its first second); windows are cut with ``mark()`` and ``heard(since, …)``."""
    rec = Pcm(tmp_path / f"{source}.raw", RATE)
    pulse.record(source, rec.path, RATE, latency_ms=100)  # stopped with the pulse fixture
    time.sleep(0.3)
    return rec


@pytest.fixture
def ear(pulse, tmp_path):
    return lambda source="spk.monitor": listen(pulse, tmp_path, source)


def test_incoming_call_rings_until_answered(tmp_path, pulse, ear, sipp_dir):
    spk = ear()
    with HeadlessPhone(tmp_path, config(), env=pulse.env) as phone:
        uac = sipp_uac(sipp_dir, phone.sip_address, "alice", "uac-wait-bye", timeout=30)
        call = phone.wait_call_state("Alerting", 10)
        ring = spk.heard(spk.mark(), (440, 480, 1000), 3.0)  # one whole cadence: 0.4 on, 0.2 off, 0.4 on, 2 off
        assert ring[440] > 0.2 and ring[480] > 0.2 and ring[1000] < 0.01, ring
        phone.api({"mt": "ConnectCall", "id": call["id"]})
        phone.wait_call_state("Connected", 5)
        time.sleep(0.3)
        after = spk.heard(spk.mark(), (440, 480), 1.5)
        assert after[440] < 0.05 and after[480] < 0.05, after  # the ring stops on answer
        phone.api({"mt": "DisconnectCall", "id": call["id"]})
        assert uac.wait(15) == 0


def test_outgoing_call_hears_ringback(tmp_path, pulse, ear, sipp_dir):
    spk = ear()
    uas = sipp_uas(sipp_dir, scenario="ringing", duration_ms=4000)
    with HeadlessPhone(tmp_path, config(), env=pulse.env) as phone:
        phone.api({"mt": "StartCall", "sip": f"sip:svc@127.0.0.1:{uas.port}"})
        phone.wait_call_state("Ringback", 5)
        heard = spk.heard(spk.mark(), (440, 480), 1.5)  # the first 2 s of the cadence sound
        assert heard[440] > 0.2 and heard[480] > 0.2, heard
        phone.wait_call_state("Connected", 10)
        phone.api({"mt": "DisconnectCall"})
    assert uas.wait(10) == 0


def test_second_call_beeps_instead_of_ringing(tmp_path, pulse, ear, sipp_dir):
    spk = ear()
    with HeadlessPhone(tmp_path, config(), env=pulse.env) as phone:
        first = sipp_uac(sipp_dir, phone.sip_address, "alice", "uac-wait-bye", timeout=40)
        call = phone.wait_call_state("Alerting", 10)
        phone.api({"mt": "ConnectCall", "id": call["id"]})
        phone.wait_call_state("Connected", 5)
        mark, at = phone.mark(), spk.mark()
        second = sipp_uac(sipp_dir, phone.sip_address, "alice", "uac-wait-bye", timeout=40)
        phone.wait_call_state("Alerting", 10, since=mark)
        heard = spk.heard(at, (440, 480), 6.0)  # the beep: 440 Hz alone, 300 ms at once, then every 10 s
        assert heard[440] > 0.2 and heard[480] < 0.02, heard
        for c in phone.model["calls"]:
            phone.api({"mt": "DisconnectCall", "id": c["id"]})
        assert first.wait(15) == 0
        second.wait(15)


def test_switch_output_device_during_a_call(tmp_path, pulse, ear, sipp_dir):
    spk2 = ear("spk2.monitor")
    uas = sipp_uas(sipp_dir, scenario="ringing", duration_ms=30000)
    with HeadlessPhone(tmp_path, config(), env=pulse.env) as phone:
        phone.api({"mt": "StartCall", "sip": f"sip:svc@127.0.0.1:{uas.port}"})
        phone.wait_call_state("Ringback", 5)
        # "pulse" and "default" follow the server's default sink when a stream opens: point it at spk2 and
        # reopen the output there, as a user moving from speakers to a headset would
        pulse.set_defaults("spk2")
        r = phone.api({"mt": "SetAudio", "output": "default"})
        assert r.get("ok") is True, r
        heard = spk2.heard(spk2.mark(), (440, 480), 6.0)  # a whole ringback cadence, wherever it stands
        assert heard[440] > 0.2 and heard[480] > 0.2, heard
        assert phone.model["calls"][0]["state"] == "Ringback"  # the call went on untouched
        bad = phone.api({"mt": "SetAudio", "output": "no-such-headset"})
        assert bad.get("ok") is False and "no-such-headset" in bad.get("error", ""), bad
        phone.api({"mt": "DisconnectCall"})
    uas.wait(10)


def test_sound_server_gone_mid_call_falls_back_to_no_sound(tmp_path, pulse, sipp_dir):
    with HeadlessPhone(tmp_path, config(), env=pulse.env) as phone:
        uac = sipp_uac(sipp_dir, phone.sip_address, "alice", "uac-wait-bye", timeout=40)
        call = phone.wait_call_state("Alerting", 10)
        phone.api({"mt": "ConnectCall", "id": call["id"]})
        phone.wait_call_state("Connected", 5)
        assert phone.model["audio"]["device"]
        mark = phone.mark()
        pulse.stop()  # the sound server (and so every device) disappears
        m = phone.wait_for(lambda m: m["audio"]["device"] == "", 10, "audio off after the device vanished", mark)
        assert m["calls"] and m["calls"][0]["state"] == "Connected"
        time.sleep(1.0)
        assert phone.model["calls"][0]["state"] == "Connected"  # the call stays up
        assert phone.proc.poll() is None
        pulse.start()  # the sound server is back; picking the speaker alone brings sound back
        mark = phone.mark()
        r = phone.api({"mt": "SetAudio", "output": ""})
        assert r.get("ok") is True, r
        m = phone.wait_for(lambda m: m["audio"]["device"] != "", 5, "audio back", mark)
        assert m["calls"][0]["state"] == "Connected"
        phone.api({"mt": "DisconnectCall", "id": call["id"]})
        assert uac.wait(15) == 0


def test_sound_server_restarted_while_idle_next_call_rings(tmp_path, pulse, sipp_dir):
    with HeadlessPhone(tmp_path, config(), env=pulse.env) as phone:
        assert phone.model["audio"]["device"]
        pulse.stop()  # no device is open while idle, so nothing notices...
        pulse.start()  # ...and the next call opens the devices afresh
        spk = listen(pulse, tmp_path)
        uac = sipp_uac(sipp_dir, phone.sip_address, "alice", "uac-wait-bye", timeout=30)
        call = phone.wait_call_state("Alerting", 10)
        ring = spk.heard(spk.mark(), (440, 480), 3.0)
        assert ring[440] > 0.2 and ring[480] > 0.2, ring
        assert phone.model["audio"]["device"]
        phone.api({"mt": "DisconnectCall", "id": call["id"]})
        uac.wait(15)


def test_ringback_while_another_call_is_on_hold(tmp_path, pulse, ear, sipp_dir, baresip_factory):
    spk = ear()
    bob = baresip_factory(baresip_account("bob"))  # answers, and takes our hold re-INVITE
    uas = sipp_uas(sipp_dir, scenario="ringing", duration_ms=8000)
    with HeadlessPhone(tmp_path, config(), env=pulse.env) as phone:
        a = phone.api({"mt": "StartCall", "sip": bob.uri})
        phone.wait_call_state("Connected", 10)
        bob.wait_event("CALL_ESTABLISHED")
        assert phone.api({"mt": "Hold", "id": a["id"]})["ok"]
        phone.wait_call_state("Holding", 5)
        phone.api({"mt": "StartCall", "sip": f"sip:svc@127.0.0.1:{uas.port}"})  # a consultation call
        phone.wait_call_state("Ringback", 5)
        heard = spk.heard(spk.mark(), (440, 480), 1.5)
        assert heard[440] > 0.2 and heard[480] > 0.2, heard
        for c in phone.model["calls"]:
            phone.api({"mt": "DisconnectCall", "id": c["id"]})
    uas.wait(10)


def test_ring_device_that_matches_nothing_is_a_notice_not_silence(tmp_path, pulse, sipp_dir):
    with HeadlessPhone(tmp_path, config('\n[audio]\nring = "no-such-bell"\n'), env=pulse.env) as phone:
        m = phone.wait_for(lambda m: m["audio"]["note"], 10, "a note about the ring device")
        assert "no-such-bell" in m["audio"]["note"] and m["audio"]["device"], m["audio"]
