"""A last-resort pjsip module: requests nobody handled get an answer.

A method nobody knows gets 501 Not Implemented; REGISTER and PUBLISH (known
methods a phone does not serve) get 405 Method Not Allowed with the
endpoint's Allow header. BYE, INFO, UPDATE and PRACK exist only inside a
dialog (NOTIFY too, unless it is an unsolicited message summary, which pjsua
answers): one with no To tag that no dialog took gets 481 Call/Transaction Does
Not Exist (pjsip answers a tagged one itself). A REFER outside a dialog (RFC
3515 allows it; pjsua does not serve it) gets 501.

RFC 3261 §8.2.1 wants an answer; pjsua drops them (``was dropped/unhandled
by any modules``) and the far end retransmits for 32 s. pjsua2 has no hook
for it, so this is a ``pjmodule`` (a pjsip module in ctypes) registered
after every pjsua module: its callback runs on the owner thread inside
``libHandleEvents`` and answers statelessly. Other known methods are left
alone (INVITE, ACK, CANCEL, OPTIONS, SUBSCRIBE, MESSAGE: pjsua answers them).
"""

from __future__ import annotations

import pjsua2

from . import pjmodule

# Methods some pjsua module (or a dialog) handles; anything else is unknown to us.
KNOWN = {"INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "REGISTER", "SUBSCRIBE", "NOTIFY", "REFER",
         "MESSAGE", "INFO", "PRACK", "UPDATE", "PUBLISH"}
NOT_SERVED = {"REGISTER", "PUBLISH"}  # never in a dialog; a phone is neither registrar nor presence server
IN_DIALOG_ONLY = {"BYE", "INFO", "UPDATE", "PRACK", "NOTIFY"}  # reaching us, their dialog does not exist


class UnknownMethods:
    """Registered once per Endpoint, on the owner thread after libInit."""

    def __init__(self, on_answer=None):
        self.on_answer = on_answer or (lambda method, code, why: None)
        self._allow = pjmodule.capability(pjsua2.PJSIP_H_ALLOW)
        pjmodule.register("mod-tui-phone-unknown-method", pjmodule.PRIORITY_LAST_RESORT, self._on_request)

    def _on_request(self, rq: pjmodule.RxRequest) -> bool:
        if rq.method in NOT_SERVED and self._allow:
            rq.respond(405, (("Allow", self._allow),))
            self.on_answer(rq.method, 405, "a phone does not serve it")
            return True
        code = 481 if rq.method in IN_DIALOG_ONLY else 501 if rq.method == "REFER" or rq.method not in KNOWN else 0
        if not rq.method or not code:
            return False  # not ours: a known method some pjsua module answers
        rq.respond(code)
        self.on_answer(rq.method, code, "no such dialog" if code == 481 else "unknown method" if
                       rq.method not in KNOWN else "not served outside a call")
        return True
