"""numbers.py: dialable characters, E.164, the external prefix, dial policy checks."""

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tui_phone.numbers import (MAX_DIGITS, NotDialable, adjust, dialable, is_emergency,
                               matches_confirm, normalize)

DIALABLE = set("0123456789*#+")


# ----- dialable --------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("12124613663", "12124613663"),
    ("+1-212-555-0100", "+12125550100"),
    ("+1 (212) 555.0100", "+12125550100"),
    ("+49 (7031) 73009 - 0", "+497031730090"),
    ("*86", "*86"),
    ("*21#", "*21#"),
    ("#", "#"),
    ("+49\u00a030\u2009123456", "+4930123456"),  # no-break and thin spaces from copied text
    ("", ""),
    ("  ", ""),
    ("-.()", ""),
    ("1" * MAX_DIGITS, "1" * MAX_DIGITS),
    ("+" + "1" * (MAX_DIGITS - 1), "+" + "1" * (MAX_DIGITS - 1)),
])
def test_dialable_keeps_digits_and_drops_separators(text, expected):
    assert dialable(text) == expected


@pytest.mark.parametrize("text, reason", [
    ("12a34", "has a letter"),
    ("1-800-FLOWERS", "has a letter"),  # no vanity mapping
    ("ÄÖ", "has a letter"),
    ("$(id)", "has '$'"),
    ("12;34", "has ';'"),
    ("12&34", "has '&'"),
    ("12/34", "has '/'"),
    ("<123>", "has '<'"),
    ("12>34", "has '>'"),
    ("12,34", "has ','"),
    ("12%2034", "has '%'"),  # dialable never decodes; links do
    ("١٢٣", "has '١'"),  # Arabic-Indic digits are not ASCII digits
    ("１２３", "has '１'"),  # full-width digits
    ("12\t34", "has a control character"),
    ("12\n34", "has a control character"),
    ("12\x0034", "has a control character"),
    ("12\x7f", "has a control character"),
    ("\u202e123", "has a control character"),  # bidi override
    ("12\u200b3", "has a control character"),  # zero-width space
    ("12\u20283", "has a control character"),  # line separator
    ("12\udcff", "has a control character"),  # surrogate from undecodable argv
    ("1+2", "has '+' after the start"),
    ("++1", "has '+' after the start"),
    ("1" * (MAX_DIGITS + 1), f"is longer than {MAX_DIGITS} digits"),
    ("1-" * (MAX_DIGITS + 1), f"is longer than {MAX_DIGITS} digits"),
])
def test_dialable_rejects_with_a_reason(text, reason):
    with pytest.raises(NotDialable) as e:
        dialable(text)
    assert e.value.reason == reason
    assert isinstance(e.value, ValueError)
    assert str(e.value).startswith(f"number {reason}: ")
    assert "\n" not in str(e.value)


def test_dialable_error_quotes_long_text_shortened():
    message = str(pytest.raises(NotDialable, dialable, "a" * 500).value)
    assert len(message) < 100 and message.endswith("…'")


@given(st.text())
@settings(max_examples=300, deadline=None)
def test_dialable_returns_only_dialable_chars_or_raises_value_error(text):
    try:
        out = dialable(text)
    except NotDialable as e:
        assert "\n" not in str(e)
        return
    assert set(out) <= DIALABLE and len(out) <= MAX_DIGITS and "+" not in out[1:]


@given(st.text(alphabet="0123456789*#+().- ", max_size=40))
@settings(max_examples=500, deadline=None)
def test_dialable_one_pass_shape_gives_the_same_as_the_rules(text):
    """Digits, * # and ASCII separators take dialable's one-pass path: same answer, same refusals."""
    kept = [ch for ch in text if ch not in "().- "]
    if "+" in kept[1:] or len(kept) > MAX_DIGITS:
        with pytest.raises(NotDialable):
            dialable(text)
    else:
        assert dialable(text) == "".join(kept)


# ----- normalize ------------------------------------------------------------------

@pytest.mark.parametrize("number, region, expected", [
    ("12124613663", "US", "+12124613663"),
    ("2124613663", "US", "+12124613663"),
    ("+12124613663", "US", "+12124613663"),
    ("+12124613663", "DE", "+12124613663"),  # its own + country wins
    ("+4930123456", "US", "+4930123456"),
    ("07031730090", "DE", "+497031730090"),
    ("00497031730090", "DE", "+497031730090"),  # international prefix of the region
    ("011442079460000", "US", "+442079460000"),  # 011 under US
    ("0049301234", "US", "0049301234"),  # 00 is not US's international prefix
    ("+123456789", "US", "+123456789"),  # not valid anywhere: kept as given
    ("1234567", "US", "1234567"),
    ("200", "US", "200"),
    ("*86", "US", "*86"),
    ("*21#", "DE", "*21#"),
    ("12124613663#", "US", "12124613663#"),  # phonenumbers would drop the '#'
    ("911", "US", "911"),
    ("", "US", ""),
    ("2124613663", "", "2124613663"),  # no region: only + numbers are placed
    ("2124613663", "XX", "2124613663"),
    ("2124613663", "us", "+12124613663"),
])
def test_normalize(number, region, expected):
    assert normalize(number, region) == expected


@given(st.text(alphabet="0123456789*#+", max_size=MAX_DIGITS), st.sampled_from(["US", "DE", "GB", "FR", ""]))
@settings(max_examples=300, deadline=None)
def test_normalize_gives_dialable_chars_and_is_idempotent(text, region):
    try:
        number = dialable(text)
    except NotDialable:
        return
    once = normalize(number, region)
    assert set(once) <= DIALABLE
    assert normalize(once, region) == once
    assert once == number or re.fullmatch(r"\+[1-9][0-9]{1,14}", once)


def _phonenumbers_e164(number: str, region: str) -> str:
    """What normalize answered before its fast path: phonenumbers' full parse and validity check."""
    import phonenumbers

    try:
        parsed = phonenumbers.parse(number, region or None)
    except phonenumbers.NumberParseException:
        return number
    if not (number.lstrip("+").isdigit() and phonenumbers.is_valid_number(parsed)):
        return number
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return e164 if len(e164) <= 16 else number


def test_normalize_fast_path_gives_phonenumbers_answer_across_regions():
    """The fast path (+E.164 and plain national digits) never changes what normalize
    answers: ~60,000 seeded numbers, each in several written forms, from numbers
    valid in 22 regions (some digits changed, so many are invalid), read in each region."""
    import random

    import phonenumbers

    from tui_phone.numbers import _normalize, _plain_e164

    rng = random.Random(17)
    regions = ["US", "CA", "GB", "DE", "FR", "IT", "NL", "CH", "AT", "AU", "BR", "IN", "JP", "RU", "KZ",
               "MX", "AR", "SE", "ES", "JE", "AG", "PR"]
    kinds = [phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE,
             phonenumbers.PhoneNumberType.TOLL_FREE]
    checked = fast = 0
    for region in regions + ["", "XX"]:
        for _ in range(300):
            example = phonenumbers.example_number_for_type(rng.choice(regions), rng.choice(kinds))
            if example is None:
                continue
            cc = example.country_code
            nat = "".join(d if rng.random() < .7 else str(rng.randint(0, 9)) for d in str(example.national_number))
            for form in (nat, f"+{cc}{nat}", "0" + nat, "1" + nat, f"00{cc}{nat}", f"011{cc}{nat}",
                         nat[:rng.randint(1, len(nat))], f"{cc}{nat}", nat + str(rng.randint(0, 99))):
                expected = _phonenumbers_e164(form, region)
                assert _normalize.__wrapped__(form, region) == expected, (form, region)
                fast += _plain_e164(form, region) is not None
                checked += 1
    assert checked > 50_000
    assert fast > checked // 20  # the fast path does answer the common shapes
    assert _plain_e164("2125550100", "US") == "+12125550100"
    assert _plain_e164("+4930901820", "US") == "+4930901820"


# ----- adjust ---------------------------------------------------------------------

@pytest.mark.parametrize("number, prefix, region, expected", [
    ("2125550100", "9", "US", "92125550100"),
    ("12125550100", "9", "US", "912125550100"),
    ("9175551234", "9", "US", "99175551234"),  # valid number that starts with the prefix
    ("99175551234", "9", "US", "99175551234"),  # already prefixed
    ("912125550100", "9", "US", "912125550100"),  # already prefixed
    ("01144207946000", "9", "US", "901144207946000"),  # international via 011
    ("901144207946000", "9", "US", "901144207946000"),
    ("0049301234", "9", "US", "90049301234"),  # long: public even if phonenumbers doesn't know it
    ("07031730090", "0", "DE", "007031730090"),
    ("007031730090", "0", "DE", "007031730090"),  # already prefixed
    ("00442079460000", "0", "DE", "000442079460000"),  # international via 00
    ("000442079460000", "0", "DE", "000442079460000"),
    ("200", "9", "US", "200"),  # extension
    ("12345678", "9", "US", "12345678"),  # eight digits: still an extension
    ("911", "9", "US", "911"),
    ("112", "0", "DE", "112"),
    ("+12125550100", "9", "US", "+12125550100"),  # E.164: the trunk routes it
    ("*86", "9", "US", "*86"),
    ("*3112125550100", "9", "US", "*3112125550100"),
    ("2125550100", "", "US", "2125550100"),  # no prefix configured
    ("2125550100", "9", "", "92125550100"),
    ("", "9", "US", ""),
])
def test_adjust(number, prefix, region, expected):
    assert adjust(number, prefix, region) == expected


@given(st.text(alphabet="0123456789", max_size=20), st.sampled_from(["0", "9", "00", "81"]),
       st.sampled_from(["US", "DE", "GB"]))
@settings(max_examples=200, deadline=None)
def test_adjust_only_ever_prepends_the_prefix(number, prefix, region):
    out = adjust(number, prefix, region)
    assert out in (number, prefix + number)


# ----- dial policy checks ---------------------------------------------------------

@pytest.mark.parametrize("number, region, expected", [
    ("911", "US", True),
    ("112", "US", True),
    ("9111", "US", True),  # may still connect to 911: confirm
    ("112", "DE", True),
    ("110", "DE", True),
    ("999", "GB", True),
    ("112", "gb", True),
    ("2125550100", "US", False),
    ("+12125550100", "US", False),
    ("+1911", "US", False),
    ("*911", "US", False),
    ("200", "US", False),
    ("911", "", False),
    ("", "US", False),
])
def test_is_emergency(number, region, expected):
    assert is_emergency(number, region) is expected


DEFAULT_PATTERNS = [r"^\+1900", r"^\+44(9|87)"]


@pytest.mark.parametrize("number, patterns, expected", [
    ("+19005551234", DEFAULT_PATTERNS, True),
    ("+449012345678", DEFAULT_PATTERNS, True),
    ("+448712345678", DEFAULT_PATTERNS, True),
    ("+12125550100", DEFAULT_PATTERNS, False),
    ("+442079460000", DEFAULT_PATTERNS, False),
    ("19005551234", DEFAULT_PATTERNS, False),  # patterns are on E.164
    ("+19005551234", [], False),
    ("+4930123456", [re.compile(r"^\+49")], True),
    ("0900123", [r"900"], True),  # search, not match: anchors are the pattern's own
])
def test_matches_confirm(number, patterns, expected):
    assert matches_confirm(number, patterns) is expected
