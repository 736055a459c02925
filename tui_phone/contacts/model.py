"""Contacts as values: ``Number``, ``Contact``, ``ContactError`` and the one
validation every way in (the form, vCard import, the team directory) goes through.

Rules (:func:`validate`):

- a contact has a first name, a last name or a company;
- text fields are stripped and hold no control characters;
- each number has a label in ``LABELS``, passes :func:`numbers.dialable` and holds
  a digit; it is kept as typed (stripped) and as E.164 by :func:`numbers.normalize`
  in the default region (numbers phonenumbers cannot place, like ``200`` or ``*86``,
  keep their dialable form there);
- an email, when given, looks like ``local@domain.tld``;
- a SIP URI, when given, is ``sip:…`` or ``sips:…``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from tui_phone.numbers import NotDialable, dialable, is_control, normalize, show


LABELS = ("mobile", "work", "home", "other")
"""Number labels, in the order a form offers them."""

_EMAIL = re.compile(r"[^@\s]+@[^@\s.]+(\.[^@\s.]+)+")
_SIP_URI = re.compile(r"sips?:\S+")


class ContactError(ValueError):
    """A one-line, user-facing problem with a contact, naming the field
    (``field``: ``name``, ``first``, ``email``, ``number 2``, … or None)."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field

    def within(self, where: str) -> ContactError:
        """The same problem placed, e.g. ``contact 3: email: …``."""
        placed = ContactError(f"{where}: {self}")
        placed.field = self.field
        return placed


@dataclass(frozen=True)
class Number:
    """A phone number as the user typed it, and its E.164 form ('' until validated)."""

    label: str
    typed: str
    e164: str = ""


@dataclass(frozen=True)
class Contact:
    """An external contact (``team`` False) or a read-only team member from the PBX
    directory (``team`` True). ``id`` is None until stored. ``book`` is read from
    the sync's records; storing a contact never changes it."""

    id: int | None = None
    first: str = ""
    last: str = ""
    numbers: tuple[Number, ...] = ()
    email: str = ""
    job_title: str = ""
    company: str = ""
    favorite: bool = False
    team: bool = False
    sip_uri: str = ""
    book: str = ""
    """The ``[[addressbooks]]`` name it is synced with ('' = on this phone only)."""
    uid: str = ""  # the vCard UID it was imported with: a second import updates it (stored, not read back)

    @property
    def name(self) -> str:
        """What a list shows: "First Last", else the company."""
        return " ".join(p for p in (self.first, self.last) if p) or self.company


MAX_TEXT = 256  # characters of a name, company, title or SIP address (an email has 254)


def _text(value: str, field: str) -> str:
    if not isinstance(value, str):
        raise ContactError(f"must be text (got {type(value).__name__})", field)
    value = value.strip()
    if len(value) > MAX_TEXT:  # a 100,000-character surname made every search reply 200 KB (outside probe)
        raise ContactError(f"longer than {MAX_TEXT} characters: {show(value)}", field)
    # isprintable() is False for every control/format/separator character (and more): check those one by one
    if not value.isprintable() and any(is_control(ch) for ch in value):
        raise ContactError(f"has a control character: {show(value)}", field)
    return value


def validate_number(number: Number, region: str, field: str = "number") -> Number:
    """``number`` with its typed form stripped and its E.164 form filled in."""
    if number.label not in LABELS:
        raise ContactError(f"label must be one of {', '.join(LABELS)} (got {number.label!r})", field)
    typed = _text(number.typed, field)
    try:
        dial = dialable(typed)
    except NotDialable as e:
        raise ContactError(str(e).removeprefix("number "), field) from None
    if not any(ch.isdigit() for ch in dial):
        raise ContactError(f"has no digits: {show(typed)}" if typed else "is empty", field)
    return Number(number.label, typed, normalize(dial, region))


def validate(contact: Contact, region: str) -> Contact:
    """``contact`` cleaned up by the rules above, or :class:`ContactError`."""
    first, last = _text(contact.first, "first"), _text(contact.last, "last")
    company = _text(contact.company, "company")
    if not (first or last or company):
        raise ContactError("a contact needs a first name, a last name or a company", "name")
    email = _text(contact.email, "email")
    if email and (len(email) > 254 or not _EMAIL.fullmatch(email)):
        raise ContactError(f"not an email address: {show(email)}", "email")
    sip_uri = _text(contact.sip_uri, "sip_uri")
    if sip_uri and not _SIP_URI.fullmatch(sip_uri):
        raise ContactError(f"not a sip: or sips: URI: {show(sip_uri)}", "sip_uri")
    numbers = tuple(validate_number(n, region, f"number {i}")
                    for i, n in enumerate(contact.numbers, 1))
    return replace(contact, first=first, last=last, company=company, email=email,
                   sip_uri=sip_uri, job_title=_text(contact.job_title, "job_title"),
                   numbers=numbers, favorite=bool(contact.favorite), team=bool(contact.team))
