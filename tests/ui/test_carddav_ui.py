"""The address-book sync in the TUI: started by the app in the background, on
demand from the palette, each contact's book marked in the Contacts pane
(a real Radicale on 127.0.0.1)."""

from tests.contract.conftest import radicale  # noqa: F401  (the real CardDAV server)
from tests.contract.test_carddav import people, vcard
from tests.ui.test_app import config, scripted_app, until
from tui_phone.app import make_app
from tui_phone.ui.contacts import ContactsPane


def rows(app) -> list[str]:
    table = app.query_one("#contact-list")
    return [" ".join(str(c) for c in table.get_row_at(i)).split() for i in range(table.row_count)]


async def test_background_sync_fills_the_pane_and_the_palette_syncs_again(radicale):  # noqa: F811
    url = radicale.put_book("alice", "contacts", people(3))
    app = make_app(config(f'[[addressbooks]]\nname = "work"\nurl = "{radicale.url}"\nusername = "alice"\n'
                          f'password = "alicepw"\ninterval = 3600\n'))
    async with app.run_test(size=(110, 32)) as pilot:
        await pilot.press("f3")
        await until(pilot, lambda: len(app.query_one(ContactsPane).contacts) == 3, timeout=20, what="first sync")
        assert [row[2] for row in rows(app)] == ["work"] * 3  # the book column
        assert str(app.query_one("#contact-list").columns["book"].label) == "book"

        assert radicale.put("alice", url + "new.vcf", vcard("new", "Nia", "Newcomer", "+1 212 555 0142")
                            ).status_code == 201
        app.action_sync_contacts()  # the palette's "Sync contacts"
        await until(pilot, lambda: len(app.query_one(ContactsPane).contacts) == 4, timeout=20, what="on demand")
        assert any("Nia Newcomer" in " ".join(r) for r in rows(app))
        assert any("from the server 1 added" in n.message for n in app._notifications)


async def test_sync_contacts_without_address_books_says_how_to_add_one():
    app, _ = scripted_app()
    async with app.run_test(size=(100, 32)) as pilot:
        app.action_sync_contacts()
        await pilot.pause(0.1)
        assert "no address books: add [[addressbooks]] with name and url to the config" in [
            n.message for n in app._notifications]
        assert "book" not in app.query_one("#contact-list").columns  # no column for a phone without books
