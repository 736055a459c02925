"""Importing a vCard file again: ``tui-phone contacts import FILE`` run as a user
runs it (a fresh process, private XDG dirs in a temporary directory) on N
generated cards (default 20,000; bench/contacts.py's people, with ``UID`` lines
with ``--uid``): the first import, the same file again, and the file with one
card edited; each with its time and the database file's size.

    .venv/bin/python bench/reimport.py [N] [--uid]
"""

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from contacts import person  # noqa: E402
from tui_phone.contacts.vcard import write_vcards  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("n", nargs="?", type=int, default=20_000)
    ap.add_argument("--uid", action="store_true", help="cards carry UID lines")
    args = ap.parse_args()
    rng = random.Random(1)
    people = [replace(person(rng, i), uid=f"uid-{i}" if args.uid else "") for i in range(args.n)]
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        env = {**os.environ, "PYTHONPATH": str(ROOT), **{f"XDG_{k}_HOME": str(base / k.lower())
                                                          for k in ("DATA", "CONFIG", "STATE")},
               "XDG_RUNTIME_DIR": str(base / "run")}
        (base / "run").mkdir(mode=0o700)
        vcf, db = base / "cards.vcf", base / "data" / "tui-phone" / "tui-phone.db"

        def run(what: str, cards) -> None:
            text = write_vcards(cards)
            if args.uid:  # write_vcards leaves UIDs out: one after each VERSION line, in order
                uids = iter(c.uid for c in cards)
                text = "".join(line + (f"UID:{next(uids)}\r\n" if line.startswith("VERSION:") else "")
                               for line in text.splitlines(keepends=True))
            vcf.write_text(text)
            started = time.perf_counter()
            subprocess.run([sys.executable, "-m", "tui_phone", "contacts", "import", str(vcf)],
                           env=env, check=True, capture_output=True)
            took = time.perf_counter() - started
            print(f"{what:<22} {took:6.2f} s  {took / len(cards) * 1000:5.2f} ms/card  "
                  f"db {db.stat().st_size / 1e6:6.2f} MB")

        run("first import", people)
        run("same file again", people)
        run("one card edited", people[:7] + [replace(people[7], job_title="Changed")] + people[8:])


if __name__ == "__main__":
    main()
