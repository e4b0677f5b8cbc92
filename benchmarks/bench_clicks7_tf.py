"""CPU cost of the click detector's time-frequency path (:mod:`mixes.click_tf`) on a 10-minute song.

``time.process_time`` of :func:`mixes.clicks.detect_impulsive` on one channel of a
:mod:`mixes.songs` render (seed 7, 48 kHz, drums throughout: the path runs everywhere), with
``mixes.clicks.TF_PATH`` off and on, alternated ``--repeats`` times (minimum and median
printed), and the path alone (band scores + the stage-2 verification of its candidates).

    .venv/bin/python benchmarks/bench_clicks7_tf.py [--minutes 10] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    import mixes.clicks as C
    from mixes.click_tf import centres
    cache = Path(os.environ.get("CLICKS7_CACHE", "/tmp/clicks7_cache")) / f"songs_7_{a.minutes:g}min_ch0.npy"
    if cache.exists():
        x = np.load(cache)
    else:
        from mixes.songs import make_song
        x = make_song(7, duration_s=60 * a.minutes).mix()[0].astype(np.float32)
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.save(cache, x)
    fs = 48000
    t = {False: [], True: []}
    n_ev = {}
    for _ in range(a.repeats):
        for tf in (False, True):
            C.TF_PATH = tf
            t0 = time.process_time()
            imp = C.detect_impulsive(x, fs=fs)
            t[tf].append(time.process_time() - t0)
            n_ev[tf] = len(imp.onset)
    low = C._detect_low(x, fs, [])
    xd, d, L = low.decimated
    t0 = time.process_time()
    pos, _ = centres(xd, fs, d, L)
    t_scores = time.process_time() - t0
    print(f"{x.size / fs / 60:.1f} min, one channel; load {os.getloadavg()[0]:.1f}")
    for tf in (False, True):
        print(f"detect_impulsive TF_PATH={tf!s:5s}: min {min(t[tf]):.3f} s, median {statistics.median(t[tf]):.3f} s "
              f"({n_ev[tf]} events)")
    print(f"added: min {min(t[True]) - min(t[False]):+.3f} s, median "
          f"{statistics.median(t[True]) - statistics.median(t[False]):+.3f} s; band scores alone {t_scores:.3f} s, "
          f"{pos.size} candidates")


if __name__ == "__main__":
    main()
