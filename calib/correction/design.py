"""``design_correction``: measured impulse responses -> CalibrationProfile + CorrectionReport.

Per speaker:

1. every seat's response, smoothed with a frequency-dependent resolution (fine at low
   frequencies, broad above, STANDARDS.md §7.3) on a log grid around the correction range;
2. deviation from the target shape at each seat's automatic target level;
3. conservative multi-seat combination (:mod:`calib.correction.multiseat`);
4. PEQ by :func:`calib.correction.peq.optimize_peq`: the correction decomposed into a smooth
   baseline and narrow cuts fitted together; where the baseline lies above the target (room
   gain) each mode is cut by its prominence above it and the baseline by wide filters of at
   most ``PeqSettings.broad_max_cut_db`` (3 dB), elsewhere the whole correction within the
   boost limit (the rule and its numbers are in that module's docstring); then shrunk where
   any seat's third-octave band would get worse by more than 1 dB;
5. optionally an FIR (complete correction, PEQ curve included) per sample rate, minimum or
   mixed phase (:mod:`calib.correction.fir`), limited in the same way;
6. exact prediction of every seat after correction (FFT of the IR times the filter response),
   reported as 1/6-octave RMS deviation from target before/after and the worst band change.

Across speakers: alignment at the main seat (:mod:`calib.correction.alignment`) and the
headroom preamp: ``preamp_db = −max(largest boost + trim)`` over speakers and frequencies, so
the corrected path cannot clip a full-scale input (a filter's peak magnitude response bounds
its steady-state gain).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import math
from dataclasses import dataclass, field, replace
from typing import Any, Sequence

import numpy as np
from scipy.signal import resample_poly

from calib.correction import _spectrum as sp
from calib.correction.alignment import Alignment, align_speakers
from calib.correction.fir import (RATES_HZ, CorrectionCurve, FirDesign, band_limit_db, design_fir, range_fade,
                                  taps_for_rate)
from calib.correction.multiseat import (band_regressions_db, combine_seats, limit_regressions, normalise_weights,
                                       shrink_bands)
from calib.correction.peq import PeqSettings, biquad_response_db, optimize_peq, peq_response_db
from calib.correction.targets import Target, auto_level_db
from calib.errors import ConfigError, SignalError
from calib.profile import Biquad, CalibrationProfile, SpeakerCorrection
from calib.types import ImpulseResponse

__all__ = ["CorrectionSettings", "SeatResult", "SpeakerReport", "CorrectionReport", "design_correction"]


@dataclass(frozen=True)
class CorrectionSettings:
    """Everything that steers a design (stored in the profile's provenance).

    The default target is ``house`` (:data:`calib.correction.targets.HOUSE_CURVE`: +4 dB below
    120 Hz, the room gain a listener expects) with broad cuts of at most 3 dB
    (``PeqSettings.broad_max_cut_db``): on the demo room (``hardware.simulated.default_room``)
    the flat target cuts its 32 Hz mode (3 dB prominence) by 7.6 dB at Q 3.6 plus 3 dB broad,
    the house target by 4.6 dB at Q 6 plus 2.6 dB broad.  ``roomtruth correct`` and the demo
    use this default.  ``fir_taps`` 0 means PEQ only.  ``fir_max_cut_db`` bounds the FIR's deepest cut.
    ``design_fraction`` is the finest smoothing (1/N octave, below 100 Hz); it widens to 1/3
    octave at 10 kHz.  ``regression_limit_db`` is the most any seat may get worse in a
    third-octave band of the range.
    """

    target: Target = field(default_factory=lambda: Target("house"))
    peq: PeqSettings = field(default_factory=PeqSettings)
    fir_taps: int = 0
    fir_phase: str = "minimum"
    fir_max_cut_db: float = 20.0
    excess_max_hz: float = 150.0
    rates_hz: tuple[int, ...] = RATES_HZ
    seat_weights: tuple[float, ...] | None = None
    main_seat: int = 0
    align: bool = True
    regression_limit_db: float = 1.0
    design_fraction: float = 24.0
    name: str = "default"
    fir_band_limit_hz: float | None = None  # optional min-phase low-pass folded into the FIR
    fixed_peq: tuple[Biquad, ...] | None = None
    fix_polarity: bool = False  # invert speakers whose polarity is opposite to the main speaker's  # use these filters (e.g. imported from REW) instead of fitting

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target.to_dict(),
            "peq": {k: getattr(self.peq, k) for k in self.peq.__dataclass_fields__},
            "fir_taps": self.fir_taps, "fir_phase": self.fir_phase, "fir_max_cut_db": self.fir_max_cut_db,
            "excess_max_hz": self.excess_max_hz, "rates_hz": list(self.rates_hz),
            "seat_weights": None if self.seat_weights is None else list(self.seat_weights),
            "main_seat": self.main_seat, "align": self.align,
            "regression_limit_db": self.regression_limit_db, "design_fraction": self.design_fraction,
            "fir_band_limit_hz": self.fir_band_limit_hz, "fix_polarity": self.fix_polarity,
            "fixed_peq": None if self.fixed_peq is None else [b.to_dict() for b in self.fixed_peq],
        }


@dataclass(frozen=True)
class SeatResult:
    name: str
    weight: float
    rms_dev_before_db: float
    rms_dev_after_db: float
    worst_band_change_db: float  # positive: this seat got worse in some third-octave band
    worst_band_hz: float


@dataclass(frozen=True)
class SpeakerReport:
    name: str
    peq: tuple[Biquad, ...]
    seats: tuple[SeatResult, ...]
    freqs_hz: np.ndarray
    target_db: np.ndarray
    before_db: np.ndarray  # seat-weighted 1/6-octave response, at the target level
    after_db: np.ndarray
    max_gain_db: float
    fir: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CorrectionReport:
    speakers: tuple[SpeakerReport, ...]
    preamp_db: float
    alignment: Alignment | None
    warnings: tuple[str, ...]
    design_time_s: float = 0.0

    def to_json_dict(self) -> dict[str, Any]:
        def spk(s: SpeakerReport) -> dict[str, Any]:
            return {
                "name": s.name,
                "peq": [{"type": b.kind, "freq_hz": b.freq_hz, "gain_db": b.gain_db, "q": b.q} for b in s.peq],
                "seats": [{"name": r.name, "weight": r.weight, "rms_dev_before_db": r.rms_dev_before_db,
                           "rms_dev_after_db": r.rms_dev_after_db, "worst_band_change_db": r.worst_band_change_db,
                           "worst_band_hz": r.worst_band_hz} for r in s.seats],
                "predicted": {"freqs_hz": s.freqs_hz, "target_db": s.target_db,
                              "before_db": s.before_db, "after_db": s.after_db},
                "max_gain_db": s.max_gain_db,
                "fir": s.fir,
            }
        first = spk(self.speakers[0])
        return {
            "peq": first["peq"],
            "preamp_db": self.preamp_db,
            "seats": first["seats"],
            "predicted": first["predicted"],
            "speakers": [spk(s) for s in self.speakers],
            "alignment": None if self.alignment is None else self.alignment.to_dict(),
            "warnings": list(self.warnings),
            "design_time_s": self.design_time_s,
        }


def _software_version() -> str:
    try:
        from importlib.metadata import version

        return version("roomtruth")
    except Exception:  # pragma: no cover - not installed
        return "unknown"


def _check_seats(seats: Sequence[ImpulseResponse]) -> tuple[int, tuple[str, ...]]:
    if not seats:
        raise SignalError("no impulse responses given; pass at least one IR file or measurement folder")
    fs = seats[0].fs
    names = seats[0].channel_names
    for i, s in enumerate(seats[1:], start=2):
        if s.fs != fs:
            raise SignalError(f"seat 1 is at {fs} Hz but seat {i} at {s.fs} Hz; measure all seats at one rate")
        if s.channel_names != names:
            raise SignalError(f"seat {i} has speakers {list(s.channel_names)} but seat 1 has {list(names)}; "
                              "give every seat the same speakers")
    return fs, names


def _ir_sha(ir: ImpulseResponse) -> str:
    return hashlib.sha256(np.ascontiguousarray(ir.samples, dtype="<f8").tobytes()).hexdigest()


def _design_speaker(irs: list[np.ndarray], seat_names: list[str], w: np.ndarray, name: str, *, fs: int,
                    settings: CorrectionSettings, main: int) -> tuple[SpeakerReport, tuple[Biquad, ...], dict[int, FirDesign], list[str]]:
    tg = settings.target
    lo, hi = tg.lo_hz, tg.hi_hz
    if hi > 0.45 * fs:
        raise ConfigError(f"correction range top {hi} Hz is above 0.45·fs = {0.45 * fs:g} Hz")
    warnings: list[str] = []
    n_fft = max(1 << int(np.ceil(np.log2(max(len(h) for h in irs)))), 1 << 16)
    fb = np.fft.rfftfreq(n_fft, 1.0 / fs)
    P = np.array([np.abs(np.fft.rfft(h, n_fft)) ** 2 for h in irs])
    if np.any(P.max(axis=1) <= 0):
        raise SignalError(f"speaker {name}: an impulse response is all zeros")
    g = sp.log_grid_hz(max(lo / 2, fb[1] * 4), min(hi * 2, 0.45 * fs), points_per_octave=48)
    frac = (lambda x: sp.variable_fraction(x, fine=settings.design_fraction))
    S = np.array([10 * np.log10(np.maximum(sp.smooth_power_at(fb, p, g, frac), 1e-30)) for p in P])
    T = tg.curve_db(g)
    inr = (g >= lo) & (g <= hi)
    lvl = np.array([auto_level_db(s[inr], T[inr]) for s in S])
    dev = S - T - lvl[:, None]
    comb = combine_seats(dev, w)
    fade = range_fade(g, lo, hi)
    desired = comb.desired_db * fade

    # exact check (what the report shows): 1/6-octave smoothing of |H_seat|²·|C|² on the FFT bins
    limit = settings.regression_limit_db
    rg = sp.log_grid_hz(lo, hi, points_per_octave=48)
    Tr = tg.curve_db(rg)
    nb = int(np.searchsorted(fb, 2.0 * hi)) + 1  # bins the 1/6-octave windows of the range need
    before = np.array([10 * np.log10(np.maximum(sp.smooth_power_at(fb, p, rg, 6.0), 1e-30)) for p in P])

    def exact_worst(c_pow: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        aft = np.array([10 * np.log10(np.maximum(sp.smooth_power_at(fb[:nb], p[:nb] * c_pow[:nb], rg, 6.0), 1e-30))
                        for p in P])
        reg, cen = band_regressions_db(rg, before - Tr, aft - Tr, lo, hi)
        return np.nanmax(reg, axis=0), cen

    # ---- PEQ (runs at the design rate; redesigned per rate from f0/gain/Q by the engine)
    if settings.fixed_peq is not None:
        peq = list(settings.fixed_peq)
    else:
        peq = list(optimize_peq(g, comb.desired_db, comb.boost_allowed_db, fs=fs, settings=settings.peq, lo_hz=lo,
                                hi_hz=hi, fade=fade))
    for _ in range(80 if settings.fixed_peq is None else 0):  # no seat worse than the limit in any third-octave band
        if not peq:
            break
        pc = peq_response_db(peq, g, fs=fs)
        reg, centres = band_regressions_db(g, dev, dev + pc, lo, hi)
        worst = np.nanmax(reg, axis=0)
        if not np.any(worst > settings.regression_limit_db * 0.9):
            break
        fc = centres[int(np.nanargmax(worst))]
        contrib = [abs(float(biquad_response_db(b, np.array([fc]), fs=fs)[0])) for b in peq]
        j = int(np.argmax(contrib))
        b = peq[j]
        ng = round(b.gain_db * 0.8, 2)
        peq[j] = replace(b, gain_db=ng)
        peq = [b for b in peq if abs(b.gain_db) >= settings.peq.min_gain_db / 2]
    for _ in range(30 if settings.fixed_peq is None else 0):  # the same, checked exactly
        if not peq:
            break
        worst, centres = exact_worst(10 ** (peq_response_db(peq, fb[:nb], fs=fs) / 10))
        if not np.any(worst > limit):
            break
        fc = centres[int(np.nanargmax(worst))]
        j = int(np.argmax([abs(float(biquad_response_db(b, np.array([fc]), fs=fs)[0])) for b in peq]))
        peq[j] = replace(peq[j], gain_db=round(peq[j].gain_db * 0.85, 2))
        peq = [b for b in peq if abs(b.gain_db) >= settings.peq.min_gain_db / 2]
    peq_t = tuple(peq)

    # ---- FIR: the complete correction, per rate
    firs: dict[int, FirDesign] = {}
    fir_info: dict[str, Any] = {}
    if settings.fir_taps:
        cap = np.minimum(comb.boost_allowed_db, settings.peq.max_boost_db)
        c = np.clip(comb.desired_db, -settings.fir_max_cut_db, cap) * fade
        c = limit_regressions(g, dev, c, lo, hi, limit_db=limit)
        for _ in range(12):  # exact check on a minimum-phase realisation at the design rate
            chk = design_fir(CorrectionCurve(g, c).at, fs=fs, n_taps=settings.fir_taps)
            worst, centres = exact_worst(np.abs(np.fft.rfft(chk.taps, n_fft)) ** 2)
            if not np.any(worst > limit):
                break
            c = shrink_bands(g, c, centres[worst > limit], factor=0.85)
        curve = CorrectionCurve(g, c)
        for rate in sorted(set(settings.rates_hz) | {fs}):
            n = taps_for_rate(settings.fir_taps, design_fs=fs, fs=rate)
            main_ir = None
            if settings.fir_phase == "mixed":
                main_ir = irs[main] if rate == fs else resample_poly(irs[main], rate // math.gcd(rate, fs),
                                                                     fs // math.gcd(rate, fs))
            mag = curve.at
            if settings.fir_band_limit_hz:
                mag = (lambda f, r=rate: curve.at(f) + band_limit_db(f, f_limit_hz=settings.fir_band_limit_hz, fs=r))
            d = design_fir(mag, fs=rate, n_taps=n, phase=settings.fir_phase, main_ir=main_ir,
                           ir_fs=rate, excess_max_hz=settings.excess_max_hz, excess_min_hz=lo)
            # float32-exact taps: what the WAV file stores and the real-time path runs, so the
            # content hash of a saved and re-loaded profile is the same
            firs[rate] = replace(d, taps=d.taps.astype(np.float32).astype(np.float64))
        d = firs[fs]
        fir_info = {"taps": int(d.taps.size), "phase": d.phase, "delay_samples": d.delay_samples,
                    "latency_ms": 1e3 * d.delay_samples / fs, "pre_ringing_db": d.pre_ringing_db,
                    "filter_pre_ringing_db": d.filter_pre_ringing_db,
                    "excess_phase_max_hz": d.excess_max_hz, "rates_hz": sorted(firs)}
        if settings.fir_phase == "mixed" and d.excess_max_hz == 0.0:
            warnings.append(f"speaker {name}: no excess-phase correction kept the main seat's pre-ringing below -50 dB; "
                            "the FIR is minimum phase (delayed)")

    # ---- exact prediction per seat
    # headroom: the largest gain of whatever may run (the FIR at any rate, or the PEQ at a rate
    # without an FIR)
    dense = np.geomspace(1.0, 0.4999 * fs, 4096)
    max_gain = float(np.max(peq_response_db(peq_t, dense, fs=fs))) if peq_t else 0.0
    if firs:
        Cb = np.abs(np.fft.rfft(firs[fs].taps, n_fft)) ** 2
        max_gain = max([max_gain] + [float(20 * np.log10(np.abs(np.fft.rfft(d.taps, 1 << 16)).max()))
                                     for d in firs.values()])
    else:
        Cb = 10 ** (peq_response_db(peq_t, fb, fs=fs) / 10) if peq_t else np.ones_like(fb)
    after = np.array([10 * np.log10(np.maximum(sp.smooth_power_at(fb, p * Cb, rg, 6.0), 1e-30)) for p in P])
    reg, centres = band_regressions_db(rg, before - Tr, after - Tr, lo, hi)
    seats = []
    for i, sn in enumerate(seat_names):
        k = int(np.nanargmax(reg[i])) if np.any(np.isfinite(reg[i])) else 0
        seats.append(SeatResult(sn, float(w[i]), sp.rms_deviation_db(before[i], Tr), sp.rms_deviation_db(after[i], Tr),
                                float(reg[i, k]) if reg.size else 0.0, float(centres[k]) if centres.size else 0.0))
        if reg.size and reg[i, k] > settings.regression_limit_db:
            warnings.append(f"speaker {name}, seat {sn}: the {centres[k]:.0f} Hz third-octave band gets "
                            f"{reg[i, k]:.1f} dB worse")
    wavg_b = 10 * np.log10(np.sum(w[:, None] * 10 ** (before / 10), axis=0))
    wavg_a = 10 * np.log10(np.sum(w[:, None] * 10 ** (after / 10), axis=0))
    lb = auto_level_db(wavg_b, Tr)
    la = auto_level_db(wavg_a, Tr)
    rep = SpeakerReport(name, peq_t, tuple(seats), rg, Tr, wavg_b - lb, wavg_a - la, max_gain, fir_info)
    return rep, peq_t, firs, warnings


def design_correction(seats: Sequence[ImpulseResponse], settings: CorrectionSettings | None = None, *,
                      seat_names: Sequence[str] | None = None,
                      sources: Sequence[str] | None = None) -> tuple[CalibrationProfile, CorrectionReport]:
    """Design the room correction of every speaker from one IR set per seat.

    Parameters
    ----------
    seats : sequence of ImpulseResponse
        One per seat (mic position), each holding the same speakers (channels) at one rate.
        The main seat (``settings.main_seat``) provides alignment and the reference IRs.
    settings : CorrectionSettings
    seat_names : sequence of str, optional
        Names of the seats for the report (default ``seat1``, ``seat2``, ...).
    sources : sequence of str, optional
        Where each seat came from (file or folder), recorded in the provenance.

    Returns
    -------
    (CalibrationProfile, CorrectionReport)

    Raises
    ------
    SignalError
        No seats, different rates or speakers, all-zero IRs.
    ConfigError
        Invalid settings (range above 0.45·fs, bad weights, main seat out of range, FIR length).
    """
    import time

    t0 = time.perf_counter()
    st = settings or CorrectionSettings()
    fs, names = _check_seats(seats)
    n_seats = len(seats)
    if not (0 <= st.main_seat < n_seats):
        raise ConfigError(f"main seat {st.main_seat + 1} does not exist; there are {n_seats} seats")
    w = normalise_weights(st.seat_weights, n_seats)
    snames = list(seat_names) if seat_names else [f"seat{i + 1}" for i in range(n_seats)]
    if len(snames) != n_seats:
        raise ConfigError(f"{len(snames)} seat names for {n_seats} seats")
    reports, warnings, corrections = [], [], []
    peqs: dict[str, tuple[Biquad, ...]] = {}
    firs_all: dict[str, dict[int, FirDesign]] = {}
    for ch, name in enumerate(names):
        rep, peq, firs, warn = _design_speaker([s.samples[ch] for s in seats], snames, w, name, fs=fs,
                                               settings=st, main=st.main_seat)
        reports.append(rep)
        warnings += warn
        peqs[name] = peq
        firs_all[name] = firs
    if n_seats == 1 and any(b.gain_db > 0 for r in reports for b in r.peq):
        warnings.append("one seat only: the boosts could not be checked against dips that move between "
                        "seats; measure three or more positions for a safer design")
    main = seats[st.main_seat]
    alignment = None
    if st.align and len(names) > 1:
        alignment = align_speakers(main.samples, names, fs=fs)
        warnings += list(alignment.warnings)
    trims = alignment.trim_db if alignment else tuple(0.0 for _ in names)
    delays = alignment.delay_s if alignment else tuple(0.0 for _ in names)
    peak = max(r.max_gain_db + t for r, t in zip(reports, trims))
    preamp = -math.ceil(max(peak, 0.0) * 10) / 10  # round the headroom up to 0.1 dB
    preamp = 0.0 if preamp == 0 else preamp
    pols = [1] * len(names)
    if st.fix_polarity and alignment is not None:
        pols = [1 if p == alignment.polarity[0] else -1 for p in alignment.polarity]
    for ch, name in enumerate(names):
        corrections.append(SpeakerCorrection(
            name=name, output_channel=ch, trim_db=round(float(trims[ch]), 3), delay_s=float(delays[ch]),
            polarity=pols[ch], peq=peqs[name], fir={r: d.taps for r, d in firs_all[name].items()}))
        # (the taps are already float32-exact: the profile stores them as 32-bit float WAV)
    provenance = {
        "software": "roomtruth", "software_version": _software_version(),
        "created_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "measurements": [{"seat": sn, "source": (sources[i] if sources else ""), "source_id": s.source_id,
                          "fs": s.fs, "sha256": _ir_sha(s)} for i, (sn, s) in enumerate(zip(snames, seats))],
        "settings": st.to_dict(),
    }
    ref = ImpulseResponse(samples=main.samples, fs=fs, channel_names=names, onset_samples=main.onset_samples,
                          arrival_samples=main.arrival_samples, latency_samples=main.latency_samples,
                          snr_db=main.snr_db, source_id=main.source_id,
                          meta={"seat": snames[st.main_seat]})
    profile = CalibrationProfile(
        name=st.name, speakers=tuple(corrections), preamp_db=preamp, design_fs=fs,
        target={**st.target.to_dict()},
        # ``tolerances`` is read by verification only (overrides of monitor's tolerance tables);
        # the designer's own limits (regression_limit_db, ...) live in provenance["settings"].
        tolerances={},
        reference=ref, provenance=provenance)
    report = CorrectionReport(tuple(reports), preamp, alignment, tuple(warnings), time.perf_counter() - t0)
    return profile, report
