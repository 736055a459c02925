"""The pure parts of SIP depth: message summaries, Reason headers, 3xx
Contacts, redirect limits and policy, screening rules, codec order,
recording file names, config checks."""

import os
import stat
import subprocess
import sys

import pytest

from tui_phone.config import CODECS, ConfigError, parse
from tui_phone.sip.callrules import intercom, same_host, screen
from tui_phone.sip.codecs import priorities
from tui_phone.events import Voicemail
from tui_phone.sip.headers import contact_for, header_values, reason_text
from tui_phone.sip.mwi import parse_summary
from tui_phone.sip.recording import file_name, private_file
from tui_phone.sip.redirect import refuse
from tui_phone.sip.pjmodule import method_of


def test_message_summary():
    body = "Messages-Waiting: yes\r\nMessage-Account: sip:*97@pbx\r\nVoice-Message: 2/8 (0/2)\r\n"
    assert parse_summary("work", body) == Voicemail("work", True, 2, 8, "sip:*97@pbx")
    assert parse_summary("work", "Messages-Waiting: no\r\n") == Voicemail("work", False, 0, 0, "")
    assert parse_summary("work", "hello") is None
    assert parse_summary("work", "Messages-Waiting: yes\r\n" + "x" * 20000) is None


def test_reason_header_for_a_person():
    msg = 'BYE sip:a@b SIP/2.0\r\nReason: Q.850;cause=17;text="User busy"\r\n\r\n'
    assert reason_text(msg) == "User busy (Q.850 cause 17)"
    msg = 'BYE sip:a@b SIP/2.0\r\nReason: SIP;cause=200;text="Call completed elsewhere"\r\n\r\n'
    assert reason_text(msg) == "Call completed elsewhere (SIP cause 200)"
    assert reason_text("BYE sip:a@b SIP/2.0\r\nReason: Q.850;cause=16\r\n\r\n") == "Q.850 cause 16"
    assert reason_text("BYE sip:a@b SIP/2.0\r\n\r\nReason: in the body\r\n") == ""


def test_contact_of_a_302_keeps_its_port():
    msg = "SIP/2.0 302 Moved\r\nm: <sip:bob@10.0.0.1:5070;transport=udp>;q=1\r\n\r\n"
    assert header_values(msg, "contact") == ["<sip:bob@10.0.0.1:5070;transport=udp>;q=1"]
    assert contact_for("sip:bob@10.0.0.1", msg) == "sip:bob@10.0.0.1:5070;transport=udp"
    assert contact_for("sip:carol@10.0.0.1", msg) == "sip:carol@10.0.0.1"


def test_redirects_are_limited_looped_and_judged():
    cfg = parse("")
    visited = ["sip:a@x"]
    assert refuse(visited, "sip:b@x", cfg) == (None, False)
    assert refuse(["sip:a@x", "sip:b@x"], "sip:A@x;transport=udp", cfg)[0].endswith("earlier target")
    assert "more than 5" in refuse([f"sip:{n}@x" for n in range(6)], "sip:z@x", cfg)[0]
    why, ask = refuse(visited, "sip:+19005550100@x", cfg)
    assert ask and why.startswith("needs confirmation") and "+1900" in why
    why, ask = refuse(visited, "sip:911@x", cfg)
    assert ask and "emergency" in why


def test_screening_rules():
    cfg = parse('[forward]\nbusy = "200"\n[answer]\ndnd_code = 480\n')
    assert screen(cfg, "dnd", False).code == 480
    assert screen(cfg, "available", True).target == "200"
    assert screen(cfg, "available", False).action == "ring"
    assert screen(parse('[forward]\nalways = "sip:x@y"\n'), "unavailable", False).action == "forward"


def test_intercom_headers_and_source():
    assert intercom("INVITE sip:a@b SIP/2.0\r\nCall-Info: <sip:pbx>;answer-after=0\r\n\r\n")
    assert intercom("INVITE sip:a@b SIP/2.0\r\nAlert-Info: <http://x>;info=alert-autoanswer\r\n\r\n")
    assert not intercom("INVITE sip:a@b SIP/2.0\r\nCall-Info: <sip:pbx>;answer-after=10\r\n\r\n")
    assert same_host("127.0.0.1:5070", "sip:127.0.0.1:5070") and same_host("10.0.0.1:5060", "sip:10.0.0.1")
    assert not same_host("127.0.0.1:5071", "sip:127.0.0.1:5070") and not same_host("1.2.3.4:5060", "")


def test_codec_order_disables_the_rest():
    p = priorities(["G722", "pcma", "PCMU"], list(CODECS))
    assert (p["G722/16000/1"], p["PCMA/8000/1"], p["PCMU/8000/1"]) == (255, 254, 253)
    assert all(v == 0 for k, v in p.items() if k.split("/")[0] not in ("G722", "PCMA", "PCMU"))
    assert priorities([], list(CODECS)) == {}
    assert sorted(k for k, v in priorities(["speex"], list(CODECS)).items() if v) == [
        "speex/16000/1", "speex/32000/1", "speex/8000/1"]


@pytest.mark.parametrize("text, message", [
    ('[audio]\ncodecs = ["opus"]\n', r":2: audio.codecs: unknown codec 'opus'; available: PCMU, PCMA, G722"),
    ('[sip]\nrtp_port_range = 1\n', r"sip.rtp_port_range: must be 2-30000 ports"),
    ('[answer]\ndnd_code = 404\n', r"answer.dnd_code: must be one of 486, 480"),
    ('[forward]\nalways = "a b"\n', r"forward.always: must be a number or SIP URI without spaces"),
    ('[forward]\nnoanswer_after = -1\n', r"forward.noanswer_after: must be 0-3600 seconds"),
])
def test_bad_depth_config(text, message):
    with pytest.raises(ConfigError, match=message):
        parse(text)


def test_recording_file_is_private_and_named(tmp_path):
    name = file_name(0, "i", "+1 (555) 0100")
    assert name.endswith("-in-+1__555__0100.wav") and len(name.split("-")[0]) == 8
    folder = tmp_path / "rec"
    a, b = private_file(folder, "x.wav"), private_file(folder, "x.wav")
    assert (a.name, b.name) == ("x.wav", "x-1.wav")
    assert stat.S_IMODE(os.stat(a).st_mode) == 0o600 and stat.S_IMODE(os.stat(folder).st_mode) == 0o700


def test_unknown_method_name():
    assert method_of("Request msg FOO/cseq=7 (rdata0x55d)") == "FOO"


def test_codec_table_matches_the_bundled_pjsua2():
    """config.CODECS (used to validate [audio] codecs without loading pjsua2) is what the wheel has."""
    code = ("import pjsua2 as pj; ep = pj.Endpoint(); ep.libCreate(); c = pj.EpConfig(); "
            "c.logConfig.level = c.logConfig.consoleLevel = 0; ep.libInit(c); "
            "print(' '.join(sorted(ci.codecId for ci in ep.codecEnum2()))); ep.libDestroy()")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30).stdout
    assert out.split()[-len(CODECS):] == sorted(CODECS)


def test_cli_lists_codecs():
    out = subprocess.run([sys.executable, "-m", "tui_phone", "audio", "codecs"], capture_output=True, text=True,
                         timeout=30)
    assert out.returncode == 0 and out.stdout.split() == list(CODECS)


def test_recording_dirs_created_on_the_way_are_private(tmp_path):
    private_file(tmp_path / "a" / "b", "x.wav")
    assert stat.S_IMODE(os.stat(tmp_path / "a").st_mode) == 0o700
