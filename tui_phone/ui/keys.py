"""The help screen's key table (and the README's), built from the bindings
themselves: each ``Binding`` gives its key and, in its ``tooltip`` (else its
``description``, which the footer shows), what it does. Keys a widget handles
without a binding (typing, Enter on a row, DTMF digits) are listed by that
widget in ``HELP_KEYS``, next to the code that handles them; ``HELP_WHERE``
names where its keys work."""

from __future__ import annotations

from textual.binding import Binding

NAMES = {"question_mark": "?", "slash": "/", "escape": "Escape", "enter": "Enter", "delete": "Delete"}


def key_name(key: str) -> str:
    """``ctrl+l`` → Ctrl+L, ``f1`` → F1, ``D`` → D (shift+d)."""
    if key in NAMES:
        return NAMES[key]
    if key.startswith("ctrl+"):
        return "Ctrl+" + key[5:].upper()
    if key[0] == "f" and key[1:].isdigit():
        return key.upper()
    if len(key) == 1 and key.isupper():
        return f"{key} (shift+{key.lower()})"
    return key


def where_of(source, binding: Binding) -> str:
    """The app's own keys work anywhere, except letters: those type in text fields."""
    where = getattr(source, "HELP_WHERE", "")
    if where:
        return where
    typed = len(binding.key) == 1 and binding.key != "?"
    return "outside text fields" if typed else "anywhere"


def help_rows(sources) -> list[tuple[str, str, str]]:
    """(key, where, does) for the bindings and ``HELP_KEYS`` of ``sources`` (widget
    or app classes), in their order; keys that do the same in the same place share a row."""
    rows: list[list[str]] = []
    for source in sources:
        entries = [(key, getattr(source, "HELP_WHERE", "") or "anywhere", does)
                   for key, does in getattr(source, "HELP_KEYS", ())]
        for binding in Binding.make_bindings(source.__dict__.get("BINDINGS", ())):
            does = binding.tooltip or binding.description
            if does:
                entries.append((key_name(binding.key), where_of(source, binding), does))
        for key, where, does in entries:
            same = next((r for r in rows if r[1] == where and r[2] == does), None)
            if same is not None:
                same[0] += f", {key}"
            else:
                rows.append([key, where, does])
    return [tuple(r) for r in rows]
