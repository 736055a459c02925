"""Reading recorded call audio in tests and benches: growing s16 mono files
(parec raw, baresip's sndfile WAV still being written) and what is in them."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np


def tone(x: np.ndarray, rate: int) -> tuple[float, float, float]:
    """(peak frequency Hz, share of spectral energy within ±50 Hz of it, RMS 0..1) of s16 samples."""
    a = x.astype(np.float64)
    rms = float(np.sqrt(np.mean(a * a)) / 32768) if a.size else 0.0
    a = a - a.mean()
    if a.size < 64 or not a.any():
        return 0.0, 0.0, rms
    spec = np.abs(np.fft.rfft(a * np.hanning(a.size))) ** 2
    hz = np.fft.rfftfreq(a.size, 1 / rate)
    k = int(spec[1:].argmax()) + 1
    band = (hz > hz[k] - 50) & (hz < hz[k] + 50)
    return float(hz[k]), float(spec[band].sum() / spec.sum()), rms


def is_tone(x: np.ndarray, rate: int, freq: float) -> bool:
    hz, share, rms = tone(x, rate)
    return abs(hz - freq) < 20 and share > 0.9 and rms > 0.05


def band_share(x: np.ndarray, rate: int, freqs) -> dict[int, float]:
    """Share of the spectral energy within ±15 Hz of each frequency (0 for silence)."""
    spec = np.abs(np.fft.rfft(x.astype(np.float64) * np.hanning(x.size))) ** 2
    hz = np.fft.rfftfreq(x.size, 1 / rate)
    total = spec.sum() or 1.0
    return {f: round(float(spec[(hz > f - 15) & (hz < f + 15)].sum() / total), 3) for f in freqs}


class Pcm:
    """A growing s16 mono file: raw (parec) or a WAV still being written (sndfile; header sizes not final)."""

    def __init__(self, path: Path, rate: int, wav: bool = False):
        self.path, self.rate, self.wav = path, rate, wav

    def samples(self) -> np.ndarray:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return np.zeros(0, dtype="<i2")
        if self.wav:
            i = data.find(b"data")
            data = data[i + 8:] if i >= 0 else b""
        return np.frombuffer(data[:len(data) // 2 * 2], dtype="<i2")

    def mark(self) -> int:
        """Samples on disk now."""
        return len(self.samples())

    def seconds(self) -> float:
        return self.mark() / self.rate

    def window(self, start: int, end: int | None = None) -> np.ndarray:
        return self.samples()[start:end]

    def wait_tone(self, freq: float, timeout: float, since: int = 0, span: float = 0.5) -> int:
        """Wait until the last `span` s (after sample `since`) hold `freq`; return the sample index where that
        window starts."""
        n = int(span * self.rate)
        deadline = time.monotonic() + timeout
        last = None
        while True:
            x = self.samples()
            if len(x) - since >= n:
                last = tone(x[-n:], self.rate)
                if is_tone(x[-n:], self.rate, freq):
                    return len(x) - n
            if time.monotonic() > deadline:
                raise AssertionError(f"no {freq:.0f} Hz in {self.path.name} within {timeout}s: "
                                     f"{len(x) / self.rate:.2f}s on disk, last window (Hz, share, rms) {last}")
            time.sleep(0.1)

    def wait_samples(self, count: int, timeout: float, required: bool = True) -> None:
        """Wait until `count` samples are on disk; after `timeout` fail, or (not `required`) return anyway."""
        deadline = time.monotonic() + timeout
        while self.mark() < count:
            if time.monotonic() > deadline:
                if not required:
                    return
                raise AssertionError(f"{self.path.name}: {self.mark()} samples on disk, waited for {count}")
            time.sleep(0.05)

    def heard(self, since: int, freqs, seconds: float) -> dict[int, float]:
        """`band_share` of the `seconds` after sample `since`, once they are on disk (judging what came
        if they do not within 3× as long)."""
        n = int(seconds * self.rate)
        self.wait_samples(since + n, 3 * seconds + 2, required=False)
        x = self.window(since, since + n)
        assert x.size > self.rate // 2, f"{self.path.name}: only {x.size} samples after {since}"
        return band_share(x, self.rate, freqs)
