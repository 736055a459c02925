"""The TUI side of SIP depth, real engine and sipp: R records the call
(● REC in the status line and detail), the status line shows ✉ N after a
message-summary NOTIFY and v dials the voicemail, s leaves do-not-disturb."""

from tests.contract.conftest import baresip_factory  # noqa: F401 (fixture)
from tests.contract.test_recording import samples
from tests.peers import SCENARIOS, baresip_account, sipp_uac, sipp_uas
from tests.sound import tone
from tests.ui.test_app import config, scripted_app, until
from tui_phone.app import make_app
from tui_phone.events import CallState
from tui_phone.ui.panes import CallDetail, StatusBar


async def test_r_records_the_tone_baresip_plays(baresip_factory, tmp_path):  # noqa: F811
    bob = baresip_factory(baresip_account("bob"))  # auto-answer, plays 440 Hz
    app = make_app(config(f'\n[audio]\nnull = true\n\n[recording]\ndir = "{tmp_path / "rec"}"\n'))
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, app.ready.is_set, what="engine")
        await pilot.press(*bob.uri, "enter")
        await until(pilot, lambda: app.state.calls and app.state.calls[0].state is CallState.CONNECTED,
                    what="Connected")
        await pilot.press("escape", "R")
        await until(pilot, lambda: app.state.calls[0].recording, what="recording")
        await pilot.pause(2.5)
        assert "● REC" in str(app.query_one(StatusBar).render())
        assert "● REC" in str(app.query_one(CallDetail).render())
        await pilot.press("R")
        await until(pilot, lambda: not app.state.calls[0].recording, what="stopped")
        await pilot.pause(0.1)
        assert "● REC" not in str(app.query_one(StatusBar).render())
        path = app.state.calls[0].recording_file
        assert [str(p) for p in (tmp_path / "rec").iterdir()] == [path]
        await pilot.press("h")
        await until(pilot, lambda: not app.state.calls, what="hung up")
    x, rate = samples(path)
    hz, share, _ = tone(x[rate // 2:], rate)
    assert abs(hz - 440) < 20 and share > 0.8, (hz, share)


async def test_voicemail_count_and_v_dials_the_box(sipp_dir):
    uas = sipp_uas(sipp_dir, scenario="uas-fast")
    app = make_app(config(f'voicemail = "sip:vm@127.0.0.1:{uas.port}"\n'))
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, app.ready.is_set, what="engine")
        uac = sipp_uac(sipp_dir, app.phone.engine.local_address, "alice", str(SCENARIOS / "uac-mwi-notify.xml"))
        await until(pilot, lambda: uac.returncode is not None, what="sipp's NOTIFY answered")
        assert uac.returncode == 0, uac.messages()[-2000:] + uac.output()[-1000:]
        await until(pilot, lambda: app.state.voicemail["new"] == 2, what="voicemail in the model")
        await pilot.pause(0.1)
        assert "✉ 2" in str(app.query_one(StatusBar).render())
        await pilot.press("escape", "v")
        await until(pilot, lambda: app.state.calls and app.state.calls[0].state is CallState.CONNECTED,
                    what="voicemail call")
        assert app.state.calls[0].sip == f"sip:vm@127.0.0.1:{uas.port}"
        await pilot.press("h")
        await until(pilot, lambda: not app.state.calls, what="hung up")


async def test_dnd_from_the_palette_and_s_back_to_available():  # the status line, not the PUBLISH
    app, engine = scripted_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, app.ready.is_set, what="engine")
        await app.run_action("set_status('dnd')")
        await until(pilot, lambda: app.state.status == "dnd", what="dnd")
        await pilot.pause(0.1)
        assert "status: dnd" in str(app.query_one(StatusBar).render())
        await pilot.press("escape", "s")
        await until(pilot, lambda: app.state.status == "available", what="available again")
        assert [c.status for c in engine.sent] == ["dnd", "available"]


async def test_redirect_to_a_premium_number_asks_the_user(sipp_dir):
    from tui_phone.ui.dialogs import Confirm

    premium = sipp_uas(sipp_dir, scenario="uas-fast")
    target = f"sip:+19005550100@127.0.0.1:{premium.port}"
    first = sipp_uas(sipp_dir, scenario="uas-redirect.xml", extra_args=["-key", "target", target])
    app = make_app(config())
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, app.ready.is_set, what="engine")
        await pilot.press(*f"sip:service@127.0.0.1:{first.port}", "enter")  # typed, but its 302 target is judged
        await until(pilot, lambda: isinstance(app.screen, Confirm), what="confirmation")
        await pilot.pause(0.1)
        assert not any("+1900" in c.sip for c in app.state.calls)  # not dialled before the user says so
        assert "+19005550100" in str(app.screen.query_one(".question").render())
        await pilot.press("y")
        await until(pilot, lambda: any(c.state is CallState.CONNECTED and "+19005550100" in c.sip
                                       for c in app.state.calls), what="the confirmed call")
        await pilot.press("h")
        await until(pilot, lambda: not app.state.calls, what="hung up")
