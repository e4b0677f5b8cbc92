"""Smoothing of magnitude responses: fractional-octave, REW-style variable and psychoacoustic, ERB.

Every smoother here is a *rectangular window in linear frequency* whose edges depend on the
centre frequency ``f`` (STANDARDS.md §7.3):

- 1/N octave:    ``[f·2^(-1/(2N)), f·2^(+1/(2N))]``
- variable:      1/48 octave below 100 Hz, widening to 1/6 octave at 1 kHz and to 1/3 octave at
                 10 kHz and above (REW "var"); between the anchors the width in octaves is
                 interpolated linearly on log-frequency (our choice: REW does not publish it).
- psychoacoustic: 1/3 octave below 100 Hz, narrowing to 1/6 octave at 1 kHz and above, with a
                 **cubic mean** (cube root of the mean of cubed magnitudes) so peaks weigh
                 more than dips (REW "psy").
- ERB:           window width ``ERB(f) = 24.673 + 107.77·f_kHz`` Hz centred on ``f``
                 (Glasberg & Moore 1990, eq. 3; STANDARDS.md §7.3).

The mean inside the window is exact for the piecewise-linear interpolant of the chosen quantity
(power |H|² by default) on the given grid: it is computed from a cumulative trapezoid integral,
so any grid (linear FFT bins or log-spaced points) works and the cost is O(n log n).  Where the
window is narrower than the grid spacing the result tends to the interpolated value at ``f``.

Public functions
----------------
``fractional_octave_smooth(freqs_hz, magnitude_db, *, fraction=6, mean="power")``
``variable_smooth(freqs_hz, magnitude_db)``
``psychoacoustic_smooth(freqs_hz, magnitude_db)``
``erb_smooth(freqs_hz, magnitude_db)``
``window_smooth(freqs_hz, magnitude_db, *, lo_hz, hi_hz, mean="power")``  (general form)
``smooth_response(fr, kind="1/6")``  on a :class:`~calib.types.FrequencyResponse`
``erb_hz(f_hz)``, ``log_frequency_grid(lo_hz, hi_hz, *, points_per_octave)``,
``resample_response(fr, freqs_hz)``
"""

from __future__ import annotations

import re

import numpy as np

from calib.errors import SignalError
from calib.types import FrequencyResponse

__all__ = [
    "SMOOTHING_KINDS",
    "erb_hz",
    "window_smooth",
    "fractional_octave_smooth",
    "variable_width_octaves",
    "psychoacoustic_width_octaves",
    "variable_smooth",
    "psychoacoustic_smooth",
    "erb_smooth",
    "smooth_response",
    "log_frequency_grid",
    "resample_response",
]

#: Labels accepted by :func:`smooth_response`.
SMOOTHING_KINDS = ("none", "1/1", "1/2", "1/3", "1/6", "1/12", "1/24", "1/48", "var", "psy", "erb")

_MEANS = ("power", "cubic", "magnitude", "db")


def erb_hz(f_hz: np.ndarray | float) -> np.ndarray:
    """Equivalent rectangular bandwidth (Hz) of the auditory filter at ``f_hz``.

    ``ERB = 24.673 + 107.77·f/1000`` (Glasberg & Moore 1990, eq. 3: 24.7·(4.37·f_kHz + 1)).
    """
    return 24.673 + 0.10777 * np.asarray(f_hz, dtype=np.float64)


def _check_grid(freqs_hz: np.ndarray, magnitude_db: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    f = np.asarray(freqs_hz, dtype=np.float64)
    m = np.asarray(magnitude_db, dtype=np.float64)
    if f.ndim != 1 or f.size < 2:
        raise SignalError(f"freqs_hz must be 1-D with at least 2 points, got shape {f.shape}")
    if m.shape[-1] != f.size:
        raise SignalError(f"magnitude has {m.shape[-1]} points but there are {f.size} frequencies")
    if np.any(np.diff(f) <= 0) or f[0] < 0:
        raise SignalError("freqs_hz must be non-negative and strictly ascending")
    if not np.all(np.isfinite(m)):
        raise SignalError("magnitude_db contains NaN or Inf; floor the response (e.g. at -200 dB) first")
    return f, m


def _to_lin(m_db: np.ndarray, mean: str) -> np.ndarray:
    if mean == "power":
        return 10.0 ** (m_db / 10.0)
    if mean == "cubic":
        return 10.0 ** (3.0 * m_db / 20.0)
    if mean == "magnitude":
        return 10.0 ** (m_db / 20.0)
    return m_db


def _from_lin(v: np.ndarray, mean: str) -> np.ndarray:
    if mean == "db":
        return v
    tiny = np.finfo(np.float64).tiny
    v = np.maximum(v, tiny)
    if mean == "power":
        return 10.0 * np.log10(v)
    if mean == "cubic":
        return (20.0 / 3.0) * np.log10(v)
    return 20.0 * np.log10(v)


def window_smooth(freqs_hz: np.ndarray, magnitude_db: np.ndarray, *, lo_hz: np.ndarray, hi_hz: np.ndarray,
                  mean: str = "power") -> np.ndarray:
    """Mean of a response over a per-point window ``[lo_hz[i], hi_hz[i]]`` (the general smoother).

    Parameters
    ----------
    freqs_hz : ndarray, shape (n,)
        Ascending, non-negative grid (Hz).
    magnitude_db : ndarray, shape (..., n)
        Magnitudes (dB).
    lo_hz, hi_hz : ndarray, shape (n,)
        Window edges per output point (Hz); clipped to the grid.
    mean : {"power", "cubic", "magnitude", "db"}
        Quantity averaged: ``|H|²`` (energy, the default), ``|H|³`` then cube root (REW
        psychoacoustic), ``|H|``, or the dB values themselves.

    Returns
    -------
    ndarray, shape (..., n)
        Smoothed magnitudes (dB).
    """
    if mean not in _MEANS:
        raise SignalError(f"unknown smoothing mean {mean!r}; use one of {', '.join(_MEANS)}")
    f, m = _check_grid(freqs_hz, magnitude_db)
    v = _to_lin(m, mean)
    lo = np.clip(np.asarray(lo_hz, dtype=np.float64), f[0], f[-1])
    hi = np.clip(np.asarray(hi_hz, dtype=np.float64), f[0], f[-1])
    df = np.diff(f)
    cum = np.concatenate([np.zeros(v.shape[:-1] + (1,)),
                          np.cumsum(0.5 * (v[..., 1:] + v[..., :-1]) * df, axis=-1)], axis=-1)

    def integral_to(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        idx = np.clip(np.searchsorted(f, x, side="right") - 1, 0, f.size - 2)
        t = x - f[idx]
        v0, v1 = v[..., idx], v[..., idx + 1]
        vx = v0 + (v1 - v0) * (t / df[idx])
        return cum[..., idx] + 0.5 * (v0 + vx) * t, vx

    i_hi, v_hi = integral_to(hi)
    i_lo, v_lo = integral_to(lo)
    width = hi - lo
    narrow = width <= 1e-12 * np.maximum(hi, 1.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        avg = (i_hi - i_lo) / np.where(narrow, 1.0, width)
    # zero-width window: the interpolated value itself
    avg = np.where(narrow, 0.5 * (v_hi + v_lo), avg)
    return _from_lin(avg, mean)


def fractional_octave_smooth(freqs_hz: np.ndarray, magnitude_db: np.ndarray, *, fraction: float = 6,
                             mean: str = "power") -> np.ndarray:
    """1/``fraction``-octave smoothing, window ``[f·2^(-1/(2N)), f·2^(1/(2N))]`` (STANDARDS.md §7.3).

    Parameters
    ----------
    freqs_hz : ndarray, shape (n,)
        Ascending grid (Hz).
    magnitude_db : ndarray, shape (..., n)
        Magnitudes (dB).
    fraction : float
        N in 1/N octave, 1 … 48.
    mean : str
        See :func:`window_smooth`.

    Returns
    -------
    ndarray, shape (..., n)  smoothed magnitudes (dB).

    Raises
    ------
    SignalError
        Fraction outside 1..48, bad grid, non-finite magnitudes.
    """
    if not (1 <= fraction <= 48):
        raise SignalError(f"smoothing fraction 1/{fraction} octave is outside 1/1..1/48; pick N in 1..48")
    f = np.asarray(freqs_hz, dtype=np.float64)
    k = 2.0 ** (1.0 / (2.0 * fraction))
    return window_smooth(f, magnitude_db, lo_hz=f / k, hi_hz=f * k, mean=mean)


def variable_width_octaves(f_hz: np.ndarray) -> np.ndarray:
    """Window width (octaves) of REW-style variable smoothing at ``f_hz``.

    1/48 oct up to 100 Hz; 1/48 → 1/6 oct from 100 Hz to 1 kHz and 1/6 → 1/3 oct from 1 kHz to
    10 kHz, log-linear in both width and frequency; 1/3 oct above 10 kHz.
    """
    f = np.maximum(np.asarray(f_hz, dtype=np.float64), 1e-9)
    d = np.log10(f)
    lw = np.interp(d, [2.0, 3.0, 4.0], np.log2([1 / 48, 1 / 6, 1 / 3]))
    return 2.0 ** lw


def psychoacoustic_width_octaves(f_hz: np.ndarray) -> np.ndarray:
    """Window width (octaves) of REW-style psychoacoustic smoothing: 1/3 oct below 100 Hz,
    1/6 oct above 1 kHz, log-linear in between."""
    f = np.maximum(np.asarray(f_hz, dtype=np.float64), 1e-9)
    lw = np.interp(np.log10(f), [2.0, 3.0], np.log2([1 / 3, 1 / 6]))
    return 2.0 ** lw


def _octave_width_smooth(f: np.ndarray, m: np.ndarray, width_oct: np.ndarray, mean: str) -> np.ndarray:
    k = 2.0 ** (width_oct / 2.0)
    return window_smooth(f, m, lo_hz=f / k, hi_hz=f * k, mean=mean)


def variable_smooth(freqs_hz: np.ndarray, magnitude_db: np.ndarray) -> np.ndarray:
    """REW-style variable smoothing (power mean); see :func:`variable_width_octaves`."""
    f = np.asarray(freqs_hz, dtype=np.float64)
    return _octave_width_smooth(f, magnitude_db, variable_width_octaves(f), "power")


def psychoacoustic_smooth(freqs_hz: np.ndarray, magnitude_db: np.ndarray) -> np.ndarray:
    """REW-style psychoacoustic smoothing with a cubic mean; see :func:`psychoacoustic_width_octaves`."""
    f = np.asarray(freqs_hz, dtype=np.float64)
    return _octave_width_smooth(f, magnitude_db, psychoacoustic_width_octaves(f), "cubic")


def erb_smooth(freqs_hz: np.ndarray, magnitude_db: np.ndarray, *, mean: str = "power") -> np.ndarray:
    """Smoothing over one ERB centred on each frequency, ``[f − ERB/2, f + ERB/2]`` (Hz)."""
    f = np.asarray(freqs_hz, dtype=np.float64)
    b = erb_hz(f)
    return window_smooth(f, magnitude_db, lo_hz=np.maximum(f - b / 2, 0.0), hi_hz=f + b / 2, mean=mean)


_FRACTION_RE = re.compile(r"^\s*1\s*/\s*(\d+)\s*(oct)?\s*$")


def _parse_kind(kind: str | int) -> tuple[str, float | None]:
    if isinstance(kind, (int, float)) and not isinstance(kind, bool):
        return "frac", float(kind)
    k = str(kind).strip().lower()
    if k in ("none", "var", "psy", "erb"):
        return k, None
    mt = _FRACTION_RE.match(k)
    if mt:
        return "frac", float(mt.group(1))
    raise SignalError(f"unknown smoothing {kind!r}; use none, 1/1 … 1/48, var, psy or erb")


def smooth_response(fr: FrequencyResponse, kind: str | int = "1/6") -> FrequencyResponse:
    """Smooth every channel of a frequency response.

    Parameters
    ----------
    fr : FrequencyResponse
        The response (any ascending grid, e.g. FFT bins or a log grid).
    kind : str or int
        ``"none"``, ``"1/N"`` (N = 1…48) or the integer N, ``"var"``, ``"psy"`` or ``"erb"``.

    Returns
    -------
    FrequencyResponse
        Same grid and channels; ``smoothing`` holds the label (``"1/6 oct"``, ``"var"``, …).
        The phase is dropped (magnitude smoothing does not define one), except for ``"none"``.

    Raises
    ------
    SignalError
        Unknown kind.
    """
    what, n = _parse_kind(kind)
    if what == "none":
        return fr
    f = fr.freqs_hz
    m = fr.magnitude_db
    if what == "frac":
        out = fractional_octave_smooth(f, m, fraction=float(n))
        label = f"1/{n:g} oct"
    elif what == "var":
        out, label = variable_smooth(f, m), "var"
    elif what == "psy":
        out, label = psychoacoustic_smooth(f, m), "psy"
    else:
        out, label = erb_smooth(f, m), "erb"
    return FrequencyResponse(freqs_hz=f, magnitude_db=out, channel_names=fr.channel_names,
                             phase_rad=None, smoothing=label)


def log_frequency_grid(lo_hz: float, hi_hz: float, *, points_per_octave: int = 48) -> np.ndarray:
    """Log-spaced frequencies from ``lo_hz`` to ``hi_hz`` inclusive (Hz), ``points_per_octave`` per octave."""
    if not (0 < lo_hz < hi_hz):
        raise SignalError(f"grid range {lo_hz}..{hi_hz} Hz is invalid; need 0 < lo < hi")
    if points_per_octave < 1:
        raise SignalError(f"points_per_octave must be >= 1, got {points_per_octave}")
    n = int(np.ceil(np.log2(hi_hz / lo_hz) * points_per_octave)) + 1
    return np.geomspace(lo_hz, hi_hz, n)


def resample_response(fr: FrequencyResponse, freqs_hz: np.ndarray) -> FrequencyResponse:
    """Interpolate magnitude (dB, linear in log-frequency) and unwrapped phase onto ``freqs_hz``.

    Points outside the source grid take the edge value.  Smooth first when going to a coarser
    grid (interpolation does not average).
    """
    src = fr.freqs_hz
    dst = np.asarray(freqs_hz, dtype=np.float64)
    if dst.ndim != 1 or dst.size < 1 or np.any(dst <= 0):
        raise SignalError("target frequencies must be a 1-D array of positive Hz")
    pos = src > 0
    xs = np.log(src[pos])
    xd = np.log(dst)
    mag = np.stack([np.interp(xd, xs, row[pos]) for row in fr.magnitude_db])
    ph = None
    if fr.phase_rad is not None:
        ph = np.stack([np.interp(xd, xs, row[pos]) for row in fr.phase_rad])
    return FrequencyResponse(freqs_hz=dst, magnitude_db=mag, channel_names=fr.channel_names,
                             phase_rad=ph, smoothing=fr.smoothing)
