"""The first five minutes (issue 15): one pilot per item that a new user hit.
Quitting with a call up runs the real pjsua2 engine against sipp (the BYE
and the time it takes are the point); the rest only needs events and runs on
the scripted engine (tests/scripted.py)."""

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

from tests.peers import sipp_uas
from tests.ui.test_app import config, scripted_app, until
from tui_phone.app import make_app
from tui_phone.contacts.model import Contact, Number
from tui_phone.events import CallState
from tui_phone.ui.contacts import ContactForm, NumberPicker
from tui_phone.ui.dialogs import Confirm
from tui_phone.ui.panes import CallDetail, CallList, StatusBar

ROOT = Path(__file__).resolve().parents[2]


def toasts(app) -> list[str]:
    return [f"{n.title}: {n.message}" for n in app._notifications]


def log_text(app) -> str:
    return "".join(line.text for line in app.query_one("LogPane").lines)  # lines wrap at the pane's width


# 1 ---------------------------------------------------------------------------------------
async def test_a_theme_with_a_bad_colour_is_skipped_and_the_app_starts():
    themes = Path(os.environ["XDG_CONFIG_HOME"]) / "tui-phone" / "themes"
    themes.mkdir(parents=True)
    (themes / "broken.toml").write_text('name = "broken"\nprimary = "#268BD2"\nsecondary = "#12345"\n')
    app, _ = scripted_app(config('[ui]\ntheme = "broken"\n'))
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, app.ready.is_set, what="engine")
        assert app.theme == "tui-phone"  # fell back
        assert "broken" not in app.available_themes  # so the palette cannot pick it either
        assert f"{themes / 'broken.toml'}:3: secondary: not a colour: '#12345'" in log_text(app)
        await until(pilot, lambda: any("'broken' cannot be used" in t for t in toasts(app)), what="notice")


def test_config_check_reports_a_bad_theme_file(tmp_path):
    themes = tmp_path / "cfg" / "tui-phone" / "themes"
    themes.mkdir(parents=True)
    (themes / "mine.toml").write_text('name = "mine"\nprimary = "#268BD2"\nbackgound = "#000000"\n')
    cfg = tmp_path / "config.toml"
    cfg.write_text('[ui]\ntheme = "mine"\n')
    r = subprocess.run([sys.executable, "-m", "tui_phone", "--config", str(cfg), "config", "check"],
                       env={**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "cfg")}, capture_output=True,
                       text=True, cwd=ROOT, timeout=30)
    assert r.returncode == 2
    assert f"{themes / 'mine.toml'}:3: backgound: unknown key" in r.stderr
    assert "[ui] theme: no usable theme named 'mine'" in r.stderr
    assert "Traceback" not in r.stderr


# 4 ---------------------------------------------------------------------------------------
async def test_contacts_keys_work_on_arrival_and_the_form_asks_before_discarding():
    app, _ = scripted_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, app.ready.is_set, what="engine")
        await pilot.press("f3")
        await pilot.pause(0.1)
        assert app.focused.id == "contact-list"
        await pilot.press("n")  # a key, not "n" typed into the search
        await until(pilot, lambda: isinstance(app.screen, ContactForm), what="form")
        labels = [str(label.render()) for label in app.screen.query(".field-label")]
        assert labels == ["First name", "Last name", "Email", "Job title", "Company"]
        await pilot.press(*"Ada")
        await pilot.press("escape")  # half filled: asks
        await until(pilot, lambda: isinstance(app.screen, Confirm), what="discard?")
        await pilot.press("n")  # keep editing
        await until(pilot, lambda: isinstance(app.screen, ContactForm), what="back in the form")
        assert app.screen.query_one("#f-first").value == "Ada"
        await pilot.press("escape", "y")
        await until(pilot, lambda: not isinstance(app.screen, (ContactForm, Confirm)), what="discarded")
        assert app.phone.contacts.search("Ada") == []
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, ContactForm), what="form")
        await pilot.press("escape")  # nothing typed: closes at once
        await until(pilot, lambda: not isinstance(app.screen, ContactForm), what="closed")
        await pilot.press("slash")
        assert app.focused.id == "contact-search"
        await pilot.press("escape")
        assert app.focused.id == "contact-list"


# 6 ---------------------------------------------------------------------------------------
async def test_ringing_toast_follows_the_call():
    app, engine = scripted_app()
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await until(pilot, app.ready.is_set, what="engine")
        await pilot.press("escape", "s")  # unavailable: calls are rejected, nothing rings
        await until(pilot, lambda: app.state.status == "unavailable", what="unavailable")
        app.clear_notifications()
        engine.incoming()  # turned away with 486 by the engine (the real one: tests/contract)
        await until(pilot, lambda: app.state.ended, what="rejected")
        assert app.state.ended[-1].code == 486
        await pilot.pause(0.3)
        assert not any(t.startswith("Ringing") for t in toasts(app)), toasts(app)
        await pilot.press("s")
        await until(pilot, lambda: app.state.status == "available", what="available")
        ringing = engine.incoming()
        await until(pilot, lambda: any(t.startswith("Ringing") for t in toasts(app)), what="ringing toast")
        await pilot.press("a")
        await until(pilot, lambda: app.state.calls and app.state.calls[0].state is CallState.CONNECTED,
                    what="Connected")
        await until(pilot, lambda: not any(t.startswith("Ringing") for t in toasts(app)), timeout=1,
                    what="the Ringing toast gone once answered")
        await pilot.press("h")
        await until(pilot, lambda: not app.state.calls, what="hung up")
        assert [type(c).__name__ for c in engine.sent[-2:]] == ["ConnectCall", "DisconnectCall"]
        assert engine.sent[-1].id == ringing


# 9, 10 -----------------------------------------------------------------------------------
async def test_dtmf_shows_in_the_call_and_quitting_says_what_it_does(sipp_dir):
    uas = sipp_uas(sipp_dir, scenario="ringing", duration_ms=100)
    app = make_app(config())
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, app.ready.is_set, what="engine")
        await pilot.press(*f"sip:service@127.0.0.1:{uas.port}", "enter")
        await until(pilot, lambda: app.state.calls and app.state.calls[0].state is CallState.CONNECTED,
                    what="Connected")
        await pilot.press("1", "2", "#")  # on the call list: DTMF
        await until(pilot, lambda: "DTMF sent: 12#" in str(app.query_one(CallDetail).render()), what="DTMF")
        started = time.monotonic()
        quitting = asyncio.ensure_future(pilot.press("ctrl+q"))
        await until(pilot, lambda: app.query_one(StatusBar).note, timeout=1, what="quitting note")
        assert app.query_one(StatusBar).note == "quitting… (hanging up 1 call)"
        assert "quitting…" in str(app.query_one(StatusBar).render())
        await quitting
    assert time.monotonic() - started < 3.5  # QUIT_LIMIT with a call up, plus the app's own exit
    assert uas.wait(10) == 0  # the call got its BYE


# 5 (the palette and the API path too) ------------------------------------------------------
async def test_a_call_started_from_outside_takes_the_cursor_off_an_ended_row():
    busy, ringing = "sip:service@127.0.0.1:5098", "sip:service@127.0.0.1:5099"
    app, _ = scripted_app(busy=(busy,))
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, app.ready.is_set, what="engine")
        await pilot.press(*busy, "enter")
        await until(pilot, lambda: app.state.ended and not app.state.calls, what="busy call ended")
        from tui_phone.commands import Source, StartCall

        result = await app.phone.execute(StartCall(ringing), Source.SOCKET)
        await until(pilot, lambda: app.query_one(CallList).selected_id() == result.id, what="cursor on it")
        await until(pilot, lambda: f"call {result.id} to" in str(app.query_one(CallDetail).render()),
                    what="detail")
        await until(pilot, lambda: app.state.calls[0].state is CallState.CONNECTED, what="Connected")
        await pilot.press("h")
        await until(pilot, lambda: not app.state.calls, what="hung up")


# 12 --------------------------------------------------------------------------------------
async def test_a_name_in_the_dialpad_calls_the_contact_or_a_sip_user():
    app, engine = scripted_app(config('proxy = "sip:127.0.0.1:5099"\n'))
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, app.ready.is_set, what="engine")
        app.phone.contacts.add(Contact(first="Bob", last="Builder", numbers=(Number("work", "201"),)))
        app.phone.contacts.add(Contact(first="Carol", last="Singer",
                                       numbers=(Number("work", "202"), Number("mobile", "203"))))
        await pilot.press(*"bob", "enter")  # one number: called at once
        await until(pilot, lambda: app.state.calls or app.state.ended, what="call to Bob")
        await until(pilot, lambda: app.state.calls, what="call to Bob")
        assert app.state.calls[0].sip == "sip:201@127.0.0.1:5099"
        await pilot.press("h")
        await until(pilot, lambda: not app.state.calls, what="ended")
        await pilot.press("d", *"carol", "enter")  # two numbers: asks which
        await until(pilot, lambda: isinstance(app.screen, NumberPicker), what="which number")
        await pilot.press("down", "enter")
        await until(pilot, lambda: app.state.calls, what="call to Carol")
        assert app.state.calls[0].sip == "sip:203@127.0.0.1:5099"
        await pilot.press("h")
        await until(pilot, lambda: not app.state.calls, what="ended")
        await pilot.press("d", *"dave", "enter")  # nobody: a SIP user at the account's domain
        await until(pilot, lambda: app.state.calls, what="call to dave")
        assert app.state.calls[0].sip == "sip:dave@127.0.0.1"
        await pilot.press("h")
        await until(pilot, lambda: not app.state.calls, what="ended")
    assert [c.sip for c in app.state.ended] == ["sip:201@127.0.0.1:5099", "sip:203@127.0.0.1:5099", "sip:dave@127.0.0.1"]
    assert len(engine.sent) == 6


# 8 ---------------------------------------------------------------------------------------
async def test_an_import_from_the_cli_shows_in_the_running_tui(tmp_path):
    vcf = tmp_path / "people.vcf"
    vcf.write_text("BEGIN:VCARD\r\nVERSION:3.0\r\nUID:urn:uuid:1\r\nN:Lovelace;Ada;;;\r\nFN:Ada Lovelace\r\n"
                   "TEL;TYPE=WORK:+1 212 555 0100\r\nEND:VCARD\r\n")
    app, _ = scripted_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, app.ready.is_set, what="engine")
        await pilot.press("f3")
        table = app.query_one("#contact-list")
        await pilot.pause(0.3)
        assert table.row_count == 0
        for _ in range(2):  # the same file twice: one contact
            r = await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "tui_phone", "contacts", "import",
                                                         str(vcf)], capture_output=True, text=True, cwd=ROOT,
                                        timeout=30)
            assert r.returncode == 0, r.stderr
        await until(pilot, lambda: table.row_count == 1, timeout=2, what="the import on screen")
        await pilot.pause(0.6)
        assert table.row_count == 1


# 7 ---------------------------------------------------------------------------------------
def test_open_spawn_says_why_the_terminal_did_not_start(tmp_path):
    term = tmp_path / "fake-term"
    term.write_text("#!/bin/sh\necho 'cannot open display: :0' >&2\nexit 1\n")
    term.chmod(0o755)
    run = tmp_path / "run"  # private and empty: no phone runs
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.update(TERMINAL=str(term), XDG_RUNTIME_DIR=str(run))
    r = subprocess.run([sys.executable, "-m", "tui_phone", "open", "--spawn", "tel:200"], env=env,
                       capture_output=True, text=True, cwd=ROOT, timeout=30)
    assert r.returncode == 1
    assert "did not start: cannot open display: :0 (no display" in r.stderr


# 3 (the history: the tmux tests cover the call list) ---------------------------------------
async def test_history_at_80_columns_keeps_names_whole():
    from tui_phone.history import HistoryEntry

    app, _ = scripted_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, app.ready.is_set, what="engine")
        now = time.time()
        db = app.phone.contacts
        db.add_history(HistoryEntry(None, now - 60, "i", "missed", "+12125550100", "sip:+12125550100@pbx",
                                    "Margaret Hamilton", "alice", 0, 487, "Request Terminated"))
        db.add_history(HistoryEntry(None, now, "o", "out", "200", "sip:200@pbx", "Grace Brewster Hopper",
                                    "alice", 75, 200, "OK"))
        await pilot.press("f5")
        table = app.query_one("#history-list")
        await until(pilot, lambda: table.row_count == 2, what="history rows")
        await pilot.pause(0.1)
        assert table.column_width("who") >= len("Grace Brewster Hopper")  # cells are cut to their column
