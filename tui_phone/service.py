"""The phone as a service: a systemd user unit for ``tui-phone --headless``,
and ``doctor``, which says what the phone can reach from here (the control
socket, the sound server: local or forwarded over SSH, desktop notifications).

Stdlib only; nothing here imports Textual or pjsua2.
"""

from __future__ import annotations

import os
import shutil
import socket
import struct
import subprocess
import sys
from pathlib import Path

from .files import private_dir, write_private

UNIT = "tui-phone.service"
ENABLE = "systemctl --user enable --now tui-phone"


def unit_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "systemd" / "user"


def unit_path() -> Path:
    return unit_dir() / UNIT


def executable() -> list[str]:
    """How to start this tui-phone: the ``tui-phone`` script next to this
    Python (a venv or pipx install), else ``python -m tui_phone``."""
    script = Path(sys.executable).parent / "tui-phone"
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [sys.executable, "-m", "tui_phone"]


def _quote(word: str) -> str:
    """One ExecStart word: ``%`` is a specifier to systemd, spaces need quotes."""
    word = word.replace("%", "%%")
    if any(c in word for c in " \t\"'\\;$"):
        return '"' + word.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return word


def unit_text(config: Path | None = None) -> str:
    argv = executable() + (["--config", str(config.resolve())] if config else []) + ["--headless"]
    return (
        "[Unit]\n"
        "Description=tui-phone SIP softphone (headless; tui-phone attach shows it)\n"
        "After=sound.target\n\n"
        "[Service]\n"
        "Type=simple\n"
        f"ExecStart={' '.join(_quote(w) for w in argv)}\n"
        "Restart=on-failure\n"
        "RestartSec=5\n"
        # SIGTERM: the phone hangs up its calls and unregisters before it exits
        "TimeoutStopSec=20\n\n"
        "[Install]\n"
        "WantedBy=default.target\n"
    )


def install(config: Path | None = None) -> tuple[Path, bool]:
    """Write the unit (0600, directories 0700 when created); (path, replaced an old one)."""
    path = unit_path()
    private_dir(path.parent, own=False)  # only directories created here are made 0700
    existed = path.exists()
    write_private(path, unit_text(config))
    return path, existed


def uninstall() -> list[Path]:
    """Remove the unit and the links ``systemctl enable`` made; the paths removed."""
    path = unit_path()
    removed = []
    for wants in unit_dir().glob(f"*.wants/{UNIT}"):
        if wants.is_symlink():
            wants.unlink()
            removed.append(wants)
    if path.exists() or path.is_symlink():
        path.unlink()
        removed.append(path)
    return removed


# ----- doctor -------------------------------------------------------------------------

def pulse_address() -> tuple[str, str]:
    """(address, where it came from): ``PULSE_SERVER`` or the session's socket."""
    server = os.environ.get("PULSE_SERVER", "")
    if server:
        return server.split()[0], "PULSE_SERVER"
    runtime = os.environ.get("XDG_RUNTIME_DIR") or f"/run/user/{os.getuid()}"
    return f"unix:{runtime}/pulse/native", "the session default"


def socket_owner(path: str) -> tuple[int, str] | None:
    """(pid, program) of whoever listens on a Unix socket, via SO_PEERCRED; None if nobody."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(2)
    try:
        s.connect(path)
        pid = struct.unpack("3i", s.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")))[0]
    except OSError:
        return None
    finally:
        s.close()
    try:
        program = Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        program = "?"
    return pid, program


def sound_server() -> tuple[bool, str]:
    """(reachable, one line): which PulseAudio/PipeWire server, local or forwarded."""
    address, origin = pulse_address()
    if address.startswith("tcp:") or not address.startswith(("unix:", "/")):
        return True, f"sound server {address} ({origin}): remote over the network, not checked"
    path = address.removeprefix("unix:")
    owner = socket_owner(path)
    if owner is None:
        return False, f"sound server: nobody answers on {path} ({origin}); calls connect without sound"
    pid, program = owner
    if program.startswith("sshd") or program == "ssh":
        where = f"forwarded through SSH ({program} pid {pid} holds the socket)"
    else:
        where = f"local ({program} pid {pid})"
    name = _pactl_server_name(address)
    return True, f"sound server {path} ({origin}): {where}" + (f", {name}" if name else "")


def forwarded_over_ssh() -> bool:
    """The sound server socket is one an ``ssh -R`` holds (sshd listens on it)."""
    address, _ = pulse_address()
    owner = socket_owner(address.removeprefix("unix:")) if address.startswith(("unix:", "/")) else None
    return owner is not None and (owner[1].startswith("sshd") or owner[1] == "ssh")


def sound_through_ssh() -> str | None:
    """Make a PulseAudio forwarded over SSH work: no shared memory (memfd file
    descriptors do not cross a forwarded socket; the client fails with "Protocol
    error"). Sets PULSE_CLIENTCONFIG to a private client.conf saying so, unless the
    user set one. Returns a line for the log, or None when nothing was needed."""
    if os.environ.get("PULSE_CLIENTCONFIG") or not forwarded_over_ssh():
        return None
    from .locations import runtime_dir

    conf = private_dir(runtime_dir()) / "pulse-client.conf"
    write_private(conf, "# written by tui-phone: the sound server is forwarded over SSH\nenable-shm = no\n")
    os.environ["PULSE_CLIENTCONFIG"] = str(conf)
    return f"sound server forwarded over SSH: shared memory off ({conf})"


def _pactl_server_name(address: str) -> str:
    exe = shutil.which("pactl")
    if not exe:
        return ""
    try:
        out = subprocess.run([exe, "--server", address, "info"], capture_output=True, text=True, timeout=5).stdout
    except (OSError, subprocess.TimeoutExpired):
        return ""
    found = {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in out.splitlines())}
    name = found.get("Server Name", "")
    sink = found.get("Default Sink", "")
    return f"{name}" + (f", default sink {sink}" if sink else "")


def notifications() -> str:
    from .notify.desktop import session

    var = session()
    if var and shutil.which("notify-send"):
        return f"ringing while no TUI is open: desktop notifications (notify-send; {var} is set)"
    if var:
        return "ringing while no TUI is open: no notify-send (apt install libnotify-bin); [notify] URLs only"
    return "ringing while no TUI is open: no desktop session here; the [notify] URLs tell a CRM or a webhook"
