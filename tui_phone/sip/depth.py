"""What every desk phone does, as the engine's collaborators (owner thread
only): 3xx redirects, the far end's Reason and message waiting (``Depth``),
do not disturb / forwarding / auto-answer (``Rules``) and call recording
(``Recordings``). The pure parts live in callrules, headers, mwi,
recording and redirect; the 501 module in unknown.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import pjsua2 as pj

from ..commands import ConnectCall, Result
from ..events import CallRedirected, CallState, Log, RemoteReason
from ..events import Recording as RecordingEvent
from ..uri import parse_remote, who
from .calls import target_uri
from .callrules import intercom, same_host, screen
from .headers import contact_for, reason_text
from .mwi import parse_summary
from .recording import CallRecorders, file_name, private_file, recordings_dir
from .redirect import refuse

if TYPE_CHECKING:
    from .calls import SipCall
    from .pjsua2_engine import PjEngine


def _rx_msg(prm) -> str:
    """The received message behind a call/account event, or ""."""
    e = prm.e
    if e.type == pj.PJSIP_EVENT_TSX_STATE and e.body.tsxState.type == pj.PJSIP_EVENT_RX_MSG:
        return e.body.tsxState.src.rdata.wholeMsg
    if e.type == pj.PJSIP_EVENT_RX_MSG:
        return e.body.rxMsg.rdata.wholeMsg
    return ""


class _Part:
    def __init__(self, engine: "PjEngine"):
        self.engine = engine

    def _log(self, level: str, text: str) -> None:
        self.engine.emit(Log(level, text, time.time()))


class Depth(_Part):
    """3xx redirects, the far end's Reason header, message-waiting NOTIFYs."""

    def remote_reason(self, call: "SipCall", prm) -> None:
        msg = _rx_msg(prm)
        text = reason_text(msg) if msg else ""
        if text and text != call.reason_remote:
            call.reason_remote = text
            self.engine.emit(RemoteReason(call.cid, text))

    def redirected(self, call: "SipCall", prm) -> int:
        """Follow a 3xx Contact unless it loops, is one hop too many, or the dial
        policy wants a confirmation (then a new call is offered, asked like a link)."""
        target = contact_for(prm.targetUri.strip("<>"), _rx_msg(prm))
        if not call.visited:
            call.visited = [call.getInfo().remoteUri]
        why, ask = refuse(call.visited, target, self.engine.config)
        if why:
            self.engine.emit(CallRedirected(call.cid, target, why, ask))
            self._log("warning", f"call {call.cid}: redirect to {target} {why}")
            return pj.PJSIP_REDIRECT_STOP
        call.visited.append(target)
        self.engine.emit(CallRedirected(call.cid, target))
        self._log("info", f"call {call.cid}: redirected to {target}")
        return pj.PJSIP_REDIRECT_ACCEPT_REPLACE

    def mwi(self, acc, prm) -> None:
        """A message summary. Anyone can send an unsolicited NOTIFY, so the
        voicemail address in it (what ``v`` dials) is taken only from the
        account's own registrar or proxy; the counts are shown from anyone."""
        from dataclasses import replace

        vm = parse_summary(acc.cfg.name, prm.rdata.wholeMsg.partition("\r\n\r\n")[2])
        if vm is None:
            return
        server = acc.cfg.proxy or acc.cfg.registrar
        if vm.uri and not (server and same_host(prm.rdata.srcAddress, server)):
            vm = replace(vm, uri="")
        self.engine.emit(vm)


class Rules(_Part):
    """Do not disturb, forwarding (always, busy, no answer), auto-answer and the ring timeout."""

    def screen(self, acc, call: "SipCall") -> bool:
        """Act on an incoming call before it rings; True when it was turned away."""
        e = self.engine
        busy = any(c is not call and c.last in (CallState.CONNECTED, CallState.HOLDING, CallState.HELD)
                   for c in e.calls)
        rule = screen(e.config, e.presence.chosen, busy)
        if rule.action == "reject":
            op = pj.CallOpParam()
            op.statusCode = rule.code
            call.hangup(op)
            self._log("info", f"call {call.cid}: rejected with {rule.code} ({rule.why})")
            return True
        if rule.action == "forward":
            self.forward(acc, call, rule.target, rule.why)
            return True
        return False

    def forward(self, acc, call: "SipCall", target: str, why: str) -> None:
        uri = target_uri(target, acc.cfg)
        op = pj.CallOpParam()
        op.statusCode = 302
        h = pj.SipHeader()
        h.hName, h.hValue = "Contact", f"<{uri}>"
        op.txOption.headers.append(h)
        self.engine.emit(CallRedirected(call.cid, uri))
        call.answer(op)  # a final 3xx; hangup() would send pjsua's own Contact instead of ours
        self._log("info", f"call {call.cid}: forwarded to {uri} ({why})")

    def schedule(self, acc, call: "SipCall", prm) -> None:
        """After the 180: answer now (intercom from the registrar), answer after
        ``auto_after`` s, or forward after ``noanswer_after`` s."""
        answer, fwd = self.engine.config.answer, self.engine.config.forward
        now = time.monotonic()
        server = acc.cfg.proxy or acc.cfg.registrar
        if answer["intercom"] and intercom(prm.rdata.wholeMsg) and same_host(prm.rdata.srcAddress, server):
            call.due, call.due_action = now, "answer"
        elif answer["auto"]:
            call.due, call.due_action = now + answer["auto_after"], "answer"
        elif fwd["noanswer"]:
            call.due, call.due_action = now + fwd["noanswer_after"], "forward"
        elif answer["ring_timeout"]:  # nobody rings forever: four callers that never give up would fill the phone
            call.due, call.due_action = now + answer["ring_timeout"], "timeout"

    def tick(self) -> None:
        """Run the timed actions that are due."""
        e, now = self.engine, time.monotonic()
        for call in e.calls:
            if not call.due or now < call.due or call.last is None:  # None: its 180 is not out yet
                continue
            action, call.due = call.due_action, 0.0
            if call.answered or call.last is not CallState.ALERTING:
                continue
            if action == "answer":
                self._log("info", f"call {call.cid}: answered automatically")
                e._execute(ConnectCall(call.cid))
            elif action == "timeout":
                self._log("info", f"call {call.cid}: not answered within {e.config.answer['ring_timeout']} s")
                op = pj.CallOpParam()
                op.statusCode = 408  # Request Timeout: a missed call (480 is what dnd rejects with)
                call.hangup(op)
            else:
                acc = e._accounts[e.calls.account_name(call)]
                self.forward(acc, call, e.config.forward["noanswer"], "forward on no answer")


class Recordings(_Part):
    """Each call's WAV recorder (``[recording]``), on demand or automatic."""

    def __init__(self, engine: "PjEngine"):
        super().__init__(engine)
        self.recorders = CallRecorders()

    def record(self, call: "SipCall", on: bool) -> Result:
        if not on:
            self.stop(call)
            return Result(True, call.cid)
        if not call.confirmed():
            return Result.fail("recording needs a connected call", "conflict")
        self._start(call)
        self.engine.calls.media_changed(call)  # connect its audio to the recorder
        return Result(True, call.cid)

    def _start(self, call: "SipCall") -> None:
        if self.recorders.path(call.cid):
            return
        info = call.getInfo()
        _, num, _ = parse_remote(info.remoteUri)
        path = private_file(recordings_dir(self.engine.config.recording["dir"]), file_name(time.time(), call.dir, num or who(info.remoteUri)))
        self.recorders.start(call.cid, path)
        self.engine.emit(RecordingEvent(call.cid, str(path)))
        self._log("info", f"call {call.cid}: recording to {path}")

    def stop(self, call: "SipCall") -> None:
        """Close the call's WAV (if any); the model keeps the file, no longer ● REC."""
        path = self.recorders.stop(call.cid)
        if path:
            self.engine.emit(RecordingEvent(call.cid, path, False))

    def media(self, call: "SipCall", aud, mic) -> None:
        answered = (pj.PJSIP_INV_STATE_CONNECTING, pj.PJSIP_INV_STATE_CONFIRMED)
        if self.engine.config.recording["auto"] and call.getInfo().state in answered:
            self._start(call)
        self.recorders.connect(call.cid, aud, mic)

    def close(self) -> None:
        self.recorders.close()
