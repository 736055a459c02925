"""Call setup time, StartCall → Connected, through tui-phone's engine and
with bare pjsua2 in the same run, against one sipp UAS on 127.0.0.1.

  engine: Phone.execute(StartCall) on the asyncio loop → the store shows
          Connected (includes the queue hop to the owner thread and the
          event hop back to the loop: what the UI and the API see)
  bare:   makeCall() on pjsua2's own thread → onCallState(CONFIRMED)

Goal (issue 3): engine ≤ 1.2 × bare (median).

    .venv/bin/python bench/call_setup.py [N]
"""

import asyncio
import gc
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

import pjsua2 as pj  # noqa: E402

from tests.peers import free_udp_port, port_bound, wait_until  # noqa: E402
from tui_phone.commands import DisconnectCall, StartCall  # noqa: E402
from tui_phone.config import parse  # noqa: E402
from tui_phone.phone import Phone  # noqa: E402
from tui_phone.events import CallState


def start_uas(workdir: Path) -> tuple[subprocess.Popen, int]:
    port = free_udp_port()
    scen = workdir / "uas.xml"
    xml = subprocess.run(["sipp", "-sd", "uas"], capture_output=True, text=True).stdout  # exits 99 by design
    scen.write_text(xml.replace('milliseconds="4000"', 'milliseconds="100"'))
    proc = subprocess.Popen([shutil.which("sipp"), "-sf", str(scen), "-i", "127.0.0.1", "-mi", "127.0.0.1",
                             "-p", str(port), "-mp", str(free_udp_port()), "-nostdin"],
                            cwd=workdir, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    wait_until(lambda: port_bound(port), 5, "sipp uas")
    return proc, port


async def engine_runs(uri: str, n: int) -> list[float]:
    phone = Phone(parse('[[accounts]]\nname = "a"\nuri = "sip:a@127.0.0.1"\nbind = "127.0.0.1"\n'))
    await phone.start()
    connected = asyncio.Event()
    phone.subscribe(lambda s, e: connected.set()
                    if any(c.state is CallState.CONNECTED for c in s.calls) else None)
    times = []
    try:
        for _ in range(n):
            connected.clear()
            t0 = time.perf_counter()
            await phone.execute(StartCall(uri))
            await asyncio.wait_for(connected.wait(), 5)
            times.append(time.perf_counter() - t0)
            await phone.execute(DisconnectCall())
            while phone.state.calls:
                await asyncio.sleep(0.005)
    finally:
        await phone.stop()
    return times


def bare_runs(uri: str, n: int) -> list[float]:
    times: list[float] = []
    done = threading.Event()

    class Call(pj.Call):
        def onCallState(self, prm):
            st = self.getInfo().state
            if st == pj.PJSIP_INV_STATE_CONFIRMED and self.t0:
                times.append(time.perf_counter() - self.t0)
                self.t0 = 0
                self.hangup(pj.CallOpParam())
            elif st == pj.PJSIP_INV_STATE_DISCONNECTED:
                done.set()

        def onCallMediaState(self, prm):
            ci = self.getInfo()
            for i, mi in enumerate(ci.media):
                if mi.status == pj.PJSUA_CALL_MEDIA_ACTIVE:
                    m = self.getAudioMedia(i)
                    mgr = pj.Endpoint.instance().audDevManager()
                    mgr.getCaptureDevMedia().startTransmit(m)
                    m.startTransmit(mgr.getPlaybackDevMedia())

    def run():
        ep = pj.Endpoint()
        ep.libCreate()
        cfg = pj.EpConfig()
        cfg.uaConfig.threadCnt = 0
        cfg.uaConfig.mainThreadOnly = True
        cfg.medConfig.noVad = True
        cfg.logConfig.level = cfg.logConfig.consoleLevel = 0
        ep.libInit(cfg)
        tc = pj.TransportConfig()
        tc.boundAddress = tc.publicAddress = "127.0.0.1"
        ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, tc)
        ep.libStart()
        ep.audDevManager().setNullDev()
        acfg = pj.AccountConfig()
        acfg.idUri = "sip:b@127.0.0.1"
        acfg.mediaConfig.transportConfig.boundAddress = "127.0.0.1"
        acc = pj.Account()
        acc.create(acfg)
        for _ in range(n):
            done.clear()
            call = Call(acc)
            call.t0 = time.perf_counter()
            call.makeCall(uri, pj.CallOpParam(True))
            while not done.is_set():
                ep.libHandleEvents(10)
            call = None
            for _ in range(5):
                ep.libHandleEvents(1)
        acc.shutdown()
        acc = None
        gc.collect()
        ep.libDestroy()

    t = threading.Thread(target=run)
    t.start()
    t.join()
    return times


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    with tempfile.TemporaryDirectory() as tmp:
        proc, port = start_uas(Path(tmp))
        uri = f"sip:service@127.0.0.1:{port}"
        try:
            engine = asyncio.run(engine_runs(uri, n))
            bare = bare_runs(uri, n)
        finally:
            proc.terminate()
            proc.wait(5)
    e, b = statistics.median(engine), statistics.median(bare)
    print(f"calls: {n} each, sipp UAS on 127.0.0.1:{port}")
    print(f"engine: median {e * 1000:.2f} ms  p95 {sorted(engine)[int(n * .95) - 1] * 1000:.2f} ms")
    print(f"bare:   median {b * 1000:.2f} ms  p95 {sorted(bare)[int(n * .95) - 1] * 1000:.2f} ms")
    print(f"ratio engine/bare (median): {e / b:.2f}×  (goal ≤ 1.2×)")


if __name__ == "__main__":
    main()
