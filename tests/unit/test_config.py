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
    ('[http]\nport = "5678"\n', r":2: http.port: must be a whole number"),
    ('[http]\nenabled = 1\n', r":2: http.enabled: must be true or false"),
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


def test_addressbooks_from_the_example_and_their_defaults():
    example = (Path(__file__).parents[2] / "config.example.toml").read_text()
    block = example[example.index("# [[addressbooks]]"):]
    books = parse("\n".join(line.removeprefix("# ") for line in block.splitlines())).addressbooks
    assert [(b.name, b.url, b.sync, b.interval, b.new_contacts) for b in books] == [
        ("work", "https://cloud.example.com/", "two-way", 300, False)]
    plain = parse('[[addressbooks]]\nname = "home"\nurl = "http://127.0.0.1:5232/"\npassword = "s3cret"\n')
    assert "s3cret" not in repr(plain.addressbooks[0])
    assert parse("").addressbooks == ()


@pytest.mark.parametrize("text, message", [
    ('[[addressbooks]]\nname = "a"\n', r":1: addressbooks\[0\].url: is required"),
    ('[[addressbooks]]\nname = "a"\nurl = "dav.example.com"\n', r":3: addressbooks\[0\].url: must be an http"),
    ('[[addressbooks]]\nname = "a"\nurl = "https://me:pw@dav.example.com/"\n',
     r"addressbooks\[0\].url: must not carry a user name or password"),
    ('[[addressbooks]]\nname = "a"\nurl = "https://d/"\nsync = "both"\n', r":4: addressbooks\[0\].sync: must be one of"),
    ('[[addressbooks]]\nname = "a"\nurl = "https://d/"\ninterval = 0\n', r"interval: must be a positive"),
    ('[[addressbooks]]\nname = "a"\nurl = "https://d/"\ncolour = 1\n', r":4: addressbooks\[0\].colour: unknown key"),
    ('[[addressbooks]]\nname = "a"\nurl = "https://d/"\n[[addressbooks]]\nname = "a"\nurl = "https://e/"\n',
     r":5: addressbooks\[1\].name: duplicate address book name 'a'"),
    ('[[addressbooks]]\nname = "a"\nurl = "https://d/"\nnew_contacts = true\n'
     '[[addressbooks]]\nname = "b"\nurl = "https://e/"\nnew_contacts = true\n',
     r"addressbooks\[1\].new_contacts: only one address book can receive new contacts"),
    ('[[addressbooks]]\nname = "a"\nurl = "https://d/"\nsync = "read-only"\nnew_contacts = true\n',
     r":5: addressbooks\[0\].new_contacts: a read-only address book cannot receive new contacts"),
])
def test_bad_addressbook_one_line(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message) as e:
        load(write(tmp_path, text))
    assert "\n" not in str(e.value)


def test_an_addressbook_password_command_that_fails_names_the_book():
    from tui_phone.config import password_for

    book = parse('[[addressbooks]]\nname = "dav"\nurl = "https://d/"\npassword_command = "false"\n').addressbooks[0]
    with pytest.raises(ConfigError, match=r"^address book dav: password_command failed: it exited with status 1$"):
        password_for(book)


def test_a_secret_of_the_wrong_type_is_not_echoed():
    """Found by the outside probe: a numeric SIP PIN reached stderr in the error."""
    with pytest.raises(ConfigError) as e:
        parse('[[accounts]]\nname = "a"\nuri = "sip:a@pbx"\npassword = 12345678\n')
    assert "12345678" not in str(e.value) and "must be text in quotes (got a whole number)" in str(e.value)
    with pytest.raises(ConfigError) as e:
        parse('[[accounts]]\nname = "a"\nuri = "sip:a@pbx"\n[http]\ntoken = ["TopSecret"]\n')
    assert "TopSecret" not in str(e.value)


def test_a_config_nested_thousands_deep_is_one_line_not_a_traceback():
    """Found by an outside probe: tomllib recursed into a RecursionError traceback."""
    with pytest.raises(ConfigError, match="nested too deeply"):
        parse("a = " + "[" * 3000 + "]" * 3000 + "\n")
