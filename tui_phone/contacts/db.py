"""The contacts store: one SQLite file in the XDG data dir (``tui-phone.db``).

- WAL journal with ``synchronous=NORMAL``: a commit appends to the WAL without
  an fsync, so a write takes about a millisecond; what is committed survives a
  killed process (a power cut may lose the last commits, never the file).
- The schema is versioned with ``PRAGMA user_version``: ``MIGRATIONS[i]`` moves
  the file from version ``i`` to ``i + 1``, each in its own transaction.
- Search reads two columns of each contact row: ``haystack`` (names, company,
  email and job title, case-folded, one per line) and ``digits`` (the digits of
  each number as typed and as E.164, a string left out when another holds it).
  ``contact_search`` indexes both with FTS5's trigram tokenizer without
  positions (SQLite 3.34+; kept in sync by triggers): a term of three or more
  characters gives the rows holding all its trigrams, checked with ``instr``;
  shorter terms, and every term when FTS5 or trigram is missing, are found
  with ``instr`` on the rows.
- The contacts table is kept in list order (``WITHOUT ROWID``, keyed by
  favorite, sort key, id): a search walks it in order, a limit stops it early.
  Name fields already case-folded are NULL (read from ``haystack``).
- Caller lookup goes through the index on ``numbers.tail`` (the number's
  digits reversed, leading zeros dropped), also for an exact E.164 match;
  ``numbers.e164`` is NULL where it is ``+`` and the tail reversed.
- A bulk insert hands out ids itself and inserts in two statements; a first
  import builds the suffix index after the rows and is compacted after it
  (pages filled, search index in one segment); the WAL is cut back after it.

One connection, guarded by a lock (reads and writes take turns): the UI calls
this from a worker thread, never from its own. Errors meant for a person are
:class:`ContactError`; SQLite's own (disk full, locked for more than 5 s) pass
through as ``sqlite3.Error``.
"""

from __future__ import annotations

import contextlib
import gc
import itertools
import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from operator import itemgetter
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from tui_phone import locations
from tui_phone.contacts.schema import (_TRIGGERS, MIGRATIONS, derived_e164, haystack, only_digits, search_digits,
                                       stored_fields)
from tui_phone.files import private_dir, touch_private
from tui_phone.contacts.model import Contact, ContactError, Number, validate
from tui_phone.numbers import NotDialable, dialable, normalize

if TYPE_CHECKING:
    from tui_phone.history import HistoryEntry

FILENAME = "tui-phone.db"
TEAM_READ_ONLY = "team contacts are managed on the PBX"
CLOSED = "the contacts database is closed (the phone is quitting); nothing of this change was stored"
LOOKUP_MIN_DIGITS = 7
"""Fewest trailing digits a caller number must share with a stored one (fallback)."""
BULK_MIN = 100
"""From this many contacts in one insert on, the search index is built once after the rows."""
_BULK_INDEXES = ("numbers_tail",)  # not contacts_id: numbers' foreign key needs it
COMPACT_FROM = 7
"""A file upgraded from a version before this one is compacted once (see ``ContactsDB._compact``)."""
RARE_MAX = 1000
"""A search term with at most this many matches is looked up in the index (see ``ContactsDB._rare``)."""


def _tail(e164: str) -> str:
    """The lookup key of a number: its digits reversed, leading zeros (trunk and
    international prefixes like ``0`` and ``00``) dropped."""
    return only_digits(e164).lstrip("0")[::-1]


def _stored_e164(e164: str) -> str | None:
    """``numbers.e164`` as stored: NULL when it is ``+`` and the tail reversed."""
    return None if derived_e164(e164, _tail(e164)) else e164


@contextmanager
def _without_gc() -> Iterator[None]:
    """No cyclic garbage collection during a bulk insert: it builds several objects
    per contact and no cycles, and CPython's collector kept walking them (10 µs
    a contact at 100k, a sixth of the insert). Collected after, as usual."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _with_id(c: Contact, id_: int) -> Contact:
    """``replace(c, id=id_)`` without running the frozen dataclass's ``__init__``
    again (3.7 -> 0.6 µs; a bulk insert numbers every contact)."""
    numbered = object.__new__(Contact)
    numbered.__dict__.update(c.__dict__, id=id_)
    return numbered


def _row(c: Contact) -> tuple:
    """The contacts row of ``c``, columns in the order of ``_store_many``'s INSERT."""
    fields = (c.first, c.last, c.company, c.email, c.job_title)
    folded = haystack(fields)
    return (int(c.favorite), c.name.casefold(), c.id, *stored_fields(fields, folded), c.sip_uri, int(c.team),
            folded, search_digits([(n.typed, n.e164) for n in c.numbers]), c.uid)


def _e164(stored: str | None, tail: str) -> str:
    """The E.164 form of a stored number (the other way round from :func:`_stored_e164`)."""
    return "+" + tail[::-1] if stored is None else stored


def _phrase(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


def _terms(text: str) -> list[tuple[str, str]]:
    """The search text as ``(kind, term)`` pairs that must all match: kind
    ``digits`` for a number fragment (separators dropped, so ``555-01`` and
    ``555 01`` both look for ``55501``), ``text`` for a word."""
    text = text.strip()
    try:
        whole = dialable(text)
    except NotDialable:
        whole = ""
    if only_digits(whole):
        return [("digits", only_digits(whole))]
    out = []
    for word in text.split():
        try:
            digits = only_digits(dialable(word))
        except NotDialable:
            digits = ""
        out.append(("digits", digits) if digits else ("text", word.casefold()))
    return out


_SELECT = """SELECT c.id, c.first, c.last, c.company, c.email, c.job_title, c.sip_uri,
    c.favorite, c.team, (SELECT book FROM cards WHERE contact_id = c.id LIMIT 1),
    (SELECT json_group_array(json_array(label, typed, e164, tail))
       FROM (SELECT label, typed, e164, tail FROM numbers WHERE contact_id = c.id ORDER BY pos)),
    c.haystack FROM contacts c"""
_BY_UID = "SELECT id, favorite, uid FROM contacts WHERE uid = ? AND uid != '' AND team = 0"
"""An import's card by UID; ``uid != ''`` lets SQLite use the partial index ``contacts_uid``
(without it every card scanned the table: 20,000 cards with UIDs took 30-50 s)."""
_ORDER = " ORDER BY c.favorite DESC, c.sort_key, c.id"


def _contact(row: tuple) -> Contact:
    id_, *fields, sip_uri, favorite, team, book, numbers, folded = row
    first, last, company, email, job_title = (f if f is not None else line
                                              for f, line in zip(fields, folded.split("\n")))
    return Contact(id_, first, last, tuple(Number(label, typed, _e164(e164, tail))
                                           for label, typed, e164, tail in json.loads(numbers)), email,
                   job_title, company, bool(favorite), bool(team), sip_uri, book or "")


class ContactsDB:
    """External contacts and the team, stored in SQLite.

    ``path`` defaults to ``locations.data_dir() / "tui-phone.db"``; ``region`` is
    the default region for numbers without a country code. ``fts=False`` forces
    the ``instr`` scan (tests; SQLite without FTS5) when the file is created.
    """

    def __init__(self, path: str | Path | None = None, region: str = "US", *, fts: bool = True):
        self.path = Path(path) if path is not None else locations.data_dir() / FILENAME
        self.region = region
        private_dir(self.path.parent, own=path is None)
        for name in (self.path.name, self.path.name + "-wal", self.path.name + "-shm"):
            if name == self.path.name or self.path.with_name(name).exists():
                touch_private(self.path.with_name(name))  # SQLite gives -wal/-shm the db's mode
        self._lock = threading.Lock()
        self.closed = False
        self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._conn.execute("PRAGMA busy_timeout = 5000")
        self._conn.execute("PRAGMA journal_mode = WAL")
        self._conn.execute("PRAGMA synchronous = NORMAL")
        self._conn.execute(f"PRAGMA journal_size_limit = {4 << 20}")  # a reset WAL shrinks back to 4 MB
        self._conn.execute("PRAGMA foreign_keys = ON")
        try:
            self._migrate(fts)
        except BaseException:
            self._conn.close()
            raise
        self.fts = bool(self._read("SELECT 1 FROM sqlite_master WHERE name = 'contact_search'"))

    # ----- plumbing -----------------------------------------------------------------

    def _migrate(self, fts: bool) -> None:
        with self._write() as conn:  # BEGIN IMMEDIATE: two processes never migrate twice
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > len(MIGRATIONS):
                raise ContactError(f"{self.path}: schema version {version} is newer than this "
                                   f"tui-phone knows ({len(MIGRATIONS)})")
            for number, step in enumerate(MIGRATIONS[version:], version + 1):
                step(conn, fts)
                conn.execute(f"PRAGMA user_version = {number}")
        if 0 < version < COMPACT_FROM:
            self._compact()

    def _compact(self) -> None:
        """After an upgrade (once) and a first import: give the free pages back to
        the disk and fill every page. Busy (another process reading): the free
        pages stay in the file and are used again as it grows. The search index
        is merged into one segment first (100k: 0.2 s): the next small write no
        longer merges the segments a bulk build left (3.9 -> 1.4 MB of WAL)."""
        try:  # in place, in the 0600 file (WAL): SQLite's temporary copy is unlinked as it is opened
            if self._conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'contact_search'").fetchone():
                self._conn.execute("INSERT INTO contact_search (contact_search) VALUES ('optimize')")
            self._conn.execute("VACUUM")
        except sqlite3.OperationalError:
            pass
        self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # truncates the 0600 WAL; creates no file

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._check_open()
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except sqlite3.OperationalError:
                self._rollback()
                if self.closed:  # interrupted by close(): nothing of this write was stored
                    raise ContactError(CLOSED) from None
                raise
            except BaseException:
                self._rollback()
                raise
            self._conn.execute("COMMIT")

    def _rollback(self) -> None:
        if self._conn.in_transaction:  # an interrupted write was rolled back by SQLite already
            self._conn.execute("ROLLBACK")

    def _read(self, sql: str, params: Iterable = ()) -> list[tuple]:
        with self._lock:
            self._check_open()
            return self._conn.execute(sql, tuple(params)).fetchall()

    def _check_open(self) -> None:
        if self.closed:
            raise ContactError(CLOSED)

    def _while_open(self, rows: Iterable[tuple]) -> Iterator[tuple]:
        """``rows`` for an executemany that close() stops between two rows (an interrupt
        is lost while Python builds the next row)."""
        for n, row in enumerate(rows):
            if not n % 1000:
                self._check_open()
            yield row

    def close(self) -> None:
        """Close the file. A long write under way in another thread (an import)
        is interrupted and rolled back, so quitting never waits for it; that
        thread, and any later call, gets ContactError(CLOSED)."""
        self.closed = True
        while not self._lock.acquire(timeout=0.01):
            self._conn.interrupt()  # the statement running now; between two, the next one within 10 ms
        try:
            with contextlib.suppress(sqlite3.Error):
                self._conn.execute("PRAGMA optimize")  # the planner's statistics, inside the 0600 file
            self._conn.close()
        finally:
            self._lock.release()

    def __enter__(self) -> ContactsDB:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def schema_version(self) -> int:
        return self._read("PRAGMA user_version")[0][0]

    def _store(self, conn: sqlite3.Connection, c: Contact) -> Contact:
        """Insert ``c`` (already validated) with its numbers and search row; with
        ``c.id`` set, that id is reused (the caller deleted the old rows)."""
        return self._store_many(conn, [c])[0]

    def _store_many(self, conn: sqlite3.Connection, contacts: list[Contact]) -> list[Contact]:
        """:meth:`_store` for many, in two statements: new ids are handed out here
        from ``sqlite_sequence`` (the write lock is held, ids are never reused).
        The rows go in in list order (the table's key). From BULK_MIN contacts on,
        the search index is fed here in id order instead of by the trigger row by
        row (~70 µs less per contact at 100k; DDL is transactional: a rollback
        brings the trigger back)."""
        seq = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'contacts'").fetchone()[0]
        new_ids = itertools.count(seq + 1)
        contacts = [c if c.id is not None else _with_id(c, next(new_ids)) for c in contacts]
        rows = [_row(c) for c in contacts]
        rows.sort(key=itemgetter(1, 2))
        rows.sort(key=itemgetter(0), reverse=True)  # stable: favorite DESC, sort_key, id
        self._check_open()
        # rows go to the database and its WAL, both made 0600 in __init__ before SQLite opens them
        bulk = self.fts and len(contacts) >= BULK_MIN
        if bulk:
            conn.execute("DROP TRIGGER contacts_search_ai")
        conn.executemany(
            "INSERT INTO contacts (favorite, sort_key, id, first, last, company, email, job_title, sip_uri,"
            " team, haystack, digits, uid) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", self._while_open(rows))
        conn.executemany(
            "INSERT INTO numbers (contact_id, pos, label, typed, e164, tail) VALUES (?, ?, ?, ?, ?, ?)",
            self._while_open((c.id, i, n.label, n.typed, None if derived_e164(n.e164, tail) else n.e164, tail)
                             for c in contacts for i, n in enumerate(c.numbers) for tail in [_tail(n.e164)]))
        if bulk:  # FTS5 starts a new segment whenever a rowid is not above the last one
            conn.executemany("INSERT INTO contact_search (rowid, haystack, digits) VALUES (?, ?, ?)",
                             self._while_open(sorted((row[2], row[10], row[11]) for row in rows)))
            conn.execute(_TRIGGERS[0])
        top = next(new_ids) - 1
        if top > seq:
            conn.execute("UPDATE sqlite_sequence SET seq = ? WHERE name = 'contacts'", (top,))
        return contacts

    @staticmethod
    def _remove(conn: sqlite3.Connection, ids: list[int]) -> None:
        marks = ",".join("?" * len(ids))
        conn.execute(f"DELETE FROM contacts WHERE id IN ({marks})", ids)  # numbers cascade

    @staticmethod
    def _editable(conn: sqlite3.Connection, contact_id: int) -> None:
        row = conn.execute("SELECT team FROM contacts WHERE id = ?", (contact_id,)).fetchone()
        if row is None:
            raise ContactError(f"no contact with id {contact_id}")
        if row[0]:
            raise ContactError(TEAM_READ_ONLY)

    # ----- external contacts --------------------------------------------------------

    def add(self, contact: Contact) -> Contact:
        """Validate and store a new external contact; returns it with its id and
        E.164 numbers. Team contacts come only through :meth:`replace_team`."""
        return self.add_many([contact])[0]

    def add_many(self, contacts: Iterable[Contact]) -> list[Contact]:
        """:meth:`add` for many contacts in one transaction: all are stored or, when
        one is refused, none (the error names it: ``contact 3: email: …``)."""
        with _without_gc():
            valid = self._valid(contacts)
            with self._write() as conn:
                dropped = self._drop_indexes(conn, len(valid))
                stored = self._store_many(conn, valid)
                for sql in dropped:
                    conn.execute(sql)
        self._shrink_wal(len(valid))
        return stored

    def merge_many(self, contacts: Iterable[Contact], *, validated: bool = False) -> tuple[int, int]:
        """Store imported contacts in one transaction, as (added, updated): one
        with the UID of a stored contact, or with its name and one of its
        numbers, replaces that contact (same id, ★ kept); the others are added.
        A card that would store what is stored already is not written (counted
        as updated), so importing the same file twice writes nothing.
        ``validated``: the contacts come from :func:`validate` already (an import)."""
        with _without_gc():
            valid = list(contacts) if validated else self._valid(contacts)
            with self._write() as conn:
                merged = [self._merged(conn, c) for c in valid]
                if not self._independent(merged):  # cards of the file match each other: one at a time
                    return self._merge_each(conn, valid)
                changed = [c for c, same in merged if not same]
                replaced = [c.id for c in changed if c.id is not None]
                if replaced:
                    conn.execute("DELETE FROM contacts WHERE id IN (SELECT value FROM json_each(?))",
                                 (json.dumps(replaced),))
                self._store_many(conn, changed)
        self._shrink_wal(len(changed))
        added = sum(1 for c, _ in merged if c.id is None)
        return added, len(valid) - added

    def _merged(self, conn: sqlite3.Connection, c: Contact) -> tuple[Contact, bool]:
        """``c`` as it would be stored (the id and ★ of the stored contact it is an
        import of, if any), and whether that is exactly what is stored."""
        old = self._same(conn, c)
        if old is None:
            return c, False
        c = replace(c, id=old[0], favorite=c.favorite or bool(old[1]), uid=c.uid or old[2])
        row = conn.execute(_SELECT + " WHERE c.id = ?", (old[0],)).fetchone()
        return c, replace(_contact(row), book="", uid=old[2]) == c

    @staticmethod
    def _independent(merged: list[tuple[Contact, bool]]) -> bool:
        """No two cards share a UID, a name and number, or the stored contact they
        update: then storing them all at once gives what one at a time would."""
        keys: set = set()
        for c, _ in merged:
            mine = {("id", c.id)} if c.id is not None else set()
            mine |= {("uid", c.uid)} if c.uid else set()
            mine |= {("num", c.name.casefold(), n.e164) for n in c.numbers if n.e164}
            if keys & mine:
                return False
            keys |= mine
        return True

    def _merge_each(self, conn: sqlite3.Connection, valid: list[Contact]) -> tuple[int, int]:
        """:meth:`merge_many` card by card, each seeing the ones before it."""
        added = updated = 0
        for c in valid:
            c, same = self._merged(conn, c)
            added, updated = (added + 1, updated) if c.id is None else (added, updated + 1)
            if not same:
                if c.id is not None:
                    self._remove(conn, [c.id])
                self._store(conn, c)
        return added, updated

    @staticmethod
    def _drop_indexes(conn: sqlite3.Connection, count: int) -> list[str]:
        """Before a bulk insert at least as big as what is stored (a first import):
        drop the indexes the new rows would fill out of order and return their
        SQL, to build them again sorted after the rows (5 us per contact less at
        100k, and a denser file)."""
        if count < BULK_MIN or count < conn.execute("SELECT count(*) FROM contacts").fetchone()[0]:
            return []
        sqls = [conn.execute("SELECT sql FROM sqlite_master WHERE name = ?", (name,)).fetchone()[0]
                for name in _BULK_INDEXES]
        for name in _BULK_INDEXES:
            conn.execute(f"DROP INDEX {name}")
        return sqls

    def _shrink_wal(self, count: int) -> None:
        """After a bulk insert the WAL is as big as what was inserted (40 MB for
        100k contacts, kept until the next write): checkpoint it into the file
        and cut it to nothing. A reader in the middle only makes this do less.
        When the insert wrote at least half the contacts (a first import) the
        file is compacted as well: rows added in list order leave each page of
        the table ~88 % full and the search index frees pages as it merges its
        segments; VACUUM packs them (100k: 0.25 s, 44 -> 39 MB)."""
        if count >= BULK_MIN:
            with self._lock:
                if self.closed:
                    return
                if 2 * count >= self._conn.execute("SELECT count(*) FROM contacts").fetchone()[0]:
                    self._compact()
                else:  # into the 0600 file; the WAL (0600 since __init__) is cut, not made anew
                    self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def _valid(self, contacts: Iterable[Contact]) -> list[Contact]:
        contacts = list(contacts)
        valid = []
        for i, c in enumerate(contacts, 1):
            if c.team:
                raise ContactError(TEAM_READ_ONLY)
            try:
                valid.append(validate(c if c.id is None else replace(c, id=None), self.region))
            except ContactError as e:
                if len(contacts) == 1:
                    raise
                raise e.within(f"contact {i}") from None
        return valid

    @staticmethod
    def _same(conn: sqlite3.Connection, c: Contact) -> tuple | None:
        """(id, favorite, uid) of the stored external contact ``c`` is an import of: same UID,
        else the same name and a number in common."""
        if c.uid:
            row = conn.execute(_BY_UID, (c.uid,)).fetchone()
            if row is not None:
                return row
        numbers = [n.e164 for n in c.numbers if n.e164]
        if not numbers:
            return None
        rows = conn.execute(
            "SELECT c.id, c.favorite, c.uid, n.e164, n.tail FROM contacts c JOIN numbers n ON n.contact_id = c.id"
            f" WHERE c.team = 0 AND c.sort_key = ? AND n.tail IN ({','.join('?' * len(numbers))})"
            " ORDER BY c.id", (c.name.casefold(), *map(_tail, numbers))).fetchall()
        return next((row[:3] for row in rows if _e164(*row[3:]) in numbers), None)

    def data_version(self) -> int:
        """SQLite's ``data_version``: it changes when another connection (another
        process: ``tui-phone contacts import``) commits to the file."""
        return self._read("PRAGMA data_version")[0][0]

    def update(self, contact: Contact) -> Contact:
        """Replace the stored contact with ``contact.id`` (same validation as :meth:`add`)."""
        if contact.id is None:
            raise ContactError("contact has no id (add it first)")
        with self._write() as conn:
            self._editable(conn, contact.id)
            uid = conn.execute("SELECT uid FROM contacts WHERE id = ?", (contact.id,)).fetchone()[0]
            valid = replace(validate(contact, self.region), team=False, uid=contact.uid or uid)
            self._remove(conn, [contact.id])
            return self._store(conn, valid)

    def delete(self, contact_id: int) -> None:
        """Remove an external contact."""
        with self._write() as conn:
            self._editable(conn, contact_id)
            self._remove(conn, [contact_id])

    def set_favorite(self, contact_id: int, favorite: bool) -> Contact:
        """Star or unstar any contact, team members included (a local preference)."""
        with self._write() as conn:
            cur = conn.execute("UPDATE contacts SET favorite = ? WHERE id = ?",
                               (int(favorite), contact_id))
            if cur.rowcount == 0:
                raise ContactError(f"no contact with id {contact_id}")
        return self.get(contact_id)

    # ----- reading ------------------------------------------------------------------

    def uids(self) -> dict[int, str]:
        """The vCard UID of each contact that was imported with one (an export writes them)."""
        return dict(self._read("SELECT id, uid FROM contacts WHERE uid != ''"))

    def get(self, contact_id: int) -> Contact | None:
        rows = self._read(_SELECT + " WHERE c.id = ?", (contact_id,))
        return _contact(rows[0]) if rows else None

    def search(self, text: str = "", include_team: bool = True,
               limit: int | None = None) -> list[Contact]:
        """Contacts matching every word of ``text``, favorites first, then by name
        (case-insensitive); ``""`` lists all.

        A word matches a substring of the first or last name, company, email or
        job title. A number fragment (digits with separators, e.g. ``555``,
        ``212-555``, ``+1 212``) matches a substring of any number's digits, as
        typed or as E.164. ``limit`` caps the list (a pane shows one screen).
        """
        with self._lock:
            self._check_open()
            return self._search(text, include_team, limit)

    def search_within(self, seconds: float, text: str = "", include_team: bool = True,
                      limit: int | None = None) -> list[Contact] | None:
        """:meth:`search` when it answers within ``seconds`` without waiting for
        another thread's turn at the database; else None (SQLite stops the
        query: ask :meth:`search` on a worker). The UI asks this on its own
        thread first: a query in a worker thread waited ~6 ms for the GIL while
        the UI painted the key (key -> rows p50 10 ms for a 1 ms query)."""
        if not self._lock.acquire(blocking=False):
            return None
        if self.closed:
            self._lock.release()
            return None
        deadline = time.perf_counter() + seconds
        self._conn.set_progress_handler(lambda: time.perf_counter() > deadline, 2000)
        try:
            return self._search(text, include_team, limit)
        except sqlite3.OperationalError:
            if time.perf_counter() > deadline:
                return None  # interrupted
            raise
        finally:
            self._conn.set_progress_handler(None, 0)
            self._lock.release()

    def _search(self, text: str, include_team: bool, limit: int | None) -> list[Contact]:
        """:meth:`search`, the lock held."""
        terms = _terms(text)
        rare = self._rare(terms)
        if rare is not None and not rare:
            return []
        where = [f"instr(c.{'digits' if kind == 'digits' else 'haystack'}, ?) > 0" for kind, _ in terms]
        params: list = [term for _, term in terms]
        if rare is not None:
            where.append(f"c.id IN ({','.join(map(str, rare))})")
        if not include_team:
            where.append("c.team = 0")
        # Filter, order and cut on the narrow rows first; build numbers for the hits only.
        hits = ("SELECT c.id, c.favorite, c.sort_key FROM contacts c"
                + (" WHERE " + " AND ".join(where) if where else "") + _ORDER
                + (" LIMIT ?" if limit is not None else ""))
        if limit is not None:
            params.append(limit)
        sql = (_SELECT + f" JOIN ({hits}) hit ON hit.id = c.id"
               " ORDER BY hit.favorite DESC, hit.sort_key, hit.id")
        return [_contact(row) for row in self._conn.execute(sql, params).fetchall()]

    def _rare(self, terms: list[tuple[str, str]]) -> list[int] | None:
        """The ids matching every indexed term (3+ characters) when there are
        at most RARE_MAX, else None. Rare matches are answered from the index;
        common ones by walking the list in order (the table's own key), which
        meets ``limit`` hits within a few thousand rows. Asking the index for
        every match of a common term and sorting them cost 20-40 ms at 100k."""
        trigrams = {term[i:i + 3] for _, term in terms for i in range(len(term) - 2)}
        indexed = [_phrase(t) for t in sorted(trigrams)]  # no positions in the index: every trigram, in any place
        if not (self.fts and indexed):
            return None
        ids = [r[0] for r in self._conn.execute(
            "SELECT rowid FROM contact_search WHERE contact_search MATCH ? LIMIT ?",
            (" AND ".join(indexed), RARE_MAX + 1))]
        return ids if len(ids) <= RARE_MAX else None

    def lookup(self, number: str) -> Contact | None:
        """The contact a caller's number belongs to, or None.

        First by E.164 (``number`` normalized in the default region, so
        ``(212) 555-0100``, ``2125550100`` and ``+1 212 555 0100`` all find
        ``+12125550100``; extensions match exactly). Else by trailing digits: with
        leading zeros dropped from both, one number's digits end with the other's
        and at least ``LOOKUP_MIN_DIGITS`` agree (``0301234567`` finds
        ``+49 30 1234567``; ``+1 646 555 0100`` never finds ``+1 212 555 0100``).
        The longest agreement wins; when it points at two different contacts the
        caller is ambiguous and None is returned (a wrong name is worse than none).
        An exact E.164 match shared by several contacts goes to a favorite, then
        to the oldest entry.
        """
        try:
            dial = dialable(number)
        except NotDialable:
            return None
        if not only_digits(dial):
            return None
        order = " ORDER BY c.favorite DESC, c.id LIMIT 1"
        e164 = normalize(dial, self.region)
        rows = self._read(_SELECT + " JOIN numbers n ON n.contact_id = c.id WHERE n.tail = ? AND n.e164 IS ?"
                          + order, (_tail(e164), _stored_e164(e164)))
        if rows:
            return _contact(rows[0])
        tail = _tail(dial)
        if len(tail) < LOOKUP_MIN_DIGITS:
            return None
        # Index range: stored tails that begin with the caller's last 7 digits.
        key = tail[:LOOKUP_MIN_DIGITS]
        found: dict[int, set[int]] = {}
        for stored, contact_id in self._read(
                "SELECT tail, contact_id FROM numbers WHERE tail >= ? AND tail < ?", (key, key + ":")):
            if tail.startswith(stored) or stored.startswith(tail):
                found.setdefault(min(len(stored), len(tail)), set()).add(contact_id)
        best = found[max(found)] if found else set()
        return self.get(best.pop()) if len(best) == 1 else None

    # ----- the team -----------------------------------------------------------------

    def replace_team(self, contacts: Iterable[Contact]) -> list[Contact]:
        """Make ``contacts`` the whole team (read-only entries from the PBX directory).

        All are validated before anything changes. A member already present (same
        SIP URI, else same first and last name) keeps its id and its favorite star.
        """
        valid = []
        for i, c in enumerate(contacts, 1):
            try:
                valid.append(replace(validate(c, self.region), team=True, favorite=False))
            except ContactError as e:
                raise e.within(f"team member {i}") from None

        def key(c: Contact) -> tuple:
            return ("sip", c.sip_uri.casefold()) if c.sip_uri else ("name", c.first, c.last)

        with self._write() as conn:
            old: dict[tuple, tuple[int, bool]] = {}
            for row in conn.execute(_SELECT + " WHERE c.team = 1").fetchall():
                old.setdefault(key(_contact(row)), (row[0], bool(row[7])))
            conn.execute("DELETE FROM contacts WHERE team = 1")
            stored = []
            for c in valid:
                id_, favorite = old.pop(key(c), (None, False))
                stored.append(self._store(conn, replace(c, id=id_, favorite=favorite)))
            return stored

    # ----- call history -------------------------------------------------------------

    def add_history(self, entry: HistoryEntry) -> None:
        with self._write() as conn:
            conn.execute(
                "INSERT INTO history (started, dir, kind, num, sip, name, account, duration, code, reason,"
                " reason_remote, redirected_to, recording) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (entry.started, entry.dir, entry.kind, entry.num, entry.sip, entry.name, entry.account,
                 entry.duration, entry.code, entry.reason, entry.reason_remote, entry.redirected_to,
                 entry.recording))

    def history(self, kind: str | None = None, limit: int = 200,
                before: float | None = None) -> list[HistoryEntry]:
        """Newest first; ``kind`` narrows to in | out | missed | rejected | forwarded, ``before``
        to calls started before that time (the next page)."""
        from ..history import HistoryEntry

        where = [(cond, value) for cond, value in (("kind = ?", kind), ("started < ?", before)) if value is not None]
        sql = ("SELECT id, started, dir, kind, num, sip, name, account, duration, code, reason,"
               " reason_remote, redirected_to, recording FROM history"
               + (" WHERE " + " AND ".join(c for c, _ in where) if where else "")
               + " ORDER BY started DESC, id DESC LIMIT ?")
        rows = self._read(sql, tuple(v for _, v in where) + (limit,))
        return [HistoryEntry(*row) for row in rows]

    # ----- address books (CardDAV sync: contacts.sync) -----------------------------

    def book(self, name: str) -> tuple[str, str, str] | None:
        """``(url, collection, sync_token)`` recorded for an address book, or None."""
        rows = self._read("SELECT url, collection, sync_token FROM books WHERE name = ?", (name,))
        return rows[0] if rows else None

    def set_book(self, name: str, url: str, collection: str, token: str) -> None:
        with self._write() as conn:
            conn.execute("INSERT OR REPLACE INTO books (name, url, collection, sync_token) VALUES (?, ?, ?, ?)",
                         (name, url, collection, token))

    def cards(self, book: str) -> dict[str, Card]:
        """The cards of ``book`` as last synced, by href."""
        return {row[0]: Card(*row[1:]) for row in self._read(
            "SELECT href, etag, contact_id, fingerprint, vcard FROM cards WHERE book = ?", (book,))}

    @contextmanager
    def card_writer(self) -> Iterator[CardWriter]:
        """Contacts and their cards changed together, in one transaction."""
        with self._write() as conn:
            yield CardWriter(self, conn)


class Card(NamedTuple):
    """A server's card as last synced; ``etag`` '' = not on the server yet."""

    etag: str
    contact_id: int | None
    fingerprint: str
    vcard: str


class CardWriter:
    """What the sync changes inside one :meth:`ContactsDB.card_writer` transaction
    (reads here see the contacts as they are now, edits made meanwhile included)."""

    def __init__(self, db: ContactsDB, conn: sqlite3.Connection):
        self.db, self.conn = db, conn

    def contact(self, contact_id: int | None) -> Contact | None:
        if contact_id is None:
            return None
        rows = self.conn.execute(_SELECT + " WHERE c.id = ?", (contact_id,)).fetchall()
        return _contact(rows[0]) if rows else None

    def store(self, contact: Contact, contact_id: int | None = None) -> Contact:
        """Store a validated contact, as ``contact_id`` when given (replacing it)."""
        if contact_id is not None:
            self.db._remove(self.conn, [contact_id])
        return self.db._store(self.conn, replace(contact, id=contact_id, team=False))

    def remove(self, contact_id: int) -> None:
        self.db._remove(self.conn, [contact_id])

    def card(self, book: str, href: str) -> Card | None:
        row = self.conn.execute("SELECT etag, contact_id, fingerprint, vcard FROM cards"
                                " WHERE book = ? AND href = ?", (book, href)).fetchone()
        return Card(*row) if row else None

    def put_card(self, book: str, href: str, card: Card) -> None:
        self.conn.execute("INSERT OR REPLACE INTO cards (book, href, etag, contact_id, fingerprint, vcard)"
                          " VALUES (?, ?, ?, ?, ?, ?)", (book, href, *card))

    def drop_card(self, book: str, href: str) -> None:
        self.conn.execute("DELETE FROM cards WHERE book = ? AND href = ?", (book, href))

    def unbooked(self) -> list[int]:
        """Ids of the phone's own contacts that no address book holds."""
        return [r[0] for r in self.conn.execute(
            "SELECT id FROM contacts c WHERE team = 0"
            " AND NOT EXISTS (SELECT 1 FROM cards WHERE contact_id = c.id)")]
