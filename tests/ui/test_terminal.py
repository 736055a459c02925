"""The terminal experience: command palette, help screen, themes."""

from tests.peers import sipp_uas
from tests.ui.test_app import config, until
from tui_phone.app import make_app
from tui_phone.config import parse
from tui_phone.sip.engine import CallState
from tui_phone.ui.dialogs import Help
from tui_phone.ui.themes import BUILTIN, load_themes


async def test_palette_calls_what_you_type(sipp_dir):
    uas = sipp_uas(sipp_dir, scenario="uas-fast")
    app = make_app(config(f'proxy = "sip:127.0.0.1:{uas.port}"\n'))
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, app.ready.is_set, what="engine")
        await pilot.press("ctrl+p")
        await pilot.pause(0.2)
        await pilot.press(*"200")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await until(pilot, lambda: app.state.calls and app.state.calls[0].state is CallState.CONNECTED,
                    what="Connected")
        await pilot.press("ctrl+p")
        await pilot.pause(0.2)
        await pilot.press(*"hang up")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await until(pilot, lambda: not app.state.calls, what="hung up")
    assert uas.wait(10) == 0


async def test_help_screen_lists_keys():
    app = make_app(config())
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("escape", "question_mark")  # leave the dialpad, then ?
        await until(pilot, lambda: isinstance(app.screen, Help), what="help")
        table = app.screen.query_one("DataTable")
        keys = [table.get_row_at(i)[0] for i in range(table.row_count)]
        assert "a" in keys and "Ctrl+P" in keys and "o" in keys
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, Help), what="closed")


def test_three_themes_ship():
    themes, problems = load_themes([BUILTIN])
    assert {t.name for t in themes} >= {"tui-phone", "tui-phone-light", "tui-phone-contrast"}
    assert problems == []


def test_bad_theme_file_is_reported_not_fatal(tmp_path):
    (tmp_path / "broken.toml").write_text("name = 'x'\nprimary = 12\n[oops")
    themes, problems = load_themes([tmp_path])
    assert themes == [] and len(problems) == 1 and "broken.toml" in problems[0]


async def test_theme_switch_is_saved_with_comments_kept(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('# my settings\n[[accounts]]\nname = "alice"\nuri = "sip:alice@127.0.0.1"\n'
                    'bind = "127.0.0.1"  # loopback only\n')
    app = make_app(parse(path.read_text(), path))
    async with app.run_test(size=(100, 30)) as pilot:
        assert app.theme == "tui-phone"
        app.theme = "tui-phone-light"
        await pilot.pause(0.2)
    text = path.read_text()
    assert "# my settings" in text and "# loopback only" in text
    assert parse(text).ui["theme"] == "tui-phone-light"


async def test_theme_option_and_unknown_theme():
    app = make_app(config(), theme="tui-phone-contrast")
    async with app.run_test(size=(100, 30)):
        assert app.theme == "tui-phone-contrast"
    app = make_app(config(), theme="nope")
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause(0.1)
        assert app.theme == "tui-phone"
        assert any("theme 'nope' not found" in line.text for line in app.query_one("LogPane").lines)
