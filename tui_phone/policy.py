"""The dial policy for calls that do not come from the keyboard.

Links, the socket and the HTTP listener all pass :func:`judge`; keyboard
dialling never does. From any other source a target needs the user's
confirmation when it:

- is or reaches an emergency number, or matches ``policy.confirm_patterns``
  (regexes on the E.164 number: premium rate, international). Both checks run
  on every reading of the digits: as dialled; with leading service codes
  (``*67``, ``*82``, ``#31#``, of any length up to three digits, repeated)
  removed; with trailing ``#``/``*`` removed; with and without the external
  line prefix. ``*67911`` and ``911#`` reach 911;
- carries a service code at all (``*`` or ``#`` anywhere): ``*72…`` sets up
  call forwarding at many carriers, a classic toll-fraud path.

A SIP URI is judged by its user part (percent-decoded, visual separators and
Unicode look-alike digits folded) when that part is a number; a named user
(``sip:alice@…``) has no number to judge.
"""

from __future__ import annotations

import functools
import re
import unicodedata

from . import numbers
from .commands import Source
from .config import Config
from .uri import SipUri

_SIP = re.compile(r"sips?:", re.IGNORECASE)
_CODE_MARKS = re.compile(r"[*#]+")
MAX_READINGS = 256  # a bound on hostile input; a 32-digit number has far fewer


def judge(target: str, source: Source, config: Config) -> str | None:
    """Why dialling ``target`` from ``source`` needs the user's confirmation
    (one sentence), or None to dial at once."""
    if source is Source.KEYBOARD:
        return None
    try:
        number = _number_of(target)
    except ValueError:  # a redirect's Contact is not checked before it gets here
        return f"{_short(target.strip())} is not a valid SIP address, so its number cannot be checked"
    if number is None:
        return None
    region = config.numbers["default_region"]
    shown = _short(number)
    every = readings(number, config.numbers["external_prefix"], region)
    for reading in sorted(every, key=len):
        if numbers.is_emergency(reading, region) or reading in numbers_everywhere():
            # name the emergency number itself, not what follows it (1 911 555 0100 reaches 911)
            called = next((reading[:k] for k in range(2, len(reading) + 1) if reading[:k] in numbers_everywhere()
                           or _exact_emergency(reading[:k], region)), reading)
            return (f"{shown} is an emergency number" if reading == number
                    else f"{shown} reaches the emergency number {called}")
    # every reading once more behind an outside-line 0 or 9 no config names (9 011 1 911, 9 0900 …;
    # found by outside probes); these count only as exact emergency numbers, never by prefix
    behind_prefix: set[str] = set()
    for r in sorted(every, key=len):
        for k in (1, 2):
            if len(r) > k + 2 and set(r[:k]) <= set("09") and len(behind_prefix) < 4 * MAX_READINGS:
                behind_prefix |= readings(r[k:], config.numbers["external_prefix"], region)
    for reading in sorted(every | behind_prefix, key=len):
        behind = reading if reading in numbers_everywhere() or _exact_emergency(reading, region) \
            else _behind_a_line_prefix(reading, region)
        if behind:
            return f"{shown} reaches the emergency number {behind}"
    for reading in every | behind_prefix:
        # also read naively (trunk prefix → country code): a switch may connect what phonenumbers calls invalid
        for e164 in {numbers.normalize(reading, region), _naive_e164(reading, region)} - {""}:
            if numbers.matches_confirm(e164, config.policy["confirm_patterns"]):
                return f"{e164} matches the confirmation list (premium-rate or international)"
            if config.policy["premium_rate"] and _premium_rate(e164):
                return f"{e164} is a premium-rate number"
    if "*" in number or "#" in number:
        return f"{shown} carries a service code (* or #), which can change the line's settings"
    return None


def _number_of(target: str) -> str | None:
    """The dialable number a target names, or None (a named SIP user);
    ValueError for a sip: target that is no valid SIP address."""
    text = target.strip()
    if _SIP.match(text):
        text = SipUri.parse(text).plain_user
    text = unicodedata.normalize("NFKC", text)  # fullwidth digits and the like dial as digits
    # dialable() refuses a '+' after a service code (*72+1900…); a SIP user may still carry one
    number = "".join(ch for ch in text if ch not in numbers.SEPARATORS and not ch.isspace())
    if not number.strip("+") or any(ch not in "0123456789*#+" for ch in number):
        return None
    return number


def _short(text: str) -> str:
    """Hostile input stays one short line."""
    return text if len(text) <= 40 else text[:39] + "…"


def numbers_everywhere() -> frozenset[str]:
    """112 and 911 reach emergency services from mobile networks everywhere (GSM,
    3GPP TS 22.101); 999 and 000 are what a visitor from the UK or Australia dials."""
    return frozenset({"112", "911", "999", "000"})


def _behind_a_line_prefix(reading: str, region: str) -> str | None:
    """The emergency number ``reading`` is, once one to three leading 0s, 9s or a
    ``+`` are taken as an outside-line or international prefix that no config
    names (``0911``, ``00911``, ``9112``, ``+911``; found by an outside probe),
    or behind a foreign country code (``+1911`` from Germany).
    Only an exact emergency number counts, so Nuremberg's 0911 area code with a
    subscriber number behind it dials as it should."""
    for k in range(1, min(3, len(reading) - 2) + 1):
        rest = reading[k:]
        if set(reading[:k]) <= set("09+") and (rest in numbers_everywhere() or _exact_emergency(rest, region)):
            return rest
    return _behind_a_country_code(reading)


def _premium_rate(e164: str) -> bool:
    """Whether phonenumbers' data calls an E.164 number premium-rate or shared-cost
    in its own country (German 0900, French 089…), whatever confirm_patterns say."""
    import phonenumbers

    if not e164.startswith("+") or not e164[1:].isdigit():
        return False
    try:
        parsed = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.number_type(parsed) in (phonenumbers.PhoneNumberType.PREMIUM_RATE,
                                                phonenumbers.PhoneNumberType.SHARED_COST)


def _naive_e164(reading: str, region: str) -> str:
    """``reading`` in E.164 by the plain rule (the region's trunk prefix becomes
    its country code), whether or not phonenumbers holds it valid; "" if none."""
    if not region or not reading.isdigit():
        return ""
    cc, _, trunk = _country(region)
    return f"+{cc}{reading[len(trunk):]}" if cc and trunk and reading.startswith(trunk) else ""


def _behind_a_country_code(reading: str) -> str | None:
    """The emergency number behind any country's code: +1 911 and +33 112 from
    Germany, 011 49 112 from the US (an international prefix is read as + first)."""
    import phonenumbers

    if not reading.startswith("+"):
        return None
    for k in (1, 2, 3):
        cc, rest = reading[1:1 + k], reading[1 + k:]
        regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(int(cc)) if cc.isdigit() else None
        if regions and rest and (rest in numbers_everywhere() or any(_exact_emergency(rest, r) for r in regions)):
            return rest
    return None


def _exact_emergency(number: str, region: str) -> bool:
    import phonenumbers

    return bool(region) and number.isdigit() and number.isascii() and \
        phonenumbers.shortnumberinfo.is_emergency_number(number, region.upper())


@functools.lru_cache(maxsize=8)
def _country(region: str) -> tuple[str, str, str]:
    """(country calling code, international access prefix, trunk prefix) of
    ``region``: ("1", "011", "1") for US, ("49", "00", "0") for DE."""
    import phonenumbers
    from phonenumbers.phonemetadata import PhoneMetadata

    meta = PhoneMetadata.metadata_for_region(region)
    intl = meta.international_prefix if meta and re.fullmatch(r"\d+", meta.international_prefix or "") else "00"
    trunk = (meta.national_prefix or "") if meta else ""
    return str(phonenumbers.country_code_for_region(region) or ""), intl, trunk


def readings(number: str, prefix: str = "", region: str = "") -> set[str]:
    """Every way a switch may read ``number`` (module docstring), including
    the number within the own country: +1911, 1911 and 011 1 911 reach 911
    in the US; 0049 112 reaches 112 in Germany."""
    cc, intl, _ = _country(region) if region else ("", "00", "")
    out: set[str] = set()
    todo = [number]
    while todo and len(out) < MAX_READINGS:
        n = todo.pop()
        if not n or n in out:
            continue
        out.add(n)
        todo.append(n.rstrip("*#"))
        if prefix and n.startswith(prefix):
            todo.append(n[len(prefix):])
        for international in ("+", intl, "00", "011"):  # 00 and the US 011: a visitor's habit
            if n.startswith(international) and len(n) > len(international):
                todo.append("+" + n[len(international):])
        if cc and n.startswith("+" + cc):
            todo.append(n[len(cc) + 1:])  # the own country's number
        if cc == "1" and n.startswith("1"):
            todo.append(n[1:])  # North America dials its country code as the trunk prefix
        marks = _CODE_MARKS.match(n)
        if marks:  # a service code: its marks, then 0-3 digits (a closing mark starts the next round)
            rest = n[marks.end():]
            todo += [rest[k:] for k in range(min(3, len(rest)) + 1)]
    return out
