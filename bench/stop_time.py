"""How long the engine takes to stop (issue 15: under 1 s idle, at most 3 s
with calls): ``PjEngine.stop()`` in this process, timed from the call to its
return, for a direct (registrar-less) account, an account registered with
Kamailio (the un-REGISTER is sent and answered, with auth, before the stack
goes), and the Kamailio account with two calls up to a sipp UAS.

    .venv/bin/python bench/stop_time.py [N]
"""

import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.peers import Kamailio, free_udp_port, port_bound, wait_until  # noqa: E402
from tui_phone.commands import StartCall  # noqa: E402
from tui_phone.config import parse  # noqa: E402
from tui_phone.events import CallState, CallProgress, RegState  # noqa: E402
from tui_phone.sip.pjsua2_engine import PjEngine  # noqa: E402


def uas(workdir: Path) -> tuple[subprocess.Popen, int]:
    port = free_udp_port()
    proc = subprocess.Popen([shutil.which("sipp"), "-sn", "uas", "-i", "127.0.0.1", "-mi", "127.0.0.1",
                             "-p", str(port), "-mp", str(free_udp_port()), "-nostdin"], cwd=workdir,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_until(lambda: port_bound(port), 5, "sipp uas")
    return proc, port


def one(config: str, calls_to: int | None = None, registered: bool = False) -> float:
    seen: list = []
    done = threading.Event()

    def emit(e):
        seen.append(e)
        if isinstance(e, RegState) and e.registered and e.code == 200:
            done.set()

    engine = PjEngine(parse(config))
    engine.start(emit)
    if registered:
        assert done.wait(5), "not registered"
    if calls_to:
        for _ in range(2):
            assert engine.submit(StartCall(f"sip:service@127.0.0.1:{calls_to}")).result(5).ok
        wait_until(lambda: sum(isinstance(e, CallProgress) and e.state is CallState.CONNECTED for e in seen) >= 2,
                   5, "two connected calls")
    time.sleep(0.3)
    t0 = time.perf_counter()
    engine.stop()
    return time.perf_counter() - t0


def main(n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp, Kamailio(Path(tmp) / "k") as k:
        direct = '[[accounts]]\nname = "a"\nuri = "sip:a@127.0.0.1"\nbind = "127.0.0.1"\n'
        reg = (f'[[accounts]]\nname = "a"\nuri = "{k.uri("alice")}"\nregistrar = "{k.uri()}"\n'
               'username = "alice"\npassword = "alicepw"\nbind = "127.0.0.1"\n')
        proc, port = uas(Path(tmp))
        try:
            for name, cfg, to, registered in (("idle, direct account", direct, None, False),
                                              ("idle, registered with Kamailio", reg, None, True),
                                              ("registered, two calls up", reg, port, True)):
                times = [one(cfg, to, registered) for _ in range(n)]
                print(f"{name}: median {statistics.median(times):.3f} s, max {max(times):.3f} s "
                      f"({', '.join(f'{t:.3f}' for t in times)})")
        finally:
            proc.terminate()
            proc.wait(5)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
