"""``tui-phone --headless``: the phone and its control socket, no UI.

Logs one line per state change to stderr; stops cleanly on SIGINT/SIGTERM
(live calls get a BYE, accounts unregister).
"""

from __future__ import annotations

import asyncio
import signal
import sys
import time

from .config import Config
from .control.server import AlreadyRunning
from .locations import state_dir
from .phone import Phone
from .services import Services
from .sip.engine import CallAdded, CallEnded, CallProgress, Event, Log, RegState
from .store import State


def describe(event: Event) -> str | None:
    """One human line for an event (shared by the log pane and stderr)."""
    match event:
        case RegState(account=a, registered=True, reason="direct"):
            return f"account {a}: ready for direct calls"
        case RegState(account=a, registered=True):
            return f"account {a}: registered"
        case RegState(account=a, code=code, reason=reason):
            return f"account {a}: unregistered ({code} {reason})".replace(" ()", "")
        case CallAdded(id=i, dir="i", sip=sip, dn=dn):
            return f"call {i}: incoming from {dn + ' ' if dn else ''}<{sip}>"
        case CallAdded(id=i, sip=sip):
            return f"call {i}: calling <{sip}>"
        case CallProgress(id=i, state=s, code=code, reason=reason):
            return f"call {i}: {s.value}" + (f" ({code} {reason})" if code >= 300 else "")
        case CallEnded(id=i, code=code, reason=reason):
            return f"call {i}: Disconnected ({code} {reason})" if code else f"call {i}: Disconnected"
        case Log(level=level, text=text):
            return f"{level}: {text}"
    return None


def debug_log_path() -> str:
    d = state_dir()
    d.mkdir(parents=True, exist_ok=True)
    return str(d / "sip.log")


async def serve(config: Config, debug: bool = False) -> int:
    phone = Phone(config, log_path=debug_log_path() if debug else None)
    services = Services(phone)
    try:
        await services.start()
    except (AlreadyRunning, OSError) as e:
        print(f"tui-phone: {e}", file=sys.stderr)
        return 1

    def log(state: State, event: Event) -> None:
        line = describe(event)
        if line:
            print(time.strftime("%H:%M:%S ") + line, file=sys.stderr, flush=True)

    phone.subscribe(log)
    try:
        await phone.start()
    except RuntimeError as e:
        print(f"tui-phone: {e}", file=sys.stderr)
        await services.close()
        return 1
    http = f", http 127.0.0.1:{services.http.port}" if services.http else ""
    print(f"tui-phone: headless, SIP on {phone.engine.local_address}, control {services.control.path}{http}",
          file=sys.stderr, flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await services.stop_inputs()
    await phone.stop()
    await services.close()
    return 0


def run(config: Config, debug: bool = False) -> int:
    return asyncio.run(serve(config, debug))
