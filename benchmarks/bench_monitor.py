"""Benchmark: ``roomtruth monitor render`` against zita-convolver's ``fconvolver -T``.

Issue 5, Done means: the processing time of ``roomtruth monitor render`` -- its wall time on
5 minutes of audio minus its wall time on 1 second, so interpreter start-up and filter
loading cancel -- is at most 1.5x the same figure for ``fconvolver -T`` (min partition 256)
on the same files: 2 channels x 65,536 taps, 48 kHz, 256-sample latency.  The output must
null against exact convolution to <= -100 dB.

Both tools run in the same process tree, alternately, ``--repeats`` times each; medians are
reported with the ratio.  Usage::

    .venv/bin/python benchmarks/bench_monitor.py [--minutes 5] [--repeats 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import scipy.signal as ss
import soundfile as sf

ROOT = Path(__file__).resolve().parent.parent
FS = 48_000
TAPS = 65_536
BLOCK = 256


def make_files(folder: Path, minutes: float) -> dict[str, Path]:
    rng = np.random.default_rng(5)
    n = int(minutes * 60 * FS)
    # programme-like level: -30 dBFS rms noise; the FIR's gain keeps the output far below the
    # -1 dBFS ceiling so the limiter stays transparent and the null compares convolutions only
    x = (rng.standard_normal((n, 2)) * 0.03).astype(np.float32)
    t = np.arange(TAPS)
    h = rng.standard_normal((TAPS, 2)) * np.exp(-t / 6000.0)[:, None] * 0.01
    h[0] = 0.5
    files = {"long": folder / "in_long.wav", "short": folder / "in_1s.wav", "fir": folder / "fir.wav"}
    sf.write(files["long"], x, FS, subtype="FLOAT")
    sf.write(files["short"], x[:FS], FS, subtype="FLOAT")
    sf.write(files["fir"], h.astype(np.float32), FS, subtype="FLOAT")
    conf = folder / "fconv.conf"
    conf.write_text(
        f"/convolver/new 2 2 {BLOCK} {TAPS} 1.0\n"
        f"/impulse/read 1 1 1.0 0 0 0 1 {files['fir']}\n"
        f"/impulse/read 2 2 1.0 0 0 0 2 {files['fir']}\n")
    files["conf"] = conf
    return files


CPU: dict[str, list[float]] = {}


def timed(cmd: list[str], key: str) -> float:
    """Wall time of one run; its CPU time (user + sys, all threads) goes to CPU[key]."""
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True)
    dt = time.perf_counter() - t
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU.setdefault(key, []).append((r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime))
    if r.returncode != 0:
        raise SystemExit(f"{cmd[0]} failed ({r.returncode}): {r.stderr.strip()[:400]}")
    return dt


def null_db(y: np.ndarray, ref: np.ndarray) -> float:
    err = float(np.sqrt(np.mean((y - ref) ** 2)))
    return 20 * np.log10(max(err, 1e-300) / float(np.sqrt(np.mean(ref ** 2))))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=5.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    fconv = shutil.which("fconvolver")
    if fconv is None:
        raise SystemExit("fconvolver is not installed (apt-get install jconvolver)")
    rt = str(ROOT / ".venv" / "bin" / "roomtruth")
    with tempfile.TemporaryDirectory(prefix="bench-monitor-") as td:
        d = Path(td)
        f = make_files(d, a.minutes)
        times: dict[str, list[float]] = {k: [] for k in ("rt_long", "rt_short", "fc_long", "fc_short")}
        for _ in range(a.repeats):
            times["fc_long"].append(timed([fconv, "-T", str(f["conf"]), str(f["long"]), str(d / "fc_long.wav")], "fc_long"))
            times["rt_long"].append(timed([rt, "monitor", "render", "--fir", str(f["fir"]), str(f["long"]),
                                           str(d / "rt_long.wav"), "--block", str(BLOCK)], "rt_long"))
            times["fc_short"].append(timed([fconv, "-T", str(f["conf"]), str(f["short"]), str(d / "fc_1s.wav")], "fc_short"))
            times["rt_short"].append(timed([rt, "monitor", "render", "--fir", str(f["fir"]), str(f["short"]),
                                            str(d / "rt_1s.wav"), "--block", str(BLOCK)], "rt_short"))
        med = {k: statistics.median(v) for k, v in times.items()}
        cpu = {k: statistics.median(v) for k, v in CPU.items()}
        rt_cpu = cpu["rt_long"] - cpu["rt_short"]
        fc_cpu = cpu["fc_long"] - cpu["fc_short"]
        rt_proc = med["rt_long"] - med["rt_short"]
        fc_proc = med["fc_long"] - med["fc_short"]
        # accuracy against exact (float64) convolution
        x, _ = sf.read(f["long"], dtype="float64")
        h, _ = sf.read(f["fir"], dtype="float64")
        y_rt, _ = sf.read(d / "rt_long.wav", dtype="float64")
        y_fc, _ = sf.read(d / "fc_long.wav", dtype="float64")
        nulls_rt, nulls_fc = [], []
        for c in range(2):
            ref = ss.oaconvolve(x[:, c], h[:, c])[: x.shape[0]]
            nulls_rt.append(null_db(y_rt[:, c], ref))
            nulls_fc.append(null_db(y_fc[:, c], ref))
    audio_s = a.minutes * 60
    res = {
        "audio_s": audio_s, "taps": TAPS, "block": BLOCK, "channels": 2, "repeats": a.repeats,
        "roomtruth_wall_long_s": med["rt_long"], "roomtruth_wall_1s_s": med["rt_short"],
        "fconvolver_wall_long_s": med["fc_long"], "fconvolver_wall_1s_s": med["fc_short"],
        "roomtruth_processing_s": rt_proc, "fconvolver_processing_s": fc_proc,
        "ratio_roomtruth_over_fconvolver": rt_proc / fc_proc,
        "roomtruth_x_realtime": audio_s / rt_proc, "fconvolver_x_realtime": audio_s / fc_proc,
        "roomtruth_null_db": max(nulls_rt), "fconvolver_null_db": max(nulls_fc),
        "roomtruth_processing_cpu_s": rt_cpu, "fconvolver_processing_cpu_s": fc_cpu,
        "cpu_ratio_roomtruth_over_fconvolver": rt_cpu / fc_cpu,
        "load_average_1min": os.getloadavg()[0],
        "goal_ratio": 1.5, "goal_null_db": -100.0,
        "raw_times_s": times,
    }
    if a.json:
        print(json.dumps(res, indent=2))
        return
    print(f"{a.minutes:g} min stereo 48 kHz, {TAPS}-tap stereo FIR, min partition {BLOCK} "
          f"(medians of {a.repeats}, alternating runs)")
    print(f"  fconvolver -T : wall {med['fc_long']:.3f} s (1 s file {med['fc_short']:.3f} s) -> processing "
          f"{fc_proc:.3f} s = {audio_s / fc_proc:.0f}x real time, null {max(nulls_fc):.1f} dB")
    print(f"  roomtruth     : wall {med['rt_long']:.3f} s (1 s file {med['rt_short']:.3f} s) -> processing "
          f"{rt_proc:.3f} s = {audio_s / rt_proc:.0f}x real time, null {max(nulls_rt):.1f} dB")
    print(f"  CPU time (user+sys, all threads) of the processing: roomtruth {rt_cpu:.3f} s, "
          f"fconvolver {fc_cpu:.3f} s, ratio {rt_cpu / fc_cpu:.2f}; load average {os.getloadavg()[0]:.1f} on "
          f"{os.cpu_count()} cores")
    print(f"  ratio roomtruth / fconvolver = {rt_proc / fc_proc:.2f} (goal <= 1.5); "
          f"null goal <= -100 dB: {'met' if max(nulls_rt) <= -100 else 'NOT met'}")


if __name__ == "__main__":
    sys.exit(main())
