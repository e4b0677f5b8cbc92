"""Spectral helpers private to the correction designer.

Fractional-octave smoothing with a resolution that may vary with frequency (STANDARDS.md
§7.3), log-spaced evaluation grids.  (Third-octave bands come from calib.analysis.bands.)  Kept small and private so
the designer does not depend on modules that are still being written; the maths is the same
power average over a rectangular 1/N-octave window that §7.3 describes.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from calib.errors import SignalError

def log_grid_hz(lo_hz: float, hi_hz: float, *, points_per_octave: int = 48) -> np.ndarray:
    """Log-spaced frequencies from ``lo_hz`` to ``hi_hz`` inclusive (Hz)."""
    if not (0 < lo_hz < hi_hz):
        raise SignalError(f"frequency range {lo_hz}..{hi_hz} Hz is invalid; need 0 < lo < hi")
    n = max(int(np.ceil(np.log2(hi_hz / lo_hz) * points_per_octave)), 1) + 1
    return np.geomspace(lo_hz, hi_hz, n)


def fft_power(ir: np.ndarray, *, fs: int, n_fft: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Bin frequencies (Hz) and power |H|² of a 1-D impulse response (zero-padded FFT)."""
    h = np.asarray(ir, dtype=np.float64).reshape(-1)
    n = n_fft or max(1 << int(np.ceil(np.log2(max(h.size, 2)))), 1 << 16)
    H = np.fft.rfft(h, n)
    return np.fft.rfftfreq(n, 1.0 / fs), H.real ** 2 + H.imag ** 2


def smooth_power_at(freqs_bin_hz: np.ndarray, power: np.ndarray, at_hz: np.ndarray,
                    fraction: float | Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """Power average over a 1/N-octave rectangular window centred at each of ``at_hz``.

    The window centred at f spans ``f·2^(−1/(2N)) … f·2^(+1/(2N))`` (STANDARDS.md §7.3);
    ``fraction`` is N, or a function of frequency returning N (variable resolution).  Windows
    narrower than one bin take the nearest bin.

    Returns
    -------
    ndarray
        Smoothed power at ``at_hz`` (linear, same scale as ``power``).
    """
    f = np.asarray(freqs_bin_hz, dtype=np.float64)
    p = np.asarray(power, dtype=np.float64)
    at = np.asarray(at_hz, dtype=np.float64)
    n_frac = fraction(at) if callable(fraction) else np.full(at.shape, float(fraction))
    half = 2.0 ** (1.0 / (2.0 * np.asarray(n_frac, dtype=np.float64)))
    cs = np.concatenate([[0.0], np.cumsum(p)])
    i0 = np.searchsorted(f, at / half, side="left")
    i1 = np.searchsorted(f, at * half, side="right")
    df = f[1] - f[0]
    nearest = np.clip(np.rint(at / df).astype(np.int64), 0, f.size - 1)
    empty = i1 <= i0
    i0 = np.where(empty, nearest, i0)
    i1 = np.where(empty, nearest + 1, i1)
    return (cs[i1] - cs[i0]) / (i1 - i0)


def variable_fraction(at_hz: np.ndarray, *, fine: float = 48.0, coarse: float = 3.0,
                      f_fine_hz: float = 100.0, f_coarse_hz: float = 10_000.0) -> np.ndarray:
    """Resolution N(f) of 'variable' smoothing: 1/``fine`` octave below ``f_fine_hz``, 1/``coarse``
    above ``f_coarse_hz``, log-linear in between (REW 'Variable' style, STANDARDS.md §7.3)."""
    x = np.clip(np.log(np.asarray(at_hz) / f_fine_hz) / np.log(f_coarse_hz / f_fine_hz), 0.0, 1.0)
    return np.exp(np.log(fine) + x * (np.log(coarse) - np.log(fine)))


def smoothed_db(ir: np.ndarray, *, fs: int, at_hz: np.ndarray,
                fraction: float | Callable[[np.ndarray], np.ndarray] = 6.0,
                n_fft: int | None = None) -> np.ndarray:
    """Fractional-octave smoothed magnitude (dB) of an IR at ``at_hz``."""
    f, p = fft_power(ir, fs=fs, n_fft=n_fft)
    return 10.0 * np.log10(np.maximum(smooth_power_at(f, p, at_hz, fraction), 1e-30))


def rms_deviation_db(curve_db: np.ndarray, target_db: np.ndarray | float = 0.0) -> float:
    """RMS of ``curve − target`` after removing the best common level (the mean difference).

    On a log-spaced grid every point weighs the same fraction of an octave, so this is the
    log-frequency weighted RMS deviation from the target at its automatic level.
    """
    d = np.asarray(curve_db, dtype=np.float64) - target_db
    return float(np.sqrt(np.mean((d - d.mean()) ** 2)))
