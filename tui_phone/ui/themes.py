"""Themes are TOML files: the repository's ``themes/`` and the user's
``<config dir>/themes/``. Each file holds the arguments of Textual's
``Theme`` (name, primary, …); a bad file is skipped with a message."""

from __future__ import annotations

import tomllib
from pathlib import Path

from textual.theme import Theme

BUILTIN = Path(__file__).resolve().parents[2] / "themes"  # the repository's themes/


def theme_dirs() -> list[Path]:
    from ..locations import config_dir

    return [BUILTIN, config_dir() / "themes"]


def load_themes(dirs: list[Path] | None = None) -> tuple[list[Theme], list[str]]:
    """Return (themes, problems), one problem line per file that failed."""
    themes, problems = [], []
    for d in dirs if dirs is not None else theme_dirs():
        for path in sorted(d.glob("*.toml")) if d.is_dir() else ():
            try:
                data = tomllib.loads(path.read_text(encoding="utf-8"))
                data.setdefault("name", path.stem)
                themes.append(Theme(**data))
            except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, TypeError, ValueError) as e:
                problems.append(f"theme {path}: {e}")
    return themes, problems
