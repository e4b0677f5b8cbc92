"""Smaller parts of ``monitor.verify``: the baseline's stored uncertainty, the sweep-gain
normalisation of SNR, the air-temperature compensation of arrival times and the monitor-path
checks."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from calib.types import ImpulseResponse
from calib.verification_types import CheckResult
from monitor import verify_signal as vs


@dataclass(frozen=True)
class MonitorPathState:
    """What the monitor engine reports about the filters in the path.

    Parameters
    ----------
    running_hash : str or None
        ``content_hash()`` of the profile the engine is running; None when no engine was probed.
    bypass_exact : bool or None
        True when the engine's bypass output equals its input bit for bit; None when untested.
    source : str
        Where this came from (``"engine render"``, ``"live engine"``...), for the report.
    """

    running_hash: str | None = None
    bypass_exact: bool | None = None
    source: str = ""


def _ref_band_u(stored: Any, name: str, band: int, n_bands: int, ref_meta: Mapping[str, Any]) -> float | None:
    """Standard uncertainty of the baseline's level in one band: its stored sweep-to-sweep
    repeatability ``s`` (dB; per speaker mapping, or one list, or one number) over √(repeats
    averaged into the baseline).  None when the baseline stores none (then assumed equal to
    the new measurement's)."""
    if isinstance(stored, Mapping):
        stored = stored.get(name)
    if stored is None:
        return None
    try:
        arr = np.atleast_1d(np.asarray(stored, dtype=float))
    except (TypeError, ValueError):
        return None
    if arr.size == 0:
        return None
    s_b = float(arr[band]) if arr.size == n_bands else float(np.nanmedian(arr))
    if not math.isfinite(s_b):
        return None
    try:
        n_ref = max(int(ref_meta.get("repeats", 1) or 1), 1)
    except (TypeError, ValueError):
        n_ref = 1
    return s_b / math.sqrt(n_ref)


def _sweep_gain_db(ir: ImpulseResponse) -> float:
    """``10·lg(T_sweep / 1 s) + level_dbfs + 10·lg(repeats)`` from the IR's measurement
    metadata (NaN if unknown): the SNR gain of a longer or louder sweep, and of ``repeats``
    sweeps averaged into one IR (3 dB per doubling, Müller & Massarani 2001)."""
    meta = dict(ir.meta or {})
    sweep = meta.get("sweep") if isinstance(meta.get("sweep"), Mapping) else {}
    dur = sweep.get("duration_s")
    level = meta.get("level_dbfs", sweep.get("level_dbfs"))
    try:
        dur_f, level_f = float(dur), float(level)
    except (TypeError, ValueError):
        return math.nan
    if not (dur_f > 0 and math.isfinite(level_f)):
        return math.nan
    try:
        n_avg = max(int(meta.get("repeats", 1) or 1), 1)
    except (TypeError, ValueError):
        n_avg = 1
    return 10.0 * math.log10(dur_f) + level_f + 10.0 * math.log10(n_avg)


def _path_s(reference: ImpulseResponse) -> np.ndarray:
    """Baseline propagation times (s) from the IR's timing, NaN where unknown."""
    arr = reference.arrival_samples
    if len(arr) != reference.n_channels:
        return np.full(reference.n_channels, np.nan)
    return (np.asarray(arr, dtype=float) - reference.onset_samples) / reference.fs


def _temperature_alpha(delta_k: float, t: Mapping[str, Any]) -> float:
    return -delta_k / (2.0 * (273.15 + t["air_c"]))


def _temperature_check(reference: ImpulseResponse, d_mean: np.ndarray, t: Mapping[str, Any],
                       names: Sequence[str]) -> CheckResult:
    """Are all arrival changes one change of the speed of sound?  ``pass`` (compensated) only
    when the fit leaves every speaker within ``max_residual_s`` and the change is plausible."""
    path = _path_s(reference)
    if len(names) < 2 or not np.all(path > 0.0005):
        return CheckResult("temperature", "", math.nan, t["max_change_k"], "K", "skip",
                           message="arrival times not compensated for air temperature (needs two or more "
                                   "speakers with known propagation times)")
    delta_k, resid = vs.temperature_fit(d_mean, path, air_c=t["air_c"])
    worst = float(np.max(np.abs(resid)))
    if abs(delta_k) <= t["max_change_k"] and worst <= t["max_residual_s"] and np.any(np.abs(d_mean) > 0):
        msg = (f"arrival times all scaled as by air {abs(delta_k):.1f} K "
               f"{'warmer' if delta_k > 0 else 'cooler'} than at the baseline; compensated")
        if abs(delta_k) < 0.05:
            msg = "arrival times agree with the baseline (air temperature unchanged)"
        return CheckResult("temperature", "", delta_k, t["max_change_k"], "K", "pass", message=msg)
    return CheckResult("temperature", "", delta_k, t["max_change_k"], "K", "skip",
                       message=f"arrival changes are not one change of air temperature (best fit {delta_k:+.1f} K "
                               f"leaves {worst * 1e6:.0f} us); judged as measured")


def _monitor_checks(monitor: MonitorPathState | None, profile_hash: str) -> list[CheckResult]:
    out = []
    if monitor is None or monitor.running_hash is None:
        out.append(CheckResult("monitor_hash", "", math.nan, math.nan, "", "skip",
                               message="monitor engine not probed: the filters in the path were not checked"))
    elif monitor.running_hash == profile_hash:
        out.append(CheckResult("monitor_hash", "", 1.0, 1.0, "", "pass",
                               message=f"running filters are the certified profile ({profile_hash[:12]})"))
    elif monitor.running_hash == "bypass":
        out.append(CheckResult("monitor_hash", "", 0.0, 1.0, "", "fail",
                               message="the monitor engine is in bypass: the speakers get no correction; switch "
                                       f"to the certified profile ({profile_hash[:12]})"))
    else:
        out.append(CheckResult("monitor_hash", "", 0.0, 1.0, "", "fail",
                               message=f"running filters ({monitor.running_hash[:12]}) are not the certified profile "
                                       f"({profile_hash[:12]}); load the certified profile in the monitor engine"))
    if monitor is None or monitor.bypass_exact is None:
        out.append(CheckResult("monitor_bypass", "", math.nan, math.nan, "", "skip", message="bypass not tested"))
    else:
        ok = bool(monitor.bypass_exact)
        out.append(CheckResult("monitor_bypass", "", 1.0 if ok else 0.0, 1.0, "", "pass" if ok else "fail",
                               message="bypass is bit-exact" if ok else "bypass changes the signal; it must be bit-exact"))
    return out


# ---------------------------------------------------------------- rehearsal drifts
#: Q of an RBJ peaking filter whose -3 dB-of-the-midpoint bandwidth is one third of an octave:
#: Q = sqrt(2^N) / (2^N - 1) with N = 1/3 (STANDARDS.md 7.1, RBJ bandwidth in octaves).
THIRD_OCTAVE_Q = math.sqrt(2.0 ** (1.0 / 3.0)) / (2.0 ** (1.0 / 3.0) - 1.0)

_DRIFT_FORMS = ("level:SPEAKER:DB", "delay:SPEAKER:MS", "polarity:SPEAKER", "band:SPEAKER:HZ:DB")


@dataclass(frozen=True)
class Drift:
    """One change applied to a rehearsal room (``roomtruth verify --drift``).

    ``kind`` is ``level`` (``value`` dB), ``delay`` (``value`` ms, later when positive),
    ``polarity`` (sign flip) or ``band`` (a one-third-octave peaking change of ``value`` dB at
    ``freq_hz``).  ``speaker`` is a speaker name or ``"all"``.
    """

    kind: str
    speaker: str
    value: float = 0.0
    freq_hz: float = math.nan


def parse_drift(text: str) -> Drift:
    """Parse ``level:L:+0.5``, ``delay:R:0.1``, ``polarity:R`` or ``band:L:1000:+2``.

    Raises
    ------
    ConfigError
        Unknown kind, wrong field count, a number that is not finite or out of range.
    """
    from calib.errors import ConfigError

    parts = [p.strip() for p in str(text).split(":")]
    forms = ", ".join(_DRIFT_FORMS)
    n_need = {"level": 3, "delay": 3, "polarity": 2, "band": 4}
    kind = parts[0].lower() if parts else ""
    if kind not in n_need or len(parts) != n_need[kind] or not parts[1]:
        raise ConfigError(f"--drift {text!r} is not understood; use one of {forms} (SPEAKER may be 'all')")

    def num(s: str, what: str, lo: float, hi: float) -> float:
        try:
            v = float(s)
        except ValueError:
            v = math.nan
        if not (math.isfinite(v) and lo <= v <= hi):
            raise ConfigError(f"--drift {text!r}: {what} {s!r} must be a number in {lo:g}..{hi:g}")
        return v

    if kind == "level":
        return Drift("level", parts[1], num(parts[2], "level change (dB)", -20.0, 20.0))
    if kind == "delay":
        return Drift("delay", parts[1], num(parts[2], "delay change (ms)", -3.0, 10.0))
    if kind == "polarity":
        return Drift("polarity", parts[1])
    return Drift("band", parts[1], num(parts[3], "band change (dB)", -12.0, 12.0),
                 num(parts[2], "band centre (Hz)", 20.0, 24_000.0))


def apply_drifts(samples: np.ndarray, names: Sequence[str], drifts: Sequence[Drift], *, fs: int) -> np.ndarray:
    """A copy of the room IRs ``samples`` (n_speakers, n) with ``drifts`` applied, in order.

    Level: ×10^(dB/20).  Delay: a linear phase ``exp(-j2πfτ)`` on an FFT twice the IR's length
    (sub-sample exact; an advance drops the IR's first samples, so keep it shorter than
    the IR's leading silence).  Polarity: ×(−1).  Band: an RBJ peaking biquad of Q :data:`THIRD_OCTAVE_Q`.

    Raises
    ------
    ConfigError
        A speaker name that is not in ``names``, or a band above 0.45·fs.
    """
    from scipy import signal

    from calib.errors import ConfigError
    from calib.profile import Biquad

    out = np.array(samples, dtype=np.float64, copy=True)
    n = out.shape[1]
    for d in drifts:
        if d.speaker.lower() == "all":
            rows = list(range(out.shape[0]))
        elif d.speaker in names:
            rows = [list(names).index(d.speaker)]
        else:
            raise ConfigError(f"--drift names speaker {d.speaker!r}, but the profile's speakers are "
                              f"{', '.join(names)}; use one of them or 'all'")
        for r in rows:
            if d.kind == "level":
                out[r] *= 10.0 ** (d.value / 20.0)
            elif d.kind == "polarity":
                out[r] = -out[r]
            elif d.kind == "delay":
                m = 1 << (2 * n - 1).bit_length()
                f = np.fft.rfftfreq(m, 1.0 / fs)
                y = np.fft.irfft(np.fft.rfft(out[r], m) * np.exp(-2j * np.pi * f * d.value * 1e-3), m)
                out[r] = y[:n]  # an advance moves the leading samples past n, where they are cut
            else:
                if d.freq_hz >= 0.45 * fs:
                    raise ConfigError(f"--drift band at {d.freq_hz:g} Hz is above 0.45 x {fs} Hz; "
                                      "choose a band below it")
                sos = Biquad(kind="peaking", freq_hz=d.freq_hz, gain_db=d.value, q=THIRD_OCTAVE_Q).sos(fs=fs)
                out[r] = signal.sosfilt(np.atleast_2d(sos), out[r])
    return out


# ---------------------------------------------------------------- absolute pair matching (Tech 3343)
_FRONT_PAIRS = ({"l", "r"}, {"fl", "fr"}, {"left", "right"})


def correction_power_db(speaker: Any, f_hz: np.ndarray, *, fs: int) -> np.ndarray:
    """``20·lg|C(f)|`` of one speaker's correction as the monitor engine runs it (dB).

    Trim, then the FIR at ``fs`` when the profile has one (it already contains the PEQ), else
    the PEQ biquads (RBJ, ``Biquad.sos``).  Polarity and delay change no magnitude; the
    profile's preamp is common to every speaker and left out.
    """
    from scipy import signal

    w = 2.0 * np.pi * np.asarray(f_hz, dtype=float) / fs
    out = np.full(w.shape, float(speaker.trim_db))
    fir = dict(speaker.fir).get(int(fs))
    if fir is not None:
        _, h = signal.freqz(np.asarray(fir, dtype=np.float64), worN=w)
        return out + 20.0 * np.log10(np.maximum(np.abs(h), 1e-15))
    for b in speaker.peq:
        _, h = signal.sosfreqz(np.atleast_2d(b.sos(fs=fs)), worN=w)
        out = out + 20.0 * np.log10(np.maximum(np.abs(h), 1e-15))
    return out


def pair_level_checks(profile: Any, repeats: Sequence[ImpulseResponse], t: Mapping[str, Any], *,
                      k: float, floor_db: float, is_sub: Any) -> list[CheckResult]:
    """Absolute level matching of the corrected mains, warn-level (EBU Tech 3343 [V]).

    Per main speaker: the new IR times its correction, power-averaged over the third-octave
    bands ``band_lo_hz..band_hi_hz`` (500-2000 Hz: the band-limited pink noise of the Tech 3343
    alignment; pink noise carries equal power per third octave, so the band powers are
    averaged with equal weight).  Every pair of mains: the level difference (dB), its expanded
    uncertainty ``k·s/√N`` over the repeats (at least ``floor_db·√2``), and ``warn`` when
    ``|difference| − U`` reaches the limit: ``front_pair_db`` (< 0.5 dB) for the front pair
    (L/R), ``any_pair_db`` (≤ 1 dB) for any other.  Never ``fail``: the baseline drift checks
    judge the room; this says how far the calibrated room itself is from the standard.
    """
    from calib.analysis.bands import band_levels_from_arrays_db
    from calib.analysis.bands import third_octave_centres_hz

    names = [s.name for s in profile.speakers if not is_sub(s.name)]
    if len(names) < 2:
        return []
    fs = repeats[0].fs
    centres = third_octave_centres_hz(t["band_lo_hz"], t["band_hi_hz"])
    lv = np.zeros((len(repeats), len(names)))
    for r, rep in enumerate(repeats):
        x = np.stack([rep.samples[list(rep.channel_names).index(n)] for n in names])
        m = vs._next_pow2(2 * x.shape[1])
        f = np.fft.rfftfreq(m, 1.0 / fs)[1:]
        p_db = 10.0 * np.log10(np.maximum(np.abs(np.fft.rfft(x, n=m, axis=-1)[:, 1:]) ** 2, 1e-30))
        spk = {s.name: s for s in profile.speakers}
        p_db = p_db + np.stack([correction_power_db(spk[n], f, fs=fs) for n in names])
        bands = band_levels_from_arrays_db(f, p_db, centres, fraction=3)
        lv[r] = 10.0 * np.log10(np.mean(10.0 ** (bands / 10.0), axis=1))
    out = []
    for a in range(len(names)):
        for b in range(a + 1, len(names)):
            d = lv[:, a] - lv[:, b]
            v = float(d.mean())
            s = float(np.std(d, ddof=1)) / math.sqrt(d.size) if d.size > 1 else 0.0
            U = max(k * s, floor_db * math.sqrt(2.0))
            front = {names[a].lower(), names[b].lower()} in _FRONT_PAIRS
            lim = t["front_pair_db"] if front else t["any_pair_db"]
            bad = abs(v) - U >= lim if front else abs(v) - U > lim
            what = "front pair" if front else "pair"
            rel = "<" if front else "≤"
            out.append(CheckResult(
                "pair_level", f"{names[a]}-{names[b]}", v, lim, "dB", "warn" if bad else "pass", U,
                message=(f"corrected {what} {names[a]}-{names[b]} differs by {v:+.2f} dB (±{U:.2f} dB) at "
                         f"{t['band_lo_hz']:g}-{t['band_hi_hz']:g} Hz; EBU Tech 3343 asks {rel} {lim:g} dB"
                         + ("; re-align the speaker trims" if bad else ""))))
    return out
