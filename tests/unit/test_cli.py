"""The CLI's exit codes and one-line errors, run as a user runs it."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def cli(tmp_path, *args):
    env = {**os.environ, "XDG_RUNTIME_DIR": str(tmp_path / "run"), "XDG_CONFIG_HOME": str(tmp_path / "cfg"),
           "XDG_DATA_HOME": str(tmp_path / "data")}
    return subprocess.run([sys.executable, "-m", "tui_phone", *args], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=30)


def test_bad_config_exits_2_with_one_line(tmp_path):
    cfg = tmp_path / "bad.toml"
    cfg.write_text('[[accounts]]\nuri = "sip:a@b"\ntransport = "carrier-pigeon"\n')
    before = cfg.read_text()
    for args in (["--headless"], ["status"], ["config", "check"]):
        r = cli(tmp_path, "--config", str(cfg), *args)
        assert r.returncode == 2, r
        assert r.stderr.count("\n") == 1 and "bad.toml:3: accounts[0].transport" in r.stderr
        assert "Traceback" not in r.stderr
    assert cfg.read_text() == before


def test_config_check_ok(tmp_path):
    r = cli(tmp_path, "--config", str(ROOT / "config.example.toml"), "config", "check")
    assert r.returncode == 0 and "1 account(s)" in r.stdout


def test_client_commands_without_instance_exit_3(tmp_path):
    for args in (["status"], ["call", "200"], ["answer"], ["hangup"], ["open", "tel:200"],
                 ["api", '{"mt":"GetState"}'], ["watch"]):
        r = cli(tmp_path, *args)
        assert r.returncode == 3, (args, r)
        assert "no running tui-phone" in r.stderr and "Traceback" not in r.stderr


def test_api_rejects_bad_json_locally(tmp_path):
    r = cli(tmp_path, "api", "{not json")
    assert r.returncode == 2 and "not valid JSON" in r.stderr


GOOD = "BEGIN:VCARD\nVERSION:3.0\nN:Lovelace;Ada;;;\nFN:Ada Lovelace\nTEL;TYPE=CELL:+1 212 555 0100\nEND:VCARD\n"
BROKEN = "BEGIN:VCARD\nVERSION:3.0\nTEL;TYPE=CELL:not a number at all\nEND:VCARD\n"


def test_contacts_import_export_round_trip(tmp_path):
    src = tmp_path / "in.vcf"
    src.write_text(GOOD + BROKEN + GOOD.replace("Ada", "Grace").replace("Lovelace", "Hopper"))
    r = cli(tmp_path, "contacts", "import", str(src))
    assert r.returncode == 0, r.stderr
    assert "imported 2 contact(s)" in r.stdout and "1 card(s) skipped" in r.stdout
    assert "in.vcf: line 7:" in r.stderr and "Traceback" not in r.stderr
    out = tmp_path / "out.vcf"
    r = cli(tmp_path, "contacts", "export", str(out))
    assert r.returncode == 0 and "exported 2 contact(s)" in r.stdout
    text = out.read_text()
    assert "Ada Lovelace" in text and "Grace Hopper" in text and "+1 212 555 0100" in text
    assert cli(tmp_path, "contacts", "import", str(tmp_path / "missing.vcf")).returncode == 2


def test_a_start_with_only_options_parses_as_the_full_cli_does(tmp_path):
    """Issue 17: the TUI's own start builds the parser without its 16 subcommand parsers (~6 ms);
    whatever it parses must read the same, and anything else (a command, --help) gets the full CLI."""
    from tui_phone.__main__ import _options_only, build_parser

    for argv in ([], ["--headless"], ["--config", "/x.toml", "--debug"], ["--config=/x.toml", "--theme", "t"],
                 ["--open", "tel:+12125550100"], ["--open=sip:bob@example.com", "--headless"]):
        assert _options_only(argv), argv
        assert vars(build_parser(commands=False).parse_args(argv)) == vars(build_parser().parse_args(argv)), argv
    for argv in (["status"], ["--config", "/x.toml", "call", "200"], ["--help"], ["--version"], ["bogus"]):
        assert not _options_only(argv), argv
    r = cli(tmp_path, "--help")
    assert r.returncode == 0 and "contacts" in r.stdout and "doctor" in r.stdout
    r = cli(tmp_path, "bogus")
    assert r.returncode == 2 and "invalid choice: 'bogus'" in r.stderr


def test_two_cards_with_one_uid_are_both_kept_and_an_export_carries_the_uids(tmp_path):
    """Found by an outside probe: two people sharing a UID in one file were merged (the first lost, no
    word, the count still said both); an export had no UID, so importing it and then the original again
    made duplicates."""
    ada = GOOD.replace("VERSION:3.0\n", "VERSION:3.0\nUID:uid-1\n")
    grace = ada.replace("Ada", "Grace").replace("Lovelace", "Hopper").replace("0100", "0199")
    src = tmp_path / "in.vcf"
    src.write_text(ada + grace)
    r = cli(tmp_path, "contacts", "import", str(src))
    assert r.returncode == 0, r.stderr
    assert "imported 2 contact(s)" in r.stdout and ": 2 new, 0 updated" in r.stdout and "1 note(s)" in r.stdout
    assert "skipped" not in r.stdout
    assert "line 8: the same UID as the card at line 1" in r.stderr
    out = tmp_path / "out.vcf"
    assert cli(tmp_path, "contacts", "export", str(out)).returncode == 0
    exported = out.read_text()
    assert exported.count("BEGIN:VCARD") == 2 and "UID:uid-1" in exported
    env = {**os.environ, "XDG_RUNTIME_DIR": str(tmp_path / "run"), "XDG_CONFIG_HOME": str(tmp_path / "cfg"),
           "XDG_DATA_HOME": str(tmp_path / "other")}  # another machine's database
    for f in (out, src, out):  # the export, then the original, then the export again: the same two people
        r = subprocess.run([sys.executable, "-m", "tui_phone", "contacts", "import", str(f)], capture_output=True,
                           text=True, env=env, cwd=ROOT, timeout=30)
        assert r.returncode == 0, r.stderr
    r = subprocess.run([sys.executable, "-m", "tui_phone", "contacts", "export", str(tmp_path / "again.vcf")],
                       capture_output=True, text=True, env=env, cwd=ROOT, timeout=30)
    assert "exported 2 contact(s)" in r.stdout, r.stdout + r.stderr
