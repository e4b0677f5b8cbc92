"""Correction EQ for a mix from a studio with a known room fingerprint.

The wanted gain per band is the fingerprint inverted and weighted by its confidence,
``g = -c * D`` (the MMSE estimate of the room's effect, see :mod:`mixes.fingerprint`), but only
where the fingerprint's 90 % interval (``interval_db``) excludes 0 dB: a band whose interval
crosses zero is not corrected (wanted 0 dB, and it holds the smoothed curve near 0 dB instead
of borrowing its neighbours' gain).  Each band's decision and its reason are in
``MixCorrection.bands``.  A fingerprint without intervals (from a measured room response, or
written before intervals existed) is confidence-weighted in every band as before.  Then

1. smoothed across bands on a log-frequency axis (Gaussian, ``smoothing_oct`` standard
   deviation: 1/3 octave without intervals, 1/6 octave with them, where the interval gate
   already keeps single uncertain bands out and a broad smoothing would spread a corrected
   band's gain over its uncorrected neighbours: a 1/3-octave Gaussian moved about 1.2 dB
   into a band next to a 5 dB correction, 1/6 octave about 0.4 dB), so the
   EQ is broad and musical and never chases single bands;
2. capped: boosts at ``max_boost_db`` (a thin band is not filled without limit), cuts at
   ``max_cut_db``;
3. faded to 0 dB outside ``band_hz`` with a half-octave raised cosine.

It becomes an FIR by frequency sampling: linear phase (the magnitude on an FFT grid, inverse
FFT, centred, Tukey-windowed; latency ``(n_taps - 1) / 2``) or minimum phase (homomorphic:
real cepstrum of ``ln|H|`` folded onto positive quefrencies, STANDARDS.md §7.2; no latency,
no pre-ringing).  ``mixes`` does not render audio through the monitor engine (it may not import
``monitor``): :mod:`roomtruth.cmd_mix` does the rendering.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import signal

from calib.errors import SignalError
from mixes.types import RoomFingerprint

__all__ = ["MixCorrection", "design_correction", "band_gains_db", "band_decisions", "fir_response_db"]

DEFAULT_MAX_BOOST_DB = 6.0
DEFAULT_MAX_CUT_DB = 12.0
DEFAULT_BAND_HZ = (30.0, 16_000.0)
DEFAULT_SMOOTHING_OCT = 1.0 / 3.0
INTERVAL_SMOOTHING_OCT = 1.0 / 6.0


@dataclass(frozen=True)
class MixCorrection:
    """A designed correction.

    Attributes
    ----------
    fir : ndarray (n_taps,)
        Filter taps at ``fs``.
    fs : int
    phase : str
        ``"linear"`` or ``"minimum"``.
    latency_samples : int
        Delay to remove after filtering ((n_taps - 1) // 2 for linear phase, 0 for minimum).
    freqs_hz, gain_db : ndarray
        The designed gain per fingerprint band (after weighting, smoothing, capping, fading).
    wanted_db : ndarray
        ``-confidence * deviation`` before smoothing and capping.
    capped : tuple of float
        Band centres where the cap limited the gain.
    studio : str
    bands : tuple of dict
        Per band ``{"f_hz", "deviation_db", "interval_db", "corrected", "why"}``: whether the
        band is corrected and why (or why not).
    """

    fir: np.ndarray
    fs: int
    phase: str
    latency_samples: int
    freqs_hz: np.ndarray
    gain_db: np.ndarray
    wanted_db: np.ndarray
    capped: tuple[float, ...]
    studio: str
    bands: tuple[dict, ...] = ()

    def to_dict(self) -> dict:
        return {
            "studio": self.studio,
            "phase": self.phase,
            "fs": self.fs,
            "n_taps": int(self.fir.size),
            "latency_samples": self.latency_samples,
            "freqs_hz": [round(float(f), 3) for f in self.freqs_hz],
            "gain_db": [round(float(g), 3) for g in self.gain_db],
            "wanted_db": [round(float(g), 3) for g in self.wanted_db],
            "capped_hz": [round(float(f), 3) for f in self.capped],
            "bands": [dict(b) for b in self.bands],
        }


def band_decisions(fp: RoomFingerprint, *, band_hz: tuple[float, float] = DEFAULT_BAND_HZ) -> tuple[np.ndarray, tuple[dict, ...]]:
    """Which bands the fingerprint supports correcting, and why.

    Returns
    -------
    corrected : ndarray of bool (n_bands,)
        True where the band is corrected: its interval excludes 0 dB and it lies in
        ``band_hz`` (or, without intervals, wherever it lies in ``band_hz``).
    bands : tuple of dict
        ``{"f_hz", "deviation_db", "interval_db" ([low, high] or None), "corrected", "why"}``.
    """
    f = fp.freqs_hz
    iv = fp.interval_db
    corrected = np.zeros(f.size, dtype=bool)
    out = []
    for i, fc in enumerate(f):
        d = float(fp.deviation_db[i])
        lo_hi = None if iv is None else [round(float(iv[i, 0]), 2), round(float(iv[i, 1]), 2)]
        if not band_hz[0] <= fc <= band_hz[1]:
            why = (f"outside the correction band {band_hz[0]:g}-{band_hz[1]:g} Hz: not corrected "
                   "(the correction of the bands inside fades out over half an octave)")
        elif iv is None:
            corrected[i] = True
            why = (f"no interval ({'measured room response' if fp.source == 'measurement' else 'fingerprint from before intervals'}):"
                   f" corrected by confidence {float(fp.confidence[i]):.2f}")
        elif iv[i, 0] > 0 or iv[i, 1] < 0:
            corrected[i] = True
            why = f"interval {iv[i, 0]:+.1f}..{iv[i, 1]:+.1f} dB excludes 0: corrected"
        else:
            why = f"interval {iv[i, 0]:+.1f}..{iv[i, 1]:+.1f} dB includes 0: not corrected"
        out.append({"f_hz": round(float(fc), 3), "deviation_db": round(d, 3), "interval_db": lo_hi,
                    "corrected": bool(corrected[i]), "why": why})
    return corrected, tuple(out)


def band_gains_db(fp: RoomFingerprint, *, max_boost_db: float = DEFAULT_MAX_BOOST_DB,
                  max_cut_db: float = DEFAULT_MAX_CUT_DB, band_hz: tuple[float, float] = DEFAULT_BAND_HZ,
                  smoothing_oct: float | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Wanted, designed gain per band and the cap mask (see module docstring)."""
    if not (0 <= max_boost_db <= 24 and 0 <= max_cut_db <= 40):  # also NaN
        raise SignalError(f"caps must lie in 0..24 dB (boost) and 0..40 dB (cut), got boost {max_boost_db}, "
                          f"cut {max_cut_db}")
    if not (0 < band_hz[0] < band_hz[1]):
        raise SignalError(f"correction band {band_hz} Hz is invalid; need 0 < low < high")
    f = fp.freqs_hz
    wanted = -fp.confidence * fp.deviation_db
    weight = np.maximum(fp.confidence, 1e-3)
    if fp.interval_db is not None:
        supported, _ = band_decisions(fp, band_hz=(0.0, math.inf))
        # a band whose interval crosses 0 dB: nothing to correct, and it says so firmly
        wanted = np.where(supported, wanted, 0.0)
        weight = np.where(supported, weight, 1.0)
    g = wanted.copy()
    if smoothing_oct is None:
        smoothing_oct = DEFAULT_SMOOTHING_OCT if fp.interval_db is None else INTERVAL_SMOOTHING_OCT
    if smoothing_oct > 0 and f.size > 1:
        lo = np.log2(f)
        k = np.exp(-0.5 * ((lo[:, None] - lo[None, :]) / smoothing_oct) ** 2)
        # confidence-weighted smoothing: uncertain bands (without intervals) borrow from their
        # confident neighbours; with intervals, unsupported bands pull towards 0 dB
        w = k * weight[None, :]
        g = (w @ wanted) / w.sum(axis=1)
    fade = np.ones_like(f)
    for edge, side in ((band_hz[0], -1), (band_hz[1], 1)):
        octs = side * np.log2(f / edge)          # > 0 outside the band
        ramp = np.clip(octs / 0.5, 0, 1)
        fade *= 0.5 + 0.5 * np.cos(np.pi * ramp)
    g = g * fade
    capped = (g > max_boost_db) | (g < -max_cut_db)
    g = np.clip(g, -max_cut_db, max_boost_db)
    return wanted, g, capped


def _grid_gain(freqs_hz: np.ndarray, gain_db: np.ndarray, grid_hz: np.ndarray) -> np.ndarray:
    lg = np.log(np.maximum(grid_hz, freqs_hz[0] * 0.5))
    return np.interp(lg, np.log(freqs_hz), gain_db, left=gain_db[0], right=gain_db[-1])


def design_correction(fp: RoomFingerprint, *, fs: int, phase: str = "linear", n_taps: int | None = None,
                      max_boost_db: float = DEFAULT_MAX_BOOST_DB, max_cut_db: float = DEFAULT_MAX_CUT_DB,
                      band_hz: tuple[float, float] = DEFAULT_BAND_HZ,
                      smoothing_oct: float | None = None) -> MixCorrection:
    """Design the correction FIR for a studio's fingerprint.

    Parameters
    ----------
    fp : RoomFingerprint
    fs : int
        Sample rate of the mix (Hz), keyword-only.
    phase : {"linear", "minimum"}
    n_taps : int, optional
        Default: about 0.34 s (16384 taps at 48 kHz): resolves the 31.5 Hz third-octave.
    max_boost_db, max_cut_db, band_hz, smoothing_oct
        See :func:`band_gains_db`.

    Raises
    ------
    SignalError
        Unknown phase, bad caps or band, too few taps.
    """
    if phase not in ("linear", "minimum"):
        raise SignalError(f"phase {phase!r} is not 'linear' or 'minimum'")
    if int(fs) != fs or fs < 8000:
        raise SignalError(f"sample rate {fs!r} Hz is not a whole number >= 8000")
    if n_taps is None:
        n_taps = 1 << int(round(math.log2(fs * 0.34)))
    if n_taps < 256:
        raise SignalError(f"{n_taps} taps cannot resolve a room correction; use at least 256")
    wanted, g, capped = band_gains_db(fp, max_boost_db=max_boost_db, max_cut_db=max_cut_db,
                                      band_hz=band_hz, smoothing_oct=smoothing_oct)
    f_band = fp.freqs_hz
    if phase == "linear":
        n_fft = n_taps if n_taps % 2 == 0 else n_taps - 1
        grid = np.fft.rfftfreq(n_fft, 1 / fs)
        mag = 10 ** (_grid_gain(f_band, g, grid) / 20)
        h = np.fft.irfft(mag, n=n_fft)
        h = np.roll(h, n_fft // 2)[: n_fft]
        h = np.concatenate([h, [h[0]]])[: n_fft + 1]       # odd length, symmetric about n_fft/2
        h *= signal.windows.tukey(h.size, 0.2)
        latency = (h.size - 1) // 2
    else:
        n_fft = 8 * n_taps                                   # limits cepstral aliasing
        grid = np.fft.rfftfreq(n_fft, 1 / fs)
        log_mag = _grid_gain(f_band, g, grid) * (math.log(10) / 20)
        c = np.fft.irfft(log_mag, n=n_fft)
        fold = np.zeros(n_fft)
        fold[0] = 1.0
        fold[1: n_fft // 2] = 2.0
        fold[n_fft // 2] = 1.0
        hmin = np.exp(np.fft.rfft(c * fold))
        h = np.fft.irfft(hmin, n=n_fft)[:n_taps]
        tail = n_taps // 8
        h[-tail:] *= 0.5 + 0.5 * np.cos(np.pi * np.arange(tail) / tail)
        latency = 0
    _, bands = band_decisions(fp, band_hz=band_hz)
    return MixCorrection(
        fir=h, fs=int(fs), phase=phase, latency_samples=int(latency), freqs_hz=f_band, gain_db=g,
        wanted_db=wanted, capped=tuple(float(v) for v in f_band[capped]), studio=fp.studio, bands=bands,
    )


def fir_response_db(fir: np.ndarray, freqs_hz: np.ndarray, *, fs: int) -> np.ndarray:
    """Magnitude (dB) of an FIR at the given frequencies."""
    _, h = signal.freqz(fir, worN=np.asarray(freqs_hz, dtype=np.float64), fs=fs)
    return 20 * np.log10(np.maximum(np.abs(h), 1e-12))
