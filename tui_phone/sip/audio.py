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

The frame format and the tones are ``tones``; the PortAudio devices and
their streams are ``devices``.
"""

from __future__ import annotations

import collections
import ctypes
import threading
import time

import pjsua2 as pj

from .devices import STREAM, Device, close_stream, devices, find_device, list_devices, open_stream, portaudio
from .tones import CLOCK_RATE, FRAME_BYTES, FRAME_MS, SILENCE, Tone, rms

__all__ = ["AudioBridge", "Device", "devices", "list_devices"]  # the device names, where they always were

QUEUE_FRAMES = 5  # 100 ms bound each way
PRIME_FRAMES = 2  # playback waits for this many blocks before starting (absorbs clock jitter)
TRIM_WINDOW = 50  # frames (1 s): how often a queue's standing level is checked
STALL_S = 2.0  # a running stream whose callback has not run for this long is gone (device unplugged)


class _Level:
    """Keeps a queue's standing level at one frame. The device and pjmedia
    clocks tick at the same rate, so frames queued while a stream starts
    would otherwise stay queued for the whole call as latency (measured:
    ~4.7 frames, 100 ms, on the playback side). Once a second, if the queue
    never went below N > 1 frames, the N - 1 oldest are dropped."""

    __slots__ = ("low", "n")

    def __init__(self):
        self.low, self.n = QUEUE_FRAMES, 0

    def trim(self, q: collections.deque) -> int:
        """Call from the consumer before it takes a frame; returns frames dropped."""
        n = len(q)
        if n < self.low:
            self.low = n
        self.n += 1
        if self.n < TRIM_WINDOW:
            return 0
        excess, self.low, self.n = self.low - 1, QUEUE_FRAMES, 0
        for _ in range(excess):  # only the producer adds meanwhile: the queue has at least this many
            q.popleft()
        return max(excess, 0)


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


def _bv_writer():
    """``write(frame, data)``: set ``frame.buf`` to ``data`` (FRAME_BYTES). ``pj.ByteVector(data)`` converts
    byte by byte in SWIG (~13 us); with the ctypes reader available, one preallocated vector is filled with
    memmove and assigned (a C++ vector copy)."""
    if _read_bv is not _read_bv_ctypes:
        def write(frame, data):
            frame.buf = pj.ByteVector(data)
        return write
    bv = pj.ByteVector(SILENCE)
    ptr = ctypes.c_void_p.from_address(int(bv.this)).value

    def write(frame, data):
        ctypes.memmove(ptr, data, FRAME_BYTES)
        frame.buf = bv
    return write


class _ClockThread:
    """pjmedia's clock thread calls the ports 100 times a second. It is no
    Python thread, so SWIG's director makes a Python thread state for each
    call and destroys it after (PyGILState_Ensure/Release from a count of 0):
    that alone was 0.3 % of a core (measured: 0.85 → 0.54 % for two ports
    doing nothing). One extra count held on the thread keeps its state for
    the thread's life; ``forget`` deletes that state once pjsua has stopped
    (joined) the thread (``setNoDev``)."""

    def __init__(self):
        self.ident: int | None = None
        self._tstate = None

    def pin(self) -> None:
        """Call from a port callback when ``threading.get_ident() != self.ident``."""
        ident = threading.get_ident()
        if any(t.ident == ident for t in threading.enumerate()):
            self.ident = ident  # a Python thread keeps its state anyway (and must never be deleted by another)
            return
        api = ctypes.pythonapi
        api.PyGILState_Ensure()  # we hold the GIL here: only the count goes up
        api.PyThreadState_Get.restype = ctypes.c_void_p
        self.ident, self._tstate = ident, api.PyThreadState_Get()

    def forget(self) -> None:
        """The clock thread has ended (owner thread, after ``setNoDev``): free its kept state."""
        tstate, self._tstate, self.ident = self._tstate, None, None
        if tstate:
            api = ctypes.pythonapi
            api.PyThreadState_Clear.argtypes = api.PyThreadState_Delete.argtypes = [ctypes.c_void_p]
            api.PyThreadState_Clear(tstate)
            api.PyThreadState_Delete(tstate)


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
        self.level = _Level()
        self.clock = bridge.clock
        self.write = _bv_writer()

    def onFrameRequested(self, frame):
        if threading.get_ident() != self.clock.ident:
            self.clock.pin()
        q = self.q
        self.stats["cap_trims"] += self.level.trim(q)
        if q:
            data = q.popleft()
        else:
            data = SILENCE
            self.stats["cap_late"] += 1
        if self.bridge._muted:
            data = SILENCE
        self.stats["cap_frames"] += 1
        frame.type = pj.PJMEDIA_FRAME_TYPE_AUDIO
        self.write(frame, data)
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
        self.clock = bridge.clock

    def onFrameReceived(self, frame):
        if threading.get_ident() != self.clock.ident:
            self.clock.pin()
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


# ----------------------------------------------------------------- bridge
class AudioBridge:
    """The two pjmedia ports (created once, for the engine's lifetime) and the
    sounddevice streams behind them. Streams are opened only while needed
    (``set_active``): the output while there is a call, the microphone only
    while a call carries audio; an idle phone has no device open. Devices are
    kept as the names asked for and resolved when a stream opens, so a
    device switch or a sound server that came back needs no restart."""

    last_reason: str = ""  # why the last create() returned None

    def __init__(self):
        self._cap_q: collections.deque = collections.deque(maxlen=QUEUE_FRAMES)
        self._play_q: collections.deque = collections.deque(maxlen=QUEUE_FRAMES)
        self._stats = dict(cap_frames=0, cap_late=0, cap_drops=0, cap_trims=0, play_frames=0, play_drops=0,
                           play_trims=0, out_late=0, in_blocks=0, out_blocks=0)
        self._muted = False
        self._primed = False
        self._last_in = SILENCE
        self._last_out = SILENCE
        self._tone: Tone | None = None  # played on the output device, over or instead of call audio
        self._ring_tone: Tone | None = None  # the ring, when it has its own device
        self._beat_in = self._beat_out = 0.0  # monotonic time of each stream's last callback
        self._names = {"input": "", "output": "", "ring": ""}  # as asked for: "" = system default
        self.failed = False  # the devices were lost: stay silent until use() picks again
        self.note = ""  # a one-line warning from create() (a ring device that matched nothing)
        self.tap = None  # optional callable(bytes) seeing every frame received from calls (tests)
        self.input_device = self.output_device = self.ring_device = None  # resolved PortAudio indexes
        self._in_stream = self._out_stream = self._ring_stream = None
        self.capture_media = self.playback_media = None
        self.clock = _ClockThread()

    def _name(self, index) -> str:
        try:
            return str(portaudio().query_devices(index)["name"]) if index is not None else ""
        except Exception:  # noqa: BLE001 - a name is cosmetic
            return "sound device"

    @property
    def device_name(self) -> str:
        """The output device's name, for the status line ("" once the device is gone)."""
        return "" if self.failed else self._name(self.output_device)

    @property
    def input_name(self) -> str:
        return "" if self.failed else self._name(self.input_device)

    # ---- construction (owner thread)
    @classmethod
    def create(cls, config_audio: dict) -> "AudioBridge | None":
        """A bridge with its ports and devices chosen (no stream open yet), or
        None with ``AudioBridge.last_reason`` set to a one-line reason (null
        mode, no PortAudio, no matching device)."""
        cls.last_reason = ""
        cfg = config_audio or {}
        if cfg.get("null"):
            cls.last_reason = "audio off: [audio] null = true"
            return None
        try:
            portaudio()
        except OSError as e:
            cls.last_reason = f"audio off: {e}"
            return None
        b = cls()
        error = b.use(cfg.get("input", ""), cfg.get("output", ""), cfg.get("ring", ""))
        if error and cfg.get("ring") and not b.use(cfg.get("input", ""), cfg.get("output", ""), ""):
            b.note = f"[audio] ring: {error}; incoming calls ring on the output device"
            error = ""
        if error:
            cls.last_reason = f"audio off: {error}"
            return None
        try:
            fmt = _fmt()
            b.capture_media = _CapturePort(b)
            b.capture_media.createPort("tui-cap", fmt)
            b.playback_media = _PlaybackPort(b)
            b.playback_media.createPort("tui-play", fmt)
        except Exception as e:  # noqa: BLE001
            b.close()
            cls.last_reason = f"audio off: cannot create the audio ports ({e})".splitlines()[0]
            return None
        return b

    def use(self, input: str | None = None, output: str | None = None, ring: str | None = None) -> str:
        """Switch to the devices matching these names (None: keep, "": system
        default), during a call too: open streams move to the new devices.
        Returns "" or a one-line error; on error nothing changes."""
        names = dict(self._names)
        names.update({k: v for k, v in (("input", input), ("output", output), ("ring", ring)) if v is not None})
        try:
            indexes = self._resolve(names)
        except Exception as e:  # noqa: BLE001 - LookupError, PortAudioError
            return str(e).splitlines()[0] if isinstance(e, LookupError) else f"cannot use the device ({e})"
        was = (self._out_stream is not None, self._in_stream is not None)
        tone = self.tone
        self.set_tone(None)
        self._close_streams()
        self._names, self.failed = names, False
        self.input_device, self.output_device, self.ring_device = indexes
        error = self.set_active(*was)
        self.set_tone(tone)
        return error

    @staticmethod
    def _resolve(names: dict) -> tuple:
        sd = portaudio()
        i = find_device(sd, names["input"], "input")
        o = find_device(sd, names["output"], "output")
        return i, o, find_device(sd, names["ring"], "output") if names["ring"] else o

    def _open_output(self, sd):
        stats, play_q = self._stats, self._play_q
        play_level = _Level()

        def out_cb(outdata, frames, time_info, status):
            self._beat_out = time.monotonic()
            stats["out_blocks"] += 1
            data = SILENCE
            if self._primed or len(play_q) >= PRIME_FRAMES:
                self._primed = True
                stats["play_trims"] += play_level.trim(play_q)
                if play_q:
                    data = play_q.popleft()
                else:
                    stats["out_late"] += 1
                    self._primed = False  # re-prime after an underrun
            tone = self._tone
            if tone is not None:
                frame, sounding = tone.next()
                if sounding or tone.name != "waiting":  # the waiting beep sounds over the call
                    data = frame
            outdata[:] = data

        play_q.clear()
        self._primed = False
        self._beat_out = time.monotonic()
        return sd.RawOutputStream(device=self.output_device, callback=out_cb, **STREAM)

    def _open_input(self, sd):
        stats, cap_q = self._stats, self._cap_q

        def in_cb(indata, frames, time_info, status):
            self._beat_in = time.monotonic()
            if len(cap_q) == cap_q.maxlen:
                stats["cap_drops"] += 1
            data = bytes(indata)
            cap_q.append(data)
            stats["in_blocks"] += 1
            self._last_in = data

        cap_q.clear()
        self._beat_in = time.monotonic()
        return sd.RawInputStream(device=self.input_device, callback=in_cb, **STREAM)

    # ---- running (owner thread)
    def set_active(self, output: bool, input: bool = False) -> str:
        """Open (and start) or close the output and input streams. Returns ""
        or a one-line reason when a device cannot be opened (then nothing is
        left open). After ``lost`` nothing opens until ``use`` is called."""
        if self.failed:
            return ""
        if not output:
            self._close_streams()
            return ""
        try:
            sd = portaudio()
            if self.output_device is None:
                self.input_device, self.output_device, self.ring_device = self._resolve(self._names)
            if self._out_stream is None:
                self._out_stream = open_stream(lambda: self._open_output(sd))
            if input and self._in_stream is None:
                self._in_stream = open_stream(lambda: self._open_input(sd))
            elif not input and self._in_stream is not None:
                st, self._in_stream = self._in_stream, None
                close_stream(st)
        except Exception as e:  # noqa: BLE001 - PortAudioError, LookupError: the device is gone
            self._close_streams()
            return f"cannot open the sound device ({e})".splitlines()[0]
        return ""

    def set_tone(self, name: str | None) -> None:
        """Play a tone from TONES (None: stop). The ring goes to the ring
        device when it is not the output device; the others to the output."""
        if self.tone == name:
            return
        self._tone = self._ring_tone = None
        if self._ring_stream is not None:
            close_stream(self._ring_stream)
            self._ring_stream = None
        if name is None or self.failed:
            return
        if name == "ring" and self.ring_device not in (None, self.output_device):
            tone = self._ring_tone = Tone(name)

            def ring_cb(outdata, frames, time_info, status):
                outdata[:] = tone.next()[0]

            try:
                self._ring_stream = open_stream(lambda: portaudio().RawOutputStream(
                    device=self.ring_device, callback=ring_cb, **dict(STREAM, latency="high")))
                return
            except Exception:  # noqa: BLE001 - ring device gone: ring on the output device instead
                if self._ring_stream is not None:
                    close_stream(self._ring_stream)
                self._ring_tone = self._ring_stream = None
        self._tone = Tone(name)

    @property
    def running(self) -> bool:
        """A device stream is open (``check`` has something to watch)."""
        return any(st is not None for st in (self._in_stream, self._out_stream, self._ring_stream))

    @property
    def tone(self) -> str | None:
        current = self._ring_tone or self._tone
        return current.name if current else None

    def check(self) -> str:
        """"" while the open streams work; a one-line reason once one stopped
        delivering (the device was unplugged or the sound server went away).
        Call it a few times a second from the owner thread."""
        now = time.monotonic()
        for st, beat, kind in ((self._in_stream, self._beat_in, "input"),
                               (self._out_stream, self._beat_out, "output")):
            if st is None:
                continue
            try:
                alive = st.active
            except Exception:  # noqa: BLE001
                alive = False
            if not alive:
                return f"the {kind} device stopped"
            if now - beat > STALL_S:
                return f"no sound from the {kind} device for {STALL_S:.0f} s"
        return ""

    def lost(self) -> None:
        """The devices are gone: close the streams, keep the ports (the calls
        carry on without sound until ``use`` picks a device again)."""
        self.set_tone(None)
        self._close_streams()
        self.failed = True
        self.input_device = self.output_device = self.ring_device = None

    def _close_streams(self) -> None:
        for attr in ("_in_stream", "_out_stream"):
            st = getattr(self, attr)
            setattr(self, attr, None)
            if st is not None:
                close_stream(st)
        self._last_in = self._last_out = SILENCE

    def mute(self, on: bool) -> None:
        self._muted = bool(on)

    @property
    def muted(self) -> bool:
        return self._muted

    def levels(self) -> tuple[float, float]:
        """RMS of the last 20 ms in each direction, 0..1 (input after mute);
        0 while the streams are closed. Safe to call from any thread."""
        return (0.0 if self._muted else rms(self._last_in)), rms(self._last_out)

    def stats(self) -> dict:
        """drops: blocks thrown away because a queue was full or stood above
        one frame (latency trim); late: blocks replaced by silence because a
        queue was empty; frames: 20 ms frames handled by the pjmedia ports
        (both directions)."""
        s = dict(self._stats)
        return dict(drops=s["cap_drops"] + s["play_drops"] + s["cap_trims"] + s["play_trims"],
                    late=s["cap_late"] + s["out_late"],
                    frames=s["cap_frames"] + s["play_frames"], detail=s)

    def close(self) -> None:
        """Stop the streams and destroy the ports (owner thread, before libDestroy)."""
        self.set_tone(None)
        self._close_streams()
        for name in ("capture_media", "playback_media"):
            port = getattr(self, name)
            setattr(self, name, None)
            del port  # last ref: the C++ destructor removes the port from the conference bridge
        self.tap = None

