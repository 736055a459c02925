"""The history pane: missed-call count in the status line, missed filter,
redial from history. Calling a missed caller back runs the real engine against
sipp (the pane's end-to-end pilot); counting and filtering run on the scripted
engine (tests/scripted.py)."""

from tests.peers import sipp_uac, sipp_uas
from tests.ui.test_app import config, scripted_app, until
from tui_phone.app import make_app
from tui_phone.ui.panes import StatusBar


async def test_missed_count_filter_and_redial():
    app, engine = scripted_app(config('proxy = "sip:127.0.0.1:5099"\n'), busy=("sip:200@127.0.0.1:5099",))
    async with app.run_test(size=(100, 32)) as pilot:
        await until(pilot, app.ready.is_set, what="engine")
        engine.far_end_cancels(engine.incoming())
        await until(pilot, lambda: app.state.missed == 1, what="missed")
        await pilot.pause(0.1)
        assert "1 missed" in str(app.query_one(StatusBar).render())
        await pilot.press("escape")
        app.query_one("#number").focus()
        await pilot.press(*"200", "enter")  # busy: an outgoing entry
        await until(pilot, lambda: app.state.history_version >= 2, what="two entries")
        await pilot.press("f5")
        table = app.query_one("#history-list")
        await until(pilot, lambda: table.row_count == 2, what="history rows")
        assert app.state.missed == 0  # looked at: the count starts again
        rows = [[str(c) for c in table.get_row_at(i)] for i in range(2)]
        assert "↗ out" in rows[0] and "486 Busy Here" in rows[0] and "200" in rows[0]
        assert "✗ missed" in rows[1]
        await pilot.press("m")
        await until(pilot, lambda: table.row_count == 1, what="missed only")
        await pilot.press("m")
        await until(pilot, lambda: table.row_count == 2, what="all again")
        table.focus()
        await pilot.press("enter")  # redial the newest (200)
        await until(pilot, lambda: app.state.history_version >= 3, what="redialled")
    assert [c.sip for c in app.state.ended][-2:] == ["sip:200@127.0.0.1:5099"] * 2


async def test_enter_on_a_missed_call_calls_back_on_the_callers_port(sipp_dir):
    """Issue 13, must show (the TUI side): the History entry of a caller on a
    non-default port redials that port, where a sipp UAS now listens."""
    from tests.peers import free_udp_port

    port = free_udp_port()
    app = make_app(config())
    async with app.run_test(size=(100, 32)) as pilot:
        await until(pilot, app.ready.is_set, what="engine")
        uac = sipp_uac(sipp_dir, app.phone.engine.local_address, "alice", "uac-cancel", local_port=port)
        await until(pilot, lambda: app.state.missed == 1, what="missed")
        assert uac.wait(10) == 0
        uas = sipp_uas(sipp_dir, port=port)
        await pilot.press("f5")
        table = app.query_one("#history-list")
        await until(pilot, lambda: table.row_count == 1, what="the missed call listed")
        table.focus()
        await pilot.press("enter")
        await until(pilot, lambda: any(c.state.value == "Connected" for c in app.state.calls), what="called back")
    assert uas.wait(10) == 0  # quitting hung up: BYE, 200
    assert f"INVITE sip:sipp@127.0.0.1:{port} SIP/2.0" in uas.messages()
