"""Do not disturb, forwarding and auto-answer against real peers: sipp calls
in and sees the 486/480 or the 302 with the forward target as Contact;
baresip holds the call that makes us busy; auto-answer and intercom answer."""

import time

import pytest

from tests.contract.test_call_history import history
from tests.peers import SCENARIOS, baresip_account, free_udp_port, sipp_uac, sipp_uas
from tests.phoneproc import direct

INVITE = "<send" + (SCENARIOS / "uac-bye.xml").read_text().split("<recv", 1)[0].split("<send", 1)[1]  # its INVITE


def expect_final(path, code: int) -> str:
    """A UAC scenario: INVITE, then a final ``code`` (ACKed), nothing else."""
    path.write_text(f"""<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="uac expects {code}">{INVITE}
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="{code}"/>
  <send>
    <![CDATA[

      ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      [last_Via:]
      From: <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <timewait milliseconds="100"/>
</scenario>
""")
    return str(path)


@pytest.mark.parametrize("code", [486, 480])
def test_dnd_rejects_with_the_configured_code(headless, sipp_dir, tmp_path, code):
    phone = headless(direct("alice") + f"\n[answer]\ndnd_code = {code}\n")
    assert phone.api({"mt": "SetStatus", "status": "dnd"})["ok"]
    phone.wait_for(lambda m: m["status"] == "dnd", 5, "dnd")
    uac = sipp_uac(sipp_dir, phone.sip_address, "alice", expect_final(tmp_path / "x.xml", code), timeout=10)
    assert uac.wait(15) == 0, uac.messages()[-2000:]
    rows = history(phone)
    assert rows and (rows[0].kind, rows[0].code) == ("rejected", code)
    assert phone.model["status"] == "dnd"  # not turned into unavailable or available by the call


def test_forward_always_answers_302_with_the_target(headless, sipp_dir, tmp_path):
    phone = headless(direct("alice") + '\n[forward]\nalways = "sip:carol@127.0.0.1:5999"\n')
    uac = sipp_uac(sipp_dir, phone.sip_address, "alice", expect_final(tmp_path / "x.xml", 302), timeout=10)
    assert uac.wait(15) == 0, uac.messages()[-2000:]
    assert "Contact: <sip:carol@127.0.0.1:5999>" in uac.messages()
    rows = history(phone)
    assert rows and (rows[0].kind, rows[0].redirected_to) == ("forwarded", "sip:carol@127.0.0.1:5999")


def test_forward_on_no_answer_after_the_delay(headless, sipp_dir, tmp_path):
    phone = headless(direct("alice") + '\n[forward]\nnoanswer = "sip:carol@127.0.0.1:5999"\nnoanswer_after = 1\n')
    uac = sipp_uac(sipp_dir, phone.sip_address, "alice", expect_final(tmp_path / "x.xml", 302), timeout=10)
    phone.wait_call_state("Alerting", 5)  # it rings first
    assert uac.wait(15) == 0, uac.messages()[-2000:]
    assert "SIP/2.0 180" in uac.messages() and "Contact: <sip:carol@127.0.0.1:5999>" in uac.messages()


def test_forward_when_busy_with_baresip(headless, sipp_dir, tmp_path, baresip_factory):
    bob = baresip_factory(baresip_account("bob"))
    phone = headless(direct("alice") + '\n[forward]\nbusy = "sip:carol@127.0.0.1:5999"\n')
    r = phone.api({"mt": "StartCall", "sip": bob.uri})
    phone.wait_call_state("Connected", 10, r["id"])
    uac = sipp_uac(sipp_dir, phone.sip_address, "alice", expect_final(tmp_path / "x.xml", 302), timeout=10)
    assert uac.wait(15) == 0, uac.messages()[-2000:]
    assert phone.model["calls"][0]["state"] == "Connected"  # the first call goes on undisturbed
    phone.api({"mt": "DisconnectCall", "id": r["id"]})


def test_auto_answer_after_a_delay(headless, sipp_dir):
    phone = headless(direct("alice") + "\n[answer]\nauto = true\nauto_after = 1\n")
    uac = sipp_uac(sipp_dir, phone.sip_address, "alice", "uac-bye", duration_ms=500, timeout=10)
    assert uac.wait(15) == 0, uac.messages()[-2000:]
    cid = phone.models[-1]["calls"][0]["id"] if phone.models[-1]["calls"] else 1
    assert phone.call_states(cid)[:2] == ["Alerting", "Connected"]


def test_auto_answer_with_baresip_calling(headless, baresip_factory):
    phone = headless(direct("alice") + "\n[answer]\nauto = true\n")
    bob = baresip_factory(baresip_account("bob"))
    bob.dial(f"sip:alice@{phone.sip_address}")
    bob.wait_event("CALL_ESTABLISHED", 10)
    phone.wait_call_state("Connected", 5)
    bob.hangup()


def test_intercom_from_the_registrar_is_answered_at_once(headless, sipp_dir):
    port = free_udp_port()
    pbx = sipp_uas(sipp_dir, port, str(SCENARIOS / "uas-register-intercom.xml"), extra_args=["-m", "20"])
    phone = headless(f'[[accounts]]\nname = "alice"\nuri = "sip:alice@127.0.0.1:{port}"\n'
                     f'registrar = "sip:127.0.0.1:{port}"\nbind = "127.0.0.1"\n\n[answer]\nintercom = true\n')
    c = phone.wait_call_state("Connected", 10)
    assert phone.call_states(c["id"])[0] == "Alerting"
    phone.wait_for(lambda m: not m["calls"], 10, "the page ended")
    assert "SIP/2.0 200 OK" in pbx.messages().split("INVITE sip:alice", 1)[1]
    pbx.stop()


def test_intercom_header_from_anyone_else_just_rings(headless, sipp_dir, tmp_path):
    phone = headless(direct("alice") + "\n[answer]\nintercom = true\n")
    scenario = (SCENARIOS / "uac-bye.xml").read_text().replace(
        "Max-Forwards: 70\n      Allow:", "Max-Forwards: 70\n      Call-Info: <sip:127.0.0.1>;answer-after=0\n      Allow:", 1)
    (tmp_path / "paging.xml").write_text(scenario)
    uac = sipp_uac(sipp_dir, phone.sip_address, "alice", str(tmp_path / "paging.xml"), timeout=10)
    c = phone.wait_call_state("Alerting", 5)
    time.sleep(1.5)
    assert phone.call_states(c["id"]) == ["Alerting"]  # not from the registrar: rings like any call
    assert "Call-Info: <sip:127.0.0.1>;answer-after=0" in uac.messages()
    phone.api({"mt": "DisconnectCall", "id": c["id"]})
    uac.stop()
