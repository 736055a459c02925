"""Connection floods against a real headless tui-phone's TCP and TLS
listeners: how many connection attempts a second it survives, and its open
files and memory afterwards.

For each transport the phone listens (a direct account with a fixed port;
TLS with a throw-away self-signed certificate) and, for ``--seconds``, a
client keeps ``--in-flight`` non-blocking connects going, each closed at
once ("close"), after bytes that are neither SIP nor TLS ("garbage"), then
``--hold`` connections held open. A step is survived when the process is
alive and a GetState over the control socket answers. Outcomes are seen
from the client: "connected" includes handshakes the kernel completed for
connections the phone never accepted (SYN cookies); "timeout" is a SYN the
closed listener dropped. Isolated XDG dirs (tests/phoneproc.py).

    .venv/bin/python bench/tcp_flood.py [--seconds 10] [--in-flight 256] [--hold 200]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.connflood import flood  # noqa: E402
from tests.contract.test_rates import usage  # noqa: E402
from tests.peers import free_tcp_port  # noqa: E402
from tests.phoneproc import HeadlessPhone  # noqa: E402


def config(transport: str, port: int, work: Path) -> str:
    extra = ""
    if transport == "tls":
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                        "/CN=127.0.0.1", "-keyout", work / "key.pem", "-out", work / "cert.pem"],
                       check=True, capture_output=True)
        extra = f'tls_cert = "{work}/cert.pem"\ntls_key = "{work}/key.pem"\n'
    return (f'[[accounts]]\nname = "alice"\nuri = "sip:alice@127.0.0.1"\nbind = "127.0.0.1"\n'
            f'transport = "{transport}"\nlocal_port = {port}\n{extra}')


def alive(phone: HeadlessPhone) -> bool:
    return phone.proc.poll() is None and phone.api({"mt": "GetState"}, timeout=10)["ok"]


def sustained(port: int, seconds: float, in_flight: int, payload: bytes) -> tuple[Counter, float]:
    """Flood for ``seconds``; (outcomes, attempts per second)."""
    total: Counter = Counter()
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        total += flood(port, in_flight * 4, in_flight=in_flight, payload=payload)[0]
    return total, sum(total.values()) / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--in-flight", type=int, default=256)
    ap.add_argument("--hold", type=int, default=200)
    args = ap.parse_args()
    for transport in ("tcp", "tls"):
        work = Path(tempfile.mkdtemp(prefix=f"tp-{transport}flood-"))
        port = free_tcp_port()
        phone = HeadlessPhone(work, config(transport, port, work)).start()
        try:
            before = usage(phone.proc.pid)
            for kind, payload in (("close", b""), ("garbage", b"\x16\x03\x01 no SIP, no TLS\r\n\r\n")):
                outcomes, rate = sustained(port, args.seconds, args.in_flight, payload)
                print(f"{transport} {kind:7s} {sum(outcomes.values())} attempts in {args.seconds:.0f}s "
                      f"= {rate:.0f}/s  {dict(outcomes)}  alive={'yes' if alive(phone) else 'NO'}")
                if phone.proc.poll() is not None:
                    break
            if phone.proc.poll() is None:
                outcomes, held = flood(port, args.hold, in_flight=args.in_flight, hold=True)
                rss, fds = usage(phone.proc.pid)
                print(f"{transport} hold    {args.hold} held open: {dict(outcomes)}  phone fds {before[1]} -> {fds}, "
                      f"RSS {before[0] / 1024:.1f} -> {rss / 1024:.1f} MB  alive={'yes' if alive(phone) else 'NO'}")
                for s in held:
                    s.close()
                time.sleep(1)
                print(f"{transport} after releasing them: alive={'yes' if alive(phone) else 'NO'}, "
                      f"fds {len(os.listdir(f'/proc/{phone.proc.pid}/fd'))}")
            else:
                print(f"{transport}: the phone died: {phone.stderr().splitlines()[-1:]}")
        finally:
            phone.stop()


if __name__ == "__main__":
    main()
