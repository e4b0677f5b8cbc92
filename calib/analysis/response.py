"""Frequency response from an impulse response: windowing, group delay, minimum / excess phase,
step response and spatial averaging over seats.

Conventions
-----------
- Spectra are ``H(f) = Σ_n h[n]·exp(-j·2π·f·(n − n0)/fs)`` where ``n0`` is the time origin
  (by default each channel's direct-sound peak, found with sub-sample parabolic interpolation),
  so a pure delay shows zero phase and group delay is *excess* over the arrival.
- Magnitudes are floored at -200 dB so they stay finite.
- Frequency-dependent windowing (FDW): at frequency ``f`` the IR is weighted by a window that
  is flat for ``cycles/(2f)`` seconds after the time origin and falls to zero with a half-Hann
  over the next ``cycles/(2f)`` seconds (total ``cycles/f``), with a short half-Hann rise of
  ``left_ms`` before the origin.  Long at low frequencies (room modes stay), short at high
  frequencies (late reflections are excluded); a pure impulse at the origin reads 0 dB at
  every frequency.  The DFT is evaluated directly on a log grid, one frequency at a time.

Public functions
----------------
``peak_position_samples(x)``                sub-sample index of the largest |x|
``onset_index(x, *, threshold_db=-20)``      first sample within ``threshold_db`` of the peak
``ir_to_response(ir, *, window="none", ...)`` → FrequencyResponse
``fdw_spectrum(x, *, fs, freqs_hz, cycles=15, t0_samples, left_ms=1)``
``group_delay_s(freqs_hz, phase_rad)``
``minimum_phase_rad(magnitude_db)``          on a full rfft grid (real cepstrum)
``min_excess_phase(fr)``                    (minimum phase, excess phase)
``step_response(ir)``                       cumulative sum (unit impulse → unit step)
``spatial_average(responses, *, method="rms")``  RMS, vector (complex) or dB mean over seats
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from calib.errors import SignalError
from calib.types import FrequencyResponse, ImpulseResponse

__all__ = [
    "MAG_FLOOR_DB",
    "peak_position_samples",
    "onset_index",
    "ir_to_response",
    "fdw_spectrum",
    "group_delay_s",
    "minimum_phase_rad",
    "min_excess_phase",
    "step_response",
    "spatial_average",
]

#: Floor applied to magnitudes so dB values stay finite.
MAG_FLOOR_DB = -200.0

_WINDOWS = ("none", "gate", "fdw")


def _db(h: np.ndarray) -> np.ndarray:
    return 20.0 * np.log10(np.maximum(np.abs(h), 10.0 ** (MAG_FLOOR_DB / 20.0)))


def peak_position_samples(x: np.ndarray) -> float:
    """Sub-sample index of the largest ``|x|`` (parabolic interpolation through 3 points).

    Parameters
    ----------
    x : ndarray, shape (n,)

    Returns
    -------
    float
        Index in samples; exact for a sample-aligned impulse.

    Raises
    ------
    SignalError
        All-zero input.
    """
    a = np.abs(np.asarray(x, dtype=np.float64))
    if a.size == 0 or not np.any(a > 0):
        raise SignalError("the impulse response is silent (all samples zero); re-measure")
    i = int(np.argmax(a))
    if 0 < i < a.size - 1:
        y0, y1, y2 = a[i - 1], a[i], a[i + 1]
        den = y0 - 2.0 * y1 + y2
        if den < 0:
            return i + 0.5 * (y0 - y2) / den
    return float(i)


def onset_index(x: np.ndarray, *, threshold_db: float = -20.0) -> int:
    """First sample whose ``|x|`` is within ``threshold_db`` of the peak.

    ISO 3382-1:2009 A.3.4 sets the start of the IR where the signal first rises significantly
    above the background but no more than 20 dB below the maximum; -20 dB is that choice.
    """
    a = np.abs(np.asarray(x, dtype=np.float64))
    if a.size == 0 or not np.any(a > 0):
        raise SignalError("the impulse response is silent (all samples zero); re-measure")
    thr = a.max() * 10.0 ** (threshold_db / 20.0)
    return int(np.argmax(a >= thr))


def fdw_spectrum(x: np.ndarray, *, fs: int, freqs_hz: np.ndarray, cycles: float = 15.0,
                 t0_samples: float, left_ms: float = 1.0) -> np.ndarray:
    """Complex spectrum with a frequency-dependent window (see the module notes).

    Parameters
    ----------
    x : ndarray, shape (n,)
        Impulse response.
    fs : int
        Sample rate (Hz).
    freqs_hz : ndarray, shape (n_freqs,)
        Evaluation frequencies (Hz), > 0.
    cycles : float
        Window length in periods of ``f`` (total: flat half + taper half).
    t0_samples : float
        Time origin (samples): phase reference and window start.
    left_ms : float
        Length of the rising half-Hann before the origin (ms), capped at half the window.

    Returns
    -------
    ndarray, complex, shape (n_freqs,)
    """
    x = np.asarray(x, dtype=np.float64)
    f_all = np.asarray(freqs_hz, dtype=np.float64)
    if np.any(f_all <= 0) or np.any(f_all >= fs / 2):
        raise SignalError(f"FDW frequencies must lie in (0, {fs / 2:g}) Hz at fs={fs} Hz")
    if cycles <= 0:
        raise SignalError(f"FDW length must be > 0 cycles, got {cycles}")
    n = x.size
    out = np.empty(f_all.size, dtype=np.complex128)
    for k, f in enumerate(f_all):
        total = cycles * fs / f                     # window length after the origin (samples)
        left = min(left_ms * 1e-3 * fs, total / 2)
        i0 = max(int(np.floor(t0_samples - left)), 0)
        i1 = min(int(np.ceil(t0_samples + total)) + 1, n)
        t = np.arange(i0, i1) - t0_samples          # samples relative to the origin
        w = np.ones(t.size)
        if left > 0:
            r = t < 0
            w[r] = np.cos(0.5 * np.pi * np.clip(-t[r] / left, 0.0, 1.0)) ** 2
        else:
            w[t < 0] = 0.0
        half = total / 2
        d = t > half
        w[d] = np.cos(0.5 * np.pi * np.clip((t[d] - half) / half, 0.0, 1.0)) ** 2
        out[k] = np.einsum('i,i->', x[i0:i1] * w, np.exp(-2j * np.pi * f * t / fs))
    return out


def ir_to_response(ir: ImpulseResponse, *, window: str = "none", n_fft: int | None = None,
                   gate_ms: tuple[float, float] = (1.0, 300.0), fdw_cycles: float = 15.0,
                   freqs_hz: np.ndarray | None = None, remove_delay: bool | float = True,
                   smoothing: str = "none") -> FrequencyResponse:
    """Magnitude and phase of every channel of an impulse response.

    Parameters
    ----------
    ir : ImpulseResponse
    window : {"none", "gate", "fdw"}
        ``"none"``: the whole IR (rectangular).  ``"gate"``: ``gate_ms = (left, right)`` around
        the time origin with half-Hann tapers over the left part and the last 20 % of the right
        part (frequencies below ~1/right are unreliable).  ``"fdw"``: frequency-dependent window
        of ``fdw_cycles`` periods, evaluated on ``freqs_hz`` (default: 1/48-octave grid from
        10 Hz to min(20 kHz, 0.45·fs)).
    n_fft : int, optional
        FFT length for "none"/"gate" (default: next power of two ≥ the IR length); longer
        zero-pads (interpolates), shorter is an error.
    remove_delay : bool or float
        ``True``: each channel's own direct-sound peak is the time origin (phase shows excess
        over the arrival); ``False``: sample 0 is the origin; a float: that origin in seconds.
    smoothing : str
        Applied to the magnitude afterwards (see :func:`calib.analysis.smoothing.smooth_response`).

    Returns
    -------
    FrequencyResponse
        rfft bins (``k·fs/n_fft``) for "none"/"gate", ``freqs_hz`` for "fdw"; unwrapped phase
        (dropped when smoothed).

    Raises
    ------
    SignalError
        Unknown window, ``n_fft`` shorter than the IR, gate not positive.
    """
    if window not in _WINDOWS:
        raise SignalError(f"unknown window {window!r}; use one of {', '.join(_WINDOWS)}")
    fs = ir.fs
    x = ir.samples
    n = ir.n_samples
    origins = []
    for ch in range(ir.n_channels):
        if remove_delay is True:
            origins.append(peak_position_samples(x[ch]))
        elif remove_delay is False:
            origins.append(0.0)
        else:
            origins.append(float(remove_delay) * fs)
    if window == "fdw":
        f = (np.asarray(freqs_hz, dtype=np.float64) if freqs_hz is not None
             else _default_log_grid(fs))
        spec = np.stack([fdw_spectrum(x[ch], fs=fs, freqs_hz=f, cycles=fdw_cycles, t0_samples=origins[ch])
                         for ch in range(ir.n_channels)])
    else:
        nf = int(n_fft) if n_fft is not None else 1 << int(np.ceil(np.log2(max(n, 2))))
        if nf < n:
            raise SignalError(f"n_fft {nf} is shorter than the impulse response ({n} samples); "
                              "use n_fft >= the IR length")
        xs = np.array(x, copy=True)
        if window == "gate":
            left_ms, right_ms = gate_ms
            if left_ms < 0 or right_ms <= 0:
                raise SignalError(f"gate {gate_ms} ms is invalid; need left >= 0 and right > 0 ms")
            for ch in range(ir.n_channels):
                xs[ch] *= _gate(n, origins[ch], left_ms * 1e-3 * fs, right_ms * 1e-3 * fs)
        spec = np.fft.rfft(xs, nf, axis=1)
        f = np.fft.rfftfreq(nf, 1.0 / fs)
        spec *= np.exp(2j * np.pi * np.outer(origins, f) / fs)   # move the time origin
    mag = _db(spec)
    phase = np.unwrap(np.angle(spec), axis=1)
    fr = FrequencyResponse(freqs_hz=f, magnitude_db=mag, channel_names=ir.channel_names, phase_rad=phase)
    if smoothing != "none":
        from calib.analysis.smoothing import smooth_response

        fr = smooth_response(fr, smoothing)
    return fr


def _default_log_grid(fs: int) -> np.ndarray:
    hi = min(20_000.0, 0.45 * fs)
    n = int(np.ceil(np.log2(hi / 10.0) * 48)) + 1
    return np.geomspace(10.0, hi, n)


def _gate(n: int, t0: float, left: float, right: float) -> np.ndarray:
    t = np.arange(n) - t0
    w = np.zeros(n)
    inside = (t >= -left) & (t <= right)
    w[inside] = 1.0
    if left > 0:
        r = inside & (t < 0)
        w[r] = np.cos(0.5 * np.pi * (-t[r] / left)) ** 2
    taper = 0.2 * right
    d = inside & (t > right - taper)
    w[d] = np.cos(0.5 * np.pi * (t[d] - (right - taper)) / taper) ** 2
    return w


def group_delay_s(freqs_hz: np.ndarray, phase_rad: np.ndarray) -> np.ndarray:
    """Group delay ``τ_g = −dφ/dω = −(1/2π)·dφ/df`` (s) from an unwrapped phase.

    Parameters
    ----------
    freqs_hz : ndarray, shape (n,)
    phase_rad : ndarray, shape (..., n)  unwrapped phase (rad)

    Returns
    -------
    ndarray, shape (..., n)  (central differences; one-sided at the ends)
    """
    f = np.asarray(freqs_hz, dtype=np.float64)
    p = np.asarray(phase_rad, dtype=np.float64)
    if p.shape[-1] != f.size or f.size < 2:
        raise SignalError("phase and frequency grids differ (or fewer than 2 points)")
    return -np.gradient(p, f, axis=-1) / (2.0 * np.pi)


def _check_rfft_grid(f: np.ndarray) -> int:
    if f.size < 3 or f[0] != 0.0:
        raise SignalError("minimum phase needs a full FFT grid starting at 0 Hz (use window='none' or 'gate')")
    df = np.diff(f)
    if not np.allclose(df, df[0], rtol=1e-9, atol=0):
        raise SignalError("minimum phase needs a uniformly spaced FFT grid, not a log grid")
    return 2 * (f.size - 1)


def minimum_phase_rad(magnitude_db: np.ndarray) -> np.ndarray:
    """Minimum phase (rad) of a magnitude on a full rfft grid ``0 … fs/2`` (real cepstrum).

    Homomorphic method (Oppenheim & Schafer, Discrete-Time Signal Processing, §13.5;
    STANDARDS.md §7.2): ``c = IFFT(ln|H|)``, fold ``w = [1, 2, …, 2, 1, 0, …]``,
    ``φ_min = Im(FFT(w·c))``.  Use a long, zero-padded FFT to keep cepstral aliasing small.

    Parameters
    ----------
    magnitude_db : ndarray, shape (..., n_fft/2 + 1)

    Returns
    -------
    ndarray, shape (..., n_fft/2 + 1)  minimum phase (rad), unwrapped.
    """
    m = np.asarray(magnitude_db, dtype=np.float64)
    nb = m.shape[-1]
    nf = 2 * (nb - 1)
    log_mag = m * (np.log(10.0) / 20.0)
    c = np.fft.irfft(log_mag, nf, axis=-1)
    w = np.zeros(nf)
    w[0] = 1.0
    w[1:nf // 2] = 2.0
    w[nf // 2] = 1.0
    spec = np.fft.rfft(c * w, nf, axis=-1)
    return np.unwrap(spec.imag, axis=-1)


def min_excess_phase(fr: FrequencyResponse) -> tuple[np.ndarray, np.ndarray]:
    """Split the phase of a full-grid response into minimum and excess phase.

    Parameters
    ----------
    fr : FrequencyResponse
        From :func:`ir_to_response` with ``window`` "none" or "gate" (rfft grid) and phase.

    Returns
    -------
    min_phase_rad, excess_phase_rad : ndarray, shape (n_channels, n_freqs)
        ``excess = phase − min_phase``; its group delay (:func:`group_delay_s`) is the excess
        group delay (delay, all-pass parts such as crossovers and reflections).

    Raises
    ------
    SignalError
        Log grid or no phase.
    """
    _check_rfft_grid(fr.freqs_hz)
    if fr.phase_rad is None:
        raise SignalError("the response has no phase (smoothed?); compute it unsmoothed with phase")
    mp = minimum_phase_rad(fr.magnitude_db)
    return mp, fr.phase_rad - mp


def step_response(ir: ImpulseResponse) -> np.ndarray:
    """Step response ``s[n] = Σ_{k≤n} h[k]`` of every channel; a unit impulse gives a unit step.

    Returns
    -------
    ndarray, shape (n_channels, n_samples)
    """
    return np.cumsum(ir.samples, axis=1)


_AVERAGES = ("rms", "vector", "db")


def spatial_average(responses: Sequence[FrequencyResponse], *, method: str = "rms",
                    weights: Sequence[float] | None = None) -> FrequencyResponse:
    """Average the responses of several seats (same grid, same channels).

    Parameters
    ----------
    responses : sequence of FrequencyResponse
        One per seat.
    method : {"rms", "vector", "db"}
        ``"rms"``: power mean ``10·lg(Σ w·|H|²/Σ w)`` (phase dropped).  ``"vector"``: complex
        mean ``|Σ w·H / Σ w|`` — needs phase; time-align the seats first (``remove_delay``).
        ``"db"``: mean of the dB values.
    weights : sequence of float, optional
        Non-negative weight per seat (default equal).

    Returns
    -------
    FrequencyResponse

    Raises
    ------
    SignalError
        No responses, grids or channels that differ, vector mean without phase, bad weights.
    """
    if method not in _AVERAGES:
        raise SignalError(f"unknown average {method!r}; use one of {', '.join(_AVERAGES)}")
    if len(responses) == 0:
        raise SignalError("spatial average of no responses; measure at least one seat")
    ref = responses[0]
    for i, r in enumerate(responses[1:], start=2):
        if r.freqs_hz.shape != ref.freqs_hz.shape or not np.allclose(r.freqs_hz, ref.freqs_hz):
            raise SignalError(f"seat {i} has a different frequency grid from seat 1; resample first")
        if r.channel_names != ref.channel_names:
            raise SignalError(f"seat {i} has channels {r.channel_names}, seat 1 has {ref.channel_names}")
    w = np.ones(len(responses)) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != (len(responses),) or np.any(w < 0) or w.sum() <= 0:
        raise SignalError(f"weights must be {len(responses)} non-negative numbers with a positive sum")
    w = w / w.sum()
    mags = np.stack([r.magnitude_db for r in responses])   # (n_seats, n_ch, n_f)
    phase = None
    if method == "rms":
        mag = 10.0 * np.log10(np.maximum(np.einsum('s,s...->...', w, 10.0 ** (mags / 10.0)), 1e-20))
    elif method == "db":
        mag = np.einsum('s,s...->...', w, mags)
    else:
        if any(r.phase_rad is None for r in responses):
            raise SignalError("a vector average needs phase for every seat; compute responses unsmoothed")
        h = np.stack([10.0 ** (r.magnitude_db / 20.0) * np.exp(1j * r.phase_rad) for r in responses])
        hm = np.einsum('s,s...->...', w, h)
        mag = _db(hm)
        phase = np.unwrap(np.angle(hm), axis=-1)
    label = ref.smoothing if method != "vector" else "none"
    return FrequencyResponse(freqs_hz=ref.freqs_hz, magnitude_db=mag, channel_names=ref.channel_names,
                             phase_rad=phase, smoothing=label)
