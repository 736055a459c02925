"""The audio devices dialog (``D``, or “Audio devices…” in the palette):
pick the microphone and the speaker with the keyboard, during a call too."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option


NO_DEVICES = "No sound devices found: calls connect without sound."


def find_devices() -> tuple[list, str]:
    """PortAudio's devices, or none and a one-line reason (blocking: run it in a thread)."""
    try:
        from ..sip.audio import devices

        found = devices()
    except OSError as e:
        return [], f"No audio: PortAudio is not available ({e}); calls still work without sound."
    if not found:
        return [], NO_DEVICES
    return found, ""


class AudioDevices(ModalScreen[None]):
    """Two lists, microphones and speakers: ● marks the device in use, “default”
    the system's. Enter switches (SetAudio by the device's name); a failure is
    one line under the lists. ``problem`` replaces the lists when there are none."""

    BINDINGS = [Binding("escape", "dismiss", "Close")]

    def __init__(self, devices: list, problem: str = ""):
        super().__init__()
        self.inputs = [d for d in devices if d.inputs > 0]
        self.outputs = [d for d in devices if d.outputs > 0]
        self._using: tuple[str, str] | None = None  # (microphone, speaker) names last marked
        self.problem = problem or ("" if self.inputs or self.outputs else NO_DEVICES)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog audio"):
            yield Label("Audio devices", classes="question")
            if self.problem:
                yield Label(self.problem, id="audio-problem", classes="detail", markup=False)
                return
            yield Label("Microphone", classes="detail")
            yield OptionList(id="audio-in")
            yield Label("Speaker", classes="detail")
            yield OptionList(id="audio-out")
            yield Label("Enter uses it · Tab other list · Escape closes", classes="detail")
            yield Label("", id="audio-error", classes="error", markup=False)

    def on_mount(self) -> None:
        if not self.problem:
            self.show(self.app.state)
            self.query_one("#audio-in" if self.inputs else "#audio-out", OptionList).focus()

    def show(self, state) -> None:
        """Mark the devices in use (called by the app on every state change)."""
        using = (state.audio.input, state.audio.device)
        if self.problem or using == self._using or not self.query("#audio-in"):
            return
        self._using = using
        for list_id, devices, in_use, default in (
                ("#audio-in", self.inputs, state.audio.input, "default_in"),
                ("#audio-out", self.outputs, state.audio.device, "default_out")):
            options = self.query_one(list_id, OptionList)
            keep = options.highlighted
            options.clear_options()
            options.add_options(Option(self._label(d, d.name == in_use, getattr(d, default))) for d in devices)
            options.highlighted = keep if keep is not None else next(
                (i for i, d in enumerate(devices) if d.name == in_use), 0 if devices else None)

    @staticmethod
    def _label(device, in_use: bool, default: bool) -> Text:
        text = Text()
        text.append("● " if in_use else "  ", style="bold green")
        text.append(device.name, style="bold" if in_use else "")
        marks = [m for m, on in (("in use", in_use), ("default", default)) if on]
        if marks:
            text.append(f"  ({', '.join(marks)})", style="dim")
        return text

    @on(OptionList.OptionSelected)
    def _use(self, event: OptionList.OptionSelected) -> None:
        from .intents import DevicePicked

        microphone = event.option_list.id == "audio-in"
        device = (self.inputs if microphone else self.outputs)[event.option_index]
        error = self.query_one("#audio-error", Label)
        error.update("")

        def done(result) -> None:
            if not result.ok:
                error.update((result.error or "failed").splitlines()[0])
            else:
                self.show(self.app.state)

        self.post_message(DevicePicked(device.name, microphone, done))
