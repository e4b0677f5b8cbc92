"""Parametric EQ optimizer: RBJ peaking biquads that mainly cut modal peaks.

The optimizer works on the deviation from target of one speaker at several seats, on a
log-spaced grid (each point the same fraction of an octave):

1. greedy placement: the largest remaining peak of the desired correction gets a peaking cut
   at its frequency, with the Q of its half-height width (STANDARDS.md §4.3: a peaking cut of
   the mode's f0 and Q approximates the modal peak); a boost is placed only where every seat
   lies below the target (``boost_allowed_db``), never deeper than ``max_boost_db`` and with a
   broad Q, so narrow seat-dependent dips are never filled;
2. joint refinement of all filters (frequency, gain, Q) by bounded nonlinear least squares
   (``scipy.optimize.least_squares``, trust-region reflective with the LSMR sub-solver: no
   dense SVD per step), with a penalty wherever the cascade boosts more than the seats allow.

Filters are :class:`calib.profile.Biquad` (RBJ cookbook, STANDARDS.md §7.1); their response
here is the exact digital response at ``fs``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy.optimize import least_squares

from calib.errors import ConfigError
from calib.profile import Biquad

__all__ = ["PeqSettings", "biquad_response_db", "peq_response_db", "optimize_peq"]


@dataclass(frozen=True)
class PeqSettings:
    """Limits of the PEQ optimizer.

    Parameters
    ----------
    n_max : int
        Most filters used (0 disables the PEQ).
    max_boost_db : float
        Largest boost of the cascade at any frequency (dB, default +3, STANDARDS.md §7.4).
    max_cut_db : float
        Deepest single cut (dB, positive number).
    q_min, q_max : float
        Q range of cuts.
    q_boost_max : float
        Highest Q of a boost (boosts stay broad).
    min_gain_db : float
        Filters smaller than this are dropped; errors smaller than this are left alone.
    """

    n_max: int = 10
    max_boost_db: float = 3.0
    max_cut_db: float = 15.0
    q_min: float = 0.5
    q_max: float = 16.0
    q_boost_max: float = 5.0
    min_gain_db: float = 0.5

    def __post_init__(self) -> None:
        if not (0 <= self.n_max <= 64):
            raise ConfigError(f"--peq {self.n_max} filters is outside 0..64")
        if not (0 <= self.max_boost_db <= 12):
            raise ConfigError(f"--max-boost-db {self.max_boost_db} is outside 0..12 dB")
        if not (0 < self.max_cut_db <= 30):
            raise ConfigError(f"maximum cut {self.max_cut_db} dB is outside 0..30 dB")
        if not (0.1 <= self.q_min < self.q_max <= 50):
            raise ConfigError(f"Q range {self.q_min}..{self.q_max} is invalid; need 0.1 <= min < max <= 50")


def _peaking_coeffs(f0_hz: np.ndarray, gain_db: np.ndarray, q: np.ndarray, fs: int):
    # RBJ peaking EQ (STANDARDS.md §7.1), vectorised over filters.
    A = 10.0 ** (gain_db / 40.0)
    w0 = 2.0 * np.pi * f0_hz / fs
    alpha = np.sin(w0) / (2.0 * q)
    cw = np.cos(w0)
    return (1 + alpha * A, -2 * cw, 1 - alpha * A), (1 + alpha / A, -2 * cw, 1 - alpha / A)


def _cascade_db(f0_hz, gain_db, q, freqs_hz, fs) -> np.ndarray:
    if len(f0_hz) == 0:
        return np.zeros_like(freqs_hz)
    (b0, b1, b2), (a0, a1, a2) = _peaking_coeffs(np.asarray(f0_hz)[:, None], np.asarray(gain_db)[:, None],
                                                 np.asarray(q)[:, None], fs)
    z1 = np.exp(-1j * 2 * np.pi * freqs_hz / fs)[None, :]
    z2 = z1 * z1
    num = b0 + b1 * z1 + b2 * z2
    den = a0 + a1 * z1 + a2 * z2
    return (20.0 * np.log10(np.abs(num) / np.abs(den))).sum(axis=0)


def biquad_response_db(bq: Biquad, freqs_hz: np.ndarray, *, fs: int) -> np.ndarray:
    """Exact magnitude (dB) of one biquad at ``fs`` evaluated at ``freqs_hz``."""
    s = bq.sos(fs=fs)
    z1 = np.exp(-1j * 2 * np.pi * np.asarray(freqs_hz, dtype=np.float64) / fs)
    num = s[0] + s[1] * z1 + s[2] * z1 * z1
    den = s[3] + s[4] * z1 + s[5] * z1 * z1
    return 20.0 * np.log10(np.maximum(np.abs(num), 1e-300) / np.abs(den))


def peq_response_db(peq: Sequence[Biquad], freqs_hz: np.ndarray, *, fs: int) -> np.ndarray:
    """Magnitude (dB) of a biquad cascade at ``freqs_hz`` (Hz) for sample rate ``fs``."""
    f = np.asarray(freqs_hz, dtype=np.float64)
    out = np.zeros_like(f)
    for bq in peq:
        out += biquad_response_db(bq, f, fs=fs)
    return out


def _half_height_q(freqs_hz: np.ndarray, err: np.ndarray, i: int, q_lo: float, q_hi: float) -> float:
    """Q of a peak of ``err`` at index ``i`` from its half-height width (Q = f0 / B)."""
    half = err[i] / 2.0
    j = i
    while j > 0 and err[j] > half:
        j -= 1
    k = i
    while k < err.size - 1 and err[k] > half:
        k += 1
    bw = freqs_hz[k] - freqs_hz[j]
    if bw <= 0:
        return q_hi
    return float(np.clip(freqs_hz[i] / bw, q_lo, q_hi))


def optimize_peq(freqs_hz: np.ndarray, desired_db: np.ndarray, boost_allowed_db: np.ndarray, *,
                 fs: int, settings: PeqSettings, lo_hz: float, hi_hz: float,
                 weight: np.ndarray | None = None) -> list[Biquad]:
    """Fit up to ``settings.n_max`` peaking filters to a desired correction curve.

    Parameters
    ----------
    freqs_hz : ndarray, shape (n,)
        Log-spaced design grid (Hz).
    desired_db : ndarray, shape (n,)
        The correction the seats agree on (dB; negative = cut), e.g. from
        :func:`calib.correction.multiseat.combine_seats`.  Already zero where seats disagree.
    boost_allowed_db : ndarray, shape (n,)
        Largest boost every seat tolerates at each frequency (>= 0 dB).
    fs : int
        Sample rate the biquads run at (Hz).
    settings : PeqSettings
    lo_hz, hi_hz : float
        Correction range; filter centres stay inside it.
    weight : ndarray, shape (n,), optional
        Per-point weight of the fit (e.g. seat agreement), default 1.

    Returns
    -------
    list of Biquad
        Peaking filters sorted by frequency.
    """
    f = np.asarray(freqs_hz, dtype=np.float64)
    want = np.clip(np.asarray(desired_db, dtype=np.float64), -settings.max_cut_db,
                   np.minimum(boost_allowed_db, settings.max_boost_db))
    allow = np.minimum(np.asarray(boost_allowed_db, dtype=np.float64), settings.max_boost_db)
    w = np.ones_like(f) if weight is None else np.sqrt(np.clip(weight, 0.0, None))
    inside = (f >= lo_hz) & (f <= hi_hz)
    f_top = min(hi_hz, 0.45 * fs)
    if settings.n_max == 0 or not inside.any():
        return []

    params: list[list[float]] = []  # [ln f0, gain, ln q]
    kinds: list[int] = []  # -1 cut, +1 boost

    def unpack(x):
        x = np.asarray(x).reshape(-1, 3)
        return np.exp(x[:, 0]), x[:, 1], np.exp(x[:, 2])

    def residuals(x):
        f0, g, q = unpack(x)
        p = _cascade_db(f0, g, q, f, fs)
        r_fit = w * (p - want)
        r_boost = 4.0 * np.maximum(p - allow, 0.0)  # never boost past what all seats tolerate
        r_out = 0.5 * np.where(inside, 0.0, p)  # stay quiet outside the range
        return np.concatenate([r_fit, r_boost, r_out])

    def bounds():
        lo, hi = [], []
        for kind in kinds:
            lo += [math.log(lo_hz), -settings.max_cut_db if kind < 0 else 0.0, math.log(settings.q_min)]
            hi += [math.log(f_top), 0.0 if kind < 0 else settings.max_boost_db,
                   math.log(settings.q_max if kind < 0 else settings.q_boost_max)]
        return np.array(lo), np.array(hi)

    x = np.zeros(0)
    for _ in range(settings.n_max):
        f0, g, q = unpack(x) if x.size else (np.zeros(0),) * 3
        err = want - _cascade_db(f0, g, q, f, fs)  # what is still to do
        err_in = np.where(inside, err, 0.0) * w
        i_cut = int(np.argmin(err_in))
        i_boost = int(np.argmax(err_in))
        cut_size, boost_size = -err_in[i_cut], err_in[i_boost]
        if max(cut_size, boost_size) < settings.min_gain_db:
            break
        if cut_size >= boost_size:
            i, kind, gain = i_cut, -1, -cut_size
            qv = _half_height_q(f, -err, i, settings.q_min, settings.q_max)
        else:
            i, kind, gain = i_boost, 1, boost_size
            qv = _half_height_q(f, err, i, settings.q_min, settings.q_boost_max)
        kinds.append(kind)
        params.append([math.log(min(max(f[i], lo_hz), f_top)), gain, math.log(qv)])
        # refine the new filter alone (the others fixed), then all of them together briefly
        fixed = np.array(params[:-1], dtype=np.float64).reshape(-1)
        lo, hi = bounds()
        x_new = np.clip(np.array(params[-1]), lo[-3:] + 1e-9, hi[-3:] - 1e-9)
        x_new = least_squares(lambda y: residuals(np.concatenate([fixed, y])), x_new, bounds=(lo[-3:], hi[-3:]),
                              method="trf", x_scale="jac", tr_solver="lsmr", max_nfev=80).x
        x = np.concatenate([fixed, x_new])
        params = [list(r) for r in x.reshape(-1, 3)]
    # merge filters of the same kind closer than 1/12 octave (greedy steps can stack them)
    merged: list[list[float]] = []
    mkinds: list[int] = []
    for p, kd in sorted(zip(params, kinds), key=lambda t: t[0][0]):
        if merged and mkinds[-1] == kd and abs(p[0] - merged[-1][0]) < math.log(2) / 12:
            m = merged[-1]
            m[0] = (abs(m[1]) * m[0] + abs(p[1]) * p[0]) / max(abs(m[1]) + abs(p[1]), 1e-9)
            m[1] = m[1] + p[1]
            m[2] = max(m[2], p[2]) if kd < 0 else min(m[2], p[2])
        else:
            merged.append(list(p))
            mkinds.append(kd)
    params, kinds = merged, mkinds
    if params:
        lo, hi = bounds()
        x0 = np.clip(np.array(params).reshape(-1), lo + 1e-9, hi - 1e-9)
        x = least_squares(residuals, x0, bounds=(lo, hi), method="trf", x_scale="jac", tr_solver="lsmr",
                          max_nfev=150, ftol=1e-4, xtol=1e-6).x
        params = [list(r) for r in x.reshape(-1, 3)]

    # drop filters too small to matter, refit the rest once
    keep = [i for i, p in enumerate(params) if abs(p[1]) >= settings.min_gain_db]
    if len(keep) != len(params):
        params = [params[i] for i in keep]
        kinds = [kinds[i] for i in keep]
        if params:
            lo, hi = bounds()
            x0 = np.clip(np.array(params).reshape(-1), lo + 1e-9, hi - 1e-9)
            params = [list(r) for r in least_squares(residuals, x0, bounds=(lo, hi), method="trf",
                                                     x_scale="jac", tr_solver="lsmr", max_nfev=40,
                                                     ftol=1e-4).x.reshape(-1, 3)]
    out = [Biquad("peaking", float(round(math.exp(p[0]), 2)), float(round(p[1], 2)), float(round(math.exp(p[2]), 3)))
           for p in params if abs(p[1]) >= settings.min_gain_db / 2]
    return sorted(out, key=lambda b: b.freq_hz)
