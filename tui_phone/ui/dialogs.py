"""Modal dialogs: confirmations and the message compose box."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, Label

from ..control.records import same_peer  # one rule for the Compose thread and GetMessages
from ..uri import who


class Confirm(ModalScreen[bool]):
    """A yes/no question; Enter or `y` confirms, Escape or `n` cancels."""

    BINDINGS = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]

    def __init__(self, question: str, detail: str = "", yes: str = "Yes", no: str = "Cancel"):
        super().__init__()
        self.question, self.detail, self.yes, self.no = question, detail, yes, no

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.question, classes="question", markup=False)
            if self.detail:
                yield Label(self.detail, classes="detail", markup=False)
            with Horizontal(classes="buttons"):
                yield Button(self.yes, id="yes", variant="primary")
                yield Button(self.no, id="no")

    def on_mount(self) -> None:
        self.query_one("#yes", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, value: bool) -> None:
        self.dismiss(value)




class Compose(ModalScreen[None]):
    """A conversation (SIP MESSAGE): the thread with this peer and a line to
    send. Opening it marks the peer's messages read."""

    BINDINGS = [Binding("escape", "dismiss", "Close")]

    def __init__(self, target: str):
        super().__init__()
        self.target = target

    def compose(self) -> ComposeResult:
        from textual.widgets import Input, RichLog

        with Vertical(classes="dialog compose"):
            yield Label(f"Messages with {self.target}", classes="question", markup=False)
            yield RichLog(id="thread", wrap=True, markup=False)
            yield Input(placeholder="type a message, Enter sends", id="message")

    def on_mount(self) -> None:
        self._shown = 0
        self.show(self.app.state)
        self.query_one("#message").focus()

    def show(self, state) -> None:
        from rich.text import Text

        thread = [m for m in state.messages if same_peer(m.peer, self.target)]
        log = self.query_one("#thread")
        if len(thread) < self._shown:
            log.clear()
            self._shown = 0
        for m in thread[self._shown:]:
            name = "me" if m.dir == "o" else who(m.peer)
            line = Text(f"{name}: ", style="bold" if m.dir == "i" else "dim")
            line.append(m.text)
            if m.dir == "o" and m.status.startswith("failed"):
                line.append(f"  ({m.status})", style="red")
            log.write(line)
        self._shown = len(thread)
        if any(same_peer(peer, self.target) for peer, _ in state.unread):
            from .intents import MessagesOpened

            self.post_message(MessagesOpened(self.target))

    def on_input_submitted(self, event) -> None:
        from .intents import MessageWritten

        text = event.value.strip()
        if text:
            field = event.input

            def sent(ok: bool) -> None:
                if ok and field.value.strip() == text:
                    field.value = ""

            self.post_message(MessageWritten(self.target, text, sent))


class Prompt(ModalScreen[str | None]):
    """Ask for one line of text (a transfer target, DTMF digits)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, question: str, placeholder: str = ""):
        super().__init__()
        self.question, self.placeholder = question, placeholder

    def compose(self) -> ComposeResult:
        from textual.widgets import Input

        with Vertical(classes="dialog"):
            yield Label(self.question, classes="question")
            yield Input(placeholder=self.placeholder, id="answer")

    def on_input_submitted(self, event) -> None:
        self.dismiss(event.value.strip() or None)

    def action_cancel(self) -> None:
        self.dismiss(None)


class KeyTable(DataTable):
    """The key list: “key” and “where” as wide as they need (up to a cap),
    “does” takes the rest and wraps, so nothing is cut at 80 columns."""

    CAPS = (18, 14)  # the widest “key” and “where” columns; longer entries wrap

    def on_mount(self) -> None:
        self.zebra_stripes = True
        self.show_cursor = False
        self._width = 0

    def on_resize(self) -> None:
        rows = self.app.key_table()
        room = self.size.width - self.styles.scrollbar_size_vertical - 2 * self.cell_padding * 3
        if room == self._width:
            return
        self._width = room
        widths = [min(cap, max(len(row[i]) for row in rows)) for i, cap in enumerate(self.CAPS)]
        widths.append(max(16, room - sum(widths)))
        self.clear(columns=True)
        for label, width in zip(("key", "where", "does"), widths):
            self.add_column(label, width=width)
        for row in rows:
            self.add_row(*row, height=None)  # plain words, no markup: they wrap


class Help(ModalScreen[None]):
    """Every key, by where it works (``?``)."""

    BINDINGS = [Binding("escape,question_mark,q", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog help"):
            yield Label("Keys", classes="question")
            yield KeyTable()
            yield Label("Ctrl+P opens the command palette: every action, and “Call …” for what you type.",
                        classes="detail")

    def on_mount(self) -> None:
        self.query_one(KeyTable).focus()
