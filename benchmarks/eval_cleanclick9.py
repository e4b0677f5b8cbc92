"""Click reports on CLEAN full mixes with drums, five generators: every report is a false one.

The same click detection ``roomtruth mix analyze`` runs (``mixes.clicks.detect_impulsive`` and
``mixes.click_masking.audibility`` with the other channel, per channel, as
``mixes.renderchecks._clicks_and_splices``; splices and clipper corners are left to the render
checks and not counted here).  Songs of :mod:`mixes.songs`, :mod:`mixes.songs_alt`,
:mod:`mixes.songs3`, :mod:`mixes.songs4` and :mod:`mixes.songs5`, one per style (``--per-style``
seeds each), 12 s, written as float32 (as the CLI's WAV), at full level and 20 dB down.  Each
report is printed with what it is and which rule let it through:

* ``path``: full-band first pass (``full``), wide pass (``wide``), low-band path (``low``/``lowwave``);
* ``spans``: the sample-level spans of :func:`mixes.click_onset.is_attack_wide` (ms); ``narrow``
  when the onset rule skips it as a sample-level event;
* ``share``/``gain``: :func:`mixes.click_onset.coherent_share` (1.0: the other channel has no
  event), ``rise``: :func:`mixes.click_onset.onset_rise_db` in the louder channel;
* ``hf``: share of the isolated waveform's energy above 6 kHz; ``sharp``:
  :func:`mixes.click_onset.sharp_share` (what a running median leaves of its first difference).

Seeds: ``--seed0`` (default 1300, the tuning seeds of cleanclick9) + k; report held-out figures with
``--seed0 1400``.  songs5 707 (the repro from session 9's brief) is added with ``--repro``.

    nice -n 10 .venv/bin/python benchmarks/eval_cleanclick9.py [--gens songs,songs_alt,songs3,songs4,songs5]
        [--per-style 1] [--seed0 1300] [--levels 0,-20] [--repro] [--json PATH] [-q] [--styles metal,funk]
    EVAL_CLICKS_ROOT=/other/checkout ...   (another checkout's detector: before/after)
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(os.environ.get("EVAL_CLICKS_ROOT", Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(ROOT))
HERE = Path(__file__).resolve().parent.parent
CACHE = Path(os.environ.get("CLEANCLICK9_CACHE", "/tmp/cleanclick9_cache"))
FS = 48000
GENS = ("songs", "songs_alt", "songs3", "songs4", "songs5")


def song(gen: str, seed: int, style: str | None, dur_s: float = 12.0) -> np.ndarray:
    """The clean mix (2, n) float32 at 48 kHz, cached as .npy (generation is the slow part)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    p = CACHE / f"{gen}_{seed}_{style}_{dur_s:g}.npy"
    if p.exists():
        return np.load(p)
    if str(HERE) not in sys.path:
        sys.path.append(str(HERE))
    m = importlib.import_module(f"mixes.{gen}")
    kw = {"duration_s": dur_s}
    if style is not None and "style" in inspect.signature(m.make_song).parameters:
        kw["style"] = style
    x = np.asarray(m.make_song(seed, **kw).mix(), dtype=np.float32)
    np.save(p, x)
    return x


def material(gens: list[str], per_style: int, seed0: int, repro: bool, only: tuple[str, ...] = ()):
    for gen in gens:
        m = importlib.import_module(f"mixes.{gen}")
        styles = tuple(getattr(m, "STYLES", ()) or ()) or (None,) * 4
        for j in range(per_style):
            for i, st in enumerate(styles):
                if not only or str(st) in only:
                    yield gen, seed0 + 10 * j + i, st
    if repro:
        yield "songs5", 707, None


def diagnose(x: np.ndarray, c: int, imp, k: int) -> dict:
    """What the event is and which rule let it through (see module docstring)."""
    from mixes.click_decimate import _lowpass
    from mixes.click_onset import coherent_share, is_attack_wide, onset_rise_db, sample_level_span_s
    try:
        from mixes.click_onset import sharp_share
    except ImportError:                      # (an older checkout)
        sharp_share = None
    clk = np.asarray(imp.click[k], dtype=np.float64)
    full = not imp.low[k]
    path = ("lowwave" if imp.low[k] else "low") if imp.from_low[k] else ("wide" if imp.wide[k] else "full")
    d1, d2 = sample_level_span_s(clk, fs=FS)
    narrow = full and not is_attack_wide(clk, fs=FS)
    n_k = max(clk.size, 1)
    h = _lowpass(FS)[1] if (imp.from_low[k] or not full) else None
    sh, g = coherent_share(x[c], x[1 - c], imp.onset[k], n_k, fs=FS, lowpass=h)
    xs, os_ = (x[c], x[1 - c]) if not (g < 0) else (x[1 - c], x[c])
    rise = onset_rise_db(xs, imp.onset[k], n_k, fs=FS, other=os_, gain_db=abs(g) if g == g else 0.0)
    rise0 = onset_rise_db(xs, imp.onset[k], n_k, fs=FS)
    E = np.abs(np.fft.rfft(clk, max(512, clk.size))) ** 2
    f = np.fft.rfftfreq(max(512, clk.size), 1.0 / FS)
    return {"path": path, "width_ms": round(1e3 * imp.width_s[k], 3), "n": int(clk.size),
            "spans_ms": [round(1e3 * d1, 3), round(1e3 * d2, 3)], "narrow": bool(narrow),
            "share": round(float(sh), 3), "gain_db": None if g != g else round(float(g), 1),
            "rise_db": round(float(rise), 1), "rise_any_db": round(float(rise0), 1),
            "hf": round(float(E[f > 6000].sum() / max(E.sum(), 1e-30)), 3),
            "sharp": None if sharp_share is None else round(sharp_share(clk), 3)}


def run_file(x: np.ndarray, detail: bool) -> list[dict]:
    from mixes.clicks import detect_impulsive
    from mixes.click_masking import audibility
    out = []
    for c in range(x.shape[0]):
        imp = detect_impulsive(x[c], fs=FS)
        aud = audibility(x[c], imp, fs=FS, other=x[1 - c])
        for k in np.flatnonzero(aud > 0.0):
            r = {"time_s": round(imp.onset[k] / FS, 5), "channel": c, "aud_db": round(float(aud[k]), 1),
                 "level_db": round(float(imp.level_db[k]), 1)}
            if detail:
                r.update(diagnose(x, c, imp, int(k)))
            out.append(r)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--gens", default=",".join(GENS))
    ap.add_argument("--per-style", type=int, default=1)
    ap.add_argument("--seed0", type=int, default=1300)
    ap.add_argument("--levels", default="0,-20", help="dB, comma-separated")
    ap.add_argument("--repro", action="store_true", help="add songs5 707 (the brief's repro)")
    ap.add_argument("--json", default="")
    ap.add_argument("-q", action="store_true", help="counts only (no per-report diagnosis)")
    ap.add_argument("--styles", default="", help="comma-separated styles only (same seeds as the full run), "
                    "e.g. metal,funk")
    a = ap.parse_args()
    levels = [float(v) for v in a.levels.split(",")]
    rows, by_gen, files = [], {}, {}
    cpu = 0.0
    for gen, seed, st in material(a.gens.split(","), a.per_style, a.seed0, a.repro,
                                   tuple(v for v in a.styles.split(",") if v)):
        x0 = song(gen, seed, st)
        for lv in levels:
            x = (x0 * np.float32(10 ** (lv / 20))).astype(np.float32)
            t0 = time.process_time()
            rep = run_file(x, not a.q)
            cpu += time.process_time() - t0
            by_gen[gen] = by_gen.get(gen, 0) + len(rep)
            files[gen] = files.get(gen, 0) + 1
            print(f"{gen:9s} {seed} {str(st):10s} {lv:+4.0f} dB: {len(rep)}", flush=True)
            for r in rep:
                print("    " + " ".join(f"{k}={v}" for k, v in r.items()), flush=True)
                rows.append({"gen": gen, "seed": seed, "style": st, "file_db": lv, **r})
    print("== reports on clean files: " + ", ".join(f"{g} {by_gen[g]}/{files[g]}" for g in by_gen)
          + f"; total {sum(by_gen.values())} on {sum(files.values())} files; detector CPU {cpu:.1f} s")
    if a.json:
        Path(a.json).write_text(json.dumps({"by_gen": by_gen, "files": files, "reports": rows}, indent=1))


if __name__ == "__main__":
    main()
