"""The headless phone: engine + store + subscribers, on one asyncio loop.

The TUI and ``--headless`` both build one ``Phone``. Engine events arrive
on the loop via ``call_soon_threadsafe``; ``post`` reduces them into the
store and tells subscribers (UI, control server, notifier). Commands from
every source go through ``execute``; links through ``open_link``.
"""

from __future__ import annotations

import asyncio
import contextvars
from dataclasses import replace
import time
from typing import Awaitable, Callable, Protocol

from .commands import (
    ENGINE_COMMANDS,
    CallInfo,
    CallVoicemail,
    Command,
    Dtmf,
    MarkMessagesRead,
    MarkMissedSeen,
    PrepareCall,
    Result,
    SendSms,
    Source,
    StartCall,
    Watch,
)
from .config import Config
from .events import (CallAdded, CallInfoSet, CallRedirected, ContactsChanged, DtmfSent, Event, HistoryAdded, Log,
                     MessagesRead, MissedSeen, TeamLoaded)
from .masking import mask, secrets_of
from .sip.engine import Engine
from .store import Account, State, reduce, resolve
from .uri import SipUri

Subscriber = Callable[[State, Event], None]
MAX_INFO = 2000


def html_to_text(html: str) -> str:
    """CallInfo HTML as plain text: tags, scripts and styles dropped, entities
    decoded, whitespace folded, control characters removed, length capped."""
    from html.parser import HTMLParser

    parts: list[str] = []

    class Text(HTMLParser):
        skip = 0

        def handle_starttag(self, tag, attrs):
            self.skip += tag in ("script", "style")
            if tag in ("br", "p", "div", "li", "tr"):
                parts.append("\n")

        def handle_endtag(self, tag):
            self.skip -= tag in ("script", "style") and self.skip > 0

        def handle_data(self, data):
            if not self.skip:
                parts.append(data)

    Text(convert_charrefs=True).feed(html)
    text = "".join(ch if ch == "\n" or ch.isprintable() else " " if ch.isspace() else ""  # &nbsp; is a space
                   for ch in "".join(parts))
    lines = (" ".join(line.split()) for line in text.splitlines())
    return "\n".join(line for line in lines if line)[:MAX_INFO]


class WatchedContacts:
    """The contacts database, telling the store after each change to contacts
    (``ContactsChanged``), so every view (attached TUIs too) re-reads."""

    CHANGES = ("add", "add_many", "update", "delete", "set_favorite", "replace_team")

    def __init__(self, db, changed: Callable[[], None]):
        self._db, self._changed = db, changed

    def __getattr__(self, name: str):
        found = getattr(self._db, name)
        if name not in self.CHANGES:
            return found

        def changing(*args, **kwargs):
            out = found(*args, **kwargs)
            self._changed()  # from any thread: _from_engine hops to the loop
            return out

        return changing


class Ui(Protocol):
    """What only a person at the screen can do. Headless has no Ui."""

    async def prepare(self, target: str) -> Result: ...

    async def confirm(self, command: StartCall, reason: str) -> Result: ...

    async def compose_message(self, number: str) -> Result: ...

    async def authenticate(self, code: str) -> Result: ...


class Phone:
    def __init__(self, config: Config, engine: Engine | None = None, log_path: str | None = None):
        self.config = config
        self.engine = engine  # None: the pjsua2 engine, imported in start() (keeps first paint fast)
        self.log_path = log_path
        self.state = State(accounts=tuple(Account(a.name, a.uri, a.registrar) for a in config.accounts))
        self._subscribers: list[Subscriber] = []
        self.loop: asyncio.AbstractEventLoop | None = None
        self.ui: Ui | None = None
        self.running = False
        self._starting: asyncio.Task | None = None
        self._start_begun = False  # the engine thread's start is under way (it cannot be called off)
        self._team_task: asyncio.Task | None = None
        self.team: list = []  # team Contacts from the directory
        self._contacts = None
        self.secrets = secrets_of(config)

    # ----- lifecycle ----------------------------------------------------------
    async def start(self, after: Awaitable | None = None) -> None:
        """Start the engine, once ``after`` is done when given (the TUI's first
        frame: nothing competes with it for the GIL). From this call on, a
        command that needs the engine waits for it instead of failing, so a
        link that arrives early is dialled as soon as the engine is up."""
        self.loop = asyncio.get_running_loop()
        # events arrive via call_soon_threadsafe from the engine thread, without the UI's context
        # (Textual's active app): work they start runs in the context the phone was started in
        self._context = contextvars.copy_context()
        self._starting = self.loop.create_task(self._start_after(after))
        await asyncio.shield(self._starting)  # a cancelled caller must not orphan the thread's start
        if self.config.team["source"]:
            self._team_task = self.loop.create_task(self._team_loop())

    async def _start_after(self, after: Awaitable | None) -> None:
        if after is not None:
            await after
        self._start_begun = True
        await self.loop.run_in_executor(None, self._start_engine)
        self.running = True  # before any command waiting in execute() resumes

    def _start_engine(self) -> None:  # in a worker thread: importing pjsua2 never blocks the UI
        if self.engine is None:
            from .sip.pjsua2_engine import PjEngine

            self.engine = PjEngine(self.config, log_path=self.log_path)
        self.engine.start(self._from_engine)
        try:  # open the database here, so a caller-name lookup never opens it on the loop
            self.contacts
        except Exception as e:  # noqa: BLE001 - contacts are optional for calling
            self._from_engine(Log("warning", f"contacts: {e}", time.time()))

    async def _team_loop(self) -> None:
        """Load the team directory now and every ``team.refresh`` seconds;
        watch each member's presence. A failure is a log line, then a retry."""
        from .contacts.model import ContactError
        from .contacts.team import fetch_team

        while self.running:
            try:
                members = await fetch_team(self.config.team["source"], self.config.numbers["default_region"])
            except ContactError as e:
                self.log("warning", f"team: {e}")
            else:
                self.team = members
                try:
                    await asyncio.to_thread(self.contacts.replace_team, members)
                except ContactError as e:
                    self.log("warning", f"team: {e}")
                pairs = tuple((m.name, self.member_uri(m)) for m in members if self.member_uri(m))
                self.post(TeamLoaded(pairs))
                await self.execute(Watch(tuple(uri for _, uri in pairs)))
            await asyncio.sleep(self.config.team["refresh"])

    def member_uri(self, member) -> str:
        """A team member's SIP URI: their own, else their first number at the
        default account's domain."""
        if member.sip_uri:
            return member.sip_uri
        if member.numbers:
            number = member.numbers[0].e164 or member.numbers[0].typed
            try:  # the domain with its port and parameters
                return str(replace(SipUri.parse(self.config.accounts[0].uri), scheme="sip", user=number))
            except ValueError:
                return ""
        return ""

    async def stop(self) -> None:
        """Stop the engine (BYE for live calls, un-REGISTER); safe to call
        twice and while start() is still under way."""
        self.running = False
        if self._team_task is not None:
            self._team_task.cancel()
        if self._starting is not None:
            if not self._start_begun:  # stopped before the first frame: the engine never starts
                self._starting.cancel()
            await asyncio.wait([self._starting])  # a start under way finishes first (its thread can't be cut)
        if self.engine is not None:
            await asyncio.get_running_loop().run_in_executor(None, self.engine.stop)

    def _from_engine(self, event: Event) -> None:
        """Called on the engine thread: hop to the loop, never block."""
        loop = self.loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self.post, event)

    @property
    def contacts(self):
        """The contacts database (opened on first use, in the XDG data dir)."""
        if self._contacts is None:
            from .contacts.db import ContactsDB

            db = ContactsDB(region=self.config.numbers["default_region"])
            self._contacts = WatchedContacts(db, lambda: self._from_engine(ContactsChanged()))
        return self._contacts

    @property
    def contacts_open(self) -> bool:
        return self._contacts is not None

    def close_contacts(self) -> None:
        if self._contacts is not None:
            self._contacts.close()
            self._contacts = None

    def history_changed(self, entry) -> None:
        self.post(HistoryAdded(entry.kind))

    def _name_for(self, event: CallAdded) -> CallAdded:
        """Show the contact's name for a known number (by normalized number)."""
        if event.dn or not event.num:
            return event
        try:
            contact = self.contacts.lookup(event.num)
        except Exception as e:  # noqa: BLE001 - a broken database must not stop a call
            self.log("warning", f"contacts: {e}")
            return event
        return replace(event, dn=contact.name) if contact else event

    # ----- store --------------------------------------------------------------
    def post(self, event: Event) -> None:
        if isinstance(event, CallAdded):
            event = self._name_for(event)
        elif isinstance(event, Log):
            event = replace(event, text=mask(event.text, self.secrets))  # every sink shows this text
        if isinstance(event, CallRedirected) and event.ask and self.loop is not None:
            self.loop.create_task(self._offer_redirect(event), context=self._context)
        new = reduce(self.state, event)
        if new is self.state:
            return
        self.state = new
        for fn in list(self._subscribers):
            try:
                fn(new, event)
            except Exception as e:  # noqa: BLE001 - one bad subscriber must not stop the others
                self.state = reduce(self.state, Log("error", f"subscriber failed: {e!r}", time.time()))

    async def _offer_redirect(self, event: CallRedirected) -> None:
        """A 3xx target the dial policy flags: offered as a new call, asked
        (or refused headless) exactly like a link."""
        result = await self.execute(StartCall(event.target), Source.REDIRECT)
        if not result.ok:
            self.log("warning", f"redirect to {event.target}: {result.error}")

    def voicemail_target(self, account: str | None = None) -> str | None:
        """The number to dial for voicemail: the account's ``voicemail`` setting,
        else the Message-Account URI of its last NOTIFY. Without ``account``,
        the first account with new messages, else the default one."""
        accounts = {a.name: a for a in self.state.accounts}
        if account is None:
            waiting = [a for a in self.state.accounts if a.voicemail and a.voicemail.waiting]
            account = (waiting or list(self.state.accounts))[0].name
        cfg = next((a for a in self.config.accounts if a.name == account), None)
        if cfg is None:
            return None
        box = accounts[account].voicemail
        return cfg.voicemail or (box.uri if box else "") or ""

    def log(self, level: str, text: str) -> None:
        self.post(Log(level, text, time.time()))

    def audio_levels(self) -> tuple[float, float] | None:
        """(microphone, speaker) levels 0..1 for the meter; None without sound."""
        return self.engine.audio_levels() if self.engine is not None else None

    def subscribe(self, fn: Subscriber) -> Callable[[], None]:
        self._subscribers.append(fn)
        return lambda: self._subscribers.remove(fn) if fn in self._subscribers else None

    # ----- commands -----------------------------------------------------------
    async def execute(self, command: Command, source: Source = Source.KEYBOARD) -> Result:
        """Carry out ``command`` from ``source``; never raises for bad input.
        An id-less call command gets its call here (``store.resolve``), so every
        source acts on the same call and the engine only sees explicit ids."""
        resolved = resolve(self.state, command)
        if isinstance(resolved, Result):
            return resolved
        command = resolved
        if isinstance(command, (StartCall, SendSms)):  # a message to a premium number costs money too
            from .policy import judge

            reason = judge(command.target if isinstance(command, StartCall) else command.to, source, self.config)
            if reason:
                if self.ui is not None:
                    return await self.ui.confirm(command, reason)
                if not self.config.policy["allow_unconfirmed"]:
                    return Result.fail(f"refused: {reason} (headless; set policy.allow_unconfirmed "
                                       "= true to reach such numbers without asking)", "refused")
        if isinstance(command, CallVoicemail):
            target = self.voicemail_target(command.account)
            if target is None:
                return Result.fail(f"no account named {command.account!r}", "not_found")
            if not target:
                return Result.fail("no voicemail number: set voicemail in the account, or wait for the "
                                   "PBX's message summary", "not_found")
            account = command.account or next((a.name for a in self.state.accounts
                                               if a.voicemail and a.voicemail.waiting), None)
            configured = any(a.voicemail == target for a in self.config.accounts)
            # a Message-Account URI from a NOTIFY (anyone can send one) passes the dial policy
            return await self.execute(StartCall(target, account=account),
                                      Source.KEYBOARD if configured else Source.REDIRECT)
        if isinstance(command, PrepareCall):
            if self.ui is None:
                return Result.fail("PrepareCall needs the TUI (this instance is headless)", "refused")
            return await self.ui.prepare(command.target)
        if isinstance(command, (MarkMissedSeen, MarkMessagesRead)):
            self.mark_read(command)
            return Result(True)
        if isinstance(command, CallInfo):
            if self.state.call(command.id) is None:
                return Result.fail(f"no call with id {command.id}", "not_found")
            src = (command.iframe or {}).get("src")
            if src is not None and (not isinstance(src, str) or not src.startswith(("https://", "http://"))
                                    or len(src) > 2048 or any(not c.isprintable() or c.isspace() for c in src)):
                return Result.fail("CallInfo: iframe src must be an http(s) URL without spaces or control characters", "bad_input")
            text = html_to_text(command.html) if command.html else None
            self.post(CallInfoSet(command.id, text, src))
            return Result(True, command.id)
        if isinstance(command, ENGINE_COMMANDS):
            if not self.running and self._starting is not None and not self._starting.done():
                # typed, or a link handed over, before the engine is up: it waits for it (start()
                # reports a failure; the command then fails below)
                await asyncio.wait([self._starting])
            if not self.running:
                return Result.fail("the SIP engine is not running", "busy")
            result = await asyncio.wrap_future(self.engine.submit(command))
            if not result.ok:
                self.log("error", result.error or "command failed")
            elif isinstance(command, Dtmf) and result.id is not None:
                self.post(DtmfSent(result.id, command.digits))
            return result
        return Result.fail(f"{type(command).__name__} is not supported", "bad_input")

    def mark_read(self, command: MarkMissedSeen | MarkMessagesRead) -> None:
        """Read state is the store's alone: the engine never sees it."""
        if isinstance(command, MarkMissedSeen):
            self.post(MissedSeen())
            return
        from .control.records import same_peer

        for peer, _ in self.state.unread:
            if same_peer(peer, command.peer):
                self.post(MessagesRead(peer))

    async def open_link(self, url: str, source: Source = Source.LINK) -> Result:
        """Act on a tel:/sip:/callto:/phone.systems/zoomphone link (DESIGN.md: Links)."""
        from .links import LinkError, parse_link

        try:
            link = parse_link(url, self.config.numbers["default_region"])
        except LinkError as e:
            return Result.fail(f"rejected link: {e}", "bad_input")
        self.log("info", f"link {link.scheme}: {link.action} {link.uri or link.number or ''}".rstrip())
        target = link.uri or link.number
        if link.action == "call":
            return await self.execute(
                StartCall(target, callerid=link.callerid, cat=link.cat, bind=link.bind, dtmf=link.ext),
                source)
        if link.action == "dial":
            return await self.execute(PrepareCall(target), source)
        if self.ui is None:
            return Result.fail(f"{link.action} links need the TUI (this instance is headless)", "refused")
        if link.action == "sms":
            return await self.ui.compose_message(target)
        return await self.ui.authenticate(link.code)
