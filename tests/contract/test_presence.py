"""Team presence between two real tui-phone processes: through Kamailio's
presence server (PUBLISH/SUBSCRIBE/NOTIFY) and peer to peer."""

import json
import time

import pytest

from tests.peers import sipp_uas
from tests.phoneproc import account, direct


def team_file(tmp_path, uri):
    path = tmp_path / "team.json"
    path.write_text(json.dumps([{"first": "Bob", "last": "Builder", "sip_uri": uri,
                                 "numbers": [{"label": "work", "number": "201"}]}]))
    return path


def bob_status(m):
    return m["team"][0]["status"] if m.get("team") else None


def expect(alice, status, within=2.0):
    t0 = time.monotonic()
    alice.wait_for(lambda m: bob_status(m) == status, within + 3, f"bob {status}")
    return time.monotonic() - t0


def check_states(alice, bob, sipp_dir, within):
    expect(alice, "available", 5)
    assert bob.api({"mt": "SetStatus", "status": "unavailable"})["ok"]
    assert expect(alice, "unavailable") <= within
    bob.wait_for(lambda m: m["status"] == "unavailable", 2, "own status")
    assert bob.api({"mt": "SetStatus", "status": "available"})["ok"]
    expect(alice, "available")
    uas = sipp_uas(sipp_dir, scenario="uas-fast")
    r = bob.api({"mt": "StartCall", "sip": f"sip:service@127.0.0.1:{uas.port}"})
    bob.wait_call_state("Connected", 5, r["id"])
    assert expect(alice, "in-call") <= within
    bob.wait_for(lambda m: m["status"] == "in-call", 2, "own status in-call")
    assert bob.api({"mt": "DisconnectCall"})["ok"]
    expect(alice, "available")
    assert bob.stop() == 0
    assert expect(alice, "offline", 5) <= 5


def test_presence_through_kamailio(tmp_path, kamailio, headless, sipp_dir):
    bob = headless(account("bob", kamailio.port, "bobpw"), name="bob")
    bob.wait_for(lambda m: m["registered"], 5, "bob registered")
    team = team_file(tmp_path, f"sip:bob@127.0.0.1:{kamailio.port}")
    alice = headless(account("alice", kamailio.port, "alicepw") +
                     f'\n[team]\nsource = "{team}"\nrefresh = 60\n', name="alice")
    m = alice.wait_for(lambda m: m.get("team"), 5, "team loaded")
    assert m["team"][0]["dn"] == "Bob Builder"
    check_states(alice, bob, sipp_dir, within=2.0)


def test_presence_peer_to_peer(tmp_path, headless, sipp_dir):
    """Colleagues watch each other: each is on the other's team list (a stranger is refused, below)."""
    (tmp_path / "bob").mkdir()
    bobs_team = team_file(tmp_path / "bob", "sip:alice@127.0.0.1")  # any port
    bob = headless(direct("bob") + f'\n[team]\nsource = "{bobs_team}"\n', name="bob")
    team = team_file(tmp_path, f"sip:bob@{bob.sip_address}")
    alice = headless(direct("alice") + f'\n[team]\nsource = "{team}"\n', name="alice")
    check_states(alice, bob, sipp_dir, within=2.0)


def test_unavailable_rejects_incoming_with_486(headless, sipp_dir):
    from tests.peers import sipp_uac

    bob = headless(direct("bob"), name="bob")
    assert bob.api({"mt": "SetStatus", "status": "unavailable"})["ok"]
    uac = sipp_uac(sipp_dir, bob.sip_address, "bob", "uac-bye")
    uac.wait(10)
    assert "SIP/2.0 486 Busy Here" in uac.messages()
    r = bob.api({"mt": "SetStatus", "status": "busy"})
    assert r["ok"] is False and "available, unavailable" in r["error"]


def test_bad_team_source_is_a_log_line(tmp_path, headless):
    alice = headless(direct("alice") + f'\n[team]\nsource = "{tmp_path}/missing.json"\n')
    deadline = time.monotonic() + 5
    while "team:" not in alice.stderr() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "team:" in alice.stderr() and "no such file" in alice.stderr()
    assert alice.api({"mt": "GetState"})["ok"]


def test_a_stranger_may_not_watch_the_phone(headless):
    """Found by an outside probe: any host's SUBSCRIBE got 200 and a NOTIFY with our status.
    Now only the registrar/proxy and the team list may watch; a stranger gets 403 and no NOTIFY."""
    import socket

    phone = headless(direct("alice"))
    host, port = phone.sip_address.rsplit(":", 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(2)
    me = s.getsockname()[1]
    try:
        s.sendto((f"SUBSCRIBE sip:alice@{host}:{port} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{me};branch=z9hG4bKw1\r\n"
                  f"From: <sip:eve@127.0.0.1:{me}>;tag=e1\r\nTo: <sip:alice@{host}:{port}>\r\nCall-ID: watch-1\r\n"
                  f"CSeq: 1 SUBSCRIBE\r\nContact: <sip:eve@127.0.0.1:{me}>\r\nEvent: presence\r\n"
                  "Expires: 600\r\nAccept: application/pidf+xml\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n")
                 .encode(), (host, int(port)))
        first = s.recv(65536).decode()
        assert first.startswith("SIP/2.0 403"), first
        s.settimeout(1.5)
        try:
            more = s.recv(65536).decode()
        except socket.timeout:
            more = ""
        assert not more.startswith("NOTIFY"), more
    finally:
        s.close()
    deadline = time.monotonic() + 3
    while "refused to show your status to sip:eve@127.0.0.1" not in phone.stderr() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "refused to show your status to sip:eve@127.0.0.1 (not on your team list, not your registrar)" in \
        phone.stderr()
