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
import time
from dataclasses import dataclass
from urllib.parse import parse_qs, quote, unquote

from ..commands import HTTP_STATUS, ConnectCall, DisconnectCall, Result, Source, StartCall
from ..phone import Phone

MAX_REQUEST_LINE = 4096
MAX_HEADERS = 64
MAX_HEADER_BYTES = 16384
READ_TIMEOUT = 5.0
LOCAL_HOSTS = ("localhost", "127.0.0.1", "[::1]")
PURPOSE_HEADERS = ("sec-purpose", "purpose", "x-purpose", "x-moz")  # speculative requests say so here
REASONS = {200: "OK", 202: "Accepted", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden",
           404: "Not Found", 405: "Method Not Allowed", 409: "Conflict", 429: "Too Many Requests",
           431: "Request Header Fields Too Large", 500: "Internal Server Error"}


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
    """Parse a request head (request line + headers, without the blank line)."""
    try:
        text = head.decode("ascii")
    except UnicodeDecodeError:
        raise BadRequest(400, "request head is not ASCII") from None
    lines = text.split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1.") or not parts[1].startswith("/"):
        raise BadRequest(400, "malformed request line")
    method, target, _ = parts
    if len(lines) - 1 > MAX_HEADERS:
        raise BadRequest(431, "too many headers")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip() or any(c in name for c in " \t"):
            raise BadRequest(400, "malformed header line")
        key = name.lower()
        if key in headers:
            raise BadRequest(400, f"repeated header {name}")
        if any(ord(c) < 32 and c != "\t" for c in value):
            raise BadRequest(400, f"control character in header {name}")
        headers[key] = value.strip()
    return Request(method, target, headers)


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
        try:
            head = await asyncio.wait_for(self._read_head(reader), READ_TIMEOUT)
            try:
                req = parse_head(head)
                status, body = await self.handle(req)
            except BadRequest as e:
                req, status, body = None, e.status, {"ok": False, "error": str(e)}
        except (asyncio.TimeoutError, asyncio.IncompleteReadError, ConnectionError):
            writer.close()
            return
        except BadRequest as e:
            req, status, body = None, e.status, {"ok": False, "error": str(e)}
        except Exception as e:  # noqa: BLE001 - a bug answers 500, never kills the listener
            self.phone.log("error", f"http: {e!r}")
            req, status, body = None, 500, {"ok": False, "error": "internal error"}
        data = json.dumps(body).encode() + b"\n"
        head_only = False
        writer.write(
            f"HTTP/1.1 {status} {REASONS.get(status, '')}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(data)}\r\nCache-Control: no-store\r\nConnection: close\r\n"
            "X-Content-Type-Options: nosniff\r\n\r\n".encode() + (b"" if head_only else data))
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        writer.close()

    async def _read_head(self, reader: asyncio.StreamReader) -> bytes:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.LimitOverrunError:
            raise BadRequest(431, "request head too large") from None
        if len(head) > MAX_HEADER_BYTES or head.find(b"\r\n") > MAX_REQUEST_LINE:
            raise BadRequest(431, "request head too large")
        return head[:-4]

    def _refuse(self, req: Request) -> tuple[int, str] | None:
        """The security checks of the module docstring, in order. Everything
        past the static header checks spends from the rate limit, so token
        guesses are limited too."""
        if req.method != "GET":
            return 405, "only GET is supported"
        host = req.headers.get("host", "")
        if host not in {f"{h}:{self.port}" for h in LOCAL_HOSTS} | (
                set(LOCAL_HOSTS) if self.port == 80 else set()):
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
        if not token_ok and site not in (None, "none") and req.headers.get("sec-fetch-user") != "?1":
            return 403, "a web page cannot navigate here by itself (click the link, or use a token)"
        return None
    async def handle(self, req: Request) -> tuple[int, dict]:
        refused = self._refuse(req)
        if refused:
            if refused[0] != 429 and req.path != "/favicon.ico" and self.log_limit.allow():
                self.phone.log("warning", f"http: {refused[0]} {refused[1]} ({req.method} {req.path[:80]})")
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
        call = self.phone.state.alerting()
        if call is None:
            return 409, {"ok": False, "error": "no incoming call to answer"}
        return self._reply(await self.phone.execute(ConnectCall(call.id), Source.HTTP))

    async def _end(self) -> tuple[int, dict]:
        call = self.phone.state.current()
        if call is None:
            return 409, {"ok": False, "error": "no call to end"}
        return self._reply(await self.phone.execute(DisconnectCall(call.id), Source.HTTP))

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
