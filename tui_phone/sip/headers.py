"""Reading headers of a raw SIP message (pjsua2 hands us ``wholeMsg``)."""

from __future__ import annotations

import re

from ..uri import SipUri

COMPACT = {"i": "call-id", "m": "contact", "f": "from", "t": "to", "v": "via", "l": "content-length"}


def header_values(msg: str, name: str) -> list[str]:
    """Values of every ``name`` header (case-insensitive, compact forms too) in the head of ``msg``."""
    head = msg.split("\r\n\r\n", 1)[0]
    want = name.lower()
    out = []
    for line in head.split("\r\n")[1:]:
        key, sep, value = line.partition(":")
        key = key.strip().lower()
        if sep and COMPACT.get(key, key) == want:
            out.append(value.strip())
    return out


def reason_text(msg: str) -> str:
    """The Reason header (RFC 3326) for a person: ``Q.850;cause=17;text="User busy"``
    → ``User busy (Q.850 cause 17)``; several are joined with "; "."""
    parts = []
    for value in header_values(msg, "reason"):
        for item in re.split(r",(?=\s*[A-Za-z0-9.]+\s*;)", value):
            proto = item.split(";", 1)[0].strip()
            cause = re.search(r";\s*cause\s*=\s*(\d{1,5})", item)
            text = re.search(r';\s*text\s*=\s*"((?:[^"\\]|\\.)*)"', item)
            words = "".join(c for c in (text.group(1) if text else "") if c.isprintable())[:120]
            where = f"{proto} cause {cause.group(1)}" if cause else proto
            parts.append(f"{words} ({where})" if words else where)
    return "; ".join(p for p in parts if p)[:200]


def _place(uri: str) -> tuple[str, str, str] | None:
    """A URI without port and parameters, the way pjsua2's ``targetUri`` prints it."""
    try:
        sip = SipUri.parse(uri)
    except ValueError:
        return None
    return sip.scheme, sip.user.lower(), sip.host


def contact_for(target: str, msg: str) -> str:
    """The Contact URI of a 3xx that ``target`` came from, port included
    (pjsua2's ``targetUri`` prints without it); ``target`` when none matches."""
    want = _place(target)
    for value in header_values(msg, "contact"):
        for uri in re.findall(r"<([^>]+)>", value) or [value.split(";", 1)[0]]:
            if want is not None and _place(uri) == want:
                return uri.split("?", 1)[0]
    return target
