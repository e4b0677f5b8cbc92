"""Signal measurements behind ``monitor.verify``: band levels, arrival-time change and polarity
by interpolated cross-correlation, phase at one frequency, peak-to-noise and harmonic levels.

All functions take raw float64 arrays with ``fs`` keyword-only and return plain numbers; the
verdicts live in :mod:`monitor.verify`.
"""

from __future__ import annotations

import math

import numpy as np

from calib.analysis.bands import band_levels_from_arrays_db
from calib.errors import SignalError

#: Upsampling factor of the cross-correlation (band-limited interpolation by zero-padding
#: the cross-spectrum); with the parabolic refinement on top the lag error of a clean
#: broadband direct sound is far below 0.01 sample.
XCORR_UPSAMPLE = 16


def _next_pow2(n: int) -> int:
    return 1 << max(int(n) - 1, 1).bit_length()


def band_levels_db(x: np.ndarray, centres_hz: np.ndarray, *, fs: int, n_fft: int | None = None) -> np.ndarray:
    """Third-octave power-mean levels of impulse responses (dB re a unit impulse).

    The power spectrum ``|X(f)|²`` of the whole IR (steady-state response at the seat) is
    integrated between the IEC 61260-1 band edges and divided by the bandwidth
    (:func:`calib.analysis.bands.band_levels_from_arrays_db`).

    Parameters
    ----------
    x : ndarray, shape (n_channels, n) or (n,)
        Impulse responses.
    centres_hz : ndarray, shape (n_bands,)
        Exact third-octave mid-band frequencies (Hz).
    fs : int
        Sample rate (Hz).
    n_fft : int, optional
        FFT length (zero-padding); the next power of two ≥ 2·n by default.

    Returns
    -------
    ndarray, shape (n_channels, n_bands)
    """
    x2 = np.atleast_2d(np.asarray(x, dtype=np.float64))
    n = n_fft or _next_pow2(2 * x2.shape[1])
    spec = np.fft.rfft(x2, n=n, axis=-1)
    f = np.fft.rfftfreq(n, 1.0 / fs)
    p = spec.real**2 + spec.imag**2
    mag_db = 10.0 * np.log10(np.maximum(p, 1e-30))
    return band_levels_from_arrays_db(f[1:], mag_db[:, 1:], centres_hz, fraction=3)


def direct_index(h: np.ndarray) -> int:
    """Index of the direct sound: the largest absolute sample (the peak of the IR)."""
    return int(np.argmax(np.abs(h)))


def _taper(n: int, n_fade: int) -> np.ndarray:
    w = np.ones(n)
    n_fade = min(n_fade, n // 2)
    if n_fade > 0:
        ramp = 0.5 - 0.5 * np.cos(np.pi * (np.arange(n_fade) + 0.5) / n_fade)
        w[:n_fade] = ramp
        w[n - n_fade:] = ramp[::-1]
    return w


def _segment(h: np.ndarray, start: int, n: int) -> np.ndarray:
    out = np.zeros(n)
    lo, hi = max(start, 0), min(start + n, h.size)
    if hi > lo:
        out[lo - start:hi - start] = h[lo:hi]
    return out


def xcorr_delay(a: np.ndarray, b: np.ndarray, *, max_lag_samples: float) -> tuple[float, float]:
    """Delay of ``b`` relative to ``a`` (samples, sub-sample) and the normalised correlation there.

    The cross-spectrum ``B·conj(A)`` is zero-padded by :data:`XCORR_UPSAMPLE` (band-limited
    interpolation of the correlation), the peak of ``|r|`` within ``±max_lag_samples`` is
    refined by a parabola through its neighbours.

    Returns
    -------
    lag_samples : float
        Positive when ``b`` arrives later than ``a``.
    correlation : float
        ``r(lag) / sqrt(Σa²·Σb²)`` in -1..1; negative when ``b`` is ``a`` inverted.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    ea, eb = float(np.dot(a, a)), float(np.dot(b, b))
    if ea <= 0 or eb <= 0:
        return math.nan, 0.0
    n = _next_pow2(a.size + b.size)
    cross = np.fft.rfft(b, n) * np.conj(np.fft.rfft(a, n))
    up = XCORR_UPSAMPLE
    r = np.fft.irfft(cross, n * up) * up
    lags = np.arange(n * up, dtype=np.float64)
    lags[lags >= n * up / 2] -= n * up
    lags /= up
    ok = np.abs(lags) <= max_lag_samples
    idx_ok = np.flatnonzero(ok)
    k = int(idx_ok[np.argmax(np.abs(r[idx_ok]))])
    sgn = 1.0 if r[k] >= 0 else -1.0
    y0, y1, y2 = sgn * r[(k - 1) % r.size], sgn * r[k], sgn * r[(k + 1) % r.size]
    den = y0 - 2.0 * y1 + y2
    delta = 0.5 * (y0 - y2) / den if den < 0 else 0.0
    peak = y1 - 0.25 * (y0 - y2) * delta
    return float(lags[k] + delta / up), float(sgn * peak / math.sqrt(ea * eb))


def arrival_change(ref: np.ndarray, new: np.ndarray, *, fs: int, pre_s: float, post_s: float,
                   origin_shift_samples: float = 0.0) -> tuple[float, float]:
    """Change of the direct-sound arrival time of ``new`` against ``ref`` (s) and the correlation.

    A coarse lag comes from the two IR peaks; the direct sound of each (``pre_s`` before to
    ``post_s`` after its peak, Hann-tapered ends) is then cross-correlated for the sub-sample
    lag (:func:`xcorr_delay`).  ``origin_shift_samples`` is subtracted: the difference of the
    two IRs' time origins (``onset_samples``), so arrivals are compared on one time axis.

    Returns
    -------
    delta_s : float
        Positive when ``new`` arrives later.
    correlation : float
        Normalised correlation of the two direct sounds (negative: polarity inverted).
    """
    pr, pn = direct_index(ref), direct_index(new)
    pre, post = int(round(pre_s * fs)), int(round(post_s * fs))
    n = pre + post
    w = _taper(n, max(n // 8, 1))
    a = _segment(ref, pr - pre, n) * w
    b = _segment(new, pn - pre, n) * w
    fine, corr = xcorr_delay(a, b, max_lag_samples=max(pre, 1))
    if not math.isfinite(fine):
        raise SignalError("an impulse response is silent around its peak; cannot find its arrival time")
    return ((pn - pr) + fine - origin_shift_samples) / fs, corr


def response_at(h: np.ndarray, f_hz: float, *, fs: int) -> complex:
    """The complex response ``H(f) = Σ h[n]·e^{-j2πfn/fs}`` of an IR at one frequency (DTFT)."""
    n = np.arange(h.size)
    return complex(np.dot(h, np.exp(-2j * np.pi * f_hz * n / fs)))


def peak_to_tail_db(h: np.ndarray) -> float:
    """Peak-to-noise ratio of an IR estimated from its last 10 % (dB): a fallback for SNR."""
    tail = h[int(h.size * 0.9):]
    rms = math.sqrt(float(np.mean(tail**2))) if tail.size else 0.0
    peak = float(np.max(np.abs(h)))
    if rms <= 0 or peak <= 0:
        return math.nan
    return 20.0 * math.log10(peak / rms)


def noise_power(linear: np.ndarray, harmonics: list[np.ndarray], *, onset_samples: int) -> tuple[float, int]:
    """Mean-square noise per IR sample (full scale²) and the number of samples it rests on.

    The quietest last quarter of the harmonic IR windows: their reverberation has died away
    there and the deconvolved background noise has the same per-sample power as in the rest
    of the window (checked on the simulated room: equal within the estimate's own spread).
    Without harmonic IRs, the linear IR's pre-delay (before its time origin).
    """
    cands = []
    for h in harmonics:
        q = h[-max(h.size // 4, 1):]
        if q.size >= 64:
            cands.append((float(np.mean(q**2)), int(q.size)))
    if not cands:
        pre = linear[: max(int(onset_samples) - 16, 0)]
        if pre.size >= 64:
            cands.append((float(np.mean(pre**2)), int(pre.size)))
    return min(cands) if cands else (math.nan, 0)


def harmonic_level_db(linear: np.ndarray, harmonics: list[np.ndarray], *,
                      noise_ms: float = math.nan, noise_n: int = 0) -> tuple[float, float, bool]:
    """Total harmonic level re the linear IR (dB): ``10·lg(Σ_k E(h_k) / E(h_1))`` (energies).

    With the synchronized sweep (Novák et al. 2015) the harmonic IRs are at the linear IR's
    scale, so the ratio of energies is the broadband harmonic-to-fundamental power ratio.
    The expected noise energy ``noise_ms · N`` of the harmonic windows (N samples) is
    subtracted; what remains is judged only when it exceeds three standard deviations of the
    noise energy: ``noise_ms·√(2N + 2N²/M)`` (a sum of N squared Gaussian samples, plus the
    error of a noise power estimated from M samples).

    Returns
    -------
    level_db : float
        Harmonic level (dB re fundamental); the noise floor when the harmonics are below it;
        NaN without harmonic IRs.
    floor_db : float
        The smallest harmonic level this measurement can resolve (dB), NaN if unknown.
    noise_limited : bool
        True when the harmonics are below the noise floor (``level_db`` is then the floor).
    """
    if not harmonics:
        return math.nan, math.nan, False
    e1 = float(np.dot(linear, linear))
    if e1 <= 0:
        return math.nan, math.nan, False
    eh = sum(float(np.dot(h, h)) for h in harmonics)
    n = sum(h.size for h in harmonics)
    if not math.isfinite(noise_ms) or noise_ms <= 0 or noise_n <= 0:
        return (10.0 * math.log10(eh / e1) if eh > 0 else -200.0), math.nan, False
    eh -= noise_ms * n
    resolvable = 3.0 * noise_ms * math.sqrt(2.0 * n + 2.0 * n * n / noise_n)
    floor_db = 10.0 * math.log10(resolvable / e1)
    if eh <= resolvable:
        return floor_db, floor_db, True
    return 10.0 * math.log10(eh / e1), floor_db, False


def temperature_fit(delta_s: np.ndarray, path_s: np.ndarray, *, air_c: float = 20.0) -> tuple[float, np.ndarray]:
    """Explain arrival changes by a change of the speed of sound (air temperature).

    Every propagation time scales as ``t' = t·c/c'`` and ``c ∝ √T`` (STANDARDS.md §8.1), so a
    temperature change ``ΔT`` moves arrival ``i`` by ``δ_i = α·t_i`` with ``α = −ΔT / (2·T)``
    (first order, ``T`` in kelvin).  ``α`` is the least-squares fit over the speakers.

    Parameters
    ----------
    delta_s : ndarray, shape (n,)
        Measured arrival changes (s).
    path_s : ndarray, shape (n,)
        Baseline propagation times (s), > 0.
    air_c : float
        Baseline air temperature (°C).

    Returns
    -------
    delta_k : float
        Temperature change (K) that best explains the changes (positive: warmer air, earlier).
    residual_s : ndarray, shape (n,)
        What the temperature does not explain (s).
    """
    d = np.asarray(delta_s, dtype=np.float64)
    t = np.asarray(path_s, dtype=np.float64)
    alpha = float(np.dot(d, t) / np.dot(t, t))
    return -2.0 * (273.15 + air_c) * alpha, d - alpha * t
