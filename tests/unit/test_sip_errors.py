"""sip/errors.py: what pjsua says becomes a sentence; SIP reasons stay as they are."""

import pytest

from tui_phone.sip.errors import plain


@pytest.mark.parametrize("raw, shown", [
    ("Busy Here", "Busy Here"),
    ("", ""),
    ("gethostbyname() has returned error (PJ_ERESOLVE)", "the host name could not be resolved"),
    ("Connection refused (PJ_STATUS_FROM_OS(111))", "connection refused"),
    ("Unknown error 120042 (PJSIP_EFOO)", "unknown error 120042"),
    ("select() failed (PJ_ESELECT)", "the SIP stack could not reach the other side"),
])
def test_plain(raw, shown):
    assert plain(raw) == shown
