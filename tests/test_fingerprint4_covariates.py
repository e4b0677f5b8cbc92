"""Studio fingerprints when mixes and references are different kinds of music (issue 12).

The fingerprint may adjust each band for the tracks' tonal-gap profiles (``level - floor`` per
band, which a room does not move): :mod:`mixes.fingerprint_covariates`.  Checked here:

* the least-squares pieces against their closed forms (difference of means, pooled variance);
* the covariates do not see the room (a room added to every band of level and floor alike);
* on feature-level studios with two kinds of music unevenly split between mixes and
  references (kind effects of several dB, the truth known), the adjusted intervals hold the
  truth as often as asked and many more bands are sure than without the adjustment;
* on audio of the second generator (``mixes.songs_alt``: electronic and acoustic songs, each
  in its own key, 4 + 2 mixes against 2 + 4 references): the truth stays inside, the error
  falls and the adjustment is actually used.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from mixes import fingerprint as fpm
from mixes import studio_curves
from mixes.fingerprint_covariates import adjusted_shift, gap_components
from mixes.ltas import band_centres_hz
from mixes.types import Ltas

FS = 48000
BANDS = (39.0, 12_100.0)
FC = band_centres_hz(3, f_hi_hz=20_000.0)
SEL = (FC >= BANDS[0]) & (FC <= BANDS[1])
FIFTHS = (0, 7, 2, 9, 4, 11, 6, 1, 8, 3, 10, 5)


def _score(fp, truth):
    iv = fp.interval_db
    inside = (truth >= iv[:, 0]) & (truth <= iv[:, 1])
    sure = (iv[:, 1] - iv[:, 0]) <= 3.0
    err = fp.deviation_db - truth
    return {"cover": float(inside[SEL].mean()), "sure": float(sure[SEL].mean()),
            "rms_sure": math.sqrt(float(np.mean(err[SEL & sure] ** 2))) if (SEL & sure).any() else math.nan,
            "rms_all": math.sqrt(float(np.mean(err[SEL] ** 2)))}


def test_least_squares_pieces_match_closed_forms():
    rng = np.random.default_rng(1)
    y = rng.normal(0.0, 1.5, (16, 25))
    is_mix = np.r_[np.ones(8), np.zeros(8)].astype(bool)
    shift, se2, dof = adjusted_shift(y, is_mix, np.zeros((16, 0)))
    m, r = y[is_mix], y[~is_mix]
    pooled = ((m.var(axis=0, ddof=1) * 7) + (r.var(axis=0, ddof=1) * 7)) / 14
    # no covariate: the difference of the means and the pooled two-sample variance (to rounding)
    assert np.allclose(shift, m.mean(0) - r.mean(0), atol=1e-12)
    assert np.allclose(se2, pooled * (1 / 8 + 1 / 8), rtol=1e-10)
    assert dof == 14.0
    # a per-track effect that a covariate explains: removed exactly, the room's 2.5 dB remains
    z = rng.normal(0.0, 1.0, (16, 1))
    y2 = 2.5 * is_mix[:, None] + 4.0 * z + rng.normal(0.0, 0.01, (16, 25))
    shift2, se22, dof2 = adjusted_shift(y2, is_mix, z)
    assert np.allclose(shift2, 2.5, atol=0.03)          # 0.01 dB noise on 16 tracks
    assert dof2 == 13.0 and np.all(np.sqrt(se22) < 0.02)


def test_gap_covariates_do_not_see_the_room():
    rng = np.random.default_rng(2)
    level = rng.normal(0.0, 4.0, (12, FC.size))
    floor = level - rng.uniform(1.0, 15.0, (12, FC.size))
    room = studio_curves.varied_room(5)(FC)
    z0 = gap_components(level - floor, SEL)
    z1 = gap_components((level + room) - (floor + room), SEL)
    assert z0.shape == (12, 11)
    assert np.allclose(np.abs(z0), np.abs(z1), atol=1e-9)


def _kinds_studio(seed, n_a_mix=6, n_a_ref=2):
    """Feature-level studio: two kinds of music with their own band balance (+-6 dB, smooth over
    bands) and their own tonal-gap profiles; each track varies by 1 dB per band around its kind.
    Mixes: ``n_a_mix`` of kind A, the rest B (8); references ``n_a_ref`` of A, the rest B (8)."""
    rng = np.random.default_rng(seed)
    lf = np.log2(FC / 630.0)
    kind_bal = [3.0 * np.sin(lf * 1.3 + 0.5) + 3.0 * np.cos(lf * 2.1), -2.5 * np.sin(lf * 0.9 - 0.3)]
    kind_gap = [8.0 + 4.0 * np.sin(lf * 1.7), 4.0 + 2.0 * np.cos(lf * 1.1)]
    room = studio_curves.varied_room(20_000 + seed)
    r_db = np.array([10 * np.log10(np.mean(10 ** (room(np.geomspace(c * 10 ** -0.05, c * 10 ** 0.05, 64)) / 10)))
                     for c in FC])

    def track(kind, coloured):
        floor = kind_bal[kind] + rng.normal(0.0, 1.0, FC.size) + (r_db if coloured else 0.0)
        gap = np.maximum(kind_gap[kind] + rng.normal(0.0, 1.0, FC.size), 0.5)
        return Ltas(freqs_hz=FC, level_db=floor + gap, bands_per_octave=3, normalised_to_lufs=-23.0,
                    floor_db=floor, floor_gap_db=gap)

    mixes = [track(0 if i < n_a_mix else 1, True) for i in range(8)]
    refs = [track(0 if i < n_a_ref else 1, False) for i in range(8)]
    return mixes, refs, studio_curves.band_truth_db(room, FC, BANDS)


def _both(mixes, refs):
    saved = fpm.COVARIATES, fpm.SMOOTH_UNSURE
    try:   # the covariates alone (session 7's smoothing across bands: tests/test_fingerprint6_smooth.py)
        fpm.SMOOTH_UNSURE = False
        fpm.COVARIATES = False
        plain = fpm.fingerprint_from_mixes("s", mixes, refs)
        fpm.COVARIATES = True
        adj = fpm.fingerprint_from_mixes("s", mixes, refs)
    finally:
        fpm.COVARIATES, fpm.SMOOTH_UNSURE = saved
    return plain, adj


def test_kinds_of_music_unevenly_split_calibrated_and_sharper():
    rows = {"plain": [], "adjusted": []}
    used = 0
    for seed in range(60):
        mixes, refs, truth = _kinds_studio(seed, n_a_mix=int(4 + seed % 3), n_a_ref=int(1 + seed % 3))
        plain, adj = _both(mixes, refs)
        rows["plain"].append(_score(plain, truth))
        rows["adjusted"].append(_score(adj, truth))
        used += adj.meta["covariates"] > 0
    cover = {k: np.mean([r["cover"] for r in v]) for k, v in rows.items()}
    sure = {k: np.mean([r["sure"] for r in v]) for k, v in rows.items()}
    rms = [r["rms_sure"] for r in rows["adjusted"] if not math.isnan(r["rms_sure"])]
    # the adjustment is taken when the kinds are uneven, the truth stays inside >= 85 % of the
    # bands on average (the interval is a conservative 90 % one), and far more bands are sure.
    # Measured (60 studios): plain cover 0.867 (>= 0.85 in 60 % of studios: the uneven kinds
    # bias it), sure 0.36, rms all 1.62 dB; adjusted cover 0.953 (95 %), sure 0.99, rms 0.53 dB
    assert used >= 50
    assert cover["adjusted"] >= 0.88, cover
    assert np.mean([r["cover"] >= 0.85 for r in rows["adjusted"]]) >= 0.8
    assert sure["adjusted"] >= sure["plain"] + 0.3, sure
    assert np.mean(np.array(rms) <= 1.0) >= 0.95


@pytest.fixture(scope="module")
def alt_two_kinds():
    songs_alt = pytest.importorskip("mixes.songs_alt")
    from mixes.analysis import analyze_array

    room = studio_curves.varied_room(3)

    def ltas(x):
        return analyze_array(x, fs=FS, checks=False).ltas

    def song(seed, key, style):
        return songs_alt.make_song(seed, key=key, duration_s=10.0, style=style).mix()

    mixes = [ltas(studio_curves.colour(song(600 + i, FIFTHS[i], st), room, FS))
             for i, st in enumerate(["electronic"] * 4 + ["acoustic"] * 2)]
    refs = [ltas(song(700 + i, FIFTHS[i + 6], st)) for i, st in enumerate(["electronic"] * 2 + ["acoustic"] * 4)]
    return mixes, refs, studio_curves.band_truth_db(room, FC[:mixes[0].freqs_hz.size], BANDS)


def test_second_generator_two_styles_uneven(alt_two_kinds):
    mixes, refs, truth = alt_two_kinds
    plain, adj = _both(mixes, refs)
    p, a = _score(plain, truth[:plain.freqs_hz.size]), _score(adj, truth[:adj.freqs_hz.size])
    # One studio of 25 bands: a conservative 90 % interval leaves >= 85 % inside in ~90 % of
    # studios, so one studio is allowed one band more (>= 80 %), and must not lose to the plain
    # comparison by more than one band.  Measured (10 s songs): room 3: plain cover 0.84, sure 0.00,
    # rms all 2.20 dB -> adjusted (k = 3) 0.84, 0.16, 1.68 dB (0.66 dB over the sure bands);
    # rooms 5 and 8 alike (the same songs miss the same bands: 0.84, 0.16, 1.71 / 1.68 dB).
    assert adj.meta["covariates"] > 0
    assert a["cover"] >= 0.80 and a["cover"] >= p["cover"] - 0.041, (p, a)
    assert a["rms_all"] < p["rms_all"] - 0.3, (p, a)
    assert a["sure"] >= p["sure"], (p, a)
    assert math.isnan(a["rms_sure"]) or a["rms_sure"] <= 1.0, a
