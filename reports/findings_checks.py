"""Findings from the standards' checks and the other stages: background noise against NR,
distortion against the BS.1116 monitor limits, the compliance table's failed checks, and the
latest verification."""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import numpy as np

from reports.findings_base import (ATTENTION, NOTE, Finding, FindingThresholds, _num, _speaker_word,
                                   as_mapping)

__all__ = ["noise_findings", "distortion_findings", "compliance_findings", "verification_findings"]


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
        return f"{_num(v[0]):.2f}–{_num(v[1]):.2f} {unit}".strip()
    x = _num(v)
    return f"{x:.2f} {unit}".strip() if math.isfinite(x) else str(v)


def _compliance_sentence(name: str, cm: Mapping[str, Any]) -> tuple[str, str, str, float, str]:
    """(sentence, evidence, action, severity, level) for one failed check."""
    value, limit, unit = cm.get("value"), cm.get("limit"), str(cm.get("unit", "") or "")
    detail = str(cm.get("detail") or "")
    ev_tail = f" ({detail})" if detail else ""
    if name == "reverberation_time":
        v = _num(value)
        lo, hi = (_num(limit[0]), _num(limit[1])) if isinstance(limit, (list, tuple)) else (math.nan, _num(limit))
        long_ = math.isfinite(hi) and v > hi
        sentence = (f"The room is {'too live' if long_ else 'too dead'}: the reverberation time averages {v:.2f} s, "
                    f"the standard asks {lo:.2f}–{hi:.2f} s for its volume.")
        action = ("Add broadband absorption (thick panels at the first-reflection points, the rear wall and the "
                  "ceiling)." if long_ else "Take some absorption out or add diffusion so the room does not sound dead.")
        return sentence, f"Mean T 200 Hz–4 kHz {v:.3f} s against {lo:.3f}–{hi:.3f} s{ev_tail}.", action, 5.0, ATTENTION
    if name == "reverberation_mask":
        n_out = detail.count(" Hz")
        sentence = f"The reverberation time leaves the standard's tolerance in {n_out or 'some'} third-octave bands."
        action = ("Bass traps for the low bands (below 300 Hz), broadband absorption for the rest; the decay plot "
                  "shows which bands.")
        return sentence, f"Tech 3276 mask around Tm{ev_tail}.", action, 4.0, ATTENTION
    if name == "reverberation_adjacent":
        sentence = "The reverberation time jumps between neighbouring bands" + (f" ({detail})." if detail else ".")
        return sentence, f"{_num(value):.0f} pair(s) of adjacent bands beyond the standard's step limit.", \
            "Uneven treatment: absorbers that work only in some bands; even it out.", 2.5, NOTE
    if name == "room_response":
        sentence = "The response at the listening position leaves the operational tolerance."
        action = ("Move the speakers or the seat a little (the mode map shows which modes); the correction EQ "
                  "takes care of the peaks it can.")
        return sentence, f"Third-octave response re its mid-band mean{ev_tail}.", action, 4.5, ATTENTION
    if name == "response_matching":
        sentence = "The left and right speakers do not sound the same" + (f": {detail}." if detail else ".")
        action = "Make the two sides of the room symmetric (speaker distances to walls, treatment, furniture)."
        return sentence, f"Largest third-octave difference {_num(value):.2f} dB, limit {_fmt_limit(limit, 'dB')}.", \
            action, 3.5, ATTENTION
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


def _compliance_findings(checks: Sequence[Any]) -> list[Finding]:
    out = []
    for c in checks:
        cm = as_mapping(c)
        passed = cm.get("passed", cm.get("verdict"))
        if passed is True or passed in ("pass", "skip", None):
            continue
        name = str(cm.get("check") or cm.get("name") or "check")
        if name in _COVERED:
            continue
        sentence, evidence, action, sev, level = _compliance_sentence(name, cm)
        figure = {"reverberation_time": "decay", "reverberation_mask": "decay", "reverberation_adjacent": "decay",
                  "room_response": "response", "response_matching": "lr"}.get(name, "")
        out.append(Finding(sev, level, "compliance", sentence, evidence, action, figure))
    return out


def _verification_findings(verification: Any) -> list[Finding]:
    vm = as_mapping(verification)
    if not vm:
        return []
    verdict = str(vm.get("verdict", vm.get("overall", ""))).lower()
    checks = vm.get("checks", ())
    bad = [as_mapping(c) for c in checks if str(as_mapping(c).get("verdict", "")).lower() in ("fail", "warn")]
    if verdict == "fail" or any(str(c.get("verdict")).lower() == "fail" for c in bad):
        parts = ", ".join(f"{c.get('name')} {c.get('channel', '')}".strip() for c in bad[:4])
        # above every room finding: the calibration in use is no longer valid
        return [Finding(10.5, ATTENTION, "verification", "The room no longer matches its calibration.",
                        f"Failed checks: {parts or 'see the table'}.",
                        "Find what changed (speaker moved, gain knob, new furniture) and re-measure; re-run "
                        "`roomtruth correct` if the change is intended.", "drift")]
    if verdict == "warn":
        return [Finding(3.0, NOTE, "verification", "The room has drifted slightly since its calibration.",
                        "Checks at warning level: " + ", ".join(str(c.get("name")) for c in bad[:4]) + ".",
                        "Watch the trend in the history; nothing to do yet.", "drift")]
    return []


noise_findings = _noise_findings
distortion_findings = _distortion_findings
compliance_findings = _compliance_findings
verification_findings = _verification_findings
