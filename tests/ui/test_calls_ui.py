"""The call list when a call arrives: the cursor leaves an ended row for the
ringing call, unless the user is typing. Real engine, real sipp peers."""

from tests.peers import sipp_uac, sipp_uas
from tests.ui.test_app import config, until
from tui_phone.app import make_app
from tui_phone.events import CallState
from tui_phone.ui.panes import CallDetail, CallList, DialPad


async def ended_call(pilot, sipp_dir) -> int:
    """Dial a busy sipp: one Disconnected (486) row, the cursor on it."""
    app = pilot.app
    uas = sipp_uas(sipp_dir, scenario="busy")
    await pilot.press(*f"sip:service@127.0.0.1:{uas.port}", "enter")
    await until(pilot, lambda: app.state.ended and not app.state.calls, what="busy call ended")
    await pilot.pause(0.1)
    ended = app.state.ended[-1].id
    assert app.query_one(CallList).selected_id() == ended
    return ended


async def test_ringing_call_takes_the_cursor_off_an_ended_row(sipp_dir):
    app = make_app(config())
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, app.ready.is_set, what="engine")
        await ended_call(pilot, sipp_dir)
        uac = sipp_uac(sipp_dir, app.phone.engine.local_address, "alice", "uac-wait-bye", timeout=40)
        await until(pilot, lambda: app.state.alerting() is not None, what="Alerting")
        await pilot.pause(0.1)
        ringing = app.state.alerting().id
        assert app.query_one(CallList).selected_id() == ringing
        assert app.focused is app.query_one(CallList)
        assert f"call {ringing}" in str(app.query_one(CallDetail).render())
        await pilot.press("a")  # answers the call under the cursor
        await until(pilot, lambda: app.state.calls and app.state.calls[0].state is CallState.CONNECTED,
                    what="Connected")
        await pilot.press("h")
        await until(pilot, lambda: not app.state.calls, what="hung up")
        assert uac.wait(10) == 0


async def test_typing_keeps_the_cursor_where_it_is(sipp_dir):
    app = make_app(config())
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, app.ready.is_set, what="engine")
        ended = await ended_call(pilot, sipp_dir)
        await pilot.press("d", *"12")  # back to the dialpad, typing a number
        uac = sipp_uac(sipp_dir, app.phone.engine.local_address, "alice", "uac-wait-bye", timeout=40)
        await until(pilot, lambda: app.state.alerting() is not None, what="Alerting")
        await pilot.pause(0.1)
        assert app.query_one(CallList).selected_id() == ended
        dialpad = app.query_one(DialPad).input
        assert app.focused is dialpad and dialpad.value == "12"
        await pilot.press("escape", "r")  # to the call list; reject the ringing call
        await until(pilot, lambda: not app.state.calls, what="rejected")
        uac.stop()
