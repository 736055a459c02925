"""The Enreach-style HTTP listener of the real `tui-phone --headless`, driven
with httpx as a CRM would (curl-style GETs), against real sipp peers.

Every client here refuses 5xx answers through an httpx response hook: bad
input must never reach "internal error". See DESIGN.md (HTTP listener, Dial
policy) and issue 6.
"""

from __future__ import annotations

import concurrent.futures
import os
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.peers import free_tcp_port, port_bound, sipp_uac, sipp_uas
from tests.phoneproc import direct

# ------------------------------------------------------------------------------------------ helpers


def http_section(port: int, **keys: str) -> str:
    extra = "".join(f'{k} = "{v}"\n' for k, v in keys.items())
    return f"\n[http]\nenabled = true\nport = {port}\n{extra}"


def via_proxy(uas_port: int) -> str:
    """A direct account whose numbers go to sip:NUMBER@127.0.0.1:uas_port."""
    return direct("alice") + f'proxy = "sip:127.0.0.1:{uas_port}"\n'


def _no_5xx(response: httpx.Response) -> None:
    assert response.status_code < 500, (
        f"{response.request.method} {response.request.url} answered {response.status_code}")


def client(port: int, host: str = "127.0.0.1") -> httpx.Client:
    return httpx.Client(base_url=f"http://{host}:{port}", timeout=5, event_hooks={"response": [_no_5xx]})


class PacedClient(httpx.Client):
    """For the phone shared by the 4xx tests: waits out a 429 (the rate limit has its own test)."""

    def request(self, *args, **kwargs) -> httpx.Response:
        for _ in range(30):
            r = super().request(*args, **kwargs)
            if r.status_code != 429:
                return r
            time.sleep(0.2)
        return r


def paced(port: int) -> httpx.Client:
    return PacedClient(base_url=f"http://127.0.0.1:{port}", timeout=5, event_hooks={"response": [_no_5xx]})


def raw_request(port: int, data: bytes, host: str = "127.0.0.1", timeout: float = 5) -> bytes:
    """Send raw bytes, return everything the listener sends back until it closes."""
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(data)
        out = b""
        while chunk := s.recv(65536):
            out += chunk
    return out


def status_of(raw: bytes) -> int:
    code = int(raw.split(b" ", 2)[1])
    assert code < 500, raw
    return code


def no_calls_ever(phone) -> bool:
    with phone._cond:
        return all(not m["calls"] for m in phone.models)


@pytest.fixture
def http_phone(headless):
    """make(config_before_http="", **http_keys) -> (phone, port)."""

    def make(account: str | None = None, **keys: str):
        port = free_tcp_port()
        phone = headless((account if account is not None else direct("alice")) + http_section(port, **keys))
        assert f"http 127.0.0.1:{port}" in phone.stderr()
        return phone, port

    return make


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """One phone for the tests that place no call (starting and stopping a phone takes ~1 s)."""
    from tests.phoneproc import HeadlessPhone

    port = free_tcp_port()
    phone = HeadlessPhone(tmp_path_factory.mktemp("http-shared"), direct("alice") + http_section(port)).start()
    try:
        yield phone, port
    finally:
        phone.stop()
    assert no_calls_ever(phone), "a 4xx test placed a call"


# ------------------------------------------------------------------------------------ make / answer / end


def test_make_dials_at_once_and_end_hangs_up(http_phone, sipp_dir):
    uas = sipp_uas(sipp_dir, scenario="uas-fast")
    phone, port = http_phone(via_proxy(uas.port))
    with client(port) as c:
        r = c.get("/make/020123456")
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["ok"] is True and isinstance(body["id"], int) and set(body) == {"ok", "id"}
        assert r.headers["content-type"] == "application/json"
        call = phone.wait_call_state("Connected", 10, body["id"])
        # "020123456" is not a valid number under region US: dialled as given, through the proxy
        assert call["dir"] == "o" and call["num"] == "020123456"
        r = c.get("/end")
        assert (r.status_code, r.json()) == (200, {"ok": True, "id": body["id"]})
    end = phone.wait_call_state("Disconnected", 5, body["id"])
    assert end["id"] == body["id"]
    phone.wait_for(lambda m: not m["calls"], 5, "call removed")
    assert uas.wait(10) == 0, uas.messages()[-2000:]
    msgs = uas.messages()
    assert f"INVITE sip:020123456@127.0.0.1:{uas.port} SIP/2.0" in msgs
    assert "BYE sip:" in msgs
    assert phone.call_states(body["id"])[-2:] == ["Connected", "Disconnected"]


def test_answer_takes_the_ringing_call(http_phone, sipp_dir):
    phone, port = http_phone()
    uac = sipp_uac(sipp_dir, phone.sip_address, "alice", "uac-bye", duration_ms=300)
    call = phone.wait_call_state("Alerting", 10)
    with client(port) as c:
        r = c.get("/answer")
        assert (r.status_code, r.json()) == (200, {"ok": True, "id": call["id"]})
        phone.wait_call_state("Connected", 5, call["id"])
        assert uac.wait(15) == 0, uac.messages()[-2000:]
        phone.wait_for(lambda m: not m["calls"], 5, "call removed")
        assert c.get("/answer").status_code == 409  # nothing ringing any more
    assert phone.call_states(call["id"]) == ["Alerting", "Connected", "Disconnected"]


def test_end_rejects_a_ringing_incoming_call(http_phone, sipp_dir):
    phone, port = http_phone()
    uac = sipp_uac(sipp_dir, phone.sip_address, "alice", "uac-bye")
    call = phone.wait_call_state("Alerting", 10)
    with client(port) as c:
        r = c.get("/end")
        assert (r.status_code, r.json()) == (200, {"ok": True, "id": call["id"]})
    phone.wait_call_state("Disconnected", 5, call["id"])
    uac.wait(15)
    assert "SIP/2.0 486 Busy Here" in uac.messages()


# ------------------------------------------------------------------------------------------ 4xx cases


def test_answer_and_end_with_nothing_to_act_on_are_409(shared):
    phone, port = shared
    with paced(port) as c:
        for path, words in (("/answer", "answer"), ("/end", "end")):
            r = c.get(path)
            assert r.status_code == 409, (path, r.text)
            assert r.json()["ok"] is False and words in r.json()["error"]
    assert phone.api({"mt": "GetState"})["ok"]


def test_unknown_paths_are_404(shared):
    phone, port = shared
    with paced(port) as c:
        for path in ("/", "/nope", "/make", "/make/", "/make/1/2", "/answer/1", "/end/now", "/favicon.ico"):
            r = c.get(path)
            assert r.status_code == 404, (path, r.text)
            assert r.json() == {"ok": False, "error": "unknown path"}
    assert no_calls_ever(phone)


def test_rejected_numbers_are_400_with_the_reason(shared):
    phone, port = shared
    with paced(port) as c:
        for path, reason in (("/make/12a34", "letter"), ("/make/%0a1", "control character"),
                             ("/make/1%2F2", "'/'"), ("/make/-", "empty"), ("/make/%FF", "number has")):
            r = c.get(path)
            assert r.status_code == 400, (path, r.text)
            assert r.json()["ok"] is False and reason in r.json()["error"], (path, r.text)
    time.sleep(0.2)
    assert no_calls_ever(phone)


def test_a_lone_plus_is_a_rejected_number(http_phone):
    phone, port = http_phone()
    with client(port) as c:
        for path in ("/make/+", "/make/%2B"):
            r = c.get(path)
            assert r.status_code == 400, (path, r.text)
    time.sleep(0.2)
    assert no_calls_ever(phone)


def test_only_get_is_allowed(shared):
    phone, port = shared
    with paced(port) as c:
        for method in ("POST", "PUT", "DELETE", "PATCH", "OPTIONS"):
            r = c.request(method, "/make/1", content=b"number=1")
            assert r.status_code == 405, (method, r.text)
        # a big form POST is refused without reading it, and the answer still arrives
        r = c.post("/make/1", content=b"x" * 1_000_000)
        assert r.status_code == 405
    time.sleep(0.2)
    assert no_calls_ever(phone)


def _refused_headers(port: int) -> list[dict]:
    return [
        {"Host": f"evil.com:{port}"},  # DNS rebinding: a foreign name resolving to 127.0.0.1
        {"Host": "localhost"},  # missing port
        {"Host": f"localhost:{port + 1 if port < 65535 else port - 1}"},  # wrong port
        {"Host": f"127.0.0.1.nip.io:{port}"},
        {"Origin": "https://evil.example"},
        {"Origin": "null"},  # sandboxed iframe / file: page
        {"Origin": f"http://localhost:{port + 1 if port < 65535 else port - 1}"},
        {"Sec-Fetch-Mode": "no-cors"},  # <img>, <script>, fetch(mode: no-cors)
        {"Sec-Fetch-Mode": "cors"},  # fetch()
        {"Sec-Fetch-Dest": "image"},
        {"Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "iframe"},  # <iframe src=…/make/…>
        # a browser without Sec-Fetch headers navigated by a page on another site (found by an outside probe)
        {"Referer": "https://evil.example/crm"},
    ]


def test_browser_and_rebinding_requests_are_403(shared):
    phone, port = shared
    with paced(port) as c:
        for headers in _refused_headers(port):
            r = c.get("/make/200", headers=headers)
            assert r.status_code == 403, (headers, r.text)
            assert r.json()["ok"] is False, headers
    # HTTP/1.0 without any Host header
    assert status_of(raw_request(port, b"GET /make/200 HTTP/1.0\r\n\r\n")) == 403
    time.sleep(0.2)
    assert no_calls_ever(phone)
    assert "warning: http: 403" in phone.stderr()  # refusals show in the log


def test_allowed_hosts_origins_and_navigations(shared):
    phone, port = shared
    with paced(port) as c:
        for headers in ({"Host": f"localhost:{port}"}, {"Host": f"127.0.0.1:{port}"},
                        {"Host": f"[::1]:{port}"}, {"Origin": f"http://localhost:{port}"},
                        {"Origin": f"http://127.0.0.1:{port}"},
                        {"Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"},
                        {"Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document", "Sec-Fetch-Site": "none",
                         "Sec-Fetch-User": "?1"},
                        {"Host": f"LOCALHOST:{port}"},  # host names are case-insensitive
                        {"Referer": f"http://localhost:{port}/"},
                        # the CRM case: the user clicked a link on another site
                        {"Referer": "https://crm.example/", "Sec-Fetch-Site": "cross-site",
                         "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document", "Sec-Fetch-User": "?1"}):
            r = c.get("/answer", headers=headers)
            assert r.status_code == 409, (headers, r.text)  # passed every check, nothing ringing


def test_token(http_phone, sipp_dir):
    """token + custom segment names: the token gates every route, the defaults are gone."""
    uas = sipp_uas(sipp_dir, scenario="uas-fast")
    phone, port = http_phone(via_proxy(uas.port), token="s3cret", make="dial", answer="pickup", end="hangup")
    with client(port) as c:
        for params, headers in (({}, {}), ({"token": "wrong"}, {}), ({"token": "S3CRET"}, {}),
                                ({"token": "s3cret\x00"}, {}), ({"token": ""}, {}),
                                ({}, {"Authorization": "Bearer wrong"}), ({}, {"Authorization": "Bearer"}),
                                ({}, {"Authorization": "Basic czNjcmV0"}),
                                ({"token": "s3cre"}, {})):
            r = c.get("/pickup", params=params, headers=headers)
            assert r.status_code in (401, 429), (params, headers, r.text)  # guesses are rate-limited too
            r = c.get("/dial/200", params=params, headers=headers)
            assert r.status_code in (401, 429), (params, headers, r.text)
        time.sleep(2.5)  # let the rate limit refill after 18 wrong guesses
        assert c.get("/pickup", params={"token": "s3cret"}).status_code == 409
        assert c.get("/pickup", headers={"Authorization": "Bearer s3cret"}).status_code == 409
        # the default segment names no longer exist
        for path in ("/make/200", "/answer", "/end"):
            assert c.get(path, params={"token": "s3cret"}).status_code == 404, path
        assert no_calls_ever(phone)
        # the custom make segment places the call, with the token as a bearer header
        r = c.get("/dial/200", headers={"Authorization": "Bearer s3cret"})
        assert r.status_code == 200, r.text
        phone.wait_call_state("Connected", 10, r.json()["id"])
        r2 = c.get("/hangup", params={"token": "s3cret"})
        assert (r2.status_code, r2.json()) == (200, {"ok": True, "id": r.json()["id"]})
    assert uas.wait(10) == 0
    assert f"INVITE sip:200@127.0.0.1:{uas.port} SIP/2.0" in uas.messages()
    assert "s3cret" not in phone.stderr()  # the token is never logged

    out = phone.cli("http-url")
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [f"http://localhost:{port}/dial/NUMBER?token=s3cret",
                                  f"http://localhost:{port}/pickup?token=s3cret",
                                  f"http://localhost:{port}/hangup?token=s3cret"]
    # the printed URLs work as pasted
    with httpx.Client(timeout=5, event_hooks={"response": [_no_5xx]}) as c:
        assert c.get(out.stdout.split()[1]).status_code == 409
        assert c.get(out.stdout.split()[2]).status_code == 409


def test_http_url_without_token(shared):
    phone, port = shared
    out = phone.cli("http-url")
    assert out.returncode == 0
    assert out.stdout.split() == [f"http://localhost:{port}/make/NUMBER", f"http://localhost:{port}/answer",
                                  f"http://localhost:{port}/end"]


def test_flood_is_rate_limited_and_the_phone_stays_responsive(http_phone):
    phone, port = http_phone()

    def hit(_):
        with httpx.Client(timeout=5, event_hooks={"response": [_no_5xx]}) as c:
            return c.get(f"http://127.0.0.1:{port}/answer").status_code

    with concurrent.futures.ThreadPoolExecutor(10) as pool:
        codes_future = pool.submit(lambda: list(pool.map(hit, range(30))))
        t = time.monotonic()
        assert phone.api({"mt": "GetState"}, timeout=5)["ok"]
        assert time.monotonic() - t < 1.0
        codes = codes_future.result(30)
    assert set(codes) <= {409, 429}, codes
    assert codes.count(429) >= 10 and codes.count(409) >= 1, codes
    assert phone.api({"mt": "GetState"})["ok"]
    assert phone.proc.poll() is None
    time.sleep(0.5)  # the bucket refills
    with client(port) as c:
        assert c.get("/answer").status_code == 409


def test_wrong_token_flood_is_rate_limited(http_phone):
    phone, port = http_phone(token="s3cret")
    with client(port) as c:
        codes = [c.get("/answer", params={"token": f"guess{i}"}).status_code for i in range(30)]
    assert set(codes) <= {401, 429}
    assert 429 in codes, codes


def test_dial_policy_refuses_premium_and_emergency(http_phone, sipp_dir):
    uas = sipp_uas(sipp_dir, scenario="uas-fast")
    phone, port = http_phone(via_proxy(uas.port))
    with client(port) as c:
        for number, why in (("+19005550100", "confirmation list"), ("911", "emergency")):
            r = c.get(f"/make/{number}")
            assert r.status_code == 403, (number, r.text)
            assert r.json()["ok"] is False and r.json()["error"].startswith("refused") and why in r.json()["error"]
        assert no_calls_ever(phone)
        # the same listener does dial an ordinary number: the UAS was reachable all along
        r = c.get("/make/200")
        assert r.status_code == 200
        phone.wait_call_state("Connected", 10, r.json()["id"])
        assert c.get("/end").status_code == 200
    assert uas.wait(10) == 0
    msgs = uas.messages()
    assert msgs.count("INVITE sip:") == 1 and "INVITE sip:200@" in msgs
    assert "19005550100" not in msgs and "911@" not in msgs


def _non_loopback(family: int) -> str | None:
    out = subprocess.run(["hostname", "-I"], capture_output=True, text=True).stdout.split()
    for addr in out:
        if (":" in addr) == (family == socket.AF_INET6) and not addr.startswith(("127.", "::1", "fe80")):
            return addr
    return None


def test_listens_on_loopback_only(shared):
    phone, port = shared
    v4 = _non_loopback(socket.AF_INET)
    v6 = _non_loopback(socket.AF_INET6)
    for addr in (v4, v6):
        if addr is None:
            continue
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((addr, port), timeout=2).close()
    if v4 is None:
        pytest.skip("no non-loopback IPv4 address on this machine (loopback-only check skipped)")
    # still reachable on the loopback
    with paced(port) as c:
        assert c.get("/answer").status_code == 409


def test_ipv6_loopback_works_when_present(shared):
    phone, port = shared
    try:
        s = socket.create_connection(("::1", port), timeout=2)
    except OSError:
        pytest.skip("no ::1 listener (machine without IPv6 loopback)")
    s.close()
    for _ in range(30):  # the shared phone's rate limit may be spent by the tests before
        code = status_of(raw_request(port, f"GET /answer HTTP/1.1\r\nHost: [::1]:{port}\r\n\r\n".encode(),
                                     host="::1"))
        if code != 429:
            break
        time.sleep(0.2)
    assert code == 409


def _listening_inodes(port: int) -> set[str]:
    inodes = set()
    for name in ("tcp", "tcp6"):
        try:
            lines = Path("/proc/net", name).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            f = line.split()
            if f[3] == "0A" and int(f[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(f[9])
    return inodes


def test_off_by_default(headless):
    busy_before = port_bound(5678, "tcp")
    phone = headless(direct("alice"))
    start_line = next(line for line in phone.stderr().splitlines() if "headless, SIP on" in line)
    assert "http" not in start_line
    ours = set()
    for fd in Path(f"/proc/{phone.proc.pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            ours.add(target[len("socket:["):-1])
    assert not (ours & _listening_inodes(5678)), "the phone listens on 5678 without [http] enabled"
    if not busy_before:
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", 5678), timeout=2).close()


def test_port_taken_fails_start_with_a_reason(tmp_path):
    from tests.phoneproc import HeadlessPhone

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        phone = HeadlessPhone(tmp_path, direct("alice") + http_section(port))
        with pytest.raises(RuntimeError) as e:
            phone.start()
        phone.stop()
    assert phone.proc.returncode == 1
    assert f"HTTP listener on 127.0.0.1:{port}" in str(e.value)
