"""Findings from the standards' checks and the other stages: background noise against NR,
distortion against the BS.1116 monitor limits, the compliance table's failed checks, and the
latest verification."""

from __future__ import annotations

import math
import re
from typing import Any, Mapping, Sequence

import numpy as np

from reports.findings_base import (ATTENTION, NOTE, Finding, FindingThresholds, _num, _signed, _speaker_word,
                                   as_mapping)

__all__ = ["noise_findings", "distortion_findings", "compliance_findings", "verification_findings", "mask_summary",
           "response_summary"]


def _noise_findings(noise: Mapping[str, Any], th: FindingThresholds) -> list[Finding]:
    nr = _num(noise.get("nr") if "nr" in noise else noise.get("nr_rating", noise.get("rating_nr")))
    if not math.isfinite(nr) or nr <= th.noise_preferred_nr:
        return []
    def first(*keys: str) -> list[Any]:
        for k in keys:
            if noise.get(k) is not None:
                return list(noise[k])
        return []

    bands = first("bands_hz")
    levels = first("level_db", "levels_db", "levels_db_spl")
    worst = ""
    if noise.get("limiting_band_hz") is not None:
        worst = f"; the {_num(noise.get('limiting_band_hz')):g} Hz band sets the rating"
    elif bands and levels and len(bands) == len(levels):
        from reports.plots_room import NR_A_DB, NR_B, NR_BANDS_HZ

        excess = []
        for f, lv in zip(bands, levels):
            j = int(np.argmin([abs(math.log2(float(f) / b)) for b in NR_BANDS_HZ]))
            excess.append(((_num(lv) - NR_A_DB[j]) / NR_B[j], float(f)))
        worst_f = max(excess)[1]
        worst = f"; the {worst_f:g} Hz band sets the rating"
    limit = th.noise_limit_nr
    sentence = f"Background noise reaches NR {nr:.0f}" + (
        f", above the NR {limit:.0f} limit." if nr > limit else f" (NR {th.noise_preferred_nr:.0f} is preferred).")
    evidence = f"Octave-band noise rated NR {nr:.1f}{worst}; Tech 3276: preferably ≤ NR 10, never > NR 15."
    action = ("Find the source (ventilation, computer fans, amplifier hum) with everything but the monitors switched "
              "off; low bands point to air handling, high bands to fans.")
    lev = ATTENTION if nr > limit else NOTE
    return [Finding(min(8.0, 2.0 + (nr - th.noise_preferred_nr) * 0.6), lev, "noise", sentence, evidence, action, "noise")]


def _distortion_findings(distortion: Mapping[str, Any], th: FindingThresholds) -> list[Finding]:
    """THD per channel against the BS.1116 monitor limits (3 % below 250 Hz, 1 % above, at
    90 dB SPL; STANDARDS.md §3.8, [U]).  The sweep level is rarely 90 dB SPL, so a finding
    says at which frequency and by how much, and asks for a check at the reference level."""
    out = []
    channels = distortion.get("channels") or {}
    for name, d in sorted(channels.items()):
        dm = as_mapping(d)
        f_raw, thd_raw = dm.get("freqs_hz"), dm.get("thd_pct")
        f = np.asarray([] if f_raw is None else f_raw, dtype=np.float64)
        thd = np.asarray([] if thd_raw is None else thd_raw, dtype=np.float64)
        if f.size == 0 or thd.shape != f.shape:
            continue
        sel = (f >= th.distortion_lo_hz) & (f <= th.distortion_hi_hz) & np.isfinite(thd)
        if not sel.any():
            continue
        limit = np.where(f < th.distortion_split_hz, th.distortion_lf_pct, th.distortion_hf_pct)
        ratio = np.where(sel, thd / limit, 0.0)
        k = int(np.argmax(ratio))
        if ratio[k] <= 1.0:
            continue
        sentence = (f"The {_speaker_word(str(name))} speaker distorts: {thd[k]:.1f} % THD at {f[k]:.0f} Hz.")
        evidence = (f"BS.1116 allows {limit[k]:g} % {'below' if f[k] < th.distortion_split_hz else 'above'} "
                    f"{th.distortion_split_hz:.0f} Hz at 90 dB SPL (unverified limits); measured with the sweep's "
                    "level, from the harmonic impulse responses.")
        action = ("Lower the level or check the speaker (a rubbing voice coil, a loose port, an amplifier near "
                  "clipping); verify at the reference listening level.")
        out.append(Finding(min(8.0, 3.0 + 2.0 * float(np.log2(ratio[k]))), ATTENTION, "distortion", sentence,
                           evidence, action, "distortion"))
    return out


# checks that have their own, more specific findings above
_COVERED = ("early_reflections", "background_noise", "level_matching", "arrival_matching")


def _fmt_limit(v: Any, unit: str) -> str:
    if isinstance(v, (list, tuple)) and len(v) == 2:
        return f"{_num(v[0]):g}–{_num(v[1]):g} {unit}".strip()
    x = _num(v)
    return f"{x:g} {unit}".strip() if math.isfinite(x) else str(v)


def _band(f_hz: float) -> str:
    """A third-octave band by its nominal name (IEC 61260 preferred numbers: 125 Hz, 1.25 kHz)."""
    try:
        from calib.analysis.bands import nominal_label

        label = nominal_label(float(f_hz))
    except (ImportError, ValueError):
        label = f"{f_hz:.0f}"
    return f"{label} Hz" if not label.endswith("k") else f"{label[:-1]} kHz"


def mask_summary(value: Any, limit: Any) -> dict[str, Any] | None:
    """Per-band reverberation times against the Tech 3276 mask, summarised.

    ``value``: T per band (s, None where not measured); ``limit``: ``{bands_hz, lower_s,
    upper_s}`` (the analysis' reverberation_mask check).  Returns ``{n_bands, n_out, worst:
    (band_hz, t_s, lower_s, upper_s) or None}``, the worst band being the one furthest outside
    (in seconds), or None when the inputs are not per-band lists."""
    if not isinstance(limit, Mapping) or not isinstance(value, (list, tuple)):
        return None
    f, lo, hi = limit.get("bands_hz"), limit.get("lower_s"), limit.get("upper_s")
    if not (isinstance(f, (list, tuple)) and isinstance(lo, (list, tuple)) and isinstance(hi, (list, tuple))) \
            or not (len(f) == len(lo) == len(hi) == len(value)):
        return None
    n_bands, out = 0, []
    for fb, t, lw, up in zip(f, value, lo, hi):
        t = _num(t)
        if not math.isfinite(t):
            continue
        n_bands += 1
        excess = max(t - _num(up), _num(lw) - t)
        if excess > 0:
            out.append((excess, (_num(fb), t, _num(lw), _num(up))))
    worst = max(out)[1] if out else None
    return {"n_bands": n_bands, "n_out": len(out), "worst": worst}


def response_summary(value: Any, limit: Any) -> dict[str, Any] | None:
    """Per-channel band levels (dB re mid-band) against the operational-response tolerance.

    Returns ``{n_values, n_out, outside: [(excess_db, channel, band_hz, level_db, lower_db,
    upper_db)] furthest first}`` or None when the inputs are not per-band tables."""
    if not isinstance(limit, Mapping) or not isinstance(value, Mapping):
        return None
    f, lo, hi = limit.get("bands_hz"), limit.get("lower_db"), limit.get("upper_db")
    if not (isinstance(f, (list, tuple)) and isinstance(lo, (list, tuple)) and isinstance(hi, (list, tuple))):
        return None
    n, outside = 0, []
    for ch, vals in value.items():
        if not isinstance(vals, (list, tuple)) or len(vals) != len(f):
            return None
        for fb, v, lw, up in zip(f, vals, lo, hi):
            v = _num(v)
            if not math.isfinite(v):
                continue
            n += 1
            excess = max(v - _num(up), _num(lw) - v)
            if excess > 0:
                outside.append((excess, str(ch), _num(fb), v, _num(lw), _num(up)))
    outside.sort(reverse=True)
    return {"n_values": n, "n_out": len(outside), "outside": outside}


def _reverberation_finding(checks: Mapping[str, Mapping[str, Any]]) -> Finding | None:
    """ONE finding for the reverberation checks (mean T, per-band mask, adjacent-band steps):
    they are one cause, the room's absorption, seen three ways."""
    rt, mask, adj = checks.get("reverberation_time"), checks.get("reverberation_mask"), \
        checks.get("reverberation_adjacent")
    ev, sentence, level, sev = [], "", NOTE, 2.5
    long_ = True
    if rt is not None:
        v, limit = _num(rt.get("value")), rt.get("limit")
        lo, hi = (_num(limit[0]), _num(limit[1])) if isinstance(limit, (list, tuple)) else (math.nan, _num(limit))
        long_ = not (math.isfinite(lo) and v < lo)
        bound = hi if long_ else lo
        how = ("a little " if math.isfinite(bound) and abs(v / bound - 1.0) <= 0.3 else "") + \
            ("live" if long_ else "dead")
        sentence = (f"The room is {how}: the reverberation time averages {v:.2f} s, the standard asks "
                    f"{lo:.2f}–{hi:.2f} s for its volume.")
        detail = str(rt.get("detail") or "")
        ev.append(f"Mean T 200 Hz–4 kHz {v:.2f} s against {lo:.2f}–{hi:.2f} s" + (f" ({detail})" if detail else ""))
        level, sev = ATTENTION, 5.0
    low_bands = False
    if mask is not None:
        ms = mask_summary(mask.get("value"), mask.get("limit"))
        if ms and ms["worst"] is not None:
            fb, t, lw, up = ms["worst"]
            low_bands = fb < 300.0
            side = f"limit {up:.2f} s" if t > up else f"at least {lw:.2f} s"
            ev.append(f"{ms['n_out']} of {ms['n_bands']} third-octave bands outside the Tech 3276 mask, the furthest "
                      f"at {_band(fb)} ({t:.2f} s, {side})")
            if not sentence:
                sentence = (f"The reverberation time leaves the standard's tolerance in {ms['n_out']} of "
                            f"{ms['n_bands']} third-octave bands, most at {_band(fb)} ({t:.2f} s).")
                long_ = t > up
                level, sev = ATTENTION, 4.0
        elif mask.get("detail"):
            ev.append(f"Tech 3276 mask: {mask.get('detail')}")
            sentence = sentence or "The reverberation time leaves the standard's tolerance in some bands."
            level, sev = ATTENTION, max(sev, 4.0)
    if adj is not None:
        detail = str(adj.get("detail") or "")
        ev.append(f"uneven from band to band ({detail})" if detail else "uneven from band to band")
        sentence = sentence or ("The reverberation time jumps between neighbouring bands"
                                + (f" ({detail})." if detail else "."))
    if not sentence:
        return None
    if long_:
        action = "Add broadband absorption (thick panels at the first-reflection points, the rear wall, the ceiling)"
        action += "; bass traps for the bands below 300 Hz, where it rings longest." if low_bands else "."
    else:
        action = "Take some absorption out or add diffusion so the room does not sound dead."
    return Finding(sev, level, "decay", sentence, "; ".join(ev) + ".", action, "decay")


def _compliance_sentence(name: str, cm: Mapping[str, Any]) -> tuple[str, str, str, float, str]:
    """(sentence, evidence, action, severity, level) for one failed check."""
    value, limit, unit = cm.get("value"), cm.get("limit"), str(cm.get("unit", "") or "")
    detail = str(cm.get("detail") or "")
    ev_tail = f" ({detail})" if detail else ""
    if name == "room_response":
        rs = response_summary(value, limit)
        if rs and rs["outside"]:
            _, ch, fb, v, lw, up = rs["outside"][0]
            dip = v < lw
            sentence = (f"The response at the listening position {'dips' if dip else 'rises'} "
                        f"{abs(v):.0f} dB at {_band(fb)} ({ch}), outside the operational tolerance.")
            listed = ", ".join(f"{c} {_band(b)} {_signed(x, '+.1f')} dB" for _, c, b, x, _l, _u in rs["outside"][:5])
            evidence = (f"{rs['n_out']} of {rs['n_values']} third-octave band levels (re the mean 250 Hz–2 kHz) "
                        f"outside the Tech 3276 tolerance: {listed}"
                        + (" …" if rs["n_out"] > 5 else "") + f"; at {_band(fb)} the tolerance is "
                        f"{_signed(lw, '+.1f')} to {_signed(up, '+.1f')} dB.")
            if dip:
                action = ("A dip this narrow is a cancellation (a boundary reflection or a mode's null at the seat): "
                          "move the speakers or the seat by 20–30 cm and measure again; EQ boost cannot fill it.")
            else:
                action = "The correction EQ takes care of peaks like this; bass trapping reduces the ringing."
            return sentence, evidence, action, 4.5, ATTENTION
        sentence = "The response at the listening position leaves the operational tolerance."
        action = ("Move the speakers or the seat a little (the mode map shows which modes); the correction EQ "
                  "takes care of the peaks it can.")
        return sentence, f"Third-octave response re its mid-band mean{ev_tail}.", action, 4.5, ATTENTION
    if name == "response_matching":
        at = re.search(r"at ([0-9.]+ k?Hz)", detail)
        sentence = (f"The left and right speakers differ by up to {_num(value):.1f} dB"
                    + (f" at {at.group(1)}" if at else "") + ".")
        action = "Make the two sides of the room symmetric (speaker distances to walls, treatment, furniture)."
        return sentence, (f"Largest third-octave difference 250 Hz–2 kHz {_num(value):.2f} dB; Tech 3276 allows "
                          f"{_fmt_limit(limit, 'dB')}."), action, 3.5, ATTENTION
    if name == "polarity":
        sentence = "A speaker is wired in inverted polarity."
        return sentence, detail or "Direct sounds of opposite sign.", \
            "Swap the + and − wires at that speaker (or its amplifier).", 9.0, ATTENTION
    if name == "floor_area":
        sentence = (f"The room is small for a reference room: {_num(value):.1f} m² of floor, the standard asks "
                    f"{_fmt_limit(limit, 'm²')}.")
        return sentence, "EBU Tech 3276 room size (unverified limits, STANDARDS.md §3.1).", \
            "Nothing to treat; expect stronger, sparser low-frequency modes than in a larger room.", 1.5, NOTE
    sentence = f"The room misses the standard's {name.replace('_', ' ')} check."
    evidence = f"Measured {_fmt_limit(value, unit)} against {_fmt_limit(limit, unit)}{ev_tail}."
    return sentence, evidence, "See the compliance table; the limits are in calib/data/compliance_limits.toml.", \
        4.0, ATTENTION


_REVERBERATION = ("reverberation_time", "reverberation_mask", "reverberation_adjacent")


def _compliance_findings(checks: Sequence[Any]) -> list[Finding]:
    out = []
    reverb: dict[str, Mapping[str, Any]] = {}
    for c in checks:
        cm = as_mapping(c)
        passed = cm.get("passed", cm.get("verdict"))
        if passed is True or passed in ("pass", "skip", None):
            continue
        name = str(cm.get("check") or cm.get("name") or "check")
        if name in _COVERED:
            continue
        if name in _REVERBERATION:
            reverb[name] = cm
            continue
        sentence, evidence, action, sev, level = _compliance_sentence(name, cm)
        figure = {"room_response": "response", "response_matching": "lr"}.get(name, "")
        out.append(Finding(sev, level, "compliance", sentence, evidence, action, figure))
    rf = _reverberation_finding(reverb) if reverb else None
    if rf is not None:
        out.append(rf)
    return out


def _check_words(c: Mapping[str, Any]) -> str:
    """One failed verification check in words: its own message when it has one, with the limit."""
    unit = str(c.get("unit", "") or "")
    lim = _num(c.get("limit"))
    lim_txt = f"limit ±{lim:g} {unit}".strip() if math.isfinite(lim) else ""
    msg = str(c.get("message") or "").strip()
    if msg:
        if "limit" in msg or not lim_txt:
            return msg
        return msg[:-1] + f"; {lim_txt})" if msg.endswith(")") else f"{msg} ({lim_txt})"
    name = str(c.get("name", "check")).replace("_", " ")
    ch = str(c.get("channel") or "")
    return f"{ch + ' ' if ch else ''}{name} {_num(c.get('value')):+.2f} {unit}".rstrip() + \
        (f" ({lim_txt})" if lim_txt else "")


def _verification_headline(bad: Sequence[Mapping[str, Any]]) -> str:
    """What changed, said the way an engineer would: a single speaker's level change is named."""
    levels = [c for c in bad if str(c.get("name")) == "level" and str(c.get("verdict")).lower() == "fail"]
    if len(levels) == 1 and math.isfinite(_num(levels[0].get("value"))):
        v = _num(levels[0].get("value"))
        who = _speaker_word(str(levels[0].get("channel") or ""))
        return (f"The room no longer matches its calibration: the {who} speaker plays {abs(v):.1f} dB "
                f"{'quieter' if v < 0 else 'louder'} than when it was calibrated.")
    arrivals = [c for c in bad if str(c.get("name")) == "arrival" and str(c.get("verdict")).lower() == "fail"]
    if len(arrivals) == 1 and math.isfinite(_num(arrivals[0].get("value"))):
        v = _num(arrivals[0].get("value"))
        who = _speaker_word(str(arrivals[0].get("channel") or ""))
        return (f"The room no longer matches its calibration: the {who} speaker arrives {abs(v):.2f} ms "
                f"{'later' if v > 0 else 'earlier'} than when it was calibrated (moved?).")
    return "The room no longer matches its calibration."


def _verification_findings(verification: Any) -> list[Finding]:
    vm = as_mapping(verification)
    if not vm:
        return []
    verdict = str(vm.get("verdict", vm.get("overall", ""))).lower()
    checks = [as_mapping(c) for c in vm.get("checks", ())]
    order = {"fail": 0, "warn": 1}
    bad = sorted((c for c in checks if str(c.get("verdict", "")).lower() in order),
                 key=lambda c: order[str(c.get("verdict")).lower()])  # stable: the verifier's own order
    when = f" ({vm.get('time_utc')})" if vm.get("time_utc") else ""
    if verdict == "fail" or any(str(c.get("verdict")).lower() == "fail" for c in bad):
        parts = "; ".join(_check_words(c) for c in bad[:4])
        more = f"; and {len(bad) - 4} more" if len(bad) > 4 else ""
        # above every room finding: the calibration in use is no longer valid
        return [Finding(10.5, ATTENTION, "verification", _verification_headline(bad),
                        f"Latest verification{when}: {parts or 'see the table'}{more}.",
                        "Find what changed (a gain knob, a moved speaker, new furniture) and put it back; if the "
                        "change is intended, measure again and re-run `roomtruth correct`.", "drift")]
    if verdict == "warn":
        return [Finding(3.0, NOTE, "verification", "The room has drifted slightly since its calibration.",
                        f"Latest verification{when}, checks at warning level: "
                        + "; ".join(_check_words(c) for c in bad[:4]) + ".",
                        "Watch the trend in the history; nothing to do yet.", "drift")]
    return []


noise_findings = _noise_findings
distortion_findings = _distortion_findings
compliance_findings = _compliance_findings
verification_findings = _verification_findings
