"""The one check every programme-level function applies to its input."""

from __future__ import annotations

import numpy as np

from calib.errors import SignalError


def as_programme(x: np.ndarray, *, require_finite: bool = True) -> np.ndarray:
    """Programme audio as a ``(n_channels, n_samples)`` array (a 1-D input is one channel).

    Raises
    ------
    SignalError
        No samples, more than two dimensions, or (with ``require_finite``) NaN/Inf samples.
    """
    arr = np.asarray(x)
    if arr.ndim == 1:
        arr = arr[np.newaxis, :]
    if arr.ndim != 2 or arr.shape[1] == 0:
        raise SignalError(f"programme must be (n_channels, n_samples) with samples, got shape {arr.shape}")
    if require_finite and not _all_finite(arr):
        raise SignalError("programme contains NaN or Inf samples")
    return arr


def _all_finite(arr: np.ndarray) -> bool:
    """Whether every sample is finite.  A float array is summed first (one pass, no
    temporary: any NaN/Inf poisons the sum); only a non-finite sum, which finite values can
    also give by overflow, is checked sample by sample."""
    if arr.dtype.kind == "f" and arr.size:
        with np.errstate(over="ignore", invalid="ignore"):
            if np.isfinite(arr.sum()):
                return True
    return bool(np.all(np.isfinite(arr)))
