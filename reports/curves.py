"""Display curves computed from an impulse response for the plots.

These are *presentation* transforms (what a figure draws), not the room analysis itself:
the analysis figures (modes, reflections, decay, compliance) come from
``calib.analysis`` through :class:`RoomAnalysis`.  Everything here is vectorised numpy and
takes ``fs`` keyword-only.

* magnitude and phase from an FFT of the IR;
* fractional-octave smoothing by power averaging over a rectangular window of
  ±1/(2N) octave around each output frequency (the definition REW and STANDARDS.md §8 use);
* group delay ``τ(f) = −dφ/dω`` (s) of the unwrapped phase;
* the energy-time curve ``ETC(t) = 10·lg(|x_a(t)|²)``, ``x_a`` the analytic signal
  (Hilbert envelope), in dB re its maximum;
* the cumulative spectral decay (waterfall): spectra of the IR from later and later start
  times, each with a short half-Hann rise, all in dB re the first slice's maximum;
* a short-time Fourier spectrogram of the IR.
"""

from __future__ import annotations

import numpy as np
from scipy import signal

from calib.errors import SignalError

__all__ = [
    "fdw_response",
    "magnitude_response",
    "smooth_octave",
    "log_grid_hz",
    "phase_group_delay",
    "smooth_weighted",
    "etc_db",
    "cumulative_spectral_decay",
    "spectrogram_db",
]


def _check_ir(x: np.ndarray, fs: int) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 1 or arr.size < 16:
        raise SignalError(f"an impulse response for plotting must be 1-D with >= 16 samples, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise SignalError("impulse response for plotting contains NaN or Inf")
    if int(fs) <= 0:
        raise SignalError(f"sample rate must be > 0 Hz, got {fs}")
    return arr


def magnitude_response(x: np.ndarray, *, fs: int, n_fft: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Magnitude (dB re unity gain) of an IR on the FFT grid.

    Parameters
    ----------
    x : ndarray (n,)
        Impulse response (unity = 0 dB).
    fs : int
        Sample rate (Hz).
    n_fft : int, optional
        FFT length (zero-padded); default the next power of two >= n.

    Returns
    -------
    freqs_hz : ndarray (n_fft//2 + 1,)
    magnitude_db : ndarray, ``20·lg|H|`` floored at −300 dB.
    """
    arr = _check_ir(x, fs)
    n = int(n_fft or 1 << int(np.ceil(np.log2(arr.size))))
    spec = np.fft.rfft(arr, n)
    mag = np.abs(spec)
    return np.fft.rfftfreq(n, 1.0 / fs), 20.0 * np.log10(np.maximum(mag, 1e-15))


def log_grid_hz(lo_hz: float = 20.0, hi_hz: float = 20_000.0, *, per_octave: int = 48) -> np.ndarray:
    """Log-spaced frequencies (Hz), ``per_octave`` points per octave, ``lo_hz``..``hi_hz``."""
    n = int(np.ceil(np.log2(hi_hz / lo_hz) * per_octave)) + 1
    return lo_hz * 2.0 ** (np.arange(n) / per_octave)


def smooth_octave(freqs_hz: np.ndarray, magnitude_db: np.ndarray, *, fraction: float,
                  out_hz: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """1/``fraction``-octave smoothing by power averaging (rectangular in log frequency).

    For each output frequency ``f`` the mean of ``|H|²`` over the FFT bins in
    ``[f·2^(−1/(2N)), f·2^(1/(2N))]`` is taken (cumulative sums: O(n)); output points whose
    window holds no bin take the linearly interpolated power.  ``fraction <= 0`` returns the
    input interpolated onto ``out_hz`` unsmoothed.

    Returns
    -------
    out_hz, smoothed_db : ndarray
    """
    f = np.asarray(freqs_hz, dtype=np.float64)
    m = np.asarray(magnitude_db, dtype=np.float64)
    if f.ndim != 1 or m.shape != f.shape:
        raise SignalError(f"frequency grid {f.shape} and magnitude {m.shape} must be equal 1-D shapes")
    if out_hz is None:
        lo = max(f[1] if f.size > 1 and f[0] <= 0 else f[0], 1e-3)
        out_hz = log_grid_hz(max(lo, 10.0), float(f[-1]), per_octave=48)
    out = np.asarray(out_hz, dtype=np.float64)
    power = 10.0 ** (m / 10.0)
    interp = np.interp(out, f, power)
    if fraction <= 0:
        return out, 10.0 * np.log10(np.maximum(interp, 1e-30))
    half = 2.0 ** (1.0 / (2.0 * fraction))
    csum = np.concatenate(([0.0], np.cumsum(power)))
    lo_idx = np.searchsorted(f, out / half, side="left")
    hi_idx = np.searchsorted(f, out * half, side="right")
    count = hi_idx - lo_idx
    mean = np.where(count > 0, (csum[hi_idx] - csum[lo_idx]) / np.maximum(count, 1), interp)
    return out, 10.0 * np.log10(np.maximum(mean, 1e-30))


def smooth_weighted(freqs_hz: np.ndarray, values: np.ndarray, weights: np.ndarray, *, fraction: float,
                    out_hz: np.ndarray) -> np.ndarray:
    """Weighted mean of ``values`` over ±1/(2·fraction) octave around each ``out_hz``.

    Used for group delay (weights = power, so the ragged phase in deep dips does not
    dominate).  Windows holding no bin take the linearly interpolated value.
    """
    f = np.asarray(freqs_hz, dtype=np.float64)
    v = np.asarray(values, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    out = np.asarray(out_hz, dtype=np.float64)
    half = 2.0 ** (1.0 / (2.0 * fraction))
    cw = np.concatenate(([0.0], np.cumsum(w)))
    cwv = np.concatenate(([0.0], np.cumsum(w * v)))
    lo_idx = np.searchsorted(f, out / half, side="left")
    hi_idx = np.searchsorted(f, out * half, side="right")
    den = cw[hi_idx] - cw[lo_idx]
    fallback = np.interp(out, f, v)
    return np.where(den > 0, (cwv[hi_idx] - cwv[lo_idx]) / np.where(den > 0, den, 1.0), fallback)


def phase_group_delay(x: np.ndarray, *, fs: int, delay_samples: float = 0.0,
                      n_fft: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unwrapped phase (rad) and group delay (s) of an IR, after removing a bulk delay.

    ``delay_samples`` (the direct-sound arrival) is removed as a linear phase term so the
    plot shows the room/speaker phase, not the time of flight.  Group delay is
    ``τ = −dφ/dω`` by central differences (s) and includes nothing of the removed delay.

    Returns
    -------
    freqs_hz, phase_rad, group_delay_s : ndarray (n_fft//2 + 1,)
    """
    arr = _check_ir(x, fs)
    n = int(n_fft or 1 << int(np.ceil(np.log2(arr.size))))
    spec = np.fft.rfft(arr, n)
    freqs = np.fft.rfftfreq(n, 1.0 / fs)
    spec = spec * np.exp(2j * np.pi * freqs * delay_samples / fs)
    phase = np.unwrap(np.angle(spec))
    omega = 2.0 * np.pi * freqs
    gd = -np.gradient(phase, omega)
    return freqs, phase, gd


def fdw_response(x: np.ndarray, *, fs: int, freqs_hz: np.ndarray, delay_samples: float = 0.0,
                 cycles: float = 15.0) -> np.ndarray:
    """Complex response on ``freqs_hz`` through a frequency-dependent window (FDW).

    At each frequency f the IR is windowed from 0.25 ms before ``delay_samples`` (the
    direct sound) to ``cycles``/f after it — flat for the first half, a half-Hann taper over
    the second — and its DFT at f taken with the direct sound as time zero.  Long windows at
    low frequencies keep the modes, short ones at high frequencies leave out the late
    reflections and the reverberation, which otherwise turn the phase into noise (the same
    idea as REW's FDW; 15 cycles ≈ 1/10-octave resolution).

    Returns
    -------
    ndarray, complex (len(freqs_hz),)
        Phase re the direct sound (time of flight removed), magnitude as the windowed DFT.
    """
    arr = _check_ir(x, fs)
    f = np.asarray(freqs_hz, dtype=np.float64)
    if f.ndim != 1 or np.any(f <= 0) or np.any(f >= fs / 2):
        raise SignalError(f"FDW frequencies must lie between 0 and fs/2 = {fs / 2:g} Hz")
    if cycles <= 0:
        raise SignalError(f"FDW needs a positive number of cycles, got {cycles}")
    start = max(0, int(np.floor(delay_samples - 0.00025 * fs)))
    out = np.empty(f.size, dtype=np.complex128)
    for k, fk in enumerate(f):
        length = int(min(arr.size - start, max(8, np.ceil(cycles * fs / fk + (delay_samples - start)))))
        n = np.arange(length)
        w = np.ones(length)
        half = length // 2
        w[half:] = 0.5 * (1.0 + np.cos(np.pi * np.arange(length - half) / max(length - half, 1)))
        t = (n + start - delay_samples) / fs
        out[k] = np.dot(arr[start:start + length] * w, np.exp(-2j * np.pi * fk * t))
    return out


def etc_db(x: np.ndarray, *, fs: int, start_samples: int = 0, length_s: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Energy-time curve (dB re its maximum) from ``start_samples`` for ``length_s``.

    ``ETC = 10·lg(x² + H{x}²)``, the squared Hilbert envelope.  Time is returned in ms from
    ``start_samples`` (pass the direct-sound arrival to read reflections as "ms after the
    direct sound").
    """
    arr = _check_ir(x, fs)
    env = np.abs(signal.hilbert(arr)) ** 2
    peak = float(env.max()) if env.size else 0.0
    if peak <= 0:
        raise SignalError("impulse response is all zeros; nothing to plot")
    a = max(int(start_samples) - int(0.002 * fs), 0)
    b = min(int(start_samples + length_s * fs) + 1, arr.size)
    t_ms = (np.arange(a, b) - start_samples) / fs * 1000.0
    return t_ms, 10.0 * np.log10(np.maximum(env[a:b] / peak, 1e-15))


def cumulative_spectral_decay(x: np.ndarray, *, fs: int, start_samples: int, n_slices: int = 30,
                              step_s: float = 0.01, window_s: float = 0.3, rise_s: float = 0.002,
                              fraction: float = 12, lo_hz: float = 20.0,
                              hi_hz: float = 400.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Waterfall data: spectra of the IR from ``start + k·step_s``, k = 0..n_slices−1.

    Each slice takes ``window_s`` of the IR from its start time with a half-Hann rise of
    ``rise_s`` and a half-Hann fall over the last 10 % (a fixed window length keeps the
    frequency resolution the same for every slice), then 1/``fraction``-octave smoothing.
    Levels are dB re the maximum of the first slice in ``lo_hz..hi_hz``.

    Returns
    -------
    times_s : (n_slices,)   slice start times after the direct sound (s)
    freqs_hz : (n_freqs,)   log grid lo_hz..hi_hz
    levels_db : (n_slices, n_freqs)
    """
    arr = _check_ir(x, fs)
    n_win = int(round(window_s * fs))
    n_rise = max(int(round(rise_s * fs)), 1)
    n_fall = max(n_win // 10, 1)
    win = np.ones(n_win)
    win[:n_rise] = np.sin(0.5 * np.pi * (np.arange(n_rise) + 0.5) / n_rise) ** 2
    win[-n_fall:] = np.cos(0.5 * np.pi * (np.arange(n_fall) + 0.5) / n_fall) ** 2
    starts = int(start_samples) + np.round(np.arange(n_slices) * step_s * fs).astype(int)
    padded = np.concatenate([arr, np.zeros(n_win + int(starts[-1]) - arr.size + 1 if starts[-1] + n_win > arr.size else 0)])
    idx = starts[:, None] + np.arange(n_win)[None, :]
    segs = padded[idx] * win[None, :]
    n_fft = 1 << int(np.ceil(np.log2(max(n_win, 2))))
    spec = np.fft.rfft(segs, n_fft, axis=1)
    freqs = np.fft.rfftfreq(n_fft, 1.0 / fs)
    mag_db = 20.0 * np.log10(np.maximum(np.abs(spec), 1e-15))
    grid = log_grid_hz(lo_hz, hi_hz, per_octave=48)
    levels = np.vstack([smooth_octave(freqs, row, fraction=fraction, out_hz=grid)[1] for row in mag_db])
    levels -= levels[0].max()
    return (starts - int(start_samples)) / fs, grid, levels


def spectrogram_db(x: np.ndarray, *, fs: int, start_samples: int = 0, length_s: float = 0.5,
                   window_s: float = 0.04) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Short-time spectrum of the IR (Hann window ``window_s``, default 40 ms = 25 Hz bins, 90 % overlap), dB re max.

    Returns
    -------
    times_ms : (n_frames,) frame centres after ``start_samples`` (ms)
    freqs_hz : (n_freqs,)
    levels_db : (n_freqs, n_frames)
    """
    arr = _check_ir(x, fs)
    a = max(int(start_samples) - int(0.005 * fs), 0)
    b = min(int(start_samples + length_s * fs), arr.size)
    seg = arr[a:b]
    nper = max(int(window_s * fs), 16)
    if seg.size < nper:
        seg = np.concatenate([seg, np.zeros(nper - seg.size)])
    f, t, sxx = signal.spectrogram(seg, fs=fs, window="hann", nperseg=nper, noverlap=int(nper * 0.9),
                                   scaling="spectrum", mode="psd")
    level = 10.0 * np.log10(np.maximum(sxx, 1e-30))
    level -= level.max()
    return (t + (a - start_samples) / fs) * 1000.0, f, level
