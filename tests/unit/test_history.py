"""History classification and storage."""

from tui_phone.contacts.db import ContactsDB
from tui_phone.history import classify, entry_for
from tui_phone.events import CallState
from tui_phone.store import Call


def call(dir, connected=None, code=0, reason="", ended=20.0):
    return Call(1, dir, "sip:200@pbx", "200", "Ann", "work", "g", CallState.DISCONNECTED, code, reason,
                started=10.0, connected_at=connected, ended_at=ended)


def test_classify():
    assert classify(call("o")) == "out"
    assert classify(call("o", code=486, reason="Busy Here")) == "out"
    assert classify(call("i", connected=12.0)) == "in"
    assert classify(call("i", code=487, reason="Request Terminated")) == "missed"
    assert classify(call("i", code=486, reason="Busy Here")) == "rejected"
    assert classify(call("i", code=480, reason="Temporarily Unavailable")) == "rejected"  # do not disturb
    assert classify(call("i", code=302, reason="Moved Temporarily")) == "forwarded"


def test_entry_and_store(tmp_path):
    e = entry_for(call("i", connected=12.0, code=200, reason="OK"))
    assert (e.kind, e.duration, e.name, e.target) == ("in", 8.0, "Ann", "200")
    with ContactsDB(tmp_path / "db.sqlite") as db:
        db.add_history(e)
        db.add_history(entry_for(call("i", code=487, reason="Request Terminated")))
        assert [h.kind for h in db.history()] == ["missed", "in"] or [h.kind for h in db.history()] == ["in", "missed"]
        assert [h.kind for h in db.history("missed")] == ["missed"]
        assert db.schema_version >= 2  # history came with version 2


def test_history_keeps_reason_redirect_and_recording(tmp_path):
    from dataclasses import replace

    c = replace(call("i", connected=12.0, code=200, reason="OK"), reason_remote="User busy (Q.850 cause 17)",
                redirected_to="sip:bob@pbx", recording_file="/tmp/x.wav")
    with ContactsDB(tmp_path / "db.sqlite") as db:
        db.add_history(entry_for(c))
        (h,) = db.history()
    assert (h.reason_remote, h.redirected_to, h.recording) == ("User busy (Q.850 cause 17)", "sip:bob@pbx",
                                                                "/tmp/x.wav")
