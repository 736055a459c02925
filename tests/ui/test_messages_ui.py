"""Messages as a person uses them: a zoomphonesms link opens the thread, Enter
sends for real, a reply arrives with an unread count."""

import asyncio

from tests.phoneproc import HeadlessPhone, direct
from tests.ui.test_app import config, until
from tui_phone.app import make_app
from tui_phone.control.client import request
from tui_phone.ui.dialogs import Compose
from tui_phone.ui.panes import StatusBar


async def test_send_and_receive_messages(tmp_path):
    with HeadlessPhone(tmp_path, direct("bob"), name="bob") as bob:
        app = make_app(config())
        async with app.run_test(size=(100, 32)) as pilot:
            await until(pilot, app.ready.is_set, what="engine")
            uri = f"sip:bob@{bob.sip_address}"
            r = await asyncio.get_running_loop().run_in_executor(
                None, request, app.server.path, {"mt": "OpenUrl", "url": f"zoomphonesms://{uri[4:]}"})
            assert r["ok"] is False  # zoomphonesms takes numbers, not SIP addresses
            await pilot.press("escape", "ctrl+p")
            await pilot.pause(0.2)
            await pilot.press(*"new message")
            await pilot.pause(0.4)
            await pilot.press("enter")
            await pilot.pause(0.2)
            await pilot.press(*uri, "enter")
            await until(pilot, lambda: isinstance(app.screen, Compose), what="compose")
            await pilot.press(*"hello bob", "enter")
            await until(pilot, lambda: any(m.status == "sent" for m in app.state.messages), what="sent")
            bob.wait_for(lambda m: m["unread"] == 1, 5, "bob got it")
            await pilot.press("escape")
            await asyncio.get_running_loop().run_in_executor(
                None, bob.api, {"mt": "SendSms", "sip": app.phone.config.accounts[0].uri.replace(
                    "127.0.0.1", app.phone.engine.local_address), "text": "hi back"})
            await until(pilot, lambda: sum(n for _, n in app.state.unread) == 1, what="unread")
            await pilot.pause(0.1)
            assert "1 unread" in str(app.query_one(StatusBar).render())
            await pilot.press("f6")
            await pilot.pause(0.1)
            await pilot.press("enter")
            await until(pilot, lambda: isinstance(app.screen, Compose), what="thread")
            await until(pilot, lambda: not app.state.unread, what="read")
            lines = [str(line.text) for line in app.screen.query_one("#thread").lines]
            assert any("hi back" in line for line in lines)


async def test_a_message_to_a_premium_number_from_outside_asks_first(tmp_path):
    """SendSms over the socket to a premium number opens a confirmation naming the reason;
    No sends nothing and says so in the log."""
    from tui_phone.ui.dialogs import Confirm

    app = make_app(config())
    async with app.run_test(size=(100, 32)) as pilot:
        await until(pilot, app.ready.is_set, what="engine")
        r = await asyncio.get_running_loop().run_in_executor(
            None, request, app.server.path, {"mt": "SendSms", "num": "+19005551234", "text": "win"})
        assert r["ok"] and "waiting for the user to confirm" in r.get("pending", ""), r
        await until(pilot, lambda: isinstance(app.screen, Confirm), what="confirmation")
        shown = " ".join(str(w.render()) for w in app.screen.query("Static"))
        assert "Send a message to +19005551234?" in shown and "confirmation list" in shown, shown
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, Confirm), what="closed")
        assert not app.state.messages
