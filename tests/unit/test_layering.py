"""Layering: the headless core never loads Textual; the control client (and
so `tui-phone open`) loads neither Textual nor pjsua2 nor phonenumbers."""

import json
import subprocess
import sys

import pytest

HEADLESS = ["tui_phone.events", "tui_phone.uri", "tui_phone.sip.pidf", "tui_phone.sip.engine", "tui_phone.sip.pjsua2_engine", "tui_phone.control.server",
            "tui_phone.control.protocol", "tui_phone.store", "tui_phone.phone", "tui_phone.config",
            "tui_phone.headless", "tui_phone.links", "tui_phone.numbers", "tui_phone.commands",
            "tui_phone.policy", "tui_phone.services", "tui_phone.history", "tui_phone.notify",
            "tui_phone.control.http", "tui_phone.contacts.db", "tui_phone.contacts.vcard",
            "tui_phone.contacts.team", "tui_phone.provisioning", "tui_phone.handlers", "tui_phone.locations",
            "tui_phone.debuglog", "tui_phone.control.records", "tui_phone.control.remote", "tui_phone.service",
            "tui_phone.notify.desktop"]


def loaded_after(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys, json; print(json.dumps(sorted(sys.modules)))"],
                         capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout.splitlines()[-1]))


@pytest.mark.parametrize("module", HEADLESS)
def test_headless_modules_never_import_textual(module):
    mods = loaded_after(f"import {module}")
    assert not {m for m in mods if m == "textual" or m.startswith(("textual.", "tui_phone.ui", "tui_phone.app"))}


def test_client_is_stdlib_only():
    mods = loaded_after("import tui_phone.control.client, tui_phone.__main__")
    assert not {m for m in mods if m.split(".")[0] in {"textual", "pjsua2", "phonenumbers", "rich"}}


def test_open_command_path_is_stdlib_only(tmp_path):
    """Run `tui-phone open` itself (no instance → exit 3) and list what it loaded."""
    code = (f"import os, sys; os.environ['XDG_RUNTIME_DIR'] = {str(tmp_path)!r}\n"
            "from tui_phone.__main__ import main\n"
            "rc = main(['open', 'tel:+12125550100'])\n"
            "assert rc == 3, rc")
    mods = loaded_after(code)
    assert not {m for m in mods if m.split(".")[0] in {"textual", "pjsua2", "phonenumbers"}}


def test_open_command_loads_only_os_socket_and_json(tmp_path):
    """Issue 17: a click on a link pays for json and socket, nothing more: no pathlib, typing, tomllib
    (the config says nothing about a socket), argparse or dataclasses; a config that names a socket is read."""
    baseline = loaded_after("import __future__, json, os, socket")  # __future__: our modules' annotations import
    (tmp_path / "plain.toml").write_text('[[accounts]]\nname = "a"\nuri = "sip:a@127.0.0.1"\n')
    (tmp_path / "custom.toml").write_text(f'[control]\nsocket = "{tmp_path}/custom.sock"\n')

    def open_with(config: str) -> set[str]:
        return loaded_after(f"import os; os.environ['XDG_RUNTIME_DIR'] = {str(tmp_path)!r}\n"
                            "from tui_phone.__main__ import main\n"
                            f"rc = main(['--config', {config!r}, 'open', 'tel:200'])\n"
                            "assert rc == 3, rc")

    extra = {m for m in open_with(str(tmp_path / "plain.toml")) - baseline if not m.startswith("tui_phone")}
    assert extra == set()
    assert "tomllib" in open_with(str(tmp_path / "custom.toml"))
