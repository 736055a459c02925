"""SIP depth against real peers: 3xx redirects followed (and stopped), 501 for
unknown methods, the far end's Reason in the call and history, RTP ports from
config, codec order in the offered SDP."""

import re
import time

import pytest

from tests.contract.test_call_history import history
from tests.peers import SCENARIOS, sipp_uac, sipp_uas
from tests.phoneproc import direct


def redirect_uas(sipp_dir, target: str, scenario: str = "uas-redirect.xml", **kw):
    return sipp_uas(sipp_dir, scenario=scenario, extra_args=["-key", "target", target], **kw)


def hops_scenario(path, contacts: list[str]) -> str:
    """A UAS answering each INVITE of one call (a redirect keeps the Call-ID) with 302 to the next contact."""
    steps = "".join(f"""
  <recv request="INVITE" crlf="true"/>
  <send retrans="500"><![CDATA[

      SIP/2.0 302 Moved Temporarily
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <{contact}>
      Content-Length: 0

    ]]></send>
  <recv request="ACK" crlf="true"/>
""" for contact in contacts)
    path.write_text(f'<?xml version="1.0" encoding="ISO-8859-1" ?>\n<scenario name="hops">{steps}'
                    '<timewait milliseconds="100"/>\n</scenario>\n')
    return str(path)


def ended(phone, cid, timeout=10):
    """The call as published when it ended (state Disconnected, with code and reasons)."""
    return phone.wait_call_state("Disconnected", timeout, cid)


def test_unknown_method_gets_501(headless, sipp_dir):
    phone = headless(direct("alice"))
    uac = sipp_uac(sipp_dir, phone.sip_address, "alice", str(SCENARIOS / "uac-foo.xml"), timeout=5)
    assert uac.wait(10) == 0, uac.messages()[-2000:]
    assert "SIP/2.0 501" in uac.messages()
    deadline = time.monotonic() + 3
    while "FOO request with 501" not in phone.stderr() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "answered a FOO request with 501 (unknown method)" in phone.stderr()


@pytest.mark.parametrize("method, code", [("INFO", 481), ("UPDATE", 481), ("BYE", 481), ("PRACK", 481),
                                          ("NOTIFY", 481), ("REFER", 501)])
def test_a_dialog_method_outside_any_dialog_is_answered(headless, sipp_dir, tmp_path, method, code):
    """Found by an outside probe: INFO and UPDATE outside a dialog got no answer (the sender
    retransmitted for 32 s). They belong to a dialog that does not exist: 481; REFER outside a
    call is not served: 501."""
    phone = headless(direct("alice"))
    scenario = tmp_path / f"uac-{method}.xml"
    scenario.write_text((SCENARIOS / "uac-foo.xml").read_text().replace("FOO", method)
                        .replace('<recv response="501"/>', f'<recv response="{code}"/>'))
    uac = sipp_uac(sipp_dir, phone.sip_address, "alice", str(scenario), timeout=5)
    assert uac.wait(10) == 0, uac.messages()[-2000:]
    assert f"SIP/2.0 {code}" in uac.messages()


def test_register_to_the_phone_gets_405_with_allow(headless, sipp_dir, tmp_path):
    phone = headless(direct("alice"))
    scenario = tmp_path / "uac-register.xml"
    scenario.write_text((SCENARIOS / "uac-foo.xml").read_text().replace("FOO", "REGISTER")
                        .replace('<recv response="501"/>', '<recv response="405"/>'))
    uac = sipp_uac(sipp_dir, phone.sip_address, "alice", str(scenario), timeout=5)
    assert uac.wait(10) == 0, uac.messages()[-2000:]
    allow = re.search(r"^Allow: (.*)$", uac.messages().split("SIP/2.0 405", 1)[1], re.M)
    assert allow and {"INVITE", "BYE", "MESSAGE"} <= set(allow.group(1).replace(" ", "").split(","))


def test_302_is_followed_to_a_second_uas(headless, sipp_dir):
    final = sipp_uas(sipp_dir, scenario="uas-fast")
    target = f"sip:final@127.0.0.1:{final.port}"
    first = redirect_uas(sipp_dir, target)
    phone = headless(direct("alice"))
    r = phone.api({"mt": "StartCall", "sip": f"sip:service@127.0.0.1:{first.port}"})
    assert r["ok"], r
    c = phone.wait_call_state("Connected", 10, r["id"])
    assert c["redirected_to"] == target
    assert first.wait(10) == 0
    phone.api({"mt": "DisconnectCall", "id": r["id"]})
    assert final.wait(10) == 0
    assert "INVITE sip:final@" in final.messages()


def test_redirects_stop_after_five_hops(headless, sipp_dir, tmp_path):
    phone = headless(direct("alice"))
    port = __import__("tests.peers", fromlist=["free_udp_port"]).free_udp_port()
    contacts = [f"sip:hop{n}@127.0.0.1:{port}" for n in range(1, 7)]
    uas = sipp_uas(sipp_dir, port, hops_scenario(tmp_path / "hops.xml", contacts))
    r = phone.api({"mt": "StartCall", "sip": f"sip:service@127.0.0.1:{port}"})
    last = ended(phone, r["id"])
    assert uas.wait(10) == 0, uas.messages()[-2000:]
    assert uas.messages().count("INVITE sip:") == 6  # the first call and five redirects followed
    assert last["redirected_to"] == contacts[-1]
    assert "redirect to " + contacts[-1] + " not followed: more than 5 redirects" in phone.stderr()


def test_redirect_loop_is_not_followed(headless, sipp_dir, tmp_path):
    phone = headless(direct("alice"))
    port = __import__("tests.peers", fromlist=["free_udp_port"]).free_udp_port()
    a = f"sip:a@127.0.0.1:{port}"
    uas = sipp_uas(sipp_dir, port, hops_scenario(tmp_path / "loop.xml", [a, a]))
    r = phone.api({"mt": "StartCall", "sip": f"sip:service@127.0.0.1:{port}"})
    last = ended(phone, r["id"])
    assert uas.wait(10) == 0, uas.messages()[-2000:]
    assert uas.messages().count("INVITE sip:") == 2
    assert last["redirected_to"] == a
    assert last["code"] == 302  # pjsip's target set already holds it: the call ends there


def test_redirect_to_a_premium_number_asks_first(headless, sipp_dir):
    premium = sipp_uas(sipp_dir, scenario="uas-fast")
    target = f"sip:+19005550100@127.0.0.1:{premium.port}"
    first = redirect_uas(sipp_dir, target)
    phone = headless(direct("alice"))  # headless: asking means refusing, with the reason
    r = phone.api({"mt": "StartCall", "sip": f"sip:service@127.0.0.1:{first.port}"})
    last = ended(phone, r["id"])
    assert last["redirected_to"] == target
    assert first.wait(10) == 0
    deadline = time.monotonic() + 5
    while "redirect to" not in phone.stderr() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "needs confirmation" in phone.stderr() and "+1900" in phone.stderr()
    time.sleep(1)
    assert "INVITE" not in premium.messages()  # never dialled


def test_reason_of_a_bye_is_shown_and_kept(headless, sipp_dir):
    uas = sipp_uas(sipp_dir, scenario="uas-bye-reason.xml")
    phone = headless(direct("alice"))
    r = phone.api({"mt": "StartCall", "sip": f"sip:service@127.0.0.1:{uas.port}"})
    last = ended(phone, r["id"])
    assert last["reason_remote"] == "Normal call clearing (Q.850 cause 16)"
    assert uas.wait(10) == 0
    rows = history(phone)
    assert rows and rows[0].reason_remote == "Normal call clearing (Q.850 cause 16)"


def test_reason_of_a_busy_answer_is_shown(headless, sipp_dir):
    uas = sipp_uas(sipp_dir, scenario="uas-busy-reason.xml")
    phone = headless(direct("alice"))
    r = phone.api({"mt": "StartCall", "sip": f"sip:service@127.0.0.1:{uas.port}"})
    last = ended(phone, r["id"])
    assert (last["code"], last["reason_remote"]) == (486, "User busy (Q.850 cause 17)")


def test_rtp_port_range_and_codec_order_in_the_offer(headless, sipp_dir):
    uas = sipp_uas(sipp_dir, scenario="uas-fast")
    phone = headless(direct("alice") + '\n[sip]\nrtp_port = 47100\nrtp_port_range = 20\n\n'
                     '[audio]\nnull = true\ncodecs = ["G722", "PCMA", "PCMU"]\n')
    r = phone.api({"mt": "StartCall", "sip": f"sip:service@127.0.0.1:{uas.port}"})
    phone.wait_call_state("Connected", 10, r["id"])
    phone.api({"mt": "DisconnectCall", "id": r["id"]})
    assert uas.wait(10) == 0
    offer = uas.messages().split("INVITE sip:", 1)[1]
    m = re.search(r"^m=audio (\d+) RTP/AVP ([\d ]+)$", offer, re.M)
    assert m, offer
    assert 47100 <= int(m.group(1)) < 47120
    payloads = m.group(2).split()
    assert payloads[:3] == ["9", "8", "0"], payloads  # G722, PCMA, PCMU in that order
    names = set(re.findall(r"^a=rtpmap:\d+ ([^/]+)/", offer, re.M))
    assert names == {"G722", "PCMA", "PCMU", "telephone-event"}, names  # every other codec is disabled


def test_reason_of_a_cancel_is_kept_with_the_missed_call(headless, sipp_dir):
    phone = headless(direct("alice"))
    uac = sipp_uac(sipp_dir, phone.sip_address, "alice", str(SCENARIOS / "uac-cancel-reason.xml"))
    assert uac.wait(10) == 0, uac.messages()[-2000:]
    rows = history(phone)
    assert rows and (rows[0].kind, rows[0].reason_remote) == ("missed", "Call completed elsewhere (SIP cause 200)")
