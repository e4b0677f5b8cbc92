"""Benchmark: ``roomtruth monitor render`` of several git commits against ``fconvolver -T``.

Is a slower render a regression or load on a shared machine?  ``bench_monitor.py`` subtracts a
1-s run from a 5-min run, each in its own process, so start-up must cancel; on a loaded 2-core
machine it does not (the start-up is 1.5-3 s of CPU and swings by +-0.5 s), and the ratio swings
with it (1.24x and 1.85x in two runs of the same code).  Here each commit renders bench_monitor's
job (2 ch x 65,536 taps, 48 kHz, partition 256, 5 min of noise) several times **inside one
process** (``roomtruth.cli.main``, the whole command: file read, engine, limiter, file write);
the first render warms up, and the CPU time (user+sys, all threads) of each later render is
the processing cost without start-up.  fconvolver's start-up is ~0.01 s, so its long-minus-1-s
subtraction stands.  Commits are checked out in temporary git worktrees (removed afterwards)
and imported from there (``PYTHONPATH``, the same venv); the tools alternate round by round.
Usage::

    .venv/bin/python benchmarks/bench_render_commits.py 9007d75 HEAD [--minutes 5] [--rounds 3] [--json]

``WORK`` instead of a commit: this work tree as it is (uncommitted edits included).  A fresh
worktree compiles its numba kernels in its first render (up to minutes under load).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import scipy.signal as ss
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_monitor import BLOCK, CPU, TAPS, make_files, null_db, timed  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PY = str(ROOT / ".venv" / "bin" / "python")


def _worktree(rev: str, folder: Path) -> tuple[str, Path]:
    if rev == "WORK":
        return "WORK", ROOT
    sha = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", rev], capture_output=True,
                         text=True, check=True).stdout.strip()
    wt = folder / f"wt-{sha}"
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "-q", "--detach", str(wt), sha], check=True)
    return sha, wt


_RENDERS = """
import io, contextlib, json, resource, sys, time
from roomtruth.cli import main
fir, long_, short_, out, n = sys.argv[1:6]
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime
runs = []
for k in range(int(n) + 1):
    src = short_ if k == 0 else long_              # the first render (1 s of audio) warms up
    c0, w0 = cpu(), time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        rc = main(["monitor", "render", "--fir", fir, src, out, "--block", "256", "--json"])
    if rc != 0:
        sys.exit(rc)
    if k:
        runs.append([cpu() - c0, time.perf_counter() - w0])
print(json.dumps(runs))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("revs", nargs="+", help="commits to compare (WORK: this work tree as it is)")
    ap.add_argument("--minutes", type=float, default=5.0)
    ap.add_argument("--rounds", type=int, default=3, help="rounds; each renders twice per commit")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    fconv = shutil.which("fconvolver")
    if fconv is None:
        raise SystemExit("fconvolver is not installed (apt-get install jconvolver)")
    td = Path(tempfile.mkdtemp(prefix="bench-render-commits-"))
    trees: list[tuple[str, Path]] = []
    try:
        trees = [_worktree(r, td) for r in a.revs]
        f = make_files(td, a.minutes)
        cpu: dict[str, list[float]] = {"fconvolver": []}
        wall: dict[str, list[float]] = {"fconvolver": []}
        for _ in range(a.rounds):
            wl = timed([fconv, "-T", str(f["conf"]), str(f["long"]), str(td / "fconvolver_long.wav")], "fc_long")
            ws = timed([fconv, "-T", str(f["conf"]), str(f["short"]), str(td / "fconvolver_short.wav")], "fc_short")
            cpu["fconvolver"].append(CPU["fc_long"][-1] - CPU["fc_short"][-1])
            wall["fconvolver"].append(wl - ws)
            for name, tree in trees:
                r = subprocess.run(["env", f"PYTHONPATH={tree}", PY, "-c", _RENDERS, str(f["fir"]), str(f["long"]),
                                    str(f["short"]), str(td / f"{name}_long.wav"), "2"],
                                   capture_output=True, text=True)
                if r.returncode != 0:
                    raise SystemExit(f"render of {name} failed: {r.stderr.strip()[-400:]}")
                for c, w in json.loads(r.stdout.strip().splitlines()[-1]):
                    cpu.setdefault(name, []).append(c)
                    wall.setdefault(name, []).append(w)
        x, _ = sf.read(f["long"], dtype="float64")
        h, _ = sf.read(f["fir"], dtype="float64")
        refs = [ss.oaconvolve(x[:, c], h[:, c])[: x.shape[0]] for c in range(2)]
        res: dict = {"audio_s": a.minutes * 60, "taps": TAPS, "block": BLOCK, "rounds": a.rounds,
                     "load_average_1min_end": os.getloadavg()[0], "tools": {}}
        for name in cpu:
            y, _ = sf.read(td / f"{name}_long.wav", dtype="float64")
            res["tools"][name] = {"cpu_processing_s": statistics.median(cpu[name]),
                                  "wall_processing_s": statistics.median(wall[name]),
                                  "cpu_runs_s": cpu[name], "wall_runs_s": wall[name],
                                  "null_db": max(null_db(y[:, c], refs[c]) for c in range(2))}
        fc = res["tools"]["fconvolver"]
        for t in res["tools"].values():
            t["cpu_ratio_vs_fconvolver"] = t["cpu_processing_s"] / fc["cpu_processing_s"]
            t["wall_ratio_vs_fconvolver"] = t["wall_processing_s"] / fc["wall_processing_s"]
    finally:
        for name, tree in trees:
            if tree != ROOT:
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], check=False)
        shutil.rmtree(td, ignore_errors=True)
    if a.json:
        print(json.dumps(res, indent=2))
        return
    print(f"{a.minutes:g} min stereo 48 kHz, {TAPS}-tap FIR, partition {BLOCK}; medians, {a.rounds} alternating rounds; "
          f"load {res['load_average_1min_end']:.1f} on {os.cpu_count()} cores at the end")
    for name, t in res["tools"].items():
        print(f"  {name:>11}: processing CPU {t['cpu_processing_s']:.3f} s ({t['cpu_ratio_vs_fconvolver']:.2f}x), "
              f"wall {t['wall_processing_s']:.3f} s ({t['wall_ratio_vs_fconvolver']:.2f}x), null {t['null_db']:.1f} dB")


if __name__ == "__main__":
    sys.exit(main())
