"""Desktop notifications (``notify-send``) for a ringing phone, TUI or headless.

Only where a desktop session can show them: a D-Bus session bus or a display.
Without one (a server, an SSH login) the ``[notify]`` URLs are the way to hear
about calls. No shell is involved; a missing ``notify-send`` is silent.
"""

from __future__ import annotations

import os
import shutil
import subprocess

SESSION_VARS = ("DBUS_SESSION_BUS_ADDRESS", "DISPLAY", "WAYLAND_DISPLAY")


def session() -> str | None:
    """The variable that shows a desktop session is reachable, or None."""
    return next((v for v in SESSION_VARS if os.environ.get(v)), None)


def desktop_notify(text: str, title: str = "tui-phone") -> bool:
    """Show ``text``; False when there is no session or no notify-send."""
    exe = shutil.which("notify-send")
    if not session() or not exe:
        return False
    subprocess.Popen([exe, "--app-name=tui-phone", title, text], stdin=subprocess.DEVNULL,
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return True
