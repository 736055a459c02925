"""History, messages, contacts and the team over the control socket of a
real headless phone (what an attached TUI, a CRM or a script reads), with
the change notices (``versions``) in the Subscribe stream."""

import re
import time

from tests.peers import sipp_uac, sipp_uas
from tests.phoneproc import direct

TEAM_VCF = ("BEGIN:VCARD\nVERSION:3.0\nN:Lee;Dana;;;\nFN:Dana Lee\nTEL;TYPE=WORK:201\n"
            "IMPP:sip:dana@127.0.0.1\nEND:VCARD\n")


def versions(phone) -> dict:
    return phone.model["versions"]


def test_history_pages_and_missed_only(headless, sipp_dir):
    uas = sipp_uas(sipp_dir, scenario="uas-fast")
    phone = headless(direct() + f'proxy = "sip:127.0.0.1:{uas.port}"\n')
    assert phone.api({"mt": "StartCall", "num": "200"})["ok"]
    phone.wait_call_state("Connected", 10)
    assert phone.api({"mt": "DisconnectCall"})["ok"]
    phone.wait_for(lambda m: m["versions"]["history"] == 1, 15, "the outgoing call in history")
    # a call that rings out unanswered (sipp cancels it): missed
    uac = sipp_uac(sipp_dir, phone.sip_address, "alice", "uac-cancel")
    assert uac.wait(20) == 0
    m = phone.wait_for(lambda m: m["versions"]["history"] == 2, 15, "the missed call in history")
    assert m["missed"] == 1
    every = phone.api({"mt": "GetHistory"})
    assert every["ok"] and [e["kind"] for e in every["history"]] == ["missed", "out"]
    assert {"started", "dir", "num", "sip", "name", "duration", "code", "reason"} <= set(every["history"][0])
    missed = phone.api({"mt": "GetHistory", "missed_only": True})["history"]
    assert [e["kind"] for e in missed] == ["missed"]
    page = phone.api({"mt": "GetHistory", "limit": 1})["history"]
    older = phone.api({"mt": "GetHistory", "limit": 1, "before": page[0]["started"]})["history"]
    assert [page[0]["kind"], older[0]["kind"]] == ["missed", "out"]
    assert phone.api({"mt": "MarkSeen"})["ok"]
    phone.wait_for(lambda m: m["missed"] == 0, 5, "missed calls seen")


def test_contacts_put_search_get_delete_with_change_notices(headless):
    phone = headless(direct())
    before = versions(phone)["contacts"]
    put = phone.api({"mt": "PutContact", "src": 7, "contact": {
        "first": "Ada", "last": "Lovelace", "company": "Engines",
        "numbers": [{"label": "work", "typed": "+1 212 555 0100"}]}})
    assert put["ok"] and put["src"] == 7 and put["contact"]["numbers"][0]["e164"] == "+12125550100"
    cid = put["id"]
    phone.wait_for(lambda m: m["versions"]["contacts"] > before, 5, "a contacts change notice")
    assert [c["name"] for c in phone.api({"mt": "SearchContacts", "q": "love"})["contacts"]] == ["Ada Lovelace"]
    assert [c["id"] for c in phone.api({"mt": "SearchContacts", "q": "555 01"})["contacts"]] == [cid]
    got = phone.api({"mt": "GetContact", "id": cid})["contact"]
    assert got["company"] == "Engines" and not got["favorite"]
    changed = phone.api({"mt": "PutContact", "contact": {**got, "favorite": True, "company": "Analytical"}})
    assert changed["ok"] and changed["contact"]["favorite"] and changed["contact"]["company"] == "Analytical"
    assert phone.api({"mt": "DeleteContact", "id": cid})["ok"]
    gone = phone.api({"mt": "GetContact", "id": cid})
    assert (gone["ok"], gone["kind"], gone["error"]) == (False, "not_found", f"GetContact: no contact with id {cid}")


def test_bad_contact_requests_are_one_line_with_a_kind(headless):
    phone = headless(direct())
    cases = [
        ({"mt": "PutContact"}, "bad_input", 'PutContact: "contact" must be an object'),
        ({"mt": "PutContact", "contact": {"first": "A", "colour": "red"}}, "bad_input", "unknown contact field"),
        ({"mt": "PutContact", "contact": {"first": 3}}, "bad_input", "contact first must be a string"),
        ({"mt": "PutContact", "contact": {"first": "A", "numbers": ["1"]}}, "bad_input", "numbers must be a list"),
        ({"mt": "PutContact", "contact": {"first": "A", "email": "nope"}}, "bad_input", "PutContact: email"),
        ({"mt": "PutContact", "contact": {"numbers": [{"label": "work", "typed": "200"}]}}, "bad_input",
         "PutContact: "),
        ({"mt": "PutContact", "contact": {"id": 999, "first": "A"}}, "not_found", "no contact with id 999"),
        ({"mt": "DeleteContact", "id": 999}, "not_found", "no contact with id 999"),
        ({"mt": "DeleteContact"}, "bad_input", '"id" is required'),
        ({"mt": "GetContact", "id": "1"}, "bad_input", '"id" must be'),
        ({"mt": "SearchContacts", "limit": 0}, "bad_input", '"limit" must be 1-1000'),
        ({"mt": "GetHistory", "missed_only": "yes"}, "bad_input", '"missed_only" must be true or false'),
        ({"mt": "GetHistory", "kind": "lost"}, "bad_input", '"kind" must be one of'),
        ({"mt": "GetMessages", "peer": 5}, "bad_input", '"peer" must be text'),
        # found by an outside probe: these answered "failed" with a Python exception in the log
        ({"mt": "SearchContacts", "q": "a\u0000b"}, "bad_input", '"q" must not contain control characters'),
        ({"mt": "GetContact", "id": 10 ** 26}, "bad_input", '"id" is out of range'),
    ]
    for msg, kind, text in cases:
        reply = phone.api(msg)
        assert reply["ok"] is False and reply["kind"] == kind and text in reply["error"], (msg, reply)
        assert "\n" not in reply["error"] and "Traceback" not in reply["error"]
    assert "Traceback" not in phone.stderr()
    assert phone.api({"mt": "SearchContacts", "q": None})["ok"]  # null is "no query"
    assert not re.search(r"\b[A-Z][a-z]+(Error|Exception)\b", phone.stderr()), phone.stderr()


def test_team_over_the_api_is_read_only_but_takes_a_star(headless, tmp_path):
    team = tmp_path / "team.vcf"
    team.write_text(TEAM_VCF)
    phone = headless(direct() + f'[team]\nsource = "{team}"\n')
    phone.wait_for(lambda m: m["team"], 10, "the team loaded")
    (dana,) = phone.api({"mt": "GetTeam"})["team"]
    assert (dana["name"], dana["sip_uri"], dana["status"]) == ("Dana Lee", "sip:dana@127.0.0.1", "offline")
    (stored,) = [c for c in phone.api({"mt": "SearchContacts", "q": "dana"})["contacts"] if c["team"]]
    edit = phone.api({"mt": "PutContact", "contact": {**stored, "favorite": True}})
    assert edit["ok"] and edit["contact"]["favorite"]  # a star is the user's
    refused = phone.api({"mt": "DeleteContact", "id": stored["id"]})
    assert (refused["ok"], refused["kind"]) == (False, "refused")
    assert "team contacts are managed on the PBX" in refused["error"]


def test_messages_by_peer_and_read_notice(headless):
    bob = headless(direct("bob"), name="bob")
    alice = headless(direct("alice"), name="alice")
    v0 = versions(bob)["messages"]
    assert alice.api({"mt": "SendSms", "sip": f"sip:bob@{bob.sip_address}", "text": "Lunch at 12?"})["ok"]
    bob.wait_for(lambda m: m["unread"] == 1 and m["versions"]["messages"] > v0, 5, "message and its notice")
    got = bob.api({"mt": "GetMessages"})
    (peer,) = got["unread"]
    assert got["unread"][peer] == 1 and [m["text"] for m in got["messages"]] == ["Lunch at 12?"]
    assert got["messages"][0]["dir"] == "i" and got["messages"][0]["at"] <= time.time()
    assert bob.api({"mt": "GetMessages", "peer": "nobody"})["messages"] == []
    assert [m["text"] for m in bob.api({"mt": "GetMessages", "peer": peer})["messages"]] == ["Lunch at 12?"]
    assert bob.api({"mt": "MarkSeen", "peer": peer})["ok"]
    bob.wait_for(lambda m: m["unread"] == 0, 5, "read")


def test_what_an_attached_view_typed_follows_the_keyboard_rules(headless, sipp_dir):
    """A number the dial policy questions is refused from a script on a headless phone, but typed
    into an attached TUI (``keyboard: true``) it is dialled, as in the TUI that owns the engine."""
    uas = sipp_uas(sipp_dir, scenario="uas-fast")
    phone = headless(direct() + f'proxy = "sip:127.0.0.1:{uas.port}"\n'
                     '[policy]\nconfirm_patterns = ["^\\\\+1900"]\n')
    refused = phone.api({"mt": "StartCall", "num": "+19005550100"})
    assert (refused["ok"], refused["kind"]) == (False, "refused") and "allow_unconfirmed" in refused["error"]
    typed = phone.api({"mt": "StartCall", "num": "+19005550100", "keyboard": True})
    assert typed["ok"], typed
    phone.wait_call_state("Connected", 10)
    assert phone.api({"mt": "DisconnectCall"})["ok"]


def test_a_headless_phone_syncs_its_address_books_and_tells_the_views(headless, radicale):
    """The service keeps [[addressbooks]] in sync; a view learns of it by the contacts version."""
    from tests.contract.test_carddav import people

    radicale.put_book("alice", "contacts", people(3))
    phone = headless(direct() + f'[[addressbooks]]\nname = "work"\nurl = "{radicale.url}"\nusername = "alice"\n'
                     'password = "alicepw"\n')
    phone.wait_for(lambda m: m["versions"]["contacts"] >= 1, 30, "the synced contacts notice")
    found = phone.api({"mt": "SearchContacts"})["contacts"]
    assert len(found) == 3 and {c["book"] for c in found} == {"work"}
    assert "address book work: from the server 3 added" in phone.stderr()


def test_a_headless_phone_rings_through_the_desktop_session_bus(sipp_dir, tmp_path):
    """With a session bus (DBUS_SESSION_BUS_ADDRESS) a ringing headless phone runs notify-send, which
    asks the bus's notification service (seen by dbus-monitor); without one it runs nothing."""
    import subprocess

    from tests.peers import require, stop_process, wait_until
    from tests.phoneproc import HeadlessPhone
    from tui_phone.notify.desktop import SESSION_VARS

    for b in ("dbus-daemon", "dbus-monitor", "notify-send"):
        require(b)
    address = f"unix:path={tmp_path / 'bus'}"
    bus = subprocess.Popen(["dbus-daemon", "--session", "--nofork", f"--address={address}"],
                           start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seen = tmp_path / "monitor.log"
    try:
        wait_until(lambda: (tmp_path / "bus").exists(), 5, "the session bus")
        with open(seen, "w") as out:
            monitor = subprocess.Popen(["dbus-monitor", "--address", address,
                                        "interface='org.freedesktop.Notifications'"],
                                       stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        wait_until(lambda: "NameAcquired" in seen.read_text(), 5, "dbus-monitor listening")
        # bob's phone has no session (every session variable empty): it must not run notify-send
        bob = HeadlessPhone(tmp_path, direct("bob"), "nodesk", env=dict.fromkeys(SESSION_VARS, "")).start()
        try:
            uac = sipp_uac(sipp_dir, bob.sip_address, "bob", "uac-cancel")
            assert uac.wait(20) == 0
            bob.wait_for(lambda m: m["versions"]["history"] == 1, 10, "bob's missed call")
        finally:
            bob.stop()
        time.sleep(1)
        assert "org.freedesktop.Notifications" not in seen.read_text()
        alice = HeadlessPhone(tmp_path, direct(), "desk", env={**dict.fromkeys(SESSION_VARS, ""),
                                                             "DBUS_SESSION_BUS_ADDRESS": address}).start()
        try:
            uac = sipp_uac(sipp_dir, alice.sip_address, "alice", "uac-cancel")
            assert uac.wait(20) == 0
            wait_until(lambda: "member=GetServerInformation" in seen.read_text(), 10, "notify-send on the bus")
        finally:
            alice.stop()
    finally:
        stop_process(locals().get("monitor"))
        stop_process(bus)


def test_a_call_to_a_host_that_does_not_resolve_ends_with_a_sentence(headless):
    """Found by the socket fuzz test: the history kept pjsua's own text,
    'gethostbyname() has returned error (PJ_ERESOLVE)', as the call's reason."""
    phone = headless(direct("alice"))
    r = phone.api({"mt": "StartCall", "sip": "sip:bob@no-such-host.invalid"})
    if r["ok"]:
        phone.wait_for(lambda m: not m["calls"], 20, "the call ended")
    else:
        assert r["error"].endswith(": the host name could not be resolved"), r
    history = phone.api({"mt": "GetHistory"})["history"]
    text = repr(history)
    assert "PJ_" not in text and "gethostbyname" not in text, text
    assert history[0]["reason"] == "the host name could not be resolved", history[0]
