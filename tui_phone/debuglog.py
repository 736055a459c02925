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

from .locations import state_dir

SIP_LOG = "sip.log"
APP_LOG = "tui-phone.log"
NATIVE_LOG = "native.log"  # what C libraries (ALSA, PortAudio) print to stderr while the TUI runs
MASK = "********"


def debug_dir() -> Path:
    d = state_dir()
    d.mkdir(parents=True, exist_ok=True)
    return d


def _private(path: Path, mode: str):
    """Open ``path`` readable by its owner only (calls and numbers are personal;
    a file an older version left readable is made private too)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.fchmod(fd, 0o600)
    return open(fd, mode, encoding="utf-8", buffering=1)


def sip_log_path() -> str:
    """Where pjsua2 writes its log with ``--debug`` (created private first:
    pjsua2 keeps an existing file's mode)."""
    path = debug_dir() / SIP_LOG
    _private(path, "a").close()
    return str(path)


def secrets_of(config) -> list[str]:
    """What must never appear in a log file: account passwords, the HTTP token."""
    found = [a.password for a in config.accounts] + [config.http.get("token", "")]
    return sorted({s for s in found if len(s) >= 3}, key=len, reverse=True)


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
        self._file = _private(self.path, "a")  # line-buffered, lives as long as the app
        self.write("info", "tui-phone started with --debug; pjsua2 logs to " + str(self.path.with_name(SIP_LOG)))

    def write(self, level: str, text: str) -> None:
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        text = text.replace("\n", " ⏎ ")
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
        target = os.open(debug_dir() / NATIVE_LOG if debug else os.devnull,
                         os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
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
