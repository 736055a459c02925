"""One rule for SIP addresses (issue 13): every module reads a URI through
``uri.SipUri`` instead of splitting it by hand, so a user part with ``;``,
a port or a parameter means the same everywhere. Pure: no pjsua2, no Textual."""

import pytest

from tui_phone.commands import Source
from tui_phone.config import ConfigError, parse
from tui_phone.contacts.model import Contact, Number
from tui_phone.control.records import same_peer
from tui_phone.notify import render
from tui_phone.phone import Phone
from tui_phone.policy import judge
from tui_phone.sip.callrules import same_host
from tui_phone.sip.headers import contact_for
from tui_phone.sip.probe import registrar_address
from tui_phone.sip.redirect import refuse
from tui_phone.store import Call
from tui_phone.uri import SipUri, shown, who

US = parse("")


def test_user_part_may_hold_a_semicolon():
    uri = SipUri.parse("sip:911;phone-context=+1@gw.example.com:5070;user=phone")
    assert (uri.user, uri.host, uri.port, uri.params) == ("911;phone-context=+1", "gw.example.com", 5070,
                                                         (("user", "phone"),))
    assert uri.number == "911" and str(uri) == "sip:911;phone-context=+1@gw.example.com:5070;user=phone"
    assert SipUri.parse("sip:200:secret@pbx").plain_user == "200"
    assert SipUri.parse("sip:alice%40corp@pbx").plain_user == "alice@corp"


@pytest.mark.parametrize("target", ["sip:911;phone-context=+1@gw.example.com;user=phone", "sip:911:pw@gw"])
def test_policy_reads_the_user_part_as_sip_does(target):
    assert "emergency" in judge(target, Source.LINK, US)


def test_policy_asks_before_an_address_it_cannot_read():
    # a 3xx Contact reaches the policy unchecked: a bad port must not skip the emergency check
    why = judge("sip:911@gw.example.com:0", Source.REDIRECT, US)
    assert why == "sip:911@gw.example.com:0 is not a valid SIP address, so its number cannot be checked"
    assert refuse(["sip:200@pbx"], "sip:911@gw.example.com:0", US)[1] is True


def test_message_peers_keep_their_port():
    peer = "sip:bob@pbx.example.com:5070"
    assert same_peer(peer, "bob") and same_peer(peer, "bob@PBX.example.com:5070")
    assert same_peer(peer, "sip:bob@pbx.example.com:5070;transport=udp")
    assert not same_peer(peer, "sip:bob@pbx.example.com") and not same_peer(peer, "bob@pbx.example.com")
    assert not same_peer(peer, "") and not same_peer("not a uri", "bob")


def test_team_member_at_the_account_domain_keeps_port_and_parameters():
    phone = Phone(parse('[[accounts]]\nuri = "sip:alice@pbx.example.com:5070;transport=tcp"\n'))
    member = Contact(numbers=(Number("work", "201", "+12025550101"),))
    assert phone.member_uri(member) == "sip:+12025550101@pbx.example.com:5070;transport=tcp"


@pytest.mark.parametrize("uri, message", [
    ("sip:alice@pbx:99999", "must be a sip: or sips: URI"),
    ("sip:pbx.example.com", "must be user@host"),
    ("sip:@pbx.example.com", "must be user@host"),
])
def test_account_uri_is_read_as_a_sip_uri(uri, message):
    with pytest.raises(ConfigError, match=message):
        parse(f'[[accounts]]\nuri = "{uri}"\n')


def test_account_name_is_the_user_part():
    assert parse('[[accounts]]\nuri = "sip:alice@pbx.example.com:5070;transport=tcp"\n').accounts[0].name == "alice"


def test_registrar_and_server_hosts():
    assert registrar_address("sip:[::1]") == ("::1", 5060)
    assert registrar_address("sip:pbx:0") is None
    assert same_host("[::1]:5060", "sip:[::1]") and same_host("10.0.0.1:5070", "<sip:10.0.0.1:5070;lr>")
    assert not same_host("", "sip:10.0.0.1")


def test_redirect_contact_matches_a_user_with_parameters():
    msg = "SIP/2.0 302 Moved\r\nContact: <sip:911;isub=1@10.0.0.1:5070>\r\n\r\n"
    assert contact_for("sip:911;isub=1@10.0.0.1", msg) == "sip:911;isub=1@10.0.0.1:5070"


@pytest.mark.parametrize("remote, name", [
    ("sip:bob@pbx", "bob"), ('"Bob" <sip:bob@pbx:5070>;tag=1', "bob"), ("sip:pbx.example.com:5070", "pbx.example.com:5070"),
    ("<tel:+15550100>", "+15550100"), ("", ""),
])
def test_who(remote, name):
    assert who(remote) == name


def test_notify_callerid_and_shown():
    assert "cid=bob" in render("x?cid=$callerid", Call(1, "i", "sip:bob@pbx:5070"))
    assert shown("sip:bob@pbx") == "bob@pbx" and shown("sips:bob@pbx") == "sips:bob@pbx"
