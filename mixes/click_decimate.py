"""Polyphase decimation for the click detector's low-band path (:mod:`mixes.clicks`).

The programme is brought to about ``LOW_FS_HZ`` through a Kaiser FIR cut at ``LOW_CUTOFF_HZ``
(``LOW_TAPS_PER_FACTOR`` taps per unit of decimation factor), computed as one small matrix
product per block so that BLAS stays on one thread.
"""

from __future__ import annotations

import numpy as np

__all__ = ["LOW_FS_HZ", "LOW_CUTOFF_HZ", "LOW_TAPS_PER_FACTOR"]

LOW_FS_HZ = 8000.0
LOW_CUTOFF_HZ = 3400.0
LOW_TAPS_PER_FACTOR = 10

_LOWPASS: dict[int, tuple[int, np.ndarray]] = {}


def _lowpass(fs: int) -> tuple[int, np.ndarray]:
    """Decimation factor and FIR (``LOW_TAPS_PER_FACTOR`` taps per unit of factor, Kaiser) for the
    low-band path: the programme below ``LOW_CUTOFF_HZ`` at about ``LOW_FS_HZ``."""
    if fs not in _LOWPASS:
        from scipy.signal import firwin
        d = max(int(fs // LOW_FS_HZ), 1)
        n = LOW_TAPS_PER_FACTOR * d
        _LOWPASS[fs] = (d, firwin(n, LOW_CUTOFF_HZ, window=("kaiser", 7.0), fs=fs).astype(np.float32))
    return _LOWPASS[fs]


def _decimate(x: np.ndarray, d: int, h: np.ndarray) -> np.ndarray:
    """Polyphase FIR decimation: y[i] = sum_j h[j] x[i d + j] (sample i <-> x[i d + (L - 1) / 2]).

    One matrix product per block (``(m, d) @ (d, K)``) and K - 1 shifted adds of the outputs."""
    L = h.size
    K = L // d
    H = h.reshape(K, d).T.copy()                       # H[r, k] = h[k d + r]
    m = x.size // d
    out = np.empty(max(m - K + 1, 0), dtype=np.float32)
    step = 1 << 12                                     # small blocks: BLAS stays on one thread
    for i0 in range(0, out.size, step):
        i1 = min(i0 + step, out.size)
        X = np.asarray(x[i0 * d: (i1 + K - 1) * d], dtype=np.float32).reshape(-1, d)
        Y = X @ H                                       # (rows, K)
        acc = Y[: i1 - i0, 0].copy()
        for k in range(1, K):
            acc += Y[k: k + i1 - i0, k]
        out[i0:i1] = acc
    return out
