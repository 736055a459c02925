"""What the keys and widgets do to calls: dial, answer, hang up, hold,
transfer, DTMF, mute, record, conference. A mixin of ``app.TuiPhoneApp``:
every action becomes a Command for the Phone (``run_command``); which call
it acts on is the one under the cursor, else ``store.resolve`` picks.

Message handlers here use Textual's naming convention (``on_call_requested``):
``@on`` only registers on Textual's own classes, not on a plain mixin."""

from __future__ import annotations

import re

from ..commands import (
    CallVoicemail,
    Conference,
    ConnectCall,
    DisconnectCall,
    Dtmf,
    Hold,
    Mute,
    Record,
    Result,
    Retrieve,
    SetAudio,
    Split,
    StartCall,
    Transfer,
)
from ..events import CallState
from ..store import resolve
from .contacts import call_contact
from .dialogs import Prompt
from .intents import CallRequested, ContactCallRequested, DevicePicked, DtmfTyped
from .panes import CallList, DialPad

NAME = re.compile(r"[^\W\d_][\w.'-]*(?: [\w.'-]+)*")  # a word or a name: starts with a letter


class CallActions:
    """Call keys and call intents, for the app (which has ``state``, ``config``,
    ``directory``, ``run_command``, ``notify`` and ``show_tab``)."""

    async def on_call_requested(self, message: CallRequested) -> None:
        await self.dial(message.target)

    async def on_contact_call_requested(self, message: ContactCallRequested) -> None:
        await call_contact(self, *message.contacts)

    async def on_dtmf_typed(self, message: DtmfTyped) -> None:
        await self.send_dtmf(message.digits)

    async def on_device_picked(self, message: DevicePicked) -> None:
        command = SetAudio(input=message.name) if message.microphone else SetAudio(output=message.name)
        message.done(await self.run_command(command))

    async def dial(self, text: str) -> None:
        """Dial what the user typed (dialpad or palette): never policy-checked.
        A name (``bob``, ``Ada Lovelace``) calls the contact it matches;
        a single word that matches none dials ``sip:word@<account domain>``."""
        from ..links import LinkError, parse_dial_string

        try:
            link = parse_dial_string(text, self.config.numbers["default_region"])
        except LinkError as e:
            if NAME.fullmatch(text.strip()):
                await self.dial_name(text.strip())
            else:
                self.notify(f"cannot dial: {e}", severity="error")
            return
        result = await self.run_command(StartCall(link.uri or link.number, dtmf=link.ext))
        if result.ok:
            self.query_one(DialPad).input.value = ""
            self.show_tab("calls-tab")
            self.query_one(CallList).focus()
            if result.id is not None:
                self.query_one(CallList).select(result.id)

    async def dial_name(self, name: str) -> None:
        """Call the contact whose name matches (the picker asks which number when
        there are several); an unknown single word is a SIP user at the account's domain."""
        key = name.casefold()
        try:
            found = await self.directory.search(name, True, 50)
        except Exception as e:  # noqa: BLE001 - a broken database still lets a SIP name be dialled
            self.log_line("warning", f"contacts: {e}")
            found = []
        matches = [c for c in found if key in c.name.casefold() and (c.numbers or c.sip_uri)]
        exact = [c for c in matches if c.name.casefold() == key or key in c.name.casefold().split()]
        matches = exact or matches
        if matches:
            await call_contact(self, *matches)
        elif " " in name:
            self.notify(f"no contact named {name!r}", severity="error")
        else:
            from ..uri import SipUri

            await self.dial(f"sip:{name}@{SipUri.parse(self.config.accounts[0].uri).host_port}")

    def _selected(self) -> int | None:
        cid = self.query_one(CallList).selected_id()
        return cid if cid is not None and self.state.call(cid) else None

    async def action_answer(self) -> None:
        cid = self._selected()
        call = self.state.call(cid) if cid else None
        await self.run_command(ConnectCall(cid if call and call.dir == "i" else None))

    async def action_hangup(self) -> None:
        await self.run_command(DisconnectCall(self._selected()))

    async def action_reject(self) -> None:
        alerting = self.state.alerting()
        cid = self._selected()
        if cid is None and alerting is not None:
            cid = alerting.id
        await self.run_command(DisconnectCall(cid))

    def _selected_in(self, *states: CallState) -> int | None:
        """The call under the cursor when it is in one of ``states``; else None
        (the phone then picks the call by its one rule, store.resolve)."""
        call = self.state.call(self._selected() or 0)
        return call.id if call is not None and call.state in states else None

    async def action_hold(self) -> None:
        held = self._selected_in(CallState.HOLDING)
        if held is not None:
            await self.run_command(Retrieve(held))
        else:
            await self.run_command(Hold(self._selected_in(CallState.CONNECTED, CallState.HELD)))

    async def action_transfer(self) -> None:
        picked = resolve(self.state, Transfer("-", self._selected_in(CallState.CONNECTED, CallState.HELD)))
        if isinstance(picked, Result):
            self.notify(picked.error or "no call to transfer", severity="warning")
            return
        call = self.state.call(picked.id)

        async def to(target: str | None) -> None:
            if target:
                await self.run_command(Transfer(target, call.id))

        self.push_screen(Prompt(f"Transfer call {call.id} ({call.who}) to:", "number or sip:uri"), to)

    async def action_attended(self) -> None:
        """Connect the held caller to the consultation call (REFER with Replaces)."""
        held = [c for c in self.state.calls if c.state is CallState.HOLDING]
        active = [c for c in self.state.calls if c.state is CallState.CONNECTED]
        if len(held) != 1 or len(active) != 1:
            self.notify("attended transfer needs one held call and one connected call", severity="warning")
            return
        await self.run_command(Transfer("", held[0].id, replaces=active[0].id))

    async def action_mute(self) -> None:
        if (await self.run_command(Mute(not self.state.audio.muted))).ok:
            self.notify("microphone muted" if self.state.audio.muted else "microphone on")

    async def action_record(self) -> None:
        """Start or stop recording the selected (or connected) call."""
        call = self.state.call(self._selected() or 0) or self.state.current()
        if call is None:
            self.notify("no call to record", severity="warning")
            return
        if (await self.run_command(Record(call.id, not call.recording))).ok:
            self.notify("recording stopped" if call.recording else "recording (both sides, to a WAV file)")

    async def action_voicemail(self) -> None:
        await self.run_command(CallVoicemail())

    async def action_conference(self) -> None:
        await self.run_command(Conference())

    async def action_split(self) -> None:
        await self.run_command(Split(self._selected()))

    async def action_dtmf(self) -> None:
        async def send(digits: str | None) -> None:
            if digits:
                await self.send_dtmf(digits)

        self.push_screen(Prompt("Send DTMF digits:", "0-9 * # A-D"), send)

    async def send_dtmf(self, digits: str) -> None:
        """Digits for the connected call (``Dtmf`` checks them, ``store.resolve`` picks the call)."""
        try:
            command = Dtmf(digits, self._selected_in(CallState.CONNECTED))
        except ValueError as e:
            self.notify(f"DTMF {e}", severity="error")
            return
        await self.run_command(command)
