"""The dial policy for calls that do not come from the keyboard.

Links, the socket and the HTTP listener pass here; keyboard dialling never
does. A target that matches ``policy.confirm_patterns`` (regexes on the
E.164 number) or is an emergency number needs the user's confirmation.
"""

from __future__ import annotations

from . import numbers
from .config import Config


def needs_confirmation(target: str, config: Config) -> str | None:
    """Why ``target`` must be confirmed by the user, or None to dial at once."""
    if target.startswith(("sip:", "sips:")):
        from urllib.parse import unquote

        user = unquote(target.split(":", 1)[1].split("@", 1)[0].split(";", 1)[0])
        try:
            target = numbers.dialable(user)
        except ValueError:
            return None  # a named SIP user (alice): no number to judge
        if not target:
            return None
    region = config.numbers["default_region"]
    candidates = [target]
    prefix = config.numbers["external_prefix"]
    if prefix and target.startswith(prefix) and len(target) > len(prefix):
        candidates.append(target[len(prefix):])  # judged as dialled, and without the line prefix
    for number in candidates:
        if numbers.is_emergency(number, region):
            return f"{number} is an emergency number"
        e164 = numbers.normalize(number, region)
        if numbers.matches_confirm(e164, config.policy["confirm_patterns"]):
            return f"{e164} matches the confirmation list (premium-rate or international)"
    return None
