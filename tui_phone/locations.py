"""Where tui-phone keeps things (XDG via platformdirs, stdlib fallback).

Imported by the stdlib-only control client, so platformdirs is imported
lazily and the socket path needs nothing but ``os``.
"""

from __future__ import annotations

import os
from pathlib import Path

APP = "tui-phone"


def runtime_dir() -> Path:
    """``$XDG_RUNTIME_DIR/tui-phone`` (private, 0700), else a per-user /tmp dir."""
    base = os.environ.get("XDG_RUNTIME_DIR")
    if base:
        return Path(base) / APP
    return Path(f"/tmp/{APP}-{os.getuid()}")


def socket_path(configured: str = "") -> Path:
    return Path(configured).expanduser() if configured else runtime_dir() / "control.sock"


def configured_socket(config: str | None) -> Path:
    """The control socket a config names, read with tomllib alone (the fast
    path of ``tui-phone open``). Raises ValueError when the file cannot be
    read or parsed; a missing default config means the default socket."""
    import tomllib

    if config is None:
        base = os.environ.get("XDG_CONFIG_HOME") or os.path.expanduser("~/.config")
        path, required = os.path.join(base, APP, "config.toml"), False
    else:
        path, required = config, True
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        if required:
            raise ValueError(f"{path}: no such file") from None
        return socket_path()
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise ValueError(str(e)) from None
    control = data.get("control", {})
    value = control.get("socket", "") if isinstance(control, dict) else ""
    if not isinstance(value, str):
        raise ValueError("control.socket must be a string")
    return socket_path(value)


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
