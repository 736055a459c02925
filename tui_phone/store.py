"""The one store: immutable state and a pure ``reduce(state, event)``.

The Textual app keeps the current ``State`` in a reactive attribute, the
control server and the notifier subscribe to the same changes (see
``phone.Phone``). Nothing here does I/O or touches pjsua2 or Textual.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from .commands import (
    Command,
    ConnectCall,
    DisconnectCall,
    Dtmf,
    Hold,
    Record,
    Result,
    Retrieve,
    Split,
    Transfer,
)
from .events import (

    AudioState,

    CallAdded,

    CallEnded,

    CallInfoSet,

    CallProgress,

    CallRemoved,

    CallState,

    CallRedirected,
    CallTurnedAway,
    ContactsChanged,
    Recording,
    RemoteReason,
    Voicemail,
    DtmfSent,

    ConferenceSet,

    Event,

    HistoryAdded,

    Log,

    Message,

    MessagesRead,

    MissedSeen,

    OwnStatus,

    Presence,

    RegState,

    TeamLoaded,

)

MAX_LOG = 200
MAX_ENDED = 20
MAX_MESSAGES = 500
MAX_DTMF = 40


@dataclass(frozen=True)
class Account:
    """An account as the UI shows it: its registration and voicemail."""

    name: str
    uri: str
    registrar: str = ""
    registered: bool = False
    code: int = 0
    reason: str = ""
    voicemail: Voicemail | None = None  # the last message summary (RFC 3842)

    @property
    def ready(self) -> bool:
        """Can take calls: registered, or a direct account that needs no registrar."""
        return self.registered or not self.registrar

    @property
    def status_text(self) -> str:
        return registration_text(bool(self.registrar), self.registered, self.code, self.reason)


def registration_text(registrar: bool, registered: bool, code: int, reason: str) -> str:
    """An account's registration as one phrase, the same in the status line, `tui-phone status`
    and the headless log. A 2xx while not registered is the registrar confirming an
    un-REGISTER: plain "unregistered", not the contradictory "unregistered: 200 OK"."""
    if not registrar:
        return "direct (no registrar)"
    if registered:
        return "registered"
    if code and code // 100 != 2:
        return f"unregistered: {code} {reason}".rstrip()
    return "unregistered" if code else "registering…"


@dataclass(frozen=True)
class Call:
    """One call as the UI shows it; the store derives it from the engine's events."""

    id: int
    dir: str
    sip: str
    num: str = ""
    dn: str = ""
    account: str = ""
    guid: str = ""
    state: CallState = CallState.SETUP
    code: int = 0
    reason: str = ""
    started: float = 0.0
    connected_at: float | None = None
    held_at: float = 0.0  # when we last put it on hold (retrieve picks the most recent)
    ended_at: float | None = None
    callerid: str | None = None
    cat: str | None = None
    bind: str | None = None
    conference: bool = False  # merged into the local conference
    info: str | None = None  # CallInfo text from an app
    info_link: str | None = None
    dtmf: str = ""  # digits we sent, the last MAX_DTMF
    reason_remote: str = ""  # the far end's Reason header
    recording: bool = False  # being recorded now
    recording_file: str = ""  # the WAV file, once a recording started
    redirected_to: str = ""  # the last 3xx target followed (or refused)

    @property
    def live(self) -> bool:
        return self.state is not CallState.DISCONNECTED

    @property
    def who(self) -> str:
        """What a person reads: number, else the URI."""
        return self.num or self.sip


@dataclass(frozen=True)
class LogLine:
    """One line of the log pane."""

    level: str
    text: str
    at: float = 0.0


@dataclass(frozen=True)
class State:
    """Everything the UI shows, derived from events by ``reduce``; every pane renders a slice of it."""

    accounts: tuple[Account, ...] = ()
    calls: tuple[Call, ...] = ()
    ended: tuple[Call, ...] = ()  # recently ended calls, newest last
    status: str = "available"  # what we publish: available | unavailable | dnd | in-call
    presence: tuple[tuple[str, str, str], ...] = ()  # (uri, status, note) of watched URIs
    team: tuple[tuple[str, str], ...] = ()  # (name, SIP URI) from the directory
    messages: tuple[Message, ...] = ()  # newest last, bounded
    unread: tuple[tuple[str, int], ...] = ()  # (peer, unread incoming messages)
    audio: AudioState = AudioState("")  # sound device in use ("" = none) and mute
    missed: int = 0  # missed calls since the user last looked at the history
    history_version: int = 0  # bumps on every history write (panes re-read)
    messages_version: int = 0  # bumps when a message arrives, changes status or is read
    contacts_version: int = 0  # bumps on ContactsChanged
    log: tuple[LogLine, ...] = ()

    @property
    def voicemail(self) -> dict:
        """Summed over accounts: ``{"waiting", "new", "old"}``."""
        boxes = [a.voicemail for a in self.accounts if a.voicemail]
        return {"waiting": any(v.waiting for v in boxes), "new": sum(v.new for v in boxes),
                "old": sum(v.old for v in boxes)}

    def presence_of(self, uri: str) -> str | None:
        return next((st for u, st, _ in self.presence if u == uri), None)

    @property
    def registered(self) -> bool:
        """The provider model's flag: the default account can take calls."""
        if not self.accounts:
            return False
        return self.accounts[0].ready

    def call(self, id: int) -> Call | None:
        return next((c for c in self.calls if c.id == id), None)

    def alerting(self) -> Call | None:
        """The newest ringing incoming call."""
        return next((c for c in reversed(self.calls) if c.state is CallState.ALERTING), None)

    def current(self) -> Call | None:
        """The call an unqualified hang-up acts on: the connected one, else the
        newest ringing or dialling one."""
        for c in reversed(self.calls):
            if c.state in (CallState.CONNECTED, CallState.HELD):
                return c
        return next((c for c in reversed(self.calls) if c.live), None)


TALKING = (CallState.CONNECTED, CallState.HELD)  # "the connected call": talking, or held by the far end
SETTING_UP = (CallState.SETUP, CallState.DIALING, CallState.RINGBACK, CallState.QUEUED)


def resolve(state: State, command: Command) -> Command | Result:
    """The call an id-less command acts on: one rule for the keyboard, the
    socket and HTTP (the README's API section states it). Returns the command
    with its id filled in, or why there is none. A command with an id, or one
    that names no call, comes back unchanged.

    - answer: the newest Alerting call.
    - hangup: the one connected call; else the newest outgoing call still being
      set up (cancel); else the newest Alerting call (reject); else the only
      call left. A held call is never ended while another call exists.
    - hold, DTMF, blind transfer, record: the one connected call.
    - retrieve: the only held call, else the most recently held.
    - attended transfer (no target): the held call to the connected one.
    - split: the newest call in the conference.
    """
    if not isinstance(command, (ConnectCall, DisconnectCall, Hold, Retrieve, Dtmf, Transfer, Split, Record)) \
            or command.id is not None:
        return command
    calls = [c for c in state.calls if c.live]
    newest = lambda cs: max(cs, key=lambda c: c.id) if cs else None  # noqa: E731
    talking = [c for c in calls if c.state in TALKING]
    match command:
        case ConnectCall():
            call = newest([c for c in calls if c.state is CallState.ALERTING])
            return replace(command, id=call.id) if call else Result.fail("no incoming call to answer", "not_found")
        case DisconnectCall():
            if len(talking) > 1:
                return Result.fail("several calls are connected: name one (id)", "conflict")
            call = (talking[0] if talking else
                    newest([c for c in calls if c.dir == "o" and c.state in SETTING_UP]) or
                    newest([c for c in calls if c.state is CallState.ALERTING]))
            if call is None:
                if len(calls) > 1:
                    return Result.fail("several calls are on hold: name one (id)", "conflict")
                call = calls[0] if calls else None
            return replace(command, id=call.id) if call else Result.fail("no call to end", "not_found")
        case Retrieve():
            held = [c for c in calls if c.state is CallState.HOLDING]
            call = max(held, key=lambda c: (c.held_at, c.id)) if held else None
            return replace(command, id=call.id) if call else Result.fail("no call on hold", "not_found")
        case Transfer(to="", replaces=None):
            held = [c for c in calls if c.state is CallState.HOLDING]
            if len(held) != 1 or len(talking) != 1:
                return Result.fail("attended transfer needs one held call and one connected call", "conflict")
            return replace(command, id=held[0].id, replaces=talking[0].id)
        case Split():
            call = newest([c for c in calls if c.conference])
            return replace(command, id=call.id) if call else Result.fail("no conference to split", "conflict")
    if len(talking) > 1:
        return Result.fail("several calls are connected: name one (id)", "conflict")
    if not talking:
        return Result.fail("no connected call", "not_found")
    return replace(command, id=talking[0].id)


def _replace_call(s: State, id: int, changes: dict) -> State:
    return replace(s, calls=tuple(replace(c, **changes) if c.id == id else c for c in s.calls))


def _log(state: State, level: str, text: str, at: float) -> State:
    return replace(state, log=(state.log + (LogLine(level, text, at),))[-MAX_LOG:])


def reduce(state: State, event: Event) -> State:
    """Return the state after ``event``. Pure: same inputs, same output."""
    match event:
        case RegState(account=name, registered=ok, code=code, reason=reason):
            accounts = tuple(
                replace(a, registered=ok, code=code, reason=reason) if a.name == name else a
                for a in state.accounts
            )
            return replace(state, accounts=accounts)
        case CallAdded():
            if state.call(event.id):
                return state
            call = Call(
                id=event.id, dir=event.dir, sip=event.sip, num=event.num, dn=event.dn,
                account=event.account, guid=event.guid, started=event.at,
                state=CallState.ALERTING if event.dir == "i" else CallState.SETUP,
                callerid=event.callerid, cat=event.cat, bind=event.bind,
            )
            return replace(state, calls=state.calls + (call,))
        case CallProgress(id=id, state=new, code=code, reason=reason, at=at):
            call = state.call(id)
            if call is None or not call.live:
                return state
            changes = {"state": new, "code": code or call.code, "reason": reason or call.reason}
            if new is CallState.CONNECTED and call.connected_at is None:
                changes["connected_at"] = at
            if new is CallState.HOLDING and call.state is not CallState.HOLDING:
                changes["held_at"] = at
            return _replace_call(state, id, changes)
        case CallEnded(id=id, code=code, reason=reason, at=at):
            call = state.call(id)
            if call is None or not call.live:
                return state
            return _replace_call(state, id, dict(
                state=CallState.DISCONNECTED, code=code, reason=reason, ended_at=at))
        case CallRemoved(id=id):
            call = state.call(id)
            if call is None:
                return state
            return replace(
                state,
                calls=tuple(c for c in state.calls if c.id != id),
                ended=(state.ended + (call,))[-MAX_ENDED:],
            )
        case CallRedirected(id=id, target=target):
            return _replace_call(state, id, dict(redirected_to=target)) if state.call(id) else state
        case RemoteReason(id=id, text=text):
            return _replace_call(state, id, dict(reason_remote=text)) if state.call(id) else state
        case Recording(id=id, path=path, on=on):
            call = state.call(id)
            if call is None or (call.recording, call.recording_file) == (on, path):
                return state
            return _replace_call(state, id, dict(recording=on, recording_file=path))
        case Voicemail(account=name):
            if all(a.voicemail == event for a in state.accounts if a.name == name):
                return state
            return replace(state, accounts=tuple(replace(a, voicemail=event) if a.name == name else a
                                                 for a in state.accounts))
        case CallInfoSet(id=id, text=text, link=link):
            if state.call(id) is None:
                return state
            return _replace_call(state, id, dict(info=text, info_link=link))
        case DtmfSent(id=id, digits=digits):
            call = state.call(id)
            if call is None or not digits:
                return state
            return _replace_call(state, id, dict(dtmf=(call.dtmf + digits)[-MAX_DTMF:]))
        case Presence(uri=uri, status=st, note=note):
            rest = tuple(p for p in state.presence if p[0] != uri)
            if (uri, st, note) in state.presence:
                return state
            return replace(state, presence=rest + ((uri, st, note),))
        case Message(dir=d, peer=peer, key=key) as msg:
            if key and any(m.key == key for m in state.messages):  # a result for one we sent
                msgs = tuple(msg if m.key == key else m for m in state.messages)
                return replace(state, messages=msgs, messages_version=state.messages_version + 1)
            unread = state.unread
            if d == "i":
                counts = dict(unread)
                counts[peer] = counts.get(peer, 0) + 1
                unread = tuple(counts.items())
            return replace(state, messages=(state.messages + (msg,))[-MAX_MESSAGES:], unread=unread,
                           messages_version=state.messages_version + 1)
        case AudioState():
            return state if event == state.audio else replace(state, audio=event)
        case ConferenceSet(ids=ids):
            calls = tuple(replace(c, conference=c.id in ids) if c.conference != (c.id in ids) else c
                          for c in state.calls)
            return replace(state, calls=calls)
        case MessagesRead(peer=peer):
            if not dict(state.unread).get(peer):
                return state
            return replace(state, unread=tuple((p, n) for p, n in state.unread if p != peer),
                           messages_version=state.messages_version + 1)
        case HistoryAdded(kind=kind):
            return replace(state, missed=state.missed + (kind == "missed"),
                           history_version=state.history_version + 1)
        case MissedSeen():
            return state if not state.missed else replace(state, missed=0)
        case TeamLoaded(members=members):
            if members == state.team:
                return state
            return replace(state, team=members, contacts_version=state.contacts_version + 1)
        case ContactsChanged():
            return replace(state, contacts_version=state.contacts_version + 1)
        case OwnStatus(status=st):
            return state if st == state.status else replace(state, status=st)
        case Log(level=level, text=text, at=at):
            return _log(state, level, text, at)
        case CallTurnedAway(sip=sip, num=num, dn=dn, code=code, reason=reason, at=at):
            return _log(state, "warning", f"turned away a call from {dn or num or sip}: {code} {reason}", at)
    return state


def _box(v: Voicemail | None) -> dict:
    if v is None:
        return {"waiting": False, "new": 0, "old": 0}
    return {"waiting": v.waiting, "new": v.new, "old": v.old} | ({"uri": v.uri} if v.uri else {})


def model(state: State) -> dict:
    """The innovaphone provider model (service info + model) of DESIGN.md."""
    calls = []
    for c in state.calls:
        item = {"id": c.id, "guid": c.guid, "dir": c.dir, "num": c.num, "sip": c.sip,
                "dn": c.dn, "state": c.state.value, "account": c.account, "started": c.started}
        if c.connected_at is not None:
            item["connected"] = c.connected_at
        if c.state is CallState.DISCONNECTED:
            item.update(code=c.code, reason=c.reason)
        if c.conference:
            item["conference"] = True
        for key in ("callerid", "cat", "bind", "info", "info_link", "reason_remote", "redirected_to",
                    "recording", "recording_file", "dtmf"):
            if getattr(c, key):
                item[key] = getattr(c, key)
        calls.append(item)
    accounts = [
        {"name": a.name, "uri": a.uri, "registrar": a.registrar, "registered": a.ready, "direct": not a.registrar,
         "code": a.code, "reason": a.reason, "voicemail": _box(a.voicemail)}
        for a in state.accounts
    ]
    return {
        "dev:tui-phone": {
            "title": "tui-phone",
            "info": {"type": "softphone"},
            "model": {"registered": state.registered, "status": state.status, "missed": state.missed,
                      "unread": sum(n for _, n in state.unread),
                      "audio": {"device": state.audio.device, "input": state.audio.input,
                                "muted": state.audio.muted, "note": state.audio.note},
                      "voicemail": state.voicemail,
                      "accounts": accounts, "calls": calls,
                      "team": [{"dn": name, "sip": uri, "status": state.presence_of(uri) or "offline"}
                               for name, uri in state.team],
                      # change notices: a view re-reads history, messages or contacts when one bumps
                      "versions": {"history": state.history_version, "messages": state.messages_version,
                                   "contacts": state.contacts_version}},
        }
    }
