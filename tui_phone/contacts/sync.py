"""Two-way sync of the contacts with CardDAV address books (``[[addressbooks]]``).

Offline first: the phone's contacts are always the working copy. What a sync
knows about each server card is one row (``ContactsDB.cards``): its href and
ETag, the contact it became, that contact's fingerprint and the card's text as
last synced. So a sync finds, without anyone having to queue anything:

- an edit on the phone: the contact's fingerprint differs from the row's;
- a delete on the phone: the row's contact is gone;
- a new contact: a row with no ETag yet (made for a conflict copy, or for every
  contact in no book when the book has ``new_contacts = true``);
- a change on the server: a new ETag in the listing (``contacts.carddav``).

One sync pulls (fetch what changed, in batches committed one by one; the sync
token is saved only at the end, so an interrupted sync simply lists again) and
then pushes (each PUT/DELETE conditional, its row committed right after it).
Conflicts, i.e. edited on both sides since the last sync: the server's version
wins and the phone's is saved as a second card, ``… (conflict)``, with a log
line. Deleted on one side and edited on the other: the edit wins. A card pushed
whose answer was lost is recognised next time (same fields) and not doubled.
Favorites are the phone's own: a star never changes a card.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from tui_phone.config import AddressBookConfig, ConfigError, password_for
from tui_phone.contacts.carddav import BookError, CardDav, Stale
from tui_phone.contacts.db import Card, CardWriter, ContactsDB
from tui_phone.contacts.model import Contact, ContactError
from tui_phone.contacts.vcard import merge_card, new_card, read_vcards

BATCH = 250
"""Cards fetched per multiget (and stored per transaction)."""
RETRY = 60.0
"""Seconds before a background sync that failed is tried again (at most the book's interval)."""

Report = Callable[[str], None]


def fingerprint(c: Contact) -> str:
    """What a card holds of a contact (favorite and ids are the phone's own)."""
    return json.dumps([c.first, c.last, c.company, c.email, c.job_title, c.sip_uri,
                       [[n.label, n.typed] for n in c.numbers]], ensure_ascii=False)


def _conflict_copy(c: Contact) -> Contact:
    suffix = " (conflict)"
    if c.last:
        return replace(c, id=None, last=c.last + suffix)
    if c.first:
        return replace(c, id=None, first=c.first + suffix)
    return replace(c, id=None, company=c.company + suffix)


@dataclass
class Summary:
    """What one sync of one address book did, per side."""

    book: str
    pulled: Counter = field(default_factory=Counter)  # added / updated / deleted on the phone
    pushed: Counter = field(default_factory=Counter)  # added / updated / deleted on the server
    conflicts: int = 0
    skipped: list[str] = field(default_factory=list)  # cards the phone cannot store, why

    @property
    def changed(self) -> bool:
        """Did the phone's contacts change (what a list on screen must show again)?"""
        return bool(+self.pulled or self.conflicts)

    def line(self) -> str:
        def side(c: Counter) -> str:
            return f"{c['added']:,} added, {c['updated']:,} updated, {c['deleted']:,} deleted"

        text = f"address book {self.book}: from the server {side(self.pulled)}; to the server {side(self.pushed)}"
        if self.conflicts:
            text += f"; {self.conflicts} conflict(s) kept as '(conflict)' copies"
        if self.skipped:
            text += f"; {len(self.skipped)} card(s) not stored ({self.skipped[0]})"
        return text


class BookSync:
    """One sync of one address book; ``report`` gets the lines worth logging (a
    conflict, a kept edit), ``progress`` the ``fetching 1,200/5,000 cards`` lines."""

    def __init__(self, db: ContactsDB, book: AddressBookConfig, report: Report | None = None,
                 progress: Report | None = None, stop: threading.Event | None = None):
        self.db, self.book = db, book
        self.stop = stop or threading.Event()  # set: end at the next batch or card (all done so far is kept)
        self.report = report or (lambda line: None)
        self.progress = progress or (lambda line: None)
        self.summary = Summary(book.name)
        self.two_way = book.sync == "two-way"
        self.dav: CardDav | None = None

    def run(self) -> Summary:
        try:
            password = password_for(self.book)
        except ConfigError as e:
            raise BookError(str(e)) from None
        with CardDav(self.book.name, self.book.url, self.book.username, password) as self.dav:
            url, collection, token = self.db.book(self.book.name) or ("", "", "")
            if url != self.book.url or not collection:
                collection, token = self.dav.discover(), ""
                self.db.set_book(self.book.name, self.book.url, collection, "")
            self.dav.collection = collection
            self._pull(token)
            if self.two_way:
                self._push()
        return self.summary

    def _check_stop(self) -> None:
        if self.stop.is_set():
            raise BookError(f"address book {self.book.name}: sync stopped")

    # ----- server → phone -----------------------------------------------------------

    def _pull(self, token: str) -> None:
        known = self.db.cards(self.book.name)
        listing = self.dav.listing(token)
        on_server = {h for h, c in known.items() if c.etag}
        removed = (on_server - listing.etags.keys()) if listing.complete else (listing.removed & on_server)
        changed = [h for h, etag in listing.etags.items() if h not in known or known[h].etag != etag]
        for start in range(0, len(changed), BATCH):
            self._check_stop()
            self.progress(f"address book {self.book.name}: fetching {start:,}/{len(changed):,} cards")
            fetched = self.dav.fetch(changed[start:start + BATCH])
            with self.db.card_writer() as w:
                for href, etag, text in fetched:
                    self._arrived(w, href, etag, text)
        if changed:
            self.progress(f"address book {self.book.name}: fetched {len(changed):,}/{len(changed):,} cards")
        with self.db.card_writer() as w:
            for href in removed:
                self._gone(w, href)
        self.db.set_book(self.book.name, self.book.url, self.dav.collection, listing.token)

    def _parse(self, text: str, note: bool = True) -> Contact | None:
        contacts, problems = read_vcards(text, self.db.region)
        if problems and note:
            self.summary.skipped.append(problems[0].split(": ", 1)[-1])
        return contacts[0] if contacts else None

    def _arrived(self, w: CardWriter, href: str, etag: str, text: str) -> None:
        """A card new or changed on the server."""
        server = self._parse(text)
        card = w.card(self.book.name, href)
        local = w.contact(card.contact_id) if card else None
        dirty = card is not None and card.contact_id is not None and (
            local is None or fingerprint(local) != card.fingerprint)
        if server is None:  # keep what the phone has; the next edit here is pushed over it
            w.put_card(self.book.name, href, Card(etag, card and card.contact_id,
                                                  card.fingerprint if card else "", text))
            return
        if dirty and local is not None and fingerprint(local) != fingerprint(server):
            copy = w.store(_conflict_copy(local))
            self.summary.conflicts += 1
            self.report(f"address book {self.book.name}: {local.name} changed here and on the server; "
                        f"kept the server's version, yours is saved as {copy.name}")
            if self.two_way:
                self._queue_new(w, copy.id)
        keep = card.contact_id if card else None
        stored = w.store(replace(server, favorite=bool(local and local.favorite)), keep)
        self.summary.pulled["updated" if local else "added"] += 1
        w.put_card(self.book.name, href, Card(etag, stored.id, fingerprint(stored), text))

    def _gone(self, w: CardWriter, href: str) -> None:
        """A card deleted on the server."""
        card = w.card(self.book.name, href)
        local = w.contact(card.contact_id) if card else None
        w.drop_card(self.book.name, href)
        if local is None:
            return
        if fingerprint(local) != card.fingerprint:  # edited here meanwhile: keep it
            self.report(f"address book {self.book.name}: {local.name} was deleted on the server but "
                        f"changed here; kept" + (" and uploaded again" if self.two_way else " on the phone"))
            if self.two_way:
                self._queue_new(w, local.id)
            return
        w.remove(local.id)
        self.summary.pulled["deleted"] += 1

    def _queue_new(self, w: CardWriter, contact_id: int) -> None:
        w.put_card(self.book.name, self.dav.new_href(str(uuid.uuid4())), Card("", contact_id, "", ""))

    # ----- phone → server -----------------------------------------------------------

    def _push(self) -> None:
        if self.book.new_contacts:
            with self.db.card_writer() as w:
                for contact_id in w.unbooked():
                    self._queue_new(w, contact_id)
        for href, card in self.db.cards(self.book.name).items():
            self._check_stop()
            if card.contact_id is None:
                continue
            local = self.db.get(card.contact_id)
            try:
                if local is None:
                    if card.etag:
                        self.dav.delete(href, card.etag)
                        self.summary.pushed["deleted"] += 1
                    with self.db.card_writer() as w:
                        w.drop_card(self.book.name, href)
                elif not card.etag or fingerprint(local) != card.fingerprint:
                    self._upload(href, card, local)
            except Stale:  # changed on the server since we looked: pull that card now
                self._refetch(href)

    def _upload(self, href: str, card: Card, local: Contact) -> None:
        if card.etag:
            old = self._parse(card.vcard, note=False) or Contact()
            text = merge_card(card.vcard, old, local)
        else:
            text = new_card(local, href.rsplit("/", 1)[-1].removesuffix(".vcf"))
        etag = self.dav.put(href, text, card.etag)
        if not etag:  # the server changed the card as it stored it, or does not say: read it back
            etag, text = self.dav.get(href) or ("", text)
        self.summary.pushed["updated" if card.etag else "added"] += 1
        with self.db.card_writer() as w:
            w.put_card(self.book.name, href, Card(etag, local.id, fingerprint(local), text))

    def _refetch(self, href: str) -> None:
        got = self.dav.get(href)
        with self.db.card_writer() as w:
            if got is None:
                self._gone(w, href)
            else:
                self._arrived(w, href, *got)


def sync_books(db: ContactsDB, books: tuple[AddressBookConfig, ...], report: Report | None = None,
               progress: Report | None = None) -> tuple[list[Summary], list[str]]:
    """Sync each book in turn: the summaries, and one error line per book that failed."""
    summaries, errors = [], []
    for book in books:
        try:
            summaries.append(BookSync(db, book, report, progress).run())
        except ContactError as e:
            errors.append(str(e))
        except sqlite3.Error as e:  # the phone's own database: disk full, locked too long
            errors.append(f"address book {book.name}: contacts database: {e}")
    return summaries, errors


def _sync_one(path, region: str, book: AddressBookConfig, report: Report, stop: threading.Event) -> Summary:
    """One sync on a connection of its own: the app's searches never wait for the sync's writes (WAL)."""
    with ContactsDB(path, region) as db:
        return BookSync(db, book, report, stop=stop).run()


async def keep_in_sync(path, region: str, books: tuple[AddressBookConfig, ...],
                       log: Callable[[str, str], None], synced: Callable[[Summary, bool], None],
                       wake: asyncio.Event) -> None:
    """Sync every book now, then each every ``interval`` seconds (one that failed
    after ``RETRY`` s), and all of them whenever ``wake`` is set. Runs in a thread
    so the loop it is awaited on stays free; ``log(level, line)`` and
    ``synced(summary, asked)`` are called on that loop. Cancel to stop."""
    stop = threading.Event()
    due = dict.fromkeys((b.name for b in books), 0.0)
    try:
        while True:
            asked = wake.is_set()
            for book in books:
                if not asked and time.monotonic() < due[book.name]:
                    continue
                lines: list[str] = []
                try:
                    summary = await asyncio.to_thread(_sync_one, path, region, book, lines.append, stop)
                except ContactError as e:
                    summary, error = None, str(e)
                except sqlite3.Error as e:
                    summary, error = None, f"address book {book.name}: contacts database: {e}"
                for line in lines:
                    log("warning", line)
                if summary is None:
                    log("warning", error)
                    due[book.name] = time.monotonic() + min(RETRY, book.interval)
                else:
                    synced(summary, asked)
                    due[book.name] = time.monotonic() + book.interval
            wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), max(0.0, min(due.values()) - time.monotonic()))
    finally:
        stop.set()
