"""``--debug``: two files in the XDG state dir, ``sip.log`` (pjsua2's own log,
SIP messages included) and ``tui-phone.log`` (the app's lines: what the log
pane or ``--headless``'s stderr shows, with the level).

Passwords never reach a log line; should one ever, the account passwords and
the HTTP token the config holds are masked before the line is written."""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from .files import open_private, private_dir, touch_private
from .locations import state_dir
from .masking import mask, secrets_of

SIP_LOG = "sip.log"
APP_LOG = "tui-phone.log"
NATIVE_LOG = "native.log"  # what C libraries (ALSA, PortAudio) print to stderr while the TUI runs


def debug_dir() -> Path:
    return private_dir(state_dir())


def sip_log_path() -> str:
    """Where pjsua2 writes its log with ``--debug`` (created private first:
    pjsua2 keeps an existing file's mode)."""
    return str(touch_private(debug_dir() / SIP_LOG))


def start(config) -> tuple[str | None, "AppLog | None", str]:
    """For ``--debug``: pjsua2's log path, the app log, and "" — or, when the
    state dir cannot be written, (None, None, a one-line reason): the phone
    runs on without the files."""
    try:
        return sip_log_path(), AppLog(secrets=secrets_of(config)), ""
    except OSError as e:
        return None, None, f"--debug: cannot write logs to {state_dir()}: {e.strerror or e}"


class AppLog:
    """The app's log lines, appended to ``tui-phone.log`` one line each
    (line-buffered: what was written survives a crash)."""

    def __init__(self, path: str | Path | None = None, secrets: Iterable[str] = ()):
        self.path = Path(path) if path is not None else debug_dir() / APP_LOG
        self._secrets = [s for s in secrets if s]
        self._file = open_private(self.path, append=True)  # line-buffered, lives as long as the app
        self.write("info", "tui-phone started with --debug; pjsua2 logs to " + str(self.path.with_name(SIP_LOG)))

    def write(self, level: str, text: str) -> None:
        text = mask(text, self._secrets).replace("\n", " ⏎ ")
        if not self._file.closed:
            self._file.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {level:<7} {text}\n")

    def close(self) -> None:
        self._file.close()


@contextlib.contextmanager
def native_stderr_aside(debug: bool) -> Iterator[None]:
    """While the TUI runs, keep C libraries' messages off the screen.

    ALSA and PortAudio print errors ("ALSA lib pulse.c: ...", "Expression
    'AlsaStart' failed") straight to file descriptor 2, which is the terminal
    the TUI draws on (Textual writes to ``sys.__stderr__``). Textual gets its
    own duplicate of the terminal; descriptor 2 goes to ``native.log`` in the
    state dir with ``--debug``, else to /dev/null. Restored on exit. Nothing
    changes when stderr is not a terminal (redirected by the user)."""
    if not os.isatty(2):
        yield
        return
    term = os.dup(2)
    try:
        if debug:
            with open_private(debug_dir() / NATIVE_LOG, append=True, binary=True) as f:
                target = os.dup(f.fileno())
        else:
            target = os.open(os.devnull, os.O_WRONLY)
    except OSError:
        os.close(term)
        yield
        return
    saved = sys.__stderr__, sys.stderr
    sys.__stderr__ = sys.stderr = open(term, "w", encoding=saved[0].encoding or "utf-8",
                                       errors="backslashreplace", closefd=False)
    os.dup2(target, 2)
    os.close(target)
    try:
        yield
    finally:
        sys.__stderr__.flush()
        os.dup2(term, 2)
        os.close(term)
        sys.__stderr__, sys.stderr = saved
