"""Room modes: detection in a measured response, Rayleigh prediction, matching, room ratios.

Detection (one channel): the magnitude of the whole IR on a fine FFT grid (zero-padded to
≤ 0.1 Hz bins), peaks with a prominence of at least ``min_prominence_db`` (the height above the
higher of the two surrounding minima, as in :func:`scipy.signal.find_peaks`) between ``lo_hz``
and ``hi_hz``.  Each mode reports:

- ``freq_hz``: damped frequency of a resonance fitted to the complex spectrum around the peak
  (Levy's linearised rational fit, one pole pair plus a smooth background; see
  :func:`_fit_pole`), falling back to the interpolated magnitude peak;
- ``level_db``: peak level above the local average (power mean over one octave around it);
- ``q = ω0/(2δ)`` from the fitted pole; without a fit ``f0/B`` with ``B`` the -3 dB bandwidth
  (interpolated; one-sided when the other side does not fall 3 dB before the next valley);
- ``t60_s``: decay time of a 1/24-octave band around f0 (time-reversed Butterworth, Schroeder
  integral, Lundeby, fit -5 … -25 dB, ×3), NaN + reason when the range is not there;
- ``t60_from_q_s = 2.2·Q/f0`` (single-mode relation, STANDARDS.md §4.3).

Prediction (rectangular room, rigid walls; Rayleigh, STANDARDS.md §4.1)::

    f(nx, ny, nz) = (c/2)·√((nx/Lx)² + (ny/Ly)² + (nz/Lz)²)

Room ratios: the Bolt-area inequality as BS.1116 states it (STANDARDS.md §3.1, §4.4) and
Bonello's criterion (modes per third-octave non-decreasing; coincident modes only in bands
with ≥ 5 modes; Bonello, JAES 29(9) 1981).
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
from scipy import signal

from calib.analysis.bands import band_centres_hz, band_edges_hz
from calib.analysis.decay import fit_decay_time, schroeder_curve_db
from calib.analysis.lundeby import lundeby
from calib.analysis.physics import check_dims_m
from calib.analysis.response import onset_index
from calib.analysis.smoothing import fractional_octave_smooth
from calib.analysis.types import Mode, PredictedMode
from calib.errors import SignalError

__all__ = [
    "predict_modes",
    "low_frequency_response",
    "detect_modes",
    "modal_decay_s",
    "match_modes",
    "bolt_check",
    "bonello_check",
]

_KINDS = {1: "axial", 2: "tangential", 3: "oblique"}


def predict_modes(dims_m: Sequence[float], *, c_m_s: float, f_max_hz: float = 300.0) -> tuple[PredictedMode, ...]:
    """All rectangular-room modes up to ``f_max_hz``, ascending (Rayleigh equation).

    Parameters
    ----------
    dims_m : (Lx, Ly, Lz)
        Room length, width, height (m).
    c_m_s : float
        Speed of sound (m/s), e.g. :func:`calib.analysis.physics.speed_of_sound_m_s`.
    f_max_hz : float
        Highest frequency (Hz).
    """
    lx, ly, lz = check_dims_m(dims_m)
    out = []
    nmax = [int(math.floor(2.0 * f_max_hz * d / c_m_s)) for d in (lx, ly, lz)]
    for nx in range(nmax[0] + 1):
        for ny in range(nmax[1] + 1):
            for nz in range(nmax[2] + 1):
                if nx == ny == nz == 0:
                    continue
                f = 0.5 * c_m_s * math.sqrt((nx / lx) ** 2 + (ny / ly) ** 2 + (nz / lz) ** 2)
                if f <= f_max_hz:
                    kind = _KINDS[(nx > 0) + (ny > 0) + (nz > 0)]
                    out.append(PredictedMode(freq_hz=f, indices=(nx, ny, nz), kind=kind))
    out.sort(key=lambda m: (m.freq_hz, m.indices))
    return tuple(out)


def low_frequency_response(x: np.ndarray, *, fs: int, max_bin_hz: float = 0.1,
                           f_max_hz: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Complex spectrum of the whole IR on a zero-padded FFT grid with bins ≤ ``max_bin_hz``.

    Returns
    -------
    freqs_hz : ndarray, shape (n_bins,)
    spectrum : ndarray, complex, shape (n_bins,)
    """
    x = np.asarray(x, dtype=np.float64)
    nf = max(x.size, int(math.ceil(fs / max_bin_hz)))
    nf = 1 << int(math.ceil(math.log2(nf)))
    spec = np.fft.rfft(x, nf)
    f = np.fft.rfftfreq(nf, 1.0 / fs)
    if f_max_hz is not None:
        keep = f <= f_max_hz
        f, spec = f[keep], spec[keep]
    return f, spec


def _fit_pole(f: np.ndarray, h: np.ndarray, f0: float, bw_hz: float) -> tuple[float, float] | None:
    """Fit one resonance plus a smooth background to the complex spectrum around ``f0``.

    Model (Levy's linearised rational fit): ``H(s)·(s² + b1·s + b0) = a0 + a1·s + a2·s²`` with
    ``s = j·f/f0``, solved by least squares over ``f0 ± max(bw, 4 bins)``.  The pole pair
    ``s² + b1·s + b0`` gives the damped frequency and the decay rate; nearby modes and the
    direct sound are absorbed by the numerator, so the result is not pulled by their
    interference the way a magnitude peak is.

    Returns
    -------
    (f_d_hz, delta_per_s) or None when the fit is not a decaying resonance near f0.
    """
    df = f[1] - f[0]
    half = max(bw_hz if math.isfinite(bw_hz) else 0.0, 4 * df, 0.02 * f0)
    sel = (f >= f0 - half) & (f <= f0 + half)
    if np.count_nonzero(sel) < 6:
        return None
    s = 1j * f[sel] / f0
    hh = h[sel]
    # unknowns: b1, b0, a0, a1, a2 (real);  hh·s² = -b1·hh·s - b0·hh + a0 + a1·s + a2·s²
    cols = np.stack([-hh * s, -hh, np.ones_like(s), s, s * s], axis=1)
    rhs = hh * s * s
    a_mat = np.concatenate([cols.real, cols.imag])
    b_vec = np.concatenate([rhs.real, rhs.imag])
    scale = np.linalg.norm(a_mat, axis=0)
    scale[scale == 0] = 1.0
    sol, *_ = np.linalg.lstsq(a_mat / scale, b_vec, rcond=None)
    b1, b0 = sol[0] / scale[0], sol[1] / scale[1]
    if not (b1 > 0 and b0 > 0):
        return None
    disc = b0 - 0.25 * b1 * b1
    if disc <= 0:
        return None
    w0 = 2.0 * math.pi * f0
    fd = math.sqrt(disc) * f0                 # damped frequency (Hz)
    delta = 0.5 * b1 * w0                     # decay rate (1/s), amplitude ∝ exp(-δt)
    if abs(fd - f0) > half:
        return None
    return fd, delta


def _interp_peak(f: np.ndarray, m: np.ndarray, i: int) -> tuple[float, float]:
    if 0 < i < m.size - 1:
        y0, y1, y2 = m[i - 1], m[i], m[i + 1]
        den = y0 - 2 * y1 + y2
        if den < 0:
            d = 0.5 * (y0 - y2) / den
            return float(f[i] + d * (f[1] - f[0])), float(y1 - 0.25 * (y0 - y2) * d)
    return float(f[i]), float(m[i])


def _half_power_bandwidth(f: np.ndarray, m: np.ndarray, i: int, peak_db: float, lo_i: int, hi_i: int) -> float:
    """-3 dB bandwidth (Hz) around bin i, searching no further than the valleys lo_i / hi_i."""
    thr = peak_db - 3.0103
    left = right = math.nan
    j = i
    while j > lo_i and m[j] > thr:
        j -= 1
    if m[j] <= thr and j < i:
        left = f[j] + (thr - m[j]) / (m[j + 1] - m[j]) * (f[j + 1] - f[j])
    j = i
    while j < hi_i and m[j] > thr:
        j += 1
    if m[j] <= thr and j > i:
        right = f[j - 1] + (m[j - 1] - thr) / (m[j - 1] - m[j]) * (f[j] - f[j - 1])
    f0 = f[i]
    if math.isfinite(left) and math.isfinite(right):
        return float(right - left)
    if math.isfinite(left):
        return float(2.0 * (f0 - left))
    if math.isfinite(right):
        return float(2.0 * (right - f0))
    return math.nan


def modal_decay_s(x: np.ndarray, f0_hz: float, *, fs: int, onset: int | None = None,
                  min_range_db: float = 35.0) -> tuple[float, str]:
    """Decay time (s) of a 1/24-octave band centred on a mode (T20 method, ×3).

    The band is filtered time-reversed (Butterworth, 3rd-order prototype) so the filter's own
    ringing falls before the onset and cannot lengthen the decay — which is what allows a band
    narrower than the mode itself: the output then decays at the mode's rate while the
    neighbouring modes are suppressed (1/24 octave kept the error on synthetic and simulated
    rooms within 15 %, 1/6 octave did not where modes are 8 Hz apart).  Lundeby truncation and
    compensation as for ISO 3382.

    Returns
    -------
    t60_s : float
        NaN when the band lacks ``min_range_db`` of decay range.
    reason : str
        Empty, or why ``t60_s`` is NaN.
    """
    x = np.asarray(x, dtype=np.float64)
    if onset is None:
        onset = onset_index(x)
    k = 2.0 ** (1.0 / 48.0)
    if f0_hz * k >= fs / 2:
        return math.nan, "mode above the band-filter range"
    sos = signal.butter(3, [f0_hz / k, f0_hz * k], btype="bandpass", fs=fs, output="sos")
    y = signal.sosfilt(sos, x[::-1])[::-1][onset:]
    e = y ** 2
    lb = lundeby(e, fs=fs, centre_hz=f0_hz)
    if not lb.ok:
        return math.nan, lb.reason
    if lb.decay_range_db < min_range_db:
        return math.nan, f"decay range {lb.decay_range_db:.1f} dB < {min_range_db:.0f} dB needed"
    edc = schroeder_curve_db(e, crosspoint_samples=lb.crosspoint_samples, compensation=lb.compensation)
    t, _ = fit_decay_time(edc, fs=fs, start_db=-5.0, end_db=-25.0)
    if not math.isfinite(t):
        return math.nan, "the band decay does not reach -25 dB"
    return t, ""


def detect_modes(x: np.ndarray, *, fs: int, channel: str = "", lo_hz: float = 20.0, hi_hz: float = 250.0,
                 min_prominence_db: float = 3.0, predicted: Sequence[PredictedMode] = (),
                 min_decay_range_db: float = 35.0) -> tuple[Mode, ...]:
    """Find the modes of one channel's IR (see the module notes).

    Parameters
    ----------
    x : ndarray, shape (n,)
        Impulse response (≥ 0.5 s is sensible: the FFT of the whole IR is used).
    fs : int
        Sample rate (Hz).
    lo_hz, hi_hz : float
        Search range (Hz).
    min_prominence_db : float
        Smallest peak prominence that counts as a mode (dB).
    predicted : sequence of PredictedMode
        Rayleigh modes to match against (see :func:`match_modes`).

    Returns
    -------
    tuple of Mode, ascending in frequency.

    Raises
    ------
    SignalError
        Search range invalid for this sample rate.
    """
    if not (0 < lo_hz < hi_hz < fs / 2):
        raise SignalError(f"mode search range {lo_hz}..{hi_hz} Hz is invalid at fs={fs} Hz")
    x = np.asarray(x, dtype=np.float64)
    onset = onset_index(x)
    # spectrum with the onset as time origin (keeps the phase smooth for the pole fit)
    f, h = low_frequency_response(x[onset:], fs=fs, f_max_hz=min(2 * hi_hz, fs / 2))
    # work on the band lo/2 .. 2·hi (room for the local average and the -3 dB search)
    sel = f >= lo_hz / 2
    f, h = f[sel], h[sel]
    m = 20.0 * np.log10(np.maximum(np.abs(h), 1e-12))
    local = fractional_octave_smooth(f, m, fraction=1)
    peaks, props = signal.find_peaks(m, prominence=min_prominence_db)
    modes = []
    for i, lb, rb in zip(peaks, props["left_bases"], props["right_bases"]):
        f_pk, pk = _interp_peak(f, m, int(i))
        if not (lo_hz <= f_pk <= hi_hz):
            continue
        bw = _half_power_bandwidth(f, m, int(i), pk, int(lb), int(rb))
        pole = _fit_pole(f, h, f_pk, bw)
        if pole is not None:
            # Q of the pole pair: ω0/(2δ) with ω0 = √(ωd² + δ²)  (STANDARDS.md §4.3)
            f0, delta = pole
            w0 = math.hypot(2 * math.pi * f0, delta)
            q = w0 / (2.0 * delta)
        else:
            f0 = f_pk
            q = f0 / bw if bw > 0 else math.nan
        t60, reason = modal_decay_s(x, f0, fs=fs, onset=onset, min_range_db=min_decay_range_db)
        t60_q = 2.2 * q / f0 if math.isfinite(q) else math.nan
        if math.isfinite(t60) and math.isfinite(t60_q) and not (0.5 <= t60 / t60_q <= 2.0):
            # a factor of two between the band decay and the bandwidth: beating with a
            # neighbour, a non-modal peak, or noise in the band; keep both, say so
            reason = (f"band decay {t60:.2f} s and bandwidth ({t60_q:.2f} s) disagree by more than 2x: "
                      "treat this T60 with caution")
        modes.append(Mode(freq_hz=f0, level_db=float(pk - local[i]), q=q, t60_s=t60,
                          t60_from_q_s=t60_q, channel=channel, reason=reason))
    if predicted:
        modes = list(match_modes(modes, predicted))
    return tuple(modes)


def match_modes(modes: Sequence[Mode], predicted: Sequence[PredictedMode], *,
                tolerance_rel: float = 0.05) -> tuple[Mode, ...]:
    """Attach to each measured mode the nearest predicted mode within ``tolerance_rel``·f0
    (or within its half-power half-bandwidth when that is wider)."""
    if not predicted:
        return tuple(modes)
    pf = np.array([p.freq_hz for p in predicted])
    out = []
    for md in modes:
        j = int(np.argmin(np.abs(pf - md.freq_hz)))
        half_bw = 0.5 * md.freq_hz / md.q if md.q and math.isfinite(md.q) else 0.0
        tol = max(tolerance_rel * md.freq_hz, half_bw)
        match = predicted[j] if abs(pf[j] - md.freq_hz) <= tol else None
        out.append(Mode(freq_hz=md.freq_hz, level_db=md.level_db, q=md.q, t60_s=md.t60_s,
                        t60_from_q_s=md.t60_from_q_s, channel=md.channel, predicted=match, reason=md.reason))
    return tuple(out)


def bolt_check(dims_m: Sequence[float]) -> dict[str, Any]:
    """Room proportions against the Bolt-area inequality in the form BS.1116 / Tech 3276 use:
    ``1.1·w/h ≤ l/h ≤ 4.5·w/h − 4`` (STANDARDS.md §3.1 [U]); ratios normalised to the height."""
    lx, ly, lz = check_dims_m(dims_m)
    l_, w_ = max(lx, ly), min(lx, ly)
    lh, wh = l_ / lz, w_ / lz
    lo, hi = 1.1 * wh, 4.5 * wh - 4.0
    return {"ratios": [1.0, round(wh, 4), round(lh, 4)], "l_over_h": lh, "w_over_h": wh,
            "lower": lo, "upper": hi, "passed": bool(lo <= lh <= hi)}


def bonello_check(dims_m: Sequence[float], *, c_m_s: float, lo_hz: float = 20.0, hi_hz: float = 200.0,
                  coincidence_rel: float = 0.005) -> dict[str, Any]:
    """Bonello's criterion on third-octave mode counts.

    Counts all Rayleigh modes per third-octave band between ``lo_hz`` and ``hi_hz``.  Passes
    when the count never decreases from one band to the next and modes coinciding within
    ``coincidence_rel`` (relative) occur only in bands holding at least 5 modes.
    """
    modes = predict_modes(dims_m, c_m_s=c_m_s, f_max_hz=hi_hz * 1.2)
    fc = band_centres_hz(lo_hz, hi_hz, fraction=3)
    lo, hi = band_edges_hz(fc, fraction=3)
    freqs = np.array([m.freq_hz for m in modes])
    counts = [int(np.count_nonzero((freqs >= a) & (freqs < b))) for a, b in zip(lo, hi)]
    problems = []
    for i in range(1, len(counts)):
        if counts[i] < counts[i - 1]:
            problems.append(f"count falls from {counts[i - 1]} to {counts[i]} at {fc[i]:.0f} Hz")
    for a, b, n in zip(lo, hi, counts):
        inb = np.sort(freqs[(freqs >= a) & (freqs < b)])
        if n < 5 and inb.size > 1 and np.any(np.diff(inb) <= coincidence_rel * inb[1:]):
            problems.append(f"coincident modes in the {math.sqrt(a * b):.0f} Hz band with only {n} modes")
    return {"bands_hz": [float(v) for v in fc], "counts": counts, "passed": not problems, "problems": problems}
