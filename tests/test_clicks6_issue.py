"""Issue 12's own click example, and the low-band path's full-rate isolation (clicks6).

The issue: real piano with hi-hat-like percussion, 12 quiet clicks (-40 to -24 dBFS;
single-sample, doublet and short-burst shapes; two of them 16 ms apart).  The truth for "should
be found" is the oracle: the known click's audibility against the clean programme
(:func:`mixes.clicks.click_audibility_db`, independent of the detector).
"""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from scipy.signal import butter, sosfilt

from conftest import shared_data
from mixes.click_masking import audibility
from mixes.clicks import click_audibility_db, detect_impulsive, find_clicks


@pytest.fixture(scope="module")
def piano():
    x, fs = sf.read(str(shared_data("pyloudnorm-piano", "piano.wav")), dtype="float64", always_2d=True)
    return x.T.copy(), fs


def _hats(n, fs, rng, *, level=0.04, period_s=0.25, start_s=0.07):
    """Hi-hat-like strokes: noise high-passed at 6 kHz, 20-60 ms decay, one per ``period_s``."""
    sos = butter(4, 6000, "hp", fs=fs, output="sos")
    y = np.zeros((2, n))
    t = np.arange(int(0.6 * fs)) / fs
    for p in range(int(start_s * fs), n - t.size, int(period_s * fs)):
        y[:, p:p + t.size] += sosfilt(sos, rng.standard_normal(t.size)) * np.exp(-t / rng.uniform(0.02, 0.06)) * level
    return y


def _shape(kind, rng, fs):
    if kind == 0:                                        # single sample
        return np.array([1.0])
    if kind == 1:                                        # doublet, 1-4 samples apart
        c = np.zeros(int(rng.integers(2, 6)))
        c[0], c[-1] = 1.0, rng.uniform(-1.0, -0.5)
        return c
    m = int(rng.uniform(0.0001, 0.001) * fs) + 1         # short burst of 0.1-1 ms
    c = rng.standard_normal(m) * np.hanning(m + 2)[1:-1]
    return c / np.abs(c).max()


def _issue_case(x, fs, seed, **hat_kw):
    """Piano + hats and 12 clicks (11 slots on a 50 ms grid anywhere, the first with a partner
    16 ms later), -40..-24 dBFS, one channel each.  Returns (clean, dirty, truth)."""
    rng = np.random.default_rng(100 + seed)
    music = x + _hats(x.shape[1], fs, rng, **hat_kw)
    y = music.copy()
    truth = []
    slots = np.sort(rng.choice(np.arange(int(0.1 * fs), x.shape[1] - int(0.2 * fs), int(0.05 * fs)), 11, replace=False))
    for i, p in enumerate(slots):
        ch = int(rng.integers(2))
        for q in [int(p)] + ([int(p + 0.016 * fs)] if i == 0 else []):
            c = _shape(int(rng.integers(3)), rng, fs) * rng.choice([-1.0, 1.0]) * 10 ** (rng.uniform(-40, -24) / 20)
            truth.append((q / fs, ch, click_audibility_db(music[ch], c, q, fs=fs)))
            y[ch, q:q + c.size] += c
    return music, y, truth


def _find(y, fs):
    return [e for c in range(y.shape[0]) for e in find_clicks(y[c], fs=fs, channel=c)]


def _score(found, truth, tol_s=0.002):
    aud = [(t, c) for t, c, a in truth if a > 0]
    hit = sum(any(abs(t - f.time_s) <= tol_s and f.channel == c for f in found) for t, c in aud)
    false = sum(not any(abs(t - f.time_s) <= tol_s and f.channel == c for t, c, _ in truth) for f in found)
    return hit, len(aud), false


def test_issue_example_piano_with_hats_12_quiet_clicks(piano):
    # Six draws of the issue's example (72 clicks, clicks anywhere: between strokes, inside
    # them, at their start).  Measured (eval seeds 100-109 in the note): session start 93/120,
    # now 98/120; these six draws 57 -> 62 of 72.  The issue's goal (every audible one) is NOT
    # met: the misses are clicks ~30 ms into a hat stroke that no stage-1 whitening proposes
    # (see /work/notes/clicks6-note.md).  Nothing is reported on the clean files, nothing false.
    x, fs = piano
    hit = n = false = 0
    for seed in range(6):
        music, y, truth = _issue_case(x, fs, seed)
        assert _find(music, fs) == []                                # nothing on the clean file
        h, a, f = _score(_find(y, fs), truth)
        hit, n, false = hit + h, n + a, false + f
    assert n == 72 and false == 0
    assert hit >= 60, hit                                            # measured 62


def test_issue_example_denser_quieter_hats(piano):
    # another percussion: sixteenths at 120 bpm, 6 dB quieter, so most clicks fall inside a
    # stroke: measured 18 -> 19 of 35 (six draws: 38 -> 42 of 71), far from the goal; what this
    # guards is nothing on the clean files and nothing false
    x, fs = piano
    hit = n = false = 0
    for seed in range(3):
        music, y, truth = _issue_case(x, fs, 20 + seed, level=0.02, period_s=0.125, start_s=0.03)
        assert _find(music, fs) == []
        h, a, f = _score(_find(y, fs), truth)
        hit, n, false = hit + h, n + a, false + f
    assert false == 0
    assert n == 35 and hit >= 17, (hit, n)


def test_low_band_event_is_isolated_at_full_rate(piano):
    # a -30 dBFS single-sample click 30 ms into a hat stroke (four strokes, three hat draws):
    # only the low-band path finds it; its waveform is re-estimated at the full rate, so stage 3
    # sees a broadband click (before: the low-band waveform, taken as a smooth attack and set
    # to -inf) with an audibility close to the oracle's
    x, fs = piano
    for seed, stroke in ((5, 4), (5, 20), (6, 4), (7, 4)):
        music = x + _hats(x.shape[1], fs, np.random.default_rng(seed))
        q = int((0.07 + 0.25 * stroke + 0.03) * fs)
        c = np.array([10 ** (-30 / 20)])
        truth = click_audibility_db(music[0], c, q, fs=fs)
        y = music[0].copy()
        y[q] += c[0]
        imp = detect_impulsive(y, fs=fs)
        aud = audibility(y, imp, fs=fs)
        k = [i for i, o in enumerate(imp.onset) if abs(o - q) <= 0.002 * fs]
        assert truth > 10 and len(k) == 1, (seed, stroke, truth, k)
        k = k[0]
        assert not imp.low[k]                                        # the full-rate waveform
        assert abs(imp.onset[k] - q) <= 0.0005 * fs                  # measured 0-8 samples early
        # (the isolated click holds some of the hat's unpredictable noise: measured within 2.6 dB)
        assert abs(aud[k] - truth) < 4.0, (seed, stroke, aud[k], truth)
