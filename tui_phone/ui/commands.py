"""Command palette (Ctrl+P): every phone action, “Call …” for a number or
SIP URI typed into the palette, and “Call <name>” for the contacts whose
name matches."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.content import Content

ACTIONS = (
    ("Answer", "answer", "answer the ringing call"),
    ("Hang up", "hangup", "end the current call"),
    ("Reject", "reject", "reject the ringing call with 486 Busy Here"),
    ("Hold / retrieve", "hold", "put the selected call on hold, or take it back"),
    ("Transfer…", "transfer", "blind-transfer the selected call (REFER)"),
    ("Attended transfer", "attended", "connect the held caller to the consultation call"),
    ("Send DTMF…", "dtmf", "send digits to the connected call"),
    ("Mute / unmute microphone", "mute", "stop or resume sending your voice"),
    ("Audio devices…", "audio_devices", "pick the microphone and speaker, during a call too"),
    ("Record / stop recording", "record", "record the selected call, both sides, to a WAV file (R)"),
    ("Call voicemail", "voicemail", "dial the account's voicemail (v)"),
    ("Conference", "conference", "merge the held and active calls"),
    ("Split conference", "split", "keep the selected call, hold the others"),
    ("New message…", "new_message", "send a text message (SIP MESSAGE)"),
    ("Set status: available", "set_status('available')", "your presence for the team"),
    ("Set status: unavailable", "set_status('unavailable')", "your presence for the team"),
    ("Set status: do not disturb", "set_status('dnd')", "calls are turned away (486, or [answer] dnd_code)"),
    ("Switch theme…", "change_theme", "pick a theme; the choice is saved to the config"),
    ("Import contacts…", "import_contacts", "add the contacts of a vCard (.vcf) file"),
    ("Sync contacts", "sync_contacts", "sync with the [[addressbooks]] (CardDAV) now"),
    ("Show contacts", "contacts", "external and team contacts"),
    ("Show team", "team", "who is available"),
    ("Show history", "history", "every call; missed ones first with m"),
    ("Show messages", "messages", "conversations"),
    ("Open log", "open_log", "errors and SIP events, focused to scroll"),
    ("Toggle log", "toggle_log", "show or hide the log pane"),
    ("Keys", "help", "every key binding"),
    ("Quit", "quit", "hang up and leave"),
)
CONTACT_HITS = 8
CONTACTS_READ = 5000  # contacts read when the palette opens; names are then matched in memory


class PhoneCommands(Provider):
    contacts: list = []

    async def startup(self) -> None:
        """Read the callable contacts once per palette opening, in a thread:
        matching a name is then instant on every keystroke (a broken database
        just finds nobody)."""
        try:
            found = await self.app.directory.search("", True, CONTACTS_READ)
        except Exception:  # noqa: BLE001 - the palette must keep working without contacts
            found = []
        self.contacts = [c for c in found if c.numbers or c.sip_uri]

    async def discover(self) -> Hits:
        for title, action, help in ACTIONS:
            yield DiscoveryHit(title, partial(self.app.run_action, action), help=help)

    async def search(self, query: str) -> Hits:
        from .contacts import call_contact, numbers_text

        matcher = self.matcher(query)
        for title, action, help in ACTIONS:
            if (score := matcher.match(title)) > 0:
                yield Hit(score, matcher.highlight(title), partial(self.app.run_action, action), help=help)
        text = query.strip()
        if text and (any(c.isdigit() for c in text) or "@" in text or text.startswith("sip")):
            yield Hit(1.0, f"Call {text}", partial(self.app.dial, text), help="dial it now")
        name = text[5:].strip() if text.lower().startswith("call ") else text
        if len(name) >= 2 and any(c.isalpha() for c in name):
            by_name = self.matcher(name)
            scored = sorted(((by_name.match(c.name), c) for c in self.contacts), key=lambda sc: -sc[0])
            for score, contact in scored[:CONTACT_HITS]:
                if score > 0:
                    yield Hit(score, Content("Call ") + by_name.highlight(contact.name),
                              partial(call_contact, self.app, contact), help=numbers_text(contact) or contact.sip_uri)
