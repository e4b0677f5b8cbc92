"""Benchmark: the compiled convolver of one tree against another's, thread CPU per period (issue 15, engine5).

Runs ``ScheduledConvolver`` (the planner's default scheme, one period per call as the callback
runs it) for ``--channels`` x ``--taps`` at ``--block`` in a fresh process per tree, trees
alternated for ``--rounds`` rounds (the machine is shared: compare within a round), and prints
the minimum and median over 5 repetitions of ``--periods`` periods per run, then the ratio of
the per-tree minima.  The "before" tree is usually a ``git archive`` of an older commit::

    mkdir -p /tmp/before && git archive ca25bd9 monitor calib | tar -x -C /tmp/before
    .venv/bin/python benchmarks/bench_engine5_ab.py --trees /tmp/before,. --channels 2,16

The figures include the Python call of ``process`` (~1-1.5 us), which the engine's one-call
period does not pay.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = str(ROOT / ".venv" / "bin" / "python")

CHILD = r"""
import sys, time, json, numpy as np
sys.path.insert(0, sys.argv[1])
from monitor.fastconv import ScheduledConvolver
C, B, N, n = (int(a) for a in sys.argv[2:6])
rng = np.random.default_rng(C)
h = rng.standard_normal((C, N)) * np.exp(-np.arange(N) / (N / 8))
cv = ScheduledConvolver(h, block=B)
x = (rng.standard_normal((C, B)) * 0.1).astype(np.float32)
y = np.zeros_like(x)
us = []
for _ in range(5):
    for _ in range(50):
        cv.process(x, y)
    t0 = time.thread_time_ns()
    for _ in range(n):
        cv.process(x, y)
    us.append((time.thread_time_ns() - t0) / n / 1e3)
print(json.dumps({"us": us, "levels": [(lv.size, lv.n_parts) for lv in cv.levels]}))
"""


def run(tree: str, C: int, block: int, taps: int, periods: int) -> dict:
    p = subprocess.run([PY, "-c", CHILD, tree, str(C), str(block), str(taps), str(periods)],
                       capture_output=True, text=True, cwd=tree)
    if p.returncode:
        raise SystemExit(f"{tree}: {p.stderr.strip()[-400:]}")
    return json.loads(p.stdout)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--trees", required=True, help="comma-separated source trees, the first is the reference")
    ap.add_argument("--channels", default="2,16")
    ap.add_argument("--block", type=int, default=128)
    ap.add_argument("--taps", type=int, default=65536)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--periods", type=int, default=0, help="periods per repetition (default 3000 / 600 at > 4 ch)")
    ap.add_argument("--json", dest="json_out", default=None)
    a = ap.parse_args()
    trees = [str(Path(t).resolve()) for t in a.trees.split(",")]
    out = {"load_average_1min_start": os.getloadavg()[0], "rows": []}
    for C in (int(c) for c in a.channels.split(",")):
        n = a.periods or (3000 if C <= 4 else 600)
        res = {t: [] for t in trees}
        for _ in range(a.rounds):
            for t in trees:
                res[t].append(run(t, C, a.block, a.taps, n))
        ref = min(min(r["us"]) for r in res[trees[0]])
        for t in trees:
            mins = [min(r["us"]) for r in res[t]]
            row = {"tree": t, "channels": C, "block": a.block, "taps": a.taps, "levels": res[t][0]["levels"],
                   "us_min_per_run": mins, "us_min": min(mins), "ratio_of_minima": min(mins) / ref}
            out["rows"].append(row)
            print(f"{C:>3} ch  {t:<40} {'/'.join(f'{p}x{m}' for p, m in row['levels']):<28} "
                  f"min {row['us_min']:7.2f} us/period (runs {', '.join(f'{v:.2f}' for v in mins)})  "
                  f"ratio {row['ratio_of_minima']:.3f}", flush=True)
    out["load_average_1min_end"] = os.getloadavg()[0]
    if a.json_out:
        Path(a.json_out).write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
