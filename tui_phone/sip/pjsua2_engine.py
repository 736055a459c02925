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
import os
import queue
import socket
import threading
import time
from concurrent.futures import Future

import pjsua2 as pj

from ..commands import (
    Command,
    Conference,
    Mute,
    Result,
    SendSms,
    SetAudio,
    SetStatus,
    Split,
    StartCall,
    Watch,
)
from ..config import MAX_CALLS, AccountConfig, Config, ConfigError, password_for
from ..events import Log, RegState
from ..uri import SipUri, host_port
from . import calls, codecs, conference, depth, errors, gate, inbound, messaging, pjmodule, presence, sound
from .unknown import UnknownMethods
from .engine import Emit, Engine

TRANSPORTS = {"udp": pj.PJSIP_TRANSPORT_UDP, "tcp": pj.PJSIP_TRANSPORT_TCP, "tls": pj.PJSIP_TRANSPORT_TLS}
SRTP = {"off": pj.PJMEDIA_SRTP_DISABLED, "optional": pj.PJMEDIA_SRTP_OPTIONAL,
        "mandatory": pj.PJMEDIA_SRTP_MANDATORY}
IDLE_WAIT_S = 1.0  # longest block in libHandleEvents: bounds jobs pjsua2 posts from other threads
CLOCK_LINGER_S = 1.0  # the media clock runs on this long after the last call (pending port removals)
BUSY_WAIT_S = 0.1  # the same with calls up (their RTP wakes the loop 50 times a second anyway)
REGISTER_RETRY = 0.5  # seconds between tries while an earlier REGISTER is in flight
SOUND_WAIT_S = 1.0  # the sound device starts at the latest this long after the engine (a slow registrar)
SOUND_SETTLE_S = 0.25  # or this long after the first REGISTERs are answered (the UI draws "registered" first)
STOP_WAIT_S = 15.0  # stop() waits this long for the owner thread; a new engine waits as long for the last one


def _needs_srv(registrar: str) -> bool:
    """A registrar named by domain without a port is looked up with DNS SRV (RFC 3263)."""
    host = host_port(registrar) if registrar else ""
    return bool(host) and ":" not in host and not host.replace(".", "").isdigit() and host != "localhost"


def _nameservers(path: str = "/etc/resolv.conf") -> list[str]:
    try:
        with open(path) as f:
            return [line.split()[1] for line in f if line.startswith("nameserver") and len(line.split()) > 1][:3]
    except OSError:
        return []


def _with_transport(uri: str, transport: str) -> str:
    if not uri or transport == "udp" or ";transport=" in uri:
        return uri
    return f"{uri};transport={transport}"


class _Endpoint(pj.Endpoint):
    def __init__(self, engine: "PjEngine"):
        super().__init__()
        self.engine = engine

    def onTransportState(self, prm):
        self.engine._guard(self.engine.inbound.state, int(prm.hnd), prm.state)


class _Account(pj.Account):
    def __init__(self, engine: "PjEngine", cfg: AccountConfig):
        super().__init__()
        self.engine, self.cfg = engine, cfg
        self.unregistering = False  # quitting: our un-REGISTER awaits its answer

    def onRegState(self, prm):
        self.engine._guard(self._reg_state, prm)

    def _reg_state(self, prm):
        self.unregistering = False
        info = self.getInfo()
        ok = prm.code // 100 == 2 and info.regExpiresSec > 0
        self.engine._registered_once(self.cfg.name)
        if ok:  # registered: no retry due
            self.engine._register_at.pop(self.cfg.name, None)
            self.engine._register_busy.discard(self.cfg.name)
        self.engine.emit(RegState(self.cfg.name, ok, prm.code, errors.plain(prm.reason), info.regExpiresSec))

    def onIncomingCall(self, prm):
        self.engine._guard(self.engine.sound.start)  # a call before the REGISTERs were answered
        self.engine._guard(self.engine.calls.incoming, self, prm)

    def onInstantMessage(self, prm):
        self.engine._guard(self.engine.messaging.received, prm)

    def onInstantMessageStatus(self, prm):
        self.engine._guard(self.engine.messaging.status, prm)

    def onIncomingSubscribe(self, prm):
        self.engine._guard(self._subscribe, prm)

    def _subscribe(self, prm):
        if not self.engine.presence.may_watch(self.cfg, prm.fromUri, prm.rdata.srcAddress):
            prm.code, prm.reason = 403, "Forbidden"
            self.engine.presence.refused(prm.fromUri)

    def onMwiInfo(self, prm):
        self.engine._guard(self.engine.depth.mwi, self, prm)


class PjEngine(Engine):
    """Engine on pjsua2. ``submit`` is thread-safe; everything else that
    touches pjsua2 runs on ``self._thread``, which owns the queue and hands
    each command, by type, to a collaborator: the call table (``calls``),
    ``conference``, ``presence``, ``messaging``, and the desk-phone
    features (``depth``, ``rules``, ``recordings``)."""

    _owner: threading.Thread | None = None  # the process's pjsua owner thread (pjsua is one per process)

    def __init__(self, config: Config, log_path: str | None = None):
        self.config = config
        self.log_path = log_path
        self._q: queue.SimpleQueue = queue.SimpleQueue()
        self._stop = threading.Event()
        self._ready: Future = Future()
        self._thread: threading.Thread | None = None
        self._accounts: dict[str, _Account] = {}
        self._dead: list = []  # pj objects dropped after the callback that ended them returns
        self._status_due = False
        # the loop's jobs wait for a callback, a command or a due time; other wake-ups (RTP, 50 a second in a
        # call) go straight back to the event wait: ``_poked`` says something happened, ``_next_due`` when
        self._poked, self._next_due = True, 0.0
        self._probes: dict = {}  # account name → RegistrarProbe (UDP registrars)
        self._register_at: dict[str, float] = {}  # account name → when to REGISTER again (registrar is back)
        self._register_busy: set[str] = set()  # accounts told once that a REGISTER is still in flight
        self._first_reg: set[str] = set()  # accounts whose first REGISTER awaits its answer
        self._sound_at = 0.0  # when the sound device starts at the latest
        self._unknown = None  # the 501 module for unknown methods
        self.gate = gate.Gate(self)
        self.inbound = inbound.Inbound(lambda e: self.emit(e))
        self._inbound_due: float | None = None  # listeners closed: when to look again
        self.calls = calls.Calls(self)
        self.sound = sound.Sound(self)
        self.conference = conference.Conference(self)
        self.presence = presence.Presence(self)
        self.messaging = messaging.Messaging(self)
        self.depth = depth.Depth(self)
        self.rules = depth.Rules(self)
        self.recordings = depth.Recordings(self)
        self._handlers = {
            StartCall: self.calls.start,
            SetStatus: self.presence.set_status,
            Watch: self.presence.watch,
            SendSms: self.messaging.send,
            Conference: lambda _: self.conference.join(),
            Split: self.conference.split,
            Mute: self.sound.mute,
            SetAudio: self.sound.set_devices,
            **{t: self.calls.run for t in calls.COMMANDS},
        }
        self.emit: Emit = lambda e: None
        self.local_address = ""  # host:port of the SIP transport, once started
        self._wake_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._wake_sock.setblocking(False)
        self._wake_to: tuple[str, int] | None = None
        self.ep = None
        self._sweep_at = 0.0
        self._kept: list = []  # accounts kept alive through libDestroy (see _teardown)

    # ----- public, any thread -------------------------------------------------
    def start(self, emit: Emit) -> None:
        """Start the owner thread. pjsua exists once per process: an engine
        still stopping (a TUI that quit after QUIT_LIMIT, its thread still
        saying goodbye) is waited for; started over it, pjsua aborts."""
        before = PjEngine._owner
        if before is not None and before.is_alive():
            before.join(STOP_WAIT_S)
            if before.is_alive():
                raise RuntimeError("SIP engine failed to start: the previous one in this process is still stopping")
        self.emit = emit
        self._thread = threading.Thread(target=self._run, name="pjsua2-owner", daemon=True)
        PjEngine._owner = self._thread
        self._thread.start()
        self._ready.result(timeout=15)

    def stop(self) -> None:
        if self._thread and self._thread.is_alive():
            self._stop.set()
            self._wake()  # idle, the owner loop blocks up to IDLE_WAIT_S in libHandleEvents
            self._thread.join(STOP_WAIT_S)

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
        self._poked = True
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
        self._poked = True  # the owner loop runs its jobs after this
        self._job(fn, *args)

    def _job(self, fn, *args):
        """``_guard`` for the owner loop's own jobs (they do not poke the loop)."""
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
        self._sound_at = time.monotonic() + (SOUND_WAIT_S if self._first_reg else SOUND_SETTLE_S)
        while not self._stop.is_set():
            ep.libHandleEvents(self._wait_ms())
            # woken by what pjsua handled alone (a call's RTP, 50 times a second): wait on, skip the jobs
            # (a TLS listener's accepted sockets reach no callback: inbound.tick counts them after every poll)
            while not self._poked and self._q.empty() and not self.inbound.tls_ports and \
                    (left := self._next_due - time.monotonic()) > 0:
                ep.libHandleEvents(int(left * 1000) + 1)
            self._poked = False
            self._dead.clear()
            if self.sound.pending and time.monotonic() >= self._sound_at:
                # not before the REGISTERs: importing sounddevice and asking PortAudio takes 0.05-0.2 s
                self._job(self.sound.start)
            self._inbound_due = self.inbound.tick()
            self._job(self._media_clock)
            if time.monotonic() >= self._sweep_at:
                self._sweep_at = time.monotonic() + 1.0
                self._job(self.calls.sweep)
                self._job(self.gate.report)
                self._job(self.inbound.report)
            self.calls.post_dial()
            self._probe_registrars()
            self._job(self.sound.tick)
            self._job(self.rules.tick)
            if self._status_due:
                self._status_due = False
                self._job(self.presence.update)
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
                self._poked = True  # what the command started is looked after in the next round
        self._teardown()
        self._destroy()

    def _wait_ms(self) -> int:
        """How long the loop may block in pjsua's event wait: until the next
        thing it polls for is due. SIP and RTP traffic, pjsip's own timers
        and a command (``_wake``) end the wait earlier, so an idle phone
        wakes about twice a second instead of 100 times (issue 17)."""
        now = time.monotonic()
        calls = list(self.calls)
        due = [now + (BUSY_WAIT_S if calls else IDLE_WAIT_S)]
        if calls or self.gate.pending_report():
            due.append(self._sweep_at)
        due += [c.dtmf_due for c in calls if c.dtmf and c.dtmf_due] + [c.due for c in calls if c.due]
        due += [p.due() for p in self._probes.values()]
        due += list(self._register_at.values())
        if self.sound.bridge is not None and self.sound.bridge.running:
            due.append(self.sound.check_due())
        if self._clock_on:
            due.append(self._clock_until)
        if self.sound.pending:
            due.append(self._sound_at)
        if self._inbound_due:
            due.append(self._inbound_due)
        self._next_due = min(due)
        return max(1, min(int((self._next_due - now) * 1000) + 1, int(IDLE_WAIT_S * 1000)))

    def _media_clock(self) -> None:
        """The conference bridge runs on the null sound device's clock thread
        (50 ticks/s, even with nothing connected). Only calls need it: it
        starts with the first call, before that call's media is connected,
        and stops (``setNoDev``) CLOCK_LINGER_S after the last one ends,
        because pjmedia removes a port (a recorder, which writes its WAV
        header then) on the clock's next tick."""
        now = time.monotonic()
        if len(self.calls):
            self._clock_until = now + CLOCK_LINGER_S
        want = now < self._clock_until
        if want != self._clock_on:
            self._clock_on = want
            devices = self.ep.audDevManager()
            devices.setNullDev() if want else devices.setNoDev()
            if not want and self.sound.bridge is not None:
                self.sound.bridge.clock.forget()  # setNoDev joined the clock thread

    def _init(self) -> None:
        self.ep = ep = _Endpoint(self)
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
        pjmodule.register("mod-tui-phone-guard", pjmodule.PRIORITY_APPLICATION - 1, self.gate.screen)
        self._unknown = UnknownMethods(lambda method, code, why: self.emit(Log(
            "info", f"answered a {method} request with {code} ({why})", time.time())))
        codecs.apply(ep, self.config.audio["codecs"])
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
        ports = {kind: int(ep.transportGetInfo(tid).localName.rsplit(":", 1)[1])
                 for kind, tid in self._transports.items() if kind != "udp"}
        self.inbound.watch(set(ports.values()), {ports["tls"]} if "tls" in ports else set())
        ep.libStart()
        ep.audDevManager().setNullDev()
        info = ep.transportGetInfo(self._transports[first.transport])
        self.local_address = info.localName
        if "udp" in self._transports:
            udp = ep.transportGetInfo(self._transports["udp"]).localName
            host, port = udp.rsplit(":", 1)
            self._wake_to = ("127.0.0.1" if host in ("0.0.0.0", "") else host, int(port))
        self._first_reg = {acc.name for acc in self.config.accounts if acc.registrar}
        for acc in self.config.accounts:
            self._add_account(acc)

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
        tls.msecTimeout = inbound.HANDSHAKE_TIMEOUT_MS

    def audio_levels(self) -> tuple[float, float] | None:
        """Microphone and speaker level of the last 20 ms (0..1), None with no
        sound device. Any thread: it only reads two byte strings."""
        return self.sound.levels()

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
                pj.AuthCredInfo("digest", "*", acc.username or SipUri.parse(acc.uri).plain_user,
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
        self.presence.publish(a, self.presence.chosen)

    def _registered_once(self, name: str) -> None:
        """An account's first REGISTER was answered: once all were, the sound device may start."""
        if name in self._first_reg:
            self._first_reg.discard(name)
            if not self._first_reg:
                self._sound_at = min(self._sound_at, time.monotonic() + SOUND_SETTLE_S)

    def _execute(self, command: Command) -> Result:
        self._guard(self.sound.start)  # a command before the REGISTERs were answered (a call, SetAudio)
        handler = self._handlers.get(type(command))
        if handler is None:
            return Result.fail(f"{type(command).__name__} is not a SIP command", "bad_input")
        return handler(command)

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
                self._register_at.pop(name, None)
                self.emit(RegState(name, False, 408, "registrar unreachable"))
            elif change == "up":
                self.emit(Log("info", f"account {name}: registrar is back, registering", time.time()))
                self._register_at[name] = now
        for name, at in list(self._register_at.items()):
            if now >= at:
                self._register_again(name, now)

    def _register_again(self, name: str, now: float) -> None:
        """REGISTER now. While an earlier REGISTER is still in flight (pjsua's
        own retry, retransmitted for up to 32 s) pjsua says busy: that one
        will reach the registrar too, so try again shortly instead of failing."""
        try:
            self._accounts[name].setRegistration(True)
        except pj.Error as e:
            if errors.constant(e) in ("PJSIP_EBUSY", "PJ_EBUSY"):
                if name not in self._register_busy:
                    self._register_busy.add(name)
                    self.emit(Log("info", f"account {name}: an earlier REGISTER is still on its way; "
                                          "trying again", time.time()))
                self._register_at[name] = now + REGISTER_RETRY
                return
            self.emit(Log("warning", f"account {name}: cannot register again yet ({self._explain(e)[0]})",
                          time.time()))
        self._register_at.pop(name, None)
        self._register_busy.discard(name)

    def _teardown(self) -> None:
        """Say goodbye on the network ourselves, each step bounded (issue 15:
        under 1 s idle, at most 3 s with calls): BYE every call, un-REGISTER
        (waiting for the answer, auth included), delete the accounts (their
        un-PUBLISH), and pump until the network is quiet. ``_destroy`` then
        needs no network, so pjsua skips its fixed one-second wait."""
        ep = self.ep
        self.presence.close()  # unsubscribe before the accounts go
        self.messaging.close()
        for probe in self._probes.values():
            probe.close()
        self._probes.clear()
        had_calls = bool(self.calls)
        if had_calls:
            ep.hangupAllCalls()
            self._pump(lambda: bool(self.calls), 1.5)
        leaving = [a for a in self._accounts.values() if a.cfg.registrar and self._unregister(a)]
        self._pump(lambda: any(a.unregistering for a in leaving), 1.0)
        # A MESSAGE still unanswered (its transaction lives 32 s) reports its end
        # while libDestroy shuts the transaction layer down, through its account:
        # deleted here, pjsua asserts (pjsua_acc.c: acc valid) and the process aborts.
        # Then the accounts stay until libDestroy, which deletes them after that.
        self._kept = list(self._accounts.values()) if self.messaging.abandon() else []
        for a in self._accounts.values():
            if self._kept:
                break
            try:
                a.shutdown()
            except Exception:  # noqa: BLE001
                pass
        a = leaving = None
        if had_calls or any(acc.registrar for acc in self.config.accounts):
            self._pump_quiet(0.1, 0.4)  # the BYEs' answers; the un-PUBLISH, challenged and re-sent
        self.calls.table.clear()
        self._dead.clear()
        self._accounts.clear()
        self.recordings.close()
        self.sound.close()  # its ports must go before libDestroy

    @staticmethod
    def _unregister(acc: "_Account") -> bool:
        """Send the account's un-REGISTER; True when an answer is awaited."""
        try:
            if not acc.getInfo().regIsActive:
                return False
            acc.unregistering = True
            acc.setRegistration(False)
            return True
        except pj.Error:
            acc.unregistering = False
            return False

    def _pump(self, waiting, within: float) -> None:
        """Handle events while ``waiting()`` holds, at most ``within`` seconds."""
        deadline = time.monotonic() + within
        while waiting() and time.monotonic() < deadline:
            self.ep.libHandleEvents(10)

    def _pump_quiet(self, quiet: float, within: float) -> None:
        """Handle events until none came for ``quiet`` seconds (or ``within`` passed)."""
        now = time.monotonic()
        deadline, last = now + within, now
        while now < deadline and now - last < quiet:
            if self.ep.libHandleEvents(10) > 0:
                last = time.monotonic()
            now = time.monotonic()

    def _destroy(self) -> None:
        self.inbound.close()
        gc.collect()
        try:
            self.ep.libDestroy(pj.PJSUA_DESTROY_NO_NETWORK)  # _teardown did the network part
        except Exception:  # noqa: BLE001
            pass
        self._kept = []  # after libDestroy their destructors find no account to delete
        gc.collect()
        self.ep = None
