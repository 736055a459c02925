import os
import sys
from pathlib import Path

import pytest

_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from tests.contract.conftest import kamailio, sipp_dir  # noqa: E402,F401  (same real peers)


@pytest.fixture(autouse=True)
def private_runtime(tmp_path, monkeypatch):
    """Every UI test gets its own XDG dirs: socket, config, contacts, logs."""
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    os.makedirs(tmp_path / "run", mode=0o700)
