"""Snapshot tests (pytest-textual-snapshot): each pane at 80×24 in the default
theme, the call list also in the light and high-contrast themes.

The app runs on the scripted engine (tests/scripted.py: these test drawing,
not SIP), and nothing on screen may depend on the clock or on a port: the log pane (timestamps) is hidden, the store is fed
fixed events with fixed ``at`` times, no call is ever Connected (its timer
would tick), and blinking cursors are switched off.

Regenerate after a deliberate UI change, then look at the SVGs:

    .venv/bin/python -m pytest tests/ui/test_snapshots.py --snapshot-update
"""

from __future__ import annotations

import pytest
from textual.widgets import Input

from tests.scripted import ScriptedEngine
from tests.ui.test_app import config, until
from tui_phone.app import make_app
from tui_phone.phone import Phone
from tui_phone.contacts.model import Contact, Number
from tui_phone.events import CallAdded, CallEnded, CallProgress, CallRemoved, CallState, Presence, TeamLoaded

SIZE = (80, 24)
AT = 1_700_000_000.0  # every event's time: nothing depends on the clock


def calls(app) -> None:
    """A ringing incoming call and an outgoing one that failed with 486."""
    post = app.phone.post
    post(CallAdded(101, "i", "sip:200@pbx.example.com", "200", "Charlie Root", "alice", at=AT))
    post(CallAdded(102, "o", "sip:300@pbx.example.com", "300", "", "alice", at=AT))
    post(CallProgress(102, CallState.RINGBACK, 180, "Ringing", at=AT + 1))
    post(CallEnded(102, 486, "Busy Here", at=AT + 3))
    post(CallRemoved(102))


def team(app) -> None:
    members = (("Ada Lovelace", "sip:201@pbx.example.com"), ("Grace Hopper", "sip:202@pbx.example.com"),
               ("Alan Turing", "sip:203@pbx.example.com"), ("Edsger Dijkstra", "sip:204@pbx.example.com"))
    app.phone.post(TeamLoaded(members))
    for (_, uri), status in zip(members, ("available", "in-call", "unavailable")):
        app.phone.post(Presence(uri, status))  # the fourth one never reported: offline


def contacts(app) -> None:
    db = app.phone.contacts
    db.add(Contact(first="Charlie", last="Root", company="Example Corp",
                   numbers=(Number("work", "+1 212 555 0100"), Number("mobile", "+1 917 555 0199"))))
    db.add(Contact(first="Dana", last="Scully", company="FBI", favorite=True,
                   numbers=(Number("work", "+1 202 555 0142"),)))
    db.add(Contact(company="Pizza Planet", numbers=(Number("work", "+1 415 555 0123"),)))


def no_blink(app) -> None:
    for field in app.screen.query(Input):
        field.cursor_blink = False


async def settle(pilot) -> None:
    """Ready, quiet (no toasts, no log pane) and rendered."""
    app = pilot.app
    no_blink(app)
    await pilot.pause(0.2)  # notify() is a message: let pending toasts arrive, then drop them
    app.clear_notifications()
    app.screen_stack[0].query_one("LogPane").display = False
    await pilot.pause(0.3)
    await pilot.wait_for_scheduled_animations()


def snapshot_app(theme: str | None = None):
    """The app on the test account (direct calls) and the scripted engine."""
    cfg = config("[audio]\nnull = true\n")  # same status line with or without a sound card
    return make_app(cfg, phone=Phone(cfg, engine=ScriptedEngine(cfg)), theme=theme)


async def started(pilot) -> None:
    app = pilot.app
    app.query_one("LogPane").display = False
    await until(pilot, app.ready.is_set, what="engine")
    # [audio] null = true: the engine says so once (a toast), possibly after ready
    await until(pilot, lambda: app.state.audio.note, what="audio decided")
    no_blink(app)
    await pilot.pause(0.2)
    app.clear_notifications()  # the start-up toasts ("audio off: …"), before a modal covers them
    await pilot.pause(0.1)


@pytest.mark.parametrize("theme", ["tui-phone", "tui-phone-light", "tui-phone-contrast"])
def test_calls_pane(snap_compare, theme):
    async def run_before(pilot):
        await started(pilot)
        calls(pilot.app)
        await until(pilot, lambda: pilot.app.state.ended and pilot.app.state.calls, what="calls shown")
        await settle(pilot)

    assert snap_compare(snapshot_app(theme), terminal_size=SIZE, run_before=run_before)


def test_dialpad_with_a_typed_number(snap_compare):
    async def run_before(pilot):
        await started(pilot)
        await pilot.press(*"+1 212 555 0100")
        await settle(pilot)

    assert snap_compare(snapshot_app(), terminal_size=SIZE, run_before=run_before)


def test_contacts_pane(snap_compare):
    async def run_before(pilot):
        await started(pilot)
        contacts(pilot.app)
        await pilot.press("escape", "f3")
        await until(pilot, lambda: pilot.app.query_one("#contact-list").row_count == 3, what="contacts")
        await settle(pilot)

    assert snap_compare(snapshot_app(), terminal_size=SIZE, run_before=run_before)


def test_team_pane(snap_compare):
    async def run_before(pilot):
        await started(pilot)
        team(pilot.app)
        await pilot.press("escape", "f4")
        await until(pilot, lambda: pilot.app.query_one("#team-list").row_count == 4, what="team")
        await settle(pilot)

    assert snap_compare(snapshot_app(), terminal_size=SIZE, run_before=run_before)


def test_help_screen(snap_compare):
    async def run_before(pilot):
        await started(pilot)
        await pilot.press("escape", "question_mark")
        await until(pilot, lambda: type(pilot.app.screen).__name__ == "Help", what="help")
        await settle(pilot)

    assert snap_compare(snapshot_app(), terminal_size=SIZE, run_before=run_before)


def test_command_palette(snap_compare):
    async def run_before(pilot):
        await started(pilot)
        await pilot.press("escape", "ctrl+p")
        await until(pilot, lambda: type(pilot.app.screen).__name__ == "CommandPalette", what="palette")
        await pilot.press(*"hold")
        await pilot.pause(0.5)  # the palette searches in a worker
        await settle(pilot)

    assert snap_compare(snapshot_app(), terminal_size=SIZE, run_before=run_before)
