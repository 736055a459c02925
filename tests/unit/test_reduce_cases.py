"""Every reducer case not covered by test_store.py, store.resolve (the one
rule for id-less commands), SipUri and html_to_text. Pure: no pjsua2, no Textual."""

import pytest

from tui_phone.commands import ConnectCall, DisconnectCall, Dtmf, Hold, Result, Retrieve, Split, Transfer
from tui_phone.events import (
    AudioState,
    CallAdded,
    CallInfoSet,
    CallProgress,
    CallTurnedAway,
    CallState,
    ConferenceSet,
    HistoryAdded,
    Message,
    MessagesRead,
    MissedSeen,
)
from tui_phone.phone import html_to_text
from tests.unit.test_store import run
from tui_phone.store import State, model, reduce, resolve
from tui_phone.uri import SipUri, callback_target, name_addr, parse_remote

S = CallState


def call(cid, dir="o", state=None, at=0.0):
    events = [CallAdded(cid, dir, f"sip:{cid}00@pbx", f"{cid}00", "", "work", at=float(cid))]
    if state is not None:
        events.append(CallProgress(cid, state, at=at or float(cid)))
    return events


# ----- reducer cases ------------------------------------------------------------------------------
def test_message_in_counts_unread_and_a_result_replaces_the_sending_one():
    s = run(Message("sip:bob@pbx", "i", "hi", 1.0), Message("sip:bob@pbx", "i", "there", 2.0))
    assert dict(s.unread) == {"sip:bob@pbx": 2} and len(s.messages) == 2
    s = run(Message("sip:bob@pbx", "o", "yo", 3.0, "sending", "m1"), state=s)
    s = run(Message("sip:bob@pbx", "o", "yo", 3.0, "sent", "m1"), state=s)
    assert [m.status for m in s.messages if m.dir == "o"] == ["sent"]  # replaced, not added
    assert dict(s.unread) == {"sip:bob@pbx": 2}  # ours never count


def test_messages_read_clears_one_peer_and_is_a_no_op_when_nothing_is_unread():
    s = run(Message("sip:bob@pbx", "i", "a"), Message("sip:eve@pbx", "i", "b"))
    s = reduce(s, MessagesRead("sip:bob@pbx"))
    assert dict(s.unread) == {"sip:eve@pbx": 1}
    assert reduce(s, MessagesRead("sip:bob@pbx")) is s


def test_conference_set_marks_exactly_its_calls():
    s = run(*call(1, state=S.CONNECTED), *call(2, state=S.CONNECTED), *call(3, state=S.HOLDING))
    s = reduce(s, ConferenceSet((1, 2)))
    assert [c.conference for c in s.calls] == [True, True, False]
    s = reduce(s, ConferenceSet(()))
    assert not any(c.conference for c in s.calls)
    assert model(reduce(s, ConferenceSet((1, 3))))["dev:tui-phone"]["model"]["calls"][0]["conference"] is True


def test_audio_state_replaces_and_repeats_are_no_ops():
    s = reduce(State(), AudioState("pulse", False, "", "pulse"))
    assert s.audio.device == "pulse"
    assert reduce(s, AudioState("pulse", False, "", "pulse")) is s
    assert reduce(s, AudioState("pulse", True, "", "pulse")).audio.muted


def test_history_added_counts_missed_only_and_bumps_the_version():
    s = run(HistoryAdded("in"), HistoryAdded("missed"), HistoryAdded("missed"), HistoryAdded("rejected"))
    assert (s.missed, s.history_version) == (2, 4)
    s = reduce(s, MissedSeen())
    assert s.missed == 0 and reduce(s, MissedSeen()) is s


def test_call_info_set_only_on_a_known_call():
    s = run(*call(1, "i"))
    s2 = reduce(s, CallInfoSet(1, "Customer 42", "https://crm.example/42"))
    assert (s2.call(1).info, s2.call(1).info_link) == ("Customer 42", "https://crm.example/42")
    assert reduce(s, CallInfoSet(9, "x")) is s


def test_turned_away_call_is_a_log_line():
    s = reduce(State(), CallTurnedAway("sip:scan@x", "", "", 503, "too many calls in a short time", 5.0))
    assert "turned away a call from sip:scan@x: 503" in s.log[-1].text


def test_html_to_text_drops_tags_scripts_and_control_characters():
    html = "<p>Order <b>#42</b></p><script>alert(1)</script><style>p{}</style><br>Due&nbsp;<i>today</i>\x07"
    assert html_to_text(html) == "Order #42\nDue today"
    assert len(html_to_text("<p>" + "x" * 5000)) == 2000


# ----- resolve: one rule for keyboard, socket and HTTP ------------------------------------------
def held_and_ringing():
    """Call 1 ours on hold, call 2 ringing in."""
    return run(*call(1, state=S.HOLDING), *call(2, "i"))


def test_held_and_ringing_every_id_less_command():
    s = held_and_ringing()
    assert resolve(s, ConnectCall()) == ConnectCall(2)
    assert resolve(s, DisconnectCall()) == DisconnectCall(2)  # rejects the ringing one, never the held one
    assert resolve(s, Retrieve()) == Retrieve(1)
    for cmd in (Hold(), Dtmf("1"), Transfer("300")):
        r = resolve(s, cmd)
        assert isinstance(r, Result) and r.kind == "not_found" and r.error == "no connected call"


def test_hangup_prefers_connected_then_outgoing_setup_then_ringing_then_the_only_call():
    assert resolve(run(*call(1, "i"), *call(2, state=S.CONNECTED)), DisconnectCall()).id == 2
    assert resolve(run(*call(1, "i"), *call(2, state=S.RINGBACK)), DisconnectCall()).id == 2
    assert resolve(run(*call(1, state=S.HOLDING)), DisconnectCall()).id == 1
    r = resolve(run(*call(1, state=S.HOLDING), *call(2, state=S.HOLDING)), DisconnectCall())
    assert isinstance(r, Result) and r.kind == "conflict"
    r = resolve(State(), DisconnectCall())
    assert isinstance(r, Result) and r.kind == "not_found"


def test_retrieve_takes_the_most_recently_held():
    s = run(*call(1, state=S.HOLDING, at=5.0), *call(2, state=S.HOLDING, at=3.0))
    assert resolve(s, Retrieve()).id == 1


def test_attended_transfer_and_split_and_explicit_ids():
    s = run(*call(1, state=S.HOLDING), *call(2, state=S.CONNECTED))
    assert resolve(s, Transfer("")) == Transfer("", 1, 2)
    assert resolve(s, Hold(7)) == Hold(7)  # an explicit id passes unchanged
    s = reduce(s, ConferenceSet((1, 2)))
    assert resolve(s, Split()).id == 2
    r = resolve(run(*call(1, state=S.CONNECTED), *call(2, state=S.CONNECTED)), Hold())
    assert isinstance(r, Result) and r.kind == "conflict"


# ----- SipUri --------------------------------------------------------------------------------------
@pytest.mark.parametrize("text", ["sip:bob@127.0.0.1:21070", "sips:alice@pbx.example.com",
                                  "sip:100@[::1]:5060;transport=tcp", "sip:pbx.example.com;lr"])
def test_sip_uri_round_trips(text):
    assert str(SipUri.parse(text)) == text


@pytest.mark.parametrize("text", ["tel:123", "sip:", "sip:bob@", "sip:bob@host:99999", "sip:bo b@host",
                                  "sip:bob@[::1", "http://x"])
def test_sip_uri_refuses(text):
    with pytest.raises(ValueError):
        SipUri.parse(text)


def test_same_peer_and_callback_target():
    a, b = SipUri.parse("sip:Bob@HOST:5060"), SipUri.parse("sip:Bob@host:5060;transport=udp")
    assert a.same_peer(b) and not a.same_peer(SipUri.parse("sip:Bob@host:5070"))
    assert callback_target('"Bob" <sip:bob@127.0.0.1>;tag=1', "<sip:bob@127.0.0.1:21070>") == "sip:bob@127.0.0.1:21070"
    # through a PBX: the PBX's From, never the device's Contact
    assert callback_target("<sip:200@pbx.example.com>", "<sip:200@10.0.0.7:5062>") == "sip:200@pbx.example.com"
    assert name_addr('"A \\"B\\"" <sip:a@b>')[1] == 'A "B"'
    assert parse_remote("<tel:+15550100>") == ("tel:+15550100", "", "")
