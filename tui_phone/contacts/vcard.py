"""vCard import (3.0, 4.0; 2.1 type flags too) and export (3.0) with vobject.

Import reads what a contact holds: N (else FN), ORG (first component), TITLE,
the first EMAIL, every TEL (CELL → mobile, WORK → work, HOME → home, anything
else → other; a 4.0 ``tel:`` URI loses its ``tel:`` and parameters), IMPP with
a ``sip:``/``sips:`` address, and ``X-TUI-PHONE-FAVORITE:1``. The text is split
into ``BEGIN:VCARD … END:VCARD`` blocks here and each block is parsed on its own,
so a broken card becomes one problem naming its first line and the others are
still imported. Cards pass the same validation as the contact form.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path

import vobject

from tui_phone.contacts.model import Contact, ContactError, Number, validate

FAVORITE = "X-TUI-PHONE-FAVORITE"
_LABEL_OF_TYPE = (("cell", "mobile"), ("work", "work"), ("home", "home"))
_TYPE_OF_LABEL = {"mobile": "CELL", "work": "WORK", "home": "HOME", "other": "VOICE"}


MAX_CARD = 1024 * 1024  # characters of one card: a few hundred, a photo tens of KiB


def _blocks(text: str) -> Iterator[tuple[int, str | None, str]]:
    """``(line, card text or None, problem)`` for each card or stray text, in order."""
    start, lines, stray = None, [], False
    for n, line in enumerate(text.splitlines(), 1):
        folded = line[:1].isspace()  # a folded continuation is never BEGIN or END
        tag = "" if folded else line.strip().upper()
        if tag == "BEGIN:VCARD":
            if start is not None:
                yield start, None, "BEGIN:VCARD without END:VCARD"
            start, lines = n, []
        if start is not None:
            lines.append(line)
            if tag == "END:VCARD":
                yield start, "\r\n".join(lines) + "\r\n", ""
                start = None
            stray = False
        elif line.strip() and not stray:
            yield n, None, "text outside a card"
            stray = True
    if start is not None:
        yield start, None, "BEGIN:VCARD without END:VCARD"


def _text(value) -> str:
    """A vobject value that may be a list of components, as one string."""
    if isinstance(value, (list, tuple)):
        return " ".join(str(v).strip() for v in value if str(v).strip())
    return str(value or "").strip()


def _first(card, name: str) -> str:
    entries = card.contents.get(name) or []
    return _text(entries[0].value) if entries else ""


def _label(tel) -> str:
    types = {t.strip().lower() for v in tel.params.get("TYPE", []) for t in v.split(",")}
    types |= {t.lower() for t in tel.singletonparams}
    return next((label for t, label in _LABEL_OF_TYPE if t in types), "other")


def _contact(card) -> Contact:
    first = last = ""
    if card.contents.get("n"):
        name = card.n.value
        first = " ".join(p for p in (_text(name.given), _text(name.additional)) if p)
        last = _text(name.family)
    orgs = card.contents.get("org") or []
    org = orgs[0].value if orgs else ""
    company = _text(org[0] if isinstance(org, (list, tuple)) and org else org)
    fn = _first(card, "fn")
    if not (first or last) and fn and fn != company:
        first, _, last = fn.rpartition(" ")
        first, last = (first, last) if first else (last, "")
    numbers = []
    for tel in card.contents.get("tel", []):
        value = _text(tel.value)
        if value.lower().startswith("tel:"):
            value = value[4:].split(";", 1)[0]
        if value:
            numbers.append(Number(_label(tel), value))
    sip_uri = next((_text(i.value) for i in card.contents.get("impp", [])
                    if re.match(r"sips?:", _text(i.value), re.I)), "")
    favorite = _first(card, FAVORITE.lower()).lower() in ("1", "true", "yes")
    return Contact(first=first, last=last, numbers=tuple(numbers), email=_first(card, "email"),
                   job_title=_first(card, "title"), company=company, favorite=favorite,
                   sip_uri=sip_uri, uid=_first(card, "uid")[:200])


def _decode(raw: bytes) -> tuple[str, str]:
    """The file's text and a note on how it was read ("" for plain UTF-8).
    vCard 4 is UTF-8, but Outlook writes UTF-16 and older tools Latin-1; one
    stray byte must not cost the whole file (found by an outside probe)."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return raw.decode("utf-16"), ""
        except UnicodeDecodeError:
            pass
    try:
        return raw.decode("utf-8-sig"), ""
    except UnicodeDecodeError:
        pass
    text = raw.decode("utf-8", errors="replace")
    bad = text.count("\ufffd")
    if bad * 20 <= sum(1 for b in raw if b >= 0x80):  # mostly UTF-8: a few broken bytes
        return text, f"{bad} byte(s) that are not UTF-8 were replaced with \ufffd"
    return raw.decode("latin-1"), "the file is not UTF-8: read as Latin-1 (ISO 8859-1)"


def read_vcards(text: str, region: str = "US", stop=None) -> tuple[list[Contact], list[str]]:
    """The good cards of ``text`` as validated contacts (no ids), and one problem
    per bad card, e.g. ``line 12: card has no name``. ``stop()`` true ends the
    reading with ContactError (asked every 100 cards: the phone is quitting)."""
    contacts, problems, uids = [], [], {}
    for n, (line, block, problem) in enumerate(_blocks(text)):
        if stop is not None and n % 100 == 0 and stop():
            raise ContactError("import cancelled: the phone is quitting (nothing was imported)")
        if block is None:
            problems.append(f"line {line}: {problem}")
            continue
        if len(block) > MAX_CARD:  # vobject takes ~140 bytes of memory per byte of a line
            problems.append(f"line {line}: card larger than {MAX_CARD // 1024} KiB (skipped)")
            continue
        try:
            card = vobject.readOne(block)
        except Exception as e:  # vobject raises many kinds on bad input; any is one bad card
            reason = re.sub(r"^At line \d+: ", "", str(e)) or type(e).__name__
            problems.append(f"line {line}: cannot read card: {reason}")
            continue
        try:
            contact = validate(_contact(card), region)
        except ContactError as e:
            reason = "card has no name (N, FN or ORG)" if e.field == "name" else str(e)
            problems.append(f"line {line}: {reason}")
            continue
        if contact.uid and contact.uid in uids:  # two people under one UID: merged, the first would be lost
            problems.append(f"{NOTE}line {line}: the same UID as the card at line {uids[contact.uid]}; "
                            "kept apart from it (matched by name and number instead)")
            contact = replace(contact, uid="")
        elif contact.uid:
            uids[contact.uid] = line
        contacts.append(contact)
    return contacts, problems


NOTE = "note: "
"""A problem line that skipped nothing (how the file was read, a UID given twice)."""


def import_summary(count: int, problems: list[str], added: int, path) -> str:
    """One line for an import: the cards read, how many were new contacts,
    how many updated one (or matched it unchanged), cards skipped, notes."""
    notes = sum(p.startswith(NOTE) for p in problems)
    skipped = len(problems) - notes
    return (f"imported {count} contact(s) from {path}: {added} new, {count - added} updated or already there"
            + (f"; {skipped} card(s) skipped" if skipped else "") + (f"; {notes} note(s)" if notes else ""))


def import_file(db, path: str | Path) -> tuple[int, list[str], int]:
    """Add the good cards of the vCard file ``path`` to the contacts database
    ``db`` (in one transaction; a card already there, by UID or by name and
    number, updates it): how many cards were good, one problem per skipped
    card (and notes), and how many of the cards were new contacts.
    Raises ContactError with a one-line reason when the file cannot be read
    or the database refuses a card (then none is added)."""
    path = Path(path).expanduser()
    try:
        text, note = _decode(path.read_bytes())
    except OSError as e:
        raise ContactError(f"{path}: cannot read: {getattr(e, 'strerror', None) or e}") from None
    contacts, problems = read_vcards(text, db.region, stop=lambda: getattr(db, "closed", False))
    problems = ([NOTE + note] if note else []) + problems
    try:
        added, _ = db.merge_many(contacts, validated=True)
    except ContactError as e:
        raise ContactError(f"{path}: {e}") from None
    return len(contacts), problems, added


def write_vcards(contacts: Iterable[Contact]) -> str:
    """vCard 3.0 text for ``contacts``; :func:`read_vcards` gives them back
    (ids and the team flag aside)."""
    out = []
    for c in contacts:
        card = vobject.vCard()
        card.add("n").value = vobject.vcard.Name(family=c.last, given=c.first)
        card.add("fn").value = c.name
        if c.company:
            card.add("org").value = [c.company]
        if c.job_title:
            card.add("title").value = c.job_title
        if c.email:
            email = card.add("email")
            email.value, email.type_param = c.email, "INTERNET"
        for n in c.numbers:
            tel = card.add("tel")
            tel.value, tel.type_param = n.typed, _TYPE_OF_LABEL[n.label]
        if c.sip_uri:
            card.add("impp").value = c.sip_uri
        if c.favorite:
            card.add(FAVORITE.lower()).value = "1"
        if c.uid:  # an export read back updates the same contacts (import matches by UID)
            card.add("uid").value = c.uid
        out.append(card.serialize())
    return "".join(out)


# ----- cards kept on a CardDAV server (contacts.sync) --------------------------------
# A card that came from a server is edited in place: only the properties behind a
# changed field are rewritten (from write_vcards' output), every other line keeps
# its bytes, folding and order. vobject cannot do that: its serializer upper-cases
# names and parameters, re-folds and re-orders, which would change what the phone
# does not understand (an X-ABLabel, a PHOTO, a NOTE).

_OWNED = (  # (Contact fields, their properties, only the first such line?)
    (("first", "last", "company"), ("N", "FN"), False),
    (("company",), ("ORG",), False),
    (("job_title",), ("TITLE",), False),
    (("email",), ("EMAIL",), True),
    (("numbers",), ("TEL",), False),
    (("sip_uri",), ("IMPP",), True),
)


def content_lines(text: str) -> list[str]:
    """A card's logical lines, each with its folded continuations (CRLF + space) kept."""
    lines: list[str] = []
    for line in text.replace("\r\n", "\n").split("\n"):
        if line[:1] in (" ", "\t") and lines:
            lines[-1] += "\r\n" + line
        elif line.strip():
            lines.append(line)
    return lines


def _property(line: str) -> str:
    """The property name of a content line, its group (``item1.``) dropped."""
    return re.split(r"[;:]", line, maxsplit=1)[0].rsplit(".", 1)[-1].upper()


def _owned(line: str, prop: str) -> bool:
    if _property(line) != prop:
        return False
    return prop != "IMPP" or bool(re.match(r"\s*sips?:", line.split(":", 1)[-1], re.I))


def merge_card(text: str, old: Contact, new: Contact) -> str:
    """The card ``text`` (which reads as ``old``) edited to read as ``new``."""
    lines = content_lines(text)
    fresh = content_lines(write_vcards([replace(new, favorite=False, uid="")]))
    for names, props, first_only in _OWNED:
        if all(getattr(old, n) == getattr(new, n) for n in names):
            continue
        for prop in props:
            at = [i for i, line in enumerate(lines) if _owned(line, prop)]
            at = set(at[:1] if first_only else at)
            where = min(at) if at else next(i for i, line in enumerate(lines) if line.upper() == "END:VCARD")
            out = []
            for i, line in enumerate(lines):
                if i == where:
                    out += [f for f in fresh if _owned(f, prop)]
                if i not in at:
                    out.append(line)
            lines = out
    return "\r\n".join(lines) + "\r\n"


def new_card(contact: Contact, uid: str) -> str:
    """A vCard 3.0 for a contact made on the phone, with ``uid``."""
    lines = content_lines(write_vcards([replace(contact, favorite=False, uid="")]))
    lines.insert(2, f"UID:{uid}")  # after BEGIN and VERSION
    return "\r\n".join(lines) + "\r\n"
