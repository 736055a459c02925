"""Call recording against baresip: R/Record writes a private WAV named after
the call whose spectrum shows the tone baresip plays; auto-recording links
the file from the history row."""

import os
import re
import stat
import time
import wave

import numpy as np
import pytest

from tests.contract.test_call_history import history
from tests.peers import baresip_account
from tests.phoneproc import direct
from tests.sound import tone


@pytest.fixture
def bob(baresip_factory):
    return baresip_factory(baresip_account("bob"))  # auto-answer, plays a 440 Hz tone


def samples(path, timeout=5.0):
    """The WAV's samples and rate, once pjmedia has closed it (the conference bridge removes
    a recorder's port asynchronously; the RIFF header is final only then)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with wave.open(str(path)) as w:
                assert (w.getnchannels(), w.getsampwidth()) == (1, 2)
                return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2"), w.getframerate()
        except (wave.Error, EOFError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_record_toggle_writes_the_far_tone(headless, bob, tmp_path):
    rec_dir = tmp_path / "rec"
    phone = headless(direct("alice") + f'\n[audio]\nnull = true\n\n[recording]\ndir = "{rec_dir}"\n')
    r = phone.api({"mt": "StartCall", "sip": bob.uri})
    phone.wait_call_state("Connected", 10, r["id"])
    on = phone.api({"mt": "Record", "id": r["id"]})
    assert on["ok"], on
    c = phone.wait_for(lambda m: m["calls"] and m["calls"][0].get("recording"), 5, "recording")["calls"][0]
    path = rec_dir / os.path.basename(c["recording_file"])
    assert re.fullmatch(r"\d{8}-\d{6}-out-bob\.wav", path.name), path.name
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(rec_dir.stat().st_mode) == 0o700
    time.sleep(2.5)
    assert phone.api({"mt": "Record", "id": r["id"], "on": False})["ok"]
    phone.wait_for(lambda m: m["calls"] and not m["calls"][0].get("recording"), 5, "recording stopped")
    x, rate = samples(path)
    assert len(x) > rate * 1.5, len(x)
    hz, share, rms = tone(x[rate // 2:], rate)  # skip the first half second (jitter buffer filling)
    assert abs(hz - 440) < 20 and share > 0.8 and rms > 0.02, (hz, share, rms)
    phone.api({"mt": "DisconnectCall", "id": r["id"]})


def test_auto_recording_is_linked_from_history(headless, bob, tmp_path):
    rec_dir = tmp_path / "rec"
    phone = headless(direct("alice") + f'\n[audio]\nnull = true\n\n[recording]\nauto = true\ndir = "{rec_dir}"\n')
    r = phone.api({"mt": "StartCall", "sip": bob.uri})
    c = phone.wait_for(lambda m: m["calls"] and m["calls"][0].get("recording"), 10, "auto recording")["calls"][0]
    time.sleep(1.5)
    phone.api({"mt": "DisconnectCall", "id": r["id"]})
    phone.wait_for(lambda m: not m["calls"], 5, "call ended")
    rows = history(phone)
    assert rows and rows[0].recording == c["recording_file"]
    x, rate = samples(rows[0].recording)
    assert len(x) > rate, len(x)


def test_record_without_a_call_is_a_clear_error(headless):
    phone = headless(direct("alice") + "\n[audio]\nnull = true\n")
    r = phone.api({"mt": "Record"})
    assert (r["ok"], r["kind"], r["error"]) == (False, "not_found", "no connected call")  # store.resolve, as for Hold
