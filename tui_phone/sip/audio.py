"""sounddevice (PortAudio) <-> pjsua2 conference bridge.

The pjsua2 wheel has no sound device (``setNullDev``), so call audio goes
through two ``pj.AudioMediaPort`` objects:

* ``capture_media``  (a source): pjmedia's clock thread calls
  ``onFrameRequested`` 50x/s; it pops the oldest 20 ms block that the
  sounddevice input callback pushed.  Connect ``capture_media.startTransmit(call_audio)``.
* ``playback_media`` (a sink): ``onFrameReceived`` gets the mixed call audio
  and pushes it for the sounddevice output callback.  Connect
  ``call_audio.startTransmit(playback_media)``.

Between each pair a bounded ``collections.deque`` (append/popleft are atomic
under the GIL, so no lock) is the jitter buffer: when full the oldest block is
dropped (``drops``); when empty at pull time silence is used (``late``).

All methods are meant to be called on the pjsua2 owner thread (ports are
created/destroyed there).  Callbacks do no logging, take no locks and only
copy bytes.

Frame conversion: ``bytes(frame.buf)`` on a SWIG ``ByteVector`` iterates in
Python (~300 us for 640 bytes); reading the vector's data pointer with ctypes
(libstdc++ ``std::vector`` layout, checked at import) costs ~2 us.  Writing is
``pj.ByteVector(bytes)`` (~13 us).  See ``_read_bv``.
"""

from __future__ import annotations

import collections
import ctypes
import math
import sys

import pjsua2 as pj

CLOCK_RATE = 16000
FRAME_MS = 20
SAMPLES = CLOCK_RATE * FRAME_MS // 1000  # 320
FRAME_BYTES = SAMPLES * 2  # s16 mono
QUEUE_FRAMES = 5  # 100 ms bound each way
PRIME_FRAMES = 2  # playback waits for this many blocks before starting (absorbs clock jitter)
SILENCE = bytes(FRAME_BYTES)


# ----------------------------------------------------------------- ByteVector <-> bytes
def _read_bv_slow(bv) -> bytes:
    return bytes(tuple(bv))


def _read_bv_ctypes(bv) -> bytes:
    n = bv.size()
    if not n:
        return b""
    ptr = ctypes.c_void_p.from_address(int(bv.this)).value
    return ctypes.string_at(ptr, n)


def _pick_reader():
    try:
        probe = bytes(range(256)) * 3
        if _read_bv_ctypes(pj.ByteVector(probe)) == probe:
            return _read_bv_ctypes
    except Exception:
        pass
    return _read_bv_slow


_read_bv = _pick_reader()


# ----------------------------------------------------------------- ports
def _fmt() -> "pj.MediaFormatAudio":
    f = pj.MediaFormatAudio()
    f.type = pj.PJMEDIA_TYPE_AUDIO
    f.clockRate = CLOCK_RATE
    f.channelCount = 1
    f.bitsPerSample = 16
    f.frameTimeUsec = FRAME_MS * 1000
    f.avgBps = f.maxBps = CLOCK_RATE * 16
    return f


class _CapturePort(pj.AudioMediaPort):
    """Source for the conference bridge: device input -> calls."""

    def __init__(self, bridge: "AudioBridge"):
        super().__init__()
        self.q = bridge._cap_q
        self.stats = bridge._stats
        self.bridge = bridge

    def onFrameRequested(self, frame):
        q = self.q
        if q:
            data = q.popleft()
        else:
            data = SILENCE
            self.stats["cap_late"] += 1
        if self.bridge._muted:
            data = SILENCE
        self.stats["cap_frames"] += 1
        frame.type = pj.PJMEDIA_FRAME_TYPE_AUDIO
        frame.buf = pj.ByteVector(data)
        frame.size = FRAME_BYTES

    def onFrameReceived(self, frame):  # nothing transmits to the capture port
        pass


class _PlaybackPort(pj.AudioMediaPort):
    """Sink for the conference bridge: calls -> device output."""

    def __init__(self, bridge: "AudioBridge"):
        super().__init__()
        self.q = bridge._play_q
        self.stats = bridge._stats
        self.bridge = bridge

    def onFrameReceived(self, frame):
        if frame.type != pj.PJMEDIA_FRAME_TYPE_AUDIO:
            data = SILENCE
        else:
            data = _read_bv(frame.buf)
            if len(data) != FRAME_BYTES:
                data = (data + SILENCE)[:FRAME_BYTES]
        q = self.q
        if len(q) == q.maxlen:
            self.stats["play_drops"] += 1  # deque(maxlen) drops the oldest on append
        q.append(data)
        self.stats["play_frames"] += 1
        self.bridge._last_out = data
        tap = self.bridge.tap
        if tap is not None:
            tap(data)

    def onFrameRequested(self, frame):  # nothing is pulled from the playback port
        frame.type = pj.PJMEDIA_FRAME_TYPE_NONE


# ----------------------------------------------------------------- devices
def _sd():
    """Import sounddevice; raises OSError when PortAudio is missing."""
    import sounddevice

    return sounddevice


def list_devices() -> list[str]:
    """One line per PortAudio device, e.g. ``"3 pulse (in 32, out 32) [default in/out]"``."""
    sd = _sd()
    try:
        d_in, d_out = sd.default.device
    except Exception:
        d_in = d_out = -1
    out = []
    for i, d in enumerate(sd.query_devices()):
        marks = [m for m, k in (("in", d_in), ("out", d_out)) if k == i]
        line = f"{i} {d['name']} (in {d['max_input_channels']}, out {d['max_output_channels']})"
        if marks:
            line += " [default " + "/".join(marks) + "]"
        out.append(line)
    return out


def _find_device(sd, name: str, kind: str):
    """Index of the first device whose name contains ``name`` (case-insensitive)
    and has channels of ``kind`` ('input'/'output'); the default when ``name``
    is empty. Raises LookupError."""
    key = f"max_{kind}_channels"
    devs = sd.query_devices()
    if not name:
        idx = sd.default.device[0 if kind == "input" else 1]
        if idx is not None and idx >= 0 and devs[idx][key] > 0:
            return idx
        for i, d in enumerate(devs):
            if d[key] > 0:
                return i
        raise LookupError(f"no {kind} device")
    for i, d in enumerate(devs):
        if name.lower() in d["name"].lower() and d[key] > 0:
            return i
    raise LookupError(f"no {kind} device matches {name!r}")


# ----------------------------------------------------------------- bridge
class AudioBridge:
    last_reason: str = ""  # why the last create() returned None

    def __init__(self):
        self._cap_q: collections.deque = collections.deque(maxlen=QUEUE_FRAMES)
        self._play_q: collections.deque = collections.deque(maxlen=QUEUE_FRAMES)
        self._stats = dict(cap_frames=0, cap_late=0, cap_drops=0, play_frames=0, play_drops=0,
                           out_late=0, in_blocks=0, out_blocks=0)
        self._muted = False
        self._primed = False
        self._last_in = SILENCE
        self._last_out = SILENCE
        self.tap = None  # optional callable(bytes) seeing every frame received from calls (tests)
        self.input_device = self.output_device = self.ring_device = None
        self._in_stream = self._out_stream = None
        self.capture_media = self.playback_media = None

    @property
    def device_name(self) -> str:
        """The output device's name, for the status line."""
        try:
            return str(_sd().query_devices(self.output_device)["name"])
        except Exception:  # noqa: BLE001 - a name is cosmetic
            return "sound device"

    # ---- construction (owner thread)
    @classmethod
    def create(cls, config_audio: dict) -> "AudioBridge | None":
        """A running bridge, or None with ``AudioBridge.last_reason`` set to a
        one-line reason (null mode, no PortAudio, no matching device, open failed)."""
        cls.last_reason = ""
        cfg = config_audio or {}
        if cfg.get("null"):
            cls.last_reason = "audio off: [audio] null = true"
            return None
        try:
            sd = _sd()
        except OSError as e:
            cls.last_reason = f"audio off: PortAudio library not found ({e})"
            return None
        b = cls()
        try:
            b.input_device = _find_device(sd, cfg.get("input", ""), "input")
            b.output_device = _find_device(sd, cfg.get("output", ""), "output")
            try:
                b.ring_device = _find_device(sd, cfg.get("ring", ""), "output")
            except LookupError:
                b.ring_device = b.output_device
        except Exception as e:  # LookupError, PortAudioError
            cls.last_reason = f"audio off: {e}"
            return None
        try:
            b._open(sd)
        except Exception as e:
            b.close()
            cls.last_reason = f"audio off: cannot open device ({type(e).__name__}: {e})".splitlines()[0]
            return None
        return b

    def _open(self, sd) -> None:
        stats, cap_q, play_q = self._stats, self._cap_q, self._play_q

        def in_cb(indata, frames, time_info, status):
            if len(cap_q) == cap_q.maxlen:
                stats["cap_drops"] += 1
            data = bytes(indata)
            cap_q.append(data)
            stats["in_blocks"] += 1
            self._last_in = data

        def out_cb(outdata, frames, time_info, status):
            stats["out_blocks"] += 1
            if not self._primed:
                if len(play_q) < PRIME_FRAMES:
                    outdata[:] = SILENCE
                    return
                self._primed = True
            if play_q:
                outdata[:] = play_q.popleft()
            else:
                stats["out_late"] += 1
                self._primed = False  # re-prime after an underrun
                outdata[:] = SILENCE

        common = dict(samplerate=CLOCK_RATE, blocksize=SAMPLES, channels=1, dtype="int16", latency="low")
        self._in_stream = sd.RawInputStream(device=self.input_device, callback=in_cb, **common)
        self._out_stream = sd.RawOutputStream(device=self.output_device, callback=out_cb, **common)
        fmt = _fmt()
        self.capture_media = _CapturePort(self)
        self.capture_media.createPort("tui-cap", fmt)
        self.playback_media = _PlaybackPort(self)
        self.playback_media.createPort("tui-play", fmt)
        self._in_stream.start()
        self._out_stream.start()

    # ---- API (owner thread)
    def mute(self, on: bool) -> None:
        self._muted = bool(on)

    @property
    def muted(self) -> bool:
        return self._muted

    def levels(self) -> tuple[float, float]:
        """RMS of the last 20 ms in each direction, 0..1 (input after mute)."""
        return (0.0 if self._muted else _rms(self._last_in)), _rms(self._last_out)

    def stats(self) -> dict:
        """drops: blocks thrown away because a queue was full; late: blocks
        replaced by silence because a queue was empty; frames: 20 ms frames
        handled by the pjmedia ports (both directions)."""
        s = dict(self._stats)
        return dict(drops=s["cap_drops"] + s["play_drops"], late=s["cap_late"] + s["out_late"],
                    frames=s["cap_frames"] + s["play_frames"], detail=s)

    def close(self) -> None:
        """Stop the streams and destroy the ports (owner thread, before libDestroy)."""
        for st in (self._in_stream, self._out_stream):
            if st is not None:
                try:
                    st.abort()
                    st.close()
                except Exception:
                    pass
        self._in_stream = self._out_stream = None
        for name in ("capture_media", "playback_media"):
            port = getattr(self, name)
            setattr(self, name, None)
            del port  # last ref: the C++ destructor removes the port from the conference bridge
        self.tap = None


def _rms(data: bytes) -> float:
    try:
        import numpy as np

        a = np.frombuffer(data, dtype="<i2").astype(np.float32)
        return float(np.sqrt(np.mean(a * a)) / 32768.0) if a.size else 0.0
    except ImportError:  # pragma: no cover
        import array

        a = array.array("h", data)
        return math.sqrt(sum(x * x for x in a) / len(a)) / 32768.0 if a else 0.0


if __name__ == "__main__":  # python -m tui_phone.sip.audio  -> device list
    try:
        print("\n".join(list_devices()) or "no audio devices (PortAudio found none)")
    except OSError as e:
        print(f"PortAudio not available: {e}", file=sys.stderr)
        sys.exit(1)
