"""Click reports on CLEAN music (no clicks planted): every one is a false report.

Material: mixes.songs seeds 200-211, mixes.songs_alt seeds 0-11, mixes.songs3 seeds 500-505,
600-605, 700-709 and 900-911 (the seeds whose clean reports were listed by the songs3 eval),
mixes.songs4 seeds 700-711 when that module exists (as eval_clicks.py); 12 s each, full level, both channels through
``mixes.clicks.find_clicks`` (the detector alone, as ``eval_clicks.py --clicks-only``).

    .venv/bin/python benchmarks/eval_clickfp6_clean.py [--sets songs,alt,s3,s4] [--json PATH]
    EVAL_CLICKS_ROOT=/other/checkout ... (the same, with another checkout's detector: before/after)
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
CACHE = Path(os.environ.get("CLICKFP6_CACHE", "/tmp/clickfp6_cache"))

SETS = {
    "songs": [("mixes.songs", s) for s in range(200, 212)],
    "alt": [("mixes.songs_alt", s) for s in range(12)],
    "s3": [("mixes.songs3", s) for s in list(range(500, 506)) + list(range(600, 606)) + list(range(700, 710))
           + list(range(900, 912))],
    "s4": [("mixes.songs4", s) for s in range(700, 712)],
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
    ap.add_argument("--sets", default="songs,alt,s3")
    ap.add_argument("--json", default="")
    a = ap.parse_args()
    import inspect
    from mixes.clicks import find_clicks
    # (the other channel goes to the stage-3 onset rule when this checkout's find_clicks takes it)
    stereo = "other" in inspect.signature(find_clicks).parameters and os.environ.get("CLICKFP6_STEREO", "1") == "1"
    out = []
    cpu = 0.0
    for name in a.sets.split(","):
        n_rep = 0
        for mod, seed in SETS[name]:
            try:
                x = song(mod, seed)
            except ImportError:
                print(f"{mod}: not present", file=sys.stderr)
                break
            t0 = time.process_time()
            ev = [e for c in range(x.shape[0])
                  for e in find_clicks(x[c], fs=48000, channel=c, **({"other": x[1 - c]} if stereo else {}))]
            cpu += time.process_time() - t0
            n_rep += len(ev)
            for e in ev:
                out.append({"set": name, "mod": mod, "seed": seed, "time_s": round(e.time_s, 5),
                            "channel": e.channel, "aud_db": round(e.audibility_db, 1),
                            "level_db": round(e.level_db, 1)})
            print(f"{mod} {seed}: {len(ev)} " + " ".join(f"{e.time_s:.4f}/{e.channel}/{e.audibility_db:+.1f}"
                                                       for e in ev), flush=True)
        print(f"== {name}: {n_rep} reports", flush=True)
    print(f"find_clicks CPU {cpu:.1f} s")
    if a.json:
        Path(a.json).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
