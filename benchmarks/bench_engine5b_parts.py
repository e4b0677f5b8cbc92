"""Thread CPU of each part of the one-call period (issue 15, engine5b): the steady period's
pieces (:mod:`monitor.period_kernel`) run R times in a compiled loop on the engine's own
arrays, so no dispatch or interpreter cost is in the figures.

    .venv/bin/python benchmarks/bench_engine5b_parts.py --channels 2 [--material song]

Parts: host copy in (transposed), input cleaning + meter, slot A's chain (with its FIR), the
bypass chain, the limiter, output meter, host copy out.  Diagnostic only (the states advance
as in a real period; the limiter sees the same block again and again).
"""

from __future__ import annotations

import argparse
import time

import numba as nb
import numpy as np

from monitor import kernels as K
from monitor import limkernels as L
from monitor import period_kernel as pk


@nb.njit(cache=True, nogil=True)
def _parts(t, indata, outdata, n, R, which):  # pragma: no cover - compiled
    xe = pk._f32_2(t, pk.A_X)[:, :n]
    C = xe.shape[0]
    out = pk._f32_2(t, pk.A_OUT)[:, :n]
    for _ in range(R):
        if which == 0:
            for c in range(C):
                for i in range(n):
                    xe[c, i] = indata[i, c]
        elif which == 1:
            K.sanitise_peak_run(xe, pk._f32_1(t, pk.A_INPK))
        elif which == 2 or which == 3:
            b = t[pk.E_OFF0 + (0 if which == 2 else 2)]
            if b >= 0:
                pk._chain(t, b, xe, pk._f32_2(t, pk.A_Y0 + 3 * (0 if which == 2 else 2))[:, :n], n)
        elif which == 4:
            mix = pk._f32_2(t, pk.A_Y0)[:, :n]
            L.limiter_run(mix, out, True, pk._f32_2(t, pk.A_XIN), pk._f32_2(t, pk.A_XD), pk._f64_1(t, pk.A_AH),
                          pk._f64_1(t, pk.A_RH), pk._f64_1(t, pk.A_HH), pk._f32_2(t, pk.A_FIR),
                          pk._f32_1(t, pk.A_SPAN), pk._f32_1(t, pk.A_PEAK), pk._f32_1(t, pk.A_CACC),
                          pk._f64_1(t, pk.A_REQ), pk._f64_1(t, pk.A_REQ2), pk._f64_1(t, pk.A_CS),
                          pk._f64_1(t, pk.A_ST), pk._f64_1(t, pk.A_PRM))
        elif which == 5:
            K.peak_run(out, pk._f32_1(t, pk.A_OUTPK))
        elif which == 7:
            mix = pk._f32_2(t, pk.A_Y0)[:, :n]
            L.sanitise_run(mix)
        elif which == 8:
            mix = pk._f32_2(t, pk.A_Y0)[:, :n]
            L._jump_one(mix, pk._f64_1(t, pk.A_ST), pk._f64_1(t, pk.A_PRM))
        elif which == 9:
            L._raw_required(pk._f32_2(t, pk.A_XIN), n, pk._f32_2(t, pk.A_FIR), pk._f32_1(t, pk.A_SPAN),
                            pk._f32_1(t, pk.A_PEAK), pk._f32_1(t, pk.A_CACC), pk._f64_1(t, pk.A_REQ),
                            pk._f64_1(t, pk.A_PRM), pk._f64_1(t, pk.A_REQ2), True)
        elif which == 6:
            W = outdata.shape[1]
            for i in range(n):
                for c in range(C):
                    outdata[i, c] = out[c, i]
                for c in range(C, W):
                    outdata[i, c] = 0.0


NAMES = ("copy_in", "clean_meter", "chain_A", "chain_bypass", "limiter", "out_meter", "copy_out",
         "lim_sanitise", "lim_jump", "lim_raw_required")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--channels", type=int, default=2)
    ap.add_argument("--taps", type=int, default=65536)
    ap.add_argument("--block", type=int, default=128)
    ap.add_argument("--material", default="noise", choices=("noise", "song", "full"))
    ap.add_argument("--gain-db", type=float, default=0.0)
    ap.add_argument("--R", type=int, default=3000)
    ap.add_argument("--nofir", action="store_true")
    a = ap.parse_args()
    import os
    import sys
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from bench_engine5b_period import _material
    from calib.profile import CalibrationProfile, SpeakerCorrection
    from monitor.engine import Engine
    from monitor.realtime import RealtimeProcessor
    from roomtruth.monitor_bench import _job

    fs, C, B = 48000, a.channels, a.block
    h, _ = _job(C, a.taps, fs, B)
    prof = CalibrationProfile(name="p", design_fs=fs, speakers=tuple(
        SpeakerCorrection(f"c{c}", c, trim_db=a.gain_db, fir={} if a.nofir else {fs: h[c]}) for c in range(C)))
    eng = Engine(fs=fs, n_channels=C, block=B, limiter={"ceiling_dbfs": -1.0}, fir_worker=True)
    eng.load(prof, "A")
    proc = RealtimeProcessor(eng, n_inputs=C, n_outputs=C)
    x = _material(a.material, C, 200 * B, fs)
    out = np.zeros((B, C), np.float32)
    for b in range(200):
        proc.callback(x[b * B:(b + 1) * B], out, B, 0)
    t = eng._plan.tab
    xb = np.ascontiguousarray(x[150 * B:151 * B])
    for w in range(len(NAMES)):
        _parts(t, xb, out, B, 1, w)
    res = {}
    for w, name in enumerate(NAMES):
        best = 1e9
        for _ in range(5):
            c0 = time.thread_time()
            _parts(t, xb, out, B, a.R, w)
            best = min(best, (time.thread_time() - c0) / a.R)
        res[name] = round(1e6 * best, 3)
    print(res, "sum", round(sum(res.values()), 2))
    eng.close()


if __name__ == "__main__":
    main()
