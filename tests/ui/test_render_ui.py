"""Rendering under floods (issue 17): the TUI draws the newest state at most
once a frame, each pane only when its slice changed, and keys typed during a
storm are handled in order. Runs on the scripted engine: these test drawing,
not SIP."""

import asyncio

from tests.scripted import ScriptedEngine
from tests.ui.test_app import config, until
from tui_phone.app import make_app
from tui_phone.events import Presence, TeamLoaded
from tui_phone.phone import Phone
from tui_phone.ui.contacts import TeamPane
from tui_phone.ui.panes import CallList, DialPad, StatusBar

TEAM = tuple((f"Member {i:03d}", f"sip:{100 + i}@pbx.example.com") for i in range(200))
STATUSES = ("available", "unavailable", "in-call", "offline")


def scripted_app():
    cfg = config("[audio]\nnull = true\n")
    engine = ScriptedEngine(cfg)
    return make_app(cfg, phone=Phone(cfg, engine=engine)), engine


def renders(app) -> dict[str, int]:
    return {type(w).__name__: w.renders for w in (app.query_one(StatusBar), app.query_one(CallList),
                                                 app.query_one(TeamPane))}


async def test_a_presence_burst_renders_the_team_pane_at_most_three_times_and_keys_keep_their_order():
    app, engine = scripted_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, app.ready.is_set, what="engine")
        app.phone.post(TeamLoaded(TEAM))
        await pilot.press("f4")
        await until(pilot, lambda: app.query_one("#team-list").row_count == len(TEAM), what="team shown")
        app.query_one(DialPad).input.focus()
        await pilot.press("1")
        await pilot.pause(0.1)
        before = renders(app)
        burst = [Presence(uri, STATUSES[(n + i) % 4]) for n in range(10) for i, (_, uri) in enumerate(TEAM)]
        assert len(burst) == 2000
        played = engine.play(burst)
        await pilot.press("2", "3")  # typed while the burst arrives
        await asyncio.wrap_future(played)
        await pilot.press("4")
        await until(pilot, lambda: app.state.presence_of(TEAM[-1][1]) == STATUSES[(9 + 199) % 4], what="last event")
        await pilot.pause(0.3)  # the last frame drawn
        after = renders(app)
        assert app.query_one(DialPad).input.value == "1234"  # the keys typed during the burst, in order
        assert after["TeamPane"] - before["TeamPane"] <= 3, (before, after)
        assert after["StatusBar"] == before["StatusBar"] and after["CallList"] == before["CallList"]  # slices unchanged
        table = app.query_one("#team-list")
        shown = [str(table.get_row_at(i)[2]) for i in range(table.row_count)]
        assert shown == [STATUSES[(9 + i) % 4] for i in range(len(TEAM))]  # the newest state, every row


async def test_status_bar_updates_only_when_its_text_changes():
    app, _ = scripted_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, app.ready.is_set, what="engine")
        await pilot.pause(0.2)
        bar = app.query_one(StatusBar)
        updates = []
        original = bar.update
        bar.update = lambda content="", **kw: (updates.append(content), original(content, **kw))[1]
        bar.render_state(app.state, force=True)  # the same line again
        assert updates == []
        await pilot.press("escape", "s")  # own status: unavailable (the scripted engine publishes it)
        await until(pilot, lambda: "status: unavailable" in str(bar.render()), what="status shown")
        assert len(updates) == 1


async def test_contacts_pane_reads_one_window_and_the_next_at_its_end():
    from tui_phone.contacts.model import Contact, Number
    from tui_phone.ui.contacts import ContactsPane

    app, _ = scripted_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, app.ready.is_set, what="engine")
        await asyncio.to_thread(app.phone.contacts.add_many, [
            Contact(first=f"Person{i:04d}", numbers=(Number("work", f"+1 212 555 {i:04d}"),)) for i in range(300)])
        await pilot.press("f3")
        pane = app.query_one(ContactsPane)
        await until(pilot, lambda: pane.contacts, what="listed")
        table = app.query_one("#contact-list")
        first = len(pane.contacts)
        assert first == pane.limit < 300 and table.row_count == first  # one window, not every contact
        assert table.size.height < first  # the visible rows and a margin
        table.move_cursor(row=first - 1)  # the window's last row: the next window is read
        await until(pilot, lambda: len(pane.contacts) > first, what="the next window")
        assert [c.name for c in pane.contacts[:first]] == [f"Person{i:04d}" for i in range(first)]
        assert table.cursor_row == first - 1  # the cursor stays where it was
        renders = pane.renders
        search = pane.query_one("#contact-search")
        search.value = "Person02"  # typed fast: only the newest answer is shown
        search.value = "Person029"
        await until(pilot, lambda: [c.name for c in pane.contacts][:1] == ["Person0290"], what="narrowed")
        await pilot.pause(0.2)
        assert [c.name for c in pane.contacts] == [f"Person{i:04d}" for i in range(290, 300)]
        assert pane.renders - renders <= 2
