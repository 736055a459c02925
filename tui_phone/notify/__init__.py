"""Outgoing call notifications (Enreach "URL call notifications").

``[notify] incoming / outgoing / active / end`` are URL templates; on each
event the phone requests the URL with ``$callerid``, ``$name``, ``$callid``
(the SIP Call-ID), ``$dir`` (``in``/``out``), ``$cat`` and ``$bind``
substituted, each URL-encoded. Requests run off the call path: one queue
per call keeps them in order, each attempt has a 3 s timeout, two retries
back off 0.5 s then 1 s, and every failed attempt is one log line.
"""

from __future__ import annotations

import asyncio
import contextlib
from string import Template
from urllib.parse import quote

from ..phone import Phone
from ..events import CallAdded, CallEnded, CallProgress, CallState, Event
from ..store import Call, State
from ..uri import who

TIMEOUT = 3.0
BACKOFF = (0.5, 1.0)  # waits before the two retries


def render(template: str, call: Call) -> str:
    """Substitute the call's values, URL-encoded; unknown $names stay as typed."""
    values = {
        "callerid": call.num or who(call.sip),
        "name": call.dn, "callid": call.guid or str(call.id), "dir": "in" if call.dir == "i" else "out",
        "cat": call.cat or "", "bind": call.bind or "",
    }
    return Template(template).safe_substitute({k: quote(v, safe="") for k, v in values.items()})


def which(event: Event, before: State) -> str | None:
    """The notification an event triggers, if any."""
    match event:
        case CallAdded(dir=d):
            return "incoming" if d == "i" else "outgoing"
        case CallProgress(id=cid, state=CallState.CONNECTED):
            old = before.call(cid)
            return "active" if old is not None and old.connected_at is None else None
        case CallEnded():
            return "end"
    return None


class Notifier:
    def __init__(self, phone: Phone):
        self.phone = phone
        self.templates = {k: v for k, v in phone.config.notify.items() if v}
        self._queues: dict[int, asyncio.Queue] = {}
        self._tasks: set[asyncio.Task] = set()
        self._client = None
        self._before: State = phone.state
        self._unsubscribe = None

    @property
    def enabled(self) -> bool:
        return bool(self.templates)

    def start(self) -> None:
        import httpx

        self._client = httpx.AsyncClient(timeout=TIMEOUT, follow_redirects=False)
        self._unsubscribe = self.phone.subscribe(self._on_change)

    async def close(self) -> None:
        if self._unsubscribe:
            self._unsubscribe()
        for t in list(self._tasks):
            t.cancel()
        with contextlib.suppress(Exception):
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._client:
            await self._client.aclose()

    def _on_change(self, state: State, event: Event) -> None:
        kind, before = which(event, self._before), self._before
        self._before = state
        if kind is None or kind not in self.templates:
            return
        call = state.call(event.id) or before.call(event.id)
        if call is None:
            return
        url = render(self.templates[kind], call)
        queue = self._queues.get(call.id)
        if queue is None:
            queue = self._queues[call.id] = asyncio.Queue()
            task = asyncio.get_running_loop().create_task(self._drain(call.id, queue))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        queue.put_nowait((kind, url))
        if kind == "end":
            queue.put_nowait(None)

    async def _drain(self, cid: int, queue: asyncio.Queue) -> None:
        """Send one call's notifications in order; stop after its end."""
        try:
            while (item := await queue.get()) is not None:
                await self._send(cid, *item)
        finally:
            self._queues.pop(cid, None)

    async def _send(self, cid: int, kind: str, url: str) -> bool:
        import httpx

        for attempt in range(len(BACKOFF) + 1):
            try:
                r = await self._client.get(url)
                if r.status_code < 500:
                    if r.status_code >= 400:
                        self.phone.log("warning", f"notify {kind} (call {cid}): {r.status_code} from {_site(url)}")
                    return r.status_code < 400
                problem = f"{r.status_code} {r.reason_phrase}"
            except httpx.HTTPError as e:
                problem = type(e).__name__
            except Exception as e:  # noqa: BLE001 - a bad URL must cost a log line, not the task
                problem = f"unusable URL ({type(e).__name__})"
            self.phone.log("warning", f"notify {kind} (call {cid}) attempt {attempt + 1}: "
                                      f"{problem} from {_site(url)}")
            if attempt < len(BACKOFF):
                await asyncio.sleep(BACKOFF[attempt])
        return False


def _site(url: str) -> str:
    """scheme://host[:port] only: query strings may carry caller IDs or tokens."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
