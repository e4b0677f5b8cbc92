"""Bass management: crossovers, routing, and sub-to-main alignment judged on the measured sum.

Design (METHODS.md §3)
----------------------
* **Crossover**: Linkwitz-Riley, 4th order by default (two cascaded 2nd-order Butterworth
  sections, Q = 1/sqrt(2), at the same frequency; LR2 = one section with Q = 1/2 and the
  high-pass inverted).  Default 80 Hz, settable per main speaker.  Each main gets the
  high-pass; the subs get the sum of every main input through that main's low-pass.
* **LFE**: routed to every sub with +10 dB in-band gain (``lfe_gain_db``) through its own LR4
  low-pass at ``lfe_lowpass_hz`` (120 Hz).
* **Several subs**: per-sub delay, gain, polarity and PEQ from :mod:`calib.correction.multisub`
  (seat-to-seat spread), then treated as one combined sub.
* **Corrections**: mains are corrected from the crossover up (``max(lo, fc)..hi``), the
  combined sub from ``lo`` to ``2 fc`` (the common correction); the subs' level is matched to
  the mains' (deviation from the target, main seat: mains over ``fc..4 fc``, sub over
  ``lo..fc``).
* **Alignment at the crossover**, from the *measured* IRs at the main seat: one sub delay (or,
  when the sub must come earlier, a delay of every main) and polarity chosen on a 0.05 ms grid
  (refined to 0.01 ms) so that the worst sixth-octave band of the coherent sum ``|Hm + Hs|^2``
  against the power sum ``|Hm|^2 + |Hs|^2`` over ``0.75 fc .. 1.375 fc`` (60-110 Hz at 80 Hz) is
  as high as possible over all mains; then, per main whose worst band is still more than 0.2 dB
  below the power sum, a 2nd-order all-pass (RBJ, on that main's path) searched over
  ``fc/2 .. 2 fc`` and Q 0.5..2.5.
* **Reports**: per seat and main, the worst sixth-octave deficit of the sum below the power
  sum (before: the plain crossover, no bass alignment; after: the design), and the summed
  response's 1/6-octave RMS deviation from the target over 40-200 Hz before (measured, plain
  crossover) and after (corrected), as for any speaker.

The mains' arrival and level alignment (every main arriving together at matched 500-2000 Hz
level) comes from :func:`calib.correction.alignment.align_speakers`; the levels are re-matched
on the corrected responses so the PEQ cannot move them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, Mapping, Sequence

import numpy as np

from calib.correction import _spectrum as sp
from calib.correction.alignment import arrival_s, band_level_db
from calib.correction.targets import auto_level_db
from calib.errors import ConfigError, SignalError
from calib.profile import Biquad, CalibrationProfile, SpeakerCorrection, peq_sos
from calib.types import ImpulseResponse

__all__ = ["BassSettings", "BassReport", "crossover_biquads", "design_bass_managed", "band_sum_deficit_db",
           "routing_table", "ROUTING_VERSION"]

ROUTING_VERSION = 1
SQRT_HALF = math.sqrt(0.5)


@dataclass(frozen=True)
class BassSettings:
    """Bass-management choices.

    ``crossover_hz`` (default 80) applies to every main unless ``per_speaker_hz`` names it;
    ``order`` 4 (LR4) or 2 (LR2); ``lfe_gain_db`` the LFE's in-band gain (+10 dB);
    ``allpass`` allows an all-pass per main; ``max_delay_ms`` bounds the sub-to-main delay
    search (+-).
    """

    crossover_hz: float = 80.0
    per_speaker_hz: Mapping[str, float] = field(default_factory=dict)
    order: int = 4
    lfe_gain_db: float = 10.0
    lfe_lowpass_hz: float = 120.0
    allpass: bool = True
    max_delay_ms: float = 25.0

    def __post_init__(self) -> None:
        for n, f in [("crossover", self.crossover_hz)] + list(self.per_speaker_hz.items()):
            if not (math.isfinite(f) and 30.0 <= f <= 250.0):
                raise ConfigError(f"{n} frequency {f} Hz is outside 30..250 Hz; bass management crosses over "
                                  "between 40 and 150 Hz")
        if self.order not in (2, 4):
            raise ConfigError(f"crossover order {self.order} is not 2 (LR2) or 4 (LR4)")
        if not (0.0 <= self.max_delay_ms <= 100.0):
            raise ConfigError(f"max_delay_ms {self.max_delay_ms} is outside 0..100 ms")

    def fc(self, name: str) -> float:
        return float(self.per_speaker_hz.get(name, self.crossover_hz))


def crossover_biquads(fc_hz: float, kind: str, *, order: int = 4) -> tuple[Biquad, ...]:
    """Linkwitz-Riley low/high-pass as biquads: LR4 = two identical 2nd-order Butterworth
    sections (Q = 1/sqrt(2)); LR2 = one section with Q = 1/2 (use with the high-pass inverted)."""
    if kind not in ("lowpass", "highpass"):
        raise ConfigError(f"crossover kind {kind!r} is not lowpass or highpass")
    if order == 4:
        return (Biquad(kind, fc_hz, 0.0, SQRT_HALF), Biquad(kind, fc_hz, 0.0, SQRT_HALF))
    return (Biquad(kind, fc_hz, 0.0, 0.5),)


def _resp(bqs: Sequence[Biquad], f_hz: np.ndarray, fs: int) -> np.ndarray:
    """Complex response of a biquad cascade at ``f_hz``."""
    if not bqs:
        return np.ones(f_hz.size, dtype=complex)
    # each section b(z^-1) / a(z^-1) evaluated at z^-1 = e^{-j w} directly (what sosfreqz
    # computes, without its per-call polynomial machinery: ~10x faster on these grids)
    sos = peq_sos(tuple(bqs), fs=fs)
    zi = np.exp(-2j * np.pi * np.asarray(f_hz, dtype=np.float64) / fs)
    z2 = zi * zi
    h = np.ones(zi.size, dtype=complex)
    for b0, b1, b2, a0, a1, a2 in sos:
        h *= (b0 + b1 * zi + b2 * z2) / (a0 + a1 * zi + a2 * z2)
    return h


def sixth_octave_centres_hz(lo_hz: float, hi_hz: float) -> np.ndarray:
    """Base-2 sixth-octave centres ``1000 * 2^(k/6)`` within ``lo..hi`` (Hz)."""
    k = np.arange(math.ceil(6 * math.log2(lo_hz / 1000)), math.floor(6 * math.log2(hi_hz / 1000)) + 1)
    return 1000.0 * 2.0 ** (k / 6.0)


def band_sum_deficit_db(f_hz: np.ndarray, h_main: np.ndarray, h_sub: np.ndarray, centres_hz: np.ndarray) -> np.ndarray:
    """Per sixth-octave band: ``10 lg(sum |Hm + Hs|^2 / sum (|Hm|^2 + |Hs|^2))`` (dB; 0 = adds like
    power, +3 = fully coherent at equal level, negative = cancellation).  Works on the last axis;
    leading axes broadcast (e.g. a grid of delays)."""
    out = []
    for c in centres_hz:
        sel = (f_hz >= c * 2 ** (-1 / 12)) & (f_hz < c * 2 ** (1 / 12))
        m, s = h_main[..., sel], h_sub[..., sel]
        num = np.sum(np.abs(m + s) ** 2, axis=-1)
        den = np.sum(np.abs(m) ** 2 + np.abs(s) ** 2, axis=-1)
        out.append(10 * np.log10(np.maximum(num, 1e-30) / np.maximum(den, 1e-30)))
    return np.stack(out, axis=-1)


@dataclass(frozen=True)
class BassReport:
    """What the bass-management design did (JSON: :meth:`to_json_dict`)."""

    crossover_hz: float
    crossover_per_speaker_hz: dict[str, float]
    per_speaker: dict[str, dict[str, Any]]
    sum_deviation_db: dict[str, dict[str, Any]]
    sum_deviation_before_db: dict[str, dict[str, Any]]
    summed_response: dict[str, dict[str, dict[str, float]]]
    sub_spread_db: dict[str, Any] | None
    alignment: dict[str, dict[str, Any]]
    layout: dict[str, Any] | None
    warnings: tuple[str, ...] = ()

    def to_json_dict(self) -> dict[str, Any]:
        return {"crossover_hz": self.crossover_hz, "crossover_per_speaker_hz": self.crossover_per_speaker_hz,
                "per_speaker": self.per_speaker, "sum_deviation_db": self.sum_deviation_db,
                "sum_deviation_before_db": self.sum_deviation_before_db,
                "summed_response_db": self.summed_response, "sub_spread_db": self.sub_spread_db,
                "layout": self.layout, "warnings": list(self.warnings)}


def routing_table(inputs: Sequence[str], outputs: Sequence[str], mains: Sequence[str], subs: Sequence[str],
                  *, settings: BassSettings, allpass: Mapping[str, Biquad | None],
                  lfe: str | None) -> dict[str, Any]:
    """The routing stored in the profile: ``matrix[o][i]`` linear gains (outputs x inputs) and
    ``filters[o][i]`` the biquads (dicts) of that path.  Mains: own input through the high-pass
    (and all-pass); subs: every main input through that main's low-pass, LFE at +10 dB through
    an LR4 low-pass at ``lfe_lowpass_hz``."""
    gi = {n: k for k, n in enumerate(inputs)}
    matrix = [[0.0] * len(inputs) for _ in outputs]
    filters: dict[str, dict[str, list[dict]]] = {}
    for o, out in enumerate(outputs):
        filters[out] = {}
        if out in mains:
            matrix[o][gi[out]] = -1.0 if settings.order == 2 else 1.0   # LR2: high-pass inverted
            chain = list(crossover_biquads(settings.fc(out), "highpass", order=settings.order))
            if allpass.get(out) is not None:
                chain.append(allpass[out])
            filters[out][out] = [b.to_dict() for b in chain]
        else:
            for m in mains:
                matrix[o][gi[m]] = 1.0
                filters[out][m] = [b.to_dict() for b in crossover_biquads(settings.fc(m), "lowpass", order=settings.order)]
            if lfe is not None:
                matrix[o][gi[lfe]] = 10 ** (settings.lfe_gain_db / 20)
                filters[out][lfe] = [b.to_dict() for b in crossover_biquads(settings.lfe_lowpass_hz, "lowpass", order=4)]
    return {"version": ROUTING_VERSION, "inputs": list(inputs), "outputs": list(outputs), "subs": list(subs),
            "lfe": lfe, "crossover_hz": {m: settings.fc(m) for m in mains}, "order": settings.order,
            "lfe_gain_db": settings.lfe_gain_db, "matrix": matrix, "filters": filters}


def _spectra(h: np.ndarray, n_fft: int) -> np.ndarray:
    return np.fft.rfft(h, n_fft, axis=-1)


def _level_vs_target_db(H: np.ndarray, f: np.ndarray, target_db: np.ndarray, lo: float, hi: float) -> float:
    """Power mean (1/f weighted: every octave the same) of |H|^2 / target over lo..hi, dB."""
    sel = (f >= lo) & (f <= hi)
    return float(10 * np.log10(np.sum(np.abs(H[sel]) ** 2 / 10 ** (target_db[sel] / 10) / f[sel])
                               / np.sum(1.0 / f[sel])))


def _allpass_search(f: np.ndarray, hm: np.ndarray, hs: np.ndarray, centres: np.ndarray, fc: float,
                    fs: int) -> tuple[Biquad | None, float]:
    base = float(band_sum_deficit_db(f, hm, hs, centres).min())
    best, best_v = None, base
    for f0 in np.geomspace(fc / 2, 2 * fc, 13):
        for q in (0.5, 0.7, 1.0, 1.5, 2.5):
            bq = Biquad("allpass", round(float(f0), 2), 0.0, q)
            v = float(band_sum_deficit_db(f, hm * _resp((bq,), f, fs), hs, centres).min())
            if v > best_v + 0.1:
                best, best_v = bq, v
    return best, best_v


#: soft preference for the delay the measured group delays suggest (dB of worst band per ms
#: away from it): among delays that align the crossover about equally well, the one nearest the
#: acoustic arrival difference wins (a phase match one period away is a transient 12.5 ms late)
DELAY_PREFERENCE_DB_PER_MS = 0.1


def group_delay_difference_s(f: np.ndarray, hm: np.ndarray, hs: np.ndarray, lo_hz: float, hi_hz: float) -> float:
    """How much later the sub path arrives than the main path over ``lo..hi`` (s): the slope of
    the unwrapped phase difference, ``tau = -d(phi_s - phi_m)/d(omega)`` (least squares)."""
    sel = (f >= lo_hz) & (f <= hi_hz)
    ph = np.unwrap(np.angle(hs[sel] * np.conj(hm[sel])))
    w = 2 * np.pi * f[sel]
    return float(-np.polyfit(w, ph, 1)[0])


def _delay_search(f: np.ndarray, HM: np.ndarray, HS: np.ndarray, centres: np.ndarray,
                  max_s: float, ref_s: float = 0.0) -> tuple[float, int, float]:
    """Best added sub delay (s; negative: the mains are delayed) and polarity: maximise the worst
    sixth-octave band over mains, less :data:`DELAY_PREFERENCE_DB_PER_MS` per ms away from
    ``ref_s`` (ties: the mean).  Returns (delay, polarity, worst band dB)."""
    best = (-np.inf, -np.inf, 0.0, 1, -np.inf)
    # only the bins inside the sixth-octave bands count (same result, a fifth of the work)
    used = (f >= centres.min() * 2 ** (-1 / 12)) & (f < centres.max() * 2 ** (1 / 12))
    f, HM, HS = f[used], HM[..., used], HS[..., used]
    for step, span in ((5e-5, max_s), (1e-5, 1e-4)):
        centre = best[2]
        taus = np.arange(centre - span, centre + span + step / 2, step) if span < max_s else \
            np.arange(-max_s, max_s + step / 2, step)
        ph = np.exp(-2j * np.pi * f[None, :] * taus[:, None])          # (n_tau, n_f)
        for pol in (1, -1):
            dev = band_sum_deficit_db(f, HM[None, :, :], pol * HS[None, :, :] * ph[:, None, :], centres)
            worst = dev.min(axis=(1, 2))
            score = worst - DELAY_PREFERENCE_DB_PER_MS * 1e3 * np.abs(taus - ref_s)
            mean = dev.mean(axis=(1, 2))
            k = int(np.lexsort((-mean, -score))[0])
            if (score[k], mean[k]) > best[:2]:
                best = (float(score[k]), float(mean[k]), float(taus[k]), pol, float(worst[k]))
    return best[2], best[3], best[4]


def design_bass_managed(seats: Sequence[ImpulseResponse], settings: Any, bass: BassSettings, *,
                        subs: Sequence[str], inputs: Sequence[str] | None = None, lfe: str | None = "LFE",
                        seat_names: Sequence[str] | None = None, sources: Sequence[str] | None = None,
                        layout_check: Mapping[str, Any] | None = None,
                        ) -> tuple[CalibrationProfile, Any, BassReport]:
    """Design a bass-managed correction: per-speaker corrections, crossovers, routing and the
    sub-to-main alignment (module docstring).

    Parameters
    ----------
    seats : sequence of ImpulseResponse
        One per seat, every speaker (mains and subs) in each, one time origin per seat.
    settings : calib.correction.design.CorrectionSettings
        Target, PEQ and FIR settings (the range is split: mains from the crossover up, subs below).
    bass : BassSettings
    subs : names of the subwoofer channels (at least one)
    inputs : programme channel order (layout order, LFE included); default: mains then ``lfe``.
    lfe : name of the LFE programme channel, or None for none.
    layout_check : dict, optional
        Angle/distance check of the layout (``calib.layouts.check_positions``), copied to the report.

    Returns
    -------
    (CalibrationProfile, CorrectionReport, BassReport)
        The profile's speakers are the mains (programme order) then the subs; its
        ``routing`` maps the programme channels to them.

    Raises
    ------
    ConfigError
        No sub, an unknown sub name, mains missing from ``inputs``, more than 16 mains or 4 subs.
    SignalError
        Seats at different rates or with different speakers.
    """
    from calib.correction.design import _check_seats, design_correction

    fs, names = _check_seats(seats)
    subs = list(subs)
    if not subs:
        raise ConfigError("bass management needs at least one subwoofer; name it with --subs")
    missing = [s for s in subs if s not in names]
    if missing:
        raise ConfigError(f"--subs names {', '.join(missing)} but the measurement holds {', '.join(names)}")
    mains_meas = [n for n in names if n not in subs]
    if not mains_meas:
        raise ConfigError("every measured channel is a sub; bass management needs main speakers too")
    if len(mains_meas) > 16 or len(subs) > 4:
        raise ConfigError(f"{len(mains_meas)} mains and {len(subs)} subs: at most 16 mains and 4 subs are supported")
    if inputs is None:
        inputs = list(mains_meas) + ([lfe] if lfe else [])
    inputs = list(inputs)
    lfe = lfe if (lfe and lfe in inputs) else None
    not_in = [m for m in mains_meas if m not in inputs]
    if not_in:
        raise ConfigError(f"speakers {', '.join(not_in)} are not programme channels of the layout "
                          f"({', '.join(inputs)}); measure the layout's speakers or drop --layout")
    mains = [n for n in inputs if n != lfe]
    absent = [m for m in mains if m not in mains_meas]
    if absent:
        raise ConfigError(f"the layout has {', '.join(absent)} but the measurement holds no such speaker; "
                          "measure every speaker of the layout")
    outputs = mains + subs
    snames = list(seat_names) if seat_names else [f"seat{i + 1}" for i in range(len(seats))]
    main_seat = settings.main_seat
    tg = settings.target
    lo, hi = tg.lo_hz, tg.hi_hz
    fc_min = min(bass.fc(m) for m in mains)
    fc_max = max(bass.fc(m) for m in mains)
    warnings: list[str] = []

    ix = {n: k for k, n in enumerate(names)}
    n_len = seats[0].n_samples
    n_fft = 1 << int(math.ceil(math.log2(max(2 * n_len, 1 << 16))))
    f = np.fft.rfftfreq(n_fft, 1.0 / fs)

    # ---- several subs: MSO-style joint delays/gains/polarity/PEQ; then one combined sub
    sub_par = {s: {"delay_s": 0.0, "gain_db": 0.0, "polarity": 1, "peq": ()} for s in subs}
    spread = None
    if len(subs) > 1 or len(seats) > 1:
        from calib.correction.multisub import optimize_subs, spread_db

        sub_irs = np.array([[s.samples[ix[n]] for n in subs] for s in seats])   # (seats, subs, n)
        if len(subs) > 1 and len(seats) > 1:
            res = optimize_subs(sub_irs, fs=fs, names=subs)
            sub_par = {n: p for n, p in zip(subs, res.params)}
            spread = {"before": res.spread_before_db, "after": res.spread_after_db,
                      "single_sub_db": res.single_spread_db, "band_hz": list(res.band_hz),
                      "per_seat_before_db": dict(zip(snames, res.per_seat_before_db)),
                      "per_seat_after_db": dict(zip(snames, res.per_seat_after_db))}
        else:
            v = spread_db(sub_irs[:, 0, :][:, None, :].sum(axis=1), fs=fs)
            spread = {"before": v, "after": v, "single_sub_db": {subs[0]: v}, "band_hz": [20.0, 120.0]}

    def sub_filter(n: str) -> np.ndarray:
        p = sub_par[n]
        return (10 ** (p["gain_db"] / 20) * p["polarity"] * np.exp(-2j * np.pi * f * p["delay_s"])
                * _resp(p["peq"], f, fs))

    SF = {n: sub_filter(n) for n in subs}
    comb_spec = [sum(_spectra(s.samples[ix[n]], n_fft) * SF[n] for n in subs) for s in seats]
    comb_irs = np.array([np.fft.irfft(c, n_fft)[:n_len] for c in comb_spec])

    # ---- corrections: mains from the crossover up, the combined sub below 2 fc
    main_seats = [ImpulseResponse(s.samples[[ix[m] for m in mains]], fs, tuple(mains), s.onset_samples,
                                  tuple(s.arrival_samples[ix[m]] for m in mains) if s.arrival_samples else (),
                                  s.latency_samples, source_id=s.source_id, meta=s.meta) for s in seats]
    st_m = replace(settings, target=tg.with_range(max(lo, fc_min), hi))
    prof_m, rep_m = design_correction(main_seats, st_m, seat_names=snames, sources=sources)
    sub_hi = min(hi, 2 * fc_max)
    if sub_hi / lo < 2 ** (1 / 3):
        raise ConfigError(f"the correction range starts at {lo:g} Hz, above the subs' band (up to {sub_hi:g} Hz); "
                          "lower --range")
    sub_seats = [ImpulseResponse(c[None, :], fs, ("SUBS",), source_id="combined subs") for c in comb_irs]
    st_s = replace(settings, target=tg.with_range(lo, sub_hi), align=False, fir_taps=0, fixed_peq=None)
    prof_s, rep_s = design_correction(sub_seats, st_s, seat_names=snames)
    sub_peq = prof_s.speakers[0].peq
    warnings += list(rep_m.warnings) + [w.replace("speaker SUBS", "the subs") for w in rep_s.warnings]

    # ---- complex responses at every seat: measured x correction (x crossover later)
    def corr_resp(spk: SpeakerCorrection) -> np.ndarray:
        if fs in spk.fir:
            return np.fft.rfft(spk.fir[fs], n_fft)
        return _resp(spk.peq, f, fs)

    CM = {m: corr_resp(prof_m.speaker(m)) for m in mains}
    CS = _resp(sub_peq, f, fs)
    R = [{m: _spectra(s.samples[ix[m]], n_fft) for m in mains} for s in seats]
    T = tg.curve_db(np.maximum(f, 1e-3))

    # mains: arrival (designer's alignment) and levels re-matched on the corrected responses
    ms = seats[main_seat]
    lev = {m: band_level_db(np.fft.irfft(R[main_seat][m] * CM[m], n_fft)[:n_len], fs=fs) for m in mains}
    trim = {m: min(lev.values()) - lev[m] for m in mains}
    pol = {m: prof_m.speaker(m).polarity for m in mains}
    dly = {m: prof_m.speaker(m).delay_s for m in mains}

    def main_path(k: int, m: str, *, with_align: bool = True, ap: Biquad | None = None, corrected: bool = True):
        H = R[k][m] * (CM[m] if corrected else 1.0) * _resp(crossover_biquads(bass.fc(m), "highpass", order=bass.order), f, fs)
        if bass.order == 2:
            H = -H
        if corrected:
            H = H * 10 ** (trim[m] / 20) * pol[m]
        if with_align:
            H = H * np.exp(-2j * np.pi * f * dly[m])
        if ap is not None:
            H = H * _resp((ap,), f, fs)
        return H

    def sub_path(k: int, m: str, *, corrected: bool = True) -> np.ndarray:
        H = comb_spec[k] * _resp(crossover_biquads(bass.fc(m), "lowpass", order=bass.order), f, fs)
        if corrected:
            H = H * CS
        return H

    # sub level: its deviation from the target below fc matches the mains' above fc (main seat)
    main_lv = np.mean([_level_vs_target_db(R[main_seat][m] * CM[m], f, T, bass.fc(m), 4 * bass.fc(m)) + trim[m]
                       for m in mains])
    sub_lv = _level_vs_target_db(comb_spec[main_seat] * CS, f, T, max(lo, 20.0), fc_min)
    sub_gain_db = float(np.clip(main_lv - sub_lv, -40.0, 19.0))
    g_s = 10 ** (sub_gain_db / 20)

    # ---- alignment at the crossover, main seat
    band = (f >= fc_min / 4) & (f <= 4 * fc_max)
    fb = f[band]
    centres = sixth_octave_centres_hz(0.75 * fc_min, 1.375 * fc_max)
    HM = np.array([main_path(main_seat, m)[band] for m in mains])
    HS = np.array([g_s * sub_path(main_seat, m)[band] for m in mains])
    # the acoustic arrival difference (sub path later than the main path, crossover band)
    ref = -float(np.mean([group_delay_difference_s(fb, HM[k], HS[k], 0.7 * fc_min, 1.4 * fc_max)
                          for k in range(len(mains))]))
    ref = float(np.clip(ref, -bass.max_delay_ms / 1000, bass.max_delay_ms / 1000))
    tau, sub_pol, worst = _delay_search(fb, HM, HS, centres, bass.max_delay_ms / 1000, ref)
    ph = sub_pol * np.exp(-2j * np.pi * fb * tau)
    aps: dict[str, Biquad | None] = {m: None for m in mains}
    if bass.allpass:
        for k, m in enumerate(mains):
            v = float(band_sum_deficit_db(fb, HM[k], HS[k] * ph, centres).min())
            if v < -0.2:
                ap, v2 = _allpass_search(fb, HM[k], HS[k] * ph, centres, bass.fc(m), fs)
                aps[m] = ap
    # an all-pass also delays the main's direct sound a little (tens of us at 1 kHz for a
    # low-Q all-pass near the crossover): take that out of its delay so every main still arrives
    # together (the shift is a degree or two at the crossover)
    ap_shift = {m: 0.0 for m in mains}
    for m in mains:
        if aps[m] is not None:
            h = np.fft.irfft(R[main_seat][m], n_fft)[:n_len]
            a0 = arrival_s(h, fs=fs)[0]
            a1 = arrival_s(np.fft.irfft(R[main_seat][m] * _resp((aps[m],), f, fs), n_fft)[:n_len], fs=fs)[0]
            ap_shift[m] = a1 - a0
    comp = max(ap_shift.values())
    for m in mains:
        dly[m] = dly[m] + comp - ap_shift[m]
    extra_main = max(0.0, -tau)
    sub_extra = max(0.0, tau)

    # ---- per seat: the sum against the power sum, before (plain crossover) and after
    def sub_total(k: int, m: str, *, designed: bool) -> np.ndarray:
        if designed:
            return g_s * sub_path(k, m) * sub_pol * np.exp(-2j * np.pi * f * sub_extra)
        return g_s * sub_path(k, m)

    def main_total(k: int, m: str, *, designed: bool) -> np.ndarray:
        H = main_path(k, m, ap=aps[m] if designed else None)
        return H * np.exp(-2j * np.pi * f * extra_main) if designed else H

    sum_after: dict[str, dict[str, Any]] = {}
    sum_before: dict[str, dict[str, Any]] = {}
    summed: dict[str, dict[str, dict[str, float]]] = {}
    g40 = sp.log_grid_hz(40.0, 200.0, points_per_octave=48)
    Tg = tg.curve_db(g40)
    for k, sn in enumerate(snames):
        pa, pb, sr = {}, {}, {}
        for m in mains:
            c = sixth_octave_centres_hz(0.75 * bass.fc(m), 1.375 * bass.fc(m))
            pa[m] = float(band_sum_deficit_db(fb, main_total(k, m, designed=True)[band],
                                              sub_total(k, m, designed=True)[band], c).min())
            pb[m] = float(band_sum_deficit_db(fb, main_total(k, m, designed=False)[band],
                                              sub_total(k, m, designed=False)[band], c).min())
            raw = main_path(k, m, with_align=False, corrected=False) + sub_path(k, m, corrected=False)
            aft = main_total(k, m, designed=True) + sub_total(k, m, designed=True)
            b_db = 10 * np.log10(np.maximum(sp.smooth_power_at(f, np.abs(raw) ** 2, g40, 6.0), 1e-30))
            a_db = 10 * np.log10(np.maximum(sp.smooth_power_at(f, np.abs(aft) ** 2, g40, 6.0), 1e-30))
            sr[m] = {"rms_dev_before_db": sp.rms_deviation_db(b_db - auto_level_db(b_db, Tg), Tg),
                     "rms_dev_after_db": sp.rms_deviation_db(a_db - auto_level_db(a_db, Tg), Tg)}
        sum_after[sn] = {"worst_db": min(pa.values()), "per_speaker": pa}
        sum_before[sn] = {"worst_db": min(pb.values()), "per_speaker": pb}
        summed[sn] = sr
    if sum_after[snames[main_seat]]["worst_db"] < -0.5:
        warnings.append(f"at the main seat the bass-managed sum still falls {-sum_after[snames[main_seat]]['worst_db']:.1f} dB "
                        "below the power sum of main and sub in some band near the crossover; try another "
                        "crossover frequency or sub position")

    # ---- the profile: mains (programme order) then subs
    corrections = []
    per_speaker: dict[str, dict[str, Any]] = {}
    align_rep: dict[str, dict[str, Any]] = {}
    for o, m in enumerate(mains):
        s = prof_m.speaker(m)
        d = dly[m] + extra_main
        corrections.append(SpeakerCorrection(m, o, round(float(trim[m]), 3), float(d), pol[m], s.peq, s.fir))
        per_speaker[m] = {"delay_ms": 1e3 * d, "polarity": pol[m], "crossover_hz": bass.fc(m),
                          "allpass": None if aps[m] is None else aps[m].to_dict()}
    for j, n in enumerate(subs):
        p = sub_par[n]
        d = p["delay_s"] + sub_extra
        t = float(np.clip(sub_gain_db + p["gain_db"], -60.0, 20.0))
        corrections.append(SpeakerCorrection(n, len(mains) + j, round(t, 3), float(d), p["polarity"] * sub_pol,
                                             tuple(p["peq"]) + tuple(sub_peq)))
        per_speaker[n] = {"delay_ms": 1e3 * d, "polarity": p["polarity"] * sub_pol, "allpass": None,
                          "gain_db": t, "mso_peq": [b.to_dict() for b in p["peq"]]}
    # alignment at the main seat, after the design: arrival + delay, level + trim
    for c in corrections:
        h = ms.samples[ix[c.name]]
        a_s, p0 = arrival_s(h, fs=fs)
        entry = {"arrival_ms": 1e3 * a_s, "delay_ms": 1e3 * c.delay_s, "trim_db": c.trim_db,
                 "polarity": c.polarity, "measured_polarity": p0, "is_sub": c.name in subs}
        if c.name not in subs:
            entry["aligned_arrival_ms"] = 1e3 * (a_s + c.delay_s)
            entry["level_db"] = band_level_db(h, fs=fs)
            entry["aligned_level_db"] = lev[c.name] + c.trim_db
        align_rep[c.name] = entry
    dense = np.geomspace(1.0, 0.4999 * fs, 4096)
    peak = 0.0
    for c in corrections:
        g = float(np.max(20 * np.log10(np.abs(_resp(c.peq, dense, fs)) + 1e-30))) if c.peq and not c.fir else 0.0
        if c.fir:
            g = max(float(20 * np.log10(np.abs(np.fft.rfft(t_, 1 << 16)).max())) for t_ in c.fir.values())
        peak = max(peak, g + c.trim_db)
    preamp = -math.ceil(max(peak, 0.0) * 10) / 10
    preamp = 0.0 if preamp == 0 else preamp
    routing = routing_table(inputs, outputs, mains, subs, settings=bass, allpass=aps, lfe=lfe)
    ref = ImpulseResponse(samples=ms.samples[[ix[n] for n in outputs]], fs=fs, channel_names=tuple(outputs),
                          onset_samples=ms.onset_samples,
                          arrival_samples=tuple(ms.arrival_samples[ix[n]] for n in outputs) if ms.arrival_samples else (),
                          latency_samples=ms.latency_samples,
                          snr_db=tuple(ms.snr_db[ix[n]] for n in outputs) if ms.snr_db else (),
                          source_id=ms.source_id, meta={"seat": snames[main_seat]})
    prov = dict(prof_m.provenance)
    prov["bass_management"] = {"settings": {"crossover_hz": bass.crossover_hz, "per_speaker_hz": dict(bass.per_speaker_hz),
                                            "order": bass.order, "lfe_gain_db": bass.lfe_gain_db,
                                            "lfe_lowpass_hz": bass.lfe_lowpass_hz, "allpass": bass.allpass},
                               "sub_gain_db": sub_gain_db, "sub_delay_s": sub_extra, "main_extra_delay_s": extra_main}
    profile = CalibrationProfile(name=settings.name, speakers=tuple(corrections), preamp_db=preamp, design_fs=fs,
                                 target={**tg.to_dict(), "crossover_hz": fc_min}, tolerances={}, reference=ref,
                                 provenance=prov, routing=routing)
    from calib.correction.design import CorrectionReport

    reports = tuple(rep_m.speakers) + tuple(replace(r, name=n) for n in subs for r in rep_s.speakers)
    warnings = list(dict.fromkeys(warnings))   # both designs warn about a single seat
    # the mains' alignment is part of the bass design (BassReport.alignment, per_speaker)
    report = CorrectionReport(reports, preamp, None, tuple(warnings), rep_m.design_time_s + rep_s.design_time_s)
    bass_rep = BassReport(fc_min, {m: bass.fc(m) for m in mains}, per_speaker, sum_after, sum_before, summed,
                          spread, align_rep, dict(layout_check) if layout_check else None, tuple(warnings))
    return profile, report, bass_rep
