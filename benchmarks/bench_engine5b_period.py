"""Thread CPU per steady period of the real-time engine, part by part (issue 15, engine5b).

Builds the engine as ``roomtruth monitor bench`` does (slots A and bypass, the safety limiter,
``monitor run``'s warm-up) and measures the audio thread's CPU per period (``time.thread_time``
around a run of ``--periods`` periods, divided by their number; the minimum of ``--reps``
repetitions: on a shared machine the minimum is the cost, the rest is other processes):

* ``callback``: the whole real-time callback (:meth:`RealtimeProcessor.callback`), what
  ``monitor run`` spends per period;
* ``process_host``: :meth:`Engine.process_host` (the one compiled call + its Python wrapper);
* ``kernel``: :func:`monitor.period_kernel.host_period` called directly;
* the same three with a profile WITHOUT FIR (``nofir_*``): what the period costs besides the
  convolution (input cleaning, meters, the bypass chain, the limiter, host copies, the glue).

``--tree DIR`` runs another checkout's code (e.g. a ``git archive`` of the previous commit in
/tmp) for before/after tables.  ``--material`` chooses the input: ``noise`` (monitor bench's:
white noise at -26 dBFS rms, peaks near -12 dBFS), ``song`` (a synthetic mastered song peaking
at -1 dBFS, played through a profile gain ``--gain-db``), or ``full`` (the same song at 0 dBFS
sample peak: the limiter works on most periods).

    .venv/bin/python benchmarks/bench_engine5b_period.py --channels 2 --json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time


def _material(kind: str, channels: int, n: int, fs: int):
    import numpy as np

    if kind == "noise":
        rng = np.random.default_rng(1)
        return (rng.standard_normal((n, channels)) * 0.05).astype(np.float32)
    from mixes.songs import make_song

    song = make_song(3, duration_s=max(2.5, n / fs + 0.1), fs=fs).mix()
    x = song[:, :n].T
    x = x / np.max(np.abs(x))                     # 0 dBFS sample peak
    if kind == "song":
        x = x * 10 ** (-1.0 / 20)                 # mastered at -1 dBFS
    reps = -(-channels // 2)
    return np.ascontiguousarray(np.tile(x, (1, reps))[:, :channels]).astype(np.float32)


def measure(*, channels: int, taps: int, block: int, periods: int, reps: int, material: str,
            gain_db: float, fir: bool, fs: int = 48000) -> dict:
    import numpy as np

    from calib.profile import CalibrationProfile, SpeakerCorrection
    from monitor import period_kernel as pk
    from monitor.engine import Engine
    from monitor.realtime import RealtimeProcessor
    from roomtruth.monitor_bench import _job

    h, _ = _job(channels, taps, fs, block)
    x = _material(material, channels, periods * block, fs)
    spk = tuple(SpeakerCorrection(f"ch{c + 1}", c, trim_db=gain_db, fir=({fs: h[c]} if fir else {}))
                for c in range(channels))
    prof = CalibrationProfile(name="b5b", speakers=spk, design_fs=fs)
    eng = Engine(fs=fs, n_channels=channels, block=block, limiter={"ceiling_dbfs": -1.0}, fir_worker=True)
    eng.load(prof, "A")
    proc = RealtimeProcessor(eng, n_inputs=channels, n_outputs=channels)
    zin = np.zeros((block, channels), np.float32)
    out = np.zeros((block, channels), np.float32)
    levels = getattr(eng._slots[0], "levels", None) or []
    largest = max([lv.size for lv in levels] + [block])
    for _ in range(2 * (largest // block) + 2):
        proc.callback(zin, out, block, 0)
    blocks = [x[b * block:(b + 1) * block] for b in range(periods)]
    tab = eng._plan.tab if eng._plan is not None else None

    def run_callback():
        cb = proc.callback
        for xb in blocks:
            cb(xb, out, block, 0)

    def run_process_host():
        ph = eng.process_host
        for xb in blocks:
            ph(xb, out, block, channels, channels)

    def run_kernel():
        hp = pk.host_period
        t = eng._plan.tab
        for xb in blocks:
            hp(xb, out, block, channels, channels, t)

    res = {}
    for name, fn in (("callback", run_callback), ("process_host", run_process_host), ("kernel", run_kernel)):
        best = float("inf")
        for _ in range(reps):
            c0 = time.thread_time()
            fn()
            best = min(best, (time.thread_time() - c0) / periods)
        res[name] = 1e6 * best
    res["limited_samples"] = float(eng.limiter.limited_samples) if hasattr(eng.limiter, "limited_samples") else None
    res["plan"] = tab is not None
    eng.close()
    return res


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--channels", type=int, default=2)
    ap.add_argument("--taps", type=int, default=65536)
    ap.add_argument("--block", type=int, default=128)
    ap.add_argument("--periods", type=int, default=3000)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--material", choices=("noise", "song", "full"), default="noise")
    ap.add_argument("--gain-db", type=float, default=0.0, help="the profile's trim on every speaker (dB)")
    ap.add_argument("--no-nofir", action="store_true", help="skip the profile without FIR")
    ap.add_argument("--tree", default=None, help="run the code of this checkout (before/after)")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    if a.tree:
        sys.path.insert(0, os.path.abspath(a.tree))
    import monitor

    out = {"tree": os.path.dirname(os.path.dirname(os.path.abspath(monitor.__file__))),
           "channels": a.channels, "taps": a.taps, "block": a.block, "material": a.material,
           "gain_db": a.gain_db, "load_average_1min": os.getloadavg()[0]}
    kw = dict(channels=a.channels, taps=a.taps, block=a.block, periods=a.periods, reps=a.reps,
              material=a.material, gain_db=a.gain_db)
    out["fir_us"] = measure(fir=True, **kw)
    if not a.no_nofir:
        out["nofir_us"] = measure(fir=False, **kw)
    out["load_average_1min_end"] = os.getloadavg()[0]
    if a.json:
        print(json.dumps(out, indent=1))
    else:
        for k in ("fir_us", "nofir_us"):
            if k in out:
                print(k, {n: (round(v, 2) if isinstance(v, float) else v) for n, v in out[k].items()})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
