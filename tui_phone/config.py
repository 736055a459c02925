"""Configuration: read with tomllib, validated against one schema table.

Every problem becomes a ``ConfigError`` whose message is one line naming
the file, the line, the key and what is wrong. The file is never written
here (editing with tomlkit lives next to the features that need it).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from .uri import SipUri


class ConfigError(ValueError):
    """A one-line, user-facing configuration problem."""


def _choice(*allowed: str):
    def check(v: str) -> str | None:
        return None if v in allowed else f"must be one of {', '.join(allowed)} (got {v!r})"
    return check


def _sip_uri(v: str) -> str | None:
    try:
        if v:
            SipUri.parse(v)
    except ValueError:
        return f"must be a sip: or sips: URI (got {v!r})"
    return None


def _port(v: int) -> str | None:
    return None if 0 <= v <= 65535 else f"must be a port number 0-65535 (got {v})"


def _regexes(v: list) -> str | None:
    for p in v:
        if not isinstance(p, str):
            return f"must be a list of strings (got {p!r})"
        try:
            re.compile(p)
        except re.error as e:
            return f"bad regular expression {p!r}: {e}"
    return None


def _segment(v: str) -> str | None:
    return None if re.fullmatch(r"[A-Za-z0-9._~-]+", v) else f"must be one URL path segment (got {v!r})"


def _url_template(v: str) -> str | None:
    """A notification URL: http(s), a host, a valid port, no spaces or controls."""
    if not v:
        return None
    from urllib.parse import urlsplit

    if not re.match(r"^https?://[^/\s]", v) or any(not c.isprintable() or c.isspace() for c in v):
        return f"must be an http:// or https:// URL without spaces (got {v!r})"
    try:
        urlsplit(v.replace("$", "")).port
    except ValueError as e:
        return f"is not a usable URL: {e} (got {v!r})"
    return None


def _https_template(v: str) -> str | None:
    if v and not (v.startswith("https://") and "$code" in v):
        return f"must be an https:// URL containing $code (got {v!r})"
    return None


def _positive(v: int) -> str | None:
    return None if v > 0 else f"must be a positive number of seconds (got {v})"


MAX_CALLS = 4  # PJSUA_MAX_CALLS of the pjsua2-python wheel: pjsua holds at most 4 calls at once


def _max_calls(v: int) -> str | None:
    return None if 1 <= v <= MAX_CALLS else (
        f"must be between 1 and {MAX_CALLS} (the bundled pjsua2 holds at most {MAX_CALLS} calls; got {v})")


def _seconds(v: int) -> str | None:
    return None if 0 <= v <= 3600 else f"must be 0-3600 seconds (got {v})"


def _rtp_range(v: int) -> str | None:
    return None if 2 <= v <= 30000 else f"must be 2-30000 ports (got {v})"


def _code(*codes: int):
    def check(v: int) -> str | None:
        return None if v in codes else f"must be one of {', '.join(map(str, codes))} (got {v})"
    return check


def _forward_target(v: str) -> str | None:
    if v and (len(v) > 128 or any(c.isspace() or not c.isprintable() or c in "<>\"\\" for c in v)):
        return f"must be a number or SIP URI without spaces (got {v!r})"
    return None


# The audio codecs of the bundled pjsua2 build (pjsua2-python 2.15.1; no Opus).
# A name in [audio] codecs matches an id exactly or its first part ("speex" = all three).
CODECS = ("PCMU/8000/1", "PCMA/8000/1", "G722/16000/1", "GSM/8000/1", "iLBC/8000/1", "speex/8000/1",
          "speex/16000/1", "speex/32000/1", "L16/44100/1", "L16/44100/2")


def codec_ids(name: str, available=CODECS) -> list[str]:
    """The codec ids ``name`` stands for ("G722" → ["G722/16000/1"]), case-insensitive."""
    n = name.lower()
    return [c for c in available if c.lower() == n or c.lower().startswith(n + "/")]


def _codecs(v: list) -> str | None:
    for name in v:
        if not isinstance(name, str) or not codec_ids(name):
            return (f"unknown codec {name!r}; available: "
                    f"{', '.join(dict.fromkeys(c.split('/')[0] for c in CODECS))} (or a full id like speex/16000)")
    return None


def _region(v: str) -> str | None:
    return None if re.fullmatch(r"[A-Z]{2}", v) else f"must be a two-letter region code like 'US' (got {v!r})"


@dataclass(frozen=True)
class AccountConfig:
    name: str = "local"
    uri: str = "sip:tui-phone@127.0.0.1"
    registrar: str = ""
    username: str = ""
    password: str = field(default="", repr=False)
    password_command: str = ""
    transport: str = "udp"
    srtp: str = "off"
    local_port: int = 0
    bind: str = ""
    proxy: str = ""
    dtmf: str = "rfc4733"
    tls_ca: str = ""
    tls_cert: str = ""
    tls_key: str = ""
    tls_verify: bool = True
    stun: str = ""
    ice: bool = False
    voicemail: str = ""
    voicemail_subscribe: bool = False


@dataclass(frozen=True)
class AddressBookConfig:
    """One ``[[addressbooks]]`` entry: a CardDAV address book kept in sync with the contacts."""

    name: str
    url: str
    username: str = ""
    password: str = field(default="", repr=False)
    password_command: str = ""
    sync: str = "two-way"
    interval: int = 300
    new_contacts: bool = False


@dataclass(frozen=True)
class Config:
    accounts: tuple[AccountConfig, ...] = (AccountConfig(),)
    addressbooks: tuple[AddressBookConfig, ...] = ()
    numbers: dict = field(default_factory=lambda: dict(SCHEMA_DEFAULTS["numbers"]))
    policy: dict = field(default_factory=lambda: dict(SCHEMA_DEFAULTS["policy"]))
    control: dict = field(default_factory=lambda: dict(SCHEMA_DEFAULTS["control"]))
    http: dict = field(default_factory=lambda: dict(SCHEMA_DEFAULTS["http"]))
    notify: dict = field(default_factory=lambda: dict(SCHEMA_DEFAULTS["notify"]))
    audio: dict = field(default_factory=lambda: dict(SCHEMA_DEFAULTS["audio"]))
    ui: dict = field(default_factory=lambda: dict(SCHEMA_DEFAULTS["ui"]))
    provisioning: dict = field(default_factory=lambda: dict(SCHEMA_DEFAULTS["provisioning"]))
    team: dict = field(default_factory=lambda: dict(SCHEMA_DEFAULTS["team"]))
    sip: dict = field(default_factory=lambda: dict(SCHEMA_DEFAULTS["sip"]))
    recording: dict = field(default_factory=lambda: dict(SCHEMA_DEFAULTS["recording"]))
    forward: dict = field(default_factory=lambda: dict(SCHEMA_DEFAULTS["forward"]))
    answer: dict = field(default_factory=lambda: dict(SCHEMA_DEFAULTS["answer"]))
    path: Path | None = None


# key -> (type, default, validator or None)
ACCOUNT_SCHEMA: dict[str, tuple[type, Any, Any]] = {
    "name": (str, None, None),
    "uri": (str, "", _sip_uri),
    "registrar": (str, "", _sip_uri),
    "username": (str, "", None),
    "password": (str, "", None),
    "password_command": (str, "", None),
    "transport": (str, "udp", _choice("udp", "tcp", "tls")),
    "srtp": (str, "off", _choice("off", "optional", "mandatory")),
    "local_port": (int, 0, _port),
    "bind": (str, "", None),
    "proxy": (str, "", _sip_uri),
    "dtmf": (str, "rfc4733", _choice("rfc4733", "info")),
    "tls_ca": (str, "", None),
    "tls_cert": (str, "", None),
    "tls_key": (str, "", None),
    "tls_verify": (bool, True, None),
    "stun": (str, "", None),
    "ice": (bool, False, None),
    "voicemail": (str, "", _forward_target),
    "voicemail_subscribe": (bool, False, None),
}

def _dav_url(v: str) -> str | None:
    from urllib.parse import urlsplit

    if not re.match(r"^https?://[^/\s]", v) or any(not c.isprintable() or c.isspace() for c in v):
        return f"must be an http:// or https:// URL without spaces (got {v!r})"
    if "@" in urlsplit(v).netloc:
        return "must not carry a user name or password (use username and password_command)"
    return None


ADDRESSBOOK_SCHEMA: dict[str, tuple[type, Any, Any]] = {
    "name": (str, None, None),
    "url": (str, "", _dav_url),
    "username": (str, "", None),
    "password": (str, "", None),
    "password_command": (str, "", None),
    "sync": (str, "two-way", _choice("two-way", "read-only")),
    "interval": (int, 300, _positive),
    "new_contacts": (bool, False, None),
}

SCHEMA: dict[str, dict[str, tuple[type, Any, Any]]] = {
    "numbers": {"default_region": (str, "US", _region), "external_prefix": (str, "", None)},
    "policy": {
        "confirm_patterns": (list, [r"^\+1900", r"^\+44(9|87)"], _regexes),
        "allow_unconfirmed": (bool, False, None),
        "premium_rate": (bool, True, None),  # also ask for what phonenumbers' data calls premium-rate/shared-cost
    },
    "control": {"socket": (str, "", None)},
    "http": {
        "enabled": (bool, False, None), "port": (int, 5678, _port), "make": (str, "make", _segment),
        "answer": (str, "answer", _segment), "end": (str, "end", _segment), "token": (str, "", None),
    },
    "notify": {k: (str, "", _url_template) for k in ("incoming", "active", "end", "outgoing")},
    "audio": {
        "input": (str, "", None), "output": (str, "", None), "ring": (str, "", None),
        "null": (bool, False, None), "codecs": (list, [], _codecs),
    },
    "ui": {"theme": (str, "tui-phone", None)},
    "provisioning": {"url": (str, "", _https_template)},
    "team": {"source": (str, "", None), "refresh": (int, 300, _positive)},
    "sip": {"max_calls": (int, MAX_CALLS, _max_calls), "rtp_port": (int, 40000, _port),
            "rtp_port_range": (int, 1000, _rtp_range)},
    "recording": {"auto": (bool, False, None), "dir": (str, "", None)},
    "forward": {"always": (str, "", _forward_target), "busy": (str, "", _forward_target),
                "noanswer": (str, "", _forward_target), "noanswer_after": (int, 20, _seconds)},
    "answer": {"auto": (bool, False, None), "auto_after": (int, 0, _seconds), "intercom": (bool, False, None),
               "dnd_code": (int, 486, _code(486, 480)), "ring_timeout": (int, 60, _seconds)},
}
SCHEMA_DEFAULTS = {s: {k: d for k, (_, d, _) in keys.items()} for s, keys in SCHEMA.items()}


def _line_of(text: str, key: str, section: str | None, index: int = 0) -> int | None:
    """Best-effort 1-based line of ``key`` inside ``[section]`` (or the
    ``index``-th ``[[section]]``); the table header's line when the key is absent."""
    seen, inside, header_line = -1, section is None, None
    for n, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        if s.startswith("[["):
            name = s.strip("[]").strip()
            seen += name == section
            inside = name == section and seen == index
        elif s.startswith("["):
            if section is None and s.strip("[]").strip() == key:
                return n  # the key is a table of its own
            inside = s.strip("[]").strip() == section
        elif inside and re.match(rf"^{re.escape(key)}\s*=", s):
            return n
        else:
            continue
        if inside:
            header_line = n
    return header_line


TYPE_WORDS = {"str": "text in quotes", "int": "a whole number", "bool": "true or false", "list": "a list",
              "float": "a number", "dict": "a table"}
SECRET_KEYS = ("password", "token")


def _check(value: Any, spec: tuple, where: str) -> tuple[Any, str | None]:
    typ, _, validator = spec
    if typ is int and isinstance(value, bool) or not isinstance(value, typ):
        got = TYPE_WORDS.get(type(value).__name__, type(value).__name__)
        shown = "" if where.rsplit(".", 1)[-1] in SECRET_KEYS else f" {value!r}"  # a secret is never echoed
        return value, f"must be {TYPE_WORDS.get(typ.__name__, typ.__name__)} (got {got}{shown})"
    return value, validator(value) if validator else None


def _fail(path: Path | None, text: str, key: str, section: str | None, index: int, msg: str):
    line = _line_of(text, key.rsplit(".", 1)[-1], section, index)
    loc = f"{path or '<config>'}" + (f":{line}" if line else "")
    raise ConfigError(f"{loc}: {key}: {msg}")


def parse(text: str, path: Path | None = None) -> Config:
    """Validate TOML text into a Config, or raise ConfigError."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path or '<config>'}: not valid TOML: {e}") from None
    except RecursionError:  # tomllib recurses per nesting level: [[[[…]]]] thousands deep
        raise ConfigError(f"{path or '<config>'}: not a config: values nested too deeply") from None
    sections: dict[str, dict] = {}
    for name, value in data.items():
        if name in ("accounts", "addressbooks"):
            continue
        if name not in SCHEMA:
            _fail(path, text, name, None, 0, "unknown section")
        if not isinstance(value, dict):
            _fail(path, text, name, None, 0, "must be a table")
        out = dict(SCHEMA_DEFAULTS[name])
        for key, v in value.items():
            if key not in SCHEMA[name]:
                _fail(path, text, f"{name}.{key}", name, 0, "unknown key")
            v, err = _check(v, SCHEMA[name][key], f"{name}.{key}")
            if err:
                _fail(path, text, f"{name}.{key}", name, 0, err)
            out[key] = v
        sections[name] = out
    accounts = []
    for i, where, acc in _tables(data, text, path, "accounts", ACCOUNT_SCHEMA):
        if not acc.get("uri"):
            _fail(path, text, f"{where}.uri", "accounts", i, "is required (e.g. 'sip:alice@pbx.example.com')")
        user = SipUri.parse(acc["uri"]).user
        if not user:
            _fail(path, text, f"{where}.uri", "accounts", i, f"must be user@host (got {acc['uri']!r})")
        name = acc.get("name") or user
        if any(a.name == name for a in accounts):
            _fail(path, text, f"{where}.name", "accounts", i, f"duplicate account name {name!r}")
        known = {f.name for f in fields(AccountConfig)}
        accounts.append(AccountConfig(**{k: v for k, v in acc.items() if k in known} | {"name": name}))
    kwargs: dict[str, Any] = {s: sections.get(s, dict(SCHEMA_DEFAULTS[s])) for s in SCHEMA}
    return Config(accounts=tuple(accounts) or (AccountConfig(),), addressbooks=_addressbooks(data, text, path),
                  path=path, **kwargs)


def _tables(data: dict, text: str, path: Path | None, section: str, schema: dict):
    """(index, "section[i]", table) for each ``[[section]]``, its keys known and typed."""
    raw = data.get(section, [])
    if not isinstance(raw, list):
        _fail(path, text, section, None, 0, f"must be an array of tables ([[{section}]])")
    for i, table in enumerate(raw):
        where = f"{section}[{i}]"
        if not isinstance(table, dict):
            _fail(path, text, where, None, 0, "must be a table")
        for key, v in table.items():
            if key not in schema:
                _fail(path, text, f"{where}.{key}", section, i, "unknown key")
            _, err = _check(v, schema[key], key)
            if err:
                _fail(path, text, f"{where}.{key}", section, i, err)
        yield i, where, table


def _addressbooks(data: dict, text: str, path: Path | None) -> tuple[AddressBookConfig, ...]:
    books: list[AddressBookConfig] = []
    for i, where, book in _tables(data, text, path, "addressbooks", ADDRESSBOOK_SCHEMA):
        for key in ("name", "url"):
            if not book.get(key):
                _fail(path, text, f"{where}.{key}", "addressbooks", i, "is required")
        if any(b.name == book["name"] for b in books):
            _fail(path, text, f"{where}.name", "addressbooks", i, f"duplicate address book name {book['name']!r}")
        if book.get("new_contacts") and book.get("sync") == "read-only":
            _fail(path, text, f"{where}.new_contacts", "addressbooks", i,
                  "a read-only address book cannot receive new contacts")
        if book.get("new_contacts") and any(b.new_contacts for b in books):
            _fail(path, text, f"{where}.new_contacts", "addressbooks", i,
                  "only one address book can receive new contacts")
        books.append(AddressBookConfig(**book))
    return tuple(books)


def load(path: Path | None = None) -> Config:
    """Load ``path``, else the XDG config file, else the embedded default."""
    from . import locations

    explicit = path is not None
    path = Path(path) if explicit else locations.config_file()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if explicit:
            raise ConfigError(f"{path}: no such file") from None
        return Config()
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror if isinstance(e, OSError) else e}") from None
    return parse(text, path)


def password_for(account: AccountConfig | AddressBookConfig) -> str:
    """The account's (or address book's) password, running ``password_command`` (no shell) if set."""
    if not account.password_command:
        return account.password
    import shlex
    import subprocess

    try:
        out = subprocess.run(shlex.split(account.password_command), capture_output=True,
                             text=True, timeout=10, check=True)
    except (OSError, ValueError, subprocess.SubprocessError) as e:
        what = "address book" if isinstance(account, AddressBookConfig) else "account"
        why = ("it took longer than 10 s" if isinstance(e, subprocess.TimeoutExpired)
               else f"it exited with status {e.returncode}" if isinstance(e, subprocess.CalledProcessError)
               else "it could not be started (is the program installed?)" if isinstance(e, OSError)
               else "it is not a valid command line")
        raise ConfigError(f"{what} {account.name}: password_command failed: {why}") from None
    return out.stdout.splitlines()[0] if out.stdout else ""


def save_setting(path: Path, section: str, key: str, value: Any) -> None:
    """Set ``[section] key = value`` in the file with tomlkit: comments, order
    and everything else stay as the user wrote them. The result must still
    validate, else the file is left untouched (ConfigError)."""
    import tomlkit

    from .files import write_private

    text = path.read_text(encoding="utf-8") if path.exists() else ""
    try:
        doc = tomlkit.parse(text)
    except Exception as e:  # noqa: BLE001 - tomlkit raises several types
        raise ConfigError(f"{path}: not valid TOML: {e}") from None
    if section not in doc:
        doc[section] = tomlkit.table()
    doc[section][key] = value
    new = tomlkit.dumps(doc)
    parse(new, path)
    write_private(path, new)
