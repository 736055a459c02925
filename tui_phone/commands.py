"""The one vocabulary of commands.

The keyboard, the control socket, links and the HTTP listener all produce
these values; only the engine turns them into SIP. Names follow
innovaphone's phone API (``mt``) where it has one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class Source(str, Enum):
    """Where a command came from. Anything but KEYBOARD passes the dial policy."""

    KEYBOARD = "keyboard"
    SOCKET = "socket"
    LINK = "link"
    HTTP = "http"
    REDIRECT = "redirect"  # a 3xx target the far end sent us to


@dataclass(frozen=True)
class StartCall:
    """Dial ``target`` now: a number or a SIP URI. ``dtmf`` (a tel: link's
    ;ext=) is sent as DTMF shortly after the call connects."""

    target: str
    account: str | None = None
    callerid: str | None = None
    cat: str | None = None
    bind: str | None = None
    dtmf: str | None = None


@dataclass(frozen=True)
class PrepareCall:
    """Prefill the dialpad with ``target``; the user confirms."""

    target: str


@dataclass(frozen=True)
class ConnectCall:
    """Answer an alerting call (the newest when ``id`` is None)."""

    id: int | None = None


@dataclass(frozen=True)
class DisconnectCall:
    """Hang up (connected) or reject (alerting) a call; ``code`` for rejects."""

    id: int | None = None
    code: int | None = None


@dataclass(frozen=True)
class Hold:
    """Put a call on hold (the current one when ``id`` is None)."""

    id: int | None = None


@dataclass(frozen=True)
class Retrieve:
    """Take a held call back (the current held one when ``id`` is None)."""

    id: int | None = None


DTMF_DIGITS = "0123456789*#ABCD"


@dataclass(frozen=True)
class Dtmf:
    """Send ``digits`` (0-9, *, #, A-D; lower case a-d is taken as upper) on call ``id``."""

    digits: str
    id: int | None = None

    def __post_init__(self):
        if not isinstance(self.digits, str) or not self.digits \
                or any(d not in DTMF_DIGITS for d in self.digits.upper()):
            raise ValueError("digits must be 0-9, *, #, A-D")
        if len(self.digits) > 64:
            raise ValueError("at most 64 digits at once")
        object.__setattr__(self, "digits", self.digits.upper())


@dataclass(frozen=True)
class Transfer:
    """Blind transfer of call ``id`` to ``to``; with ``replaces`` (the id of our
    consultation call) an attended transfer: REFER with Replaces."""

    to: str = ""
    id: int | None = None
    replaces: int | None = None


STATUSES = ("available", "unavailable", "dnd")  # what a user sets; in-call and offline are automatic


@dataclass(frozen=True)
class SetStatus:
    """Own presence: ``available``, ``unavailable`` or ``dnd`` (set by the
    user; dnd also rejects calls), ``in-call`` (automatic while a call is live)."""

    status: str

    def __post_init__(self):
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}")


@dataclass(frozen=True)
class Watch:
    """Subscribe to the presence of these SIP URIs (the team)."""

    uris: tuple[str, ...]


@dataclass(frozen=True)
class Mute:
    """Stop (or resume) sending the microphone to every call."""

    on: bool = True


@dataclass(frozen=True)
class SetAudio:
    """Switch sound devices, during a call too: each a name substring as in
    ``[audio]`` ("" = the system default, None = keep)."""

    input: str | None = None
    output: str | None = None
    ring: str | None = None


@dataclass(frozen=True)
class Conference:
    """Merge every connected or held call into a local three-way conference."""


@dataclass(frozen=True)
class Split:
    """Leave the conference: keep call ``id`` (or the newest) talking, hold the others."""

    id: int | None = None


@dataclass(frozen=True)
class SendSms:
    """A text message (SIP MESSAGE, RFC 3428) to a number or SIP URI."""

    to: str
    text: str

    def __post_init__(self):
        if not isinstance(self.text, str) or not self.text.strip() or len(self.text) > 2000:
            raise ValueError("text must be 1-2000 characters")
        try:
            self.text.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("the message has characters that are not valid Unicode") from None


@dataclass(frozen=True)
class Record:
    """Start (or stop) recording call ``id`` (the connected one when None) to a WAV file."""

    id: int | None = None
    on: bool = True


@dataclass(frozen=True)
class CallVoicemail:
    """Dial the voicemail of ``account`` (the first one with messages, else the default)."""

    account: str | None = None


@dataclass(frozen=True)
class MarkMissedSeen:
    """The user looked at the history: the missed-call count starts again."""


@dataclass(frozen=True)
class MarkMessagesRead:
    """The user read the conversation with ``peer`` (a number or SIP URI of it)."""

    peer: str

    def __post_init__(self):
        if not isinstance(self.peer, str) or not self.peer.strip():
            raise ValueError("peer must be a number or SIP URI")


@dataclass(frozen=True)
class CallInfo:
    """Show a call's info panel: HTML text or an iframe, as innovaphone's CallInfo."""

    id: int
    html: str | None = None
    iframe: dict | None = field(default=None, hash=False)


Command = (
    StartCall | PrepareCall | ConnectCall | DisconnectCall | Hold | Retrieve | Dtmf
    | Transfer | SetStatus | Watch | SendSms | Conference | Split | Mute | CallInfo | Record | CallVoicemail
    | MarkMissedSeen | MarkMessagesRead
)

# Commands only the engine can carry out (they become SIP).
ENGINE_COMMANDS = (StartCall, ConnectCall, DisconnectCall, Hold, Retrieve, Dtmf, Transfer, SetStatus, Watch,
                   SendSms, Conference, Split, Mute, SetAudio, Record)


# Why a command failed; the HTTP status and the CLI exit code come from these tables.
KINDS = ("bad_input", "needs_confirmation", "refused", "not_found", "conflict", "busy", "failed")
HTTP_STATUS = {"bad_input": 400, "needs_confirmation": 202, "refused": 403, "not_found": 409, "conflict": 409,
               "busy": 503, "failed": 502}
EXIT_CODE = {"bad_input": 2, "needs_confirmation": 0, "refused": 1, "not_found": 1, "conflict": 1, "busy": 1,
             "failed": 1}


@dataclass(frozen=True)
class Result:
    """What a command did: ``ok`` with the call ``id``, or an ``error`` line
    (one sentence for a person) with its ``kind`` (one of ``KINDS``);
    ``pending`` says why an accepted command waits for the user."""

    ok: bool
    id: int | None = None
    error: str | None = None
    pending: str | None = None
    kind: str | None = None

    @classmethod
    def fail(cls, error: str, kind: str = "failed") -> "Result":
        assert kind in KINDS, kind
        return cls(False, None, error, kind=kind)
