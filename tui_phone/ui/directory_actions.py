"""What the keys and widgets do to contacts, history and messages: open
their tabs, import and sync contacts, send and read messages, and notice
another process writing to the database. A mixin of ``app.TuiPhoneApp``.

Message handlers here use Textual's naming convention
(``on_message_written``): ``@on`` only registers on Textual's own classes."""

from __future__ import annotations

import asyncio
import os

from textual import work
from textual.css.query import NoMatches
from textual.widgets import TabbedContent

from ..commands import MarkMessagesRead, MarkMissedSeen, SendSms
from ..events import ContactsChanged
from .contacts import ContactsPane
from .dialogs import Compose, Prompt
from .history import HistoryPane
from .intents import MessagesOpened, MessageWritten

DB_WATCH = 0.5  # seconds between looks at the database's data_version


class DirectoryActions:
    """Contacts, history and messages keys and intents, for the app (which has
    ``phone``, ``config``, ``directory``, ``run_command``, ``log_line`` and ``show_tab``)."""

    async def on_message_written(self, message: MessageWritten) -> None:
        try:
            command = SendSms(message.to, message.text)
        except ValueError as e:
            self.notify(str(e), severity="error")
            return
        ok = (await self.run_command(command)).ok
        if message.done is not None:
            message.done(ok)

    async def on_messages_opened(self, message: MessagesOpened) -> None:
        await self.run_command(MarkMessagesRead(message.peer))

    def refresh_pane(self, cls) -> None:
        """Re-read a list pane's rows; nothing before the pane is mounted (once the engine runs), nor
        while the app closes (a pane whose table is gone, or not yet composed)."""
        for pane in self.query(cls):
            try:
                pane.refresh_list()
            except NoMatches:
                pass

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        if not self._panes_mounted.is_set():  # a tab clicked before its pane mounted: mount them now
            self.run_worker(self._mount_panes(), group="panes")
        if event.pane.id == "history-tab":
            self.refresh_pane(HistoryPane)
            self.run_worker(self.run_command(MarkMissedSeen()), group="read-state")
        elif event.pane.id == "contacts-tab":
            self.refresh_pane(ContactsPane)

    async def _show_list(self, tab: str, table: str) -> None:
        """Show a tab and focus its list; its keys work at once (/ searches)."""
        await self._mount_panes()  # a key pressed before the engine runs mounts the panes now
        self.show_tab(tab)  # TabActivated refreshes the list
        self.query_one(table).focus()

    async def action_contacts(self) -> None:
        await self._show_list("contacts-tab", "#contact-list")

    async def action_messages(self) -> None:
        await self._show_list("messages-tab", "#message-list")

    def action_new_message(self) -> None:
        async def to(target: str | None) -> None:
            if target:
                self.push_screen(Compose(target))

        self.push_screen(Prompt("Message to:", "number or sip:uri"), to)

    async def action_history(self) -> None:
        await self._show_list("history-tab", "#history-list")

    async def action_team(self) -> None:
        await self._show_list("team-tab", "#team-list")

    def action_import_contacts(self) -> None:
        def chosen(path: str | None) -> None:
            if path:  # a worker: awaited here, the import would hold the app's messages (keys) until it ends
                self.run_worker(self.import_contacts(path), group="import")

        self.push_screen(Prompt("Import contacts from a vCard file:", "path/to/contacts.vcf"), chosen)

    async def import_contacts(self, path: str) -> None:
        """Add a .vcf file's contacts; the count, or the one-line reason, is a toast."""
        from ..contacts.model import ContactError
        from ..contacts.vcard import import_summary

        try:
            count, problems, added = await self.directory.import_file(path)
        except (ContactError, OSError) as e:
            self.log_line("error", f"contacts import: {e}")
            self.notify(f"contacts import: {e}", severity="error", timeout=10)
            return
        for problem in problems:
            self.log_line("warning", f"contacts import: {path}: {problem}")
        line = import_summary(count, problems, added, path) + (" (see the log)" if problems else "")
        self.log_line("info", line)
        self.notify(line[0].upper() + line[1:],
                    severity="warning" if problems else "information", timeout=8)
        self.refresh_pane(ContactsPane)

    @work(exclusive=True, group="addressbooks")
    async def _keep_books_in_sync(self) -> None:
        """The [[addressbooks]] sync, in a thread, for as long as the app runs."""
        from ..contacts.sync import keep_in_sync

        try:
            db = await asyncio.to_thread(lambda: self.phone.contacts)  # opened (and migrated) off the UI thread
        except Exception as e:  # noqa: BLE001 - a broken database: calls still work
            self.log_line("warning", f"contacts: {e}")
            return
        await keep_in_sync(db.path, db.region, self.config.addressbooks, self.log_line, self._books_synced,
                           self._sync_now)

    def _books_synced(self, summary, asked: bool) -> None:
        if summary.changed or summary.pushed:
            self.log_line("info", summary.line())
        if summary.changed:
            self.phone.post(ContactsChanged())  # every view re-reads (the app's _on_change)
        if asked:
            self.notify(summary.line(), title="Contacts")

    def action_sync_contacts(self) -> None:
        if not self.config.addressbooks:
            self.notify("no address books: add [[addressbooks]] with name and url to the config",
                        severity="warning")
            return
        self._sync_now.set()
        self.notify("syncing contacts…", title="Contacts")

    def _watch_database(self) -> None:
        """Another process wrote to the database (``tui-phone contacts import``):
        the pane on screen shows it within a second, without a search. A stat
        of the file and its WAL (microseconds, no thread) says whether anyone
        wrote at all; only then is SQLite asked who (``data_version``)."""
        phone = self.phone
        if not phone.contacts_open:
            return
        stamp = []
        for path in (phone.contacts.path, phone.contacts.path.with_name(phone.contacts.path.name + "-wal")):
            try:
                st = os.stat(path)
                stamp.append((st.st_mtime_ns, st.st_size))
            except OSError:
                stamp.append(None)
        if stamp != self._db_stamp:
            self._db_stamp = stamp
            self._check_database()

    @work(exclusive=True, group="db-watch")
    async def _check_database(self) -> None:
        try:
            version = await self.directory.data_version()
        except Exception:  # noqa: BLE001 - closing, or a broken file: the panes say so when used
            return
        if version is None:
            return
        if self._db_version is not None and version != self._db_version:
            try:
                tab = self._tab()
            except NoMatches:
                return  # the app closed while SQLite answered (seen in a loaded test run)
            if tab == "contacts-tab":
                self.refresh_pane(ContactsPane)
            elif tab == "history-tab":
                self.refresh_pane(HistoryPane)
        self._db_version = version
