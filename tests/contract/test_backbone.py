"""The backbone against real peers: registration with Kamailio, calls through
Kamailio to baresip, sipp calling the headless phone, failures with their
SIP codes. Every phone here is the real `tui-phone --headless` process."""

import socket
import threading
import time

import pytest

from tests.peers import baresip_account, sipp_uac, sipp_uas, wait_until
from tests.phoneproc import HeadlessPhone, account, direct


def registered(m):
    return m["accounts"][0]["registered"]


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_register_with_digest_auth(tmp_path, kamailio, transport):
    with HeadlessPhone(tmp_path, account("alice", kamailio.port, "alicepw", transport)) as phone:
        phone.wait_for(registered, 5, "registered")
    log = kamailio.log_text()
    assert "REGISTERED sip:alice@127.0.0.1 expires=" in log
    assert "REGISTERED sip:alice@127.0.0.1 expires=0 " in log  # unregistered on exit


def test_wrong_password_shows_reason_and_keeps_running(tmp_path, kamailio):
    with HeadlessPhone(tmp_path, account("carol", kamailio.port, "wrong")) as phone:
        m = phone.wait_for(lambda m: m["accounts"][0]["code"] in (401, 403), 5, "a 401/403")
        assert not m["registered"] and m["accounts"][0]["reason"]
        assert phone.api({"mt": "GetState"})["ok"]  # still alive and answering
        r = phone.cli("status")
        assert "unregistered: 40" in r.stdout


def test_unreachable_registrar_keeps_running(tmp_path):
    cfg = account("alice", 9, "x")  # nothing listens on port 9
    with HeadlessPhone(tmp_path, cfg) as phone:
        m = phone.wait_for(lambda m: m["accounts"][0]["code"] >= 400, 40, "a registration failure")
        assert not m["registered"]
        assert phone.proc.poll() is None


def _call_baresip(headless, kamailio, baresip_factory):
    bob = baresip_factory(baresip_account("bob", "bobpw", kamailio.domain))
    bob.wait_registered()
    phone = headless(account("alice", kamailio.port, "alicepw"))
    phone.wait_for(registered, 5, "registered")
    r = phone.api({"mt": "StartCall", "num": "bob", "src": "t"})
    assert r["ok"] is False  # a name is not a number
    r = phone.api({"mt": "StartCall", "sip": f"sip:bob@{kamailio.domain}", "src": "t"})
    assert r["ok"] and r["src"] == "t"
    call = phone.wait_call_state("Connected", 10, r["id"])
    bob.wait_event("CALL_ESTABLISHED")
    assert call["dir"] == "o" and call["sip"] == f"sip:bob@{kamailio.domain}"
    return phone, bob, r["id"]


def test_call_through_kamailio_to_baresip_we_hang_up(headless, kamailio, baresip_factory):
    phone, bob, cid = _call_baresip(headless, kamailio, baresip_factory)
    assert phone.cli("hangup").returncode == 0
    bob.wait_event("CALL_CLOSED")
    phone.wait_for(lambda m: not m["calls"], 5, "call removed")
    states = phone.call_states(cid)
    assert states[0] in ("Setup", "Dialing") and states[-2:] == ["Connected", "Disconnected"]
    assert phone.stop() == 0


def test_call_through_kamailio_to_baresip_they_hang_up(headless, kamailio, baresip_factory):
    phone, bob, cid = _call_baresip(headless, kamailio, baresip_factory)
    bob.hangup()
    m = phone.wait_for(lambda m: any(c["state"] == "Disconnected" for c in m["calls"]), 5)
    assert m["calls"][0]["id"] == cid
    phone.wait_for(lambda m: not m["calls"], 5, "call removed")
    assert phone.stop() == 0


def test_baresip_calls_us_through_kamailio(tmp_path, kamailio, baresip_factory):
    with HeadlessPhone(tmp_path, account("alice", kamailio.port, "alicepw")) as phone:
        phone.wait_for(registered, 5, "registered")
        bob = baresip_factory(baresip_account("bob", "bobpw", kamailio.domain))
        bob.wait_registered()
        bob.dial(f"sip:alice@{kamailio.domain}")
        call = phone.wait_call_state("Alerting", 10)
        assert call["dir"] == "i" and call["sip"].startswith("sip:bob@")
        assert phone.cli("answer").returncode == 0
        phone.wait_call_state("Connected", 5)
        bob.wait_event("CALL_ESTABLISHED")
        bob.hangup()
        phone.wait_for(lambda m: not m["calls"], 5, "call removed")


def test_sipp_uac_answered_over_socket_then_bye_from_sipp(tmp_path, sipp_dir):
    with HeadlessPhone(tmp_path, direct("alice")) as phone:
        uac = sipp_uac(sipp_dir, phone.sip_address, "alice", "uac-bye", duration_ms=300)
        call = phone.wait_call_state("Alerting", 10)
        assert call["dir"] == "i" and call["guid"]
        r = phone.api({"mt": "ConnectCall", "id": call["id"]})
        assert r == {"mt": "ConnectCallResult", "ok": True, "id": call["id"]}
        phone.wait_call_state("Connected", 5)
        assert uac.wait(15) == 0, uac.messages()[-2000:]
        end = phone.wait_call_state("Disconnected", 5)
        assert end["code"] == 200
        assert phone.call_states(call["id"]) == ["Alerting", "Connected", "Disconnected"]


def test_cancel_before_answer(tmp_path, sipp_dir):
    with HeadlessPhone(tmp_path, direct("alice")) as phone:
        uac = sipp_uac(sipp_dir, phone.sip_address, "alice", "uac-cancel")
        phone.wait_call_state("Alerting", 10)
        end = phone.wait_call_state("Disconnected", 10)
        assert end["code"] == 487
        assert uac.wait(15) == 0, uac.messages()[-2000:]


def test_reject_incoming_with_486(tmp_path, sipp_dir):
    with HeadlessPhone(tmp_path, direct("alice")) as phone:
        uac = sipp_uac(sipp_dir, phone.sip_address, "alice", "uac-bye")
        phone.wait_call_state("Alerting", 10)
        assert phone.api({"mt": "DisconnectCall"})["ok"]
        phone.wait_call_state("Disconnected", 5)
        deadline = time.monotonic() + 5
        while "SIP/2.0 486 Busy Here" not in uac.messages() and time.monotonic() < deadline:
            time.sleep(0.05)
        uac.stop()
        assert "SIP/2.0 486 Busy Here" in uac.messages()


def test_busy_uas_gives_486(tmp_path, sipp_dir):
    uas = sipp_uas(sipp_dir, scenario="busy")
    with HeadlessPhone(tmp_path, direct("alice")) as phone:
        r = phone.api({"mt": "StartCall", "sip": f"sip:service@127.0.0.1:{uas.port}"})
        end = phone.wait_call_state("Disconnected", 10, r["id"])
        assert (end["code"], end["reason"]) == (486, "Busy Here")
        assert uas.wait(10) == 0


def test_number_goes_to_proxy_of_direct_account(tmp_path, sipp_dir):
    uas = sipp_uas(sipp_dir, scenario="uas-fast")
    cfg = direct("alice") + f'proxy = "sip:127.0.0.1:{uas.port}"\n'
    with HeadlessPhone(tmp_path, cfg) as phone:
        assert phone.cli("call", "200").returncode == 0
        phone.wait_call_state("Connected", 10)
        assert phone.cli("hangup").returncode == 0
        assert uas.wait(10) == 0
    assert f"INVITE sip:200@127.0.0.1:{uas.port} SIP/2.0" in uas.messages()


def test_sigterm_sends_bye_for_live_call(headless, sipp_dir):
    uas = sipp_uas(sipp_dir, scenario="ringing", duration_ms=100)
    phone = headless(direct("alice"))
    r = phone.api({"mt": "StartCall", "sip": f"sip:service@127.0.0.1:{uas.port}"})
    phone.wait_call_state("Connected", 10, r["id"])
    assert phone.stop() == 0  # clean exit, no SIGABRT
    assert uas.wait(10) == 0
    assert "BYE sip:" in uas.messages()


class DeafRegistrar:
    """A registrar whose REGISTER handling is stuck: it answers OPTIONS (so the
    phone's liveness probe says "up") and swallows REGISTERs, which pjsua
    then retransmits for 32 s. The network condition, not a fake phone."""

    def __init__(self, port: int):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", port))
        self.sock.settimeout(0.1)
        self.registers = 0
        self.silent = False  # answers nothing at all (the probe then says "down")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, addr = self.sock.recvfrom(65536)
            except socket.timeout:
                continue
            text = data.decode("latin-1")
            if text.startswith("REGISTER "):
                self.registers += 1
            elif text.startswith("OPTIONS ") and not self.silent:
                keep = [line for line in text.split("\r\n")
                        if line.split(":", 1)[0].strip().lower() in ("via", "from", "to", "call-id", "cseq")]
                self.sock.sendto(("SIP/2.0 200 OK\r\n" + "\r\n".join(keep) + "\r\nContent-Length: 0\r\n\r\n")
                                 .encode(), addr)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


def test_registrar_back_while_a_register_is_in_flight_retries_quietly(headless, kamailio):
    """Issue 15 item 11: pjsua refuses a REGISTER while an earlier one is still
    retransmitting (PJSIP_EBUSY); the phone tries again and registers, with no
    error line and no raw pjsua text."""
    phone = headless(account("alice", kamailio.port, "alicepw"))
    phone.wait_for(registered, 5, "registered")
    kamailio.stop()
    phone.wait_for(lambda m: not m["registered"], 10, "registrar loss noticed")
    deaf = DeafRegistrar(kamailio.port)
    try:
        wait_until(lambda: deaf.registers >= 1, 10, "a REGISTER to the stuck registrar")
        # it stops answering even OPTIONS: "down" again, while pjsua keeps retransmitting that REGISTER
        deaf.silent = True
        wait_until(lambda: phone.stderr().count("registrar unreachable") >= 2, 10, "the registrar lost again")
        deaf.silent = False  # "back": the phone registers again while the first REGISTER is in flight
        wait_until(lambda: "an earlier REGISTER is still on its way" in phone.stderr(), 10, "the busy path")
    finally:
        deaf.close()
    mark = phone.mark()
    kamailio.start()
    phone.wait_for(registered, 40, "registered again", since=mark)
    err = phone.stderr()
    assert "pjsua_" not in err and "EBUSY" not in err
    assert not [line for line in err.splitlines() if line.split(": ", 1)[0].endswith("error")], err


def test_registrar_restart_registers_again_within_5s(headless, kamailio):
    phone = headless(account("alice", kamailio.port, "alicepw"))
    phone.wait_for(registered, 5, "registered")
    kamailio.stop()
    m = phone.wait_for(lambda m: not m["registered"], 10, "registrar loss noticed")
    assert m["accounts"][0]["reason"] == "registrar unreachable", m["accounts"]
    mark = phone.mark()
    kamailio.start()
    t0 = time.monotonic()
    phone.wait_for(registered, 5, "registered again", since=mark)
    assert time.monotonic() - t0 <= 5
    assert kamailio.log_text().count("REGISTERED sip:alice@127.0.0.1 expires=") >= 1
