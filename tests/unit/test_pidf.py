"""PIDF parsing and the mapping to the four team states (seed 003)."""

import pytest

from tui_phone.events import OwnStatus, Presence, TeamLoaded

from tui_phone.sip.pidf import parse_pidf, presence_status
from tui_phone.store import State, model, reduce

PJSUA_AWAY = """<?xml version="1.0" encoding="UTF-8"?>
<presence entity="sip:bob@127.0.0.1" xmlns="urn:ietf:params:xml:ns:pidf"
  xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model" xmlns:rpid="urn:ietf:params:xml:ns:pidf:rpid">
 <tuple id="t1"><status><basic>open</basic></status><note>Unavailable</note></tuple>
 <dm:person id="p1"><rpid:activities><rpid:away /></rpid:activities><dm:note>Unavailable</dm:note></dm:person>
</presence>"""

ON_THE_PHONE = """<presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:rpid="urn:ietf:params:xml:ns:pidf:rpid"
 entity="sip:x@y"><tuple id="a"><status><basic>open</basic></status></tuple>
 <person xmlns="urn:ietf:params:xml:ns:pidf:data-model"><rpid:activities><rpid:on-the-phone/></rpid:activities></person>
</presence>"""

CLOSED = '<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="sip:x@y"><tuple id="a">' \
         '<status><basic>closed</basic></status></tuple></presence>'


def test_parse_pjsua_pidf():
    assert parse_pidf(PJSUA_AWAY) == (True, {"away"}, "Unavailable")


def test_parse_other_clients():
    assert parse_pidf(ON_THE_PHONE) == (True, {"on-the-phone"}, "")
    assert parse_pidf(CLOSED) == (False, set(), "")


@pytest.mark.parametrize("body", [
    "", "not xml", "<html/>",
    '<!DOCTYPE x [<!ENTITY a "aaaa">]><presence xmlns="urn:ietf:params:xml:ns:pidf">&a;</presence>',
    "<presence>" + "x" * 70000 + "</presence>",
])
def test_bad_documents_are_refused(body):
    assert parse_pidf(body) is None


@pytest.mark.parametrize("online, acts, note, status", [
    (False, set(), "", "offline"),
    (False, {"busy"}, "In call", "offline"),
    (True, set(), "", "available"),
    (True, set(), "Available", "available"),
    (True, {"away"}, "", "unavailable"),
    (True, {"meeting"}, "", "unavailable"),
    (True, set(), "Do not disturb", "unavailable"),
    (True, {"busy"}, "", "in-call"),
    (True, {"on-the-phone"}, "", "in-call"),
    (True, set(), "On the phone", "in-call"),
])
def test_presence_status(online, acts, note, status):
    assert presence_status(online, acts, note) == status


def test_store_keeps_presence_and_team():
    s = reduce(State(), TeamLoaded((("Bob", "sip:bob@h"),)))
    s = reduce(s, Presence("sip:bob@h", "in-call", "In call"))
    s = reduce(s, OwnStatus("unavailable"))
    m = model(s)["dev:tui-phone"]["model"]
    assert m["team"] == [{"dn": "Bob", "sip": "sip:bob@h", "status": "in-call"}]
    assert m["status"] == "unavailable"
    assert reduce(s, Presence("sip:bob@h", "in-call", "In call")) is s


# ----- defusedxml (issue 12): the parser, not a substring test, decides what a DTD is --------------

NOTE_MENTIONS_DOCTYPE = ('<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="sip:x@y"><tuple id="a">'
                         '<status><basic>open</basic></status><note><![CDATA[fixing <!DOCTYPE html> pages]]></note>'
                         '</tuple></presence>')


def test_a_note_that_mentions_doctype_is_still_presence():
    assert parse_pidf(NOTE_MENTIONS_DOCTYPE) == (True, set(), "fixing <!DOCTYPE html> pages")


@pytest.mark.parametrize("body", [
    '<?xml version="1.0"?><!DOCTYPE presence SYSTEM "http://127.0.0.1:9/x.dtd">'
    '<presence xmlns="urn:ietf:params:xml:ns:pidf"/>',
    '<!DOCTYPE p [<!ENTITY x SYSTEM "file:///etc/passwd">]><presence xmlns="urn:ietf:params:xml:ns:pidf">'
    '<tuple id="a"><note>&x;</note></tuple></presence>',
    '<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;">]>'
    '<presence xmlns="urn:ietf:params:xml:ns:pidf"><note>&lol2;</note></presence>',
    '<presence xmlns="urn:ietf:params:xml:ns:pidf"><tuple id="a"><note>\ud800</note></tuple></presence>',
])
def test_dtds_entities_and_external_references_are_refused(body):
    assert parse_pidf(body) is None
