"""A dense kit in a full mix is music: its hits recur on the grid, diluted by the other parts.

metal9: songs5 metal (double kick on 16ths, snare, ride, double-tracked distorted guitars) gave
11 click reports at 7.3-11.0 s (seed 1304, both channels): coherent two-channel kick/snare hits
that raise no third-octave band 3 dB (the previous hits fill the windows before) and whose
context (the 16 ms after) matches the other hits of the same drum only at 0.2-0.55, the guitars
that do not repeat with it diluting the drum's decay (``mixes.click_recur.CONTEXT_RHO_GRID``,
``RECUR_GRID_MIN``: three other hits).  Six go; five remain (fewer than three matching hits, or
no core match): they are listed below as what is still wrong, not hidden.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from mixes.click_masking import audibility
from mixes.click_recur import recurs
from mixes.clicks import click_audibility_db, detect_impulsive

FS = 48000
# the dense-kick reports of seed 1304 before metal9 (time s, channel)
GONE = [(8.61056, 0), (7.52308, 1), (8.06677, 1), (8.42927, 1), (10.96723, 1), (10.9694, 1)]
STILL = [(8.06687, 0), (8.24794, 0), (8.52013, 0), (9.78883, 0), (7.34219, 1)]   # see the docstring


@lru_cache(maxsize=1)
def _metal() -> np.ndarray:
    from mixes.songs5 import make_song
    return np.asarray(make_song(1304, duration_s=12.0, style="metal").mix(), dtype=np.float32)


def _reports(x: np.ndarray) -> list[tuple[float, int, float]]:
    out = []
    for c in range(x.shape[0]):
        imp = detect_impulsive(x[c], fs=FS)
        aud = audibility(x[c], imp, fs=FS, other=x[1 - c])
        out += [(imp.onset[k] / FS, c, float(aud[k])) for k in range(len(imp.onset)) if aud[k] > 0.0]
    return out


def _near(rep, t, c, tol=0.001):
    return [r for r in rep if r[1] == c and abs(r[0] - t) <= tol]


def test_dense_metal_kit_is_not_reported():
    rep = _reports(_metal())
    for t, c in GONE:
        assert not _near(rep, t, c), (t, c, rep)
    # nothing else than the two known leftovers
    assert all(any(abs(r[0] - t) <= 0.001 and r[1] == c for t, c in STILL) for r in rep), rep


def test_clicks_planted_in_the_dense_metal_mix_are_found():
    x = _metal().astype(np.float64)
    y = x.copy()
    rng = np.random.default_rng(9)
    plants = []
    # one-sample, 3-sample clicks and 0.5-ms noise bursts in channel 0: two on kick hits the grid
    # test now takes for music (8.611 and 10.967 s; the kit and guitars mask anything under about
    # -9 dBFS there, so -6 dBFS), two between hits at -18 dBFS
    for t, kind, lv in ((8.61056, "3s", -6), (10.96723, "burst", -6), (9.0, "spike", -18), (10.5, "burst", -18)):
        q = int(round(t * FS))
        if kind == "spike":
            c = np.array([1.0])
        elif kind == "3s":
            c = np.array([1.0, -1.0, 1.0])
        else:
            c = rng.standard_normal(24) * np.hanning(26)[1:-1]
            c /= np.abs(c).max()
        c = c * 10 ** (lv / 20)
        plants.append((q / FS, click_audibility_db(x[0], c, q, fs=FS)))
        y[0, q:q + c.size] += c
    rep = _reports(y.astype(np.float32))
    for t, aud in plants:
        assert aud > 3.0, (t, aud)
        assert _near(rep, t, 0, 0.002), (t, aud, rep)


def _kit(n: int, rng: np.random.Generator, period: int, variants: list[np.ndarray]) -> np.ndarray:
    x = np.zeros(n)
    for j, q in enumerate(range(2000, n - 4000, period)):
        v = variants[j % len(variants)] * rng.uniform(0.85, 1.0)
        x[q:q + v.size] += v
    return x


def test_recurs_on_a_grid_under_a_wall_of_noise_but_a_click_does_not():
    rng = np.random.default_rng(3)
    n = 3 * FS
    t = np.arange(int(0.08 * FS)) / FS
    variants = []
    for k in range(3):                       # round-robin kick samples: a click and a sweep
        r = np.random.default_rng(100 + k)
        v = np.sin(2 * np.pi * np.cumsum(50 + 90 * np.exp(-t / 0.03)) / FS) * np.exp(-t / 0.05)
        v[:24] += 0.6 * r.standard_normal(24) * np.hanning(24)
        variants.append(0.5 * v)
    period = int(0.0906 * FS)
    kit = _kit(n, rng, period, variants)
    # a "guitar wall": loud broadband noise that does not repeat with the hits
    # (at this level the hits' 16-ms contexts match each other at under 0.7: CONTEXT_RHO alone
    # takes 1 of the 8 hits below for music, the grid test all 8)
    wall = np.convolve(rng.standard_normal(n), np.hanning(5) / 2.5, "same") * 0.3
    x = kit + wall
    hits = np.arange(2000, n - 4000, period)
    imp = detect_impulsive(x, fs=FS)
    partners = np.asarray(imp.partners)
    ev = hits[8:16]
    assert recurs(x, ev, np.full(ev.size, 0.001), partners, fs=FS).all()
    # a click between hits (its own 16 ms after are the wall and a kick's tail) does not recur
    y = x.copy()
    q = int(hits[11] + period // 2)
    y[q] += 0.5
    imp2 = detect_impulsive(y, fs=FS)
    assert not recurs(y, np.array([q]), np.array([0.0001]), np.asarray(imp2.partners), fs=FS,
                      others=np.asarray(imp2.onset))[0]
