"""Presence documents (PIDF, RFC 3863, with RPID activities, RFC 4480) and
what they mean for a team member's status."""

from __future__ import annotations

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
    RFC 4480), or None when it is not one. Parsed with defusedxml: a
    document type declaration, entities or external references refuse the
    document (no entity expansion, no fetches), as does one over 64 KiB."""
    from xml.etree.ElementTree import ParseError

    import defusedxml.ElementTree as SafeET
    from defusedxml import DefusedXmlException

    if len(body) > MAX_PIDF:
        return None
    try:
        root = SafeET.fromstring(body, forbid_dtd=True)
    except (ParseError, DefusedXmlException, ValueError):
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
