"""Balance against the same song, in-process, on exactly the cases of
``eval_songs3.py --part balance --seeds N`` (null8, session 8).

Seeds ``base + k + 10 * secs`` (base 600), offsets U(-6, 6) dB for the vocal and the bass and a
level U(-20, 0) dB drawn in order from ``default_rng(12)`` over 12, 20 and 30 s (so a subset of
lengths keeps the eval's offsets), the reference ``s.mix()``.  The balance path of
``mix analyze`` (``measure_balance`` on both, :func:`mixes.balance_null_refs.compare_balance_null`
with loaders) runs in this process, so a generator's 24 songs take minutes instead of the CLI's
hour; the figures equal the CLI's (checked on songs4 801 and 726).  Stems are cached under
``$NULL8_CACHE`` (default ``/tmp/null8/cache``).  ``NULL8_TREE=/path/to/other/tree`` runs another
checkout's ``mixes`` (before / after on identical songs); ``NULL8_NOV=1`` also analyses the
``voice=False`` song against the voiced reference (``vocal_found`` must stay false).

Usage: python benchmarks/bench_null8.py --gen songs4 [--secs 12,20,30] [--seeds 8] [--only 726,807]
       [-v] [--out results.json]
"""
import sys, math, time, os, importlib, json
sys.path.insert(0, os.environ.get("NULL8_TREE", os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
import numpy as np
from mixes.loudness import LoudnessMeter

CACHE = os.environ.get("NULL8_CACHE", "/tmp/null8/cache")
os.makedirs(CACHE, exist_ok=True)
GENS = {"songs": "mixes.songs", "songs_alt": "mixes.songs_alt", "songs3": "mixes.songs3", "songs4": "mixes.songs4",
        "songs5": "mixes.songs5"}


def stems(gen, seed, secs, voice=True):
    p = f"{CACHE}/{gen}_{seed}_{secs:g}_{int(voice)}.npz"
    if os.path.exists(p):
        z = np.load(p, allow_pickle=True)
        return {k: z[k] for k in z.files if k != "_meta"}, str(z["_meta"])
    mod = importlib.import_module(GENS[gen])
    s = mod.make_song(seed, duration_s=secs, voice=voice)
    st = {k: np.asarray(v, dtype=np.float64) for k, v in s.stems.items()}
    meta = ""
    try:
        meta = str(getattr(s, "style", "")) + " " + str((s.notes or {}).get("meta", {}).get("voice_kind", ""))
    except Exception:
        pass
    tmp = p + f".{os.getpid()}.tmp.npz"
    np.savez(tmp, _meta=np.array(meta), **st)
    os.replace(tmp, p)
    return st, meta


def mixdown(st, gains=None):
    gains = gains or {}
    return sum(v * 10 ** (gains.get(k, 0.0) / 20) for k, v in st.items())


def lufs(x, fs=48000):
    lm = LoudnessMeter(fs=fs, n_channels=x.shape[0])
    lm.feed(np.ascontiguousarray(x, dtype=np.float32))
    return lm.result().integrated_lufs


def bal(x, fs=48000):
    from mixes.balance import measure_balance
    x32 = np.ascontiguousarray(x, dtype=np.float32)
    return measure_balance(x32, fs=fs, integrated_lufs=lufs(x32, fs))


def compare(mix, ref, fs=48000):
    from mixes.balance_null_refs import compare_balance_null
    bm, br = bal(mix, fs), bal(ref, fs)
    m32 = np.ascontiguousarray(mix, dtype=np.float32).astype(np.float64)
    r32 = np.ascontiguousarray(ref, dtype=np.float32).astype(np.float64)
    b, v, by, notes = compare_balance_null(bm, [br], lambda: (m32, fs), [lambda: (r32, fs)], ["ref.wav"])
    return b, v, by, notes, bm, br


def eval_cases(gen, secs_list, nseeds, base=600, rng_seed=12):
    """The eval_songs3 balance cases: seed = base + k + secs*10, offsets from rng(12) in order."""
    rng = np.random.default_rng(rng_seed)
    out = []
    for secs in secs_list:
        for k in range(nseeds):
            seed = base + k + int(secs) * 10
            ov, ob, lvl = (float(x) for x in (rng.uniform(-6, 6), rng.uniform(-6, 6), rng.uniform(-20, 0)))
            out.append((gen, seed, secs, ov, ob, lvl))
    return out


def run_case(case, verbose=False):
    gen, seed, secs, ov, ob, lvl = case
    st, meta = stems(gen, seed, secs)
    ref = mixdown(st)
    mix = mixdown(st, {"voice": ov, "bass": ob}) * 10 ** (lvl / 20)
    t = time.process_time()
    b, v, by, notes, bm, br = compare(mix, ref)
    dt = time.process_time() - t
    nov_found = None
    if os.environ.get("NULL8_NOV"):
        stn, _ = stems(gen, seed, secs, voice=False)
        nov = mixdown(stn)
        _b, _v, by_n, _notes, bmn, _ = compare(nov, ref)
        nov_found = bool(by_n or bmn.vocal_found)
    ev = None if v is None else v - ov
    eb = None if b is None else b - ob
    fl = lambda e: "" if e is not None and abs(e) <= 1 else " <--"
    line = (f"{gen:9s} {secs:3.0f}s {seed} {meta[:28]:28s} v {ov:+5.2f}->{'none' if v is None else f'{v:+5.2f}'}{fl(ev):4s} "
            f"b {ob:+5.2f}->{'none' if b is None else f'{b:+5.2f}'}{fl(eb):4s} {dt:4.1f}s"
            + ("" if nov_found is None else f" novoice found {nov_found}" + (" <--" if nov_found else "")))
    if verbose:
        line += "\n     " + "\n     ".join(notes)
    return dict(case=case, v=v, b=b, ev=ev, eb=eb, line=line, notes=notes, nov=nov_found)


if __name__ == "__main__":
    import argparse
    ap = argparse.ArgumentParser()
    ap.add_argument("--gen", default="songs4")
    ap.add_argument("--secs", default="12,20,30")
    ap.add_argument("--seeds", type=int, default=8)
    ap.add_argument("--base", type=int, default=600)
    ap.add_argument("--rng", type=int, default=12)
    ap.add_argument("--only", default="")
    ap.add_argument("-v", action="store_true")
    ap.add_argument("--out", default="")
    a = ap.parse_args()
    want = [float(s) for s in a.secs.split(",")]
    cases = [c for c in eval_cases(a.gen, [12.0, 20.0, 30.0], a.seeds, a.base, a.rng) if c[2] in want]
    if a.only:
        keep = {int(s) for s in a.only.split(",")}
        cases = [c for c in cases if c[1] in keep]
    res = []
    for c in cases:
        r = run_case(c, a.v)
        print(r["line"], flush=True)
        res.append(r)
    for secs in sorted({c[2] for c in cases}):
        rr = [r for r in res if r["case"][2] == secs]
        nv = sum(r["ev"] is not None and abs(r["ev"]) <= 1 for r in rr)
        nb = sum(r["eb"] is not None and abs(r["eb"]) <= 1 for r in rr)
        wv = sum(r["ev"] is not None and abs(r["ev"]) > 1 for r in rr)
        wb = sum(r["eb"] is not None and abs(r["eb"]) > 1 for r in rr)
        nn = sum(bool(r["nov"]) for r in rr)
        print(f"SUMMARY {a.gen} {secs:g}s: vocal {nv}/{len(rr)} (wrong {wv}), bass {nb}/{len(rr)} (wrong {wb}), novoice found {nn}")
    if a.out:
        json.dump([{k: r[k] for k in ("case", "v", "b", "notes", "nov")} for r in res], open(a.out, "w"))
