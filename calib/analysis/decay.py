"""ISO 3382 decay figures per band: Schroeder integration with Lundeby noise handling,
EDT, T20, T30, C50, C80, D50, Ts — each with the dynamic range it had, or null and the reason.

Method (ISO 3382-1:2009 §5.3 and Annex A, ISO 3382-2:2008 §5.3; STANDARDS.md §2):

- Time origin: the broadband direct-sound onset, the first sample within 20 dB of the peak
  (ISO 3382-1 A.3.4).
- Band signals: IEC 61260-1 class-1 Butterworth band-passes (:mod:`calib.analysis.bands`, 8th order).
  For the decay *times* the IR is filtered time-reversed, so the filter's own ringing falls
  before the onset instead of stretching the decay (ISO 3382-2 §5.3.3 allows it; it is what
  makes B·T < 16 bands usable).  For the *energy ratios* (C50, C80, D50, Ts) the band signal
  is zero-phase (the same class-1 magnitude applied without phase), so no filter delay moves
  energy across the 50/80 ms boundaries.
- Noise: Lundeby's crosspoint and tail compensation (:mod:`calib.analysis.lundeby`).
- Schroeder curve (ISO 3382-1 eq. 4 with the compensation of STANDARDS.md §2.4)::

      E(t) = Σ_{t..t_c} p² + C,   L_E(t) = 10·lg(E(t)/E(0))

- Decay times: least-squares line through ``L_E`` over the evaluation range; ``T = -60/slope``
  (EDT 0..-10 dB, T20 -5..-25 dB, T30 -5..-35 dB).
- A figure is reported only when the band's decay range (the smaller of Lundeby's
  intercept-to-noise ratio and the band's peak-to-noise ratio) reaches the range the limit
  table requires (``[decay_range]``: evaluation end + 10 dB);
  otherwise it is NaN (null in JSON) and ``reasons`` says why.
- Implementation note: 1-D inner products use ``np.einsum`` rather than ``np.dot``: BLAS
  ``ddot`` spawns threads and took 17 ms for 50 000 samples on a loaded 2-core machine
  (einsum: 0.1 ms).
- Energy ratios: ``C_te = 10·lg(E[0,te) / E[te,∞))``, ``D50 = E[0,50ms)/E[0,∞)``,
  ``Ts = Σ t·p² / Σ p²`` with the late energy integrated to the crosspoint plus the analytic
  tail beyond it.  Energy before the onset within two inverse bandwidths (zero-phase filter
  spread of the direct sound) counts as early energy.
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np
from scipy import fft as sp_fft
from scipy import signal

from calib.analysis.bands import (
    FILTER_ORDER,
    _magnitude_from_warped,
    band_centres_hz,
    band_edges_hz,
    band_filter_sos,
    nominal_label,
    warped_fft_grid,
)
from calib.analysis.lundeby import LundebyResult, lundeby
from calib.analysis.response import onset_index
from calib.analysis.types import BandDecay, DecayTable
from calib.errors import SignalError

__all__ = [
    "EVALUATION_RANGES_DB",
    "MIN_IR_AFTER_ONSET_S",
    "schroeder_curve_db",
    "fit_decay_time",
    "band_signals",
    "band_decay",
    "decay_table",
    "broadband_decay",
]

#: Evaluation ranges on the Schroeder curve (dB), ISO 3382-1 §3 / STANDARDS.md §2.2.
EVALUATION_RANGES_DB: Mapping[str, tuple[float, float]] = {
    "edt": (0.0, -10.0),
    "t20": (-5.0, -25.0),
    "t30": (-5.0, -35.0),
}

#: Shortest IR (after the onset) the decay analysis accepts: C80 needs 80 ms and a tail.
MIN_IR_AFTER_ONSET_S = 0.1


def schroeder_curve_db(e: np.ndarray, *, crosspoint_samples: int | None = None,
                       compensation: float = 0.0) -> np.ndarray:
    """Backward-integrated energy decay curve (dB re its value at index 0).

    Parameters
    ----------
    e : ndarray, shape (n,)
        Squared (band) IR from the onset.
    crosspoint_samples : int, optional
        Truncation point (default: the whole signal).  Values beyond it are NaN.
    compensation : float
        Tail energy ``C`` added beyond the truncation point (STANDARDS.md §2.4 item 9).

    Returns
    -------
    ndarray, shape (n,)  ``L_E`` in dB (0 at index 0), NaN beyond the crosspoint.
    """
    e = np.asarray(e, dtype=np.float64)
    tc = e.size if crosspoint_samples is None else int(min(max(crosspoint_samples, 1), e.size))
    out = np.full(e.size, np.nan)
    rev = np.cumsum(e[:tc][::-1])[::-1] + compensation
    if rev[0] <= 0:
        raise SignalError("the band signal has no energy; nothing to integrate")
    with np.errstate(divide="ignore"):
        out[:tc] = 10.0 * np.log10(rev / rev[0])
    return out


def fit_decay_time(edc_db: np.ndarray, *, fs: int, start_db: float, end_db: float) -> tuple[float, float]:
    """Decay time (s) from a least-squares line through ``edc_db`` between two levels.

    The fit uses every sample from the first one at or below ``start_db`` to the last one
    above ``end_db`` (ISO 3382-1 §5.3.3).  ``T = -60 / slope``.

    Returns
    -------
    t_s : float
        Decay time (s), NaN when the curve does not reach ``end_db`` (or has < 3 points).
    r2 : float
        Coefficient of determination of the fit (NaN if no fit).
    """
    L = np.asarray(edc_db, dtype=np.float64)
    # the curve is non-increasing up to the crosspoint and NaN after it: binary searches
    nan_at = np.flatnonzero(~np.isfinite(L[1:]))
    Lv = L[: 1 + int(nan_at[0])] if nan_at.size else L
    if Lv.size == 0 or not np.isfinite(Lv[0]):
        return math.nan, math.nan
    neg = -Lv
    i0 = int(np.searchsorted(neg, -start_db, side="left"))
    i1 = int(np.searchsorted(neg, -end_db, side="left"))
    if i0 >= Lv.size or i1 >= Lv.size:
        return math.nan, math.nan
    y = Lv[i0:i1]
    t = np.arange(i0, i1) / fs
    # closed-form least squares (faster than polyfit on long ranges)
    tm, ym = t.mean(), y.mean()
    dt, dy = t - tm, y - ym
    sxx = float(np.einsum('i,i->', dt, dt))
    slope = float(np.einsum('i,i->', dt, dy)) / sxx
    if slope >= 0:
        return math.nan, math.nan
    ss = float(np.einsum('i,i->', dy, dy))
    r2 = slope * slope * sxx / ss if ss > 0 else math.nan
    return -60.0 / slope, r2


class _PrefixFit:
    """Several least-squares decay fits on one Schroeder curve in O(1) each, from prefix sums
    of ``L`` and ``i·L`` (the same line as :func:`fit_decay_time`)."""

    def __init__(self, edc_db: np.ndarray, fs: int) -> None:
        L = np.asarray(edc_db, dtype=np.float64)
        nan_at = np.flatnonzero(~np.isfinite(L[1:]))
        self.L = L[: 1 + int(nan_at[0])] if nan_at.size else L
        self.neg = -self.L
        i = np.arange(self.L.size, dtype=np.float64)
        self.sy = np.concatenate([[0.0], np.cumsum(self.L)])
        self.siy = np.concatenate([[0.0], np.cumsum(i * self.L)])
        self.fs = fs

    def decay_time(self, start_db: float, end_db: float) -> float:
        n = self.L.size
        if n == 0 or not np.isfinite(self.L[0]):
            return math.nan
        i0 = int(np.searchsorted(self.neg, -start_db, side="left"))
        i1 = int(np.searchsorted(self.neg, -end_db, side="left"))
        if i0 >= n or i1 >= n or i1 - i0 < 3:
            return math.nan
        m = i1 - i0
        sy = self.sy[i1] - self.sy[i0]
        siy = self.siy[i1] - self.siy[i0]
        si = (i0 + i1 - 1) * m / 2.0                       # Σ i over [i0, i1)
        sii = ((i1 - 1) * i1 * (2 * i1 - 1) - (i0 - 1) * i0 * (2 * i0 - 1)) / 6.0
        den = m * sii - si * si
        if den <= 0:
            return math.nan
        slope = (m * siy - si * sy) / den * self.fs          # dB/s
        return -60.0 / slope if slope < 0 else math.nan


def _spectrum(x: np.ndarray) -> np.ndarray:
    """rfft of ``x`` zero-padded to a fast length ≥ 2n (room for the non-causal spread)."""
    nf = sp_fft.next_fast_len(2 * x.size, real=True)
    if nf % 2:
        nf += 1
    return sp_fft.rfft(x, nf)


def _zero_phase_band(x: np.ndarray, centre_hz: float, fraction: int, fs: int,
                     spectrum: np.ndarray | None = None) -> np.ndarray:
    """Band signal with the class-1 filter's magnitude and zero phase (FFT, zero-padded)."""
    n = x.size
    X = _spectrum(x) if spectrum is None else spectrum
    nf = 2 * (X.size - 1)
    # 4th-order prototype: |H| < -100 dB beyond 20x above / below the band edges; skipping
    # those bins changes a band energy by < 1e-9 relative (far below any reported decimal)
    lo, hi = band_edges_hz([centre_hz], fraction=fraction)
    k0 = max(int(lo[0] / 20.0 * nf / fs), 1)
    k1 = min(int(np.ceil(min(hi[0] * 20.0, fs / 2) * nf / fs)), X.size - 1)
    Y = np.zeros_like(X)
    om = warped_fft_grid(nf, fs)[k0:k1]
    Y[k0:k1] = X[k0:k1] * _magnitude_from_warped(om, float(lo[0]), float(hi[0]), fs, FILTER_ORDER)
    y = sp_fft.irfft(Y, nf)
    # the zero-phase response is non-causal: wrap the pre-onset part back in front
    return np.concatenate([y[nf - n:], y[:n]])   # length 2n, index n is time 0 of x


def band_signals(x: np.ndarray, centre_hz: float | None, fraction: int, *, fs: int,
                 spectrum: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The two band signals used by :func:`band_decay`.

    Returns
    -------
    reversed_filtered : ndarray, shape (n,)
        Time-reversed class-1 filtering (for decay times).
    zero_phase : ndarray, shape (2n,)
        Zero-phase band signal; index ``n`` corresponds to index 0 of ``x``.
    """
    x = np.asarray(x, dtype=np.float64)
    if centre_hz is None:
        return x, np.concatenate([np.zeros(x.size), x])
    sos = band_filter_sos(centre_hz, fraction=fraction, fs=fs)
    rev = signal.sosfilt(sos, x[::-1])[::-1]
    return rev, _zero_phase_band(x, centre_hz, fraction, fs, spectrum)


def _energy_ratios(zp: np.ndarray, n: int, onset: int, *, fs: int, lb: LundebyResult,
                   spread_samples: int) -> dict[str, float]:
    """C50, C80, D50 and Ts from the zero-phase band signal (see the module notes)."""
    t0 = n + onset                                     # onset index in the padded signal
    start = max(t0 - spread_samples, 0)
    tc = min(t0 + lb.crosspoint_samples, zp.size)
    seg = np.square(zp[start:tc])
    t_s = (np.arange(start, tc) - t0) * (1.0 / fs)
    i50 = t0 + int(round(0.050 * fs))
    i80 = t0 + int(round(0.080 * fs))
    tail = lb.compensation
    # analytic tail beyond t_c for Ts: ∫ t·N·exp(-a(t - tc)) dt = N(tc/a + 1/a²) (per sample)
    tc_s = (tc - t0) / fs
    if tail > 0 and math.isfinite(lb.late_decay_db_per_s) and lb.late_decay_db_per_s < 0:
        a = -lb.late_decay_db_per_s * math.log(10.0) / 10.0        # energy decay rate (1/s)
        tail_t = tail * (tc_s + 1.0 / a)
    else:
        tail_t = 0.0
    total = float(seg.sum()) + tail
    if total <= 0:
        return {"c50_db": math.nan, "c80_db": math.nan, "d50": math.nan, "ts_s": math.nan}
    e50 = float(seg[: max(min(i50, tc) - start, 0)].sum())
    e80 = float(seg[: max(min(i80, tc) - start, 0)].sum())
    late50, late80 = total - e50, total - e80
    c50 = 10.0 * math.log10(e50 / late50) if late50 > 0 and e50 > 0 else math.nan
    c80 = 10.0 * math.log10(e80 / late80) if late80 > 0 and e80 > 0 else math.nan
    ts = (float(np.einsum('i,i->', t_s, seg)) + tail_t) / total
    return {"c50_db": c50, "c80_db": c80, "d50": e50 / total, "ts_s": ts}


def band_decay(x: np.ndarray, *, fs: int, onset: int, centre_hz: float | None, fraction: int = 1,
               required_range_db: Mapping[str, float] | None = None,
               spectrum: np.ndarray | None = None) -> BandDecay:
    """All decay figures of one band of one IR.

    Parameters
    ----------
    x : ndarray, shape (n,)
        Broadband impulse response (the whole record, pre-delay included).
    fs : int
        Sample rate (Hz).
    onset : int
        Direct-sound onset index in ``x``.
    centre_hz : float or None
        Band centre (Hz); None for broadband.
    fraction : int
        1 (octave) or 3 (third-octave).
    required_range_db : mapping, optional
        ``{"edt": dB, "t20": dB, "t30": dB}`` decay range each figure needs (default: the
        limit table's ``[decay_range]``).
    spectrum : ndarray, optional
        ``rfft(x, 2^ceil(log2(2n)))`` when the caller analyses several bands of the same ``x``.

    Returns
    -------
    BandDecay
    """
    if required_range_db is None:
        from calib.analysis.limits import load_limits

        lim = load_limits()["decay_range"]
        required_range_db = {"edt": lim["edt_db"], "t20": lim["t20_db"], "t30": lim["t30_db"]}
    rev, zp = band_signals(x, centre_hz, fraction, fs=fs, spectrum=spectrum)
    n = x.size
    e_rev = rev[onset:] ** 2
    lb = lundeby(e_rev, fs=fs, centre_hz=centre_hz)
    reasons: dict[str, str] = {}
    times = {"edt": math.nan, "t20": math.nan, "t30": math.nan}
    # the range a figure can use: the smaller of Lundeby's intercept-to-noise ratio and the
    # band's peak-to-noise ratio (STANDARDS.md §2.3 states the requirement as peak-to-noise)
    avail = min(lb.decay_range_db, lb.peak_to_noise_db) if lb.ok else 0.0
    if not lb.ok:
        for k in times:
            reasons[k] = lb.reason
    else:
        edc = schroeder_curve_db(e_rev, crosspoint_samples=lb.crosspoint_samples, compensation=lb.compensation)
        fitter = _PrefixFit(edc, fs)
        for k, (a, b) in EVALUATION_RANGES_DB.items():
            need = float(required_range_db[k])
            if avail < need:
                reasons[k] = (f"decay range {avail:.1f} dB < {need:.0f} dB needed "
                              f"(evaluation to {b:.0f} dB plus 10 dB above the noise)")
                continue
            t = fitter.decay_time(a, b)
            if not math.isfinite(t):
                reasons[k] = f"the decay curve does not reach {b:.0f} dB before the noise"
            times[k] = t
    # energy ratios on the zero-phase band, with their own crosspoint
    if centre_hz is not None:
        lo, hi = band_edges_hz([centre_hz], fraction=fraction)
        spread = int(round(2.0 * fs / float(hi[0] - lo[0])))
    else:
        spread = 0
    e_zp = zp[n + onset:] ** 2
    lb_zp = lundeby(e_zp, fs=fs, centre_hz=centre_hz)
    if lb_zp.ok:
        ratios = _energy_ratios(zp, n, onset, fs=fs, lb=lb_zp, spread_samples=min(spread, onset + n))
    else:
        ratios = {"c50_db": math.nan, "c80_db": math.nan, "d50": math.nan, "ts_s": math.nan}
        for k in ratios:
            reasons[k] = lb_zp.reason
    curvature = (100.0 * (times["t30"] / times["t20"] - 1.0)
                 if math.isfinite(times["t30"]) and math.isfinite(times["t20"]) else math.nan)
    label = nominal_label(centre_hz) if centre_hz is not None else "broadband"
    return BandDecay(
        centre_hz=float(centre_hz) if centre_hz is not None else math.nan,
        label=label,
        edt_s=times["edt"], t20_s=times["t20"], t30_s=times["t30"],
        c50_db=ratios["c50_db"], c80_db=ratios["c80_db"], d50=ratios["d50"], ts_s=ratios["ts_s"],
        decay_range_db=avail if lb.ok else lb.decay_range_db, peak_to_noise_db=lb.peak_to_noise_db,
        crosspoint_s=lb.crosspoint_samples / fs, curvature_pct=curvature,
        reasons=reasons,
    )


def _check_ir(x: np.ndarray, fs: int) -> int:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1:
        raise SignalError(f"decay analysis expects one channel (1-D), got shape {x.shape}")
    onset = onset_index(x)
    after_s = (x.size - onset) / fs
    if after_s < MIN_IR_AFTER_ONSET_S:
        raise SignalError(
            f"the impulse response is too short: {after_s * 1000:.0f} ms after the direct sound, "
            f"need at least {MIN_IR_AFTER_ONSET_S * 1000:.0f} ms; measure with a longer tail"
        )
    return onset


def decay_table(x: np.ndarray, *, fs: int, fraction: int = 1, lo_hz: float | None = None,
                hi_hz: float | None = None, centres_hz: Sequence[float] | None = None,
                required_range_db: Mapping[str, float] | None = None) -> DecayTable:
    """Decay figures in every octave (``fraction=1``) or third-octave (``fraction=3``) band.

    Parameters
    ----------
    x : ndarray, shape (n,)
        One channel's impulse response.
    fs : int
        Sample rate (Hz).
    fraction : int
        1 or 3.
    lo_hz, hi_hz : float, optional
        Band range (default 63 Hz … 8 kHz for octaves, 50 Hz … 10 kHz for thirds), cut to the
        bands that fit below Nyquist.
    centres_hz : sequence, optional
        Explicit band centres instead of a range.

    Returns
    -------
    DecayTable

    Raises
    ------
    SignalError
        Silent, non-1-D or too-short IR (< 100 ms after the onset).
    """
    if fraction not in (1, 3):
        raise SignalError(f"decay bands must be octaves (1) or third-octaves (3), got 1/{fraction}")
    onset = _check_ir(x, fs)
    if centres_hz is None:
        lo = lo_hz if lo_hz is not None else (63.0 if fraction == 1 else 50.0)
        hi = hi_hz if hi_hz is not None else (8000.0 if fraction == 1 else 10000.0)
        fc = band_centres_hz(lo, hi, fraction=fraction)
        _, f_hi = band_edges_hz(fc, fraction=fraction)
        fc = fc[f_hi < fs / 2]
    else:
        fc = np.asarray(centres_hz, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    # drop all but 0.5 s before the onset: it holds no decay, only work (and the zero-phase
    # spread of the direct sound needs at most 2/B ≈ 0.35 s at the 50 Hz third-octave)
    cut = max(onset - int(0.5 * fs), 0)
    x, onset = x[cut:], onset - cut
    X = _spectrum(x)
    bands = tuple(band_decay(x, fs=fs, onset=onset, centre_hz=float(f), fraction=fraction,
                             required_range_db=required_range_db, spectrum=X) for f in fc)
    return DecayTable(fraction=fraction, bands=bands, onset_s=onset / fs)


def broadband_decay(x: np.ndarray, *, fs: int,
                    required_range_db: Mapping[str, float] | None = None) -> BandDecay:
    """Decay figures of the unfiltered IR."""
    onset = _check_ir(x, fs)
    return band_decay(np.asarray(x, dtype=np.float64), fs=fs, onset=onset, centre_hz=None,
                      required_range_db=required_range_db)
