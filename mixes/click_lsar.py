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
sides, the click the observed minus the interpolated samples.
"""

from __future__ import annotations

import numpy as np

from functools import lru_cache

from scipy.linalg import solve_toeplitz
from scipy.signal import lfilter

__all__ = ["isolate"]

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
