"""The dial policy on every path into the real headless phone (issue 12, item
2): links (OpenUrl and `tui-phone open`), the control socket (StartCall num,
txt, sip) and the HTTP listener refuse the disguised emergency, premium and
service-code numbers; a sipp UAS behind the proxy sees no INVITE for any of
them, and an ordinary number still reaches it over the same phone."""

from __future__ import annotations

import time
from urllib.parse import quote

import httpx
import pytest

from tests.peers import free_tcp_port, sipp_uas
from tests.phoneproc import direct

EMERGENCY = ["*67911", "911#", "*82911", "#31#911", "*67*82911", "911*"]
PREMIUM = ["*6719005550100", "1-900-555-0100#", "*8219005550100#"]
SERVICE = ["*72", "*7212125550100", "*21*2125550100#"]
NUMBERS = EMERGENCY + PREMIUM + SERVICE

LINKS = [
    "tel:*67911", "tel:911%23", "callto:*82911", "callto://*67911/", "tel:*6719005550100", "tel:1-900-555-0100%23",
    "sip:*67911@127.0.0.1", "sip:%2A67911@127.0.0.1", "sip:911%23@127.0.0.1", "sips:%2a82911@127.0.0.1",
    "SIP:*67911@127.0.0.1", "sip:*72+19005550100@127.0.0.1", "zoomphonecall://*67911",
    "phone.systems://call?number=*6719005550100", "phone.systems://call?number=911%23", "https://tel:*72",
    "tel:*67911;phone-context=example.com",
]


@pytest.fixture
def guarded(headless, sipp_dir):
    uas = sipp_uas(sipp_dir, scenario="uas-fast")
    port = free_tcp_port()
    phone = headless(direct("alice") + f'proxy = "sip:127.0.0.1:{uas.port}"\n'
                     f"\n[http]\nenabled = true\nport = {port}\n")
    return phone, port, uas


def paced_get(c: httpx.Client, path: str) -> httpx.Response:
    """A GET that waits out the listener's rate limit (429 has its own tests)."""
    for _ in range(40):
        r = c.get(path)
        if r.status_code != 429:
            return r
        time.sleep(0.25)
    return r


def refused(reply: dict) -> bool:
    return reply.get("ok") is False and reply.get("kind") == "refused" and reply["error"].startswith("refused: ")


def test_every_path_refuses_the_disguised_forms_and_still_dials_ordinary_numbers(guarded):
    phone, port, uas = guarded
    wrong = []
    for url in LINKS:
        reply = phone.api({"mt": "OpenUrl", "url": url})
        if not refused(reply):
            wrong.append(("link", url, reply))
    for number in NUMBERS:
        for msg in ({"mt": "StartCall", "num": number}, {"mt": "StartCall", "txt": number},
                    {"mt": "StartCall", "num": number.replace("-", ""), "adjust": True}):
            reply = phone.api(msg)
            if not refused(reply):
                wrong.append(("socket", msg, reply))
        if "#" not in number:  # '#' is not allowed in a SIP URI unescaped
            reply = phone.api({"mt": "StartCall", "sip": f"sip:{number}@127.0.0.1"})
            if not refused(reply):
                wrong.append(("socket sip", number, reply))
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as c:
        for number in NUMBERS:
            r = paced_get(c, f"/make/{quote(number, safe='')}")
            if r.status_code != 403 or not r.json()["error"].startswith("refused: "):
                wrong.append(("http", number, r.status_code, r.text))
        assert not wrong, wrong
        with phone._cond:
            assert all(not m["calls"] for m in phone.models), "a refused number placed a call"
        r = paced_get(c, "/make/200")  # the same phone, the same UAS: an ordinary number is dialled
        assert r.status_code == 200, r.text
        phone.wait_call_state("Connected", 10, r.json()["id"])
        assert paced_get(c, "/end").status_code == 200
    assert uas.wait(10) == 0
    msgs = uas.messages()
    assert msgs.count("INVITE sip:") == 1 and "INVITE sip:200@" in msgs


@pytest.mark.parametrize("url, why", [("tel:*67911", "reaches the emergency number 911"),
                                      ("tel:1-900-555-0100%23", "+19005550100 matches the confirmation list"),
                                      ("tel:*72", "carries a service code")])
def test_tui_phone_open_prints_the_reason_and_exits_1(guarded, url, why):
    phone, _, _ = guarded
    r = phone.cli("open", url)
    assert r.returncode == 1 and why in r.stderr and r.stderr.count("\n") == 1, r.stderr
