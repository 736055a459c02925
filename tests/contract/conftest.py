"""Fixtures that run real SIP peers on 127.0.0.1 (see tests/peers.py and /work/shared/PEERS.md).

Missing binaries skip the test locally and fail it when CI=true.
"""
import sys
from pathlib import Path

import pytest

_ROOT = str(Path(__file__).resolve().parents[2])  # repo root, so `tests.peers` imports under any rootdir/cwd
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from tests.peers import Baresip, Kamailio, Radicale, require, stop_all  # noqa: E402


@pytest.fixture
def kamailio(tmp_path):
    """A fresh, started Kamailio (registrar+proxy+presence) per test: its state leaks between clients."""
    require("kamailio")
    k = Kamailio(tmp_path / "kamailio")
    try:
        yield k.start()
    finally:
        k.stop()


@pytest.fixture
def radicale(tmp_path):
    """A started Radicale CardDAV server (users from tests.peers.USERS), stopped at teardown."""
    r = Radicale(tmp_path / "radicale")
    try:
        yield r.start()
    finally:
        r.stop()


@pytest.fixture
def baresip_factory(tmp_path):
    """make(account_line, **Baresip kwargs) -> started Baresip; all are quit at teardown."""
    require("baresip")
    made = []

    def make(account_line, **kwargs):
        b = Baresip(tmp_path / f"baresip{len(made)}", account_line, **kwargs)
        made.append(b)
        return b.start()

    try:
        yield make
    finally:
        for b in reversed(made):
            b.quit()


@pytest.fixture
def sipp_dir(tmp_path):
    """Working directory for sipp_uas()/sipp_uac(); any sipp still running in it is killed at teardown."""
    require("sipp")
    d = tmp_path / "sipp"
    d.mkdir()
    try:
        yield d
    finally:
        stop_all(under=d)


@pytest.fixture
def headless(tmp_path):
    """make(config_text, name="phone") -> a started `tui-phone --headless`; all stopped at teardown
    (SIGTERM, then SIGKILL if one hangs, so a failing test never leaves a phone behind)."""
    from tests.phoneproc import HeadlessPhone

    made = []

    def make(config: str, name: str = "phone"):
        p = HeadlessPhone(tmp_path, config, name)
        made.append(p)
        return p.start()

    try:
        yield make
    finally:
        for p in made:
            try:
                p.stop()
            except Exception:  # noqa: BLE001 - stop() already killed it
                pass
