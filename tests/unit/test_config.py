"""Config load/validate: every problem is one line naming file, line and key."""

from pathlib import Path

import pytest

from tui_phone.config import Config, ConfigError, load, parse


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "config.toml"
    p.write_text(text)
    return p


def test_no_file_gives_embedded_default(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    cfg = load()
    assert cfg.accounts[0].registrar == "" and cfg.accounts[0].name == "local"
    assert cfg.http["enabled"] is False and cfg.numbers["default_region"] == "US"


def test_explicit_missing_file_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="no such file"):
        load(tmp_path / "nope.toml")


def test_full_example_is_valid():
    cfg = load(Path(__file__).parents[2] / "config.example.toml")
    assert cfg.accounts[0].name == "work" and cfg.accounts[0].transport == "udp"


def test_account_values():
    cfg = parse('[[accounts]]\nuri = "sip:alice@pbx.example.com"\nregistrar = "sip:pbx.example.com"\n'
                'username = "alice"\npassword = "pw"\ntransport = "tcp"\n')
    a = cfg.accounts[0]
    assert (a.name, a.transport, a.password) == ("alice", "tcp", "pw")
    assert "pw" not in repr(a)  # secrets stay out of logs and tracebacks


@pytest.mark.parametrize("text, message", [
    ('[[accounts]]\nuri = "sip:a@b"\ntransport = "sctp"\n', r"config.toml:3: accounts\[0\].transport: must be one of udp, tcp, tls"),
    ('[[accounts]]\nuri = "sip:a@b"\n\n[[accounts]]\nuri = "sip:c@d"\nlocal_port = 70000\n', r":6: accounts\[1\].local_port: must be a port"),
    ('[[accounts]]\nuri = "alice@pbx"\n', r":2: accounts\[0\].uri: must be a sip: or sips: URI"),
    ('[[accounts]]\nname = "x"\n', r":1: accounts\[0\].uri: is required"),
    ('[http]\nport = "5678"\n', r":2: http.port: must be int"),
    ('[http]\nenabled = 1\n', r":2: http.enabled: must be bool"),
    ('[numbers]\ndefault_region = "usa"\n', r"numbers.default_region: must be a two-letter"),
    ('[policy]\nconfirm_patterns = ["(unclosed"]\n', r"policy.confirm_patterns: bad regular expression"),
    ('[nope]\nx = 1\n', r":1: nope: unknown section"),
    ('[http]\nprot = 1\n', r":2: http.prot: unknown key"),
    ('[http\n', r"not valid TOML"),
    ('[[accounts]]\nuri = "sip:a@b"\n[[accounts]]\nuri = "sip:a@c"\n', r"duplicate account name 'a'"),
])
def test_bad_config_one_line(tmp_path, text, message):
    path = write(tmp_path, text)
    before = path.read_bytes()
    with pytest.raises(ConfigError, match=message) as e:
        load(path)
    assert "\n" not in str(e.value) and str(path) in str(e.value)
    assert path.read_bytes() == before  # file untouched


def test_unreadable_file(tmp_path):
    path = tmp_path / "config.toml"
    path.write_bytes(b"\xff\xfe bad")
    with pytest.raises(ConfigError, match="cannot read"):
        load(path)


def test_default_config_object():
    assert Config().accounts[0].uri.startswith("sip:")
