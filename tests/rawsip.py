"""A raw SIP/UDP peer for adversarial tests: bursts of INVITE/CANCEL and
seeded fuzzed dialog sequences, as a scanner on the internet sends them.

It builds messages by hand (so it can break them) and keeps the dialogs it
started, so at the end it can close every one properly (CANCEL, or ACK +
BYE) and a test can ask: does the phone still show a call?
"""

from __future__ import annotations

import random
import socket
import time
from dataclasses import dataclass, field

HOST = "127.0.0.1"


def sdp(port: int) -> str:
    return ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
            f"m=audio {port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n")


@dataclass
class Dialog:
    n: int
    call_id: str
    from_tag: str
    branch: str
    cseq: int = 1
    to_tag: str = ""  # learnt from a response
    final: int = 0  # the INVITE's final response code
    closed: bool = False
    responses: list = field(default_factory=list)


class RawSip:
    def __init__(self, target_port: int, user: str = "alice", target_host: str = HOST):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.sock.bind((HOST, 0))
        self.port = self.sock.getsockname()[1]
        self.target = (target_host, target_port)
        self.user = user
        self.dialogs: dict[str, Dialog] = {}
        self.codes: dict[int, int] = {}  # status code -> count of responses
        self.retry_after: set[str] = set()
        self._n = 0

    def close(self) -> None:
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ----- building -------------------------------------------------------------------------
    def new_dialog(self) -> Dialog:
        self._n += 1
        n = self._n
        d = Dialog(n, f"raw-{n}-{self.port}@127.0.0.1", f"ft{n}", f"z9hG4bK-raw-{n}")
        self.dialogs[d.call_id] = d
        return d

    def request(self, d: Dialog, method: str, *, branch: str | None = None, cseq: int | None = None,
                body: str = "", to_tag: str | None = None, extra: str = "") -> bytes:
        ruri = f"sip:{self.user}@{self.target[0]}:{self.target[1]}"
        tag = d.to_tag if to_tag is None else to_tag
        lines = [f"{method} {ruri} SIP/2.0",
                 f"Via: SIP/2.0/UDP {HOST}:{self.port};branch={branch or d.branch};rport",
                 f"From: <sip:scan{d.n}@{HOST}:{self.port}>;tag={d.from_tag}",
                 f"To: <{ruri}>" + (f";tag={tag}" if tag else ""),
                 f"Call-ID: {d.call_id}",
                 f"CSeq: {cseq or d.cseq} {method}",
                 f"Contact: <sip:scan{d.n}@{HOST}:{self.port}>", "Max-Forwards: 70"]
        if extra:
            lines.append(extra)
        if body:
            lines.append("Content-Type: application/sdp")
        lines.append(f"Content-Length: {len(body.encode())}")
        return ("\r\n".join(lines) + "\r\n\r\n" + body).encode()

    def invite(self, d: Dialog) -> bytes:
        return self.request(d, "INVITE", body=sdp(20000 + (d.n % 5000) * 2))

    def send(self, data: bytes) -> None:
        self.sock.sendto(data, self.target)

    # ----- receiving ------------------------------------------------------------------------
    def drain(self, seconds: float) -> None:
        """Read responses for ``seconds``; ACK final non-2xx INVITE responses (as a UAC must)."""
        end = time.monotonic() + seconds
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return
            self.sock.settimeout(min(left, 0.05))
            try:
                data = self.sock.recv(65535)
            except (socket.timeout, BlockingIOError):
                continue
            self._on(data)

    def _on(self, data: bytes) -> None:
        head = data.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")
        lines = head.split("\r\n")
        if not lines[0].startswith("SIP/2.0 "):
            self._answer_request(lines)
            return
        code = int(lines[0].split()[1])
        self.codes[code] = self.codes.get(code, 0) + 1
        hdr = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            hdr.setdefault(k.strip().lower(), v.strip())
        if "retry-after" in hdr:
            self.retry_after.add(hdr["retry-after"])
        d = self.dialogs.get(hdr.get("call-id", ""))
        if d is None or not hdr.get("cseq", "").endswith("INVITE"):
            return
        d.responses.append(code)
        if ";tag=" in hdr.get("to", ""):
            d.to_tag = hdr["to"].split(";tag=", 1)[1].split(";", 1)[0]
        if code >= 200:
            d.final = code
            if code >= 300:  # ACK for a non-2xx final response: same branch, ends the dialog
                self.send(self.request(d, "ACK", cseq=d.cseq))
                d.closed = True

    def _answer_request(self, lines: list[str]) -> None:
        """The phone sent us a request (a BYE, say): answer 200 so it is not retransmitted."""
        if not lines or " " not in lines[0] or lines[0].startswith("ACK "):
            return
        keep = [l for l in lines[1:] if l.split(":", 1)[0].strip().lower() in ("via", "from", "to", "call-id", "cseq")]
        self.send(("SIP/2.0 200 OK\r\n" + "\r\n".join(keep) + "\r\nContent-Length: 0\r\n\r\n").encode())
        if lines[0].startswith("BYE "):
            call_id = next((l.split(":", 1)[1].strip() for l in keep if l.lower().startswith("call-id")), "")
            if call_id in self.dialogs:
                self.dialogs[call_id].closed = True

    # ----- closing --------------------------------------------------------------------------
    def end(self, d: Dialog) -> None:
        """End dialog ``d`` as a UAC would: CANCEL while it rings, ACK + BYE once answered."""
        if d.closed:
            return
        if d.final == 0:
            self.send(self.request(d, "CANCEL", to_tag=""))
        elif 200 <= d.final < 300:
            self.send(self.request(d, "ACK", cseq=d.cseq))
            self.send(self.request(d, "BYE", branch=f"{d.branch}-bye", cseq=d.cseq + 1))
            d.closed = True

    def close_all(self, rounds: int = 3) -> None:
        """End every dialog we started (again for one that answers late), then forget them."""
        for _ in range(rounds):
            for d in self.dialogs.values():
                self.end(d)
            self.drain(1.0)
        for d in self.dialogs.values():
            d.closed = True


def mutations(rng: random.Random, sip: RawSip, d: Dialog) -> list[bytes]:
    """A few messages about dialog ``d``: well-formed, out of order, or broken."""
    invite = sip.invite(d)
    choice = rng.randrange(14)
    if choice == 0:
        return [invite]
    if choice == 1:
        return [invite, invite]  # a retransmission
    if choice == 2:
        return [invite, sip.request(d, "CANCEL", to_tag="")]
    if choice == 3:
        return [sip.request(d, "CANCEL", to_tag="")]  # CANCEL with no INVITE
    if choice == 4:
        return [invite, sip.request(d, "BYE", to_tag="bogus", branch=d.branch + "b", cseq=2)]
    if choice == 5:
        return [sip.request(d, "ACK", to_tag="bogus")]  # a stray ACK
    if choice == 6:
        return [invite, sip.request(d, "CANCEL", to_tag="", branch=d.branch + "x")]  # CANCEL, wrong branch
    if choice == 7:
        return [invite[: rng.randrange(20, len(invite))]]  # truncated
    if choice == 8:
        b = bytearray(invite)
        for _ in range(rng.randrange(1, 8)):
            b[rng.randrange(len(b))] = rng.randrange(256)
        return [bytes(b)]  # bytes flipped
    if choice == 9:
        return [invite, sip.request(d, "INVITE", to_tag="bogus", cseq=2, body=sdp(30000))]  # re-INVITE, no dialog
    if choice == 10:
        return [invite.replace(b"Content-Length: ", b"Content-Length: 9")]  # wrong length
    if choice == 11:
        return [invite, sip.request(d, "CANCEL", to_tag="", cseq=7)]  # CANCEL with another CSeq
    if choice == 12:
        return [invite.replace(b"application/sdp", b"application/x-junk")]
    return [invite, sip.request(d, "BYE", to_tag="", branch=d.branch + "c", cseq=2)]  # BYE, no to-tag
