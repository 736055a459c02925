"""A phone running elsewhere, seen through its control socket.

``RemotePhone`` offers what the TUI uses of ``phone.Phone`` (state,
subscribe, execute, open_link, post, contacts) but owns no engine: its
state comes from the socket's ``Subscribe``/``ModelUpdate`` stream, its
actions go out as API requests. Quitting it (or losing the link) leaves the
phone, its calls and its registrations as they are.

The model carries less than the in-process ``State`` (no log, only recent
calls), so the events a view reacts to (a call ringing, a message, a
history write) are derived from the difference between two models.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Awaitable, Callable

from ..commands import Command, Result, Source
from ..config import Config
from ..contacts.model import Contact, ContactError, Number
from ..history import HistoryEntry
from ..masking import secrets_of
from ..events import (
    AudioState,
    CallAdded,
    CallEnded,
    CallProgress,
    CallRemoved,
    CallState,
    ContactsChanged,
    Event,
    HistoryAdded,
    Log,
    Message,
    RegState,
    Voicemail,
)
from ..store import MAX_ENDED, Account, Call, State, reduce
from . import protocol
from .records import contact_json

Subscriber = Callable[[State, Event], None]
LINE_LIMIT = 16 * 1024 * 1024  # replies with many contacts are longer than a request may be
REQUEST_TIMEOUT = 15.0
FRAME = 1 / 30  # a view applies at most this many models a second; a flood collapses into the latest
REATTACH_S = 1.0  # a view whose phone went away tries its socket again this often


@dataclass(frozen=True)
class ModelChanged:
    """The phone's model changed in a way no other event names (presence, status)."""


def _voicemail(account: str, box: dict | None) -> Voicemail | None:
    if not box or not (box.get("waiting") or box.get("new") or box.get("old")):
        return None
    return Voicemail(account, bool(box.get("waiting")), int(box.get("new", 0)), int(box.get("old", 0)),
                     str(box.get("uri", "")))


def state_from(model: dict, old: State) -> State:
    """The State a model shows; what the model lacks (messages, the log,
    ended calls) is kept from ``old``."""
    m = model["dev:tui-phone"]["model"]
    accounts = tuple(Account(a["name"], a["uri"], a.get("registrar", ""), a["registered"], a.get("code", 0),
                             a.get("reason", ""), _voicemail(a["name"], a.get("voicemail")))
                     for a in m.get("accounts", ()))
    calls = tuple(
        Call(id=c["id"], dir=c["dir"], sip=c["sip"], num=c.get("num", ""), dn=c.get("dn", ""),
             account=c.get("account", ""), guid=c.get("guid", ""), state=CallState(c["state"]),
             code=c.get("code", 0), reason=c.get("reason", ""), started=c.get("started", 0.0),
             connected_at=c.get("connected"), callerid=c.get("callerid"), cat=c.get("cat"), bind=c.get("bind"),
             conference=c.get("conference", False), info=c.get("info"), info_link=c.get("info_link"),
             dtmf=c.get("dtmf", ""), reason_remote=c.get("reason_remote", ""), recording=c.get("recording", False),
             recording_file=c.get("recording_file", ""), redirected_to=c.get("redirected_to", ""))
        for c in m.get("calls", ()))
    audio = m.get("audio", {})
    versions = m.get("versions", {})
    team = m.get("team", ())
    return replace(
        old, accounts=accounts, calls=calls, status=m.get("status", "available"), missed=m.get("missed", 0),
        presence=tuple((t["sip"], t["status"], "") for t in team), team=tuple((t["dn"], t["sip"]) for t in team),
        audio=AudioState(audio.get("device", ""), audio.get("muted", False), audio.get("note", ""),
                         audio.get("input", "")),
        history_version=versions.get("history", 0), messages_version=versions.get("messages", 0),
        contacts_version=versions.get("contacts", 0))


def changes(old: State, new: State) -> list[Event]:
    """The events that took ``old`` to ``new``, as far as a view cares."""
    out: list[Event] = []
    before = {a.name: a for a in old.accounts}
    for a in new.accounts:
        b = before.get(a.name)
        if b is None or (b.registered, b.code, b.reason) != (a.registered, a.code, a.reason):
            out.append(RegState(a.name, a.registered, a.code, "direct" if a.ready and not a.registrar else a.reason))
    was = {c.id: c for c in old.calls}
    now = time.time()
    for c in new.calls:
        b = was.get(c.id)
        if b is None:
            out.append(CallAdded(c.id, c.dir, c.sip, c.num, c.dn, c.account, c.guid, c.started,
                                 c.callerid, c.cat, c.bind))
        if c.state is CallState.DISCONNECTED and (b is None or b.state is not CallState.DISCONNECTED):
            out.append(CallEnded(c.id, c.code, c.reason, now))
        elif c.state is not (b.state if b else CallState.ALERTING if c.dir == "i" else CallState.SETUP):
            out.append(CallProgress(c.id, c.state, c.code, c.reason, now))
    gone = [c for c in old.calls if new.call(c.id) is None]
    for c in gone:
        if c.state is not CallState.DISCONNECTED:  # its Disconnected update was coalesced away
            out.append(CallEnded(c.id, c.code, c.reason, now))
        out.append(CallRemoved(c.id))
    if new.history_version != old.history_version:
        out.append(HistoryAdded("missed" if new.missed > old.missed else "in"))
    if new.contacts_version != old.contacts_version:
        out.append(ContactsChanged())
    if new.audio != old.audio:
        out.append(new.audio)
    return out


def _ended(old: State, new: State) -> State:
    """Calls the model dropped stay in the view's recent list, as on the phone."""
    gone = tuple(replace(c, state=CallState.DISCONNECTED, ended_at=c.ended_at or time.time())
                 for c in old.calls if new.call(c.id) is None)
    return replace(new, ended=(old.ended + gone)[-MAX_ENDED:]) if gone else new


class RemotePhone:
    """The TUI's phone when another process runs the engine (``tui-phone attach``)."""

    attached = True

    def __init__(self, config: Config, path: Path):
        self.config, self.path = config, Path(path)
        self.secrets = secrets_of(config)  # what the view's log pane masks
        self.state = State()
        self.ui = None  # the app sets it; confirmations happen on the phone's side
        self.running = False
        self.loop: asyncio.AbstractEventLoop | None = None
        self._subscribers: list[Subscriber] = []
        self._writer: asyncio.StreamWriter | None = None
        self._reader_task: asyncio.Task | None = None
        self._waiting: dict[str, asyncio.Future] = {}
        self._ids = itertools.count(1)
        self._seen_messages: set | None = None  # None until the first GetMessages
        self._messages_task: asyncio.Task | None = None
        self.contacts = RemoteContacts(self)
        self.secrets = secrets_of(config)  # masked in the view's log lines, as on the phone
        self._started = threading.Event()  # set once start() attached or gave up
        self._pending: dict | None = None  # the newest model not yet applied
        self._apply_at: asyncio.TimerHandle | None = None
        self._applied = 0.0  # loop time of the last apply
        self._stopping = False

    # ----- lifecycle ----------------------------------------------------------
    async def start(self, after: Awaitable | None = None, timeout: float = 10) -> None:
        """Connect (once ``after`` is done, when given) and take the first model;
        RuntimeError with a sentence when nobody answers."""
        self.loop = asyncio.get_running_loop()
        try:
            if after is not None:
                await after
            await self._attach(timeout)
        finally:
            self._started.set()

    async def _attach(self, timeout: float) -> None:
        try:
            reader, self._writer = await asyncio.wait_for(
                asyncio.open_unix_connection(str(self.path), limit=LINE_LIMIT), timeout)
            self._writer.write(protocol.encode({"mt": "Subscribe"}))
            first = await asyncio.wait_for(self._next(reader), timeout)
        except (OSError, asyncio.TimeoutError, ValueError) as e:
            reason = getattr(e, "strerror", None) or str(e) or "no answer"
            raise RuntimeError(f"cannot attach to the phone at {self.path}: {reason}") from None
        if first is None or first.get("mt") != "ModelUpdate":
            raise RuntimeError(f"cannot attach to the phone at {self.path}: "
                               f"{(first or {}).get('error', 'it closed the connection')}")
        self.running = True
        self._apply(first["model"])
        self._reader_task = self.loop.create_task(self._read(reader))
        self._refresh_messages()
        self.log("info", f"attached to the phone at {self.path}")

    @staticmethod
    async def _next(reader: asyncio.StreamReader) -> dict | None:
        line = await reader.readline()
        return json.loads(line) if line else None

    async def _read(self, reader: asyncio.StreamReader) -> None:
        try:
            while (msg := await self._next(reader)) is not None:
                if msg.get("mt") == "ModelUpdate":
                    self._coalesce(msg["model"])
                elif (fut := self._waiting.pop(str(msg.get("src")), None)) is not None and not fut.done():
                    fut.set_result(msg)
        except (OSError, ValueError, asyncio.IncompleteReadError) as e:
            self.log("error", f"control socket: {e}")
        finally:
            was_running, self.running = self.running, False
            for fut in self._waiting.values():
                if not fut.done():
                    fut.set_exception(ConnectionError("the phone closed the control socket"))
            self._waiting.clear()
            if was_running:
                self.log("error", "the phone went away: its control socket closed (calls there are not affected)")
                # the view cannot follow the calls any more, nor tell the phone's status
                self.state = replace(self.state, calls=(), status="unknown (detached)")
                self._tell(ModelChanged())
                if not self._stopping:
                    self._reader_task = self.loop.create_task(self._attach_again())

    async def _attach_again(self) -> None:
        """Try the socket every REATTACH_S until a phone answers there again (a restarted service)."""
        while not self._stopping:
            await asyncio.sleep(REATTACH_S)
            try:
                await self._attach(REATTACH_S)
            except RuntimeError:
                continue
            return

    async def stop(self) -> None:
        """Detach: the phone and its calls go on."""
        self._stopping = True
        self.running = False
        if self._apply_at is not None:
            self._apply_at.cancel()
        if self._writer is not None:
            self._writer.close()
        for task in (self._reader_task, self._messages_task):
            if task is not None:
                task.cancel()

    # ----- state --------------------------------------------------------------
    def _coalesce(self, model: dict) -> None:
        """Keep the newest model; apply it at most once a frame (events come from
        the difference, so skipped models lose nothing a view shows)."""
        self._pending = model
        if self._apply_at is None:
            delay = max(0.0, self._applied + FRAME - self.loop.time())
            self._apply_at = self.loop.call_later(delay, self._apply_pending)

    def _apply_pending(self) -> None:
        self._apply_at = None
        self._applied = self.loop.time()
        model, self._pending = self._pending, None
        if model is not None and self.running:
            self._apply(model)

    def _apply(self, model: dict) -> None:
        old = self.state
        new = _ended(old, state_from(model, old))
        if new == old:
            return
        self.state = new
        events = changes(old, new) or [ModelChanged()]
        for event in events:
            self._tell(event)
        if new.messages_version != old.messages_version:
            self._refresh_messages()

    def _tell(self, event: Event) -> None:
        for fn in list(self._subscribers):
            try:
                fn(self.state, event)
            except Exception as e:  # noqa: BLE001 - one bad subscriber must not stop the others
                self.state = reduce(self.state, Log("error", f"subscriber failed: {e!r}", time.time()))

    def subscribe(self, fn: Subscriber) -> Callable[[], None]:
        self._subscribers.append(fn)
        return lambda: self._subscribers.remove(fn) if fn in self._subscribers else None

    def post(self, event: Event) -> None:
        """What the view itself notices (a log line) stays here; read state goes
        to the phone as commands (``execute``)."""
        if isinstance(event, Log):
            self.state = reduce(self.state, event)
            self._tell(event)

    def log(self, level: str, text: str) -> None:
        self.post(Log(level, text, time.time()))

    def _refresh_messages(self) -> None:
        if self._messages_task is None or self._messages_task.done():
            self._messages_task = asyncio.get_running_loop().create_task(self._fetch_messages())

    async def _fetch_messages(self) -> None:
        """Re-read the conversations; a new incoming one is told as a Message (the bell)."""
        while self.running:
            version = self.state.messages_version
            try:
                reply = await self.request({"mt": "GetMessages"})
            except ConnectionError:
                return
            msgs = tuple(Message(m["peer"], m["dir"], m["text"], m["at"], m["status"])
                         for m in reply.get("messages", ()))
            self.state = replace(self.state, messages=msgs, unread=tuple(reply.get("unread", {}).items()))
            keys = {(m.peer, m.dir, m.at, m.text) for m in msgs}
            fresh = [m for m in msgs if self._seen_messages is not None and m.dir == "i"
                     and (m.peer, m.dir, m.at, m.text) not in self._seen_messages]
            self._seen_messages = keys
            for m in fresh or [None]:
                self._tell(m or ModelChanged())
            if version == self.state.messages_version:
                return

    def audio_levels(self) -> tuple[float, float] | None:
        return None  # the sound is where the engine runs

    # ----- requests -----------------------------------------------------------
    async def request(self, msg: dict, timeout: float = REQUEST_TIMEOUT) -> dict:
        """Send one request on the subscribed connection and wait for its reply."""
        if not self.running or self._writer is None:
            raise ConnectionError("not attached to a phone")
        src = f"view-{next(self._ids)}"
        fut = asyncio.get_running_loop().create_future()
        self._waiting[src] = fut
        self._writer.write(protocol.encode({**msg, "src": src}))
        try:
            return await asyncio.wait_for(fut, timeout)
        except asyncio.TimeoutError:
            raise ConnectionError(f"the phone did not answer {msg['mt']} within {timeout:.0f} s") from None
        finally:
            self._waiting.pop(src, None)

    def request_from_thread(self, msg: dict) -> dict:
        """``request`` for code in a worker thread (the contacts panes)."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # no loop in this thread: as it should be
            pass
        else:
            raise RuntimeError("request_from_thread must run in a worker thread, not on the event loop")
        self._started.wait(REQUEST_TIMEOUT)  # a pane may ask while the view still attaches
        if self.loop is None:
            raise ConnectionError("not attached to a phone")
        return asyncio.run_coroutine_threadsafe(self.request(msg), self.loop).result(REQUEST_TIMEOUT + 1)

    async def execute(self, command: Command, source: Source = Source.KEYBOARD) -> Result:
        try:
            msg = protocol.to_message(command)
            if source is Source.KEYBOARD:
                msg["keyboard"] = True  # typed here: the phone applies the keyboard's rules
            reply = await self.request(msg)
        except ConnectionError as e:
            return Result.fail(str(e), "busy")
        return result_of(reply)

    async def open_link(self, url: str, source: Source = Source.LINK) -> Result:
        try:
            return result_of(await self.request({"mt": "OpenUrl", "url": url}))
        except ConnectionError as e:
            return Result.fail(str(e), "busy")


def result_of(reply: dict) -> Result:
    if reply.get("mt") == "Error":
        return Result.fail(reply.get("error", "request failed"), "bad_input")
    if reply.get("ok"):
        return Result(True, reply.get("id"), pending=reply.get("pending"))
    return Result.fail(reply.get("error") or "request failed", reply.get("kind") or "failed")


def contact_of(item: dict) -> Contact:
    return Contact(item.get("id"), item.get("first", ""), item.get("last", ""),
                   tuple(Number(n["label"], n["typed"], n.get("e164", "")) for n in item.get("numbers", ())),
                   item.get("email", ""), item.get("job_title", ""), item.get("company", ""),
                   item.get("favorite", False), item.get("team", False), item.get("sip_uri", ""),
                   item.get("book", ""))


class RemoteContacts:
    """The part of ``ContactsDB`` the TUI uses, answered by the phone's
    database over the socket. Called from worker threads, like the database."""

    path = None  # no local file: address books sync where the phone runs

    def __init__(self, phone: RemotePhone):
        self.phone = phone
        self.region = phone.config.numbers["default_region"]

    def _ask(self, msg: dict) -> dict:
        try:
            reply = self.phone.request_from_thread(msg)
        except (ConnectionError, TimeoutError) as e:
            raise ContactError(str(e)) from None
        if not reply.get("ok"):
            raise ContactError(reply.get("error") or f"{msg['mt']} failed")
        return reply

    def _read(self, msg: dict, key: str) -> list[dict]:
        """A list the phone answers with; empty when it is gone (the log says so)."""
        try:
            return self._ask(msg)[key]
        except ContactError:
            if self.phone.running:
                raise
            return []

    def search(self, text: str = "", include_team: bool = True, limit: int | None = None) -> list[Contact]:
        found = self._read({"mt": "SearchContacts", "q": text, "team": include_team, "limit": limit or 1000},
                           "contacts")
        return [contact_of(c) for c in found]

    def get(self, contact_id: int) -> Contact | None:
        try:
            return contact_of(self._ask({"mt": "GetContact", "id": contact_id})["contact"])
        except ContactError as e:
            if "no contact" in str(e):
                return None
            raise

    def _put(self, contact: Contact) -> Contact:
        fields = {k: v for k, v in contact_json(contact).items() if k != "uid"}  # the phone keeps its own
        return contact_of(self._ask({"mt": "PutContact", "contact": fields})["contact"])

    def add(self, contact: Contact) -> Contact:
        return self._put(replace(contact, id=None))

    def add_many(self, contacts) -> list[Contact]:
        """One by one (not one transaction, unlike the database)."""
        return [self.add(c) for c in contacts]

    def update(self, contact: Contact) -> Contact:
        if contact.id is None:
            raise ContactError("contact has no id (add it first)")
        return self._put(contact)

    def delete(self, contact_id: int) -> None:
        self._ask({"mt": "DeleteContact", "id": contact_id})

    def set_favorite(self, contact_id: int, favorite: bool) -> Contact:
        contact = self.get(contact_id)
        if contact is None:
            raise ContactError(f"no contact with id {contact_id}")
        return self._put(replace(contact, favorite=favorite))

    def history(self, kind: str | None = None, limit: int = 200, before: float | None = None) -> list[HistoryEntry]:
        msg = {"mt": "GetHistory", "limit": limit, "kind": kind, "before": before}
        return [HistoryEntry(**e) for e in self._read({k: v for k, v in msg.items() if v is not None}, "history")]

    def close(self) -> None:
        pass
