"""The control socket of a real headless instance: permissions, stale and
live sockets, and bad input that never breaks the connection."""

import json
import os
import socket
import stat

import pytest

from tests.phoneproc import HeadlessPhone, direct, exchange


@pytest.fixture
def phone(tmp_path):
    with HeadlessPhone(tmp_path, direct("alice")) as p:
        yield p


def talk(path, *lines: bytes, expect: int) -> list[dict]:
    return exchange(path, b"".join(lines), expect)


def test_socket_and_dir_are_private(phone):
    assert stat.S_IMODE(os.stat(phone.socket).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(phone.socket.parent).st_mode) == 0o700


def test_bad_lines_get_errors_and_connection_survives(phone):
    replies = talk(phone.socket,
                   b"\xff\xfe\n", b"{nope\n", b"[1,2]\n", b'{"x":1}\n', b'{"mt":"Explode"}\n',
                   b"x" * (70 * 1024) + b"\n",
                   b'{"mt":"StartCall","num":5}\n', b'{"mt":"StartCall"}\n', b'{"mt":"Dtmf","digits":"12x"}\n',
                   b'{"mt":"ConnectCall","id":"one"}\n', b'{"mt":"ConnectCall","src":"s1"}\n',
                   b'{"mt":"GetState","src":7}\n', expect=12)
    errors = [r["error"] for r in replies[:6]]
    assert errors == ["line is not valid UTF-8", "invalid JSON: Expecting property name enclosed in double quotes",
                      "a message must be a JSON object", 'missing "mt" (message type)', "unknown mt 'Explode'",
                      "line longer than 64 KiB"]
    assert all(r["mt"] == "Error" for r in replies[:6])
    assert replies[6] == {"mt": "StartCallResult", "ok": False, "error": "StartCall: 'num' must be text",
                          "kind": "bad_input"}
    assert replies[7]["error"] == "StartCall: give exactly one of num, sip, txt"
    assert replies[8]["error"] == "Dtmf: digits must be 0-9, *, #, A-D"
    assert replies[9]["error"] == "ConnectCall: 'id' must be a whole number"
    assert replies[10] == {"mt": "ConnectCallResult", "src": "s1", "ok": False, "error": "no incoming call to answer",
                           "kind": "not_found"}
    assert replies[11]["src"] == 7 and replies[11]["ok"] and replies[11]["model"]["dev:tui-phone"]["info"]["type"] == "softphone"
    assert phone.proc.poll() is None


def test_second_instance_refuses_live_socket(phone, tmp_path):
    other = HeadlessPhone(tmp_path, direct("bob"), name="phone")  # same dirs, same socket
    with pytest.raises(RuntimeError, match="another tui-phone is already running"):
        other.start()


def test_stale_socket_is_replaced(tmp_path):
    p = HeadlessPhone(tmp_path, direct("alice"))
    p.socket.parent.mkdir(mode=0o700, parents=True)
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(p.socket))  # bound, never listening: what a crash leaves behind
    stale.close()
    with p:
        assert p.api({"mt": "GetState"})["ok"]


def test_status_json_and_clean_sigterm(phone):
    r = phone.cli("status", "--json")
    assert r.returncode == 0
    model = json.loads(r.stdout)["dev:tui-phone"]["model"]
    assert model["registered"] is True and model["calls"] == []
    r = phone.cli("status")
    assert "account alice <sip:alice@127.0.0.1>: direct (no registrar)" in r.stdout  # no registrar: not "registered"
    assert phone.stop() == 0
    assert not phone.socket.exists()
