"""Harmonic distortion versus frequency and THD, from the harmonic IRs of a sweep measurement.

With an exponential sweep the k-th harmonic of the excitation is a time-advanced copy of the
sweep (Farina 2000; Novák et al. 2015, STANDARDS.md §1.1–1.2), so the deconvolved harmonic IR
``h_k`` has a spectrum ``H_k(ν)`` that is the k-th harmonic at *output* frequency ``ν = k·f`` for
excitation at ``f``, at the linear IR's scale (``calib.deconvolve``: for ``y = x + a2·x²`` and a
sweep of peak A, ``|H_2| = a2·A/2``).  Relative to the fundamental at the excitation
frequency::

    D_k(f) = |H_k(k·f)| / |H_1(f)|,      THD(f) = 100·√(Σ_k |H_k(k·f)|²) / |H_1(f)|  %

Both spectra are taken with the same window length (the harmonic IR's own length, which is
what the sweep rate leaves between harmonics: ``L·ln(k/(k-1))``) and smoothed to
1/``smoothing`` octave (power mean) so room modes do not put spikes in the ratio.  Frequencies
with ``k·f`` above 0.45·fs are NaN, and so are excitation frequencies outside the channel's pass
band (:mod:`calib.analysis.passband`: the octave-smoothed fundamental more than 20 dB under its
maximum; for a band-limited channel, a subwoofer, 10 dB): there the ratio divides the noise
floor by a fundamental that is not there (a subwoofer low-passed at 200 Hz read "20 % THD at
2145 Hz").
"""

from __future__ import annotations

import numpy as np

from calib.analysis.passband import is_band_limited, passband_from_bands_hz
from calib.analysis.smoothing import fractional_octave_smooth, log_frequency_grid
from calib.analysis.types import DistortionAnalysis
from calib.errors import SignalError
from calib.types import ImpulseResponse

__all__ = ["harmonic_distortion", "SUB_BELOW_MAX_DB"]

#: a band-limited channel's (a subwoofer's) distortion is judged within this many dB of its level
SUB_BELOW_MAX_DB = 10.0


def _spectrum_db(x: np.ndarray, n: int, fs: int, nf: int) -> tuple[np.ndarray, np.ndarray]:
    seg = np.array(x[:n], dtype=np.float64)
    fall = max(n // 8, 1)
    seg[n - fall:] *= np.cos(0.5 * np.pi * (np.arange(fall) + 0.5) / fall) ** 2
    spec = np.abs(np.fft.rfft(seg, nf))
    return np.fft.rfftfreq(nf, 1.0 / fs), 20.0 * np.log10(np.maximum(spec, 1e-15))


def harmonic_distortion(ir: ImpulseResponse, channel: int | str = 0, *, lo_hz: float = 20.0,
                        hi_hz: float = 20_000.0, points_per_octave: int = 12,
                        smoothing: float = 6) -> DistortionAnalysis:
    """Distortion per harmonic and THD versus the excitation frequency for one channel.

    Parameters
    ----------
    ir : ImpulseResponse
        With ``harmonics`` (orders ≥ 2) as ``calib.deconvolve`` produces them.
    channel : int or str
    lo_hz, hi_hz : float
        Excitation-frequency range of the result (Hz).
    points_per_octave : int
        Log-grid density.
    smoothing : float
        Fractional-octave smoothing N (1/N octave) of both spectra.

    Returns
    -------
    DistortionAnalysis

    Raises
    ------
    SignalError
        No harmonic IRs, or an unknown channel.
    """
    if not ir.harmonics:
        raise SignalError("the impulse response carries no harmonic IRs; measure with a sweep "
                          "(harmonics come from calib.deconvolve) to get distortion")
    idx = ir.channel_names.index(channel) if isinstance(channel, str) and channel in ir.channel_names else channel
    if isinstance(idx, str) or not (0 <= int(idx) < ir.n_channels):
        raise SignalError(f"no channel {channel!r}; channels are {', '.join(ir.channel_names)}")
    idx = int(idx)
    fs = ir.fs
    hi = min(hi_hz, 0.45 * fs)
    grid = log_frequency_grid(lo_hz, hi, points_per_octave=points_per_octave)
    lin = ir.samples[idx]
    out: dict[int, np.ndarray] = {}
    power_sum = np.zeros(grid.size)
    valid_all = np.ones(grid.size, dtype=bool)
    h1_ref = None
    for k in sorted(ir.harmonics):
        hk = ir.harmonics[k][idx]
        n = min(hk.size, lin.size)
        if n < 32:
            continue
        nf = 1 << int(np.ceil(np.log2(max(n, int(fs / 2.0)))))     # ≤ 2 Hz bins
        f, l1 = _spectrum_db(lin, n, fs, nf)
        _, lk = _spectrum_db(hk, n, fs, nf)
        pos = f > 0
        s1 = fractional_octave_smooth(f[pos], l1[pos], fraction=smoothing)
        sk = fractional_octave_smooth(f[pos], lk[pos], fraction=smoothing)
        lf = np.log(f[pos])
        h1 = np.interp(np.log(grid), lf, s1)
        hkk = np.interp(np.log(k * grid), lf, sk)
        ok = k * grid <= 0.45 * fs
        d = np.where(ok, hkk - h1, np.nan)
        out[k] = d
        power_sum += np.where(ok, 10.0 ** (d / 10.0), 0.0)
        # THD is reported where every harmonic used is below 0.45·fs
        valid_all &= ok
        if h1_ref is None:
            h1_ref = h1
    if not out:
        raise SignalError("the harmonic IRs are too short (< 32 samples) to analyse; use a longer sweep")
    # the pass band of the fundamental: octave-smoothed (power mean over +-1/2 octave of the grid)
    half = max(points_per_octave // 2, 1)
    p1 = 10.0 ** (h1_ref / 10.0)
    p1_oct = np.convolve(np.pad(p1, half, mode="edge"), np.ones(2 * half + 1) / (2 * half + 1), mode="valid")
    p1_db = 10.0 * np.log10(np.maximum(p1_oct, 1e-30))
    lo_pb, hi_pb = passband_from_bands_hz(grid, p1_db)
    if is_band_limited((lo_pb, hi_pb)):
        # a subwoofer: judged where it is used, within 10 dB of its level (its top octave is a
        # roll-off that a crossover cuts, and noise over a fundamental 10-20 dB down reads as
        # "1.4 % THD at 569 Hz" on a linear simulated sub)
        lo_pb, hi_pb = passband_from_bands_hz(grid, p1_db, below_max_db=SUB_BELOW_MAX_DB)
    in_band = (grid >= lo_pb / 1.001) & (grid <= hi_pb * 1.001)
    out = {k: np.where(in_band, d, np.nan) for k, d in out.items()}
    thd = np.where(valid_all & in_band, 100.0 * np.sqrt(power_sum), np.nan)
    return DistortionAnalysis(channel=ir.channel_names[idx], freqs_hz=grid, harmonics_db=out, thd_pct=thd)
