"""Message waiting (RFC 3842) against sipp: an unsolicited NOTIFY and a
subscribed one change the model; CallVoicemail dials the account's box."""

from tests.peers import SCENARIOS, free_udp_port, sipp_uac, sipp_uas
from tests.phoneproc import direct


def test_unsolicited_notify_sets_the_model(headless, sipp_dir):
    phone = headless(direct("alice"))
    assert phone.model["voicemail"] == {"waiting": False, "new": 0, "old": 0}
    uac = sipp_uac(sipp_dir, phone.sip_address, "alice", str(SCENARIOS / "uac-mwi-notify.xml"), timeout=5)
    assert uac.wait(10) == 0, uac.messages()[-2000:]
    m = phone.wait_for(lambda m: m["voicemail"]["waiting"], 5, "voicemail waiting")
    assert m["voicemail"] == {"waiting": True, "new": 2, "old": 8}
    box = m["accounts"][0]["voicemail"]
    # a direct account has no registrar to vouch for the sender: the counts show, but its
    # Message-Account is not what `v` dials (found by an outside probe: anyone could re-point it)
    assert (box["new"], box["old"]) == (2, 8) and "uri" not in box
    r = phone.api({"mt": "CallVoicemail"})
    assert not r["ok"] and r["kind"] == "not_found", r


def test_subscribed_message_summary(headless, sipp_dir):
    port = free_udp_port()
    uas = sipp_uas(sipp_dir, port, str(SCENARIOS / "uas-mwi-subscribe.xml"), extra_args=["-m", "50"])
    phone = headless(f'[[accounts]]\nname = "alice"\nuri = "sip:alice@127.0.0.1:{port}"\nbind = "127.0.0.1"\n'
                     f'registrar = "sip:127.0.0.1:{port}"\nvoicemail_subscribe = true\n')
    m = phone.wait_for(lambda m: m["voicemail"]["new"] == 3, 10, "3 new messages")
    assert m["voicemail"] == {"waiting": True, "new": 3, "old": 1}
    assert "SUBSCRIBE sip:alice@127.0.0.1" in uas.messages() and "Event: message-summary" in uas.messages()


def test_call_voicemail_dials_the_configured_box(headless, sipp_dir):
    uas = sipp_uas(sipp_dir, scenario="uas-fast")
    phone = headless(direct("alice") + f'voicemail = "sip:vm@127.0.0.1:{uas.port}"\n')
    r = phone.api({"mt": "CallVoicemail"})
    assert r["ok"], r
    phone.wait_call_state("Connected", 10, r["id"])
    phone.api({"mt": "DisconnectCall", "id": r["id"]})
    assert uas.wait(10) == 0
    assert "INVITE sip:vm@127.0.0.1" in uas.messages()


def test_call_voicemail_without_a_number_is_a_clear_error(headless):
    phone = headless(direct("alice"))
    r = phone.api({"mt": "CallVoicemail"})
    assert (r["ok"], r["kind"]) == (False, "not_found") and "no voicemail number" in r["error"]
    r = phone.api({"mt": "CallVoicemail", "account": "nobody"})
    assert r["error"] == "no account named 'nobody'"


def test_status_prints_the_voicemail_count(headless, sipp_dir):
    phone = headless(direct("alice"))
    uac = sipp_uac(sipp_dir, phone.sip_address, "alice", str(SCENARIOS / "uac-mwi-notify.xml"), timeout=5)
    assert uac.wait(10) == 0
    phone.wait_for(lambda m: m["voicemail"]["waiting"], 5, "voicemail waiting")
    out = phone.cli("status")
    assert out.returncode == 0 and "voicemail: 2 new, 8 old" in out.stdout
