"""Links and the API as a person sees them: PrepareCall prefills the
dialpad, the dial policy asks before dialling, sms and authenticate links
open their dialogs, through the real control socket. PrepareCall dials the
real engine against sipp (the end-to-end pilot); the rest only needs events
and runs on the scripted engine (tests/scripted.py)."""

import asyncio
import http.server
import json
import threading

import pytest

from tests.peers import sipp_uas
from tests.ui.test_app import config, scripted_app, until
from tui_phone.app import make_app
from tui_phone.control.client import request
from tui_phone.events import CallState
from tui_phone.ui.dialogs import Compose, Confirm
from tui_phone.ui.panes import DialPad


async def api(app, msg):
    return await asyncio.get_running_loop().run_in_executor(None, request, app.server.path, msg)


async def test_prepare_call_prefills_and_enter_dials(sipp_dir):
    uas = sipp_uas(sipp_dir, scenario="uas-fast")
    app = make_app(config(f'proxy = "sip:127.0.0.1:{uas.port}"\n'))
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, app.ready.is_set, what="engine")
        r = await api(app, {"mt": "PrepareCall", "num": "200", "src": "crm"})
        assert r["ok"] and r["src"] == "crm" and "Enter" in r["pending"]
        await pilot.pause(0.1)
        dialpad = app.query_one(DialPad)
        assert dialpad.input.value == "200" and dialpad.input.has_focus
        assert not app.state.calls  # nothing dialled yet
        await pilot.press("enter")
        await until(pilot, lambda: app.state.calls and app.state.calls[0].state is CallState.CONNECTED,
                    what="Connected")
        await pilot.press("h")
    assert uas.wait(10) == 0


async def test_a_link_handed_over_before_the_engine_is_up_is_dialled_once_it_is(sipp_dir):
    """The control socket is served before the first frame, the engine starts after it: a link that
    comes in between waits for the engine (its reply too) and is dialled as soon as the engine is up."""
    uas = sipp_uas(sipp_dir, scenario="uas-fast")
    app = make_app(config(f'proxy = "sip:127.0.0.1:{uas.port}"\n'))
    release = asyncio.Event()
    start = app.phone.start

    async def start_when_released(after=None):  # the real start, held back until the link is in
        async def painted_and_released():
            await after
            await release.wait()

        await start(after=painted_and_released())

    app.phone.start = start_when_released
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, app.server.path.exists, what="the control socket")
        reply = asyncio.ensure_future(api(app, {"mt": "OpenUrl", "url": "tel:200", "src": "early"}))
        await pilot.pause(0.5)
        assert not reply.done() and app.phone.engine is None and not app.state.calls  # waiting, not refused
        release.set()
        r = await asyncio.wait_for(reply, 15)
        assert r["ok"] and r["src"] == "early", r
        await until(pilot, lambda: app.state.calls and app.state.calls[0].state is CallState.CONNECTED,
                    what="Connected")
        assert len(app.state.calls) == 1  # dialled once
        await pilot.press("h")
    assert uas.wait(10) == 0


async def test_dialpad_link_prefills():
    app, engine = scripted_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, app.ready.is_set, what="engine")
        r = await api(app, {"mt": "OpenUrl", "url": "phone.systems://dialpad?number=%2B4930123456"})
        assert r["ok"]
        await pilot.pause(0.1)
        assert app.query_one(DialPad).input.value == "+4930123456"
        assert not engine.sent  # prefilled, not dialled


@pytest.mark.parametrize("answer, dialled", [("y", True), ("n", False)])
async def test_premium_number_from_a_link_asks_first(answer, dialled):
    app, engine = scripted_app(config('proxy = "sip:127.0.0.1:5099"\n'))
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, app.ready.is_set, what="engine")
        r = await api(app, {"mt": "OpenUrl", "url": "tel:+1-900-555-0100"})
        assert r["ok"] and "confirm" in r["pending"]
        await until(pilot, lambda: isinstance(app.screen, Confirm), what="confirmation")
        assert not app.state.calls  # not dialled before the user says so
        assert "+19005550100" in str(app.screen.query_one(".question").render())
        await pilot.press(answer)
        if dialled:
            await until(pilot, lambda: app.state.calls and app.state.calls[0].state is CallState.CONNECTED,
                        what="Connected")
            assert app.state.calls[0].sip == "sip:+19005550100@127.0.0.1:5099"
            await pilot.press("h")
            await until(pilot, lambda: not app.state.calls, what="hung up")
        else:
            await pilot.pause(0.3)
            assert not app.state.calls and not app.state.ended and not engine.sent


async def test_keyboard_dialling_is_never_blocked():
    app, engine = scripted_app(config('proxy = "sip:127.0.0.1:5099"\n'))
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, app.ready.is_set, what="engine")
        await pilot.press(*"+19005550100", "enter")
        await until(pilot, lambda: app.state.calls and app.state.calls[0].state is CallState.CONNECTED,
                    what="Connected")
        assert not isinstance(app.screen, Confirm)
        assert app.state.calls[0].sip == "sip:+19005550100@127.0.0.1:5099"
        await pilot.press("h")
        await until(pilot, lambda: not app.state.calls, what="hung up")


async def test_sms_link_opens_an_honest_compose():
    app, engine = scripted_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, app.ready.is_set, what="engine")
        r = await api(app, {"mt": "OpenUrl", "url": "zoomphonesms://+15551234567?callerid=+15557654321"})
        assert r["ok"] and "compose" in r["pending"]
        await until(pilot, lambda: isinstance(app.screen, Compose), what="compose")
        assert "+15551234567" in str(app.screen.query_one(".question").render())
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, Compose), what="closed")
        assert not engine.sent  # closed without sending


class Provisioner(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"name": "prov", "uri": "sip:dave@127.0.0.1", "password": "p"}).encode()
        self.send_response(200 if "code=OK-1" in self.path else 404)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


async def test_authenticate_link_confirms_then_adds_account(tmp_path):
    server = http.server.HTTPServer(("127.0.0.1", 0), Provisioner)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    path = tmp_path / "config.toml"
    path.write_text("# my phone\n[ui]\ntheme = \"tui-phone\"  # keep me\n")
    cfg = config()
    cfg = type(cfg)(**{**cfg.__dict__, "path": path,
                       "provisioning": {"url": f"http://127.0.0.1:{server.server_port}/p?code=$code"}})
    app, _ = scripted_app(cfg)
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await until(pilot, app.ready.is_set, what="engine")
            r = await api(app, {"mt": "OpenUrl", "url": "phone.systems://authenticate?code=OK-1"})
            assert r["ok"]
            await until(pilot, lambda: isinstance(app.screen, Confirm), what="confirmation")
            assert "[[accounts]]" not in path.read_text()  # nothing before the user agrees
            await pilot.press("y")
            await until(pilot, lambda: "[[accounts]]" in path.read_text(), what="account written")
    finally:
        server.shutdown()
    text = path.read_text()
    assert "# my phone" in text and "# keep me" in text and 'uri = "sip:dave@127.0.0.1"' in text
