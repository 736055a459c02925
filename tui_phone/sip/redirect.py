"""Following 3xx redirects (RFC 3261 §8.1.3.4): at most ``MAX_HOPS`` per call,
never the same target twice, each target judged by the dial policy as if it
came from outside (a redirect to a premium or emergency number asks first).
"""

from __future__ import annotations

from dataclasses import replace

from ..config import Config
from ..uri import SipUri

MAX_HOPS = 5


def judge(target: str, config: Config) -> str | None:
    """Why ``target`` needs the user's confirmation, or None (the dial policy, as for any outside source)."""
    from ..commands import Source
    from ..policy import judge as policy_judge

    return policy_judge(target, Source.REDIRECT, config)


def _key(uri: str) -> str:
    """A target without its parameters, lower-cased: the identity a loop repeats."""
    try:
        return str(replace(SipUri.parse(uri.strip("<>")), params=())).lower()
    except ValueError:
        return uri.lower()


def refuse(visited: list[str], target: str, config: Config) -> tuple[str | None, bool]:
    """(why the redirect to ``target`` is not followed automatically, or None;
    whether the user may still be asked to dial it).

    ``visited`` holds the call's original target and every target followed.
    """
    if len(visited) > MAX_HOPS:
        return f"not followed: more than {MAX_HOPS} redirects", False
    if _key(target) in {_key(v) for v in visited}:
        return "not followed: it loops back to an earlier target", False
    why = judge(target, config)
    return (f"needs confirmation: {why}", True) if why else (None, False)
