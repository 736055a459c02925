"""control/protocol.py, sans I/O: the Decoder, to_command for every request,
reply(), and fuzzing that only clean ProtocolErrors ever come out."""

import json

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tui_phone.commands import (
    CallInfo,
    Command,
    ConnectCall,
    DisconnectCall,
    Dtmf,
    Hold,
    Mute,
    PrepareCall,
    Result,
    Retrieve,
    SetAudio,
    Record,
    CallVoicemail,
    SetStatus,
    StartCall,
    Transfer,
)
from tui_phone.control.protocol import (
    LOCAL,
    MAX_LINE,
    REQUESTS,
    Decoder,
    ProtocolError,
    encode,
    error,
    reply,
    to_command,
)


def feed_all(decoder: Decoder, *chunks: bytes) -> list:
    out = []
    for chunk in chunks:
        out += decoder.feed(chunk)
    return out


def errors(items) -> list[str]:
    return [str(i) for i in items if isinstance(i, ProtocolError)]


# ----- Decoder -------------------------------------------------------------------------

def test_one_message_per_line():
    assert Decoder().feed(b'{"mt":"GetState"}\n{"mt":"Hold","id":2}\n') == [
        {"mt": "GetState"}, {"mt": "Hold", "id": 2}]


def test_line_split_across_feeds():
    d = Decoder()
    assert d.feed(b'{"mt":"Get') == []
    assert d.feed(b'State","src":"a"}') == []
    assert d.feed(b'\n{"mt":"Subscribe"}\n{"mt"') == [{"mt": "GetState", "src": "a"}, {"mt": "Subscribe"}]
    assert d.feed(b':"OpenUrl","url":"tel:200"}\n') == [{"mt": "OpenUrl", "url": "tel:200"}]


def test_byte_at_a_time_including_split_utf8():
    line = '{"mt":"StartCall","txt":"Jürgen@example.com"}\n'.encode()
    d = Decoder()
    out = feed_all(d, *(line[i:i + 1] for i in range(len(line))))
    assert out == [{"mt": "StartCall", "txt": "Jürgen@example.com"}]


def test_blank_lines_are_ignored():
    d = Decoder()
    assert d.feed(b"\n\n   \n\t\n\r\n") == []
    assert d.feed(b'\n{"mt":"GetState"}\r\n\n') == [{"mt": "GetState"}]


def test_over_long_line_without_newline_reported_once_next_line_decoded():
    d = Decoder()
    out = feed_all(d, b"x" * (MAX_LINE + 1), b"y" * MAX_LINE, b"z" * (MAX_LINE * 2))
    assert errors(out) == ["line longer than 64 KiB"]
    assert len(out) == 1
    out = d.feed(b'tail of the long line\n{"mt":"GetState","src":1}\n')
    assert out == [{"mt": "GetState", "src": 1}]
    assert d.feed(b'{"mt":"Subscribe"}\n') == [{"mt": "Subscribe"}]  # back to normal


def test_over_long_line_in_one_chunk_reported_once_next_line_decoded():
    out = Decoder().feed(b'{"mt":"GetState","x":"' + b"a" * (70 * 1024) + b'"}\n{"mt":"GetState"}\n')
    assert errors(out) == ["line longer than 64 KiB"]
    assert out[1:] == [{"mt": "GetState"}]


def test_two_over_long_lines_are_two_errors():
    d = Decoder(max_line=16)
    out = feed_all(d, b"a" * 40, b"\n", b"b" * 40, b"\n", b'{"mt":"Hold"}\n')
    assert len(errors(out)) == 2 and len(out) == 3
    assert out[-1] == {"mt": "Hold"}


def test_line_of_exactly_max_line_is_accepted():
    d = Decoder(max_line=32)
    line = b'{"mt":"GetState","x":"' + b"a" * 8 + b'"}'
    line = line[:-2] + b"a" * (32 - len(line)) + b'"}'
    assert len(line) == 32
    assert feed_all(d, line, b"\n") == [json.loads(line)]
    assert d.feed(line + b"\n") == [json.loads(line)]


@pytest.mark.parametrize("line, message", [
    (b"\xff\xfe", "line is not valid UTF-8"),
    (b'{"mt":"GetState","x":"\xed\xa0\x80"}', "line is not valid UTF-8"),  # encoded surrogate
    (b"{nope", "invalid JSON: Expecting property name enclosed in double quotes"),
    (b"[" * 50_000, "invalid JSON: too deeply nested"),
    (b"[1,2]", "a message must be a JSON object"),
    (b'"GetState"', "a message must be a JSON object"),
    (b"null", "a message must be a JSON object"),
    (b'{"x":1}', 'missing "mt" (message type)'),
    (b'{"mt":7}', '"mt" (message type) must be text'),
    (b'{"mt":"Explode"}', "unknown mt 'Explode'"),
    (b'{"mt":"StartCallResult"}', "unknown mt 'StartCallResult'"),
])
def test_bad_lines_are_one_line_errors_and_the_next_line_still_decodes(line, message):
    out = Decoder().feed(line + b'\n{"mt":"GetState"}\n')
    assert errors(out) == [message]
    assert out[1:] == [{"mt": "GetState"}]


def test_huge_integer_is_a_protocol_error():
    out = Decoder().feed(b'{"mt":"GetState","x":' + b"1" * 5000 + b'}\n{"mt":"GetState"}\n')
    assert len(errors(out)) == 1 and out[1:] == [{"mt": "GetState"}]


# ----- to_command ------------------------------------------------------------------------

@pytest.mark.parametrize("msg, command", [
    ({"mt": "StartCall", "num": "200"}, StartCall("200")),
    ({"mt": "StartCall", "num": "+1 (212) 555-0100"}, StartCall("+12125550100")),
    ({"mt": "StartCall", "num": "2125550100"}, StartCall("+12125550100")),
    ({"mt": "StartCall", "num": "*86"}, StartCall("*86")),
    ({"mt": "StartCall", "sip": "sip:bob@example.com"}, StartCall("sip:bob@example.com")),
    ({"mt": "StartCall", "sip": "bob@example.com"}, StartCall("sip:bob@example.com")),
    ({"mt": "StartCall", "sip": "sip:bob@example.com?subject=x&method=REGISTER"},
     StartCall("sip:bob@example.com")),
    ({"mt": "StartCall", "sip": "SIPS:bob@example.com;transport=tls"},
     StartCall("sips:bob@example.com;transport=tls")),
    ({"mt": "StartCall", "txt": "bob@example.com"}, StartCall("sip:bob@example.com")),
    ({"mt": "StartCall", "txt": "sip:bob@example.com"}, StartCall("sip:bob@example.com")),
    ({"mt": "StartCall", "txt": " +1 212 555 0100 "}, StartCall("+12125550100")),
    ({"mt": "StartCall", "txt": "tel:+1-212-555-0100"}, StartCall("+12125550100")),
    ({"mt": "StartCall", "num": "200", "sip": "", "txt": None}, StartCall("200")),  # empty = not given
    ({"mt": "StartCall", "num": "200", "adjust": False, "src": "x", "extra": [1]}, StartCall("200")),
    ({"mt": "PrepareCall", "num": "200"}, PrepareCall("200")),
    ({"mt": "PrepareCall", "txt": "alice@example.com"}, PrepareCall("sip:alice@example.com")),
    ({"mt": "ConnectCall"}, ConnectCall()),
    ({"mt": "ConnectCall", "id": 3}, ConnectCall(3)),
    ({"mt": "DisconnectCall"}, DisconnectCall()),
    ({"mt": "DisconnectCall", "id": 4}, DisconnectCall(4)),
    ({"mt": "Hold", "id": 1}, Hold(1)),
    ({"mt": "Hold"}, Hold()),
    ({"mt": "Retrieve", "id": 1}, Retrieve(1)),
    ({"mt": "Dtmf", "digits": "12*#ad"}, Dtmf("12*#AD")),
    ({"mt": "Dtmf", "digits": "5", "id": 2}, Dtmf("5", 2)),
    ({"mt": "Transfer", "to": "200"}, Transfer("200")),
    ({"mt": "Transfer", "to": "sip:carol@example.com", "id": 2}, Transfer("sip:carol@example.com", 2)),
    ({"mt": "CallInfo", "id": 1, "html": "<b>x</b>"}, CallInfo(1, "<b>x</b>")),
    ({"mt": "CallInfo", "id": 1, "iframe": {"src": "https://crm.example/c/1"}},
     CallInfo(1, None, {"src": "https://crm.example/c/1"})),
    ({"mt": "Mute"}, Mute(True)),
    ({"mt": "Mute", "on": False}, Mute(False)),
    ({"mt": "SetAudio", "output": "USB"}, SetAudio(None, "USB", None)),
    ({"mt": "SetAudio", "input": "", "ring": "HDMI"}, SetAudio("", None, "HDMI")),
    ({"mt": "Record"}, Record(None, True)),
    ({"mt": "Record", "id": 2, "on": False}, Record(2, False)),
    ({"mt": "CallVoicemail"}, CallVoicemail(None)),
    ({"mt": "CallVoicemail", "account": "work"}, CallVoicemail("work")),
    ({"mt": "SetStatus", "status": "dnd"}, SetStatus("dnd")),
])
def test_to_command(msg, command):
    assert to_command(msg) == command


def test_txt_number_with_separators_is_e164_under_de():
    assert to_command({"mt": "StartCall", "txt": "+49 (7031) 73009 - 0"}, "DE") == StartCall("+497031730090")
    assert to_command({"mt": "StartCall", "txt": "07031 73009-0"}, "DE") == StartCall("+497031730090")
    # a + number is E.164 under any region
    assert to_command({"mt": "StartCall", "txt": "+49 (7031) 73009 - 0"}, "US") == StartCall("+497031730090")


def test_txt_with_at_is_sip():
    assert to_command({"mt": "StartCall", "txt": "bob@example.com"}, "DE") == StartCall("sip:bob@example.com")


@pytest.mark.parametrize("msg, region, prefix, target", [
    # under US with prefix 9 (numbers.adjust docstring)
    ({"num": "2125550100", "adjust": True}, "US", "9", "92125550100"),
    ({"num": "2125550100", "adjust": False}, "US", "9", "+12125550100"),
    ({"num": "2125550100"}, "US", "9", "+12125550100"),  # adjust defaults to false
    ({"num": "99175551234", "adjust": True}, "US", "9", "99175551234"),  # already external
    ({"num": "+12125550100", "adjust": True}, "US", "9", "+12125550100"),  # E.164: the trunk routes it
    ({"num": "200", "adjust": True}, "US", "9", "200"),  # an extension
    ({"num": "*86", "adjust": True}, "US", "9", "*86"),  # a service code
    ({"num": "911", "adjust": True}, "US", "9", "911"),
    ({"num": "2125550100", "adjust": True}, "US", "", "+12125550100"),  # no prefix configured
    # under DE with prefix 0
    ({"num": "07031730090", "adjust": True}, "DE", "0", "007031730090"),
    ({"num": "007031730090", "adjust": True}, "DE", "0", "007031730090"),
    ({"num": "112", "adjust": True}, "DE", "0", "112"),
    ({"sip": "sip:200@pbx", "adjust": True}, "DE", "0", "sip:200@pbx"),  # never for SIP targets
])
def test_adjust_prefixes_external_numbers_only(msg, region, prefix, target):
    for mt, cls in (("StartCall", StartCall), ("PrepareCall", PrepareCall)):
        assert to_command({"mt": mt, **msg}, region, prefix) == cls(target)


@pytest.mark.parametrize("txt, region, prefix, target", [
    ("(212) 555-0100", "US", "9", "92125550100"),
    ("07031 73009-0", "DE", "0", "007031730090"),
])
def test_adjust_applies_to_txt_numbers(txt, region, prefix, target):
    assert to_command({"mt": "StartCall", "txt": txt, "adjust": True}, region, prefix) == StartCall(target)


def test_empty_number_message():
    with pytest.raises(ProtocolError) as e:
        to_command({"mt": "StartCall", "num": "---"})
    assert str(e.value) == "StartCall: number is empty"


@pytest.mark.parametrize("num, target", [
    ("06432345678", "006432345678"),
    ("018692361234", "0018692361234"),
])
def test_adjusted_number_is_not_reinterpreted_as_international(num, target):
    assert to_command({"mt": "StartCall", "num": num, "adjust": True}, "DE", "0") == StartCall(target)


@pytest.mark.parametrize("msg, message", [
    ({"mt": "StartCall"}, "StartCall: give exactly one of num, sip, txt"),
    ({"mt": "StartCall", "num": "", "sip": ""}, "StartCall: give exactly one of num, sip, txt"),
    ({"mt": "StartCall", "num": "1", "sip": "sip:a@b"}, "StartCall: give exactly one of num, sip, txt"),
    ({"mt": "PrepareCall", "num": "1", "txt": "2"}, "PrepareCall: give exactly one of num, sip, txt"),
    ({"mt": "StartCall", "num": 5}, "StartCall: 'num' must be text"),
    ({"mt": "StartCall", "txt": ["a"]}, "StartCall: 'txt' must be text"),
    ({"mt": "StartCall", "sip": {"u": 1}}, "StartCall: 'sip' must be text"),
    ({"mt": "StartCall", "num": "200", "adjust": "yes"}, "StartCall: 'adjust' must be true or false"),
    ({"mt": "StartCall", "num": "200", "adjust": 1}, "StartCall: 'adjust' must be true or false"),
    ({"mt": "StartCall", "num": "bob"}, "StartCall: number has a letter: 'bob'"),
    ({"mt": "StartCall", "num": "---"}, None),  # exact text: see test_empty_number_message
    ({"mt": "StartCall", "num": "1\n2"}, "StartCall: number has a control character: '1\\n2'"),
    ({"mt": "StartCall", "num": "1" * 33}, None),
    ({"mt": "StartCall", "sip": "sip:bob@exa mple.com"}, None),
    ({"mt": "StartCall", "sip": "sip:bob@example.com>;x=<"}, None),
    ({"mt": "StartCall", "txt": "javascript:alert(1)"}, "StartCall: unsupported scheme 'javascript'"),
    ({"mt": "StartCall", "txt": "phone.systems://authenticate?code=abc"}, None),
    ({"mt": "StartCall", "txt": "zoomphonesms://200"}, None),
    ({"mt": "ConnectCall", "id": "one"}, "ConnectCall: 'id' must be a whole number"),
    ({"mt": "ConnectCall", "id": True}, "ConnectCall: 'id' must be a whole number"),
    ({"mt": "DisconnectCall", "id": 1.5}, "DisconnectCall: 'id' must be a whole number"),
    ({"mt": "Dtmf"}, "Dtmf: 'digits' is required"),
    ({"mt": "Dtmf", "digits": ""}, "Dtmf: digits must be 0-9, *, #, A-D"),
    ({"mt": "Dtmf", "digits": "12x"}, "Dtmf: digits must be 0-9, *, #, A-D"),
    ({"mt": "Dtmf", "digits": 12}, "Dtmf: 'digits' must be text"),
    ({"mt": "Transfer"}, "Transfer: 'to' is required"),
    ({"mt": "Transfer", "to": 200}, "Transfer: 'to' must be text"),
    ({"mt": "CallInfo", "html": "x"}, "CallInfo: 'id' is required"),
    ({"mt": "CallInfo", "id": 1, "html": 5}, "CallInfo: 'html' must be text"),
    ({"mt": "CallInfo", "id": 1, "iframe": "https://x"}, "CallInfo: 'iframe' must be an object"),
    ({"mt": "Mute", "on": "yes"}, "Mute: 'on' must be true or false"),
    ({"mt": "SetAudio"}, 'SetAudio: give input, output or ring (a device name; "" = default)'),
    ({"mt": "SetAudio", "output": 3}, "SetAudio: 'output' must be text"),
    ({"mt": "Record", "on": 1}, "Record: 'on' must be true or false"),
    ({"mt": "CallVoicemail", "account": 1}, "CallVoicemail: 'account' must be text"),
    *[({"mt": mt}, f"unknown mt {mt!r}") for mt in sorted(LOCAL)],
])
def test_bad_requests_are_protocol_errors(msg, message):
    with pytest.raises(ProtocolError) as e:
        to_command(msg)
    text = str(e.value)
    assert "\n" not in text
    assert text.startswith((f"{msg['mt']}:", "unknown mt"))
    if message is not None:
        assert text == message


@pytest.mark.parametrize("num", ["+", " + ", "+-()"])
def test_plus_alone_is_an_empty_number(num):
    with pytest.raises(ProtocolError, match="number is empty"):
        to_command({"mt": "StartCall", "num": num})


@pytest.mark.parametrize("to", ["bob\r\nX-Evil: 1", "200>;x=<sip:evil@example.com", "javascript:alert(1)"])
def test_transfer_target_is_validated(to):
    with pytest.raises(ProtocolError):
        to_command({"mt": "Transfer", "to": to})


# ----- reply, error, encode ---------------------------------------------------------------

def test_reply_ok_with_id_and_src():
    assert reply({"mt": "StartCall", "src": "crm-7"}, Result(True, 3)) == {
        "mt": "StartCallResult", "src": "crm-7", "ok": True, "id": 3}
    assert list(reply({"mt": "StartCall", "src": "crm-7"}, Result(True, 3))) == ["mt", "src", "ok", "id"]


def test_reply_without_src_and_without_id():
    assert reply({"mt": "GetState"}, Result(True)) == {"mt": "GetStateResult", "ok": True}


def test_reply_echoes_any_src_value():
    for src in (0, None, "", [1, {"a": 2}], {"k": "v"}, 1.5, False):
        assert reply({"mt": "Hold", "src": src}, Result(True, 1))["src"] == src


def test_reply_failure_carries_error_and_no_id():
    r = reply({"mt": "ConnectCall", "src": 1}, Result(False, 5, "no incoming call to connect", kind="not_found"))
    assert r == {"mt": "ConnectCallResult", "src": 1, "ok": False, "error": "no incoming call to connect",
                 "kind": "not_found"}


def test_reply_pending():
    r = reply({"mt": "StartCall"}, Result(True, None, None, "waiting for the user to confirm"))
    assert r == {"mt": "StartCallResult", "ok": True, "pending": "waiting for the user to confirm"}
    r = reply({"mt": "PrepareCall", "src": "s"}, Result(True, 2, pending="in the dialpad"))
    assert r == {"mt": "PrepareCallResult", "src": "s", "ok": True, "id": 2, "pending": "in the dialpad"}


def test_error_and_encode():
    assert error("bad") == {"mt": "Error", "error": "bad"}
    assert error("bad", src=0) == {"mt": "Error", "error": "bad", "src": 0}
    line = encode({"mt": "Error", "error": "Jürgen ☎"})
    assert line == '{"mt":"Error","error":"Jürgen ☎"}\n'.encode()
    assert line.count(b"\n") == 1
    assert encode({"t": "a\nb"}).count(b"\n") == 1  # newlines inside strings are escaped


def test_round_trip_through_decoder():
    msg = {"mt": "StartCall", "txt": "x\ny", "src": {"n": [1, 2]}}
    assert Decoder().feed(encode(msg)) == [msg]


def test_reply_to_any_decoded_request_is_encodable():
    (msg,) = Decoder().feed(b'{"mt":"GetState","src":"\\ud800"}\n')
    line = encode(reply(msg, Result(True)))
    assert line.endswith(b"\n")


# ----- fuzzing ----------------------------------------------------------------------------

def chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    out, last = [], 0
    for p in points + [len(data)]:
        out.append(data[last:p])
        last = p
    return out


interesting_bytes = st.one_of(
    st.binary(max_size=300),
    st.lists(st.sampled_from([b"\n", b"\r\n", b"{", b"}", b'"mt"', b":", b'"GetState"', b'"Hold"', b",",
                              b'"id"', b"1", b"[", b"]", b"\xff", b"\xc3", b"\xa9", b" ", b"null",
                              b'"\\ud800"', b"\x00"]), max_size=60).map(b"".join),
)


@settings(max_examples=300, deadline=None)
@given(data=interesting_bytes, cuts=st.lists(st.integers(0, 400), max_size=8),
       max_line=st.sampled_from([17, 64, MAX_LINE]))
@example(data=b'{"mt":"Hold"}\n' * 3, cuts=[5, 20], max_line=MAX_LINE)
@example(data=b"x" * 20 + b"\n" + b'{"mt":"Hold"}\n', cuts=[3, 9, 15], max_line=17)
def test_decoder_only_yields_dicts_or_protocol_errors(data, cuts, max_line):
    d = Decoder(max_line=max_line)
    out = []
    for chunk in chunked(data, cuts):
        out += d.feed(chunk)
    for item in out:
        assert isinstance(item, (dict, ProtocolError))
        if isinstance(item, dict):
            assert item["mt"] in REQUESTS
        else:
            assert "\n" not in str(item)
    # the stream is never lost: a good line after anything still decodes
    tail = d.feed(b'\n{"mt":"GetState"}\n')
    assert tail[-1] == {"mt": "GetState"}


@settings(max_examples=200, deadline=None)
@given(msgs=st.lists(st.fixed_dictionaries({"mt": st.sampled_from(sorted(REQUESTS))},
                                           optional={"src": st.text(), "id": st.integers(),
                                                     "num": st.text()}), max_size=5),
       cuts=st.lists(st.integers(0, 2000), max_size=10))
def test_encoded_messages_survive_any_chunking(msgs, cuts):
    data = b"".join(json.dumps(m).encode() + b"\n" for m in msgs)
    d = Decoder()
    out = []
    for chunk in chunked(data, cuts):
        out += d.feed(chunk)
    assert out == msgs


json_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                         st.text(max_size=40))
json_values = st.recursive(json_scalars, lambda children: st.one_of(
    st.lists(children, max_size=4), st.dictionaries(st.text(max_size=8), children, max_size=4)),
    max_leaves=12)
dialish = st.one_of(
    st.text(alphabet="0123456789+*#-.() \t", max_size=40),
    st.text(alphabet="0123456789+*#-.()abc@:;=?&%/<>\r\n\x00 ", max_size=40),
    st.sampled_from(["+49 (7031) 73009 - 0", "bob@example.com", "sip:bob@example.com?subject=x",
                     "tel:+1-212-555-0100;ext=12", "javascript:alert(1)", "zoomphonesms://200",
                     "phone.systems://dialpad?number=200", "sips:a@[::1]:5061", "@", "sip:", "+",
                     "%0a", "callto:$(id)", "https://phone.systems://call?number=+4930123456"]),
    st.text(max_size=40),
)
field_values = st.one_of(dialish, json_values, st.integers(-2, 2**70))


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mt=st.sampled_from(sorted(REQUESTS)),
       fields=st.dictionaries(st.sampled_from(["num", "sip", "txt", "adjust", "id", "digits", "to",
                                               "html", "iframe", "src", "url"]), field_values, max_size=5),
       extra=st.dictionaries(st.text(max_size=6), json_values, max_size=3),
       region=st.sampled_from(["US", "DE", "GB", "ZZ"]), prefix=st.sampled_from(["", "0", "9", "00"]))
@example(mt="StartCall", fields={"txt": "+49 (7031) 73009 - 0"}, extra={}, region="DE", prefix="0")
@example(mt="StartCall", fields={"num": "07031730090", "adjust": True}, extra={}, region="DE", prefix="0")
@example(mt="CallInfo", fields={"id": 1, "iframe": {"src": 5}}, extra={}, region="US", prefix="")
def test_to_command_returns_a_command_or_raises_protocol_error(mt, fields, extra, region, prefix):
    msg = {**extra, **fields, "mt": mt}
    try:
        command = to_command(msg, region, prefix)
    except ProtocolError as e:
        assert "\n" not in str(e)
        return
    assert isinstance(command, Command)
    assert mt not in LOCAL
    if isinstance(command, (StartCall, PrepareCall)):
        target = command.target
        assert target.startswith(("sip:", "sips:")) or set(target) <= set("0123456789*#+")


@settings(max_examples=300, deadline=None)
@given(msg=st.dictionaries(st.text(max_size=6), json_values, max_size=6))
def test_decoded_objects_with_any_mt_only_give_clean_errors(msg):
    line = json.dumps(msg).encode() + b"\n"
    (item,) = Decoder().feed(line)
    if isinstance(item, ProtocolError):
        return
    try:
        assert isinstance(to_command(item), Command)
    except ProtocolError:
        pass
