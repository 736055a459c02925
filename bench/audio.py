"""Audio bridge bench: pjsua2 + AudioBridge on a PulseAudio null sink, called by baresip playing 1 kHz.

    .venv/bin/python bench/audio.py [--seconds 20] [--json]

Starts its own PulseAudio (null sink, temp XDG_RUNTIME_DIR, PEERS.md §6), one pjsua2 owner thread (PEERS.md §5
skeleton, not the tui-phone engine), a direct baresip (auto-answer, aufile 1 kHz). alice calls bob; call audio goes
to AudioBridge (device "pulse"); `parec` records nullsink.monitor; FFT of that recording and of the frames tapped in
onFrameReceived must peak at 1 kHz. Prints CPU% (process, idle vs. call), drops/late, RSS.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import queue
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import Future
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


# ------------------------------------------------------------------ PulseAudio null sink
class Pulse:
    def __init__(self, workdir: Path):
        self.dir = workdir / "xdg"
        self.proc = None

    def start(self) -> "Pulse":
        self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.environ["XDG_RUNTIME_DIR"] = str(self.dir)
        os.environ.pop("PULSE_SERVER", None)
        self.log = open(self.dir.parent / "pulse.log", "wb")
        self.proc = subprocess.Popen(
            ["pulseaudio", "--daemonize=no", "--exit-idle-time=-1", "--system=false", "-n",
             "--load=module-native-protocol-unix", "--load=module-null-sink sink_name=nullsink",
             "--load=module-always-sink"], stdout=self.log, stderr=subprocess.STDOUT)
        t0 = time.time()
        while time.time() - t0 < 10:
            if subprocess.run(["pactl", "info"], capture_output=True).returncode == 0:
                return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError("pulseaudio did not start: " + (self.dir.parent / "pulse.log").read_text()[-500:])

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()


# ------------------------------------------------------------------ pjsua2 owner thread (PEERS.md §5)
def owner_class():
    import pjsua2 as pj

    class PjOwner:
        def __init__(self, port=0):
            self.q, self.stop, self.ready, self.objs, self.port = queue.Queue(), threading.Event(), threading.Event(), [], port
            self.th = threading.Thread(target=self._run, daemon=True)
            self.th.start()
            self.ready.wait(10)

        def _run(self):
            ep = self.ep = pj.Endpoint()
            ep.libCreate()
            cfg = pj.EpConfig()
            cfg.uaConfig.threadCnt = 0
            cfg.uaConfig.mainThreadOnly = True
            cfg.medConfig.sndAutoCloseTime = -1
            cfg.medConfig.noVad = True
            cfg.logConfig.level = cfg.logConfig.consoleLevel = 0
            ep.libInit(cfg)
            tc = pj.TransportConfig()
            tc.port = self.port
            tc.boundAddress = tc.publicAddress = "127.0.0.1"
            ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, tc)
            ep.libStart()
            ep.audDevManager().setNullDev()
            self.ready.set()
            while not self.stop.is_set():
                ep.libHandleEvents(10)
                while not self.q.empty():
                    fn, fut = self.q.get_nowait()
                    try:
                        fut.set_result(fn())
                    except BaseException as e:
                        fut.set_exception(e)
                    fn = fut = None
            self._teardown(ep)
            gc.collect()
            ep.libDestroy()

        def _teardown(self, ep):
            ep.hangupAllCalls()
            [ep.libHandleEvents(10) for _ in range(20)]
            for a in self.objs:
                if isinstance(a, pj.Account):
                    a.shutdown()
            a = None
            [ep.libHandleEvents(10) for _ in range(20)]
            self.objs.clear()

        def call(self, fn, timeout=10):
            fut = Future()
            self.q.put((fn, fut))
            return fut.result(timeout)

        def close(self):
            self.stop.set()
            self.th.join(15)

    class Call(pj.Call):
        def __init__(self, acc, owner, bridge_ref):
            super().__init__(acc)
            self.owner, self.bridge_ref = owner, bridge_ref
            self.state = ""
            self.media_up = threading.Event()

        def onCallState(self, prm):
            self.state = self.getInfo().stateText

        def onCallMediaState(self, prm):
            info = self.getInfo()
            for i, mi in enumerate(info.media):
                if mi.type == pj.PJMEDIA_TYPE_AUDIO and mi.status == pj.PJSUA_CALL_MEDIA_ACTIVE:
                    aud = self.getAudioMedia(i)
                    b = self.bridge_ref()
                    if b is not None:  # what _media_state should do
                        b.capture_media.startTransmit(aud)
                        aud.startTransmit(b.playback_media)
                    else:
                        mgr = pj.Endpoint.instance().audDevManager()
                        mgr.getCaptureDevMedia().startTransmit(aud)
                        aud.startTransmit(mgr.getPlaybackDevMedia())
                    self.media_up.set()

    return pj, PjOwner, Call


# ------------------------------------------------------------------ analysis
def peak_hz(samples: np.ndarray, rate: int) -> tuple[float, float]:
    """(peak frequency, fraction of spectral energy within ±50 Hz of it)."""
    x = samples.astype(np.float64)
    x -= x.mean()
    if not x.any():
        return 0.0, 0.0
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x)))) ** 2
    freqs = np.fft.rfftfreq(len(x), 1 / rate)
    k = int(spec[1:].argmax()) + 1
    band = (freqs > freqs[k] - 50) & (freqs < freqs[k] + 50)
    return float(freqs[k]), float(spec[band].sum() / spec.sum())


def cpu_over(seconds: float) -> float:
    t0, c0 = time.monotonic(), time.process_time()
    time.sleep(seconds)
    return 100.0 * (time.process_time() - c0) / (time.monotonic() - t0)


def rss_mb() -> float:
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


# ------------------------------------------------------------------ main
def run(seconds: float, idle_seconds: float = 5.0) -> dict:
    from tests.peers import Baresip, baresip_account, make_tone_wav, stop_all

    work = Path(tempfile.mkdtemp(prefix="tui-audio-"))
    pulse = Pulse(work).start()  # before PortAudio initialises (sounddevice import)
    res: dict = {}
    owner = bob = parec = None
    try:
        from tui_phone.sip.audio import AudioBridge, list_devices

        res["devices"] = list_devices()
        pj, PjOwner, Call = owner_class()
        owner = PjOwner()
        res["cpu_idle_no_bridge"] = round(cpu_over(idle_seconds), 2)

        box: dict = {}

        def mk_bridge():
            box["b"] = AudioBridge.create({"input": "pulse", "output": "pulse", "ring": "", "null": False})
            if box["b"] is not None:
                box["b"].set_active(True)  # the engine runs the streams only while there is a call or a tone
            return AudioBridge.last_reason

        reason = owner.call(mk_bridge)
        bridge = box.get("b")
        if bridge is None:
            raise RuntimeError(f"AudioBridge.create -> None: {reason}")
        res["devices_used"] = [bridge.input_device, bridge.output_device]
        tapped: list[bytes] = []
        bridge.tap = tapped.append
        # ALSA-pulse input streams busy-wait ~2 s after start on this null sink (seen without pjsua2 too)
        res["cpu_bridge_first_3s"] = round(cpu_over(3.0), 2)
        res["cpu_idle_bridge"] = round(cpu_over(idle_seconds), 2)

        tone = make_tone_wav(work / "tone1k.wav", seconds=seconds + 15, freq=1000.0, amplitude=0.3)
        bob = Baresip(work / "bob", baresip_account("bob"), tone_wav=tone).start()

        def mk_account():
            acc = pj.Account()
            ac = pj.AccountConfig()
            ac.idUri = "sip:alice@127.0.0.1"
            ac.mediaConfig.transportConfig.boundAddress = "127.0.0.1"
            ac.mediaConfig.transportConfig.publicAddress = "127.0.0.1"
            ac.mediaConfig.transportConfig.port = 40000
            ac.mediaConfig.transportConfig.portRange = 1000
            acc.create(ac)
            owner.objs.append(acc)
            c = Call(acc, owner, lambda: box.get("b"))
            owner.objs.append(c)
            c.makeCall(bob.uri, pj.CallOpParam(True))
            return c

        call = owner.call(mk_account)
        if not call.media_up.wait(10):
            raise RuntimeError(f"no media; call state {call.state!r}")
        # record what the bridge plays: the null sink's monitor
        rec_path = work / "monitor.raw"
        parec = subprocess.Popen(["parec", "-d", "nullsink.monitor", "--rate=16000", "--channels=1",
                                  "--format=s16le", "--raw"], stdout=open(rec_path, "wb"), stderr=subprocess.DEVNULL)
        s0 = owner.call(bridge.stats)
        n_tap0 = len(tapped)
        res["cpu_call"] = round(cpu_over(seconds), 2)
        s1 = owner.call(bridge.stats)
        res["levels_in_out"] = [round(v, 4) for v in owner.call(bridge.levels)]
        res["call_state"] = call.state
        parec.terminate()
        parec.wait(5)
        rec = np.frombuffer(rec_path.read_bytes(), dtype="<i2")
        res["monitor_seconds"] = round(len(rec) / 16000, 2)
        rec = rec[16000:] if len(rec) > 32000 else rec  # skip the first second
        res["monitor_peak_hz"], res["monitor_peak_energy"] = [round(v, 3) for v in peak_hz(rec, 16000)]
        res["monitor_rms"] = round(float(np.sqrt(np.mean(rec.astype(np.float64) ** 2)) / 32768), 4)
        tap = np.frombuffer(b"".join(tapped[n_tap0:]), dtype="<i2")
        res["tap_peak_hz"], res["tap_peak_energy"] = [round(v, 3) for v in peak_hz(tap, 16000)]
        d = {k: s1["detail"][k] - s0["detail"][k] for k in s1["detail"]}
        res["during_call"] = d
        frames = d["play_frames"] + d["cap_frames"]
        res["drops"] = d["cap_drops"] + d["play_drops"]
        res["late"] = d["cap_late"] + d["out_late"]
        res["frames"] = frames
        res["drop_late_pct"] = round(100.0 * (res["drops"] + res["late"]) / max(frames, 1), 3)
        res["cpu_above_idle"] = round(res["cpu_call"] - res["cpu_idle_no_bridge"], 2)
        res["rss_mb"] = round(rss_mb(), 1)
        res["maxrss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)

        def end():
            call.hangup(pj.CallOpParam(True))
            for _ in range(20):
                owner.ep.libHandleEvents(10)
            box.pop("b").close()
        owner.call(end)
        call = bridge = None
        res["ok"] = bool(abs(res["monitor_peak_hz"] - 1000) < 20 and abs(res["tap_peak_hz"] - 1000) < 20)
    finally:
        if parec and parec.poll() is None:
            parec.kill()
        if owner:
            owner.close()
        if bob:
            bob.stop()
        pulse.stop()
        shutil.rmtree(work, ignore_errors=True)
    return res


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--idle", type=float, default=5.0)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    res = run(a.seconds, a.idle)
    if a.json:
        print(json.dumps(res))
    else:
        for k, v in res.items():
            print(f"{k:22s} {v}")
    return 0 if res.get("ok") else 1


if __name__ == "__main__":
    sys.exit(main())
