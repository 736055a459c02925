"""Two-way CardDAV sync against a real Radicale server on 127.0.0.1 (tests.peers.Radicale).

Never skipped under CI=true: a missing Radicale fails the fixture."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from tui_phone.config import AddressBookConfig
from tui_phone.contacts.carddav import BookError, CardDav
from tui_phone.contacts.db import ContactsDB
from tui_phone.contacts.model import Contact, Number
from tui_phone.contacts.sync import BookSync, sync_books
from tui_phone.contacts.vcard import content_lines

ROOT = Path(__file__).resolve().parents[2]
UNKNOWN = [  # what other clients put in cards: groups, lower-case parameters, folding, a photo
    "item1.X-ABLabel:_$!<Custom>!$_",
    "item1.X-ABADR:de",
    "X-SOCIALPROFILE;type=twitter;x-user=ann:http://twitter.com/ann",
    "NOTE:first line\\nsecond\\, with a comma",
    "X-LONG-THING;x-param=\"a:b\":" + "0123456789" * 7 + "\r\n " + "abcdefghij" * 3,
    "PHOTO;ENCODING=b;TYPE=JPEG:" + "QUJD" * 16 + "\r\n " + "REVG" * 10,
    "CATEGORIES:friends,work",
]


def vcard(uid: str, first: str, last: str, tel: str, *extra: str) -> str:
    lines = ["BEGIN:VCARD", "VERSION:3.0", f"UID:{uid}", f"FN:{first} {last}", f"N:{last};{first};;;",
             f"TEL;TYPE=CELL:{tel}", *extra, "END:VCARD"]
    return "\r\n".join(lines) + "\r\n"


def people(n: int, start: int = 0) -> str:
    return "".join(vcard(f"p{i}", "Person", f"N{i:05d}", f"+1212{i:07d}") for i in range(start, start + n))


def book(radicale, name="work", url=None, user="alice", **kw) -> AddressBookConfig:
    return AddressBookConfig(name=name, url=url or radicale.url, username=user,
                             password=radicale.users[user], **kw)


@pytest.fixture
def db(tmp_path):
    with ContactsDB(tmp_path / "contacts.db") as d:
        yield d


def by_last(db: ContactsDB) -> dict:
    return {c.last: c for c in db.search("", include_team=False)}


def server_card(radicale, user: str, bookname: str, uid: str) -> str:
    return radicale.card_files(user, bookname)[f"{uid}.vcf"]


def test_discovery_from_the_bare_server_url_finds_the_address_book(radicale, db):
    radicale.put_book("alice", "contacts", people(3))
    summary = BookSync(db, book(radicale)).run()
    assert db.book("work")[1] == radicale.book_url("alice", "contacts")
    assert summary.pulled["added"] == 3
    assert {c.book for c in db.search("")} == {"work"}


@pytest.mark.parametrize("path", ["dav/", ".well-known/carddav", "alice/contacts/"])
def test_discovery_through_well_known_or_the_address_book_itself(radicale, path):
    radicale.put_book("alice", "contacts", "")
    radicale.put_book("alice", "old", "")  # the first address book of the account is taken: contacts
    with CardDav("work", radicale.url + path, "alice", "alicepw") as dav:
        assert dav.discover() == radicale.book_url("alice", "contacts")


def test_without_sync_collection_the_etags_of_the_whole_book_are_compared(radicale, db):
    radicale.put_book("alice", "contacts", people(20))
    with CardDav("work", radicale.url, "alice", "alicepw") as dav:
        dav.discover()
        full = dav.listing("")
        assert dav.every_etag().etags == full.etags and len(full.etags) == 20
        forgotten = dav.listing(full.token + "-forgotten")  # a token the server does not know
        assert forgotten.complete and forgotten.etags == full.etags
    BookSync(db, book(radicale)).run()
    url, collection, token = db.book("work")
    db.set_book("work", url, collection, token + "-forgotten")
    radicale.delete("alice", collection + "p3.vcf")
    summary = BookSync(db, book(radicale)).run()  # a complete listing: the missing card was deleted
    assert summary.pulled == {"deleted": 1} and len(db.search("")) == 19


def test_initial_sync_of_1000_cards_then_nothing_to_do(radicale, db):
    radicale.put_book("alice", "contacts", people(1000))
    progress: list[str] = []
    summary = BookSync(db, book(radicale), progress=progress.append).run()
    assert summary.pulled == {"added": 1000}
    assert "address book work: fetching 250/1,000 cards" in progress
    assert progress[-1] == "address book work: fetched 1,000/1,000 cards"
    assert len(db.search("", limit=None)) == 1000
    assert db.lookup("(212) 000-0042").last == "N00042"  # caller-name lookup on synced contacts
    assert [c.last for c in db.search("N0099")] == [f"N0099{i}" for i in range(10)]
    again = BookSync(db, book(radicale)).run()
    assert (again.pulled, again.pushed, again.conflicts) == ({}, {}, 0)


def test_an_edit_on_each_side_reaches_the_other(radicale, db):
    url = radicale.put_book("alice", "contacts", people(3))
    BookSync(db, book(radicale)).run()
    ann = by_last(db)["N00001"]
    db.set_favorite(ann.id, True)

    etag = radicale.get("alice", url + "p1.vcf").headers["ETag"]
    assert radicale.put("alice", url + "p1.vcf", vcard("p1", "Ann", "N00001", "+44 20 7946 0000"),
                        etag).status_code in (201, 204)
    summary = BookSync(db, book(radicale)).run()
    assert summary.pulled == {"updated": 1}
    ann = db.get(ann.id)
    assert (ann.first, ann.numbers[0].e164, ann.favorite) == ("Ann", "+442079460000", True)

    db.update(replace(ann, numbers=(Number("work", "+1 646 555 0100"),), job_title="Engineer"))
    summary = BookSync(db, book(radicale)).run()
    assert summary.pushed == {"updated": 1}
    text = server_card(radicale, "alice", "contacts", "p1")
    assert "TEL;TYPE=WORK:+1 646 555 0100" in text and "TITLE:Engineer" in text
    assert "X-TUI-PHONE-FAVORITE" not in text  # a star is the phone's own
    assert BookSync(db, book(radicale)).run().pulled == {}  # our own change does not come back


def test_a_delete_on_each_side_reaches_the_other(radicale, db):
    url = radicale.put_book("alice", "contacts", people(3))
    BookSync(db, book(radicale)).run()
    assert radicale.delete("alice", url + "p0.vcf").status_code in (200, 204)
    db.delete(by_last(db)["N00002"].id)
    summary = BookSync(db, book(radicale)).run()
    assert (summary.pulled, summary.pushed) == ({"deleted": 1}, {"deleted": 1})
    assert set(by_last(db)) == {"N00001"}
    assert set(radicale.card_files("alice", "contacts")) == {"p1.vcf"}


def test_new_contacts_on_the_phone_go_to_the_book_that_takes_them(radicale, db):
    radicale.put_book("alice", "contacts", people(1))
    mine = db.add(Contact(first="Dora", last="Local", numbers=(Number("mobile", "+1 415 555 0199"),)))
    summary = BookSync(db, book(radicale, new_contacts=True)).run()
    assert summary.pushed == {"added": 1} and summary.pulled == {"added": 1}
    assert db.get(mine.id).book == "work"
    texts = radicale.card_files("alice", "contacts").values()
    assert any("N:Local;Dora;;;" in t and "+1 415 555 0199" in t for t in texts)


def test_a_conflict_keeps_the_server_version_and_saves_ours_as_a_copy(radicale, db):
    url = radicale.put_book("alice", "contacts", people(2))
    BookSync(db, book(radicale)).run()
    local = by_last(db)["N00000"]
    db.update(replace(local, numbers=(Number("home", "+1 303 555 0101"),)))
    etag = radicale.get("alice", url + "p0.vcf").headers["ETag"]
    radicale.put("alice", url + "p0.vcf", vcard("p0", "Person", "N00000", "+1 303 555 0202"), etag)
    lines: list[str] = []
    summary = BookSync(db, book(radicale), report=lines.append).run()
    assert summary.conflicts == 1
    assert lines == ["address book work: Person N00000 changed here and on the server; kept the server's "
                     "version, yours is saved as Person N00000 (conflict)"]
    contacts = by_last(db)
    assert contacts["N00000"].numbers[0].typed == "+1 303 555 0202"
    assert contacts["N00000 (conflict)"].numbers[0].typed == "+1 303 555 0101"
    assert contacts["N00000 (conflict)"].book == "work"  # and uploaded as a card of its own
    texts = radicale.card_files("alice", "contacts").values()
    assert sum("N00000 (conflict)" in t and "+1 303 555 0101" in t for t in texts) == 1


def test_server_down_mid_sync_loses_nothing_and_the_next_sync_finishes(radicale, db):
    radicale.put_book("alice", "contacts", people(300))
    BookSync(db, book(radicale)).run()
    edited = replace(by_last(db)["N00007"], first="Edited")
    db.update(edited)  # queued: pushed by the next sync that gets through
    radicale.put_book("alice", "contacts", people(1000))  # 700 new cards on the server

    def stop_after_first_batch(line: str) -> None:
        if "fetching 250/" in line:
            radicale.stop()

    with pytest.raises(BookError, match=r"^address book work: cannot reach 127\.0\.0\.1:\d+: "):
        BookSync(db, book(radicale), progress=stop_after_first_batch).run()
    assert db.get(edited.id).first == "Edited"
    assert 300 < len(db.search("", limit=None)) < 1000  # the first batch is kept

    radicale.start()
    summary = BookSync(db, book(radicale)).run()
    assert len(db.search("", limit=None)) == 1000
    assert summary.pushed == {"updated": 1}
    assert "N:N00007;Edited;;;" in server_card(radicale, "alice", "contacts", "p7")


def test_unknown_properties_survive_a_round_trip_byte_for_byte(radicale, db):
    url = radicale.book_url("alice", "contacts")
    radicale.make_book("alice", "contacts")
    assert radicale.put("alice", url + "ann.vcf", vcard("ann", "Ann", "Lee", "+1 212 555 0100", *UNKNOWN)
                        ).status_code == 201
    before = content_lines(radicale.get("alice", url + "ann.vcf").text)  # as the server keeps it
    unknown = [line for line in before if any(key in line.upper() for key in
                                              ("X-AB", "X-SOCIAL", "NOTE", "X-LONG", "PHOTO", "CATEGORIES"))]
    assert len(unknown) == len(UNKNOWN) and any("\r\n " in line for line in unknown)  # folded ones too
    BookSync(db, book(radicale)).run()
    ann = by_last(db)["Lee"]
    db.update(replace(ann, numbers=(Number("mobile", "+1 212 555 0199"),), email="ann@example.com"))
    assert BookSync(db, book(radicale)).run().pushed == {"updated": 1}

    sent = content_lines(db.cards("work")["/alice/contacts/ann.vcf"].vcard)  # the body of our PUT
    after = content_lines(radicale.get("alice", url + "ann.vcf").text)
    for lines in (sent, after):
        assert "TEL;TYPE=CELL:+1 212 555 0199" in lines and "EMAIL;TYPE=INTERNET:ann@example.com" in lines
        assert [line for line in lines if line in unknown] == unknown  # same bytes, folding and order
    assert by_last(db)["Lee"].numbers[0].typed == "+1 212 555 0199"


def test_two_address_books_at_once(radicale, db):
    radicale.put_book("alice", "contacts", people(5))
    radicale.put_book("bob", "family", people(3, start=100))
    books = (book(radicale, "work", radicale.book_url("alice", "contacts")),
             book(radicale, "home", radicale.url, user="bob"))
    summaries, errors = sync_books(db, books)
    assert errors == []
    assert [s.pulled["added"] for s in summaries] == [5, 3]
    marks = {c.last: c.book for c in db.search("")}
    assert marks["N00004"] == "work" and marks["N00100"] == "home"
    db.delete(by_last(db)["N00100"].id)
    summaries, _ = sync_books(db, books)
    assert [s.pushed["deleted"] for s in summaries] == [0, 1]
    assert "p100.vcf" not in radicale.card_files("bob", "family")
    assert len(radicale.card_files("alice", "contacts")) == 5


def cli(tmp_path: Path, config: str, *args: str) -> subprocess.CompletedProcess:
    path = tmp_path / "config.toml"
    path.write_text(config)
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "data"), "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "tui_phone", "--config", str(path), "contacts", "sync", *args],
                          env=env, capture_output=True, text=True, timeout=120, cwd=ROOT)


def test_cli_sync_prints_a_summary_and_a_wrong_password_is_one_clear_line(radicale, tmp_path):
    radicale.put_book("alice", "contacts", people(4))
    radicale.put_book("bob", "family", people(2, start=50))
    good = (f'[[addressbooks]]\nname = "work"\nurl = "{radicale.url}"\nusername = "alice"\n'
            f'password_command = "echo alicepw"\n')
    done = cli(tmp_path, good)
    assert done.returncode == 0, done.stderr
    assert done.stdout == ("address book work: from the server 4 added, 0 updated, 0 deleted; "
                           "to the server 0 added, 0 updated, 0 deleted\n")
    assert "fetching 0/4 cards" in done.stderr

    wrong = (good.replace('password_command = "echo alicepw"', 'password = "not-her-secret-pw"')
             + f'\n[[addressbooks]]\nname = "spare"\nurl = "{radicale.url}"\nusername = "bob"\npassword = "bobpw"\n')
    failed = cli(tmp_path, wrong)
    assert failed.returncode == 1
    assert [line for line in failed.stderr.splitlines() if not line.startswith("address book spare: fetch")] == [
        "tui-phone: address book work: the server refused the user name or password (401)"]
    assert "address book spare: from the server 2 added" in failed.stdout  # the other book still syncs
    assert "not-her-secret-pw" not in radicale.log_text() + failed.stdout + failed.stderr

    unknown = cli(tmp_path, good, "--name", "nope")
    assert (unknown.returncode, unknown.stderr) == (2, "tui-phone: no address book named 'nope' in the config\n")


async def test_the_background_sync_retries_until_the_server_is_back(radicale, tmp_path):
    import asyncio

    from tui_phone.contacts.sync import keep_in_sync

    radicale.put_book("alice", "contacts", people(5))
    radicale.stop()
    logs: list[tuple[str, str]] = []
    synced = asyncio.Queue()
    task = asyncio.create_task(keep_in_sync(tmp_path / "c.db", "US", (book(radicale, interval=1),),
                                            lambda level, line: logs.append((level, line)),
                                            lambda summary, asked: synced.put_nowait(summary), asyncio.Event()))
    try:
        for _ in range(200):
            if logs:
                break
            await asyncio.sleep(0.05)
        assert logs[0][0] == "warning"
        assert logs[0][1].startswith(f"address book work: cannot reach 127.0.0.1:{radicale.port}: ")
        radicale.start()
        summary = await asyncio.wait_for(synced.get(), 30)
        assert summary.pulled == {"added": 5}
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    with ContactsDB(tmp_path / "c.db") as db:
        assert len(db.search("")) == 5
