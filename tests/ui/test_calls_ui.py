"""The call list when a call arrives: the cursor leaves an ended row for the
ringing call, unless the user is typing. Runs on the scripted engine: this is
where the cursor goes, not SIP (tests/ui/test_app.py answers a real caller)."""

from tests.ui.test_app import scripted_app, until
from tui_phone.commands import ConnectCall, DisconnectCall
from tui_phone.events import CallState
from tui_phone.ui.panes import CallDetail, CallList, DialPad

BUSY = "sip:service@127.0.0.1:5099"


async def ended_call(pilot) -> int:
    """Dial a busy target: one Disconnected (486) row, the cursor on it."""
    app = pilot.app
    await pilot.press(*BUSY, "enter")
    await until(pilot, lambda: app.state.ended and not app.state.calls, what="busy call ended")
    await pilot.pause(0.1)
    ended = app.state.ended[-1].id
    assert app.state.ended[-1].code == 486
    assert app.query_one(CallList).selected_id() == ended
    return ended


async def test_ringing_call_takes_the_cursor_off_an_ended_row():
    app, engine = scripted_app(busy=(BUSY,))
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, app.ready.is_set, what="engine")
        await ended_call(pilot)
        ringing = engine.incoming()
        await until(pilot, lambda: app.state.alerting() is not None, what="Alerting")
        await pilot.pause(0.1)
        assert app.query_one(CallList).selected_id() == ringing
        assert app.focused is app.query_one(CallList)
        assert f"call {ringing}" in str(app.query_one(CallDetail).render())
        engine.sent.clear()
        await pilot.press("a")  # answers the call under the cursor
        await until(pilot, lambda: app.state.calls and app.state.calls[0].state is CallState.CONNECTED,
                    what="Connected")
        await pilot.press("h")
        await until(pilot, lambda: not app.state.calls, what="hung up")
        assert engine.sent == [ConnectCall(ringing), DisconnectCall(ringing)]


async def test_typing_keeps_the_cursor_where_it_is():
    app, engine = scripted_app(busy=(BUSY,))
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, app.ready.is_set, what="engine")
        ended = await ended_call(pilot)
        await pilot.press("d", *"12")  # back to the dialpad, typing a number
        ringing = engine.incoming()
        await until(pilot, lambda: app.state.alerting() is not None, what="Alerting")
        await pilot.pause(0.1)
        assert app.query_one(CallList).selected_id() == ended
        dialpad = app.query_one(DialPad).input
        assert app.focused is dialpad and dialpad.value == "12"
        engine.sent.clear()
        await pilot.press("escape", "r")  # to the call list; reject the ringing call
        await until(pilot, lambda: not app.state.calls, what="rejected")
        assert engine.sent == [DisconnectCall(ringing)]
