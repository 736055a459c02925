"""Secrets never reach a sink: the one masking function used for the log
pane, stderr (``--headless``), the debug log files and the HTTP listener's
refusal lines. Stdlib only."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import quote

MASK = "********"


def secrets_of(config) -> list[str]:
    """What must never be shown: account passwords and the HTTP token, also
    as they look percent-encoded in a URL; longest first."""
    found = [a.password for a in config.accounts] + [config.http.get("token", "")]
    found = [s for s in found if len(s) >= 3]
    variants = found + [quote(s, safe="") for s in found] + [quote(s) for s in found]
    return sorted(set(variants), key=len, reverse=True)


def mask(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret replaced by ``MASK``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, MASK)
    return text
