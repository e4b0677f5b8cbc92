"""Issue 12's done-means that hold on the second generator's songs (mixes.songs_alt).

The owners check issue 12 on material we do not see; mixes.songs_alt synthesises other styles,
instruments, voices and reverb than mixes.songs.  Only criteria that pass on it are here (the
full cross-check, with what fails, is benchmarks/eval_alt_material.py and the helper's note).
"""

from __future__ import annotations

import numpy as np
import pytest

from mixes.analysis import analyze_array
from mixes.artifacts import dual_mono, polarity_inverted, truncation
from mixes.balance import compare_balance
from mixes.renderchecks import render_checks
from mixes.songs_alt import make_song
from mixes.stereo import measure_stereo

FS = 48_000


@pytest.fixture(scope="module")
def songs():
    """One song per style, different keys and lengths, one at 44.1 kHz."""
    return [make_song(300, duration_s=16.0, key=4),                       # ballad
            make_song(301, duration_s=14.0, key=11, minor=True),          # rock
            make_song(302, duration_s=14.0, key=7, fs=44_100),            # electronic, 44.1 kHz
            make_song(303, duration_s=16.0, key=1)]                       # acoustic


@pytest.fixture(scope="module")
def mixes(songs):
    return [s.mix() for s in songs]


def test_stereo_normal_songs_report_nothing_and_planted_problems_are_found(songs, mixes):
    for s, x in zip(songs, mixes):
        st = s.notes["style"][0]
        im = measure_stereo(x, fs=s.fs)
        assert im.problems == (), (st, [p.what for p in im.problems])
        assert not (im.polarity_inverted or im.low_end_wide or im.low_end_out_of_phase or im.lr_imbalanced), st
        inv = measure_stereo(x * np.array([[1.0], [-1.0]]), fs=s.fs)
        assert inv.polarity_inverted and inv.problems[0].kind == "polarity_inverted", st
        for g in (2.0, -2.0):
            lr = measure_stereo(x * np.array([[10 ** (g / 40)], [10 ** (-g / 40)]]), fs=s.fs)
            # a gain on the channels moves the K-weighted balance by exactly g dB (0.01: float32 sums)
            assert lr.lr_imbalanced and lr.lr_balance_db - im.lr_balance_db == pytest.approx(g, abs=0.01), st
        b = s.stems["bass"]
        oop = measure_stereo(x - b + b * np.array([[1.0], [-1.0]]), fs=s.fs)
        # the electronic song's centred long kick outweighs its sub bass below 120 Hz: the low end is
        # reported wide (correlation ~ +0.3) rather than out of phase as a whole
        assert oop.low_end_wide, (st, oop.low_end_correlation)
        assert any(p.kind.startswith("low_end") for p in oop.problems), st


def test_artifacts_none_on_clean_songs_and_planted_ones_found(songs, mixes):
    for s, x in zip(songs, mixes):
        st = s.notes["style"][0]
        assert render_checks(x, fs=s.fs).artifacts == (), st
        assert [e.kind for e in dual_mono(np.vstack([x[0], x[0]]), fs=s.fs)] == ["dual_mono"], st
        assert [e.kind for e in polarity_inverted(x * np.array([[1.0], [-1.0]]), fs=s.fs)] == ["polarity_inverted"], st
    # 16-bit truncation in a fade (100 dB over the last 10 s), not when dithered
    s, x = songs[0], mixes[0]
    t = np.arange(x.shape[1]) / s.fs
    f = x * np.where(t < 6.0, 1.0, 10 ** (-100 / 20 * (t - 6.0) / 10.0))
    ev = truncation(np.floor(f * 32768) / 32768, fs=s.fs)
    assert ev and all(e.kind == "truncation" and e.time_s > 6.0 for e in ev)
    rng = np.random.default_rng(3)
    assert truncation(np.round(f * 32768 + rng.random(f.shape) - rng.random(f.shape)) / 32768, fs=s.fs) == []


def test_bass_offsets_against_the_identical_song():
    """A +-3 dB bass fader against the same song as reference reads within 1 dB (ballad and rock
    songs; electronic ones do not: see the helper's note)."""
    for seed in (200, 201):
        s = make_song(seed, duration_s=20.0)
        ref = analyze_array(s.mix(), fs=s.fs).balance
        for off in (3.0, -3.0):
            b = analyze_array(s.mix({"bass": off}), fs=s.fs).balance
            got = compare_balance(b, [ref])[0]
            assert got is not None and abs(got - off) <= 1.0, (seed, off, got)


def test_vocal_found_on_30_s_songs_and_not_without_voice():
    """30-s alt songs: the centred lead is found (ballad, rock); the ballad without voice has none.
    (12-20 s songs and other no-voice songs do not pass yet: see the helper's note.)"""
    for seed in (204, 205):
        s = make_song(seed, duration_s=30.0)
        assert analyze_array(s.mix(), fs=s.fs).balance.vocal_found, seed
    s = make_song(204, duration_s=30.0, voice=False)
    assert not analyze_array(s.mix(), fs=s.fs).balance.vocal_found
