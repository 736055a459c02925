"""One rule for id-less commands (issue 13), on the real engine with real sipp
peers: one call of ours on hold, a second one ringing in. Hang up, answer,
hold and DTMF without an id act on the same call whether they come from the
control socket or the HTTP listener (the keyboard: tests/ui/test_one_rule_ui.py).
And a caller from a non-default port is called back there (History, and
`tui-phone call` with the model's `sip`)."""

import httpx
import pytest

from tests.contract.test_http import http_section
from tests.peers import baresip_account, free_tcp_port, port_bound, sipp_uac, sipp_uas, wait_until
from tests.phoneproc import direct

pytestmark = pytest.mark.peers


def held_and_ringing(headless, sipp_dir, bob, name):
    """A phone with call A (ours, to baresip, then held by us) and call B (sipp calling in, ringing)."""
    port = free_tcp_port()
    phone = headless(direct("alice") + http_section(port), name)
    (sipp_dir / name).mkdir()
    a = phone.api({"mt": "StartCall", "sip": bob.uri})["id"]
    phone.wait_for(lambda m: any(c["id"] == a and c["state"] == "Connected" for c in m["calls"]), 10, "A connected")
    assert phone.api({"mt": "Hold", "id": a})["ok"]
    phone.wait_for(lambda m: any(c["id"] == a and c["state"] == "Holding" for c in m["calls"]), 10, "A held")
    uac = sipp_uac(sipp_dir / name, phone.sip_address, "alice", "uac-wait-bye", timeout=60)
    m = phone.wait_for(lambda m: any(c["dir"] == "i" and c["state"] == "Alerting" for c in m["calls"]), 10, "B rings")
    b = next(c["id"] for c in m["calls"] if c["dir"] == "i")
    return phone, port, a, b, uac


def states(phone) -> dict[int, str]:
    return {c["id"]: c["state"] for c in phone.model["calls"]}


def via_socket(phone, port, mt):
    return phone.api({"mt": {"hangup": "DisconnectCall", "answer": "ConnectCall", "hold": "Hold",
                             "dtmf": "Dtmf"}[mt], **({"digits": "1"} if mt == "dtmf" else {})})


def via_http(phone, port, mt):
    path = {"hangup": "/end", "answer": "/answer"}.get(mt)
    if path is None:
        return None  # the HTTP listener has no hold or DTMF
    r = httpx.get(f"http://127.0.0.1:{port}{path}", timeout=10)
    return r.json() | {"status": r.status_code}


@pytest.mark.parametrize("source", [via_socket, via_http], ids=["socket", "http"])
def test_id_less_commands_act_on_the_same_call(headless, sipp_dir, baresip_factory, source):
    bob = baresip_factory(baresip_account("bob"))
    phone, port, a, b, uac = held_and_ringing(headless, sipp_dir, bob, "hangup")
    for mt in ("hold", "dtmf"):  # nothing connected: both refuse, the same way, and touch nothing
        r = source(phone, port, mt)
        if r is not None:
            assert not r["ok"] and r["error"] == "no connected call" and r["kind"] == "not_found", r
    assert states(phone) == {a: "Holding", b: "Alerting"}
    since = phone.mark()
    r = source(phone, port, "hangup")
    assert r["ok"] and r.get("id", b) == b, r
    phone.wait_for(lambda m: [c["id"] for c in m["calls"]] == [a], 10, "B rejected, A still held", since)
    uac.wait(10)
    # a new caller; now answer without an id: the ringing call, not the held one
    since = phone.mark()
    uac2 = sipp_uac(sipp_dir / "hangup", phone.sip_address, "alice", "uac-wait-bye", timeout=60)
    m = phone.wait_for(lambda m: len(m["calls"]) == 2, 10, "C rings", since)
    c = max(x["id"] for x in m["calls"])
    r = source(phone, port, "answer")
    assert r["ok"] and r.get("id", c) == c, r
    phone.wait_for(lambda m: {x["id"]: x["state"] for x in m["calls"]}.get(c) == "Connected", 10, "C connected",
                   since)
    assert states(phone)[a] == "Holding"
    assert phone.api({"mt": "DisconnectCall", "id": c})["ok"]
    uac2.wait(15)


def test_a_caller_on_another_port_is_called_back_there(headless, sipp_dir):
    """sipp calls from its own port; the call ends; GetHistory's sip and the model's
    sip reach a sipp UAS listening on that same port."""
    phone = headless(direct("alice"))
    uac = sipp_uac(sipp_dir, phone.sip_address, "alice", duration_ms=200)
    m = phone.wait_for(lambda m: m["calls"], 10, "the call")
    sip = m["calls"][0]["sip"]
    assert sip.endswith(f":{uac.port}"), sip
    assert phone.api({"mt": "ConnectCall"})["ok"]
    assert uac.wait(15) == 0
    phone.wait_for(lambda m: not m["calls"], 10, "ended")
    history = phone.api({"mt": "GetHistory", "limit": 1})["history"]
    assert history[0]["sip"] == sip
    uac.stop()
    wait_until(lambda: not port_bound(uac.port), 10, f"sipp to let go of port {uac.port}")
    (sipp_dir / "back").mkdir()
    uas = sipp_uas(sipp_dir / "back", port=uac.port)
    since = phone.mark()
    r = phone.cli("call", history[0]["sip"])  # the CLI, as a user redials from what History shows
    assert r.returncode == 0, r.stderr
    phone.wait_for(lambda m: any(c["state"] == "Connected" for c in m["calls"]), 10, "called back", since)
    assert phone.api({"mt": "DisconnectCall"})["ok"]
    assert uas.wait(15) == 0
