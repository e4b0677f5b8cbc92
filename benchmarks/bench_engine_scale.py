"""Benchmark: the monitor engine from 1 to 24 channels, against zita-convolver's ``fconvolver -T``.

Issue 15, Done means: ``roomtruth monitor bench --channels 16 --taps 65536 --block 128
--seconds 60 --json`` reports zero overloads, load p99 <= 50 % and CPU per audio second <= 2x
``fconvolver -T`` on the same job; 2 channels: zero overloads and CPU <= 3x fconvolver.

For every job of the matrix this runs ``roomtruth monitor bench ... --peer --json`` in a fresh
process (what ``monitor run`` runs: callback + any worker threads, whole-process CPU; the peer
in the same run), once with the compiled engine and, with ``--before``, once with the numpy
reference engine (``ROOMTRUTH_ENGINE=numpy``: the engine ``monitor run`` used before issue 15,
FIR worker threads included), and prints the figures side by side with the machine's load
average (the ratios are only comparable within one run on a shared machine).

``--conv-only``: the convolver alone (:class:`monitor.fastconv.ScheduledConvolver`, one
compiled call per 64 periods, thread CPU per period), with and without the paired passes over
the filter spectra, rounds interleaved in one process (the machine is shared: compare within a
round).  ``--nulls``: output against exact float64 convolution (``scipy.signal.oaconvolve``)
for every channel count and block, in dB.

Usage::

    .venv/bin/python benchmarks/bench_engine_scale.py [--channels 1,2,8,16,24] [--blocks 128]
        [--taps 65536] [--seconds 60] [--before] [--paced] [--json OUT.json]
    .venv/bin/python benchmarks/bench_engine_scale.py --conv-only [--rounds 12] ...
    .venv/bin/python benchmarks/bench_engine_scale.py --nulls --blocks 127,33 ...
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RT = str(ROOT / ".venv" / "bin" / "roomtruth")


def bench(channels: int, block: int, taps: int, seconds: float, *, numpy: bool, peer: bool, paced: bool) -> dict:
    env = dict(os.environ)
    if numpy:
        env["ROOMTRUTH_ENGINE"] = "numpy"
    cmd = [RT, "monitor", "bench", "--channels", str(channels), "--block", str(block), "--taps", str(taps),
           "--seconds", str(seconds), "--no-offline", "--json"] + (["--peer"] if peer else []) + \
          (["--paced"] if paced else [])
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if p.returncode != 0:
        raise SystemExit(f"monitor bench failed: {p.stderr.strip()[:400]}")
    return json.loads(p.stdout)


def conv_only(channels: list[int], block: int, taps: int, rounds: int) -> list[dict]:
    """Thread CPU per period of the convolver alone, paired passes on (default) and off."""
    import numpy as np

    sys.path.insert(0, str(ROOT))
    from monitor.fastconv import ScheduledConvolver

    rows = []
    for C in channels:
        rng = np.random.default_rng(C)
        h = rng.standard_normal((C, taps)) * np.exp(-np.arange(taps) / (taps / 8))
        x = (rng.standard_normal((C, block * 64)) * 0.1).astype(np.float32)
        y = np.zeros_like(x)
        cvs = {"paired": ScheduledConvolver(h, block=block, max_block=block * 64),
               "single": ScheduledConvolver(h, block=block, max_block=block * 64, _pair_min=10 ** 9)}
        us = {k: [] for k in cvs}
        for _ in range(rounds):
            for k, cv in cvs.items():
                cv.process(x, y)
                t0 = time.thread_time()
                for _ in range(3):
                    cv.process(x, y)
                us[k].append((time.thread_time() - t0) / (3 * 64) * 1e6)
        rel = np.array(us["paired"]) / np.array(us["single"])
        row = {"channels": C, "block": block, "taps": taps, "levels": [(lv.size, lv.n_parts) for lv in cvs["paired"].levels],
               "us_per_period_paired": us["paired"], "us_per_period_single": us["single"],
               "paired_over_single_median": float(np.median(rel)), "load_average_1min": os.getloadavg()[0]}
        print(f"{C:>3} ch {block:>4}: paired {np.median(us['paired']):7.1f} us/period "
              f"({min(us['paired']):.1f}-{max(us['paired']):.1f}), single {np.median(us['single']):7.1f} "
              f"({min(us['single']):.1f}-{max(us['single']):.1f}); paired/single median {row['paired_over_single_median']:.3f}",
              flush=True)
        for cv in cvs.values():
            cv.close()
        rows.append(row)
    return rows


def nulls(channels: list[int], blocks: list[int], taps: int) -> list[dict]:
    """Null (dB) of the streamed compiled convolution against exact float64 convolution."""
    import numpy as np
    import scipy.signal as ss

    sys.path.insert(0, str(ROOT))
    from monitor.fastconv import ScheduledConvolver

    rows = []
    for block in blocks:
        for C in channels:
            rng = np.random.default_rng(C * 100 + block)
            h = rng.standard_normal((C, taps)) * np.exp(-np.arange(taps) / (taps / 6)) * 0.05
            h[:, 0] += 0.8
            n = block * (taps // block + 50)
            x = rng.standard_normal((C, n)).astype(np.float32)
            cv = ScheduledConvolver(h, block=block)
            y = np.zeros_like(x)
            for s0 in range(0, n, block):
                cv.process(x[:, s0:s0 + block], y[:, s0:s0 + block])
            worst = -np.inf
            for c in range(C):
                ref = ss.oaconvolve(x[c].astype(np.float64), h[c])[:n]
                err = np.sqrt(np.mean((y[c].astype(np.float64) - ref) ** 2)) / np.sqrt(np.mean(ref ** 2))
                worst = max(worst, 20 * np.log10(max(err, 1e-300)))
            cv.close()
            rows.append({"channels": C, "block": block, "taps": taps, "worst_channel_null_db": float(worst)})
            print(f"{C:>3} ch, block {block:>5}, {taps} taps: worst channel null {worst:7.1f} dB", flush=True)
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--channels", default="1,2,8,16,24")
    ap.add_argument("--blocks", default="128")
    ap.add_argument("--taps", type=int, default=65536)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--before", action="store_true", help="also run the numpy reference engine")
    ap.add_argument("--paced", action="store_true", help="periods spaced in real time")
    ap.add_argument("--json", dest="json_out", default=None, help="write all results to this file")
    ap.add_argument("--conv-only", action="store_true", help="the convolver alone, paired passes on/off")
    ap.add_argument("--rounds", type=int, default=12, help="--conv-only: interleaved rounds")
    ap.add_argument("--nulls", action="store_true", help="nulls against exact convolution")
    a = ap.parse_args()
    chans = [int(c) for c in a.channels.split(",")]
    blocks = [int(b) for b in a.blocks.split(",")]
    if a.conv_only or a.nulls:
        print(f"load average {os.getloadavg()[0]:.1f} at start, {os.cpu_count()} cores")
        rows = conv_only(chans, blocks[0], a.taps, a.rounds) if a.conv_only else nulls(chans, blocks, a.taps)
        if a.json_out:
            Path(a.json_out).write_text(json.dumps({"when": time.strftime("%Y-%m-%d %H:%M:%S"), "rows": rows}, indent=1))
        return 0
    rows = []
    print(f"monitor engine scale: {a.taps} taps, {a.seconds:g} s per job, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f} at start{' (paced)' if a.paced else ''}")
    print(f"{'ch':>3} {'blk':>4} {'engine':>8} {'CPU s/s':>8} {'fconv':>8} {'ratio':>6} {'load mean/p99/max %':>22} "
          f"{'own CPU p99 %':>13} {'overl':>5} {'loadavg':>7}")
    for block in (int(b) for b in a.blocks.split(",")):
        for ch in (int(c) for c in a.channels.split(",")):
            for numpy in ((False, True) if a.before else (False,)):
                t0 = time.time()
                r = bench(ch, block, a.taps, a.seconds, numpy=numpy, peer=True, paced=a.paced)
                r["wall_s"] = time.time() - t0
                rows.append(r)
                ratio = r.get("cpu_ratio_vs_fconvolver")
                print(f"{ch:>3} {block:>4} {'numpy' if numpy else 'compiled':>8} {r['cpu_s_per_audio_s']:>8.4f} "
                      f"{r.get('peer_cpu_s_per_audio_s', float('nan')):>8.4f} "
                      f"{(ratio if ratio is not None else float('nan')):>6.2f} "
                      f"{100 * r['dsp_load_mean']:>6.1f}/{100 * r['dsp_load_p99']:>6.1f}/{100 * r['dsp_load_max']:>7.1f} "
                      f"{100 * r['cpu_load_p99']:>13.1f} {r['overloads']:>5} {r['load_average_1min']:>7.1f}",
                      flush=True)
    if a.json_out:
        Path(a.json_out).write_text(json.dumps({"when": time.strftime("%Y-%m-%d %H:%M:%S"), "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
