"""Benchmark: partition schemes of the compiled convolver, measured (issue 15, engine5).

Every valid scheme of :class:`monitor.fastconv.ScheduledConvolver` for a job (levels of
``block * 2**e`` samples, each starting at its earliest tap) is listed with its modelled cost
(:func:`monitor.fastconv.plan_scheduled`'s model); the ``--top`` cheapest by the model plus the
scheme the planner picks are built and measured: thread CPU per period of the convolver alone,
one period per call (as the callback runs it), min over ``--reps`` interleaved repetitions of
``--periods`` periods (the machine is shared: the minimum is the least disturbed figure).

Usage::

    .venv/bin/python benchmarks/bench_engine5_schemes.py --channels 2 [--block 128]
        [--taps 65536] [--top 12] [--reps 5] [--periods 3000] [--json OUT.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from monitor.convolver import Level, _min_offset  # noqa: E402
from monitor import fastconv  # noqa: E402


def all_schemes(n_taps: int, block: int, max_partition: int = 16384) -> list[tuple[Level, ...]]:
    """Every scheme whose levels start at their earliest tap (the planner's search space)."""
    sizes = [block]
    while sizes[-1] * 2 <= max_partition and sizes[-1] < n_taps:
        sizes.append(sizes[-1] * 2)
    out = []

    def rec(idx, offset, levels):
        size = sizes[idx]
        out.append(levels + (Level(size, -(-(n_taps - offset) // size), offset),))
        for nxt in range(idx + 1, len(sizes)):
            need = _min_offset(sizes[nxt], block, 2 * block) - offset
            n_here = max(1, -(-need // size))
            end = offset + n_here * size
            if end >= n_taps:
                break
            rec(nxt, end, levels + (Level(size, n_here, offset),))

    rec(0, 0, ())
    return out


def model_cost(levels, block: int) -> float:
    """The planner's modelled cost per input sample of a scheme."""
    tot = 0.0
    for lv in levels:
        F = fastconv.fft_size(2 * lv.size)
        import math
        tot += (2 * fastconv._COST_FFT * F * math.log2(F) + fastconv._COST_MAC * lv.n_parts * (F // 2 + 1)) / lv.size
    return tot


def name(levels) -> str:
    return "/".join(f"{lv.size}x{lv.n_parts}" for lv in levels)


def measure(cvs: dict, C: int, block: int, periods: int, reps: int, per_call: int = 1) -> dict[str, list[float]]:
    """Thread CPU per period (us) of each convolver, ``per_call`` periods per call."""
    rng = np.random.default_rng(1)
    x = (rng.standard_normal((C, block * per_call)) * 0.1).astype(np.float32)
    y = np.zeros_like(x)
    periods = max(1, periods // per_call)
    us = {k: [] for k in cvs}
    keys = list(cvs)
    for rep in range(reps):
        order = keys if rep % 2 == 0 else keys[::-1]
        for k in order:
            cv = cvs[k]
            for _ in range(200):
                cv.process(x, y)
            t0 = time.thread_time_ns()
            for _ in range(periods):
                cv.process(x, y)
            us[k].append((time.thread_time_ns() - t0) / (periods * per_call) / 1e3)
    return us


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--channels", type=int, default=2)
    ap.add_argument("--block", type=int, default=128)
    ap.add_argument("--taps", type=int, default=65536)
    ap.add_argument("--top", type=int, default=12)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--periods", type=int, default=3000)
    ap.add_argument("--schemes", default="", help="extra schemes, e.g. 128x15/1024x6/4096x15;...")
    ap.add_argument("--per-call", type=int, default=1, help="periods per call (64: the kernel without the call)")
    ap.add_argument("--all", action="store_true", help="measure every scheme, in groups with the planner's as reference")
    ap.add_argument("--only-listed", action="store_true", help="measure only --schemes")
    ap.add_argument("--json", dest="json_out", default=None)
    a = ap.parse_args()
    C, B = a.channels, a.block
    cands = all_schemes(a.taps, B)
    cands.sort(key=lambda s: model_cost(s, B))
    chosen = {name(s): s for s in cands[:a.top]}
    picked = fastconv.plan_scheduled(a.taps, block=B) if not hasattr(fastconv, "plan_for") else None
    if picked is not None:
        chosen.setdefault(name(picked), picked)
    by_name = {name(s): s for s in cands}
    pair_min = {}
    for nm in filter(None, a.schemes.split(";")):
        base, _, pm = nm.partition("@p")      # "<scheme>@p<pair_min>": paired passes from that size
        chosen[nm] = by_name[base]
        if pm:
            pair_min[nm] = int(pm)
    if a.only_listed:
        chosen = {k: v for k, v in chosen.items() if k in pair_min or k in a.schemes.split(";")}
    rng = np.random.default_rng(C)
    h = rng.standard_normal((C, a.taps)) * np.exp(-np.arange(a.taps) / (a.taps / 8))
    print(f"load average {os.getloadavg()[0]:.2f}; {C} ch x {a.taps} taps @ {B}; {len(cands)} schemes, "
          f"measuring {len(chosen)}", flush=True)
    if a.all:
        ref = name(picked)
        names = [name(s) for s in cands if name(s) != ref]
        us = {}
        for g0 in range(0, len(names), 12):
            grp = [ref] + names[g0:g0 + 12]
            cvs = {nm: fastconv.ScheduledConvolver(h, block=B, levels=by_name[nm], max_block=B * a.per_call) for nm in grp}
            u = measure(cvs, C, B, a.periods, a.reps, a.per_call)
            for nm in grp:
                us.setdefault(nm, []).extend(u[nm])
                print(f"{nm:<40} model {model_cost(by_name[nm], B):7.2f} min {min(u[nm]):7.2f} rel {min(u[nm]) / min(u[ref]):6.3f}", flush=True)
                if nm != ref:
                    us[nm + "@rel"] = [min(u[nm]) / min(u[ref])]
            for cv in cvs.values():
                cv.close()
            del cvs
        if a.json_out:
            Path(a.json_out).write_text(json.dumps({"when": time.strftime("%Y-%m-%d %H:%M:%S"), "channels": C,
                                                    "block": B, "taps": a.taps, "per_call": a.per_call, "us": us}, indent=1))
        return 0
    cvs = {nm: fastconv.ScheduledConvolver(h, block=B, levels=lv, max_block=B * a.per_call,
                                           _pair_min=pair_min.get(nm)) for nm, lv in chosen.items()}
    us = measure(cvs, C, B, a.periods, a.reps, a.per_call)
    rows = []
    for nm in sorted(us, key=lambda k: min(us[k])):
        rows.append({"scheme": nm, "model": model_cost(chosen[nm], B), "us_min": min(us[nm]),
                     "us_median": float(np.median(us[nm])), "us_all": us[nm]})
        print(f"{nm:<40} model {model_cost(chosen[nm], B):8.2f}  min {min(us[nm]):7.2f} us  "
              f"median {np.median(us[nm]):7.2f} us{'   <- planner' if picked is not None and nm == name(picked) else ''}",
              flush=True)
    for cv in cvs.values():
        cv.close()
    if a.json_out:
        Path(a.json_out).write_text(json.dumps({"when": time.strftime("%Y-%m-%d %H:%M:%S"), "channels": C,
                                                "block": B, "taps": a.taps, "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
