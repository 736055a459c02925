"""Real SIP peers for contract tests: Kamailio, baresip and sipp on 127.0.0.1.

Plain classes / functions, no mocks. Every peer runs in its own directory (config, logs, traces) in its own
process group (``start_new_session``), is probed for readiness instead of slept on, and is stopped with
SIGTERM and then SIGKILL of the whole group, so no worker outlives the test. Ports are picked free by
default, so tests can run repeatedly and side by side. Facts come from /work/shared/PEERS.md (Debian 12,
kamailio 5.6.3, baresip 1.0.0, sipp 3.6.1) and were checked again while writing this file.
"""
from __future__ import annotations

import atexit
import itertools
import json
import math
import os
import shutil
import signal
import socket
import struct
import subprocess
import threading
import time
import uuid
import wave
from pathlib import Path

HOST = "127.0.0.1"
SCENARIOS = Path(__file__).resolve().parent / "contract" / "scenarios"
USERS = {"alice": "alicepw", "bob": "bobpw", "carol": "carolpw", "dave": "davepw"}


class PeerError(RuntimeError):
    """A peer failed to start, answer or stop; the message carries the tail of its log."""


# ---------------------------------------------------------------------------------------------- helpers


def _which(binary: str) -> str | None:
    """shutil.which, also looking in the sbin dirs (kamailio is /usr/sbin/kamailio, often off a user's PATH)."""
    return shutil.which(binary) or shutil.which(binary, path="/usr/local/sbin:/usr/sbin:/sbin")


def require(binary: str) -> str:
    """Return the path of `binary`; if it is missing, fail when CI=true, else skip the test."""
    import pytest

    path = _which(binary)
    if path:
        return path
    msg = f"required SIP peer binary {binary!r} not found on PATH (see /work/shared/PEERS.md section 1)"
    if os.environ.get("CI") == "true":
        pytest.fail(msg, pytrace=False)
    pytest.skip(msg)


def _free_port(needs: tuple[tuple[int, int], ...]) -> int:
    """A port P on 127.0.0.1 such that P+offset is free right now for every (offset, socket type) in `needs`."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, needs[0][1]) as s:
            s.bind((HOST, 0))
            port = s.getsockname()[1]
        try:
            for offset, kind in needs:
                with socket.socket(socket.AF_INET, kind) as s:
                    s.bind((HOST, port + offset))
        except OSError:
            continue
        return port
    raise PeerError(f"no free port for {needs}")


def free_udp_port() -> int:
    return _free_port(((0, socket.SOCK_DGRAM),))


def free_tcp_port() -> int:
    return _free_port(((0, socket.SOCK_STREAM),))


def free_port() -> int:
    """Free for both UDP and TCP (SIP listeners bind both)."""
    return _free_port(((0, socket.SOCK_DGRAM), (0, socket.SOCK_STREAM)))


def free_baresip_port() -> int:
    """baresip's sip_listen P binds UDP+TCP P and TCP P+1 (SIP/TLS); if P+1 is taken it exits with rc 98."""
    return _free_port(((0, socket.SOCK_DGRAM), (0, socket.SOCK_STREAM), (1, socket.SOCK_STREAM)))


def _bound_ports(proto: str) -> set[int]:
    """Local ports in /proc/net/{proto,proto6}; for tcp only LISTEN sockets. Probing by reading, not binding,
    so we never steal the port from a peer that is about to bind it."""
    ports = set()
    for name in (proto, proto + "6"):
        try:
            lines = Path("/proc/net", name).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            f = line.split()
            if proto == "tcp" and f[3] != "0A":
                continue
            ports.add(int(f[1].rsplit(":", 1)[1], 16))
    return ports


def port_bound(port: int, proto: str = "udp") -> bool:
    """True if something has `port` bound (udp) / listening (tcp)."""
    return port in _bound_ports(proto)


def wait_until(pred, timeout: float, what: str, interval: float = 0.01, proc=None, log=None):
    """Poll `pred` until truthy (returned) or `timeout`; fail fast if `proc` exits meanwhile."""
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            raise PeerError(f"{what}: process exited with rc {proc.returncode}\n{_tail(log)}")
        if time.monotonic() > deadline:
            raise PeerError(f"timed out after {timeout}s waiting for {what}\n{_tail(log)}")
        time.sleep(interval)


def _tail(path, n: int = 40) -> str:
    if not path:
        return ""
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return ""


_LIVE: dict[int, tuple[subprocess.Popen, Path]] = {}  # pgid -> (leader, cwd) of every group not yet stopped


def _spawn(argv, cwd: Path, log: Path) -> subprocess.Popen:
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [str(a) for a in argv], cwd=cwd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,  # own process group: we can signal the peer and all its workers
        )
    _LIVE[proc.pid] = (proc, Path(cwd).resolve())
    return proc


def stop_all(under=None) -> None:
    """Stop every peer process group started here (only those whose cwd is inside `under`, if given).
    Fixtures call it as a safety net; it also runs at interpreter exit."""
    root = Path(under).resolve() if under is not None else None
    for proc, cwd in list(_LIVE.values()):
        if root is None or cwd == root or root in cwd.parents:
            stop_process(proc, grace=2.0)


@atexit.register
def _stop_all_at_exit() -> None:
    try:
        stop_all()
    except PeerError:
        pass


def _group_pids(pgid: int) -> list[int]:
    """Live (non-zombie) processes in process group `pgid` (PID 1 here does not reap orphans)."""
    pids = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()  # after "(comm)": state ppid pgrp ...
        if int(fields[2]) == pgid and fields[0] != "Z":
            pids.append(int(entry.name))
    return pids


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def stop_process(proc: subprocess.Popen | None, grace: float = 5.0, sig: int = signal.SIGTERM) -> None:
    """Send `sig` to the process group, SIGKILL whatever is left after `grace` s, reap the leader, and wait
    until no member of the group is left. Idempotent."""
    if proc is None:
        return
    pgid = proc.pid
    if proc.poll() is None:
        _signal_group(pgid, sig)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            _signal_group(pgid, signal.SIGKILL)
            proc.wait(5)
    deadline = time.monotonic() + grace
    killed = False
    while _group_pids(pgid):
        if time.monotonic() > deadline:
            if killed:
                raise PeerError(f"processes {_group_pids(pgid)} of group {pgid} survived SIGKILL")
            _signal_group(pgid, signal.SIGKILL)
            killed, deadline = True, time.monotonic() + 5
        time.sleep(0.02)
    _LIVE.pop(pgid, None)


def sip_options(port: int, host: str = HOST, timeout: float = 0.5, ruri: str | None = None) -> int | None:
    """Send one OPTIONS over UDP; return the status code of the first final response, or None."""
    ruri = ruri or f"sip:{host}:{port}"
    tag = uuid.uuid4().hex[:10]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((HOST, 0))
        lport = s.getsockname()[1]
        msg = (
            f"OPTIONS {ruri} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {HOST}:{lport};branch=z9hG4bK{tag};rport\r\n"
            f"Max-Forwards: 70\r\n"
            f"From: <sip:probe@{HOST}>;tag={tag}\r\n"
            f"To: <{ruri}>\r\n"
            f"Call-ID: {tag}@{HOST}\r\n"
            f"CSeq: 1 OPTIONS\r\n"
            f"Content-Length: 0\r\n\r\n"
        )
        s.sendto(msg.encode(), (host, port))
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            s.settimeout(left)
            try:
                data = s.recv(65535)
            except (socket.timeout, ConnectionRefusedError):  # ECONNREFUSED: ICMP port unreachable
                return None
            parts = data.split(b" ", 2)
            if len(parts) >= 2 and parts[0] == b"SIP/2.0" and parts[1].isdigit() and int(parts[1]) >= 200:
                return int(parts[1])
    return None


def make_tone_wav(path, seconds: float = 30.0, freq: float = 440.0, rate: int = 8000, amplitude: float = 0.3):
    """Write a mono signed-16-bit WAV sine tone (baresip's aufile needs 8 kHz for G.711; it plays once)."""
    n = int(seconds * rate)
    frames = struct.pack(
        f"<{n}h", *(int(amplitude * 32767 * math.sin(2 * math.pi * freq * i / rate)) for i in range(n))
    )
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(frames)
    return Path(path)


# ---------------------------------------------------------------------------------------------- kamailio

_KAMAILIO_CFG = r"""#!KAMAILIO
debug=2
log_stderror=yes
children=1
tcp_children=1
dns=no
rev_dns=no
auto_aliases=no
listen=udp:127.0.0.1:@PORT@
listen=tcp:127.0.0.1:@PORT@
alias="127.0.0.1:@PORT@"
mpath="@MPATH@/"
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "xlog.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "htable.so"
loadmodule "auth.so"
loadmodule "db_text.so"
loadmodule "presence.so"
loadmodule "presence_xml.so"
modparam("usrloc", "db_mode", 0)
modparam("htable", "htable", "users=>size=4;")
modparam("db_text", "db_mode", 1)
modparam("presence", "db_url", "text://@DB@")
modparam("presence", "server_address", "sip:127.0.0.1:@PORT@")
modparam("presence_xml", "db_url", "text://@DB@")
modparam("presence_xml", "force_active", 1)
event_route[htable:mod-init] {
@USERS@
}
request_route {
    xlog("L_INFO", "REQ $rm $ru from $fu src $pr:$si:$sp\n");
    if (!mf_process_maxfwd_header("10")) { sl_send_reply("483", "Too Many Hops"); exit; }
    if (has_totag()) {
        if (loose_route()) { t_relay(); exit; }
        if (is_method("SUBSCRIBE") && uri == myself) { handle_subscribe(); exit; }
        if (is_method("ACK")) { if (t_check_trans()) t_relay(); exit; }
        sl_send_reply("404", "Not here"); exit;
    }
    if (is_method("CANCEL")) { if (t_check_trans()) t_relay(); exit; }
    t_check_trans();
    if (is_method("OPTIONS") && uri == myself && $rU == $null) { sl_send_reply("200", "OK"); exit; }
    if (is_method("REGISTER|INVITE|MESSAGE|SUBSCRIBE|PUBLISH")) {
        if (!pv_auth_check("$fd", "$sht(users=>$fU)", "0", "1")) { auth_challenge("$fd", "0"); exit; }
        consume_credentials();
    }
    if (is_method("REGISTER")) {
        if (!save("location")) { sl_reply_error(); exit; }
        xlog("L_INFO", "REGISTERED $tu expires=$hdr(Expires) contact=$ct\n");
        exit;
    }
    if (is_method("PUBLISH|SUBSCRIBE")) {
        if (!t_newtran()) { sl_reply_error(); exit; }
        if (is_method("PUBLISH")) handle_publish(); else handle_subscribe();
        t_release(); exit;
    }
    if (is_method("INVITE")) record_route();
    if (!lookup("location")) { sl_send_reply("404", "Not Found"); exit; }
    if (!t_relay()) sl_reply_error();
}
"""


def _kamailio_mpath() -> str:
    for d in sorted(Path("/usr/lib").glob("*/kamailio/modules")) + [Path("/usr/lib/kamailio/modules")]:
        if (d / "tm.so").exists():
            return str(d)
    raise PeerError("kamailio modules directory (tm.so) not found")


class _Daemon:
    """What the long-running peers share: ``log_path`` as text, and ``with peer:`` = start() … stop()."""

    log_path: Path

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class Kamailio(_Daemon):
    """Kamailio 5.6 registrar + proxy + presence on 127.0.0.1:`port` (UDP and TCP), config per PEERS.md §2.

    Verified facts relied on:
    - users alice/alicepw, bob/bobpw, carol/carolpw, dave/davepw in an htable; realm = From domain
      (so accounts must use domain 127.0.0.1), auth user must equal the From user; REGISTER and INVITE get
      401/407 first. INVITEs are record-routed; unknown users get 404.
    - Registrations live in memory only (usrloc db_mode 0); presence uses db_text tables copied fresh per
      instance into `workdir/db`. State (bindings, presentities) leaks between tests, hence one instance
      per test.
    - `kamailio -DD -E` stays in the foreground (its 6 workers are forked into our process group); an
      OPTIONS to sip:127.0.0.1:port (no user) gets 200 ~0.25 s after spawn -- that is the readiness probe.
    - SIGTERM to the main pid alone takes ~1.2 s (PEERS.md); SIGTERM to the whole group takes ~20 ms.
      stop() then waits until /proc/net shows the port unbound, so restart() can rebind it at once.
    - Each request is logged as "REQ <method> <ruri> from <from-uri> src <proto>:<ip>:<port>" and each
      successful REGISTER as "REGISTERED <to-uri> ..." (search `log_text()`).
    """

    def __init__(self, workdir, port: int | None = None, users: dict[str, str] | None = None):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._fixed_port = port is not None
        self.port = port or free_port()
        self.users = dict(USERS if users is None else users)
        self.host = HOST
        self.proc: subprocess.Popen | None = None
        self.log_path = self.workdir / "kamailio.log"
        self.cfg_path = self.workdir / "kamailio.cfg"
        self.db_dir = self.workdir / "db"

    # addresses
    @property
    def domain(self) -> str:
        """host:port for SIP URIs (sip:alice@<domain>); the auth realm is just the host, 127.0.0.1."""
        return f"{HOST}:{self.port}"

    realm = HOST

    def uri(self, user: str | None = None, transport: str | None = None) -> str:
        u = f"sip:{user}@{self.domain}" if user else f"sip:{self.domain}"
        return u + (f";transport={transport}" if transport else "")

    # lifecycle
    def _write_config(self) -> None:
        if self.db_dir.exists():
            shutil.rmtree(self.db_dir)
        self.db_dir.mkdir()
        for f in Path("/usr/share/kamailio/dbtext/kamailio").iterdir():
            shutil.copy(f, self.db_dir / f.name)
        users = "\n".join(f'    $sht(users=>{u}) = "{p}";' for u, p in self.users.items())
        cfg = (_KAMAILIO_CFG.replace("@PORT@", str(self.port)).replace("@DB@", str(self.db_dir))
               .replace("@MPATH@", _kamailio_mpath()).replace("@USERS@", users))
        self.cfg_path.write_text(cfg)

    def start(self, timeout: float = 10.0) -> "Kamailio":
        binary = _which("kamailio") or "kamailio"
        for attempt in range(3):
            self._write_config()
            with open(self.log_path, "ab") as f:
                f.write(f"=== start on port {self.port} ===\n".encode())
            self.proc = _spawn([binary, "-f", self.cfg_path, "-DD", "-E", "-P", self.workdir / "kamailio.pid"],
                               self.workdir, self.log_path)
            try:
                wait_until(lambda: sip_options(self.port, timeout=0.2) == 200 and port_bound(self.port, "tcp"),
                           timeout, f"kamailio OPTIONS 200 on {self.domain}", proc=self.proc, log=self.log_path)
                return self
            except PeerError:
                self.stop()
                # lost a race for a free port? pick another one (only when the caller didn't fix it)
                if self._fixed_port or attempt == 2:
                    raise
                self.port = free_port()
        return self

    def stop(self) -> None:
        if self.proc is None:
            return
        try:
            stop_process(self.proc, grace=5.0)
        finally:
            self.proc = None
        wait_until(lambda: not port_bound(self.port, "udp") and not port_bound(self.port, "tcp"), 5,
                   f"kamailio port {self.port} release")

    def restart(self, timeout: float = 10.0) -> "Kamailio":
        """Stop (all registrations and presence state are lost), wait for the port to be free, start again
        on the same port with a fresh db dir."""
        self.stop()
        self._fixed_port = True
        return self.start(timeout)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None



# ---------------------------------------------------------------------------------------------- baresip

_BARESIP_CFG = """poll_method     epoll
sip_listen      127.0.0.1:{sip_port}
net_interface   127.0.0.1
sip_trans_def   udp
audio_player    {player}
audio_source    {source}
audio_alert     aubridge,null
rtp_ports       {rtp_lo}-{rtp_hi}
module_path     /usr/lib/baresip/modules
module          g711.so
module          aubridge.so
module          aufile.so
{device_module}module_tmp      account.so
module_app      menu.so
module_app      ctrl_tcp.so
ctrl_tcp_listen 127.0.0.1:{ctrl_port}
{extra}
"""


def baresip_account(user: str, password: str | None = None, domain: str = HOST, *, answermode: str = "auto",
                    regint: int | None = None, codecs: str = "pcmu,pcma", params: str = "") -> str:
    """An accounts line. With a password it registers (regint default 600), without one regint=0 (direct)."""
    if regint is None:
        regint = 600 if password else 0
    line = f"<sip:{user}@{domain}>"
    if password:
        line += f";auth_pass={password}"
    return line + f";regint={regint};answermode={answermode};audio_codecs={codecs}{params}"


class Baresip(_Daemon):
    """baresip 1.0.0, headless, controlled over ctrl_tcp (PEERS.md §3).

    Verified facts relied on:
    - `net_interface 127.0.0.1` is required or the SDP c= line carries eth0's address; `-4` forces IPv4.
    - No null audio player in 1.0.0: `aubridge,null` is the sink. `ausine` only works at 48 kHz (fails with
      G.711), so the source is `aufile` playing an 8 kHz mono s16 WAV tone (generated here; plays once).
    - Never `-d` (daemonizes -> orphan). ctrl_tcp is up ~30 ms after start: connecting is the readiness probe.
    - ctrl_tcp speaks netstrings `<len>:<json>,`: command {"command","params","token"} -> response
      {"response":true,"ok":..,"data":..,"token":..}; events {"event":true,"type":"CALL_ESTABLISHED",...} share
      the socket (types seen: REGISTER_OK, CALL_INCOMING, CALL_RINGING, CALL_LOCAL_SDP, CALL_ESTABLISHED,
      CALL_CLOSED). A reader thread queues events and routes responses by token.
    - `answermode=auto` answers at once with 200; `answermode=manual` rings (180) until `accept`.
    - `quit` stops an idle baresip in ~5 ms (it un-REGISTERs first). With a call to a dead contact in
      progress, `quit` and the first SIGTERM wait for the transaction (PEERS.md saw >10 s); a second
      SIGTERM exits at once (quit of such a baresip: ~1.3 s). stop() does quit -> SIGTERM x2 -> SIGKILL.
    """

    _tokens = itertools.count(1)

    def __init__(self, workdir, account_line: str, sip_port: int | None = None, ctrl_port: int | None = None,
                 tone_wav=None, rtp_ports: tuple[int, int] = (42000, 42999), extra_config: str = "",
                 sip_trace: bool = False, device: str = ""):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.account_line = account_line
        self._fixed_ports = sip_port is not None or ctrl_port is not None
        self.sip_port = sip_port or free_baresip_port()
        self.ctrl_port = ctrl_port or free_tcp_port()
        self.tone_wav = Path(tone_wav) if tone_wav else None
        self.rtp_ports = rtp_ports
        self.extra_config = extra_config
        self.sip_trace = sip_trace
        self.device = device  # e.g. "alsa,pulse": play and capture through a real device instead of aubridge/aufile
        self.log_path = self.workdir / "baresip.log"
        self.proc: subprocess.Popen | None = None
        self.sock: socket.socket | None = None
        self.events: list[dict] = []  # unconsumed events, oldest first
        self._responses: dict[str, dict] = {}
        self._cond = threading.Condition()
        self._reader: threading.Thread | None = None
        self._closed = False

    @property
    def uri(self) -> str:
        """Where to send a direct call: sip:<user>@127.0.0.1:<sip_port>."""
        user = self.account_line.split("sip:", 1)[1].split("@", 1)[0]
        return f"sip:{user}@{HOST}:{self.sip_port}"

    def start(self, timeout: float = 10.0) -> "Baresip":
        if self.tone_wav is None:
            self.tone_wav = make_tone_wav(self.workdir / "tone8k.wav")
        self._write_config()
        argv = [_which("baresip") or "baresip", "-4", "-f", self.workdir]
        if self.sip_trace:
            argv.append("-s")
        for attempt in range(3):
            self.proc = _spawn(argv, self.workdir, self.log_path)
            try:
                self.sock = wait_until(self._connect, timeout, f"baresip ctrl_tcp on {self.ctrl_port}",
                                       interval=0.02, proc=self.proc, log=self.log_path)
                break
            except BaseException as e:
                lost_race = isinstance(e, PeerError) and self.proc.poll() == 98  # EADDRINUSE
                self.stop()
                if not lost_race or self._fixed_ports or attempt == 2:
                    raise
                self.sip_port, self.ctrl_port = free_baresip_port(), free_tcp_port()
                self._write_config()
        self._reader = threading.Thread(target=self._read_loop, name=f"baresip-ctrl-{self.ctrl_port}", daemon=True)
        self._reader.start()
        return self

    def _write_config(self) -> None:
        dev = self.device
        cfg = _BARESIP_CFG.format(sip_port=self.sip_port, player=dev or "aubridge,null",
                                  source=dev or f"aufile,{self.tone_wav.resolve()}",
                                  device_module=f"module          {dev.split(',')[0]}.so\n" if dev else "",
                                  rtp_lo=self.rtp_ports[0], rtp_hi=self.rtp_ports[1], ctrl_port=self.ctrl_port,
                                  extra=self.extra_config)
        (self.workdir / "config").write_text(cfg)
        (self.workdir / "accounts").write_text(self.account_line + "\n")

    def _connect(self):
        try:
            return socket.create_connection((HOST, self.ctrl_port), timeout=1)
        except OSError:
            return None

    def _read_loop(self) -> None:
        buf = b""
        sock = self.sock
        sock.settimeout(None)
        try:
            while True:
                data = sock.recv(65536)
                if not data:
                    break
                buf += data
                while True:
                    head, colon, rest = buf.partition(b":")
                    if not colon or not head.isdigit() or len(rest) < int(head) + 1:
                        break
                    n = int(head)
                    payload, buf = rest[:n], rest[n + 1:]  # skip the trailing ","
                    try:
                        msg = json.loads(payload)
                    except ValueError:
                        continue
                    with self._cond:
                        if msg.get("event"):
                            self.events.append(msg)
                        elif msg.get("response"):
                            self._responses[str(msg.get("token"))] = msg
                        self._cond.notify_all()
        except OSError:
            pass
        finally:
            with self._cond:
                self._closed = True
                self._cond.notify_all()

    def command(self, cmd: str, params: str = "", timeout: float = 5.0) -> dict:
        """Send a ctrl_tcp command; return its response dict ({"ok": bool, "data": str, ...})."""
        if self.sock is None:
            raise PeerError("baresip is not running")
        token = f"t{next(self._tokens)}"
        body = json.dumps({"command": cmd, "params": params, "token": token}).encode()
        self.sock.sendall(b"%d:%s," % (len(body), body))
        with self._cond:
            if not self._cond.wait_for(lambda: token in self._responses or self._closed, timeout):
                raise PeerError(f"no response to baresip command {cmd!r} within {timeout}s\n{_tail(self.log_path)}")
            if token not in self._responses:
                raise PeerError(f"baresip ctrl_tcp closed during {cmd!r}\n{_tail(self.log_path)}")
            return self._responses.pop(token)

    def wait_event(self, type: str, timeout: float = 10.0, pred=None) -> dict:
        """Remove and return the oldest queued event of `type` (and matching `pred`), waiting up to `timeout`.
        Other events stay queued."""

        def find():
            for i, ev in enumerate(self.events):
                if ev.get("type") == type and (pred is None or pred(ev)):
                    return self.events.pop(i)
            return None

        with self._cond:
            ev = self._cond.wait_for(lambda: find() or (self._closed and "closed"), timeout)
        if not ev or ev == "closed":
            seen = [e.get("type") for e in self.events]
            raise PeerError(f"no baresip event {type!r} within {timeout}s (queued: {seen})\n{_tail(self.log_path)}")
        return ev

    def clear_events(self) -> None:
        with self._cond:
            self.events.clear()

    def dial(self, uri: str) -> dict:
        return self.command("dial", uri)

    def hangup(self) -> dict:
        return self.command("hangup")

    def accept(self) -> dict:
        return self.command("accept")

    def reginfo(self) -> str:
        return self.command("reginfo").get("data", "")

    def wait_registered(self, timeout: float = 5.0) -> str:
        """Poll `reginfo` until the account shows OK; returns the reginfo text."""
        info = {}

        def ok():
            info["text"] = self.reginfo()
            return "OK" in info["text"]

        try:
            wait_until(ok, timeout, "baresip registration", interval=0.05, proc=self.proc, log=self.log_path)
        except PeerError as e:
            raise PeerError(f"{e}\nlast reginfo: {info.get('text')!r}") from None
        return info["text"]

    def quit(self, timeout: float = 1.0) -> None:
        """Ask baresip to quit (~5 ms when idle), then make sure it is gone (see stop())."""
        if self.proc is not None and self.proc.poll() is None and self.sock is not None:
            try:
                body = json.dumps({"command": "quit", "params": "", "token": "quit"}).encode()
                self.sock.sendall(b"%d:%s," % (len(body), body))
                self.proc.wait(timeout)
            except (OSError, subprocess.TimeoutExpired):
                pass
        self.stop()

    def stop(self) -> None:
        """SIGTERM twice (baresip's 2nd SIGTERM exits at once; the 1st, like `quit`, waits for open
        transactions -- seconds with a call to a dead contact), then SIGKILL of the group."""
        try:
            if self.proc is not None and self.proc.poll() is None:
                for grace in (0.3, 1.0):
                    _signal_group(self.proc.pid, signal.SIGTERM)
                    try:
                        self.proc.wait(grace)
                        break
                    except subprocess.TimeoutExpired:
                        pass
            stop_process(self.proc, grace=1.0)
        finally:
            self.proc = None
            if self.sock is not None:
                try:
                    self.sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                self.sock.close()
                self.sock = None
            if self._reader is not None:
                self._reader.join(2)
                self._reader = None

    def __exit__(self, *exc):
        self.quit()


# ---------------------------------------------------------------------------------------------- sipp

UAS_SCENARIOS = {"uas-fast": "uas-fast.xml", "fast": "uas-fast.xml", "busy": "uas-busy.xml",
                 "uas-busy": "uas-busy.xml", "ringing": "uas-ringing.xml", "uas-ringing": "uas-ringing.xml"}
UAC_SCENARIOS = {"uac-cancel": "uac-cancel.xml", "cancel": "uac-cancel.xml", "uac-wait-bye": "uac-wait-bye.xml",
                 "wait-bye": "uac-wait-bye.xml", "uac-bye": "uac-bye.xml", "bye": "uac-bye.xml"}


class Sipp:
    """One sipp 3.6.1 process running a single call (-m 1) in its own directory.

    Verified facts relied on: `-nostdin` is needed with stdin=/dev/null; a relative -sf resolves against
    sipp's cwd and a missing file or a UTF-8 BOM both print "Unable to load or parse", so -sf paths are
    absolute; -message_file/-error_file name the -trace_msg/-trace_err logs. Exit codes: 0 all calls OK,
    1 a call failed (e.g. unexpected 486 or 407), 255 -timeout hit with -timeout_error. A sipp stopped
    with SIGTERM exits 0, so don't read rc after stop(). A UAS is ready when its UDP port shows up in
    /proc/net/udp. Each sipp gets free -p/-mp/-cp ports (defaults 5060/6000/8888 would collide).
    Every scenario here ran to rc 0 against pjsua2 2.15.1 (sends 100) and baresip 1.0.0 (sends no 100).
    uas-ringing cannot take a CANCEL (sipp aborts the call: UAS rc 1, caller gets no 487).
    """

    def __init__(self, workdir, argv, port: int | None, name: str):
        """``argv(port)`` -> sipp's arguments for its main port (a fresh free one when ``port`` is None).
        A port taken between picking it and sipp binding it (another xdist worker, a phone's RTP) makes
        sipp exit at once with rc 254 "Unable to bind …": it is started again on fresh ports."""
        for attempt in range(5):
            self.port = port or free_udp_port()
            self.dir = Path(workdir) / f"sipp-{name}-{self.port}"
            self.dir.mkdir(parents=True, exist_ok=True)
            self.log_path = self.dir / "sipp.out"
            self.message_path = self.dir / "messages.log"
            self.error_path = self.dir / "errors.log"
            self.argv = [_which("sipp") or "sipp", *argv(self.port), "-trace_msg", "-message_file",
                         self.message_path, "-trace_err", "-error_file", self.error_path]
            self.proc = _spawn(self.argv, self.dir, self.log_path)
            if not self._lost_a_port(fixed=port is not None) or attempt == 4:
                return

    def _lost_a_port(self, fixed: bool) -> bool:
        """Wait until sipp has bound its main port (or exited); True when it exited for a port now taken."""
        deadline = time.monotonic() + 5
        while self.proc.poll() is None and not port_bound(self.port, "udp") and time.monotonic() < deadline:
            time.sleep(0.01)
        if self.proc.poll() != 254:
            return False
        said = self.errors() + self.output()
        return "Unable to bind" in said and not (fixed and "bind main socket" in said)

    @property
    def returncode(self) -> int | None:
        return self.proc.poll()

    def wait_ready(self, timeout: float = 5.0) -> "Sipp":
        wait_until(lambda: port_bound(self.port, "udp"), timeout, f"sipp on udp port {self.port}",
                   proc=self.proc, log=self.log_path)
        return self

    def wait(self, timeout: float = 30.0) -> int:
        """Wait for sipp to finish; on timeout kill it and raise PeerError with its message trace."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            raise PeerError(f"sipp still running after {timeout}s: {self.argv}\n{self.messages()[-3000:]}") from None

    def stop(self) -> None:
        stop_process(self.proc, grace=2.0)

    def messages(self) -> str:
        return self.message_path.read_text(errors="replace") if self.message_path.exists() else ""

    def errors(self) -> str:
        return self.error_path.read_text(errors="replace") if self.error_path.exists() else ""

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def _scenario_args(scenario: str, table: dict, builtin: str) -> list:
    if scenario == builtin:
        return ["-sn", builtin]
    path = Path(scenario)
    if scenario in table:
        path = SCENARIOS / table[scenario]
    elif not path.is_absolute():
        path = SCENARIOS / scenario
    if not path.is_file():
        raise PeerError(f"sipp scenario {scenario!r} not found ({path})")
    return ["-sf", path.resolve()]


def free_sipp_media_port() -> int:
    """sipp binds -mp (audio RTP), -mp+1 (its RTCP) and -mp+2 (video RTP)."""
    return _free_port(((0, socket.SOCK_DGRAM), (1, socket.SOCK_DGRAM), (2, socket.SOCK_DGRAM), (3, socket.SOCK_DGRAM)))


def _common_args(local_port: int, timeout: float) -> list:
    return ["-i", HOST, "-mi", HOST, "-p", local_port, "-mp", free_sipp_media_port(), "-cp", free_udp_port(),
            "-nostdin", "-m", 1, "-timeout", f"{int(math.ceil(timeout))}s", "-timeout_error"]


def sipp_uas(workdir, port: int | None = None, scenario: str = "uas-fast", *, duration_ms: int | None = None,
             timeout: float = 20, extra_args=(), wait_ready: bool = True) -> Sipp:
    """Start a sipp UAS on 127.0.0.1:`port` (free port if None; see `.port`) for one call.

    scenario: "uas-fast" (built-in uas, 100 ms timewait), "busy" (486 Busy Here), "ringing" (180, pause
    `duration_ms` -- default 1000, via -d -- then 200, waits for BYE), "uas" (built-in), or an XML path.
    """
    args = _scenario_args(scenario, UAS_SCENARIOS, "uas")
    if duration_ms is None and UAS_SCENARIOS.get(scenario) == "uas-ringing.xml":
        duration_ms = 1000
    if duration_ms is not None:
        args += ["-d", duration_ms]
    sipp = Sipp(workdir, lambda p: [*args, *_common_args(p, timeout), *extra_args], port, "uas")
    if wait_ready:
        try:
            sipp.wait_ready()
        except BaseException:
            sipp.stop()
            raise
    return sipp


def sipp_uac(workdir, target_host_port: str, service: str, scenario: str = "uac", *,
             duration_ms: int | None = None, local_port: int | None = None, timeout: float = 20,
             extra_args=()) -> Sipp:
    """Start a sipp UAC placing one call to sip:`service`@`target_host_port` (e.g. "127.0.0.1:5062").

    scenario: "uac" (built-in: 100/180/183 optional, 200, ACK, pause -d, BYE; its SDP is PCMU only;
    it ACKs and exits rc 1 on any non-200 final response), "uac-bye" (same with PCMU +
    telephone-event SDP, Record-Route aware; hangs up after -d `duration_ms`), "uac-wait-bye" (waits up to
    30 s for 200, ACKs, then waits for the callee's BYE and answers 200), "uac-cancel" (waits for 180, then
    CANCEL; expects 200 for the CANCEL and 487 for the INVITE, ACKs it), or an XML path.
    For "uac-wait-bye" pass a `timeout` above the time the callee needs to answer and hang up.
    `duration_ms` (-d) defaults to sipp's 0: BYE right after the ACK.
    """
    args = _scenario_args(scenario, UAC_SCENARIOS, "uac")
    if duration_ms is not None:
        args += ["-d", duration_ms]
    return Sipp(workdir, lambda p: [*args, "-s", service, *_common_args(p, timeout), *extra_args, target_host_port],
                local_port, "uac")


# ---------------------------------------------------------------------------------------------- PulseAudio


class Pulse(_Daemon):
    """A private PulseAudio 16 daemon with null sinks: a sound card for PortAudio where there is none (CI).

    Verified facts relied on (Debian 12, pulseaudio 16.1, libasound2-plugins, PortAudio 19.6 via sounddevice):
    - `pulseaudio --daemonize=no -n` (no default.pa) stays in the foreground; as root it only warns. It is up
      when `pactl info` answers (~0.1-0.3 s). Everything here loads explicitly: module-native-protocol-unix on
      `<dir>/pulse/native` with auth-anonymous=1 (no cookie needed), and one module-null-sink per name.
    - Clients find it through ``env``: PULSE_SERVER=unix:<socket>. That works whatever XDG_RUNTIME_DIR the
      client has (HeadlessPhone gives tui-phone its own), for pactl/parec/pacat and for PortAudio, whose ALSA
      devices "pulse" and "default" (libasound2-plugins) are the only devices it lists here (no /dev/snd).
      Those two follow the server's default sink / default source (`set_defaults`), read when a stream opens.
    - A null sink's monitor source `<sink>.monitor` carries what is played into the sink, so two sinks give a
      speaker (record its monitor) and a microphone (play a tone into the sink; the client records the
      monitor) without a loop between them.
    - Stopped with SIGTERM to its process group (stop_process), like the SIP peers.
    """

    def __init__(self, workdir, sinks=("nullsink",)):
        self.workdir = Path(workdir)
        self.dir = self.workdir / "xdg"
        self.sinks = tuple(sinks)
        self.socket = self.dir / "pulse" / "native"
        self.log_path = self.workdir / "pulse.log"
        self.proc: subprocess.Popen | None = None
        self._children: list[subprocess.Popen] = []

    @property
    def env(self) -> dict[str, str]:
        """Environment entries that point a client (pactl, parec, PortAudio) at this server."""
        return {"PULSE_SERVER": f"unix:{self.socket}"}

    def _env(self) -> dict[str, str]:
        return {**os.environ, **self.env}

    def start(self, timeout: float = 10.0) -> "Pulse":
        self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        (self.dir / "pulse").mkdir(mode=0o700, exist_ok=True)
        argv = [_which("pulseaudio") or "pulseaudio", "--daemonize=no", "--exit-idle-time=-1", "--system=false",
                "-n", "--use-pid-file=no", "--log-target=stderr",
                f"--load=module-native-protocol-unix auth-anonymous=1 socket={self.socket}"]
        argv += [f"--load=module-null-sink sink_name={s} rate=48000" for s in self.sinks]
        env = {**os.environ, "XDG_RUNTIME_DIR": str(self.dir)}
        env.pop("PULSE_SERVER", None)
        with open(self.log_path, "ab") as out:
            self.proc = subprocess.Popen(argv, cwd=self.workdir, stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=subprocess.STDOUT, env=env, start_new_session=True)
        _LIVE[self.proc.pid] = (self.proc, self.workdir.resolve())
        try:
            wait_until(lambda: self.pactl("info", check=False).returncode == 0, timeout, "pulseaudio `pactl info`",
                       interval=0.05, proc=self.proc, log=self.log_path)
        except BaseException:
            self.stop()
            raise
        if self.sinks:
            self.set_defaults(self.sinks[0], self.sinks[0] + ".monitor")
        return self

    def pactl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        p = subprocess.run(["pactl", *args], env=self._env(), capture_output=True, text=True, timeout=10)
        if check and p.returncode != 0:
            raise PeerError(f"pactl {' '.join(args)} -> rc {p.returncode}: {p.stderr.strip()}\n{_tail(self.log_path)}")
        return p

    def set_defaults(self, sink: str | None = None, source: str | None = None) -> None:
        """Where PortAudio's "default"/"pulse" devices play (sink) and record (source, e.g. "mic.monitor")."""
        if sink:
            self.pactl("set-default-sink", sink)
        if source:
            self.pactl("set-default-source", source)

    def record(self, source: str, path, rate: int = 16000, latency_ms: int = 20) -> subprocess.Popen:
        """Start `parec` writing raw s16le mono at `rate` from `source` to `path`; stop it with stop_child()."""
        out = open(path, "wb")
        p = subprocess.Popen(["parec", "-d", source, f"--rate={rate}", "--channels=1", "--format=s16le", "--raw",
                              f"--latency-msec={latency_ms}"], stdout=out, stderr=subprocess.DEVNULL, env=self._env(),
                             start_new_session=True)
        out.close()
        self._children.append(p)
        return p

    def play(self, sink: str, path, rate: int = 16000) -> subprocess.Popen:
        """Start `pacat` playing raw s16le mono `path` (at `rate`) into `sink`, in real time."""
        p = subprocess.Popen(["pacat", "--playback", "-d", sink, f"--rate={rate}", "--channels=1",
                              "--format=s16le", "--raw", "--latency-msec=20", str(path)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=self._env(),
                             start_new_session=True)
        self._children.append(p)
        return p

    def stop_child(self, p: subprocess.Popen) -> None:
        """SIGTERM (parec flushes what it has), then SIGKILL after 3 s."""
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(3)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(3)
        if p in self._children:
            self._children.remove(p)

    def stop(self) -> None:
        for p in list(self._children):
            self.stop_child(p)
        stop_process(self.proc, grace=3.0)
        self.proc = None



def tone_pcm(seconds: float, freq: float, rate: int = 16000, amplitude: float = 0.3) -> bytes:
    """Raw s16le mono sine (for Pulse.play)."""
    n = int(seconds * rate)
    return struct.pack(f"<{n}h", *(int(amplitude * 32767 * math.sin(2 * math.pi * freq * i / rate))
                                   for i in range(n)))


# ---------------------------------------------------------------------------------------------- radicale

_RADICALE_CFG = """[server]
hosts = 127.0.0.1:{port}

[auth]
type = htpasswd
htpasswd_filename = {users}
htpasswd_encryption = plain
delay = 0

[rights]
type = owner_only

[storage]
filesystem_folder = {storage}

[logging]
level = info
mask_passwords = True
"""


class Radicale(_Daemon):
    """Radicale 3.9 (pip, the ``[test]`` extra) as a CardDAV server on 127.0.0.1:`port`, htpasswd users in
    plain text (USERS), ``owner_only`` rights: each user reads and writes under ``/<user>/``.

    Verified facts relied on:
    - ``python -m radicale --config FILE`` stays in the foreground; it is up when a GET / answers (~0.5 s).
    - The principal ``/<user>/`` is created on the user's first authenticated request; an address book is an
      MKCOL with ``resourcetype`` addressbook, or a PUT of a whole ``.vcf`` on the collection path (how
      ``put_book`` stores 10,000 cards in one request).
    - ``/.well-known/carddav`` redirects to ``/``; PROPFIND there gives ``current-user-principal``.
    - A wrong password gets 401 (``delay = 0``: no sleep before it). ``sync-collection`` is supported.
    - The storage is plain files (``collection-root/<user>/<book>/<uid>.vcf``), kept across restart().
    """

    def __init__(self, workdir, port: int | None = None, users: dict[str, str] | None = None):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_tcp_port()
        self.users = dict(USERS if users is None else users)
        self.proc: subprocess.Popen | None = None
        self.log_path = self.workdir / "radicale.log"
        self.cfg_path = self.workdir / "radicale.cfg"

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/"

    def book_url(self, user: str, book: str) -> str:
        return f"{self.url}{user}/{book}/"

    def start(self, timeout: float = 15.0) -> "Radicale":
        import importlib.util
        import sys

        if importlib.util.find_spec("radicale") is None:
            msg = "Radicale is not installed (pip install -e '.[test]')"
            import pytest

            if os.environ.get("CI") == "true":
                pytest.fail(msg, pytrace=False)
            pytest.skip(msg)
        users = self.workdir / "users"
        users.write_text("".join(f"{u}:{p}\n" for u, p in self.users.items()))
        self.cfg_path.write_text(_RADICALE_CFG.format(port=self.port, users=users,
                                                      storage=self.workdir / "storage"))
        self.proc = _spawn([sys.executable, "-m", "radicale", "--config", self.cfg_path],
                           self.workdir, self.log_path)
        try:
            wait_until(lambda: port_bound(self.port, "tcp"), timeout, f"radicale on {self.url}",
                       interval=0.05, proc=self.proc, log=self.log_path)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        stop_process(self.proc, grace=3.0)
        self.proc = None

    def restart(self, timeout: float = 15.0) -> "Radicale":
        self.stop()
        wait_until(lambda: not port_bound(self.port, "tcp"), 5, f"radicale port {self.port} release")
        return self.start(timeout)

    def _client(self, user: str):
        import httpx

        return httpx.Client(auth=(user, self.users[user]), timeout=120)

    def make_book(self, user: str, book: str) -> str:
        """Create an empty address book; its URL."""
        body = ('<?xml version="1.0"?><mkcol xmlns="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav"><set><prop>'
                f'<resourcetype><collection/><C:addressbook/></resourcetype><displayname>{book}</displayname>'
                '</prop></set></mkcol>')
        with self._client(user) as c:
            r = c.request("MKCOL", self.book_url(user, book), content=body)
        if r.status_code != 201:
            raise PeerError(f"MKCOL {book}: {r.status_code} {r.text[:200]}")
        return self.book_url(user, book)

    def put_book(self, user: str, book: str, cards: str) -> str:
        """Create (or replace) the address book ``book`` holding the vCards in ``cards``; its URL."""
        with self._client(user) as c:
            r = c.put(self.book_url(user, book), content=cards.encode(),
                      headers={"Content-Type": "text/vcard"})
        if r.status_code not in (201, 204):
            raise PeerError(f"PUT collection {book}: {r.status_code} {r.text[:200]}")
        return self.book_url(user, book)

    def get(self, user: str, path: str) -> "httpx.Response":  # noqa: F821
        with self._client(user) as c:
            return c.get(path if path.startswith("http") else self.url + path.lstrip("/"))

    def put(self, user: str, url: str, card: str, etag: str | None = None):
        with self._client(user) as c:
            return c.put(url, content=card.encode(), headers={"Content-Type": "text/vcard"}
                         | ({"If-Match": etag} if etag else {}))

    def delete(self, user: str, url: str):
        with self._client(user) as c:
            return c.delete(url)

    def card_files(self, user: str, book: str) -> dict[str, str]:
        """The stored cards of a book as {file name: text}, read from Radicale's storage folder."""
        folder = self.workdir / "storage" / "collection-root" / user / book
        return {p.name: p.read_text() for p in folder.glob("*") if p.is_file() and not p.name.startswith(".")}


# ---------------------------------------------------------------------------------------------- OpenSSH


class Sshd(_Daemon):
    """A private OpenSSH server on 127.0.0.1 (a free port) with generated host and user keys, for the
    "over SSH" recipes: ``ssh -L`` to reach a phone's control socket, ``ssh -R`` to lend it a sound server.

    Facts relied on (Debian 12, OpenSSH 9.2): ``sshd -D -e -f CONFIG`` stays in the foreground and logs to
    stderr; it wants an absolute path to itself and, as root, the privilege separation directory /run/sshd.
    CI runs as root, so the config says ``PermitRootLogin prohibit-password`` (keys only) and
    ``StrictModes no`` (keys in a temp dir). ``StreamLocalBindUnlink yes`` lets ``-R`` replace a stale socket.
    Ready when the port accepts and sends the ``SSH-2.0`` banner. ``ssh`` (``argv``) runs with ``-F /dev/null``,
    the generated key, a known_hosts holding only this host key (StrictHostKeyChecking) and BatchMode.
    """

    def __init__(self, workdir, port: int | None = None):
        self.workdir = Path(workdir)
        self.port = port or free_tcp_port()
        self.log_path = self.workdir / "sshd.log"
        self.proc: subprocess.Popen | None = None
        self.user = os.environ.get("USER") or __import__("getpass").getuser()

    def start(self, timeout: float = 10.0) -> "Sshd":
        sshd, keygen = require("sshd"), require("ssh-keygen")
        require("ssh")
        self.workdir.mkdir(mode=0o700, parents=True, exist_ok=True)
        for name in ("host", "user"):
            if not (self.workdir / name).exists():
                subprocess.run([keygen, "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", self.workdir / name],
                               check=True, capture_output=True)
        (self.workdir / "authorized_keys").write_text((self.workdir / "user.pub").read_text())
        host_pub = (self.workdir / "host.pub").read_text().split()
        (self.workdir / "known_hosts").write_text(f"[{HOST}]:{self.port} {host_pub[0]} {host_pub[1]}\n")
        (self.workdir / "sshd_config").write_text(
            f"Port {self.port}\nListenAddress {HOST}\nHostKey {self.workdir / 'host'}\n"
            f"AuthorizedKeysFile {self.workdir / 'authorized_keys'}\nPidFile {self.workdir / 'sshd.pid'}\n"
            "PermitRootLogin prohibit-password\nStrictModes no\nUsePAM no\nPasswordAuthentication no\n"
            "KbdInteractiveAuthentication no\nAllowTcpForwarding yes\nAllowStreamLocalForwarding yes\n"
            "StreamLocalBindUnlink yes\nX11Forwarding no\nPrintMotd no\nLogLevel VERBOSE\n")
        if os.geteuid() == 0:
            os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
        self.proc = _spawn([sshd, "-D", "-e", "-f", self.workdir / "sshd_config"], self.workdir, self.log_path)

        def banner() -> bool:
            try:
                with socket.create_connection((HOST, self.port), timeout=0.5) as s:
                    return s.recv(64).startswith(b"SSH-2.0")
            except OSError:
                return False

        try:
            wait_until(banner, timeout, "sshd banner", interval=0.05, proc=self.proc, log=self.log_path)
        except BaseException:
            self.stop()
            raise
        return self

    def argv(self, *options: str) -> list[str]:
        """``ssh`` to this server as the current user; append the remote command (one shell string)."""
        return [_which("ssh") or "ssh", "-F", "/dev/null", "-i", str(self.workdir / "user"), "-p", str(self.port),
                "-o", f"UserKnownHostsFile={self.workdir / 'known_hosts'}", "-o", "StrictHostKeyChecking=yes",
                "-o", "BatchMode=yes", "-o", "ExitOnForwardFailure=yes", "-o", "LogLevel=ERROR",
                *options, f"{self.user}@{HOST}"]

    def forward(self, *options: str, wait_for: Path | None = None, timeout: float = 10.0) -> subprocess.Popen:
        """``ssh -N`` holding forwardings (``-L``/``-R`` options) open; waits for ``wait_for`` to exist.
        Stop it with stop_process."""
        log = self.workdir / f"ssh-{len(list(self.workdir.glob('ssh-*.log')))}.log"
        proc = _spawn([*self.argv("-N", *options)], self.workdir, log)
        if wait_for is not None:
            try:
                wait_until(lambda: Path(wait_for).exists(), timeout, f"ssh forwarding to {wait_for}",
                           interval=0.05, proc=proc, log=log)
            except BaseException:
                stop_process(proc)
                raise
        return proc

    def stop(self) -> None:
        stop_process(self.proc)
