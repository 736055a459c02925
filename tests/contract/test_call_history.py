"""Every call lands in history with its kind, number, name and SIP reason."""

import time

from tests.peers import sipp_uac, sipp_uas
from tests.phoneproc import direct
from tui_phone.contacts.db import ContactsDB


def history(phone):
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        path = phone.dir / "data" / "tui-phone" / "tui-phone.db"
        if path.exists():
            with ContactsDB(path) as db:
                rows = db.history()
            if rows:
                return rows
        time.sleep(0.1)
    return []


def test_missed_rejected_answered_and_outgoing(headless, sipp_dir):
    phone = headless(direct("alice"))
    uac = sipp_uac(sipp_dir, phone.sip_address, "alice", "uac-cancel")  # missed
    phone.wait_for(lambda m: m["missed"] == 1, 10, "missed count")
    uac.wait(10)
    mark = phone.mark()
    uac = sipp_uac(sipp_dir, phone.sip_address, "alice", "uac-bye")  # rejected
    phone.wait_call_state("Alerting", 5, since=mark)
    phone.api({"mt": "DisconnectCall"})
    phone.wait_for(lambda m: not m["calls"], 5, "rejected")
    uac.stop()  # uac-bye expects a 200; it got the 486 it was sent
    mark = phone.mark()
    uac = sipp_uac(sipp_dir, phone.sip_address, "alice", "uac-bye", duration_ms=1200)  # answered
    phone.wait_call_state("Alerting", 5, since=mark)
    phone.api({"mt": "ConnectCall"})
    assert uac.wait(10) == 0
    uas = sipp_uas(sipp_dir, scenario="busy")
    phone.api({"mt": "StartCall", "sip": f"sip:service@127.0.0.1:{uas.port}"})  # outgoing, 486
    phone.wait_for(lambda m: not m["calls"] and m["missed"] == 1, 10, "all ended")
    time.sleep(0.5)
    rows = history(phone)
    kinds = [r.kind for r in reversed(rows)]
    assert kinds == ["missed", "rejected", "in", "out"], kinds
    missed, rejected, answered, out = reversed(rows)
    assert missed.code == 487 and rejected.code == 486
    assert 0.8 < answered.duration < 3 and answered.sip == f"sip:sipp@127.0.0.1:{uac.port}"  # callable back
    assert (out.code, out.reason, out.sip) == (486, "Busy Here", f"sip:service@127.0.0.1:{uas.port}")
