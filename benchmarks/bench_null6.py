"""Balance against a same-song reference: the frame comparison (mixes.balance.compare_balance)
before, the null test (mixes.balance_null, falling back to the frame comparison when its gate
refuses) after.  Songs of mixes.songs, mixes.songs_alt (all four styles) and mixes.songs3 when
present; vocal and bass offsets drawn together (U(-6, 6) dB, with 0 and +-0.3 among them), the
mix brought to U(-30, -8) LUFS, reverb on; voice=False songs (vocal_found must stay false);
variants: a lag of 0.3 s, 44.1 kHz.

Usage: python benchmarks/bench_null6.py [--gens songs,songs_alt,songs3] [--secs 12,20,30] [--n 8]
"""
from __future__ import annotations

import argparse
import importlib
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from mixes.balance import compare_balance, measure_balance  # noqa: E402
from mixes.balance_null import null_balance  # noqa: E402
from mixes.loudness import loudness  # noqa: E402


def _bal(x, fs):
    return measure_balance(x, fs=fs, integrated_lufs=loudness(x, fs=fs).integrated_lufs)


def run_one(gen, seed, secs, gv, gb, *, voice=True, lag_s=0.0, fs=48000, rng=None):
    s = gen.make_song(seed, duration_s=secs, fs=fs, voice=voice)
    ref = s.mix()
    mix = s.mix({"voice": gv, "bass": gb})
    target = rng.uniform(-30, -8)
    mix = mix * 10 ** ((target - loudness(mix, fs=fs).integrated_lufs) / 20)
    if lag_s:
        k = int(lag_s * fs)
        ref = np.concatenate([np.zeros((2, k)), ref], axis=1)      # the reference starts later
    t0 = time.process_time()
    bm, br = _bal(mix, fs), _bal(ref, fs)
    t1 = time.process_time()
    b0, v0 = compare_balance(bm, [br])
    nb = null_balance(mix, ref, fs=fs, vocal_in_files=bool(bm.vocal_found or br.vocal_found), vocal_fallback_db=v0 if not lag_s else None)
    t2 = time.process_time()
    if nb.gate.same:
        b1, v1 = nb.bass_vs_reference_db, nb.vocal_vs_reference_db
    else:
        b1, v1 = b0, v0
    found0 = bool(bm.vocal_found or v0 is not None)
    found1 = bool(found0 or nb.vocal_in_difference)
    return dict(style=s.notes.get("style", ["songs"])[0], b0=b0, v0=v0, b1=b1, v1=v1, same=nb.gate.same,
                reason=nb.gate.reason, found0=found0, found1=found1, t_frames=t1 - t0, t_null=t2 - t1)


def summary(rows, key, truth):
    err = [r[key] - r[truth] for r in rows if r[key] is not None]
    n_in = sum(abs(e) <= 1.0 for e in err)
    rms = math.sqrt(np.mean(np.square(err))) if err else math.nan
    worst = max(np.abs(err)) if err else math.nan
    return f"{n_in}/{len(rows)} within 1 dB, {len(rows) - len(err)} none, rms {rms:.2f}, worst {worst:.2f}"


def speed(minutes: float = 10.0) -> None:
    """CPU of the null test on a same-song pair of ``minutes`` (a 30-s song tiled), against the
    frame analysis of the two files (what mix analyze already does for them) and the files'
    read; ``mix analyze`` without references does not run it at all."""
    import tempfile

    import soundfile as sf

    from mixes.analysis import read_mix
    from mixes.balance_null_refs import may_be_same_song
    from mixes.songs import make_song

    s = make_song(4242, duration_s=30.0)
    reps = int(round(minutes * 2))
    ref = np.tile(s.mix(), reps)
    mix = np.tile(s.mix({"voice": -2.5, "bass": 2.0}), reps) * 0.7
    with tempfile.TemporaryDirectory() as d:
        pm, pr = Path(d) / "mix.wav", Path(d) / "ref.wav"
        sf.write(pm, mix.T.astype(np.float32), s.fs, subtype="FLOAT")
        sf.write(pr, ref.T.astype(np.float32), s.fs, subtype="FLOAT")
        t0 = time.process_time()
        bm, br = _bal(mix.astype(np.float32), s.fs), _bal(ref.astype(np.float32), s.fs)
        t1 = time.process_time()
        pre = may_be_same_song(bm.frames, br.frames)
        t2 = time.process_time()
        (xm, fs), (xr, _) = read_mix(pm), read_mix(pr)
        t3 = time.process_time()
        nb = null_balance(xm, xr, fs=fs, vocal_in_files=True)
        t4 = time.process_time()
    print(f"speed, {minutes:g}-min same-song pair: frame analysis of both files {t1 - t0:.2f} s CPU; precheck "
          f"{t2 - t1:.3f} s (says {pre}); reading both again {t3 - t2:.2f} s; null test {t4 - t3:.2f} s "
          f"(vocal {nb.vocal_vs_reference_db}, bass {nb.bass_vs_reference_db})")


def main():
    if "--speed" in sys.argv:
        speed()
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("--gens", default="songs,songs_alt")
    ap.add_argument("--secs", default="12,20,30")
    ap.add_argument("--n", type=int, default=8)
    ap.add_argument("--seed0", type=int, default=6000)
    ap.add_argument("--variant", default="", help="lag03 | fs441 | novoice")
    a = ap.parse_args()
    for gname in a.gens.split(","):
        try:
            gen = importlib.import_module(f"mixes.{gname}")
        except ImportError:
            print(f"{gname}: not present")
            continue
        for secs in [float(x) for x in a.secs.split(",")]:
            rng = np.random.default_rng(a.seed0 + int(secs))
            rows = []
            for i in range(a.n):
                seed = a.seed0 + 100 * int(secs) + i
                gv, gb = rng.uniform(-6, 6, 2)
                if i == 0:
                    gv = 0.0
                if i == 1:
                    gb = 0.0
                if i == 2:
                    gv, gb = 0.3, -0.3
                kw = dict(rng=rng)
                if a.variant == "lag03":
                    kw["lag_s"] = 0.3
                if a.variant == "fs441":
                    kw["fs"] = 44100
                if a.variant == "novoice":
                    kw["voice"] = False
                r = run_one(gen, seed, secs, gv, gb, **kw)
                r.update(gv=gv if a.variant != "novoice" else 0.0, gb=gb)
                rows.append(r)
                fmt = lambda v: "none " if v is None else f"{v:+.2f}"
                print(f"  {gname} {secs:.0f}s {seed} {r['style'][:10]:10s} v {gv:+.2f} b {gb:+.2f} | before "
                      f"v {fmt(r['v0'])} b {fmt(r['b0'])} found {r['found0']:d} | after v {fmt(r['v1'])} b {fmt(r['b1'])} "
                      f"found {r['found1']:d} same {r['same']:d} | cpu {r['t_frames']:.2f}+{r['t_null']:.2f} s"
                      + ("" if r["same"] else f" [{r['reason'][:60]}]"), flush=True)
            if a.variant == "novoice":
                print(f"{gname} {secs:.0f}s no voice: found before {sum(r['found0'] for r in rows)}/{len(rows)}, "
                      f"after {sum(r['found1'] for r in rows)}/{len(rows)}; bass before {summary(rows, 'b0', 'gb')}, "
                      f"after {summary(rows, 'b1', 'gb')}")
                continue
            print(f"{gname} {secs:.0f}s {a.variant}: vocal before {summary(rows, 'v0', 'gv')} | after {summary(rows, 'v1', 'gv')}")
            print(f"{gname} {secs:.0f}s {a.variant}: bass  before {summary(rows, 'b0', 'gb')} | after {summary(rows, 'b1', 'gb')}")
            print(f"{gname} {secs:.0f}s {a.variant}: null cpu mean {np.mean([r['t_null'] for r in rows]):.2f} s vs frames "
                  f"(two files) {np.mean([r['t_frames'] for r in rows]):.2f} s", flush=True)


if __name__ == "__main__":
    main()
