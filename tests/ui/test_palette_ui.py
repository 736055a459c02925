"""The command palette (Ctrl+P) drives every action: pilots type into it as a
person does and pick the top hit. Calling a contact runs the real engine
against sipp (the palette's end-to-end pilot); the rest only needs events and
runs on the scripted engine (tests/scripted.py)."""

from textual.command import CommandPalette

from tests.peers import sipp_uas
from tests.ui.test_app import config, scripted_app, until
from tui_phone.app import make_app
from tui_phone.contacts.model import Contact, Number
from tui_phone.events import CallState
from tui_phone.ui.audio import AudioDevices
from tui_phone.ui.commands import ACTIONS
from tui_phone.ui.dialogs import Prompt
from tui_phone.ui.panes import LogPane

NULL = "[audio]\nnull = true\n"
CARDS = ("BEGIN:VCARD\nVERSION:3.0\nN:Lovelace;Ada;;;\nFN:Ada Lovelace\nTEL;TYPE=CELL:+1 212 555 0100\nEND:VCARD\n"
         "BEGIN:VCARD\nVERSION:4.0\nFN:Grace Hopper\nN:Hopper;Grace;;;\nTEL;TYPE=work:+1 202 555 0142\nEND:VCARD\n"
         "BEGIN:VCARD\nVERSION:3.0\nTEL;TYPE=CELL:not a number at all\nEND:VCARD\n")


def top_hit(app) -> str:
    results = app.screen.query_one("CommandList")
    return str(results.get_option_at_index(0).prompt) if results.option_count else ""


async def palette(pilot, query: str, expect: str) -> None:
    """Ctrl+P, type ``query``, wait until ``expect`` is the top hit, Enter."""
    app = pilot.app
    await pilot.press("ctrl+p")
    await until(pilot, lambda: isinstance(app.screen, CommandPalette), what="palette")
    shown = app.screen
    await pilot.press(*query)
    await until(pilot, lambda: expect in top_hit(app), what=f"{expect!r} at the top (got {top_hit(app)!r})")
    await pilot.press("enter")
    await until(pilot, lambda: app.screen is not shown, what="palette closed")


def test_palette_has_every_action():
    titles = " | ".join(title for title, _, _ in ACTIONS)
    for needed in ("Answer", "Hang up", "Hold", "Transfer", "DTMF", "Set status", "Switch theme", "Open log",
                   "Import contacts", "Mute", "Audio devices"):
        assert needed in titles


async def test_palette_imports_contacts_from_a_vcard_file(tmp_path):
    good, missing = tmp_path / "people.vcf", tmp_path / "nope.vcf"
    good.write_text(CARDS)
    app, _ = scripted_app(config(NULL))
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, app.ready.is_set, what="engine")
        await palette(pilot, "import contacts", "Import contacts")
        await until(pilot, lambda: isinstance(app.screen, Prompt), what="path prompt")
        await pilot.press(*str(good), "enter")
        await until(pilot, lambda: any("Imported 2 contact(s)" in n.message for n in app._notifications),
                    what="count")
        assert any("1 card(s) skipped" in n.message for n in app._notifications)
        assert sorted(c.name for c in app.phone.contacts.search("")) == ["Ada Lovelace", "Grace Hopper"]
        logged = "".join(line.text for line in app.query_one(LogPane).lines).replace(" ", "")
        assert "line13:cardhasnoname" in logged  # the skipped card, by its line, in the log pane

        await palette(pilot, "import contacts", "Import contacts")
        await until(pilot, lambda: isinstance(app.screen, Prompt), what="path prompt")
        await pilot.press(*str(missing), "enter")
        await until(pilot, lambda: any("cannot read" in n.message for n in app._notifications), what="error")
        error = next(n.message for n in app._notifications if "cannot read" in n.message)
        assert "nope.vcf" in error and "\n" not in error and "Traceback" not in error


async def test_palette_calls_a_contact_by_name(sipp_dir):
    uas = sipp_uas(sipp_dir, scenario="uas-fast")
    app = make_app(config(NULL))
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, app.ready.is_set, what="engine")
        app.phone.contacts.add(Contact(first="Sipp", last="Service", sip_uri=f"sip:service@127.0.0.1:{uas.port}"))
        app.phone.contacts.add(Contact(first="Ada", last="Lovelace", numbers=(Number("work", "+1 212 555 0100"),)))
        await palette(pilot, "sipp serv", "Call Sipp Service")
        await until(pilot, lambda: app.state.calls and app.state.calls[0].state is CallState.CONNECTED,
                    what="Connected")
        assert f"service@127.0.0.1:{uas.port}" in app.state.calls[0].sip
        await palette(pilot, "hang up", "Hang up")
        await until(pilot, lambda: not app.state.calls, what="hung up")
    assert uas.wait(10) == 0


async def test_palette_status_mute_audio_log_and_theme():
    app, _ = scripted_app(config(NULL))
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await until(pilot, app.ready.is_set, what="engine")
        await palette(pilot, "set status unavail", "Set status: unavailable")
        await until(pilot, lambda: app.state.status == "unavailable", what="unavailable")
        await palette(pilot, "set status avail", "Set status: available")
        await until(pilot, lambda: app.state.status == "available", what="available")

        await palette(pilot, "mute", "Mute / unmute")  # no sound device here: the engine says why
        await until(pilot, lambda: any("nothing to mute" in n.message for n in app._notifications), what="mute")

        await palette(pilot, "audio devices", "Audio devices")
        await until(pilot, lambda: isinstance(app.screen, AudioDevices), what="audio dialog")
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, AudioDevices), what="closed")

        log = app.query_one(LogPane)
        await pilot.press("ctrl+l")
        assert not log.display
        await palette(pilot, "open log", "Open log")
        assert log.display and app.focused is log

        await palette(pilot, "switch theme", "Switch theme")
        await until(pilot, lambda: isinstance(app.screen, CommandPalette), what="theme picker")  # Textual's own
        await pilot.press(*"tui-phone-light")
        await until(pilot, lambda: "tui-phone-light" in top_hit(app), what="light theme listed")
        await pilot.press("enter")
        await until(pilot, lambda: app.theme == "tui-phone-light", what="theme switched")
