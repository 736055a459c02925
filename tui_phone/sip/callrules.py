"""What happens to an incoming call before it rings: do not disturb,
forwarding (answered 302 with the target as Contact) and auto-answer.
Pure decisions on plain values; the engine carries them out."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..config import Config
from ..uri import name_addr
from .headers import header_values


@dataclass(frozen=True)
class Screen:
    """``action``: "ring", "reject" (``code``), "forward" (to ``target``) or "answer"."""

    action: str
    code: int = 0
    target: str = ""
    why: str = ""


def screen(config: Config, status: str, busy: bool) -> Screen:
    """The first rule that applies: dnd, forward always, forward busy; else ring."""
    fwd = config.forward
    if status == "dnd":
        return Screen("reject", config.answer["dnd_code"], why="do not disturb")
    if fwd["always"]:
        return Screen("forward", 302, fwd["always"], "forward always")
    if busy and fwd["busy"]:
        return Screen("forward", 302, fwd["busy"], "forward when busy")
    return Screen("ring")


def intercom(msg: str) -> bool:
    """The INVITE asks to be answered at once (Call-Info answer-after=0 or an
    Alert-Info auto-answer), as PBX paging and intercom calls do."""
    return (any(re.search(r";\s*answer-after\s*=\s*0\b", v, re.I) for v in header_values(msg, "call-info"))
            or any(re.search(r"auto-?answer", v, re.I) for v in header_values(msg, "alert-info")))


def same_host(src: str, uri: str) -> bool:
    """``src`` (ip:port a request came from) is the host:port of ``uri``
    (the registrar or proxy); port 5060 when the URI has none."""
    where, _ = name_addr(uri)
    return bool(src) and where is not None and src.lower() == f"{where.host}:{where.port or 5060}"
