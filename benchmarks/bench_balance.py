"""Benchmark: the balance and dynamics measures of ``mix analyze`` against its loudness meter.

Both are timed on the same 10-minute stereo 48 kHz programme (a synthetic song from
``mixes.songs``, 60 s tiled ten times, float32 as ``read_mix`` gives it), interleaved,
``--repeats`` times; medians of wall and CPU time are printed, and the ratio to the BS.1770
loudness meter (``mixes.loudness.loudness``), which every ``mix analyze`` already runs.

    .venv/bin/python benchmarks/bench_balance.py [--minutes 10] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mixes.balance import measure_balance  # noqa: E402
from mixes.dynamics import measure_dynamics  # noqa: E402
from mixes.loudness import loudness  # noqa: E402
from mixes.songs import make_song  # noqa: E402


def _timed(fn):
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w, time.process_time() - c


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    fs = 48_000
    song = make_song(3, duration_s=60.0, fs=fs)
    reps = int(np.ceil(a.minutes))
    x = np.tile(song.mix(), (1, reps))[:, : int(a.minutes * 60 * fs)].astype(np.float32)
    times: dict[str, list[tuple[float, float]]] = {"loudness": [], "balance": [], "dynamics": []}
    for _ in range(a.repeats):
        lr, w, c = _timed(lambda: loudness(x, fs=fs))
        times["loudness"].append((w, c))
        b, w, c = _timed(lambda: measure_balance(x, fs=fs, integrated_lufs=lr.integrated_lufs))
        times["balance"].append((w, c))
        d, w, c = _timed(lambda: measure_dynamics(x, fs=fs, integrated_lufs=lr.integrated_lufs,
                                                  true_peak_dbtp=-1.0, short_term_lufs=lr.short_term_lufs))
        times["dynamics"].append((w, c))
    ref_w = statistics.median(t[0] for t in times["loudness"])
    ref_c = statistics.median(t[1] for t in times["loudness"])
    print(f"{a.minutes:g}-minute stereo 48 kHz programme, {a.repeats} repeats (medians)")
    for name, ts in times.items():
        w = statistics.median(t[0] for t in ts)
        c = statistics.median(t[1] for t in ts)
        print(f"  {name:9s} wall {w:6.3f} s  cpu {c:6.3f} s   = {w / ref_w:4.2f}x / {c / ref_c:4.2f}x the loudness meter")
    both_w = statistics.median(t[0] for t in times["balance"]) + statistics.median(t[0] for t in times["dynamics"])
    both_c = statistics.median(t[1] for t in times["balance"]) + statistics.median(t[1] for t in times["dynamics"])
    print(f"  balance + dynamics: wall {both_w:.3f} s, cpu {both_c:.3f} s "
          f"(vocal found: {b.vocal_found}, {len(d.sections)} sections)")


if __name__ == "__main__":
    main()
