"""The store's vocabulary: call states and every event ``reduce`` handles.

The engine emits most of them; the phone itself posts the rest (history,
team, read markers). Events carry str/int/float/enum only, never pjsua2
objects, so the store, the UI and the control server can hold them on any
thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class CallState(str, Enum):
    """innovaphone's call states, exactly."""

    SETUP = "Setup"
    DIALING = "Dialing"
    RINGBACK = "Ringback"
    QUEUED = "Queued"
    ALERTING = "Alerting"
    CONNECTED = "Connected"
    HOLDING = "Holding"  # we put them on hold
    HELD = "Held"  # they put us on hold
    DISCONNECTED = "Disconnected"


@dataclass(frozen=True)
class RegState:
    """An account's registration answered (or failed): ``code`` is the SIP status, 0 for none."""

    account: str
    registered: bool
    code: int = 0
    reason: str = ""
    expires: int = 0


@dataclass(frozen=True)
class CallAdded:
    """A call appeared: an incoming INVITE, or an outgoing call the engine placed."""

    id: int
    dir: str  # "i" inbound, "o" outbound
    sip: str  # remote SIP URI, e.g. "sip:200@pbx"
    num: str  # user part when it is a number, else ""
    dn: str  # display name
    account: str
    guid: str = ""
    at: float = 0.0
    callerid: str | None = None
    cat: str | None = None
    bind: str | None = None


@dataclass(frozen=True)
class CallProgress:
    """A call's state changed (ringing, connected, held…), with the SIP status that moved it."""

    id: int
    state: CallState
    code: int = 0
    reason: str = ""
    at: float = 0.0


@dataclass(frozen=True)
class CallEnded:
    """A call ended, with the final SIP status and reason phrase."""

    id: int
    code: int = 0
    reason: str = ""
    at: float = 0.0


@dataclass(frozen=True)
class CallRedirected:
    """The call goes to ``target`` instead: a 3xx we follow, or our own
    forwarding. With ``reason`` it was not followed; ``ask`` says the dial
    policy wants the user's confirmation (a new call, asked like a link)."""

    id: int
    target: str
    reason: str = ""
    ask: bool = False


@dataclass(frozen=True)
class RemoteReason:
    """The far end's Reason header (Q.850 cause or SIP reason) on a call."""

    id: int
    text: str


@dataclass(frozen=True)
class Recording:
    """Call ``id`` is recorded to ``path``; ``on`` False once it stopped (the file stays)."""

    id: int
    path: str
    on: bool = True


@dataclass(frozen=True)
class Voicemail:
    """Message summary (RFC 3842) of an account: ``uri`` is the Message-Account to call."""

    account: str
    waiting: bool
    new: int = 0
    old: int = 0
    uri: str = ""


@dataclass(frozen=True)
class CallRemoved:
    """Published right after CallEnded: the call leaves the model."""

    id: int


@dataclass(frozen=True)
class CallTurnedAway:
    """An incoming call the phone answered itself without ringing: at
    capacity (486, or 503 for a burst). History lists it as missed."""

    sip: str
    num: str
    dn: str
    code: int
    reason: str
    at: float


@dataclass(frozen=True)
class CallInfoSet:
    """Context an app attached to a call (innovaphone CallInfo): plain text
    (sanitized from its HTML) and/or a link (its iframe src)."""

    id: int
    text: str | None = None
    link: str | None = None


@dataclass(frozen=True)
class DtmfSent:
    """Digits sent on a call (from any source), shown in its detail."""

    id: int
    digits: str


@dataclass(frozen=True)
class ContactsChanged:
    """The contacts database changed (a contact saved or deleted, the team
    reloaded, an address book synced): views re-read what they show."""


@dataclass(frozen=True)
class Presence:
    """A watched URI's status: available | unavailable | in-call | offline."""

    uri: str
    status: str
    note: str = ""


@dataclass(frozen=True)
class TeamLoaded:
    """The team directory: (display name, SIP URI) per member."""

    members: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class AudioState:
    """Where sound goes: ``device`` ("" = no sound card, calls still connect) and mute."""

    device: str
    muted: bool = False
    note: str = ""
    input: str = ""  # the microphone's device name


@dataclass(frozen=True)
class ConferenceSet:
    """These call ids now share one local conference (empty: none)."""

    ids: tuple[int, ...]


@dataclass(frozen=True)
class Message:
    """A SIP MESSAGE in (``dir`` "i") or out ("o"); ``status`` for ours:
    "sending", "sent" or the failure reason."""

    peer: str  # SIP URI of the other side
    dir: str
    text: str
    at: float = 0.0
    status: str = ""
    key: str = ""  # matches a "sending" message to its result


@dataclass(frozen=True)
class MessagesRead:
    """The conversation with ``peer`` was read: its unread count goes to 0."""

    peer: str


@dataclass(frozen=True)
class HistoryAdded:
    """A finished call was written to history (``kind``: in/out/missed/rejected)."""

    kind: str


@dataclass(frozen=True)
class MissedSeen:
    """The user looked at the history: the missed-call count starts again."""


@dataclass(frozen=True)
class OwnStatus:
    """The status we publish (and answer direct subscribers with)."""

    status: str


@dataclass(frozen=True)
class Log:
    """A line for the log pane and the headless log."""

    level: str  # "info" | "warning" | "error"
    text: str
    at: float = 0.0


Event = (RegState | CallAdded | CallProgress | CallEnded | CallRemoved | CallTurnedAway | CallInfoSet | DtmfSent | Presence
         | CallRedirected | RemoteReason | Recording | Voicemail | ContactsChanged
         | OwnStatus | TeamLoaded | HistoryAdded | MissedSeen | Message | MessagesRead | ConferenceSet | AudioState
         | Log)
