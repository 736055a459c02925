"""Phone numbers: dialable characters, E.164 normalisation, the external line
prefix, emergency and confirm checks.

A *dialable* string holds only ``0-9 * #`` and a leading ``+``. Everything
that reaches the SIP engine as a number has passed :func:`dialable`.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable, Iterable



class _LazyPhonenumbers:
    """phonenumbers (~25 ms to import) loads at the first number to judge, not at start-up."""

    def __getattr__(self, name: str):
        import phonenumbers
        from phonenumbers import shortnumberinfo  # noqa: F401  (a submodule attribute below)

        globals()["phonenumbers"] = phonenumbers
        return getattr(phonenumbers, name)


phonenumbers = _LazyPhonenumbers()

MAX_DIGITS = 32
"""Longest accepted number, counted in dialable characters."""

EXTENSION_DIGITS = 8
"""Longest internal extension; longer digit strings are public numbers."""

SEPARATORS = frozenset("-.()")
"""Visual separators dropped from numbers (besides any kind of space)."""

_DIALABLE = frozenset("0123456789*#+")
_PLAIN = re.compile(r"\+?[0-9*#(). -]*")
_PLAIN_SEPARATORS = re.compile(r"[(). -]")


class NotDialable(ValueError):
    """A number with a character that cannot be dialled, or too long.

    ``reason`` completes the sentence "number …", e.g. ``has a letter``.
    """

    def __init__(self, reason: str, text: str):
        super().__init__(f"number {reason}: {show(text)}")
        self.reason = reason


def show(text: str, limit: int = 60) -> str:
    """Quote user text for a one-line message (escapes controls, shortens)."""
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return repr(text)


def is_control(ch: str) -> bool:
    """Control, format (bidi, zero-width), line/paragraph separator or surrogate."""
    return unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Zl", "Zp")


def dialable(text: str) -> str:
    """The dialable characters of ``text``.

    Drops visual separators ``- . ( )`` and spaces (any Unicode space, e.g. the
    no-break space of a copied number). Raises :class:`NotDialable` on any other
    character (letters — no vanity mapping —, ``$ ; & / < >``, controls), on a
    ``+`` that is not the first character, and on more than ``MAX_DIGITS``
    dialable characters. ``""`` gives ``""``; the caller decides about empty.
    """
    if _PLAIN.fullmatch(text):  # the usual shape, in one pass (a bulk import judges every number)
        plain = _PLAIN_SEPARATORS.sub("", text)
        if len(plain) <= MAX_DIGITS:
            return plain
    out = []
    for ch in text:
        if ch in _DIALABLE:
            if ch == "+" and out:
                raise NotDialable("has '+' after the start", text)
            out.append(ch)
        elif is_control(ch):
            raise NotDialable("has a control character", text)
        elif ch in SEPARATORS or ch.isspace():
            continue
        elif ch.isalpha():
            raise NotDialable("has a letter", text)
        else:
            raise NotDialable(f"has {ch!r}", text)
    if len(out) > MAX_DIGITS:
        raise NotDialable(f"is longer than {MAX_DIGITS} digits", text)
    return "".join(out)


def _parse(number: str, region: str) -> phonenumbers.PhoneNumber | None:
    """phonenumbers' reading of a plain digit string, or None."""
    if not (number.lstrip("+").isdigit() and number.isascii()):
        return None  # `*`, `#` and the like are service codes, never E.164
    try:
        return phonenumbers.parse(number, region.upper() if region else None)
    except phonenumbers.NumberParseException:
        return None


def _valid(number: str, region: str) -> bool:
    parsed = _parse(number, region)
    return parsed is not None and phonenumbers.is_valid_number(parsed)


def normalize(number: str, region: str) -> str:
    """E.164 when phonenumbers finds ``number`` valid in ``region`` (or in its own
    ``+`` country); otherwise ``number`` unchanged (extensions, ``*86``,
    ``0049…`` under US, numbers phonenumbers does not know).

    ``number`` is expected to be :func:`dialable` already. Answers are cached
    per (number, region); :func:`_plain_e164` answers the common shapes
    without phonenumbers' full parse (a bulk import of 100,000 contacts spent
    most of its time there).
    """
    return _normalize(number, (region or "").upper())


@functools.lru_cache(maxsize=4096)
def _normalize(number: str, region: str) -> str:
    e164 = _plain_e164(number, region)
    if e164 is None:
        parsed = _parse(number, region)
        if parsed is not None and phonenumbers.is_valid_number(parsed):
            e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    if e164 is not None and len(e164) <= 16:  # E.164 allows 15 digits; phonenumbers can "validate" longer German ones
        return e164
    return number


def _plain_e164(number: str, region: str) -> str | None:
    """The E.164 form of ``number`` when it is plainly valid: ``+`` and a valid
    number of its country's main region, or national digits (no trunk,
    international or country prefix in front) valid in ``region``. None
    means "ask phonenumbers" (it also finds numbers of a country's other
    regions, strips prefixes and knows the exceptions); it never means
    invalid. tests/unit/test_numbers.py holds this to phonenumbers' answer."""
    if not (number.isascii() and number.lstrip("+").isdigit()) or len(number) < 3:
        return None
    if number[0] == "+":
        for size in (1, 2, 3):
            regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(int(number[1:1 + size]))
            if regions:
                break
        else:
            return None
        code, national, region = int(number[1:1 + size]), number[1 + size:], regions[0]
    else:
        code, national = _country_code(region), number
        if not code or national.startswith(str(code)):
            return None
    rules = _region_rules(region)
    if rules is None or national[:1] in ("", "0"):
        return None
    prefixed, leading, valid = rules
    if (prefixed is not None and prefixed.match(national)) or (leading is not None and not leading.match(national)):
        return None
    return f"+{code}{national}" if valid(national) else None


_TYPES = ("premium_rate", "toll_free", "shared_cost", "voip", "personal_number", "pager", "uan", "voicemail",
          "fixed_line", "mobile")
"""The number types phonenumbers' ``is_valid_number_for_region`` tries (a number of any of them is valid)."""


@functools.lru_cache(maxsize=None)
def _region_rules(region: str) -> tuple[re.Pattern | None, re.Pattern | None, Callable[[str], bool]] | None:
    """For :func:`_plain_e164`, compiled once per region: a pattern for what
    phonenumbers might strip from the front of a national number (trunk or
    international prefix), the region's leading digits, and its validity test:
    phonenumbers' own (the general pattern, then each type's, each only at
    that type's lengths), with the type patterns joined per length into one."""
    meta = phonenumbers.PhoneMetadata.metadata_for_region(region)
    if meta is None:
        return None
    prefixes = [p for p in (meta.national_prefix_for_parsing, meta.national_prefix, meta.international_prefix) if p]

    def desc(d) -> tuple[frozenset, str] | None:
        return (frozenset(d.possible_length), d.national_number_pattern) if d and d.national_number_pattern else None

    general = desc(meta.general_desc)
    types = [t for t in (desc(getattr(meta, name)) for name in _TYPES) if t]
    by_length = {}
    for size in range(1, 18):
        patterns = [p for lengths, p in types if not lengths or size in lengths]
        if patterns:
            by_length[size] = re.compile("|".join(f"(?:{p})" for p in patterns))
    general_pattern = re.compile(general[1]) if general else None

    def valid(national: str) -> bool:
        if general_pattern is None or (general[0] and len(national) not in general[0]):
            return False
        typed = by_length.get(len(national))
        return bool(general_pattern.fullmatch(national) and typed and typed.fullmatch(national))

    return (re.compile("|".join(f"(?:{p})" for p in prefixes)) if prefixes else None,
            re.compile(meta.leading_digits) if meta.leading_digits else None, valid)


@functools.lru_cache(maxsize=None)
def _country_code(region: str) -> int:
    return phonenumbers.country_code_for_region(region) if region else 0


def _international(number: str, region: str) -> bool:
    """Starts with ``region``'s international call prefix (``00``, ``011``, …)."""
    meta = phonenumbers.PhoneMetadata.metadata_for_region((region or "").upper())
    pattern = meta.international_prefix if meta else None
    return bool(pattern) and re.match(pattern, number) is not None


def adjust(number: str, external_prefix: str, region: str) -> str:
    """Put the PBX's external line prefix in front of a public number.

    A number is left as it is when: no prefix is configured; it is E.164
    (``+…``, the trunk routes it) or a service code (holds ``*`` or ``#``); it is
    an internal extension (at most ``EXTENSION_DIGITS`` digits and not a valid
    number in ``region``, so ``200`` and ``112`` stay); or it already carries the
    prefix (it starts with the prefix, is not itself valid in ``region``, and
    what follows the prefix is valid there or starts with the international
    prefix). A public number — valid in ``region``, starting with its
    international prefix, or longer than an extension — gets the prefix.

    Under US with prefix ``9``: ``2125550100`` → ``92125550100``,
    ``9175551234`` (a valid number starting with 9) → ``99175551234``,
    ``99175551234`` stays. Under DE with prefix ``0``: ``07031730090`` →
    ``007031730090``, which stays as it is when adjusted again.
    """
    if not external_prefix or not number.isdigit():
        return number
    rest = number[len(external_prefix):]
    if (number.startswith(external_prefix) and rest and not _valid(number, region)
            and (_valid(rest, region) or _international(rest, region))):
        return number
    if (len(number) > EXTENSION_DIGITS or _valid(number, region)
            or _international(number, region)):
        return external_prefix + number
    return number


def is_emergency(number: str, region: str) -> bool:
    """Whether dialling ``number`` in ``region`` may reach an emergency service.

    Uses phonenumbers' short-number data with prefix matching (``9111`` in US
    counts), the cautious choice for a confirmation. ``+`` numbers never are.
    """
    if not number.isdigit() or not number.isascii() or not region:
        return False
    return phonenumbers.shortnumberinfo.connects_to_emergency_number(number, region.upper())


def matches_confirm(number: str, patterns: Iterable[str | re.Pattern]) -> bool:
    """Whether any of the ``policy.confirm_patterns`` regexes is found in ``number``."""
    return any(re.search(p, number) for p in patterns)
