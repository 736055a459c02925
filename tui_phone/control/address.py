"""Where the control socket is, with ``os`` alone.

``tui-phone open URL`` runs on every click on a link, so its path imports
nothing but ``os``, ``socket`` and ``json`` (issue 17; ``python -X importtime``
shows it): no pathlib, no typing, and tomllib only when the config file
mentions a socket at all.
"""

from __future__ import annotations

import os

APP = "tui-phone"


def runtime_dir() -> str:
    """``$XDG_RUNTIME_DIR/tui-phone``, else a per-user /tmp dir."""
    base = os.environ.get("XDG_RUNTIME_DIR")
    return os.path.join(base, APP) if base else f"/tmp/{APP}-{os.getuid()}"


def socket_file(configured: str = "") -> str:
    return os.path.expanduser(configured) if configured else os.path.join(runtime_dir(), "control.sock")


def configured_socket(config: str | None) -> str:
    """The control socket a config names. Raises ValueError when the file
    cannot be read or parsed; a missing default config means the default
    socket, and so does a config that never says "socket"."""
    if config is None:
        base = os.environ.get("XDG_CONFIG_HOME") or os.path.expanduser("~/.config")
        path, required = os.path.join(base, APP, "config.toml"), False
    else:
        path, required = config, True
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        if required:
            raise ValueError(f"{path}: no such file") from None
        return socket_file()
    except OSError as e:
        raise ValueError(str(e)) from None
    if b"socket" not in data:
        return socket_file()
    import tomllib

    try:
        table = tomllib.loads(data.decode())
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise ValueError(str(e)) from None
    except RecursionError:
        raise ValueError(f"{path}: not a config: values nested too deeply") from None
    control = table.get("control", {})
    value = control.get("socket", "") if isinstance(control, dict) else ""
    if not isinstance(value, str):
        raise ValueError("control.socket must be a string")
    return socket_file(value)
