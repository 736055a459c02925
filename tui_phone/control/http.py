"""Enreach-style URL commands on 127.0.0.1: GET /<make>/<number>,
/<answer>, /<end> (segment names and port from ``[http]``). Off by default.

A localhost web server that places calls is what CVE-2019-13450 (Zoom)
abused, so every request passes, in order: a strict parse (400), GET only
(405), the Host header must name this listener (403: DNS rebinding), no
foreign Origin, no browser sub-resource request (``<img>``, ``fetch()``,
iframes, forms) and no speculative prefetch (403), a rate limit (429), the
token when one is set (401), and a browser
navigation only when a person made it (``Sec-Fetch-Site: none`` or
``Sec-Fetch-User: ?1``) unless the token vouches for it (403); then the
dial policy, like every call from outside the keyboard. Bad input never
gets a 5xx.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import re
import time
from dataclasses import dataclass
from urllib.parse import parse_qs, quote, unquote

import h11

from ..commands import HTTP_STATUS, ConnectCall, DisconnectCall, Result, Source, StartCall
from ..masking import mask
from ..phone import Phone

MAX_REQUEST_LINE = 4096
MAX_HEADERS = 64
MAX_HEADER_BYTES = 16384
READ_TIMEOUT = 5.0
MAX_CONNECTIONS = 64
"""Connections served at once; more are answered 503 at once (file descriptors are finite)."""
_BARE_LF = re.compile(rb"(?<!\r)\n|\r(?=[^\n])")  # a lone LF or CR: the head would never end
LOCAL_HOSTS = ("localhost", "127.0.0.1", "[::1]")
PURPOSE_HEADERS = ("sec-purpose", "purpose", "x-purpose", "x-moz")  # speculative requests say so here
REASONS = {200: "OK", 202: "Accepted", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden",
           404: "Not Found", 405: "Method Not Allowed", 409: "Conflict", 429: "Too Many Requests",
           431: "Request Header Fields Too Large", 500: "Internal Server Error", 502: "Bad Gateway",
           503: "Service Unavailable"}


@dataclass
class Request:
    method: str
    target: str
    headers: dict[str, str]  # lower-cased names; a repeated header rejects the request

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0].split("#", 1)[0]

    @property
    def query(self) -> dict[str, list[str]]:
        query = self.target.split("?", 1)[1].split("#", 1)[0] if "?" in self.target else ""
        return parse_qs(query, keep_blank_values=True)


class BadRequest(ValueError):
    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status


def parse_head(head: bytes) -> Request:
    """Parse a request head (request line + headers, without the blank line)
    with h11, then hold it to the listener's stricter rules: CRLF line ends,
    ASCII only, origin-form target, HTTP/1.0 or 1.1, at most ``MAX_HEADERS``
    headers, none repeated."""
    if _BARE_LF.search(head):
        raise BadRequest(400, "line ends must be CRLF")
    if not head.isascii():
        raise BadRequest(400, "request head is not ASCII")
    if len(head.split(b"\r\n", 1)[0]) > MAX_REQUEST_LINE:
        raise BadRequest(431, "request line too long")
    if head.count(b"\r\n") > MAX_HEADERS:
        raise BadRequest(431, "too many headers")
    conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEADER_BYTES)
    conn.receive_data(head + b"\r\n\r\n")
    try:
        event = conn.next_event()
    except h11.RemoteProtocolError as e:
        raise BadRequest(431 if e.error_status_hint == 431 else 400, _h11_reason(e)) from None
    if not isinstance(event, h11.Request):
        raise BadRequest(400, "malformed request line")
    target = event.target.decode("ascii")
    if event.http_version not in (b"1.0", b"1.1") or not target.startswith("/"):
        raise BadRequest(400, "malformed request line")
    names = [name.decode("ascii") for name, _ in event.headers.raw_items()]
    headers: dict[str, str] = {}
    for (key, value), name in zip(event.headers, names):
        key = key.decode("ascii")
        if key in headers:
            raise BadRequest(400, f"repeated header {name}")
        headers[key] = value.decode("ascii")
    return Request(event.method.decode("ascii"), target, headers)


def _h11_reason(e: h11.RemoteProtocolError) -> str:
    """h11's words for a bad request, as one short line (never its internals)."""
    text = str(e).splitlines()[0] if str(e) else ""
    if not text or len(text) > 80 or not text.isprintable() or "bytearray" in text or "b'" in text:
        return "malformed request line" if "request line" in text else \
            "malformed header line" if "header line" in text else "malformed request"
    return text[0].lower() + text[1:]


class RateLimit:
    """Token bucket: ``burst`` requests at once, refilled at ``rate``/s."""

    def __init__(self, rate: float = 5.0, burst: int = 10):
        self.rate, self.burst, self.tokens, self.at = rate, burst, float(burst), time.monotonic()

    def allow(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


def urls(http: dict) -> list[str]:
    """The ready-to-paste make/answer/end URLs of an ``[http]`` config."""
    q = f"?token={quote(http['token'], safe='')}" if http["token"] else ""
    base = f"http://localhost:{http['port']}"
    return [f"{base}/{http['make']}/NUMBER{q}", f"{base}/{http['answer']}{q}", f"{base}/{http['end']}{q}"]


class HttpListener:
    def __init__(self, phone: Phone, host: str = "127.0.0.1"):
        self.phone = phone
        cfg = phone.config.http
        self.port, self.token = cfg["port"], cfg["token"]
        self.routes = {cfg["make"]: "make", cfg["answer"]: "answer", cfg["end"]: "end"}
        self.host = host
        self.limit = RateLimit()
        self.log_limit = RateLimit(rate=1.0, burst=20)  # a flood of refusals is not logged line by line
        self._servers: list[asyncio.base_events.Server] = []
        self._active = 0

    async def start(self) -> None:
        self._servers.append(await asyncio.start_server(self._serve, "127.0.0.1", self.port))
        if self.port == 0:
            self.port = self._servers[0].sockets[0].getsockname()[1]
        with contextlib.suppress(OSError):  # no IPv6 loopback on this machine: IPv4 alone
            self._servers.append(await asyncio.start_server(self._serve, "::1", self.port))

    async def close(self) -> None:
        for s in self._servers:
            s.close()
        self._servers.clear()

    def urls(self) -> list[str]:
        return urls({**self.phone.config.http, "port": self.port})

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """One request per connection. Every request gets an answer; the only
        closes without one are a connection that sent nothing (within
        ``READ_TIMEOUT``) and one that went away."""
        if self._active >= MAX_CONNECTIONS:
            await self._respond(writer, 503, {"ok": False, "error": "too many connections; try again"},
                               retry_after=1)
            return
        self._active += 1
        try:
            await self._respond(writer, *await self._exchange(reader))
        except ConnectionError:
            writer.close()
        finally:
            self._active -= 1

    async def _exchange(self, reader: asyncio.StreamReader) -> tuple[int, dict, bool]:
        """(status, body, head only) for the request on ``reader``."""
        got = bytearray()
        req = None
        try:
            head = await asyncio.wait_for(self._read_head(reader, got), READ_TIMEOUT)
            req = parse_head(head)
            status, body = await self.handle(req)
        except (asyncio.TimeoutError, asyncio.IncompleteReadError):
            if not got.strip():
                raise ConnectionError("nothing was asked") from None
            status, body = 400, {"ok": False, "error": "incomplete request head (no blank line after the headers)"}
        except BadRequest as e:
            status, body = e.status, {"ok": False, "error": str(e)}
        except ConnectionError:
            raise
        except Exception as e:  # noqa: BLE001 - a bug answers 500, never kills the listener
            self.phone.log("error", f"http: {type(e).__name__}: {e}")
            status, body = 500, {"ok": False, "error": "internal error"}
        return status, body, req.method == "HEAD" if req else got.startswith(b"HEAD ")

    @staticmethod
    async def _respond(writer: asyncio.StreamWriter, status: int, body: dict, head_only: bool = False,
                      retry_after: int | None = None) -> None:
        data = json.dumps(body).encode() + b"\n"
        extra = f"Retry-After: {retry_after}\r\n" if retry_after else ""
        writer.write(
            f"HTTP/1.1 {status} {REASONS.get(status, '')}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(data)}\r\nCache-Control: no-store\r\nConnection: close\r\n{extra}"
            "X-Content-Type-Options: nosniff\r\n\r\n".encode() + (b"" if head_only else data))
        with contextlib.suppress(ConnectionError, asyncio.TimeoutError):
            await asyncio.wait_for(writer.drain(), READ_TIMEOUT)
        writer.close()

    async def _read_head(self, reader: asyncio.StreamReader, buf: bytearray) -> bytes:
        """The request head, without its blank line, read into ``buf``. A bare
        LF is refused as soon as it arrives (a head of LF lines never ends)."""
        while True:
            end = buf.find(b"\r\n\r\n")
            if _BARE_LF.search(buf if end < 0 else buf[:end + 2]):
                raise BadRequest(400, "line ends must be CRLF")
            if end >= 0:
                head = bytes(buf[:end])
                break
            if len(buf) > MAX_HEADER_BYTES:
                raise BadRequest(431, "request head too large")
            data = await reader.read(65536)
            if not data:
                raise asyncio.IncompleteReadError(bytes(buf), None)
            buf += data
        if len(head) > MAX_HEADER_BYTES or head.find(b"\r\n") > MAX_REQUEST_LINE:
            raise BadRequest(431, "request head too large")
        return head

    def _local_hosts(self) -> set[str]:
        """Host header values (host:port) that name this listener."""
        return {f"{h}:{self.port}" for h in LOCAL_HOSTS} | (set(LOCAL_HOSTS) if self.port == 80 else set())

    def _refuse(self, req: Request) -> tuple[int, str] | None:
        """The security checks of the module docstring, in order. Everything
        past the static header checks spends from the rate limit, so token
        guesses are limited too."""
        if req.method != "GET":
            return 405, "only GET is supported"
        host = req.headers.get("host", "").lower()  # host names are case-insensitive
        if host not in self._local_hosts():
            return 403, "Host header must be localhost with this port"
        origin = req.headers.get("origin")
        if origin is not None and origin not in {f"http://{h}:{self.port}" for h in LOCAL_HOSTS}:
            return 403, "cross-site requests are refused"
        mode = req.headers.get("sec-fetch-mode")
        if mode is not None and mode != "navigate":
            return 403, "browser sub-resource requests are refused"
        if req.headers.get("sec-fetch-dest") not in (None, "document"):
            return 403, "browser sub-resource requests are refused"
        purposes = " ".join(req.headers.get(h, "") for h in PURPOSE_HEADERS).lower()
        if "prefetch" in purposes or "prerender" in purposes:
            return 403, "speculative (prefetch/prerender) requests are refused"
        if not self.limit.allow():
            return 429, "too many requests"
        token_ok = False
        if self.token:
            given = req.query.get("token", [""])[0]
            auth = req.headers.get("authorization", "")
            if auth.lower().startswith("bearer "):
                given = auth[7:].strip()
            if not hmac.compare_digest(given.encode(), self.token.encode()):
                return 401, "missing or wrong token"
            token_ok = True
        site = req.headers.get("sec-fetch-site")
        clicked = req.headers.get("sec-fetch-user") == "?1"
        # a browser without Sec-Fetch headers still names the page it came from: a page on another
        # site must not dial by navigating on its own (found by an outside probe)
        foreign = req.headers.get("referer", "").lower().split("/")[2:3] not in ([], *([h] for h in self._local_hosts()))
        if not token_ok and not clicked and (site not in (None, "none") or foreign):
            return 403, "a web page cannot navigate here by itself (click the link, or use a token)"
        return None
    async def handle(self, req: Request) -> tuple[int, dict]:
        refused = self._refuse(req)
        if refused:
            if refused[0] != 429 and req.path != "/favicon.ico" and self.log_limit.allow():
                path = mask(unquote(req.path), self.phone.secrets)  # masked before it is cut
                path = "".join(c if c.isprintable() else "?" for c in path[:80])
                self.phone.log("warning", f"http: {refused[0]} {refused[1]} ({req.method} {path})")
            return refused[0], {"ok": False, "error": refused[1]}
        segments = req.path.strip("/").split("/")
        action = self.routes.get(segments[0]) if segments[0] else None
        if action == "make" and len(segments) == 2:
            return await self._make(unquote(segments[1]))
        if action in ("answer", "end") and len(segments) == 1:
            return await self._answer() if action == "answer" else await self._end()
        return 404, {"ok": False, "error": "unknown path"}

    async def _make(self, number: str) -> tuple[int, dict]:
        from .. import numbers

        try:
            digits = numbers.dialable(number)
            if not digits.lstrip("+"):
                raise ValueError("number is empty")
        except ValueError as e:
            return 400, {"ok": False, "error": str(e)}
        target = numbers.normalize(digits, self.phone.config.numbers["default_region"])
        return self._reply(await self.phone.execute(StartCall(target), Source.HTTP))

    async def _answer(self) -> tuple[int, dict]:
        return self._reply(await self.phone.execute(ConnectCall(), Source.HTTP))

    async def _end(self) -> tuple[int, dict]:
        return self._reply(await self.phone.execute(DisconnectCall(), Source.HTTP))

    @staticmethod
    def _reply(result: Result) -> tuple[int, dict]:
        if not result.ok:
            status = HTTP_STATUS.get(result.kind or "failed", 502)
            return status, {"ok": False, "error": result.error}
        body: dict = {"ok": True}
        if result.id is not None:
            body["id"] = result.id
        if result.pending:
            body["pending"] = result.pending
            return 202, body
        return 200, body
