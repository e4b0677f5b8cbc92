"""Compact cassette translation and what to change before duplication (STANDARDS.md §6).

Level mapping: digital ``DOLBY_LEVEL_DBFS`` (-12 dBFS) is recorded at Dolby level, 200 nWb/m,
which is 20 lg(200/250) = -1.94 dB re the IEC reference fluxivity 250 nWb/m; so a band at
``L`` dBFS goes to tape at ``L + 12 - 1.94`` dB re 250 nWb/m.  [U: a common mapping; the
duplicator's own must be used when known.]

Headroom: the tape's maximum output level rises from SOL at 10 kHz (HF saturation) to MOL at
315 Hz (3 % THD); between 1 kHz and 10 kHz it is interpolated on log frequency and above 10 kHz
it keeps falling by ``SOL_SLOPE_DB_PER_OCT``.  Typical values per type are in ``TAPE`` (the
middle of STANDARDS.md §6.2's ranges, [U]).  The mix's *short-term* band levels (95th
percentile over 100 ms frames) are compared with that limit.

Playback response: IEC 60094 playback equalisation is 3180 µs + 120 µs (Type I) or 70 µs
(Type II); the net record/replay response of a good deck at -20 dB re Dolby level is modelled
as a 2nd-order roll-off at ``hf_corner_hz`` (Type I about 14 kHz, Type II about 16 kHz, [S/U]).

Dolby B (approximation of the sliding-band compander): low-level high frequencies are raised
on tape by up to 10 dB, starting around 500 Hz and complete from 4 kHz, for signals 40 dB or
more below Dolby level, fading to no boost at Dolby level; decoding restores them.  A record-
level calibration error of ``e`` dB mistracks the low-level HF by about ``e`` dB.

Azimuth: a head tilt delays one track by ``tau``; the mono sum is then ``|cos(pi f tau)|``,
-3 dB at ``1/(4 tau)`` (25 µs -> 10 kHz).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.fft

from calib.errors import SignalError
from mixes.ltas import band_centres_hz

__all__ = [
    "TAPE", "TapeType", "playback_eq_turnover_hz", "tape_limit_db", "dolby_b_boost_db",
    "azimuth_mono_loss_db", "azimuth_minus3db_hz", "band_level_percentiles", "CassetteReport", "cassette_check",
]

DOLBY_LEVEL_DBFS = -12.0
DOLBY_RE_IEC_DB = 20 * math.log10(200 / 250)       # -1.94 dB
SOL_SLOPE_DB_PER_OCT = 4.0


@dataclass(frozen=True)
class TapeType:
    name: str
    tau_hf_s: float
    mol315_db: float     # re 250 nWb/m
    sol10k_db: float     # re 250 nWb/m
    hf_corner_hz: float


TAPE = {
    "I": TapeType("IEC Type I (normal, ferric)", 120e-6, 3.5, -7.5, 14_000.0),
    "II": TapeType("IEC Type II (chrome / high bias)", 70e-6, 2.5, -4.0, 16_000.0),
}
TAU_LF_S = 3180e-6


def playback_eq_turnover_hz(tau_s: float) -> float:
    """f = 1/(2 pi tau): 3180 µs -> 50.0 Hz, 120 µs -> 1326 Hz, 70 µs -> 2274 Hz."""
    if tau_s <= 0:
        raise SignalError(f"time constant {tau_s} s must be positive")
    return 1.0 / (2.0 * math.pi * tau_s)


def tape_limit_db(freqs_hz: np.ndarray, tape: TapeType) -> np.ndarray:
    """Maximum tape level (dB re 250 nWb/m) per frequency: MOL up to 1 kHz, SOL10k at 10 kHz."""
    f = np.asarray(freqs_hz, dtype=np.float64)
    lo, hi = math.log(1000.0), math.log(10_000.0)
    t = np.clip((np.log(f) - lo) / (hi - lo), 0, 1)
    lim = tape.mol315_db + t * (tape.sol10k_db - tape.mol315_db)
    above = f > 10_000
    lim[above] = tape.sol10k_db - SOL_SLOPE_DB_PER_OCT * np.log2(f[above] / 10_000)
    return lim


def dolby_b_boost_db(freqs_hz: np.ndarray, level_re_dolby_db: float) -> np.ndarray:
    """Approximate Dolby B encode boost (dB) for a signal at ``level_re_dolby_db``."""
    f = np.asarray(freqs_hz, dtype=np.float64)
    hf = np.clip((np.log(f) - math.log(500.0)) / (math.log(4000.0) - math.log(500.0)), 0, 1)
    hf = 0.5 - 0.5 * np.cos(np.pi * hf)
    lvl = float(np.clip(-level_re_dolby_db / 40.0, 0.0, 1.0))
    return 10.0 * hf * lvl


def azimuth_mono_loss_db(freqs_hz: np.ndarray, tau_s: float) -> np.ndarray:
    """Mono-sum loss 20 lg|cos(pi f tau)| (dB) for an inter-track delay ``tau_s``."""
    with np.errstate(divide="ignore"):
        return 20 * np.log10(np.abs(np.cos(np.pi * np.asarray(freqs_hz, dtype=np.float64) * tau_s)))


def azimuth_minus3db_hz(tau_s: float) -> float:
    """Frequency where the mono sum is 3 dB down: 1/(4 tau)."""
    return 1.0 / (4.0 * tau_s)


def band_level_percentiles(x: np.ndarray, *, fs: int, percentiles=(10.0, 95.0), frame_s: float = 0.1,
                           max_frames: int = 3000) -> tuple[np.ndarray, np.ndarray]:
    """Third-octave band levels (dBFS, mean-square per band, channels averaged) per 100 ms
    frame, reduced to the given percentiles over time.

    Returns
    -------
    freqs_hz : ndarray (n_bands,)
    levels_db : ndarray (len(percentiles), n_bands)
    """
    arr = np.asarray(x)
    if arr.ndim == 1:
        arr = arr[np.newaxis, :]
    n = int(frame_s * fs)
    n_frames = arr.shape[1] // n
    if n_frames < 1:
        raise SignalError(f"the programme is shorter than one {frame_s * 1000:.0f} ms frame")
    step = max(1, n_frames // max_frames)
    frames = arr[:, : n_frames * n].reshape(arr.shape[0], n_frames, n)[:, ::step].astype(np.float64)
    w = np.hanning(n)
    spec = np.abs(scipy.fft.rfft(frames * w, axis=-1)) ** 2
    spec = spec.mean(axis=0) / (n * np.sum(w * w))          # (frames, bins), mean square per bin
    spec[:, 1:-1] *= 2
    f = np.fft.rfftfreq(n, 1 / fs)
    fc = band_centres_hz(3, f_lo_hz=25.0, f_hi_hz=min(20_000.0, 0.45 * fs))
    edges = np.searchsorted(f, np.concatenate([fc * 10 ** -0.05, [fc[-1] * 10 ** 0.05]]))
    bands = np.add.reduceat(spec, np.minimum(edges[:-1], spec.shape[1] - 1), axis=1)
    empty = edges[1:] <= edges[:-1]
    bands[:, empty] = np.nan
    with np.errstate(divide="ignore", invalid="ignore"):
        lv = 10 * np.log10(np.maximum(bands, 1e-20))
    lv = np.where(np.isnan(lv), -200.0, lv)                  # bands narrower than a bin: no data
    return fc, np.percentile(lv, list(percentiles), axis=0)


@dataclass(frozen=True)
class CassetteReport:
    tape: str
    playback_eq: str
    freqs_hz: np.ndarray
    loud_level_re_iec_db: np.ndarray
    limit_re_iec_db: np.ndarray
    margin_db: np.ndarray
    worst_margin_db: float
    worst_band_hz: float
    record_trim_db: float
    dolby_b_margin_db: float
    azimuth: dict
    response_db: np.ndarray
    advice: tuple[str, ...]

    def to_dict(self) -> dict:
        r = lambda a: [round(float(v), 2) for v in a]  # noqa: E731
        return {"tape": self.tape, "playback_eq": self.playback_eq, "freqs_hz": r(self.freqs_hz),
                "loud_level_re_250nwb_db": r(self.loud_level_re_iec_db), "limit_re_250nwb_db": r(self.limit_re_iec_db),
                "margin_db": r(self.margin_db), "worst_margin_db": round(self.worst_margin_db, 2),
                "worst_band_hz": round(self.worst_band_hz, 1), "record_trim_db": round(self.record_trim_db, 2),
                "dolby_b_margin_db": round(self.dolby_b_margin_db, 2), "azimuth": self.azimuth,
                "record_play_response_db": r(self.response_db), "advice": list(self.advice)}


def cassette_check(x: np.ndarray, *, fs: int, tape_type: str = "I", headroom_db: float = 1.5,
                   azimuth_tau_s: float = 20e-6) -> CassetteReport:
    """Predict how a master fares on cassette and what to change before duplication.

    Parameters
    ----------
    x : ndarray (n_channels, n_samples)
    fs : int
        Sample rate (Hz), keyword-only.
    tape_type : {"I", "II"}
    headroom_db : float
        Margin to keep below MOL/SOL on peaks (STANDARDS.md §6.4: 1-2 dB).
    azimuth_tau_s : float
        Inter-track delay to simulate (5-30 µs typical).

    Raises
    ------
    SignalError
        Unknown tape type, bad parameters, too short programme.
    """
    key = str(tape_type).upper()
    if key not in TAPE:
        raise SignalError(f"tape type {tape_type!r} is not I or II")
    if not (0 < azimuth_tau_s <= 200e-6):
        raise SignalError(f"azimuth delay {azimuth_tau_s * 1e6:g} µs is outside 0..200 µs")
    tape = TAPE[key]
    fc, (quiet, loud) = band_level_percentiles(x, fs=fs, percentiles=(10.0, 95.0))
    to_tape = -DOLBY_LEVEL_DBFS + DOLBY_RE_IEC_DB
    loud_t = loud + to_tape
    limit = tape_limit_db(fc, tape) - headroom_db
    margin = limit - loud_t
    ok = np.isfinite(margin)
    k = int(np.nanargmin(np.where(ok, margin, np.inf)))
    worst = float(margin[k])
    trim = min(0.0, worst)
    # Dolby B: the quiet passages' HF is raised; check it stays below the limit too
    dolby_level = quiet + to_tape - DOLBY_RE_IEC_DB          # re Dolby level
    boost = np.array([dolby_b_boost_db(np.array([f]), float(l))[0] if np.isfinite(l) else 0.0
                      for f, l in zip(fc, dolby_level)])
    db_margin = float(np.nanmin(limit - (quiet + to_tape + boost)))
    resp = -10 * np.log10(1 + (fc / tape.hf_corner_hz) ** 4)
    tau = azimuth_tau_s
    az = {"tau_us": round(tau * 1e6, 1), "mono_minus3db_hz": round(azimuth_minus3db_hz(tau), 1),
          "mono_loss_at_10k_db": round(float(azimuth_mono_loss_db(np.array([10_000.0]), tau)[0]), 2)}
    advice = []
    hf = fc >= 4000
    if worst < 0:
        where = "high frequencies" if fc[k] >= 4000 else ("low frequencies" if fc[k] < 200 else "mid range")
        advice.append(f"peaks in the {fc[k]:.0f} Hz band would reach {-worst:.1f} dB past the tape's limit "
                      f"({where}); record {-worst:.1f} dB lower, or tame that band before duplication")
        if np.any(margin[hf] < 0):
            bad = fc[hf][margin[hf] < 0]
            advice.append(f"HF saturates first on {tape.name}: de-ess / HF-limit {bad.min() / 1000:.1f}-"
                          f"{bad.max() / 1000:.1f} kHz by {-float(np.nanmin(margin[hf])):.1f} dB rather than "
                          "lowering the whole master")
    else:
        advice.append(f"peaks stay {worst:.1f} dB inside the tape's limit (with {headroom_db:g} dB kept in reserve)")
    if db_margin < 0:
        advice.append(f"with Dolby B the encoded quiet HF comes within {-db_margin:.1f} dB past the limit; "
                      "keep quiet passages' HF moderate or duplicate without NR")
    if key == "I":
        advice.append(f"Type I rolls off above about {tape.hf_corner_hz / 1000:.0f} kHz "
                      f"(playback EQ {TAU_LF_S * 1e6:.0f}+{tape.tau_hf_s * 1e6:.0f} µs, turnover "
                      f"{playback_eq_turnover_hz(tape.tau_hf_s):.0f} Hz): do not add air to compensate")
    low = fc < 40
    if np.any(low) and np.nanmax(loud[low]) > np.nanmax(loud) - 6:
        advice.append("strong content below 40 Hz: high-pass it, the cassette's LF response varies ±2 dB "
                      "with head contour")
    advice.append(f"an azimuth error of {tau * 1e6:.0f} µs makes the mono sum -3 dB at "
                  f"{azimuth_minus3db_hz(tau) / 1000:.1f} kHz: check the master's mono compatibility")
    advice.append("deliver an un-encoded, flat, 24-bit master; the duplicator applies Dolby B/C and the EQ")
    return CassetteReport(
        tape=tape.name, playback_eq=f"{TAU_LF_S * 1e6:.0f} µs + {tape.tau_hf_s * 1e6:.0f} µs",
        freqs_hz=fc, loud_level_re_iec_db=loud_t, limit_re_iec_db=limit, margin_db=margin,
        worst_margin_db=worst, worst_band_hz=float(fc[k]), record_trim_db=trim, dolby_b_margin_db=db_margin,
        azimuth=az, response_db=resp, advice=tuple(advice),
    )
