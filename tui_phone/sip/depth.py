"""What every desk phone does, on top of PjEngine: 3xx redirects, 501 for
unknown methods, the far end's Reason, message waiting, call recording, do
not disturb / forwarding / auto-answer, codec order. A mixin so the engine's
own call flow stays as it was: it calls these hooks, all on the owner thread.
"""

from __future__ import annotations

import time

import pjsua2 as pj

from ..commands import ConnectCall, Record, Result
from . import codecs
from .callrules import intercom, same_host, screen
from ..events import CallRedirected, CallState, Log, Recording, RemoteReason
from ..uri import parse_remote
from .headers import contact_for, reason_text
from .mwi import parse_summary
from .recording import CallRecorders, file_name, private_file, recordings_dir
from .redirect import refuse


def _rx_msg(prm) -> str:
    """The received message behind a call/account event, or ""."""
    e = prm.e
    if e.type == pj.PJSIP_EVENT_TSX_STATE and e.body.tsxState.type == pj.PJSIP_EVENT_RX_MSG:
        return e.body.tsxState.src.rdata.wholeMsg
    if e.type == pj.PJSIP_EVENT_RX_MSG:
        return e.body.rxMsg.rdata.wholeMsg
    return ""


class SipDepth:
    """Mixed into PjEngine (which provides ep, config, emit, _calls, _accounts, …)."""

    def _init_depth(self) -> None:
        from .unknown import UnknownMethods

        self._recorders = CallRecorders()
        self._unknown = UnknownMethods(
            lambda method, code: self._log("info", f"answered a {method} request with {code}"
                                               f"{' (unknown method)' if code == 501 else ''}"))
        codecs.apply(self.ep, self.config.audio["codecs"])

    def _log(self, level: str, text: str) -> None:
        self.emit(Log(level, text, time.time()))

    # ----- the far end's Reason -------------------------------------------------
    def _remote_reason(self, call, prm) -> None:
        msg = _rx_msg(prm)
        text = reason_text(msg) if msg else ""
        if text and text != call.reason_remote:
            call.reason_remote = text
            self.emit(RemoteReason(call.cid, text))

    # ----- 3xx ------------------------------------------------------------------
    def _redirected(self, call, prm) -> int:
        """Follow a 3xx Contact unless it loops, is one hop too many, or the dial
        policy wants a confirmation (then a new call is offered, asked like a link)."""
        target = contact_for(prm.targetUri.strip("<>"), _rx_msg(prm))
        if not call.visited:
            call.visited = [call.getInfo().remoteUri]
        why, ask = refuse(call.visited, target, self.config)
        if why:
            self.emit(CallRedirected(call.cid, target, why, ask))
            self._log("warning", f"call {call.cid}: redirect to {target} {why}")
            return pj.PJSIP_REDIRECT_STOP
        call.visited.append(target)
        self.emit(CallRedirected(call.cid, target))
        self._log("info", f"call {call.cid}: redirected to {target}")
        return pj.PJSIP_REDIRECT_ACCEPT_REPLACE

    # ----- message waiting ------------------------------------------------------
    def _mwi(self, acc, prm) -> None:
        msg = prm.rdata.wholeMsg
        vm = parse_summary(acc.cfg.name, msg.partition("\r\n\r\n")[2])
        if vm is not None:
            self.emit(vm)

    # ----- DND, forwarding, auto-answer -----------------------------------------
    def _screen(self, acc, call, prm) -> bool:
        """Act on an incoming call before it rings; True when it was turned away."""
        busy = any(c is not call and c.last in (CallState.CONNECTED, CallState.HOLDING, CallState.HELD)
                   for c in self._calls.values())
        rule = screen(self.config, self._chosen, busy)
        if rule.action == "reject":
            op = pj.CallOpParam()
            op.statusCode = rule.code
            call.hangup(op)
            self._log("info", f"call {call.cid}: rejected with {rule.code} ({rule.why})")
            return True
        if rule.action == "forward":
            self._forward(acc, call, rule.target, rule.why)
            return True
        return False

    def _forward(self, acc, call, target: str, why: str) -> None:
        from .pjsua2_engine import target_uri  # here: pjsua2_engine imports this module

        uri = target_uri(target, acc.cfg)
        op = pj.CallOpParam()
        op.statusCode = 302
        h = pj.SipHeader()
        h.hName, h.hValue = "Contact", f"<{uri}>"
        op.txOption.headers.append(h)
        self.emit(CallRedirected(call.cid, uri))
        call.answer(op)  # a final 3xx; hangup() would send pjsua's own Contact instead of ours
        self._log("info", f"call {call.cid}: forwarded to {uri} ({why})")

    def _schedule(self, acc, call, prm) -> None:
        """After the 180: answer now (intercom from the registrar), answer after
        ``auto_after`` s, or forward after ``noanswer_after`` s."""
        answer, fwd = self.config.answer, self.config.forward
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

    def _call_timers(self) -> None:
        now = time.monotonic()
        for call in list(self._calls.values()):
            if not call.due or now < call.due or call.last is None:  # None: its 180 is not out yet
                continue
            action, call.due = call.due_action, 0.0
            if call.answered or call.last is not CallState.ALERTING:
                continue
            if action == "answer":
                self._log("info", f"call {call.cid}: answered automatically")
                self._execute(ConnectCall(call.cid))
            elif action == "timeout":
                self._log("info", f"call {call.cid}: not answered within {self.config.answer['ring_timeout']} s")
                op = pj.CallOpParam()
                op.statusCode = 408  # Request Timeout: a missed call (480 is what dnd rejects with)
                call.hangup(op)
            else:
                acc = self._accounts[self._account_of(call)]
                self._forward(acc, call, self.config.forward["noanswer"], "forward on no answer")

    # ----- recording ------------------------------------------------------------
    def _record(self, cid: int | None, on: bool) -> Result:
        call = self._find(Record(cid, on))
        if call is None:
            return Result.fail(f"no call with id {cid}" if cid is not None else "no active call", "not_found")
        if not on:
            self._stop_recording(call)
            return Result(True, call.cid)
        if call.getInfo().state != pj.PJSIP_INV_STATE_CONFIRMED:
            return Result.fail("recording needs a connected call", "conflict")
        self._start_recording(call)
        self._media_state(call)  # connect its audio to the recorder
        return Result(True, call.cid)

    def _start_recording(self, call) -> None:
        if self._recorders.path(call.cid):
            return
        info = call.getInfo()
        _, num, _ = parse_remote(info.remoteUri)
        who = num or info.remoteUri.split(":", 1)[-1].split("@", 1)[0].strip("<>\"")
        path = private_file(recordings_dir(self.config.recording["dir"]), file_name(time.time(), call.dir, who))
        self._recorders.start(call.cid, path)
        self.emit(Recording(call.cid, str(path)))
        self._log("info", f"call {call.cid}: recording to {path}")

    def _stop_recording(self, call) -> None:
        """Close the call's WAV (if any); the model keeps the file, no longer ● REC."""
        path = self._recorders.stop(call.cid)
        if path:
            self.emit(Recording(call.cid, path, False))

    def _record_media(self, call, aud, mic) -> None:
        answered = (pj.PJSIP_INV_STATE_CONNECTING, pj.PJSIP_INV_STATE_CONFIRMED)
        if self.config.recording["auto"] and call.getInfo().state in answered:
            self._start_recording(call)
        self._recorders.connect(call.cid, aud, mic)
