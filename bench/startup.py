"""Cold start of the real `tui-phone` in a pseudo-terminal, as a user sees it.

Prints the median, min and max over N runs of:
  first paint  – process start → the status line is on the screen
  registered   – process start → "registered" against a local Kamailio
  no config    – first paint of a first start: no config file, the embedded
                 direct account, no registrar
and the reference, measured in the same loop (one of each per round, so the
load is the same): `python -c "import textual.app"`, a whole process.
Goals (issue 17): first paint ≤ reference + 0.15 s; registered ≤ first
paint + 0.1 s (the median of each run's own difference).
All four XDG dirs (runtime, config, data, state) are private to the run;
the load average and whether the package's bytecode is compiled are printed
with the figures (with PYTHONDONTWRITEBYTECODE=1 a start without it
recompiles every module).

    .venv/bin/python bench/startup.py [N]
"""

import importlib.util
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


def run_once(config: Path | None, workdir: Path) -> tuple[float, float | None]:
    """(first paint, registered) in seconds; registered is None without a config."""
    # all four XDG dirs private to the bench: never the user's config, contacts, history or state
    env = {**os.environ, "XDG_RUNTIME_DIR": str(workdir), "XDG_CONFIG_HOME": str(workdir / "config"),
           "XDG_DATA_HOME": str(workdir / "data"), "XDG_STATE_HOME": str(workdir / "state"),
           "TERM": "xterm-256color", "COLUMNS": "100", "LINES": "30"}
    workdir.mkdir(mode=0o700, parents=True, exist_ok=True)
    master, slave = pty.openpty()
    t0 = time.perf_counter()
    argv = [sys.executable, "-m", "tui_phone", *(("--config", str(config)) if config else ())]
    proc = subprocess.Popen(argv, cwd=ROOT, stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True)
    os.close(slave)
    out, paint, registered = b"", None, None
    deadline = t0 + 15
    while time.perf_counter() < deadline:
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
        if paint is not None and (registered is not None or config is None):
            break
    time.sleep(0.3)  # the terminal is in raw mode by now: Ctrl+C is the quit key, not SIGINT
    os.write(master, b"\x03")
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    os.close(master)
    if paint is None or (config is not None and registered is None):
        raise RuntimeError(f"did not paint/register: {out[-500:]!r}")
    return paint, registered


def reference() -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import textual.app"], check=True)
    return time.perf_counter() - t0


def bytecode() -> str:
    """How many of the package's modules have a current .pyc."""
    sources = sorted((ROOT / "tui_phone").rglob("*.py"))
    fresh = 0
    for src in sources:
        pyc = Path(importlib.util.cache_from_source(str(src)))
        fresh += pyc.exists() and pyc.stat().st_mtime >= src.stat().st_mtime
    flag = os.environ.get("PYTHONDONTWRITEBYTECODE", "")
    return f"{fresh} of {len(sources)} modules compiled (PYTHONDONTWRITEBYTECODE={flag or 'unset'})"


def spread(values: list[float]) -> str:
    return f"median {statistics.median(values):.3f} s  (min {min(values):.3f}, max {max(values):.3f})"


def load() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    load_before = load()
    refs, paints, regs, bare = [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        kam = Kamailio(tmp / "kam").start()
        try:
            config = tmp / "config.toml"
            config.write_text(
                f'[[accounts]]\nname = "alice"\nuri = "sip:alice@127.0.0.1:{kam.port}"\n'
                f'registrar = "sip:127.0.0.1:{kam.port}"\nusername = "alice"\npassword = "alicepw"\n'
                'bind = "127.0.0.1"\n')
            run_once(config, tmp / "reg")  # the OS page cache: "cold" means a new process, not a cold disk
            reference()
            for i in range(n):  # one of each per round: the same load for all of them
                refs.append(reference())
                p, r = run_once(config, tmp / "reg")  # its database exists, as on any later start
                paints.append(p)
                regs.append(r)
                bare.append(run_once(None, tmp / f"first{i}")[0])  # a first start: nothing on disk yet
        finally:
            kam.stop()
    ref = statistics.median(refs)
    print(f"runs: {n}; load average {load_before} → {load()}; bytecode: {bytecode()}")
    print(f"reference:    python -c 'import textual.app'  {spread(refs)}")
    print(f"first paint:  {spread(paints)}  = reference + {statistics.median(paints) - ref:.3f} s (goal ≤ +0.150)")
    print(f"registered:   {spread(regs)}  = first paint + "
          f"{statistics.median(r - p for p, r in zip(paints, regs)):.3f} s (goal ≤ +0.100)")
    print(f"no config:    first paint {spread(bare)}  = reference + {statistics.median(bare) - ref:.3f} s")


if __name__ == "__main__":
    main()
