"""Links and the control API against the real `tui-phone --headless` and real
peers (sipp, xdg-mime, a local HTTP server): what reaches the wire, what is
refused, who may talk to the socket, the desktop handler and provisioning.

Issue 4; DESIGN.md "Links", "Control API", "Dial policy"."""

import asyncio
import http.server
import json
import os
import re
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from tests.peers import require, sipp_uas
from tests.phoneproc import HeadlessPhone, direct, exchange
from tui_phone.config import parse
from tui_phone.handlers import SCHEMES
from tui_phone.provisioning import ProvisioningError, add_account, fetch_account

ROOT = Path(__file__).resolve().parents[2]


# ----- helpers --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def phone(tmp_path_factory):
    """One headless phone (direct account, default policy) shared by the tests
    that need no special config; each test leaves it without calls."""
    with HeadlessPhone(tmp_path_factory.mktemp("links"), direct("alice")) as p:
        yield p


def proxied(port: int, extra: str = "") -> str:
    """A direct account whose numbers go to the sipp UAS on ``port``."""
    return direct("alice") + f'proxy = "sip:127.0.0.1:{port}"\n' + extra


def call_where(phone: HeadlessPhone, pred, state: str = "Connected", timeout: float = 10) -> dict:
    m = phone.wait_for(lambda m: any(pred(c) and c["state"] == state for c in m["calls"]), timeout,
                       f"a matching call in state {state}")
    return next(c for c in m["calls"] if pred(c) and c["state"] == state)


def hang_up(phone: HeadlessPhone, cid: int, uas=None) -> None:
    r = phone.api({"mt": "DisconnectCall", "id": cid})
    assert r["ok"], r
    phone.wait_for(lambda m: all(c["id"] != cid for c in m["calls"]), 10, f"call {cid} removed")
    if uas is not None:
        assert uas.wait(10) == 0, uas.messages()[-3000:]


def no_calls(phone: HeadlessPhone) -> bool:
    return phone.api({"mt": "GetState"})["model"]["dev:tui-phone"]["model"]["calls"] == []


def invites(uas) -> list[str]:
    """The INVITE requests sipp received, each as its text."""
    return [m for m in re.split(r"-{10,}.*\n", uas.messages()) if re.search(r"^INVITE ", m, re.M)]


def one_line(text: str) -> bool:
    return text.count("\n") == 1 and text.endswith("\n")


# ----- links reach the wire ---------------------------------------------------------------

@pytest.mark.parametrize("suffix", ["?subject=x&method=REGISTER", ";method=REGISTER?Subject=x&Priority=urgent"])
def test_open_sip_link_dials_the_uri_with_headers_and_method_dropped(phone, sipp_dir, suffix):
    uas = sipp_uas(sipp_dir, scenario="uas-fast")
    target = f"sip:service@127.0.0.1:{uas.port}"
    r = phone.cli("open", target + suffix)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "" and r.stderr == ""
    call = call_where(phone, lambda c: c["sip"] == target)
    assert call["dir"] == "o"
    hang_up(phone, call["id"], uas)
    (invite,) = invites(uas)
    assert f"INVITE {target} SIP/2.0" in invite
    lowered = invite.lower()
    assert "subject:" not in lowered and "priority:" not in lowered and "register" not in lowered


def test_zoomphonecall_sends_callerid_as_p_preferred_identity(headless, sipp_dir):
    uas = sipp_uas(sipp_dir, scenario="uas-fast")
    phone = headless(proxied(uas.port))
    r = phone.cli("open", "zoomphonecall://200?callerid=%2B15557654321&cat=report&bind=abc123")
    assert r.returncode == 0, r.stderr
    call = call_where(phone, lambda c: c["num"] == "200" or "200@" in c["sip"])
    assert (call["callerid"], call["cat"], call["bind"]) == ("+15557654321", "report", "abc123")
    hang_up(phone, call["id"], uas)
    (invite,) = invites(uas)
    assert f"INVITE sip:200@127.0.0.1:{uas.port} SIP/2.0" in invite
    assert re.search(r"^P-Preferred-Identity: <sip:\+15557654321@[^>\s]+>\s*$", invite, re.M), invite
    # cat and bind stay on the call: nothing of them goes on the wire
    assert "report" not in invite and "abc123" not in invite


def _calls_of(line: str) -> list[dict]:
    return json.loads(line)["model"]["dev:tui-phone"]["model"]["calls"]


def watched_removal(lines: list[str], cid: int) -> bool:
    """The watch output showed call ``cid`` Disconnected and then without it."""
    states = [next((c["state"] for c in _calls_of(line) if c["id"] == cid), None) for line in lines]
    return "Disconnected" in states and states[-1] is None


def test_subscribe_sees_every_state_of_an_outgoing_call(phone, sipp_dir):
    uas = sipp_uas(sipp_dir, scenario="ringing", duration_ms=300)
    watch = subprocess.Popen([sys.executable, "-m", "tui_phone", "--config", str(phone.config), "watch"],
                             env=phone.env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []

    def read():
        for line in watch.stdout:
            lines.append(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 5
        while not lines and time.monotonic() < deadline:
            time.sleep(0.01)
        assert lines, "watch printed no full state"
        r = phone.api({"mt": "StartCall", "sip": f"sip:service@127.0.0.1:{uas.port}", "src": "s"})
        assert r["ok"] and r["src"] == "s"
        cid = r["id"]
        phone.wait_call_state("Connected", 10, cid)
        hang_up(phone, cid, uas)
        deadline = time.monotonic() + 5  # until watch has printed the update that removes the call
        while not watched_removal(list(lines), cid):
            assert time.monotonic() < deadline, lines[-3:]
            time.sleep(0.01)
    finally:
        watch.terminate()
        watch.wait(5)
        reader.join(5)
    assert phone.call_states(cid) == ["Setup", "Dialing", "Ringback", "Connected", "Disconnected"]
    end = [c for m in phone.models for c in m["calls"] if c["id"] == cid][-1]
    assert end["state"] == "Disconnected" and end["code"] == 200
    # `tui-phone watch` prints the same stream: full state first, then one ModelUpdate per change
    msgs = [json.loads(line) for line in lines]
    assert all(m["mt"] == "ModelUpdate" for m in msgs)
    seen: list[str] = []
    for line in lines:
        for c in _calls_of(line):
            if c["id"] == cid and (not seen or seen[-1] != c["state"]):
                seen.append(c["state"])
    assert seen == ["Setup", "Dialing", "Ringback", "Connected", "Disconnected"]


# ----- rejected links and refused numbers ---------------------------------------------------

@pytest.mark.parametrize("url", ["javascript:alert(1)", "tel:%0a123", "callto:$(id)", "tel:", "tel:12a34",
                                 "sip:bob@example.com>;x=<", "data:text/html,<script>x</script>",
                                 "tel:123\n456", "https://evil.example/"])
def test_rejected_links_exit_2_with_reason_and_dial_nothing(phone, url):
    r = phone.cli("open", url)
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert r.stderr.startswith("tui-phone: rejected link: ") and one_line(r.stderr), r.stderr
    assert "Traceback" not in r.stderr
    assert no_calls(phone)


def test_openurl_over_the_socket_rejects_with_reason(phone):
    r = phone.api({"mt": "OpenUrl", "url": "javascript:alert(1)", "src": 9})
    assert r == {"mt": "OpenUrlResult", "src": 9, "ok": False,
                 "error": "rejected link: unsupported scheme 'javascript'", "kind": "bad_input"}
    for bad in (None, "", 5, ["tel:200"]):
        r = phone.api({"mt": "OpenUrl", "url": bad})
        assert r["ok"] is False and r["error"] == 'OpenUrl: "url" must be a non-empty string'
    assert no_calls(phone)


def test_headless_refuses_premium_and_emergency(phone):
    r = phone.cli("call", "+19005551234")
    assert r.returncode == 1, r.stderr
    assert "refused" in r.stderr and "+19005551234" in r.stderr and one_line(r.stderr)
    for msg in ({"mt": "StartCall", "num": "911"}, {"mt": "StartCall", "txt": "+44 871 234 5678"},
                {"mt": "StartCall", "sip": "sip:911@127.0.0.1"},
                {"mt": "OpenUrl", "url": "phone.systems://call?number=%2B19005551234"}):
        r = phone.api(msg)
        assert r["ok"] is False and r["error"].startswith("refused: "), (msg, r)
    assert no_calls(phone)


def test_open_emergency_link_is_refused_headless(phone):
    r = phone.cli("open", "tel:911")
    assert "refused" in r.stderr and "911 is an emergency number" in r.stderr and one_line(r.stderr)
    assert no_calls(phone)


def test_open_refused_link_exits_1_like_call(phone):
    assert phone.cli("open", "tel:911").returncode == 1


def test_allow_unconfirmed_dials_premium_headless(headless, sipp_dir):
    uas = sipp_uas(sipp_dir, scenario="uas-fast")
    phone = headless(proxied(uas.port, "\n[policy]\nallow_unconfirmed = true\n"))
    r = phone.cli("call", "+19005551234")
    assert r.returncode == 0, r.stderr
    call = call_where(phone, lambda c: "+19005551234" in c["sip"])
    hang_up(phone, call["id"], uas)
    (invite,) = invites(uas)
    assert f"INVITE sip:+19005551234@127.0.0.1:{uas.port} SIP/2.0" in invite


def test_prepare_call_and_ui_only_links_need_the_tui(phone):
    r = phone.api({"mt": "PrepareCall", "num": "200", "src": "p"})
    assert r["mt"] == "PrepareCallResult" and r["src"] == "p" and r["ok"] is False
    assert "needs the TUI" in r["error"]
    for url in ("phone.systems://dialpad?number=200", "zoomphonesms://200",
                "phone.systems://authenticate?code=abc-123"):
        r = phone.api({"mt": "OpenUrl", "url": url})
        assert r["ok"] is False and "the TUI" in r["error"], (url, r)
    assert no_calls(phone)


# ----- CallInfo ---------------------------------------------------------------------------

def test_call_info_is_sanitized_text_and_iframe_must_be_http(phone, sipp_dir):
    uas = sipp_uas(sipp_dir, scenario="ringing", duration_ms=200)
    r = phone.api({"mt": "StartCall", "sip": f"sip:service@127.0.0.1:{uas.port}"})
    cid = r["id"]
    phone.wait_call_state("Connected", 10, cid)
    r = phone.api({"mt": "CallInfo", "id": cid, "html": "<b>Aloha</b><script>x</script>", "src": "c"})
    assert r == {"mt": "CallInfoResult", "src": "c", "ok": True, "id": cid}
    call = phone.wait_for(lambda m: any(c["id"] == cid and c.get("info") == "Aloha" for c in m["calls"]),
                          5, "info Aloha")["calls"]
    assert "info_link" not in next(c for c in call if c["id"] == cid)

    for src in ("javascript:alert(1)", "JAVASCRIPT:alert(1)", "data:text/html,x", "file:///etc/passwd", 5):
        r = phone.api({"mt": "CallInfo", "id": cid, "iframe": {"src": src}})
        assert r["ok"] is False and "iframe src must be an http(s) URL" in r["error"], (src, r)

    r = phone.api({"mt": "CallInfo", "id": cid, "iframe": {"src": "https://crm.example/c/1"}})
    assert r["ok"]
    phone.wait_for(lambda m: any(c["id"] == cid and c.get("info_link") == "https://crm.example/c/1"
                                 for c in m["calls"]), 5, "info_link")

    r = phone.api({"mt": "CallInfo", "id": 99999, "html": "x"})
    assert r == {"mt": "CallInfoResult", "ok": False, "error": "no call with id 99999",
                 "kind": "not_found"}
    r = phone.api({"mt": "CallInfo", "html": "x"})
    assert r["ok"] is False and r["error"] == "CallInfo: 'id' is required"
    hang_up(phone, cid, uas)


def test_call_info_iframe_src_with_controls_or_spaces_is_rejected(phone, sipp_dir):
    uas = sipp_uas(sipp_dir, scenario="ringing", duration_ms=200)
    cid = phone.api({"mt": "StartCall", "sip": f"sip:service@127.0.0.1:{uas.port}"})["id"]
    phone.wait_call_state("Connected", 10, cid)
    try:
        for src in ("https://crm.example/\x1b]52;c;ZXZpbA==\x07", "https://crm.example/ blink reverse",
                    "https://crm.example/\nline"):
            r = phone.api({"mt": "CallInfo", "id": cid, "iframe": {"src": src}})
            assert r["ok"] is False, (src, r)
    finally:
        hang_up(phone, cid, uas)


# ----- adjust (numbers.external_prefix) -----------------------------------------------------

def test_adjust_prefixes_the_external_line(headless, sipp_dir):
    """numbers.adjust: under DE with prefix 0, 07031730090 → 007031730090."""
    uas = sipp_uas(sipp_dir, scenario="uas-fast")
    phone = headless(proxied(uas.port, '\n[numbers]\ndefault_region = "DE"\nexternal_prefix = "0"\n'))
    r = phone.api({"mt": "StartCall", "num": "07031730090", "adjust": True})
    assert r["ok"], r
    call = phone.wait_call_state("Connected", 10, r["id"])
    assert call["sip"] == f"sip:007031730090@127.0.0.1:{uas.port}"
    hang_up(phone, r["id"], uas)
    (invite,) = invites(uas)
    assert f"INVITE sip:007031730090@127.0.0.1:{uas.port} SIP/2.0" in invite


# ----- the socket: peer credentials and bad lines -------------------------------------------

NOBODY_CLIENT = r"""
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(5)
try:
    s.connect(sys.argv[1])
except OSError as e:
    print("connect-error", e.errno)
    sys.exit(0)
f = s.makefile("rb")
print(f.readline().decode().strip())
print("eof" if f.readline() == b"" else "more")
"""


def as_nobody(path: Path) -> list[str]:
    python = shutil.which("python3", path="/usr/bin:/bin")
    r = subprocess.run([python, "-I", "-c", NOBODY_CLIENT, str(path)], user="nobody", group="nogroup",
                       extra_groups=[], capture_output=True, text=True, timeout=15, cwd="/")
    assert r.returncode == 0, r.stderr
    return r.stdout.splitlines()


def test_other_user_cannot_use_the_socket(tmp_path):
    if os.getuid() != 0:
        pytest.skip("needs root to run a client as user nobody")
    runtime = Path(tempfile.mkdtemp(prefix="tui-phone-run-"))  # outside pytest's private tmp dir
    try:
        runtime.chmod(0o755)
        p = HeadlessPhone(tmp_path, direct("alice"))
        p.env["XDG_RUNTIME_DIR"] = str(runtime)
        p.socket = runtime / "tui-phone" / "control.sock"
        with p:
            assert stat.S_IMODE(p.socket.parent.stat().st_mode) == 0o700
            assert stat.S_IMODE(p.socket.stat().st_mode) == 0o600
            assert as_nobody(p.socket) == [f"connect-error {13}"]  # EACCES: private dir
            p.socket.parent.chmod(0o755)
            p.socket.chmod(0o666)
            out = as_nobody(p.socket)
            assert json.loads(out[0]) == {"mt": "Error", "error": "permission denied: different user"}
            assert out[1] == "eof"  # and the connection is closed
            assert p.api({"mt": "GetState"})["ok"]  # the owner still gets in
    finally:
        shutil.rmtree(runtime, ignore_errors=True)


@pytest.mark.parametrize("line", [b'{"mt":"GetState","x":' + b"1" * 5000 + b"}\n",
                                  b'{"mt":"GetState","src":"\\ud800"}\n'],
                         ids=["huge-int", "lone-surrogate-src"])
def test_odd_but_valid_json_keeps_the_connection(phone, line):
    replies = exchange(phone.socket, line + b'{"mt":"GetState","src":2}\n', 2)
    assert phone.proc.poll() is None and phone.api({"mt": "GetState"})["ok"]
    assert len(replies) == 2 and replies[1]["src"] == 2


# ----- `open` without a running instance, --spawn ---------------------------------------------

def test_open_without_instance_exits_3(tmp_path):
    p = HeadlessPhone(tmp_path, direct("alice"), name="idle")
    r = p.cli("open", "tel:+1-212-555-0100")
    assert r.returncode == 3 and "no running tui-phone" in r.stderr and one_line(r.stderr)


def test_spawn_without_terminal_exits_3_with_message(tmp_path):
    p = HeadlessPhone(tmp_path, direct("alice"), name="idle")
    empty = tmp_path / "emptybin"
    empty.mkdir()
    p.env = {k: v for k, v in p.env.items() if k != "TERMINAL"} | {"PATH": str(empty)}
    r = p.cli("open", "--spawn", "tel:+1-212-555-0100")
    assert r.returncode == 3, r.stderr
    assert "no terminal" in r.stderr and "Traceback" not in r.stderr
    p.env["TERMINAL"] = str(tmp_path / "no-such-terminal")
    r = p.cli("open", "--spawn", "tel:+1-212-555-0100")
    assert r.returncode == 3 and "no terminal" in r.stderr


@pytest.mark.parametrize("url", ["tel:+1-212-555-0100",
                                 "sip:bob@example.com?subject=hi there;$(id)&x=`id`|rm -rf ~"])
def test_spawn_hands_the_url_to_the_terminal_as_one_argument(tmp_path, url):
    p = HeadlessPhone(tmp_path, direct("alice"), name="idle")
    record = tmp_path / "argv.json"
    term = tmp_path / "fake-terminal"
    term.write_text(f"#!{sys.executable}\nimport json, os, sys\n"
                    f"open({str(record)!r} + '.tmp', 'w').write(json.dumps(sys.argv))\n"
                    f"os.replace({str(record)!r} + '.tmp', {str(record)!r})\n")
    term.chmod(0o755)
    p.env["TERMINAL"] = str(term)
    r = p.cli("open", "--spawn", url)
    assert r.returncode == 0, r.stderr
    deadline = time.monotonic() + 10
    while not record.exists():
        assert time.monotonic() < deadline, "the terminal was not started"
        time.sleep(0.02)
    argv = json.loads(record.read_text())
    assert argv[0] == str(term) and argv[1] == "-e"
    assert argv[-2:] == ["--open", url]  # one argument, no shell splitting
    assert argv[argv.index("--config") + 1] == str(p.config)
    assert "tui-phone" in argv[2] or argv[3:5] == ["-m", "tui_phone"]


# ----- register-handlers ---------------------------------------------------------------------

def test_register_handlers_makes_tui_phone_the_default(tmp_path):
    xdg_mime = require("xdg-mime")
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "data"), "XDG_CONFIG_HOME": str(tmp_path / "cfg"),
           "HOME": str(tmp_path / "home")}
    env.pop("XDG_CURRENT_DESKTOP", None)
    (tmp_path / "home").mkdir()
    for _ in range(2):  # idempotent
        r = subprocess.run([sys.executable, "-m", "tui_phone", "register-handlers"], env=env, cwd=ROOT,
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stderr
    desktop = tmp_path / "data" / "applications" / "tui-phone.desktop"
    assert desktop.is_file()
    entry = dict(line.split("=", 1) for line in desktop.read_text().splitlines() if "=" in line)
    assert entry["Type"] == "Application" and entry["Terminal"] == "false"
    assert entry["Exec"].endswith(" open --spawn %u")
    exe = entry["Exec"].split(" ", 1)[0].strip('"')
    assert os.path.isabs(exe) and os.access(exe, os.X_OK)
    mimes = set(filter(None, entry["MimeType"].split(";")))
    assert mimes == {f"x-scheme-handler/{s}" for s in SCHEMES}
    assert len(SCHEMES) == 7 and {"tel", "callto", "sip", "sips", "phone.systems", "zoomphonecall",
                                  "zoomphonesms"} == set(SCHEMES)
    for scheme in SCHEMES:
        q = subprocess.run([xdg_mime, "query", "default", f"x-scheme-handler/{scheme}"], env=env,
                           capture_output=True, text=True, timeout=30)
        assert q.stdout.strip() == "tui-phone.desktop", (scheme, q)


# ----- provisioning ----------------------------------------------------------------------------

CONFIG_WITH_COMMENTS = """\
# tui-phone config, hand-written
[[accounts]]  # the office PBX
name = "work"   # default account
uri = "sip:alice@pbx.example.com"
registrar = "sip:pbx.example.com"  # registers every 300 s

# Germany, dialling out with 0
[numbers]
default_region = "DE"
external_prefix = "0"   # the PBX's outside line
"""

NEW_ACCOUNT = {"name": "prov", "uri": "sip:bob@sip.example.net", "registrar": "sip:sip.example.net",
               "username": "bob", "password": 'p"w\\\n#x', "transport": "tls", "srtp": "optional",
               "local_port": 5070}


def test_add_account_keeps_comments_and_parses(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(CONFIG_WITH_COMMENTS)
    assert add_account(path, NEW_ACCOUNT) == "prov"
    text = path.read_text()
    for line in CONFIG_WITH_COMMENTS.splitlines():
        if "#" in line:
            assert line in text, line
    cfg = parse(text)
    assert [a.name for a in cfg.accounts] == ["work", "prov"]
    new = cfg.accounts[1]
    assert (new.uri, new.registrar, new.username, new.password, new.transport, new.srtp, new.local_port) == (
        "sip:bob@sip.example.net", "sip:sip.example.net", "bob", 'p"w\\\n#x', "tls", "optional", 5070)
    assert cfg.numbers == {"default_region": "DE", "external_prefix": "0"}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # it holds a password
    assert not list(tmp_path.glob("*.tmp"))


def test_add_account_creates_a_missing_file(tmp_path):
    path = tmp_path / "new" / "config.toml"
    assert add_account(path, {"uri": "sip:carol@example.org"}) == "carol"
    assert [a.name for a in parse(path.read_text()).accounts] == ["carol"]


def test_add_account_cannot_inject_toml(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(CONFIG_WITH_COMMENTS)
    evil = 'x"\n[http]\nenabled = true\n[[accounts]]\nuri = "sip:evil@evil.example"\n#'
    add_account(path, {"name": evil, "uri": "sip:bob@example.net"})
    cfg = parse(path.read_text())
    assert cfg.http["enabled"] is False
    assert [a.name for a in cfg.accounts] == ["work", evil]


@pytest.mark.parametrize("account, fragment", [
    ({"name": "bad", "uri": "sip:bob@example.net", "transport": "x"}, "transport"),
    ({"name": "work", "uri": "sip:bob@example.net"}, "duplicate account name"),
    ({"name": "nouri"}, "uri"),
    ({"name": "p", "uri": "sip:bob@example.net", "local_port": "5060"}, "local_port"),
    ({"name": "p", "uri": "sip:bob@example.net", "proxy": "http://evil"}, "proxy"),
])
def test_bad_account_leaves_the_file_byte_identical(tmp_path, account, fragment):
    path = tmp_path / "config.toml"
    path.write_bytes(CONFIG_WITH_COMMENTS.encode())
    before = path.stat()
    with pytest.raises(ProvisioningError) as e:
        add_account(path, account)
    msg = str(e.value)
    assert msg.startswith("provisioning: the account is not valid: ") and fragment in msg and "\n" not in msg
    assert path.read_bytes() == CONFIG_WITH_COMMENTS.encode()
    assert path.stat().st_mtime_ns == before.st_mtime_ns
    assert not list(tmp_path.glob("*.tmp"))


class _Provider(http.server.BaseHTTPRequestHandler):
    routes = {
        "/ok": (200, "application/json", json.dumps({"name": "prov", "uri": "sip:bob@example.net",
                                                     "password": "s3cret", "transport": "tcp"})),
        "/missing": (404, "text/plain", "nope"),
        "/html": (200, "text/html", "<html>not json</html>"),
        "/list": (200, "application/json", "[1, 2]"),
        "/unknown": (200, "application/json", json.dumps({"uri": "sip:bob@example.net",
                                                          "password_cmd": "rm -rf ~", "evil": 1})),
        "/redirect": (302, "text/plain", ""),
    }
    seen: list[str] = []

    def do_GET(self):
        self.seen.append(self.path)
        code, ctype, body = self.routes.get(self.path.split("?")[0], (500, "text/plain", "?"))
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        if code == 302:
            self.send_header("Location", "http://example.invalid/steal")
        self.send_header("Content-Length", str(len(body.encode())))
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args):
        pass


@pytest.fixture
def provider():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Provider)
    _Provider.seen = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_fetch_account_returns_the_json_account(provider):
    account = asyncio.run(fetch_account(provider + "/ok?code=$code", "a b/c&d"))
    assert account == {"name": "prov", "uri": "sip:bob@example.net", "password": "s3cret", "transport": "tcp"}
    assert _Provider.seen == ["/ok?code=a%20b%2Fc%26d"]  # the code is percent-encoded, never splices


@pytest.mark.parametrize("path, message", [
    ("/missing", "provisioning: the server answered 404 Not Found"),
    ("/html", "provisioning: the answer is not JSON"),
    ("/list", "provisioning: the answer is not a JSON object"),
    ("/unknown", "provisioning: unknown account keys: evil, password_cmd"),
    ("/redirect", "provisioning: the server answered 302 Found"),
])
def test_fetch_account_failures_are_one_line(provider, path, message):
    with pytest.raises(ProvisioningError) as e:
        asyncio.run(fetch_account(provider + path + "?code=$code", "abc"))
    assert str(e.value) == message


def test_fetch_account_unreachable_server():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens
    with pytest.raises(ProvisioningError) as e:
        asyncio.run(fetch_account(f"http://127.0.0.1:{port}/p?code=$code", "abc"))
    assert str(e.value) == "provisioning: cannot reach the server: ConnectError"
