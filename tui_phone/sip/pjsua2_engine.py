"""The pjsua2 engine: one owner thread does every pjsua2 call.

Facts this relies on (shared/PEERS.md §5): pjsua2 aborts when called from an
unregistered thread, so the owner thread runs ``libHandleEvents(10)`` with
``threadCnt=0, mainThreadOnly=True`` and drains a command queue; the wheel
has no sound device (``setNullDev``); a ``Call`` alive after ``libDestroy``
aborts at GC, so every reference is dropped before it; the un-REGISTER
needs events pumped after ``Account.shutdown()``; SIP and RTP bind to the
configured address; VAD is off so RTP flows steadily; ``libCreate`` prints
a banner to fd 1, which is silenced.
"""

from __future__ import annotations

import contextlib
import gc
from collections import deque
import itertools
import os
import queue
import re
import socket
import threading
import time
from dataclasses import replace
from concurrent.futures import Future

import pjsua2 as pj

from ..commands import (
    STATUSES,
    Command,
    ConnectCall,
    DisconnectCall,
    Dtmf,
    Hold,
    Result,
    Retrieve,
    Conference,
    Mute,
    Record,
    SendSms,
    SetAudio,
    SetStatus,
    Split,
    StartCall,
    Transfer,
    Watch,
)
from ..config import MAX_CALLS, AccountConfig, Config, ConfigError, password_for
from . import errors, pjmodule
from .depth import SipDepth
from .capacity import RETRY_AFTER, Capacity
from ..events import (
    AudioState,
    CallAdded,
    CallEnded,
    CallProgress,
    CallRedirected,
    CallRemoved,
    CallState,
    CallTurnedAway,
    ConferenceSet,
    Log,
    Message,
    OwnStatus,
    Presence,
    Recording,
    RegState,
    RemoteReason,
)
from .engine import Emit, Engine
from .pidf import parse_pidf, presence_status
from ..uri import callback_target, parse_remote

TRANSPORTS = {"udp": pj.PJSIP_TRANSPORT_UDP, "tcp": pj.PJSIP_TRANSPORT_TCP, "tls": pj.PJSIP_TRANSPORT_TLS}
SRTP = {"off": pj.PJMEDIA_SRTP_DISABLED, "optional": pj.PJMEDIA_SRTP_OPTIONAL,
        "mandatory": pj.PJMEDIA_SRTP_MANDATORY}
EARLY_STATES = {180: CallState.RINGBACK, 183: CallState.RINGBACK, 182: CallState.QUEUED}
POST_DIAL_DELAY = 1.5  # seconds between answer and sending an extension as DTMF
SUBSCRIPTIONS_PER_HOUR = 200  # presence watchers from outside a dialog (each lives until it expires)
REJECT_CODE = 486  # Busy Here: lets other forked devices keep ringing
IDLE_WAIT_S = 1.0  # longest block in libHandleEvents: bounds jobs pjsua2 posts from other threads
CLOCK_LINGER_S = 1.0  # the media clock runs on this long after the last call (pending port removals)
BUSY_WAIT_S = 0.1  # the same with calls up (their RTP wakes the loop 50 times a second anyway)


def target_uri(target: str, account: AccountConfig) -> str:
    """The Request-URI for a number or URI dialled on ``account``.

    URIs pass through; ``user@host`` gets ``sip:``; a number goes to the
    proxy's host when the account has no registrar but a proxy, else to
    the host[:port] of the account's own URI (which is the registrar's
    domain for a registered account).
    """
    if target.startswith(("sip:", "sips:")):
        return target
    if "@" in target:
        return f"sip:{target}"
    host = _host(account.proxy if (account.proxy and not account.registrar) else account.uri)
    params = f";transport={account.transport}" if account.transport != "udp" else ""
    return f"sip:{target}@{host}{params}"


def _needs_srv(registrar: str) -> bool:
    """A registrar named by domain without a port is looked up with DNS SRV (RFC 3263)."""
    host = _host(registrar) if registrar else ""
    return bool(host) and ":" not in host and not host.replace(".", "").isdigit() and host != "localhost"


def _nameservers(path: str = "/etc/resolv.conf") -> list[str]:
    try:
        with open(path) as f:
            return [line.split()[1] for line in f if line.startswith("nameserver") and len(line.split()) > 1][:3]
    except OSError:
        return []


def _host(uri: str) -> str:
    """host[:port] of a SIP URI."""
    return uri.split(":", 1)[1].split("@", 1)[-1].split(";", 1)[0].split("?", 1)[0]


def _with_transport(uri: str, transport: str) -> str:
    if not uri or transport == "udp" or ";transport=" in uri:
        return uri
    return f"{uri};transport={transport}"


class _Account(pj.Account):
    def __init__(self, engine: "PjEngine", cfg: AccountConfig):
        super().__init__()
        self.engine, self.cfg = engine, cfg

    def onRegState(self, prm):
        self.engine._guard(self._reg_state, prm)

    def _reg_state(self, prm):
        info = self.getInfo()
        ok = prm.code // 100 == 2 and info.regExpiresSec > 0
        self.engine.emit(RegState(self.cfg.name, ok, prm.code, prm.reason, info.regExpiresSec))

    def onIncomingCall(self, prm):
        self.engine._guard(self.engine._incoming, self, prm)

    def onInstantMessage(self, prm):
        self.engine._guard(self.engine._message_in, prm)

    def onInstantMessageStatus(self, prm):
        self.engine._guard(self.engine._message_status, prm)

    def onMwiInfo(self, prm):
        self.engine._guard(self.engine._mwi, self, prm)


class _Buddy(pj.Buddy):
    def __init__(self, engine: "PjEngine", uri: str):
        super().__init__()
        self.engine, self.uri = engine, uri

    def onBuddyState(self):
        """Unused: Buddy.getInfo() aborts pjsua2 2.15 (std::bad_alloc) when the
        PIDF carries a note, so NOTIFY bodies are parsed in onBuddyEvSubState."""

    def onBuddyEvSubState(self, prm):
        self.engine._guard(self.engine._buddy_event, self, prm)


# What we publish for each status: (PIDF basic open?, RPID activity, note).
PUBLISHED = {
    "available": (True, pj.PJRPID_ACTIVITY_UNKNOWN, "Available"),
    "unavailable": (True, pj.PJRPID_ACTIVITY_AWAY, "Unavailable"),
    "in-call": (True, pj.PJRPID_ACTIVITY_BUSY, "In call"),
    "dnd": (True, pj.PJRPID_ACTIVITY_BUSY, "Do not disturb"),
}


class _Call(pj.Call):
    def __init__(self, engine: "PjEngine", acc: _Account, cid: int, call_id=pj.PJSUA_INVALID_ID):
        super().__init__(acc, call_id)
        self.engine, self.cid, self.local_hold, self.dir = engine, cid, False, "o"
        self.added: CallAdded | None = None  # outgoing: emitted once the Call-ID is known
        self.last: CallState | None = None  # last state emitted, to skip repeats
        self.dtmf: str | None = None  # digits to send once connected (tel: ;ext=)
        self.dtmf_due = 0.0
        self.media_on = False  # audio flows (early media or connected): no generated ringback
        self.answered = False  # we sent 200 OK: no more ring while the ACK is on its way
        self.visited: list[str] = []  # the target dialled and every 3xx target followed
        self.reason_remote = ""  # the far end's last Reason header
        self.due, self.due_action = 0.0, ""  # a timed action while ringing: "answer" or "forward"

    def onCallState(self, prm):  # a final response to our INVITE arrives here only
        self.engine._guard(self.engine._remote_reason, self, prm)
        self.engine._guard(self.engine._call_state, self)

    def onCallTsxState(self, prm):  # requests in the call (BYE, CANCEL …)
        self.engine._guard(self.engine._remote_reason, self, prm)

    def onCallRedirected(self, prm):
        try:
            return self.engine._redirected(self, prm)
        except Exception as e:  # noqa: BLE001 - callbacks must not raise into C
            self.engine.emit(Log("error", f"SIP engine: {_error_text(e)}", time.time()))
            return pj.PJSIP_REDIRECT_STOP

    def onCallMediaState(self, prm):
        self.engine._guard(self.engine._media_state, self)

    def onCallTransferStatus(self, prm):
        self.engine._guard(self.engine._transfer_status, self, prm)

    def onCallTransferRequest(self, prm):
        self.engine._guard(self.engine._transfer_request, self, prm)

    def onCallReplaced(self, prm):
        self.engine._guard(self.engine._replaced, self, prm)

    def onDtmfDigit(self, prm):
        self.engine.emit(Log("info", f"call {self.cid}: DTMF {prm.digit} received", time.time()))


class PjEngine(Engine, SipDepth):
    """Engine on pjsua2. ``submit`` is thread-safe; everything else that
    touches pjsua2 runs on ``self._thread``."""

    def __init__(self, config: Config, log_path: str | None = None):
        self.config = config
        self.log_path = log_path
        self._q: queue.SimpleQueue = queue.SimpleQueue()
        self._stop = threading.Event()
        self._ready: Future = Future()
        self._ids = itertools.count(1)
        self._thread: threading.Thread | None = None
        self._accounts: dict[str, _Account] = {}
        self._calls: dict[int, _Call] = {}
        self._dead: list[_Call] = []
        self._buddies: dict[str, _Buddy] = {}
        self._im_buddies: dict[str, _Buddy] = {}  # unsubscribed buddies that carry MESSAGEs
        self._conf: set[int] = set()  # call ids in the local conference
        self._status_due = False
        self._pending_messages: list[tuple[str, str, str]] = []  # (uri, text, key) awaiting a status
        self._probes: dict = {}  # account name → RegistrarProbe (UDP registrars)
        self._audio = None
        self._audio_due = False  # the calls changed: recompute streams and tone
        self._audio_check_at = 0.0
        self._chosen = "available"  # the user's status; in-call overrides it while a call is live
        self._published = "available"
        self._recorders = None  # CallRecorders, created with the endpoint
        self._unknown = None  # the 501 module for unknown methods
        self.emit: Emit = lambda e: None
        self.local_address = ""  # host:port of the SIP transport, once started
        self._wake_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._wake_sock.setblocking(False)
        self._wake_to: tuple[str, int] | None = None
        self.ep = None
        self._capacity = Capacity(config.sip["max_calls"], 4 if any(a.ice for a in config.accounts) else 2)
        self._turned: deque[float] = deque()  # when calls were turned away (history lists the first few)
        self._turned_ids: deque[str] = deque(maxlen=256)
        self._subscriptions: deque[float] = deque()  # when SUBSCRIBEs from outside were let through  # Call-IDs answered already (retransmissions)
        self._shed_unlisted = 0
        self._shed_subscribes = 0
        self._sweep_at = 0.0

    # ----- public, any thread -------------------------------------------------
    def start(self, emit: Emit) -> None:
        self.emit = emit
        self._thread = threading.Thread(target=self._run, name="pjsua2-owner", daemon=True)
        self._thread.start()
        self._ready.result(timeout=15)

    def stop(self) -> None:
        if self._thread and self._thread.is_alive():
            self._stop.set()
            self._thread.join(15)

    def submit(self, command: Command) -> Future:
        fut: Future = Future()
        if not self._thread or not self._thread.is_alive():
            fut.set_result(Result.fail("the SIP engine is not running", "busy"))
            return fut
        self._q.put((command, fut))
        self._wake()
        return fut

    def _wake(self) -> None:
        """Wake the owner thread out of libHandleEvents at once: a CRLF
        keep-alive (RFC 5626 §4.4.1) to our own UDP transport, which pjsip
        ignores. Without it a command waits up to 10 ms for the poll."""
        if self._wake_to:
            try:
                self._wake_sock.sendto(b"\r\n\r\n", self._wake_to)
            except OSError:
                pass

    # ----- owner thread -------------------------------------------------------
    def _explain(self, e: Exception) -> tuple[str, str]:
        """(sentence, kind) for a failure; what pjsua said goes to the debug log only."""
        with contextlib.suppress(Exception):
            if self.ep is not None:
                self.ep.utilLogWrite(1, "tui-phone", errors.detail(e))
        if isinstance(e, pj.Error):
            return errors.explain(e)
        if isinstance(e, (RuntimeError, ConfigError)) and str(e):
            return str(e), "failed"  # our own sentences (a TLS file missing, password_command failing)
        return "the phone could not do that (an internal error; run with --debug for details)", "failed"

    def _guard(self, fn, *args):
        """Run a callback body; an exception becomes a log line, never a crash."""
        try:
            fn(*args)
        except Exception as e:  # noqa: BLE001 - callbacks must not raise into C
            self.emit(Log("error", f"SIP engine: {self._explain(e)[0]}", time.time()))

    def _run(self) -> None:
        try:
            self._init()
        except Exception as e:  # noqa: BLE001
            self._ready.set_exception(RuntimeError(f"SIP engine failed to start: {self._explain(e)[0]}"))
            self._destroy()
            return
        self._ready.set_result(True)
        ep = self.ep
        self._clock_on, self._clock_until = True, 0.0  # _init started the null sound device
        while not self._stop.is_set():
            ep.libHandleEvents(self._wait_ms())
            self._dead.clear()
            self._guard(self._media_clock)
            if time.monotonic() >= self._sweep_at:
                self._sweep_at = time.monotonic() + 1.0
                self._guard(self._sweep)
                self._guard(self._report_shed)
            self._post_dial()
            self._probe_registrars()
            self._guard(self._audio_tick)
            self._guard(self._call_timers)
            if self._status_due:
                self._status_due = False
                self._guard(self._auto_status)
            while True:
                try:
                    command, fut = self._q.get_nowait()
                except queue.Empty:
                    break
                try:
                    fut.set_result(self._execute(command))
                except Exception as e:  # noqa: BLE001
                    fut.set_result(Result.fail(*self._explain(e)))
                command = fut = None  # never keep pj objects alive in this frame
        self._teardown()
        self._destroy()

    def _wait_ms(self) -> int:
        """How long the loop may block in pjsua's event wait: until the next
        thing it polls for is due. SIP and RTP traffic, pjsip's own timers
        and a command (``_wake``) end the wait earlier, so an idle phone
        wakes about twice a second instead of 100 times (issue 17)."""
        now = time.monotonic()
        calls = self._calls.values()
        due = [now + (BUSY_WAIT_S if self._calls else IDLE_WAIT_S)]
        if self._calls or self._shed_unlisted:
            due.append(self._sweep_at)
        due += [c.dtmf_due for c in calls if c.dtmf and c.dtmf_due] + [c.due for c in calls if c.due]
        due += [p.due() for p in self._probes.values()]
        if self._audio is not None and self._audio.running:
            due.append(self._audio_check_at)
        if self._clock_on:
            due.append(self._clock_until)
        return max(1, min(int((min(due) - now) * 1000) + 1, int(IDLE_WAIT_S * 1000)))

    def _media_clock(self) -> None:
        """The conference bridge runs on the null sound device's clock thread
        (50 ticks/s, even with nothing connected). Only calls need it: it
        starts with the first call, before that call's media is connected,
        and stops (``setNoDev``) CLOCK_LINGER_S after the last one ends,
        because pjmedia removes a port (a recorder, which writes its WAV
        header then) on the clock's next tick."""
        now = time.monotonic()
        if self._calls:
            self._clock_until = now + CLOCK_LINGER_S
        want = now < self._clock_until
        if want != self._clock_on:
            self._clock_on = want
            devices = self.ep.audDevManager()
            devices.setNullDev() if want else devices.setNoDev()

    def _init(self) -> None:
        self.ep = ep = pj.Endpoint()
        saved = os.dup(1)
        try:  # libCreate prints a banner to fd 1 before logging is configured
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.close(devnull)
            ep.libCreate()
        finally:
            os.dup2(saved, 1)
            os.close(saved)
        cfg = pj.EpConfig()
        cfg.uaConfig.threadCnt = 0
        cfg.uaConfig.mainThreadOnly = True
        cfg.uaConfig.userAgent = "tui-phone"
        cfg.uaConfig.maxCalls = MAX_CALLS  # all of pjsua's slots; our guard turns calls away at [sip] max_calls
        cfg.medConfig.sndAutoCloseTime = -1
        cfg.medConfig.noVad = True
        cfg.medConfig.hasIoqueue = False  # RTP shares SIP's ioqueue (the owner's event wait): no worker polling 100x/s
        cfg.medConfig.threadCnt = 0
        cfg.logConfig.consoleLevel = 0
        for server in {a.stun for a in self.config.accounts if a.stun}:
            cfg.uaConfig.stunServer.append(server)
        if any(_needs_srv(a.registrar) for a in self.config.accounts):
            for ns in _nameservers():  # pjsip's resolver: DNS SRV for "sip:example.com"
                cfg.uaConfig.nameserver.append(ns)
        cfg.logConfig.level = 5 if self.log_path else 0
        if self.log_path:
            cfg.logConfig.filename = self.log_path
        ep.libInit(cfg)
        pjmodule.register("mod-tui-phone-guard", pjmodule.PRIORITY_APPLICATION - 1, self._screen_request)
        self._init_depth()
        self._transports: dict[str, int] = {}
        first = self.config.accounts[0]
        for acc in self.config.accounts:
            if acc.transport in self._transports:
                continue
            tc = pj.TransportConfig()
            tc.port = acc.local_port
            if acc.bind:
                tc.boundAddress = tc.publicAddress = acc.bind
            if acc.transport == "tls":
                self._tls(tc, acc)
            self._transports[acc.transport] = ep.transportCreate(TRANSPORTS[acc.transport], tc)
        ep.libStart()
        ep.audDevManager().setNullDev()
        info = ep.transportGetInfo(self._transports[first.transport])
        self.local_address = info.localName
        if "udp" in self._transports:
            udp = ep.transportGetInfo(self._transports["udp"]).localName
            host, port = udp.rsplit(":", 1)
            self._wake_to = ("127.0.0.1" if host in ("0.0.0.0", "") else host, int(port))
        for acc in self.config.accounts:
            self._add_account(acc)
        self._guard(self._start_audio)  # after the REGISTERs are on their way: PortAudio takes ~0.2 s to start

    @staticmethod
    def _tls(tc, acc: AccountConfig) -> None:
        """Certificate verification is on unless the account turns it off."""
        import os.path

        for path in (acc.tls_ca, acc.tls_cert, acc.tls_key):
            if path and not os.path.isfile(os.path.expanduser(path)):
                raise RuntimeError(f"account {acc.name}: TLS file not found: {path}")
        tls = tc.tlsConfig
        tls.CaListFile = os.path.expanduser(acc.tls_ca) if acc.tls_ca else ""
        tls.certFile = os.path.expanduser(acc.tls_cert)
        tls.privKeyFile = os.path.expanduser(acc.tls_key)
        tls.verifyServer = acc.tls_verify
        tls.verifyClient = False
        tls.method = pj.PJSIP_TLSV1_2_METHOD

    def _start_audio(self) -> None:
        """The sounddevice bridge (its ports; device streams open only during
        calls); None means the null device: calls connect without sound, and
        the UI says why once."""
        from .audio import AudioBridge

        self._audio = AudioBridge.create(self.config.audio)
        if self._audio is None:
            self.emit(AudioState("", False, f"{AudioBridge.last_reason}; calls connect without sound"))
        else:
            self._audio_state(self._audio.note)

    def _audio_state(self, note: str = "") -> None:
        a = self._audio
        self.emit(AudioState(a.device_name, a.muted, note, a.input_name) if a else AudioState("", False, note))

    def _audio_tick(self) -> None:
        """Run the devices while there is a call, pick the tone the calls
        need, and fall back to no sound when a running device vanishes."""
        a = self._audio
        if a is None:
            return
        reason = ""
        if self._audio_due:
            self._audio_due = False
            calls = list(self._calls.values())
            ringing = any(c.dir == "i" and c.last is CallState.ALERTING and not c.answered for c in calls)
            talking = any(c.last is CallState.CONNECTED for c in calls)  # a held call does not hear tones
            ringback = any(c.dir == "o" and c.last is CallState.RINGBACK and not c.media_on for c in calls)
            # the output while there is a call; the microphone only while a call carries audio
            reason = a.set_active(bool(calls), any(c.media_on for c in calls))
            a.set_tone("waiting" if ringing and talking else "ring" if ringing else
                       "ringback" if ringback and not talking else None)
        now = time.monotonic()
        if not reason and now >= self._audio_check_at:
            self._audio_check_at = now + 0.5
            reason = a.check()
        if reason:
            name = a.device_name
            a.lost()
            self._audio_state(f"audio device lost ({name}: {reason}); calls continue without sound; "
                              "pick a device (D, or SetAudio) to bring it back")

    def audio_levels(self) -> tuple[float, float] | None:
        """Microphone and speaker level of the last 20 ms (0..1), None with no
        sound device. Any thread: it only reads two byte strings."""
        a = self._audio
        return a.levels() if a is not None and a.output_device is not None else None

    def _set_audio(self, input: str | None, output: str | None, ring: str | None) -> Result:
        """Switch devices; after [audio] null or a lost device this brings sound back."""
        if self._audio is None:
            from .audio import AudioBridge

            cfg = dict(self.config.audio, null=False)
            cfg.update({k: v for k, v in (("input", input), ("output", output), ("ring", ring)) if v is not None})
            self._audio = AudioBridge.create(cfg)
            if self._audio is None:
                return Result.fail(AudioBridge.last_reason)
            for call in self._calls.values():  # calls already up get the new ports
                self._guard(self._media_state, call)
        else:
            error = self._audio.use(input, output, ring)
            if error:
                return Result.fail(f"audio: {error}")
        self._audio_due = True
        self._audio_state()
        return Result(True)

    def _add_account(self, acc: AccountConfig) -> None:
        cfg = pj.AccountConfig()
        cfg.idUri = acc.uri
        cfg.sipConfig.transportId = self._transports[acc.transport]
        if acc.registrar:
            cfg.regConfig.registrarUri = _with_transport(acc.registrar, acc.transport)
            cfg.regConfig.firstRetryIntervalSec = 2
            cfg.regConfig.retryIntervalSec = 30  # pjsua randomises it: back-off without storms
            cfg.regConfig.timeoutSec = 300
        else:
            cfg.regConfig.registerOnAdd = False
        if acc.proxy:
            cfg.sipConfig.proxies.append(_with_transport(acc.proxy, acc.transport))
        if acc.username or acc.password or acc.password_command:
            cfg.sipConfig.authCreds.append(
                pj.AuthCredInfo("digest", "*", acc.username or acc.uri.split(":")[1].split("@")[0],
                                0, password_for(acc)))
        cfg.natConfig.iceEnabled = acc.ice
        if not acc.stun:
            cfg.natConfig.sipStunUse = cfg.natConfig.mediaStunUse = pj.PJSUA_STUN_USE_DISABLED
        cfg.presConfig.publishEnabled = bool(acc.registrar)  # PUBLISH to the registrar's presence server
        cfg.mediaConfig.srtpUse = SRTP[acc.srtp]
        cfg.mediaConfig.srtpSecureSignaling = 0
        if acc.bind:
            cfg.mediaConfig.transportConfig.boundAddress = acc.bind
            cfg.mediaConfig.transportConfig.publicAddress = acc.bind
        cfg.mediaConfig.transportConfig.port = self.config.sip["rtp_port"]
        cfg.mediaConfig.transportConfig.portRange = self.config.sip["rtp_port_range"]
        cfg.mwiConfig.enabled = acc.voicemail_subscribe
        a = _Account(self, acc)
        a.create(cfg, make_default=not self._accounts)
        self._accounts[acc.name] = a
        if acc.registrar and acc.transport == "udp":
            self._add_probe(acc)
        if not acc.registrar:
            self.emit(RegState(acc.name, True, 0, "direct", 0))
        self._publish_to(a, self._chosen)

    def _execute(self, command: Command) -> Result:
        match command:
            case StartCall():
                return self._start_call(command)
            case SetStatus(status=status):
                if status not in STATUSES:
                    return Result.fail(f"status must be one of {', '.join(STATUSES)}", "bad_input")
                self._chosen = status
                self._auto_status()
                return Result(True)
            case Watch(uris=uris):
                return self._watch(uris)
            case SendSms(to=to, text=text):
                return self._send_message(to, text)
            case Conference():
                return self._conference()
            case Mute(on=on):
                if self._audio is None:
                    return Result.fail("no sound device: nothing to mute", "refused")
                self._audio.mute(on)
                self._audio_state()
                return Result(True)
            case SetAudio(input=i, output=o, ring=r):
                return self._set_audio(i, o, r)
            case Split(id=cid):
                return self._split(cid)
            case Record(id=cid, on=on):
                return self._record(cid, on)
        call = self._find(command)
        if call is None:
            return Result.fail(self._nothing_to(command), "not_found")
        match command:
            case ConnectCall():
                self._hold_others(call)  # call waiting: the first call waits on hold
                prm = pj.CallOpParam()
                prm.statusCode = 200
                call.answer(prm)
                call.answered = self._audio_due = True
            case DisconnectCall(code=code):
                prm = pj.CallOpParam()
                if call.getInfo().state in (pj.PJSIP_INV_STATE_INCOMING, pj.PJSIP_INV_STATE_EARLY) \
                        and call.dir == "i":
                    prm.statusCode = code or REJECT_CODE
                try:
                    call.hangup(prm)
                except pj.Error as e:
                    if errors.constant(e) != "PJSIP_ESESSIONTERMINATED":
                        raise
                    self._forget(call, 0, "call ended")  # its dialog was gone already: out of the model too
            case Hold():
                self._settled(lambda: call.setHold(pj.CallOpParam(True)))
                call.local_hold = True
            case Retrieve():
                prm = pj.CallOpParam(True)
                prm.opt.flag = pj.PJSUA_CALL_UNHOLD
                self._settled(lambda: call.reinvite(prm))
                call.local_hold = False
            case Dtmf(digits=digits):
                if call.getInfo().state != pj.PJSIP_INV_STATE_CONFIRMED:
                    return Result.fail("DTMF needs a connected call", "conflict")
                prm = pj.CallSendDtmfParam()
                prm.digits = digits
                prm.method = (pj.PJSUA_DTMF_METHOD_SIP_INFO if self._acc_cfg(call).dtmf == "info"
                              else pj.PJSUA_DTMF_METHOD_RFC2833)
                call.sendDtmf(prm)
            case Transfer(replaces=other) if other is not None:
                dest = self._calls.get(other)
                if dest is None or dest is call:
                    return Result.fail(f"no consultation call with id {other}", "not_found")
                call.xferReplaces(dest, pj.CallOpParam(True))
            case Transfer(to=to):
                acc = self._accounts.get(self._account_of(call))
                call.xfer(target_uri(to, acc.cfg) if acc else to, pj.CallOpParam(True))
            case _:
                return Result.fail(f"{type(command).__name__} is not a SIP command", "bad_input")
        return Result(True, call.cid)

    # ----- presence -------------------------------------------------------------
    def _publish_to(self, acc: _Account, status: str) -> None:
        online, activity, note = PUBLISHED[status]
        ps = pj.PresenceStatus()
        ps.status = pj.PJSUA_BUDDY_STATUS_ONLINE if online else pj.PJSUA_BUDDY_STATUS_OFFLINE
        ps.activity = activity
        ps.note = note
        acc.setOnlineStatus(ps)

    def _auto_status(self) -> None:
        """Publish in-call while a call is up, else the user's own choice."""
        live = any(c.isActive() and c.getInfo().state == pj.PJSIP_INV_STATE_CONFIRMED
                   for c in self._calls.values())
        status = "in-call" if live else self._chosen
        if status != self._published:
            self._published = status
            for acc in self._accounts.values():
                self._publish_to(acc, status)
            self.emit(OwnStatus(status))

    def _watch(self, uris: tuple[str, ...]) -> Result:
        for uri in list(self._buddies):
            if uri not in uris:
                del self._buddies[uri]  # deleting the Buddy ends its subscription
        for uri in uris:
            if uri in self._buddies:
                continue
            cfg = pj.BuddyConfig()
            cfg.uri = uri
            cfg.subscribe = True
            buddy = _Buddy(self, uri)
            buddy.create(next(iter(self._accounts.values())), cfg)
            self._buddies[uri] = buddy
            self.emit(Presence(uri, "offline", "subscribing"))
        return Result(True)

    def _buddy_event(self, buddy: _Buddy, prm) -> None:
        """A message of the presence subscription: a NOTIFY (its PIDF, or a
        terminated subscription) or a failed SUBSCRIBE → the member's status."""
        e = prm.e
        if e.type != pj.PJSIP_EVENT_TSX_STATE or e.body.tsxState.type != pj.PJSIP_EVENT_RX_MSG:
            return
        msg = e.body.tsxState.src.rdata.wholeMsg
        head, _, body = msg.partition("\r\n\r\n")
        if msg.startswith("NOTIFY "):
            pidf = parse_pidf(body) if "pidf+xml" in head.lower() and body.strip() else None
            if pidf is not None:
                online, activities, note = pidf
                self.emit(Presence(buddy.uri, presence_status(online, activities, note), note))
            elif re.search(r"^Subscription-State:\s*terminated", head, re.I | re.M):
                self.emit(Presence(buddy.uri, "offline", "subscription ended"))
        elif msg.startswith("SIP/2.0 ") and re.search(r"^CSeq:\s*\d+\s+SUBSCRIBE", head, re.I | re.M):
            code = int(msg[8:11]) if msg[8:11].isdigit() else 0
            if code >= 300:
                self.emit(Presence(buddy.uri, "offline", msg.split("\r\n", 1)[0][12:].strip()))

    # ----- local conference ----------------------------------------------------
    def _confirmed(self) -> list[_Call]:
        return [c for c in self._calls.values()
                if c.isActive() and c.getInfo().state == pj.PJSIP_INV_STATE_CONFIRMED]

    def _conference(self) -> Result:
        """Retrieve held calls and connect every call's audio to every other's
        in the conference bridge (we hear and speak to all of them)."""
        calls = self._confirmed()
        if len(calls) < 2:
            return Result.fail("a conference needs two connected or held calls", "conflict")
        for c in calls:
            if c.local_hold:
                prm = pj.CallOpParam(True)
                prm.opt.flag = pj.PJSUA_CALL_UNHOLD
                c.reinvite(prm)
                c.local_hold = False
        self._conf = {c.cid for c in calls}
        self._bridge()
        self.emit(ConferenceSet(tuple(sorted(self._conf))))
        self.emit(Log("info", "conference: " + ", ".join(f"call {c}" for c in sorted(self._conf)), time.time()))
        return Result(True)

    def _bridge(self) -> None:
        """(Re)connect the conference members' media; called again when media
        is renegotiated (unhold re-creates the streams)."""
        members = [c for c in self._calls.values() if c.cid in self._conf and c.hasMedia()]
        for a in members:
            for b in members:
                if a is not b:
                    self._guard(lambda a=a, b=b: a.getAudioMedia(-1).startTransmit(b.getAudioMedia(-1)))

    def _split(self, cid: int | None) -> Result:
        if not self._conf:
            return Result.fail("no conference to split", "conflict")
        keep = cid if cid in self._conf else max(self._conf)
        members = [c for c in self._calls.values() if c.cid in self._conf and c.hasMedia()]
        for a in members:
            for b in members:
                if a is not b:
                    self._guard(lambda a=a, b=b: a.getAudioMedia(-1).stopTransmit(b.getAudioMedia(-1)))
        for c in members:
            if c.cid != keep and not c.local_hold:
                c.setHold(pj.CallOpParam(True))
                c.local_hold = True
        self._conf = set()
        self.emit(ConferenceSet(()))
        return Result(True, keep)

    # ----- messages (SIP MESSAGE) ------------------------------------------------
    def _send_message(self, to: str, text: str) -> Result:
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return Result.fail("the message has characters that are not valid Unicode", "bad_input")
        acc = next(iter(self._accounts.values()))
        uri = target_uri(to, acc.cfg)
        buddy = self._im_buddies.get(uri)
        if buddy is None:
            cfg = pj.BuddyConfig()
            cfg.uri = uri
            cfg.subscribe = False
            buddy = _Buddy(self, uri)
            buddy.create(acc, cfg)
            self._im_buddies[uri] = buddy
        key = f"m{next(self._ids)}"
        prm = pj.SendInstantMessageParam()
        prm.content = text
        prm.contentType = "text/plain"
        self._pending_messages.append((uri, text, key))  # pjsua2's userData is a C pointer: match by content
        self.emit(Message(uri, "o", text, time.time(), "sending", key))
        buddy.sendInstantMessage(prm)
        return Result(True)

    def _message_in(self, prm) -> None:
        sip, _, _ = parse_remote(prm.fromUri)
        body = prm.msgBody if "text/plain" in prm.contentType.lower() or not prm.contentType else \
            f"[{prm.contentType} message]"
        text = "".join(c for c in body if c.isprintable() or c == "\n")[:2000]
        self.emit(Message(sip, "i", text, time.time(), "received"))

    def _message_status(self, prm) -> None:
        sip, _, _ = parse_remote(prm.toUri)
        match = next((p for p in self._pending_messages if p[0] == sip and p[1] == prm.msgBody), None)
        key = ""
        if match is not None:
            self._pending_messages.remove(match)
            key = match[2]
        ok = prm.code // 100 == 2
        self.emit(Message(sip, "o", prm.msgBody, time.time(),
                          "sent" if ok else f"failed: {prm.code} {prm.reason}", key))
        if not ok:
            self.emit(Log("error", f"message to {sip} failed: {prm.code} {prm.reason}", time.time()))

    def _settled(self, fn, within: float = 2.0):
        """Run a re-INVITE-type operation; while another offer/answer is still
        pending on the dialog pjsip refuses it, so keep pumping events and try
        again until it goes through (or ``within`` seconds pass)."""
        deadline = time.monotonic() + within
        while True:
            try:
                return fn()
            except pj.Error:
                if time.monotonic() > deadline:
                    raise
                self.ep.libHandleEvents(20)

    def _acc_cfg(self, call: _Call) -> AccountConfig:
        return self._accounts[self._account_of(call)].cfg

    def _hold_others(self, keep: _Call) -> None:
        for other in self._calls.values():
            if other is not keep and not other.local_hold and other.isActive() \
                    and other.getInfo().state == pj.PJSIP_INV_STATE_CONFIRMED:
                other.setHold(pj.CallOpParam(True))
                other.local_hold = True

    def _transfer_status(self, call: _Call, prm) -> None:
        code, reason = prm.statusCode, prm.reason
        if prm.finalNotify:
            level = "info" if code // 100 == 2 else "error"
            self.emit(Log(level, f"call {call.cid}: transfer {'done' if level == 'info' else 'failed'} "
                                 f"({code} {reason})", time.time()))
            prm.cont = False
        else:
            self.emit(Log("info", f"call {call.cid}: transfer progress {code} {reason}", time.time()))

    def _transfer_request(self, call: _Call, prm) -> None:
        """The far end REFERs us elsewhere: follow it, visibly, as a new call —
        unless the dial policy flags the target (anyone we talk to can send a
        REFER: to 911, a premium number, *72 forwarding). Then the REFER is
        declined and the target offered like a link: the TUI asks, headless refuses."""
        from ..commands import Source
        from ..policy import judge

        acc = self._accounts[self._account_of(call)]
        sip, num, dn = parse_remote(prm.dstUri)
        reason = judge(sip, Source.REDIRECT, self.config)
        if reason:
            prm.statusCode = 603
            self.emit(Log("warning", f"call {call.cid}: the far end asked us to call {sip}; declined: {reason}",
                          time.time()))
            self.emit(CallRedirected(call.cid, sip, reason, ask=True))
            return
        cid = next(self._ids)
        new = _Call(self, acc, cid)
        new.added = CallAdded(cid, "o", sip, num, dn, acc.cfg.name, "", time.time())
        self._calls[cid] = new
        prm.newCall = new
        self.emit(Log("warning", f"call {call.cid}: the far end transfers us to {sip}", time.time()))

    def _replaced(self, call: _Call, prm) -> None:
        """Attended transfer on the far side: our call is replaced by a new one."""
        acc = self._accounts[self._account_of(call)]
        cid = next(self._ids)
        new = _Call(self, acc, cid, prm.newCallId)
        new.dir = call.dir
        self._calls[cid] = new
        prm.newCall = new
        info = new.getInfo()
        sip, num, dn = parse_remote(info.remoteUri)
        self.emit(CallAdded(cid, new.dir, sip, num, dn, acc.cfg.name, info.callIdString, time.time()))
        self.emit(Log("info", f"call {call.cid} replaced by call {cid} (<{sip}>)", time.time()))

    def _add_probe(self, acc: AccountConfig) -> None:
        from .probe import RegistrarProbe, registrar_address

        where = registrar_address(acc.proxy or acc.registrar)
        if where is None:
            return
        try:
            self._probes[acc.name] = RegistrarProbe(*where)
        except OSError as e:
            self.emit(Log("warning", f"account {acc.name}: no registrar keep-alive ({e})", time.time()))

    def _probe_registrars(self) -> None:
        """Registrar gone → shown unregistered; back → REGISTER again at once."""
        now = time.monotonic()
        for name, probe in self._probes.items():
            change = probe.poll(now)
            if change == "down":
                self.emit(RegState(name, False, 408, "registrar unreachable"))
            elif change == "up":
                self.emit(Log("info", f"account {name}: registrar is back, registering", time.time()))
                self._guard(self._accounts[name].setRegistration, True)

    def _post_dial(self) -> None:
        """Send a tel: link's extension once its call has been up a moment."""
        now = time.monotonic()
        for call in self._calls.values():
            if call.dtmf and call.dtmf_due and now >= call.dtmf_due:
                digits, call.dtmf = call.dtmf, None
                self._guard(call.dialDtmf, digits)
                self.emit(Log("info", f"call {call.cid}: sent extension {digits}", time.time()))

    def _nothing_to(self, command: Command) -> str:
        if getattr(command, "id", None) is not None:
            return f"no call with id {command.id}"
        return {ConnectCall: "no incoming call to connect"}.get(type(command), "no active call")

    def _find(self, command: Command) -> _Call | None:
        cid = getattr(command, "id", None)
        if cid is not None:
            return self._calls.get(cid)
        live = [c for c in self._calls.values() if c.isActive()]
        if isinstance(command, ConnectCall):
            ringing = [c for c in live if c.dir == "i"
                       and c.getInfo().state in (pj.PJSIP_INV_STATE_INCOMING, pj.PJSIP_INV_STATE_EARLY)]
            return ringing[-1] if ringing else None
        connected = [c for c in live if c.getInfo().state == pj.PJSIP_INV_STATE_CONFIRMED]
        return (connected or live or [None])[-1]

    def _account_of(self, call: _Call) -> str:
        acc_id = call.getInfo().accId
        return next((n for n, a in self._accounts.items() if a.getId() == acc_id), "")

    def _start_call(self, cmd: StartCall) -> Result:
        name = cmd.account or self.config.accounts[0].name
        acc = self._accounts.get(name)
        if acc is None:
            return Result.fail(f"no account named {name!r}", "bad_input")
        uri = target_uri(cmd.target, acc.cfg)
        refused = self._capacity.refuse(self._live_calls(), time.monotonic())
        if refused is not None:
            return Result.fail(refused[1], "busy")
        cid = next(self._ids)
        call = _Call(self, acc, cid)
        sip, num, dn = parse_remote(uri)
        call.dtmf = cmd.dtmf
        call.visited = [uri]
        call.added = CallAdded(cid, "o", sip, num, dn, name, "", time.time(),
                               cmd.callerid, cmd.cat, cmd.bind)
        self._calls[cid] = call
        prm = pj.CallOpParam(True)
        if cmd.callerid:  # zoomphonecall callerid: ask the PBX to present this identity
            h = pj.SipHeader()
            h.hName = "P-Preferred-Identity"
            h.hValue = f"<sip:{cmd.callerid}@{_host(acc.cfg.uri)}>"
            prm.txOption.headers.append(h)
        try:
            call.makeCall(uri, prm)
        except pj.Error as e:  # pjsua may have ended the call already (DISCONNECTED inside makeCall)
            reason, kind = self._explain(e)
            if reason == "too many calls":
                reason = (f"too many calls ({len(self._calls) - 1} live; the SIP stack holds {MAX_CALLS}, and "
                          "finishes calls that just ended for up to 32 s)")
            self._announce(call, "")
            self._forget(call, 0, reason)
            return Result.fail(f"cannot call {uri}: {reason}", kind)
        self._announce(call, call.getInfo().callIdString)
        return Result(True, cid)

    # ----- capacity: a burst is shed, never a crash ----------------------------
    def _screen_request(self, rq: pjmodule.RxRequest) -> bool:
        """pjsip module hook, before pjsua creates a call's media: turn a new
        INVITE away (486, or 503 + Retry-After) when the phone is at capacity."""
        if ";tag=" in rq.header("To", "t").replace(" ", ""):
            return False  # in a dialog (or claims to be: pjsua answers 481)
        if rq.method == "SUBSCRIBE":
            return self._screen_subscribe(rq)
        if rq.method != "INVITE":
            return False
        refused = self._capacity.refuse(self._live_calls(), time.monotonic())
        if refused is None:
            return False
        code, reason = refused
        rq.respond(code, (("Retry-After", str(RETRY_AFTER)),) if code == 503 else ())
        call_id = rq.header("Call-ID", "i")
        if call_id not in self._turned_ids:  # a retransmission is answered again, listed once
            self._turned_ids.append(call_id)
            self._turned_away(rq.header("From", "f"), code, reason)
        return True

    def _live_calls(self) -> int:
        """Calls that hold one of pjsua's slots: ours, and ended ones pjsua still finishes."""
        return max(len(self._calls), pjmodule.calls_in_use())

    def _screen_subscribe(self, rq: pjmodule.RxRequest) -> bool:
        """Anyone may SUBSCRIBE to our presence, and each subscription lives
        (and holds memory) until it expires, up to an hour: at most
        SUBSCRIPTIONS_PER_HOUR new ones, the rest get 503 + Retry-After."""
        now = time.monotonic()
        while self._subscriptions and now - self._subscriptions[0] > 3600:
            self._subscriptions.popleft()
        if len(self._subscriptions) < SUBSCRIPTIONS_PER_HOUR:
            self._subscriptions.append(now)
            return False
        rq.respond(503, (("Retry-After", "600"),))
        self._shed_subscribes += 1
        return True

    def _turned_away(self, from_: str, code: int, reason: str) -> None:
        """History lists up to 10 turned-away calls a minute; past that (a
        scanner's flood) they are counted in one log line every 10 s."""
        now = time.monotonic()
        while self._turned and now - self._turned[0] > 60:
            self._turned.popleft()
        if len(self._turned) < 10:
            self._turned.append(now)
            sip, num, dn = parse_remote(from_)
            self.emit(CallTurnedAway(sip, num, dn, code, reason, time.time()))
            return
        self._shed_unlisted += 1

    def _report_shed(self) -> None:
        if self._shed_unlisted:
            self.emit(Log("warning", f"turned away {self._shed_unlisted} more calls in a burst "
                                     "(too many calls at once; not listed in History)", time.time()))
            self._shed_unlisted = 0
        if self._shed_subscribes:
            self.emit(Log("warning", f"turned away {self._shed_subscribes} presence subscriptions (more than "
                                     f"{SUBSCRIPTIONS_PER_HOUR} an hour from outside)", time.time()))
            self._shed_subscribes = 0

    def _sweep(self) -> None:
        """End, in the model, every call whose SIP dialog is gone without a
        DISCONNECTED callback (seen after fuzzed sequences): nothing shown stays forever."""
        for call in list(self._calls.values()):
            try:
                gone = not call.isActive() or call.getInfo().state == pj.PJSIP_INV_STATE_DISCONNECTED
            except pj.Error:
                gone = True
            if gone:
                self._forget(call, 0, "call ended")

    def _forget(self, call: _Call, code: int, reason: str) -> None:
        """Take a call out of the table and the model (once)."""
        if self._calls.pop(call.cid, None) is None:
            return
        self._stop_recording(call)
        self._dead.append(call)  # dropped after the callback returns
        self._capacity.ended(time.monotonic())
        self._end(call.cid, code, reason)
        if call.cid in self._conf:
            self._conf.discard(call.cid)
            if len(self._conf) < 2:
                self._conf = set()
            self.emit(ConferenceSet(tuple(sorted(self._conf))))
        self._status_due = True

    def _incoming(self, acc: _Account, prm) -> None:
        cid = next(self._ids)
        call = _Call(self, acc, cid, prm.callId)
        call.dir = "i"
        self._calls[cid] = call
        info = call.getInfo()
        _, num, dn = parse_remote(info.remoteUri)
        sip = callback_target(info.remoteUri, info.remoteContact)  # with the caller's port: History calls back
        self.emit(CallAdded(cid, "i", sip, num, dn, acc.cfg.name, info.callIdString, time.time()))
        if self._screen(acc, call, prm):
            return
        if self._chosen == "unavailable":  # seed 003: unavailable means calls do not ring through
            busy = pj.CallOpParam()
            busy.statusCode = REJECT_CODE
            call.hangup(busy)
            self.emit(Log("info", f"call {cid}: rejected, you are unavailable", time.time()))
            return
        ring = pj.CallOpParam()
        ring.statusCode = 180
        call.answer(ring)
        self._schedule(acc, call, prm)

    def _announce(self, call: _Call, guid: str) -> None:
        """Emit an outgoing call's CallAdded once, with its SIP Call-ID as guid."""
        if call.added is not None:
            self.emit(replace(call.added, guid=guid))
            call.added = None

    def _call_state(self, call: _Call) -> None:
        info = call.getInfo()
        self._announce(call, info.callIdString)
        st, code, reason = info.state, info.lastStatusCode, info.lastReason
        if st == pj.PJSIP_INV_STATE_DISCONNECTED:
            self._forget(call, code, reason)
            return
        if call.dir == "i":
            new = CallState.CONNECTED if st == pj.PJSIP_INV_STATE_CONFIRMED else CallState.ALERTING
        elif st == pj.PJSIP_INV_STATE_CALLING:
            new = CallState.DIALING
        elif st == pj.PJSIP_INV_STATE_EARLY:
            new = EARLY_STATES.get(code, CallState.RINGBACK)
        elif st == pj.PJSIP_INV_STATE_CONFIRMED:
            new = CallState.CONNECTED
            if call.dtmf and not call.dtmf_due:
                call.dtmf_due = time.monotonic() + POST_DIAL_DELAY
        else:
            return  # NULL / CONNECTING: no change a user can see
        self._progress(call, new, code, reason)
        if st == pj.PJSIP_INV_STATE_CONFIRMED:
            self._status_due = True  # published from the loop, off the call's critical path

    def _progress(self, call: _Call, state: CallState, code: int = 0, reason: str = "") -> None:
        if state is not call.last:
            call.last = state
            self._audio_due = True
            self.emit(CallProgress(call.cid, state, code, reason, time.time()))

    def _end(self, cid: int, code: int, reason: str) -> None:
        self._audio_due = True
        self.emit(CallEnded(cid, code, reason, time.time()))
        self.emit(CallRemoved(cid))

    def _media_state(self, call: _Call) -> None:
        info = call.getInfo()
        remote_hold = call.media_on = False
        self._audio_due = True
        for i, mi in enumerate(info.media):
            if mi.type != pj.PJMEDIA_TYPE_AUDIO:
                continue
            if mi.status == pj.PJSUA_CALL_MEDIA_ACTIVE:
                call.media_on = True
                aud = call.getAudioMedia(i)
                mgr = self.ep.audDevManager()
                src = self._audio.capture_media if self._audio else mgr.getCaptureDevMedia()
                dst = self._audio.playback_media if self._audio else mgr.getPlaybackDevMedia()
                src.startTransmit(aud)
                aud.startTransmit(dst)
                self._record_media(call, aud, src)
            remote_hold |= mi.status == pj.PJSUA_CALL_MEDIA_REMOTE_HOLD
        if call.cid in self._conf:
            self._bridge()
        if info.state != pj.PJSIP_INV_STATE_CONFIRMED:
            return
        self._progress(call, CallState.HOLDING if call.local_hold else
                       CallState.HELD if remote_hold else CallState.CONNECTED)

    def _teardown(self) -> None:
        ep = self.ep
        self._buddies.clear()  # unsubscribe before the accounts go
        self._im_buddies.clear()
        for probe in self._probes.values():
            probe.close()
        self._probes.clear()
        if self._calls:
            ep.hangupAllCalls()
            deadline = time.monotonic() + 2
            while self._calls and time.monotonic() < deadline:
                ep.libHandleEvents(10)
        for a in self._accounts.values():
            try:
                a.shutdown()
            except Exception:  # noqa: BLE001
                pass
        a = None
        if any(acc.registrar for acc in self.config.accounts):
            deadline = time.monotonic() + 0.6  # let the authenticated un-REGISTER finish
            while time.monotonic() < deadline:
                ep.libHandleEvents(10)
        self._calls.clear()
        self._dead.clear()
        self._accounts.clear()
        self._recorders.close()
        if self._audio is not None:
            self._audio.close()  # its ports must go before libDestroy
            self._audio = None

    def _destroy(self) -> None:
        if self._unknown is not None:
            self._unknown.close()
            self._unknown = None
        gc.collect()
        try:
            self.ep.libDestroy()
        except Exception:  # noqa: BLE001
            pass
        self.ep = None
