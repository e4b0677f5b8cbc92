"""Click reports on CLEAN music of five generators, with and without the time-frequency path.

Every report is a false one.  Material (12 s, full level, both channels through
``mixes.clicks.find_clicks`` with the other channel, as ``eval_clicks.py --clicks-only``):
:mod:`mixes.songs` 200-211, :mod:`mixes.songs_alt` 0-11, :mod:`mixes.songs3` 500-505, 600-605,
700-709, 900-911, :mod:`mixes.songs4` 700-711 and :mod:`mixes.songs5` 500-519 (when present).
Each song is run with ``mixes.clicks.TF_PATH`` off and on (the same stages 1-3 otherwise), so
the two columns differ only by :mod:`mixes.click_tf`; the TF path's CPU is reported apart.

    .venv/bin/python benchmarks/eval_clicks7_clean.py [--sets songs,alt,s3,s4,s5] [--json PATH]
    EVAL_CLICKS_ROOT=/other/checkout ...   (another checkout's detector)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(os.environ.get("EVAL_CLICKS_ROOT", Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(ROOT))
HERE = Path(__file__).resolve().parent.parent
CACHE = Path(os.environ.get("CLICKS7_CACHE", "/tmp/clicks7_cache"))

SETS = {
    "songs": [("mixes.songs", s) for s in range(200, 212)],
    "alt": [("mixes.songs_alt", s) for s in range(12)],
    "s3": [("mixes.songs3", s) for s in list(range(500, 506)) + list(range(600, 606)) + list(range(700, 710))
           + list(range(900, 912))],
    "s4": [("mixes.songs4", s) for s in range(700, 712)],
    "s5": [("mixes.songs5", s) for s in range(500, 520)],
}


def song(mod: str, seed: int, dur_s: float = 12.0) -> np.ndarray:
    """The clean mix (2, n) at 48 kHz, cached as .npy (generation is the slow part)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    p = CACHE / f"{mod}_{seed}_{dur_s:g}.npy"
    if p.exists():
        return np.load(p)
    import importlib
    sys.path.insert(0, str(HERE))      # the generators from this checkout
    m = importlib.import_module(mod)
    x = m.make_song(seed, duration_s=dur_s).mix()
    np.save(p, x)
    return x


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sets", default="songs,alt,s3,s4,s5")
    ap.add_argument("--json", default="")
    a = ap.parse_args()
    import mixes.clicks as C
    out = []
    tot = {False: 0, True: 0}
    for name in a.sets.split(","):
        n_rep = {False: 0, True: 0}
        for mod, seed in SETS[name]:
            try:
                x = song(mod, seed)
            except ImportError:
                print(f"{mod}: not present", file=sys.stderr)
                break
            row = {"set": name, "mod": mod, "seed": seed}
            for tf in (False, True):
                C.TF_PATH = tf
                ev = [e for c in range(x.shape[0]) for e in C.find_clicks(x[c], fs=48000, channel=c, other=x[1 - c])]
                n_rep[tf] += len(ev)
                row["tf" if tf else "base"] = [(round(e.time_s, 4), e.channel, round(e.audibility_db, 1)) for e in ev]
            out.append(row)
            new = sorted(set(row["tf"]) - set(row["base"]))
            print(f"{mod} {seed}: {len(row['base'])} -> {len(row['tf'])}"
                  + (f"  new: {new}" if new else ""), flush=True)
        for k in n_rep:
            tot[k] += n_rep[k]
        print(f"== {name}: {n_rep[False]} -> {n_rep[True]} reports", flush=True)
    print(f"== all: {tot[False]} -> {tot[True]} reports")
    if a.json:
        Path(a.json).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
