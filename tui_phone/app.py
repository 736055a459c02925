"""The Textual app: composes the panes, keeps the newest State, draws it once
a frame (``ui.render``) and turns the widgets' intent messages (``ui.intents``)
into Commands for the Phone: the call keys are ``ui.call_actions``, the
contacts, history and messages keys ``ui.directory_actions``. What only a
person can do (``phone.Ui``) is ``ui.person.ScreenUi``; the call toasts are
``ui.toasts``. ``make_app`` is used by the CLI and by the tests."""

from __future__ import annotations

import asyncio
import contextvars
import signal
import time

from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.css.query import NoMatches
from textual.containers import Horizontal
from textual.widgets import Input, TabbedContent, TabPane

from . import debuglog
from .commands import Result, SetStatus, Source
from .config import Config
from .control.server import AlreadyRunning
from .masking import mask
from .headless import describe, level_of
from .phone import Phone
from .services import Services
from .events import CallAdded, CallState, ContactsChanged, Event, HistoryAdded, Log
from .store import State
from .ui.audio import AudioDevices, find_devices
from .ui.call_actions import CallActions
from .ui.commands import PhoneCommands
from .ui.contacts import ContactsPane, TeamPane
from .ui.dialogs import Compose, Help
from .ui.directory import Directory
from .ui.directory_actions import DB_WATCH, DirectoryActions
from .ui.history import HistoryPane, MessagesPane
from .ui.panes import CallDetail, CallList, DialPad, LogPane, PhoneFooter, StatusBar, meter_steps
from .ui.person import ScreenUi
from .ui.render import Frames
from .ui.themes import load_themes
from .ui.toasts import CallToasts


# the tabs the first frame does not show: (title, tab id, (pane, pane id)); their panes mount
# right after it (issue 17: Textual styling 4 more panes cost ~35 ms before the first paint)
LATER = (("Contacts", "contacts-tab", (ContactsPane, "contacts")), ("Team", "team-tab", (TeamPane, "team")),
         ("History", "history-tab", (HistoryPane, "history")), ("Messages", "messages-tab", (MessagesPane, "messages")))
PANES_AFTER_S = 0.5  # the hidden tabs' panes mount when the engine runs, at the latest this long after the first frame
QUIT_LIMIT = 3.0  # seconds quitting may take with calls to hang up and accounts to unregister


class TuiPhoneApp(CallActions, DirectoryActions, App):
    CSS_PATH = "ui/app.tcss"
    TITLE = "tui-phone"
    COMMANDS = App.COMMANDS | {PhoneCommands}
    BINDINGS = [
        # help and quit work wherever the focus is, the dialpad included (it types
        # digits and URI letters; ? is no dial character, Ctrl+C is no copy there)
        Binding("f1", "help", "Help", key_display="F1", priority=True,
                tooltip="this help (? types in the search and message fields)"),
        Binding("question_mark", "help", "Help", show=False,
                tooltip="this help (? types in the search and message fields)"),
        Binding("ctrl+q", "quit", "Quit", key_display="^q", priority=True, tooltip="quit (live calls get a BYE)"),
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True, tooltip="quit (live calls get a BYE)"),
        Binding("q", "quit", "Quit", show=False, tooltip="quit (live calls get a BYE)"),
        Binding("ctrl+l", "toggle_log", "Log", tooltip="show or hide the log pane"),
        Binding("escape", "focus_calls", "Calls", show=False, tooltip="leave the dialpad, focus the call list"),
        Binding("d", "focus_dialpad", "Dial", tooltip="back to the dialpad"),
        Binding("f2", "focus_calls", "Calls", tooltip="the call list"),
        Binding("f3", "contacts", "Contacts", tooltip="contacts (the list; / searches)"),
        Binding("f4", "team", "Team", tooltip="the team and their status"),
        Binding("f5", "history", "History", tooltip="call history (clears the missed count)"),
        Binding("f6", "messages", "Messages", tooltip="conversations"),
        Binding("s", "toggle_status", "Status", tooltip="toggle your status: available ↔ unavailable"),
        Binding("D", "audio_devices", "Audio", tooltip="audio devices: pick the microphone and speaker"),
        Binding("v", "voicemail", "Voicemail", show=False,
                tooltip="call your voicemail (✉ N in the status line: new messages)"),
    ]
    HELP_KEYS = (("Ctrl+P", "command palette: every action, “Call …” a number or a contact's name, "
                            "import contacts, switch theme"),)

    def __init__(self, config: Config, phone: Phone | None = None, debug: bool = False,
                 open_url: str | None = None, theme: str | None = None):
        super().__init__()
        self.config = config
        self.open_url = open_url  # a link that started us (desktop handler): opened once ready
        sip_log, self.debug_log, debug_problem = debuglog.start(config) if debug else (None, None, "")
        self.phone = phone or Phone(config, log_path=sip_log)
        self.phone.ui = ScreenUi(self)
        self.state: State = self.phone.state  # the newest; the panes show it once a frame
        self.directory = Directory(self.phone)  # contacts and history, for the panes
        self.toasts = CallToasts(self)
        self._frames: Frames | None = None
        self._log_lines: list[tuple[float, str, str]] = []  # log lines the next frame appends
        # attached to a phone another process runs (control.remote): no engine, socket or HTTP here
        self.attached = getattr(self.phone, "attached", False)
        self.services = None if self.attached else Services(self.phone)
        self.server = self.services.control if self.services else None
        self.ready = asyncio.Event()  # set once the engine runs (tests wait on it)
        self._sync_now = asyncio.Event()  # the palette's "Sync contacts"
        self._stopping = False
        self._panes_mounted = asyncio.Event()  # the hidden tabs' panes, mounted after the first frame
        self._panes_mounting = False
        self._phone_stopping: asyncio.Future | None = None
        self._unsubscribe = None
        self._meter = None  # the level meter's timer, running only while a call talks through a device
        self._metering = False
        themes, self._start_problems = load_themes()
        if debug_problem:
            self._start_problems.append(debug_problem)
        for t in themes:
            self.register_theme(t)
        wanted = theme or config.ui["theme"]
        if wanted not in self.available_themes:
            self._start_problems.append(f"theme {wanted!r} cannot be used (not found, or its file was "
                                        "skipped); using tui-phone")
            wanted = "tui-phone"
        self._start_theme(wanted)
        self._saved_theme = config.ui["theme"]

    def _start_theme(self, name: str) -> None:
        """Start on ``name`` as if it were Textual's default theme. Assigning
        ``self.theme`` runs its watcher on the first turn of the loop: a
        re-parse of every stylesheet and a restyle of every widget just
        before the first frame (~20 ms of a 0.4 s start), though the first
        parse already reads this theme's variables. Later changes (the theme
        picker) assign ``self.theme`` as usual."""
        self.set_reactive(TuiPhoneApp.theme, name)
        self.stylesheet.set_variables(self.get_css_variables())  # nothing is parsed yet: no cost
        dark = self.current_theme.dark
        self.set_class(dark, "-dark-mode", update=False)
        self.set_class(not dark, "-light-mode", update=False)
        self.set_class(True, f"-theme-{name}", update=False)
        self._refresh_truecolor_filter(self.ansi_theme)

    @classmethod
    def key_table(cls) -> list[tuple[str, str, str]]:
        """Every key, for the help screen and the README: from the bindings."""
        from .ui.keys import help_rows

        return help_rows((DialPad, CallList, ContactsPane, TeamPane, HistoryPane, MessagesPane, cls))

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status")
        with Horizontal(id="main"):
            yield DialPad(id="dialpad")
            with TabbedContent(id="tabs", initial="calls-tab"):
                with TabPane("Calls", id="calls-tab"):
                    yield CallList(id="calls")
                    yield CallDetail(id="detail")
                for title, tab, _ in LATER:  # their panes: right after the first frame
                    yield TabPane(title, id=tab)
        yield LogPane(id="log", max_lines=500, markup=False, wrap=True)
        yield PhoneFooter()

    async def on_ready(self) -> None:
        """The first frame is on the screen (Textual's Ready): the engine may
        start. The panes the first frame does not show mount once it runs
        (``_start_engine``), at the latest PANES_AFTER_S from now: styling
        them takes ~35 ms of the loop and the GIL, which the engine's start
        and the first "registered" need more (issue 17)."""
        if not self._painted.done():
            self._painted.set_result(None)
        self.set_timer(PANES_AFTER_S, self._mount_panes)

    async def _mount_panes(self) -> None:
        if self._panes_mounting:
            return await self._panes_mounted.wait()
        self._panes_mounting = True
        try:
            await asyncio.gather(*(self.query_one(f"#{tab}", TabPane).mount(pane(id=name))
                                   for _, tab, (pane, name) in LATER))
        except NoMatches:  # the app closed before the engine ran
            return
        self._panes_mounted.set()
        self._draw()

    async def on_mount(self) -> None:
        self._painted = asyncio.get_running_loop().create_future()  # on_ready: the engine may start
        self._meter = self.set_interval(1 / 8, self._show_levels, pause=True)
        self._db_version: int | None = None
        self._db_stamp: list | None = None
        if not self.attached:  # attached: the phone's process owns the database and says when it changes
            self.set_interval(DB_WATCH, self._watch_database)
        self._bar = self.query_one(StatusBar)
        self._bar.attached = self.attached
        # changes arrive from the engine thread's callbacks, outside Textual's context: draw in the app's
        loop, context = asyncio.get_running_loop(), contextvars.copy_context()
        self._frames = Frames(lambda delay, fn: loop.call_later(delay, fn, context=context), self._draw)
        self.state = self.phone.state
        self._draw()
        for problem in self._start_problems:
            self.log_line("warning", problem)
            if problem.startswith("theme"):
                self.notify(problem, title="Theme", severity="warning", timeout=10)
        try:
            if self.services:
                await self.services.start()
        except (AlreadyRunning, OSError) as e:
            self.exit(return_code=1, message=f"tui-phone: {e}")
            return
        self._unsubscribe = self.phone.subscribe(self._on_change)
        self.theme_changed_signal.subscribe(self, self._theme_changed)
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, self._sigterm)
        self.query_one(DialPad).input.focus()
        self._start_engine()
        if self.config.addressbooks and not self.attached:  # attached: the phone's side syncs
            self._keep_books_in_sync()

    @work(exclusive=True, group="engine")
    async def _start_engine(self) -> None:
        """The engine starts right after the first frame is on the screen (issue 17:
        nothing competes with the first paint); commands and links that come
        earlier wait for it (``Phone.start``). Then the contacts list is read."""
        started = False
        try:
            await self.phone.start(after=self._painted)
            started = True
        except RuntimeError as e:
            self.log_line("error", str(e))
            self.notify(str(e), severity="error", timeout=10)
        await self._mount_panes()  # whoever waits on ready finds every pane
        if started:
            self.ready.set()
        self.refresh_pane(ContactsPane)  # none when the app is already closing
        if self.open_url and self.ready.is_set():
            result = await self.phone.open_link(self.open_url, Source.LINK)
            if not result.ok:
                self.notify(result.error or "link failed", severity="error", timeout=10)

    def _theme_changed(self, theme) -> None:
        """A theme picked at runtime is kept in the config (tomlkit: comments stay)."""
        from .config import ConfigError, save_setting
        from .locations import config_file

        if theme.name == self._saved_theme:
            return
        path = self.config.path or config_file()
        try:
            save_setting(path, "ui", "theme", theme.name)
        except (ConfigError, OSError) as e:
            self.log_line("warning", f"theme not saved: {e}")
            return
        self._saved_theme = theme.name
        self.log_line("info", f"theme {theme.name} saved to {path}")

    def _sigterm(self) -> None:
        self.run_worker(self.action_quit(), exclusive=True, group="quit")

    def notify(self, message: str, *, title: str = "", severity="information", timeout=None,
               markup: bool = False) -> None:
        """Toasts carry caller names, messages and SIP reasons: never parse them as markup."""
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=markup)

    # ----- state --------------------------------------------------------------
    def _on_change(self, state: State, event: Event) -> None:
        """Every change: remember the newest state, log it, raise its toasts and
        mark the screen dirty. The panes draw later, once per frame (``_draw``)."""
        self.state = state
        self._frames.dirty()
        if self.attached and self.phone.running == self._bar.detached:  # the phone went away, or is back
            self._bar.detached = not self.phone.running
            self._bar.render_state(state, force=True)
        if isinstance(event, Log):
            self.log_line(event.level, event.text)
        elif line := describe(event):
            self.log_line(level_of(event), line)
        if isinstance(event, CallAdded):
            self._new_call(event)
        self.toasts.on_event(state, event)
        if isinstance(event, HistoryAdded) and self._tab() == "history-tab":
            self.refresh_pane(HistoryPane)
        if isinstance(event, ContactsChanged) and self._tab() == "contacts-tab":
            self.refresh_pane(ContactsPane)

    def _draw(self) -> None:
        """The latest state on screen: the new log lines appended, each pane
        from its own slice (a pane whose slice did not change does nothing)."""
        if not self.screen_stack or not self.query(StatusBar):
            return  # shutting down: the panes are gone
        state = self.state
        if self._log_lines:
            lines, self._log_lines = self._log_lines, []
            self.query_one(LogPane).add_lines(lines)
        for view in (self.query_one(StatusBar), self.query_one(CallList), *self.query(TeamPane),
                     *self.query(MessagesPane)):
            view.render_state(state)
        self._show_detail()
        self.query_one(CallDetail).muted = state.audio.muted
        talking = bool(state.audio.device) and any(c.state is CallState.CONNECTED for c in state.calls)
        if talking != self._metering and self._meter is not None:
            self._metering = talking
            if talking:
                self._meter.resume()
            else:
                self._meter.pause()
                self.query_one(CallDetail).levels = None
        if isinstance(self.screen, (Compose, AudioDevices)):
            self.screen.show(state)

    def _tab(self) -> str | None:
        return self.query_one("#tabs", TabbedContent).active

    def _show_levels(self) -> None:
        """The meter, 8 times a second during a call: the pane redraws only
        when a bar changes (nothing needless over a slow SSH link)."""
        levels = self.phone.audio_levels()
        self.query_one(CallDetail).levels = None if levels is None else tuple(map(meter_steps, levels))

    @on(CallList.RowHighlighted)
    def _show_detail(self) -> None:
        if not self.query(CallList):
            return
        cid = self.query_one(CallList).selected_id()
        calls = {c.id: c for c in (*self.state.ended, *self.state.calls)}
        self.query_one(CallDetail).show(calls.get(cid) if cid is not None else self.state.current())

    def log_line(self, level: str, text: str) -> None:
        """A line in the log pane (and, with --debug, in the app log file)."""
        text = mask(text, self.phone.secrets)
        if self.debug_log is not None:
            self.debug_log.write(level, text)
        self._log_lines.append((time.time(), level, text))  # appended on the next frame, with the others
        if self._frames is not None:
            self._frames.dirty()
        if level == "error" and self.query(LogPane):
            self.query_one(LogPane).display = True

    def _new_call(self, event: CallAdded) -> None:
        """A new call, in or out, takes the cursor (so the detail box and the
        keys act on it) unless the user is typing (its toast: ``CallToasts``)."""
        call = self.state.call(event.id)
        if call is None or self._typing():
            return
        self.query_one(CallList).select(call.id)  # once its row is drawn
        if call.dir == "i":
            self.show_tab("calls-tab")
            self.query_one(CallList).focus()

    def _typing(self) -> bool:
        """The user is typing in a text field: keep focus and cursors where they are."""
        return isinstance(self.focused, Input) and bool(self.focused.value)

    def show_tab(self, tab: str) -> None:
        self.query_one("#tabs", TabbedContent).active = tab

    # ----- commands -----------------------------------------------------------
    async def run_command(self, command) -> Result:
        result = await self.phone.execute(command)
        if not result.ok:
            self.notify(result.error or "failed", severity="error")
        return result

    def action_help(self) -> None:
        if isinstance(self.screen, Help):
            self.screen.dismiss()
        else:
            self.push_screen(Help())

    def action_toggle_log(self) -> None:
        log = self.query_one(LogPane)
        log.display = not log.display

    def action_focus_calls(self) -> None:
        self.show_tab("calls-tab")
        self.query_one(CallList).focus()

    async def action_toggle_status(self) -> None:
        await self.action_set_status("available" if self.state.status in ("unavailable", "dnd") else "unavailable")

    async def action_set_status(self, status: str) -> None:
        if (await self.run_command(SetStatus(status))).ok:
            self.notify(f"You are {status}")

    async def action_audio_devices(self) -> None:
        """Pick the microphone and speaker (PortAudio is asked off the UI thread)."""
        devices, problem = await asyncio.to_thread(find_devices)
        self.push_screen(AudioDevices(devices, problem))

    def action_open_log(self) -> None:
        log = self.query_one(LogPane)
        log.display = True
        log.focus()
        if self.debug_log is not None:
            self.notify(f"Debug log: {self.debug_log.path}", timeout=8)

    def action_focus_dialpad(self) -> None:
        self.query_one(DialPad).input.focus()

    async def action_quit(self) -> None:
        """Say what quitting does at once, then stop: BYE for live calls and
        un-REGISTER, bounded by QUIT_LIMIT seconds however the network behaves."""
        if self._stopping:
            return
        self._stopping = True
        live = 0 if self.attached else sum(c.live for c in self.state.calls)  # attached: calls stay up
        steps = [f"hanging up {live} call{'s' if live != 1 else ''}"] if live else []
        if any(a.registrar for a in self.config.accounts) and not self.attached:
            steps.append("unregistering")
        self.query_one(StatusBar).note = "quitting…" + (f" ({', '.join(steps)})" if steps else "")
        await self._shutdown_phone()
        self.exit()

    async def on_unmount(self) -> None:
        """However the app ends, the engine stops: BYE, un-REGISTER, no abort."""
        if self._frames is not None:
            self._frames.stop()
        if self._unsubscribe:
            self._unsubscribe()  # the panes are gone: no more state pushes into them
        await self._shutdown_phone()
        if self.debug_log is not None:
            self.debug_log.close()

    async def _shutdown_phone(self) -> None:
        async def stop() -> None:
            if self.services:
                await self.services.stop_inputs()
            await self.phone.stop()
            if self.services:
                await self.services.close()

        if self._phone_stopping is None:
            self._phone_stopping = asyncio.ensure_future(stop())
        try:
            await asyncio.wait_for(asyncio.shield(self._phone_stopping), QUIT_LIMIT)
        except TimeoutError:
            pass  # the engine thread is a daemon: the process still ends


def make_app(config: Config | None = None, phone: Phone | None = None, debug: bool = False,
             open_url: str | None = None, theme: str | None = None) -> TuiPhoneApp:
    return TuiPhoneApp(config or Config(), phone=phone, debug=debug, open_url=open_url, theme=theme)
