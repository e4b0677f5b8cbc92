"""Clicks against splices in the render checks (issue 12, session 7), and artifacts on songs4.

``--part split``: the plants of :mod:`benchmarks.eval_clicks` (same materials, same rng), each
audible planted click (oracle audibility > 0 dB) checked three ways: found by the click
detector alone (:func:`mixes.clicks.find_clicks`), found through
:func:`mixes.renderchecks.render_checks` (what ``mix analyze`` reports), and, when the detector
found it and the render checks did not, why (a ``discontinuity`` from ``splice_jump`` on that
channel, or from :func:`mixes.artifact_splice.find_splices` (channel -1), or a burst).

``--part songs4``: the fourth generator (:mod:`mixes.songs4`, every style) clean through the
render checks (no artifact expected), then every kind planted as in
:mod:`benchmarks.eval_artifacts5` (dual mono, polarity, missing dither, bursts, random cuts of
realistic size, a DC step, a join into a section 8 dB louder).

    .venv/bin/python benchmarks/eval_artifacts6.py --part split|songs4|all [--seconds 20] [--seeds 9]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


def part_split() -> None:
    import eval_clicks as ev
    from mixes.artifacts import find_artifacts
    from mixes.clicks import find_clicks
    from mixes.renderchecks import _clicks_and_splices, render_checks

    rng = np.random.default_rng(1)                 # eval_clicks' own seed: the same plants
    tol = 0.002
    n_aud = n_det = n_rc = 0
    why_count: dict[str, int] = {}
    for name, x, fs in ev.materials(6):
        y, truth = ev.plant(x, fs, rng, min(80, int(x.shape[1] / fs / 0.07)))
        r = render_checks(y, fs=fs)
        det = [e for c in range(y.shape[0]) for e in find_clicks(y[c], fs=fs, channel=c)]
        per = arts = None
        for t, ch, aud, shape in truth:
            if aud <= 0:
                continue
            n_aud += 1
            d = any(abs(e.time_s - t) <= tol and e.channel == ch for e in det)
            k = any(abs(e.time_s - t) <= tol and e.channel == ch for e in r.clicks)
            n_det += d
            n_rc += k
            if d and not k:
                if per is None:
                    per = [_clicks_and_splices(y, fs, (c,), False) for c in range(y.shape[0])]
                    arts = find_artifacts(y, fs=fs)
                why = []
                if any(abs(e.time_s - t) <= tol for e in per[ch][1]):
                    why.append("splice_jump")
                why += [f"{a.kind}{'(find_splices)' if a.channel == -1 else ''}" for a in arts
                        if abs(a.time_s - t) <= 0.003]
                for w in set(why) or {"other"}:
                    why_count[w] = why_count.get(w, 0) + 1
                print(f"  lost {name:22s} {t:8.4f} s ch{ch} {shape:10s} {aud:5.1f} dB: {', '.join(why) or 'other'}",
                      flush=True)
    print(f"split: audible planted {n_aud}; click detector alone {n_det} ({n_det / n_aud:.4f}); "
          f"render checks {n_rc} ({n_rc / n_aud:.4f}); found by the detector, lost in the render checks: "
          f"{n_det - n_rc}; by cause: {why_count}")


def part_songs4(seconds: float, seeds: int) -> None:
    import eval_artifacts5 as e5
    from mixes.renderchecks import render_checks
    from mixes.songs4 import make_song
    rng = np.random.default_rng(5)
    tally = {k: [0, 0] for k in e5.KINDS}
    small = [0, 0]
    n_false = 0
    for s in range(seeds):
        g = make_song(4000 + s, duration_s=seconds)
        x = g.mix()
        r = render_checks(x, fs=e5.FS)
        false = [(e.kind, round(e.time_s, 3)) for e in r.artifacts]
        mat = [f for f in false if f[0] == "discontinuity" and e5.stem_steps(g.stems, f[1], e5.FS) >= 6.0]
        false = [f for f in false if f not in mat]
        n_false += bool(false)
        res = {k: [] for k in e5.KINDS}
        e5._plant(f"songs4 {s}", x, e5.FS, rng, res, small)
        for k, v in res.items():
            tally[k][0] += sum(v)
            tally[k][1] += len(v)
        print(f"  songs4 {4000 + s} {g.style:10s} clean: " + (f"FALSE {false}" if false else "none false")
              + (f" [{len(mat)} at one-sample steps of its own stems]" if mat else "")
              + " | " + "; ".join(f"{k} {sum(v)}/{len(v)}" for k, v in res.items() if v), flush=True)
    print(f"songs4: clean files with a false artifact report {n_false}/{seeds}; found/planted: "
          + ", ".join(f"{k} {v[0]}/{v[1]}" for k, v in tally.items())
          + f"; cuts below realistic size found {small[0]}/{small[1]}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--part", default="all", choices=("split", "songs4", "all"))
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--seeds", type=int, default=9)
    a = ap.parse_args()
    t0 = time.time()
    if a.part in ("split", "all"):
        part_split()
    if a.part in ("songs4", "all"):
        part_songs4(a.seconds, a.seeds)
    print(f"({time.time() - t0:.0f} s)")


if __name__ == "__main__":
    main()
