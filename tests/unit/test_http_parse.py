"""control/http.py without a SIP engine: parse_head edge cases, hypothesis
fuzzing of the parser, and a real HttpListener on an ephemeral 127.0.0.1
port (asyncio loop in a thread) fed raw bytes over real sockets.

The phone is a real ``Phone(config)`` whose engine is never started, so a
make that passes every check ends in "the SIP engine is not running" (503, busy).
Whatever is sent, the answer is 2xx/4xx, never 5xx but that 503, and never a hang.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import threading
import time
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tui_phone.config import parse
from tui_phone.control import http as http_mod
from tui_phone.control.http import BadRequest, HttpListener, RateLimit, Request, parse_head, urls
from tui_phone.phone import Phone

# ------------------------------------------------------------------------------------------ parse_head


def test_parse_a_plain_request():
    req = parse_head(b"GET /make/123?token=a%20b&x= HTTP/1.1\r\nHost: localhost:5678\r\nX-Empty:\r\n"
                     b"Authorization:\tBearer t \t")
    assert (req.method, req.target, req.path) == ("GET", "/make/123?token=a%20b&x=", "/make/123")
    assert req.query == {"token": ["a b"], "x": [""]}
    assert req.headers == {"host": "localhost:5678", "x-empty": "", "authorization": "Bearer t"}


def test_header_names_are_case_insensitive_and_repeats_reject():
    with pytest.raises(BadRequest) as e:
        parse_head(b"GET / HTTP/1.1\r\nHost: a\r\nHOST: b")
    assert e.value.status == 400


@pytest.mark.parametrize("head, status", [
    (b"", 400),
    (b"GET", 400),
    (b"GET /", 400),
    (b"GET / HTTP/2.0", 400),
    (b"GET / HTTP/1.1 extra", 400),
    (b"GET  / HTTP/1.1", 400),  # two spaces
    (b"GET make/1 HTTP/1.1", 400),  # origin-form only
    (b"GET http://localhost:5678/make/1 HTTP/1.1", 400),
    (b"GET / HTTP/1.1\r\nNoColon", 400),
    (b"GET / HTTP/1.1\r\n: value", 400),
    (b"GET / HTTP/1.1\r\nBad Name: v", 400),
    (b"GET / HTTP/1.1\r\nHost : v", 400),
    (b"GET / HTTP/1.1\r\n folded: v", 400),
    (b"GET / HTTP/1.1\r\nX: a\x00b", 400),
    (b"GET / HTTP/1.1\r\nX: a\x1bb", 400),
    (b"GET / HTTP/1.1\r\nX: a\nb", 400),
    (b"GET /\xc3\xa9 HTTP/1.1", 400),  # not ASCII
    (b"GET / HTTP/1.1\r\nX: \xff", 400),
    (b"GET / HTTP/1.1\r\n" + b"\r\n".join(b"H%d: v" % i for i in range(65)), 431),
])
def test_bad_heads(head, status):
    with pytest.raises(BadRequest) as e:
        parse_head(head)
    assert e.value.status == status


def test_sixty_four_headers_are_fine():
    req = parse_head(b"GET / HTTP/1.1\r\nHost: x\r\n" + b"\r\n".join(b"H%d: v" % i for i in range(63)))
    assert len(req.headers) == 64


@pytest.mark.parametrize("head", [b"GET / HTTP/1.1\nHost: x", b"GET / HTTP/1.1\r\nHost: x\nX: y",
                                  b"GET /answer HTTP/1.1\n"])
def test_bare_lf_line_ends_are_refused(head):
    with pytest.raises(BadRequest, match="CRLF") as e:
        parse_head(head)
    assert e.value.status == 400


def test_http_1_1_without_host_is_400():
    with pytest.raises(BadRequest, match="Host") as e:
        parse_head(b"GET /answer HTTP/1.1\r\nX: y")
    assert e.value.status == 400


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_fuzz_random_bytes_give_request_or_bad_request(head):
    try:
        req = parse_head(head)
    except BadRequest as e:
        assert e.status in (400, 431)
    else:
        assert isinstance(req, Request) and req.target.startswith("/")


_line_text = st.text(st.characters(blacklist_categories=("Cs",), max_codepoint=0x7F), max_size=40)


@settings(max_examples=300, deadline=None)
@given(st.lists(_line_text, min_size=1, max_size=8), st.sampled_from(["GET", "HEAD", "POST", "get", ""]),
       st.text(st.characters(blacklist_categories=("Cs",)), max_size=30))
def test_fuzz_structured_heads(header_lines, method, path):
    head = "\r\n".join([f"{method} /{path} HTTP/1.1", *header_lines]).encode("utf-8")
    try:
        req = parse_head(head)
    except BadRequest as e:
        assert e.status in (400, 431)
        return
    assert req.method == method
    assert all(k == k.lower() for k in req.headers)
    assert all(not any(ord(c) < 32 and c != "\t" for c in v) for v in req.headers.values())


def test_rate_limit_bucket():
    limit = RateLimit(rate=5.0, burst=10)
    assert [limit.allow() for _ in range(11)] == [True] * 10 + [False]
    time.sleep(0.25)
    assert limit.allow() and not limit.allow()


def test_urls_quote_the_token():
    cfg = {"port": 5678, "make": "make", "answer": "answer", "end": "end", "token": "a b&c=/+"}
    assert urls(cfg) == ["http://localhost:5678/make/NUMBER?token=a%20b%26c%3D%2F%2B",
                         "http://localhost:5678/answer?token=a%20b%26c%3D%2F%2B",
                         "http://localhost:5678/end?token=a%20b%26c%3D%2F%2B"]
    assert urls({**cfg, "token": ""})[0] == "http://localhost:5678/make/NUMBER"
    # what urls() prints is what the listener accepts
    assert Request("GET", urls(cfg)[1][len("http://localhost:5678"):], {}).query["token"] == ["a b&c=/+"]


# ------------------------------------------------------------------------------------------ a real listener


class Served:
    """An HttpListener of a never-started Phone, on its own asyncio loop in a thread."""

    def __init__(self, config_text: str):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.phone = Phone(parse(config_text))
        self.listener = HttpListener(self.phone)
        self.run(self.listener.start())
        self.port = self.listener.port

    def run(self, coro, timeout: float = 10):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def exchange(self, data: bytes, timeout: float = 3.0) -> bytes:
        """Send ``data`` over a fresh connection, return all bytes until the listener closes."""

        async def go() -> bytes:
            reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
            try:
                writer.write(data)
                await writer.drain()
                return await asyncio.wait_for(reader.read(), timeout)
            finally:
                writer.close()

        return self.run(go(), timeout + 2)

    def close(self) -> None:
        self.run(self.listener.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()

    def errors(self) -> list[str]:
        return [line.text for line in self.phone.state.log if line.level == "error"]


@pytest.fixture(scope="module")
def served():
    s = Served("[http]\nenabled = true\nport = 0\n")
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def unlimited(served):
    """Deeper fuzzing: a bucket that never runs dry, so requests reach the routes."""
    old = served.listener.limit
    served.listener.limit = RateLimit(rate=1e9, burst=10**9)
    try:
        yield served
    finally:
        served.listener.limit = old


def check(resp: bytes, method: str = "GET") -> int:
    """A complete, well-formed 2xx/4xx answer; returns the status."""
    assert resp, "the listener closed without an answer"
    m = re.match(rb"HTTP/1\.1 (\d{3}) [A-Za-z ]*\r\n", resp)
    assert m, resp[:200]
    status = int(m[1])
    assert 200 <= status < 500 or (status == 503 and (b"not running" in resp or b"too many connections" in resp)), resp
    head, sep, body = resp.partition(b"\r\n\r\n")
    assert sep
    length = int(re.search(rb"\r\nContent-Length: (\d+)\r\n", head + b"\r\n")[1])
    if method != "HEAD":
        assert len(body) == length
        assert isinstance(json.loads(body)["ok"], bool)
    else:
        assert body == b""
    return status


def get(served, target: str, *headers: str, method: str = "GET") -> bytes:
    lines = [f"{method} {target} HTTP/1.1", f"Host: 127.0.0.1:{served.port}", *headers]
    return served.exchange(("\r\n".join(lines) + "\r\n\r\n").encode())


def test_listener_routes(unlimited):
    s = unlimited
    assert check(get(s, "/answer")) == 409
    assert check(get(s, "/end")) == 409
    assert check(get(s, "/nope")) == 404
    assert check(get(s, "/make/12a34")) == 400
    resp = get(s, "/make/200")
    assert check(resp) == 503 and b"not running" in resp  # passed every check; no engine here
    assert check(get(s, "/make/+19005550100")) == 403
    assert check(get(s, "/answer", "Origin: https://evil.example")) == 403
    assert check(get(s, "/make/1", method="POST")) == 405


def test_head_never_acts(unlimited):
    """HEAD could place a call as a side effect (link checkers, prefetchers): refused."""
    resp = get(unlimited, "/make/200", method="HEAD")
    assert check(resp, "HEAD") == 405


def test_oversized_heads_get_431(unlimited):
    s = unlimited
    assert check(s.exchange(b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")) == 431
    assert check(s.exchange(b"GET / HTTP/1.1\r\nX: " + b"a" * 20000 + b"\r\n\r\n")) == 431
    assert check(s.exchange(b"GET / HTTP/1.1\r\nX: " + b"a" * 70000 + b"\r\n\r\n")) == 431  # past the reader
    assert check(get(s, "/answer")) == 409  # still serving


def test_big_body_still_gets_its_answer(unlimited):
    """The body is never read; the 405 still reaches a plain blocking client (as curl or a browser).
    (The close after it is a reset, because of the unread body: asyncio's StreamReader would raise
    that before handing over the buffered answer, so this client is a plain socket.)"""
    s = unlimited
    body = b"x" * 2_000_000
    head = f"POST /make/1 HTTP/1.1\r\nHost: 127.0.0.1:{s.port}\r\nContent-Length: {len(body)}\r\n\r\n"
    with socket.create_connection(("127.0.0.1", s.port), timeout=5) as c:
        c.sendall(head.encode() + body)
        resp = b""
        try:
            while chunk := c.recv(65536):
                resp += chunk
        except ConnectionResetError:
            pass
    assert check(resp) == 405


def test_incomplete_heads_get_400_and_an_idle_connection_is_closed(unlimited, monkeypatch):
    """Every request gets an answer: a head cut by EOF or never ended by a blank
    line (within READ_TIMEOUT) is a 400, bare-LF line ends are a 400 at once. Only a
    connection that sent nothing is closed without a word (nothing was asked)."""
    s = unlimited

    async def send(data: bytes, eof: bool) -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", s.port)
        writer.write(data)
        if eof:
            writer.write_eof()
        out = await asyncio.wait_for(reader.read(), 3)
        writer.close()
        return out

    half = s.run(send(b"GET /answer HTTP/1.1\r\nHost: 127.0.0.1", eof=True))
    assert check(half) == 400 and b"incomplete" in half
    t = time.monotonic()
    bare = s.run(send(b"GET /answer HTTP/1.1\n\n", eof=False))  # bare LF: answered at once, no timeout
    assert check(bare) == 400 and b"CRLF" in bare
    assert time.monotonic() - t < 2
    monkeypatch.setattr(http_mod, "READ_TIMEOUT", 0.3)
    no_blank = s.run(send(f"GET /answer HTTP/1.1\r\nHost: 127.0.0.1:{s.port}\r\n".encode(), eof=False))
    assert check(no_blank) == 400 and b"no blank line" in no_blank
    assert s.run(send(b"", eof=False)) == b""
    assert check(get(s, "/answer")) == 409


def test_many_connections_at_once(unlimited):
    """More connections than MAX_CONNECTIONS at once: each gets an answer, the
    ones past the cap a 503 with Retry-After."""
    s = unlimited

    async def one() -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", s.port)
        writer.write(f"GET /answer HTTP/1.1\r\nHost: localhost:{s.port}\r\n\r\n".encode())
        data = await asyncio.wait_for(reader.read(), 5)
        writer.close()
        return data

    async def all_() -> list[bytes]:
        return await asyncio.gather(*(one() for _ in range(100)))

    answers = s.run(all_(), 15)
    assert {check(r) for r in answers} <= {409, 503}
    assert all(b"Retry-After: 1\r\n" in r for r in answers if check(r) == 503)


def test_connections_past_the_cap_get_503_at_once(unlimited):
    """Idle connections hold their slot for READ_TIMEOUT; the cap keeps them from
    using up the process's file descriptors, and the next one hears why."""
    s = unlimited
    idle = [socket.create_connection(("127.0.0.1", s.port), timeout=5) for _ in range(http_mod.MAX_CONNECTIONS)]
    try:
        time.sleep(0.3)
        t = time.monotonic()
        resp = get(s, "/answer")
        assert check(resp) == 503 and b"Retry-After: 1\r\n" in resp and b"too many connections" in resp
        assert time.monotonic() - t < 2
    finally:
        for c in idle:
            c.close()
    time.sleep(0.3)
    assert check(get(s, "/answer")) == 409


def test_head_gets_no_body(unlimited):
    resp = get(unlimited, "/answer", method="HEAD")
    head, _, body = resp.partition(b"\r\n\r\n")
    assert check(resp, "HEAD") == 405 and body == b"" and b"Content-Length: " in head


def _urlsplit_fails(target: str) -> bool:
    try:
        urlsplit(target)
    except ValueError:
        return True
    return False


def test_bracket_in_authority_like_target_is_4xx_not_500():
    own = Served("[http]\nenabled = true\nport = 0\n")  # its own phone: the shared one's log stays clean
    try:
        for target in ("//[x", "//[::1/make/1", "//a]b/answer"):
            resp = get(own, target)
            assert 400 <= check(resp) < 500, (target, resp)  # a path like any other: never a 5xx
        assert not own.errors()
    finally:
        own.close()


# ------------------------------------------------------------------------------------------ fuzz the socket

_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=24)
_methods = st.sampled_from(["GET", "HEAD", "POST", "PUT", "OPTIONS", "get", ""]) | st.text(
    st.characters(min_codepoint=33, max_codepoint=126), max_size=8)
_segments = st.sampled_from(["make", "answer", "end", "", "favicon.ico", "%2e%2e", "..", "+", "%0a1", "12a34",
                             "020123456", "+19005550100", "911", "*86#"]) | _text
_queries = st.sampled_from(["", "?", "?token=", "?token=x", "?x=%ZZ", "?token=%FF", "?a=1&a=2"]) | _text.map(
    lambda s: "?" + s)
_paths = st.builds(lambda segs, q: "/" + "/".join(segs) + q, st.lists(_segments, max_size=4), _queries)
_header_names = st.sampled_from(["Host", "Origin", "Sec-Fetch-Mode", "Sec-Fetch-Dest", "Sec-Fetch-Site",
                                 "Authorization", "Content-Length", "Transfer-Encoding", "Connection",
                                 "Expect", "X"]) | _text
_header_values = st.sampled_from(["localhost:PORT", "127.0.0.1:PORT", "[::1]:PORT", "evil.com", "navigate",
                                  "document", "no-cors", "Bearer x", "0", "-1", "99999999999", "chunked",
                                  "100-continue", "null", "http://localhost:PORT"]) | _text


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(method=_methods, path=_paths, good_host=st.booleans(),
       headers=st.lists(st.tuples(_header_names, _header_values), max_size=6), body=st.binary(max_size=512),
       line_end=st.sampled_from(["\r\n", "\r\n", "\r\n", "\n"]))
def test_fuzz_listener_never_5xx_never_hangs(unlimited, method, path, good_host, headers, body, line_end):
    s = unlimited

    lines = [f"{method} {path} HTTP/1.1"]
    if good_host:
        lines.append(f"Host: 127.0.0.1:{s.port}")
    lines += [f"{n}: {v.replace('PORT', str(s.port))}" for n, v in headers]
    head = line_end.join(lines)
    data = (head + "\r\n\r\n").encode("utf-8") + body
    t = time.monotonic()
    resp = s.exchange(data, timeout=7)  # over READ_TIMEOUT (5 s): a dropped head shows up as b""
    assert time.monotonic() - t < 6.5
    assert resp, f"no answer to {data[:300]!r}"
    check(resp, method)
    assert not s.errors(), s.errors()
