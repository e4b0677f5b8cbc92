"""Exponential sine sweeps: Farina's log sweep and Novak's synchronized swept sine.

The sweep is the excitation of every measurement.  Its rate ``L`` (s per neper of frequency)
decides where the harmonic impulse responses land after deconvolution, ``-L ln k``
(STANDARDS.md §1.1, §1.2).

Formulas
--------
Farina (2000), STANDARDS.md §1.1::

    x(t) = sin(2 pi f1 L (exp(t/L) - 1)),      L = T / ln(f2/f1)

Novak et al. (2015), eq. 32/33 (synchronized)::

    L = round(f1 T / ln(f2/f1)) / f1,   x(t) = sin(2 pi f1 L exp(t/L))

With ``f1 L`` an integer the phase of every harmonic ``k`` at ``t = L ln k`` is a multiple of
``2 pi``, so the harmonic impulse responses come out phase-synchronous with the linear one.
Half-Hann fades at both ends (§1.3) keep the band edges clean.
"""

from __future__ import annotations

import math

import numpy as np

from calib.types import SweepSpec

__all__ = [
    "generate_sweep",
    "build_stimulus",
    "sweep_start_index",
    "sweep_length_samples",
    "stimulus_length_samples",
    "harmonic_delay_s",
    "instantaneous_frequency_hz",
]


def sweep_length_samples(spec: SweepSpec) -> int:
    """Number of samples of the sweep alone: ``round(T * fs)`` with ``T`` the actual duration."""
    return max(int(round(spec.actual_duration_s * spec.fs)), 2)


def sweep_start_index(spec: SweepSpec) -> int:
    """Index of the first sweep sample in :func:`build_stimulus` (the pre-roll length)."""
    return int(round(spec.preroll_s * spec.fs))


def stimulus_length_samples(spec: SweepSpec) -> int:
    """Length of :func:`build_stimulus`: pre-roll + sweep + tail (samples)."""
    return sweep_start_index(spec) + sweep_length_samples(spec) + int(round(spec.tail_s * spec.fs))


def harmonic_delay_s(spec: SweepSpec, order: int) -> float:
    """How far the order-``k`` harmonic IR lands *before* the linear IR (s): ``L ln k``.

    STANDARDS.md §1.1 (Farina) and §1.2 (Novak, position ``-L ln k``).
    """
    if order < 1:
        raise ValueError(f"harmonic order must be >= 1, got {order}")
    return spec.rate_l_s * math.log(order)


def instantaneous_frequency_hz(spec: SweepSpec, t_s: np.ndarray | float) -> np.ndarray:
    """Instantaneous frequency ``f1 exp(t/L)`` (Hz) at time ``t_s`` (s) into the sweep."""
    return spec.f_start_hz * np.exp(np.asarray(t_s, dtype=np.float64) / spec.rate_l_s)


def _half_hann(n: int) -> np.ndarray:
    # rising half of a Hann window, 0 at the first sample, ~1 at the last
    if n <= 0:
        return np.ones(0)
    k = np.arange(n, dtype=np.float64)
    return 0.5 * (1.0 - np.cos(np.pi * k / n))


def generate_sweep(spec: SweepSpec) -> np.ndarray:
    """The sweep alone, with fades, at its peak level.

    Parameters
    ----------
    spec : SweepSpec
        ``synchronized=True`` gives Novak's synchronized swept sine (eq. 32/33), otherwise
        Farina's exponential sweep (STANDARDS.md §1.1).

    Returns
    -------
    ndarray, shape (n,), float64
        ``n = round(actual_duration_s * fs)``; peak amplitude ``10**(level_dbfs/20)``
        (exactly, the largest sample is scaled to it); half-Hann fade-in over ``fade_in_s``
        and fade-out over ``fade_out_s``.
    """
    n = sweep_length_samples(spec)
    t = np.arange(n, dtype=np.float64) / spec.fs
    L = spec.rate_l_s
    f1 = spec.f_start_hz
    # Farina: phase = 2 pi f1 L (exp(t/L) - 1).  Novak eq. 33 writes 2 pi f1 L exp(t/L); with
    # f1*L an integer (synchronized L, eq. 32) the two differ by a whole number of cycles, so
    # one expression serves both (expm1 keeps float precision near t = 0).
    phase = 2.0 * math.pi * f1 * L * np.expm1(t / L)
    x = np.sin(phase)
    n_in = min(int(round(spec.fade_in_s * spec.fs)), n // 2)
    n_out = min(int(round(spec.fade_out_s * spec.fs)), n // 2)
    if n_in:
        x[:n_in] *= _half_hann(n_in)
    if n_out:
        x[n - n_out:] *= _half_hann(n_out)[::-1]
    peak = float(np.max(np.abs(x)))
    return x * (10.0 ** (spec.level_dbfs / 20.0) / peak)


def build_stimulus(spec: SweepSpec) -> np.ndarray:
    """Pre-roll silence + sweep + tail silence (1-D float64).

    The sweep starts at :func:`sweep_start_index`; the silent pre-roll gives the noise floor
    (SNR), the tail records the reverberant decay (STANDARDS.md §1.3).
    """
    out = np.zeros(stimulus_length_samples(spec), dtype=np.float64)
    s = sweep_start_index(spec)
    sw = generate_sweep(spec)
    out[s:s + sw.size] = sw
    return out
