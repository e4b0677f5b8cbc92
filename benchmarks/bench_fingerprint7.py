"""Fingerprint variants on held-out studios, per generator and style, with cached song banks.

Usage::

    python benchmarks/bench_fingerprint7.py --mat songs,songs_alt:rock,songs3:mixed [--seed0 60000]
        [--bank 32] [--studios 100] [--variants shipped,new] [--bands] [--cache /tmp/fp7cache]
        [--json benchmarks/results/fingerprint7_....json]

The studios are those of ``benchmarks/bench_fingerprint_music.py`` (same bank seeds
``seed0 + 100 * seconds + i``, same rooms ``varied_room(seed0 // 2 + k)``, same draw of 8 mixes +
8 references), so its ``after`` column equals ``shipped`` here.  A material is
``gen[:style]``; ``mixed`` (or no style) takes the generator's own ``seed % n_styles`` mix.  Banks
(frame spectra, float32) are cached in ``--cache`` so that many variants cost only the
fingerprints.  ``--bands`` prints per band the share of studios whose band is inside / sure.

Variants (``VARIANTS``) switch module constants for the duration of one fingerprint: ``shipped``
(session 7's code), ``new`` (this session's), and the ones tried along the way.  Each row prints
cover mean (share of studios >= 0.85), sure mean (share >= 0.80), rms over the sure bands and the
share of studios meeting all three goals, and which goal fails how often.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import bench_fingerprint_music as bfm  # noqa: E402

from mixes import fingerprint as _fp  # noqa: E402
from mixes.fingerprint import fingerprint_from_mixes  # noqa: E402

SM = "mixes.fingerprint_smooth"
VARIANTS: dict[str, dict] = {
    "shipped": {f"{SM}:NOISE_SHRINK": None, f"{SM}:NOISE_PRIOR_DOF": None, "_fp.OWN_COVARIATES": ()},
    "new": {f"{SM}:NOISE_PRIOR_DOF": 6.5},
    "noq": {f"{SM}:FULL_Q": False, f"{SM}:NOISE_PRIOR_DOF": 6.5},
    "q_dof4": {f"{SM}:NOISE_PRIOR_DOF": 4.0},
    "new_h1": {f"{SM}:NOISE_PRIOR_DOF": 6.5, f"{SM}:HEDGE_Z": 1.0},
    "new_h15": {f"{SM}:NOISE_PRIOR_DOF": 6.5, f"{SM}:HEDGE_Z": 1.5},
    **{f"dof{v}": {f"{SM}:NOISE_PRIOR_DOF": v} for v in (4.0, 6.5, 9.0)},
    **{f"shrink{v}": {f"{SM}:NOISE_SHRINK": v} for v in (0.1, 0.2, 0.35, 0.5, 0.7, "lw")},
    "bma": {f"{SM}:NOISE_SHRINK": (0.15, 0.3, 0.5, 1.0)},
    "bma2": {f"{SM}:NOISE_SHRINK": (0.2, 0.35, 0.5)},
    # session 9 (fingerprint9): each band's own room-invariant covariates (mixes.fingerprint.OWN_COVARIATES)
    "own_none": {"_fp.OWN_COVARIATES": ()},
    "own_gap": {"_fp.OWN_COVARIATES": ("gap",)},
    "own_gm": {"_fp.OWN_COVARIATES": ("gap", "mod")},
}


@contextlib.contextmanager
def switched(over: dict):
    """Set ``module.NAME`` values for the duration (keys ``"_fp.NAME"`` or ``"mod:NAME"``)."""
    saved = []
    for key, val in over.items():
        if key.startswith("_fp."):
            mod, name = _fp, key[4:]
        else:
            mname, name = key.split(":")
            mod = importlib.import_module(mname)
        saved.append((mod, name, getattr(mod, name)))
        setattr(mod, name, val)
    try:
        yield
    finally:
        for mod, name, val in reversed(saved):
            setattr(mod, name, val)


def cached_bank(gen, style, seconds, n, first_seed, cache):
    tag = f"{gen}_{style or 'mixed'}_{seconds:g}_{first_seed}_{n}.npz"
    p = Path(cache) / tag
    if p.is_file():
        z = np.load(p)
        return [(z[f"P{i}"], float(z["g"][i])) for i in range(n)]
    bk = bfm.bank(gen, seconds, n, first_seed, style)
    p.parent.mkdir(parents=True, exist_ok=True)
    np.savez(p, g=np.array([g for _, g in bk]), **{f"P{i}": P for i, (P, _) in enumerate(bk)})
    return bk


def run_material(bk, n_studios, seed, room_seed0, variants):
    fb = np.arange(bfm.KEEP_BINS) * bfm.FS / bfm.NFFT
    base = [bfm.spectra_from_frames(P, g)[0] for P, g in bk]
    rng = np.random.default_rng(seed)
    res = {v: [] for v in variants}
    bands = {v: [] for v in variants}
    for k in range(n_studios):
        room = bfm.random_room(room_seed0 + k)
        rp = (10 ** (room(fb) / 10)).astype(np.float32)
        idx = rng.permutation(len(bk))
        mixes = [bfm.spectra_from_frames(bk[i][0], bk[i][1], rp)[0] for i in idx[:8]]
        refs = [base[i] for i in idx[8:16]]
        t = bfm.truth(room, base[0].freqs_hz)
        for v in variants:
            with switched(VARIANTS[v]):
                fp = fingerprint_from_mixes("s", mixes, refs)
            res[v].append(bfm.score(fp, t))
            iv = fp.interval_db
            bands[v].append(np.stack([(t >= iv[:, 0]) & (t <= iv[:, 1]), (iv[:, 1] - iv[:, 0]) <= 3.0]))
    return res, {v: np.array(b) for v, b in bands.items()}, base[0].freqs_hz


def summary(rows):
    s = bfm.summary(rows)
    r = np.array(rows, dtype=float)
    s["fail_cover"] = round(float(np.mean(r[:, 0] < 0.85)), 3)
    s["fail_sure"] = round(float(np.mean(r[:, 1] < 0.80)), 3)
    s["fail_rms"] = round(float(np.mean(~(r[:, 2] <= 1.0))), 3)
    return s


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mat", default="songs")
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--bank", type=int, default=32)
    ap.add_argument("--studios", type=int, default=100)
    ap.add_argument("--seed0", type=int, default=60_000)
    ap.add_argument("--variants", default="shipped,new")
    ap.add_argument("--bands", action="store_true")
    ap.add_argument("--cache", default="/tmp/fp7cache")
    ap.add_argument("--json", default="")
    a = ap.parse_args()
    variants = a.variants.split(",")
    out = {}
    for mat in a.mat.split(","):
        gen, _, style = mat.partition(":")
        style = "" if style in ("", "mixed") else style
        t0 = time.time()
        bk = cached_bank(gen, style or None, a.seconds, a.bank, a.seed0 + int(a.seconds) * 100, a.cache)
        t1 = time.time()
        res, bands, f = run_material(bk, a.studios, int(a.seconds) + a.seed0 - 20_000, a.seed0 // 2, variants)
        t2 = time.time()
        out[mat] = {}
        for v in variants:
            s = summary(res[v])
            out[mat][v] = s
            print(f"{mat:22s} {v:10s} cover {s['cover_mean']:.3f} ({s['cover_ge_085']:.0%})  sure {s['sure_mean']:.2f} "
                  f"({s['sure_ge_080']:.0%})  rms {s['rms_sure_mean_db']:.2f}  ALL {s['all_three']:.0%}   fails: cover "
                  f"{s['fail_cover']:.0%} sure {s['fail_sure']:.0%} rms {s['fail_rms']:.0%}", flush=True)
            if a.bands:
                sel = (f >= bfm.SEL[0]) & (f <= bfm.SEL[1])
                b = bands[v][:, :, sel].mean(axis=0)
                print("   f   " + " ".join(f"{x:5.0f}" for x in f[sel]))
                print("   in  " + " ".join(f"{x:5.2f}" for x in b[0]))
                print("   sure" + " ".join(f"{x:5.2f}" for x in b[1]))
        print(f"   (bank {t1 - t0:.0f} s, studios {t2 - t1:.0f} s)", flush=True)
        if a.json:
            p = Path(a.json)
            old = json.loads(p.read_text()) if p.is_file() else {}
            old.update(out)
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(json.dumps(old, indent=1) + "\n")


if __name__ == "__main__":
    main()
