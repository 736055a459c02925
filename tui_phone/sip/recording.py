"""Call recording: both directions mixed into one WAV on pjsua's conference
bridge (an ``AudioMediaRecorder`` that the call's audio and our microphone
both transmit to). Files are created 0600 before pjmedia opens them (it
truncates, keeping the mode), in a 0700 directory; names are
``YYYYmmdd-HHMMSS-<dir>-<number>.wav``.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pjsua2 as pj

from ..files import create_private, private_dir


def recordings_dir(configured: str) -> Path:
    """``[recording] dir``, else ``<XDG data>/tui-phone/recordings``."""
    if configured:
        return Path(os.path.expanduser(configured))
    from ..locations import data_dir

    return data_dir() / "recordings"


def file_name(when: float, direction: str, number: str) -> str:
    who = re.sub(r"[^0-9A-Za-z+*#._-]", "_", number)[:40] or "unknown"
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(when))
    return f"{stamp}-{'in' if direction == 'i' else 'out'}-{who}.wav"


def private_file(folder: Path, name: str) -> Path:
    """Create ``folder/name`` empty with mode 0600 (``-1``, ``-2`` … if it exists);
    every directory created on the way is 0700."""
    private_dir(folder, own=False)
    stem, n = name[:-4], 0
    while True:
        try:
            return create_private(folder / (name if n == 0 else f"{stem}-{n}.wav"))
        except FileExistsError:
            n += 1


class CallRecorders:
    """The recorders of live calls, by call id (owner thread only)."""

    def __init__(self):
        self._by_call: dict[int, tuple[pj.AudioMediaRecorder, str]] = {}

    def path(self, cid: int) -> str:
        entry = self._by_call.get(cid)
        return entry[1] if entry else ""

    def start(self, cid: int, path: Path) -> None:
        rec = pj.AudioMediaRecorder()
        rec.createRecorder(str(path))
        self._by_call[cid] = (rec, str(path))

    def connect(self, cid: int, call_media, mic_media) -> None:
        """(Re)connect a call's audio and the microphone to its recorder (media is
        re-created after hold/retrieve, so this runs on every media change)."""
        entry = self._by_call.get(cid)
        if entry is not None:
            call_media.startTransmit(entry[0])
            mic_media.startTransmit(entry[0])

    def stop(self, cid: int) -> str:
        """Close the file (the WAV header is written on destroy); returns its path."""
        entry = self._by_call.pop(cid, None)
        return entry[1] if entry else ""

    def close(self) -> None:
        self._by_call.clear()
