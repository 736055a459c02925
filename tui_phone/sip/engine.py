"""The engine interface and the plain-data events it emits.

Events carry str/int/float/enum only, never pjsua2 objects, so the store,
the UI and the control server can hold them on any thread.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from concurrent.futures import Future
from dataclasses import dataclass
from enum import Enum
from typing import Callable

from ..commands import Command, Result


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
    account: str
    registered: bool
    code: int = 0
    reason: str = ""
    expires: int = 0


@dataclass(frozen=True)
class CallAdded:
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
    id: int
    state: CallState
    code: int = 0
    reason: str = ""
    at: float = 0.0


@dataclass(frozen=True)
class CallEnded:
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
class CallInfoSet:
    """Context an app attached to a call (innovaphone CallInfo): plain text
    (sanitized from its HTML) and/or a link (its iframe src)."""

    id: int
    text: str | None = None
    link: str | None = None


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
    level: str  # "info" | "warning" | "error"
    text: str
    at: float = 0.0


Event = (RegState | CallAdded | CallProgress | CallEnded | CallRemoved | CallInfoSet | Presence
         | CallRedirected | RemoteReason | Recording | Voicemail
         | OwnStatus | TeamLoaded | HistoryAdded | MissedSeen | Message | MessagesRead | ConferenceSet | AudioState
         | Log)

Emit = Callable[[Event], None]


class Engine(ABC):
    """Owns the SIP stack. ``emit`` is called from the engine's own thread;
    the caller decides how to move events to its loop."""

    @abstractmethod
    def start(self, emit: Emit) -> None:
        """Start the stack and register accounts; returns once it is ready."""

    @abstractmethod
    def stop(self) -> None:
        """Hang up live calls (BYE), unregister and destroy the stack."""

    @abstractmethod
    def submit(self, command: Command) -> "Future[Result]":
        """Queue a command; thread-safe. The future resolves once the engine
        has acted on it (a call id, or an error line)."""

    def audio_levels(self) -> "tuple[float, float] | None":
        """(microphone, speaker) level 0..1 of the last 20 ms, for a meter;
        None without a sound device. Any thread, cheap: polled by the UI."""
        return None


_NAME_ADDR = re.compile(r'^\s*(?:"((?:[^"\\]|\\.)*)"|([^<"]*?))\s*<([^>]*)>')


IN_CALL_ACTIVITIES = {"busy", "on-the-phone"}
UNAVAILABLE_ACTIVITIES = {"away", "appointment", "meeting", "vacation", "holiday", "sleeping",
                          "permanent-absence", "in-transit", "travel", "busy-dnd"}


def presence_status(online: bool, activities: set[str] | str, note: str) -> str:
    """Map PIDF basic status + RPID activities + note to the four team states
    (seed 003): offline when closed; in-call for busy/on-the-phone; unavailable
    for away-like activities or a note saying so; else available."""
    if not online:
        return "offline"
    acts = {activities} if isinstance(activities, str) else set(activities)
    text = note.lower()
    if acts & IN_CALL_ACTIVITIES or any(w in text for w in ("in call", "in-call", "on the phone")):
        return "in-call"
    if acts & UNAVAILABLE_ACTIVITIES or any(w in text for w in ("unavailable", "away", "do not disturb")):
        return "unavailable"
    return "available"


MAX_PIDF = 64 * 1024


def parse_pidf(body: str) -> tuple[bool, set[str], str] | None:
    """(open?, RPID activities, first note) from a PIDF document (RFC 3863,
    RFC 4480), or None when it is not one. Documents with a DOCTYPE or
    entities, or over 64 KiB, are refused (no entity expansion attacks)."""
    import xml.etree.ElementTree as ET

    if len(body) > MAX_PIDF or "<!DOCTYPE" in body or "<!ENTITY" in body:
        return None
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return None
    if not root.tag.endswith("}presence") and root.tag != "presence":
        return None
    local = lambda el: el.tag.rsplit("}", 1)[-1]  # noqa: E731
    online, activities, notes = False, set(), []
    for el in root.iter():
        name = local(el)
        if name == "basic" and (el.text or "").strip().lower() == "open":
            online = True
        elif name == "activities":
            activities |= {local(child) for child in el if local(child) != "other"}
        elif name == "note" and (el.text or "").strip():
            notes.append(" ".join(el.text.split())[:200])
    return online, activities, notes[0] if notes else ""


def parse_remote(remote: str) -> tuple[str, str, str]:
    """Split a From/To value into (uri, num, display name).

    ``'"Charlie" <sip:200@pbx>;tag=1'`` → ``("sip:200@pbx", "200", "Charlie")``.
    ``num`` is the user part when it is dialable (digits, ``*#+``), else "".
    """
    m = _NAME_ADDR.match(remote)
    if m:
        dn = (m.group(1) if m.group(1) is not None else m.group(2) or "").replace('\\"', '"')
        uri = m.group(3)
    else:
        dn, uri = "", remote.split(";", 1)[0].strip()
    user = uri.split(":", 1)[-1].split("@", 1)[0] if "@" in uri else ""
    user = user.split(";", 1)[0]
    num = user if user and re.fullmatch(r"[0-9*#+]+", user) else ""
    return uri, num, dn.strip()
