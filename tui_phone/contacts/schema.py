"""The contacts database's schema, step by step: ``MIGRATIONS[i]`` moves a
file from ``PRAGMA user_version`` ``i`` to ``i + 1`` (each in its own
transaction, run by :class:`tui_phone.contacts.db.ContactsDB`). Append only."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable


def _has_trigram(conn: sqlite3.Connection) -> bool:
    try:
        conn.execute("CREATE VIRTUAL TABLE temp.probe USING fts5(x, tokenize='trigram')")
        conn.execute("DROP TABLE temp.probe")
        return True
    except sqlite3.OperationalError:
        return False


_TRIGGERS = (
    """CREATE TRIGGER contacts_search_ai AFTER INSERT ON contacts BEGIN
        INSERT INTO contact_search (rowid, haystack, digits) VALUES (new.id, new.haystack, new.digits);
    END""",
    """CREATE TRIGGER contacts_search_ad AFTER DELETE ON contacts BEGIN
        INSERT INTO contact_search (contact_search, rowid, haystack, digits)
        VALUES ('delete', old.id, old.haystack, old.digits);
    END""",
    """CREATE TRIGGER contacts_search_au AFTER UPDATE OF haystack, digits ON contacts BEGIN
        INSERT INTO contact_search (contact_search, rowid, haystack, digits)
        VALUES ('delete', old.id, old.haystack, old.digits);
        INSERT INTO contact_search (rowid, haystack, digits) VALUES (new.id, new.haystack, new.digits);
    END""",
)
"""Keep ``contact_search`` in step with ``contacts`` (insert, delete, update)."""

_V1_SEARCH_INDEX = ("""CREATE VIRTUAL TABLE contact_search USING fts5(haystack, digits, tokenize='trigram',
        content='contacts', content_rowid='id')""", *_TRIGGERS)
"""The index as version 1 made it (positions of every trigram: 30 MB per 100k contacts)."""

_SEARCH_INDEX = ("""CREATE VIRTUAL TABLE contact_search USING fts5(haystack, digits, tokenize='trigram',
        content='contacts', content_rowid='id', detail=none, columnsize=0)""", *_TRIGGERS)
"""The trigram index over ``contacts.haystack`` and ``contacts.digits`` (external
content: the text is stored once, in ``contacts``). ``detail=none``: it knows
which rows hold a trigram, not where (7.5 MB per 100k contacts instead of 30):
a term is looked up as all its trigrams and the rows it gives are checked
with ``instr`` (see ``ContactsDB._rare``)."""


def search_digits(numbers: list[tuple[str, str]]) -> str:
    """``contacts.digits``: the digits of each number as typed and as E.164, one
    string each, space-separated, leaving out a string that is part of another
    (``2125550100`` is in ``12125550100``): a fragment found in it is found in the other."""
    strings = sorted({d for pair in numbers for d in map(only_digits, pair) if d}, key=len, reverse=True)
    kept: list[str] = []
    for d in strings:
        if not any(d in k for k in kept):
            kept.append(d)
    return " ".join(kept)


def only_digits(text: str) -> str:
    if text[1:].isdecimal() and (text[0] == "+" or text[0].isdecimal()):  # E.164 or digits: no regex (bulk insert)
        return text.removeprefix("+")
    return _NOT_DIGIT.sub("", text)


_NOT_DIGIT = re.compile(r"\D")


def _v1_contacts(conn: sqlite3.Connection, fts: bool) -> None:
    conn.execute("""CREATE TABLE contacts (
        id INTEGER PRIMARY KEY AUTOINCREMENT,  -- ids are never reused
        first TEXT NOT NULL, last TEXT NOT NULL, company TEXT NOT NULL,
        email TEXT NOT NULL, job_title TEXT NOT NULL, sip_uri TEXT NOT NULL,
        favorite INTEGER NOT NULL DEFAULT 0, team INTEGER NOT NULL DEFAULT 0,
        sort_key TEXT NOT NULL, haystack TEXT NOT NULL, digits TEXT NOT NULL)""")
    # Covering: a search walks this in list order and tests haystack/digits without
    # touching the table, so a rare short term costs one sequential index read.
    conn.execute("CREATE INDEX contacts_order ON contacts"
                 " (favorite DESC, sort_key, id, team, haystack, digits)")
    conn.execute("""CREATE TABLE numbers (
        contact_id INTEGER NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
        pos INTEGER NOT NULL, label TEXT NOT NULL, typed TEXT NOT NULL,
        e164 TEXT NOT NULL, tail TEXT NOT NULL,
        PRIMARY KEY (contact_id, pos)) WITHOUT ROWID""")
    conn.execute("CREATE INDEX numbers_e164 ON numbers (e164)")
    conn.execute("CREATE INDEX numbers_tail ON numbers (tail)")
    if fts and _has_trigram(conn):
        for sql in _V1_SEARCH_INDEX:  # not executescript: it would commit the migration
            conn.execute(sql)


def _v2_history(conn: sqlite3.Connection, fts: bool) -> None:
    conn.execute("""CREATE TABLE history (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        started REAL NOT NULL, dir TEXT NOT NULL, kind TEXT NOT NULL,
        num TEXT NOT NULL, sip TEXT NOT NULL, name TEXT NOT NULL, account TEXT NOT NULL,
        duration REAL NOT NULL, code INTEGER NOT NULL, reason TEXT NOT NULL)""")
    conn.execute("CREATE INDEX history_started ON history (started DESC)")
    conn.execute("CREATE INDEX history_kind ON history (kind, started DESC)")


def _v3_cards(conn: sqlite3.Connection, fts: bool) -> None:
    # A card row outlives its contact on purpose: a contact deleted on the phone
    # leaves its card (contact_id pointing at nothing; ids are never reused), and
    # the next sync deletes it on the server. contact_id NULL: a card the phone
    # cannot store (no name, a bad number), kept so the sync does not fetch it again.
    conn.execute("""CREATE TABLE books (
        name TEXT PRIMARY KEY, url TEXT NOT NULL, collection TEXT NOT NULL,
        sync_token TEXT NOT NULL)""")
    conn.execute("""CREATE TABLE cards (
        book TEXT NOT NULL, href TEXT NOT NULL,
        etag TEXT NOT NULL,          -- '' until the server has it (a new card to upload)
        contact_id INTEGER,
        fingerprint TEXT NOT NULL,   -- the contact as last synced ('' = never)
        vcard TEXT NOT NULL,         -- the server's text as last synced
        PRIMARY KEY (book, href)) WITHOUT ROWID""")
    conn.execute("CREATE INDEX cards_contact ON cards (contact_id)")



def _v4_uid(conn: sqlite3.Connection, fts: bool) -> None:
    """The vCard UID a contact was imported with: importing the card again updates it."""
    conn.execute("ALTER TABLE contacts ADD COLUMN uid TEXT NOT NULL DEFAULT ''")
    conn.execute("CREATE INDEX contacts_uid ON contacts (uid) WHERE uid != ''")


def _v5_history_depth(conn: sqlite3.Connection, fts: bool) -> None:
    """The far end's Reason, where a call was redirected or forwarded to, its recording."""
    for column in ("reason_remote", "redirected_to", "recording"):
        conn.execute(f"ALTER TABLE history ADD COLUMN {column} TEXT NOT NULL DEFAULT ''")


def _v6_thrift(conn: sqlite3.Connection, fts: bool) -> None:
    """Less than two thirds of the file (89 -> 54 MB per 100k contacts): the search index without
    positions, ``digits`` without strings contained in others, no index on
    ``numbers.e164`` (a lookup goes through ``numbers_tail``, derived from it)."""
    had_index = conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'contact_search'").fetchone()
    for trigger in ("contacts_search_ai", "contacts_search_ad", "contacts_search_au"):
        conn.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    conn.execute("DROP TABLE IF EXISTS contact_search")
    conn.execute("DROP INDEX IF EXISTS numbers_e164")
    numbers: dict[int, list[tuple[str, str]]] = {}
    for contact_id, typed, e164 in conn.execute("SELECT contact_id, typed, e164 FROM numbers ORDER BY contact_id, pos"):
        numbers.setdefault(contact_id, []).append((typed, e164))
    conn.executemany("UPDATE contacts SET digits = ? WHERE id = ? AND digits != ?",
                     [(d, contact_id, d) for contact_id, pairs in numbers.items() for d in [search_digits(pairs)]])
    conn.execute("REINDEX contacts_order")  # rebuilt packed: the bulk inserts filled it out of order
    if had_index:
        for sql in _SEARCH_INDEX:
            conn.execute(sql)
        conn.execute("INSERT INTO contact_search (contact_search) VALUES ('rebuild')")


def haystack(fields: tuple[str, ...]) -> str:
    """``contacts.haystack``: the name fields (first, last, company, email, job title)
    case-folded, one per line (validation keeps control characters out of them)."""
    return "\n".join(f.casefold() for f in fields)


def stored_fields(fields: tuple[str, ...], folded: str) -> tuple[str | None, ...]:
    """The name fields as ``contacts`` stores them beside their ``haystack``
    (``folded``): NULL for one that is its own line there (already case-folded,
    as most emails are)."""
    return tuple(None if field == line else field for field, line in zip(fields, folded.split("\n")))


def derived_e164(e164: str, tail: str) -> bool:
    """Whether ``e164`` is ``+`` and ``tail`` reversed: then ``numbers.e164`` holds NULL."""
    return e164 == "+" + tail[::-1]


def _v7_list_order(conn: sqlite3.Connection, fts: bool) -> None:
    """The contacts table kept in list order (``WITHOUT ROWID``, keyed by favorite,
    sort key and id), so the covering index ``contacts_order`` that held a second
    copy of every row's search text goes; ``numbers.e164`` is NULL where it is
    ``+`` and the tail reversed (54 -> 40 MB per 100k contacts). Ids are still
    handed out from ``sqlite_sequence`` and never reused."""
    had_index = conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'contact_search'").fetchone()
    for trigger in ("contacts_search_ai", "contacts_search_ad", "contacts_search_au"):
        conn.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    conn.execute("DROP TABLE IF EXISTS contact_search")
    seq = conn.execute("SELECT coalesce(max(seq), 0) FROM sqlite_sequence WHERE name = 'contacts'").fetchone()[0]
    conn.execute("""CREATE TABLE contacts_v7 (
        id INTEGER NOT NULL,  -- handed out from sqlite_sequence ('contacts'), never reused
        -- the name fields; NULL: the same as its haystack line (stored_field)
        first TEXT, last TEXT, company TEXT, email TEXT, job_title TEXT,
        sip_uri TEXT NOT NULL,
        favorite INTEGER NOT NULL DEFAULT 0, team INTEGER NOT NULL DEFAULT 0,
        sort_key TEXT NOT NULL, haystack TEXT NOT NULL, digits TEXT NOT NULL,
        uid TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (favorite DESC, sort_key, id)) WITHOUT ROWID""")
    columns = "id, first, last, company, email, job_title, sip_uri, favorite, team, sort_key, haystack, digits, uid"
    rows = conn.execute(f"SELECT {columns} FROM contacts ORDER BY favorite DESC, sort_key, id")
    conn.executemany(f"INSERT INTO contacts_v7 ({columns}) VALUES ({', '.join('?' * 13)})",
                     ((r[0], *stored_fields(r[1:6], folded), *r[6:10], folded, *r[11:])
                      for r in rows for folded in [haystack(r[1:6])]))
    conn.execute("CREATE UNIQUE INDEX contacts_id ON contacts_v7 (id)")  # the parent key of numbers
    conn.execute("""CREATE TABLE numbers_v7 (
        contact_id INTEGER NOT NULL REFERENCES contacts_v7 (id) ON DELETE CASCADE,
        pos INTEGER NOT NULL, label TEXT NOT NULL, typed TEXT NOT NULL,
        e164 TEXT,  -- NULL: '+' and tail reversed (derived_e164)
        tail TEXT NOT NULL,
        PRIMARY KEY (contact_id, pos)) WITHOUT ROWID""")
    conn.executemany("INSERT INTO numbers_v7 (contact_id, pos, label, typed, e164, tail) VALUES (?, ?, ?, ?, ?, ?)",
                     ((i, pos, label, typed, None if derived_e164(e164, tail) else e164, tail)
                      for i, pos, label, typed, e164, tail in conn.execute(
                          "SELECT contact_id, pos, label, typed, e164, tail FROM numbers ORDER BY contact_id, pos")))
    conn.execute("DROP TABLE numbers")  # the child first: dropping contacts would cascade into it
    conn.execute("DROP TABLE contacts")
    conn.execute("ALTER TABLE contacts_v7 RENAME TO contacts")  # numbers_v7's reference follows
    conn.execute("ALTER TABLE numbers_v7 RENAME TO numbers")
    conn.execute("INSERT INTO sqlite_sequence (name, seq) VALUES ('contacts', ?)", (seq,))
    conn.execute("CREATE INDEX contacts_uid ON contacts (uid) WHERE uid != ''")
    conn.execute("CREATE INDEX numbers_tail ON numbers (tail)")
    if had_index:
        for sql in _SEARCH_INDEX:
            conn.execute(sql)
        # in id order: FTS5 starts a new segment whenever a rowid is not above the last one
        conn.execute("INSERT INTO contact_search (rowid, haystack, digits)"
                     " SELECT id, haystack, digits FROM contacts ORDER BY id")


MIGRATIONS: list[Callable[[sqlite3.Connection, bool], None]] = [_v1_contacts, _v2_history, _v3_cards, _v4_uid,
                                                              _v5_history_depth, _v6_thrift, _v7_list_order]
"""Schema steps; the file's ``user_version`` counts those applied. Append only."""
