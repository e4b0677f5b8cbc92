"""Adjusting a studio fingerprint for the kind of music: covariates the room cannot move.

Why
    The fingerprint compares the mixes' band floors with the references' (:mod:`mixes.fingerprint`).
    When the two sets hold different kinds of music (ballads against electronic tracks), each
    band differs by the arrangement as much as by the room: on the second song generator
    (``mixes.songs_alt``, four styles) the styles' own balance differs by up to +-10 dB per
    band, the song-to-song spread of a band is 2.5-3.5 dB and only 2-7 % of the bands get an
    interval <= 3 dB wide.  An estimator of the room cannot remove that without knowing what
    kind of music each track is; but part of it can be *seen* in each track without the room.

Room-invariant descriptors
    A room multiplies everything in a band by (nearly) one gain, so a ratio of two quantities
    of the same band does not see it.  The tonal gap of a band, ``level_db - floor_db`` (the
    mean power over the broadband floor, :mod:`mixes.envelope`), is such a ratio: near 1-2 dB
    for noise-like content (cymbals, reverb), 10 dB and more where sustained partials dominate
    (a sub bass, a piano, a voice).  The profile of gaps across the bands describes the
    arrangement (how tonal the low end is, where the voice and keys sit) and is the same
    whether the track went through the studio's room or not.

The model (analysis of covariance)
    Per band, over the ``n`` tracks (mixes and references together)::

        y_tb = a_b + D_b * [t is a mix] + sum_j beta_bj z_tj + e_tb

    ``y`` the level-aligned band floor, ``z_t1..z_tk`` the first ``k`` principal components of
    the tracks' gap profiles (bands of ``ALIGN_BAND_HZ``, each band's gap centred and scaled
    over the tracks) and, since session 6, of their floors' modulation over time
    (:mod:`mixes.fingerprint_features`, :func:`profile_components`), ``D_b`` the room's deviation.  Ordinary least squares per band; the
    interval of ``D_b`` is Student's t on the residual variance with ``n - 2 - k`` degrees of
    freedom (moderated with the neighbouring bands' as in :mod:`mixes.fingerprint`) and the
    ``(A'A)^-1`` element of the indicator, so an imbalance of the kinds of music between mixes
    and references (the covariates correlate with the indicator) widens the interval instead
    of biasing it.  The covariates come from the tracks alone (no use of ``y``).

Choosing k
    ``k = 0`` is the plain comparison (:func:`mixes.fingerprint.fingerprint_from_mixes`'s
    Huber/Welch intervals).  For ``k = 1 .. MAX_COMPONENTS`` the adjusted intervals are
    computed and the ``k`` giving the most bands with an interval of at most
    ``SURE_WIDTH_DB`` wins (ties: the smaller ``k``).  This choice looks at the widths, so it
    could flatter the intervals; on held-out studios (``benchmarks/bench_fingerprint_music.py``)
    the coverage dropped by 0-3 points of bands (figures in :mod:`mixes.fingerprint`).

    Measured alternatives (songs_alt, four styles mixed, 20 s, 50 held-out studios; cover /
    sure): plain 0.946 / 0.04; this choice with k <= 8 0.924 / 0.24; components taken by a pooled
    F test instead of by the widths (0.01, 0.001, 1e-4) 0.909-0.918 / 0.18-0.20 (so the loss of
    coverage is the model's, not the choice's: the styles' residual spreads differ, the pooled
    residual variance is a compromise); heteroscedasticity-consistent (HC3) standard errors
    0.950 / 0.10 (honest under unequal spreads but conservative at 16 tracks).  On
    ``mixes.songs`` all of them keep cover 0.93-0.95 and sure 0.87-0.93.
"""

from __future__ import annotations

import numpy as np

__all__ = ["MAX_COMPONENTS", "SURE_WIDTH_DB", "MIN_RESIDUAL_DOF", "gap_components", "profile_components",
           "adjusted_shift_banded",
           "adjusted_shift"]

MAX_COMPONENTS = 5          # at most this many gap-profile components as covariates
SURE_WIDTH_DB = 3.0         # an interval at most this wide counts as "sure" when choosing k
MIN_RESIDUAL_DOF = 5        # k is limited so that n - 2 - k stays at least this


def gap_components(gaps_db: np.ndarray, sel: np.ndarray) -> np.ndarray:
    """Principal components of the tracks' tonal-gap profiles (scores, largest first).

    Parameters
    ----------
    gaps_db : ndarray (n_tracks, n_bands)
        ``level_db - floor_db`` per track and band (dB).
    sel : ndarray of bool (n_bands,)
        Bands used (those of the level alignment, finite on every track).

    Returns
    -------
    ndarray (n_tracks, r)
        Left singular vectors of the centred, per-band scaled gap matrix (unit-norm columns),
        ``r = min(n_tracks - 1, n_bands used)``.
    """
    x = np.asarray(gaps_db, dtype=np.float64)[:, sel]
    x = x[:, np.all(np.isfinite(x), axis=0)]
    if x.shape[1] == 0 or x.shape[0] < 3:
        return np.zeros((x.shape[0], 0))
    x = x - x.mean(axis=0)
    sd = x.std(axis=0)
    x = x / np.where(sd > 1e-6, sd, 1.0)
    u, s, _ = np.linalg.svd(x, full_matrices=False)
    r = min(x.shape[0] - 1, int(np.sum(s > 1e-9 * max(float(s[0]), 1e-30))))
    return u[:, :r]


def profile_components(profiles_db: list[np.ndarray], sel: np.ndarray) -> np.ndarray:
    """Principal components of several room-invariant profiles of the tracks together.

    Each profile (``(n_tracks, n_bands)``: the tonal gap, the floor's modulation over time,
    :mod:`mixes.fingerprint_features`) is centred and scaled per band over the tracks, then
    divided by the square root of its number of bands, so every kind of profile weighs the
    same whatever its band count; the blocks side by side are decomposed as in
    :func:`gap_components` (which is the case of the gap profile alone).

    Parameters
    ----------
    profiles_db : list of ndarray (n_tracks, n_bands)
    sel : ndarray of bool (n_bands,)
        Bands used; a band not finite on every track is left out of its profile.

    Returns
    -------
    ndarray (n_tracks, r)
        Left singular vectors (unit-norm columns), largest first.
    """
    blocks = []
    for prof in profiles_db:
        x = np.asarray(prof, dtype=np.float64)[:, sel]
        x = x[:, np.all(np.isfinite(x), axis=0)]
        if x.shape[1] == 0:
            continue
        x = x - x.mean(axis=0)
        sd = x.std(axis=0)
        blocks.append(x / np.where(sd > 1e-6, sd, 1.0) / np.sqrt(x.shape[1]))
    if not blocks or blocks[0].shape[0] < 3:
        return np.zeros((len(profiles_db[0]) if profiles_db else 0, 0))
    x = np.hstack(blocks)
    u, s, _ = np.linalg.svd(x, full_matrices=False)
    r = min(x.shape[0] - 1, int(np.sum(s > 1e-9 * max(float(s[0]), 1e-30))))
    return u[:, :r]


def adjusted_shift(y: np.ndarray, is_mix: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """The mixes' shift per band adjusted for covariates ``z``, its variance factor and dof.

    Parameters
    ----------
    y : ndarray (n_tracks, n_bands)
        Level-aligned band values (dB); non-finite columns give NaN.
    is_mix : ndarray of bool (n_tracks,)
    z : ndarray (n_tracks, k)
        Covariates (k may be 0).

    Returns
    -------
    shift : ndarray (n_bands,)
        OLS coefficient of the mix indicator per band (dB); NaN where a track's value is not finite.
    se2 : ndarray (n_bands,)
        Its squared standard error: residual variance times the indicator's element of
        ``(A'A)^-1`` (dB^2).
    dof : float
        Residual degrees of freedom, ``n - 2 - k``.
    """
    y = np.asarray(y, dtype=np.float64)
    n = y.shape[0]
    a = np.column_stack([np.ones(n), np.asarray(is_mix, dtype=np.float64), z])
    dof = n - a.shape[1]
    ok = np.all(np.isfinite(y), axis=0)
    yy = np.where(ok, y, 0.0)
    coef, *_ = np.linalg.lstsq(a, yy, rcond=None)
    res = yy - a @ coef
    c11 = float(np.linalg.pinv(a.T @ a)[1, 1])
    rv = np.sum(res * res, axis=0) / max(dof, 1)
    shift = np.where(ok, coef[1], np.nan)
    return shift, np.where(ok, rv * c11, np.nan), float(dof)


def adjusted_shift_banded(y: np.ndarray, is_mix: np.ndarray, z: np.ndarray,
                          w: np.ndarray) -> tuple[np.ndarray, np.ndarray, float, np.ndarray]:
    """As :func:`adjusted_shift`, with per-band covariates ``w`` besides the shared ``z``.

    Parameters
    ----------
    y : ndarray (n_tracks, n_bands)
    is_mix : ndarray of bool (n_tracks,)
    z : ndarray (n_tracks, k)
        Covariates shared by every band (profile components; k may be 0).
    w : ndarray (n_tracks, n_bands, m)
        Each band's own room-invariant covariates (its tonal gap, ...), centred per band here.

    Returns
    -------
    shift, se2 : ndarray (n_bands,)
    dof : float
        ``n - 2 - k - m``.
    resid : ndarray (n_tracks, n_bands)
        The least-squares residuals per band (0 where a band is not finite).
    """
    y = np.asarray(y, dtype=np.float64)
    n, nb = y.shape
    w = np.asarray(w, dtype=np.float64)
    base = np.column_stack([np.ones(n), np.asarray(is_mix, dtype=np.float64), z])
    dof = n - base.shape[1] - w.shape[2]
    ok = np.all(np.isfinite(y), axis=0) & np.all(np.isfinite(w), axis=(0, 2))
    wc = np.where(ok[None, :, None], w, 0.0)
    wc = wc - wc.mean(axis=0)
    sd = wc.std(axis=0)
    wc = wc / np.where(sd > 1e-9, sd, 1.0)
    # per band the design [base, w_b]: (bands, n, p), solved as a batch of normal equations
    a = np.concatenate([np.broadcast_to(base, (nb,) + base.shape), wc.transpose(1, 0, 2)], axis=2)
    yy = np.where(ok, y, 0.0).T                                  # (bands, n)
    inv = np.linalg.pinv(np.einsum("bnp,bnq->bpq", a, a))
    coef = np.einsum("bpq,bnq,bn->bp", inv, a, yy)
    resid = yy - np.einsum("bnp,bp->bn", a, coef)
    rv = np.sum(resid * resid, axis=1) / max(dof, 1)
    shift = np.where(ok, coef[:, 1], np.nan)
    se2 = np.where(ok, inv[:, 1, 1] * rv, np.nan)
    return shift, se2, float(dof), np.where(ok[:, None], resid, 0.0).T

