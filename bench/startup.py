"""Cold start of the real `tui-phone` in a pseudo-terminal, as a user sees it.

Prints the median and max over N runs of:
  first paint  – process start → the status line is on the screen
  registered   – process start → "registered" against a local Kamailio
Goals (issue 3): ≤ 0.6 s and ≤ 1.0 s. Reference printed beside them (issue 17):
`python -c "import textual.app"` in the same run (first paint ≤ that + 0.15 s).
All four XDG dirs (runtime, config, data, state) are private to the run.

    .venv/bin/python bench/startup.py [N]
"""

import os
import pty
import select
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.peers import Kamailio  # noqa: E402


def run_once(config: Path, workdir: Path) -> tuple[float, float]:
    # all four XDG dirs private to the bench: never the user's contacts, history or state
    env = {**os.environ, "XDG_RUNTIME_DIR": str(workdir), "XDG_CONFIG_HOME": str(workdir / "config"),
           "XDG_DATA_HOME": str(workdir / "data"), "XDG_STATE_HOME": str(workdir / "state"),
           "TERM": "xterm-256color", "COLUMNS": "100", "LINES": "30"}
    master, slave = pty.openpty()
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "tui_phone", "--config", str(config)], cwd=ROOT,
                            stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True)
    os.close(slave)
    out, paint, registered = b"", None, None
    deadline = t0 + 15
    while registered is None and time.perf_counter() < deadline:
        ready, _, _ = select.select([master], [], [], 0.05)
        if not ready:
            continue
        try:
            out += os.read(master, 65536)
        except OSError:
            break
        now = time.perf_counter()
        if paint is None and b"status:" in out:
            paint = now - t0
        if paint is not None and b" registered " in out:
            registered = now - t0
    os.write(master, b"\x03")  # Ctrl+C: clean quit
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
    os.close(master)
    if paint is None or registered is None:
        raise RuntimeError(f"did not paint/register: {out[-500:]!r}")
    return paint, registered


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        kam = Kamailio(tmp / "kam").start()
        try:
            config = tmp / "config.toml"
            config.write_text(
                f'[[accounts]]\nname = "alice"\nuri = "sip:alice@127.0.0.1:{kam.port}"\n'
                f'registrar = "sip:127.0.0.1:{kam.port}"\nusername = "alice"\npassword = "alicepw"\n'
                'bind = "127.0.0.1"\n')
            run_once(config, tmp)  # warm the OS page cache: "cold" means a new process, not a cold disk
            paints, regs = [], []
            for i in range(n):
                p, r = run_once(config, tmp)
                paints.append(p)
                regs.append(r)
        finally:
            kam.stop()
    ref = []
    for _ in range(n):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import textual.app"], check=True)
        ref.append(time.perf_counter() - t0)
    print(f"runs: {n}")
    print(f"reference:    python -c 'import textual.app' median {statistics.median(ref):.3f} s")
    print(f"first paint:  median {statistics.median(paints):.3f} s  max {max(paints):.3f} s  (goal ≤ 0.6 s)")
    print(f"registered:   median {statistics.median(regs):.3f} s  max {max(regs):.3f} s  (goal ≤ 1.0 s)")


if __name__ == "__main__":
    main()
