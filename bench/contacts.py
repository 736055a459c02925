"""Contacts store figures on a generated database.

Builds N contacts (default 10,000; 1–3 numbers each, some favorites, a team of
50) in a temporary file, then prints:

- bulk insert time (``add_many``, one transaction) and the team refresh;
- search latency p50/p95/max over 200 queries typed the way people type
  (1–10 letters of a name, company or email; 1–7 digits of a number; two
  words; 5 % that match nothing), once for the full result list and once for one screen (limit 50),
  then by typed length (limit 50);
- caller lookup latency;
- single ``add`` / ``update`` / ``delete`` / ``set_favorite`` latency p50/p95/max
  over 200 each (the issue: a write never blocks the UI for more than a frame,
  16 ms).

    .venv/bin/python bench/contacts.py [N] [--dir DIR] [--skip-full]
"""

import argparse
import random
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tui_phone.contacts import Contact, Number  # noqa: E402
from tui_phone.contacts.db import ContactsDB  # noqa: E402

FIRST = ("Alice Bob Carol Dan Erika Frank Grace Heidi Ivan Judy Karl Lena Mallory Nina Oscar "
         "Peggy Quinn Rupert Sybil Trent Ursula Victor Wendy Xavier Yvonne Zoe José Ærin").split()
LAST = ("Smith Jones Müller Garcia Nguyen Kowalski Rossi Dubois Tanaka Silva Novak Ivanova "
        "Hansen Murphy O'Brien Schmidt Johansson Papadopoulos Cohen Okafor").split()
COMPANY = ("Acme Globex Initech Umbrella Hooli Stark Wayne Wonka Cyberdyne Soylent Tyrell "
           "Vandelay Gringotts Monarch Oceanic").split()
TITLES = ("Engineer Buyer Director Support Sales Accountant Nurse Teacher Driver Chef").split()
AREAS = (201, 212, 305, 312, 415, 503, 617, 646, 702, 713, 818, 917)
LABELS = ("mobile", "work", "home", "other")


def person(rng: random.Random, i: int) -> Contact:
    first, last, company = rng.choice(FIRST), rng.choice(LAST), rng.choice(COMPANY)
    numbers = tuple(
        Number(rng.choice(LABELS), f"({rng.choice(AREAS)}) {rng.randint(200, 999)}-{rng.randint(0, 9999):04d}")
        for _ in range(rng.randint(1, 3)))
    return Contact(first=first, last=f"{last}{i % 97 or ''}", company=company if rng.random() < .7 else "",
                   email=f"{first.lower()}.{i}@{company.lower()}.example", job_title=rng.choice(TITLES),
                   numbers=numbers, favorite=rng.random() < .02)


NO_MATCH = ("zq", "xqz", "qqqq", "zzyzx", "wxq", "jjj kkk", "0000000", "9999999", "qx", "vvv")


def queries(rng: random.Random, contacts: list[Contact], n: int) -> list[str]:
    """Typed the way people type: 1-10 letters of a name, company or email; 1-7 digits of a number
    (1-2 digits match most of the list); two words; and 5 % that match nothing."""
    out = []
    while len(out) < n:
        c = rng.choice(contacts)
        kind = rng.random()
        if kind < .45:
            text = rng.choice([c.first, c.last, c.company or c.last, c.email])
            out.append(text[: rng.randint(1, 10)])
        elif kind < .75:
            digits = "".join(ch for ch in rng.choice(c.numbers).typed if ch.isdigit())
            start = rng.randint(0, len(digits) - 3)
            out.append(digits[start: start + rng.randint(1, 7)])
        elif kind < .95:
            out.append(f"{c.first[:rng.randint(1, 4)]} {c.last[:rng.randint(1, 4)]}")
        else:
            out.append(rng.choice(NO_MATCH))
    return out


def size_mb(where: Path, suffix: str = "*") -> float:
    return sum(p.stat().st_size for p in where.glob(f"tui-phone.db{suffix}")) / 1e6


def rss_mb() -> float:
    return next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmRSS:")) / 1024


def timed(fn, items) -> list[float]:
    out = []
    for item in items:
        t = time.perf_counter()
        fn(item)
        out.append((time.perf_counter() - t) * 1000)
    return out


def report(name: str, ms: list[float], extra: str = "") -> None:
    q = statistics.quantiles(ms, n=100)
    print(f"{name:<28} p50_ms={q[49]:.2f} p95_ms={q[94]:.2f} max_ms={max(ms):.2f}{extra}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("count", nargs="?", type=int, default=10_000)
    ap.add_argument("--dir", default=None, help="where the database goes (default: a temp dir)")
    ap.add_argument("--skip-full", action="store_true", help="skip unlimited searches (slow at 100k)")
    args = ap.parse_args()
    rng = random.Random(5)
    people = [person(rng, i) for i in range(args.count)]
    team = [Contact(first=rng.choice(FIRST), last=f"Team{i}", sip_uri=f"sip:{200 + i}@pbx",
                    numbers=(Number("work", str(200 + i)),)) for i in range(50)]
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        db = ContactsDB(Path(tmp) / "tui-phone.db", "US")
        rss0 = rss_mb()
        t = time.perf_counter()
        stored = db.add_many(people)
        bulk = time.perf_counter() - t
        rss = rss_mb() - rss0
        t = time.perf_counter()
        db.replace_team(team)
        refresh = time.perf_counter() - t
        print(f"contacts={args.count} index={'fts5 trigram' if db.fts else 'LIKE'} "
              f"sqlite={__import__('sqlite3').sqlite_version}")
        print(f"bulk insert: {bulk:.2f} s ({bulk / args.count * 1e6:.0f} us/contact); "
              f"team refresh (50): {refresh * 1000:.1f} ms; "
              f"file {size_mb(Path(tmp)):.1f} MB with WAL ({size_mb(Path(tmp)) / args.count * 1e5:.1f} MB per 100k;"
              f" WAL {size_mb(Path(tmp), '-wal'):.1f} MB); "
              f"process RSS grew {rss:.0f} MB")

        qs = queries(rng, stored, 200)
        db.search("warm up")
        if not args.skip_full:
            sizes = [len(db.search(q)) for q in qs]
            report("search (all results)", timed(db.search, qs),
                   f" mean_results={statistics.mean(sizes):.0f}")
        report("search (limit 50)", timed(lambda q: db.search(q, limit=50), qs))
        report("search '' (limit 50)", timed(lambda q: db.search("", limit=50), range(50)))
        for size in (1, 2, 3, 5, 10):
            typed = [q[:size] for q in qs if len(q) >= size and not q[0].isdigit()]
            if len(typed) >= 10:
                report(f"  {size} letters (limit 50)", timed(lambda q: db.search(q, limit=50), typed))
        digits = [q for q in qs if q[0].isdigit()]
        for name, lo, hi in (("1-2", 1, 2), ("3-7", 3, 7)):
            report(f"  {name} digits (limit 50)",
                   timed(lambda q: db.search(q, limit=50), [q for q in digits if lo <= len(q) <= hi]))
        report("  no match (limit 50)", timed(lambda q: db.search(q, limit=50), NO_MATCH * 5))
        callers = [rng.choice(c.numbers).typed for c in rng.sample(stored, 200)]
        report("lookup (E.164)", timed(db.lookup, callers))
        report("lookup (last 7 digits)", timed(db.lookup, [c[-8:] for c in callers]))

        new = [person(rng, args.count + i) for i in range(200)]
        added = []
        report("add", timed(lambda c: added.append(db.add(c)), new))
        report("update", timed(lambda c: db.update(replace(c, job_title="Changed")), added))
        report("set_favorite", timed(lambda c: db.set_favorite(c.id, True), added))
        report("delete", timed(lambda c: db.delete(c.id), added))
        db.close()


if __name__ == "__main__":
    main()
