"""A pjsip module written in Python, for what pjsua2 has no hook for.

pjsua2 lets an application see a new INVITE only after pjsua has created
the call's media transports (two ioqueue sockets each), so it cannot turn a
burst away before the ioqueue runs out (PEERS.md §8: the process aborts).
pjsip itself can: a module registered with the endpoint sees every request
that no lower layer (transactions, dialogs) took, in priority order. The
wheel exports pjsip's C API, so the module is a ctypes structure whose
``on_rx_request`` is a Python function. It runs on the engine's owner
thread, inside ``libHandleEvents`` (the only thread that polls).

``RxRequest`` is what the callback gets: the method, the raw text (for the
caller's From) and ``respond(code, reason, headers)`` which answers
statelessly. Everything here reads pjsip's structures by the documented
API, except the packet text, which is found once by locating the request
line in the rx_data buffer and then checked on every use.
"""

from __future__ import annotations

import ctypes
from typing import Callable

c_void_p, c_int, c_char_p, c_ssize_t = ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_ssize_t

# pjsip's module priorities (sip_module.h)
PRIORITY_APPLICATION = 64  # pjsua's own module: new calls, presence, messages
PRIORITY_LAST_RESORT = 120  # after every pjsua module: only what nobody handled


class _PjStr(ctypes.Structure):
    _fields_ = [("ptr", c_char_p), ("slen", c_ssize_t)]


_RX = ctypes.CFUNCTYPE(c_int, c_void_p)
_ANY = ctypes.CFUNCTYPE(c_int, c_void_p)  # placeholders we leave NULL


class _Module(ctypes.Structure):
    _fields_ = [("prev", c_void_p), ("next", c_void_p), ("name", _PjStr), ("id", c_int), ("priority", c_int),
                ("load", c_void_p), ("start", c_void_p), ("stop", c_void_p), ("unload", c_void_p),
                ("on_rx_request", _RX), ("on_rx_response", c_void_p), ("on_tx_request", c_void_p),
                ("on_tx_response", c_void_p), ("on_tsx_state", c_void_p)]


class _Hdr(ctypes.Structure):  # the list links every pjsip_hdr starts with
    _fields_ = [("prev", c_void_p), ("next", c_void_p)]


_lib = None
_modules: list = []  # registered modules live as long as the process (pjsip keeps pointers to them)
_PACKET_OFFSET: int | None = None  # where pkt_info.packet starts inside pjsip_rx_data


def _pj():
    global _lib
    if _lib is None:
        import pjsua2

        lib = ctypes.CDLL(pjsua2._pjsua2.__file__)  # the same, already loaded library
        lib.pjsua_get_pjsip_endpt.restype = c_void_p
        lib.pjsip_endpt_register_module.argtypes = [c_void_p, c_void_p]
        lib.pjsip_rx_data_get_info.restype = c_char_p
        lib.pjsip_rx_data_get_info.argtypes = [c_void_p]
        lib.pjsip_endpt_respond_stateless.argtypes = [c_void_p, c_void_p, c_int, c_void_p, c_void_p, c_void_p]
        lib.pjsip_generic_string_hdr_create.restype = c_void_p
        lib.pjsip_generic_string_hdr_create.argtypes = [c_void_p, c_void_p, c_void_p]
        lib.pjsip_endpt_get_capability.restype = c_void_p
        lib.pjsip_endpt_get_capability.argtypes = [c_void_p, c_int, c_void_p]
        lib.pjsip_hdr_print_on.argtypes = [c_void_p, c_char_p, ctypes.c_size_t]
        lib.pjsip_transport_shutdown.argtypes = [c_void_p]
        _lib = lib
    return _lib


def method_of(info: str) -> str:
    """The method in pjsip's rx_data description, ``"Request msg FOO/cseq=7 (rdata0x…)"`` → ``"FOO"``."""
    return info.removeprefix("Request msg ").split("/", 1)[0].strip() if info.startswith("Request msg ") else ""


def capability(header_type: int) -> str:
    """The value of one of the endpoint's capability headers (``pjsua2.PJSIP_H_ALLOW``,
    …) as pjsip would send it, or ""."""
    lib = _pj()
    hdr = lib.pjsip_endpt_get_capability(lib.pjsua_get_pjsip_endpt(), header_type, None)
    if not hdr:
        return ""
    buf = ctypes.create_string_buffer(1024)
    n = lib.pjsip_hdr_print_on(hdr, buf, len(buf))
    return buf.raw[:n].decode("latin-1").partition(":")[2].strip() if n > 0 else ""


def _packet(rdata: int, method: bytes) -> bytes:
    """The request's text (the received packet up to its first NUL)."""
    global _PACKET_OFFSET
    if _PACKET_OFFSET is None:  # the buffer follows tp_info and a timestamp: a few hundred bytes in
        head = ctypes.string_at(rdata, 2048)
        at = head.find(method + b" ")
        if at < 0 or at % 8:
            return b""
        _PACKET_OFFSET = at
    text = ctypes.string_at(rdata + _PACKET_OFFSET, 4000).split(b"\0", 1)[0]
    return text if text.startswith(method + b" ") else b""


class RxRequest:
    """An incoming request as a module sees it; valid only during the callback."""

    def __init__(self, rdata: int):
        self._rdata = rdata
        self.method = method_of((_pj().pjsip_rx_data_get_info(rdata) or b"").decode("latin-1"))
        self._text: str | None = None

    @property
    def text(self) -> str:
        if self._text is None:
            self._text = _packet(self._rdata, self.method.encode()).decode("utf-8", "replace")
        return self._text

    def header(self, name: str) -> str:
        """The first value of a header, compact forms too ('' when absent)."""
        from .headers import header_values

        values = header_values(self.text, name)
        return values[0] if values else ""

    def respond(self, code: int, headers: tuple[tuple[str, str], ...] = ()) -> None:
        """Answer statelessly with ``code`` (its standard reason phrase) and extra headers."""
        lib = _pj()
        pool = ctypes.c_void_p.from_address(self._rdata).value  # rdata->tp_info.pool, the first field
        head = _Hdr()
        head.prev = head.next = ctypes.addressof(head)
        keep = [head]
        for name, value in headers:
            n, v = _PjStr(name.encode(), len(name.encode())), _PjStr(value.encode(), len(value.encode()))
            keep += [n, v]
            hdr = lib.pjsip_generic_string_hdr_create(pool, ctypes.byref(n), ctypes.byref(v))
            if not hdr:
                continue
            link = _Hdr.from_address(hdr)  # push_back onto the list head
            link.prev, link.next = head.prev, ctypes.addressof(head)
            _Hdr.from_address(head.prev).next = hdr
            head.prev = hdr
        lib.pjsip_endpt_respond_stateless(lib.pjsua_get_pjsip_endpt(), self._rdata, code, None,
                                          ctypes.addressof(head) if headers else None, None)


def calls_in_use() -> int:
    """Call slots pjsua holds, including calls we consider ended whose INVITE
    transaction still runs (an unanswered outgoing call holds one for ~32 s)."""
    return int(_pj().pjsua_call_get_count())


def shutdown_transport(hnd: int) -> None:
    """Close a connection's transport gracefully (pjsip destroys it once nothing uses it)."""
    _pj().pjsip_transport_shutdown(hnd)


def register(name: str, priority: int, on_request: Callable[[RxRequest], bool]) -> None:
    """Register a module that sees requests no lower-priority layer took.
    ``on_request`` returns True when it handled (answered) the request.
    Call on the owner thread after ``libInit``. An exception in it is
    swallowed (the request goes on to the next module)."""

    def rx(rdata):
        try:
            return 1 if on_request(RxRequest(rdata)) else 0
        except Exception:  # noqa: BLE001 - must never raise into C
            return 0

    mod = _Module()
    raw = name.encode()
    mod.name = _PjStr(raw, len(raw))
    mod.id = -1
    mod.priority = priority
    mod.on_rx_request = _RX(rx)
    _modules.append((mod, raw, mod.on_rx_request, rx))
    lib = _pj()
    status = lib.pjsip_endpt_register_module(lib.pjsua_get_pjsip_endpt(), ctypes.byref(mod))
    if status != 0:
        raise RuntimeError(f"cannot register the SIP module {name} (status {status})")
