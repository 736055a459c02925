"""A real browser against the HTTP listener (the CVE-2019-13450 class).

Headless Chromium (Debian package ``chromium``) loads a page served from
another local port that tries ``<img src=…/make/…>``, ``fetch()`` (no-cors
and cors), an ``<iframe>`` and an auto-submitted form POST against the
listener of the real `tui-phone --headless`: no call is placed and the sipp
UAS behind the account's proxy sees no INVITE. A plain navigation to the
make URL (no token configured) does place the call.

What Chromium sends (checked by test_what_chromium_sends, Chromium 156):
  <img>                 Sec-Fetch-Mode: no-cors   Sec-Fetch-Dest: image     no Origin
  fetch(no-cors)        Sec-Fetch-Mode: no-cors   Sec-Fetch-Dest: empty     no Origin
  fetch()               Sec-Fetch-Mode: cors      Sec-Fetch-Dest: empty     Origin: page
  <iframe src>          Sec-Fetch-Mode: navigate  Sec-Fetch-Dest: iframe    no Origin
  form POST → iframe    Sec-Fetch-Mode: navigate  Sec-Fetch-Dest: iframe    Origin: page, POST
  address bar / argv    Sec-Fetch-Mode: navigate  Sec-Fetch-Dest: document  Sec-Fetch-Site: none,
                        Sec-Fetch-User: ?1
  location.href = …     Sec-Fetch-Mode: navigate  Sec-Fetch-Dest: document  Sec-Fetch-Site: same-site
  (no user gesture)     (page on localhost) / cross-site (page on another name), no Sec-Fetch-User,
                        no Origin
  speculationrules      Sec-Fetch-Mode: navigate  Sec-Fetch-Dest: document  Sec-Fetch-Site: none (!),
  prefetch/prerender    Sec-Purpose: prefetch / prefetch;prerender, no Origin, even from a cross-site page
  <link rel=prefetch>   Sec-Fetch-Mode: no-cors   Sec-Fetch-Dest: empty     Sec-Purpose: prefetch
  favicon after a navigation to the listener: GET /favicon.ico, no-cors / image (refused, 403)
A page on localhost:OTHER_PORT is "same-site" for Chromium; a page on
another host name (evil.test mapped to 127.0.0.1 with --host-resolver-rules)
is "cross-site".
"""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from tests.peers import free_tcp_port, require, sipp_uas
from tests.phoneproc import HeadlessPhone, direct

EVIL = "evil.test"  # mapped to 127.0.0.1 inside Chromium only


# ------------------------------------------------------------------------------------------ helpers


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass


class Site:
    """A local web server: ``pages`` by path (text/html); any other request is recorded
    (method, path, headers) and answered with a small JSON body, like the listener."""

    def __init__(self, pages: dict[str, str] | None = None):
        self.pages = pages or {}
        self.seen: list[tuple[str, str, dict[str, str]]] = []
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _any(self):
                page = outer.pages.get(self.path)
                if page is None:
                    with outer.lock:
                        outer.seen.append((self.command, self.path, {k.lower(): v for k, v in self.headers.items()}))
                body = (page if page is not None else '{"ok": true}\n').encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html" if page is not None else "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_HEAD = _any

            def log_message(self, *args):
                pass

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def attack_page(target: str) -> str:
    """Everything a web page can do without the user: img, fetch (no-cors and cors), iframe, form POST."""
    return f"""<!doctype html><html><body>
<img src="{target}/make/200">
<iframe src="{target}/make/204"></iframe>
<iframe name="sink" style="display:none"></iframe>
<form id="f" method="POST" action="{target}/make/202" target="sink"><input name="n" value="202"></form>
<script>
fetch("{target}/make/201", {{mode: "no-cors"}}).catch(() => {{}});
fetch("{target}/make/206").catch(() => {{}});
document.getElementById("f").submit();
</script>
</body></html>"""


ATTACK_PATHS = {"/make/200": "GET", "/make/201": "GET", "/make/202": "POST", "/make/204": "GET",
                "/make/206": "GET"}


def chromium(url: str, workdir, *extra: str, timeout: float = 20) -> str:
    """Load ``url`` in a fresh headless Chromium profile; return the dumped DOM."""
    exe = require("chromium")
    profile = tempfile.mkdtemp(prefix="chromium-profile-", dir=workdir)
    argv = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-extensions", f"--user-data-dir={profile}",
            f"--host-resolver-rules=MAP {EVIL} 127.0.0.1", *extra, "--dump-dom", url]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                            text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # our own process group only
        proc.communicate()
        raise
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # helpers Chromium left behind in its group
        except ProcessLookupError:
            pass
    assert proc.returncode == 0, err[-2000:]
    return out


def wait_log(phone, needles: list[str], timeout: float = 5) -> str:
    deadline = time.monotonic() + timeout
    while True:
        text = phone.stderr()
        if all(n in text for n in needles) or time.monotonic() > deadline:
            return text
        time.sleep(0.05)


def no_calls_ever(phone) -> bool:
    with phone._cond:
        return all(not m["calls"] for m in phone.models)


def phone_behind_proxy(workdir, name: str, uas_port: int) -> tuple[HeadlessPhone, int]:
    port = free_tcp_port()
    cfg = (direct("alice") + f'proxy = "sip:127.0.0.1:{uas_port}"\n'
           + f"\n[http]\nenabled = true\nport = {port}\n")
    return HeadlessPhone(workdir, cfg, name).start(), port


@pytest.fixture(scope="module")
def guarded(tmp_path_factory):
    """One phone (http on, no token) whose numbers go to a sipp UAS, for the no-call tests."""
    from tests.peers import stop_all

    require("chromium")
    require("sipp")
    work = tmp_path_factory.mktemp("browser")
    (work / "sipp").mkdir()
    uas = sipp_uas(work / "sipp", scenario="uas-fast", timeout=120)
    phone, port = phone_behind_proxy(work, "phone", uas.port)
    try:
        yield phone, port, uas, work
    finally:
        phone.stop()
        stop_all(under=work / "sipp")


# ------------------------------------------------------------------------------------------ tests


def test_what_chromium_sends(tmp_path):
    """The Fetch Metadata the listener's defence relies on, recorded from the real browser."""
    target = Site()
    page = Site({"/": attack_page(f"http://localhost:{target.port}")})
    try:
        chromium(f"http://localhost:{page.port}/", tmp_path, "--virtual-time-budget=3000")
        chromium(f"http://localhost:{target.port}/make/203", tmp_path)
        time.sleep(0.3)
        seen = {(m, p): h for m, p, h in target.seen}
    finally:
        target.close()
        page.close()
    origin = f"http://localhost:{page.port}"
    img, nocors, cors = seen[("GET", "/make/200")], seen[("GET", "/make/201")], seen[("GET", "/make/206")]
    frame, form = seen[("GET", "/make/204")], seen[("POST", "/make/202")]
    nav = seen[("GET", "/make/203")]
    assert (img["sec-fetch-mode"], img["sec-fetch-dest"], "origin" in img) == ("no-cors", "image", False)
    assert (nocors["sec-fetch-mode"], nocors["sec-fetch-dest"]) == ("no-cors", "empty")
    assert (cors["sec-fetch-mode"], cors.get("origin")) == ("cors", origin)
    assert (frame["sec-fetch-mode"], frame["sec-fetch-dest"]) == ("navigate", "iframe")
    assert (form["sec-fetch-mode"], form["sec-fetch-dest"], form.get("origin")) == ("navigate", "iframe", origin)
    assert img["sec-fetch-site"] == "same-site"  # another port of localhost is the same site
    assert (nav["sec-fetch-mode"], nav["sec-fetch-dest"], nav["sec-fetch-site"], nav.get("sec-fetch-user")) == (
        "navigate", "document", "none", "?1")
    assert nav["host"] == f"localhost:{target.port}"


@pytest.mark.parametrize("page_host", ["localhost", EVIL])
def test_web_page_cannot_place_a_call(guarded, page_host):
    phone, port, uas, work = guarded
    page = Site({"/": attack_page(f"http://localhost:{port}")})
    try:
        dom = chromium(f"http://{page_host}:{page.port}/", work, "--virtual-time-budget=3000")
    finally:
        page.close()
    assert "/make/200" in dom  # the page really loaded
    needles = [f"({method} {path})" for path, method in ATTACK_PATHS.items()]
    log = wait_log(phone, needles)
    refusals = [line for line in log.splitlines() if "warning: http: 40" in line]
    for needle in needles:  # every attempt reached the listener and was refused
        assert any(needle in line for line in refusals), (needle, refusals)
    assert "calling <" not in log
    time.sleep(0.3)
    assert no_calls_ever(phone)
    assert "INVITE" not in uas.messages()


def test_dns_rebinding_navigation_is_refused(guarded):
    """A name that resolves to 127.0.0.1 (DNS rebinding): only the Host check stands in the way."""
    phone, port, uas, work = guarded
    dom = chromium(f"http://{EVIL}:{port}/make/207", work)
    assert "Host header" in dom
    wait_log(phone, ["(GET /make/207)"])
    time.sleep(0.3)
    assert no_calls_ever(phone)
    assert "INVITE" not in uas.messages()


def test_plain_navigation_places_the_call(tmp_path, sipp_dir):
    require("chromium")
    uas = sipp_uas(sipp_dir, scenario="uas-fast")
    phone, port = phone_behind_proxy(tmp_path, "phone", uas.port)
    try:
        dom = chromium(f"http://localhost:{port}/make/203", tmp_path)
        assert '"ok": true' in dom, dom
        call = phone.wait_call_state("Connected", 10)
        assert call["num"] == "203" and call["dir"] == "o"
        with httpx.Client(timeout=5) as c:
            assert c.get(f"http://127.0.0.1:{port}/end").status_code == 200
        assert uas.wait(10) == 0
        assert f"INVITE sip:203@127.0.0.1:{uas.port} SIP/2.0" in uas.messages()
    finally:
        phone.stop()


def test_a_page_navigating_itself_places_no_call(tmp_path, sipp_dir):
    require("chromium")
    uas = sipp_uas(sipp_dir, scenario="uas-fast")
    phone, port = phone_behind_proxy(tmp_path, "phone", uas.port)
    page = Site({"/": f'<script>location.href = "http://localhost:{port}/make/205";</script>'})
    try:
        chromium(f"http://{EVIL}:{page.port}/", tmp_path)
        wait_log(phone, ["205"], 3)  # either refused (/make/205) or dialled (sip:205@)
        time.sleep(0.5)
        assert no_calls_ever(phone), "a cross-site page placed a call by navigating itself"
    finally:
        page.close()
        phone.stop()


def test_speculative_prefetch_places_no_call(tmp_path, sipp_dir):
    require("chromium")
    uas = sipp_uas(sipp_dir, scenario="uas-fast")
    phone, port = phone_behind_proxy(tmp_path, "phone", uas.port)
    rules = ('{"prefetch": [{"source": "list", "urls": ["http://localhost:%d/make/301"]}],'
             ' "prerender": [{"source": "list", "urls": ["http://localhost:%d/make/302"]}]}' % (port, port))
    page = Site({"/": f'<p>nothing to see</p><script type="speculationrules">{rules}</script>'})
    try:
        chromium(f"http://{EVIL}:{page.port}/", tmp_path, "--virtual-time-budget=3000")
        wait_log(phone, ["30"], 3)  # refused (/make/301) or dialled (sip:301@)
        time.sleep(0.5)
        assert no_calls_ever(phone), "a cross-site page placed a call through a speculative prefetch"
    finally:
        page.close()
        phone.stop()
