"""links.py: the one parser for links and dial strings (DESIGN.md "Link details")."""

import dataclasses
import json
import re

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tui_phone.links import Link, LinkError, classify_txt, parse_dial_string, parse_link

NUMBER_CHARS = set("0123456789*#+")
ACTIONS = {"call", "dial", "sms", "authenticate"}
BASE_KEYS = ["action", "number", "callerid", "cat", "bind", "scheme", "raw"]


def call(number, scheme, raw, **extra):
    """The dry-run JSON of a link."""
    out = {"action": "call", "number": number, "callerid": None, "cat": None, "bind": None,
           "scheme": scheme, "raw": raw}
    out.update(extra)
    return out


def rejected(raw, region="US") -> str:
    with pytest.raises(LinkError) as e:
        parse_link(raw, region)
    return str(e.value)


# ----- the public vectors of issue 4 ----------------------------------------------

@pytest.mark.parametrize("raw, expected", [
    ("tel:+12124613663", call("+12124613663", "tel", "tel:+12124613663")),
    ("tel:12124613663", call("+12124613663", "tel", "tel:12124613663")),
    ("callto:12124613663", call("+12124613663", "callto", "callto:12124613663")),
    ("callto://+123456789", call("+123456789", "callto", "callto://+123456789")),
    ("tel:+1-212-555-0100;ext=12", call("+12125550100", "tel", "tel:+1-212-555-0100;ext=12", ext="12")),
    ("sip:bob@example.com?subject=x",
     {"action": "call", "number": None, "uri": "sip:bob@example.com", "callerid": None, "cat": None,
      "bind": None, "scheme": "sip", "raw": "sip:bob@example.com?subject=x"}),
    ("phone.systems://call?number=0049301234",
     call("0049301234", "phone.systems", "phone.systems://call?number=0049301234")),
    ("https://phone.systems://call?number=+4930123456",
     call("+4930123456", "phone.systems", "https://phone.systems://call?number=+4930123456")),
    ("zoomphonecall://1234567?callerid=10001",
     call("1234567", "zoomphonecall", "zoomphonecall://1234567?callerid=10001", callerid="10001")),
    # the dry-run example of DESIGN.md
    ("zoomphonecall://+15551234567", call("+15551234567", "zoomphonecall", "zoomphonecall://+15551234567")),
])
def test_public_vectors(raw, expected):
    link = parse_link(raw)
    assert link.to_json() == expected
    assert list(link.to_json()) == list(expected)  # key order as in DESIGN.md


@pytest.mark.parametrize("raw, message", [
    ("javascript:alert(1)", "unsupported scheme 'javascript'"),
    ("tel:", "tel: number is empty"),
    ("tel:12a34", "number has a letter: 'tel:12a34'"),
    ("tel:%0a123", "control character in link: 'tel:%0a123'"),
    ("callto:$(id)", "number has '$': 'callto:$(id)'"),
])
def test_public_rejects(raw, message):
    assert rejected(raw) == message


def test_phone_systems_vector_with_trailing_space_as_written_in_the_issue():
    link = parse_link("phone.systems://call?number=0049301234 ")
    assert link.number == "0049301234" and link.raw == "phone.systems://call?number=0049301234 "


# ----- to_json and Link -----------------------------------------------------------

def test_to_json_has_base_keys_always_and_optional_ones_only_when_set():
    assert list(parse_link("tel:+12125550100").to_json()) == BASE_KEYS
    assert list(parse_link("sip:a@b").to_json()) == ["action", "number", "uri", *BASE_KEYS[2:]]
    assert list(parse_link("tel:+12125550100;ext=7").to_json()) == [*BASE_KEYS, "ext"]
    assert list(parse_link("tel:1234;phone-context=example.com").to_json()) == [*BASE_KEYS, "context"]
    assert list(parse_link("phone.systems://authenticate?code=a").to_json()) == [*BASE_KEYS, "code"]


def test_to_json_is_json_serialisable():
    link = parse_link("zoomphonecall://+15551234567?callerid=+15557654321&cat=report&bind=abc123")
    assert json.loads(json.dumps(link.to_json())) == link.to_json()


def test_link_is_frozen_and_target_is_uri_or_number():
    link = parse_link("tel:+12125550100")
    with pytest.raises(dataclasses.FrozenInstanceError):
        link.number = "1"  # type: ignore[misc]
    assert link.target == "+12125550100"
    assert parse_link("sip:bob@example.com").target == "sip:bob@example.com"
    assert parse_link("phone.systems://authenticate?code=x").target is None


def test_link_error_is_a_value_error():
    assert issubclass(LinkError, ValueError)


# ----- schemes, names and the browser's https:// ------------------------------------

@pytest.mark.parametrize("raw, scheme", [
    ("TEL:+12125550100", "tel"),
    ("Tel:+12125550100", "tel"),
    ("tel://+12125550100", "tel"),
    ("CALLTO:+12125550100", "callto"),
    ("callto:+12125550100", "callto"),
    ("callto://+12125550100", "callto"),
    ("callto://+12125550100/", "callto"),
    ("zoomphonecall:+12125550100", "zoomphonecall"),
    ("ZoomPhoneCall://+12125550100", "zoomphonecall"),
    ("phone.systems:call?number=+12125550100", "phone.systems"),
    ("PHONE.SYSTEMS://CALL?NUMBER=+12125550100", "phone.systems"),
    ("https://tel:+12125550100", "tel"),
    ("http://tel:+12125550100", "tel"),
    ("HTTPS://callto://+12125550100", "callto"),
    ("https://zoomphonecall://+12125550100", "zoomphonecall"),
    ("http://phone.systems://call?number=+12125550100", "phone.systems"),
])
def test_schemes_are_case_insensitive_and_accept_both_forms(raw, scheme):
    link = parse_link(raw)
    assert (link.scheme, link.number, link.raw) == (scheme, "+12125550100", raw)


@pytest.mark.parametrize("raw, message", [
    ("javascript:alert(1)", "unsupported scheme 'javascript'"),
    ("JavaScript:alert(1)", "unsupported scheme 'javascript'"),
    ("data:text/html,x", "unsupported scheme 'data'"),
    ("file:///etc/passwd", "unsupported scheme 'file'"),
    ("skype:echo123?call", "unsupported scheme 'skype'"),
    ("https://example.com/call?number=1", "unsupported scheme 'https'"),
    ("https://javascript:alert(1)", "unsupported scheme 'https'"),
    ("https:tel:+12125550100", "unsupported scheme 'https'"),  # not the browser's form
    ("ftp://tel:+12125550100", "unsupported scheme 'ftp'"),
    ("12125550100", "not a link (no scheme): '12125550100'"),
    ("+1:2125550100", "not a link (no scheme): '+1:2125550100'"),
    ("", "empty link"),
    ("   ", "empty link"),
])
def test_scheme_rejects(raw, message):
    assert rejected(raw) == message


def test_raw_is_the_input_exactly_even_with_surrounding_spaces():
    assert parse_link("  tel:+12125550100 ").raw == "  tel:+12125550100 "


def test_non_text_is_rejected_cleanly():
    with pytest.raises(LinkError, match="must be text"):
        parse_link(b"tel:123")  # type: ignore[arg-type]
    with pytest.raises(LinkError, match="must be text"):
        parse_dial_string(None)  # type: ignore[arg-type]


def test_over_long_link_is_rejected():
    assert rejected("sip:" + "a" * 3000 + "@x") == "link is longer than 2048 characters"


# ----- numbers in links -----------------------------------------------------------

@pytest.mark.parametrize("raw, number", [
    ("tel:+1-212-555-0100", "+12125550100"),
    ("tel:+1.212.555.0100", "+12125550100"),
    ("tel:+1(212)5550100", "+12125550100"),
    ("tel:+1%20212%20555%200100", "+12125550100"),
    ("tel:%2B12125550100", "+12125550100"),
    ("tel:2125550100", "+12125550100"),  # local, placed by the default region
    ("tel:*86", "*86"),
    ("tel:*21#", "*21#"),  # '#' is a digit here, not a fragment
    ("tel:%2A86%23", "*86#"),
    ("tel:200", "200"),
    ("tel:+123456789", "+123456789"),  # not valid: dialable chars as given
    ("tel:0049301234", "0049301234"),
    ("callto:+49 30 123456", "+4930123456"),
    ("zoomphonecall://+1 (555) 123-4567", "+15551234567"),
    ("phone.systems://call?number=+1%20555%20123%204567", "+15551234567"),
    ("phone.systems://call?number=%2B15551234567", "+15551234567"),
    ("tel:" + "1" * 32, "1" * 32),
    ("tel:" + "1-" * 32, "1" * 32),  # separators do not count
])
def test_numbers(raw, number):
    assert parse_link(raw).number == number


def test_number_under_another_default_region():
    assert parse_link("tel:030123456", "DE").number == "+4930123456"
    assert parse_link("tel:030123456", "US").number == "030123456"
    assert parse_link("callto:0049301234", "DE").number == "+49301234"  # 00 is DE's int'l prefix


@pytest.mark.parametrize("raw, message", [
    ("tel:12a34", "number has a letter: 'tel:12a34'"),
    ("tel:1-800-FLOWERS", "number has a letter: 'tel:1-800-FLOWERS'"),  # no vanity mapping
    ("callto:echo123", "number has a letter: 'callto:echo123'"),  # no Skype names
    ("callto:$(id)", "number has '$': 'callto:$(id)'"),
    ("callto:`id`", "number has '`': 'callto:`id`'"),
    ("callto:123;id", "number has ';': 'callto:123;id'"),
    ("callto:123&id", "number has '&': 'callto:123&id'"),
    ("callto://123/456", "number has '/': 'callto://123/456'"),
    ("callto:<123>", "number has '<': 'callto:<123>'"),
    ("callto:123>x", "number has '>': 'callto:123>x'"),
    ("callto:123?call", "number has '?': 'callto:123?call'"),
    ("zoomphonecall://1;2", "number has ';': 'zoomphonecall://1;2'"),
    ("zoomphonecall://12/", None),  # one trailing slash is fine
    ("phone.systems://call?number=1$2", "number has '$': 'phone.systems://call?number=1$2'"),
    ("phone.systems://call?number=1%3B2", "number has ';': 'phone.systems://call?number=1%3B2'"),
    ("phone.systems://call?number=1%ZZ", "number has '%': 'phone.systems://call?number=1%ZZ'"),
    ("tel:1+2", "number has '+' after the start: 'tel:1+2'"),
    ("tel:%FF12", "%-escape is not UTF-8: 'tel:%FF12'"),
    ("zoomphonecall://1?cat=%C3", "%-escape is not UTF-8: 'zoomphonecall://1?cat=%C3'"),
    ("tel:+", "tel: number is empty"),
    ("tel:-.()", "tel: number is empty"),
    ("tel:%20", "tel: number is empty"),
    ("tel:;ext=1", "tel: number is empty"),
    ("callto:", "callto: number is empty"),
    ("callto://", "callto: number is empty"),
    ("zoomphonecall://", "zoomphonecall: number is empty"),
    ("zoomphonecall://?callerid=10001", "zoomphonecall: number is empty"),
    ("zoomphonesms://", "zoomphonesms: number is empty"),
    ("phone.systems://call?number=", "phone.systems: number is empty"),
    ("phone.systems://call", "phone.systems: number is missing: 'phone.systems://call'"),
    ("phone.systems://dialpad?num=1", "phone.systems: number is missing: 'phone.systems://dialpad?num=1'"),
    ("tel:" + "1" * 33, "number is longer than 32 digits: 'tel:" + "1" * 33 + "'"),
    ("callto:+" + "1" * 31, None),  # '+' counts: 32 dialable characters
    ("callto:+" + "1" * 32, "number is longer than 32 digits: 'callto:+" + "1" * 32 + "'"),
])
def test_number_rejects(raw, message):
    if message is None:  # the neighbour that is accepted
        parse_link(raw)
    else:
        assert rejected(raw) == message


# ----- control characters ---------------------------------------------------------

@pytest.mark.parametrize("raw", [
    "tel:%0a123", "tel:%0A123", "tel:123%00", "tel:1%7f", "tel:\n123", "tel:12\t3", "tel:123\x00",
    "tel:+1212\r\n5550100", "tel:\x1b[31m123", "tel:%E2%80%AE123",  # U+202E bidi override, UTF-8 escaped
    "tel:\u202e123", "tel:1\u200b23", "tel:1\u202823", "tel:1\udcff",
    "sip:bob@example.com%0d%0aX-Evil:1", "sip:bob%00@example.com", "sip:bob@example.com\r\nX: y",
    "sip:bob@example.com?subject=%0d%0aX:y",  # even in the dropped headers
    "callto:123%0a", "zoomphonecall://123?cat=%07", "zoomphonecall://123?bind=a%0ab",
    "phone.systems://call?number=1%0a2", "phone.systems://authenticate?code=a%00",
    "tel:123;ext=%0a1", "tel:123;foo=%0a",  # in an ignored parameter too
    "javascript:%0aalert(1)",  # the control character is reported before the scheme
    "\x00tel:123", "tel:123\x85",
])
def test_control_characters_reject_literal_or_percent_encoded(raw):
    message = rejected(raw)
    assert message.startswith("control character in link: ")
    assert "\n" not in message and "\r" not in message


# ----- tel: parameters --------------------------------------------------------------

@pytest.mark.parametrize("raw, number, extra", [
    ("tel:+1-212-555-0100;ext=12", "+12125550100", {"ext": "12"}),
    ("tel:+1-212-555-0100;EXT=1-2", "+12125550100", {"ext": "12"}),
    ("tel:+1-212-555-0100;ext=", "+12125550100", {}),  # empty ext: none
    ("tel:200;ext=12", "200", {"ext": "12"}),
    ("tel:555-0100;phone-context=+1-212", "+12125550100", {}),  # RFC 3966 local number
    ("tel:5550100;phone-context=%2B1212", "+12125550100", {}),
    ("tel:7031730090;phone-context=+49", "+497031730090", {}),
    ("tel:+12125550100;phone-context=+44", "+12125550100", {}),  # global: context unused
    ("tel:*86;phone-context=+1", "*86", {"context": "+1"}),  # service code: not prefixed
    ("tel:1234;phone-context=example.com", "1234", {"context": "example.com"}),
    ("tel:1234;phone-context=pbx.example.com;ext=5", "1234", {"context": "pbx.example.com", "ext": "5"}),
    ("tel:+12125550100;isub=1234;postd=pp22;foo", "+12125550100", {}),  # unknown params ignored
    ("tel:+12125550100;tsp=a$b", "+12125550100", {}),  # '$' in a parameter is not in the number
    ("tel:+12125550100;ext=1;ext=2", "+12125550100", {"ext": "1"}),
])
def test_tel_parameters(raw, number, extra):
    assert parse_link(raw).to_json() == call(number, "tel", raw, **extra)


@pytest.mark.parametrize("raw, message", [
    ("tel:+12125550100;ext=1a", "ext has a letter: 'tel:+12125550100;ext=1a'"),
    ("tel:+12125550100;ext=1$", "ext has '$': 'tel:+12125550100;ext=1$'"),
    ("tel:555;phone-context=+1a", "phone-context has a letter: 'tel:555;phone-context=+1a'"),
    ("tel:555;phone-context=ex ample.com",
     "phone-context is neither +digits nor a domain: 'tel:555;phone-context=ex ample.com'"),
    ("tel:555;phone-context=<x>", "phone-context is neither +digits nor a domain: 'tel:555;phone-context=<x>'"),
    ("tel:" + "1" * 30 + ";phone-context=+4444", "number is longer than 32 digits: 'tel:" + "1" * 30
     + ";phone-context=+4444'"),
])
def test_tel_parameter_rejects(raw, message):
    assert rejected(raw) == message


# ----- query parameters, callerid, cat, bind ----------------------------------------

@pytest.mark.parametrize("raw, fields", [
    ("zoomphonecall://+15551234567?callerid=+15557654321&cat=report&bind=abc123",
     {"callerid": "+15557654321", "cat": "report", "bind": "abc123"}),
    ("zoomphonecall://+15551234567?callerid=%2B15557654321", {"callerid": "+15557654321"}),
    ("zoomphonecall://+15551234567?callerid=", {"callerid": None}),  # empty means none
    ("zoomphonecall://+15551234567?callerid=&cat=&bind=", {"callerid": None, "cat": None, "bind": None}),
    ("zoomphonecall://+15551234567?callerid=10", {"callerid": "10"}),
    ("zoomphonecall://+15551234567?callerid=12345678", {"callerid": "12345678"}),
    ("zoomphonecall://+15551234567?callerid=+12345678", {"callerid": "+12345678"}),
    ("zoomphonecall://+15551234567?callerid=+123456789012345", {"callerid": "+123456789012345"}),
    ("zoomphonecall://+15551234567?seccall=1&foo=bar&&x", {}),  # unknown ones ignored
    ("zoomphonecall://+15551234567?CallerID=10001", {"callerid": "10001"}),
    ("zoomphonecall://+15551234567?cat=daily%20report&bind=a+b", {"cat": "daily report", "bind": "a+b"}),
    ("zoomphonecall://+15551234567?bind=" + "b" * 128, {"bind": "b" * 128}),
    ("zoomphonecall://+15551234567/?callerid=10001", {"callerid": "10001"}),
])
def test_zoomphonecall_parameters(raw, fields):
    link = parse_link(raw)
    assert (link.action, link.number, link.scheme) == ("call", "+15551234567", "zoomphonecall")
    for key, value in fields.items():
        assert getattr(link, key) == value


@pytest.mark.parametrize("callerid", [
    "1", "123456789", "+1234567", "+1234567890123456", "abc", "10 001", "+1-555-765-4321",
    "1000a", "%2B1", "++15557654321", "10001;x", "*10", "１０００１",
])
def test_callerid_must_be_an_extension_or_e164(callerid):
    message = rejected(f"zoomphonecall://+15551234567?callerid={callerid}")
    assert message.startswith("callerid is neither an extension (2-8 digits) nor E.164: ")


def test_callerid_rejects_in_sms_links_too():
    assert rejected("zoomphonesms://+15551234567?callerid=x").startswith("callerid is neither")


@pytest.mark.parametrize("raw, message", [
    ("zoomphonecall://1?cat=" + "c" * 129, "cat must be printable text of at most 128 characters"),
    ("zoomphonecall://1?bind=\u00ad", "control character in link: 'zoomphonecall://1?bind=\\xad'"),
    ("zoomphonecall://1?bind=\ue000", "bind must be printable text of at most 128 characters"),
    ("zoomphonecall://1?callerid=10&callerid=+15557654321",
     "zoomphonecall: 'callerid' given twice: 'zoomphonecall://1?callerid=10&callerid=+15557654321'"),
    ("phone.systems://call?number=1&number=2",
     "phone.systems: 'number' given twice: 'phone.systems://call?number=1&number=2'"),
])
def test_query_rejects(raw, message):
    assert rejected(raw) == message


def test_plus_in_a_query_value_stays_a_plus():
    assert parse_link("phone.systems://call?number=+4930123456").number == "+4930123456"
    assert parse_link("zoomphonecall://1?bind=a+b").bind == "a+b"


# ----- zoomphonesms -------------------------------------------------------------------

def test_zoomphonesms():
    raw = "zoomphonesms://+15551234567?callerid=+15557654321"
    assert parse_link(raw).to_json() == {"action": "sms", "number": "+15551234567",
                                         "callerid": "+15557654321", "cat": None, "bind": None,
                                         "scheme": "zoomphonesms", "raw": raw}


def test_zoomphonesms_ignores_cat_and_bind():
    link = parse_link("zoomphonesms://200?cat=x&bind=y")
    assert (link.action, link.number, link.cat, link.bind) == ("sms", "200", None, None)


# ----- phone.systems ------------------------------------------------------------------

@pytest.mark.parametrize("raw, action", [
    ("phone.systems://call?number=+4930123456", "call"),
    ("phone.systems://dialpad?number=+4930123456", "dial"),
    ("phone.systems://Dialpad?number=+4930123456", "dial"),
    ("phone.systems://call/?number=+4930123456", "call"),
    ("phone.systems://call?foo=1&number=+4930123456&callerid=zzz", "call"),  # unknown ignored
])
def test_phone_systems_call_and_dialpad(raw, action):
    link = parse_link(raw)
    assert (link.action, link.number, link.scheme) == (action, "+4930123456", "phone.systems")


@pytest.mark.parametrize("code", ["X", "abc-DEF_123.456", "a" * 128, "0"])
def test_phone_systems_authenticate(code):
    raw = f"phone.systems://authenticate?code={code}"
    assert parse_link(raw).to_json() == {"action": "authenticate", "number": None, "callerid": None,
                                         "cat": None, "bind": None, "scheme": "phone.systems",
                                         "raw": raw, "code": code}


def test_phone_systems_authenticate_ignores_a_number():
    link = parse_link("phone.systems://authenticate?code=abc&number=123")
    assert (link.number, link.code) == (None, "abc")


@pytest.mark.parametrize("query", [
    "", "?code=", "?code", "?code=" + "a" * 129, "?code=a+b", "?code=a%20b", "?code=a/b",
    "?code=%C3%A4", "?code=a;b", "?code=<x>", "?number=123",
])
def test_phone_systems_authenticate_rejects_bad_codes(query):
    assert rejected("phone.systems://authenticate" + query) == (
        "authentication code must be 1-128 of A-Z a-z 0-9 - _ .")


@pytest.mark.parametrize("raw, message", [
    ("phone.systems://hangup?number=1", "unknown phone.systems command 'hangup'"),
    ("phone.systems://sms?number=1", "unknown phone.systems command 'sms'"),
    ("phone.systems://call/x?number=1", "unknown phone.systems command 'call/x'"),
    ("https://phone.systems://evil", "unknown phone.systems command 'evil'"),
    ("phone.systems://", "phone.systems: command is missing: 'phone.systems://'"),
    ("phone.systems://?number=1", "phone.systems: command is missing: 'phone.systems://?number=1'"),
])
def test_phone_systems_unknown_command(raw, message):
    assert rejected(raw) == message


# ----- sip: and sips: -----------------------------------------------------------------

@pytest.mark.parametrize("raw, uri", [
    ("sip:bob@example.com", "sip:bob@example.com"),
    ("sip:bob@example.com?subject=x", "sip:bob@example.com"),
    ("sip:bob@example.com?subject=x&priority=urgent", "sip:bob@example.com"),
    ("SIP:Bob@Example.COM", "sip:Bob@Example.COM"),  # only the scheme is lower-cased
    ("Sips:bob@example.com", "sips:bob@example.com"),
    ("sips:bob@example.com:5061;transport=tls", "sips:bob@example.com:5061;transport=tls"),
    ("sip:bob@example.com;method=INVITE", "sip:bob@example.com"),
    ("sip:bob@example.com;METHOD=REFER;transport=tcp", "sip:bob@example.com;transport=tcp"),
    ("sip:bob@example.com;transport=tcp;method=BYE?Call-ID=x", "sip:bob@example.com;transport=tcp"),
    ("sip:+12125550100@pbx.example.com;user=phone", "sip:+12125550100@pbx.example.com;user=phone"),
    ("sip:200@127.0.0.1:5062", "sip:200@127.0.0.1:5062"),
    ("sip:200@[::1]:5062", "sip:200@[::1]:5062"),
    ("sip:pbx.example.com", "sip:pbx.example.com"),  # no user: the host itself
    ("sip:192.168.1.10", "sip:192.168.1.10"),
    ("sip:alice:secret@example.com", "sip:alice@example.com"),  # the password is dropped
    ("sip:b%40b@example.com", "sip:b%40b@example.com"),  # escapes kept as given
    ("sip:*86@pbx", "sip:*86@pbx"),
    ("sip:bob@example.com;", "sip:bob@example.com"),
    ("sip://bob@example.com", "sip:bob@example.com"),
    ("https://sip:bob@example.com", "sip:bob@example.com"),
])
def test_sip_uris(raw, uri):
    link = parse_link(raw)
    assert (link.action, link.uri, link.number, link.raw) == ("call", uri, None, raw)
    assert link.scheme == uri.split(":")[0]


@pytest.mark.parametrize("raw, message", [
    ("sip:", "sip: address is empty"),
    ("sips:?subject=x", "sips: address is empty"),
    ("sip:;transport=tcp", "sip: address is empty"),
    ("sip:@example.com", "sip: user before '@' is empty: 'sip:@example.com'"),
    ("sip:bob@", "sip: bad host ''"),
    ("sip:bob@exa_mple.com", "sip: bad host 'exa_mple.com'"),
    ("sip:bob@example.com:port", "sip: bad host 'example.com:port'"),
    ("sip:bob@-example.com", "sip: bad host '-example.com'"),
    ("sip:bob@example.com:123456", "sip: bad host 'example.com:123456'"),
    ("sip:bob@example.com:0", "sip: bad port in 'example.com:0'"),
    ("sip:bob@example.com:65536", "sip: bad port in 'example.com:65536'"),
    ("sip:bob@example.com>;x", "SIP address has '>': 'sip:bob@example.com>;x'"),
    ("sip:bob<x>@example.com", "SIP address has '<': 'sip:bob<x>@example.com'"),
    ('sip:bob"@example.com', "SIP address has '\"': 'sip:bob\"@example.com'"),
    ("sip:bob @example.com", "SIP address has ' ': 'sip:bob @example.com'"),
    ("sip:bob@exa mple.com", "SIP address has ' ': 'sip:bob@exa mple.com'"),
    ("sip:bob@example.com#frag", "SIP address has '#': 'sip:bob@example.com#frag'"),
    ("sip:b\\ob@example.com", "SIP address has '\\\\': 'sip:b\\\\ob@example.com'"),
    ("sip:bøb@example.com", "SIP address has 'ø': 'sip:bøb@example.com'"),
    ("sip:bob@exämple.com", "SIP address has 'ä': 'sip:bob@exämple.com'"),
    ("sip:b%4@example.com", "SIP address has a broken %-escape: 'sip:b%4@example.com'"),
    ("sip:b%zz@example.com", "SIP address has a broken %-escape: 'sip:b%zz@example.com'"),
])
def test_sip_rejects(raw, message):
    assert rejected(raw) == message


# ----- messages ---------------------------------------------------------------------

def test_reject_messages_quote_long_input_shortened_on_one_line():
    message = rejected("callto:" + "1" * 40 + "a" * 1000)
    assert message.startswith("number has a letter: 'callto:") and message.endswith("…'")
    assert len(message) < 100


# ----- dial strings -----------------------------------------------------------------

@pytest.mark.parametrize("text, target, scheme", [
    ("+1 (212) 555-0100", "+12125550100", None),
    ("212.555.0100", "+12125550100", None),
    ("200", "200", None),
    ("*86", "*86", None),
    ("0049301234", "0049301234", None),
    ("  +1 212 555 0100\n", "+12125550100", None),  # pasted with a newline
    ("bob@example.com", "sip:bob@example.com", "sip"),
    ("200@127.0.0.1:5062", "sip:200@127.0.0.1:5062", "sip"),
    ("sip:bob@example.com?subject=x", "sip:bob@example.com", "sip"),
    ("sips:bob@example.com", "sips:bob@example.com", "sips"),
    ("tel:+1-212-555-0100", "+12125550100", "tel"),
    ("callto:+12125550100", "+12125550100", "callto"),
    ("phone.systems://dialpad?number=+12125550100", "+12125550100", "phone.systems"),
    ("phone.systems://call?number=+12125550100", "+12125550100", "phone.systems"),
    ("zoomphonecall://+12125550100?callerid=10001", "+12125550100", "zoomphonecall"),
])
def test_dial_strings(text, target, scheme):
    link = parse_dial_string(text, "US")
    assert (link.action, link.target, link.scheme, link.raw) == ("call", target, scheme, text)


def test_dial_string_keeps_link_details():
    link = parse_dial_string("zoomphonecall://+12125550100?callerid=10001&cat=c")
    assert (link.callerid, link.cat) == ("10001", "c")
    assert parse_dial_string("tel:+12125550100;ext=3").ext == "3"


def test_dial_string_uses_the_region():
    assert parse_dial_string("030 123456", "DE").number == "+4930123456"


@pytest.mark.parametrize("text, message", [
    ("", "nothing to dial"),
    (" \n\t", "nothing to dial"),
    ("alice", "number has a letter: 'alice'"),
    ("12\x0034", "number has a control character: '12\\x0034'"),
    ("12%0a34", "number has '%': '12%0a34'"),  # a typed number is not %-decoded
    ("bob@example.com%0a", "control character in link: 'bob@example.com%0a'"),
    ("1 2 3 $", "number has '$': '1 2 3 $'"),
    ("@example.com", "sip: user before '@' is empty: '@example.com'"),
    ("bob@", "sip: bad host ''"),
    ("bob@<evil>", "SIP address has '<': 'bob@<evil>'"),
    ("javascript:alert(1)", "unsupported scheme 'javascript'"),
    ("phone.systems://authenticate?code=abc",
     "not something to call (phone.systems authenticate): 'phone.systems://authenticate?code=abc'"),
    ("zoomphonesms://+12125550100", "not something to call (zoomphonesms sms): 'zoomphonesms://+12125550100'"),
    ("1" * 33, "number is longer than 32 digits: '" + "1" * 33 + "'"),
])
def test_dial_string_rejects(text, message):
    with pytest.raises(LinkError) as e:
        parse_dial_string(text)
    assert str(e.value) == message


# ----- innovaphone's txt ----------------------------------------------------------------

@pytest.mark.parametrize("txt, region, expected", [
    ("+49 (7031) 73009 - 0", "DE", ("num", "+497031730090")),
    ("+49 (7031) 73009 - 0", "US", ("num", "+497031730090")),
    ("07031 73009-0", "DE", ("num", "+497031730090")),
    ("200", "US", ("num", "200")),
    ("*86", "US", ("num", "*86")),
    ("200@pbx", "US", ("sip", "sip:200@pbx")),
    ("sip:200@pbx", "US", ("sip", "sip:200@pbx")),
    ("SIP:200@pbx;transport=tcp?x=y", "US", ("sip", "sip:200@pbx;transport=tcp")),
    ("sips:pbx.example.com", "US", ("sip", "sips:pbx.example.com")),
    ("tel:+12125550100", "US", ("num", "+12125550100")),
])
def test_classify_txt(txt, region, expected):
    assert classify_txt(txt, region) == expected


@pytest.mark.parametrize("txt", ["", "Charlie", "call me", "sip:", "a@b c", "12\n3", "https://x.example"])
def test_classify_txt_rejects_what_is_neither(txt):
    with pytest.raises(LinkError):
        classify_txt(txt, "US")


# ----- fuzzing: clean rejections, never another exception --------------------------------

PIECES = [
    "tel:", "callto:", "callto://", "sip:", "sips:", "SIP:", "phone.systems://", "zoomphonecall://",
    "zoomphonesms://", "https://", "http://", "javascript:", "call", "dialpad", "authenticate",
    "?", "&", "=", ";", "/", "//", ":", "@", "#", "*", "+", "-", ".", "(", ")", " ", "$", "<", ">", "\"",
    "number=", "code=", "callerid=", "cat=", "bind=", "ext=", "phone-context=", "method=", "subject=",
    "0", "1", "12", "49", "555", "2125550100", "+12125550100", "a", "Z", "bob", "example.com", "[::1]",
    "%", "%0a", "%00", "%20", "%2B", "%23", "%3B", "%FF", "%E2%80%AE", "%zz",
    "\x00", "\n", "\r", "\t", "\x7f", "\u202e", "\u00a0", "\u200b", "\u2028", "\udcff", "ä", "١", "１", "☎",
]
SEEDS = [
    "tel:+1-212-555-0100;ext=12", "tel:555-0100;phone-context=+1-212", "tel:1234;phone-context=example.com",
    "callto://+123456789/", "sip:bob@example.com;transport=tcp?subject=x", "sips:200@[::1]:5061",
    "phone.systems://call?number=+4930123456", "phone.systems://dialpad?number=0049301234",
    "phone.systems://authenticate?code=abc-123", "https://phone.systems://call?number=*86",
    "zoomphonecall://+15551234567?callerid=+15557654321&cat=report&bind=abc123",
    "zoomphonesms://200?callerid=10001", "bob@example.com", "+1 (212) 555-0100",
]


@st.composite
def mutated(draw):
    """A valid link with a few pieces inserted, or characters dropped."""
    text = draw(st.sampled_from(SEEDS))
    for _ in range(draw(st.integers(0, 3))):
        i = draw(st.integers(0, len(text)))
        if draw(st.booleans()):
            text = text[:i] + draw(st.sampled_from(PIECES)) + text[i:]
        else:
            text = text[:i] + text[i + 1:]
    return text


link_like = st.lists(st.sampled_from(PIECES), max_size=14).map("".join)
any_text = st.one_of(st.text(max_size=80), link_like, mutated())


def check_link(link: Link, raw: str) -> None:
    assert isinstance(link, Link)
    assert link.raw == raw
    assert link.action in ACTIONS
    data = link.to_json()
    assert list(data)[:2] == ["action", "number"] and data["raw"] == raw
    json.dumps(data)
    if link.number is not None:
        assert set(link.number) <= NUMBER_CHARS and link.number.lstrip("+")
        assert len(link.number) <= 32 and "+" not in link.number[1:]
    if link.uri is not None:
        assert link.number is None and re.match(r"sips?:", link.uri)
        assert not re.search(r"[\s<>\"?#\x00-\x1f\x7f]", link.uri)
        assert ";method=" not in link.uri.lower()
    if link.action == "authenticate":
        assert link.number is None and re.fullmatch(r"[A-Za-z0-9._-]{1,128}", link.code)
    else:
        assert (link.number is None) != (link.uri is None) and link.code is None
    if link.callerid is not None:
        assert re.fullmatch(r"[0-9]{2,8}|\+[0-9]{8,15}", link.callerid)
    if link.ext is not None:
        assert set(link.ext) <= NUMBER_CHARS
    for text in (link.cat, link.bind, link.context):
        assert text is None or (text.isprintable() and len(text) <= 128)


def check_error(error: LinkError) -> None:
    message = str(error)
    assert message and message.isprintable() and len(message) < 200


@given(any_text, st.sampled_from(["US", "DE", "GB", ""]))
@example("tel:+1-212-555-0100;ext=12", "US")
@example("https://phone.systems://call?number=+4930123456", "US")
@settings(max_examples=400, deadline=None)
def test_fuzz_parse_link_returns_a_link_or_raises_link_error(raw, region):
    try:
        link = parse_link(raw, region)
    except LinkError as e:
        check_error(e)
    else:
        check_link(link, raw)


@given(any_text)
@settings(max_examples=300, deadline=None)
def test_fuzz_parse_dial_string(text):
    try:
        link = parse_dial_string(text, "US")
    except LinkError as e:
        check_error(e)
    else:
        check_link(link, text)
        assert link.action == "call"


@given(any_text)
@settings(max_examples=200, deadline=None)
def test_fuzz_classify_txt(txt):
    try:
        kind, target = classify_txt(txt, "DE")
    except LinkError as e:
        check_error(e)
    else:
        assert (kind == "sip") == bool(re.match(r"sips?:", target))
        assert kind == "sip" or set(target) <= NUMBER_CHARS


@given(st.sampled_from(["tel:", "callto:", "zoomphonecall://", "phone.systems://call?number="]),
       st.text(alphabet="0123456789-.() +", min_size=1, max_size=40))
@settings(max_examples=200, deadline=None)
def test_fuzz_numbers_with_separators_parse_or_reject_cleanly(prefix, body):
    raw = prefix + body
    try:
        link = parse_link(raw)
    except LinkError as e:
        assert re.match(r"(number |\S+: number is empty)", str(e))
    else:
        check_link(link, raw)


@given(st.text(alphabet="0123456789", min_size=1, max_size=32), st.sampled_from(["US", "DE"]))
@settings(max_examples=100, deadline=None)
def test_fuzz_the_same_number_reads_alike_under_every_scheme(digits, region):
    numbers = {parse_link(raw, region).number for raw in (
        f"tel:{digits}", f"callto:{digits}", f"callto://{digits}/", f"zoomphonecall://{digits}",
        f"zoomphonesms://{digits}", f"phone.systems://call?number={digits}",
        f"https://phone.systems://dialpad?number={digits}")}
    assert len(numbers) == 1
    assert numbers == {parse_dial_string(digits, region).number}


@pytest.mark.parametrize("url, uri", [("sip:bob:pass@127.0.0.1", "sip:bob@127.0.0.1"),
                                      ("sip:bob:pa:ss@127.0.0.1:5060;transport=udp", "sip:bob@127.0.0.1:5060;transport=udp"),
                                      ("sip:911;isub=1:pw@gw", "sip:911;isub=1@gw")])
def test_a_password_in_a_sip_link_is_dropped(url, uri):
    """Found by an outside probe: the password went into the INVITE, the log, status and History."""
    assert parse_dial_string(url, "US").uri == uri
