"""Deconvolution speed: roomtruth vs DRC's ``lsconv`` on the same 10 s, 48 kHz capture.

    .venv/bin/python benchmarks/bench_deconvolve.py [--runs 5]

DRC's ``glsweep`` makes the log sweep and its inverse filter (raw float32); the sweep is played
through the simulated default room (L speaker, -80 dBFS noise) to make a 10.0 s capture.  Both
tools deconvolve that capture, with and without a loopback reference channel; wall times are
medians over ``--runs`` runs (lsconv as a subprocess, so its figure includes process start-up
and file I/O; ours includes neither).  Runs are interleaved so machine load hits both alike.
Both IRs are then compared with the true room IR (1/6-octave smoothed, 40 Hz-16 kHz).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy import signal

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from calib.deconvolve import deconvolve_arrays  # noqa: E402
from hardware.simulated import default_room  # noqa: E402

FS = 48000


def _smooth_db(h: np.ndarray, freqs: np.ndarray, frac: int = 6) -> np.ndarray:
    P = np.abs(np.fft.rfft(h)) ** 2
    f = np.fft.rfftfreq(h.size, 1 / FS)
    c = np.r_[0.0, np.cumsum(P)]
    lo = np.searchsorted(f, freqs * 2 ** (-0.5 / frac))
    hi = np.searchsorted(f, freqs * 2 ** (0.5 / frac), side="right")
    return 10 * np.log10((c[hi] - c[lo]) / (hi - lo))


def _median_time(fn, runs: int) -> float:
    ts = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    if not (shutil.which("glsweep") and shutil.which("lsconv")):
        print("DRC's glsweep/lsconv are not installed (Debian package drc); nothing to compare against")
        return 1
    tmp = Path(tempfile.mkdtemp(prefix="bench-deconv-"))
    try:
        sweep_s, silence_s = 8.5, 0.75                      # 0.75 + 8.5 + 0.75 = 10.0 s
        subprocess.run(["glsweep", str(FS), "0.25", "10", "22000", str(sweep_s), str(silence_s), "0.05", "0.005",
                        str(tmp / "sweep.pcm"), str(tmp / "inverse.pcm")], check=True, capture_output=True)
        stim = np.fromfile(tmp / "sweep.pcm", dtype="<f4").astype(np.float64)
        room = default_room(FS).samples[0]
        rng = np.random.default_rng(0)
        rec = signal.oaconvolve(stim, room)[: stim.size] + rng.standard_normal(stim.size) * 1e-4
        lat = 256
        rec = np.concatenate([np.zeros(lat), rec])[: stim.size]
        ref = np.concatenate([np.zeros(lat), stim])[: stim.size]
        rec.astype("<f4").tofile(tmp / "rec.pcm")
        ref.astype("<f4").tofile(tmp / "ref.pcm")
        n_lead = int(silence_s * FS)
        nz = np.flatnonzero(stim)
        x = stim[nz[0]: nz[-1] + 1]
        start = int(nz[0])
        print(f"capture: {rec.size / FS:.2f} s at {FS} Hz (glsweep 10-22000 Hz, {sweep_s} s sweep)")

        def ours(with_ref: bool):
            return deconvolve_arrays(rec[np.newaxis], fs=FS, sweep=x, sweep_start=start, f_lo_hz=10, f_hi_hz=22000,
                                     reference=ref[np.newaxis] if with_ref else None, rate_l_s=None, n_harmonics=0)

        def lsconv(with_ref: bool):
            cmd = ["lsconv", str(tmp / "rec.pcm"), str(tmp / "inverse.pcm"), str(tmp / "drc.pcm")]
            if with_ref:
                cmd += [str(tmp / "ref.pcm"), "0.1", "0.8"]
            subprocess.run(cmd, check=True, capture_output=True)

        ours(False)  # warm-up (imports, FFT plans)
        lsconv(False)
        rows = []
        for with_ref in (False, True):
            t_o, t_d = [], []
            for _ in range(args.runs):          # interleaved, so machine load hits both alike
                t_o.append(_median_time(lambda: ours(with_ref), 1))
                t_d.append(_median_time(lambda: lsconv(with_ref), 1))
            rows.append((with_ref, statistics.median(t_o), statistics.median(t_d)))

        # accuracy of both against the truth (the room IR), 1/6-octave smoothed, 40 Hz-16 kHz
        truth = room
        freqs = np.geomspace(40, 16000, 300)

        def err_db(h: np.ndarray) -> float:
            pk, tpk = int(np.argmax(np.abs(h))), int(np.argmax(np.abs(truth)))
            n = FS // 2
            a = h[pk - tpk: pk - tpk + n] if pk >= tpk else np.r_[np.zeros(tpk - pk), h[: n - (tpk - pk)]]
            t = truth[:n]
            a = a * (np.dot(a, t) / np.dot(a, a))          # lsconv's scale is its own
            return float(np.sqrt(np.mean((_smooth_db(a, freqs) - _smooth_db(t, freqs)) ** 2)))

        mine = ours(True).linear[0]
        lsconv(True)
        drc = np.fromfile(tmp / "drc.pcm", dtype="<f4").astype(np.float64)

        print(f"{'case':<28}{'roomtruth (s)':>15}{'lsconv (s)':>13}{'lsconv / roomtruth':>21}")
        for with_ref, t_o, t_d in rows:
            name = "with loopback reference" if with_ref else "sweep only"
            print(f"{name:<28}{t_o:>15.3f}{t_d:>13.3f}{t_d / t_o:>20.2f}x")
        print("(lsconv's time includes process start-up and raw-file I/O; medians of interleaved runs)")
        print(f"error vs the true room IR (with reference), 1/6 oct rms 40 Hz-16 kHz: "
              f"roomtruth {err_db(mine):.4f} dB, lsconv {err_db(drc):.4f} dB")
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
