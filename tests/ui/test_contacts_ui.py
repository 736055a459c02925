"""The contacts and team panes as a person uses them: forms, confirmation,
favorites, search as you type, calling, live team status. Calling a contact runs the real engine against sipp and the
team pane against a second real phone (their end-to-end pilots); the rest only
needs events and runs on the scripted engine."""

import json

from tests.peers import sipp_uas
from tests.phoneproc import HeadlessPhone, direct
from tests.ui.test_app import config, scripted_app, until
from tui_phone.app import make_app
from tui_phone.contacts.model import Contact, Number
from tui_phone.events import CallState
from tui_phone.ui.contacts import ContactForm, ContactsPane, NumberPicker
from tui_phone.ui.dialogs import Confirm


def names(app) -> list[str]:
    pane = app.query_one(ContactsPane)
    return [c.name for c in pane.contacts]


async def open_contacts(pilot, app):
    await until(pilot, app.ready.is_set, what="engine")
    await pilot.press("f3")
    await pilot.pause(0.2)


async def test_create_edit_delete_with_confirmation():
    app, _ = scripted_app()
    async with app.run_test(size=(100, 32)) as pilot:
        await open_contacts(pilot, app)
        await pilot.press("escape")  # leave the search box for the list
        app.query_one("#contact-list").focus()
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, ContactForm), what="form")
        await pilot.press(*"Ada")
        await pilot.press("tab", *"Lovelace", "tab", *"ada@", "tab", "tab", *"Analytical Engines", "tab")
        await pilot.press(*"mobile +1 212 555 0100")
        await pilot.click("#save")
        await pilot.pause(0.2)
        assert "email" in str(app.screen.query_one("#form-error").render())  # the field is named
        app.screen.query_one("#f-email").value = "ada@example.com"
        await pilot.click("#save")
        await until(pilot, lambda: not isinstance(app.screen, ContactForm), what="saved")
        await until(pilot, lambda: names(app) == ["Ada Lovelace"], what="listed")
        app.query_one("#contact-list").focus()
        await pilot.press("e")
        await until(pilot, lambda: isinstance(app.screen, ContactForm), what="edit form")
        app.screen.query_one("#f-first").value = "Augusta Ada"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: names(app) == ["Augusta Ada Lovelace"], what="edited")
        await pilot.press("x")
        await until(pilot, lambda: isinstance(app.screen, Confirm), what="confirm")
        assert "Augusta Ada Lovelace" in str(app.screen.query_one(".question").render())
        await pilot.press("n")  # changed my mind
        await pilot.pause(0.2)
        assert names(app) == ["Augusta Ada Lovelace"]
        await pilot.press("x")
        await until(pilot, lambda: isinstance(app.screen, Confirm), what="confirm")
        await pilot.press("y")
        await until(pilot, lambda: names(app) == [], what="deleted")


async def test_favorites_first_and_search_narrows():
    app, _ = scripted_app()
    async with app.run_test(size=(100, 32)) as pilot:
        db = app.phone.contacts
        db.add(Contact(first="Zed", numbers=(Number("work", "+1 212 555 0100"),)))
        db.add(Contact(first="Amy", company="Acme", numbers=(Number("home", "+44 20 7946 0000"),)))
        db.add(Contact(first="Bob", email="bob@builders.example", numbers=(Number("mobile", "+1 646 555 0199"),)))
        await open_contacts(pilot, app)
        await until(pilot, lambda: names(app) == ["Amy", "Bob", "Zed"], what="sorted")
        app.query_one("#contact-list").focus()
        await pilot.press("down", "down", "f")  # star Zed
        await until(pilot, lambda: names(app) == ["Zed", "Amy", "Bob"], what="favorite first")
        await pilot.press("slash", *"555")
        await until(pilot, lambda: names(app) == ["Zed", "Bob"], what="digits search")
        await pilot.press(*" 0199")
        await until(pilot, lambda: names(app) == ["Bob"], what="narrowed")
        search = app.query_one("#contact-search")
        search.value = "acme"
        await until(pilot, lambda: names(app) == ["Amy"], what="company search")
        search.value = "builders"
        await until(pilot, lambda: names(app) == ["Bob"], what="email search")


async def test_a_quick_search_shows_in_the_same_step_and_a_slow_one_in_a_worker():
    """A search the database answers within the budget fills the rows inside the key's own
    handler (no worker: the rows and the key paint together); one that takes longer
    goes to a worker, and only the newest text's answer is shown."""
    from tui_phone.ui import directory

    app, _ = scripted_app()
    async with app.run_test(size=(100, 32)) as pilot:
        app.phone.contacts.add_many([Contact(first=f"Person{i}", last="Quick") for i in range(150)]
                                    + [Contact(first="Ada", last="Lovelace")])
        await open_contacts(pilot, app)
        pane = app.query_one(ContactsPane)
        search = app.query_one("#contact-search")
        before = pane.renders
        search.value = "lovelace"  # the watcher runs the search; nothing is awaited here
        assert pane.renders == before + 1 and names(app) == ["Ada Lovelace"] and not pane._searching
        budget, directory.NOW_BUDGET = directory.NOW_BUDGET, 0.0
        try:
            search.value = "quick"
            assert names(app) == ["Ada Lovelace"] and pane._searching  # not answered at once: a worker asks
            search.value = "person14"
            await until(pilot, lambda: names(app) == [f"Person{i} Quick" for i in (14, *range(140, 150))],
                        what="the newest text's rows")
        finally:
            directory.NOW_BUDGET = budget


async def test_call_contact_picks_a_number(sipp_dir):
    uas = sipp_uas(sipp_dir, scenario="uas-fast")
    app = make_app(config(f'proxy = "sip:127.0.0.1:{uas.port}"\n'))
    async with app.run_test(size=(100, 32)) as pilot:
        app.phone.contacts.add(Contact(first="Grace", numbers=(Number("work", "200"), Number("mobile", "201"))))
        await open_contacts(pilot, app)
        await until(pilot, lambda: names(app) == ["Grace"], what="listed")
        app.query_one("#contact-list").focus()
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, NumberPicker), what="picker")
        await pilot.press("down", "enter")  # mobile: 201
        await until(pilot, lambda: app.state.calls and app.state.calls[0].state is CallState.CONNECTED,
                    what="Connected")
        assert app.state.calls[0].num == "201"
        await pilot.press("h")
    assert uas.wait(10) == 0
    assert "INVITE sip:201@" in uas.messages()


async def test_incoming_call_shows_contact_name():
    from tests.ui.test_app import table_text

    app, engine = scripted_app()
    async with app.run_test(size=(100, 32)) as pilot:
        await until(pilot, app.ready.is_set, what="engine")
        app.phone.contacts.add(Contact(first="Known", last="Caller", numbers=(Number("work", "5551234"),)))
        engine.incoming("sip:5551234@127.0.0.1:5099", dn="")  # a caller with no display name
        await until(pilot, lambda: app.state.alerting() is not None, what="ringing")
        assert app.state.alerting().dn == "Known Caller"
        await pilot.pause(0.1)
        assert "Known Caller" in table_text(app)


async def test_team_pane_shows_live_status(tmp_path):
    # colleagues watch each other: alice is on bob's team list (a stranger's SUBSCRIBE gets 403)
    bobs_team = tmp_path / "bobs-team.json"
    bobs_team.write_text(json.dumps([{"first": "Alice", "sip_uri": "sip:alice@127.0.0.1"}]))
    with HeadlessPhone(tmp_path, direct("bob") + f'\n[team]\nsource = "{bobs_team}"\n', name="bob") as bob:
        team = tmp_path / "team.json"
        team.write_text(json.dumps([{"first": "Bob", "sip_uri": f"sip:bob@{bob.sip_address}"}]))
        app = make_app(config(f'\n[team]\nsource = "{team}"\n'))
        async with app.run_test(size=(100, 32)) as pilot:
            await until(pilot, app.ready.is_set, what="engine")
            await pilot.press("f4")
            await until(pilot, lambda: app.state.presence_of(f"sip:bob@{bob.sip_address}") == "available",
                        what="available")
            await pilot.pause(0.1)
            table = app.query_one("#team-list")
            assert [str(c) for c in table.get_row_at(0)][1:3] == ["Bob", "available"]
            bob.api({"mt": "SetStatus", "status": "unavailable"})
            await until(pilot, lambda: "unavailable" in str(table.get_row_at(0)[2]), 5, what="unavailable")
            await pilot.press("2")  # filter: unavailable
            await pilot.pause(0.1)
            assert table.row_count == 1
            await pilot.press("1")  # filter: available
            await pilot.pause(0.1)
            assert table.row_count == 0
            await pilot.press("escape", "s")  # own status toggles
            await until(pilot, lambda: app.state.status == "unavailable", what="own status")


async def test_a_contact_added_by_another_process_shows_without_a_search():
    """The database watch (a stat of the file and its WAL twice a second, SQLite asked only after a
    write) shows a contact another connection wrote, e.g. `tui-phone contacts import`."""
    from tui_phone.contacts.db import ContactsDB

    app, _ = scripted_app()
    async with app.run_test(size=(100, 32)) as pilot:
        await open_contacts(pilot, app)
        await until(pilot, lambda: app.phone.contacts_open and names(app) == [], what="empty list")
        await pilot.pause(1.0)  # the watch has seen the file as it is
        with ContactsDB(app.phone.contacts.path) as other:
            other.add(Contact(first="Imported", last="Elsewhere", numbers=(Number("work", "200"),)))
        await until(pilot, lambda: names(app) == ["Imported Elsewhere"], what="the other process's contact")
