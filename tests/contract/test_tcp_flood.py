"""Connection floods against the TCP listener of a phone registered over TCP
(README "Troubleshooting → TCP and TLS listeners"): the phone stays up,
registered, and places and takes calls over TCP while 1,000 connections
come and go in a few seconds and 200 more are held open; its memory and
open files stay bounded.

Before the fix pjsip aborted the process after about 60 connect-and-close
attempts within half a second (`ioqueue_select.c:386:
pj_ioqueue_register_sock2: Assertion '!pj_list_empty(&ioqueue->free_list)'`):
every accepted connection takes an ioqueue slot, which comes back only
500 ms after the connection closed."""

import pytest

from tests.connflood import flood
from tests.contract.test_rates import sip_port, usage
from tests.phoneproc import account

pytestmark = pytest.mark.peers


def registered(m):
    return m["accounts"][0]["registered"]


def call_over_tcp(caller, callee, kamailio, user):
    """caller calls ``user`` through Kamailio over TCP; callee answers; caller hangs up."""
    since = callee.mark()
    r = caller.api({"mt": "StartCall", "sip": f"sip:{user}@127.0.0.1:{kamailio.port};transport=tcp"})
    assert r["ok"], r
    callee.wait_call_state("Alerting", 10, since=since)
    assert callee.api({"mt": "ConnectCall"})["ok"]
    caller.wait_call_state("Connected", 10, r["id"])
    assert caller.api({"mt": "DisconnectCall", "id": r["id"]})["ok"]
    caller.wait_for(lambda m: not m["calls"], 10, "the call to end")
    callee.wait_for(lambda m: not m["calls"], 10, "the call to end on the other side")


@pytest.fixture
def pair(headless, kamailio):
    """alice and bob, both registered with Kamailio over TCP; a warm-up call each way."""
    alice = headless(account("alice", kamailio.port, "alicepw", "tcp"), name="alice")
    bob = headless(account("bob", kamailio.port, "bobpw", "tcp"), name="bob")
    for phone in (alice, bob):
        phone.wait_for(registered, 10, "registered over TCP")
    call_over_tcp(alice, bob, kamailio, "bob")
    call_over_tcp(bob, alice, kamailio, "alice")
    return alice, bob


def test_connect_close_flood_and_held_connections(pair, kamailio):
    alice, bob = pair
    port = sip_port(alice)
    before = usage(alice.proc.pid)
    closed, _ = flood(port, 1000)  # up to 256 in flight, each closed as soon as it connects
    assert sum(closed.values()) == 1000
    garbage, _ = flood(port, 300, payload=b"\x16\x03\x01 not SIP at all\r\n\r\n")
    held_outcomes, held = flood(port, 200, hold=True)
    try:
        assert alice.proc.poll() is None, alice.stderr()[-2000:]
        assert held_outcomes["connected"] + held_outcomes["timeout"] + held_outcomes["reset"] == 200
        # while the 200 are held: still registered, calls both ways over TCP
        assert registered(alice.api({"mt": "GetState"})["model"]["dev:tui-phone"]["model"])
        call_over_tcp(alice, bob, kamailio, "bob")
        call_over_tcp(bob, alice, kamailio, "alice")
        rss, fds = usage(alice.proc.pid)
        assert fds <= before[1] + 8 + 4, (before, fds)  # at most 8 accepted connections stay open
        assert rss <= before[0] * 1.2, (before, rss)
    finally:
        for s in held:
            s.close()
    assert any("refused" in line and "incoming TCP/TLS connections" in line for line in alice.stderr().splitlines())
    assert alice.proc.poll() is None, alice.stderr()[-2000:]
    assert garbage["connected"] > 0  # some got through to pjsip and were dropped as not SIP
