"""Benchmark: what the programme watch costs beside the monitor engine (issue 13: "the watch adds
at most 5 % of one core to monitor run for a stereo room, and never runs in the audio callback").

The same stereo programme (a synthetic song) is
1. run through the monitor engine block by block as ``monitor run`` does (real-time path: block
   256, FIR worker off, 2 x 65,536-tap FIRs of a profile, or the PEQ-only test profile with
   ``--peq``), and
2. fed to the watch (:class:`monitor.watch.Watch`) in half-second chunks as the live worker does
   (feeds = the engine's output, mic = the feeds through a known room plus noise),
and each one's thread CPU time is divided by the programme's duration: the share of one core.
The audio-callback tap (two slice copies per block) is timed too.  Printed: engine share,
watch share, tap share, and the watch's share over the engine's.

Usage::

    .venv/bin/python benchmarks/bench_watch.py [--seconds 120] [--fs 48000] [--peq] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=120.0)
    ap.add_argument("--fs", type=int, default=48_000)
    ap.add_argument("--block", type=int, default=256)
    ap.add_argument("--peq", action="store_true", help="PEQ-only profile instead of 2 x 65,536-tap FIRs")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()

    import watch_synth as W
    from calib.profile import SpeakerCorrection
    from mixes.songs import make_song
    from monitor.engine import Engine
    from monitor.watch import Watch
    from monitor.watch_live import WatchRing, WatchTap
    from monitor.watch_rehearsal import simulate_mic

    fs, B = a.fs, a.block
    room = W.stereo_room(fs=fs)
    prof = W.profile_for(room, fs=fs)
    if not a.peq:
        rng = np.random.default_rng(0)
        firs = []
        for i in range(2):
            h = rng.standard_normal(65_536) * np.exp(-np.arange(65_536) / 2000.0) * 0.01
            h[4096] = 1.0
            firs.append(h)
        from dataclasses import replace

        prof = replace(prof, speakers=tuple(SpeakerCorrection(s.name, s.output_channel, fir={fs: firs[i]})
                                            for i, s in enumerate(prof.speakers)))
    song_s = min(a.seconds, 60.0)
    x = make_song(3, duration_s=song_s, fs=fs).mix()
    reps = int(np.ceil(a.seconds / song_s))
    prog = np.concatenate([x] * reps, axis=1)[:, : int(a.seconds * fs)].astype(np.float32)
    n = prog.shape[1] // B * B

    # 1. the engine, block by block
    eng = Engine(fs=fs, n_channels=2, block=B)
    eng.load(prof, "A")
    out = np.zeros((2, n), np.float32)
    yb = np.zeros((2, B), np.float32)
    c0 = time.thread_time()
    for s in range(0, n, B):
        eng.process(prog[:, s:s + B], yb)
        out[:, s:s + B] = yb
    engine_cpu = time.thread_time() - c0
    eng.close()

    # 2. the callback tap alone (what the audio thread pays for the watch)
    ring = WatchRing.create(3, 20 * fs)
    tap = WatchTap(lambda i, o, f, st: None, ring, mic_input=0, outputs=(0, 1))
    ind = np.zeros((B, 2), np.float32)
    outd = np.zeros((B, 2), np.float32)
    c0 = time.thread_time()
    for _ in range(n // B):
        tap.callback(ind, outd, B, 0)
    tap_cpu = time.thread_time() - c0
    ring.close()

    # 3. the watch, half-second chunks
    feeds = out.astype(np.float64)
    mic = simulate_mic(feeds, room, fs=fs, noise_dbfs=-60.0)
    w = Watch(prof.reference, fs=fs, speakers=("L", "R"), latency_samples=None, gain_offset_db=None)
    step = fs // 2
    c0 = time.thread_time()
    for s in range(0, n, step):
        w.push(feeds[:, s:s + step], mic[s:s + step])
    watch_cpu = time.thread_time() - c0

    dur = n / fs
    res = {"fs": fs, "block": B, "seconds": dur, "profile": "PEQ" if a.peq else "2 x 65536-tap FIR",
           "engine_core_share": engine_cpu / dur, "watch_core_share": watch_cpu / dur,
           "tap_core_share": tap_cpu / dur, "watch_over_engine": watch_cpu / max(engine_cpu, 1e-12),
           "watch_evaluations": w.n_evals, "watch_verdict": w.verdict()}
    if a.json:
        print(json.dumps(res, indent=2))
        return
    print(f"{dur:.0f} s of stereo programme at {fs} Hz, block {B}, {res['profile']}:")
    print(f"  engine (real-time path)     {100 * res['engine_core_share']:6.2f} % of one core")
    print(f"  watch (worker, parent)      {100 * res['watch_core_share']:6.2f} % of one core   (goal <= 5 %)")
    print(f"  watch tap (audio callback)  {100 * res['tap_core_share']:6.2f} % of one core")
    print(f"  watch / engine              {res['watch_over_engine']:6.2f} x   ({w.n_evals} judgements, verdict {w.verdict()})")


if __name__ == "__main__":
    main()
