"""INVITE floods: the rate a real headless tui-phone sheds without dying, and
its memory after 10,000 shed calls; baresip takes the same floods in the same
run as the reference.

Each step sends INVITE+CANCEL pairs from a raw UDP peer at a fixed rate for
a few seconds (the peer ACKs final responses, as a scanner's stack does) and
reads every response. A step is survived when the process is alive and a
GetState over the socket answers (for baresip: its ctrl_tcp answers). Then
10,000 pairs go out at the highest rate and the RSS is read before and after.
Isolated XDG dirs (tests/phoneproc.py); issue 12.

    .venv/bin/python bench/shed.py [--rates 100,500,2000,10000] [--seconds 3] [--total 10000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.peers import Baresip, baresip_account  # noqa: E402
from tests.phoneproc import HeadlessPhone, direct  # noqa: E402
from tests.rawsip import RawSip  # noqa: E402


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


def flood(port: int, user: str, rate: float, count: int) -> dict[int, int]:
    """Send ``count`` INVITE+CANCEL pairs at ``rate`` pairs/s; response codes seen."""
    with RawSip(port, user) as sip:
        start = time.perf_counter()
        for i in range(count):
            d = sip.new_dialog()
            sip.send(sip.invite(d))
            sip.send(sip.request(d, "CANCEL", to_tag=""))
            due = start + (i + 1) / rate
            while time.perf_counter() < due:
                sip.drain(min(0.005, max(0.0, due - time.perf_counter())))
        sip.drain(2)
        sip.dialogs.clear()  # nothing to close: every dialog was cancelled
        return dict(sip.codes)


def summary(codes: dict[int, int], sent: int) -> str:
    answered = sum(n for c, n in codes.items() if c in (486, 487, 503))
    return f"sent={sent} 503={codes.get(503, 0)} 486={codes.get(486, 0)} 487={codes.get(487, 0)} answered~{answered}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rates", default="100,500,2000,10000")
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--total", type=int, default=10000)
    args = ap.parse_args()
    rates = [float(r) for r in args.rates.split(",")]
    work = Path(tempfile.mkdtemp(prefix="tp-shed-"))
    phone = HeadlessPhone(work, direct("alice")).start()
    bare = Baresip(work / "baresip", baresip_account("bob", answermode="manual")).start()
    targets = {"tui-phone": (phone, int(phone.sip_address.rsplit(":", 1)[1]), "alice"),
               "baresip": (bare, bare.sip_port, "bob")}
    try:
        top = {}
        for name, (proc, port, user) in targets.items():
            for rate in rates:
                n = max(1, int(rate * args.seconds))
                codes = flood(port, user, rate, n)
                alive = proc.proc.poll() is None
                if alive and name == "tui-phone":
                    alive = proc.api({"mt": "GetState"}, timeout=10)["ok"]
                elif alive:
                    alive = bool(proc.command("listcalls", timeout=10))
                print(f"{name:9s} rate={rate:>7.0f}/s for {args.seconds:.0f}s  {summary(codes, n)}  "
                      f"alive={'yes' if alive else 'NO'}")
                if not alive:
                    break
                top[name] = rate
        for name, (proc, port, user) in targets.items():
            if proc.proc.poll() is not None:
                print(f"{name:9s} 10,000 shed calls: not run (the process died)")
                continue
            before = rss_kb(proc.proc.pid)
            t = time.perf_counter()
            codes = flood(port, user, top[name], args.total)
            took = time.perf_counter() - t
            time.sleep(2)
            after = rss_kb(proc.proc.pid) if proc.proc.poll() is None else 0
            print(f"{name:9s} {args.total} pairs at {top[name]:.0f}/s in {took:.1f}s: {summary(codes, args.total)}  "
                  f"RSS {before / 1024:.1f} MB -> {after / 1024:.1f} MB  alive={'yes' if after else 'NO'}")
        print(f"highest rate survived: tui-phone {top.get('tui-phone', 0):.0f} pairs/s, "
              f"baresip {top.get('baresip', 0):.0f} pairs/s (reference)")
    finally:
        phone.stop()
        bare.stop()


if __name__ == "__main__":
    main()
