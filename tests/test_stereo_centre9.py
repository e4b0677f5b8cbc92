"""The centred low end's balance is read from the sources, not the band's energy.

A panned instrument with energy in the bass octaves (a fingerpicked guitar's thumb notes) pulls
the 30-120 Hz energy ratio off centre although the bass sits in the middle: that read as a
channel gain error.  The mode of the in-phase bins' level ratios stays on the bass.
"""

from __future__ import annotations

import numpy as np
import pytest

from mixes.stereo import LR_LOW_END_IMBALANCE_DB, measure_stereo

FS = 48000


def _notes(rng, n, fs, freqs, amp, decay_s):
    """Plucked harmonic notes (4 partials, exponential decay) on a random rhythm."""
    y = np.zeros(n)
    t = np.arange(int(1.5 * fs)) / fs
    pos = 0
    while pos < n - t.size:
        f0 = rng.choice(freqs) * 2 ** (rng.uniform(-0.02, 0.02) / 12)
        ph = rng.uniform(0, 2 * np.pi, 4)
        tone = sum(np.sin(2 * np.pi * f0 * (k + 1) * t + ph[k]) / (k + 1) ** 1.2 for k in range(4))
        y[pos:pos + t.size] += amp * tone * np.exp(-t / decay_s) * np.minimum(t / 0.004, 1.0)
        pos += int(rng.uniform(0.18, 0.45) * fs)
    return y


def _pan(mono, pan_db):
    """Constant-power pan: left minus right level = pan_db."""
    g = 10 ** (pan_db / 20)
    l, r = g / np.sqrt(1 + g * g), 1 / np.sqrt(1 + g * g)
    return np.vstack([mono * l, mono * r]) * np.sqrt(2)


def _folk(seed, guitar_pan_db=2.8, dur_s=12.0):
    rng = np.random.default_rng(seed)
    n = int(dur_s * FS)
    bass = _notes(rng, n, FS, [41.2, 49.0, 55.0, 61.7, 73.4], 0.12, 0.6)      # centred
    gtr = _notes(rng, n, FS, [82.4, 98.0, 110.0, 123.5, 146.8], 0.10, 0.4)     # thumb notes, panned
    pad = _notes(rng, n, FS, [220.0, 261.6, 329.6, 392.0], 0.03, 1.0)
    x = _pan(bass, 0.0) + _pan(gtr, guitar_pan_db) + _pan(pad, -1.0)
    return x / np.max(np.abs(x)) * 0.5


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_panned_guitar_in_the_bass_octaves_is_not_a_channel_error(seed):
    x = _folk(seed)
    im = measure_stereo(x, fs=FS)
    # the energy ratio of the band would read the guitar's pull; the centre stays on the bass
    assert abs(im.lr_balance_low_end_db) < 0.3, im.lr_balance_low_end_db
    assert not im.lr_imbalanced and not any(p.kind == "lr_imbalance" for p in im.problems)


@pytest.mark.parametrize("gain_db", [2.0, -2.0, 1.2])
def test_a_channel_gain_moves_the_centre_by_exactly_that(gain_db):
    x = _folk(4)
    im0 = measure_stereo(x, fs=FS)
    y = x.copy()
    y[0] *= 10 ** (gain_db / 20)
    im = measure_stereo(y, fs=FS)
    assert im.lr_balance_low_end_db - im0.lr_balance_low_end_db == pytest.approx(gain_db, abs=0.05)
    assert im.lr_imbalanced
    p = next(p for p in im.problems if p.kind == "lr_imbalance")
    assert ("left" if gain_db > 0 else "right") in p.what and "centred low end" in p.what
    assert abs(gain_db) >= LR_LOW_END_IMBALANCE_DB


def test_no_single_source_falls_back_to_the_band_energy():
    """Many sections panned across the stage, none holding the votes: the band's energy ratio."""
    rng = np.random.default_rng(9)
    n = 10 * FS
    x = sum(_pan(_notes(rng, n, FS, [55.0, 65.4, 73.4, 82.4], 0.05, 0.8), p) for p in (-6, -3, 3, 6, -4.5, 4.5))
    im = measure_stereo(x / np.max(np.abs(x)) * 0.5, fs=FS)
    assert np.isfinite(im.lr_balance_low_end_db) and abs(im.lr_balance_low_end_db) < 1.0
    assert not im.lr_imbalanced


def test_songs6_folk_with_a_panned_nylon_guitar():
    """The generator's case (seed 802: drumless 6/8 folk, nylon guitar panned left)."""
    songs6 = pytest.importorskip("mixes.songs6")
    s = songs6.make_song(802, duration_s=12.0)
    x = s.mix()
    im = measure_stereo(x, fs=s.fs)
    assert not im.lr_imbalanced and abs(im.lr_balance_low_end_db) < 0.5
    y = x.copy()
    y[0] *= 10 ** (-2 / 20)
    assert measure_stereo(y, fs=s.fs).lr_imbalanced
