"""The keyboard follows the same rule as the socket and HTTP
(tests/contract/test_one_rule.py): one call of ours on hold, one ringing in.
Runs on the scripted engine (tests/scripted.py): milliseconds, no peers."""

from tests.scripted import ScriptedEngine
from tests.ui.test_app import config, until
from tui_phone.app import make_app
from tui_phone.commands import ConnectCall, DisconnectCall, Dtmf, Hold
from tui_phone.events import CallState
from tui_phone.phone import Phone
from tui_phone.ui.panes import CallList

S = CallState


async def held_and_ringing(pilot, engine):
    app = pilot.app
    await until(pilot, app.ready.is_set, what="engine")
    await pilot.press(*"200", "enter")  # the scripted far end answers at once
    await until(pilot, lambda: [c.state for c in app.state.calls] == [S.CONNECTED], what="A connected")
    a = app.state.calls[0].id
    await pilot.press("escape", "o")  # to the call list; hold
    await until(pilot, lambda: app.state.call(a).state is S.HOLDING, what="A held")
    b = engine.incoming()
    await until(pilot, lambda: app.state.call(b) is not None, what="B rings")
    return a, b


async def test_keys_act_on_the_call_the_rule_picks():
    engine = ScriptedEngine()
    cfg = config()
    app = make_app(cfg, phone=Phone(cfg, engine=engine))
    async with app.run_test(size=(100, 30)) as pilot:
        a, b = await held_and_ringing(pilot, engine)
        calls = app.query_one(CallList)
        calls.move_cursor(row=0)  # the cursor back on the held call: keys that need a connected call refuse
        await pilot.pause()
        engine.sent.clear()
        await app.send_dtmf("1")
        assert not any(isinstance(c, Dtmf) for c in engine.sent)  # refused before the engine: no connected call
        await pilot.press("h")  # the cursor is on the held call: hang it up (a named call)…
        await until(pilot, lambda: app.state.call(a) is None, what="A ended")
        assert [type(c) for c in engine.sent] == [DisconnectCall] and engine.sent[0].id == a
        # …and with nothing under the cursor, the rule: the ringing call is answered, not anything else
        b2 = engine.incoming()
        await until(pilot, lambda: app.state.call(b2) is not None, what="C rings")
        calls.move_cursor(row=-1)
        engine.sent.clear()
        await app.run_command(ConnectCall(None))
        assert engine.sent == [ConnectCall(max(b, b2))]
        assert app.state.call(max(b, b2)).state is S.CONNECTED
        engine.sent.clear()
        await pilot.press("escape", "o")  # hold: the connected call (under the cursor or by the rule)
        assert engine.sent and isinstance(engine.sent[0], Hold) and engine.sent[0].id == max(b, b2)
