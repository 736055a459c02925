"""Codec order from ``[audio] codecs``: the named ones first, in order; every
other codec disabled (priority 0). An empty list keeps pjsua's defaults."""

from __future__ import annotations

from ..config import codec_ids


def priorities(wanted: list[str], available: list[str]) -> dict[str, int]:
    """codec id → pjsua priority (255 for the first named, down; 0 = disabled)."""
    if not wanted:
        return {}
    order: list[str] = []
    for name in wanted:
        order += [c for c in codec_ids(name, available) if c not in order]
    return {c: (255 - order.index(c) if c in order else 0) for c in available}


def apply(ep, wanted: list[str]) -> None:
    """Set the priorities on a started Endpoint (owner thread)."""
    available = [ci.codecId for ci in ep.codecEnum2()]
    for codec, prio in priorities(wanted, available).items():
        ep.codecSetPriority(codec, prio)


def available(ep) -> list[str]:
    return [ci.codecId for ci in ep.codecEnum2()]
