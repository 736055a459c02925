"""The call audio's frame format (16 kHz s16 mono, 20 ms) and the sounds
made in it: generated call-progress tones (no bundled sound files) and the
RMS level of a frame. Pure: no pjsua2, no PortAudio."""

from __future__ import annotations

import array
import functools
import math
import sys

CLOCK_RATE = 16000
FRAME_MS = 20
SAMPLES = CLOCK_RATE * FRAME_MS // 1000  # 320
FRAME_BYTES = SAMPLES * 2  # s16 mono
SILENCE = bytes(FRAME_BYTES)

# Generated call-progress tones (no bundled sound files): frequencies in Hz and
# a cadence of (on ms, off ms) pairs, repeated while the tone plays.
TONES: dict[str, tuple[tuple[int, ...], tuple[tuple[int, int], ...]]] = {
    "ring": ((440, 480), ((400, 200), (400, 2000))),  # incoming call: double ring
    "ringback": ((440, 480), ((2000, 4000),)),  # our outgoing call rings at the far end (ITU-T E.180 / NANP)
    "waiting": ((440,), ((300, 9700),)),  # call waiting: one short beep every 10 s over the live call
}


@functools.lru_cache(maxsize=None)
def tone_frames(name: str) -> tuple[tuple[bytes, ...], tuple[bool, ...]]:
    """One cadence cycle of tone ``name`` as 20 ms s16 frames, and whether
    each frame is sounding. Edges fade over 5 ms so the tone does not click."""
    freqs, cadence = TONES[name]
    amp = 0.2 * 32767 / len(freqs)
    fade = CLOCK_RATE // 200
    samples = array.array("h")
    for on_ms, off_ms in cadence:
        n = CLOCK_RATE * on_ms // 1000
        w = [2 * math.pi * f / CLOCK_RATE for f in freqs]
        for i in range(n):
            env = min(1.0, i / fade, (n - 1 - i) / fade)
            samples.append(int(amp * env * sum(math.sin(x * i) for x in w)))
        samples.extend(array.array("h", bytes(CLOCK_RATE * off_ms // 1000 * 2)))
    if sys.byteorder != "little":
        samples.byteswap()
    pcm = samples.tobytes()
    frames = tuple(pcm[i:i + FRAME_BYTES].ljust(FRAME_BYTES, b"\0") for i in range(0, len(pcm), FRAME_BYTES))
    return frames, tuple(f != SILENCE for f in frames)


class Tone:
    """A looping tone source for a device callback: ``next()`` → (frame, sounding)."""

    def __init__(self, name: str):
        self.name = name
        self.frames, self.sounding = tone_frames(name)
        self.pos = 0

    def next(self) -> tuple[bytes, bool]:
        i = self.pos
        self.pos = (i + 1) % len(self.frames)
        return self.frames[i], self.sounding[i]


def rms(data: bytes) -> float:
    """RMS of an s16 frame, 0..1."""
    a = array.array("h", data)
    return math.sqrt(sum(x * x for x in a) / len(a)) / 32768.0 if a else 0.0
