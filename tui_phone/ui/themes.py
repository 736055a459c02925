"""Themes are TOML files: the ones shipped inside the package
(``tui_phone/themes/``) and the user's ``<config dir>/themes/``. Each file
holds the arguments of Textual's ``Theme`` (name, primary, …).

A file is checked before it is registered (known keys, colours that parse,
the right types), because Textual accepts any string and only fails when the
theme is applied: a bad colour crashed the app at start, or when picked from
the palette. A bad file is skipped with one line naming file:line and the
problem."""

from __future__ import annotations

import dataclasses
import re
import tomllib
from pathlib import Path

from textual.color import Color, ColorParseError
from textual.theme import Theme

BUILTIN = Path(__file__).resolve().parents[1] / "themes"  # shipped in the package (wheel included)
COLOURS = ("primary", "secondary", "warning", "error", "success", "accent", "foreground", "background",
           "surface", "panel", "boost")
TYPES = {"name": str, "dark": bool, "luminosity_spread": (int, float), "text_alpha": (int, float),
         "variables": dict, "ansi": bool} | {key: str for key in COLOURS}
assert set(TYPES) == {f.name for f in dataclasses.fields(Theme)}  # a new Textual field shows up here


def theme_dirs() -> list[Path]:
    from ..locations import config_dir

    return [BUILTIN, config_dir() / "themes"]


MAX_THEME = 64 * 1024


class ThemeError(ValueError):
    """A theme file that cannot be used: ``str()`` is ``file:line: problem``."""


def _line_of(text: str, key: str) -> int:
    """The line where ``key =`` is set (1 when it is not found)."""
    found = re.search(rf"^[ \t]*{re.escape(key)}[ \t]*=", text, re.MULTILINE)
    return text.count("\n", 0, found.start()) + 1 if found else 1


def read_theme(path: Path) -> Theme:
    """The theme in ``path``, checked; raises ThemeError."""
    try:
        if not path.is_file():  # a FIFO or /dev/zero behind a link would block or never end
            raise ThemeError(f"{path}: not a regular file")
        with open(path, "rb") as f:
            raw = f.read(MAX_THEME + 1)
        if len(raw) > MAX_THEME:
            raise ThemeError(f"{path}: larger than {MAX_THEME // 1024} KiB; not a theme")
        text = raw.decode("utf-8")
        data = tomllib.loads(text)
    except (OSError, UnicodeDecodeError) as e:
        raise ThemeError(f"{path}: cannot read: {getattr(e, 'strerror', None) or e}") from None
    except tomllib.TOMLDecodeError as e:
        raise ThemeError(f"{path}:{getattr(e, 'lineno', None) or 1}: not valid TOML: {e.args[0]}") from None
    except RecursionError:  # tomllib recurses per nesting level: [[[[…]]]] thousands deep
        raise ThemeError(f"{path}: not a theme: values nested too deeply") from None
    data.setdefault("name", path.stem)

    def bad(key: str, problem: str) -> ThemeError:
        return ThemeError(f"{path}:{_line_of(text, key)}: {key}: {problem}")

    for key, value in data.items():
        if key not in TYPES:
            raise bad(key, f"unknown key (known: {', '.join(TYPES)})")
        if not isinstance(value, TYPES[key]) or (TYPES[key] != bool and isinstance(value, bool)):
            raise bad(key, f"wrong type {type(value).__name__}")
        if key in COLOURS or key == "variables":
            for colour_key, colour in ((key, value),) if key in COLOURS else value.items():
                if not isinstance(colour, str):
                    raise bad(key, (f"{colour_key}: " if key == "variables" else "")
                              + f"must be text such as \"#RRGGBB\" (got {type(colour).__name__})")
                try:
                    Color.parse(colour)
                except ColorParseError:
                    if key in COLOURS:  # variables may hold other values ("bold", "auto 87%")
                        raise bad(key, f"not a colour: {colour!r} (use #RRGGBB or a colour name)") from None
    if "primary" not in data:
        raise bad("primary", "missing (every theme needs a primary colour)")
    theme = Theme(**data)
    try:
        theme.to_color_system()
    except Exception as e:  # noqa: BLE001 - whatever Textual refuses, the file is skipped
        raise ThemeError(f"{path}: Textual cannot use this theme: {e}") from None
    return theme


def load_themes(dirs: list[Path] | None = None) -> tuple[list[Theme], list[str]]:
    """Return (themes, problems), one ``file:line: problem`` line per file that failed."""
    themes, problems = [], []
    for d in dirs if dirs is not None else theme_dirs():
        for path in sorted(d.glob("*.toml")) if d.is_dir() else ():
            try:
                themes.append(read_theme(path))
            except ThemeError as e:
                problems.append(f"theme skipped: {e}")
    return themes, problems
