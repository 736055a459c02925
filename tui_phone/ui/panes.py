"""The panes of the TUI. Each renders part of the one ``State``; none of
them talks to SIP: they post ``Command`` values through the app."""

from __future__ import annotations

import time

from rich.style import Style
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical
from textual.message import Message
from textual.widgets import Button, DataTable, Input, RichLog, Static

from ..sip.engine import CallState
from ..store import Call, State

KEYS = "123456789*0#"
STATE_STYLE = {  # theme colour names, resolved against the current theme
    CallState.ALERTING: ("bold", "warning"),
    CallState.CONNECTED: ("bold", "success"),
    CallState.DISCONNECTED: ("dim", None),
    CallState.HOLDING: ("", "secondary"),
    CallState.HELD: ("", "secondary"),
}


def state_style(widget, state: CallState) -> str:
    attrs, colour = STATE_STYLE.get(state, ("", None))
    value = getattr(widget.app.current_theme, colour, None) if colour else None
    return f"{attrs} {value}".strip() if value else attrs


def duration(call: Call, now: float | None = None) -> str:
    if call.connected_at is None:
        return ""
    end = call.ended_at if call.ended_at is not None else (now or time.time())
    secs = max(0, int(end - call.connected_at))
    return f"{secs // 3600}:{secs // 60 % 60:02d}:{secs % 60:02d}" if secs >= 3600 else f"{secs // 60}:{secs % 60:02d}"


class StatusBar(Static):
    """One line: each account and its registration state, and own status."""

    def show(self, state: State) -> None:
        text = Text()
        for a in state.accounts:
            ok = a.ready
            text.append("● " if ok else "○ ", style="green" if ok else "red")
            text.append(f"{a.name} ", style="bold")
            text.append(f"{a.uri.split(':', 1)[-1]} ")
            text.append(f"{a.status_text}   ", style="" if ok else "italic")
        text.append(f"status: {state.status}")
        if not state.audio.device:
            text.append("   🔇 no audio", style="dim")
        elif state.audio.muted:
            text.append("   🎤 muted", style="bold yellow")
        if state.missed:
            text.append(f"   ✗ {state.missed} missed", style="bold red")
        unread = sum(n for _, n in state.unread)
        if unread:
            text.append(f"   ✉ {unread} unread", style="bold")
        self.update(text)


class DialPad(Vertical):
    """Type a number or SIP URI, Enter dials; the keypad buttons type too."""

    BORDER_TITLE = "Dialpad"

    class Dial(Message):
        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    def compose(self) -> ComposeResult:
        yield Input(placeholder="number or sip:uri", id="number")
        with Grid(id="keys"):
            for k in KEYS:
                yield Button(k, id=f"key-{'star' if k == '*' else 'hash' if k == '#' else k}",
                             classes="key", compact=True)
        with Horizontal(id="dial-actions"):
            yield Button("Call", id="dial", variant="success", compact=True)
            yield Button("⌫", id="backspace", compact=True)

    @property
    def input(self) -> Input:
        return self.query_one("#number", Input)

    def prefill(self, text: str) -> None:
        self.input.value = text
        self.input.cursor_position = len(text)
        self.input.focus()

    @on(Button.Pressed, ".key")
    def _key(self, event: Button.Pressed) -> None:
        self.input.insert_text_at_cursor(str(event.button.label))

    @on(Button.Pressed, "#backspace")
    def _backspace(self) -> None:
        self.input.action_delete_left()

    @on(Button.Pressed, "#dial")
    @on(Input.Submitted, "#number")
    def _dial(self) -> None:
        text = self.input.value.strip()
        if text:
            self.post_message(self.Dial(text))


class CallList(DataTable):
    """Live calls, then recently ended ones (dimmed, with the SIP reason)."""

    BORDER_TITLE = "Calls"
    BINDINGS = [
        Binding("a", "app.answer", "Answer"),
        Binding("h", "app.hangup", "Hang up"),
        Binding("r", "app.reject", "Reject"),
        Binding("o", "app.hold", "Hold"),
        Binding("t", "app.transfer", "Transfer"),
        Binding("c", "app.conference", "Conference"),
        Binding("m", "app.mute", "Mute"),
        Binding("T", "app.attended", "Attended transfer", show=False),
        Binding("p", "app.split", "Split", show=False),
    ]
    COLUMNS = ("#", "dir", "number", "name", "state", "time", "reason")

    async def on_key(self, event) -> None:
        """Digits typed on the call list go to the connected call as DTMF."""
        if event.character and event.character in "0123456789*#":
            event.stop()
            await self.app.send_dtmf(event.character)

    def on_mount(self) -> None:
        self.cursor_type = "row"
        for col in self.COLUMNS:
            self.add_column(col, key=col)
        self.set_interval(1, self._tick)

    def show(self, state: State) -> None:
        rows = [*state.calls, *reversed(state.ended)]
        keep = self.selected_id()
        self.clear()
        for c in rows:
            self.add_row(*self._cells(c), key=str(c.id))
        if keep is not None and any(c.id == keep for c in rows):
            self.move_cursor(row=self.get_row_index(str(keep)))
        self._rows = rows

    def _cells(self, c: Call) -> tuple:
        reason = f"{c.code} {c.reason}" if c.code >= 300 else ""
        return (
            str(c.id), "in" if c.dir == "i" else "out", Text(c.who), Text(c.dn),
            Text(c.state.value + (" ⊕" if c.conference else ""), style=state_style(self, c.state)),
            duration(c), Text(reason),
        )

    def _tick(self) -> None:
        now = time.time()
        for c in getattr(self, "_rows", ()):
            if c.live and c.connected_at is not None:
                self.update_cell(str(c.id), "time", duration(c, now))

    def selected_id(self) -> int | None:
        if not self.row_count:
            return None
        try:
            key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key
        except Exception:  # noqa: BLE001 - no valid cursor
            return None
        return int(key.value) if key.value is not None else None


class CallDetail(Static):
    """The selected call in full: caller ID override, CRM tags, and context
    an app attached with CallInfo (sanitized text, link)."""

    def show(self, call: Call | None) -> None:
        self.display = call is not None
        if call is None:
            return
        text = Text()
        text.append(f"call {call.id} ", style="bold")
        text.append(f"{'from' if call.dir == 'i' else 'to'} {call.dn + ' ' if call.dn else ''}<{call.sip}>")
        text.append(f"  {call.state.value}", style=state_style(self, call.state))
        if call.code >= 300:
            text.append(f"  {call.code} {call.reason}")
        tags = [f"{k} {v}" for k, v in (("caller ID", call.callerid), ("cat", call.cat),
                                          ("bind", call.bind)) if v]
        if tags:
            text.append("\n" + " · ".join(tags), style="italic")
        if call.info:
            text.append("\n" + call.info)
        if call.info_link:
            text.append("\n")
            text.append(call.info_link, style=Style(underline=True, link=call.info_link))
        self.update(text)


class LogPane(RichLog):
    """Errors and SIP events, newest last (toggle with Ctrl+L)."""

    BORDER_TITLE = "Log"

    def add(self, level: str, text: str) -> None:
        style = {"error": "bold red", "warning": "yellow"}.get(level, "")
        self.write(Text(time.strftime("%H:%M:%S ") + text, style=style))
