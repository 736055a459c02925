"""Where tui-phone keeps things (XDG via platformdirs, stdlib fallback).

Imported by the stdlib-only control client, so platformdirs is imported
lazily and the socket path needs nothing but ``os``.
"""

from __future__ import annotations

import os
from pathlib import Path

from tui_phone.control.address import APP, runtime_dir as _runtime_dir, socket_file


def runtime_dir() -> Path:
    """``$XDG_RUNTIME_DIR/tui-phone`` (private, 0700), else a per-user /tmp dir."""
    return Path(_runtime_dir())


def socket_path(configured: str = "") -> Path:
    return Path(socket_file(configured))


def config_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_config_dir(APP, appauthor=False))


def config_file() -> Path:
    return config_dir() / "config.toml"


def data_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir(APP, appauthor=False))


def state_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_state_dir(APP, appauthor=False))
