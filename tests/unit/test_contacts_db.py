"""contacts/db.py: CRUD, validation, search, favorites order, caller lookup,
migrations, WAL, the read-only team."""

import os
import signal
import sqlite3
import subprocess
import sys
import threading
from dataclasses import replace

import pytest

from tui_phone.contacts import Contact, ContactError, Number
from tui_phone.contacts.db import BULK_MIN, MIGRATIONS, RARE_MAX, ContactsDB


@pytest.fixture(params=["fts", "scan"])
def db(request, tmp_path):
    with ContactsDB(tmp_path / "tui-phone.db", "US", fts=request.param == "fts") as store:
        assert store.fts == (request.param == "fts")
        yield store


def bob(**kw) -> Contact:
    base = dict(first="Bob", last="Smith", numbers=(Number("mobile", "+1 212 555 0100"),),
                email="bob@example.com", job_title="Buyer", company="Acme")
    return Contact(**{**base, **kw})


def names(contacts) -> list[str]:
    return [c.name for c in contacts]


@pytest.fixture
def people(db):
    db.add(bob())
    db.add(Contact(first="alice", last="Jones", company="Globex",
                   numbers=(Number("work", "(646) 555-0199"), Number("home", "020 7946 0958")),
                   email="alice@globex.example"))
    db.add(Contact(first="Carol", last="Ng", job_title="Engineer", numbers=(Number("other", "200"),)))
    db.add(Contact(company="Initech", email="sales@initech.example"))
    return db


# ----- CRUD ------------------------------------------------------------------------

def test_add_stores_typed_and_e164_and_returns_the_id(db):
    c = db.add(bob(first="  Bob "))
    assert c.id is not None and c.first == "Bob"
    assert c.numbers == (Number("mobile", "+1 212 555 0100", "+12125550100"),)
    assert db.get(c.id) == c


def test_update_replaces_fields_and_numbers(db):
    c = db.add(bob())
    new = db.update(replace(c, last="Smythe", numbers=(Number("work", "2125550111"),)))
    assert new.id == c.id
    assert db.get(c.id) == new
    assert new.numbers == (Number("work", "2125550111", "+12125550111"),)
    assert names(db.search("smythe")) == ["Bob Smythe"] and db.search("smith") == []
    assert db.lookup("+12125550100") is None


def test_delete_removes_contact_numbers_and_index(db):
    c = db.add(bob())
    db.delete(c.id)
    assert db.get(c.id) is None
    assert db.search("") == [] and db.search("555") == [] and db.lookup("2125550100") is None


def test_ids_are_never_reused(db):
    c = db.add(bob())
    db.delete(c.id)
    assert db.add(bob()).id != c.id


def test_missing_contact_is_an_error(db):
    with pytest.raises(ContactError, match="no contact with id 99"):
        db.delete(99)
    with pytest.raises(ContactError, match="no contact with id 99"):
        db.update(bob(id=99))
    with pytest.raises(ContactError, match="no contact with id 99"):
        db.set_favorite(99, True)
    assert db.get(99) is None


def test_add_many_is_all_or_nothing(db):
    with pytest.raises(ContactError, match=r"^contact 2: email: not an email address"):
        db.add_many([bob(), bob(email="nope")])
    assert db.search("") == []
    assert len(db.add_many([bob(), bob(first="Rob")])) == 2


# ----- validation ------------------------------------------------------------------

@pytest.mark.parametrize("change, message", [
    (dict(email="bob@"), "email: not an email address: 'bob@'"),
    (dict(email="bob@example"), "email: not an email address: 'bob@example'"),
    (dict(email="bob smith@example.com"), "email: not an email address"),
    (dict(first="", last="", company=" "), "name: a contact needs a first name, a last name or a company"),
    (dict(numbers=(Number("mobile", "555-CALL"),)), "number 1: has a letter: '555-CALL'"),
    (dict(numbers=(Number("work", "200"), Number("home", "1;2"))), "number 2: has ';'"),
    (dict(numbers=(Number("home", "  "),)), "number 1: is empty"),
    (dict(numbers=(Number("home", "*#"),)), "number 1: has no digits"),
    (dict(numbers=(Number("pager", "200"),)), "number 1: label must be one of mobile, work, home, other"),
    (dict(first="Bo\x1bb"), "first: has a control character"),
    (dict(sip_uri="bob@pbx"), "sip_uri: not a sip: or sips: URI"),
    (dict(last="x" * 100_000), "last: longer than 256 characters"),  # outside probe: stored as is
    (dict(company="y" * 257), "company: longer than 256 characters"),
])
def test_add_refuses_with_the_field_named(db, change, message):
    with pytest.raises(ContactError) as e:
        db.add(bob(**change))
    assert str(e.value).startswith(message)
    assert db.search("") == []


def test_a_company_alone_or_an_extension_is_enough(db):
    c = db.add(Contact(company="Initech", numbers=(Number("work", "200"), Number("other", "*86"))))
    assert c.name == "Initech"
    assert [n.e164 for n in c.numbers] == ["200", "*86"]


# ----- search ----------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("", ["alice Jones", "Bob Smith", "Carol Ng", "Initech"]),
    ("bob", ["Bob Smith"]),
    ("SMI", ["Bob Smith"]),
    ("mit", ["Bob Smith"]),                         # substring, not only a prefix
    ("b", ["alice Jones", "Bob Smith"]),             # one letter: globex, bob
    ("glob", ["alice Jones"]),                      # company
    ("initech", ["Initech"]),
    ("example", ["alice Jones", "Bob Smith", "Initech"]),   # email
    ("engineer", ["Carol Ng"]),                     # job title
    ("555", ["alice Jones", "Bob Smith"]),          # digits of +1 212 555 0100
    ("55", ["alice Jones", "Bob Smith"]),           # short digit fragment
    ("550100", ["Bob Smith"]),
    ("212 555", ["Bob Smith"]),
    ("(212) 555-01", ["Bob Smith"]),
    ("+1 212", ["Bob Smith"]),
    ("12125550100", ["Bob Smith"]),                 # the E.164 digits
    ("7946", ["alice Jones"]),                      # typed digits of a local UK number
    ("20", ["alice Jones", "Carol Ng"]),
    ("bob 0100", ["Bob Smith"]),                    # every word must match
    ("alice 0100", []),
    ("zzz", []),
    ('"', []),
    ("%", []),
    ("_", []),
])
def test_search_narrows(people, text, expected):
    assert names(people.search(text)) == expected


def test_search_folds_case_beyond_ascii(db):
    db.add(Contact(first="JÖRG", last="Straße", company="Ærø"))
    for text in ("jörg", "Jö", "STRASSE", "straße", "æ", "ærø"):
        assert names(db.search(text)) == ["JÖRG Straße"], text


def test_search_index_follows_every_write(db):
    c = db.add(bob())
    db.update(replace(c, last="Smythe"))
    db.set_favorite(c.id, True)
    db.replace_team([Contact(first="Dana", last="Lee")])
    db.replace_team([Contact(first="Dana", last="Lee"), Contact(first="Eve")])
    db.delete(db.add(bob(first="Temp")).id)
    if db.fts:  # the external-content FTS index matches the contacts rows exactly
        db._conn.execute("INSERT INTO contact_search (contact_search, rank)"
                         " VALUES ('integrity-check', 1)")
    assert names(db.search("sm")) == ["Bob Smythe"] and names(db.search("lee")) == ["Dana Lee"]
    assert db.search("temp") == [] and db.search("smith") == []


def test_bulk_insert_and_import_index_every_row_once(db):
    """From BULK_MIN contacts on, the index is built after the rows; it still matches them exactly."""
    many = [bob(first=f"Bulk{i:03d}", numbers=(Number("work", f"+1 212 555 {i:04d}"),)) for i in range(BULK_MIN)]
    db.add_many(many)  # a first import: numbers_tail is built after the rows, the file compacted
    assert {"contacts_id", "numbers_tail"} <= {r[0] for r in db._read("SELECT name FROM sqlite_master")}
    assert db._read("PRAGMA freelist_count") == [(0,)]
    assert db._read("PRAGMA integrity_check") == [("ok",)]
    assert db.merge_many(many) == (0, BULK_MIN)  # the same cards again: every one replaced, re-indexed
    db.add(bob(first="Single"))  # the per-row trigger is back
    if db.fts:
        db._conn.execute("INSERT INTO contact_search (contact_search, rank) VALUES ('integrity-check', 1)")
    assert names(db.search("bulk042")) == ["Bulk042 Smith"] and names(db.search("single")) == ["Single Smith"]
    assert len(db.search("bulk")) == BULK_MIN and names(db.search("5550099")) == ["Bulk099 Smith"]


def test_search_of_a_common_and_a_rare_word_finds_the_rare_pair(db):
    """A word with more than RARE_MAX matches is found by walking the list; with a rare one, from the index."""
    db.add_many([bob(first="Common", last=f"Person{i}") for i in range(RARE_MAX + 5)]
                + [bob(first="Common", last="Zebra"), bob(first="Other", last="Zebra")])
    assert len(db.search("common", limit=50)) == 50
    assert names(db.search("comm zebra")) == ["Common Zebra"]
    assert db.search("common qqq") == []


def test_search_narrows_as_you_type(people):
    counts = [len(people.search("alice@globex"[:n])) for n in range(1, 13)]
    assert counts[-1] == 1 and counts == sorted(counts, reverse=True)


def test_favorites_first_then_by_name_case_insensitive(people):
    carol = people.search("carol")[0]
    assert people.set_favorite(carol.id, True).favorite
    assert names(people.search("")) == ["Carol Ng", "alice Jones", "Bob Smith", "Initech"]
    people.set_favorite(carol.id, False)
    assert names(people.search(""))[0] == "alice Jones"


def test_search_limit_and_team_filter(people):
    people.replace_team([Contact(first="Dana", last="Team", sip_uri="sip:dana@pbx")])
    assert names(people.search("", limit=2)) == ["alice Jones", "Bob Smith"]
    assert "Dana Team" in names(people.search(""))
    assert "Dana Team" not in names(people.search("", include_team=False))


# ----- caller lookup ---------------------------------------------------------------

@pytest.mark.parametrize("typed", ["+12125550100", "+1 (212) 555-0100", "2125550100",
                                   "(212) 555-0100", "1-212-555-0100", "0012125550100",
                                   "011 1 212 555 0100"])
def test_lookup_finds_a_number_in_any_typed_form(people, typed):
    assert people.lookup(typed).name == "Bob Smith"


def test_lookup_by_trailing_digits(db):
    c = db.add(Contact(first="Erika", numbers=(Number("work", "+49 30 1234567"),)))
    assert db.lookup("030 1234567") == c      # national form with trunk zero
    assert db.lookup("1234567") == c          # last 7 digits
    assert db.lookup("234567") is None        # fewer than 7
    assert db.lookup("+49 40 1234567") is None  # other area code, same 7 digits


def test_lookup_refuses_ambiguous_trailing_digits(db):
    db.add(Contact(first="A", numbers=(Number("work", "+1 212 555 0100"),)))
    db.add(Contact(first="B", numbers=(Number("work", "+1 646 555 0100"),)))
    assert db.lookup("5550100") is None
    assert db.lookup("6465550100").first == "B"


def test_lookup_extensions_and_junk(people):
    assert people.lookup("200").name == "Carol Ng"
    assert people.lookup("201") is None
    assert people.lookup("sip:bob@pbx") is None
    assert people.lookup("") is None


# ----- the team --------------------------------------------------------------------

def test_team_is_read_only_and_replaced_wholesale(db):
    first = db.replace_team([Contact(first="Dana", sip_uri="sip:dana@pbx",
                                     numbers=(Number("work", "201"),)),
                             Contact(first="Eve", sip_uri="sip:eve@pbx")])
    assert all(c.team for c in first)
    dana = first[0]
    for attempt in (lambda: db.update(replace(dana, last="X")), lambda: db.delete(dana.id),
                    lambda: db.add(Contact(first="Zed", team=True))):
        with pytest.raises(ContactError, match="^team contacts are managed on the PBX$"):
            attempt()
    db.set_favorite(dana.id, True)  # a local preference, allowed
    second = db.replace_team([Contact(first="Dana", last="Renamed", sip_uri="sip:dana@pbx"),
                              Contact(first="Fay", sip_uri="sip:fay@pbx")])
    assert names(db.search("")) == ["Dana Renamed", "Fay"]
    assert second[0].id == dana.id and second[0].favorite   # same member: id and star kept
    assert db.lookup("201") is None


def test_replace_team_with_duplicate_names_leaves_no_stale_rows(db):
    db.replace_team([Contact(first="Sam"), Contact(first="Sam")])
    db.replace_team([Contact(first="Sam")])
    assert names(db.search("")) == ["Sam"]


def test_replace_team_validates_everything_first(db):
    db.replace_team([Contact(first="Dana")])
    with pytest.raises(ContactError, match="^team member 2: email: not an email address"):
        db.replace_team([Contact(first="Eve"), Contact(first="Fay", email="fay@")])
    assert names(db.search("")) == ["Dana"]


def test_external_contacts_survive_a_team_refresh(people):
    before = people.search("", include_team=False)
    people.replace_team([Contact(first="Dana")])
    people.replace_team([])
    assert people.search("") == before


# ----- file, migrations, concurrency -----------------------------------------------

def test_wal_and_schema_version(tmp_path):
    path = tmp_path / "tui-phone.db"
    ContactsDB(path).close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)


def test_migrates_an_empty_v0_file_and_reopening_is_idempotent(tmp_path):
    path = tmp_path / "tui-phone.db"
    path.write_bytes(b"")
    with ContactsDB(path) as store:
        assert store.schema_version == len(MIGRATIONS)
        c = store.add(bob())
    with ContactsDB(path) as store:
        assert store.schema_version == len(MIGRATIONS)
        assert store.search("") == [c]


def test_keeps_the_index_kind_it_was_created_with(tmp_path):
    path = tmp_path / "tui-phone.db"
    ContactsDB(path, fts=False).close()
    with ContactsDB(path) as store:
        assert not store.fts


def test_refuses_a_newer_schema(tmp_path):
    path = tmp_path / "tui-phone.db"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    conn.close()
    with pytest.raises(ContactError, match="is newer than this tui-phone knows"):
        ContactsDB(path)


def generated(count: int, seed: int = 3) -> list[Contact]:
    """Contacts with repeated names, companies and area codes (common and rare search terms)."""
    import random

    rng = random.Random(seed)
    firsts, lasts = ["Alice", "Bob", "Jörg", "Zoë", "Dan", "Erika"], ["Smith", "Müller", "Okafor", "Ng", "Rossi"]
    return [Contact(first=rng.choice(firsts), last=f"{rng.choice(lasts)}{i % 13 or ''}",
                    company=rng.choice(["Acme", "Globex", ""]), email=f"p{i}@example.com",
                    favorite=rng.random() < .05, job_title=rng.choice(["Buyer", "Chef", ""]),
                    numbers=tuple(Number("work", f"({rng.choice([212, 646, 305])}) 555-{rng.randint(0, 9999):04d}")
                                  for _ in range(rng.randint(0, 2))) + ((Number("other", f"{200 + i % 50}"),)
                                                                      if i % 7 == 0 else ()))
            for i in range(count)]


QUERIES = ["a", "s", "sm", "mit", "smith", "smith1", "MÜL", "ö", "zoë ng", "bob acme", "acme", "glob", "p12",
           "p1234@", "example", "2", "55", "212", "555-01", "(646) 5", "+1 305", "2125550", "20", "2004", "210",
           "qq", "zzz", "jörg müller3", "e chef", "buyer 646"]


def test_index_and_scan_find_the_same_contacts(tmp_path):
    """The trigram index (no positions: a superset checked with instr, or a walk for common
    terms) gives exactly what scanning every row gives, whole lists and one screen."""
    people = generated(RARE_MAX + 600)
    with ContactsDB(tmp_path / "fts.db", "US") as fts, ContactsDB(tmp_path / "scan.db", "US", fts=False) as scan:
        assert fts.fts and not scan.fts
        fts.add_many(people)
        scan.add_many(people)
        for text in QUERIES:
            for limit in (None, 50):
                assert fts.search(text, limit=limit) == scan.search(text, limit=limit), (text, limit)
        assert len(fts.search("example")) > RARE_MAX > len(fts.search("smith1")) > 0  # both paths ran


def test_a_version_5_database_is_upgraded_losing_nothing(tmp_path):
    """A file written by the version before (v5: a trigram index with positions, an
    index on numbers.e164, digits as typed and as E.164) opens as v6 with every contact,
    the same search answers as a new file, its caller lookups and a smaller index."""
    from tui_phone.contacts.model import validate

    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN")
    for step in MIGRATIONS[:5]:
        step(conn, True)
    conn.execute("PRAGMA user_version = 5")
    people = [validate(c, "US") for c in generated(400, seed=8)]
    for c in people:  # rows as version 5 stored them
        digits = " ".join(dict.fromkeys(d for n in c.numbers for d in ("".join(filter(str.isdigit, n.typed)),
                                                                       n.e164.lstrip("+")) if d))
        haystack = "\n".join(f.casefold() for f in (c.first, c.last, c.company, c.email, c.job_title))
        cur = conn.execute("INSERT INTO contacts (first, last, company, email, job_title, sip_uri, favorite, team,"
                           " sort_key, haystack, digits, uid) VALUES (?, ?, ?, ?, ?, '', ?, 0, ?, ?, ?, '')",
                           (c.first, c.last, c.company, c.email, c.job_title, int(c.favorite),
                            c.name.casefold(), haystack, digits))
        conn.executemany("INSERT INTO numbers (contact_id, pos, label, typed, e164, tail) VALUES (?, ?, ?, ?, ?, ?)",
                         [(cur.lastrowid, i, n.label, n.typed, n.e164, n.e164.lstrip("+").lstrip("0")[::-1])
                          for i, n in enumerate(c.numbers)])
    conn.execute("COMMIT")
    assert "numbers_e164" in {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    conn.close()
    with ContactsDB(path, "US") as old, ContactsDB(tmp_path / "new.db", "US") as new:
        assert old.schema_version == len(MIGRATIONS) and old.fts
        new.add_many(people)
        assert old.search("") == new.search("") and len(old.search("")) == 400
        for text in QUERIES:
            assert old.search(text) == new.search(text), text
        called = [c for c in people if c.numbers][:20]
        for c in called:
            found = old.lookup(c.numbers[0].typed)
            assert found is not None and c.numbers[0].e164 in [n.e164 for n in found.numbers]
        schema = " ".join(r[0] or "" for r in old._conn.execute("SELECT sql FROM sqlite_master"))
        assert "detail=none" in schema and "numbers_e164" not in schema
        assert old._read("PRAGMA freelist_count") == [(0,)]  # compacted once: the old index's pages went back
        old._conn.execute("INSERT INTO contact_search (contact_search, rank) VALUES ('integrity-check', 1)")
        assert old._read("SELECT digits FROM contacts") == new._read("SELECT digits FROM contacts")


def _version_6_file(path, people: list[Contact]) -> None:
    """A file as version 6 wrote it: the v1..v6 steps, then rows as its ``_store_many``
    stored them (a rowid table, ``contacts_order``, e164 and tail both stored), the
    search index filled by its triggers; the last contact deleted (an id gap)."""
    from tui_phone.contacts.schema import only_digits, search_digits

    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("BEGIN")
    for step in MIGRATIONS[:6]:
        step(conn, True)
    conn.execute("PRAGMA user_version = 6")
    for i, c in enumerate(people, 1):
        conn.execute("INSERT INTO contacts (id, first, last, company, email, job_title, sip_uri, favorite, team,"
                     " sort_key, haystack, digits, uid) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                     (i, c.first, c.last, c.company, c.email, c.job_title, c.sip_uri, int(c.favorite), int(c.team),
                      c.name.casefold(), "\n".join(f.casefold() for f in (c.first, c.last, c.company, c.email,
                                                                          c.job_title)),
                      search_digits([(n.typed, n.e164) for n in c.numbers]), c.uid))
        conn.executemany("INSERT INTO numbers (contact_id, pos, label, typed, e164, tail) VALUES (?, ?, ?, ?, ?, ?)",
                         [(i, pos, n.label, n.typed, n.e164, only_digits(n.e164).lstrip("0")[::-1])
                          for pos, n in enumerate(c.numbers)])
    conn.execute("DELETE FROM contacts WHERE id = ?", (len(people),))
    conn.execute("INSERT INTO books VALUES ('work', 'https://dav.example/', '/c/work/', 'token-7')")
    conn.executemany("INSERT INTO cards VALUES ('work', ?, ?, ?, ?, ?)",
                     [(f"/c/work/{i}.vcf", f"etag{i}", i, f"fp{i}", f"BEGIN:VCARD\nUID:{i}\nEND:VCARD")
                      for i in (2, 5, len(people))] + [("/c/work/bad.vcf", "e", None, "", "BEGIN:VCARD")])
    conn.execute("INSERT INTO history (started, dir, kind, num, sip, name, account, duration, code, reason,"
                 " reason_remote, redirected_to, recording) VALUES (1.5, 'in', 'missed', '200', 'sip:200@pbx',"
                 " 'Carol', 'work', 0, 487, 'Request Terminated', '', '', '')")
    conn.execute("COMMIT")
    conn.close()


def _varied(count: int) -> list[Contact]:
    """Validated contacts with every kind of field: favorites, team rows with SIP URIs,
    UIDs, names that are not case-folded, upper-case and empty emails, numbers whose
    E.164 form is not ``+`` and digits (``200``, ``*86``, ``0049…`` under US)."""
    from tui_phone.contacts.model import validate

    odd = [Contact(first="JÖRG", last="Straße", email="Jorg.Strasse@Example.DE", uid="urn:uuid:1",
                   numbers=(Number("home", "0049 30 1234567"), Number("other", "*86"),
                            Number("mobile", "+44 20 7946 0958"))),
           Contact(first="ærin", last="o'brien", company="acme", job_title="chef", favorite=True),
           Contact(company="Initech", sip_uri="sip:desk@pbx.example", team=True, numbers=(Number("work", "200"),)),
           Contact(first="Zoë", last="Ng", email="zoe@example.com", team=True, favorite=True, uid="u-2",
                   numbers=(Number("work", "201"), Number("mobile", "(646) 555-0199")))]
    return [validate(c, "US") for c in odd + generated(count, seed=11) + odd[:1]]


def test_a_version_6_database_is_upgraded_in_place_losing_nothing(tmp_path):
    """Version 7 keeps the contacts in list order (no covering index) and stores e164
    and the name fields only where they cannot be derived. A v6 file opens as v7 with
    every contact, number (label, order, E.164), star, team row and UID as they were,
    cards, books and history untouched, ids still never reused, compacted once."""
    path = tmp_path / "tui-phone.db"
    people = _varied(500)
    _version_6_file(path, people)
    conn = sqlite3.connect(path)
    tables = "SELECT * FROM books", "SELECT * FROM cards ORDER BY href", "SELECT * FROM history"
    before = [conn.execute(sql).fetchall() for sql in tables]
    contacts = conn.execute("SELECT id, first, last, company, email, job_title, sip_uri, favorite, team, uid"
                            " FROM contacts ORDER BY id").fetchall()
    numbers = conn.execute("SELECT contact_id, pos, label, typed, e164 FROM numbers ORDER BY 1, 2").fetchall()
    conn.close()
    assert len(contacts) == len(people) - 1 and len(numbers) > len(contacts)
    with ContactsDB(path, "US") as db:
        assert db.schema_version == len(MIGRATIONS) == 7 and db.fts
        schema = " ".join(r[0] or "" for r in db._read("SELECT sql FROM sqlite_master"))
        assert "contacts_order" not in schema and "WITHOUT ROWID" in schema
        got = {c.id: c for c in db.search("")}
        uids = dict(db._read("SELECT id, uid FROM contacts"))
        assert [(c.id, c.first, c.last, c.company, c.email, c.job_title, c.sip_uri, int(c.favorite), int(c.team),
                 uids[c.id]) for c in sorted(got.values(), key=lambda c: c.id)] == contacts
        assert [(c.id, pos, n.label, n.typed, n.e164) for c in sorted(got.values(), key=lambda c: c.id)
                for pos, n in enumerate(c.numbers)] == numbers
        assert got[2].book == "work" and got[1].book == ""
        assert [db._read(sql) for sql in tables] == before
        assert db._read("PRAGMA integrity_check") == [("ok",)] and db._read("PRAGMA foreign_key_check") == []
        assert db._read("PRAGMA freelist_count") == [(0,)]  # compacted: the covering index's pages went back
        db._conn.execute("INSERT INTO contact_search (contact_search, rank) VALUES ('integrity-check', 1)")
        assert db.lookup("0049 30 1234567").last == db.lookup("+49 30 1234567").last == "Straße"
        assert db.lookup("200").company == "Initech" and db.lookup("646 555 0199").first == "Zoë"
        assert db.add(bob(first="New")).id == len(people) + 1  # the deleted contact's id is not given again
        db.delete(got[1].id)  # numbers still follow their contact
        assert db._read("SELECT count(*) FROM numbers WHERE contact_id = ?", (got[1].id,)) == [(0,)]


def test_an_upgraded_file_answers_every_search_as_before(tmp_path):
    """On a seeded set, an upgraded v6 file and a new file answer each search (whole list
    and one screen) with what the rule says: the contacts holding every term, favorites
    first, then by name and id; so do caller lookups, exact and by trailing digits."""
    from tui_phone.contacts.db import _terms
    from tui_phone.contacts.schema import only_digits

    people = _varied(RARE_MAX + 400)
    _version_6_file(tmp_path / "old.db", people)
    stored = [replace(c, id=i) for i, c in enumerate(people[:-1], 1)]

    def rule(text: str) -> list[int]:
        def holds(c: Contact, kind: str, term: str) -> bool:
            if kind == "digits":
                return any(term in only_digits(x) for n in c.numbers for x in (n.typed, n.e164))
            return term in "\n".join(f.casefold() for f in (c.first, c.last, c.company, c.email, c.job_title))
        hits = [c for c in stored if all(holds(c, *t) for t in _terms(text))]
        return [c.id for c in sorted(hits, key=lambda c: (not c.favorite, c.name.casefold(), c.id))]

    with ContactsDB(tmp_path / "old.db", "US") as old, ContactsDB(tmp_path / "new.db", "US") as new:
        new.add_many([replace(c, team=False) for c in people[:-1]])
        new._conn.execute("UPDATE contacts SET team = 1 WHERE id IN (SELECT id FROM contacts WHERE sip_uri != ''"
                          " OR first = 'Zoë' AND last = 'Ng' AND email = 'zoe@example.com')")
        for text in QUERIES + ["jörg", "STRASSE", "straße", "jorg.strasse@", "ærin", "o'b", "4930", "0049",
                               "*86", "86", "4420794", "646 555 01"]:
            expected = rule(text)
            assert [c.id for c in old.search(text)] == expected, text
            assert [c.id for c in old.search(text, limit=50)] == expected[:50], text
            assert [c.id for c in new.search(text)] == expected, text
        for c in stored[::37]:
            for n in c.numbers:
                assert old.lookup(n.typed) == new.lookup(n.typed) is not None, n.typed


def test_search_within_answers_at_once_or_gives_way(tmp_path):
    """The UI's own-thread search: the same answer as search() when it is quick; None
    (not a partial list, not an error) when the time is up or another thread has the
    database; the connection works on after an interrupted query."""
    with ContactsDB(tmp_path / "tui-phone.db", "US") as db:
        db.add_many(generated(3000))
        for text in ("smith1", "acme", "", "212"):
            assert db.search_within(1.0, text, True, 36) == db.search(text, True, 36)
        assert db.search_within(0.0, "qx") is None  # a walk of every row: stopped at once
        assert db.search("smith1") == db.search_within(1.0, "smith1")
        took = threading.Event()

        def hold():
            with db._lock:
                took.set()
                done.wait(5)

        done = threading.Event()
        holder = threading.Thread(target=hold)
        holder.start()
        took.wait(5)
        try:
            assert db.search_within(1.0, "acme") is None  # another thread's turn: never waits for it
        finally:
            done.set()
            holder.join()
        assert len(db.search_within(1.0, "acme", limit=5)) == 5


def test_default_path_is_in_the_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    with ContactsDB() as store:
        assert store.path == tmp_path / "data" / "tui-phone" / "tui-phone.db"
        assert store.path.exists()


def test_commits_are_visible_to_another_connection(tmp_path):
    path = tmp_path / "tui-phone.db"
    with ContactsDB(path) as writer, ContactsDB(path) as reader:
        c = writer.add(bob())
        assert reader.get(c.id) == c


def test_threads_share_one_store(db):
    def work(i):
        for j in range(20):
            db.add(bob(first=f"T{i}-{j}"))
            db.search("555")
    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(db.search("t")) == 80


def test_kill_9_during_a_burst_of_writes_loses_nothing_committed(tmp_path):
    path = tmp_path / "tui-phone.db"
    code = ("import sys\nfrom tui_phone.contacts import Contact\n"
            "from tui_phone.contacts.db import ContactsDB\n"
            f"db = ContactsDB({str(path)!r})\n"
            "while True:\n"
            "    c = db.add(Contact(first='Burst', numbers=()))\n"
            "    print(c.id, flush=True)\n")
    with subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True) as proc:
        committed = [int(proc.stdout.readline()) for _ in range(200)]
        os.kill(proc.pid, signal.SIGKILL)
        committed += [int(line) for line in proc.stdout.read().split()]
    with ContactsDB(path) as store:
        assert store._read("PRAGMA integrity_check") == [("ok",)]
        stored = {c.id for c in store.search("burst")}
    assert set(committed) <= stored


def test_import_merges_on_uid_and_on_name_and_number(tmp_path):
    with ContactsDB(tmp_path / "c.db") as db:
        ada = Contact(first="Ada", last="Lovelace", numbers=(Number("work", "+1 212 555 0100"),), uid="u-1")
        assert db.merge_many([ada]) == (1, 0)
        assert db.merge_many([ada]) == (0, 1)  # the same card again: no copy
        moved = replace(ada, numbers=(Number("mobile", "+1 917 555 0199"),), company="Engines")
        assert db.merge_many([moved]) == (0, 1)  # same UID, new number: updated in place
        [stored] = db.search("")
        assert stored.company == "Engines" and [n.typed for n in stored.numbers] == ["+1 917 555 0199"]
        db.set_favorite(stored.id, True)
        no_uid = Contact(first="Ada", last="Lovelace", numbers=(Number("work", "+19175550199"),), email="a@x.org")
        assert db.merge_many([no_uid]) == (0, 1)  # same name and a number in common
        [again] = db.search("")
        assert again.id == stored.id and again.favorite and again.email == "a@x.org"
        other = Contact(first="Ada", last="Lovelace", numbers=(Number("work", "+1 415 555 0123"),))
        assert db.merge_many([other]) == (1, 0)  # same name, no number in common: someone else
        assert len(db.search("")) == 2


def test_another_connection_changes_data_version(tmp_path):
    with ContactsDB(tmp_path / "c.db") as mine, ContactsDB(tmp_path / "c.db") as theirs:
        before = mine.data_version()
        mine.add(Contact(first="Own", numbers=(Number("work", "200"),)))
        assert mine.data_version() == before  # our own writes are not news
        theirs.add(Contact(first="Other", numbers=(Number("work", "201"),)))
        assert mine.data_version() != before


def test_a_second_connection_never_costs_the_first_its_journal(tmp_path):
    """Found by an outside probe: opening a second ContactsDB in the phone's process (the
    address book sync does) opened and closed the -wal/-shm files, which drops SQLite's POSIX
    locks; a CLI run then deleted the live journal and the phone's next saves were lost."""
    import subprocess
    import sys

    path = tmp_path / "tui-phone.db"
    phone = ContactsDB(path)
    phone.add(Contact(first="Alpha", numbers=(Number("work", "+12125550100"),)))
    second = ContactsDB(path)  # the same process opens it again
    wal = path.with_name(path.name + "-wal")
    inode = wal.stat().st_ino
    code = f"from tui_phone.contacts.db import ContactsDB; ContactsDB({str(path)!r}).close()"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=30)  # a CLI run opens and closes
    assert wal.exists() and wal.stat().st_ino == inode  # the live journal is still the same file
    phone.add(Contact(first="Gamma", numbers=(Number("work", "+12125550101"),)))
    out = subprocess.run([sys.executable, "-c", f"from tui_phone.contacts.db import ContactsDB; "
                          f"print([c.name for c in ContactsDB({str(path)!r}).search('gamma')])"],
                         capture_output=True, text=True, timeout=30, check=True).stdout
    assert "Gamma" in out
    second.close()
    phone.close()


def test_reimporting_a_file_writes_only_the_cards_that_changed(tmp_path):
    """Found by an outside probe: importing the same 20,000 cards again took twice as long
    and grew the file by 30 % although nothing changed. Now an unchanged card is not written."""
    from tui_phone.contacts.vcard import import_file, write_vcards

    people = [bob(first=f"Card{i:03d}", email=f"c{i}@example.com", numbers=(Number("work", f"+1 212 555 {i:04d}"),))
              for i in range(BULK_MIN + 20)]
    vcf = tmp_path / "cards.vcf"
    vcf.write_text(write_vcards(people))
    path = tmp_path / "tui-phone.db"

    def rows(db):
        return db._read("SELECT c.*, group_concat(n.e164) FROM contacts c JOIN numbers n ON n.contact_id = c.id"
                        " GROUP BY c.id ORDER BY c.id")

    with ContactsDB(path) as db, ContactsDB(path) as watcher:
        assert import_file(db, vcf) == (len(people), [], len(people))
        db.set_favorite(db.search("card007")[0].id, True)  # a local star survives a re-import
        before, size, version = rows(db), path.stat().st_size, watcher.data_version()
        assert import_file(db, vcf) == (len(people), [], 0)  # none new
        assert watcher.data_version() == version  # nothing was committed
        assert rows(db) == before and abs(path.stat().st_size - size) <= 2 * 4096
        assert db.merge_many(people) == (0, len(people))  # matched (updated), none of them written

        people[42] = replace(people[42], job_title="Chief Buyer")
        vcf.write_text(write_vcards(people))
        assert import_file(db, vcf) == (len(people), [], 0)
        assert watcher.data_version() != version
        after = rows(db)
        assert len(after) == len(before) and [b for a, b in zip(after, before) if a != b] == [before[42]]
        assert db.search("card042")[0].job_title == "Chief Buyer" and db.search("card007")[0].favorite
        if db.fts:
            db._conn.execute("INSERT INTO contact_search (contact_search, rank) VALUES ('integrity-check', 1)")


def test_cards_of_one_file_that_match_each_other_merge_in_file_order(db):
    first = bob(uid="u-7")
    later = bob(uid="u-7", email="new@example.com")
    assert db.merge_many([first, later]) == (1, 1)  # the second card updates the first one
    [stored] = db.search("")
    assert stored.email == "new@example.com"
    assert db.merge_many([bob(first="Other"), later]) == (1, 1) and len(db.search("")) == 2


def test_the_uid_lookup_of_an_import_uses_the_index(tmp_path):
    """Found while measuring re-imports: ``uid = ?`` alone cannot use the partial index
    (``WHERE uid != ''``), so each card of a file with UIDs scanned the whole table."""
    from tui_phone.contacts.db import _BY_UID

    with ContactsDB(tmp_path / "c.db") as db:
        plan = " ".join(row[-1] for row in db._read("EXPLAIN QUERY PLAN " + _BY_UID, ("u-1",)))
        assert "USING INDEX contacts_uid" in plan, plan


def test_closing_the_database_cancels_an_import_under_way_and_stores_none_of_it(tmp_path):
    """Found by an outside probe: SIGTERM during an in-app import of 20,000 cards printed a traceback with
    contact data (ProgrammingError: closed database) after 6.5 s, and Ctrl+Q waited 8-10 s for the import.
    Closing now stops the import's reading, interrupts its write and rolls it back; the thread gets one
    sentence, quickly, and the file holds nothing of it."""
    import time

    from tui_phone.contacts.vcard import import_file, write_vcards

    cards = [Contact(first=f"Person{i}", last="Import", numbers=(Number("work", f"+1212555{i:04d}"),),
                     uid=f"uid-{i}") for i in range(20000)]
    vcf = tmp_path / "big.vcf"
    vcf.write_text(write_vcards(cards))
    db = ContactsDB(tmp_path / "c.db", region="US")
    outcome: list = []

    def run():
        try:
            outcome.append(import_file(db, vcf))
        except Exception as e:  # noqa: BLE001 - the test looks at what came out
            outcome.append(e)

    importer = threading.Thread(target=run)
    importer.start()
    time.sleep(0.5)  # reading the cards
    started = time.monotonic()
    db.close()
    importer.join(10)
    assert not importer.is_alive() and time.monotonic() - started < 2.0
    assert isinstance(outcome[0], ContactError), outcome
    assert "quitting" in str(outcome[0]) and "\n" not in str(outcome[0])
    with pytest.raises(ContactError, match="closed"):
        db.search("Person")
    again = ContactsDB(tmp_path / "c.db", region="US")
    assert again.search("Person") == [] and again._read("PRAGMA integrity_check") == [("ok",)]
    again.close()


def test_closing_the_database_interrupts_a_bulk_write_and_rolls_it_back(tmp_path):
    import time

    many = [Contact(first=f"P{i}", last="Bulk", numbers=(Number("work", f"+1212555{i % 10000:04d}"),))
            for i in range(100000)]
    with ContactsDB(tmp_path / "whole.db", region="US") as whole:  # the same write, not interrupted
        started = time.monotonic()
        whole.add_many(many)
        whole_took = time.monotonic() - started
    db = ContactsDB(tmp_path / "c.db", region="US")
    outcome: list = []

    def run():
        try:
            outcome.append(db.add_many(many))
        except Exception as e:  # noqa: BLE001
            outcome.append(e)

    writer = threading.Thread(target=run)
    writer.start()
    while not db._lock.locked():  # the write transaction has begun
        time.sleep(0.001)
    time.sleep(0.2)
    started = time.monotonic()
    db.close()
    writer.join(10)
    took = time.monotonic() - started
    assert took < whole_took / 3, (took, whole_took)  # the same machine, the same load
    assert isinstance(outcome[0], ContactError) and "closed" in str(outcome[0]), outcome
    again = ContactsDB(tmp_path / "c.db", region="US")
    assert again.search("Bulk", limit=5) == [] and again._read("PRAGMA integrity_check") == [("ok",)]
    again.close()
