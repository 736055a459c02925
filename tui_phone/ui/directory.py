"""The panes' one way to the contacts database and the call history.

``Directory`` wraps whatever ``phone.contacts`` is (the local SQLite store,
or ``control.remote.RemoteContacts`` when the TUI is attached to a phone in
another process) and runs every call in a worker thread, so no keystroke
waits on SQLite or the socket; only ``search_now`` asks the local database on
the caller's thread, and SQLite stops it after ``NOW_BUDGET``. Widgets ask
the app's ``directory``; none of them holds the database."""

from __future__ import annotations

import asyncio

from ..contacts.model import Contact
from ..history import HistoryEntry


NOW_BUDGET = 0.005
"""How long a search may hold the UI thread (s): a key's rows come in the same frame as the key."""


class Directory:
    def __init__(self, phone):
        self.phone = phone

    async def _run(self, name: str, *args):
        phone = self.phone
        # the database opens (and migrates) on first use: that too happens off the UI thread
        return await asyncio.to_thread(lambda: getattr(phone.contacts, name)(*args))

    async def search(self, text: str = "", include_team: bool = True, limit: int | None = None) -> list[Contact]:
        return await self._run("search", text, include_team, limit)

    def search_now(self, text: str = "", include_team: bool = True, limit: int | None = None) -> list[Contact] | None:
        """The answer of :meth:`search` when the local database gives it within
        ``NOW_BUDGET`` on this thread; None when it would take longer, the
        database is busy or not open yet, or it is another process's (ask :meth:`search`)."""
        if not getattr(self.phone, "contacts_open", False):  # a view of another process has no database here
            return None
        within = getattr(self.phone.contacts, "search_within", None)
        return within(NOW_BUDGET, text, include_team, limit) if within is not None else None

    async def history(self, kind: str | None = None, limit: int = 200) -> list[HistoryEntry]:
        return await self._run("history", kind, limit)

    async def save(self, contact: Contact) -> Contact:
        """Add a new contact (no id) or update an existing one."""
        return await self._run("update" if contact.id is not None else "add", contact)

    async def delete(self, contact_id: int) -> None:
        await self._run("delete", contact_id)

    async def set_favorite(self, contact_id: int, favorite: bool) -> Contact:
        return await self._run("set_favorite", contact_id, favorite)

    async def import_file(self, path: str) -> tuple[int, list[str], int]:
        from ..contacts.model import ContactError
        from ..contacts.vcard import import_file

        phone = self.phone
        if getattr(phone, "attached", False):  # the API has no import (a merge is one transaction there)
            raise ContactError("an attached view cannot import: run `tui-phone contacts import FILE` (it writes "
                               "the phone's database, and this view shows the contacts at once)")
        return await asyncio.to_thread(lambda: import_file(phone.contacts, path))

    async def data_version(self) -> int | None:
        """The database's change counter (another process wrote); None while it is not open."""
        phone = self.phone
        if not phone.contacts_open:
            return None
        return await asyncio.to_thread(lambda: phone.contacts.data_version())
