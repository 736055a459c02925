"""How many calls the phone may create right now (pure; the engine asks).

Every call takes pjsip ioqueue slots for its media sockets (RTP + RTCP;
more with ICE), and pjsip gives a closed slot back only ~0.5 s after the
call ends (PJ_IOQUEUE_KEY_FREE_DELAY). The wheel's ioqueue has 64 slots;
when they run out pjsip aborts the process. So a call may start only when
the live calls plus the calls started or ended within the last 0.7 s fit
in what is left after the SIP transports: a burst from a scanner (or a
script placing calls back to back) is shed with 503 + Retry-After instead
of killing the phone, and ``max_calls`` bounds what a user can have at once
(486, as a busy phone would).
"""

from __future__ import annotations

from collections import deque

IOQUEUE_SLOTS = 64  # PJ_IOQUEUE_MAX_HANDLES of the pjsua2-python build
RESERVED = 8  # SIP transports (UDP, TCP/TLS listeners), the DNS resolver, a margin
# (connections accepted by a TCP/TLS listener hold up to inbound.SLOTS more: the engine adds them)
WINDOW = 0.7  # seconds a started or ended call is assumed to hold its slots (the free delay + 0.2 s)
RETRY_AFTER = 5  # seconds, in the 503


class Capacity:
    def __init__(self, max_calls: int, sockets_per_call: int = 2, reserved: int = RESERVED):
        self.max_calls = max_calls
        self.slots = (IOQUEUE_SLOTS - reserved) // sockets_per_call  # calls' worth of sockets
        self._recent: deque[float] = deque()  # when calls were started or ended
        self.shed = 0  # calls turned away since start, for the log and the bench

    def refuse(self, live: int, now: float, ending: int = 0) -> tuple[int, str] | None:
        """(SIP code, reason) when a new call must be turned away, else None
        (and the call is counted as started). ``ending`` of the ``live`` calls
        have ended for the user but still hold a slot (an unanswered call's
        INVITE transaction runs up to 32 s after the hang-up)."""
        while self._recent and now - self._recent[0] > WINDOW:
            self._recent.popleft()
        if live >= self.max_calls:
            self.shed += 1
            held = (f"{live} in use, {ending} of them calls that ended and that the SIP stack finishes for up "
                    "to 32 s" if ending else f"{live} in use")
            return 486, f"too many calls ({held}; sip.max_calls is {self.max_calls})"
        if live + len(self._recent) >= self.slots:
            self.shed += 1
            return 503, "too many calls in a short time (try again in a few seconds)"
        self._recent.append(now)
        return None

    def ended(self, now: float) -> None:
        """A call ended: its sockets come back only after the free delay."""
        self._recent.append(now)
