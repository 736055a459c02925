"""policy.py: which calls from outside the keyboard need the user's confirmation
(DESIGN.md "Dial policy"), and how Phone.execute applies it when headless."""

import pytest

from tui_phone.commands import PrepareCall, Source, StartCall
from tui_phone.config import parse
from tui_phone.control import protocol
from tui_phone.phone import Phone
from tui_phone.policy import needs_confirmation

US = parse("")
DE = parse('[numbers]\ndefault_region = "DE"\n')


# ----- emergency numbers (phonenumbers' short-number data) ------------------------

@pytest.mark.parametrize("target, config", [
    ("911", US), ("112", US), ("9111", US),  # prefix match: the cautious choice
    ("112", DE), ("110", DE),
    ("sip:911@pbx.example.com", US), ("sips:911@pbx.example.com", US),
    ("sip:911@pbx.example.com;user=phone", US), ("sip:112@127.0.0.1:5060", DE),
])
def test_emergency_numbers_need_confirmation(target, config):
    reason = needs_confirmation(target, config)
    assert reason is not None and "emergency" in reason
    assert "\n" not in reason


def test_emergency_depends_on_the_default_region():
    assert needs_confirmation("911", DE) is None
    assert needs_confirmation("110", US) is None


@pytest.mark.parametrize("target", ["+1911", "*911", "#112", "0112"])
def test_not_emergency_numbers(target):
    assert needs_confirmation(target, US) is None


# ----- premium rate: the default confirm_patterns -----------------------------------

@pytest.mark.parametrize("target, e164", [
    ("+19005551234", "+19005551234"),
    ("19005551234", "+19005551234"),  # national form under US is normalised first
    ("9005551234", "+19005551234"),
    ("+448712345678", "+448712345678"),
    ("+449012345678", "+449012345678"),
    ("+4487", "+4487"),  # the pattern is on the prefix, valid or not
    ("sip:+19005551234@pbx.example.com", "+19005551234"),
    ("sip:19005551234@pbx.example.com;user=phone", "+19005551234"),
])
def test_premium_numbers_need_confirmation(target, e164):
    reason = needs_confirmation(target, US)
    assert reason is not None
    assert e164 in reason and "confirmation list" in reason


def test_premium_under_de_region():
    assert needs_confirmation("+19005551234", DE) is not None
    assert needs_confirmation("+449012345678", DE) is not None


@pytest.mark.parametrize("target", [
    "+12125550100", "2125550100", "+15551234567", "200", "*86", "+442079460000",
    "+4930123456", "0049301234", "+1800555012",
    "sip:bob@example.com", "sip:200@pbx.example.com", "sips:alice@example.com;transport=tls",
    "sip:+12125550100@pbx.example.com", "sip:pbx.example.com",
])
def test_ordinary_targets_dial_at_once(target):
    assert needs_confirmation(target, US) is None


def test_named_sip_user_is_never_judged_even_if_it_looks_like_a_number_prefix():
    assert needs_confirmation("sip:911bob@example.com", US) is None
    assert needs_confirmation("sip:911.office@example.com", US) is None
    assert needs_confirmation("sip:+1900bob@example.com", US) is None


def test_custom_confirm_patterns_replace_the_defaults():
    cfg = parse('[policy]\nconfirm_patterns = ["^\\\\+49900", "^\\\\+49137"]\n')
    assert needs_confirmation("+499001234567", cfg) is not None
    assert needs_confirmation("+491371234567", cfg) is not None
    assert needs_confirmation("+19005551234", cfg) is None  # the defaults are replaced
    assert needs_confirmation("911", cfg) is not None  # emergency always


def test_empty_confirm_patterns_leave_only_emergency():
    cfg = parse("[policy]\nconfirm_patterns = []\n")
    assert needs_confirmation("+19005551234", cfg) is None
    assert needs_confirmation("911", cfg) is not None


@pytest.mark.parametrize("target", [
    "sip:+1-900-555-1234@pbx.example.com",
    "sip:+1.900.555.1234@pbx.example.com",
    "sip:%39%31%31@pbx.example.com",
    "sip:1900555123%34@pbx.example.com",
])
def test_sip_user_with_separators_or_escapes_is_judged_as_a_number(target):
    assert needs_confirmation(target, US) is not None


# ----- Phone.execute applies the policy (an unstarted phone: no engine, no peers) ----

async def test_headless_refuses_socket_and_link_calls_to_confirmed_numbers():
    phone = Phone(US)
    for source in (Source.SOCKET, Source.LINK, Source.HTTP):
        for target in ("+19005551234", "911", "sip:911@pbx.example.com"):
            r = await phone.execute(StartCall(target), source)
            assert not r.ok and r.error.startswith("refused: ")
            assert "policy.allow_unconfirmed" in r.error
    assert phone.state.calls == ()


async def test_keyboard_dialling_is_never_blocked():
    r = await Phone(US).execute(StartCall("911"), Source.KEYBOARD)
    assert r.error == "the SIP engine is not running"  # got past the policy


async def test_allow_unconfirmed_lets_headless_dial():
    cfg = parse("[policy]\nallow_unconfirmed = true\n")
    r = await Phone(cfg).execute(StartCall("+19005551234"), Source.SOCKET)
    assert r.error == "the SIP engine is not running"  # got past the policy


async def test_ordinary_number_passes_the_policy():
    r = await Phone(US).execute(StartCall("+12125550100"), Source.LINK)
    assert r.error == "the SIP engine is not running"


async def test_prepare_call_headless_needs_the_tui():
    r = await Phone(US).execute(PrepareCall("+19005551234"), Source.SOCKET)
    assert not r.ok and "needs the TUI" in r.error


async def test_open_link_refuses_emergency_headless():
    r = await Phone(US).open_link("tel:911")
    assert not r.ok and r.error.startswith("refused: 911 is an emergency number")


@pytest.mark.parametrize("num", ["19005551234", "9005551234", "011449098765432"])
async def test_adjust_does_not_bypass_the_policy(num):
    cfg = parse('[numbers]\nexternal_prefix = "9"\n')
    command = protocol.to_command({"mt": "StartCall", "num": num, "adjust": True}, "US", "9")
    r = await Phone(cfg).execute(command, Source.SOCKET)
    assert not r.ok and r.error.startswith("refused: ")
