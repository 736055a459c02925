"""AudioBridge (tui_phone/sip/audio.py): sounddevice <-> pjsua2.

The end-to-end check runs bench/audio.py in a subprocess (own PulseAudio null sink in a temp XDG_RUNTIME_DIR, own
pjsua2 Endpoint: only one per process, and PortAudio must start after XDG_RUNTIME_DIR is set), calls baresip playing
1 kHz and finds 1 kHz by FFT in the sink's monitor and in the frames the bridge received.
"""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.peers import require

ROOT = Path(__file__).resolve().parents[2]


def test_null_mode_returns_none_with_reason():
    from tui_phone.sip.audio import AudioBridge

    assert AudioBridge.create({"null": True, "input": "", "output": "", "ring": ""}) is None
    assert "null = true" in AudioBridge.last_reason


def test_unmatched_device_returns_none_with_reason():
    from tui_phone.sip.audio import AudioBridge

    try:
        import sounddevice  # noqa: F401
    except OSError:
        pytest.skip("PortAudio missing")
    assert AudioBridge.create({"input": "no-such-device-xyz", "output": "", "ring": "", "null": False}) is None
    assert AudioBridge.last_reason.startswith("audio off:")
    assert "\n" not in AudioBridge.last_reason


def test_bytevector_fast_path():
    import pjsua2 as pj

    from tui_phone.sip import audio

    data = bytes(range(256)) * 2 + bytes(128)
    assert audio._read_bv(pj.ByteVector(data)) == data
    assert audio._read_bv is audio._read_bv_ctypes  # ~2 us instead of ~300 us per 20 ms frame


def test_bytevector_writer_fills_the_frame():
    import pjsua2 as pj

    from tui_phone.sip import audio

    write = audio._bv_writer()
    for data in (bytes(range(256)) * 2 + bytes(128), audio.SILENCE, b"\x7f" * audio.FRAME_BYTES):
        frame = pj.MediaFrame()
        write(frame, data)
        assert audio._read_bv(frame.buf) == data  # a copy: the next write must not change this frame
    assert audio._read_bv(frame.buf) == b"\x7f" * audio.FRAME_BYTES


_CLOCK_SCRIPT = r"""
import ctypes, json, time
import pjsua2 as pj
from tui_phone.sip.audio import AudioBridge, _CapturePort, _PlaybackPort, _fmt

def tstates():  # the interpreter's thread states
    api = ctypes.pythonapi
    for f in ("PyInterpreterState_Get", "PyInterpreterState_ThreadHead", "PyThreadState_Next"):
        getattr(api, f).restype = ctypes.c_void_p
    api.PyInterpreterState_ThreadHead.argtypes = api.PyThreadState_Next.argtypes = [ctypes.c_void_p]
    n, t = 0, api.PyInterpreterState_ThreadHead(api.PyInterpreterState_Get())
    while t:
        n, t = n + 1, api.PyThreadState_Next(t)
    return n

ep = pj.Endpoint(); ep.libCreate(); cfg = pj.EpConfig()
cfg.uaConfig.threadCnt = 0; cfg.uaConfig.mainThreadOnly = True
cfg.logConfig.level = cfg.logConfig.consoleLevel = 0
ep.libInit(cfg); ep.libStart(); ep.audDevManager().setNoDev()
b = AudioBridge()
b.capture_media = _CapturePort(b); b.capture_media.createPort("c", _fmt())
b.playback_media = _PlaybackPort(b); b.playback_media.createPort("p", _fmt())
b.capture_media.startTransmit(b.playback_media)
out = {"before": tstates(), "during": [], "after": [], "frames": []}
for _ in range(4):  # what the engine does per call: the clock on, then off (setNoDev joins its thread), forget
    ep.audDevManager().setNullDev()
    time.sleep(0.3)
    out["during"].append(tstates())
    out["pinned"] = b.clock.ident is not None and b.clock._tstate is not None
    ep.audDevManager().setNoDev()
    b.clock.forget()
    out["after"].append(tstates())
    out["frames"].append(b.stats()["frames"])
print(json.dumps(out))
b.close(); ep.libDestroy()
"""


def test_the_clock_threads_python_state_is_kept_during_a_call_and_freed_after():
    """audio._ClockThread: pjmedia's clock thread keeps one Python thread state while it runs (SWIG would
    make and destroy one per frame), and the engine's ``forget`` after setNoDev frees it: none piles up."""
    p = subprocess.run([sys.executable, "-c", _CLOCK_SCRIPT], cwd=ROOT, capture_output=True, text=True,
                       timeout=60)
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("{")]
    assert p.returncode == 0 and lines, p.stdout[-2000:] + p.stderr[-2000:]
    res = json.loads(lines[-1])
    assert res["pinned"], res
    assert res["during"] == [res["before"] + 1] * 4, res  # the clock thread's one kept state
    assert res["after"] == [res["before"]] * 4, res  # freed each time
    assert all(b - a >= 20 for a, b in zip([0] + res["frames"], res["frames"])), res  # frames flowed each time


def test_baresip_1khz_reaches_output_device():
    for b in ("pulseaudio", "pactl", "parec", "baresip"):
        require(b)
    p = subprocess.run([sys.executable, str(ROOT / "bench" / "audio.py"), "--seconds", "4", "--idle", "1",
                        "--parts", "call", "--json"],  # the latency and phone parts: test_audio_e2e.py
                       cwd=ROOT, capture_output=True, text=True, timeout=120)
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("{")]
    assert lines, p.stdout[-2000:] + p.stderr[-2000:]
    res = json.loads(lines[-1])
    assert res["call_state"] == "CONFIRMED"
    assert abs(res["monitor_peak_hz"] - 1000) < 20 and res["monitor_peak_energy"] > 0.9, res
    assert abs(res["tap_peak_hz"] - 1000) < 20, res
    assert res["monitor_rms"] > 0.05, res
    assert res["drop_late_pct"] <= 1.0, res
    assert p.returncode == 0, res


def test_a_stuck_portaudio_call_times_out_instead_of_blocking_the_sip_thread():
    import threading
    import time

    from tui_phone.sip import devices

    assert devices.timed(lambda: 7) == 7
    with pytest.raises(ValueError):
        devices.timed(lambda: int("x"))
    release = threading.Event()
    t = time.monotonic()
    with pytest.raises(TimeoutError, match="did not answer"):
        devices.timed(release.wait)  # like Pa_AbortStream on a sound server that vanished mid-call
    assert devices.PA_TIMEOUT_S <= time.monotonic() - t < devices.PA_TIMEOUT_S + 1
    release.set()


def on_a_private_pulse(tmp_path, code: str) -> dict:
    """Run ``code`` in a Python of its own whose PortAudio sees a private PulseAudio; its last JSON line."""
    from tests.peers import Pulse

    for b in ("pulseaudio", "pactl"):
        require(b)
    with Pulse(tmp_path / "pulse") as pulse:
        p = subprocess.run([sys.executable, "-c", code], env={**pulse._env()}, capture_output=True,
                           text=True, timeout=60)
    return json.loads(p.stdout.strip().splitlines()[-1])


LATE_OPEN = r"""
import gc, json, time
import sounddevice as sd
from tui_phone.sip import devices

devices.PA_TIMEOUT_S = 0.2
opened = []

def make():  # PortAudio answering after the caller gave up (a loaded sound server)
    time.sleep(0.6)
    opened.append(sd.RawOutputStream(callback=lambda o, f, t, s: None, **devices.STREAM))
    return opened[-1]

try:
    devices.open_stream(make)
    out = {"raised": False}
except TimeoutError as e:
    out = {"raised": str(e)}
deadline = time.monotonic() + 5
while not (opened and opened[0].closed) and time.monotonic() < deadline:
    time.sleep(0.05)
out["opened"] = bool(opened)
out["closed"] = bool(opened) and opened[0].closed
print(json.dumps(out))
"""


def test_a_stream_that_opens_after_the_caller_gave_up_is_closed(tmp_path):
    """Dropped open, its sounddevice object (and callback) would be freed while PortAudio's thread still
    calls it: a segfault of the whole phone, seconds later (seen once in CI as a crash at an engine's start)."""
    res = on_a_private_pulse(tmp_path, LATE_OPEN)
    assert "did not answer" in res["raised"], res
    assert res["opened"] and res["closed"], res


UNLOADED = r"""
import json, time
from tui_phone.sip.devices import STREAM, portaudio

def mapped(name):
    return sum(name in line for line in open("/proc/self/maps"))

sd = portaudio()  # PortAudio's device scan opened every PCM the ALSA config names
after_scan = {"avcodec": mapped("libavcodec"), "a52": mapped("pcm_a52")}
calls = []
stream = sd.RawOutputStream(callback=lambda o, f, t, s: calls.append(f), **STREAM)
stream.start()
time.sleep(3)
stream.close()
print(json.dumps({**after_scan, "callbacks": len(calls), "devices": len(sd.query_devices())}))
"""


def test_alsa_plugins_the_device_scan_loaded_are_unloaded_and_sound_still_plays(tmp_path):
    """Issue 17 (RSS in a call ≤ 50 MB): the scan left every ALSA plugin's library mapped, the a52
    encoder's libavcodec alone ~11 MB resident. After it, alsa-lib's global config is freed, which
    unloads plugins no open device uses; a stream opened afterwards still plays."""
    res = on_a_private_pulse(tmp_path, UNLOADED)
    assert res["avcodec"] == 0 and res["a52"] == 0, res
    assert res["devices"] >= 1 and res["callbacks"] > 20, res
