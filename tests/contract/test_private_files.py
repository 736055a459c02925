"""Every file the phone writes is private from creation, whatever the umask
(issue 12, items 4, 5, 7, 11): the real headless phone under umask 022, config
writes watched with strace, the control socket in a shared directory, and the
.desktop handler read back by GLib (`gio launch`)."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.phoneproc import ROOT, HeadlessPhone, direct


def require(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{tool} is required under CI=true")
        pytest.skip(f"{tool} not installed")
    return path


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def modes_under(top: Path) -> dict[str, int]:
    return {str(p.relative_to(top)): stat.S_IMODE(p.lstat().st_mode) for p in [top, *top.rglob("*")]}


def test_every_file_the_phone_writes_is_private_under_umask_022(tmp_path, umask_022):
    with HeadlessPhone(tmp_path, direct("alice"), args=("--debug",)) as phone:
        phone.api({"mt": "SetStatus", "status": "unavailable"})
        time.sleep(0.3)
        own = {name: phone.dir / sub / "tui-phone" for name, sub in
               (("data", "data"), ("state", "state"), ("runtime", "run"))}
        seen = {name: modes_under(top) for name, top in own.items()}
    files = {f"{n}/{rel}": m for n, ms in seen.items() for rel, m in ms.items()}
    assert "data/tui-phone.db" in files and "data/tui-phone.db-wal" in files, files
    assert {"state/sip.log", "state/tui-phone.log"} <= set(files), files
    loose = {}
    for name, mode in files.items():
        path = own[name.split("/")[0]] / name.split("/", 1)[1]
        want = 0o700 if path.is_dir() else 0o600
        if mode != want:
            loose[name] = oct(mode)
    assert not loose, f"not private: {loose}"


def test_an_older_0755_data_dir_and_0644_database_are_made_private(tmp_path, umask_022):
    from tui_phone.contacts.db import ContactsDB

    phone = HeadlessPhone(tmp_path, direct("alice"))
    data = phone.dir / "data" / "tui-phone"
    data.mkdir(parents=True)
    with ContactsDB(data / "tui-phone.db"):
        pass
    os.chmod(data, 0o755)  # what an older version left behind
    os.chmod(data / "tui-phone.db", 0o644)
    with phone:
        modes = modes_under(data)
    assert modes["."] == 0o700 and modes["tui-phone.db"] == 0o600, modes


SAVE = """
import sys
from pathlib import Path
from tui_phone.config import save_setting
from tui_phone.provisioning import add_account
path = Path(sys.argv[1])
save_setting(path, "ui", "theme", "nord")
add_account(path, {"name": "work", "uri": "sip:alice@pbx.example.com", "password": "s3cret!"})
"""


def test_config_writes_create_the_temp_file_0600_and_write_through_a_symlink(tmp_path, umask_022):
    """strace shows the mode the temp file is created with: 0600 from the
    first byte (it holds the password), never 0644 chmod-ed afterwards."""
    strace = require("strace")
    real = tmp_path / "dotfiles" / "tui-phone.toml"
    real.parent.mkdir()
    real.write_text('# mine\n[ui]\ntheme = "tui-phone"\n')
    os.chmod(real, 0o600)
    link = tmp_path / "config.toml"
    link.symlink_to(real)
    trace = tmp_path / "trace.txt"
    r = subprocess.run([strace, "-f", "-qq", "-e", "trace=openat,open,creat,chmod,fchmod", "-o", str(trace),
                        sys.executable, "-c", SAVE, str(link)], cwd=ROOT, capture_output=True, text=True,
                       timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert r.returncode == 0, r.stderr
    creates = [line for line in trace.read_text().splitlines() if ".tmp" in line and "O_CREAT" in line]
    assert len(creates) == 2, trace.read_text()[-3000:]
    for line in creates:
        assert re.search(r"O_CREAT.*\) = \d+$", line) and line.rstrip().split(", ")[-1].startswith("0600"), line
    assert link.is_symlink() and os.readlink(link) == str(real)
    text = real.read_text()
    assert text.startswith("# mine") and 'theme = "nord"' in text and "s3cret!" in text
    assert stat.S_IMODE(real.stat().st_mode) == 0o600
    assert not list(tmp_path.rglob("*.tmp"))


# ----- the control socket's directory (item 5) ------------------------------------------------

def socket_config(path: Path) -> str:
    return direct("alice") + f'\n[control]\nsocket = "{path}"\n'


def test_a_shared_sticky_directory_is_used_but_never_chmod_ed(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o1777)
    phone = HeadlessPhone(tmp_path, socket_config(shared / "ctl.sock"))
    phone.socket = shared / "ctl.sock"
    with phone:
        assert phone.api({"mt": "GetState"})["ok"]
        assert stat.S_IMODE(shared.stat().st_mode) == 0o1777
        assert stat.S_IMODE(phone.socket.stat().st_mode) == 0o600


@pytest.mark.parametrize("mode", [0o777, 0o775])
def test_a_directory_others_can_write_to_is_refused_with_the_reason(tmp_path, mode):
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, mode)
    phone = HeadlessPhone(tmp_path, socket_config(shared / "ctl.sock"))
    with pytest.raises(RuntimeError) as e:
        phone.start()
    assert f"control socket: {shared} is writable by other users" in str(e.value)
    assert "Traceback" not in str(e.value)
    assert stat.S_IMODE(shared.stat().st_mode) == mode and not (shared / "ctl.sock").exists()


def test_a_socket_directory_the_phone_creates_is_0700(tmp_path, umask_022):
    path = tmp_path / "new" / "deeper" / "ctl.sock"
    phone = HeadlessPhone(tmp_path, socket_config(path))
    phone.socket = path
    with phone:
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        assert stat.S_IMODE(path.parent.parent.stat().st_mode) == 0o700


# ----- the .desktop handler (item 11) --------------------------------------------------------

def test_desktop_exec_line_survives_percent_and_quotes_in_the_path(tmp_path):
    """GLib itself reads the entry back (`gio launch`): the program at a path
    with % $ " \\ and a space gets exactly the arguments given."""
    from tui_phone.handlers import desktop_entry

    gio = require("gio")
    odd = tmp_path / 'a%b $c"d\\e 100%'
    odd.mkdir()
    out = tmp_path / "argv.txt"
    prog = odd / "tui-phone"
    prog.write_text(f'#!/bin/sh\nprintf "%s\\n" "$0" "$@" > "{out}"\n')
    prog.chmod(0o700)
    desktop = tmp_path / "t.desktop"
    desktop.write_text(desktop_entry([str(prog), "-m", "x%y"]))
    r = subprocess.run([gio, "launch", str(desktop), "tel:+1%20555"], capture_output=True, text=True, timeout=20)
    assert r.returncode == 0 and not r.stderr, r.stderr
    for _ in range(100):
        if out.exists() and out.read_text().count("\n") >= 6:
            break
        time.sleep(0.05)
    assert out.read_text().splitlines() == [str(prog), "-m", "x%y", "open", "--spawn", "tel:+1%20555"]
