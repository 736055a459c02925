"""CardDAV sync figures against a real Radicale on 127.0.0.1 (tests.peers.Radicale).

Puts N generated cards (default 10,000) in one address book, then prints:

- the initial sync time into an empty contacts database (listing, fetching in
  multigets of 250, storing), and a second sync with nothing to do;
- keystroke latency in the TUI's Contacts pane search box (p50/p95/max, ms:
  a key event posted to the app the way the terminal driver posts it → the
  search box holds the new text, one key every 60 ms, each search's list
  redrawn on the same loop in between) while the app's background sync of the
  same N cards runs, and the reference: the same typing in the same run with
  no sync under way (after it ended). The goal: under one frame (16 ms) at
  p95 during the sync.

    .venv/bin/python bench/carddav.py [N] [--keys 150]
"""

import argparse
import asyncio
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.peers import Radicale  # noqa: E402
from tui_phone.config import AddressBookConfig, parse  # noqa: E402
from tui_phone.contacts.db import ContactsDB  # noqa: E402
from tui_phone.contacts.sync import BookSync  # noqa: E402

FIRST = "Alice Bob Carol Dan Erika Frank Grace Heidi Ivan Judy Karl Lena Nina Oscar Peggy Zoe José".split()
LAST = "Smith Jones Müller Garcia Nguyen Kowalski Rossi Dubois Tanaka Silva Novak Hansen Murphy".split()
TYPED = "Smi\b\b\bGar\b\b\bNgu\b\b\b212\b\b\b"  # typed over and over; \b is backspace


def cards(n: int, rng: random.Random) -> str:
    out = []
    for i in range(n):
        first, last = rng.choice(FIRST), f"{rng.choice(LAST)}{i}"
        out.append("\r\n".join([
            "BEGIN:VCARD", "VERSION:3.0", f"UID:bench-{i}", f"FN:{first} {last}", f"N:{last};{first};;;",
            f"ORG:Company {i % 300}", f"EMAIL;TYPE=INTERNET:{first.lower()}.{i}@example.com",
            f"TEL;TYPE=CELL:+1 212 {rng.randint(200, 999)} {rng.randint(0, 9999):04d}",
            f"TEL;TYPE=WORK:+1 646 {rng.randint(200, 999)} {rng.randint(0, 9999):04d}",
            "item1.X-ABLabel:assistant", "NOTE:generated for the bench", "END:VCARD"]) + "\r\n")
    return "".join(out)


def figures(ms: list[float]) -> str:
    q = statistics.quantiles(ms, n=100)
    return f"p50_ms={q[49]:.2f} p95_ms={q[94]:.2f} max_ms={max(ms):.2f} keys={len(ms)}"


def count(path: Path) -> int:
    try:
        with sqlite3.connect(path) as conn:
            return conn.execute("SELECT count(*) FROM cards").fetchone()[0]
    except sqlite3.Error:
        return 0


async def typing(app, keys: int, pace: float = 0.06) -> list[float]:
    from textual import events

    box = app.query_one("#contact-search")
    out = []
    for ch in (TYPED * (keys // len(TYPED) + 1))[:keys]:
        before = box.value
        t = time.perf_counter()
        app.post_message(events.Key("backspace", None) if ch == "\b" else events.Key(ch, ch))
        while box.value == before:
            await asyncio.sleep(0.0002)
        out.append((time.perf_counter() - t) * 1000)
        await asyncio.sleep(pace)
    return out


async def tui(radicale: Radicale, n: int, keys: int, tmp: Path) -> None:
    from tui_phone.app import make_app
    from tui_phone.ui.contacts import ContactsPane

    os.environ.update(XDG_RUNTIME_DIR=str(tmp / "run"), XDG_DATA_HOME=str(tmp / "data"),
                      XDG_CONFIG_HOME=str(tmp / "cfg"), XDG_STATE_HOME=str(tmp / "state"))
    (tmp / "run").mkdir(mode=0o700)
    db_path = tmp / "data" / "tui-phone" / "tui-phone.db"
    config = parse('[[accounts]]\nname = "alice"\nuri = "sip:alice@127.0.0.1"\nbind = "127.0.0.1"\n'
                   f'[[addressbooks]]\nname = "work"\nurl = "{radicale.url}"\nusername = "alice"\n'
                   'password = "alicepw"\ninterval = 86400\n')
    app = make_app(config)
    async with app.run_test(size=(120, 40)) as pilot:
        t0 = time.perf_counter()
        await pilot.press("f3")
        await pilot.press("slash")
        while count(db_path) == 0:  # the sync has listed the book and stores its first batch
            await asyncio.sleep(0.05)
        during, seen = [], 0
        while seen < n and len(during) < keys:
            during += await typing(app, 10)
            seen = count(db_path)
        synced = seen
        while count(db_path) < n:
            await asyncio.sleep(0.1)
        print(f"TUI background sync: {n:,} cards in {time.perf_counter() - t0:.1f} s "
              f"(typing covered the first {synced:,})")
        await pilot.pause(1.0)
        app.query_one(ContactsPane)  # the pane is still there
        reference = await typing(app, len(during))
        print(f"Contacts pane keystroke during the sync:     {figures(during)}")
        print(f"Contacts pane keystroke, no sync (reference): {figures(reference)}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("count", nargs="?", type=int, default=10_000)
    ap.add_argument("--keys", type=int, default=150, help="keystrokes measured during the sync (at most)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        radicale = Radicale(tmp / "radicale").start()
        try:
            t = time.perf_counter()
            radicale.put_book("alice", "contacts", cards(args.count, random.Random(18)))
            print(f"radicale: {args.count:,} cards stored in {time.perf_counter() - t:.1f} s")
            book = AddressBookConfig(name="work", url=radicale.url, username="alice", password="alicepw")
            with ContactsDB(tmp / "cli.db") as db:
                t = time.perf_counter()
                summary = BookSync(db, book).run()
                first = time.perf_counter() - t
                t = time.perf_counter()
                again = BookSync(db, book).run()
                second = time.perf_counter() - t
            print(f"initial sync: {summary.pulled['added']:,} cards in {first:.1f} s "
                  f"({first / args.count * 1000:.2f} ms/card); a sync with nothing to do: {second:.2f} s"
                  + ("" if not (again.pulled or again.pushed) else " (it changed something!)"))
            asyncio.run(tui(radicale, args.count, args.keys, tmp))
        finally:
            radicale.stop()


if __name__ == "__main__":
    main()
