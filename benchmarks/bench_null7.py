"""The null test against a same-song reference when one side went through a limiter or a bus
compressor (mixes.balance_null_fx), the voice-dominated EQ check, and a straight-tone singer.

Before = session 6's null test (the gain track of mixes.balance_null_dyn switched off, the frame
comparison where its gate refuses); after = the tree's null test as ``mix analyze`` uses it
(:func:`mixes.balance_null_refs.compare_balance_null` semantics: refused pairs fall back to the
frame comparison, except when a limiter / compressor was seen: then no figure, "unsure").

Per song: vocal and bass offsets U(-6, 6) dB together; the processed side and the drive vary
per row; the mix at U(-30, -8) LUFS before processing.  Counted: within +-1 dB, none (unsure),
and *wrong* (a figure more than 1 dB off: what must not happen).

Usage: python benchmarks/bench_null7.py [--gens songs,songs_alt,songs3,songs4] [--secs 20] [--n 6]
       [--fx lim3m,lim5r,lim8m,lim8r,comp2r,comp4m] [--seed0 4000]
       python benchmarks/bench_null7.py --straight [--n 6]     (straight-tone voice rows)
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
import mixes.balance_null as bn  # noqa: E402
from mixes.balance import compare_balance, measure_balance  # noqa: E402
from mixes.balance_null_fx import bus_compressor, lookahead_limiter, straight_voice  # noqa: E402
from mixes.loudness import loudness  # noqa: E402

FX = {
    "none": None,
    "lim3m": ("mix", "lim", dict(drive_db=3.0)),
    "lim5r": ("ref", "lim", dict(drive_db=5.0, release_s=0.08)),
    "lim8m": ("mix", "lim", dict(drive_db=8.0, release_s=0.3)),
    "lim8r": ("ref", "lim", dict(drive_db=8.0)),
    "comp2r": ("ref", "comp", dict(drive_db=6.0, ratio=2.0)),
    "comp4m": ("mix", "comp", dict(drive_db=8.0, ratio=4.0, attack_s=0.005, release_s=0.1)),
}


def _bal(x, fs):
    return measure_balance(x, fs=fs, integrated_lufs=loudness(x, fs=fs).integrated_lufs)


def _apply(x, fs, kind, kw):
    return lookahead_limiter(x, fs, **kw) if kind == "lim" else bus_compressor(x, fs, **kw)


def _null(mix, ref, fs, bm, br, v0, dyn: bool):
    keep, keep_s, keep_f = bn.remove_dynamics, bn.straight_voice_track, bn._not_a_fader
    if not dyn:         # session 6: no gain track, no straight-tone voice, the plain EQ check
        bn.remove_dynamics = lambda m, r, fs, **kw: (m, type("T", (), {"spread_db": 0.0, "dynamic": False, "applied": False, "ambiguous": False})())
        bn.straight_voice_track = lambda *a, **k: None
        bn._not_a_fader = lambda eq, *a: eq
    try:
        return bn.null_balance(mix, ref, fs=fs, vocal_in_files=bool(bm.vocal_found or br.vocal_found),
                               vocal_fallback_db=v0)
    finally:
        bn.remove_dynamics, bn.straight_voice_track, bn._not_a_fader = keep, keep_s, keep_f


def run_one(gen, seed, secs, gv, gb, fx, *, rng, voice=True, straight=False, fs=48000):
    s = gen.make_song(seed, duration_s=secs, fs=fs, voice=voice and not straight)
    if straight:
        sv = straight_voice(s.stems["bass"].shape[1], fs, seed=seed)
        # at the level of the generator's own voice stem when it has one, else -6 dB under the mix
        rest = s.mix()
        sv = sv * math.sqrt(0.25 * np.mean(rest ** 2) / max(np.mean(sv ** 2), 1e-30))
        ref = rest + sv
        mix = s.mix({"bass": gb}) + sv * 10 ** (gv / 20)
    elif not voice:
        # no voice: the bass and the keys (or what the generator has of them) moved
        gk = float(rng.uniform(-6, 6))
        moved = {"bass": gb, **({"keys": gk} if "keys" in s.stems else {})}
        ref = s.mix()
        mix = s.mix(moved)
    else:
        ref = s.mix()
        mix = s.mix({"voice": gv, "bass": gb})
    mix = mix * 10 ** ((rng.uniform(-30, -8) - loudness(mix, fs=fs).integrated_lufs) / 20)
    if FX.get(fx):
        side, kind, kw = FX[fx]
        if side == "mix":
            mix = _apply(mix, fs, kind, kw)
        else:
            ref = _apply(ref, fs, kind, kw)
    bm, br = _bal(mix, fs), _bal(ref, fs)
    b0, v0 = compare_balance(bm, [br])
    out = {}
    for tag, dyn in (("0", False), ("1", True)):
        t0 = time.process_time()
        nb = _null(mix, ref, fs, bm, br, v0, dyn)
        out["t" + tag] = time.process_time() - t0
        if nb.gate.same:
            b, v = nb.bass_vs_reference_db, nb.vocal_vs_reference_db
        elif dyn and nb.gate.dynamics_db > 0:
            b, v = None, None
        else:
            b, v = b0, v0
        out["b" + tag], out["v" + tag] = b, v
        out["found" + tag] = bool(bm.vocal_found or v0 is not None or nb.vocal_in_difference)
        out["same" + tag], out["reason" + tag] = nb.gate.same, nb.gate.reason
        out["dyn" + tag] = getattr(nb.gate, "dynamics_db", 0.0)
        out["unsure" + tag] = bool(getattr(nb, "unsure", False))
    out["style"] = s.notes.get("style", ["songs"])[0] if hasattr(s, "notes") else "songs"
    return out


def summary(rows, key, truth):
    err = [r[key] - r[truth] for r in rows if r[key] is not None]
    n_in = sum(abs(e) <= 1.0 for e in err)
    rms = math.sqrt(np.mean(np.square(err))) if err else math.nan
    worst = max(np.abs(err)) if err else math.nan
    return (f"{n_in}/{len(rows)} within 1 dB, {len(rows) - len(err)} none, {len(err) - n_in} wrong, "
            f"rms {rms:.2f}, worst {worst:.2f}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gens", default="songs,songs_alt,songs3,songs4")
    ap.add_argument("--secs", default="20")
    ap.add_argument("--n", type=int, default=6)
    ap.add_argument("--seed0", type=int, default=4000)
    ap.add_argument("--fx", default="none,lim3m,lim5r,lim8m,lim8r,comp2r,comp4m")
    ap.add_argument("--straight", action="store_true", help="a straight-tone voice (no vibrato) instead")
    ap.add_argument("--novoice", action="store_true", help="voice=False, the bass and keys moved (vocal_found must stay false)")
    a = ap.parse_args()
    fmt = lambda v: "none " if v is None else f"{v:+.2f}"
    for gname in a.gens.split(","):
        try:
            gen = importlib.import_module(f"mixes.{gname}")
        except ImportError:
            print(f"{gname}: not present")
            continue
        for secs in [float(x) for x in a.secs.split(",")]:
            for fx in a.fx.split(","):
                rng = np.random.default_rng(a.seed0 + int(secs) + 7 * len(fx))
                rows = []
                for i in range(a.n):
                    seed = a.seed0 + 100 * int(secs) + i
                    gv, gb = rng.uniform(-6, 6, 2)
                    if i == 0:
                        gv = 0.0
                    if a.novoice:
                        gv = 0.0
                    r = run_one(gen, seed, secs, gv, gb, fx, rng=rng, voice=not a.novoice, straight=a.straight)
                    r.update(gv=gv, gb=gb)
                    rows.append(r)
                    print(f"  {gname} {secs:.0f}s {fx} {seed} {r['style'][:9]:9s} v {gv:+.2f} b {gb:+.2f} | before v "
                          f"{fmt(r['v0'])} b {fmt(r['b0'])} | after v {fmt(r['v1'])} b {fmt(r['b1'])} found {r['found1']:d} "
                          f"same {r['same1']:d} dyn {r['dyn1']:.1f}{' UNSURE' if r['unsure1'] else ''} | null cpu {r['t1']:.2f} s"
                          + ("" if r["same1"] else f" [{r['reason1'][:70]}]"), flush=True)
                tag = f"{gname} {secs:.0f}s {fx}{' straight' if a.straight else ''}"
                if a.novoice:
                    print(f"{tag} no voice: found before {sum(r['found0'] for r in rows)}/{len(rows)}, after "
                          f"{sum(r['found1'] for r in rows)}/{len(rows)}; bass after {summary(rows, 'b1', 'gb')}")
                    continue
                print(f"{tag}: vocal before {summary(rows, 'v0', 'gv')} | after {summary(rows, 'v1', 'gv')}")
                print(f"{tag}: bass  before {summary(rows, 'b0', 'gb')} | after {summary(rows, 'b1', 'gb')}")
                print(f"{tag}: null cpu after mean {np.mean([r['t1'] for r in rows]):.2f} s", flush=True)


if __name__ == "__main__":
    main()
