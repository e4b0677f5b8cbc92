"""Several subwoofers over several seats: joint per-sub delay, gain, polarity and PEQ that
minimise the seat-to-seat spread below 120 Hz (after Welti & Devantier, "Low-frequency
optimization using multiple subwoofers", JAES 54(5), 2006, and the Multi-Sub Optimizer).

Figure of merit (Welti & Devantier's seat-to-seat variation)
------------------------------------------------------------
Each seat's response is smoothed to 1/24 octave (power mean of the FFT bins within
+-1/48 octave) on a 1/48-octave grid over the band (20-120 Hz); at every grid frequency the
standard deviation of the seats' levels (dB) is taken, and the spread is its mean over the grid
(dB).  A common gain or EQ cannot change it; only what differs between seats counts.

Search
------
Sub 1 is the reference (delay 0, gain 0 dB, polarity +1).  Every other sub gets a delay
0..20 ms, a gain -6..+6 dB and a polarity (every combination tried); each sub gets up to
``n_peq`` peaking filters (20-120 Hz, -12..+6 dB, Q 1..10).  Delays and gains are found by
differential evolution (seeded, deterministic) per polarity combination, then the PEQ is added
and everything refined together (Powell).  A penalty keeps the combined output within 3 dB of
the subs' power sum (averaged over seats and band), so the optimiser cannot buy a small spread
with cancellation.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy.optimize import differential_evolution, minimize

from calib.errors import ConfigError, SignalError
from calib.profile import Biquad

__all__ = ["MultiSubResult", "optimize_subs", "spread_db", "seat_levels_db"]

BAND_HZ = (20.0, 120.0)
MAX_DELAY_S = 0.020
GAIN_RANGE_DB = (-6.0, 6.0)
PEQ_GAIN_DB = (-12.0, 6.0)
PEQ_Q = (1.0, 10.0)
OUTPUT_LOSS_DB = 3.0


@dataclass(frozen=True)
class MultiSubResult:
    """Per sub (input order): ``{"delay_s", "gain_db", "polarity", "peq"}``; spreads (dB) of the
    best single sub (``spread_before_db``), of every single sub (``single_spread_db``) and of the
    optimised combination; per seat, the RMS over the band of its level minus the seats' mean."""

    params: tuple[dict, ...]
    spread_before_db: float
    spread_after_db: float
    single_spread_db: dict[str, float]
    per_seat_before_db: tuple[float, ...]
    per_seat_after_db: tuple[float, ...]
    band_hz: tuple[float, float]


class _Grid:
    """FFT bins of the band and the 1/24-octave smoothing onto a 1/48-octave grid."""

    def __init__(self, n: int, fs: int, band: tuple[float, float]) -> None:
        n_fft = 1 << int(math.ceil(math.log2(max(2 * n, int(8 * fs / band[0])))))
        f = np.fft.rfftfreq(n_fft, 1.0 / fs)
        lo, hi = band[0] * 2 ** (-1 / 48), band[1] * 2 ** (1 / 48)
        self.sel = (f >= lo) & (f <= hi)
        self.f = f[self.sel]
        self.n_fft = n_fft
        g = band[0] * 2.0 ** (np.arange(int(round(48 * math.log2(band[1] / band[0]))) + 1) / 48)
        W = np.zeros((g.size, self.f.size))
        for i, c in enumerate(g):
            m = (self.f >= c * 2 ** (-1 / 48)) & (self.f <= c * 2 ** (1 / 48))
            if not np.any(m):
                m = np.abs(self.f - c) == np.min(np.abs(self.f - c))
            W[i, m] = 1.0 / np.count_nonzero(m)
        self.W = W
        self.grid_hz = g
        self.w = 2 * np.pi * self.f / fs

    def spectra(self, irs: np.ndarray) -> np.ndarray:
        return np.fft.rfft(irs, self.n_fft, axis=-1)[..., self.sel]

    def levels_db(self, H: np.ndarray) -> np.ndarray:
        """(seats, bins) complex -> (seats, grid) smoothed dB."""
        return 10 * np.log10(np.maximum(np.abs(H) ** 2 @ self.W.T, 1e-30))


def _spread(levels_db: np.ndarray) -> float:
    return float(np.mean(np.std(levels_db, axis=0)))


def _per_seat(levels_db: np.ndarray) -> tuple[float, ...]:
    d = levels_db - levels_db.mean(axis=0, keepdims=True)
    return tuple(float(np.sqrt(np.mean(r ** 2))) for r in d)


def _check(irs: np.ndarray, fs: int) -> np.ndarray:
    a = np.asarray(irs, dtype=np.float64)
    if not isinstance(fs, (int, np.integer)) or fs < 500:
        raise ConfigError(f"sample rate {fs!r} Hz is too low for a 20-120 Hz study (need >= 500 Hz)")
    if not np.all(np.isfinite(a)) or a.size == 0:
        raise SignalError("the subwoofer impulse responses are empty or not finite")
    return a


def seat_levels_db(irs: np.ndarray, *, fs: int, band_hz: tuple[float, float] = BAND_HZ) -> tuple[np.ndarray, np.ndarray]:
    """Smoothed levels (dB) of each seat's IR, ``irs`` shape (n_seats, n); returns (grid_hz, levels)."""
    a = _check(irs, fs)
    g = _Grid(a.shape[-1], fs, band_hz)
    return g.grid_hz, g.levels_db(g.spectra(a))


def spread_db(irs: np.ndarray, *, fs: int, band_hz: tuple[float, float] = BAND_HZ) -> float:
    """Seat-to-seat spread (dB, module docstring) of one source measured at several seats,
    ``irs`` shape (n_seats, n)."""
    return _spread(seat_levels_db(irs, fs=fs, band_hz=band_hz)[1])


def _peaking(w: np.ndarray, f0: float, gain_db: float, q: float, fs: int) -> np.ndarray:
    """Complex response of an RBJ peaking biquad at normalised angular frequencies ``w``."""
    A = 10 ** (gain_db / 40)
    w0 = 2 * np.pi * f0 / fs
    al = math.sin(w0) / (2 * q)
    cw = math.cos(w0)
    z1 = np.exp(-1j * w)
    z2 = z1 * z1
    return ((1 + al * A) - 2 * cw * z1 + (1 - al * A) * z2) / ((1 + al / A) - 2 * cw * z1 + (1 - al / A) * z2)


def optimize_subs(irs: np.ndarray, *, fs: int, names: Sequence[str] | None = None,
                  band_hz: tuple[float, float] = BAND_HZ, n_peq: int = 2, seed: int = 0) -> MultiSubResult:
    """Choose each sub's delay, gain, polarity and PEQ to minimise the seat-to-seat spread.

    Parameters
    ----------
    irs : ndarray, shape (n_seats, n_subs, n_samples)
        Every sub measured at every seat, one time origin.
    fs : int
        Sample rate (Hz).
    names : sub names (default ``SUB1``...).
    band_hz : the band of the figure of merit.
    n_peq : peaking filters per sub (0..4).
    seed : random seed of the differential evolution (deterministic result).

    Raises
    ------
    ConfigError
        Fewer than two seats or subs, more than 4 subs, ``n_peq`` outside 0..4.
    """
    a = _check(irs, fs)
    if a.ndim != 3:
        raise ConfigError(f"expected IRs shaped (seats, subs, samples), got {a.shape}")
    n_seats, n_subs, n = a.shape
    if n_seats < 2 or n_subs < 2:
        raise ConfigError(f"{n_subs} sub(s) at {n_seats} seat(s): the joint optimisation needs two or more of each")
    if n_subs > 4:
        raise ConfigError(f"{n_subs} subs: at most 4 are supported")
    if not 0 <= n_peq <= 4:
        raise ConfigError(f"n_peq {n_peq} is outside 0..4")
    names = list(names) if names else [f"SUB{j + 1}" for j in range(n_subs)]
    g = _Grid(n, fs, band_hz)
    H = g.spectra(a)                                              # (seats, subs, bins)
    single = {nm: _spread(g.levels_db(H[:, j])) for j, nm in enumerate(names)}
    best_j = min(range(n_subs), key=lambda j: single[names[j]])
    power_ref = 10 * np.log10(np.mean(np.sum(np.abs(H) ** 2, axis=1)))   # power sum of the subs

    def total(delays, gains_db, pols, peq) -> np.ndarray:
        acc = np.zeros((n_seats, g.f.size), dtype=complex)
        for j in range(n_subs):
            t = H[:, j] * (pols[j] * 10 ** (gains_db[j] / 20)) * np.exp(-1j * g.w * delays[j] * fs)
            for f0, gdb, q in peq[j]:
                t = t * _peaking(g.w, f0, gdb, q, fs)
            acc += t
        return acc

    def cost(delays, gains_db, pols, peq) -> float:
        Ht = total(delays, gains_db, pols, peq)
        lv = g.levels_db(Ht)
        loss = power_ref - 10 * np.log10(np.mean(np.abs(Ht) ** 2))
        return _spread(lv) + 0.5 * max(0.0, loss - OUTPUT_LOSS_DB)

    rest = n_subs - 1

    def unpack(x, pols):
        delays = np.concatenate([[0.0], x[:rest]])
        gains = np.concatenate([[0.0], x[rest:2 * rest]])
        p = x[2 * rest:].reshape(n_subs, -1, 3) if n_peq else np.zeros((n_subs, 0, 3))
        return delays, gains, pols, [[(float(f0), float(gd), float(q)) for f0, gd, q in row] for row in p]

    best = (math.inf, None, None)
    for tail in itertools.product((1, -1), repeat=rest):
        pols = (1,) + tail
        bounds = [(0.0, MAX_DELAY_S)] * rest + [GAIN_RANGE_DB] * rest
        r = differential_evolution(lambda x: cost(np.concatenate([[0.0], x[:rest]]), np.concatenate([[0.0], x[rest:]]),
                                                  pols, [[] for _ in range(n_subs)]),
                                   bounds, seed=seed, maxiter=60, popsize=12, tol=1e-6, polish=False)
        if r.fun < best[0]:
            best = (float(r.fun), r.x, pols)
    x0, pols = best[1], best[2]
    if n_peq:
        # PEQ: start every filter at 0 dB spread over the band, refine all together
        f_init = np.geomspace(band_hz[0] * 1.3, band_hz[1] / 1.3, n_peq)
        peq0 = np.array([[f, 0.0, 3.0] for _ in range(n_subs) for f in f_init]).ravel()
        lo = [0.0] * rest + [GAIN_RANGE_DB[0]] * rest + [band_hz[0], PEQ_GAIN_DB[0], PEQ_Q[0]] * (n_subs * n_peq)
        hi = [MAX_DELAY_S] * rest + [GAIN_RANGE_DB[1]] * rest + [band_hz[1], PEQ_GAIN_DB[1], PEQ_Q[1]] * (n_subs * n_peq)
        rng = np.random.default_rng(seed)
        x, fbest = np.concatenate([x0, peq0]), best[0]
        for k in range(4):   # a few seeded starts: Powell from 0 dB filters alone often stalls
            p0 = peq0.copy().reshape(-1, 3)
            if k:
                p0[:, 0] = np.exp(rng.uniform(math.log(band_hz[0]), math.log(band_hz[1]), len(p0)))
                p0[:, 1] = rng.uniform(-6.0, 3.0, len(p0))
            r = minimize(lambda x: cost(*unpack(x, pols)), np.concatenate([x0, p0.ravel()]), method="Powell",
                         bounds=list(zip(lo, hi)), options={"maxfev": 4000, "xtol": 1e-4, "ftol": 1e-5})
            if r.fun < fbest:
                x, fbest = r.x, float(r.fun)
    else:
        x = x0
    delays, gains, pols, peq = unpack(x, pols)
    lv_after = g.levels_db(total(delays, gains, pols, peq))
    lv_single = g.levels_db(H[:, best_j])
    params = []
    for j in range(n_subs):
        bq = tuple(Biquad("peaking", round(f0, 2), round(gd, 2), round(q, 3)) for f0, gd, q in peq[j] if abs(gd) >= 0.2)
        params.append({"delay_s": float(delays[j]), "gain_db": float(gains[j]), "polarity": int(pols[j]), "peq": bq})
    # report what the rounded filters give
    lv_after = g.levels_db(total(delays, gains, pols, [[(b.freq_hz, b.gain_db, b.q) for b in p["peq"]] for p in params]))
    return MultiSubResult(tuple(params), single[names[best_j]], _spread(lv_after), single, _per_seat(lv_single),
                          _per_seat(lv_after), tuple(band_hz))
