"""The sound devices, through sounddevice (PortAudio): listing and matching
them by name, and opening, starting and closing their streams with a time
limit (a vanished sound server can block PortAudio for good). No pjsua2:
``audio.AudioBridge`` joins these streams to the conference bridge."""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass

from .tones import CLOCK_RATE, SAMPLES

PA_TIMEOUT_S = 3.0  # a PortAudio open/start/abort that takes longer is stuck (sound server gone mid-call)
STREAM = dict(samplerate=CLOCK_RATE, blocksize=SAMPLES, channels=1, dtype="int16", latency="low")


def portaudio():
    """Import sounddevice; raises OSError (one line) when PortAudio is missing
    or cannot start (sounddevice raises PortAudioError for the latter)."""
    if "sounddevice" in sys.modules:
        return sys.modules["sounddevice"]
    try:
        import sounddevice
    except OSError as e:
        raise OSError(f"PortAudio library not found ({e})") from e
    except Exception as e:  # noqa: BLE001 - PortAudioError from Pa_Initialize
        raise OSError(f"PortAudio cannot start ({e})".splitlines()[0]) from e
    _unload_alsa_plugins()
    return sounddevice


def _unload_alsa_plugins() -> None:
    """PortAudio's device scan (at import) opens every PCM the ALSA config
    names, and alsa-lib keeps each plugin's library loaded: the a52 encoder
    alone maps libavcodec and its codecs (~11 MB resident, issue 17). Its
    global config freed, alsa-lib unloads the plugins no open device uses
    and reads the config again at the next open."""
    import ctypes

    try:  # loaded already by PortAudio's ALSA host API (Linux); elsewhere there is none
        ctypes.CDLL("libasound.so.2").snd_config_update_free_global()
    except (OSError, AttributeError):  # no ALSA (another host API): nothing was loaded
        pass


@dataclass(frozen=True)
class Device:
    """A PortAudio device as the user picks it: ``[audio] input/output/ring`` match ``name``."""

    index: int
    name: str
    inputs: int
    outputs: int
    default_in: bool = False
    default_out: bool = False

    def __str__(self) -> str:
        line = f"{self.index} {self.name} (in {self.inputs}, out {self.outputs})"
        marks = [m for m, on in (("in", self.default_in), ("out", self.default_out)) if on]
        return line + (" [default " + "/".join(marks) + "]" if marks else "")


def devices() -> list[Device]:
    """The sound devices PortAudio sees (raises OSError when PortAudio is missing)."""
    sd = portaudio()
    try:
        d_in, d_out = sd.default.device
    except Exception:  # noqa: BLE001 - no default device
        d_in = d_out = -1
    return [Device(i, str(d["name"]), int(d["max_input_channels"]), int(d["max_output_channels"]),
                   i == d_in, i == d_out)
            for i, d in enumerate(sd.query_devices())]


def list_devices() -> list[str]:
    """One line per PortAudio device, e.g. ``"3 pulse (in 32, out 32) [default in/out]"``."""
    return [str(d) for d in devices()]


def find_device(sd, name: str, kind: str):
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
    for exact in (True, False):  # an exact name first: "default" must not pick "sysdefault"
        for i, d in enumerate(devs):
            if d[key] > 0 and (name.lower() == d["name"].lower() if exact else name.lower() in d["name"].lower()):
                return i
    raise LookupError(f"no {kind} device matches {name!r}")



def open_stream(make):
    """``make()`` (a sounddevice stream), started, within the time limit. A
    stream is never dropped while PortAudio may call it: sounddevice frees
    its callback with the object, and PortAudio's thread would then jump
    into freed memory (a segfault of the whole process). So a stream that
    fails to start is closed, and one that opens after the caller gave up
    is closed as soon as it has."""
    def run():
        stream = make()
        try:
            stream.start()
        except BaseException:
            _close(stream)
            raise
        return stream

    return timed(run, late=close_stream)


def _close(stream) -> None:
    stream.abort()
    stream.close()


def close_stream(stream) -> None:
    try:
        timed(lambda: _close(stream))
    except Exception:  # noqa: BLE001 - a stream of a vanished device
        pass


def timed(fn, late=None):
    """``fn()`` (a PortAudio open/start/abort) with a time limit. When the
    sound server vanishes mid-call, ALSA's PortAudio calls can block for
    good; the SIP owner thread must not block with them. On timeout the call
    is left behind on a daemon thread, sounddevice's exit handler (which
    would block on the same stream) is dropped, and TimeoutError is raised;
    when that call returns after all, ``late(result)`` runs on its thread."""
    box: list = []  # (ok, value) of the call; None first when the caller stopped waiting
    lock = threading.Lock()
    done = threading.Event()

    def run():
        try:
            result = (True, fn())
        except BaseException as e:  # noqa: BLE001 - handed to the caller
            result = (False, e)
        with lock:
            abandoned = bool(box)
            box.append(result)
        done.set()
        if abandoned and result[0] and late is not None:
            late(result[1])

    threading.Thread(target=run, name="portaudio-call", daemon=True).start()
    if not done.wait(PA_TIMEOUT_S):
        with lock:
            if not box:
                box.append(None)
        if box[0] is None:
            import atexit

            atexit.unregister(portaudio()._exit_handler)
            raise TimeoutError(f"the sound device did not answer within {PA_TIMEOUT_S:.0f} s")
    ok, value = box[0]
    if not ok:
        raise value
    return value


if __name__ == "__main__":  # python -m tui_phone.sip.devices  -> device list
    try:
        print("\n".join(list_devices()) or "no audio devices (PortAudio found none)")
    except OSError as e:
        print(f"PortAudio not available: {e}", file=sys.stderr)
        sys.exit(1)
