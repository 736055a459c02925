"""The engine's sound: the sounddevice bridge (``audio.py``) as the calls need it.

Owner thread only (``levels`` excepted). The device streams run only while
there is a call, the tone follows the calls (ring, call waiting, ringback),
and a device that vanishes mid-call falls back to no sound, visibly.
``due`` is set by the call table whenever the calls change.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from ..commands import Mute, Result, SetAudio
from ..events import AudioState, CallState

if TYPE_CHECKING:
    from .pjsua2_engine import PjEngine


class Sound:
    def __init__(self, engine: "PjEngine"):
        self.engine = engine
        self.bridge = None  # AudioBridge; None means the null device
        self.due = False  # the calls changed: recompute streams and tone
        self.pending = True  # start() has not run yet (the engine runs it after the first REGISTERs)
        self._check_at = 0.0

    def check_due(self) -> float:
        """When the running devices are checked next (the owner loop wakes then)."""
        return self._check_at

    def start(self) -> None:
        """The bridge's ports (device streams open only during calls); None
        means the null device: calls connect without sound, and the UI says why once.
        Runs once; later calls do nothing."""
        if not self.pending:
            return
        self.pending = False
        from .audio import AudioBridge

        self.bridge = AudioBridge.create(self.engine.config.audio)
        if self.bridge is None:
            self.engine.emit(AudioState("", False, f"{AudioBridge.last_reason}; calls connect without sound"))
        else:
            self.state(self.bridge.note)

    def state(self, note: str = "") -> None:
        a = self.bridge
        self.engine.emit(AudioState(a.device_name, a.muted, note, a.input_name) if a else AudioState("", False, note))

    def tick(self) -> None:
        """Run the devices while there is a call, pick the tone the calls
        need, and fall back to no sound when a running device vanishes."""
        a = self.bridge
        if a is None:
            return
        reason = ""
        if self.due:
            self.due = False
            live = list(self.engine.calls)
            ringing = any(c.dir == "i" and c.last is CallState.ALERTING and not c.answered for c in live)
            talking = any(c.last is CallState.CONNECTED for c in live)  # a held call does not hear tones
            ringback = any(c.dir == "o" and c.last is CallState.RINGBACK and not c.media_on for c in live)
            # the output while there is a call; the microphone only while a call carries audio
            reason = a.set_active(bool(live), any(c.media_on for c in live))
            a.set_tone("waiting" if ringing and talking else "ring" if ringing else
                       "ringback" if ringback and not talking else None)
        now = time.monotonic()
        if not reason and now >= self._check_at:
            self._check_at = now + 0.5
            reason = a.check()
        if reason:
            name = a.device_name
            a.lost()
            self.state(f"audio device lost ({name}: {reason}); calls continue without sound; "
                       "pick a device (D, or SetAudio) to bring it back")

    def levels(self) -> tuple[float, float] | None:
        """Microphone and speaker level of the last 20 ms (0..1), None with no
        sound device. Any thread: it only reads two byte strings."""
        a = self.bridge
        return a.levels() if a is not None and a.output_device is not None else None

    def set_devices(self, cmd: SetAudio) -> Result:
        """Switch devices; after [audio] null or a lost device this brings sound back."""
        if self.bridge is None:
            from .audio import AudioBridge

            cfg = dict(self.engine.config.audio, null=False)
            cfg.update({k: v for k, v in (("input", cmd.input), ("output", cmd.output), ("ring", cmd.ring))
                        if v is not None})
            self.bridge = AudioBridge.create(cfg)
            if self.bridge is None:
                return Result.fail(AudioBridge.last_reason)
            calls = self.engine.calls
            for call in calls:  # calls already up get the new ports
                self.engine._guard(calls.media_changed, call)
        else:
            error = self.bridge.use(cmd.input, cmd.output, cmd.ring)
            if error:
                return Result.fail(f"audio: {error}")
        self.due = True
        self.state()
        return Result(True)

    def mute(self, cmd: Mute) -> Result:
        if self.bridge is None:
            return Result.fail("no sound device: nothing to mute", "refused")
        self.bridge.mute(cmd.on)
        self.state()
        return Result(True)

    def close(self) -> None:
        if self.bridge is not None:
            self.bridge.close()
            self.bridge = None
