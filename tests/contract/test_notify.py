"""Outgoing call notifications ([notify] incoming / outgoing / active / end)
from the real `tui-phone --headless`, received by a real local HTTP server.

Receivers: a normal one, one that sleeps 10 s before answering, and a port
where nothing listens. Calls come from real sipp UACs / go to a sipp UAS.
See DESIGN.md (Outgoing notifications) and issue 6.
"""

from __future__ import annotations

import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.peers import SCENARIOS, free_tcp_port, sipp_uac, sipp_uas
from tests.phoneproc import direct

# ------------------------------------------------------------------------------------------ receiver


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):  # the phone hung up on a sleeping handler: fine
        pass


class Receiver:
    """An HTTP server on 127.0.0.1 that records (arrival time, path + query) of every GET."""

    def __init__(self, delay: float = 0.0):
        self.delay = delay
        self.requests: list[tuple[float, str]] = []
        self.cond = threading.Condition()
        self.release = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                with outer.cond:
                    outer.requests.append((time.monotonic(), self.path))
                    outer.cond.notify_all()
                if outer.delay:
                    outer.release.wait(outer.delay)
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}?callerid=$callerid&name=$name&id=$callid&dir=$dir"

    def wait(self, n: int, timeout: float = 10) -> list[tuple[float, str]]:
        with self.cond:
            if not self.cond.wait_for(lambda: len(self.requests) >= n, timeout):
                raise TimeoutError(f"receiver got {len(self.requests)} of {n} requests: {self.requests}")
            return list(self.requests)

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    made: list[Receiver] = []

    def make(delay: float = 0.0) -> Receiver:
        r = Receiver(delay)
        made.append(r)
        return r

    try:
        yield make
    finally:
        for r in made:
            r.close()


def notify_section(**templates: str) -> str:
    return "\n[notify]\n" + "".join(f'{k} = "{v}"\n' for k, v in templates.items())


def query(path: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(path).query, keep_blank_values=True)


def wait_stderr(phone, pattern: str, count: int, timeout: float) -> list[str]:
    deadline = time.monotonic() + timeout
    while True:
        lines = [line for line in phone.stderr().splitlines() if re.search(pattern, line)]
        if len(lines) >= count or time.monotonic() > deadline:
            return lines
        time.sleep(0.05)


# ------------------------------------------------------------------------------------------ render (pure)


def test_render_url_encodes_every_value():
    from tui_phone.notify import render
    from tui_phone.store import Call

    call = Call(id=7, dir="i", sip="sip:x@pbx", num="+49 30/1&x", dn="Müller & Co?=#", guid="a b@h;x",
                cat="sales/1", bind="+4930")
    url = render("https://crm.example/in?c=$callerid&n=$name&i=$callid&d=$dir&k=$cat&b=$bind&u=$unknown",
                 call)
    raw = urlsplit(url).query
    assert "c=%2B49%2030%2F1%26x&" in raw  # "+" encoded: a form decoder must not read a space
    assert "$unknown" in url  # unknown names stay as typed
    q = query(url)
    assert q["c"] == ["+49 30/1&x"] and q["n"] == ["Müller & Co?=#"] and q["i"] == ["a b@h;x"]
    assert q["d"] == ["in"] and q["k"] == ["sales/1"] and q["b"] == ["+4930"]
    assert urlsplit(url).fragment == ""
    # no number: the SIP user is the caller id; outgoing calls say "out"
    out = Call(id=8, dir="o", sip="sip:bob@pbx", guid="")
    q = query(render("http://h/?c=$callerid&i=$callid&d=$dir&n=$name", out))
    assert q == {"c": ["bob"], "i": ["8"], "d": ["out"], "n": [""]}


# ------------------------------------------------------------------------------------------ real calls


def test_inbound_call_notifies_incoming_active_end_in_order(headless, receiver, sipp_dir):
    rx = receiver()
    phone = headless(direct("alice") + notify_section(
        incoming=rx.url("/in"), active=rx.url("/active"), end=rx.url("/end")))
    uac = sipp_uac(sipp_dir, phone.sip_address, "alice", "uac-bye", duration_ms=300)
    call = phone.wait_call_state("Alerting", 10)
    assert phone.api({"mt": "ConnectCall", "id": call["id"]})["ok"]
    assert uac.wait(15) == 0, uac.messages()[-2000:]
    got = rx.wait(3, 10)
    time.sleep(0.3)
    assert len(rx.requests) == 3, rx.requests  # one of each, nothing repeated
    assert [urlsplit(p).path for _, p in got] == ["/in", "/active", "/end"]
    assert [t for t, _ in got] == sorted(t for t, _ in got)
    for _, path in got:
        q = query(path)
        assert q["callerid"] == ["sipp"], path  # sipp's From user
        assert q["name"] == [""] and q["dir"] == ["in"], path
        assert q["id"] == [call["guid"]], path  # the SIP Call-ID
    assert call["guid"] in uac.messages()


def _scenario_with_caller(tmp_path, display: str, user: str):
    """uac-bye with From: "display" <sip:user@…> (UTF-8)."""
    text = (SCENARIOS / "uac-bye.xml").read_text(encoding="latin-1")
    text = text.replace('encoding="ISO-8859-1"', 'encoding="UTF-8"')
    text = text.replace("From: <sip:sipp@", f'From: "{display}" <sip:{user}@')
    path = tmp_path / "uac-caller.xml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_caller_id_and_name_are_url_encoded(headless, receiver, sipp_dir, tmp_path):
    rx = receiver()
    phone = headless(direct("alice") + notify_section(incoming=rx.url("/in"), end=rx.url("/end")))
    display, user = "Müller & Co/Sales #1", "+4930123456"
    uac = sipp_uac(sipp_dir, phone.sip_address, "alice", _scenario_with_caller(tmp_path, display, user),
                   duration_ms=100)
    call = phone.wait_call_state("Alerting", 10)
    assert call["num"] == user and call["dn"] == display
    assert phone.api({"mt": "ConnectCall", "id": call["id"]})["ok"]
    assert uac.wait(15) == 0, uac.messages()[-2000:]
    got = rx.wait(2, 10)
    assert [urlsplit(p).path for _, p in got] == ["/in", "/end"]
    for _, path in got:
        raw = urlsplit(path).query
        assert "callerid=%2B4930123456&" in raw, raw
        assert "name=M%C3%BCller%20%26%20Co%2FSales%20%231&" in raw, raw
        q = query(path)
        assert q["callerid"] == [user] and q["name"] == [display] and q["dir"] == ["in"]
        assert set(q) == {"callerid", "name", "id", "dir"}  # the "&" in the name split nothing


def test_outgoing_call_notifies_outgoing_active_end(headless, receiver, sipp_dir):
    rx = receiver()
    uas = sipp_uas(sipp_dir, scenario="uas-fast")
    phone = headless(direct("alice") + f'proxy = "sip:127.0.0.1:{uas.port}"\n' + notify_section(
        outgoing=rx.url("/out"), active=rx.url("/active"), end=rx.url("/end")))
    r = phone.api({"mt": "StartCall", "num": "200"})
    assert r["ok"]
    phone.wait_call_state("Connected", 10, r["id"])
    first = rx.wait(2, 5)
    assert [urlsplit(p).path for _, p in first] == ["/out", "/active"]
    assert phone.api({"mt": "DisconnectCall", "id": r["id"]})["ok"]
    got = rx.wait(3, 5)
    assert uas.wait(10) == 0
    assert [urlsplit(p).path for _, p in got] == ["/out", "/active", "/end"]
    for _, path in got:
        q = query(path)
        assert q["callerid"] == ["200"] and q["dir"] == ["out"], path
    assert len({query(p)["id"][0] for _, p in got}) == 1  # same call id in all three


def test_slow_receiver_does_not_delay_answering(headless, receiver, sipp_dir):
    rx = receiver(delay=10)
    phone = headless(direct("alice") + notify_section(incoming=rx.url("/in"), active=rx.url("/active")))
    uac = sipp_uac(sipp_dir, phone.sip_address, "alice", "uac-bye", duration_ms=300)
    call = phone.wait_call_state("Alerting", 10)
    arrived = rx.wait(1, 5)[0][0]  # the incoming notification is now hanging in the receiver
    t = time.monotonic()
    assert phone.api({"mt": "ConnectCall", "id": call["id"]}, timeout=5)["ok"]
    phone.wait_call_state("Connected", 5, call["id"])
    assert time.monotonic() - t < 1.0
    assert uac.wait(15) == 0, uac.messages()[-2000:]
    phone.wait_for(lambda m: not m["calls"], 5, "call removed")
    # the attempt gives up after the 3 s timeout and says so in the log
    lines = wait_stderr(phone, r"notify incoming \(call \d+\) attempt 1: ", 1, arrived + 6 - time.monotonic())
    assert lines and "Timeout" in lines[0], phone.stderr()
    assert time.monotonic() - arrived >= 2.5
    # in order per call: "active" waits behind the hanging "incoming"
    assert [urlsplit(p).path for _, p in rx.requests][:1] == ["/in"]
    assert phone.api({"mt": "GetState"})["ok"]


def test_receiver_down_logs_each_attempt_and_keeps_working(headless, sipp_dir):
    dead = free_tcp_port()  # nothing listens here: connection refused
    url = f"http://127.0.0.1:{dead}/hook?callerid=$callerid&dir=$dir"
    phone = headless(direct("alice") + notify_section(incoming=url, end=url.replace("/hook", "/bye")))
    uac = sipp_uac(sipp_dir, phone.sip_address, "alice", "uac-cancel")
    first = phone.wait_call_state("Alerting", 10)
    phone.wait_call_state("Disconnected", 10)
    assert uac.wait(15) == 0, uac.messages()[-2000:]
    lines = wait_stderr(phone, r"notify ", 6, 10)
    time.sleep(0.8)  # nothing more comes
    lines = [line for line in phone.stderr().splitlines() if "notify " in line]
    kinds = [re.search(r"notify (\w+) \(call \d+\) attempt (\d)", line).groups() for line in lines]
    assert kinds == [("incoming", "1"), ("incoming", "2"), ("incoming", "3"),
                     ("end", "1"), ("end", "2"), ("end", "3")], lines
    for line in lines:
        assert f"http://127.0.0.1:{dead}" in line and "ConnectError" in line
        assert "callerid" not in line and "sipp" not in line  # the query (caller ID) is not logged
    assert phone.proc.poll() is None
    assert phone.api({"mt": "GetState"})["ok"]
    # and the phone still takes calls
    uac2 = sipp_uac(sipp_dir, phone.sip_address, "alice", "uac-bye", duration_ms=100)
    m = phone.wait_for(lambda m: any(c["id"] != first["id"] and c["state"] == "Alerting" for c in m["calls"]),
                       10, "the second call ringing")
    call = next(c for c in m["calls"] if c["id"] != first["id"])
    assert phone.api({"mt": "ConnectCall", "id": call["id"]})["ok"]
    assert uac2.wait(15) == 0


def test_unusable_notify_url_is_refused_by_config_or_logged(headless, sipp_dir, tmp_path):
    from tests.phoneproc import HeadlessPhone

    cfg = direct("alice") + notify_section(incoming="http://127.0.0.1:99999/in?callerid=$callerid")
    check = HeadlessPhone(tmp_path, cfg, name="check").cli("config", "check")
    if check.returncode == 2:  # refused up front, naming the key: fine
        assert "notify.incoming" in check.stderr
        return
    phone = headless(cfg)  # ...or every failed attempt is a log line, like a receiver that is down
    uac = sipp_uac(sipp_dir, phone.sip_address, "alice", "uac-cancel")
    assert uac.wait(15) == 0
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        err = phone.stderr()
        if "Task exception" in err or len(re.findall(r"notify incoming \(call \d+\) attempt \d", err)) >= 3:
            break
        time.sleep(0.05)
    err = phone.stderr()
    assert "Traceback" not in err and "Task exception" not in err, err[-1500:]
    assert len(re.findall(r"notify incoming \(call \d+\) attempt \d", err)) == 3
