"""Full-rate isolation of an event the low-band path of :mod:`mixes.clicks` found.

The low-band path finds a click inside a hi-hat stroke in the 0-3.4 kHz the hat leaves free
(the programme decimated to ~8 kHz), but the waveform it brings back is only the click's part
below the cut: stage 3 could not judge such an event by its top octaves (a digital click is
broadband, a note's attack is smooth) and took every one as smooth, so a hat stroke after it
made it an "attack".  :func:`isolate` re-estimates the event at the full rate over the span the
low band located, by least-squares AR interpolation (LSAR, Godsill & Rayner, *Digital Audio
Restoration*, 1998, eq. 5.15, the same estimator as stage 2 of :mod:`mixes.clicks`): an
order-``ORDER`` predictor fitted on ``CONTEXT_S`` either side of the span (the span and the
channel's other events excluded), the span's samples re-estimated from the model and both
sides, the click the observed minus the interpolated samples.  :func:`hf_over_low` and
:func:`starts_louder` are the tests that refuse it for a hi-hat stroke's start.
"""

from __future__ import annotations

import numpy as np

from functools import lru_cache

from scipy.linalg import solve_toeplitz
from scipy.signal import lfilter

__all__ = ["isolate", "hf_over_low", "starts_louder"]

ORDER = 16
CONTEXT_S = 0.012


@lru_cache(maxsize=8)
def _hann(n: int) -> np.ndarray:
    return np.hanning(n)


def isolate(x: np.ndarray, a: int, b: int, *, fs: int, others: np.ndarray | None = None) -> np.ndarray | None:
    """The click on samples ``a .. b-1`` of ``x`` (observed minus LSAR-interpolated), or None.

    Parameters
    ----------
    x : ndarray (n_samples,)
        One channel at the full rate.
    a, b : int
        The span to re-estimate (samples, b > a).
    fs : int
        Sample rate (Hz).
    others : ndarray of int, optional
        Onsets of the channel's other events: +-1 ms around each is left out of the model fit.

    Returns
    -------
    ndarray (b - a,) or None
        None when the context does not fit in ``x`` or the system is singular.
    """
    p = ORDER
    ctx = int(CONTEXT_S * fs)
    m = b - a
    if m <= 0 or a - ctx - p < 0 or b + ctx + p > x.size:
        return None
    lo = a - ctx - p
    S = np.asarray(x[lo: b + ctx + p], dtype=np.float64)
    keep = np.ones(S.size)
    keep[a - lo: b - lo] = 0.0
    if others is not None and len(others):
        g = max(int(0.001 * fs), 4)
        others = np.asarray(others)
        for o in others[np.searchsorted(others, lo - g): np.searchsorted(others, lo + S.size + g)]:
            i = int(o) - lo
            if not (a - g <= int(o) < b + g):
                keep[max(i - g, 0): max(i + g, 0)] = 0.0
    w = _hann(a - lo)                                # (pre and post have the same length)
    pre = (S * keep)[: a - lo] * w
    post = (S * keep)[b - lo:] * w
    r = np.array([pre[: pre.size - k] @ pre[k:] + post[: post.size - k] @ post[k:] for k in range(p + 1)])
    r[0] *= 1.0 + 1e-9
    if not r[0] > 0:
        return None
    try:
        A = np.r_[1.0, solve_toeplitz(r[:p], -r[1:])]
    except (np.linalg.LinAlgError, ValueError):
        return None
    # prediction error e[i] = sum_k A_k S[i + p - k]  (e index i <-> S index i + p)
    e = lfilter(A, [1.0], S)[p:]
    # G = B_u^T B_u: symmetric Toeplitz, first column A's autocorrelation (zero beyond lag p);
    # solved by Levinson recursion, O(m^2) and no BLAS threads
    ra = np.array([A[: p + 1 - k] @ A[k:] for k in range(p + 1)])
    col = np.zeros(m)
    col[: min(m, p + 1)] = ra[: min(m, p + 1)]
    # (B_u^T e)[u] = sum_k A_k e[s_u - p + k], s_u the S index of unknown u
    cols = (np.arange(a - lo, b - lo) - p)[:, None] + np.arange(p + 1)[None, :]
    rhs = e[cols] @ A
    try:
        out = solve_toeplitz(col, rhs)
    except (np.linalg.LinAlgError, ValueError):
        return None
    return out if np.all(np.isfinite(out)) else None


def hf_over_low(c: np.ndarray, fs: int, low_hz: float, hf_hz: float = 6000.0) -> float:
    """Energy of ``c`` above ``hf_hz`` over its energy below ``low_hz``: a click leaves ~5x
    (white) above 6 kHz what it leaves below 3.4 kHz, a hi-hat stroke's start ~1600x."""
    n = max(512, 1 << int(np.ceil(np.log2(max(c.size, 1)))))
    E = np.abs(np.fft.rfft(c, n)) ** 2
    f = np.fft.rfftfreq(n, 1.0 / fs)
    return float(E[f > hf_hz].sum() / max(E[f < low_hz].sum(), 1e-300))


def starts_louder(x: np.ndarray, a: int, b: int, width_s: float, fs: int, *, window_s: float, rise: float,
                  pop_s: float, top_gap_s: float | None = None, others: np.ndarray | None = None) -> bool:
    """Stage 2's onset rule of :mod:`mixes.clicks` at the full rate for the event on ``a .. b-1``.

    True when the programme over ``window_s`` after the event is ``rise`` (energy ratio) louder
    than over ``window_s`` before it, unless the event is narrower than ``pop_s`` and the first
    ms after it is no louder than before (a click just ahead of a hit).  With ``top_gap_s``: the
    programme's third difference instead (its top octaves: a hi-hat stroke's start, which a
    louder piano carries through the broadband level), the window before it ending
    ``top_gap_s`` before the event (the low band may place an event a few ms into a drum hit),
    the channel's other events (``others``, sorted onsets) left out of it (-1 to +3 ms).
    """
    win = max(int(window_s * fs), 8)
    ea = np.asarray(x[b: b + win], dtype=np.float64)
    eb = np.asarray(x[max(a - win - 3, 0): a], dtype=np.float64)
    if top_gap_s is not None:
        g = int(top_gap_s * fs)
        b0 = max(a - win - 3 - g, 0)
        eb = np.asarray(x[b0: max(a - g, 0)], dtype=np.float64)
        ea = np.asarray(x[b - 3: b + win], dtype=np.float64)
        ea = ea[3:] - 3 * ea[2:-1] + 3 * ea[1:-2] - ea[:-3]
        eb = eb[3:] - 3 * eb[2:-1] + 3 * eb[1:-2] - eb[:-3]      # eb[i] <-> x[b0 + 3 + i]
        if others is not None and len(others) and eb.size:
            keep = np.ones(eb.size, dtype=bool)
            for o in others[np.searchsorted(others, b0 - int(0.003 * fs)): np.searchsorted(others, a)]:
                i = int(o) - b0 - 3
                keep[max(i - int(0.001 * fs), 0): max(i + int(0.003 * fs), 0)] = False
            eb = eb[keep]
    else:
        eb = eb[3:]
    mb = np.dot(eb, eb) / max(eb.size, 1)
    if not np.dot(ea, ea) / max(ea.size, 1) > rise * mb + 1e-20:
        return False
    e1 = ea[: max(int(0.001 * fs), 4)]
    return width_s >= pop_s or np.dot(e1, e1) / max(e1.size, 1) > mb + 1e-20
