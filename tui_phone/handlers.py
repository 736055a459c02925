"""The desktop link handler: an XDG .desktop entry for every scheme we
parse, and starting the phone in a terminal when a link arrives and no
instance runs. Stdlib only; nothing here goes through a shell."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from .files import private_dir, write_private

SCHEMES = ("tel", "callto", "sip", "sips", "phone.systems", "zoomphonecall", "zoomphonesms")
DESKTOP_ID = "tui-phone.desktop"


def _data_home() -> Path:
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")


def _executable() -> list[str]:
    """The tui-phone command: the installed script if on PATH."""
    script = shutil.which("tui-phone")
    return [script] if script else [sys.executable, "-m", "tui_phone"]


def _exec_arg(arg: str) -> str:
    """Quote one Exec argument per the Desktop Entry spec: ``%`` doubled (else
    it is a field code), reserved characters inside double quotes with
    ``" ` $ \\`` backslash-escaped, then every backslash doubled again (the
    escape rule of string values applies before the quoting rule)."""
    arg = arg.replace("%", "%%")
    if any(c in arg for c in ' \t\n"\'\\><~|&;$*?#()`'):
        arg = '"' + "".join("\\" + c if c in '"`$\\' else c for c in arg) + '"'
    return arg.replace("\\", "\\\\")


def desktop_entry(exe: list[str]) -> str:
    if "%" in exe[0]:  # GLib looks the program up before it expands %%: let env find it
        exe = [shutil.which("env") or "/usr/bin/env", *exe]
    exe = " ".join(_exec_arg(a) for a in exe)
    mimes = ";".join(f"x-scheme-handler/{s}" for s in SCHEMES)
    return ("[Desktop Entry]\nType=Application\nName=tui-phone\n"
            "Comment=Call tel:, sip: and callto: links with the terminal softphone\n"
            f"Exec={exe} open --spawn %u\nTerminal=false\nNoDisplay=true\n"
            f"MimeType={mimes};\nCategories=Network;Telephony;\n")


def register() -> tuple[Path, list[str]]:
    """Write the .desktop file and make it the default for each scheme.
    Returns (path, problems)."""
    apps = private_dir(_data_home() / "applications", own=False)
    path = apps / DESKTOP_ID
    write_private(path, desktop_entry(_executable()))
    problems = []
    xdg_mime = shutil.which("xdg-mime")
    if xdg_mime is None:
        problems.append("xdg-mime not found (apt install xdg-utils): the .desktop file is written, "
                        "but not made the default")
    else:
        for scheme in SCHEMES:
            r = subprocess.run([xdg_mime, "default", DESKTOP_ID, f"x-scheme-handler/{scheme}"],
                               capture_output=True, text=True)
            if r.returncode != 0:
                problems.append(f"xdg-mime default for {scheme} failed: {r.stderr.strip()}")
    if shutil.which("update-desktop-database"):
        subprocess.run(["update-desktop-database", str(apps)], capture_output=True)
    return path, problems


def terminal_command() -> list[str] | None:
    """$TERMINAL, else x-terminal-emulator; None when neither exists."""
    for candidate in (os.environ.get("TERMINAL"), "x-terminal-emulator"):
        if candidate and (path := shutil.which(candidate)):
            return [path]
    return None


SPAWN_WAIT = 1.5  # seconds a terminal that cannot start takes to fail (no display, bad option)


def spawn_terminal(url: str, config: str | None) -> int:
    """Start the phone in a new terminal with ``url`` pending (exit 0); exit 3
    with a message when there is no terminal to start, 1 with its reason when
    the terminal dies at once (no display): it is waited for, never left defunct."""
    import tempfile

    term = terminal_command()
    if term is None:
        print("tui-phone: no running tui-phone and no terminal to start one in "
              "(set $TERMINAL or install x-terminal-emulator)", file=sys.stderr)
        return 3
    argv = [*term, "-e", *_executable()]
    if config:
        argv += ["--config", config]
    argv += ["--open", url]
    with tempfile.TemporaryFile() as err:  # a file, not a pipe: a long-lived terminal never blocks on it
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                                    start_new_session=True)
        except OSError as e:
            print(f"tui-phone: cannot start the terminal {term[0]}: {e.strerror}", file=sys.stderr)
            return 1
        try:
            code = proc.wait(SPAWN_WAIT)
        except subprocess.TimeoutExpired:
            return 0  # the terminal runs (the phone in it opens the link)
        if code == 0:
            return 0  # terminals with a server process hand over and exit 0
        err.seek(0)
        lines = [line.strip() for line in err.read().decode(errors="replace").splitlines() if line.strip()]
    why = lines[-1] if lines else f"exit status {code}"
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        why += " (no display: $DISPLAY and $WAYLAND_DISPLAY are unset)"
    print(f"tui-phone: the terminal {term[0]} did not start: {why}", file=sys.stderr)
    return 1
