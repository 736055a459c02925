"""Regenerate docs/screenshot.svg (the README's picture):

    .venv/bin/python docs/make_screenshot.py [WIDTH HEIGHT]

Runs the real app (its pjsua2 engine on 127.0.0.1, private XDG dirs in a
temporary directory, no sound card), adds a contact, then feeds the store a
ringing call from that contact's number and an earlier call that failed
with 486, the way tests/ui/test_snapshots.py does, and saves the screen with
Textual's ``App.save_screenshot``.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


async def main(size: tuple[int, int]) -> Path:
    tmp = Path(tempfile.mkdtemp(prefix="tui-phone-shot-"))
    for var, sub in (("XDG_RUNTIME_DIR", "run"), ("XDG_CONFIG_HOME", "cfg"), ("XDG_DATA_HOME", "data"),
                     ("XDG_STATE_HOME", "state")):
        os.environ[var] = str(tmp / sub)
    os.makedirs(tmp / "run", mode=0o700)
    sys.path.insert(0, str(ROOT))

    from tui_phone.app import make_app
    from tui_phone.config import parse
    from tui_phone.contacts.model import Contact, Number
    from tui_phone.sip.engine import CallAdded, CallEnded, CallProgress, CallRemoved, CallState

    config = parse('[[accounts]]\nname = "work"\nuri = "sip:alice@127.0.0.1"\nbind = "127.0.0.1"\n'
                   '[audio]\nnull = true\n')
    app = make_app(config)
    async with app.run_test(size=size, notifications=True) as pilot:
        while not (app.ready.is_set() and app.state.audio.note):  # engine up, "audio off" said
            await pilot.pause(0.05)
        await pilot.pause(0.3)
        app.clear_notifications()  # "audio off": this picture has no sound card
        app.phone.contacts.add(Contact(first="Charlie", last="Root", company="Example Corp",
                                       numbers=(Number("work", "+1 212 555 0100"),)))
        now = time.time()
        post = app.phone.post
        post(CallAdded(2, "o", "sip:300@127.0.0.1", "300", "", "work", at=now - 60))
        post(CallProgress(2, CallState.RINGBACK, 180, "Ringing", at=now - 59))
        post(CallEnded(2, 486, "Busy Here", at=now - 55))
        post(CallRemoved(2))
        # no display name: the app finds it in the contacts by number
        post(CallAdded(3, "i", "sip:+12125550100@127.0.0.1", "+12125550100", "", "work", at=now))
        await pilot.pause(0.5)
        await pilot.press("up")  # the ringing call, as a person would select it
        for field in app.query("Input"):
            field.cursor_blink = False
        await pilot.wait_for_scheduled_animations()
        await pilot.pause(0.2)
        out = app.save_screenshot("screenshot.svg", str(ROOT / "docs"))
        await pilot.press("escape", "q")
    return Path(out)


if __name__ == "__main__":
    w, h = (int(a) for a in sys.argv[1:3]) if len(sys.argv) >= 3 else (110, 30)
    print(asyncio.run(main((w, h))))
