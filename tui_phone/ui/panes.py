"""The panes of the TUI. Each renders its own slice of the one ``State``
(``render.StateView``); none of them talks to SIP: they post intent messages
(``intents``) that the app turns into Commands."""

from __future__ import annotations

import math
import time
import unicodedata

from rich.cells import cell_len
from rich.style import Style
from rich.text import Text
from rich.segment import Segment
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.reactive import reactive
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import DataTable, Input, RichLog, Static

from ..events import CallState
from ..store import Call, State
from ..uri import shown
from .intents import CallRequested, DtmfTyped
from .render import StateView

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


class StatusBar(StateView, Widget):
    """One line: each account and its registration state on the left; own
    status, mute, sound and unread counts on the right. When the line is too
    long the accounts give way (…), never the indicators.

    Its size never depends on the text (one line, the screen's width), so a new
    line is a repaint of this widget alone, never a layout of the screen; a
    change that leaves the text as it was repaints nothing."""

    state: State | None = None
    attached = False  # a view of a phone another process runs (tui-phone attach)
    detached = False  # that phone went away: reattaching
    note: reactive[str] = reactive("")  # replaces the line while quitting

    _line: Text = Text()

    def render(self) -> Text:
        return self._line

    def update(self, line: Text) -> None:
        self._line = line
        self.refresh()

    def watch_note(self) -> None:
        if self.note:
            self.update(Text(self.note, style="bold"))

    def slice_of(self, state: State) -> tuple:
        return (state.accounts, state.status, state.audio.device, state.audio.muted,
                any(c.recording for c in state.calls), state.voicemail["waiting"] and state.voicemail["new"],
                state.missed, sum(n for _, n in state.unread))

    def show(self, state: State) -> None:
        self.state = state
        if self.note:
            return
        accounts = Text()
        for a in state.accounts:
            ok = a.ready
            accounts.append("● " if ok else "○ ", style="green" if ok else "red")
            accounts.append(f"{a.name} ", style="bold")
            accounts.append(f"{shown(a.uri)} ")
            accounts.append(f"{a.status_text}   ", style="" if ok else "italic")
        accounts.rstrip()
        marks = Text(f"status: {state.status}")
        if self.attached and self.detached:
            marks.append("  ⇄ detached: the phone stopped (attaching again)", style="bold red")
        elif self.attached:
            marks.append("  ⇄ attached", style="bold")
        if not state.audio.device:
            marks.append("  🔇 no audio", style="dim")
        if state.audio.muted:
            marks.append("  🎤 muted", style="bold yellow")
        if any(c.recording for c in state.calls):
            marks.append("  ● REC", style="bold red")
        if state.voicemail["waiting"]:
            marks.append(f"  ✉ {state.voicemail['new']}", style="bold")
        if state.missed:
            marks.append(f"  ✗ {state.missed} missed", style="bold red")
        unread = sum(n for _, n in state.unread)
        if unread:
            marks.append(f"  💬 {unread} unread", style="bold")
        width = self.size.width
        if width and accounts.cell_len + 3 + marks.cell_len > width:
            accounts.truncate(max(0, width - 3 - marks.cell_len), overflow="ellipsis")
        line = Text.assemble(accounts, "   " if accounts else "", marks, no_wrap=True, overflow="ellipsis")
        if line != self._line:
            self._line = line
            self.update(line)

    def on_resize(self) -> None:
        if self.state is not None:
            self.show(self.state)


# Escape and a digit within Textual's escape delay arrive as macOS Option+digit characters (Textual
# reads "\x1b1" as "¡"): in the dialpad that is Escape, then the digit.
OPTION_DIGITS = dict(zip("¡™£¢∞§¶•ªº", "1234567890"))
OPTION_KEYS = {key: d for c, d in OPTION_DIGITS.items()  # Textual's key: the character's name, or (ª º) itself
               for key in (c, unicodedata.name(c).lower().replace(" ", "_").replace("-", "_"))}


class DialInput(Input):
    """The number field. ``?`` is no dial character: it opens the help here
    too (the app's binding), while digits and URI letters type."""

    def check_consume_key(self, key: str, character: str | None) -> bool:
        return character != "?" and key not in OPTION_KEYS and super().check_consume_key(key, character)

    async def _on_key(self, event) -> None:
        if event.character == "?":
            event.prevent_default()  # not typed; the key goes on to the app's binding
        elif event.key in OPTION_KEYS:  # Escape typed just before the digit
            event.prevent_default()
            event.stop()
            await self.app.run_action("focus_calls")
            self.app.simulate_key(OPTION_KEYS[event.key])


class Keypad(Widget):
    """The twelve keys and Call / ⌫, drawn by one widget: as fourteen Buttons
    they were a third of the first frame's widgets and ~30 ms of a 0.4 s
    start (issue 17). A click types its key; the key under the mouse is lit,
    a pressed one flashes."""

    COMPONENT_CLASSES = {"keypad--key", "keypad--call", "keypad--hover", "keypad--pressed"}
    ROWS = ("123", "456", "789", "*0#")
    ACTIONS = (("call", "Call"), ("backspace", "⌫"))
    ACTIONS_Y = 9  # the keys on rows 0, 2, 4 and 6; a blank line more before the actions

    class Pressed(Message):
        def __init__(self, key: str) -> None:
            super().__init__()
            self.key = key  # a dial character, "call" or "backspace"

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._hover: str | None = None
        self._pressed: str | None = None

    def spans(self, y: int) -> list[tuple[int, int, str, str]]:
        """(x from, x to, key, label) of the keys drawn on line ``y``."""
        width = self.size.width
        if y == self.ACTIONS_Y:
            w = (width - 1) // 2
            return [(i * (w + 1), i * (w + 1) + w, key, label) for i, (key, label) in enumerate(self.ACTIONS)]
        if y % 2 or y // 2 >= len(self.ROWS):
            return []
        w = (width - 2) // 3
        return [(i * (w + 1), i * (w + 1) + w, key, key) for i, key in enumerate(self.ROWS[y // 2])]

    def key_at(self, x: int, y: int) -> str | None:
        return next((key for x0, x1, key, _ in self.spans(y) if x0 <= x < x1), None)

    def offset_of(self, key: str) -> tuple[int, int]:
        """The middle of ``key`` (for a click)."""
        for y in range(self.ACTIONS_Y + 1):
            for x0, x1, k, _ in self.spans(y):
                if k == key:
                    return (x0 + x1) // 2, y
        raise KeyError(key)

    def render_line(self, y: int) -> Strip:
        width, base = self.size.width, self.rich_style
        segments, x = [], 0
        for x0, x1, key, label in self.spans(y):
            style = self.get_component_rich_style("keypad--call" if key == "call" else "keypad--key")
            if key == self._pressed:
                style += self.get_component_rich_style("keypad--pressed")
            elif key == self._hover:
                style += self.get_component_rich_style("keypad--hover")
            segments += [Segment(" " * (x0 - x), base), Segment(label.center(x1 - x0), style)]
            x = x1
        segments.append(Segment(" " * max(0, width - x), base))
        return Strip(segments, width)

    def _light(self, key: str | None) -> None:
        if key != self._hover:
            self._hover = key
            self.refresh()

    def on_mouse_move(self, event: events.MouseMove) -> None:
        self._light(self.key_at(event.x, event.y))

    def on_leave(self) -> None:
        self._light(None)

    def on_click(self, event: events.Click) -> None:
        key = self.key_at(event.x, event.y)
        if key is None:
            return
        self._pressed = key
        self.refresh()
        self.set_timer(0.15, self._release)
        self.post_message(self.Pressed(key))

    def _release(self) -> None:
        self._pressed = None
        self.refresh()


class DialPad(Vertical):
    """Type a number or SIP URI, Enter dials; the keypad keys type too."""

    BORDER_TITLE = "Dialpad"
    HELP_WHERE = "dialpad"
    HELP_KEYS = (("0-9 * # + letters", "type a number, a SIP URI or a contact's name"),
                 ("Enter", "dial; a name calls the contact (asks which number when there are several), "
                           "a word that matches none dials sip:word@<your account's domain>"))

    def compose(self) -> ComposeResult:
        yield DialInput(placeholder="number, URI or name", id="number")
        yield Keypad(id="keys")

    @property
    def input(self) -> Input:
        return self.query_one("#number", DialInput)

    def prefill(self, text: str) -> None:
        self.input.value = text
        self.input.cursor_position = len(text)
        self.input.focus()

    @on(Keypad.Pressed)
    def _key(self, event: Keypad.Pressed) -> None:
        if event.key == "call":
            self._dial()
        elif event.key == "backspace":
            self.input.action_delete_left()
        else:
            self.input.insert_text_at_cursor(event.key)

    @on(Input.Submitted, "#number")
    def _dial(self) -> None:
        text = self.input.value.strip()
        if text:
            self.post_message(CallRequested(text))


def fit_columns(natural: dict[str, int], room: int, minimum: dict[str, int]) -> dict[str, int] | None:
    """Column widths that fit ``room`` cells: the widest of the ``minimum``
    columns gives way first, down to its minimum; None when even that is too wide."""
    widths = dict(natural)
    for _ in range(sum(widths.values()) - room):
        col = max((c for c in minimum if widths.get(c, 0) > minimum[c]), key=widths.__getitem__, default=None)
        if col is None:
            return None
        widths[col] -= 1
    return widths


class FittedTable(DataTable):
    """A row table whose columns fit its width, so nothing scrolls sideways:
    the widest of the ``give_way`` columns narrows first (its cells end in …),
    and when even that is too wide the next, smaller layout is used.

    ``layouts``: column keys, best first; ``labels``: a header other than the
    key; ``give_way``: how narrow a column may get; ``least``: the least width
    of a column whose cells grow (a call's timer); ``covers``: a column of a
    smaller layout that carries the text of columns it replaces (``who``:
    name or number). A subclass may set them as the class attributes below
    instead."""

    LAYOUTS: tuple[tuple[str, ...], ...] = ()
    LABELS: dict[str, str] = {}
    GIVE_WAY: dict[str, int] = {}
    LEAST: dict[str, int] = {}
    COVERS: dict[str, tuple[str, ...]] = {}

    def __init__(self, layouts: tuple[tuple[str, ...], ...] = (), labels: dict[str, str] | None = None,
                 give_way: dict[str, int] | None = None, least: dict[str, int] | None = None,
                 covers: dict[str, tuple[str, ...]] | None = None, **kwargs):
        super().__init__(cursor_type="row", **kwargs)
        self.layouts = layouts or self.LAYOUTS
        self.labels = self.LABELS if labels is None else labels
        self.give_way = self.GIVE_WAY if give_way is None else give_way
        self.least = self.LEAST if least is None else least
        self.covers = self.COVERS if covers is None else covers
        self._cells: list[tuple[str, dict[str, Text]]] = []
        self._widths: dict[str, int] = {}

    def on_mount(self) -> None:
        self.fill([])

    def on_resize(self) -> None:
        self.fill(self._cells)

    def fill(self, rows: list[tuple[str, dict]], keep_cursor: bool = True) -> None:
        """Show ``rows``: (row key, {column key: str or Text}); the cursor stays
        on the same row when it is still there (else, or without
        ``keep_cursor``, it goes to the top)."""
        keep = self.selected_key() if keep_cursor else None
        rows = [(key, {col: self._cell(v) for col, v in cells.items()}) for key, cells in rows]
        widths = self._layout([cells for _, cells in rows])
        old = self._cells
        if widths == self._widths and [k for k, _ in rows[:len(old)]] == [k for k, _ in old[:len(rows)]]:
            self._patch(old, rows)  # the same rows in the same order: only what changed
        else:
            if widths != self._widths:
                self._widths = widths
                self.clear(columns=True)
                for col, width in widths.items():
                    self.add_column(self.labels.get(col, col), key=col, width=width)
            else:
                self.clear()
            for key, cells in rows:
                self.add_row(*(cells.get(col, "") for col in widths), key=key)
        self._cells = rows
        if keep is not None and any(key == keep for key, _ in rows):
            self.move_cursor(row=self.get_row_index(keep))
        elif not keep_cursor and rows:
            self.move_cursor(row=0)

    def _patch(self, old: list[tuple[str, dict]], rows: list[tuple[str, dict]]) -> None:
        """Update the changed cells of the rows both lists have, drop or add the rest."""
        def look(cell) -> tuple:  # Text's == ignores its base style (a call's state colour)
            return (cell.plain, str(cell.style), cell.spans) if isinstance(cell, Text) else (cell,)

        for (key, cells), (_, was) in zip(rows, old):
            for col in self._widths:
                if look(cells.get(col, "")) != look(was.get(col, "")):
                    self.update_cell(key, col, cells.get(col, ""))
        for key, _ in old[len(rows):]:
            self.remove_row(key)
        for key, cells in rows[len(old):]:
            self.add_row(*(cells.get(col, "") for col in self._widths), key=key)

    @staticmethod
    def _cell(value) -> Text:
        """A cell that ends in … when its column is narrower than the text."""
        text = value.copy() if isinstance(value, Text) else Text(str(value))
        text.no_wrap, text.overflow = True, "ellipsis"
        return text

    def _layout(self, rows: list[dict[str, Text]]) -> dict[str, int]:
        """The columns to show and their widths, from the content and the room
        there is, every time: the first layout that shows every cell in full,
        else the one that hides the fewest characters: those cut off its cells
        plus those of the columns it leaves out and does not cover. (A call's
        number cut to 5 characters next to an empty name column was the full
        layout squeezed, where the compact one had room.)"""
        room = self.size.width
        if len(rows) + 1 > self.size.height:
            room -= self.styles.scrollbar_size_vertical
        best, best_cut = None, None
        for cols in self.layouts:
            natural = {col: max([cell_len(self.labels.get(col, col)), self.least.get(col, 0),
                                 *(r[col].cell_len for r in rows if col in r)]) for col in cols}
            if not self.size.width:  # not laid out yet: on_resize lays it out again
                return natural
            widths = fit_columns(natural, room - 2 * self.cell_padding * len(cols), self.give_way)
            if widths is None:
                continue
            shown = {*cols, *(c for col in cols for c in self.covers.get(col, ()))}
            left_out = [col for col in self.layouts[0] if col not in shown]
            cut = sum(max(0, r[col].cell_len - widths[col]) for r in rows for col in cols if col in r) \
                + sum(r[col].cell_len for r in rows for col in left_out if col in r)
            if best_cut is None or cut < best_cut:
                best, best_cut = widths, cut
            if not cut:
                break
        return best if best is not None else natural  # too narrow even for the smallest layout: it scrolls

    def selected_key(self) -> str | None:
        if not self.row_count:
            return None
        try:
            return self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        except Exception:  # noqa: BLE001 - no valid cursor
            return None

    def column_width(self, col: str) -> int:
        return self._widths.get(col, 0)


class CallList(StateView, FittedTable):
    """Live calls, then recently ended ones (dimmed, with the SIP reason).

    Nothing scrolls sideways: long numbers, names and reasons end in …, and
    where the full columns do not fit (80×24) number and name share one
    column and a failed call's reason replaces its state."""

    BORDER_TITLE = "Calls"
    HELP_WHERE = "call list"
    HELP_KEYS = (("0-9 * #", "send DTMF to the connected call"),)
    BINDINGS = [
        Binding("a", "app.answer", "Answer", tooltip="answer the ringing (or selected) call"),
        Binding("h", "app.hangup", "Hang up", tooltip="hang up the selected / current call"),
        Binding("r", "app.reject", "Reject", tooltip="reject the ringing call (486 Busy Here)"),
        Binding("o", "app.hold", "Hold", tooltip="hold / retrieve the selected call"),
        Binding("t", "app.transfer", "Transfer", tooltip="blind-transfer the selected call"),
        Binding("c", "app.conference", "Conference", tooltip="conference all calls"),
        Binding("m", "app.mute", "Mute",
                tooltip="mute / unmute the microphone (shown in the status line and the call)"),
        Binding("R", "app.record", "Record", show=False,
                tooltip="record the selected call / stop (● REC; both sides to a WAV file)"),
        Binding("T", "app.attended", "Attended transfer", show=False,
                tooltip="attended transfer: the held caller to the consultation call"),
        Binding("p", "app.split", "Split", show=False, tooltip="split the conference, keeping the selected call"),
    ]
    LAYOUTS = (("#", "dir", "number", "name", "state", "time", "reason"),
               ("#", "dir", "who", "outcome", "time"))  # outcome: the state, or a failed call's reason
    LABELS = {"outcome": "state"}
    COVERS = {"who": ("number", "name"), "outcome": ("state", "reason")}
    GIVE_WAY = {"number": 6, "name": 6, "reason": 8, "who": 8, "outcome": 12}
    LEAST = {"time": 5}  # "59:59"; a longer call widens the column on the next tick

    def on_key(self, event) -> None:
        """Digits typed on the call list go to the connected call as DTMF."""
        if event.character and event.character in "0123456789*#":
            event.stop()
            self.post_message(DtmfTyped(event.character))

    def on_mount(self) -> None:
        self._rows: list[Call] = []
        self._select: int | None = None  # a call to put the cursor on once its row is drawn
        self._ticker = self.set_interval(1, self._tick, pause=True)  # runs only while a call is connected

    def slice_of(self, state: State) -> tuple:
        return state.calls, state.ended

    def show(self, state: State) -> None:
        self._rows = [*state.calls, *reversed(state.ended)]
        now = time.time()
        self.fill([(str(c.id), self._row(c, now)) for c in self._rows])
        if self._select is not None:
            self.select(self._select)
        if any(c.live and c.connected_at is not None for c in state.calls):
            self._ticker.resume()
        else:
            self._ticker.pause()

    def select(self, call_id: int) -> None:
        """Put the cursor on this call's row (now, or when the row is drawn)."""
        self._select = call_id
        if any(c.id == call_id for c in self._rows):
            self._select = None
            self.move_cursor(row=self.get_row_index(str(call_id)))

    def _row(self, c: Call, now: float) -> dict[str, Text]:
        """Every column's cell, for both layouts."""
        failed = f"{c.code} {c.reason}" if c.code >= 300 else ""
        state = Text(c.state.value + (" ⊕" if c.conference else ""), style=state_style(self, c.state))
        who = shown(c.who)  # the detail box has the scheme
        return {
            "#": str(c.id), "dir": "in" if c.dir == "i" else "out",
            "number": Text(who), "name": Text(c.dn), "who": Text(c.dn or who),
            "state": state, "outcome": Text(failed, style=state.style) if failed else state,
            "time": duration(c, now), "reason": Text(failed),
        }

    def _tick(self) -> None:
        now = time.time()
        for c in self._rows:
            if c.live and c.connected_at is not None:
                text = duration(c, now)
                if len(text) > self.column_width("time"):
                    self.fill([(str(r.id), self._row(r, now)) for r in self._rows])
                    return
                self.update_cell(str(c.id), "time", self._cell(text))

    def selected_id(self) -> int | None:
        key = self.selected_key()
        return int(key) if key is not None else None


METER_STEPS = 5
METER_FLOOR_DB = -60.0  # quieter than this shows no bar; 0 dBFS shows them all


def meter_steps(level: float) -> int:
    """How many of the meter's bars an RMS level (0..1) lights, on a dB scale:
    speech sits in the middle, not at the first bar."""
    if level <= 0:
        return 0
    db = 20 * math.log10(min(level, 1.0))
    return max(0, min(METER_STEPS, round((db - METER_FLOOR_DB) / -METER_FLOOR_DB * METER_STEPS)))


def meter(steps: int) -> str:
    """``███░░``: block characters every terminal font has."""
    return "█" * steps + "░" * (METER_STEPS - steps)


class CallDetail(Static):
    """The selected call in full: caller ID override, CRM tags, and context
    an app attached with CallInfo (sanitized text, link). On a connected call
    a line with the microphone and speaker meters and the mute state."""

    levels: reactive[tuple[int, int] | None] = reactive(None)  # lit bars (mic, speaker); None: no meter
    muted: reactive[bool] = reactive(False)

    call: Call | None = None

    def show(self, call: Call | None) -> None:
        self.call = call
        self.display = call is not None
        if call is not None:
            self.update(self._text(call))

    def watch_levels(self) -> None:
        self.show(self.call)

    def watch_muted(self) -> None:
        self.show(self.call)

    def _text(self, call: Call) -> Text:
        text = Text()
        text.append(f"call {call.id} ", style="bold")
        text.append(f"{'from' if call.dir == 'i' else 'to'} {call.dn + ' ' if call.dn else ''}<{call.sip}>")
        text.append(f"  {call.state.value}", style=state_style(self, call.state))
        if call.recording:
            text.append("  ● REC", style="bold red")
        if call.code >= 300:
            text.append(f"  {call.code} {call.reason}")
        if call.dtmf:
            text.append("\nDTMF sent: ")
            text.append(call.dtmf, style="bold")
        if call.redirected_to:
            text.append(f"\nredirected to {call.redirected_to}", style="italic")
        if call.reason_remote:
            text.append(f"\nthe far end says: {call.reason_remote}", style="italic")
        if call.state is CallState.CONNECTED and (self.levels is not None or self.muted):
            text.append("\n")
            mic, spk = self.levels or (0, 0)
            text.append("mic ")
            text.append("muted" if self.muted else meter(mic), style="bold yellow" if self.muted else "")
            if self.levels is not None:
                text.append(f"  spk {meter(spk)}")
        tags = [f"{k} {v}" for k, v in (("caller ID", call.callerid), ("cat", call.cat),
                                          ("bind", call.bind)) if v]
        if tags:
            text.append("\n" + " · ".join(tags), style="italic")
        if call.info:
            text.append("\n" + call.info)
        if call.info_link:
            text.append("\n")
            text.append(call.info_link, style=Style(underline=True, link=call.info_link))
        return text


class PhoneFooter(Widget, can_focus=False):
    """The focused pane's keys, one line drawn by one widget; the palette,
    help and quit are pinned to its right end, so they show at any width and
    wherever the focus is (the pane's keys give way on the left). A click on
    a key presses it; the key under the mouse is lit and says its tooltip.

    Textual's Footer is a widget per key, built again at every focus change:
    ~25 ms each time, and right after the first frame, while the engine
    starts (issue 17)."""

    PINNED = ("command_palette", "help", "quit")
    COMPONENT_CLASSES = {"phone-footer--key", "phone-footer--description", "phone-footer--hover",
                         "phone-footer--separator"}
    DEFAULT_CSS = """
    PhoneFooter {
        dock: bottom;
        height: 1;
        color: $footer-foreground;
        background: $footer-background;
        & > .phone-footer--key { color: $footer-key-foreground; background: $footer-key-background; text-style: bold; }
        & > .phone-footer--description { color: $footer-description-foreground; background: $footer-description-background; }
        & > .phone-footer--hover { background: $block-hover-background; }
        & > .phone-footer--separator { color: $foreground 20%; }
    }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._keys: list[tuple[str, str, str, bool, str]] = []  # (key, shown, description, enabled, tooltip)
        self._spans: list[tuple[int, int, int]] = []  # (x from, x to, index in _keys) as last drawn
        self._hover: int | None = None
        self._pinned = 0

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)
        self._bindings_changed(self.screen)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, screen) -> None:
        """The keys of the focused widget and its ancestors, one per action, pinned ones last."""
        seen: dict[str, tuple[str, str, str, bool, str]] = {}
        active = screen.active_bindings
        palette = active.get(self.app.COMMAND_PALETTE_BINDING) if self.app.ENABLE_COMMAND_PALETTE else None
        for _, binding, enabled, tooltip in active.values():
            action = binding.action.removeprefix("app.")
            if (binding.show or (palette and binding is palette[1])) and action not in seen:
                seen[action] = (binding.key, self.app.get_key_display(binding), binding.description, enabled,
                                tooltip or binding.tooltip or binding.description)
        pinned = [seen.pop(a) for a in self.PINNED if a in seen]
        keys = [*seen.values(), *pinned]
        self._pinned = len(pinned)
        if keys != self._keys:
            self._keys, self._hover = keys, None
            self.refresh()

    def render_line(self, y: int) -> Strip:
        width, base = self.size.width, self.rich_style
        key_style = self.get_component_rich_style("phone-footer--key")
        text_style = self.get_component_rich_style("phone-footer--description")
        hover = self.get_component_rich_style("phone-footer--hover")

        def cells(i: int) -> list[Segment]:
            _, shown, description, enabled, _ = self._keys[i]
            extra = (hover if i == self._hover else Style()) + (Style(dim=True) if not enabled else Style())
            return [Segment(f" {shown} ", key_style + extra), Segment(f"{description} ", text_style + extra)]

        def lay(indices, room: int) -> tuple[list[Segment], list[tuple[int, int, int]], int]:
            """The keys of ``indices`` that fit ``room`` cells: segments, spans, width."""
            segments, spans, x = [], [], 0
            for i in indices:
                part = cells(i)
                n = sum(seg.cell_length for seg in part)
                if x + n > room:
                    break
                spans.append((x, x + n, i))
                segments += part
                x += n
            return segments, spans, x

        split = len(self._keys) - self._pinned
        right, right_spans, pinned_width = lay(range(split, len(self._keys)), 1 << 30)  # always all of them
        start = width - 1 - pinned_width  # the separator, then the pinned keys
        left, spans, x = lay(range(split), max(0, start))
        self._spans = spans + [(start + 1 + a, start + 1 + b, i) for a, b, i in right_spans]
        separator = Segment("▏", self.get_component_rich_style("phone-footer--separator"))
        line = [*left, Segment(" " * max(0, start - x), base), separator, *right]
        return Strip(line, width).crop(0, width)

    def _key_at(self, x: int) -> int | None:
        return next((i for a, b, i in self._spans if a <= x < b), None)

    def on_mouse_move(self, event: events.MouseMove) -> None:
        i = self._key_at(event.x)
        if i != self._hover:
            self._hover = i
            self.tooltip = self._keys[i][4] if i is not None else None
            self.refresh()

    def on_leave(self) -> None:
        if self._hover is not None:
            self._hover = None
            self.tooltip = None
            self.refresh()

    def on_mouse_down(self, event: events.MouseDown) -> None:
        i = self._key_at(event.x)
        if i is None:
            return
        key, _, _, enabled, _ = self._keys[i]
        if enabled:
            self.app.simulate_key(key)
        else:
            self.app.bell()

    def text(self) -> str:
        """The line as drawn (tests)."""
        return "".join(seg.text for seg in self.render_line(0))


class LogPane(RichLog):
    """Errors and SIP events, newest last (toggle with Ctrl+L)."""

    BORDER_TITLE = "Log"

    def add(self, level: str, text: str) -> None:
        self.add_lines([(time.time(), level, text)])

    def add_lines(self, lines: list[tuple[float, str, str]]) -> None:
        """Append (time, level, text) lines: one scroll and one refresh for all of them."""
        for i, (at, level, text) in enumerate(lines, 1 - len(lines)):
            style = {"error": "bold red", "warning": "yellow"}.get(level, "")
            self.write(Text(time.strftime("%H:%M:%S ", time.localtime(at)) + text, style=style),
                       scroll_end=None if i == 0 else False)  # auto-scroll once, after the last
