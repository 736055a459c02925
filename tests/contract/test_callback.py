"""Issue 13, must show: a caller on a non-default port is called back on that port.

sipp calls from a port that is not 5060; the call ends; redialling the History
entry (the API's GetHistory, then StartCall with the entry's ``sip``, as the
History pane does) and ``tui-phone call`` with the model's ``sip`` both reach a
sipp UAS listening on that very port. Before SipUri, the port was dropped and
the callback timed out (408 after 32 s).
"""

import time

from tests.peers import free_udp_port, sipp_uac, sipp_uas
from tests.phoneproc import direct


def call_back(phone, sipp_dir, port: int, dial) -> str:
    """Dial with ``dial()`` while a sipp UAS listens on ``port``; return what it received."""
    uas = sipp_uas(sipp_dir, port=port)
    try:
        mark = phone.mark()
        dial()
        cid = phone.wait_call_state("Connected", 10, since=mark)["id"]
        assert phone.api({"mt": "DisconnectCall", "id": cid})["ok"]
        assert uas.wait(10) == 0, uas.messages()
        return uas.messages()
    finally:
        uas.stop()


def test_a_caller_on_a_non_default_port_is_called_back_on_it(headless, sipp_dir):
    phone = headless(direct("alice"))
    port = free_udp_port()
    assert port != 5060
    uac = sipp_uac(sipp_dir, phone.sip_address, "alice", "uac-bye", duration_ms=300, local_port=port)
    ringing = phone.wait_call_state("Alerting", 10)
    sip = ringing["sip"]
    assert sip == f"sip:sipp@127.0.0.1:{port}"  # the model keeps the caller's port
    assert phone.api({"mt": "ConnectCall", "id": ringing["id"]})["ok"]
    assert uac.wait(10) == 0, uac.messages()  # sipp hung up: the call ended
    phone.wait_for(lambda m: not m["calls"], 10, "the call ended")

    entries = []
    for _ in range(50):  # history is written by a subscriber: wait for the row
        entries = phone.api({"mt": "GetHistory", "limit": 5})["history"]
        if entries:
            break
        time.sleep(0.1)
    assert [(e["kind"], e["sip"]) for e in entries] == [("in", sip)]

    got = call_back(phone, sipp_dir, port, lambda: phone.api({"mt": "StartCall", "sip": entries[0]["sip"]}))
    assert f"INVITE sip:sipp@127.0.0.1:{port} SIP/2.0" in got

    done = {}
    got = call_back(phone, sipp_dir, port, lambda: done.setdefault("cli", phone.cli("call", sip)))
    assert done["cli"].returncode == 0, done["cli"].stderr
    assert f"INVITE sip:sipp@127.0.0.1:{port} SIP/2.0" in got
