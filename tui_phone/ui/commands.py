"""Command palette (Ctrl+P): every phone action, plus “Call …” for a
number or SIP URI typed into the palette."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

ACTIONS = (
    ("Answer", "answer", "answer the ringing call"),
    ("Hang up", "hangup", "end the current call"),
    ("Reject", "reject", "reject the ringing call with 486 Busy Here"),
    ("Hold / retrieve", "hold", "put the selected call on hold, or take it back"),
    ("Transfer…", "transfer", "blind-transfer the selected call (REFER)"),
    ("Attended transfer", "attended", "connect the held caller to the consultation call"),
    ("Send DTMF…", "dtmf", "send digits to the connected call"),
    ("Conference", "conference", "merge the held and active calls"),
    ("Split conference", "split", "keep the selected call, hold the others"),
    ("New message…", "new_message", "send a text message (SIP MESSAGE)"),
    ("Set status: toggle available / unavailable", "toggle_status", "your presence for the team"),
    ("Show contacts", "contacts", "external and team contacts"),
    ("Show team", "team", "who is available"),
    ("Show history", "history", "every call; missed ones first with m"),
    ("Show messages", "messages", "conversations"),
    ("Toggle log", "toggle_log", "show or hide the log pane"),
    ("Keys", "help", "every key binding"),
    ("Quit", "quit", "hang up and leave"),
)


class PhoneCommands(Provider):
    async def discover(self) -> Hits:
        for title, action, help in ACTIONS:
            yield DiscoveryHit(title, partial(self.app.run_action, action), help=help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, action, help in ACTIONS:
            if (score := matcher.match(title)) > 0:
                yield Hit(score, matcher.highlight(title), partial(self.app.run_action, action), help=help)
        text = query.strip()
        if text and (any(c.isdigit() for c in text) or "@" in text or text.startswith("sip")):
            yield Hit(1.0, f"Call {text}", partial(self.app.dial, text), help="dial it now")
