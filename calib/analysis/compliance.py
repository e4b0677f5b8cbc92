"""Compliance with EBU Tech 3276 / ITU-R BS.1116 listening-room criteria.

Every limit comes from the limit table (``calib/data/compliance_limits.toml``, loaded by
:func:`calib.analysis.limits.load_limits`), because several numbers in STANDARDS.md §3 are
unverified.  Each check returns a :class:`~calib.analysis.types.ComplianceCheck` with the
measured value, the limit and a verdict; the verdict is ``None`` (not assessable) when the
data the check needs is missing, with the reason in ``detail``.

Checks
------
``reverberation_time``       mean third-octave T (T30, else T20) over 200 Hz–4 kHz vs
                             ``Tm = 0.25·(V/100)^(1/3)`` s and the mask at 1 kHz (needs dims)
``reverberation_mask``       every third-octave band 63 Hz–8 kHz within the mask around Tm
``reverberation_adjacent``   neighbouring bands differ by ≤ 0.05 s (> 300 Hz) / ≤ 25 % (below)
``early_reflections``        strongest reflection within 15 ms, 1–8 kHz, ≤ −10 dB re direct
``room_response``            third-octave levels re the 250 Hz–2 kHz mean within the mask
``background_noise``         NR ≤ 15 (preferably ≤ 10)
``level_matching``           every channel pair ≤ 1 dB, the front pair L/R ≤ 0.5 dB
``response_matching``        third-octave differences ≤ 1 dB over 250 Hz–2 kHz
``arrival_matching``         arrival differences ≤ 0.1 ms
``polarity``                 all channels in the same polarity
``floor_area``, ``proportions``  room geometry (needs dims)
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import numpy as np

from calib.analysis.bands import band_levels_from_arrays_db, third_octave_centres_hz
from calib.analysis.passband import is_band_limited, passband_from_bands_hz
from calib.analysis.types import ChannelPair, ComplianceCheck, DecayTable, NoiseAnalysis
from calib.types import FrequencyResponse

__all__ = [
    "tm_s",
    "check_reverberation",
    "check_early_reflections",
    "check_room_response",
    "check_background_noise",
    "check_matching",
    "check_geometry",
]


def _r(v: float, nd: int = 3) -> float | None:
    return round(float(v), nd) if v is not None and math.isfinite(v) else None


def tm_s(volume_m3: float, limits: Mapping[str, Any]) -> float:
    """Nominal reverberation time ``Tm = coeff·(V/V0)^(1/3)`` s (Tech 3276, STANDARDS.md §3.2)."""
    rv = limits["reverberation"]
    return float(rv["tm_coeff_s"]) * (volume_m3 / float(rv["tm_ref_volume_m3"])) ** (1.0 / 3.0)


def _interp_log(f: np.ndarray, fp: Sequence[float], vp: Sequence[float]) -> np.ndarray:
    return np.interp(np.log(f), np.log(np.asarray(fp, dtype=float)), np.asarray(vp, dtype=float))


def _band_t(table: DecayTable) -> tuple[np.ndarray, np.ndarray]:
    t30, t20 = table.column("t30_s"), table.column("t20_s")
    return table.centres_hz, np.where(np.isfinite(t30), t30, t20)


def check_reverberation(table: DecayTable, volume_m3: float | None, limits: Mapping[str, Any]) -> list[ComplianceCheck]:
    """Reverberation time against Tm, its mask, and the adjacent-band rule (third-octave table)."""
    rv = limits["reverberation"]
    fc, t = _band_t(table)
    out = []
    mid = (fc >= rv["tm_band_lo_hz"] / 1.01) & (fc <= rv["tm_band_hi_hz"] * 1.01) & np.isfinite(t)
    mean_t = float(np.mean(t[mid])) if np.any(mid) else math.nan
    if volume_m3 is None or not math.isfinite(volume_m3):
        out.append(ComplianceCheck("reverberation_time", _r(mean_t), None, None, "s",
                                   "room volume unknown (pass --dims): Tm cannot be computed"))
        out.append(ComplianceCheck("reverberation_mask", None, None, None, "s", "room volume unknown (pass --dims)"))
    else:
        tm = tm_s(volume_m3, limits)
        up1k = float(_interp_log(np.array([1000.0]), rv["mask_upper_freqs_hz"], rv["mask_upper_s"])[0])
        lo1k = float(_interp_log(np.array([1000.0]), rv["mask_lower_freqs_hz"], rv["mask_lower_s"])[0])
        passed = None if not math.isfinite(mean_t) else bool(tm + lo1k <= mean_t <= tm + up1k)
        out.append(ComplianceCheck("reverberation_time", _r(mean_t), [_r(tm + lo1k), _r(tm + up1k)], passed, "s",
                                   f"mean T over {rv['tm_band_lo_hz']:g} Hz–{rv['tm_band_hi_hz']:g} Hz; "
                                   f"Tm = {tm:.3f} s for V = {volume_m3:.1f} m³"
                                   + ("" if math.isfinite(mean_t) else "; no valid band")))
        inm = (fc >= rv["mask_lo_hz"] / 1.01) & (fc <= rv["mask_hi_hz"] * 1.01)
        f_m = fc[inm]
        upper = tm + _interp_log(f_m, rv["mask_upper_freqs_hz"], rv["mask_upper_s"])
        lower = tm + _interp_log(f_m, rv["mask_lower_freqs_hz"], rv["mask_lower_s"])
        tv = t[inm]
        ok = np.isfinite(tv)
        bad = [f"{f:.0f} Hz" for f, v, a, b in zip(f_m, tv, lower, upper) if math.isfinite(v) and not (a <= v <= b)]
        passed = None if not ok.any() else not bad
        detail = ("outside the mask at " + ", ".join(bad)) if bad else "all measured bands inside the mask"
        if not ok.all():
            detail += f"; {int((~ok).sum())} band(s) without a valid T"
        out.append(ComplianceCheck("reverberation_mask", [_r(v) for v in tv],
                                   {"bands_hz": [_r(v, 1) for v in f_m], "lower_s": [_r(v) for v in lower],
                                    "upper_s": [_r(v) for v in upper]}, passed, "s", detail))
    # adjacent bands
    bad = []
    n_pairs = 0
    for (f1, a), (f2, b) in zip(zip(fc, t), zip(fc[1:], t[1:])):
        if not (math.isfinite(a) and math.isfinite(b)):
            continue
        n_pairs += 1
        if min(f1, f2) >= rv["adjacent_split_hz"]:
            if abs(a - b) > rv["adjacent_max_diff_s"]:
                bad.append(f"{f1:.0f}/{f2:.0f} Hz differ by {abs(a - b):.3f} s")
        elif abs(a - b) > rv["adjacent_max_ratio"] * max(a, b):
            bad.append(f"{f1:.0f}/{f2:.0f} Hz differ by {100 * abs(a - b) / max(a, b):.0f} %")
    out.append(ComplianceCheck("reverberation_adjacent", len(bad),
                               {"max_diff_s": rv["adjacent_max_diff_s"], "max_ratio": rv["adjacent_max_ratio"],
                                "split_hz": rv["adjacent_split_hz"]},
                               None if n_pairs == 0 else not bad, "violations",
                               "; ".join(bad) if bad else f"{n_pairs} adjacent pairs checked"))
    return out


def check_early_reflections(levels_db: Mapping[str, tuple[float, float]], limits: Mapping[str, Any]) -> ComplianceCheck:
    """``levels_db[channel] = (level re direct dB, delay ms)`` of the strongest reflection in the window."""
    er = limits["early_reflections"]
    if not levels_db:
        return ComplianceCheck("early_reflections", None, -er["min_below_direct_db"], None, "dB", "no channels")
    worst_ch = max(levels_db, key=lambda c: levels_db[c][0])
    lvl, dly = levels_db[worst_ch]
    limit = -float(er["min_below_direct_db"])
    detail = (f"strongest within {er['window_ms']:g} ms in {er['band_lo_hz']:g}–{er['band_hi_hz']:g} Hz: "
              + (f"{worst_ch} at {dly:.2f} ms" if math.isfinite(lvl) else "none found"))
    return ComplianceCheck("early_reflections", _r(lvl, 2) if math.isfinite(lvl) else None, limit,
                           bool(lvl <= limit), "dB re direct", detail)


def check_room_response(fr: FrequencyResponse, limits: Mapping[str, Any]) -> ComplianceCheck:
    """Third-octave levels of each channel re its 250 Hz–2 kHz mean, against the mask."""
    rr = limits["room_response"]
    f = fr.freqs_hz
    pos = f > 0
    nyq = f[-1]
    fc = third_octave_centres_hz(rr["mask_lo_hz"], min(rr["mask_hi_hz"], nyq / 1.2))
    lev = band_levels_from_arrays_db(f[pos], fr.magnitude_db[:, pos], fc, fraction=3)
    mid = (fc >= rr["mean_lo_hz"] / 1.01) & (fc <= rr["mean_hi_hz"] * 1.01)
    upper = _interp_log(fc, rr["mask_freqs_hz"], rr["mask_upper_db"])
    lower = _interp_log(fc, rr["mask_freqs_hz"], rr["mask_lower_db"])
    worst = 0.0
    bad = []
    devs = {}
    skipped = []
    for ch, row in zip(fr.channel_names, lev):
        if is_band_limited(passband_from_bands_hz(fc, row)):
            skipped.append(ch)     # a subwoofer: the full-range mask re 250 Hz-2 kHz does not apply
            continue
        ref = 10.0 * np.log10(np.mean(10.0 ** (row[mid] / 10.0)))
        d = row - ref
        devs[ch] = [_r(v, 2) for v in d]
        excess = np.maximum(d - upper, lower - d)
        worst = max(worst, float(np.nanmax(excess)))
        bad += [f"{ch} {f_:.0f} Hz ({v:+.1f} dB)" for f_, v, e in zip(fc, d, excess) if e > 0]
    detail = ("outside: " + ", ".join(bad[:12]) + (" …" if len(bad) > 12 else "")) if bad else "inside the mask"
    if skipped:
        detail += f" ({', '.join(skipped)} band-limited: not judged against the full-range mask)"
    return ComplianceCheck("room_response", devs,
                           {"bands_hz": [_r(v, 1) for v in fc], "lower_db": [_r(v, 2) for v in lower],
                            "upper_db": [_r(v, 2) for v in upper]}, not bad, "dB re mid-band mean", detail)


def check_background_noise(noise: NoiseAnalysis | None, reason: str, limits: Mapping[str, Any]) -> ComplianceCheck:
    bn = limits["background_noise"]
    if noise is None or not noise.calibrated or not math.isfinite(noise.nr):
        why = reason if noise is None else noise.reason
        return ComplianceCheck("background_noise", None, bn["max_nr"], None, "NR", why or "no noise data")
    nr = noise.nr
    detail = (f"NR {nr:.1f} set by the {noise.limiting_band_hz:g} Hz band; preferably ≤ NR {bn['preferred_nr']:g}"
              + ("" if nr <= bn["preferred_nr"] else " (not met)"))
    return ComplianceCheck("background_noise", _r(nr, 1), bn["max_nr"], bool(nr <= bn["max_nr"]), "NR", detail)


def _is_front_pair(a: str, b: str) -> bool:
    return {a.upper(), b.upper()} == {"L", "R"}


def check_matching(pairs: Sequence[ChannelPair], limits: Mapping[str, Any]) -> list[ComplianceCheck]:
    """Level, response, arrival and polarity matching over every channel pair."""
    mt = limits["matching"]
    skipped = [f"{p.a}/{p.b}" for p in pairs if getattr(p, "band_limited", False)]
    pairs = [p for p in pairs if not getattr(p, "band_limited", False)]   # a sub: not judged here
    if not pairs:
        why = ("only band-limited pairs (" + ", ".join(skipped) + "): judged at the crossover by bass management"
               if skipped else "only one channel: nothing to match")
        return [ComplianceCheck(c, None, None, None, "", why)
                for c in ("level_matching", "response_matching", "arrival_matching", "polarity")]
    out = []
    # level
    worst, worst_pair, bad = 0.0, "", []
    for p in pairs:
        lim = mt["level_front_pair_db"] if _is_front_pair(p.a, p.b) else mt["level_any_pair_db"]
        v = abs(p.level_diff_db)
        if v > worst:
            worst, worst_pair = v, f"{p.a}/{p.b}"
        if v > lim:
            bad.append(f"{p.a}/{p.b} {p.level_diff_db:+.2f} dB (limit {lim:g})")
    out.append(ComplianceCheck("level_matching", _r(worst, 2),
                               {"any_pair_db": mt["level_any_pair_db"], "front_pair_db": mt["level_front_pair_db"]},
                               not bad, "dB", "; ".join(bad) if bad else f"largest {worst_pair}"))
    # response
    worst, bad = 0.0, []
    for p in pairs:
        f = np.array(p.bands_hz)
        d = np.array(p.response_diff_db)
        sel = (f >= mt["response_band_lo_hz"] / 1.01) & (f <= mt["response_band_hi_hz"] * 1.01) & np.isfinite(d)
        if not sel.any():
            continue
        v = float(np.max(np.abs(d[sel])))
        worst = max(worst, v)
        if v > mt["response_pair_db"]:
            k = int(np.argmax(np.abs(np.where(sel, d, 0))))
            bad.append(f"{p.a}/{p.b} {d[k]:+.1f} dB at {f[k]:.0f} Hz")
    out.append(ComplianceCheck("response_matching", _r(worst, 2), mt["response_pair_db"], not bad, "dB",
                               "; ".join(bad) if bad else
                               f"{mt['response_band_lo_hz']:g}–{mt['response_band_hi_hz']:g} Hz third-octaves"))
    # arrival
    worst = max(abs(p.arrival_diff_ms) for p in pairs)
    bad = [f"{p.a}/{p.b} {p.arrival_diff_ms:+.3f} ms" for p in pairs if abs(p.arrival_diff_ms) > mt["arrival_pair_ms"]]
    out.append(ComplianceCheck("arrival_matching", _r(worst, 4), mt["arrival_pair_ms"], not bad, "ms",
                               "; ".join(bad) if bad else "all pairs aligned"))
    bad = [f"{p.a}/{p.b}" for p in pairs if not p.same_polarity]
    out.append(ComplianceCheck("polarity", "inverted" if bad else "same", "same", not bad, "",
                               ("inverted pairs: " + ", ".join(bad)) if bad else "all channels in the same polarity"))
    return out


def check_geometry(dims_m: Sequence[float] | None, limits: Mapping[str, Any]) -> list[ComplianceCheck]:
    """Floor area and proportions (Tech 3276 / BS.1116 §3.1 [U])."""
    rm = limits["room"]
    if dims_m is None:
        return [ComplianceCheck("floor_area", None, [rm["floor_area_min_m2"], rm["floor_area_max_m2"]], None, "m²",
                                "room dimensions unknown (pass --dims)"),
                ComplianceCheck("proportions", None, None, None, "", "room dimensions unknown (pass --dims)")]
    lx, ly, lz = (float(v) for v in dims_m)
    area = lx * ly
    out = [ComplianceCheck("floor_area", _r(area, 2), [rm["floor_area_min_m2"], rm["floor_area_max_m2"]],
                           bool(rm["floor_area_min_m2"] <= area <= rm["floor_area_max_m2"]), "m²", "")]
    l_, w_ = max(lx, ly), min(lx, ly)
    lh, wh = l_ / lz, w_ / lz
    problems = []
    if not (1.1 * wh <= lh <= 4.5 * wh - 4.0):
        problems.append(f"l/h = {lh:.2f} outside 1.1·w/h … 4.5·w/h − 4 = {1.1 * wh:.2f} … {4.5 * wh - 4:.2f}")
    if lh >= rm["max_ratio_to_height"] or wh >= rm["max_ratio_to_height"]:
        problems.append(f"a ratio to the height is ≥ {rm['max_ratio_to_height']:g}")
    for name, r in (("l/h", lh), ("w/h", wh), ("l/w", l_ / w_)):
        if abs(r - round(r)) <= rm["integer_ratio_margin"] * r:
            problems.append(f"{name} = {r:.2f} is within {100 * rm['integer_ratio_margin']:.0f} % of an integer")
    out.append(ComplianceCheck("proportions", [1.0, _r(wh, 3), _r(lh, 3)], "BS.1116 §3.1 inequality",
                               not problems, "ratio to height", "; ".join(problems) if problems else "proportions fine"))
    return out
