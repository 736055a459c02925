"""Quitting the real binary in tmux (100×30) is well under a second when idle, also with a
20,000-contact database (an outside probe measured 1.2-1.3 s there, 0.55 s without contacts)."""

import sys
import time
from pathlib import Path

from tests.e2e.test_tmux import ROOT, Tmux
from tests.peers import require
from tui_phone.contacts import Contact, Number
from tui_phone.contacts.db import ContactsDB

CONTACTS = 20_000
QUIT_WITHIN = 1.0


def test_quit_with_a_20000_contact_database_takes_under_a_second(tmp_path: Path):
    require("tmux")
    data = tmp_path / "data"
    with ContactsDB(data / "tui-phone" / "tui-phone.db") as db:  # the project's own bulk insert
        db.add_many(Contact(first=f"Person{i}", last="Quit", company="Acme" if i % 3 else "",
                            numbers=(Number("work", f"+1 212 555 {i % 10000:04d}"),)) for i in range(CONTACTS))
        assert len(db.search("person19999")) == 1
    cfg = tmp_path / "config.toml"
    cfg.write_text('[[accounts]]\nname = "alice"\nuri = "sip:alice@127.0.0.1"\nbind = "127.0.0.1"\n'
                   '[audio]\nnull = true\n')
    run = tmp_path / "run"
    run.mkdir(mode=0o700)
    done = tmp_path / "done"
    env = {"XDG_RUNTIME_DIR": str(run), "XDG_CONFIG_HOME": str(tmp_path / "cfg"), "XDG_DATA_HOME": str(data),
           "XDG_STATE_HOME": str(tmp_path / "state"), "TERM": "xterm-256color", "PYTHONPATH": str(ROOT)}
    t = Tmux(tmp_path, [sys.executable, "-m", "tui_phone", "--config", str(cfg), "; touch", str(done)], env, (100, 30))
    try:
        t.wait_for("ready for direct calls", timeout=20)
        t.keys("F3")  # the contacts pane, reading the 20,000
        t.wait_for("Person0 Quit")
        time.sleep(1.5)  # idle: the start and the first reads are over
        started = time.monotonic()
        t.keys("C-q")
        while not done.exists() and time.monotonic() - started < 10:
            time.sleep(0.02)
        took = time.monotonic() - started
        assert done.exists(), t.screen()
        assert took < QUIT_WITHIN, f"quitting took {took:.2f} s"
    finally:
        t.close()
