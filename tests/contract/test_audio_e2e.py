"""Call audio end to end through the real ``tui-phone --headless`` (pjsua2 + AudioBridge + PortAudio) and a
real far end, baresip 1.0.0, on a private PulseAudio (tests/peers.py ``Pulse``). Nothing is mocked.

Sound devices: two null sinks. ``spk`` is tui-phone's speaker (its default sink; we record ``spk.monitor``);
``mic`` is where we play a 440 Hz tone with pacat, and ``mic.monitor`` is tui-phone's default source, its
microphone. The two never meet, so there is no loop.

Far end: baresip (auto-answer) plays a 1 kHz WAV with aufile and records what it receives with its sndfile
module (``snd_path``): ``dump-<time>-dec.wav`` is the decoded audio from tui-phone, 8 kHz mono s16, written
as the RTP arrives (so its size is a clock we can read during the call).

The phone's input stream starts with the call and the ALSA-pulse capture needs ~2 s before its first block,
so the tests wait for the tone to show up (polling the files) instead of sleeping a fixed time.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.peers import Baresip, Pulse, baresip_account, make_tone_wav, require, tone_pcm
from tests.phoneproc import HeadlessPhone, direct
from tests.sound import Pcm, tone

pytestmark = pytest.mark.peers

SPK_RATE = 16000  # what we record from spk.monitor
FAR_RATE = 8000  # baresip's sndfile dump (PCMU)


# ------------------------------------------------------------------------------------------------ fixtures
@pytest.fixture
def pulse(tmp_path):
    for b in ("pulseaudio", "pactl", "parec", "pacat"):
        require(b)
    with Pulse(tmp_path / "pulse", sinks=("spk", "mic")) as p:
        p.set_defaults("spk", "mic.monitor")  # PortAudio's "default" device: speaker spk, microphone mic
        yield p


@pytest.fixture
def mic(pulse, tmp_path):
    """A 440 Hz tone playing into the mic sink (tui-phone's microphone) for the whole test."""
    raw = tmp_path / "tone440.raw"
    raw.write_bytes(tone_pcm(60, 440.0, amplitude=0.3))
    p = pulse.play("mic", raw)
    yield p
    pulse.stop_child(p)


@pytest.fixture
def bob(tmp_path):
    """baresip, auto-answer, plays 1 kHz, records what it receives into bob/rec/dump-*-dec.wav."""
    require("baresip")
    rec = tmp_path / "bob" / "rec"
    rec.mkdir(parents=True)
    b = Baresip(tmp_path / "bob", baresip_account("bob"),
                tone_wav=make_tone_wav(tmp_path / "tone1k.wav", seconds=60, freq=1000.0, amplitude=0.3),
                extra_config=f"module          sndfile.so\nsnd_path        {rec}\n")
    b.rec_dir = rec
    try:
        yield b.start()
    finally:
        b.quit()


@pytest.fixture
def phones(tmp_path):
    """make(audio_toml, env) -> a started headless tui-phone (direct account alice); stopped at teardown."""
    made: list[HeadlessPhone] = []

    def make(audio: str = "", env: dict | None = None, name: str = "phone") -> HeadlessPhone:
        p = HeadlessPhone(tmp_path, direct("alice") + audio, name, env=env)
        made.append(p)
        return p.start()

    yield make
    for p in made:
        try:
            p.stop()
        except Exception:  # noqa: BLE001 - stop() killed it
            pass


def call(phone: HeadlessPhone, bob: Baresip) -> int:
    r = phone.api({"mt": "StartCall", "sip": bob.uri})
    assert r["ok"], r
    phone.wait_call_state("Connected", 10, r["id"])
    bob.wait_event("CALL_ESTABLISHED", 10)
    return r["id"]


def far_recording(bob: Baresip, timeout: float = 5) -> Pcm:
    """baresip's sndfile dump of what it receives (opened when the call's audio starts)."""
    deadline = time.monotonic() + timeout
    while not (found := sorted(bob.rec_dir.glob("dump-*-dec.wav"))):
        assert time.monotonic() < deadline, f"baresip wrote no dump-*-dec.wav in {bob.rec_dir}"
        time.sleep(0.05)
    return Pcm(found[-1], FAR_RATE, wav=True)


def hang_up(phone: HeadlessPhone, bob: Baresip, cid: int) -> None:
    assert phone.api({"mt": "DisconnectCall", "id": cid})["ok"]
    bob.wait_event("CALL_CLOSED", 10)


def audio_status(phone: HeadlessPhone) -> dict:
    p = phone.cli("status", "--json")
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)["dev:tui-phone"]["model"]["audio"]


# ------------------------------------------------------------------------------------------------ tests
def test_far_end_1khz_reaches_the_speaker(pulse, bob, phones, tmp_path):
    phone = phones(env=pulse.env)
    assert audio_status(phone)["device"], "tui-phone found no sound device on the private PulseAudio"
    spk = Pcm(tmp_path / "spk.raw", SPK_RATE, wav=False)
    rec = pulse.record("spk.monitor", spk.path, rate=SPK_RATE)  # started early: parec needs a moment
    cid = call(phone, bob)
    start = spk.wait_tone(1000.0, timeout=10)
    spk.wait_samples(start + 2 * SPK_RATE, timeout=6)
    hz, share, rms = tone(spk.window(start, start + 2 * SPK_RATE), SPK_RATE)
    pulse.stop_child(rec)
    print(f"speaker: {hz:.1f} Hz, share {share:.3f}, rms {rms:.3f}, 1 kHz from {start / SPK_RATE:.2f}s on")
    assert abs(hz - 1000) < 20 and share > 0.95, (hz, share, rms)
    assert 0.05 < rms < 0.5, rms  # baresip's tone is 0.3 peak = 0.21 RMS; PCMU keeps it
    hang_up(phone, bob, cid)


def test_microphone_440hz_reaches_the_far_end(pulse, mic, bob, phones):
    phone = phones(env=pulse.env)
    cid = call(phone, bob)
    far = far_recording(bob)
    start = far.wait_tone(440.0, timeout=10)  # the input stream starts with the call (~2 s of silence)
    far.wait_samples(start + 2 * FAR_RATE, timeout=6)
    hz, share, rms = tone(far.window(start, start + 2 * FAR_RATE), FAR_RATE)
    print(f"far end: {hz:.1f} Hz, share {share:.3f}, rms {rms:.3f}, 440 Hz from {start / FAR_RATE:.2f}s of the call")
    assert abs(hz - 440) < 20 and share > 0.95, (hz, share, rms)
    assert 0.1 < rms < 0.4, rms  # 0.3 peak in, no gain on the way
    hang_up(phone, bob, cid)


def test_mute_silences_the_far_end_and_unmute_brings_the_tone_back(pulse, mic, bob, phones):
    phone = phones(env=pulse.env)
    cid = call(phone, bob)
    far = far_recording(bob)
    talk = far.wait_tone(440.0, timeout=10)
    far.wait_samples(talk + FAR_RATE, timeout=4)
    muted_at = far.mark()
    assert phone.api({"mt": "Mute", "on": True})["ok"]
    phone.wait_for(lambda m: m["audio"]["muted"], 5, "audio.muted in the model")
    far.wait_samples(muted_at + 3 * FAR_RATE, timeout=8)
    unmuted_at = far.mark()
    assert phone.api({"mt": "Mute", "on": False})["ok"]
    phone.wait_for(lambda m: not m["audio"]["muted"], 5, "audio unmuted in the model")
    back = far.wait_tone(440.0, timeout=5, since=unmuted_at)
    hang_up(phone, bob, cid)

    before = tone(far.window(talk, muted_at), FAR_RATE)
    # skip 0.5 s after the Mute request (RTP and jitter buffers still carry the tone), stop at the unmute
    silent = tone(far.window(muted_at + FAR_RATE // 2, unmuted_at), FAR_RATE)
    after = tone(far.window(back, back + FAR_RATE // 2), FAR_RATE)
    print(f"far end (Hz, share, rms): talking {before}, muted {silent}, unmuted {after}, "
          f"tone back {(back - unmuted_at) / FAR_RATE:.2f}s after Mute off")
    assert abs(before[0] - 440) < 20 and before[2] > 0.1, before
    assert unmuted_at - muted_at >= int(2.5 * FAR_RATE)
    assert silent[2] < before[2] / 100, (silent, before)  # far below: PCMU of digital silence decodes to ~0
    assert abs(after[0] - 440) < 20 and after[2] > 0.1, after
    assert (back - unmuted_at) / FAR_RATE < 2.0, "the tone took over 2 s to come back after unmute"


@pytest.mark.parametrize("case", ["null-true", "no-such-device", "no-sound-server"])
def test_call_without_a_sound_device_connects_and_stays_up(case, pulse, bob, phones, tmp_path):
    audio, env, why = {
        "null-true": ("[audio]\nnull = true\n", pulse.env, "null = true"),
        "no-such-device": ('[audio]\ninput = "no-such-device"\n', pulse.env, "no-such-device"),
        # no sound server at all (a server over SSH): PortAudio's ALSA devices fail to open, it lists none
        "no-sound-server": ("", {"PULSE_SERVER": f"unix:{tmp_path / 'no-pulse' / 'native'}"}, "no input device"),
    }[case]
    phone = phones(audio, env=env)
    status = audio_status(phone)
    assert status["device"] == "", status  # "" = audio off: the UI shows "no audio"
    assert not status["muted"], status
    # ... and says so once, with the reason (headless: a line on stderr)
    notes = [ln for ln in phone.stderr().splitlines() if "audio off" in ln]
    assert len(notes) == 1 and why in notes[0], phone.stderr()
    cid = call(phone, bob)
    far = far_recording(bob)
    mark = phone.mark()
    t0 = far.mark()
    time.sleep(3)
    assert phone.model["calls"] and phone.model["calls"][0]["state"] == "Connected", phone.model["calls"]
    assert not any(c["state"] != "Connected" for m in phone.models[mark:] for c in m["calls"])
    assert not [e for e in bob.events if e.get("type") == "CALL_CLOSED"], bob.events
    # the null device still clocks the call: RTP (silence) keeps arriving at the far end, 8000 samples/s
    got = (far.mark() - t0) / FAR_RATE
    print(f"{case}: status audio {status}, {got:.2f}s of audio reached baresip in 3 s")
    assert got > 2.0, f"only {got:.2f}s of audio reached baresip in 3 s"
    assert audio_status(phone)["device"] == ""
    hang_up(phone, bob, cid)
    assert "Traceback" not in phone.stderr(), phone.stderr()


# ------------------------------------------------------------------------------------------------ bench figures
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def bench():
    """bench/audio.py's latency (click loop through AudioBridge) and phone (real tui-phone CPU/RSS) parts, once."""
    import subprocess
    import sys

    for b in ("pulseaudio", "pactl", "parec", "pacat", "baresip"):
        require(b)
    p = subprocess.run([sys.executable, str(ROOT / "bench" / "audio.py"), "--parts", "latency,phone",
                        "--clicks", "8", "--seconds", "3", "--idle", "1", "--json"],
                       cwd=ROOT, capture_output=True, text=True, timeout=150)
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("{")]
    assert lines, p.stdout[-2000:] + p.stderr[-3000:]
    res = json.loads(lines[-1])
    print({k: v for k, v in res.items() if k.startswith(("latency_", "queue_", "phone_"))})
    return res


def test_bench_measures_click_latency_and_the_phone_process(bench):
    for part in ("latency_bridge", "latency_floor"):
        r = bench[part]
        # clicks found on both channels (the plain loop keeps one block and may drop a click in a burst)
        assert r["clicks_left"] >= 6 and len(r["delays_ms"]) >= 5, r
        assert max(r["delays_ms"]) - min(r["delays_ms"]) <= 40, r  # a steady path, not stray peaks
    assert 20 <= bench["latency_floor_ms"] <= 300, bench["latency_floor_ms"]
    assert bench["latency_bridge_ms"] >= bench["latency_floor_ms"], bench
    assert bench["phone_call_state"] == "Connected"
    assert bench["phone_audio"]["device"], bench["phone_audio"]  # the phone opened the PulseAudio device
    assert bench["phone_hwm_mb"] <= 120, bench["phone_hwm_mb"]  # issue 7: RSS <= 120 MB
    assert 0 <= bench["phone_cpu_call"] < 50, bench["phone_cpu_call"]


def test_bridge_added_latency_meets_issue_7(bench):
    # the deques' standing level is trimmed to one frame (audio._Level); before that it was ~100 ms
    assert bench["latency_added_ms"] <= 20, (bench["latency_bridge"], bench["latency_floor"])
