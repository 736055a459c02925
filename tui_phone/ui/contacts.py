"""The contacts pane (external contacts and the team, searchable, favorites
first) and the team pane (live status). The database is the app's
``directory``: a search that answers within 5 ms runs at once (the key and
its rows paint in one frame), a longer one in a worker thread, so no
keystroke waits on SQLite; the pane asks for one window of rows, the newest
search wins and a stale answer is dropped."""

from __future__ import annotations

import time

from rich.text import Text
from textual.css.query import NoMatches
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, Input, Label, OptionList

from ..contacts.model import LABELS, Contact, ContactError, Number
from .intents import CallRequested, ContactCallRequested
from .panes import FittedTable
from .render import StateView

STATUS_STYLE = {"available": "green", "unavailable": "yellow", "in-call": "red", "offline": "grey50"}
LAYOUT = ("fav", "name", "company", "numbers")
LAYOUT_WITH_BOOK = ("fav", "name", "book", "company", "numbers")
FILTERS = {"0": None, "1": "available", "2": "unavailable", "3": "in-call", "4": "offline"}
WINDOW_MARGIN = 10  # rows read beyond the visible ones; moving past them reads the next window


def numbers_text(contact: Contact) -> str:
    return ", ".join(n.typed for n in contact.numbers)


class SearchInput(Input):
    """The search box: ``searched(text)`` is called as the text changes, in the
    same step as the key (a ``Changed`` message would reach the pane a repaint
    later: ~6 ms of every key → rows)."""

    def __init__(self, searched, **kwargs):
        super().__init__(**kwargs)
        self.searched = searched

    def _watch_value(self, value: str) -> None:
        super()._watch_value(value)
        self.searched()


class ContactsPane(Vertical):
    """Search as you type; ★ favorites first; Enter calls."""

    HELP_WHERE = "contacts"
    HELP_KEYS = (("Enter", "call (asks which number when there are several)"),)
    BINDINGS = [
        Binding("n", "new", "New", tooltip="new contact"),
        Binding("e", "edit", "Edit", tooltip="edit the selected contact"),
        Binding("x,delete", "delete", "Delete", tooltip="delete the selected contact (asks)"),
        Binding("f", "favorite", "★", tooltip="★ favorite (toggle; favorites come first)"),
        Binding("slash", "search", "Search", tooltip="search (F3 lands on the list; Escape leaves the search)"),
        Binding("escape", "leave", "Back", show=False, tooltip="from the search to the list, from the list to the calls"),
    ]

    def compose(self) -> ComposeResult:
        yield SearchInput(self._search, placeholder="search names, company, email, digits", id="contact-search")
        yield FittedTable(id="contact-list", layouts=(LAYOUT,), labels={"fav": "★"},
                          give_way={"name": 10, "book": 4, "company": 6, "numbers": 10})

    @property
    def table(self) -> FittedTable:
        return self.query_one("#contact-list", FittedTable)

    def on_mount(self) -> None:
        self.contacts: list[Contact] = []
        self.limit = 0  # rows asked for: the visible ones and a margin, more as the cursor goes down
        self.renders = 0
        self._wanted: tuple[str, int] | None = None  # the newest search asked for
        self._searching = False  # the app fills the list once the engine is up (first paint first)

    def _search(self) -> None:
        if self.is_mounted:
            self.refresh_list(new=True)

    @on(Input.Submitted, "#contact-search")
    def _to_list(self) -> None:
        self.table.focus()

    def window(self) -> int:
        """Rows that fill the table, and a margin (the table's height before layout: a screenful)."""
        return max(self.table.size.height, 24) + WINDOW_MARGIN

    def refresh_list(self, new: bool = False) -> None:
        """Search again (``new``: the text changed, back to the first window).
        One query runs at a time; asked again meanwhile, the newest text is
        searched next and an answer for an older one is never shown."""
        if new or not self.limit:
            self.limit = self.window()
        self._wanted = (self.query_one("#contact-search", Input).value, self.limit)
        found = self.app.directory.search_now(self._wanted[0], True, self.limit)
        if found is not None:  # answered at once: no thread, no waiting for the GIL behind the paint
            self._wanted = None  # an older search still running is dropped when it ends
            try:
                self.show(found)
            except NoMatches:
                return  # the pane's table went away meanwhile (the app is closing), as in _search_latest
        elif not self._searching:
            self._searching = True
            self.run_worker(self._search_latest(), group="contact-search")

    async def _search_latest(self) -> None:
        try:
            while self._wanted is not None:
                asked = self._wanted
                try:
                    found = await self.app.directory.search(asked[0], True, asked[1])
                except Exception as e:  # noqa: BLE001 - a broken database: say so, calls still work
                    self.app.notify(f"contacts: {e}", severity="error")
                    found = []
                if not self.is_attached:
                    return  # the app is closing (or the pane was removed) while the query ran
                if asked == self._wanted:
                    self._wanted = None
                    try:
                        self.show(found)
                    except NoMatches:
                        return  # the pane's table went away meanwhile (the app is closing)
        finally:
            self._searching = False

    @on(DataTable.RowHighlighted, "#contact-list")
    def _more(self, event: DataTable.RowHighlighted) -> None:
        """At the last row of a full window: read the next one."""
        if event.cursor_row >= self.table.row_count - 1 and len(self.contacts) >= self.limit:
            self.limit += self.window()
            self.refresh_list()

    def show(self, contacts: list[Contact]) -> None:
        self.renders += 1
        self.contacts = contacts
        # the book column only when some contact is synced with an address book
        self.table.layouts = (LAYOUT_WITH_BOOK if any(c.book for c in contacts) else LAYOUT,)
        rows = []
        for c in contacts:
            name = Text(c.name)
            if c.team:
                name.append("  team", style="italic dim")
            rows.append((str(c.id), {"fav": Text("★", style="bold gold1") if c.favorite else "", "name": name,
                                     "book": Text(c.book, style="dim"), "company": Text(c.company),
                                     "numbers": Text(numbers_text(c))}))
        self.table.fill(rows)
        self.shown_at = time.perf_counter()  # for bench/contacts_pane.py: key → rows

    def selected(self) -> Contact | None:
        if not self.table.row_count:
            return None
        try:
            key = self.table.coordinate_to_cell_key(self.table.cursor_coordinate).row_key.value
        except Exception:  # noqa: BLE001 - no valid cursor
            return None
        return next((c for c in self.contacts if str(c.id) == key), None)

    @on(DataTable.RowSelected, "#contact-list")
    def _call(self) -> None:
        contact = self.selected()
        if contact is not None:
            self.post_message(ContactCallRequested(contact))

    def action_search(self) -> None:
        self.query_one("#contact-search", Input).focus()

    def action_leave(self) -> None:
        """Escape: from the search back to the list (its keys work again), from the list to the calls."""
        if self.app.focused is self.query_one("#contact-search"):
            self.table.focus()
        else:
            self.app.action_focus_calls()

    def action_new(self) -> None:
        self.app.push_screen(ContactForm(None), self._saved)

    def _editable(self) -> Contact | None:
        """The selected contact if the user may change it (team ones are the PBX's)."""
        contact = self.selected()
        if contact is not None and contact.team:
            self.app.notify("team contacts are managed on the PBX", severity="warning")
            return None
        return contact

    def action_edit(self) -> None:
        contact = self._editable()
        if contact is not None:
            self.app.push_screen(ContactForm(contact), self._saved)

    def _saved(self, contact: Contact | None) -> None:
        if contact is not None:
            self.app.notify(f"saved {contact.name}")
            self.refresh_list()

    def action_delete(self) -> None:
        from .dialogs import Confirm

        contact = self._editable()
        if contact is None:
            return

        async def decided(yes: bool | None) -> None:
            if yes:
                try:
                    await self.app.directory.delete(contact.id)
                except ContactError as e:
                    self.app.notify(f"contacts: {e}", severity="error")
                    return
                self.app.notify(f"deleted {contact.name}")
                self.refresh_list()

        self.app.push_screen(Confirm(f"Delete {contact.name}?", numbers_text(contact), yes="Delete"),
                             decided)

    async def action_favorite(self) -> None:
        contact = self.selected()
        if contact is not None:
            try:
                await self.app.directory.set_favorite(contact.id, not contact.favorite)
            except ContactError as e:
                self.app.notify(f"contacts: {e}", severity="error")
                return
            self.refresh_list()


def contact_targets(contact: Contact, prefix: str = "") -> list[tuple[str, str]]:
    """(what the picker shows, what is dialled) for each of a contact's numbers, else its SIP URI."""
    targets = [(f"{prefix}{n.label}: {n.typed}", n.e164 or n.typed) for n in contact.numbers]
    if not targets and contact.sip_uri:
        targets = [(prefix + contact.sip_uri, contact.sip_uri)]
    return targets


async def call_contact(app, contact: Contact, *others: Contact) -> None:
    """Dial the contact's number; ask which when there are several (also
    across ``others``, contacts that matched the same name)."""
    several = bool(others)
    targets = [t for c in (contact, *others) for t in contact_targets(c, f"{c.name}, " if several else "")]
    if not targets:
        app.notify(f"{contact.name} has no number", severity="warning")
        return
    if len(targets) == 1:
        await app.dial(targets[0][1])
        return

    async def picked(target: str | None) -> None:
        if target:
            await app.dial(target)

    app.push_screen(NumberPicker(contact.name if not several else "which", targets), picked)


class NumberPicker(ModalScreen[str | None]):
    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(self, name: str, targets: list[tuple[str, str]]):
        super().__init__()
        self.title_text, self.targets = name, targets

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(f"Call {self.title_text} on…", classes="question", markup=False)
            yield OptionList(*[Text(label) for label, _ in self.targets], id="numbers")

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self.targets[event.option_index][1])


class ContactForm(ModalScreen[Contact | None]):
    """Create or edit an external contact. Numbers: one per line, optionally
    led by a label (mobile, work, home, other)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("ctrl+s", "save", "Save")]
    FIELDS = (("first", "First name"), ("last", "Last name"), ("email", "Email"),
              ("job_title", "Job title"), ("company", "Company"))

    def __init__(self, contact: Contact | None):
        super().__init__()
        self.contact = contact

    def compose(self) -> ComposeResult:
        from textual.widgets import TextArea  # 7 ms to import: not before the first frame (issue 17)

        c = self.contact or Contact()
        with Vertical(classes="dialog form"):
            yield Label("Edit contact" if self.contact else "New contact", classes="question")
            for key, label in self.FIELDS:
                with Horizontal(classes="field"):
                    yield Label(label, classes="field-label")
                    yield Input(getattr(c, key), id=f"f-{key}", compact=True)
            yield Label("Numbers, one per line: [mobile|work|home|other] number", classes="detail")
            yield TextArea("\n".join(f"{n.label} {n.typed}" for n in c.numbers), id="f-numbers")
            yield Label("", id="form-error", classes="error")
            yield Button("Save", id="save", variant="primary")

    def on_mount(self) -> None:
        self._saved_values = self.values()

    def values(self) -> tuple:
        """What the form holds now (to tell whether it was edited)."""
        return (*(self.query_one(f"#f-{key}", Input).value for key, _ in self.FIELDS),
                self._numbers_text())

    def _numbers_text(self) -> str:
        return self.query_one("#f-numbers").text

    def action_cancel(self) -> None:
        """Escape: close; with edits, ask first (never lose a half-filled form silently)."""
        from .dialogs import Confirm

        if self.values() == self._saved_values:
            self.dismiss(None)
            return

        def decided(discard: bool | None) -> None:
            if discard:
                self.dismiss(None)

        self.app.push_screen(Confirm("Discard your changes?", "The contact form has edits that are not saved "
                                     "(Ctrl+S saves).", yes="Discard", no="Keep editing"), decided)

    def numbers(self) -> tuple[Number, ...]:
        out = []
        for line in self._numbers_text().splitlines():
            line = line.strip()
            if not line:
                continue
            label, _, rest = line.partition(" ")
            if label.lower().rstrip(":") in LABELS and rest.strip():
                out.append(Number(label.lower().rstrip(":"), rest.strip()))
            else:
                out.append(Number("other", line))
        return tuple(out)

    @on(Button.Pressed, "#save")
    async def action_save(self) -> None:
        values = {key: self.query_one(f"#f-{key}", Input).value.strip() for key, _ in self.FIELDS}
        base = self.contact or Contact()
        draft = Contact(base.id, numbers=self.numbers(), favorite=base.favorite, **values)
        try:
            saved = await self.app.directory.save(draft)
        except ContactError as e:
            self.query_one("#form-error", Label).update(str(e))
            return
        self.dismiss(saved)


class TeamPane(StateView, Vertical):
    """Team members with live status; 0-4 filter by status; Enter calls."""

    HELP_WHERE = "team"
    HELP_KEYS = (("Enter", "call (asks which number when there are several)"),)
    BINDINGS = [Binding(k, f"filter('{k}')", v or "all", show=False,
                        tooltip="filter: all / available / unavailable / in-call / offline") for k, v in FILTERS.items()]

    def compose(self) -> ComposeResult:
        yield Label("", id="team-filter")
        yield FittedTable(id="team-list", layouts=(("dot", "name", "status", "sip"),),
                          labels={"dot": "", "sip": "address"}, give_way={"name": 10, "sip": 10})

    def on_mount(self) -> None:
        self.only: str | None = None
        self.rows: list[tuple[str, str, str]] = []
        self._label()

    def _label(self) -> None:
        self.query_one("#team-filter", Label).update(
            f"showing: {self.only or 'everyone'}   (0 all · 1 available · 2 unavailable · 3 in-call · 4 offline)")

    def action_filter(self, key: str) -> None:
        self.only = FILTERS[key]
        self._label()
        self.render_state(self.app.state, force=True)

    def slice_of(self, state) -> tuple:
        """The members and their status (presence of anyone else changes nothing here)."""
        status = {uri: st for uri, st, _ in state.presence}
        return tuple((name, uri, status.get(uri) or "offline") for name, uri in state.team)

    def show(self, state) -> None:
        rows = list(self._shown_slice)
        rows = [r for r in rows if self.only is None or r[2] == self.only]
        if rows == self.rows:
            return
        self.rows = rows
        self.query_one("#team-list", FittedTable).fill(
            [(uri, {"dot": Text("●", style=STATUS_STYLE[status]), "name": Text(name),
                    "status": Text(status, style=STATUS_STYLE[status]), "sip": Text(uri)})
             for name, uri, status in rows])

    @on(DataTable.RowSelected, "#team-list")
    def _call(self, event: DataTable.RowSelected) -> None:
        self.post_message(CallRequested(event.row_key.value))
