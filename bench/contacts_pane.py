"""Key → rows in the TUI's Contacts pane, at N contacts (default 100,000).

A Textual pilot runs the real app (scripted engine: no SIP needed to search)
on a generated database, opens the Contacts pane and types queries the way
people do (bench/contacts.py's mix: letters of a name, company or email,
digits of a number, two words), one key at a time (one query first to warm
up, uncounted; a 50 ms pause after clearing the box). For each key it takes the
time from the key press to the pane's rows filled with that key's answer
(the paint follows in the same frame), and prints p50/p95/max, the rows the
pane asked for (its window) and the DB query alone for the same texts.

    .venv/bin/python bench/contacts_pane.py [N] [--db PATH] [--queries 60]

``--db`` keeps the generated database for the next run (building 100,000
contacts takes a while).
"""

import argparse
import asyncio
import gc
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.contacts import person, queries  # noqa: E402
from tui_phone.contacts.db import FILENAME, ContactsDB  # noqa: E402


def report(name: str, ms: list[float], extra: str = "") -> None:
    q = statistics.quantiles(ms, n=100)
    print(f"{name:<34} p50_ms={q[49]:.2f} p95_ms={q[94]:.2f} max_ms={max(ms):.2f} n={len(ms)}{extra}")


def build(path: Path, count: int) -> list:
    rng = random.Random(5)
    people = [person(rng, i) for i in range(count)]
    if not path.exists():
        t = time.perf_counter()
        db = ContactsDB(path, "US")
        db.add_many(people)
        db.close()
        print(f"built {count} contacts in {time.perf_counter() - t:.1f} s")
    return people


async def measure(texts: list[str]) -> tuple[list[float], int]:
    from tests.scripted import ScriptedEngine
    from tui_phone.app import make_app
    from tui_phone.config import parse
    from tui_phone.phone import Phone
    from tui_phone.ui.contacts import ContactsPane

    cfg = parse('[[accounts]]\nname = "alice"\nuri = "sip:alice@127.0.0.1"\nbind = "127.0.0.1"\n'
                '[audio]\nnull = true\n')
    app = make_app(cfg, phone=Phone(cfg, engine=ScriptedEngine(cfg)))
    out: list[float] = []
    async with app.run_test(size=(120, 40)) as pilot:
        pane = app.query_one(ContactsPane)
        await pilot.press("f3")
        await until(lambda: pane.contacts)
        field = pane.query_one("#contact-search")
        for n, text in enumerate([texts[0], *texts]):  # the first query warms up (styles, caches): not counted
            field.value = ""
            await until(lambda: pane._wanted is None and not pane._searching)
            await pilot.pause(0.05)  # the cleared list paints, as between two searches of a person
            field.focus()
            if n == 0:
                for ch in text:
                    await pilot.press("space" if ch == " " else ch)
                continue
            for ch in text:
                before = pane.renders
                t = time.perf_counter()
                await pilot.press("space" if ch == " " else ch)
                await until(lambda: pane.renders > before and pane._wanted is None)
                out.append((pane.shown_at - t) * 1000)
        window = pane.limit
    return out, window


async def until(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("the pane did not show the rows")
        await asyncio.sleep(0.001)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("count", nargs="?", type=int, default=100_000)
    ap.add_argument("--db", default=None, help="keep the generated database here")
    ap.add_argument("--queries", type=int, default=60)
    args = ap.parse_args()
    home = Path(tempfile.mkdtemp(prefix="tui-phone-pane-"))
    try:
        for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_RUNTIME_DIR"):
            os.environ[var] = str(home / var.lower())
            (home / var.lower()).mkdir(mode=0o700)
        data = home / "xdg_data_home" / "tui-phone"
        data.mkdir(mode=0o700)
        db_path = Path(args.db) if args.db else data / FILENAME
        people = build(db_path, args.count)
        if args.db:
            shutil.copy(db_path, data / FILENAME)
        rng = random.Random(7)
        texts = [q for q in queries(rng, people, args.queries * 2) if q.strip()][:args.queries]
        del people  # 100,000 Contact objects the app never holds: the garbage collector would walk them
        gc.collect()
        ms, window = asyncio.run(measure(texts))
        db = ContactsDB(data / FILENAME, "US")
        prefixes = [text[:i] for text in texts for i in range(1, len(text) + 1)]
        sql = []
        for p in prefixes:
            t = time.perf_counter()
            db.search(p, True, window)
            sql.append((time.perf_counter() - t) * 1000)
        db.close()
        print(f"contacts={args.count} keys={len(ms)} window={window} rows")
        report("pane key -> rows", ms)
        report(f"db search alone (limit {window})", sql)
    finally:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
