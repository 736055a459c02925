"""``--debug``: pjsua2's log and the app's log lines land in files in the
XDG state dir (the fixture points XDG_STATE_HOME at the test's own dir);
a password never does."""

import os
from pathlib import Path

from tests.ui.test_app import config, until
from tui_phone.__main__ import build_parser
from tui_phone.app import make_app
from tui_phone.ui.panes import LogPane

PASSWORD = "pw-never-logged-7"


def state_dir() -> Path:
    return Path(os.environ["XDG_STATE_HOME"]) / "tui-phone"


async def test_debug_writes_app_and_sip_logs_to_the_state_dir():
    assert build_parser().parse_args(["--debug"]).debug  # the flag the CLI hands to make_app
    app = make_app(config(f'password = "{PASSWORD}"\n[audio]\nnull = true\n'), debug=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, app.ready.is_set, what="engine")
        for wanted in ("ready for direct calls", "audio off"):  # the sound device opens after the account
            await until(pilot, lambda w=wanted: any(w in line.text for line in app.query_one(LogPane).lines),
                        what=wanted)
        app.log_line("warning", f"a line that somehow holds {PASSWORD}")
        await pilot.press("q")
    text = (state_dir() / "tui-phone.log").read_text()
    lines = text.splitlines()
    assert any(" info " in line and "account alice: ready for direct calls" in line for line in lines)
    assert any(" warning " in line and "audio off: [audio] null = true" in line for line in lines)
    assert PASSWORD not in text and "a line that somehow holds ********" in text
    sip = (state_dir() / "sip.log").read_text(errors="replace")
    assert "pjsua" in sip.lower() and PASSWORD not in sip


async def test_without_debug_no_log_files():
    app = make_app(config())
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, app.ready.is_set, what="engine")
    assert not (state_dir() / "tui-phone.log").exists() and not (state_dir() / "sip.log").exists()
