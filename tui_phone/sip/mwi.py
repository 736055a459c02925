"""Message waiting (RFC 3842): the ``application/simple-message-summary`` body.

pjsua answers NOTIFYs for ``message-summary`` itself (subscribed or not) and
hands them to ``Account.onMwiInfo``; this parses the body into a Voicemail.
"""

from __future__ import annotations

import re

from ..events import Voicemail

MAX_BODY = 16 * 1024
_VOICE = re.compile(r"^Voice-Message:\s*(\d+)\s*/\s*(\d+)", re.I | re.M)


def parse_summary(account: str, body: str) -> Voicemail | None:
    """A Voicemail from a message-summary body, or None when it is not one.

    ``Messages-Waiting: yes`` / ``Message-Account: sip:*97@pbx`` /
    ``Voice-Message: 2/8 (0/2)`` → waiting, 2 new, 8 old, the account URI.
    Without a Voice-Message line the counts are 0 (waiting still says yes).
    """
    if len(body) > MAX_BODY:
        return None
    waiting = re.search(r"^Messages-Waiting:\s*(yes|no)\b", body, re.I | re.M)
    if waiting is None:
        return None
    m = _VOICE.search(body)
    new, old = (min(int(m.group(1)), 99999), min(int(m.group(2)), 99999)) if m else (0, 0)
    uri = re.search(r"^Message-Account:\s*(sips?:[^\s<>\"]{1,200})", body, re.I | re.M)
    return Voicemail(account, waiting.group(1).lower() == "yes", new, old, uri.group(1) if uri else "")
