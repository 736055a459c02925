"""The one parser for links and dial strings (pure, no I/O).

Every entry point — argv, the control socket, HTTP, a paste into the dialpad —
turns text into a :class:`Link` here or gets a :class:`LinkError` whose message
is one line a person can read. The rules are DESIGN.md's "Link details":

- Schemes: ``tel:`` (RFC 3966), ``callto:``, ``sip:``/``sips:``,
  ``phone.systems://dialpad|call|authenticate``, ``zoomphonecall://N``,
  ``zoomphonesms://N``. Each may be written ``X:`` or ``X://``; an ``http://``
  or ``https://`` a browser put in front of one of them is stripped.
- Numbers keep only ``0-9 * #`` and a leading ``+``; separators ``- . ( )``
  and spaces (also ``%20``) are dropped; any other character rejects; more
  than 32 dialable characters reject. ``number`` is E.164 when phonenumbers
  finds it valid, else the dialable characters as given.
- Control characters anywhere, literal or percent-encoded, reject the link.
- Query values are percent-decoded with ``+`` kept literal; unknown
  parameters are ignored, a repeated known one rejects.

``urllib.parse.urlsplit`` is not used for splitting: it treats ``#`` (a digit
on a phone) as a fragment and silently drops tabs and newlines, which must
reject instead. Splitting is plain ``partition`` on ``:`` ``?`` ``&`` ``;``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from urllib.parse import unquote

from .numbers import NotDialable, dialable, is_control, normalize, show
from .uri import SipUri

MAX_LINK = 2048
"""Longest accepted link, in characters (a generous cap on hostile input)."""

_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")
_CALLERID = re.compile(r"[0-9]{2,8}|\+[0-9]{8,15}")
_CODE = re.compile(r"[A-Za-z0-9._-]{1,128}")
_DOMAIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?")
_HOSTPORT = re.compile(r"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)(?::[0-9]{1,5})?")
# RFC 3261 URI characters (unreserved, user-unreserved, param and separators);
# '<', '>', '"', spaces and the like could break out of a SIP header.
_SIP_CHARS = re.compile(r"[A-Za-z0-9\-_.!~*'()%&=+$,;/:@\[\]]*")
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
_TAG_LEN = 128


class LinkError(ValueError):
    """A rejected link or dial string; ``str()`` is the one-line reason."""


@dataclass(frozen=True, kw_only=True)
class Link:
    """A parsed link: what to do (``action``) and with what.

    ``action`` is ``call`` (dial now), ``dial`` (prefill the dialpad),
    ``sms`` or ``authenticate``. Numbers go in ``number``; SIP targets in
    ``uri`` (then ``number`` is None). ``scheme`` is the real scheme (None for
    a bare number typed or pasted), ``raw`` the input exactly as given.
    """

    action: str
    number: str | None = None
    uri: str | None = None
    callerid: str | None = None
    cat: str | None = None
    bind: str | None = None
    scheme: str | None
    raw: str
    ext: str | None = None
    context: str | None = None
    code: str | None = None

    @property
    def target(self) -> str | None:
        """What to dial: the SIP URI or the number."""
        return self.uri or self.number

    def to_json(self) -> dict:
        """The ``open --dry-run`` object of DESIGN.md."""
        out: dict = {"action": self.action, "number": self.number}
        if self.uri is not None:
            out["uri"] = self.uri
        out.update(callerid=self.callerid, cat=self.cat, bind=self.bind,
                   scheme=self.scheme, raw=self.raw)
        for key in ("ext", "context", "code"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        return out


def parse_link(raw: str, default_region: str = "US") -> Link:
    """Parse a link of one of the supported schemes, or raise :class:`LinkError`."""
    if not isinstance(raw, str):
        raise LinkError("a link must be text")
    return _parse(raw.strip(" "), raw, default_region)


def parse_dial_string(text: str, region: str = "US") -> Link:
    """What a user types or pastes to call: a link, a SIP URI, a bare
    ``user@host`` (taken as ``sip:user@host``) or a number with separators.

    Surrounding whitespace is ignored. The action is always ``call``; links
    that are not calls (``authenticate``, ``zoomphonesms``) are rejected.
    """
    if not isinstance(text, str):
        raise LinkError("a dial string must be text")
    s = text.strip()
    if not s:
        raise LinkError("nothing to dial")
    if _SCHEME.match(s):
        link = _parse(s, text, region)
        if link.action not in ("call", "dial"):
            raise LinkError(f"not something to call ({link.scheme} {link.action}): {show(text)}")
        return replace(link, action="call")
    if "@" in s:
        return _parse("sip:" + s, text, region)
    digits = _number(s, text, "dial string")
    return Link(action="call", number=normalize(digits, region), scheme=None, raw=text)


def classify_txt(txt: str, region: str = "US") -> tuple[str, str]:
    """innovaphone's free ``txt`` target: ``("sip", uri)`` for anything with
    ``@`` or a ``sip:``/``sips:`` URI, else ``("num", normalized number)``.
    Raises :class:`LinkError` when it is neither.
    """
    link = parse_dial_string(txt, region)
    return ("sip", link.uri) if link.uri else ("num", link.number)


# ----- the parser ---------------------------------------------------------------

def _parse(text: str, raw: str, region: str) -> Link:
    if not text:
        raise LinkError("empty link")
    if len(text) > MAX_LINK:
        raise LinkError(f"link is longer than {MAX_LINK} characters")
    _check_controls(text, raw)
    m = _SCHEME.match(text)
    if not m:
        raise LinkError(f"not a link (no scheme): {show(raw)}")
    scheme, rest = m[1].lower(), text[m.end():]
    if scheme in ("http", "https") and rest.startswith("//"):
        inner = _SCHEME.match(rest[2:])
        if inner and inner[1].lower() in _PARSERS:
            scheme, rest = inner[1].lower(), rest[2 + inner.end():]
    if scheme not in _PARSERS:
        raise LinkError(f"unsupported scheme {scheme!r}")
    rest = rest.removeprefix("//")
    return Link(scheme=scheme, raw=raw, **_PARSERS[scheme](scheme, rest, raw, region))


def _check_controls(text: str, raw: str) -> None:
    if any(map(is_control, text)) or any(map(is_control, unquote(text))):
        raise LinkError(f"control character in link: {show(raw)}")


def _decode(text: str, raw: str) -> str:
    """Percent-decode (``+`` stays a plus); an escape that is not UTF-8 rejects."""
    try:
        return unquote(text, errors="strict")
    except UnicodeDecodeError:
        raise LinkError(f"%-escape is not UTF-8: {show(raw)}") from None


def _number(text: str, raw: str, what: str) -> str:
    """The dialable characters of ``text``; empty or non-dialable rejects."""
    try:
        digits = dialable(text)
    except NotDialable as e:
        raise LinkError(f"number {e.reason}: {show(raw)}") from None
    if not digits.lstrip("+"):
        raise LinkError(f"{what}: number is empty")
    return digits


def _query(query: str, known: tuple[str, ...], scheme: str, raw: str) -> dict[str, str]:
    """The known parameters of a query, percent-decoded with ``+`` literal."""
    out: dict[str, str] = {}
    for part in query.split("&"):
        key, _, value = part.partition("=")
        key = _decode(key, raw).lower()
        if key not in known:
            continue
        if key in out:
            raise LinkError(f"{scheme}: {key!r} given twice: {show(raw)}")
        out[key] = _decode(value, raw)
    return out


def _callerid(value: str | None) -> str | None:
    if not value:
        return None
    if not _CALLERID.fullmatch(value):
        raise LinkError(f"callerid is neither an extension (2-8 digits) nor E.164: {show(value)}")
    return value


def _tag(name: str, value: str | None) -> str | None:
    """``cat`` and ``bind``: free printable text, at most 128 characters."""
    if not value:
        return None
    if len(value) > _TAG_LEN or not value.isprintable():
        raise LinkError(f"{name} must be printable text of at most {_TAG_LEN} characters")
    return value


def _tel(scheme: str, rest: str, raw: str, region: str) -> dict:
    """RFC 3966: ``;ext=`` to ``ext``; ``;phone-context=+CC…`` prefixed to an
    all-digit local number (otherwise kept in ``context``), a domain context
    kept in ``context``; other parameters ignored."""
    number, *params = rest.split(";")
    values: dict[str, str] = {}
    for param in params:
        name, _, value = param.partition("=")
        values.setdefault(name.strip().lower(), _decode(value, raw))
    digits = _number(_decode(number, raw), raw, scheme)
    ext = values.get("ext") or None
    if ext is not None:
        try:
            ext = dialable(ext) or None
        except NotDialable as e:
            raise LinkError(f"ext {e.reason}: {show(raw)}") from None
    context = values.get("phone-context") or None
    if context is not None and context.startswith("+"):
        try:
            prefix = dialable(context)
        except NotDialable as e:
            raise LinkError(f"phone-context {e.reason}: {show(raw)}") from None
        if digits.startswith("+"):
            context = None  # a global number needs no context
        elif digits.isdigit():
            digits, context = _number(prefix + digits, raw, scheme), None
        else:
            context = prefix
    elif context is not None and not _DOMAIN.fullmatch(context):
        raise LinkError(f"phone-context is neither +digits nor a domain: {show(raw)}")
    return {"action": "call", "number": normalize(digits, region), "ext": ext, "context": context}


def _callto(scheme: str, rest: str, raw: str, region: str) -> dict:
    """``callto:N`` or ``callto://N`` (one trailing ``/`` allowed); numbers only."""
    digits = _number(_decode(rest.removesuffix("/"), raw), raw, scheme)
    return {"action": "call", "number": normalize(digits, region)}


def _sip(scheme: str, rest: str, raw: str, region: str) -> dict:
    """``sip:``/``sips:``: headers (``?…``) and ``;method=`` dropped, other URI
    parameters kept; a host is required, and a user when ``@`` is present."""
    rest = rest.partition("?")[0]
    userinfo, at, hostpart = rest.rpartition("@")
    if at and ":" in userinfo:  # a password (RFC 3261 §19.1.1: NOT RECOMMENDED) never goes on the wire or to a log
        rest = f"{userinfo.partition(':')[0]}@{hostpart}"
    address, *params = rest.split(";")
    params = [p for p in params if p and p.partition("=")[0].lower() != "method"]
    if not address:
        raise LinkError(f"{scheme}: address is empty")
    uri = ";".join([address, *params])
    if not _SIP_CHARS.fullmatch(uri):
        bad = next(ch for ch in uri if not _SIP_CHARS.fullmatch(ch))
        raise LinkError(f"SIP address has {bad!r}: {show(raw)}")
    if _BAD_ESCAPE.search(uri):
        raise LinkError(f"SIP address has a broken %-escape: {show(raw)}")
    user, at, host = address.rpartition("@")
    if at and not user:
        raise LinkError(f"{scheme}: user before '@' is empty: {show(raw)}")
    if not _HOSTPORT.fullmatch(host):
        raise LinkError(f"{scheme}: bad host {host!r}")
    try:  # the phone's own reading (SipUri) must agree: a port of 0 or over 65535 passes the pattern
        SipUri.parse(f"{scheme}:{uri}")
    except ValueError:
        raise LinkError(f"{scheme}: bad port in {host!r}") from None
    return {"action": "call", "uri": f"{scheme}:{uri}"}


def _phone_systems(scheme: str, rest: str, raw: str, region: str) -> dict:
    """``phone.systems://call?number=`` (call), ``dialpad?number=`` (dial),
    ``authenticate?code=`` (1-128 of ``A-Z a-z 0-9 - _ .``)."""
    command, _, query = rest.partition("?")
    command = command.removesuffix("/").lower()
    params = _query(query, ("number", "code"), scheme, raw)
    if command in ("call", "dialpad"):
        if "number" not in params:
            raise LinkError(f"{scheme}: number is missing: {show(raw)}")
        digits = _number(params["number"], raw, scheme)
        return {"action": "call" if command == "call" else "dial",
                "number": normalize(digits, region)}
    if command == "authenticate":
        code = params.get("code", "")
        if not _CODE.fullmatch(code):
            raise LinkError("authentication code must be 1-128 of A-Z a-z 0-9 - _ .")
        return {"action": "authenticate", "code": code}
    if not command:
        raise LinkError(f"{scheme}: command is missing: {show(raw)}")
    raise LinkError(f"unknown phone.systems command {command!r}")


def _zoomphone(scheme: str, rest: str, raw: str, region: str) -> dict:
    """``zoomphonecall://N?callerid=&cat=&bind=`` and ``zoomphonesms://N?callerid=``."""
    target, _, query = rest.partition("?")
    digits = _number(_decode(target.removesuffix("/"), raw), raw, scheme)
    if scheme == "zoomphonesms":
        params = _query(query, ("callerid",), scheme, raw)
        return {"action": "sms", "number": normalize(digits, region),
                "callerid": _callerid(params.get("callerid"))}
    params = _query(query, ("callerid", "cat", "bind"), scheme, raw)
    return {"action": "call", "number": normalize(digits, region),
            "callerid": _callerid(params.get("callerid")),
            "cat": _tag("cat", params.get("cat")), "bind": _tag("bind", params.get("bind"))}


_PARSERS = {
    "tel": _tel,
    "callto": _callto,
    "sip": _sip,
    "sips": _sip,
    "phone.systems": _phone_systems,
    "zoomphonecall": _zoomphone,
    "zoomphonesms": _zoomphone,
}
