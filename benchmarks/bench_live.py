"""Benchmark: ``roomtruth monitor run`` live on the JACK rig against zita's ``jconvolver``.

Issue 5, Done means: "``monitor run`` for 10 minutes on the JACK rig at 256-sample blocks: no
xrun caused by processing, load reported".  The rig is a JACK server with the dummy driver in a
virtual machine: its timer is late now and then whatever runs on it, and every late cycle is an
xrun that every client is told about.  So the question "did our processing cause xruns?" is
answered by comparison, in the same run, on the same server, for the same duration:

1. ``idle``: the rig alone (jackd + the room's jconvolver), nobody monitoring;
2. ``jconvolver``: zita-convolver's JACK client doing the same monitor job in C++ with real-time
   threads: ``--channels`` speakers (default 2) x 65,536 taps, partition = the period, the peer
   in this field;
3. ``roomtruth``: ``roomtruth monitor run PROFILE --input rig --output rig --duration T --json``
   with the same FIRs (audio process + worker threads, see roomtruth/monitor_live.py).

For each phase: the late cycles jackd logged (the server's own count, the same metric for all),
per minute, and CPU seconds of the monitoring process.  For ``roomtruth`` also what the engine
saw: host xruns, xruns right after one of its own overloads (``xruns_processing``), overloads,
mean and worst DSP load.  "No xrun caused by processing" holds when ``xruns_processing`` is 0
and the server's count is in the range of the idle and jconvolver phases.

Usage::

    .venv/bin/python benchmarks/bench_live.py [--seconds 600] [--block 256] [--channels 2]
        [--phases idle,jconvolver,roomtruth[,roomtruth-plain]] [--server NAME] [--json]

``roomtruth-plain``: the same as ``roomtruth`` with the audio process's control thread left an
ordinary thread (``ROOMTRUTH_RT_CONTROL=0``; default: SCHED_FIFO 1, see
``monitor.realtime.shield_control_thread``), to compare both in one run.

The immersive job of issue 15 (16 speakers x 65,536 taps at a 128-sample period)::

    .venv/bin/python benchmarks/bench_live.py --channels 16 --block 128 --seconds 600 --json

Runs on its own JACK server (``--server``, default ``roomtruth-bench``, so a rig someone else
started is never touched): started with a room of ``--channels`` speakers (a short synthetic
room IR per speaker, the mic their sum: the dummy interface has 22 ports, so up to 20
speakers) when it is not running, and stopped again afterwards.  A rig already running under
that name must have at least ``--channels`` speakers.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FS = 48_000
TAPS = 65_536
BLOCK = 256
PEER_CLIENT = "roomtruth-bench-zita"


def make_filters(folder: Path, taps: int, channels: int = 2) -> Path:
    """A ``channels``-speaker profile with decaying random FIRs (what a correction FIR costs),
    plus the same taps as mono WAVs for jconvolver; returns the profile folder."""
    from calib.profile import CalibrationProfile, SpeakerCorrection

    rng = np.random.default_rng(11)
    t = np.arange(taps)
    h = rng.standard_normal((channels, taps)) * np.exp(-t / (taps / 8)) * 0.02
    h[:, 0] = 0.5
    for c in range(channels):
        sf.write(folder / f"fir{c + 1}.wav", h[c].astype(np.float32), FS, subtype="FLOAT")
    names = ("L", "R") if channels == 2 else tuple(f"S{c + 1}" for c in range(channels))
    prof = CalibrationProfile(name="bench-live", speakers=tuple(
        SpeakerCorrection(names[c], c, fir={FS: h[c]}) for c in range(channels)), design_fs=FS)
    prof.save(folder / "profile")
    return folder / "profile"


def make_room(folder: Path, channels: int) -> Path:
    """A short synthetic room (50 ms decaying noise per speaker) for a rig of ``channels``
    speakers: the room's convolver costs the same in every phase, so it stays small."""
    rng = np.random.default_rng(5)
    n = FS // 20
    ir = rng.standard_normal((n, channels)) * np.exp(-np.arange(n) / (n / 6))[:, None] * 0.05
    ir[0] = 0.3
    path = folder / f"room{channels}.wav"
    sf.write(path, ir.astype(np.float32), FS, subtype="FLOAT")
    return path


def set_block(block: int) -> None:
    """Use another period than 256 for the rig, jconvolver and monitor run."""
    global BLOCK
    BLOCK = int(block)


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (s), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def xruns_logged(server: str) -> int:
    from hardware.jackrig import rig_status

    st = rig_status(server)
    return int(st.xruns_logged or 0)


def steal_s() -> float:
    """CPU seconds the hypervisor took from this VM so far (all CPUs; ``/proc/stat`` steal, 0
    elsewhere).  On the shared VM the server's xruns follow it: overloads landed only in 5-s
    windows with >= 100 ms of steal (engine4's note), so a phase is judged next to its steal."""
    try:
        with open("/proc/stat") as f:
            return int(f.readline().split()[8]) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def phase_idle(server: str, seconds: float) -> dict:
    a = xruns_logged(server)
    time.sleep(seconds)
    return {"server_xruns": xruns_logged(server) - a, "cpu_s": 0.0}


def phase_jconvolver(server: str, seconds: float, folder: Path, taps: int, channels: int = 2) -> dict:
    import jack

    from hardware.jackrig import ROOM_CLIENT

    size = 1 << int(np.ceil(np.log2(taps)))
    conf = folder / "monitor.conf"
    C = int(channels)
    conf.write_text("\n".join([
        f"/jack/client {PEER_CLIENT}", f"/jack/server {server}",
        f"/convolver/new {C} {C} {BLOCK} {size} 1.0",
        *[f"/input/name {c + 1} in{c + 1}" for c in range(C)],
        *[f"/output/name {c + 1} out{c + 1}" for c in range(C)],
        *[f"/impulse/read {c + 1} {c + 1} 1.0 0 0 0 1 {folder / f'fir{c + 1}.wav'}" for c in range(C)]]) + "\n")
    log = open(folder / "jconvolver.log", "wb")
    p = subprocess.Popen([shutil.which("jconvolver") or "jconvolver", "-s", server, str(conf)],
                         stdout=log, stderr=subprocess.STDOUT, cwd=folder)
    client = jack.Client("roomtruth-bench-wiring", servername=server, no_start_server=True)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if p.poll() is not None:
                raise SystemExit(f"jconvolver exited: {(folder / 'jconvolver.log').read_text()[-300:]}")
            if len(client.get_ports(f"{PEER_CLIENT}:")) >= 2 * C:
                break
            time.sleep(0.1)
        # wired as monitor run is: programme inputs in (the interface's captures), the room's
        # speakers out
        for c in range(C):
            client.connect(f"system:capture_{c + 1}", f"{PEER_CLIENT}:in{c + 1}")
            client.connect(f"{PEER_CLIENT}:out{c + 1}", f"{ROOM_CLIENT}:spk{c + 1}")
        time.sleep(2.0)                       # jconvolver loads and settles
        a = xruns_logged(server)
        c0 = cpu_seconds(p.pid)
        time.sleep(seconds)
        res = {"server_xruns": xruns_logged(server) - a, "cpu_s": cpu_seconds(p.pid) - c0}
        res["cpu_s_per_audio_s"] = res["cpu_s"] / seconds
    finally:
        client.close()
        p.terminate()
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            p.kill()
        log.close()
    return res


def phase_roomtruth(server: str, seconds: float, profile: Path, rt_control: bool = True) -> dict:
    """``monitor run`` on the rig; ``rt_control=False`` (phase ``roomtruth-plain``) leaves the audio
    process's control thread an ordinary thread (``ROOMTRUTH_RT_CONTROL=0``), for comparison."""
    exe = ROOT / ".venv" / "bin" / "roomtruth"
    cmd = [str(exe) if exe.exists() else "roomtruth", "monitor", "run", str(profile), "--input", "rig",
           "--output", "rig", "--block", str(BLOCK), "--duration", str(seconds), "--json"]
    a = xruns_logged(server)
    r0 = os.times()
    env = {**os.environ, "ROOMTRUTH_RT_CONTROL": "1" if rt_control else "0"}
    out = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL, env=env)
    r1 = os.times()
    if out.returncode != 0:
        raise SystemExit(f"monitor run failed ({out.returncode}): {out.stderr.strip()[-400:]}")
    d = json.loads(out.stdout)
    # the engine's events as monitor run logged them (stderr): when the overloads happened
    ev = re.findall(r"(overload|xrun) at callback (\d+)(?: \(load (\d+) %\))?", out.stderr)
    return {"overload_events": [[int(cb), int(ld)] for k, cb, ld in ev if k == "overload"],
            "xrun_events": [int(cb) for k, cb, _ in ev if k == "xrun"],
            "server_xruns": xruns_logged(server) - a,
            "cpu_s": (r1.children_user + r1.children_system) - (r0.children_user + r0.children_system),
            "callbacks": d["callbacks"], "host_xruns": d["xruns"], "xruns_processing": d["xruns_processing"],
            "xruns_host": d["xruns_host"], "overloads": d["overloads"], "cpu_overloads": d["cpu_overloads"],
            # the audio process's CPU while streaming (start-up excluded; the phase's own
            # cpu_s includes building the engine), per second of audio
            "cpu_s_streaming": d.get("process_cpu_s_streaming"),
            "cpu_s_per_audio_s": (d["process_cpu_s_streaming"] / (d["callbacks"] * BLOCK / FS)
                                  if d.get("process_cpu_s_streaming") is not None and d["callbacks"] else None),
            "dsp_load_mean": d["dsp_load"], "dsp_load_max": d["dsp_load_max"], "cpu_load_max": d["cpu_load_max"],
            "fir_workers": d.get("fir_workers"), "fir_workers_realtime": d.get("fir_workers_realtime"),
            "fir_late_waits": d.get("fir_late_waits"), "errors": d["errors"]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=600.0)
    ap.add_argument("--taps", type=int, default=TAPS)
    ap.add_argument("--phases", default="idle,jconvolver,roomtruth")
    ap.add_argument("--block", type=int, default=BLOCK, help="JACK period = partition (samples)")
    ap.add_argument("--channels", type=int, default=2, help="speakers: FIRs in the profile, jconvolver's channels")
    ap.add_argument("--server", default="roomtruth-bench", help="JACK server name of the rig used")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    set_block(args.block)
    if not 1 <= args.channels <= 20:
        raise SystemExit(f"--channels {args.channels} is outside 1..20 (the rig's interface has 22 ports)")
    os.environ["ROOMTRUTH_RIG_SERVER"] = args.server      # monitor run (a child) uses the same rig
    from hardware.jackrig import rig_status, start_rig, stop_rig

    for tool in ("jackd", "jconvolver"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is not installed (bash scripts/run.sh setup installs it)")
    server = args.server
    started = False
    res: dict = {"seconds": args.seconds, "taps": args.taps, "block": BLOCK, "fs": FS, "channels": args.channels,
                 "load_average_before": os.getloadavg()[0], "phases": {}}
    try:
        with tempfile.TemporaryDirectory(prefix="roomtruth-bench-live-") as tmp:
            folder = Path(tmp)
            st = rig_status(server)
            if not st.running:
                start_rig(make_room(folder, args.channels), fs=FS, period=BLOCK, server=server)
                started = True
            elif st.state is not None and (st.state.n_speakers < args.channels or st.state.period != BLOCK):
                raise SystemExit(f"the rig '{server}' runs {st.state.n_speakers} speakers at period "
                                 f"{st.state.period}; stop it (roomtruth rig stop) or use --server")
            res["rig_realtime"] = rig_status(server).state.realtime if rig_status(server).state else None
            profile = make_filters(folder, args.taps, args.channels)
            for ph in [p.strip() for p in args.phases.split(",") if p.strip()]:
                st0 = steal_s()
                if ph == "idle":
                    r = phase_idle(server, args.seconds)
                elif ph == "jconvolver":
                    r = phase_jconvolver(server, args.seconds, folder, args.taps, args.channels)
                elif ph in ("roomtruth", "roomtruth-plain"):
                    r = phase_roomtruth(server, args.seconds, profile, rt_control=ph == "roomtruth")
                else:
                    raise SystemExit(f"unknown phase {ph!r}")
                r["server_xruns_per_min"] = 60.0 * r["server_xruns"] / args.seconds
                r["steal_s"] = round(steal_s() - st0, 2)   # the VM host's share: compare phases by it
                res["phases"][ph] = r
                print(f"  {ph}: {r}", file=sys.stderr, flush=True)
    finally:
        if started:
            stop_rig(server)
    res["load_average_after"] = os.getloadavg()[0]
    if args.json:
        print(json.dumps(res, indent=2))
        return 0
    print(f"monitor live on the JACK rig: {args.taps} taps x {args.channels} channels, {BLOCK}-sample period, "
          f"{args.seconds:.0f} s per phase")
    print(f"{'phase':<16} {'server xruns':>12} {'per min':>8} {'CPU s':>7} {'steal s':>8}")
    for ph, r in res["phases"].items():
        print(f"{ph:<16} {r['server_xruns']:>12d} {r['server_xruns_per_min']:>8.1f} {r['cpu_s']:>7.1f} "
              f"{r['steal_s']:>8.2f}")
    rt = res["phases"].get("roomtruth")
    if rt:
        print(f"roomtruth engine: {rt['callbacks']} callbacks, host xruns {rt['host_xruns']} "
              f"(after an own overload: {rt['xruns_processing']}), overloads {rt['overloads']}, "
              f"DSP load mean {100 * rt['dsp_load_mean']:.1f} %, worst {100 * rt['dsp_load_max']:.0f} %, "
              f"FIR workers {rt['fir_workers']} (real-time {rt['fir_workers_realtime']}), "
              f"late waits {rt['fir_late_waits']}, errors {rt['errors']}")
        zc = res["phases"].get("jconvolver")
        if zc and zc["cpu_s"] > 0:
            print(f"CPU ratio roomtruth / jconvolver: {rt['cpu_s'] / zc['cpu_s']:.2f} (roomtruth's start-up "
                  f"included); per second of audio while streaming: "
                  f"{(rt['cpu_s_per_audio_s'] or 0) / zc['cpu_s_per_audio_s']:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
