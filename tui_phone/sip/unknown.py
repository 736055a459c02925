"""A last-resort pjsip module: requests nobody handled get an answer.

A method nobody knows gets 501 Not Implemented; REGISTER and PUBLISH (known
methods a phone does not serve) get 405 Method Not Allowed with the
endpoint's Allow header.

RFC 3261 §8.2.1 wants an answer; pjsua drops them (``was dropped/unhandled
by any modules``) and the far end retransmits for 32 s. pjsua2's SWIG API
has no way to register a module, but the wheel's extension exports the C
API, so this registers a ``pjsip_module`` through ctypes: its only callback,
``on_rx_request``, runs on the owner thread inside ``libHandleEvents`` (the
endpoint calls modules by priority, this one last) and answers statelessly.
The method is read from ``pjsip_rx_data_get_info`` ("Request msg FOO/cseq=1
(rdata…)") so no pjsip struct beyond ``pjsip_module`` and a list head (two
pointers) is laid out here. Other known methods are left alone: without the
message we cannot tell a stray in-dialog request (481 is right) from a new one.
"""

from __future__ import annotations

import ctypes

import pjsua2

# Methods some pjsua module (or a dialog) handles; anything else is unknown to us.
KNOWN = {"INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "REGISTER", "SUBSCRIBE", "NOTIFY", "REFER",
         "MESSAGE", "INFO", "PRACK", "UPDATE", "PUBLISH"}
NOT_SERVED = {"REGISTER", "PUBLISH"}  # never in a dialog; a phone is neither registrar nor presence server
PRIORITY = 99  # after every pjsua module (PJSIP_MOD_PRIORITY_APPLICATION is 32)



class _PjStr(ctypes.Structure):
    _fields_ = [("ptr", ctypes.c_char_p), ("slen", ctypes.c_ssize_t)]


_RX = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p)


class _Module(ctypes.Structure):  # struct pjsip_module (pjsip/sip_module.h), unchanged since 0.x
    _fields_ = [("prev", ctypes.c_void_p), ("next", ctypes.c_void_p), ("name", _PjStr),
                ("id", ctypes.c_int), ("priority", ctypes.c_int),
                ("load", ctypes.c_void_p), ("start", ctypes.c_void_p), ("stop", ctypes.c_void_p),
                ("unload", ctypes.c_void_p), ("on_rx_request", _RX), ("on_rx_response", ctypes.c_void_p),
                ("on_tx_request", ctypes.c_void_p), ("on_tx_response", ctypes.c_void_p),
                ("on_tsx_state", ctypes.c_void_p)]


def method_of(info: str) -> str:
    """``"Request msg FOO/cseq=7 (rdata0x…)"`` → ``"FOO"``."""
    return info.removeprefix("Request msg ").split("/", 1)[0].strip()


class UnknownMethods:
    """Registered once per Endpoint, after libInit; ``close`` before libDestroy."""

    def __init__(self, on_answer=None):
        lib = ctypes.CDLL(pjsua2._pjsua2.__file__)
        self._lib = lib
        lib.pjsua_get_pjsip_endpt.restype = ctypes.c_void_p
        lib.pjsip_rx_data_get_info.restype = ctypes.c_char_p
        lib.pjsip_rx_data_get_info.argtypes = [ctypes.c_void_p]
        lib.pjsip_endpt_respond_stateless.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int,
                                                      ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
        lib.pjsip_endpt_register_module.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
        lib.pjsip_endpt_unregister_module.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
        lib.pjsua_pool_create.restype = ctypes.c_void_p
        lib.pjsua_pool_create.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_size_t]
        lib.pjsip_endpt_get_capability.restype = ctypes.c_void_p
        lib.pjsip_endpt_get_capability.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p]
        lib.pjsip_hdr_clone.restype = ctypes.c_void_p
        lib.pjsip_hdr_clone.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
        lib.pj_pool_release.argtypes = [ctypes.c_void_p]
        self.on_answer = on_answer or (lambda method, code: None)
        self._endpt = lib.pjsua_get_pjsip_endpt()
        self._pool, self._allow = None, None
        allow = lib.pjsip_endpt_get_capability(self._endpt, pjsua2.PJSIP_H_ALLOW, None)
        if allow:  # a one-element header list: [Allow: …], as respond_stateless wants (it clones it)
            self._pool = lib.pjsua_pool_create(b"tui-phone-allow", 512, 512)
            clone = lib.pjsip_hdr_clone(self._pool, allow)
            self._allow = (ctypes.c_void_p * 8)()  # list head: prev, next (and room for a pjsip_hdr)
            head = ctypes.addressof(self._allow)
            self._allow[0] = self._allow[1] = clone
            ctypes.c_void_p.from_address(clone).value = head
            ctypes.c_void_p.from_address(clone + ctypes.sizeof(ctypes.c_void_p)).value = head
        self._name = ctypes.create_string_buffer(b"mod-tui-phone-unknown-method")
        self._callback = _RX(self._on_rx_request)  # kept referenced: pjsip holds the pointer
        self._module = _Module(name=_PjStr(ctypes.cast(self._name, ctypes.c_char_p), len(self._name.value)),
                               id=-1, priority=PRIORITY, on_rx_request=self._callback)
        status = lib.pjsip_endpt_register_module(self._endpt, ctypes.byref(self._module))
        if status != 0:
            raise RuntimeError(f"cannot register the unknown-method module (pj_status {status})")

    def _on_rx_request(self, rdata) -> int:
        try:
            method = method_of((self._lib.pjsip_rx_data_get_info(rdata) or b"").decode("latin-1"))
            if method in NOT_SERVED and self._allow is not None:
                self._lib.pjsip_endpt_respond_stateless(self._endpt, rdata, 405, None,
                                                        ctypes.addressof(self._allow), None)
                self.on_answer(method, 405)
                return 1
            if not method or method in KNOWN:
                return 0  # not ours: a known method some dialog or transaction will see
            self._lib.pjsip_endpt_respond_stateless(self._endpt, rdata, 501, None, None, None)
            self.on_answer(method, 501)
            return 1
        except Exception:  # noqa: BLE001 - never raise into C
            return 0

    def close(self) -> None:
        if self._endpt:
            self._lib.pjsip_endpt_unregister_module(self._endpt, ctypes.byref(self._module))
            self._endpt = None
        if self._pool:
            self._lib.pj_pool_release(self._pool)
            self._pool = self._allow = None
