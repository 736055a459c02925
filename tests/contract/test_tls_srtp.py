"""TLS transport with a CA made by the fixture, and SRTP (SDES), between two
real tui-phones; a wrong CA is a clear failure, not a call."""

import subprocess

import pytest

from tests.peers import free_tcp_port, require


@pytest.fixture
def pki(tmp_path):
    require("openssl")
    d = tmp_path / "pki"
    d.mkdir()

    def ssl(*args):
        subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)

    for name in ("ca", "other-ca"):
        ssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN={name}",
            "-keyout", f"{name}.key", "-out", f"{name}.pem")
    ssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", "bob.key", "-out", "bob.csr")
    (d / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    ssl("x509", "-req", "-in", "bob.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2",
        "-extfile", "san.ext", "-out", "bob.pem")
    return d


def tls_account(name, port=0, extra=""):
    return (f'[[accounts]]\nname = "{name}"\nuri = "sip:{name}@127.0.0.1"\nbind = "127.0.0.1"\n'
            f'transport = "tls"\nlocal_port = {port}\n{extra}')


def bob_over_tls(headless, pki, srtp="off"):
    port = free_tcp_port()
    bob = headless(tls_account("bob", port, f'tls_cert = "{pki}/bob.pem"\ntls_key = "{pki}/bob.key"\n'
                                            f'srtp = "{srtp}"\n'), name="bob")
    return bob, port


def verified_call(headless, pki, bob, port, alerting_within: float = 5):
    """alice (trusting the fixture's CA) calls bob over TLS; bob answers."""
    alice = headless(tls_account("alice", extra=f'tls_ca = "{pki}/ca.pem"\n'), name="alice")
    r = alice.api({"mt": "StartCall", "sip": f"sip:bob@127.0.0.1:{port};transport=tls"})
    assert r["ok"], r
    bob.wait_call_state("Alerting", alerting_within)
    bob.api({"mt": "ConnectCall"})
    alice.wait_call_state("Connected", 5, r["id"])
    return alice


def test_tls_call_verified_by_ca(headless, pki):
    bob, port = bob_over_tls(headless, pki)
    alice = verified_call(headless, pki, bob, port)
    alice.api({"mt": "DisconnectCall"})


def test_tls_wrong_ca_fails_clearly(headless, pki):
    bob, port = bob_over_tls(headless, pki)
    alice = headless(tls_account("alice", extra=f'tls_ca = "{pki}/other-ca.pem"\n'), name="alice")
    r = alice.api({"mt": "StartCall", "sip": f"sip:bob@127.0.0.1:{port};transport=tls"})
    end = alice.wait_call_state("Disconnected", 10)
    assert end["code"] >= 400 and end["reason"], end
    assert not bob.model["calls"]  # never reached bob



def test_missing_tls_file_is_a_one_line_error(headless, pki, tmp_path):
    with pytest.raises(RuntimeError, match="TLS file not found"):
        headless(tls_account("alice", extra=f'tls_ca = "{tmp_path}/nope.pem"\n'))


# "optional" offers RTP/AVP with crypto attributes; a pjsua peer in "mandatory" mode wants RTP/SAVP
# and answers 488, like "off". Both sides "mandatory" (or both "optional") encrypt.
@pytest.mark.parametrize("alice_srtp, ok", [("mandatory", True), ("optional", False), ("off", False)])
def test_srtp_mandatory(headless, pki, alice_srtp, ok):
    bob, port = bob_over_tls(headless, pki, srtp="mandatory")
    alice = headless(tls_account("alice", extra=f'tls_ca = "{pki}/ca.pem"\nsrtp = "{alice_srtp}"\n'), name="alice")
    r = alice.api({"mt": "StartCall", "sip": f"sip:bob@127.0.0.1:{port};transport=tls"})
    if ok:
        bob.wait_call_state("Alerting", 5)
        bob.api({"mt": "ConnectCall"})
        alice.wait_call_state("Connected", 5, r["id"])
    else:
        end = alice.wait_call_state("Disconnected", 10, r["id"])
        assert (end["code"], end["reason"]) == (488, "Not Acceptable Here"), end  # bob refuses plain RTP
