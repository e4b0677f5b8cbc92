"""Accuracy of the click detector on real and synthesized music (recall / precision by audibility).

Clicks of every shape (single sample, doublet, bursts of 0.1-1 ms, either sign) at -45 to
-12 dBFS are planted in: the real piano recording with synthetic hi-hats and drums; songs from
:mod:`mixes.songs` (several seeds and keys); the same songs 30 dB quieter; fades into
near-silence (reverb-tail-like decays).  Some clicks come in pairs 10-50 ms apart.  The truth
for "should be found" is the audibility of the planted click computed from the clean programme
and the known click (:func:`mixes.clicks.click_audibility_db`); recall counts clicks above
0 dB, precision counts reports that match no planted click (reports the clean material already
gives are listed as its own clicks and left out: song 105's kick has a rectangular 2 ms
beater-noise burst, reported as a pop where pads and voice carry the level).  Clicks reported
as a splice (``discontinuity``) are found but mis-sorted: a second recall figure counts them.

    .venv/bin/python benchmarks/eval_clicks.py [--songs 6] [--clicks 80]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mixes.clicks import click_audibility_db  # noqa: E402
from mixes.renderchecks import render_checks  # noqa: E402

PIANO = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "pyloudnorm-piano" / "piano.wav"


def drums(n: int, fs: int, rng, *, bpm: float = 120.0, level: float = 0.15) -> np.ndarray:
    """Hi-hats on eighths (high-passed noise, 20-60 ms decay), kick and snare (stereo)."""
    from scipy.signal import butter, sosfilt
    y = np.zeros((2, n))
    sos = butter(4, 6000, "hp", fs=fs, output="sos")
    eighth = int(60 / bpm / 2 * fs)
    t = np.arange(int(1.2 * fs)) / fs
    for k, p in enumerate(range(int(0.05 * fs), n - t.size, eighth)):
        hat = sosfilt(sos, rng.standard_normal(t.size)) * np.exp(-t / rng.uniform(0.02, 0.06)) * level
        y[:, p:p + t.size] += hat * np.array([[0.8], [1.0]])
        if k % 4 == 0:
            y[:, p:p + t.size] += 2 * level * np.sin(2 * np.pi * (50 * t + 8 * (1 - np.exp(-t / 0.04)))) \
                * np.exp(-t / 0.12)
        if k % 4 == 2:
            y[:, p:p + t.size] += 1.2 * level * rng.standard_normal(t.size) * np.exp(-t / 0.08)
    return y


def click_shape(rng, fs: int) -> np.ndarray:
    kind = rng.integers(4)
    if kind == 0:
        c = np.array([1.0])
    elif kind == 1:
        c = np.zeros(int(rng.integers(2, 6)))
        c[0], c[-1] = 1.0, rng.uniform(-1, 1)
    elif kind == 2:
        c = np.array([0.6, 1.0, -0.5])
    else:                                       # a short burst, 0.1-1 ms
        m = int(rng.uniform(0.0001, 0.001) * fs) + 1
        c = rng.standard_normal(m) * np.hanning(m + 2)[1:-1]
    c = c / np.abs(c).max()
    return c * rng.choice([-1.0, 1.0])


def plant(x: np.ndarray, fs: int, rng, n_clicks: int, levels=(-45.0, -12.0)):
    """Add clicks; returns the dirty programme and [(time_s, channel, audibility_db)]."""
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
            c = click_shape(rng, fs) * 10 ** (rng.uniform(*levels) / 20)
            aud = click_audibility_db(x[ch], c, q, fs=fs)
            y[ch, q:q + c.size] += c
            truth.append((q / fs, ch, aud))
    return y, truth


def score(found, truth, own=(), tol_s=0.002):
    """Recall over audible planted clicks; false = reports matching neither a planted click nor
    one of the material's own clicks (``own``: what the clean material already reports)."""
    audible = [t for t in truth if t[2] > 0]
    hit = [any(abs(t - f.time_s) <= tol_s and f.channel == c for f in found) for t, c, _ in audible]
    known = list(truth) + [(o.time_s, o.channel, 0.0) for o in own]
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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--songs", type=int, default=6)
    ap.add_argument("--clicks", type=int, default=80)
    ap.add_argument("--verbose", action="store_true")
    a = ap.parse_args()
    rng = np.random.default_rng(1)
    tot = np.zeros(5, int)
    for name, x, fs in materials(a.songs):
        clean = render_checks(x, fs=fs)
        y, truth = plant(x, fs, rng, min(a.clicks, int(x.shape[1] / fs / 0.07)))
        r = render_checks(y, fs=fs)
        h, n, fa, nf, missed, false = score(r.clicks, truth, clean.clicks)
        # clicks reported as a splice (kind "discontinuity") are found but mis-sorted: counted apart
        disc = [a for a in r.artifacts if a.kind == "discontinuity"]
        h2 = score(list(r.clicks) + disc, truth, clean.clicks)[0]
        tot += [h, n, fa, nf, h2]
        print(f"{name:22s} clean: {len(clean.clicks)} own clicks | planted {len(truth)}, audible {n}: "
              f"recall {h / max(n, 1):.3f} (with splice reports {h2 / max(n, 1):.3f}), "
              f"false {fa}/{nf} (precision {(nf - fa) / max(nf, 1):.3f})")
        if a.verbose:
            for m in missed:
                print("   missed", m)
            for f in false:
                print("   false", f)
            for ev in clean.clicks:
                print("   clean", ev)
    h, n, fa, nf, h2 = tot
    print(f"ALL: recall {h / max(n, 1):.3f} ({h}/{n}; {h2 / max(n, 1):.3f} counting clicks reported as "
          f"splices), precision {(nf - fa) / max(nf, 1):.3f} ({nf - fa}/{nf})")


if __name__ == "__main__":
    main()
