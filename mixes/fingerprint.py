"""Studio room fingerprints: the spectral deviation a room leaves on every mix made in it.

From mixes
    Each mix is one noisy look at the room: the room contributes the same deviation to every
    mix, the song contributes something different each time.  What is compared per band is
    the band's broadband *floor* under its tonal peaks (``Ltas.floor_db``: per 0.68 s frame
    the 10th percentile of the band's 1.5 Hz bins, per half band, averaged over the quietest
    90 % of the frames; :mod:`mixes.envelope` has the reasoning and the figures), not its mean
    power: a song's bass notes, key and chords move the mean power of the low bands by 5-10 dB
    and leave the floor between the partials (drums, breath, noise of instruments, reverb)
    alone, while the room colours both alike.  Against the built-in target (a table of mean
    levels) the mean power is used.

    Song-to-song spread of the compared value, rms over the third-octaves 50 Hz-10 kHz, 48
    synthetic songs (``mixes.songs``) of 20 s: mean band power 2.03 dB, the previous session's
    blend of the time-averaged floor and the mean (``0.7 p10 + 0.3 mean``) 1.44 dB, the frame
    floor 1.02 dB.  A blend of the frame floor with the mean did not spread less (0.98 dB for
    0.8/0.2), so ``FLOOR_WEIGHT`` is 1.

    Per track, the spectrum is level-aligned (its mean over ``ALIGN_BAND_HZ`` removed: loudness
    normalisation makes a broadband gain meaningless).  Across tracks, the location per band
    is a Huber M-estimate (``HUBER_C`` = 3 robust standard deviations): as the mean for
    well-behaved material, but a track far off (an a-cappella song among band mixes) is
    down-weighted.  Huber's usual c = 1.345 was tried and with eight tracks its sandwich
    variance understated the spread (coverage 0.87 for a nominal 0.90 on synthetic studios);
    c = 3 covers 0.90.  The fingerprint is the mixes' location minus the references', level-
    aligned again.

Interval and confidence
    ``interval_db`` is each band's interval at ``level`` (90 %): Student's t with
    Welch-Satterthwaite degrees of freedom on the variance of the difference of the two
    locations (each from its own track-to-track spread; a built-in target's tolerance counts
    as two standard deviations with infinite degrees of freedom).  Two refinements:

    * *Neighbours' variance as prior (moderated t).*  Eight tracks give each band's variance
      only 7 degrees of freedom: by chance a band's spread reads 40 % high or low, and the
      bands whose true interval is near 3 dB wide flip between sure and unsure.  The song-to-
      song variance changes smoothly from band to band (it is a property of the material's
      arrangement, not of one band), so each band's variance is shrunk towards the geometric
      mean of its neighbours' with as much weight as its own (``PRIOR_WEIGHT``) and the t
      quantile gets the summed degrees of freedom (Smyth's moderated t, 2004, with a local
      prior).  Bands below 45 Hz (another floor rule, much larger spread) keep their own.
    * *Half the nominal misses (``MISS_SHARE``).*  The issue's test is per studio: >= 85 % of
      25 bands inside.  A band-wise exact 90 % interval misses 2.5 bands on average, and a
      studio's bands miss together (the same 16 songs, one level alignment), so one studio in
      four falls below 85 % by chance; the song material of a studio we do not see may also
      spread more than the variance from its 16 tracks says.  The t quantile is taken for a
      5 % miss rate (0.975 one-sided): measured coverage 0.94-0.95 of bands, >= 85 % in about
      90 % of held-out studios.  The label stays "90 %": the interval holds the truth at
      least that often; it is not narrower than a 90 % interval.
    * *The kind of music as covariates.*  With reference tracks, each band may also be compared
      by an analysis of covariance on the tracks' tonal-gap profiles (``level_db - floor_db``
      per band, a ratio the room does not move; :mod:`mixes.fingerprint_covariates`) and their
      floors' modulation over time (``floor_mod_db``, :mod:`mixes.fingerprint_features`): the
      first ``k`` principal components of the 16 tracks' profiles enter a least-squares fit per band
      next to the mix indicator, so an arrangement difference that shows in the profiles
      (a sub bass, a piano, how tonal the mids are) is taken out of the comparison, and an
      uneven split of kinds between mixes and references widens the interval instead of
      biasing it.  ``k`` (0 = the plain comparison above, up to 5) is the one leaving the most
      bands with an interval <= 3 dB; ``meta["covariates"]`` says which.

    Measured on held-out studios (``benchmarks/bench_fingerprint_music.py``, results in
    ``benchmarks/results/fingerprint_music_songs*_2026-12-07.json``; rooms with 3-6 dips and
    peaks of -6..+4 dB, 0.08-1 octave wide, and tilts; 8 mixes and 8 references drawn from banks of
    songs; third-octaves 40 Hz-10 kHz; 200 studios per row; mean over studios, in brackets the
    share of studios meeting the issue's per-studio goal): ``mixes.songs`` of 15/20/30/60 s,
    cover 0.943-0.948 (>= 0.85 in 91-94 % of studios; 0.877-0.890, 66-70 % in session 3),
    sure 0.89-0.95 (>= 0.80 in every studio), rms error over the sure bands 0.44-0.48 dB;
    all three goals at once in 91-94 % of studios (50-65 % before).  On a second,
    independent generator (``mixes.songs_alt``: ballad, rock, electronic and acoustic
    arrangements) with the styles mixed at random between mixes and references, the songs'
    own spectral balance differs by +-5 dB per band from style to style: the intervals widen honestly (coverage 0.93-0.95, >= 85 % in 86-91 % of studios;
    only 2-7 % of bands sure).  Within one style (references of the mixes' kind) songs_alt
    spreads 1.3-1.4 dB rms from song to song and 68-71 % of bands are sure.

    With the tonal-gap covariates (``COVARIATES``; same bench, ``before`` = without, 60-100
    studios per row; cover / sure, in brackets the share of studios with cover >= 0.85)::

        mixes.songs 15 s        0.943 (94 %) / 0.89  ->  0.942 (94 %) / 0.93
        mixes.songs 20 s        0.946 (93 %) / 0.95  ->  0.946 (94 %) / 0.96
        mixes.songs 30 s        0.943 (91 %) / 0.95  ->  0.944 (90 %) / 0.96
        songs_alt mixed 15 s    0.941 (85 %) / 0.07  ->  0.922 (80 %) / 0.13
        songs_alt mixed 20 s    0.957 (94 %) / 0.05  ->  0.937 (86 %) / 0.20
        songs_alt mixed 30 s    0.960 (92 %) / 0.04  ->  0.934 (88 %) / 0.34
        songs_alt rock 20 s     0.948 (90 %) / 0.69  ->  0.938 (86 %) / 0.75
        songs_alt acoustic 20 s 0.931 (85 %) / 0.77  ->  0.930 (84 %) / 0.79
        songs_alt electr. 20 s  0.953 (92 %) / 0.55  ->  0.950 (90 %) / 0.58
        songs_alt ballad 20 s   0.946 (88 %) / 0.19  ->  0.925 (85 %) / 0.37

    rms error over the sure bands 0.45-0.71 dB (``MAX_COMPONENTS`` 8 lost more coverage: 5).
    The covariates cost 0-4 points of coverage where the kinds of music differ and buy 2-32
    points of sure bands.  The cost is the choice of ``k`` by the widths (session 6: a fixed
    ``k`` = 3 keeps the plain comparison's coverage, songs3 0.944 (88 %), but gains few sure
    bands, 0.12, and loses some within one style: rock 0.66 -> 0.64).

    Session 6, with the floors' modulation (``FLOOR_MODULATION``; bench, 100 studios, 20 s;
    plain / gaps only (session 5) / gaps + modulation)::

        mixes.songs             0.946 (93 %) / 0.95   0.946 (94 %) / 0.96   0.946 (94 %) / 0.96
        songs_alt mixed         0.957 (94 %) / 0.05   0.937 (86 %) / 0.20   0.940 (86 %) / 0.22
        songs3 (6 styles) mixed 0.956 (91 %) / 0.04   0.942 (88 %) / 0.11   0.928 (87 %) / 0.19

    One style of songs_alt (80 studios), gaps -> gaps + modulation: rock 0.939 / 0.75 -> 0.935 /
    0.75, acoustic 0.943 / 0.79 -> 0.941 / 0.80, electronic 0.944 / 0.57 -> 0.943 / 0.57, ballad
    0.927 / 0.37 -> 0.931 / 0.43 (``benchmarks/results/fingerprint5_music_*_2026-12-07.json``).

    Session 7, unsure bands borrow from their neighbours (``SMOOTH_UNSURE``,
    :mod:`mixes.fingerprint_smooth`): a room's third-octave deviations are smooth across
    neighbouring bands (correlation 0.81), the songs' floor noise much less (0.2-0.7), so each
    band whose interval is wider than 3 dB takes the posterior of an empirical-Bayes model of
    all bands (prior scale and neighbour correlation averaged by their marginal likelihood,
    the noise's correlation from the tracks); sure bands keep their own.  Held-out (100 studios,
    session 6 -> 7; sure / all three goals): mixes.songs 0.94 / 95 % -> 0.98 / 95 %, songs_alt
    rock 0.76 / 34 % -> 0.84 / 80 %, songs4 funk 0.64 / 0 % -> 0.74 / 31 %, songs3 radio 0.46 ->
    0.57, mixed styles 0.11-0.32 -> 0.15-0.41, per-studio coverage within -2..+3 points (more in
    :mod:`mixes.fingerprint_smooth`).

    Session 9, why the intervals are wider than 3 dB, and each band's own tonal gap
    (``OWN_COVARIATES``).  A band is sure when its interval half-width, about ``t s sqrt(1/8 + 1/8)``
    with ``t`` near 2.1, stays under 1.5 dB: the tracks' band floors may spread at most ~1.4 dB
    from song to song.  Where that spread comes from (banks of 20 songs of 20 s, seeds 73000-73019,
    level-aligned floors; total song-to-song standard deviation against the within-song part,
    half the standard deviation of the difference between a song's even and odd frames, rms over
    the third-octaves 40 Hz-10 kHz): songs3 radio 2.21 vs 0.40 dB, songs4 cinematic 4.32 vs 1.05,
    songs5 orchestral 3.19 vs 0.97 (mixes.songs 1.01 dB in all).  So it is the songs' content,
    not the estimator's own noise or too few frames: more frames cannot make these bands sure.
    In the bass octaves the content is the notes (radio: 40 / 50 Hz 4.3 / 6.4 dB, 158-251 Hz
    2.8-3.3 dB; cinematic 40 Hz 9.4 dB).  Other ways of combining the frames' floors (all frames
    in power, the quietest 30 %, the interquartile frames, geometric means) moved the spread
    from band to band and material to material (orchestral 40 Hz: 7.0 dB -> 2.3 dB with every
    frame, but 1.9 -> 3.2 dB at 500 Hz, and mixes.songs was tuned the other way), none better
    overall; not kept.

    What does carry information is each band's own tonal gap (``level_db - floor_db``): a song
    whose notes fill a band lifts its floor (the partials' skirts, their reverb) and its gap
    together, and the room moves level and floor alike, leaving the gap.  Regressing the floor
    on the band's own gap (per band, over the 20 songs of a bank) took the spread down from 2.21
    to 1.68 dB rms (radio; 158 Hz 2.75 -> 1.21, 251 Hz 3.11 -> 1.55), cinematic 4.32 -> 2.92,
    orchestral 3.19 -> 2.79, mixes.songs 1.01 -> 1.00.  The profile components above see the
    gaps of all bands at once, in a few directions; the own gap is each band's.  So the
    covariate candidates gain, for ``k`` = 0..``MAX_COMPONENTS`` profile components, the same
    fit with each band's own gap added (:func:`mixes.fingerprint_covariates.adjusted_shift_banded`,
    one more residual degree of freedom spent, ``meta["own_covariates"]``), chosen as before by
    the most sure bands; its residuals feed the neighbour smoothing.  Also tried, on the tuning
    seeds (71000 + bench offsets, 30 studios): the floors' modulation per band as a second own
    covariate, the mean of the neighbours' gaps, and the floor of all frames against the kept
    ones (``floor - floor of all frames``): each cost coverage or sure bands against the gap
    alone (radio sure 0.76 gap, 0.73 gap + modulation, 0.73 gap + neighbours).  Held out
    (``benchmarks/bench_fingerprint7.py --seed0 83000 --bank 20 --studios 40``: banks of seeds
    85000-85019, never used while tuning; cover mean (studios >= 0.85) / sure / all three goals;
    without -> with the own gap)::

        mixes.songs       0.922 (82 %) / 0.96 / 82 %  ->  0.930 (90 %) / 0.96 / 90 %
        songs3 radio      0.938 (92 %) / 0.57 /  0 %  ->  0.946 (95 %) / 0.62 /  5 %
        songs3 lounge     0.934 (90 %) / 0.59 / 15 %  ->  0.931 (88 %) / 0.62 / 15 %
        songs4 funk       0.947 (88 %) / 0.73 / 18 %  ->  0.944 (85 %) / 0.76 / 30 %
        songs4 cinematic  0.936 (90 %) / 0.17 /  0 %  ->  0.947 (92 %) / 0.18 /  0 %
        songs5 pop        0.952 (98 %) / 0.78 / 38 %  ->  0.944 (95 %) / 0.80 / 42 %

    rms over the sure bands 0.50-0.69 dB either way.  A few points of sure bands, coverage
    within -3..+8 points of studios: a real but small step.  Styles whose songs spread 3-4 dB
    per band (cinematic, orchestral) stay unsure: no per-band covariate the room cannot move
    explains enough of it with 8 + 8 tracks.

    ``confidence`` is the shrinkage factor ``D^2 / (D^2 + se^2)`` with the interval's standard
    error ``se``: 0 where the deviation is lost in the song-to-song variation, above
    ``t^2 / (1 + t^2)`` (0.8 or more) wherever the interval excludes 0 (with few tracks and so
    few degrees of freedom a band can also read 0.8 with an interval that includes 0: the
    interval decides what is corrected).  A correction weighted by it is the minimum-mean-
    square-error estimate under a Gaussian model; :mod:`mixes.correct` corrects only bands
    whose interval excludes 0.

From a measured response of the studio's room
    The mix engineer compensated what the room did: where the room had a peak the mixes are
    thin.  So the fingerprint is the *inverted* deviation of the room's smoothed response from
    its target (flat unless given), third-octave averaged.  Its confidence is fixed per band
    (``MEASURED_CONFIDENCE`` in the main band, lower at the extremes where a single-position
    measurement says little about what the engineer heard).

Fingerprints are stored per studio, ``<workspace>/studios/<folder>/fingerprint.json``, atomically;
``<folder>`` is the studio's name made folder-safe (``Studio Nord`` -> ``Studio-Nord``, see
:func:`studio_folder_name`), the file keeps the name as the user wrote it
(:mod:`mixes.fingerprint_store`, whose names this module re-exports).
"""

from __future__ import annotations

import datetime as _dt
import math
from pathlib import Path

import numpy as np

from calib.audio_io import read_audio
from calib.errors import SignalError
from calib.types import FrequencyResponse
from mixes.envelope import FRAME_PERCENTILE
from mixes.fingerprint_covariates import (MAX_COMPONENTS, MIN_RESIDUAL_DOF, SURE_WIDTH_DB, adjusted_shift,
                                          adjusted_shift_banded, profile_components)
from mixes.fingerprint_smooth import smooth_unsure
from mixes.fingerprint_store import (_name_key, load_fingerprint, save_fingerprint,  # noqa: F401 (re-exported)
                                     studio_dir, studio_folder_name, valid_studio_name)
from mixes.ltas import LtasReference, band_centres_hz
from mixes.types import Ltas, RoomFingerprint

__all__ = [
    "fingerprint_from_mixes",
    "fingerprint_from_response",
    "read_response_file",
    "studio_dir",
    "save_fingerprint",
    "load_fingerprint",
    "valid_studio_name",
    "studio_folder_name",
    "ALIGN_BAND_HZ",
]

ALIGN_BAND_HZ = (40.0, 12_000.0)        # bands whose mean deviation is removed (level)
INTERVAL_LEVEL = 0.90                   # coverage of interval_db
FLOOR_WEIGHT = 1.0                      # compared per band: FLOOR_WEIGHT floor_db + the rest level_db (dB)
MISS_SHARE = 0.5                        # the t quantile is taken for this share of the nominal misses
PRIOR_WEIGHT = 1.0                      # neighbours' variance counts as this many times a band's own dof
SHRINK_FROM_HZ = 45.0                   # bands below keep their own variance (another floor rule there)
COVARIATES = True                       # adjust for the tracks' tonal-gap profiles (mixes.fingerprint_covariates)
FLOOR_MODULATION = True                 # ... and for their floors' modulation over time (mixes.fingerprint_features)
OWN_COVARIATES: tuple[str, ...] = ("gap",)   # each band's own covariates: "gap", "mod" (see the docstring)
SMOOTH_UNSURE = True                    # unsure bands borrow from their neighbours (mixes.fingerprint_smooth)
HUBER_C = 3.0                           # robust standard deviations before a track is down-weighted
MEASURED_CONFIDENCE = 0.8
MEASURED_BAND_HZ = (30.0, 10_000.0)


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()


def _level_free(d: np.ndarray, freqs: np.ndarray) -> np.ndarray:
    sel = (freqs >= ALIGN_BAND_HZ[0]) & (freqs <= ALIGN_BAND_HZ[1]) & np.isfinite(d)
    if d.ndim == 1:
        return d - (np.mean(d[sel]) if sel.any() else 0.0)
    return d - np.nanmean(np.where(sel, d, np.nan), axis=-1, keepdims=True)


def _huber(x: np.ndarray, c: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Huber M-estimate of location per column of ``x`` (k, n) and its variance.

    Scale: the normalised MAD, not below half the standard deviation (with eight values the
    MAD alone can be near zero by chance).  Variance: the M-estimator's sandwich formula
    ``s^2 sum(psi(r)^2) / (k - 1) / mean(psi'(r))^2 / k`` (the asymptotic variance of an
    M-estimate of location, Huber, *Robust Statistics*, 1981, with ``k - 1`` for small
    samples); with no value beyond ``c`` it is the sample variance over ``k``, so the
    interval is Student's then.
    """
    c = HUBER_C if c is None else c
    k = x.shape[0]
    mu = np.median(x, axis=0)
    sd = x.std(axis=0, ddof=1) if k > 1 else np.zeros(x.shape[1])
    s = np.maximum(1.4826 * np.median(np.abs(x - mu), axis=0), 0.5 * sd)
    s = np.where(s > 0, s, 1.0)
    for _ in range(50):
        r = (x - mu) / s
        w = np.minimum(1.0, c / np.maximum(np.abs(r), 1e-12))
        new = np.sum(w * x, axis=0) / np.sum(w, axis=0)
        if np.all(np.abs(new - mu) < 1e-6):
            mu = new
            break
        mu = new
    r = (x - mu) / s
    psi = np.clip(r, -c, c)
    dpsi = np.mean(np.abs(r) < c, axis=0)
    if k < 2:
        return mu, np.zeros_like(mu)
    var = s * s * np.sum(psi * psi, axis=0) / (k - 1) / np.maximum(dpsi, 0.5) ** 2 / k
    return mu, var


def _moderated(var: np.ndarray, dof: float, freqs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Variance per band shrunk towards its neighbours' (a moderated t, Smyth 2004).

    The prior for a band is the geometric mean of its two neighbours' variances (one at the
    ends), worth ``PRIOR_WEIGHT * dof`` degrees of freedom: ``(dof v + d0 v0) / (dof + d0)``
    with ``dof + d0`` degrees of freedom.  Bands below ``SHRINK_FROM_HZ`` (read with another
    floor rule, see :mod:`mixes.envelope`) keep their own variance and ``dof``.
    """
    v = np.asarray(var, dtype=np.float64)
    ok = np.flatnonzero((freqs >= SHRINK_FROM_HZ) & np.isfinite(v) & (v > 0))
    out, dofs = v.copy(), np.full(v.shape, float(dof))
    if ok.size < 3 or not math.isfinite(dof) or PRIOR_WEIGHT <= 0:
        return out, dofs
    lv = np.log(v[ok])
    prior = np.empty_like(lv)
    prior[1:-1] = 0.5 * (lv[:-2] + lv[2:])
    prior[0], prior[-1] = lv[1], lv[-2]
    d0 = PRIOR_WEIGHT * dof
    out[ok] = (dof * v[ok] + d0 * np.exp(prior)) / (dof + d0)
    dofs[ok] = dof + d0
    return out, dofs


def _interval(d: np.ndarray, var_m: np.ndarray, dof_m, var_r: np.ndarray, dof_r,
              level: float) -> tuple[np.ndarray, np.ndarray]:
    """Half-width of the two-sided ``level`` interval and the standard error, per band.

    Student's t with Welch-Satterthwaite degrees of freedom for the difference of the mixes'
    and the references' location estimates (``dof_r`` infinite for a fixed target), at the
    quantile for ``MISS_SHARE`` of the nominal misses (see the module docstring).
    """
    se2 = var_m + var_r
    dof_r = np.asarray(dof_r, dtype=np.float64)
    den = var_m ** 2 / np.asarray(dof_m, dtype=np.float64) + np.where(
        np.isfinite(dof_r), var_r ** 2 / np.where(np.isfinite(dof_r), dof_r, 1.0), 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        dof = np.where(den > 0, se2 ** 2 / np.maximum(den, 1e-300), 1e6)
    dof = np.clip(np.nan_to_num(dof, nan=1e6), 1.0, 1e6)
    half = _t_quantile(1.0 - (1.0 - level) * MISS_SHARE / 2.0, dof) * np.sqrt(se2)
    return half, np.sqrt(se2)


def _t_quantile(p: float, dof: np.ndarray) -> np.ndarray:
    from scipy import stats

    return stats.t.ppf(p, dof)


def _own_covariates(spectra) -> np.ndarray | None:
    """Each band's own room-invariant covariates per track (``OWN_COVARIATES``), ``(n, bands, m)``;
    None when switched off or a spectrum lacks one."""
    cols = []
    for name in OWN_COVARIATES:
        if name == "gap":
            cols.append(np.vstack([s.level_db - s.floor_db for s in spectra]))
        elif name == "mod":
            if any(s.floor_mod_db is None for s in spectra):
                return None
            cols.append(np.vstack([s.floor_mod_db for s in spectra]))
    return np.stack(cols, axis=2) if cols else None


def _with_covariates(d, half, se, mixes, tracks, mix_levels, ref_levels, f, level):
    """The plain comparison (``k = 0``) or the one adjusted for ``k`` tonal-gap components (and,
    with ``OWN_COVARIATES``, each band's own covariates), whichever leaves the most bands with
    an interval <= ``SURE_WIDTH_DB`` (see :mod:`mixes.fingerprint_covariates`).  Returns
    ``(d, half, se, k, z, resid, resid_dof, own)``: ``z`` the ``k`` components (tracks x k),
    ``resid`` the tracks' residuals of the chosen model (None: the caller's), ``own`` the number
    of per-band covariates used."""
    sel = (f >= ALIGN_BAND_HZ[0]) & (f <= ALIGN_BAND_HZ[1])
    y = np.vstack([mix_levels, ref_levels])
    is_mix = np.r_[np.ones(len(mixes)), np.zeros(len(tracks))].astype(bool)
    spectra = list(mixes) + list(tracks)
    profiles = [np.vstack([s.level_db - s.floor_db for s in spectra])]
    if FLOOR_MODULATION and all(s.floor_mod_db is not None for s in spectra):
        profiles.append(np.vstack([s.floor_mod_db for s in spectra]))
    z = profile_components(profiles, sel)
    k_max = min(MAX_COMPONENTS, z.shape[1], y.shape[0] - 2 - MIN_RESIDUAL_DOF)
    own = _own_covariates(spectra)

    def n_sure(h):
        return int(np.sum(np.nan_to_num(2.0 * h[sel], nan=99.0) <= SURE_WIDTH_DB))

    best = (n_sure(half), d, half, se, 0, None, None, 0)
    p = 1.0 - (1.0 - level) * MISS_SHARE / 2.0
    for k in range(1, k_max + 1):
        shift, se2, dof = adjusted_shift(y, is_mix, z[:, :k])
        var, dofs = _moderated(np.nan_to_num(se2, nan=np.inf), dof, f)
        h = _t_quantile(p, dofs) * np.sqrt(var)
        cand = (n_sure(h), _level_free(shift, f), h, np.sqrt(var), k, None, None, 0)
        if cand[0] > best[0]:
            best = cand
    if own is not None:
        m = own.shape[2]
        for k in range(0, min(MAX_COMPONENTS, z.shape[1], y.shape[0] - 2 - m - MIN_RESIDUAL_DOF) + 1):
            shift, se2, dof, res = adjusted_shift_banded(y, is_mix, z[:, :k], own)
            var, dofs = _moderated(np.nan_to_num(se2, nan=np.inf), dof, f)
            h = _t_quantile(p, dofs) * np.sqrt(var)
            cand = (n_sure(h), _level_free(shift, f), h, np.sqrt(var), k, res, dof, m)
            if cand[0] > best[0]:
                best = cand
    return best[1], best[2], best[3], best[4], z[:, :best[4]], best[5], best[6], best[7]


def _residuals(y: np.ndarray, is_mix: np.ndarray, z: np.ndarray) -> np.ndarray:
    """The tracks' residuals (dB) after group means and covariates ``z`` (least squares per band)."""
    a = np.column_stack([np.ones(y.shape[0]), is_mix.astype(np.float64), z])
    yy = np.nan_to_num(y, nan=0.0, posinf=0.0, neginf=0.0)
    coef, *_ = np.linalg.lstsq(a, yy, rcond=None)
    return yy - a @ coef


def _advice(half: np.ndarray, f: np.ndarray, n_mixes: int, n_refs: int) -> str:
    """What a fingerprint with many unsure bands means (``meta["advice"]``; empty when >= 80 %
    of the bands of ``ALIGN_BAND_HZ`` are sure)."""
    sel = (f >= ALIGN_BAND_HZ[0]) & (f <= ALIGN_BAND_HZ[1])
    sure = np.nan_to_num(2.0 * half[sel], nan=99.0) <= SURE_WIDTH_DB
    share = float(sure.mean()) if sel.any() else 0.0
    if share >= 0.8:
        return ""
    low = f[sel][~sure]
    where = f"{low.size} unsure between {low.min():.0f} and {low.max():.0f} Hz" if low.size else ""
    return (f"only {share:.0%} of the bands are sure (interval <= {SURE_WIDTH_DB:g} dB; {where}): the songs' own "
            f"balance differs more from song to song than {n_mixes} + {n_refs} tracks can tell from the room. "
            + ("Use references of the mixes' kind of music (between styles the songs' balance differs by up to "
               "+-10 dB per band), or more mixes; unsure bands are not corrected."
               if n_refs else "More mixes narrow the intervals; unsure bands are not corrected."))


def fingerprint_from_mixes(studio: str, mixes: list[Ltas], reference: LtasReference | list[Ltas], *,
                           files: tuple[str, ...] = (), level: float = INTERVAL_LEVEL,
                           estimator: str = "auto") -> RoomFingerprint:
    """The consistent deviation of a studio's mixes from a reference, with 90 % intervals.

    Parameters
    ----------
    studio : str
    mixes : list of Ltas
        Loudness-normalised LTAS of the studio's mixes (same bands), at least 2.
    reference : LtasReference or list of Ltas
        Built-in target / precomputed reference, or the reference tracks' spectra.
    files : tuple of str
        Names of the mixes, kept for provenance.
    level : float
        Coverage of ``interval_db`` (0.5..0.999).
    estimator : {"auto", "floor", "mean"}
        What is compared per band: the broadband floor (``Ltas.floor_db``, robust to notes),
        or the mean band power.  ``auto``: the floor when every mix and reference track
        carries one; the mean against a built-in target (a table of mean levels).

    Returns
    -------
    RoomFingerprint
        ``deviation_db`` the robust (Huber) location of the mixes minus that of the
        references, or that shift adjusted for the tracks' tonal-gap components when that
        leaves more bands sure (``meta["covariates"]`` > 0), level-aligned over ``ALIGN_BAND_HZ``; ``interval_db`` its ``level``
        interval; ``confidence`` the shrinkage factor ``D^2 / (D^2 + se^2)`` with the same
        standard error (above 0.73 wherever the 90 % interval excludes 0).

    Raises
    ------
    SignalError
        Fewer than two mixes, spectra on different bands, bad level or estimator.
    """
    studio = valid_studio_name(studio)
    if len(mixes) < 2:
        raise SignalError(
            f"a fingerprint needs at least 2 mixes from the studio, got {len(mixes)}; "
            "what varies from song to song cannot be told from the room with one mix"
        )
    if not (0.5 <= level <= 0.999):
        raise SignalError(f"interval level {level} is outside 0.5..0.999")
    if estimator not in ("auto", "floor", "mean"):
        raise SignalError(f"estimator {estimator!r} is not 'auto', 'floor' or 'mean'")
    f = mixes[0].freqs_hz
    for m in mixes[1:]:
        if m.freqs_hz.shape != f.shape or not np.allclose(m.freqs_hz, f):
            raise SignalError("the mixes' spectra use different bands (mixed sample rates?)")
    tracks = reference if isinstance(reference, list) else []
    if isinstance(reference, list):
        if not reference:
            raise SignalError("no reference tracks given")
        for r in reference:
            if r.freqs_hz.shape != f.shape or not np.allclose(r.freqs_hz, f):
                raise SignalError("a reference track's spectrum uses different bands (sample rate differs?)")
    elif reference.freqs_hz.shape != f.shape or not np.allclose(reference.freqs_hz, f):
        raise SignalError("the reference uses different bands from the mixes")
    have_floor = all(s.floor_db is not None for s in list(mixes) + list(tracks))
    if estimator == "floor" and not have_floor:
        raise SignalError("estimator 'floor' needs band floors on every spectrum (a spectrum of <= 1.5 Hz bins)")
    use_floor = have_floor and isinstance(reference, list) and estimator != "mean"

    def rows(spectra: list[Ltas]) -> np.ndarray:
        if use_floor:
            x = np.vstack([FLOOR_WEIGHT * s.floor_db + (1.0 - FLOOR_WEIGHT) * s.level_db for s in spectra])
        else:
            x = np.vstack([s.level_db for s in spectra])
        return _level_free(x, f)

    if isinstance(reference, list):
        ref_levels = rows(reference)
        ref_loc, ref_var = _huber(ref_levels)
        ref_dof = float(len(reference) - 1) if len(reference) > 1 else math.inf
        if len(reference) < 2:
            ref_var = np.zeros(f.size)
        ref_desc = f"reference tracks ({len(reference)})"
    else:
        ref_loc = _level_free(reference.level_db, f)
        # a broad target is no measurement: its tolerance (2 sigma) is the uncertainty
        ref_var = (reference.tolerance_db / 2.0) ** 2 if reference.n_tracks == 0 else (
            reference.spread_db ** 2 / max(reference.n_tracks, 1))
        ref_dof = math.inf if reference.n_tracks == 0 else float(max(reference.n_tracks - 1, 1))
        ref_desc = reference.description
    mix_levels = rows(mixes)
    mix_loc, mix_var = _huber(mix_levels)
    dev = mix_levels - ref_loc
    shift = mix_loc - ref_loc
    d = _level_free(shift, f)
    ref_var = np.asarray(ref_var, dtype=np.float64) * np.ones(f.size)
    if use_floor:   # song-to-song variances of neighbouring bands are alike: borrow strength
        mix_var, mix_dof = _moderated(mix_var, float(len(mixes) - 1), f)
        ref_var, ref_dof = _moderated(ref_var, ref_dof, f)
    else:
        mix_dof = float(len(mixes) - 1)
    half, se = _interval(d, mix_var, mix_dof, ref_var, ref_dof, level)
    n_cov, z_cov, resid, resid_dof, n_own = 0, np.zeros((len(mixes) + len(tracks), 0)), None, None, 0
    if use_floor and len(tracks) >= 2 and COVARIATES:
        d, half, se, n_cov, z_cov, resid, resid_dof, n_own = _with_covariates(
            d, half, se, mixes, tracks, mix_levels, ref_levels, f, level)
    n_smooth, smooth_info = 0, {}
    if use_floor and len(tracks) >= 2 and SMOOTH_UNSURE:
        sel = (f >= ALIGN_BAND_HZ[0]) & (f <= ALIGN_BAND_HZ[1])
        y_all = np.vstack([mix_levels, ref_levels])
        is_mix = np.r_[np.ones(len(mixes)), np.zeros(len(tracks))].astype(bool)
        if resid is None:
            resid, resid_dof = _residuals(y_all, is_mix, z_cov), float(y_all.shape[0] - 2 - z_cov.shape[1])
        d, half, se, n_smooth, smooth_info = smooth_unsure(
            d, half, se, y_all, is_mix, sel, SURE_WIDTH_DB, resid_db=resid, resid_dof=resid_dof,
            q_full=float(_t_quantile(1.0 - (1.0 - level) * MISS_SHARE / 2.0, max(resid_dof, 1.0))))
    spread = dev.std(axis=0, ddof=1)
    advice = _advice(half, f, len(mixes), len(tracks))
    with np.errstate(invalid="ignore", divide="ignore"):
        conf = np.where(d * d + se * se > 0, d * d / (d * d + se * se), 0.0)
    conf = np.nan_to_num(conf, nan=0.0)
    d = np.nan_to_num(d, nan=0.0)
    half = np.nan_to_num(half, nan=99.0, posinf=99.0)
    return RoomFingerprint(
        studio=studio, freqs_hz=f, deviation_db=d, confidence=np.clip(conf, 0, 1),
        spread_db=np.nan_to_num(spread, nan=0.0), n_mixes=len(mixes), source="mixes",
        reference=ref_desc, created=_now(), files=tuple(files),
        meta={"standard_error_db": [round(float(v), 3) for v in np.nan_to_num(se, nan=99.0)],
              "estimator": (f"band floor (mean of the frames' {FRAME_PERCENTILE:g}th percentiles of ~1.5 Hz bins per half band)" if use_floor else "band mean power")
              + (f", adjusted for {n_cov} component(s) of the tracks' tonal-gap"
                 f"{' and floor-modulation' if FLOOR_MODULATION else ''} profiles (analysis of covariance)"
                 if n_cov else "")
              + (", adjusted per band for its own tonal gap" if n_own else "")
              + ("" if n_cov or n_own else ", Huber location over tracks")
              + (f"; {n_smooth} unsure band(s) borrowing from their neighbours (empirical Bayes)" if n_smooth else ""),
              "covariates": n_cov,
              "own_covariates": n_own,
              "smoothed_bands": n_smooth,
              "smoothing": smooth_info,
              "interval_level": level,
              "advice": advice},
        per_mix_deviation_db=np.nan_to_num(_level_free(dev, f), nan=0.0),
        interval_db=np.column_stack([d - half, d + half]),
    )


def _third_octave(freqs_hz: np.ndarray, level_db: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Power average of a response within each third-octave band (log-spaced interpolation)."""
    lf = np.log(freqs_hz)
    out = np.empty(centres.size)
    for i, fc in enumerate(centres):
        lo, hi = fc * 10 ** (-0.05), fc * 10 ** 0.05
        grid = np.log(np.geomspace(lo, hi, 16))
        p = 10 ** (np.interp(grid, lf, level_db) / 10)
        out[i] = 10 * math.log10(float(np.mean(p)))
    return out


def fingerprint_from_response(studio: str, response: FrequencyResponse, *,
                              target: FrequencyResponse | None = None, source_file: str = "") -> RoomFingerprint:
    """Fingerprint from a measured in-room response of the studio (inverted deviation).

    Parameters
    ----------
    studio : str
    response : FrequencyResponse
        Measured response (dB), channels are power-averaged.
    target : FrequencyResponse, optional
        The room's target; flat when omitted.

    Raises
    ------
    SignalError
        The response does not cover at least 100 Hz..5 kHz.
    """
    studio = valid_studio_name(studio)
    f = np.asarray(response.freqs_hz)
    pos = f > 0
    if not pos.any() or f[pos].min() > 100 or f[pos].max() < 5000:
        raise SignalError(
            f"the measured response covers {f[pos].min() if pos.any() else 0:g}..{f.max():g} Hz; "
            "need at least 100 Hz..5 kHz to make a fingerprint"
        )
    mag = 10 * np.log10(np.mean(10 ** (np.asarray(response.magnitude_db)[:, pos] / 10), axis=0))
    fr = f[pos]
    centres = band_centres_hz(3, f_lo_hz=max(20.0, fr.min()), f_hi_hz=min(20_000.0, fr.max()))
    room = _third_octave(fr, mag, centres)
    if target is not None:
        tf = np.asarray(target.freqs_hz)
        tp = tf > 0
        room = room - np.interp(np.log(centres), np.log(tf[tp]), np.asarray(target.magnitude_db)[0, tp])
    room = _level_free(room, centres)
    dev = -room
    conf = np.where((centres >= MEASURED_BAND_HZ[0]) & (centres <= MEASURED_BAND_HZ[1]),
                    MEASURED_CONFIDENCE, MEASURED_CONFIDENCE / 2)
    return RoomFingerprint(
        studio=studio, freqs_hz=centres, deviation_db=dev, confidence=conf,
        spread_db=np.zeros(centres.size), n_mixes=0, source="measurement",
        reference="flat target" if target is None else "measured against the given target",
        created=_now(), files=(source_file,) if source_file else (),
    )


def read_response_file(path: str | Path) -> FrequencyResponse:
    """Read a measured response: an impulse-response WAV, or a text file ``freq dB [phase]``.

    Text files: REW/ARTA ``.frd``/``.txt`` exports; lines that do not start with two numbers
    are headers; decimal commas are accepted when the columns are separated by whitespace.

    Raises
    ------
    SignalError
        Missing/unreadable file, fewer than 10 points, non-increasing frequencies.
    """
    p = Path(path)
    if not p.exists():
        raise SignalError(f"{p}: no such file")
    if p.suffix.lower() in (".wav", ".flac", ".aif", ".aiff"):
        ir, fs = read_audio(p, min_samples=64)
        n = 1 << int(math.ceil(math.log2(max(ir.shape[1], 2 * fs))))
        spec = np.fft.rfft(ir, n=n, axis=-1)
        f = np.fft.rfftfreq(n, 1 / fs)
        with np.errstate(divide="ignore"):
            mag = 20 * np.log10(np.maximum(np.abs(spec), 1e-12))
        return FrequencyResponse(freqs_hz=f[1:], magnitude_db=mag[:, 1:],
                                 channel_names=tuple(f"ch{i + 1}" for i in range(ir.shape[0])))
    rows = []
    try:
        text = p.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise SignalError(f"{p} cannot be read: {exc}") from None
    for line in text.splitlines():
        toks = line.replace(";", " ").replace("\t", " ").split()
        if len(toks) < 2:
            continue
        try:
            a, b = float(toks[0].replace(",", ".")), float(toks[1].replace(",", "."))
        except ValueError:
            continue
        rows.append((a, b))
    arr = np.array(rows)
    if arr.shape[0] < 10:
        raise SignalError(f"{p} holds {arr.shape[0]} frequency/dB points; expected a response with at least 10")
    arr = arr[arr[:, 0] > 0]
    if np.any(np.diff(arr[:, 0]) <= 0):
        raise SignalError(f"{p}: frequencies are not strictly increasing; is it a frequency-response export?")
    return FrequencyResponse(freqs_hz=arr[:, 0], magnitude_db=arr[:, 1][np.newaxis, :], channel_names=("measured",))
