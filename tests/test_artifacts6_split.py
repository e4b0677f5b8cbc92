"""Clicks and splices told apart (issue 12, session 7): a click returns, a splice stays.

A click is a short pulse added to the music: its first differences add up to zero over its few
samples (a single sample, a doublet, a 3-sample shape) or within 3 ms (a held step, a burst).
A splice is a step of the waveform that stays.  Before this, clicks in loud, bright music
(3-sample shapes and doublets about 6-10x the music's sample-to-sample motion) were reported as
``discontinuity`` by the render checks and lost as clicks (31 of 2067 found clicks in
``benchmarks/eval_clicks.py``); a realistic splice in a bright songs3 song (7.4x) was missed
and reported as two clicks.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from mixes.artifact_splice import STAY_MIN, splice_stays, stay_fraction
from mixes.renderchecks import render_checks

FS = 48000


def _tone(n: int, seed: int = 0) -> np.ndarray:
    """A low, smooth programme (two sines), so the analytic share is nearly exact."""
    t = np.arange(n) / FS
    rng = np.random.default_rng(seed)
    return 0.1 * np.sin(2 * np.pi * rng.uniform(80, 300) * t) + 0.05 * np.sin(2 * np.pi * rng.uniform(300, 900) * t)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_stay_fraction_is_one_for_a_step_and_zero_for_every_click_shape(seed):
    n, p = 4000, 2000
    x = _tone(n, seed)
    y = x.copy()
    y[p + 1:] += 0.05                      # a step between x[p] and x[p + 1]: d[p]
    # analytic share 1 (the music's own difference is removed by the running median; a
    # 900 Hz sine moves its first difference by < 1 % of the step over 8 samples)
    assert stay_fraction(y, p) == pytest.approx(1.0, abs=0.05)
    assert stay_fraction(np.vstack([y, 0.5 * y]), p) == pytest.approx(1.0, abs=0.05)
    shapes = [np.array([1.0]), np.array([0.6, 1.0, -0.5])]
    shapes += [np.r_[1.0, np.zeros(k), r] for k in range(0, 4) for r in (-0.8, 0.3, 0.9)]
    for c in shapes:
        y = x.copy()
        y[p + 1: p + 1 + c.size] += 0.05 * c
        d = np.abs(np.diff(y - x))
        q = int(np.argmax(d))                # the click's largest edge, as a detector picks it
        # analytic share 0 at every horizon that holds the click; the horizons shorter than a
        # doublet's spacing hold a part: at most (1 + 1 + 0) / 3 of it on average
        assert stay_fraction(y, q) < STAY_MIN, c
        assert not splice_stays(y, q), c
    y = x.copy()
    y[p + 1:] += 0.05
    assert splice_stays(y, p) and splice_stays(np.vstack([y, -0.3 * y]), p)


def test_a_single_sample_in_bright_music_returns_at_the_next_sample():
    """A click only ~6x the music's motion, in white-ish high-frequency music: over +-4 samples
    the music's own excess is +-0.5 of it, but the next sample goes back by ~1 (a splice's
    neighbours went back by at most 0.26 of the jump on 132 realistic cuts)."""
    rng = np.random.default_rng(7)
    n, p = 4000, 2000
    x = 0.02 * rng.standard_normal(n)                 # rms first difference 0.028
    for a in (0.17, -0.2):
        y = x.copy()
        y[p + 1] += a                                 # d[p] = +a, d[p + 1] = -a
        assert not splice_stays(y, p) and not splice_stays(y, p + 1)


def test_a_slope_step_stays_in_the_second_difference_and_a_click_does_not():
    n, p = 4000, 2000
    x = _tone(n, 3)
    y = x.copy()
    y[p + 1:] += 0.004 * np.arange(1, n - p)   # the slope steps: d[p] on, so d2[p - 1]
    assert stay_fraction(y, p - 1, order=2) == pytest.approx(1.0, abs=0.05)
    y = x.copy()
    y[p + 1] += 0.05                            # an impulse: d2 = a, -2a, a
    assert abs(stay_fraction(y, p, order=2)) < 0.2


# clicks of eval_clicks.py that the render checks had lost as "discontinuity" (mixes.songs seed
# 105, key C#, 12 s; channel 0): (time_s, samples added at that time)
LOST = [
    (2.04, [0.02723, 0.04539, -0.02269]),          # 3-sample, 12.8 dB above masking
    (2.64, [-0.07774, 0.0, 0.0, 0.0, 0.02946]),     # doublet 4 apart, 6.6 dB
    (5.40, [0.01545, 0.0, 0.0, -0.00382]),          # doublet 3 apart, 10.1 dB
]


@pytest.fixture(scope="module")
def song105():
    from mixes.songs import make_song
    return make_song(105, duration_s=12.0, key=1).mix()


@pytest.mark.parametrize("t_s, click", LOST)
def test_clicks_in_a_loud_song_are_clicks_not_splices(song105, t_s, click):
    q = int(round(t_s * FS))
    a = q - FS // 2
    y = song105[:, a: a + FS].copy()
    y[0, q - a: q - a + len(click)] += click
    r = render_checks(y, fs=FS)
    t = (q - a) / FS
    assert any(e.channel == 0 and abs(e.time_s - t) <= 0.002 for e in r.clicks), r.clicks
    assert not any(e.kind == "discontinuity" and abs(e.time_s - t) <= 0.003 for e in r.artifacts), r.artifacts


def _ratio(z: np.ndarray, c0: int) -> float:
    """The join's step against the rms first difference over 10 ms on the louder side."""
    w = int(0.010 * FS)
    step = z[:, c0] - z[:, c0 - 1]
    sides = [np.mean(np.diff(z[:, c0 - w: c0], axis=1) ** 2, axis=1).sum(),
             np.mean(np.diff(z[:, c0: c0 + w], axis=1) ** 2, axis=1).sum()]
    return math.sqrt(float(np.sum(step ** 2)) / max(max(sides), 1e-30))


def test_a_bright_songs3_splice_is_a_splice_not_two_clicks():
    """songs3 seed 1006 (fireside, 20 s): eval_songs3's cut, 7.4x the louder side's motion."""
    from mixes.songs3 import make_song
    x = make_song(1006, duration_s=20.0).mix()
    t1, t2 = 246556, 804463                       # the cut of eval_songs3.py (rng 5, seventh song)
    z = np.concatenate([x[:, :t1], x[:, t2:]], axis=1)[:, t1 - FS: t1 + FS]
    assert _ratio(z, FS) == pytest.approx(7.4, abs=0.1)
    r = render_checks(z, fs=FS)
    assert any(e.kind == "discontinuity" and abs(e.time_s - 1.0) <= 0.001 for e in r.artifacts), r.artifacts
    assert not any(abs(e.time_s - 1.0) <= 0.003 for e in r.clicks), r.clicks


@pytest.mark.parametrize("gen, seed", [("songs", 3), ("alt", 501), ("songs3", 2)])
def test_realistic_cuts_stay_splices(gen, seed):
    """Random cuts (no crossfade) whose step is >= 6x the louder side's motion: discontinuity
    at the join, not a click (the other direction of the split)."""
    if gen == "songs":
        from mixes.songs import make_song
    elif gen == "alt":
        from mixes.songs_alt import make_song
    else:
        from mixes.songs3 import make_song
    x = make_song(seed, duration_s=12.0).mix()
    rng = np.random.default_rng(seed)
    found = tried = 0
    for _ in range(40):
        c0 = int(rng.uniform(0.2, 0.45) * x.shape[1])
        c1 = int(rng.uniform(0.55, 0.9) * x.shape[1])
        z = np.concatenate([x[:, :c0], x[:, c1:]], axis=1)
        if _ratio(z, c0) < 6.0:
            continue
        z = z[:, c0 - FS // 2: c0 + FS // 2]
        r = render_checks(z, fs=FS)
        tried += 1
        found += any(e.kind == "discontinuity" and abs(e.time_s - 0.5) <= 0.001 for e in r.artifacts)
        if tried == 4:
            break
    assert tried >= 3
    assert found >= tried - 1, (found, tried)
