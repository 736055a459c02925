"""SIP addresses, parsed once where text enters (engine callbacks, links,
config, the API) and passed on as values.

``SipUri.parse("sip:bob@127.0.0.1:21070;transport=tcp")`` keeps every part,
port and parameters included, so a caller can be called back exactly where
they came from; ``str()`` gives the URI back. ``name_addr`` splits a From,
To or Contact value (``"Bob" <sip:bob@pbx>;tag=1``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote

_NAME_ADDR = re.compile(r'^\s*(?:"((?:[^"\\]|\\.)*)"|([^<"]*?))\s*<([^>]*)>')
_DIALABLE = re.compile(r"[0-9*#+]+")


@dataclass(frozen=True)
class SipUri:
    scheme: str  # "sip" or "sips"
    user: str  # as written (percent-escapes kept); "" for sip:host
    host: str  # a name, an IPv4 address or [an IPv6 one]
    port: int | None = None
    params: tuple[tuple[str, str], ...] = ()  # ;key=value (value "" for a bare ;lr)

    @classmethod
    def parse(cls, text: str) -> "SipUri":
        """A sip:/sips: URI, or ValueError with a sentence."""
        text = text.strip()
        scheme, sep, rest = text.partition(":")
        scheme = scheme.lower()
        if not sep or scheme not in ("sip", "sips"):
            raise ValueError(f"not a SIP address: {text!r}")
        rest = rest.split("?", 1)[0]  # URI headers are never kept
        # "@" only ever ends the user part, which may hold ";" (sip:911;isub=1@gw)
        user, _, rest = rest.rpartition("@")
        hostport, *params = rest.split(";")
        if hostport.startswith("["):
            host, close, tail = hostport.partition("]")
            host += close
            port_text = tail[1:] if tail.startswith(":") else ("" if not tail else None)
            if not close:
                port_text = None  # "[::1" without its bracket
        else:
            host, _, port_text = hostport.partition(":")
            port_text = port_text if ":" in hostport else ""
        if not host or port_text is None or any(c.isspace() for c in text):
            raise ValueError(f"not a valid SIP address: {text!r}")
        port = None
        if port_text:
            if not port_text.isdigit() or not 0 < int(port_text) < 65536:
                raise ValueError(f"not a valid port in {text!r}")
            port = int(port_text)
        pairs = tuple((k.strip().lower(), v.strip()) for k, _, v in (p.partition("=") for p in params if p))
        return cls(scheme, user, host.lower(), port, pairs)

    def __str__(self) -> str:
        out = f"{self.scheme}:" + (f"{self.user}@" if self.user else "") + self.host_port
        return out + "".join(f";{k}={v}" if v else f";{k}" for k, v in self.params)

    @property
    def host_port(self) -> str:
        return self.host + (f":{self.port}" if self.port else "")

    @property
    def plain_user(self) -> str:
        """The user part alone: percent-decoded, without user parameters or a
        password (``911`` of ``sip:911;isub=1:pw@gw``, which dials 911)."""
        return unquote(self.user.split(";", 1)[0].partition(":")[0])

    @property
    def number(self) -> str:
        """The plain user part when it is a number (digits, ``*#+``), else ""."""
        return self.plain_user if _DIALABLE.fullmatch(self.plain_user) else ""

    def param(self, key: str) -> str | None:
        return next((v for k, v in self.params if k == key), None)

    def same_peer(self, other: "SipUri") -> bool:
        """The same user at the same place (scheme, user, host, port and transport)."""
        return (self.scheme, unquote(self.user), self.host, self.port or 0, self.param("transport") or "udp") == \
            (other.scheme, unquote(other.user), other.host, other.port or 0, other.param("transport") or "udp")


def name_addr(value: str) -> tuple[SipUri | None, str]:
    """A From/To/Contact value as (URI, display name); the URI is None when
    the value holds no SIP address (a tel: URI, say)."""
    m = _NAME_ADDR.match(value)
    if m:
        dn = (m.group(1) if m.group(1) is not None else m.group(2) or "").replace('\\"', '"').strip()
        text = m.group(3)
    else:
        dn, text = "", value.split(";", 1)[0].strip()
    try:
        return SipUri.parse(text), dn
    except ValueError:
        return None, dn


def callback_target(from_: str, contact: str) -> str:
    """Where to call a caller back: their From URI, with the port (and
    transport) of their Contact when both name the same host. pjsua prints
    From without its port (``sip:bob@127.0.0.1`` for ``…:21070``); a call
    through a PBX keeps the PBX's From, never the device's Contact."""
    uri, _ = name_addr(from_)
    where, _ = name_addr(contact)
    if uri is None:
        return parse_remote(from_)[0]
    if where is not None and where.host == uri.host and not uri.port:
        transport = where.param("transport")
        uri = SipUri(uri.scheme, uri.user, uri.host, where.port,
                     tuple(p for p in uri.params if p[0] != "transport") + ((("transport", transport),) if transport else ()))
    return str(uri)


def parse_remote(remote: str) -> tuple[str, str, str]:
    """(uri, number, display name) of a From/To value, as the events carry them.

    ``'"Charlie" <sip:200@pbx:5070>;tag=1'`` → ``("sip:200@pbx:5070", "200", "Charlie")``.
    """
    uri, dn = name_addr(remote)
    if uri is None:
        m = _NAME_ADDR.match(remote)
        return (m.group(3) if m else remote.split(";", 1)[0].strip()), "", dn
    return str(uri), uri.number, dn


def who(remote: str) -> str:
    """Who an address (a URI or a From/To value) names, for a person: the
    user part (``bob`` of ``"Bob" <sip:bob@pbx>``), the host[:port] when it
    has none, the text after the scheme when it is no SIP address
    (``+4930…`` of ``tel:+4930…``)."""
    uri, _ = name_addr(remote)
    if uri is None:
        text = parse_remote(remote)[0]
        return text.partition(":")[2] or text
    return uri.user or uri.host_port


def shown(uri: str) -> str:
    """A SIP address for a person: without ``sip:``, which says nothing there
    (``sips:`` stays: it says the line is encrypted)."""
    return uri.removeprefix("sip:")


def host_port(uri: str) -> str:
    """host[:port] of a SIP URI string ("" when it is not one)."""
    try:
        return SipUri.parse(uri).host_port
    except ValueError:
        return ""
