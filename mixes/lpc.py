"""Linear prediction for many short frames at once (the click detector's AR models).

Autocorrelation method: the rows' autocorrelations at lags 0..p, then the Levinson–Durbin
recursion run on all rows together (vectorised over rows; a row whose prediction error
reaches 0 keeps its filter from there on).
"""

from __future__ import annotations

import numpy as np

__all__ = ["levinson_rows", "autocorr_rows"]


def levinson_rows(r: np.ndarray) -> np.ndarray:
    """Levinson-Durbin for many autocorrelations at once: (K, p+1) -> filters [1, a_1..a_p]."""
    K, p1 = r.shape
    A = np.zeros((K, p1))
    A[:, 0] = 1.0
    err = r[:, 0].copy()
    for i in range(1, p1):
        acc = np.einsum("kj,kj->k", A[:, :i], r[:, i:0:-1])
        with np.errstate(divide="ignore", invalid="ignore"):
            k = np.where(err > 0, -acc / err, 0.0)
        A[:, 1:i + 1] = A[:, 1:i + 1] + k[:, None] * A[:, i - 1::-1][:, :i]
        err = err * (1.0 - k * k)
    return A


def autocorr_rows(w: np.ndarray, order: int) -> np.ndarray:
    """Autocorrelation of each row at lags 0..order: (K, n) -> (K, order + 1)."""
    n = w.shape[1]
    out = np.empty((w.shape[0], order + 1))
    for k in range(order + 1):
        out[:, k] = np.einsum("ij,ij->i", w[:, : n - k], w[:, k:])
    return out
