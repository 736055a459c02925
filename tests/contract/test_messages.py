"""SIP MESSAGE between two real tui-phones, direct and through Kamailio."""

from tests.phoneproc import account, direct


def test_send_and_receive_direct(headless):
    bob = headless(direct("bob"), name="bob")
    alice = headless(direct("alice"), name="alice")
    r = alice.api({"mt": "SendSms", "sip": f"sip:bob@{bob.sip_address}", "text": "Lunch at 12?"})
    assert r["ok"], r
    bob.wait_for(lambda m: m["unread"] == 1, 5, "message received")
    alice.wait_for(lambda m: True, 1)
    assert bob.api({"mt": "SendSms", "txt": "alice@" + alice.sip_address, "text": "Sure"})["ok"]
    alice.wait_for(lambda m: m["unread"] == 1, 5, "reply received")


def test_message_through_kamailio_and_failure(headless, kamailio):
    bob = headless(account("bob", kamailio.port, "bobpw"), name="bob")
    alice = headless(account("alice", kamailio.port, "alicepw"), name="alice")
    for p in (alice, bob):
        p.wait_for(lambda m: m["registered"], 5, "registered")
    assert alice.api({"mt": "SendSms", "sip": f"sip:bob@127.0.0.1:{kamailio.port}", "text": "hi"})["ok"]
    bob.wait_for(lambda m: m["unread"] == 1, 5, "message via kamailio")
    # nobody is registered as carol: kamailio answers 404, shown as a failure line
    assert alice.api({"mt": "SendSms", "sip": f"sip:carol@127.0.0.1:{kamailio.port}", "text": "?"})["ok"]
    import time
    deadline = time.monotonic() + 5
    while "message to sip:carol" not in alice.stderr() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "message to sip:carol@" in alice.stderr() and "404" in alice.stderr()


def test_bad_sms_requests(headless):
    alice = headless(direct("alice"))
    assert alice.api({"mt": "SendSms", "num": "200"})["error"] == "SendSms: 'text' is required"
    assert "1-2000" in alice.api({"mt": "SendSms", "num": "200", "text": "  "})["error"]


def test_quitting_with_messages_unanswered(headless):
    """Found by an outside probe: two MESSAGEs to a peer that never answers, then SIGTERM →
    pjsua asserted (`pjsua_acc_get_user_data`: the account was deleted before the MESSAGE
    transactions ended inside libDestroy) and the process aborted. Now it exits 0."""
    import socket

    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))
    try:
        alice = headless(direct("alice"))
        for text in ("one", "two"):
            assert alice.api({"mt": "SendSms", "sip": f"sip:bob@127.0.0.1:{silent.getsockname()[1]}",
                              "text": text})["ok"]
        silent.settimeout(5)
        assert b"MESSAGE sip:bob@" in silent.recv(65536)  # on its way, never answered
        assert alice.stop() == 0, alice.stderr()
        assert "Assertion" not in alice.stderr()
    finally:
        silent.close()
