"""Octave and fractional-octave bands after IEC 61260-1:2014.

Mid-band frequencies use the base-10 octave ratio ``G = 10^(3/10)`` (IEC 61260-1:2014 eq. 1-3,
STANDARDS.md §2.5)::

    f_m = 1000 * G^(x/b)             b odd  (1/1, 1/3 octave)
    f_m = 1000 * G^((2x+1)/(2b))     b even (1/6, 1/12, 1/24 octave)
    f_lo = f_m * G^(-1/(2b)),  f_hi = f_m * G^(+1/(2b))

Band filters are Butterworth band-passes designed from a 4th-order low-pass prototype (an
8th-order band-pass, second-order sections, by the bilinear transform with pre-warped edges).
A 3rd-order prototype misses the class-1 stop-band limits near Nyquist (e.g. the 8 kHz octave
at 44.1/48 kHz: -41.3 dB where -42 dB is required two octaves down, because the bilinear
transform flattens the lower skirt); the 4th order meets the class-1 mask for every octave and
third-octave band from 20 Hz to 20 kHz at 44.1, 48 and 96 kHz (checked numerically in
``tests/test_analysis_bands.py``).

Public functions
----------------
``band_centres_hz(lo_hz, hi_hz, *, fraction)``      exact mid-band frequencies
``octave_centres_hz`` / ``third_octave_centres_hz``  the same for b = 1 and b = 3
``nominal_label(f_hz)``                             "31.5", "1k", "12.5k", ...
``band_edges_hz(centres_hz, *, fraction)``          (f_lo, f_hi) arrays
``band_filter_sos(centre_hz, *, fraction, fs)``     class-1 band-pass SOS
``filter_bands(x, centres_hz, *, fraction, fs)``    (n_bands, n) band signals
``band_levels_db(fr, centres_hz, fraction=3)``      power-mean level per band of a response
"""

from __future__ import annotations

import functools
import math
from typing import Sequence

import numpy as np
from scipy import signal

from calib.errors import SignalError
from calib.types import FrequencyResponse

__all__ = [
    "FILTER_ORDER",
    "OCTAVE_RATIO",
    "band_centres_hz",
    "octave_centres_hz",
    "third_octave_centres_hz",
    "nominal_label",
    "band_edges_hz",
    "band_filter_sos",
    "band_magnitude",
    "filter_bands",
    "band_levels_db",
    "band_levels_from_arrays_db",
]

#: Prototype order of the class-1 band filters (see the module notes).
FILTER_ORDER: int = 4

#: Base-10 octave frequency ratio G (IEC 61260-1:2014, 5.2).
OCTAVE_RATIO: float = 10.0 ** (3.0 / 10.0)

# Nominal mid-band labels of the third-octave series (IEC 61260-1 Annex E / ISO 266);
# octave labels are every third of these.  One decade repeats with a factor of 10.
_NOMINAL_DECADE = (10.0, 12.5, 16.0, 20.0, 25.0, 31.5, 40.0, 50.0, 63.0, 80.0)


def _check_fraction(fraction: int) -> int:
    b = int(fraction)
    if b != fraction or b not in (1, 2, 3, 6, 12, 24, 48):
        raise SignalError(f"band fraction 1/{fraction} octave is not supported; use 1, 2, 3, 6, 12, 24 or 48")
    return b


def _exact_centre_hz(x: np.ndarray | int, b: int) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if b % 2:
        return 1000.0 * OCTAVE_RATIO ** (x / b)
    return 1000.0 * OCTAVE_RATIO ** ((2.0 * x + 1.0) / (2.0 * b))


def band_centres_hz(lo_hz: float, hi_hz: float, *, fraction: int) -> np.ndarray:
    """Exact IEC 61260-1 mid-band frequencies of 1/``fraction``-octave bands.

    A band is included when its exact mid-band frequency lies within ``[lo_hz, hi_hz]``
    (with a 1 % margin so that nominal values such as 31.5 Hz or 20 kHz select their band).

    Parameters
    ----------
    lo_hz, hi_hz : float
        Range of mid-band frequencies (Hz), ``0 < lo_hz <= hi_hz``.
    fraction : int
        ``b`` in 1/b octave: 1, 2, 3, 6, 12, 24 or 48.

    Returns
    -------
    ndarray, shape (n_bands,)
        Exact mid-band frequencies (Hz), ascending.

    Raises
    ------
    SignalError
        Empty or inverted range, unsupported fraction.
    """
    b = _check_fraction(fraction)
    if not (0 < lo_hz <= hi_hz):
        raise SignalError(f"band range {lo_hz}..{hi_hz} Hz is invalid; need 0 < lo <= hi")
    lo, hi = lo_hz / 1.01, hi_hz * 1.01
    # Solve f_m(x) = f for x and take the integer indices in between.
    if b % 2:
        x_lo = math.ceil(b * math.log(lo / 1000.0) / math.log(OCTAVE_RATIO) - 1e-9)
        x_hi = math.floor(b * math.log(hi / 1000.0) / math.log(OCTAVE_RATIO) + 1e-9)
    else:
        x_lo = math.ceil((2 * b * math.log(lo / 1000.0) / math.log(OCTAVE_RATIO) - 1) / 2 - 1e-9)
        x_hi = math.floor((2 * b * math.log(hi / 1000.0) / math.log(OCTAVE_RATIO) - 1) / 2 + 1e-9)
    if x_hi < x_lo:
        return np.zeros(0)
    return _exact_centre_hz(np.arange(x_lo, x_hi + 1), b)


def octave_centres_hz(lo_hz: float = 31.5, hi_hz: float = 16_000.0) -> np.ndarray:
    """Exact octave mid-band frequencies (Hz) between ``lo_hz`` and ``hi_hz`` (IEC 61260-1 eq. 2)."""
    return band_centres_hz(lo_hz, hi_hz, fraction=1)


def third_octave_centres_hz(lo_hz: float = 25.0, hi_hz: float = 20_000.0) -> np.ndarray:
    """Exact third-octave mid-band frequencies (Hz) between ``lo_hz`` and ``hi_hz``."""
    return band_centres_hz(lo_hz, hi_hz, fraction=3)


def nominal_label(f_hz: float) -> str:
    """Nominal label of an octave / third-octave mid-band frequency: ``"31.5"``, ``"1k"``, ``"12.5k"``.

    The exact frequency is rounded to the nearest member of the ISO 266 R10 series (10, 12.5,
    16, 20, 25, 31.5, 40, 50, 63, 80 × 10^n).
    """
    if not f_hz > 0:
        raise SignalError(f"mid-band frequency must be > 0 Hz, got {f_hz}")
    decade = 10.0 ** math.floor(math.log10(f_hz) - 1)
    cands = np.array([v * decade * m for m in (0.1, 1.0, 10.0) for v in _NOMINAL_DECADE])
    nom = float(cands[np.argmin(np.abs(np.log(cands / f_hz)))])
    if nom >= 1000:
        v = nom / 1000.0
        return (f"{v:g}k")
    return f"{nom:g}"


def band_edges_hz(centres_hz: Sequence[float] | np.ndarray, *, fraction: int) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper band-edge frequencies ``f_m·G^(∓1/(2b))`` (Hz) (IEC 61260-1 eq. 4, 5)."""
    b = _check_fraction(fraction)
    fc = np.asarray(centres_hz, dtype=np.float64)
    k = OCTAVE_RATIO ** (1.0 / (2.0 * b))
    return fc / k, fc * k


def band_filter_sos(centre_hz: float, *, fraction: int, fs: int, order: int = FILTER_ORDER) -> np.ndarray:
    """Butterworth band-pass for one 1/b-octave band, as second-order sections.

    Parameters
    ----------
    centre_hz : float
        Exact mid-band frequency (Hz).
    fraction : int
        ``b`` in 1/b octave.
    fs : int
        Sample rate (Hz).
    order : int
        Order of the low-pass prototype (4 → 8th-order band-pass, class 1 for b = 1, 3).

    Returns
    -------
    ndarray, shape (order, 6)
        SOS for :func:`scipy.signal.sosfilt`; the -3 dB points are the band edges.

    Raises
    ------
    SignalError
        When the upper band edge is at or above Nyquist.
    """
    f_lo, f_hi = band_edges_hz([centre_hz], fraction=fraction)
    f_lo, f_hi = float(f_lo[0]), float(f_hi[0])
    if f_hi >= fs / 2:
        raise SignalError(
            f"the {nominal_label(centre_hz)} Hz band (upper edge {f_hi:.0f} Hz) does not fit below "
            f"Nyquist at fs={fs} Hz; choose bands below {fs / 2 / 1.12:.0f} Hz"
        )
    return _butter_cached(order, f_lo, f_hi, int(fs)).copy()


@functools.lru_cache(maxsize=512)
def _butter_cached(order: int, f_lo: float, f_hi: float, fs: int) -> np.ndarray:
    return signal.butter(order, [f_lo, f_hi], btype="bandpass", fs=fs, output="sos")


def band_magnitude(freqs_hz: np.ndarray, centre_hz: float, *, fraction: int, fs: int,
                   order: int = FILTER_ORDER) -> np.ndarray:
    """Magnitude (linear) of :func:`band_filter_sos` at ``freqs_hz``, in closed form.

    The digital Butterworth band-pass made by the bilinear transform with pre-warped edges has
    ``|H|² = 1 / (1 + ν^(2N))`` with ``ν = (Ω² − Ω_lo·Ω_hi) / (Ω·(Ω_hi − Ω_lo))`` and
    ``Ω = 2·fs·tan(π·f/fs)`` (the same for the edges).  Much faster than evaluating the SOS on
    a dense FFT grid, and equal to it to rounding.
    """
    f_lo, f_hi = band_edges_hz([centre_hz], fraction=fraction)
    if f_hi[0] >= fs / 2:
        band_filter_sos(centre_hz, fraction=fraction, fs=fs, order=order)   # raises the clear error
    f = np.asarray(freqs_hz, dtype=np.float64)
    out = np.zeros(f.shape)
    ok = (f > 0) & (f < fs / 2)
    om = _warp(f[ok], fs)
    out[ok] = _magnitude_from_warped(om, float(f_lo[0]), float(f_hi[0]), fs, order)
    return out


@functools.lru_cache(maxsize=8)
def warped_fft_grid(nf: int, fs: int) -> np.ndarray:
    """Pre-warped frequencies ``Ω`` of the rfft bins of an ``nf``-point FFT (cached, read-only)."""
    om = _warp(np.fft.rfftfreq(nf, 1.0 / fs), fs)
    om.setflags(write=False)
    return om


def _warp(f_hz: np.ndarray | float, fs: int) -> np.ndarray:
    """Bilinear-transform pre-warping ``Ω = 2·fs·tan(π·f/fs)`` (rad/s)."""
    return 2.0 * fs * np.tan(np.pi * np.asarray(f_hz, dtype=np.float64) / fs)


def _magnitude_from_warped(om: np.ndarray, f_lo: float, f_hi: float, fs: int, order: int) -> np.ndarray:
    w1, w2 = float(_warp(f_lo, fs)), float(_warp(f_hi, fs))
    nu = (om * om - w1 * w2) / (om * (w2 - w1))
    return 1.0 / np.sqrt(1.0 + nu ** (2 * order))


def filter_bands(x: np.ndarray, centres_hz: Sequence[float] | np.ndarray, *, fraction: int, fs: int,
                 time_reversed: bool = False, order: int = FILTER_ORDER) -> np.ndarray:
    """Filter a 1-D signal into 1/b-octave bands.

    Parameters
    ----------
    x : ndarray, shape (n,)
        Signal (e.g. an impulse response), float64.
    centres_hz : array_like
        Mid-band frequencies (Hz).
    fraction : int
        ``b`` in 1/b octave.
    fs : int
        Sample rate (Hz).
    time_reversed : bool
        Filter the time-reversed signal and reverse the result, so that the filter's own
        ringing lies *before* the onset rather than lengthening the decay (recommended for
        decay times when bandwidth × T < 16, STANDARDS.md §2.3).  The band signal is then
        anticausal and carries no phase information.
    order : int
        Prototype order.

    Returns
    -------
    ndarray, shape (n_bands, n)
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1:
        raise SignalError(f"filter_bands expects one channel (1-D), got shape {x.shape}")
    fc = np.atleast_1d(np.asarray(centres_hz, dtype=np.float64))
    out = np.empty((fc.size, x.size))
    src = x[::-1] if time_reversed else x
    for i, f in enumerate(fc):
        y = signal.sosfilt(band_filter_sos(float(f), fraction=fraction, fs=fs, order=order), src)
        out[i] = y[::-1] if time_reversed else y
    return out


def band_levels_from_arrays_db(freqs_hz: np.ndarray, magnitude_db: np.ndarray,
                               centres_hz: Sequence[float] | np.ndarray, *, fraction: int = 3) -> np.ndarray:
    """Power-mean level of a magnitude response in each band (dB).

    The power ``|H|²`` is integrated over frequency between the band edges (trapezoid on the
    given grid, linearly interpolated at the edges) and divided by the bandwidth, i.e. the level
    a flat-spectrum (white) excitation would produce through an ideal band filter.  Bands with
    no grid point inside get the interpolated level at the centre; bands outside the grid are NaN.

    Parameters
    ----------
    freqs_hz : ndarray, shape (n_freqs,)
        Ascending frequency grid (Hz).
    magnitude_db : ndarray, shape (..., n_freqs)
        Magnitudes (dB).
    centres_hz : array_like
        Mid-band frequencies (Hz).
    fraction : int
        ``b`` in 1/b octave.

    Returns
    -------
    ndarray, shape (..., n_bands)
    """
    f = np.asarray(freqs_hz, dtype=np.float64)
    m = np.asarray(magnitude_db, dtype=np.float64)
    if f.ndim != 1 or m.shape[-1] != f.size:
        raise SignalError(f"magnitude shape {m.shape} does not match {f.size} frequencies")
    if f.size < 2 or np.any(np.diff(f) <= 0):
        raise SignalError("the frequency grid must be ascending with at least 2 points")
    lo, hi = band_edges_hz(centres_hz, fraction=fraction)
    p = 10.0 ** (m / 10.0)
    # cumulative trapezoid integral of power over frequency
    cum = np.concatenate([np.zeros(m.shape[:-1] + (1,)),
                          np.cumsum(0.5 * (p[..., 1:] + p[..., :-1]) * np.diff(f), axis=-1)], axis=-1)
    lo_c = np.clip(lo, f[0], f[-1])
    hi_c = np.clip(hi, f[0], f[-1])

    def cum_at(x: np.ndarray) -> np.ndarray:
        # exact integral up to x for piecewise-linear p: interpolate inside the segment
        idx = np.clip(np.searchsorted(f, x, side="right") - 1, 0, f.size - 2)
        t = (x - f[idx])
        df = f[idx + 1] - f[idx]
        p0 = p[..., idx]
        p1 = p[..., idx + 1]
        px = p0 + (p1 - p0) * (t / df)
        return cum[..., idx] + 0.5 * (p0 + px) * t

    width = hi_c - lo_c
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_p = (cum_at(hi_c) - cum_at(lo_c)) / np.where(width > 0, width, 1.0)
        out = 10.0 * np.log10(mean_p)
    # narrow or degenerate bands: value at the centre
    centre_db = np.stack([np.interp(np.asarray(centres_hz, dtype=float), f, row)
                          for row in m.reshape(-1, f.size)]).reshape(m.shape[:-1] + (len(lo),))
    out = np.where(width > 0, out, centre_db)
    outside = (hi <= f[0]) | (lo >= f[-1])
    out[..., outside] = np.nan
    return out


def band_levels_db(fr: FrequencyResponse, centres_hz: Sequence[float] | np.ndarray, fraction: int = 3) -> np.ndarray:
    """Power-mean level per band of every channel of a :class:`FrequencyResponse` (dB).

    Returns
    -------
    ndarray, shape (n_channels, n_bands)
        See :func:`band_levels_from_arrays_db`.
    """
    return band_levels_from_arrays_db(fr.freqs_hz, fr.magnitude_db, centres_hz, fraction=fraction)
