"""The history pane: every call, newest first; `m` shows missed calls only;
Enter calls back (or redials)."""

from __future__ import annotations

import time

from rich.style import Style
from rich.text import Text
from textual.css.query import NoMatches
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Label

from ..history import HistoryEntry
from ..uri import shown
from .intents import CallRequested
from .panes import FittedTable
from .render import StateView

KIND_STYLE = {"in": ("↙ in", "green"), "out": ("↗ out", ""), "missed": ("✗ missed", "bold red"),
              "rejected": ("⊘ rejected", "yellow"), "forwarded": ("↪ forwarded", "cyan")}


def outcome(e: HistoryEntry) -> Text:
    """SIP code and reason, the far end's Reason, where it went, and a link to its recording."""
    parts = [f"{e.code} {e.reason}" if e.code >= 300 else "", e.reason_remote,
             f"→ {e.redirected_to}" if e.redirected_to else ""]
    text = Text(" · ".join(p for p in parts if p))
    if e.recording:
        text.append(" ● rec" if text else "● rec", style=Style(color="red", link=f"file://{e.recording}"))
    return text


def when(t: float) -> str:
    lt = time.localtime(t)
    return time.strftime("%H:%M" if lt[:3] == time.localtime()[:3] else "%d %b %H:%M", lt)


class HistoryPane(Vertical):
    HELP_WHERE = "history"
    HELP_KEYS = (("Enter", "call back / redial"),)
    BINDINGS = [Binding("m", "missed_only", "Missed only", tooltip="missed calls only (toggle)")]

    def compose(self) -> ComposeResult:
        yield Label("", id="history-filter")
        yield FittedTable(id="history-list", layouts=(("time", "kind", "who", "duration", "reason"),
                                                      ("time", "kind", "who", "duration")),
                          give_way={"who": 16, "reason": 8, "kind": 5})  # a name keeps 16 characters

    def on_mount(self) -> None:
        self.missed_only = False
        self.entries: list[HistoryEntry] = []
        self._label()

    def _label(self) -> None:
        self.query_one("#history-filter", Label).update(
            f"showing: {'missed calls' if self.missed_only else 'all calls'}   (m toggles · Enter calls back)")

    def action_missed_only(self) -> None:
        self.missed_only = not self.missed_only
        self._label()
        self.refresh_list()

    @work(exclusive=True, group="history")
    async def refresh_list(self) -> None:
        entries = await self.app.directory.history("missed" if self.missed_only else None, 200)
        self.entries = entries
        rows = []
        for e in entries:
            label, style = KIND_STYLE.get(e.kind, (e.kind, ""))
            secs = int(e.duration)
            rows.append((str(e.id), {"time": when(e.started), "kind": Text(label, style=style), "who": Text(e.who),
                                     "duration": f"{secs // 60}:{secs % 60:02d}" if secs else "",
                                     "reason": outcome(e)}))
        if not self.is_attached:
            return  # the app is closing while the query ran
        try:
            self.query_one("#history-list", FittedTable).fill(rows, keep_cursor=False)  # newest on top, under the cursor
        except NoMatches:
            return

    @on(DataTable.RowSelected, "#history-list")
    def _call_back(self, event: DataTable.RowSelected) -> None:
        entry = next((e for e in self.entries if str(e.id) == event.row_key.value), None)
        if entry is not None and entry.target:
            self.post_message(CallRequested(entry.target))


class MessagesPane(StateView, Vertical):
    """Conversations (SIP MESSAGE) by peer, unread counts first; Enter opens
    the thread, n starts a new one."""

    HELP_WHERE = "messages"
    HELP_KEYS = (("Enter", "open the conversation"),)
    BINDINGS = [Binding("n", "app.new_message", "New message", tooltip="new message")]

    def compose(self) -> ComposeResult:
        yield FittedTable(id="message-list", layouts=(("peer", "unread", "last"),), give_way={"peer": 10, "last": 10})

    def on_mount(self) -> None:
        self.rows: list = []

    def slice_of(self, state) -> tuple:
        return state.messages, state.unread

    def show(self, state) -> None:
        last: dict[str, str] = {}
        for m in state.messages:
            last[m.peer] = ("me: " if m.dir == "o" else "") + m.text.replace("\n", " ")[:60]
        unread = dict(state.unread)
        rows = sorted(((p, unread.get(p, 0), t) for p, t in last.items()), key=lambda r: (-r[1], r[0]))
        if rows == self.rows:
            return
        self.rows = rows
        self.query_one("#message-list", FittedTable).fill(
            [(peer, {"peer": Text(shown(peer)), "unread": Text(str(n), style="bold red") if n else "",
                     "last": Text(text)}) for peer, n, text in rows],
            keep_cursor=False)  # unread first, under the cursor: Enter opens it

    @on(DataTable.RowSelected, "#message-list")
    def _open(self, event: DataTable.RowSelected) -> None:
        from .dialogs import Compose

        self.app.push_screen(Compose(event.row_key.value))
