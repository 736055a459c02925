"""pjsua errors as sentences a person understands (the engine boundary).

A pjsua2 ``Error`` carries the C call that failed (``title``, e.g.
``pjsua_call_make_call(acc.getId(), …)``) and a reason ending in the pj
constant (``Invalid Request URI (PJSIP_EINVALIDREQURI)``). Neither belongs in
a reply: ``explain`` picks a sentence and an error kind from the constant;
``detail`` is the whole thing, for the debug log only.
"""

from __future__ import annotations

import re

from ..config import MAX_CALLS

_CONSTANT = re.compile(r"\s*\((PJ[A-Z0-9_]*)(?:\(\d+\))?\)\s*$")

# pj constant -> (sentence, kind)
SENTENCES: dict[str, tuple[str, str]] = {
    "PJSIP_EINVALIDREQURI": ("not a valid SIP address", "bad_input"),
    "PJSIP_EINVALIDURI": ("not a valid SIP address", "bad_input"),
    "PJSIP_EINVALIDSCHEME": ("not a valid SIP address (unknown scheme)", "bad_input"),
    "PJSIP_ENOROUTESET": ("a tel: address needs an account with a proxy", "refused"),
    "PJSIP_ETPNOTSUITABLE": ("no account has a transport for that address (sips: needs a TLS account, "
                             ";transport=tcp a TCP one)", "refused"),
    "PJSIP_EUNSUPTRANSPORT": ("no account has a transport for that address", "refused"),
    "PJ_ERESOLVE": ("the host name could not be resolved", "failed"),
    "PJ_ETOOMANY": (f"too many calls (the SIP stack holds {MAX_CALLS}, and keeps a call that just ended for up "
                    "to 32 s)", "busy"),
    "PJ_EBUSY": ("the phone is busy with an earlier request; try again", "busy"),
    "PJSIP_EBUSY": ("the phone is busy with an earlier request; try again", "busy"),
    "PJSIP_ESESSIONTERMINATED": ("the call has already ended", "not_found"),
    "PJSIP_ESESSIONSTATE": ("the call cannot do that in its current state", "conflict"),
    "PJ_EINVALIDOP": ("the call cannot do that in its current state", "conflict"),
    "PJ_EINVAL": ("the request is not valid for this call", "bad_input"),
    "PJ_ENOTFOUND": ("no such call", "not_found"),
    "PJSIP_ENOCREDENTIAL": ("no password for that server", "refused"),
}


def constant(e: BaseException) -> str:
    m = _CONSTANT.search(getattr(e, "reason", "") or "")
    return m.group(1) if m else ""


def explain(e: BaseException) -> tuple[str, str]:
    """(sentence, kind) for an exception raised by a pjsua2 call."""
    name = constant(e)
    if name in SENTENCES:
        return SENTENCES[name]
    reason = getattr(e, "reason", None)
    if isinstance(reason, str) and reason:
        text = _CONSTANT.sub("", reason).strip() or "the SIP stack refused"
        return text[0].lower() + text[1:], "failed"
    return "the SIP stack could not do that (see the debug log)", "failed"


def plain(reason: str) -> str:
    """A call's end reason as pjsua gives it, for a person: a SIP reason
    ("Busy Here") as it is; pjsua's own text with a pj constant
    ("gethostbyname() has returned error (PJ_ERESOLVE)") as a sentence."""
    m = _CONSTANT.search(reason or "")
    if not m:
        return reason
    if m.group(1) in SENTENCES:
        return SENTENCES[m.group(1)][0]
    text = reason[:m.start()].strip()
    return "the SIP stack could not reach the other side" if not text or "(" in text else text[0].lower() + text[1:]


def detail(e: BaseException) -> str:
    """Everything pjsua said, for the debug log."""
    title, reason = getattr(e, "title", ""), getattr(e, "reason", "")
    if title or reason:
        return f"{title}: {reason}".strip(": ")
    return f"{type(e).__name__}: {e}"
