"""The terminal experience: command palette, help screen, themes."""

from tests.peers import sipp_uas
from tests.ui.test_app import config, until
from tui_phone.app import make_app
from tui_phone.config import parse
from tui_phone.events import CallState
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
        assert any("theme 'nope' cannot be used" in line.text for line in app.query_one("LogPane").lines)


async def test_80x24_nothing_scrolls_sideways_or_is_cut():
    from rich.cells import cell_len

    from tui_phone.events import CallAdded, CallEnded, CallRemoved
    from tui_phone.ui.dialogs import KeyTable
    from tui_phone.ui.panes import CallList, StatusBar

    app = make_app(parse('[[accounts]]\nname = "alice"\nuri = "sip:alice.in.accounting@127.0.0.1"\n'
                         'bind = "127.0.0.1"\n[audio]\nnull = true\n'))
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, app.ready.is_set, what="engine")
        await until(pilot, lambda: app.state.audio.note, what="audio decided")
        post = app.phone.post
        post(CallAdded(7, "i", "sip:+442079460000@pbx.example.com", "+442079460000", "Bartholomew Fitzgerald-Smythe",
                       "alice"))
        post(CallAdded(8, "o", "sip:300@pbx.example.com", "300", "", "alice"))
        post(CallEnded(8, 487, "Request Terminated"))
        post(CallRemoved(8))
        await pilot.pause(0.3)
        table = app.query_one(CallList)
        assert table.virtual_size.width <= table.scrollable_content_region.width
        assert [str(c) for c in table.get_row_at(1)][:4] == ["8", "out", "300", "487 Request Terminated"]
        status = app.query_one(StatusBar)
        line = str(status.render())
        assert line.endswith("status: available  🔇 no audio") and cell_len(line) <= status.size.width
        assert "…" in line  # the account gave way, not the indicators

        await pilot.press("escape", "question_mark")
        await until(pilot, lambda: isinstance(app.screen, Help) and app.screen.query(KeyTable), what="help")
        await pilot.pause(0.2)
        keys = app.screen.query_one(KeyTable)
        assert keys.virtual_size.width <= keys.scrollable_content_region.width
        assert max(row.height for row in keys.rows.values()) > 1  # long descriptions wrap instead of being cut


def test_readme_key_table_is_the_help_screen():
    from pathlib import Path

    from tui_phone.app import TuiPhoneApp

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme[readme.index("## Keys"):readme.index("## Configuration")]
    rows = [tuple(c.strip() for c in line.strip().strip("|").split("|")) for line in section.splitlines()
            if line.startswith("| ") and not line.startswith(("| key", "| ---"))]
    assert rows == TuiPhoneApp.key_table()


def test_theme_files_are_checked_key_by_key(tmp_path):
    (tmp_path / "a.toml").write_text('name = "a"\nprimary = "#2E9BD6"\n\nsurface = "nope"\n')
    (tmp_path / "b.toml").write_text('primary = "#2E9BD6"\nprimry = "#2E9BD6"\n')
    (tmp_path / "c.toml").write_text('primary = "#2E9BD6"\ndark = "yes"\n')
    (tmp_path / "d.toml").write_text('secondary = "#2E9BD6"\n')
    (tmp_path / "ok.toml").write_text('primary = "#2E9BD6"\nvariables = {"block-cursor-text-style" = "bold"}\n')
    themes, problems = load_themes([tmp_path])
    assert [t.name for t in themes] == ["ok"]
    assert problems == [f"theme skipped: {tmp_path / 'a.toml'}:4: surface: not a colour: 'nope' "
                        "(use #RRGGBB or a colour name)",
                        f"theme skipped: {tmp_path / 'b.toml'}:2: primry: unknown key (known: name, dark, "
                        "luminosity_spread, text_alpha, variables, ansi, primary, secondary, warning, error, "
                        "success, accent, foreground, background, surface, panel, boost)",
                        f"theme skipped: {tmp_path / 'c.toml'}:2: dark: wrong type str",
                        f"theme skipped: {tmp_path / 'd.toml'}:1: primary: missing (every theme needs a "
                        "primary colour)"]


def test_theme_files_found_by_the_outside_probe_are_skipped_with_one_line(tmp_path):
    """A non-text variable crashed the TUI at start (AttributeError traceback); a theme
    linked to /dev/zero hung `config check`."""
    from tui_phone.ui.themes import load_themes

    (tmp_path / "v.toml").write_text("primary = \"#123456\"\nvariables = {a = 1}\n")
    (tmp_path / "z.toml").symlink_to("/dev/zero")
    (tmp_path / "big.toml").write_text("# " + "x" * 70000 + "\nprimary = \"#123456\"\n")
    themes, problems = load_themes([tmp_path])
    assert themes == []
    assert sorted(p.split(": ", 2)[1].rsplit("/", 1)[-1] for p in problems) == ["big.toml", "v.toml:2", "z.toml"]
    assert all("\n" not in p for p in problems)


def test_a_theme_nested_thousands_deep_is_skipped_with_one_line(tmp_path):
    """Found by an outside probe: a 6 KB theme of nested arrays crashed the TUI and `config check`."""
    (tmp_path / "deep.toml").write_text('name = "deep"\nvariables = ' + "[" * 3000 + "]" * 3000 + "\n")
    themes, problems = load_themes([tmp_path])
    assert "deep" not in [t.name for t in themes]
    assert problems == [f"theme skipped: {tmp_path / 'deep.toml'}: not a theme: values nested too deeply"]
