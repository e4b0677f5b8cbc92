"""Background noise from a silent recording: octave-band levels and the NR rating.

Octave bands 31.5 Hz … 8 kHz (IEC 61260-1 class-1 filters, :mod:`calib.analysis.bands`), level =
``10·lg(mean(y²))`` over the recording after the filter's settling time (Leq).  Without a
calibration the levels are dB re a full-scale RMS of 1.0 ("dBFS"); with ``spl_offset_db`` (the
SPL that an RMS of 1.0 at the converter corresponds to, from the mic calibration) they are
dB SPL.

Noise Rating (ISO R 1996 / AS 1469 form, STANDARDS.md §3.9 [S]): ``L_NR(f) = A_f + B_f·NR``; the
rating of a spectrum is the smallest NR (fractional, interpolated) that no band exceeds:
``NR = max_f (L_f − A_f)/B_f``.
"""

from __future__ import annotations

import math

import numpy as np

from calib.analysis.bands import filter_bands, octave_centres_hz
from calib.analysis.types import NoiseAnalysis
from calib.errors import SignalError

__all__ = ["NR_A", "NR_B", "NR_BANDS_HZ", "nr_curve_db", "nr_rating", "noise_spectrum"]

#: Nominal octave centres of the NR table (Hz) and the coefficients A_f, B_f (STANDARDS.md §3.9).
NR_BANDS_HZ = (31.5, 63.0, 125.0, 250.0, 500.0, 1000.0, 2000.0, 4000.0, 8000.0)
NR_A = (55.4, 35.5, 22.0, 12.0, 4.8, 0.0, -3.5, -6.1, -8.0)
NR_B = (0.681, 0.790, 0.870, 0.930, 0.974, 1.000, 1.015, 1.025, 1.030)

#: Shortest silent recording accepted (s); ISO-style Leq wants ≥ 30 s, a pre-roll gives less.
MIN_NOISE_S = 0.25


def nr_curve_db(nr: float) -> np.ndarray:
    """Octave-band levels (dB SPL) of the curve NR ``nr`` at :data:`NR_BANDS_HZ`."""
    return np.array(NR_A) + np.array(NR_B) * nr


def nr_rating(levels_db: np.ndarray, bands_hz: np.ndarray | None = None) -> tuple[float, float]:
    """NR rating of octave-band levels (dB SPL) and the band that sets it.

    Parameters
    ----------
    levels_db : ndarray, shape (n_bands,)
        Levels at ``bands_hz`` (default :data:`NR_BANDS_HZ`); NaN bands are skipped.
    bands_hz : ndarray, optional
        Nominal or exact octave centres; each is matched to the nearest NR band.

    Returns
    -------
    (nr, limiting_band_hz)
    """
    lv = np.asarray(levels_db, dtype=np.float64)
    fb = np.asarray(NR_BANDS_HZ if bands_hz is None else bands_hz, dtype=np.float64)
    if lv.shape != fb.shape:
        raise SignalError(f"{lv.size} levels for {fb.size} bands")
    best, band = -math.inf, math.nan
    for f, v in zip(fb, lv):
        if not math.isfinite(v):
            continue
        j = int(np.argmin(np.abs(np.log(np.array(NR_BANDS_HZ) / f))))
        if abs(math.log(NR_BANDS_HZ[j] / f)) > 0.2:
            continue
        nr = (v - NR_A[j]) / NR_B[j]
        if nr > best:
            best, band = nr, NR_BANDS_HZ[j]
    return (best if math.isfinite(best) else math.nan), band


def noise_spectrum(recording: np.ndarray, *, fs: int, spl_offset_db: float | None = None) -> NoiseAnalysis:
    """Octave-band background noise of a silent recording and its NR rating.

    Parameters
    ----------
    recording : ndarray, shape (n,)
        Mic signal with no test signal playing (e.g. the sweep's pre-roll), full scale 1.0.
    fs : int
    spl_offset_db : float, optional
        dB SPL corresponding to an RMS of 1.0 (mic calibration).  Without it the levels are
        dBFS and the NR rating is NaN with a reason.

    Returns
    -------
    NoiseAnalysis

    Raises
    ------
    SignalError
        Shorter than 0.25 s, not 1-D, or non-finite.
    """
    x = np.asarray(recording, dtype=np.float64)
    if x.ndim != 1:
        raise SignalError(f"the noise recording must be one channel, got shape {x.shape}")
    if x.size < MIN_NOISE_S * fs:
        raise SignalError(f"the noise recording is {x.size / fs:.2f} s long; need at least {MIN_NOISE_S} s "
                          "of silence (a longer pre-roll)")
    if not np.all(np.isfinite(x)):
        raise SignalError("the noise recording contains NaN or Inf samples")
    x = x - x.mean()
    fc = octave_centres_hz(31.5, 8000.0)
    fc = fc[fc * 2 ** 0.5 < fs / 2]
    y = filter_bands(x, fc, fraction=1, fs=fs)
    levels = []
    for f, row in zip(fc, y):
        settle = min(int(fs * 4.0 / (f * 0.707)), row.size // 2)     # ~4 periods of the bandwidth
        ms = float(np.mean(row[settle:] ** 2))
        levels.append(10.0 * math.log10(ms) if ms > 0 else -math.inf)
    lv = np.array(levels)
    nominal = np.array(NR_BANDS_HZ[: fc.size])
    if spl_offset_db is None:
        return NoiseAnalysis(bands_hz=tuple(float(v) for v in nominal), level_db=tuple(float(v) for v in lv),
                             calibrated=False, nr=math.nan, limiting_band_hz=math.nan,
                             reason="no SPL calibration (mic sensitivity): levels are dBFS, NR needs dB SPL")
    spl = lv + float(spl_offset_db)
    nr, band = nr_rating(spl, nominal)
    return NoiseAnalysis(bands_hz=tuple(float(v) for v in nominal), level_db=tuple(float(v) for v in spl),
                         calibrated=True, nr=nr, limiting_band_hz=band)
