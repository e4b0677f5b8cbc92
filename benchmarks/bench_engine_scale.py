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

Usage::

    .venv/bin/python benchmarks/bench_engine_scale.py [--channels 1,2,8,16,24] [--blocks 128]
        [--taps 65536] [--seconds 60] [--before] [--paced] [--json OUT.json]
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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--channels", default="1,2,8,16,24")
    ap.add_argument("--blocks", default="128")
    ap.add_argument("--taps", type=int, default=65536)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--before", action="store_true", help="also run the numpy reference engine")
    ap.add_argument("--paced", action="store_true", help="periods spaced in real time")
    ap.add_argument("--json", dest="json_out", default=None, help="write all results to this file")
    a = ap.parse_args()
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
