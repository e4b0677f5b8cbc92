"""Time-frequency views of an impulse response: waterfall (cumulative spectral decay) and
spectrogram, as data for plots (``reports`` draws them).

Waterfall / CSD (Bunton & Small's cumulative spectral decay, as REW computes it): slice ``k``
starts ``k·step_ms`` after the direct-sound peak (minus ``rise_ms``) and runs for ``window_ms``;
the start has a half-Hann rise of ``rise_ms``, the last 25 % a half-Hann fall.  Each slice's
magnitude is smoothed (power mean, 1/``smoothing`` octave) and read on a log grid; all levels
are dB re the maximum of the first slice.

Spectrogram: short-time Fourier magnitudes (Hann window, ``window_ms``, hop ``hop_ms``) of
the IR from ``pre_ms`` before the direct sound, dB re the overall maximum.
"""

from __future__ import annotations

import numpy as np

from calib.analysis.response import peak_position_samples
from calib.analysis.smoothing import fractional_octave_smooth, log_frequency_grid
from calib.analysis.types import TimeFrequency
from calib.errors import SignalError

__all__ = ["waterfall", "spectrogram"]


def waterfall(x: np.ndarray, *, fs: int, channel: str = "", window_ms: float = 300.0, step_ms: float = 20.0,
              n_slices: int = 20, rise_ms: float = 5.0, lo_hz: float = 15.0, hi_hz: float = 500.0,
              points_per_octave: int = 24, smoothing: float = 24) -> TimeFrequency:
    """Cumulative spectral decay of one channel (see the module notes).

    Returns
    -------
    TimeFrequency
        ``kind="waterfall"``, ``times_s`` = slice start re the direct sound,
        ``level_db`` shape (n_slices, n_freqs).

    Raises
    ------
    SignalError
        Window or step not positive, or range above Nyquist.
    """
    x = np.asarray(x, dtype=np.float64)
    if window_ms <= 0 or step_ms <= 0 or n_slices < 1:
        raise SignalError("waterfall window, step and slice count must be positive")
    if not (0 < lo_hz < hi_hz < fs / 2):
        raise SignalError(f"waterfall range {lo_hz}..{hi_hz} Hz is invalid at fs={fs} Hz")
    pk = peak_position_samples(x)
    win = int(round(window_ms * 1e-3 * fs))
    rise = max(int(round(rise_ms * 1e-3 * fs)), 1)
    fall = max(win // 4, 1)
    taper = np.ones(win)
    taper[:rise] = np.sin(0.5 * np.pi * (np.arange(rise) + 0.5) / rise) ** 2
    taper[win - fall:] = np.cos(0.5 * np.pi * (np.arange(fall) + 0.5) / fall) ** 2
    nf = 1 << int(np.ceil(np.log2(max(win, int(fs / 0.5)))))   # ≤ 0.5 Hz bins
    f = np.fft.rfftfreq(nf, 1.0 / fs)
    grid = log_frequency_grid(lo_hz, hi_hz, points_per_octave=points_per_octave)
    band = (f >= lo_hz / 1.2) & (f <= hi_hz * 1.2)
    rows = []
    times = []
    for k in range(n_slices):
        start = int(round(pk)) - rise + int(round(k * step_ms * 1e-3 * fs))
        seg = np.zeros(win)
        a, b = max(start, 0), min(start + win, x.size)
        if b > a:
            seg[a - start:b - start] = x[a:b]
        spec = np.abs(np.fft.rfft(seg * taper, nf))[band]
        mag = 20.0 * np.log10(np.maximum(spec, 1e-15))
        sm = fractional_octave_smooth(f[band], mag, fraction=smoothing)
        rows.append(np.interp(np.log(grid), np.log(f[band]), sm))
        times.append(k * step_ms * 1e-3)
    lev = np.array(rows)
    lev -= lev[0].max()
    return TimeFrequency(kind="waterfall", channel=channel, times_s=np.array(times), freqs_hz=grid, level_db=lev)


def spectrogram(x: np.ndarray, *, fs: int, channel: str = "", window_ms: float = 20.0, hop_ms: float = 2.0,
                pre_ms: float = 10.0, length_ms: float = 500.0) -> TimeFrequency:
    """Short-time spectrum of one channel's IR (see the module notes).

    Returns
    -------
    TimeFrequency
        ``kind="spectrogram"``, ``times_s`` = frame centres re the direct sound,
        ``level_db`` shape (n_frames, n_freqs) with linear ``freqs_hz`` (0 … fs/2).
    """
    x = np.asarray(x, dtype=np.float64)
    if window_ms <= 0 or hop_ms <= 0 or length_ms <= 0:
        raise SignalError("spectrogram window, hop and length must be positive")
    pk = int(round(peak_position_samples(x)))
    win = max(int(round(window_ms * 1e-3 * fs)), 8)
    hop = max(int(round(hop_ms * 1e-3 * fs)), 1)
    start = pk - int(round(pre_ms * 1e-3 * fs))
    stop = min(pk + int(round(length_ms * 1e-3 * fs)), x.size)
    pad_l = max(-start + win // 2, 0)
    xp = np.concatenate([np.zeros(pad_l), x, np.zeros(win)])
    w = np.hanning(win)
    centres = np.arange(start, max(stop, start + 1), hop)
    frames = np.stack([xp[c - win // 2 + pad_l: c - win // 2 + pad_l + win] * w for c in centres])
    spec = np.abs(np.fft.rfft(frames, axis=1))
    lev = 20.0 * np.log10(np.maximum(spec, 1e-15))
    lev -= lev.max()
    return TimeFrequency(kind="spectrogram", channel=channel, times_s=(centres - pk) / fs,
                         freqs_hz=np.fft.rfftfreq(win, 1.0 / fs), level_db=lev)
