"""policy.py: which calls from outside the keyboard need the user's confirmation
(DESIGN.md "Dial policy", tightened by issue 12: service codes, disguised
emergency and premium numbers), and how Phone.execute applies it when headless."""

import pytest

from tui_phone.commands import PrepareCall, SendSms, Source, StartCall
from tui_phone.config import parse
from tui_phone.control import protocol
from tui_phone.phone import Phone
from tui_phone.policy import judge, readings

US = parse("")
DE = parse('[numbers]\ndefault_region = "DE"\n')
US9 = parse('[numbers]\nexternal_prefix = "9"\n')
OUTSIDE = (Source.LINK, Source.SOCKET, Source.HTTP)


def needs_confirmation(target, config, source=Source.LINK):
    return judge(target, source, config)


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
    assert needs_confirmation("110", US) is None
    assert needs_confirmation("110", DE) is not None
    # 112 and 911 reach emergency services from mobile networks everywhere: asked in every region
    assert needs_confirmation("911", DE) is not None and needs_confirmation("112", US) is not None


@pytest.mark.parametrize("target", ["1200", "+12125550100", "0911 123456", "09111234567", "+4991112345",
                                    "0800 1234567"])
def test_not_emergency_numbers(target):
    """Nuremberg's 0911 area code with a subscriber number behind it is no emergency call."""
    assert needs_confirmation(target, US) is None
    assert needs_confirmation(target, DE) is None


@pytest.mark.parametrize("target, reaches", [("0911", "911"), ("00911", "911"), ("011911", "911"), ("+911", "911"),
                                             ("0112", "112"), ("9112", "112"), ("0999", "999"), ("tel:0911", "911"),
                                             ("sip:00911@pbx.example.com", "911"), ("0911#", "911")])
def test_an_unconfigured_line_prefix_in_front_of_an_emergency_number(target, reaches):
    """Found by an outside probe: with no external_prefix configured, 0911, 00911 and 011911 dialled
    unasked (a PBX's outside line 0 or 9, an international prefix in front of 911)."""
    for config in (US, DE) if target != "011911" else (US,):  # 011 is the US international prefix
        reason = needs_confirmation(target.removeprefix("tel:"), config)
        assert reason is not None and reaches in reason, (target, reason)


@pytest.mark.parametrize("target", ["999", "000"])
def test_what_visitors_dial_is_asked_in_every_region(target):
    """999 (UK) and 000 (Australia) are asked even in region US: a visitor dials them from habit."""
    for config in (US, DE):
        assert "emergency" in needs_confirmation(target, config)


@pytest.mark.parametrize("target", ["+1911", "+1-911", "1911", "1 911", "+1 (911)", "011 1 911", "sip:1911@pbx",
                                    "sip:%2B1911@pbx", "sip:+%31911@pbx", "sip:911:secret@127.0.0.1"])
def test_the_own_country_code_in_front_of_911_still_reaches_911(target):
    """Found by the outside probe: in North America 1-911 reaches 911."""
    assert "911" in needs_confirmation(target, US)


# ----- disguised forms (issue 12, item 2) ---------------------------------------------

DISGUISED_EMERGENCY = [
    "*67911", "911#", "*82911", "911*", "#31#911", "*67*82911", "*67911#", "*67 911", "*67-911",
    "sip:*67911@pbx.example.com", "sip:%2A67911@pbx.example.com", "sip:911%23@pbx.example.com",
    "SIP:911@pbx.example.com", "sip:%2a%36%37%39%31%31@pbx.example.com", "sip:９１１@pbx.example.com",
]
DISGUISED_PREMIUM = [
    "*6719005550100", "1-900-555-0100#", "*72+19005550100", "*8219005550100#", "19005550100*",
    "sip:*6719005550100@pbx.example.com", "sip:1900555010%30%23@pbx.example.com",
]


@pytest.mark.parametrize("target", DISGUISED_EMERGENCY)
@pytest.mark.parametrize("source", OUTSIDE)
def test_emergency_behind_service_codes_needs_confirmation(target, source):
    reason = judge(target, source, US)
    assert reason is not None and "emergency number 911" in reason.replace("911 is an", "emergency number 911")


@pytest.mark.parametrize("target", DISGUISED_PREMIUM)
@pytest.mark.parametrize("source", OUTSIDE)
def test_premium_behind_service_codes_needs_confirmation(target, source):
    reason = judge(target, source, US)
    assert reason is not None and "+19005550100 matches the confirmation list" in reason


@pytest.mark.parametrize("target", ["9911", "9*67911", "*679911", "9911#", "919005550100", "*67919005550100#"])
def test_disguised_forms_behind_the_external_prefix(target):
    reason = judge(target, Source.SOCKET, US9)
    assert reason is not None and ("emergency" in reason or "+19005550100" in reason), reason


@pytest.mark.parametrize("target", ["*72", "*7212125550100", "#21#", "*86", "12#", "sip:*72@pbx.example.com",
                                    "sip:2125550100%23@pbx.example.com"])
def test_any_service_code_needs_confirmation(target):
    for source in OUTSIDE:
        reason = judge(target, source, US)
        assert reason is not None and "service code" in reason, (target, reason)


@pytest.mark.parametrize("target", ["*67911", "*72", "+19005550100", "911#", "sip:%2A67911@pbx.example.com"])
def test_the_keyboard_is_never_judged(target):
    assert judge(target, Source.KEYBOARD, US) is None


def test_readings_strip_codes_and_trailing_marks():
    assert {"911", "67911", "7911"} <= readings("*67911")
    assert "911" in readings("#31#911") and "911" in readings("911#") and "911" in readings("9911", "9")
    assert len(readings("*" * 16 + "1" * 16)) <= 256


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
    "+12125550100", "2125550100", "+15551234567", "200", "+442079460000",
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
    cfg = parse('[policy]\nconfirm_patterns = ["^\\\\+49900", "^\\\\+49137"]\npremium_rate = false\n')
    assert needs_confirmation("+499001234567", cfg) is not None
    assert needs_confirmation("+491371234567", cfg) is not None
    assert needs_confirmation("+19005551234", cfg) is None  # the defaults are replaced
    assert needs_confirmation("911", cfg) is not None  # emergency always


def test_empty_confirm_patterns_leave_only_emergency():
    cfg = parse("[policy]\nconfirm_patterns = []\npremium_rate = false\n")
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


@pytest.mark.parametrize("num", ["19005551234", "9005551234", "011449098765432", "*67911", "911#"])
async def test_adjust_does_not_bypass_the_policy(num):
    cfg = parse('[numbers]\nexternal_prefix = "9"\n')
    command = protocol.to_command({"mt": "StartCall", "num": num, "adjust": True}, "US", "9")
    r = await Phone(cfg).execute(command, Source.SOCKET)
    assert not r.ok and r.error.startswith("refused: ")


@pytest.mark.parametrize("url", ["tel:*67911", "tel:911%23", "callto:*82911", "tel:*6719005550100",
                                 "tel:1-900-555-0100%23", "sip:%2A67911@pbx.example.com", "zoomphonecall://*67911",
                                 "phone.systems://call?number=*6719005550100", "https://tel:911%23",
                                 "sip:*72+19005550100@pbx.example.com"])
async def test_links_with_disguised_numbers_are_refused_headless(url):
    r = await Phone(US).open_link(url)
    assert not r.ok and r.kind == "refused" and r.error.startswith("refused: "), (url, r)


async def test_a_message_from_outside_passes_the_dial_policy():
    """Found by an outside probe: SendSms over the socket reached premium and service-code numbers."""
    phone = Phone(US)
    for to in ("+19005551234", "*72", "911"):
        r = await phone.execute(SendSms(to, "hi"), Source.SOCKET)
        assert not r.ok and r.kind == "refused" and r.error.startswith("refused: "), (to, r)
    r = await phone.execute(SendSms("+19005551234", "hi"), Source.KEYBOARD)
    assert r.error == "the SIP engine is not running"  # typed by the user: got past the policy
    r = await phone.execute(SendSms("+12125550100", "hi"), Source.SOCKET)
    assert r.error == "the SIP engine is not running"


@pytest.mark.parametrize("target, reaches", [("+1911", "911"), ("001911", "911"), ("+33112", "112"),
                                             ("+61000", "000"), ("+44999", "999"), ("+1 (911)", "911")])
def test_a_foreign_country_code_in_front_of_an_emergency_number(target, reaches):
    """Found by the second outside probe: with region DE, +1911, 001911, +33112 and +61000 dialled headless."""
    for config in (US, DE):
        reason = needs_confirmation(target, config, Source.SOCKET)
        assert reason is not None and f"emergency number {reaches}" in reason, (target, reason)
    assert "emergency number 112" in needs_confirmation("011 49 112", US, Source.SOCKET)


@pytest.mark.parametrize("target", ["+4930123456", "+33 1 12 34 56 78", "+61 2 9000 0000", "+12125550100"])
def test_foreign_numbers_are_not_emergency_numbers(target):
    assert needs_confirmation(target, DE) is None and needs_confirmation(target, US) is None


def test_a_premium_number_behind_an_unconfigured_line_prefix():
    """Found by the second outside probe: '9 0900…' dialled a German premium number unasked, and a
    premium number phonenumbers calls invalid (too short) was never matched."""
    cfg = parse('[numbers]\ndefault_region = "DE"\nexternal_prefix = "0"\n[policy]\nconfirm_patterns = ["^\\\\+49900"]\n')
    for target in ("90900123456", "0900123456", "909001234567", "9 0900 1234567"):
        reason = judge(target, Source.SOCKET, cfg)
        assert reason is not None and "matches the confirmation list" in reason, (target, reason)
    for target in ("9030123456", "0911 123456", "030 1234567"):
        assert judge(target, Source.SOCKET, cfg) is None, target


@pytest.mark.parametrize("target", ["+49 900 1234567", "0900 1234567", "00 49 900 1234567", "011 49 900 1234567",
                                    "0180 5 123456"])
def test_premium_rate_numbers_by_phonenumbers_data(target):
    """Found by the third outside probe: German 0900 numbers dialled in every form (the default
    confirm_patterns name only +1900 and +44 9/87). phonenumbers' own data knows premium-rate and
    shared-cost numbers of every country; premium_rate = false turns that off."""
    reason = needs_confirmation(target, DE, Source.SOCKET)
    assert reason is not None and "premium-rate" in reason, (target, reason)
    assert needs_confirmation(target, parse('[numbers]\ndefault_region = "DE"\n[policy]\npremium_rate = false\n'),
                              Source.SOCKET) is None


@pytest.mark.parametrize("target", ["011 1 911", "0 011 1 911", "9 011 1 911", "0 00 1 911", "99112"])
def test_an_international_prefix_and_a_line_prefix_together(target):
    """Found by the third outside probe: under DE, 011 1 911 (the US exit code) dialled; under US,
    9 011 1 911 (an outside line, then the exit code) too."""
    for config in (US, DE):
        assert "emergency number" in needs_confirmation(target, config, Source.SOCKET), (target, config)


def test_the_refusal_names_the_emergency_number_itself():
    """Found by an outside probe: '1 911 555 0100' was said to reach 'the emergency number 9115550100'."""
    assert judge("1 911 555 0100", Source.HTTP, US).endswith("reaches the emergency number 911")
