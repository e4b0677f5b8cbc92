"""Accuracy of the click detector on real and synthesized music (recall / precision by audibility).

Clicks of every shape (single sample, doublets 2-6 samples apart, a 3-sample shape, windowed
noise bursts of 0.2-2 ms, steps held 0.2-2 ms; either sign) at -45 to -12 dBFS are planted in:
the real piano recording, alone, with loud synthetic drums, and with hi-hat-like strokes (the
issue's case); songs from :mod:`mixes.songs` (several seeds and keys) at full level, 30 dB
quieter and fading into near-silence; near-silence; a breakbeat of sampled hits played with
+-10 ms timing jitter (:func:`kit`); songs from :mod:`mixes.songs_alt`, :mod:`mixes.songs3` and
:mod:`mixes.songs4` (when present; ``EVAL_CLICKS_SONGS4=n`` sets how many songs4 songs, one per
style for n = 9; ``EVAL_CLICKS_SONGS5=n`` adds n songs of :mod:`mixes.songs5`).  A quarter come
in pairs 10-50 ms apart (half at 16 ms).  The truth for "should be
found" is the audibility of the planted click computed from the clean programme and the known
click (:func:`mixes.clicks.click_audibility_db`, independent of the detector); recall counts
clicks above 0 dB, precision counts reports that match no planted click (reports the clean
material already gives are counted apart, per class, as "clean reports").  A second recall
figure also counts a click reported under another kind (``discontinuity`` or
``digital_distortion``).  The per-class table is printed and written as JSON.

    .venv/bin/python benchmarks/eval_clicks.py [--songs 6] [--clicks 80] [--verbose] [--json PATH]
        [--tol-ms 2] [--only piano,kit]    # match tolerance; a subset of the materials (same plants)
    .venv/bin/python benchmarks/eval_clicks.py --clicks-only --json ""    # the detector alone
    EVAL_CLICKS_ROOT=/path/to/other/checkout .venv/bin/python benchmarks/eval_clicks.py --json ""
    EVAL_CLICKS_TF=0|1 ... --clicks-only    # mixes.clicks.TF_PATH off / on (the same tree: A/B)
    EVAL_CLICKS_PLANT_SEED=11 ... --clicks-only    # fresh plants (default 1: the reported table)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

import os  # noqa: E402

ROOT = Path(os.environ.get("EVAL_CLICKS_ROOT", Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(ROOT))

import json  # noqa: E402

from mixes.clicks import click_audibility_db  # noqa: E402
from mixes.renderchecks import render_checks  # noqa: E402

PIANO = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "pyloudnorm-piano" / "piano.wav"


def drums(n: int, fs: int, rng, *, bpm: float = 120.0, level: float = 0.15, kick_snare: bool = True) -> np.ndarray:
    """Hi-hats on eighths (high-passed noise, 20-60 ms decay), kick and snare (stereo)."""
    from scipy.signal import butter, sosfilt
    y = np.zeros((2, n))
    sos = butter(4, 6000, "hp", fs=fs, output="sos")
    eighth = int(60 / bpm / 2 * fs)
    t = np.arange(int(1.2 * fs)) / fs
    for k, p in enumerate(range(int(0.05 * fs), n - t.size, eighth)):
        hat = sosfilt(sos, rng.standard_normal(t.size)) * np.exp(-t / rng.uniform(0.02, 0.06)) * level
        y[:, p:p + t.size] += hat * np.array([[0.8], [1.0]])
        if k % 4 == 0 and kick_snare:
            y[:, p:p + t.size] += 2 * level * np.sin(2 * np.pi * (50 * t + 8 * (1 - np.exp(-t / 0.04)))) \
                * np.exp(-t / 0.12)
        if k % 4 == 2 and kick_snare:
            y[:, p:p + t.size] += 1.2 * level * rng.standard_normal(t.size) * np.exp(-t / 0.08)
    return y


def kit(seed: int, fs: int = 48000, dur_s: float = 12.0) -> np.ndarray:
    """A breakbeat of *sampled* hits (the same waveform every time, as in most produced music):
    kick with a beater click, snare, ghost snares, hats, a rim click with a 3-sample spike;
    played with +-10 ms timing jitter over a pad and a sine bass.  Stereo (2, n)."""
    from scipy import signal
    rng = np.random.default_rng(1000 + seed)
    n = int(dur_s * fs)
    y = np.zeros(n)
    six = 60.0 / rng.uniform(85, 120) / 4
    t = np.arange(int(0.3 * fs)) / fs
    rim = signal.sosfilt(signal.butter(2, [1500, 6000], "band", fs=fs, output="sos"),
                         rng.standard_normal(t.size)) * np.exp(-t / 0.006)
    rim[:3] += [0.8, -0.5, 0.2]
    kick = np.sin(2 * np.pi * (55 * t + 30 * (1 - np.exp(-t / 0.03)))) * np.exp(-t / 0.15)
    kick[:int(0.0008 * fs)] += 0.4 * rng.standard_normal(int(0.0008 * fs))
    snare = np.tanh(1.5 * (0.5 * np.sin(2 * np.pi * 190 * t) * np.exp(-t / 0.05)
                           + 0.5 * rng.standard_normal(t.size) * np.exp(-t / 0.07)))
    hat = signal.sosfilt(signal.butter(4, 7000, "hp", fs=fs, output="sos"), rng.standard_normal(t.size)) \
        * np.exp(-t / 0.03)
    fade = np.minimum(1.0, (t.size - 1 - np.arange(t.size)) / (0.02 * fs))   # no cut tails (they click)
    rim, kick, snare, hat = rim * fade, kick * fade, snare * fade, hat * fade
    k = 0
    while True:
        i = int((k * six + rng.uniform(-0.01, 0.01) + 0.02) * fs)
        if i + t.size >= n:
            break
        st = k % 16
        hits = [(kick, 0.3)] * (st in (0, 10)) + [(snare, 0.25)] * (st in (4, 12)) \
            + [(snare, 0.05)] * (st in (7, 15) and rng.random() < 0.6) + [(hat, 0.05)] * (st % 2 == 0) \
            + [(rim, 0.15 * rng.uniform(0.7, 1.0))] * (st in (3, 11, 14))
        for h, g in hits:
            y[i:i + h.size] += g * h
        k += 1
    tt = np.arange(n) / fs
    pad = sum(np.sin(2 * np.pi * f * tt) / (j + 1) for j, f in enumerate([220, 277.2, 329.6, 440, 554.4])) * 0.03
    x = y + pad + 0.1 * np.sin(2 * np.pi * 55 * tt)
    return np.vstack([x, 0.9 * x + 0.01 * pad])


def click_shape(rng, fs: int) -> np.ndarray:
    """Single sample, doublet (2-6 samples apart), a 3-sample shape, a windowed-noise burst of
    0.2-2 ms, or a step held 0.2-2 ms (a rectangular pulse: two discontinuities); either sign."""
    return click_shape_named(rng, fs)[1]


SHAPES = ("single", "doublet", "3-sample", "burst", "step")


def click_shape_named(rng, fs: int) -> tuple[str, np.ndarray]:
    """:func:`click_shape` with the shape's name (``SHAPES``; bursts and steps get their width
    class: ``burst<1ms``, ``burst>=1ms``, ``step<1ms``, ``step>=1ms``)."""
    kind = rng.integers(5)
    if kind == 0:
        c = np.array([1.0])
    elif kind == 1:
        c = np.zeros(int(rng.integers(2, 6)))
        c[0], c[-1] = 1.0, rng.uniform(-1, 1)
    elif kind == 2:
        c = np.array([0.6, 1.0, -0.5])
    elif kind == 3:                             # a short burst, 0.2-2 ms
        m = int(rng.uniform(0.0002, 0.002) * fs) + 1
        c = rng.standard_normal(m) * np.hanning(m + 2)[1:-1]
    else:                                       # a step held 0.2-2 ms
        c = np.ones(int(rng.uniform(0.0002, 0.002) * fs) + 1)
    c = c / np.abs(c).max()
    name = SHAPES[int(kind)]
    if kind >= 3:
        name += "<1ms" if c.size < 0.001 * fs else ">=1ms"
    return name, c * rng.choice([-1.0, 1.0])


def plant(x: np.ndarray, fs: int, rng, n_clicks: int, levels=(-45.0, -12.0)):
    """Add clicks; returns the dirty programme and [(time_s, channel, audibility_db, shape)]."""
    y = x.copy()
    margin = int(0.06 * fs)
    truth = []
    slots = np.sort(rng.choice(np.arange(margin, x.shape[1] - margin, int(0.06 * fs)), n_clicks, replace=False))
    for p in slots:
        ch = int(rng.integers(x.shape[0]))
        group = [int(p)]
        if rng.random() < 0.25:                   # a second click 10-50 ms later (16 ms often)
            group.append(int(p + (0.016 if rng.random() < 0.5 else rng.uniform(0.010, 0.050)) * fs))
        for q in group:
            if q + 64 >= x.shape[1]:
                continue
            shape, c = click_shape_named(rng, fs)
            c = c * 10 ** (rng.uniform(*levels) / 20)
            aud = click_audibility_db(x[ch], c, q, fs=fs)
            y[ch, q:q + c.size] += c
            truth.append((q / fs, ch, aud, shape))
    return y, truth


TOL_S = 0.002


def score(found, truth, own=(), tol_s=None, min_db=0.0):
    """Recall over audible planted clicks (audibility > ``min_db``); false = reports matching
    neither a planted click nor one of the material's own clicks (``own``: what the clean
    material already reports)."""
    tol_s = TOL_S if tol_s is None else tol_s
    audible = [t for t in truth if t[2] > min_db]
    hit = [any(abs(t[0] - f.time_s) <= tol_s and f.channel == t[1] for f in found) for t in audible]
    known = [t[:3] for t in truth] + [(o.time_s, o.channel, 0.0) for o in own]
    found = [f for f in found if not any(abs(o.time_s - f.time_s) <= tol_s and o.channel == f.channel for o in own)]
    false = [f for f in found if not any(abs(t - f.time_s) <= tol_s and f.channel == c for t, c, _ in known)]
    missed = [a for a, h in zip(audible, hit) if not h]
    return sum(hit), len(audible), len(false), len(found), missed, false


def materials(n_songs: int):
    rng = np.random.default_rng(7)
    if PIANO.exists():
        x, fs = sf.read(str(PIANO), dtype="float64", always_2d=True)
        x = x.T.copy()
        yield "piano", x, fs
        yield "piano+drums", x + drums(x.shape[1], fs, rng), fs
        yield "piano+hats", x + drums(x.shape[1], fs, rng, level=0.04, kick_snare=False), fs
    from mixes.songs import make_song
    for seed in range(n_songs):
        s = make_song(100 + seed, duration_s=12.0, key=(seed * 5) % 12)
        m = s.mix()
        yield f"song{seed} ({s.key})", m, 48000
        if seed % 2 == 0:
            yield f"song{seed} -30 dB", m * 10 ** (-30 / 20), 48000
        else:
            t = np.arange(m.shape[1]) / 48000
            env = np.where(t < 4, 1.0, 10 ** (-60 / 20 * (t - 4) / 2.0))   # decay 60 dB per 2 s
            yield f"song{seed} fade", m * env + 10 ** (-96 / 20) * rng.standard_normal(m.shape), 48000
        if seed == 0:
            q = np.zeros_like(m) + 10 ** (-100 / 20) * rng.standard_normal(m.shape)
            yield "near-silence", q, 48000
    for seed in range(3):
        yield f"kit{seed} (sampled, jitter)", kit(seed), 48000
    try:
        from mixes.songs_alt import make_song as make_alt
    except ImportError:
        return
    for seed in range(n_songs):
        s = make_alt(300 + seed, duration_s=12.0)
        yield f"alt{seed} ({s.key})", s.mix(), 48000
    try:
        from mixes.songs3 import make_song as make3
    except ImportError:
        return
    if not os.environ.get("EVAL_CLICKS_NO_SONGS3"):
        for seed in range(n_songs):
            try:
                s = make3(500 + seed, duration_s=12.0)
            except Exception as exc:      # (songs3 is new and written by another helper)
                print(f"songs3 seed {500 + seed}: {exc!r}", file=sys.stderr)
                continue
            yield f"s3_{seed} ({s.key})", s.mix(), 48000
    # a fourth generator (physical and modal models, nine styles, bus compressors and limiters),
    # written by another helper and never tuned on here; last, so the plants above are unchanged
    try:
        from mixes.songs4 import make_song as make4
    except ImportError:
        return
    if os.environ.get("EVAL_CLICKS_NO_SONGS4"):
        return
    for seed in range(int(os.environ.get("EVAL_CLICKS_SONGS4", n_songs))):
        try:
            s = make4(700 + seed, duration_s=12.0)
        except Exception as exc:
            print(f"songs4 seed {700 + seed}: {exc!r}", file=sys.stderr)
            continue
        yield f"s4_{seed} ({s.style})", s.mix(), 48000
    # a fifth generator (songs5: measured-room reverb, a real piano layer, mastering); last, and
    # only when asked (EVAL_CLICKS_SONGS5=n songs, seeds 500+), so the plants above are unchanged
    n5 = int(os.environ.get("EVAL_CLICKS_SONGS5", 0))
    if n5:
        try:
            from mixes.songs5 import make_song as make5
        except ImportError:
            return
        for seed in range(n5):
            s = make5(500 + seed, duration_s=12.0)
            yield f"s5_{seed} ({getattr(s, 'style', '')})", s.mix(), 48000


def material_class(name: str) -> str:
    """The class a material belongs to, for the per-class table."""
    if name.startswith("s3_"):
        return "songs3 (full level)"
    if name.startswith("s4_"):
        return "songs4 (full level)"
    if name.startswith("s5_"):
        return "songs5 (full level)"
    if name.startswith("alt"):
        return "songs_alt (full level)"
    if name.startswith("kit"):
        return "sampled kit + jitter"
    if name.startswith("song"):
        return "songs " + ("-30 dB" if "-30" in name else "fade" if "fade" in name else "(full level)")
    return name


def _clicks_only(x: np.ndarray, *, fs: int):
    """The click detector alone, shaped like a RenderReport (clicks, artifacts)."""
    from types import SimpleNamespace
    from mixes.clicks import find_clicks
    # (the other channel of a stereo file, as render_checks passes it: mixes.click_onset)
    import inspect
    if "other" not in inspect.signature(find_clicks).parameters:       # (an older tree: EVAL_CLICKS_ROOT)
        return SimpleNamespace(clicks=[e for c in range(x.shape[0]) for e in find_clicks(x[c], fs=fs, channel=c)],
                               artifacts=[])
    ev = [e for c in range(x.shape[0])
          for e in find_clicks(x[c], fs=fs, channel=c, other=x[1 - c] if x.shape[0] == 2 else None)]
    return SimpleNamespace(clicks=ev, artifacts=[])


def _nearest(found, t: float, ch: int, span_s: float = 0.005):
    """Signed offset (s) of the report nearest to a planted click on its channel, or None."""
    d = [f.time_s - t for f in found if f.channel == ch and abs(f.time_s - t) <= span_s]
    return min(d, key=abs) if d else None


def _recall_rows(recs: list[dict], key: str) -> dict:
    """Recall over planted clicks above 0, 1 and 3 dB of audibility, grouped by ``key``."""
    out: dict = {}
    for g in sorted({r[key] for r in recs}):
        rs = [r for r in recs if r[key] == g]
        row = {}
        for lim in (0.0, 1.0, 3.0):
            sel = [r for r in rs if r["aud"] > lim]
            row[f"n>{lim:g}dB"] = len(sel)
            row[f"recall>{lim:g}dB"] = sum(r["hit"] for r in sel) / max(len(sel), 1)
        out[g] = row
    return out


def _print_recall(title: str, table: dict) -> None:
    print(f"\n{title:26s} {'n>0dB':>6s} {'rec>0':>6s} {'n>1dB':>6s} {'rec>1':>6s} {'n>3dB':>6s} {'rec>3':>6s}")
    for g, r in table.items():
        print(f"{g:26s} {r['n>0dB']:6d} {r['recall>0dB']:6.3f} {r['n>1dB']:6d} {r['recall>1dB']:6.3f} "
              f"{r['n>3dB']:6d} {r['recall>3dB']:6.3f}")


def main() -> None:
    global TOL_S
    ap = argparse.ArgumentParser()
    ap.add_argument("--songs", type=int, default=6)
    ap.add_argument("--clicks", type=int, default=80)
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("--clicks-only", action="store_true",
                    help="the click detector alone (mixes.clicks.find_clicks per channel), without the "
                         "render checks' sorting into splices and bursts: for A/B runs of the detector")
    ap.add_argument("--tol-ms", type=float, default=2.0,
                    help="a report matches a planted click when within this of its start (ms)")
    ap.add_argument("--only", default="", help="comma-separated material-name prefixes (quick runs)")
    ap.add_argument("--json", default=str(Path(__file__).resolve().parent / "results" / "eval_clicks.json"))
    a = ap.parse_args()
    TOL_S = a.tol_ms / 1000.0
    if os.environ.get("EVAL_CLICKS_TF") in ("0", "1"):     # the time-frequency path off / on (A/B)
        import mixes.clicks as _c
        _c.TF_PATH = os.environ["EVAL_CLICKS_TF"] == "1"
    # (EVAL_CLICKS_PLANT_SEED=n: other plants in the same materials, for figures on plants no one
    # tuned on; the default 1 is the table every session reported)
    rng = np.random.default_rng(int(os.environ.get("EVAL_CLICKS_PLANT_SEED", 1)))
    classes: dict[str, np.ndarray] = {}
    rows = []
    recs: list[dict] = []
    check = _clicks_only if a.clicks_only else render_checks
    only = [p for p in a.only.split(",") if p]
    for name, x, fs in materials(a.songs):
        skip = bool(only) and not any(name.startswith(p) for p in only)
        if skip:   # (the plants still draw from rng, so a subset sees the same clicks as a full run)
            plant(x, fs, rng, min(a.clicks, int(x.shape[1] / fs / 0.07)))
            continue
        clean = check(x, fs=fs)
        y, truth = plant(x, fs, rng, min(a.clicks, int(x.shape[1] / fs / 0.07)))
        r = check(y, fs=fs)
        h, n, fa, nf, missed, false = score(r.clicks, truth, clean.clicks)
        # clicks reported as a splice or a burst (found, but under another kind): counted apart
        other = [e for e in r.artifacts if e.kind in ("discontinuity", "digital_distortion")]
        h2 = score(list(r.clicks) + other, truth, clean.clicks)[0]
        own = len(clean.clicks) + len(clean.artifacts)
        v = np.array([h, n, fa, nf, h2, own])
        cls = material_class(name)
        classes[cls] = classes.get(cls, 0) + v
        for t in truth:
            if t[2] > 0:
                off = _nearest(r.clicks, t[0], t[1])
                recs.append({"material": name, "class": cls, "shape": t[3], "aud": float(t[2]),
                             "time_s": float(t[0]), "channel": int(t[1]),
                             "hit": off is not None and abs(off) <= TOL_S, "offset_s": off})
        rows.append({"material": name, "class": cls, "audible": n, "found": h, "found_any_kind": h2,
                     "reports": nf, "false": fa, "clean_reports": own})
        print(f"{name:24s} clean: {own} reports | planted {len(truth)}, audible {n}: recall {h / max(n, 1):.3f} "
              f"(any kind {h2 / max(n, 1):.3f}), false {fa}/{nf} (precision {(nf - fa) / max(nf, 1):.3f})",
              flush=True)
        if a.verbose:
            for m in missed:
                print(f"   missed {m[0]:.4f} ch{m[1]} {m[2]:+.1f} dB {m[3]}  nearest report "
                      f"{_nearest(r.clicks, m[0], m[1])}")
            for f in false:
                near = [(round(t[0] - f.time_s, 4), t[3], round(t[2], 1)) for t in truth
                        if t[1] == f.channel and abs(t[0] - f.time_s) < 0.02]
                print("   false", f, "planted within 20 ms (offset s, shape, dB):", near)
            for ev in list(clean.clicks) + list(clean.artifacts):
                print("   clean", ev)
    print()
    print(f"{'class':26s} {'audible':>7s} {'recall':>7s} {'any kind':>8s} {'precision':>9s} {'clean reports':>13s}")
    tot = np.zeros(6, int)
    table = {}
    for cls, (h, n, fa, nf, h2, own) in classes.items():
        tot += [h, n, fa, nf, h2, own]
        table[cls] = {"audible": int(n), "recall": h / max(n, 1), "recall_any_kind": h2 / max(n, 1),
                      "precision": (nf - fa) / max(nf, 1), "clean_reports": int(own)}
        print(f"{cls:26s} {n:7d} {h / max(n, 1):7.3f} {h2 / max(n, 1):8.3f} {(nf - fa) / max(nf, 1):9.3f} {own:13d}")
    h, n, fa, nf, h2, own = tot
    print(f"{'ALL':26s} {n:7d} {h / max(n, 1):7.3f} {h2 / max(n, 1):8.3f} {(nf - fa) / max(nf, 1):9.3f} {own:13d}")
    table["ALL"] = {"audible": int(n), "recall": h / max(n, 1), "recall_any_kind": h2 / max(n, 1),
                    "precision": (nf - fa) / max(nf, 1), "clean_reports": int(own)}
    by_class = _recall_rows(recs + [dict(r, **{"class": "ALL"}) for r in recs], "class")
    by_shape = _recall_rows(recs, "shape")
    _print_recall("class (recall by margin)", by_class)
    _print_recall("shape (recall by margin)", by_shape)
    offs = np.array([r["offset_s"] for r in recs if r["hit"]]) * 1000
    if offs.size:
        print(f"\nreport time - planted start over found clicks (ms): median {np.median(offs):+.3f}, "
              f"|offset| > 0.5 ms: {np.mean(np.abs(offs) > 0.5):.3f}, > 1 ms: {np.mean(np.abs(offs) > 1):.3f}, "
              f"max {offs.max():+.2f} / min {offs.min():+.2f}")
    if a.json:
        Path(a.json).parent.mkdir(parents=True, exist_ok=True)
        Path(a.json).write_text(json.dumps({"classes": table, "recall_by_margin": by_class,
                                            "recall_by_shape": by_shape, "materials": rows,
                                            "planted_audible": recs}, indent=1))


if __name__ == "__main__":
    main()
