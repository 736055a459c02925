"""reduce() over every call-state transition, pure (no pjsua2, no Textual)."""

import pytest

from tui_phone.events import CallAdded, CallEnded, CallProgress, CallRemoved, CallState, Log, RegState

from tui_phone.uri import parse_remote
from tui_phone.store import MAX_ENDED, MAX_LOG, Account, State, model, reduce

S = CallState


def run(*events, state=None):
    state = state or State(accounts=(Account("work", "sip:alice@pbx", "sip:pbx"),))
    for e in events:
        state = reduce(state, e)
    return state


def out(cid=1, **kw):
    return CallAdded(cid, "o", "sip:200@pbx", "200", "", "work", at=10.0, **kw)


def inc(cid=1):
    return CallAdded(cid, "i", "sip:300@pbx", "300", "Charlie", "work", guid="g1", at=10.0)


def test_outgoing_starts_in_setup():
    assert run(out()).call(1).state is S.SETUP


def test_incoming_starts_alerting():
    call = run(inc()).call(1)
    assert (call.state, call.dir, call.dn, call.guid) == (S.ALERTING, "i", "Charlie", "g1")


@pytest.mark.parametrize("state", [S.DIALING, S.RINGBACK, S.QUEUED, S.CONNECTED, S.HOLDING, S.HELD])
def test_progress_sets_state(state):
    assert run(out(), CallProgress(1, state, 180, "Ringing", 11.0)).call(1).state is state


def test_full_outgoing_sequence_keeps_connect_time():
    s = run(out(), CallProgress(1, S.DIALING, at=10.1), CallProgress(1, S.RINGBACK, 180, "Ringing", 10.2),
            CallProgress(1, S.CONNECTED, 200, "OK", 12.0), CallProgress(1, S.HOLDING, at=13.0),
            CallProgress(1, S.CONNECTED, at=14.0))
    call = s.call(1)
    assert call.state is S.CONNECTED and call.connected_at == 12.0


def test_disconnected_keeps_reason_and_code_then_leaves_calls():
    s = run(out(), CallProgress(1, S.DIALING), CallEnded(1, 486, "Busy Here", 12.0))
    call = s.call(1)
    assert (call.state, call.code, call.reason, call.ended_at) == (S.DISCONNECTED, 486, "Busy Here", 12.0)
    assert model(s)["dev:tui-phone"]["model"]["calls"][0]["code"] == 486
    s = reduce(s, CallRemoved(1))
    assert s.calls == () and s.ended[-1].code == 486


def test_no_progress_after_disconnect():
    s = run(out(), CallEnded(1, 487, "Request Terminated"))
    assert reduce(s, CallProgress(1, S.CONNECTED)) is s
    assert reduce(s, CallEnded(1, 200, "OK")) is s


def test_unknown_call_events_are_ignored():
    s = run()
    for e in (CallProgress(9, S.CONNECTED), CallEnded(9), CallRemoved(9)):
        assert reduce(s, e) is s


def test_duplicate_add_is_ignored():
    s = run(inc())
    assert reduce(s, inc()) is s


def test_registration():
    s = run(RegState("work", False, 401, "Unauthorized"))
    a = s.accounts[0]
    assert not s.registered and a.status_text == "unregistered: 401 Unauthorized"
    s = reduce(s, RegState("work", True, 200, "OK", 300))
    assert s.registered and s.accounts[0].status_text == "registered"
    # the registrar confirming an un-REGISTER: not the contradictory "unregistered: 200 OK"
    s = reduce(s, RegState("work", False, 200, "OK", 0))
    assert s.accounts[0].status_text == "unregistered"


def test_direct_account_counts_as_registered():
    assert State(accounts=(Account("local", "sip:me@127.0.0.1"),)).registered


def test_current_and_alerting():
    s = run(out(1), CallProgress(1, S.CONNECTED), inc(2))
    assert s.current().id == 1 and s.alerting().id == 2
    s = reduce(s, CallEnded(1))
    assert s.current().id == 2


def test_log_and_ended_are_bounded():
    s = run(*[Log("info", str(i)) for i in range(MAX_LOG + 5)])
    assert len(s.log) == MAX_LOG and s.log[-1].text == str(MAX_LOG + 4)
    for i in range(MAX_ENDED + 3):
        s = run(out(i), CallEnded(i), CallRemoved(i), state=s)
    assert len(s.ended) == MAX_ENDED


def test_reduce_is_pure():
    s0 = run(out())
    snapshot = repr(s0)
    reduce(s0, CallProgress(1, S.CONNECTED))
    assert repr(s0) == snapshot


def test_model_shape():
    m = model(run(inc()))
    assert m["dev:tui-phone"]["info"] == {"type": "softphone"}
    assert m["dev:tui-phone"]["model"]["calls"] == [
        {"id": 1, "guid": "g1", "dir": "i", "num": "300", "sip": "sip:300@pbx", "dn": "Charlie",
         "state": "Alerting", "account": "work", "started": 10.0}]
    assert m["dev:tui-phone"]["model"]["versions"] == {"history": 0, "messages": 0, "contacts": 0}


@pytest.mark.parametrize("remote, expected", [
    ('"Charlie" <sip:200@pbx>;tag=1', ("sip:200@pbx", "200", "Charlie")),
    ("<sip:alice@127.0.0.1:5070>", ("sip:alice@127.0.0.1:5070", "", "")),
    ("sip:+4930123@pbx;user=phone", ("sip:+4930123@pbx", "+4930123", "")),
    ('Bob Smith <sip:*86@pbx>', ("sip:*86@pbx", "*86", "Bob Smith")),
    ('"Q \\"x\\"" <sip:1@h>', ("sip:1@h", "1", 'Q "x"')),
])
def test_parse_remote(remote, expected):
    assert parse_remote(remote) == expected


def test_dns_srv_only_for_bare_domains(tmp_path):
    from tui_phone.sip.pjsua2_engine import _nameservers, _needs_srv

    assert _needs_srv("sip:pbx.example.com") and not _needs_srv("sip:pbx.example.com:5070")
    assert not _needs_srv("sip:127.0.0.1") and not _needs_srv("")
    conf = tmp_path / "resolv.conf"
    conf.write_text("# x\nnameserver 192.0.2.53\nsearch lan\nnameserver 192.0.2.54\n")
    assert _nameservers(str(conf)) == ["192.0.2.53", "192.0.2.54"]
    assert _nameservers(str(tmp_path / "missing")) == []


def test_dtmf_sent_is_kept_on_the_call():
    from tui_phone.events import CallAdded, DtmfSent
    from tui_phone.store import MAX_DTMF, State, reduce

    s = reduce(State(), CallAdded(1, "o", "sip:200@pbx", "200", "", "alice"))
    s = reduce(reduce(s, DtmfSent(1, "12")), DtmfSent(1, "#"))
    assert s.call(1).dtmf == "12#"
    assert reduce(s, DtmfSent(9, "1")) is s  # no such call: no change
    s = reduce(s, DtmfSent(1, "0" * 100))
    assert len(s.call(1).dtmf) == MAX_DTMF


def test_an_id_less_record_names_the_connected_call_so_the_engine_never_guesses():
    from tui_phone.commands import Record, Result
    from tui_phone.store import resolve

    held_and_talking = run(out(1), CallProgress(1, S.HOLDING, at=11.0), out(2), CallProgress(2, S.CONNECTED, at=12.0))
    assert resolve(held_and_talking, Record(None, True)) == Record(2, True)
    alone_on_hold = run(out(1), CallProgress(1, S.HOLDING, at=11.0))
    refused = resolve(alone_on_hold, Record(None, False))
    assert isinstance(refused, Result) and refused.kind == "not_found"
