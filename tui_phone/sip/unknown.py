"""A last-resort pjsip module: requests nobody handled get an answer.

A method nobody knows gets 501 Not Implemented; REGISTER and PUBLISH (known
methods a phone does not serve) get 405 Method Not Allowed with the
endpoint's Allow header.

RFC 3261 §8.2.1 wants an answer; pjsua drops them (``was dropped/unhandled
by any modules``) and the far end retransmits for 32 s. pjsua2 has no hook
for it, so this is a ``pjmodule`` (a pjsip module in ctypes) registered
after every pjsua module: its callback runs on the owner thread inside
``libHandleEvents`` and answers statelessly. Other known methods are left
alone: without the message we cannot tell a stray in-dialog request (481 is
right) from a new one.
"""

from __future__ import annotations

import pjsua2

from . import pjmodule

# Methods some pjsua module (or a dialog) handles; anything else is unknown to us.
KNOWN = {"INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "REGISTER", "SUBSCRIBE", "NOTIFY", "REFER",
         "MESSAGE", "INFO", "PRACK", "UPDATE", "PUBLISH"}
NOT_SERVED = {"REGISTER", "PUBLISH"}  # never in a dialog; a phone is neither registrar nor presence server


class UnknownMethods:
    """Registered once per Endpoint, on the owner thread after libInit."""

    def __init__(self, on_answer=None):
        self.on_answer = on_answer or (lambda method, code: None)
        self._allow = pjmodule.capability(pjsua2.PJSIP_H_ALLOW)
        pjmodule.register("mod-tui-phone-unknown-method", pjmodule.PRIORITY_LAST_RESORT, self._on_request)

    def _on_request(self, rq: pjmodule.RxRequest) -> bool:
        if rq.method in NOT_SERVED and self._allow:
            rq.respond(405, (("Allow", self._allow),))
            self.on_answer(rq.method, 405)
            return True
        if not rq.method or rq.method in KNOWN:
            return False  # not ours: a known method some dialog or transaction will see
        rq.respond(501)
        self.on_answer(rq.method, 501)
        return True
