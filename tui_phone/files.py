"""Private by default: every file and directory the phone writes.

Calls, numbers, contacts and passwords are personal, so files are created
0600 and directories 0700 at creation (``os.open``/``os.mkdir`` with the mode,
then ``fchmod``/``chmod`` so a loose umask cannot widen it), never made
private afterwards. A directory is only ever chmod-ed when the phone created
it, or when it is the phone's own ``tui-phone`` directory (an older version
created those 0755); a shared directory the user names is never changed.
Stdlib only.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

FILE_MODE = 0o600
DIR_MODE = 0o700


class UnsafeDirectory(OSError):
    """An existing directory other users can write to or that belongs to
    someone else; ``str()`` is one line for a person."""


def private_dir(path: Path, own: bool = True) -> Path:
    """Create ``path`` (and missing parents) 0700. An existing ``path`` that
    is the phone's ``own`` directory and belongs to this user is made 0700;
    directories the phone did not create are never changed."""
    path = Path(path)
    missing = []
    p = path
    while not p.exists() and p != p.parent:
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        try:
            os.mkdir(d, DIR_MODE)
        except FileExistsError:
            continue  # created meanwhile by someone else: not ours to chmod
        os.chmod(d, DIR_MODE)  # the umask may have taken bits away from the owner
    if not missing and own:
        st = path.stat()
        if st.st_uid == os.getuid() and stat.S_IMODE(st.st_mode) != DIR_MODE:
            os.chmod(path, DIR_MODE)
    return path


def check_shared_parent(path: Path) -> None:
    """Raise :class:`UnsafeDirectory` when the existing directory ``path``
    lets another user replace what the phone puts there: owned by someone
    else than this user or root, or writable by group/others without the
    sticky bit (a sticky directory like /tmp is fine)."""
    st = path.stat()
    if st.st_uid not in (os.getuid(), 0):
        raise UnsafeDirectory(f"{path} belongs to another user; refusing to use it")
    if st.st_mode & 0o022 and not st.st_mode & stat.S_ISVTX:
        raise UnsafeDirectory(f"{path} is writable by other users and not sticky; choose a private directory")


def open_private(path: Path, append: bool = False, binary: bool = False):
    """Open ``path`` for writing, created 0600; an existing regular file of
    this user is made 0600 too (one an older version left readable)."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if append else os.O_TRUNC)
    fd = os.open(path, flags, FILE_MODE)
    try:
        st = os.fstat(fd)
        if stat.S_ISREG(st.st_mode) and st.st_uid == os.getuid():
            os.fchmod(fd, FILE_MODE)
    except OSError:
        os.close(fd)
        raise
    if binary:
        return open(fd, "ab" if append else "wb")
    return open(fd, "a" if append else "w", encoding="utf-8", buffering=1)


def create_private(path: Path) -> Path:
    """Create ``path`` empty and 0600; FileExistsError when it is there already."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)
    return Path(path)


def touch_private(path: Path) -> Path:
    """Make sure ``path`` exists and is 0600 (before a library such as SQLite
    or pjsua opens it: they keep an existing file's mode).

    An existing file is only chmod-ed, never opened: closing any descriptor
    of a file drops every POSIX lock this process holds on it, so opening and
    closing a database another connection of ours has open made SQLite think
    it was alone, and a second process then deleted the live -wal and -shm
    (contacts saved through the running phone were lost)."""
    path = Path(path)
    try:
        return create_private(path)
    except FileExistsError:
        st = os.stat(path)
        if stat.S_ISREG(st.st_mode) and st.st_uid == os.getuid() and stat.S_IMODE(st.st_mode) != FILE_MODE:
            os.chmod(path, FILE_MODE)
        return path


def write_private(path: Path, text: str) -> None:
    """Replace ``path``'s content atomically: a temp file created 0600 next to
    the real file, then renamed over it. A symlink is written through to its
    target (the link stays a link)."""
    target = Path(os.path.realpath(path))
    private_dir(target.parent, own=False)
    tmp = target.with_name(target.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
        with open(fd, "w", encoding="utf-8", closefd=False) as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        os.close(fd)
        tmp.unlink(missing_ok=True)
        raise
    os.close(fd)
    os.replace(tmp, target)
