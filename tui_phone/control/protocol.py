"""The control protocol, sans I/O: JSON lines in innovaphone's vocabulary.

``Decoder`` turns received bytes into messages (or one-line errors),
``to_command`` turns a message into the one Command vocabulary, ``reply``
builds the ``…Result`` answer. The server and the stdlib client do the I/O.
"""

from __future__ import annotations

import json
from typing import Any

from ..commands import (
    CallInfo,
    CallVoicemail,
    Command,
    Conference,
    ConnectCall,
    Mute,
    Record,
    SetAudio,
    DisconnectCall,
    Dtmf,
    Hold,
    MarkMessagesRead,
    MarkMissedSeen,
    PrepareCall,
    Result,
    Retrieve,
    SendSms,
    SetStatus,
    Split,
    StartCall,
    Transfer,
)

MAX_LINE = 64 * 1024

# Messages the server answers itself rather than turning into a Command.
# History, messages, contacts and the team: answered by control/records.py.
RECORDS = {"GetHistory", "GetMessages", "SearchContacts", "GetContact", "PutContact", "DeleteContact",
           "GetTeam", "MarkSeen"}
LOCAL = {"GetState", "Subscribe", "OpenUrl", *RECORDS}
REQUESTS = {
    "StartCall", "PrepareCall", "ConnectCall", "DisconnectCall", "CallInfo", "Hold",
    "Retrieve", "Dtmf", "Transfer", "SetStatus", "SendSms", "Conference", "Split", "Mute", "SetAudio",
    "Record", "CallVoicemail", *LOCAL,
}


class ProtocolError(ValueError):
    """A bad message: its text is sent back as ``{"mt": "Error", ...}``."""


def encode(msg: dict) -> bytes:
    try:
        return json.dumps(msg, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
    except UnicodeEncodeError:  # a lone surrogate echoed back from a request's src
        return json.dumps(msg, separators=(",", ":")).encode() + b"\n"


def error(text: str, src: Any = None) -> dict:
    msg = {"mt": "Error", "error": text}
    if src is not None:
        msg["src"] = src
    return msg


class Decoder:
    """Splits a byte stream into messages; a line over ``MAX_LINE`` is
    discarded up to its newline and reported once."""

    def __init__(self, max_line: int = MAX_LINE):
        self.max_line = max_line
        self._buf = bytearray()
        self._overflow = False

    def feed(self, data: bytes) -> list[dict | ProtocolError]:
        out: list[dict | ProtocolError] = []
        self._buf += data
        while True:
            nl = self._buf.find(b"\n")
            if nl < 0:
                if len(self._buf) > self.max_line:
                    if not self._overflow:
                        out.append(ProtocolError(f"line longer than {self.max_line // 1024} KiB"))
                    self._overflow = True
                    self._buf.clear()
                return out
            line, self._buf = bytes(self._buf[:nl]), self._buf[nl + 1:]
            if self._overflow:  # tail of an over-long line
                self._overflow = False
                continue
            if len(line) > self.max_line:
                out.append(ProtocolError(f"line longer than {self.max_line // 1024} KiB"))
            elif line.strip():
                out.append(_decode(line))


def _decode(line: bytes) -> dict | ProtocolError:
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        return ProtocolError("line is not valid UTF-8")
    try:
        msg = json.loads(text)
    except json.JSONDecodeError as e:
        return ProtocolError(f"invalid JSON: {e.msg}" + (f" column {e.colno}" if e.msg.endswith(" at") else ""))
    except RecursionError:
        return ProtocolError("invalid JSON: too deeply nested")
    except ValueError:  # e.g. an integer over Python's digit limit
        return ProtocolError("invalid JSON: a number is too large")
    if not isinstance(msg, dict):
        return ProtocolError("a message must be a JSON object")
    mt = msg.get("mt")
    if mt is None:
        return ProtocolError('missing "mt" (message type)')
    if not isinstance(mt, str):
        return ProtocolError('"mt" (message type) must be text')
    if mt not in REQUESTS:
        return ProtocolError(f"unknown mt {mt!r}")
    return msg


JSON_WORDS = {str: "text", int: "a whole number", bool: "true or false", dict: "an object", list: "a list",
              float: "a number", (int, float): "a number"}


def type_words(typ: type | tuple) -> str:
    """A JSON type as a reply says it: ``int`` → "a whole number"."""
    if typ in JSON_WORDS:
        return JSON_WORDS[typ]
    return " or ".join(JSON_WORDS.get(t, t.__name__) for t in typ) if isinstance(typ, tuple) else typ.__name__


def _field(msg: dict, key: str, typ: type | tuple, required: bool = False):
    value = msg.get(key)
    if value is None:
        if required:
            raise ProtocolError(f"{msg['mt']}: {key!r} is required")
        return None
    if isinstance(value, bool) and typ is not bool or not isinstance(value, typ):
        raise ProtocolError(f"{msg['mt']}: {key!r} must be {type_words(typ)}")
    return value


def dial_target(msg: dict, region: str = "US", external_prefix: str = "") -> str:
    """The target of StartCall/PrepareCall: exactly one of num, sip, txt."""
    from .. import links, numbers

    given = [k for k in ("num", "sip", "txt") if msg.get(k) not in (None, "")]
    if len(given) != 1:
        raise ProtocolError(f"{msg['mt']}: give exactly one of num, sip, txt")
    key = given[0]
    value = _field(msg, key, str)
    adjust = _field(msg, "adjust", bool) or False
    try:
        if key == "txt":
            kind, classified = links.classify_txt(value, region)
            if kind == "sip":
                key = "sip"
            elif ":" in value:  # a tel:/callto: link in txt: its number
                value = classified
        if key == "sip":
            link = links.parse_dial_string(value if "@" in value or value.startswith("sip")
                                           else f"sip:{value}", region)
            return link.uri
        digits = numbers.dialable(value)
    except ValueError as e:  # LinkError and NotDialable are ValueErrors
        raise ProtocolError(f"{msg['mt']}: {e}") from None
    if not digits.lstrip("+"):
        raise ProtocolError(f"{msg['mt']}: number is empty")
    if adjust and external_prefix:
        adjusted = numbers.adjust(digits, external_prefix, region)
        if adjusted != digits:
            return adjusted  # dialled as the PBX expects it: prefix + national number
    return numbers.normalize(digits, region)


def transfer_target(msg: dict, region: str = "US") -> str:
    """A Transfer's ``to``: a number or SIP URI, checked like any dial string
    (nothing unchecked reaches the Refer-To header)."""
    from .. import links

    to = _field(msg, "to", str, required=True)
    try:
        link = links.parse_dial_string(to, region)
    except ValueError as e:
        raise ProtocolError(f"Transfer: {e}") from None
    return link.uri or link.number


def to_command(msg: dict, region: str = "US", external_prefix: str = "") -> Command:
    """Turn a decoded request (not one of LOCAL) into a Command; the Command
    checks its own fields (a ValueError here is bad input)."""
    try:
        return _to_command(msg, region, external_prefix)
    except ValueError as e:
        if isinstance(e, ProtocolError):
            raise
        raise ProtocolError(f"{msg['mt']}: {e}") from None


def _to_command(msg: dict, region: str, external_prefix: str) -> Command:
    mt = msg["mt"]
    cid = _field(msg, "id", int)
    match mt:
        case "StartCall":
            return StartCall(dial_target(msg, region, external_prefix))
        case "PrepareCall":
            return PrepareCall(dial_target(msg, region, external_prefix))
        case "ConnectCall":
            return ConnectCall(cid)
        case "DisconnectCall":
            return DisconnectCall(cid)
        case "Hold":
            return Hold(cid)
        case "Retrieve":
            return Retrieve(cid)
        case "Dtmf":
            return Dtmf(_field(msg, "digits", str, required=True), cid)
        case "Transfer":
            replaces = _field(msg, "replaces", int)
            if replaces is not None:
                return Transfer("", cid, replaces)
            return Transfer(transfer_target(msg, region), cid)
        case "Conference":
            return Conference()
        case "Mute":
            on = _field(msg, "on", bool)
            return Mute(True if on is None else on)
        case "SetAudio":
            names = {k: _field(msg, k, str) for k in ("input", "output", "ring")}
            if all(v is None for v in names.values()):
                raise ProtocolError("SetAudio: give input, output or ring (a device name; \"\" = default)")
            return SetAudio(**names)
        case "Split":
            return Split(cid)
        case "Record":
            on = _field(msg, "on", bool)
            return Record(cid, True if on is None else on)
        case "CallVoicemail":
            return CallVoicemail(_field(msg, "account", str))
        case "SendSms":
            return SendSms(dial_target(msg, region, external_prefix), _field(msg, "text", str, required=True))
        case "SetStatus":
            return SetStatus(_field(msg, "status", str, required=True))
        case "CallInfo":
            return CallInfo(_field(msg, "id", int, required=True), _field(msg, "html", str),
                            _field(msg, "iframe", dict))
    raise ProtocolError(f"unknown mt {mt!r}")


def reply(msg: dict, result: Result) -> dict:
    out: dict[str, Any] = {"mt": f"{msg['mt']}Result"}
    if "src" in msg:
        out["src"] = msg["src"]
    out["ok"] = result.ok
    if result.ok and result.id is not None:
        out["id"] = result.id
    if result.pending:
        out["pending"] = result.pending
    if not result.ok:
        out["error"] = result.error
        out["kind"] = result.kind or "failed"
    return out


def to_message(command: Command) -> dict:
    """The request for ``command`` (the inverse of ``to_command``): what an
    attached view sends for a key the user pressed."""
    match command:
        case StartCall(target=target) | PrepareCall(target=target):
            return {"mt": type(command).__name__, "txt": target}
        case Transfer(to=to, id=cid, replaces=replaces):
            msg = {"mt": "Transfer", "id": cid}
            msg.update({"replaces": replaces} if replaces is not None else {"to": to})
            return msg
        case SendSms(to=to, text=text):
            return {"mt": "SendSms", "txt": to, "text": text}
        case CallInfo(id=cid, html=html, iframe=iframe):
            return {"mt": "CallInfo", "id": cid, "html": html, "iframe": iframe}
        case MarkMissedSeen():
            return {"mt": "MarkSeen"}
        case MarkMessagesRead(peer=peer):
            return {"mt": "MarkSeen", "peer": peer}
    fields = {k: v for k, v in vars(command).items() if v is not None}
    return {"mt": type(command).__name__, **fields}

