"""What the phone keeps, over the API: history, messages, contacts, the team.

The server answers these requests here (``answer``), so an attached TUI, a
CRM or a script sees what the in-process TUI sees. Database work runs in a
worker thread; bad input is an ok=false reply with a kind, never a traceback.
Change notices ride on every ModelUpdate as ``versions`` (history, messages,
contacts): a view re-reads when one bumps, which survives coalesced updates.
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict

from ..commands import MarkMessagesRead, MarkMissedSeen, Result
from ..contacts.model import LABELS, Contact, ContactError, Number
from ..history import KINDS, HistoryEntry
from ..events import Message
from ..uri import SipUri
from . import protocol

REQUESTS = protocol.RECORDS
MAX_LIMIT = 1000
CONTACT_TEXT = ("first", "last", "email", "job_title", "company", "sip_uri")


class BadRequest(ValueError):
    """The reason a request is refused (kind ``bad_input`` unless given)."""

    def __init__(self, text: str, kind: str = "bad_input"):
        super().__init__(text)
        self.kind = kind


def contact_json(c: Contact) -> dict:
    out = asdict(c)
    out["name"] = c.name
    return out


def contact_from(value, mt: str) -> Contact:
    """A Contact from a request's ``contact`` object (validated later by the database)."""
    if not isinstance(value, dict):
        raise BadRequest(f'{mt}: "contact" must be an object with first, last, company, numbers, …')
    unknown = set(value) - {*CONTACT_TEXT, "id", "numbers", "favorite", "team", "book", "name", "uid"}
    if unknown:
        raise BadRequest(f"{mt}: unknown contact field {sorted(unknown)[0]!r}")
    for key in CONTACT_TEXT:
        if not isinstance(value.get(key, ""), str):
            raise BadRequest(f"{mt}: contact {key} must be a string")
    cid = value.get("id")
    if cid is not None and (not isinstance(cid, int) or isinstance(cid, bool)):
        raise BadRequest(f"{mt}: contact id must be an integer")
    if not isinstance(value.get("favorite", False), bool):
        raise BadRequest(f"{mt}: contact favorite must be true or false")
    numbers = value.get("numbers", [])
    if not isinstance(numbers, list) or not all(
            isinstance(n, dict) and isinstance(n.get("typed"), str) and n.get("label", "other") in LABELS
            for n in numbers):
        raise BadRequest(f'{mt}: numbers must be a list of {{"label": {"|".join(LABELS)}, "typed": "…"}}')
    uid = value.get("uid", "")
    if not isinstance(uid, str) or len(uid) > 256:
        raise BadRequest(f"{mt}: contact uid must be a string (the vCard UID)")
    return Contact(cid, numbers=tuple(Number(n.get("label", "other"), n["typed"]) for n in numbers),
                   favorite=value.get("favorite", False), uid=uid, **{k: value.get(k, "") for k in CONTACT_TEXT})


def history_json(e: HistoryEntry) -> dict:
    return asdict(e)


def message_json(m: Message) -> dict:
    return {"peer": m.peer, "dir": m.dir, "text": m.text, "at": m.at, "status": m.status}


def same_peer(peer: str, target: str) -> bool:
    """Whether a message's peer URI is the number (user) or the address
    asked for, with or without its scheme; a port or transport tells two
    peers apart (``sip:bob@pbx`` is not ``sip:bob@pbx:5070``)."""
    if peer == target:
        return True
    try:
        uri = SipUri.parse(peer)
    except ValueError:
        return False
    if target and target == uri.user:
        return True
    for text in (target, f"{uri.scheme}:{target}"):  # "bob@pbx" is asked for without its scheme
        try:
            return uri.same_peer(SipUri.parse(text))
        except ValueError:
            pass
    return False


def _get(msg: dict, key: str, typ, default=None, required: bool = False):
    value = msg.get(key)
    if value is None:  # absent or null: the default
        value = default
    if required and value is None:
        raise BadRequest(f'{msg["mt"]}: "{key}" is required')
    if value is None:
        return None
    if not isinstance(value, typ) or (typ is not bool and isinstance(value, bool)):
        raise BadRequest(f'{msg["mt"]}: "{key}" must be {protocol.type_words(typ)}')
    if isinstance(value, int) and not isinstance(value, bool) and not -2**63 <= value < 2**63:
        raise BadRequest(f'{msg["mt"]}: "{key}" is out of range')
    if isinstance(value, str) and any(ord(ch) < 32 and ch not in "\t\n" for ch in value):
        raise BadRequest(f'{msg["mt"]}: "{key}" must not contain control characters')
    return value


def _limit(msg: dict, default: int) -> int:
    limit = _get(msg, "limit", int, default)
    if not 1 <= limit <= MAX_LIMIT:
        raise BadRequest(f'{msg["mt"]}: "limit" must be 1-{MAX_LIMIT}')
    return limit


async def answer(phone, msg: dict) -> dict:
    """The reply to one of ``REQUESTS``."""
    try:
        out = await _answer(phone, msg)
    except BadRequest as e:
        return protocol.reply(msg, Result.fail(str(e), e.kind))
    except ContactError as e:
        kind = "not_found" if str(e).startswith("no contact") else (
            "refused" if "team" in str(e) else "bad_input")
        return protocol.reply(msg, Result.fail(f"{msg['mt']}: {e}", kind))
    except OSError as e:  # the database file went away or the disk is full
        return protocol.reply(msg, Result.fail(f"{msg['mt']}: contacts database: {e.strerror or e}", "failed"))
    return {**protocol.reply(msg, Result(True)), **out}


async def _answer(phone, msg: dict) -> dict:
    mt = msg["mt"]
    if mt == "GetMessages":
        peer = _get(msg, "peer", str)
        found = [m for m in phone.state.messages if peer is None or same_peer(m.peer, peer)]
        unread = {p: n for p, n in phone.state.unread if peer is None or same_peer(p, peer)}
        return {"messages": [message_json(m) for m in found], "unread": unread}
    if mt == "MarkSeen":
        peer = _get(msg, "peer", str)
        if peer is not None and not peer.strip():
            raise BadRequest('MarkSeen: "peer" must be a number or SIP URI')
        result = await phone.execute(MarkMissedSeen() if peer is None else MarkMessagesRead(peer))
        if not result.ok:
            raise BadRequest(f"MarkSeen: {result.error}", result.kind or "failed")
        return {}
    if mt == "GetTeam":
        members = [{**contact_json(c), "status": phone.state.presence_of(phone.member_uri(c)) or "offline"}
                   for c in phone.team]
        return {"team": members}
    db = await asyncio.to_thread(lambda: phone.contacts)  # opened (and migrated) off the loop
    if mt == "GetHistory":
        limit = _limit(msg, 200)
        before = _get(msg, "before", (int, float))
        kind = "missed" if _get(msg, "missed_only", bool, False) else _get(msg, "kind", str)
        if kind is not None and kind not in KINDS:
            raise BadRequest(f'GetHistory: "kind" must be one of {", ".join(KINDS)}')
        entries = await asyncio.to_thread(db.history, kind, limit, before)
        return {"history": [history_json(e) for e in entries]}
    if mt == "SearchContacts":
        q, limit, team = _get(msg, "q", str, ""), _limit(msg, 500), _get(msg, "team", bool, True)
        found = await asyncio.to_thread(db.search, q, team, limit)
        return {"contacts": [contact_json(c) for c in found]}
    if mt in ("GetContact", "DeleteContact"):
        cid = _get(msg, "id", int, required=True)
        if mt == "DeleteContact":
            await asyncio.to_thread(db.delete, cid)
            return {}
        contact = await asyncio.to_thread(db.get, cid)
        if contact is None:
            raise BadRequest(f"GetContact: no contact with id {cid}", "not_found")
        return {"contact": contact_json(contact)}
    # PutContact: without an id a new contact, with one a replacement; a team
    # member (the PBX's) only takes a favorite star
    contact = contact_from(msg.get("contact"), mt)
    if contact.id is None:
        saved = await asyncio.to_thread(db.add, contact)
        return {"id": saved.id, "contact": contact_json(saved)}
    old = await asyncio.to_thread(db.get, contact.id)
    if old is None:
        raise BadRequest(f"PutContact: no contact with id {contact.id}", "not_found")
    if old.team:
        saved = await asyncio.to_thread(db.set_favorite, contact.id, contact.favorite)
    else:
        saved = await asyncio.to_thread(db.update, contact)
    return {"id": saved.id, "contact": contact_json(saved)}
