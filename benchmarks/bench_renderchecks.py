"""Benchmark: cost of the render checks (clicks by audibility + artifacts) on 10 minutes of
48 kHz stereo, against the issue-8 render checks (third-difference candidates, AR
verification, no audibility, no artifacts) taken from git.

    .venv/bin/python benchmarks/bench_renderchecks.py [--minutes 10] [--repeats 3] [--old-rev 6a1e50e]

CPU time of this process (user + sys) is printed as well as wall time: the machine may be
shared.  The programme is the same music-like material as ``bench_mix.py`` (float32, as
``mix analyze`` reads it).
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def programme(seconds: float, fs: int = 48_000, seed: int = 1) -> np.ndarray:
    from scipy.signal import lfilter
    rng = np.random.default_rng(seed)
    n = int(seconds * fs)
    w = rng.standard_normal((2, n)).astype(np.float32)
    y = lfilter([0.06], [1, -0.96], w, axis=1).astype(np.float32)
    y += 0.02 * w
    t = np.arange(n, dtype=np.float32) / fs
    env = 0.45 + 0.35 * np.sin(2 * np.pi * 0.05 * t) + 0.15 * (np.sin(2 * np.pi * 2 * t) > 0.9)
    env[(t % 90) > 85] *= 0.05
    return np.clip(y * env * 0.8, -0.999, 0.999).astype(np.float32)


def timed(fn, repeats: int) -> tuple[float, float]:
    wall, cpu = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return statistics.median(wall), statistics.median(cpu)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--old-rev", default="6a1e50e")
    a = ap.parse_args()
    fs = 48_000
    x = programme(a.minutes * 60, fs)
    from mixes import artifacts, clicks, renderchecks
    rows = [("render_checks (now)", lambda: renderchecks.render_checks(x, fs=fs)),
            ("  clicks, 2 channels", lambda: [clicks.find_clicks(x[c], fs=fs) for c in range(2)]),
            ("  artifacts", lambda: artifacts.find_artifacts(x, fs=fs))]
    with tempfile.TemporaryDirectory() as tmp:
        try:
            src = subprocess.run(["git", "-C", str(ROOT), "show", f"{a.old_rev}:mixes/renderchecks.py"],
                                 capture_output=True, text=True, check=True).stdout
            p = Path(tmp) / "renderchecks_old.py"
            p.write_text(src)
            spec = importlib.util.spec_from_file_location("renderchecks_old", p)
            old = importlib.util.module_from_spec(spec)
            sys.modules["renderchecks_old"] = old          # dataclasses look their module up
            spec.loader.exec_module(old)
            rows.append((f"render_checks ({a.old_rev})", lambda: old.render_checks(x, fs=fs)))
        except (subprocess.CalledProcessError, OSError) as exc:
            print(f"(old revision unavailable: {exc})")
        print(f"{a.minutes:g} min, 48 kHz stereo float32, median of {a.repeats}")
        res = {}
        for name, fn in rows:
            w, c = timed(fn, a.repeats)
            res[name] = (w, c)
            print(f"{name:28s} wall {w:6.3f} s   cpu {c:6.3f} s")
        if f"render_checks ({a.old_rev})" in res:
            w0, c0 = res[f"render_checks ({a.old_rev})"]
            w1, c1 = res["render_checks (now)"]
            print(f"added by issue 12: wall {w1 - w0:+.3f} s, cpu {c1 - c0:+.3f} s")


if __name__ == "__main__":
    main()
