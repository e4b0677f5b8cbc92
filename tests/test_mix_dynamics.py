"""Dynamics (mixes.dynamics): PLR, sections from the short-term loudness, crest factor per band.

Truth is analytic: a sine's crest factor is 3.01 dB in its band; a programme built of stretches
at known levels has its sections at the joins; a hard-clipped programme has a smaller PLR and
smaller crest factors than the same programme unclipped.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from calib.errors import SignalError
from mixes.dynamics import Dynamics, Section, compare_dynamics, measure_dynamics
from mixes.loudness import loudness
from mixes.songs import make_song
from mixes.truepeak import true_peak

FS = 48_000


def _dyn(x, fs=FS):
    lr = loudness(x, fs=fs)
    tp = true_peak(x, fs=fs).true_peak_dbtp
    return measure_dynamics(x, fs=fs, integrated_lufs=lr.integrated_lufs, true_peak_dbtp=tp,
                            short_term_lufs=lr.short_term_lufs)


@pytest.mark.parametrize("fs, f_hz, band_hz", [(48_000, 1000.0, 1000.0), (44_100, 3300.0, 4000.0),
                                                (48_000, 70.0, 63.0), (96_000, 7000.0, 8000.0)])
def test_sine_crest_is_3_01_db_in_its_band(fs, f_hz, band_hz):
    t = np.arange(int(20 * fs)) / fs
    x = np.tile(0.4 * np.sin(2 * np.pi * f_hz * t), (2, 1))
    d = measure_dynamics(x, fs=fs, integrated_lufs=-10.0, true_peak_dbtp=-8.0)
    i = d.bands_hz.index(band_hz)
    # analytic 20 lg sqrt(2) = 3.010 dB; 0.1 dB covers the envelope grid (4x oversampled)
    assert d.crest_db[i] == pytest.approx(3.01, abs=0.1)
    assert d.plr_db == pytest.approx(2.0)


def test_sections_follow_level_changes():
    rng = np.random.default_rng(5)
    parts = [(-26.0, 20), (-16.0, 25), (-30.0, 15), (-20.0, 20)]     # dBFS rms per channel, seconds
    x = np.concatenate([10 ** (lv / 20) * rng.standard_normal((2, FS * d)) for lv, d in parts], axis=1)
    d = _dyn(x)
    joins = np.cumsum([p[1] for p in parts])[:-1]
    assert len(d.sections) == len(parts)
    for s, j in zip(d.sections[1:], joins):
        # the 3 s short-term window smears a step over 3 s: its middle is the join, +-1.5 s
        assert s.start_s == pytest.approx(j, abs=1.5)
    lv = [s.loudness_lufs for s in d.sections]
    # relative levels of the stretches are the planted dB steps (the edges' smear: 0.5 LU)
    assert np.diff(lv) == pytest.approx(np.diff([p[0] for p in parts]), abs=0.5)
    # steady noise inside a section: its short-term range is small
    assert max(s.short_term_range_lu for s in d.sections) < 1.5


def test_song_sections_find_the_louder_chorus():
    song = make_song(7, duration_s=40.0, fs=FS)
    d = _dyn(song.mix())
    chorus_start = song.sections[2][1]
    starts = [s.start_s for s in d.sections]
    assert min(abs(s - chorus_start) for s in starts) < 3.0
    last = d.sections[-1]
    assert last.loudness_lufs > d.sections[-2].loudness_lufs


def test_clipping_lowers_plr_and_crest_against_references():
    song = make_song(2, duration_s=20.0, fs=FS)
    x = song.mix()
    # +9 dB into a hard clip at the original peak: the loudness-war mix
    squashed = np.clip(x * 10 ** (9 / 20), -np.max(np.abs(x)), np.max(np.abs(x)))
    ref, mix = _dyn(x), _dyn(squashed)
    cmp = compare_dynamics(mix, [ref])
    # 9 dB into the clip: loudness up ~5 dB, the peak up ~1.5 dB (inter-sample overs)
    assert cmp["plr_vs_reference_db"] < -2.5
    crest_diff = dict(zip(mix.bands_hz, cmp["crest_vs_reference_db"]))
    # the clipped peaks are the kick's: its octaves lose crest; clipping's own harmonics keep
    # the upper bands' crest about where it was
    assert crest_diff[63.0] < -1.0 and crest_diff[125.0] < -1.0
    assert compare_dynamics(mix, [])["plr_vs_reference_db"] is None


def test_to_dict_contract():
    d = Dynamics(plr_db=9.5, bands_hz=(63.0, 125.0), crest_db=(12.0, math.nan),
                 sections=(Section(0.0, 10.0, 2.0, -14.0),))
    out = d.to_dict()
    assert set(out) == {"plr_db", "crest_db_bands", "sections"}
    assert out["crest_db_bands"] == {"bands_hz": [63.0, 125.0], "crest_db": [12.0, None]}
    assert set(out["sections"][0]) == {"start_s", "end_s", "short_term_range_lu", "loudness_lufs"}


def test_bad_input():
    with pytest.raises(SignalError, match="sample rate"):
        measure_dynamics(np.zeros((2, 1000)), fs=1000, integrated_lufs=-20.0, true_peak_dbtp=-1.0)
    with pytest.raises(SignalError, match="NaN"):
        measure_dynamics(np.full((2, 1000), np.nan), fs=FS, integrated_lufs=-20.0, true_peak_dbtp=-1.0)


def test_silent_channels_do_not_change_the_crest():
    rng = np.random.default_rng(3)
    x = 0.1 * rng.standard_normal((2, FS * 10))
    five = np.concatenate([x, np.zeros((3, x.shape[1]))])
    a = measure_dynamics(x, fs=FS, integrated_lufs=-20.0, true_peak_dbtp=-3.0)
    b = measure_dynamics(five, fs=FS, integrated_lufs=-20.0, true_peak_dbtp=-3.0)
    # the crest is taken on the channel holding the peak: identical figures
    np.testing.assert_allclose(a.crest_db, b.crest_db, atol=1e-9)
    # gaussian noise: peak/rms of a band envelope over ~10^5 independent samples, ~13-16 dB
    assert all(11.0 < c < 18.0 for c in a.crest_db)
