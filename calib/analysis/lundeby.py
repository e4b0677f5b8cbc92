"""Noise-floor handling of a decaying squared impulse response: Lundeby's iterative method.

Lundeby, Vigran, Bietz, Vorländer, "Uncertainties of measurements in room acoustics",
Acustica 81 (1995) 344-355; the procedure as summarised in STANDARDS.md §2.4:

1. Square the (band) IR from the direct-sound onset and average it in intervals
   (first pass: ``800/f_c + 10`` ms per band, 30 ms broadband).
2. Noise estimate: mean of the last 10 % of the squared IR.
3. Fit a line (dB vs time) to the averaged decay from its maximum down to noise + 10 dB.
4. Preliminary crosspoint: where the line meets the noise level.
5. New interval length: 5 intervals per 10 dB of decay; re-average.
6. Re-estimate the noise from the part starting 10 dB (of decay) after the crosspoint,
   or at least the last 10 %.
7. Fit the late decay from noise + 25 dB down to noise + 5 dB (on noise-subtracted levels,
   our refinement: it removes the flattening the noise causes near the bottom of the range).
8. New crosspoint; repeat 6-8 until it moves less than 1 ms (at most 5 passes).
9. The energy of the truncated tail, ``C = N·T_late·fs/(6·ln10)`` (per-sample power ``N``),
   is added to the backward integral (§2.4 item 9).

All quantities here are per-sample powers (``x²``); times are in samples unless named ``_s``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["LundebyResult", "lundeby"]

_MAX_PASSES = 5
_INTERVALS_PER_10DB = 5
_FIT_TOP_ABOVE_NOISE_DB = 25.0
_FIT_BOTTOM_ABOVE_NOISE_DB = 5.0
_NOISE_START_BELOW_CROSS_DB = 10.0


@dataclass(frozen=True)
class LundebyResult:
    """Outcome of :func:`lundeby`.

    Attributes
    ----------
    crosspoint_samples : int
        Truncation point (samples from the onset); the whole length when there is no noise.
    noise_power : float
        Mean per-sample noise power ``N`` (same units as ``x²``); 0 for a noiseless signal.
    late_decay_db_per_s : float
        Slope of the late decay fit (dB/s, negative), NaN when no decay was found.
    decay_range_db : float
        Intercept-to-noise ratio: level of the fitted decay line at the onset above the noise
        (dB).  The Schroeder curve reaches ``-decay_range_db`` at the crosspoint, so this is the
        dynamic range available to the decay figures; ``inf`` for a noiseless signal.
    peak_to_noise_db : float
        Peak of ``x²`` over the noise power (dB).
    compensation : float
        Tail energy ``C`` added at the crosspoint (units of ``Σ x²``).
    ok : bool
        False when no usable decay was found (``reason`` says why).
    reason : str
    passes : int
    """

    crosspoint_samples: int
    noise_power: float
    late_decay_db_per_s: float
    decay_range_db: float
    peak_to_noise_db: float
    compensation: float
    ok: bool
    reason: str = ""
    passes: int = 0


def _block_average(e: np.ndarray, win: int) -> tuple[np.ndarray, np.ndarray]:
    win = max(int(win), 1)
    nb = e.size // win
    if nb < 1:
        return np.array([e.mean()]), np.array([(e.size - 1) / 2.0])
    m = e[: nb * win].reshape(nb, win).mean(axis=1)
    t = np.arange(nb) * win + (win - 1) / 2.0
    return m, t


def _fit(t: np.ndarray, lev: np.ndarray) -> tuple[float, float]:
    """Least-squares line ``lev ≈ slope·t + icpt`` (closed form)."""
    tm, lm = float(t.mean()), float(lev.mean())
    dt = t - tm
    sxx = float(np.einsum('i,i->', dt, dt))
    if sxx <= 0:
        return 0.0, lm
    slope = float(np.einsum('i,i->', dt, lev - lm)) / sxx
    return slope, lm - slope * tm


def _db(v: np.ndarray | float) -> np.ndarray:
    return 10.0 * np.log10(np.maximum(v, 1e-300))


def lundeby(e: np.ndarray, *, fs: int, centre_hz: float | None = None) -> LundebyResult:
    """Find the noise crosspoint of a squared impulse response (Lundeby et al. 1995).

    Parameters
    ----------
    e : ndarray, shape (n,)
        Squared IR ``x²`` starting at the direct-sound onset.
    fs : int
        Sample rate (Hz).
    centre_hz : float, optional
        Band centre (Hz) for the first averaging interval; broadband when omitted.

    Returns
    -------
    LundebyResult
    """
    e = np.asarray(e, dtype=np.float64)
    n = e.size
    peak = float(e.max()) if n else 0.0
    if n < 16 or peak <= 0:
        return LundebyResult(n, 0.0, math.nan, math.nan, math.nan, 0.0, False, "the band is silent")
    tail = e[int(0.9 * n):]
    noise = float(tail.mean())
    pnr = float(_db(peak) - _db(noise)) if noise > 0 else math.inf
    if noise <= peak * 1e-30:
        # noiseless (synthetic) signal: integrate everything, no compensation
        return LundebyResult(n, 0.0, math.nan, math.inf, math.inf, 0.0, True, "no noise floor", 0)

    win0 = fs * (0.8 / centre_hz + 0.010) if centre_hz else 0.030 * fs
    blocks, tb = _block_average(e, int(round(win0)))
    lev = _db(blocks)
    ln = float(_db(noise))
    i_pk = int(np.argmax(lev))
    below = np.nonzero(lev[i_pk:] < ln + 10.0)[0]
    i_stop = i_pk + (int(below[0]) if below.size else lev.size - i_pk)
    if i_stop - i_pk < 2:
        return LundebyResult(n, noise, math.nan, 0.0, pnr, 0.0, False,
                             f"no decay above the noise (peak-to-noise {pnr:.1f} dB)")
    slope, icpt = _fit(tb[i_pk:i_stop], lev[i_pk:i_stop])
    if slope >= 0:
        return LundebyResult(n, noise, math.nan, 0.0, pnr, 0.0, False, "the level does not decay")
    tc = (ln - icpt) / slope
    passes = 0
    for passes in range(1, _MAX_PASSES + 1):
        # 5: interval = (time for 10 dB of decay) / 5
        win = max(int(round((10.0 / -slope) / _INTERVALS_PER_10DB)), 1)
        blocks, tb = _block_average(e, win)
        lev = _db(blocks)
        # 6: noise from 10 dB (of decay) past the crosspoint, at least the last 10 %
        i_noise = int(min(max(tc + _NOISE_START_BELOW_CROSS_DB / -slope, 0), 0.9 * n))
        noise = float(e[i_noise:].mean())
        if noise <= 0:
            break
        ln = float(_db(noise))
        # 7: late-decay fit between noise + 25 dB and noise + 5 dB (on the averaged curve)
        i_pk = int(np.argmax(lev))
        t_top = (ln + _FIT_TOP_ABOVE_NOISE_DB - icpt) / slope
        t_bot = (ln + _FIT_BOTTOM_ABOVE_NOISE_DB - icpt) / slope
        sel = (tb >= max(t_top, tb[i_pk])) & (tb <= t_bot)
        if np.count_nonzero(sel) < 3:
            # not enough late range: fit from the peak down to noise + 5 dB
            sel = (tb >= tb[i_pk]) & (lev >= ln + _FIT_BOTTOM_ABOVE_NOISE_DB)
            sel &= np.arange(tb.size) <= i_pk + np.argmax(
                np.r_[lev[i_pk:] < ln + _FIT_BOTTOM_ABOVE_NOISE_DB, True])
        if np.count_nonzero(sel) < 2:
            break
        # fit the noise-subtracted levels: at noise + 5 dB the raw average still holds 1.2 dB
        # of noise, which would flatten the late slope by ~5 % over a 20 dB range
        clean = blocks[sel] - noise
        keep = clean > 0
        if np.count_nonzero(keep) < 2:
            break
        new_slope, new_icpt = _fit(tb[sel][keep], _db(clean[keep]))
        if new_slope >= 0:
            break
        slope, icpt = new_slope, new_icpt
        tc_new = (ln - icpt) / slope
        moved = abs(tc_new - tc)
        tc = tc_new
        if moved < 0.001 * fs:
            break
    tc_i = int(np.clip(round(tc), 1, n))
    t_late = -60.0 / (slope * fs)           # late decay time (s)
    # power of the late-decay line at the crosspoint (= the noise power unless the crosspoint
    # was clipped to the end of the signal), times the tail integral T·fs/(6·ln10)
    n_tc = 10.0 ** ((icpt + slope * tc_i) / 10.0)
    comp = n_tc * t_late * fs / (6.0 * math.log(10.0))
    # intercept-to-noise: line level at t = 0 above the noise
    inr = float(icpt - ln)
    return LundebyResult(tc_i, noise, slope * fs, inr, pnr, comp, True, "", passes)
