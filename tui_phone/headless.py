"""``tui-phone --headless``: the phone and its control socket, no UI.

Logs one line per state change to stderr; stops cleanly on SIGINT/SIGTERM
(live calls get a BYE, accounts unregister).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time

from . import debuglog
from .config import Config
from .control.server import AlreadyRunning
from .masking import mask
from .notify.desktop import desktop_notify
from .phone import Phone
from .services import Services
from .events import (
    AudioState,
    CallAdded,
    CallEnded,
    CallProgress,
    ContactsChanged,
    Event,
    Log,
    RegState,
    RemoteReason,
    Voicemail,
)
from .store import State, registration_text


def describe(event: Event) -> str | None:
    """One human line for an event (shared by the log pane and stderr)."""
    match event:
        case RegState(account=a, registered=True, reason="direct"):
            return f"account {a}: ready for direct calls"
        case RegState(account=a, registered=True):
            return f"account {a}: registered"
        case RegState(account=a, code=code, reason=reason):
            return f"account {a}: {registration_text(True, False, code, reason)}"
        case CallAdded(id=i, dir="i", sip=sip, dn=dn):
            return f"call {i}: incoming from {dn + ' ' if dn else ''}<{sip}>"
        case CallAdded(id=i, sip=sip):
            return f"call {i}: calling <{sip}>"
        case CallProgress(id=i, state=s, code=code, reason=reason):
            return f"call {i}: {s.value}" + (f" ({code} {reason})" if code >= 300 else "")
        case CallEnded(id=i, code=code, reason=reason):
            return f"call {i}: Disconnected ({code} {reason})" if code else f"call {i}: Disconnected"
        case RemoteReason(id=i, text=text):
            return f"call {i}: the far end says {text}"
        case Voicemail(account=a, waiting=w, new=new, old=old):
            return f"account {a}: voicemail {new} new, {old} old" if w else f"account {a}: no voicemail waiting"
        case AudioState(note=note) if note:
            return note
        case Log(level=level, text=text):
            return f"{level}: {text}"
    return None


def level_of(event: Event) -> str:
    """The log level of ``describe(event)``'s line."""
    if isinstance(event, Log):
        return event.level
    return "warning" if isinstance(event, AudioState) else "info"


def own_stderr():
    """Our own handle on stderr: PortAudio's start (sounddevice, on the engine
    thread) points fd 2 at /dev/null for a moment to hide ALSA's noise, and a
    line written there meanwhile would be lost. A duplicate of fd 2: no file is made."""
    try:
        return open(os.dup(sys.stderr.fileno()), "w", buffering=1, encoding=sys.stderr.encoding or "utf-8",
                    errors="backslashreplace")
    except (AttributeError, OSError, ValueError):  # not a file (a test's capture): write to it as it is
        return sys.stderr


async def serve(config: Config, debug: bool = False) -> int:
    sip_log, app_log, debug_problem = debuglog.start(config) if debug else (None, None, "")
    if debug_problem:
        print(f"tui-phone: {debug_problem}", file=sys.stderr, flush=True)
    phone = Phone(config, log_path=sip_log)
    err = own_stderr()

    def say(level: str, line: str, stamp: bool = True, text: str | None = None) -> None:
        """A line on stderr; with --debug also in the app log (as ``text`` when given)."""
        line = mask(line, phone.secrets)
        print((time.strftime("%H:%M:%S ") if stamp else "") + line, file=err, flush=True)
        if app_log is not None:
            app_log.write(level, text if text is not None else line.removeprefix("tui-phone: "))

    def log(state: State, event: Event) -> None:
        line = describe(event)
        if line:
            say(level_of(event), line, text=event.text if isinstance(event, Log) else None)
        if isinstance(event, CallAdded) and event.dir == "i":  # no bell here: a desktop notification
            desktop_notify(f"Incoming call from {event.dn or event.num or event.sip}", "Ringing")

    services = Services(phone)
    try:
        try:
            await services.start()
        except (AlreadyRunning, OSError) as e:
            say("error", f"tui-phone: {e}", stamp=False)
            return 1
        phone.subscribe(log)
        try:
            await phone.start()
        except RuntimeError as e:
            say("error", f"tui-phone: {e}", stamp=False)
            await services.close()
            return 1
        http = f", http 127.0.0.1:{services.http.port}" if services.http else ""
        say("info", f"tui-phone: headless, SIP on {phone.engine.local_address}, control {services.control.path}{http}",
            stamp=False)
        books = asyncio.create_task(_keep_books_in_sync(phone, say)) if config.addressbooks else None
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        if books is not None:
            books.cancel()
        await services.stop_inputs()
        await phone.stop()
        await services.close()
        return 0
    finally:
        if app_log is not None:
            app_log.close()
        if err is not sys.stderr:
            err.close()


async def _keep_books_in_sync(phone: Phone, say) -> None:
    """The [[addressbooks]] sync of a headless phone (a service): attached views
    hear of changes through ContactsChanged."""
    from .contacts.sync import keep_in_sync

    def synced(summary, asked: bool) -> None:
        if summary.changed or summary.pushed:
            say("info", summary.line())
        if summary.changed:
            phone.post(ContactsChanged())

    try:
        db = await asyncio.to_thread(lambda: phone.contacts)
    except Exception as e:  # noqa: BLE001 - a broken database: calls still work
        say("warning", f"contacts: {e}")
        return
    await keep_in_sync(db.path, db.region, phone.config.addressbooks, say, synced, asyncio.Event())


def run(config: Config, debug: bool = False) -> int:
    return asyncio.run(serve(config, debug))
