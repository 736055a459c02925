"""The peer harness itself works: each peer starts, answers and stops (tests/peers.py)."""
import pytest

from tests.peers import baresip_account, sip_options, sipp_uac, sipp_uas, wait_until

pytestmark = pytest.mark.peers


def test_kamailio_answers_options(kamailio):
    assert sip_options(kamailio.port) == 200
    assert f"REQ OPTIONS sip:{kamailio.domain}" in kamailio.log_text()


def test_baresip_registers_with_kamailio_as_bob(kamailio, baresip_factory):
    bob = baresip_factory(baresip_account("bob", "bobpw", kamailio.domain))
    info = bob.wait_registered(timeout=5)
    assert f"sip:bob@{kamailio.domain}" in info
    wait_until(lambda: f"REGISTERED sip:bob@{kamailio.domain}" in kamailio.log_text(), 5, "REGISTERED in kamailio log")


def test_sipp_uac_calls_sipp_uas_fast(sipp_dir):
    uas = sipp_uas(sipp_dir, scenario="uas-fast")
    uac = sipp_uac(sipp_dir, f"127.0.0.1:{uas.port}", "svc", duration_ms=100)
    assert uac.wait(15) == 0, uac.errors()
    assert uas.wait(15) == 0, uas.errors()
    assert "BYE sip:" in uac.messages() and "SIP/2.0 200 OK" in uas.messages()


def test_sipp_started_on_a_port_taken_meanwhile_starts_again_on_fresh_ports(sipp_dir, monkeypatch):
    """Another xdist worker (or a phone's RTP) may bind a port between its pick and sipp's bind: sipp then
    exits at once with rc 254, "Unable to bind audio RTP socket"; the harness starts it again."""
    import socket

    import tests.peers as peers

    taken = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    taken.bind(("127.0.0.1", 0))
    picks = iter([taken.getsockname()[1]])
    real = peers.free_sipp_media_port
    monkeypatch.setattr(peers, "free_sipp_media_port", lambda: next(picks, None) or real())
    with taken:
        uas = sipp_uas(sipp_dir, scenario="uas-fast")
        first = sorted(p for p in sipp_dir.iterdir() if p.name.startswith("sipp-uas-"))
        assert len(first) == 2 and "Unable to bind audio RTP socket" in "".join(
            (d / f).read_text() for d in first for f in ("errors.log", "sipp.out") if (d / f).exists())
        uac = sipp_uac(sipp_dir, f"127.0.0.1:{uas.port}", "svc", duration_ms=100)
        assert uac.wait(15) == 0 and uas.wait(15) == 0, uac.errors() + uas.errors()


def test_sipp_busy_gives_486(sipp_dir):
    uas = sipp_uas(sipp_dir, scenario="busy")
    uac = sipp_uac(sipp_dir, f"127.0.0.1:{uas.port}", "svc")
    assert uac.wait(15) == 1  # the built-in uac expects 200: a 486 fails the call
    assert uas.wait(15) == 0, uas.errors()  # ... but it ACKs the 486, which the busy UAS waits for
    assert "SIP/2.0 486 Busy Here" in uac.messages()
