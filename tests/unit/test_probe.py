"""Registrar keep-alive against a real UDP socket on 127.0.0.1."""

import socket
import time

from tui_phone.sip.probe import RegistrarProbe, registrar_address


def test_registrar_address():
    assert registrar_address("sip:pbx.example.com") == ("pbx.example.com", 5060)
    assert registrar_address("sip:127.0.0.1:5070;transport=udp") == ("127.0.0.1", 5070)
    assert registrar_address("sip:[::1]:5080") == ("::1", 5080)
    assert registrar_address("sip:host:port") is None


def run(probe, seconds, responder=None):
    changes, end = [], time.monotonic() + seconds
    while time.monotonic() < end:
        if responder:
            responder()
        c = probe.poll(time.monotonic())
        if c:
            changes.append(c)
        time.sleep(0.01)
    return changes


def test_down_then_up():
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind(("127.0.0.1", 0))
    server.setblocking(False)
    probe = RegistrarProbe("127.0.0.1", server.getsockname()[1], interval=0.1, timeout=0.1)

    def answer():
        try:
            data, addr = server.recvfrom(65536)
        except BlockingIOError:
            return
        call_id = next(l for l in data.decode().split("\r\n") if l.startswith("Call-ID:"))
        server.sendto(f"SIP/2.0 200 OK\r\n{call_id}\r\n\r\n".encode(), addr)

    assert run(probe, 0.5, answer) == []  # answered: stays up
    assert run(probe, 0.6) == ["down"]  # silent: two misses
    assert run(probe, 0.5, answer) == ["up"]
    probe.close()
    server.close()
