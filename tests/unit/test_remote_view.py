"""An attached view's state and events come from models alone (sans-IO):
the model of a State gives back that State, and the difference of two
models gives the events a view reacts to (ringing, hang-up, history)."""

from dataclasses import replace

from tui_phone.commands import (
    Conference, ConnectCall, DisconnectCall, Dtmf, Mute, SendSms, SetAudio, SetStatus, Split, StartCall, Transfer,
)
from tui_phone.control.protocol import to_command, to_message
from tui_phone.control.remote import ModelChanged, changes, state_from
from tui_phone.events import (
    AudioState, CallAdded, CallEnded, CallProgress, CallRemoved, CallState, HistoryAdded, Presence, RegState, TeamLoaded,
)
from tui_phone.events import ContactsChanged
from tui_phone.store import Account, State, model, reduce

S = CallState


def phone_state() -> State:
    s = State(accounts=(Account("work", "sip:alice@pbx", "sip:pbx"), Account("lan", "sip:alice@127.0.0.1")))
    for event in (RegState("work", True, 200, "OK"), CallAdded(1, "i", "sip:300@pbx", "300", "Charlie", "work",
                                                                guid="g1", at=10.0),
                  CallProgress(1, S.CONNECTED, 200, "OK", at=12.0), TeamLoaded((("Bob", "sip:bob@pbx"),)),
                  Presence("sip:bob@pbx", "available"), AudioState("pulse", True, "", "mic")):
        s = reduce(s, event)
    return s


def test_the_model_of_a_state_gives_that_state_back():
    s = phone_state()
    view = state_from(model(s), State())
    assert [(a.name, a.uri, a.ready, a.status_text) for a in view.accounts] == [
        (a.name, a.uri, a.ready, a.status_text) for a in s.accounts]
    assert view.calls == tuple(replace(c, code=0, reason="") for c in s.calls)  # a live call's last code stays home
    assert (view.status, view.audio, view.team) == (s.status, s.audio, s.team)
    assert view.presence_of("sip:bob@pbx") == "available"


def test_a_new_ringing_call_is_told_as_call_added():
    s = reduce(State(), CallAdded(4, "i", "sip:300@pbx", "300", "", "work", at=1.0))
    events = changes(State(), state_from(model(s), State()))
    assert [type(e) for e in events] == [CallAdded] and events[0].dir == "i"


def test_a_call_that_vanished_is_ended_then_removed_even_when_its_last_update_was_skipped():
    before = state_from(model(phone_state()), State())
    after = replace(before, calls=())
    events = changes(before, after)
    assert [type(e) for e in events] == [CallEnded, CallRemoved]


def test_state_changes_history_and_contacts_versions_are_events():
    s = phone_state()
    old = state_from(model(s), State())
    s2 = reduce(reduce(reduce(s, CallProgress(1, S.HOLDING)), HistoryAdded("missed")), ContactsChanged())
    events = changes(old, state_from(model(s2), old))
    assert [type(e) for e in events] == [CallProgress, HistoryAdded, ContactsChanged]
    assert events[0].state is S.HOLDING and events[1].kind == "missed"
    assert changes(old, old) == [] and ModelChanged() == ModelChanged()


def test_a_direct_account_is_ready_in_the_view():
    view = state_from(model(phone_state()), State())
    lan = next(a for a in view.accounts if a.name == "lan")
    assert lan.ready and lan.status_text == "direct (no registrar)"


def test_commands_survive_the_round_trip_through_requests():
    for command in (StartCall("+12125550100"), StartCall("sip:bob@example.com"), ConnectCall(3), ConnectCall(),
                    DisconnectCall(2), Dtmf("12#", 1), Transfer("+12125550100", 1), Transfer("", 1, 2),
                    SetStatus("unavailable"), Mute(False), SetAudio(output="usb"), Conference(), Split(2),
                    SendSms("+12125550100", "hi")):
        assert to_command(to_message(command)) == command, command
