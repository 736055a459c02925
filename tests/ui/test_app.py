"""Textual pilots driving the app the way a person does: keys and clicks,
then reading the panes. Calls placed and answered run the real pjsua2 engine
in-process against sipp (the end-to-end path of the dialpad and call list);
what only needs events runs on the scripted engine (tests/scripted.py)."""

import asyncio

from tests.peers import sipp_uac, sipp_uas
from tests.scripted import ScriptedEngine
from tui_phone.app import make_app
from tui_phone.commands import DisconnectCall, StartCall
from tui_phone.phone import Phone
from tui_phone.config import parse
from tui_phone.events import CallState
from tui_phone.ui.panes import CallList, DialPad, Keypad, LogPane, StatusBar


def config(extra: str = ""):
    return parse('[[accounts]]\nname = "alice"\nuri = "sip:alice@127.0.0.1"\nbind = "127.0.0.1"\n' + extra)


def scripted_app(cfg=None, **engine_options):
    """The app on the scripted engine: (app, engine)."""
    cfg = cfg or config()
    engine = ScriptedEngine(cfg, **engine_options)
    return make_app(cfg, phone=Phone(cfg, engine=engine)), engine


async def until(pilot, predicate, timeout=10.0, what="condition"):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await pilot.pause(0.05)


def table_text(app) -> str:
    table = app.query_one(CallList)
    return "\n".join(" ".join(str(c) for c in table.get_row_at(i)) for i in range(table.row_count))


async def test_dial_number_by_clicking_the_keypad_and_hang_up(sipp_dir):
    uas = sipp_uas(sipp_dir, scenario="uas-fast")
    app = make_app(config(f'proxy = "sip:127.0.0.1:{uas.port}"\n'))
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, app.ready.is_set, what="engine")
        keypad = app.query_one(Keypad)
        for key in ("2", "0", "5", "backspace", "0"):  # clicked where each key is drawn
            await pilot.click(keypad, offset=keypad.offset_of(key))
        assert app.query_one(DialPad).input.value == "200"
        assert keypad.key_at(*keypad.offset_of("*")) == "*" and keypad.key_at(0, 1) is None  # between rows
        await pilot.click(keypad, offset=keypad.offset_of("call"))
        await until(pilot, lambda: app.state.calls and app.state.calls[0].state is CallState.CONNECTED,
                    what="Connected")
        assert "200" in table_text(app) and "Connected" in table_text(app)
        assert app.focused is app.query_one(CallList)
        await pilot.press("h")
        await until(pilot, lambda: not app.state.calls and app.state.ended, what="ended")
        assert "Disconnected" in table_text(app)
        await pilot.press("q")
    assert uas.wait(10) == 0
    assert f"INVITE sip:200@127.0.0.1:{uas.port}" in uas.messages()


async def test_number_dialled_while_the_engine_starts_waits_for_it(sipp_dir):
    """The account shows "ready" from inside the engine's start, a moment before
    the phone runs: a number dialled in that moment waits instead of failing."""
    uas = sipp_uas(sipp_dir, scenario="uas-fast")
    phone = Phone(config(f'proxy = "sip:127.0.0.1:{uas.port}"\n'))
    starting = asyncio.create_task(phone.start())
    await asyncio.sleep(0)  # start() is now waiting for the engine thread
    assert not phone.running
    result = await phone.execute(StartCall("200"))
    assert result.ok, result.error
    await starting
    for _ in range(200):  # up to 10 s for the UAS's 200 OK
        if phone.state.calls and phone.state.calls[0].state is CallState.CONNECTED:
            break
        await asyncio.sleep(0.05)
    assert phone.state.calls[0].state is CallState.CONNECTED
    await phone.execute(DisconnectCall(result.id))
    await phone.stop()
    assert uas.wait(10) == 0


async def test_dial_uri_typed_and_failure_reason_shown():
    target = "sip:service@127.0.0.1:5099"
    app, engine = scripted_app(busy=(target,))
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, app.ready.is_set, what="engine")
        await pilot.press(*target, "enter")
        await until(pilot, lambda: app.state.ended, what="call ended")
        assert app.state.ended[-1].code == 486
        await pilot.pause(0.1)
        assert "486 Busy Here" in table_text(app)
        assert engine.sent == [StartCall(target)]
        await pilot.press("d", "1")  # dialpad still usable
        assert app.query_one(DialPad).input.value == "1"


async def test_incoming_call_appears_and_a_answers(sipp_dir):
    app = make_app(config())
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, app.ready.is_set, what="engine")
        seen = []  # every state the store passed through: polling alone can miss a 300 ms Connected on busy CI
        app.phone.subscribe(lambda state, event: seen.extend(c.state for c in state.calls))
        uac = sipp_uac(sipp_dir, app.phone.engine.local_address, "alice", "uac-bye", duration_ms=300)
        await until(pilot, lambda: app.state.alerting() is not None, what="Alerting")
        await pilot.pause(0.1)
        assert "Alerting" in table_text(app) and "sipp" in table_text(app)
        assert app.focused is app.query_one(CallList)  # focused: the user was not typing
        await pilot.press("a")
        await until(pilot, lambda: CallState.CONNECTED in seen, what="Connected")
        await until(pilot, lambda: not app.state.calls, what="BYE from sipp")
        assert uac.wait(10) == 0
        assert app.state.ended[-1].code == 200  # normal clearing by the far end's BYE


async def test_incoming_call_rejected_with_r():
    app, engine = scripted_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, app.ready.is_set, what="engine")
        cid = engine.incoming()
        await until(pilot, lambda: app.state.alerting() is not None, what="Alerting")
        await pilot.press("r")
        await until(pilot, lambda: not app.state.calls, what="rejected")
        assert engine.sent == [DisconnectCall(cid)]  # the 486 on the wire: tests/contract
        assert app.state.ended[-1].code == 486


async def test_status_bar_log_pane_and_bad_dial_string():
    app, engine = scripted_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, app.ready.is_set, what="engine")
        await pilot.pause(0.1)
        status = str(app.query_one(StatusBar).render())
        assert "alice" in status and "direct (no registrar)" in status
        log = app.query_one(LogPane)
        assert any("ready for direct calls" in line.text for line in log.lines)
        await pilot.press("ctrl+l")
        assert not log.display
        await pilot.press("ctrl+l")
        assert log.display
        await pilot.press(*"12a$", "enter")
        await pilot.pause(0.1)
        assert not app.state.calls and not engine.sent  # refused, nothing dialled
        assert any("cannot dial" in n.message for n in app._notifications)


async def test_remote_text_is_never_markup():
    """A caller's display name or a message with [markup] must not crash or restyle the UI."""
    from tui_phone.events import CallAdded, CallEnded, CallRemoved, Message

    app, _ = scripted_app()
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await until(pilot, app.ready.is_set, what="engine")
        app.phone.post(CallAdded(90, "i", "sip:[b]x@h", "", "Mallory [/b] [@click=app.quit]", "alice"))
        app.phone.post(Message("sip:[/i]@h", "i", "hi [/red] there"))
        await pilot.pause(0.3)
        assert "Mallory [/b]" in table_text(app)
        app.phone.post(CallEnded(90, 487, "Request [/x] Terminated"))
        app.phone.post(CallRemoved(90))
        await pilot.pause(0.3)
        assert "Request [/x] Terminated" in table_text(app)
        assert app.is_running


async def test_list_keys_pressed_while_the_engine_starts_show_their_panes():
    """The hidden tabs' panes mount once the engine runs (issue 17: they held the loop while the first
    REGISTER was answered). F3/F4/F5/F6 pressed before that mount them and focus their list."""
    import threading

    release = threading.Event()

    class SlowStart(ScriptedEngine):
        def start(self, emit):
            release.wait(10)  # an engine still importing pjsua2 and registering
            super().start(emit)

    cfg = config()
    app = make_app(cfg, phone=Phone(cfg, engine=SlowStart(cfg)))
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            assert not app._panes_mounted.is_set()
            for key, table in (("f3", "#contact-list"), ("f4", "#team-list"), ("f5", "#history-list"),
                               ("f6", "#message-list")):
                await pilot.press("escape", key)
                await until(pilot, lambda: app.focused is not None and app.focused.id == table[1:], what=table)
            assert not app.ready.is_set()  # all of it before the engine ran
            release.set()
            await until(pilot, app.ready.is_set, what="engine")
    finally:
        release.set()


async def test_the_footer_shows_the_focused_panes_keys_and_a_click_presses_one():
    """One widget draws the footer (issue 17: Textual's Footer rebuilt a widget per key at every focus
    change). It follows the focus, keeps palette/help/quit at its right end at any width, and a click on
    a key presses it."""
    from tui_phone.ui.panes import PhoneFooter

    app, _ = scripted_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, app.ready.is_set, what="engine")
        footer = app.query_one(PhoneFooter)
        await pilot.press("escape")  # the call list: its keys
        await until(pilot, lambda: "Answer" in footer.text(), what="call list keys")
        assert footer.text().rstrip().endswith("^p palette  F1 Help  ^q Quit")
        await pilot.press("f3")
        await until(pilot, lambda: "Search" in footer.text() and "Answer" not in footer.text(), what="contacts keys")
        x = footer.text().index(" F1 ")  # the help key, where it is drawn
        await pilot.click(footer, offset=(x + 1, 0))
        await until(pilot, lambda: type(app.screen).__name__ == "Help", what="help opened by a click")
        await pilot.press("escape")
        await pilot.hover(footer, offset=(x + 1, 0))
        assert footer.tooltip and "help" in str(footer.tooltip).lower()
    narrow, _ = scripted_app()
    async with narrow.run_test(size=(40, 24)) as pilot:
        await until(pilot, narrow.ready.is_set, what="engine")
        await pilot.press("escape")
        line = narrow.query_one(PhoneFooter).text()
        assert len(line) == 40 and "F1 Help" in line and "^q Quit" in line  # pinned keys at any width


async def test_escape_and_a_digit_typed_fast_leave_the_dialpad_instead_of_typing_a_symbol():
    """Found by an outside probe: Escape then 1 within ~50 ms reached the dialpad as "¡" (Textual reads
    ESC+1 as macOS Option+1), and Enter then said "cannot dial: number has '¡'"."""
    app, _ = scripted_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, app.ready.is_set, what="engine")
        dial = app.query_one(DialPad).input
        dial.focus()
        await pilot.press("2")
        await pilot.press("inverted_exclamation_mark")  # what Textual makes of ESC 1 typed fast
        await pilot.pause(0.1)
        assert dial.value == "2"
        assert app.focused is app.query_one(CallList)
