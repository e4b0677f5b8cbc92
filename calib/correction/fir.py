"""FIR correction: a magnitude correction curve realised as a minimum-phase (default) or
mixed-phase FIR, designed once and produced for each sample rate.

Minimum phase by the real-cepstrum (homomorphic) method of STANDARDS.md §7.2::

    c[n] = real(IFFT(ln|H[k]|));  fold c with w = [1, 2, ..., 2, 1, 0, ...];
    Hmin[k] = exp(FFT(w·c));  h = real(IFFT(Hmin))[:M], tail half-windowed

on an FFT grid ``N >= 8·M`` so cepstral time-aliasing stays far below the taps kept.

Mixed phase adds, between the correction range's low edge and a crossover ``excess_max_hz``
only, the inverse of the *excess* phase of the main seat (``H / Hmin``, the all-pass part,
with its bulk delay removed), with a modelling delay.  Correcting excess phase makes the
corrected response ring *before* its main peak.  Pre-ringing is measured like DRC's pre-echo,
on the corrected main-seat response (the IR convolved with the filter): the largest sample
more than 1 ms before the main peak, re the peak (dB).  The design lowers the crossover a
third of an octave at a time until that level is at or below -50 dB, or no worse than the
minimum-phase correction's own level (+0.5 dB) when the measurement itself carries more
pre-echo than that (converter pre-ringing near Nyquist, for instance); the level is reported,
as is the filter's own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy.signal import fftconvolve

from calib.errors import ConfigError

__all__ = ["RATES_HZ", "CorrectionCurve", "range_fade", "min_phase_spectrum", "design_fir",
           "FirDesign", "pre_ringing_db", "taps_for_rate", "excess_phase_rad"]

#: Sample rates an FIR is produced for (Hz).
RATES_HZ: tuple[int, ...] = (44_100, 48_000, 88_200, 96_000, 176_400, 192_000)

#: Pre-ringing limit of a mixed-phase filter (dB re its peak), from the issue.
PRE_RINGING_LIMIT_DB = -50.0


@dataclass(frozen=True)
class CorrectionCurve:
    """A correction magnitude (dB) on a log-spaced grid; 0 dB outside the grid."""

    freqs_hz: np.ndarray
    gain_db: np.ndarray

    def at(self, freqs_hz: np.ndarray) -> np.ndarray:
        f = np.asarray(freqs_hz, dtype=np.float64)
        out = np.zeros_like(f)
        pos = f > 0
        out[pos] = np.interp(np.log(f[pos]), np.log(self.freqs_hz), self.gain_db, left=0.0, right=0.0)
        return out


def range_fade(freqs_hz: np.ndarray, lo_hz: float, hi_hz: float, *, width_octaves: float = 0.5) -> np.ndarray:
    """1 inside ``[lo, hi]``, raised-cosine (on log frequency) to 0 over ``width_octaves`` outside."""
    f = np.maximum(np.asarray(freqs_hz, dtype=np.float64), 1e-6)
    below = np.clip(np.log2(lo_hz / f) / width_octaves, 0.0, 1.0)
    above = np.clip(np.log2(f / hi_hz) / width_octaves, 0.0, 1.0)
    return 0.5 * (1 + np.cos(np.pi * np.maximum(below, above)))


def min_phase_spectrum(mag_db: np.ndarray, n_fft: int) -> np.ndarray:
    """Minimum-phase spectrum (``n_fft//2 + 1`` bins) with magnitude ``mag_db`` (STANDARDS.md §7.2)."""
    ln_mag = np.log(10.0) / 20.0 * np.maximum(np.asarray(mag_db, dtype=np.float64), -120.0)  # floor 1e-6
    c = np.fft.irfft(ln_mag, n_fft)  # real cepstrum (the log magnitude is real and even)
    w = np.zeros(n_fft)
    w[0] = 1.0
    w[1:n_fft // 2] = 2.0
    w[n_fft // 2] = 1.0
    return np.exp(np.fft.rfft(w * c))


def band_limit_db(freqs_hz: np.ndarray, *, f_limit_hz: float, fs: int, depth_db: float = 60.0) -> np.ndarray:
    """0 dB below ``f_limit_hz``, a raised-cosine fall (on linear frequency) to ``−depth_db`` at
    ``min(1.1·f_limit, fs/2)``, ``−depth_db`` above.  Folded into a minimum-phase FIR it removes
    the near-Nyquist pre-ringing of measurement converters from the corrected path."""
    f = np.asarray(freqs_hz, dtype=np.float64)
    top = min(1.1 * f_limit_hz, fs / 2)
    x = np.clip((f - f_limit_hz) / max(top - f_limit_hz, 1e-9), 0.0, 1.0)
    return -depth_db * 0.5 * (1 - np.cos(np.pi * x))


def pre_ringing_db(h: np.ndarray, *, fs: int, guard_s: float = 0.001) -> float:
    """Largest |h| earlier than ``guard_s`` before the main peak, re the peak (dB; −inf if none)."""
    h = np.asarray(h, dtype=np.float64).reshape(-1)
    pk = int(np.argmax(np.abs(h)))
    end = pk - int(round(guard_s * fs))
    if end <= 0:
        return float("-inf")
    return float(20.0 * np.log10(max(np.max(np.abs(h[:end])), 1e-300) / np.abs(h[pk])))


def taps_for_rate(n_taps: int, *, design_fs: int, fs: int) -> int:
    """Tap count at ``fs`` that keeps the design's length in seconds (even, >= 16)."""
    n = int(round(n_taps * fs / design_fs))
    return max(16, n + (n % 2))


def excess_phase_rad(ir: np.ndarray, *, fs: int, n_fft: int, window_s: float = 0.3,
                     pre_s: float = 0.005, fit_band_hz: tuple[float, float] = (200.0, 800.0)) -> np.ndarray:
    """Excess phase (rad, per rfft bin) of an IR: ``angle(H/Hmin)`` minus its bulk delay.

    The IR is windowed from ``pre_s`` before its peak to ``window_s`` after (half-Hann tail);
    the bulk delay is the least-squares group delay of the excess phase in ``fit_band_hz``.
    """
    h = np.asarray(ir, dtype=np.float64).reshape(-1)
    pk = int(np.argmax(np.abs(h)))
    a = max(0, pk - int(pre_s * fs))
    b = min(h.size, pk + int(window_s * fs))
    seg = h[a:b].copy()
    n_tail = max((b - pk) // 2, 1)
    seg[-n_tail:] *= 0.5 * (1 + np.cos(np.pi * np.arange(n_tail) / n_tail))
    H = np.fft.rfft(seg, n_fft)
    mag_db = 20 * np.log10(np.maximum(np.abs(H), 1e-12 * np.abs(H).max()))
    Hmin = min_phase_spectrum(mag_db, n_fft)
    phi = np.unwrap(np.angle(H / Hmin))
    f = np.fft.rfftfreq(n_fft, 1.0 / fs)
    sel = (f >= fit_band_hz[0]) & (f <= fit_band_hz[1])
    slope = np.polyfit(2 * np.pi * f[sel], phi[sel], 1)[0] if sel.sum() > 2 else 0.0
    return phi - slope * 2 * np.pi * f


@dataclass(frozen=True)
class FirDesign:
    """One FIR at one rate: taps, its delay and how it rings.

    ``pre_ringing_db`` is measured on the corrected main-seat response when a main IR was
    given (mixed phase), else on the filter itself; ``filter_pre_ringing_db`` always on the
    filter.
    """

    fs: int
    taps: np.ndarray
    phase: str
    delay_samples: int
    pre_ringing_db: float
    excess_max_hz: float
    filter_pre_ringing_db: float = float("-inf")


def design_fir(gain_db_at: Callable[[np.ndarray], np.ndarray], *, fs: int, n_taps: int,
               phase: str = "minimum", main_ir: np.ndarray | None = None, ir_fs: int | None = None,
               excess_max_hz: float = 150.0, excess_min_hz: float = 20.0,
               pre_ringing_limit_db: float = PRE_RINGING_LIMIT_DB) -> FirDesign:
    """Design the correction FIR at ``fs`` from a magnitude function.

    Parameters
    ----------
    gain_db_at : callable
        Correction magnitude (dB) as a function of frequency (Hz); the complete correction
        (PEQ included).
    fs : int
        Sample rate of this FIR (Hz).
    n_taps : int
        Length (taps).
    phase : {"minimum", "mixed"}
    main_ir : ndarray, optional
        Main-seat IR (required for ``"mixed"``), at ``ir_fs`` Hz.
    excess_max_hz : float
        Highest frequency whose excess phase is corrected (mixed phase), lowered until the
        pre-ringing meets ``pre_ringing_limit_db`` (module docstring).
    excess_min_hz : float
        Below this (the correction range's low edge) the excess phase is left alone: a
        loudspeaker's phase below its own range is noise.

    Raises
    ------
    ConfigError
        Bad length or phase mode, mixed phase without an IR or at another rate.
    """
    if not (64 <= n_taps <= 1 << 20):
        raise ConfigError(f"--fir-taps {n_taps} is outside 64..1048576")
    if phase not in ("minimum", "mixed"):
        raise ConfigError(f"FIR phase {phase!r} is not 'minimum' or 'mixed'")
    n_fft = 1 << int(np.ceil(np.log2(8 * n_taps)))
    f = np.fft.rfftfreq(n_fft, 1.0 / fs)
    mag_db = gain_db_at(f)
    spec = min_phase_spectrum(mag_db, n_fft)
    n_fade = max(n_taps // 8, 8)
    fade = 0.5 * (1 + np.cos(np.pi * np.arange(n_fade) / n_fade))

    def finish(h: np.ndarray) -> np.ndarray:
        h = h[:n_taps].copy()
        h[-n_fade:] *= fade
        return h

    if phase == "minimum":
        h = finish(np.fft.irfft(spec, n_fft))
        lvl = pre_ringing_db(h, fs=fs)
        return FirDesign(fs, h, "minimum", 0, lvl, 0.0, lvl)

    if main_ir is None or ir_fs is None:
        raise ConfigError("mixed-phase FIR needs the main seat's impulse response")
    if ir_fs != fs:
        raise ConfigError(f"mixed-phase FIR at {fs} Hz needs the IR at {fs} Hz, got {ir_fs} Hz")
    ir = np.asarray(main_ir, dtype=np.float64).reshape(-1)
    phi_ex = excess_phase_rad(ir, fs=fs, n_fft=n_fft)
    delay = min(n_taps // 2, int(round(0.1 * fs)))
    lin = np.exp(-1j * 2 * np.pi * f * delay / fs)
    # Pre-echo is judged on the corrected response around the main arrival: from 0.2 s before
    # the IR's peak to 0.1 s after the filter's delay (y[n] needs ir[k <= n] only, so the part
    # of y kept is exact for that stretch of IR).
    pk = int(np.argmax(np.abs(ir)))
    a0, a1 = max(0, pk - int(0.2 * fs)), min(ir.size, pk + delay + int(0.1 * fs))
    seg = ir[a0:a1]

    def corrected_pre_ringing(h: np.ndarray) -> float:
        return pre_ringing_db(fftconvolve(seg, h[:seg.size])[:seg.size], fs=fs)

    # the delayed minimum-phase correction: the fallback, and the pre-echo the measurement brings
    h_min = finish(np.fft.irfft(spec * lin, n_fft))
    base = corrected_pre_ringing(h_min)
    accept = max(pre_ringing_limit_db, base + 0.5)
    f_x = float(excess_max_hz)
    while f_x >= 1.5 * excess_min_hz:
        xfade = range_fade(f, excess_min_hz, f_x, width_octaves=1.0)
        h = finish(np.fft.irfft(spec * np.exp(-1j * phi_ex * xfade) * lin, n_fft))
        lvl = corrected_pre_ringing(h)
        if lvl <= accept:
            return FirDesign(fs, h, "mixed", delay, lvl, f_x, pre_ringing_db(h, fs=fs))
        f_x /= 2 ** (1 / 3)
    return FirDesign(fs, h_min, "mixed", delay, base, 0.0, pre_ringing_db(h_min, fs=fs))
