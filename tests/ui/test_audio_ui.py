"""The audio UI: the level meter and mute state on the active call, and the
audio devices dialog (D / palette). The app runs its real pjsua2 engine;
without a sound card the dialog is fed Device values (its data path)."""

import pytest
from textual.widgets import Label, OptionList

from tests.peers import Pulse, require, sipp_uas
from tests.ui.test_app import config, scripted_app, until
from tui_phone.app import make_app
from tui_phone.sip.audio import Device
from tui_phone.events import CallState
from tui_phone.ui.audio import AudioDevices, find_devices
from tui_phone.ui.panes import CallDetail, StatusBar, meter, meter_steps

NULL = "[audio]\nnull = true\n"
DEVICES = [Device(0, "Fake Mic", 2, 0, default_in=True), Device(1, "Fake Speaker", 0, 2, default_out=True),
           Device(2, "Fake Headset", 1, 2)]


def prompts(options: OptionList) -> list[str]:
    return [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]


@pytest.fixture
def sound_card(tmp_path, monkeypatch):
    """A private PulseAudio with null sinks: PortAudio in this process then
    lists "pulse" and "default". PortAudio reads its device list once, so it
    is re-initialised here, and again (back to no device) afterwards."""
    for binary in ("pulseaudio", "pactl"):
        require(binary)
    import sounddevice

    with Pulse(tmp_path / "pulse", sinks=("spk", "spk2")) as pulse:
        for k, v in pulse.env.items():
            monkeypatch.setenv(k, v)
        sounddevice._terminate()
        sounddevice._initialize()
        try:
            yield pulse
        finally:
            for k in pulse.env:
                monkeypatch.delenv(k)
    sounddevice._terminate()
    sounddevice._initialize()


async def dialog(pilot, part: str) -> AudioDevices:
    """Wait until the audio devices dialog is up with ``part`` (a selector) composed."""
    app = pilot.app
    await until(pilot, lambda: isinstance(app.screen, AudioDevices) and app.screen.query(part), what="dialog")
    return app.screen


def test_meter_steps_follow_decibels():
    assert [meter_steps(x) for x in (0.0, 0.0005, 0.01, 0.1, 0.5, 1.0, 2.0)] == [0, 0, 2, 3, 4, 5, 5]
    assert meter(2) == "██░░░"


async def dial_200(pilot, app) -> None:
    """Type 200 on the dialpad and wait until the sipp UAS has answered."""
    await pilot.press(*"200", "enter")
    await until(pilot, lambda: app.state.calls and app.state.calls[0].state is CallState.CONNECTED,
                what="Connected")


async def test_no_sound_device_hides_the_meter_during_a_call(sipp_dir):
    uas = sipp_uas(sipp_dir, scenario="uas-fast")
    app = make_app(config(f'proxy = "sip:127.0.0.1:{uas.port}"\n' + NULL))
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, app.ready.is_set, what="engine")
        await until(pilot, lambda: app.state.audio.note, what="audio decided")
        await dial_200(pilot, app)
        await pilot.pause(0.4)  # three meter periods: a meter would be up by now
        detail = app.query_one(CallDetail)
        assert detail.display and "Connected" in str(detail.render())
        assert detail.levels is None and "mic" not in str(detail.render())
        assert "no audio" in str(app.query_one(StatusBar).render())
        await pilot.press("m")  # nothing to mute without a device: said so, not shown as muted
        await pilot.pause(0.2)
        assert any("nothing to mute" in n.message for n in app._notifications)
        assert "muted" not in str(detail.render())
        await pilot.press("h")
        await until(pilot, lambda: not app.state.calls, what="hung up")
    assert uas.wait(10) == 0


async def test_D_opens_the_audio_devices_dialog():  # the dialog asks PortAudio, not the engine
    app, _ = scripted_app(config(NULL))
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, app.ready.is_set, what="engine")
        await pilot.press("escape", "D")
        await dialog(pilot, "#audio-problem, #audio-in")
        devices, problem = find_devices()  # what PortAudio sees on this machine decides what the dialog shows
        if problem:
            assert str(app.screen.query_one("#audio-problem", Label).render()) == problem
            assert "\n" not in problem
        else:
            assert prompts(app.screen.query_one("#audio-in", OptionList))
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, AudioDevices), what="closed")


async def test_audio_dialog_marks_defaults_and_shows_a_failed_switch_in_one_line():
    app = make_app(config(NULL))
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, app.ready.is_set, what="engine")
        app.push_screen(AudioDevices(DEVICES))
        await dialog(pilot, "#audio-in")
        mics, speakers = app.screen.query_one("#audio-in", OptionList), app.screen.query_one("#audio-out", OptionList)
        assert [p.strip() for p in prompts(mics)] == ["Fake Mic  (default)", "Fake Headset"]
        assert [p.strip() for p in prompts(speakers)] == ["Fake Speaker  (default)", "Fake Headset"]
        assert app.focused is mics
        await pilot.press("down", "enter")  # the headset's microphone: the real engine finds no such device
        error = app.screen.query_one("#audio-error", Label)
        await until(pilot, lambda: str(error.render()), what="error line")
        assert "Fake Headset" in str(error.render()) and "\n" not in str(error.render())
        await pilot.press("tab")
        assert app.focused is speakers
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, AudioDevices), what="closed")


async def test_audio_dialog_without_devices_says_why_in_one_line():
    app, _ = scripted_app(config(NULL))
    async with app.run_test(size=(80, 24)) as pilot:
        for devices, problem, expected in (
                ([], "", "No sound devices found: calls connect without sound."),
                ([], "No audio: PortAudio is not available (libportaudio.so.2: cannot open); calls still work "
                     "without sound.", "PortAudio is not available")):
            app.push_screen(AudioDevices(devices, problem))
            await dialog(pilot, "#audio-problem")
            line = str(app.screen.query_one("#audio-problem", Label).render())
            assert expected in line and "\n" not in line
            assert not app.screen.query(OptionList)
            await pilot.press("escape")
            await until(pilot, lambda: not isinstance(app.screen, AudioDevices), what="closed")


async def test_meter_mute_and_device_switch_on_a_real_sound_device(sipp_dir, sound_card):
    uas = sipp_uas(sipp_dir, scenario="uas-fast")
    app = make_app(config(f'proxy = "sip:127.0.0.1:{uas.port}"\n'))
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, app.ready.is_set, what="engine")
        await until(pilot, lambda: app.state.audio.device, what="sound device")
        await dial_200(pilot, app)
        detail = app.query_one(CallDetail)
        await until(pilot, lambda: detail.levels is not None, what="meter")
        assert "mic █" in str(detail.render()) or "mic ░" in str(detail.render())
        assert "spk " in str(detail.render())

        await pilot.press("m")
        await until(pilot, lambda: app.state.audio.muted, what="muted")
        await pilot.pause(0.1)
        assert "mic muted" in str(detail.render()) and "muted" in str(app.query_one(StatusBar).render())
        await pilot.press("m")
        await until(pilot, lambda: not app.state.audio.muted, what="unmuted")

        before = app.state.audio.device
        await pilot.press("D")
        screen = await dialog(pilot, "#audio-out")
        speakers = screen.query_one("#audio-out", OptionList)
        names = [p.strip() for p in prompts(speakers)]
        assert any(n.startswith(f"● {before}  (in use") for n in names)
        other = next(i for i, d in enumerate(screen.outputs) if d.name != before)
        speakers.focus()
        speakers.highlighted = other
        await pilot.press("enter")
        await until(pilot, lambda: app.state.audio.device == screen.outputs[other].name, what="switched")
        await pilot.pause(0.1)
        assert prompts(speakers)[other].strip().startswith(f"● {screen.outputs[other].name}  (in use")
        assert str(screen.query_one("#audio-error", Label).render()) == ""
        await pilot.press("escape")
        assert app.state.calls[0].state is CallState.CONNECTED  # the call stayed up through the switch
        await pilot.press("h")
        await until(pilot, lambda: not app.state.calls, what="hung up")
    assert uas.wait(10) == 0
