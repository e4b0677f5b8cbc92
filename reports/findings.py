"""Findings in plain language, ranked by how much they matter.

Each :class:`Finding` is one sentence a mastering engineer would say to a client, tied to
its evidence (the numbers and where they come from) and an action (what to do, or what the
correction already does)::

    "A 7 dB peak at 47 Hz — the first width mode of the room (side walls 3.65 m apart)."
    "An early reflection at 2.1 ms, −6 dB: likely the desk."
    "The left speaker arrives 0.30 ms late."

and for a room without problems, one reassuring line and nothing alarming.

Inputs are the analysis' JSON contract (``RoomAnalysis.to_dict()``: ``modes``,
``reflections``, ``decay``, ``noise``, ``compliance``...), the measured
:class:`~calib.types.ImpulseResponse` (arrival times, levels), the room's dimensions and the
:class:`~calib.profile.CalibrationProfile` (to say what the correction already does).
Thresholds live in :class:`FindingThresholds`; those that come from the listening-room
standards cite STANDARDS.md and carry its confidence tag.
"""
from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import numpy as np

from reports.findings_base import (ATTENTION, GOOD, NOTE, Finding, FindingThresholds, _has_fir, _indices_of, _num,
                                   _peq_near, _signed, _speaker_word, as_mapping, describe_mode, rayleigh_modes,
                                   speed_of_sound_m_s, surface_action)
from reports.findings_checks import (_compliance_findings, _distortion_findings, _noise_findings,
                                     _verification_findings)

__all__ = [
    "Finding",
    "FindingThresholds",
    "room_findings",
    "rayleigh_modes",
    "speed_of_sound_m_s",
    "describe_mode",
    "surface_action",
    "as_mapping",
    "ATTENTION",
    "NOTE",
    "GOOD",
]


# ---------------------------------------------------------------------------- per topic
def _mode_findings(modes: Sequence[Any], dims_m: Sequence[float] | None, profile: Any,
                   th: FindingThresholds, temperature_c: float, schroeder_hz: float = math.nan) -> list[Finding]:
    out = []
    predicted = rayleigh_modes(dims_m, max_hz=400.0, temperature_c=temperature_c) if dims_m is not None else []
    for mm, channels in _merge_modes(modes, th):
        f = _num(mm.get("freq_hz"))
        lv = _num(mm.get("level_db"))
        t60 = _num(mm.get("t60_s"))
        q = _num(mm.get("q"))
        if (math.isfinite(schroeder_hz) and f > schroeder_hz) or "statistical" in str(mm.get("reason") or ""):
            # above the Schroeder frequency modes overlap: a peak there is a feature of the
            # diffuse field at this seat, not one mode to name or trap
            sentence = (f"A {lv:.0f} dB peak at {f:.0f} Hz, above the room's Schroeder frequency"
                        + (f" ({schroeder_hz:.0f} Hz)" if math.isfinite(schroeder_hz) else "") + ".")
            ev = f"{lv:.1f} dB above the local average; overlapping modes, a statistical peak of the response here."
            act = ("Moving the seat or the speakers by 10–20 cm changes it; "
                   + ("the correction EQ covers it." if _peq_near(profile, f, th.eq_match_octaves) or _has_fir(profile)
                      else "a broad EQ cut is possible, bass trapping is not the tool here."))
            out.append(Finding(min(4.0, 0.5 * lv), NOTE, "mode", sentence, ev, act, "response"))
            continue
        idx = _indices_of(mm.get("predicted"))
        if idx is None and predicted:
            best = min(predicted, key=lambda p: abs(p["freq_hz"] - f))
            # prefer an axial mode when two predictions are about as close (axial modes carry
            # the most energy, STANDARDS.md §4.1)
            close = [p for p in predicted if abs(p["freq_hz"] - f) <= th.mode_match_rel * f]
            axial = [p for p in close if p["kind"] == "axial"]
            pick = min(axial, key=lambda p: abs(p["freq_hz"] - f)) if axial else (best if best in close else None)
            idx = pick["indices"] if pick else None
        if idx is not None:
            what, treat = describe_mode(idx, dims_m)
            sentence = f"A {lv:.0f} dB peak at {f:.0f} Hz — {what}."
        else:
            what = ""
            treat = "bass trapping in the corners nearest the speakers; try moving the speakers or the seat by 20–30 cm"
            sentence = (f"A {lv:.0f} dB peak at {f:.0f} Hz" +
                        (" that the room's dimensions do not explain (speaker placement or a coupled space)."
                         if dims_m is not None else "."))
        who = f" ({' and '.join(channels)})" if channels else ""
        ev = [f"{lv:.1f} dB above the local average at {f:.1f} Hz{who}"]
        if math.isfinite(q):
            ev.append(f"Q {q:.1f}")
        if math.isfinite(t60):
            ev.append(f"rings for {t60:.2f} s (T60)")
        cuts = _peq_near(profile, f, th.eq_match_octaves)
        if cuts:
            eq = _quote_cuts(cuts)
        elif _has_fir(profile):
            eq = "the FIR correction flattens it at the listening position"
        elif profile is not None:
            eq = "no EQ cut is applied to it yet"
        else:
            eq = "an EQ cut would tame it at the listening position"
        action = f"{treat[0].upper()}{treat[1:]}; {eq}."
        sev = min(10.0, lv + (max(t60 - 0.3, 0.0) * 5.0 if math.isfinite(t60) else 0.0))
        level = ATTENTION if lv >= th.mode_attention_db else NOTE
        out.append(Finding(sev, level, "mode", sentence, "; ".join(ev) + ".", action, "modes"))
    return out


def _quote_cuts(cuts: Sequence[tuple[str, Any]]) -> str:
    """Each speaker's own deepest cut near a mode, quoted as that speaker's filter: 'EQ cuts of
    11.4 dB at 140 Hz (L) and 4.3 dB at 138 Hz (R) are applied'; speakers whose cuts read the
    same (0.1 dB, 1 Hz) share one phrase: 'an EQ cut of 7.0 dB at 47 Hz is applied (L, R)'."""
    own: dict[str, Any] = {}
    for spk, bq in cuts:
        if spk not in own or bq.gain_db < own[spk].gain_db:
            own[spk] = bq
    phrases: dict[str, list[str]] = {}
    for spk in sorted(own):
        bq = own[spk]
        phrases.setdefault(f"{abs(bq.gain_db):.1f} dB at {bq.freq_hz:.0f} Hz", []).append(spk)
    if len(phrases) == 1:
        (k, v), = phrases.items()
        return f"an EQ cut of {k} is applied ({', '.join(v)})"
    parts = [f"{k} ({', '.join(v)})" for k, v in phrases.items()]
    return "EQ cuts of " + ", ".join(parts[:-1]) + f" and {parts[-1]} are applied"


def _merge_modes(modes: Sequence[Any], th: FindingThresholds) -> list[tuple[Mapping[str, Any], list[str]]]:
    """Modes above the note threshold, the same mode seen in several channels merged into
    one (frequencies within ``mode_match_rel``; the most prominent instance is kept)."""
    kept: list[tuple[Mapping[str, Any], list[str]]] = []
    cand = [as_mapping(m) for m in modes]
    cand = [m for m in cand if math.isfinite(_num(m.get("freq_hz"))) and _num(m.get("level_db"), -1e9) >= th.mode_note_db]
    for m in sorted(cand, key=lambda m: -_num(m.get("level_db"))):
        f = _num(m.get("freq_hz"))
        ch = m.get("channel")
        for km, chans in kept:
            if abs(_num(km.get("freq_hz")) - f) <= th.mode_match_rel * f:
                if ch and ch not in chans:
                    chans.append(str(ch))
                break
        else:
            kept.append((m, [str(ch)] if ch else []))
    return kept


def _merge_reflections(reflections: Sequence[Any]) -> list[tuple[Mapping[str, Any], list[Mapping[str, Any]]]]:
    """Reflections grouped by surface across channels (the loudest instance leads);
    reflections without a surface stay on their own."""
    groups: dict[Any, list[Mapping[str, Any]]] = {}
    for i, r in enumerate(reflections):
        rm = as_mapping(r)
        key = rm.get("surface") or ("_", i)
        groups.setdefault(key, []).append(rm)
    out = []
    for members in groups.values():
        lead = max(members, key=lambda m: _num(m.get("level_db"), -1e9))
        out.append((lead, members))
    return out


def _band_limited_reflection(compliance: Sequence[Any]) -> tuple[str, float, float] | None:
    """(channel, delay_ms, level_db) of the analysis' early_reflections check: the strongest
    reflection in the standard's own 1–8 kHz band (its detail reads "... : R at 3.69 ms")."""
    import re

    for c in compliance or ():
        cm = as_mapping(c)
        if cm.get("check") != "early_reflections":
            continue
        m = re.search(r":\s*(\S+) at ([0-9.]+) ms", str(cm.get("detail") or ""))
        lv = _num(cm.get("value"))
        if m and math.isfinite(lv):
            return m.group(1), float(m.group(2)), lv
    return None


def _reflection_findings(reflections: Sequence[Any], th: FindingThresholds,
                         band_check: tuple[str, float, float] | None = None) -> list[Finding]:
    out = []
    for rm, members in _merge_reflections(reflections):
        d = _num(rm.get("delay_ms"))
        lv = _num(rm.get("level_db"))
        if not (math.isfinite(d) and math.isfinite(lv)) or d > th.reflection_window_ms or d <= 0:
            continue
        margin = lv - th.reflection_criterion_db
        if margin <= -th.reflection_note_margin_db:
            continue
        surface = rm.get("surface") or None
        path = _num(rm.get("path_m"))
        if not math.isfinite(path):
            path = d / 1000.0 * speed_of_sound_m_s()
        if surface:
            who = f": likely the {surface}"
        elif path < 1.0:
            who = ": likely the desk or something close to the speaker"
        else:
            who = ""
        sentence = f"An early reflection at {d:.1f} ms, {_signed(lv, '.0f')} dB{who}."
        verdict = ("louder than" if margin > 0 else "within 5 dB of")
        if len(members) > 1:
            per = "; ".join(f"{m.get('channel', '?')}: {_num(m.get('delay_ms')):.2f} ms, "
                            f"{_signed(_num(m.get('level_db')), '.1f')} dB" for m in members)
            evidence = f"{per} (re direct sound); {path:.2f} m extra path for the loudest; "
        else:
            ch = rm.get("channel")
            evidence = (f"{d:.2f} ms after the direct sound{f' of {ch}' if ch else ''}, {_signed(lv, '.1f')} dB re direct, "
                        f"{path:.2f} m extra path; ")
        evidence += (f"{verdict} the Tech 3276 limit ({_signed(th.reflection_criterion_db, '.0f')} dB within "
                     f"{th.reflection_window_ms:.0f} ms)")
        if band_check is not None and any(
                str(m.get("channel")) == band_check[0] and abs(_num(m.get("delay_ms")) - band_check[1]) <= 0.1
                for m in members):
            # the compliance table judges this same reflection in 1-8 kHz only: say both numbers
            evidence += (f"; in the 1–8 kHz band the standard judges, {_signed(band_check[2], '.1f')} dB "
                         f"({band_check[0]} at {band_check[1]:.2f} ms)")
        evidence += "."
        action = surface_action(surface if surface else ("desk" if path < 1.0 else None))
        action = action[0].upper() + action[1:] + "; EQ cannot remove a reflection."
        sev = min(10.0, 6.0 + margin) if margin > 0 else 2.0 + 0.4 * (margin + th.reflection_note_margin_db)
        out.append(Finding(max(sev, 0.5), ATTENTION if margin > 0 else NOTE, "reflection", sentence, evidence,
                           action, "etc"))
    return out


def _timing_findings(ir: Any, profile: Any, th: FindingThresholds) -> list[Finding]:
    if ir is None or len(getattr(ir, "arrival_samples", ())) < 2:
        return []
    names = list(ir.channel_names)
    arr = np.asarray(ir.arrival_samples, dtype=np.float64) / ir.fs * 1000.0  # ms
    # a band-limited channel (a subwoofer) has no sharp direct sound; bass management aligns it
    # at the crossover (correct's alignment, verify's bass_sum), so it is not timed here
    limited = _band_limited(ir)
    arr = np.where(limited, np.inf, arr)
    if np.isinf(arr).all():
        return []
    first = float(arr.min())
    out = []
    for i, name in enumerate(names):
        if limited[i]:
            continue
        late_ms = float(arr[i] - first)
        if late_ms < th.arrival_note_ms:
            continue
        early = names[int(np.argmin(arr))]
        c = speed_of_sound_m_s()
        sentence = f"The {_speaker_word(name)} speaker arrives {late_ms:.2f} ms late."
        evidence = (f"Direct sound of {name} at {arr[i]:.3f} ms vs {early} at {first:.3f} ms: "
                    f"{late_ms * c / 1000.0 * 100:.1f} cm further from the listening position.")
        comp = None
        if profile is not None:
            try:
                d_early = profile.speaker(early).delay_s * 1000.0
                d_late = profile.speaker(name).delay_s * 1000.0
                comp = d_early - d_late
            except Exception:  # noqa: BLE001 - a profile without these speakers says nothing here
                comp = None
        if comp is not None and abs(comp - late_ms) <= max(0.02, 0.1 * late_ms):
            action = (f"A {comp:.2f} ms delay on the {_speaker_word(early)} speaker is applied, so both arrive together; "
                      f"moving the {_speaker_word(name)} speaker {late_ms * c / 10:.1f} cm closer would fix it acoustically.")
            level, sev = NOTE, 1.5
        else:
            action = (f"Move the {_speaker_word(name)} speaker {late_ms * c / 10:.1f} cm closer, or delay the "
                      f"{_speaker_word(early)} speaker by {late_ms:.2f} ms (the correction can do this).")
            level = ATTENTION if late_ms >= th.arrival_attention_ms else NOTE
            sev = min(8.0, 3.0 + 10.0 * late_ms)
        out.append(Finding(sev, level, "timing", sentence, evidence, action, "etc"))
    return out


def _band_limited(ir: Any) -> np.ndarray:
    """Per channel: band-limited (a subwoofer: no output in the 500 Hz-2 kHz level band)."""
    from calib.analysis.passband import band_limited_channels

    try:
        return np.array(band_limited_channels(ir), dtype=bool)
    except Exception:  # noqa: BLE001 - an IR the analysis cannot read: judge every channel as before
        return np.zeros(ir.n_channels, dtype=bool)


def _band_level_db(x: np.ndarray, fs: int, lo_hz: float = 250.0, hi_hz: float = 2000.0) -> float:
    spec = np.abs(np.fft.rfft(x)) ** 2
    f = np.fft.rfftfreq(x.size, 1.0 / fs)
    band = (f >= lo_hz) & (f <= hi_hz)
    return 10.0 * math.log10(max(float(spec[band].mean()), 1e-30))


def _level_findings(ir: Any, profile: Any, th: FindingThresholds) -> list[Finding]:
    if ir is None or ir.n_channels < 2:
        return []
    names = list(ir.channel_names)
    # a band-limited channel (a subwoofer) has no level in 250 Hz-2 kHz: not compared here
    limited = _band_limited(ir)
    levels = [np.inf if limited[i] else _band_level_db(ir.samples[i], ir.fs) for i in range(len(names))]
    if sum(not b for b in limited) < 2:
        return []
    ref = float(np.min(levels))
    out = []
    for i, name in enumerate(names):
        if limited[i]:
            continue
        diff = levels[i] - ref
        if diff < th.level_note_db:
            continue
        quiet = names[int(np.argmin(levels))]
        sentence = (f"The {_speaker_word(name)} speaker plays {diff:.1f} dB louder than the "
                    f"{_speaker_word(quiet)} one (250 Hz–2 kHz).")
        evidence = (f"Mean level 250 Hz–2 kHz: {name} {levels[i]:.2f} dB, {quiet} {ref:.2f} dB; "
                    f"Tech 3343 asks < 0.5 dB for the front pair.")
        trim = None
        if profile is not None:
            try:
                trim = profile.speaker(name).trim_db - profile.speaker(quiet).trim_db
            except Exception:  # noqa: BLE001
                trim = None
        if trim is not None and abs(trim + diff) <= 0.25:
            action = f"A trim of {trim:.1f} dB on the {_speaker_word(name)} speaker is applied."
            level, sev = NOTE, 1.0
        else:
            action = (f"Trim the {_speaker_word(name)} speaker by {-diff:.1f} dB (check the amplifier or "
                      f"speaker-back level first).")
            level = ATTENTION if diff >= th.level_attention_db else NOTE
            sev = min(7.0, 2.0 + 2.0 * diff)
        out.append(Finding(sev, level, "level", sentence, evidence, action, "lr"))
    return out


# ---------------------------------------------------------------------------- entry point
def room_findings(analysis: Any = None, *, ir: Any = None, dims_m: Sequence[float] | None = None,
                  profile: Any = None, verification: Any = None, temperature_c: float = 20.0,
                  thresholds: FindingThresholds | None = None) -> list[Finding]:
    """All findings about a room, most important first.

    Parameters
    ----------
    analysis : RoomAnalysis or mapping, optional
        The analysis (its ``to_dict()`` JSON contract: ``modes``, ``reflections``,
        ``noise``, ``compliance``).
    ir : ImpulseResponse, optional
        The measurement (arrival times and levels per speaker).
    dims_m : (length, width, height), optional
        Room dimensions (m), to name modes after the walls that make them.
    profile : CalibrationProfile, optional
        The correction, to say what it already does.
    verification : VerificationResult or mapping, optional
        The latest verification.

    Returns
    -------
    list of Finding
        Sorted by severity, highest first.  When nothing reaches ``note`` level, a single
        ``good`` finding says so.
    """
    th = thresholds or FindingThresholds()
    a = as_mapping(analysis)
    if dims_m is None and a.get("dims_m") is not None:
        dims_m = a.get("dims_m")
    out: list[Finding] = []
    out += _verification_findings(verification)
    out += _mode_findings(a.get("modes") or (), dims_m, profile, th, temperature_c, _num(a.get("schroeder_hz")))
    out += _reflection_findings(a.get("reflections") or (), th, _band_limited_reflection(a.get("compliance") or ()))
    out += _timing_findings(ir, profile, th)
    out += _level_findings(ir, profile, th)
    noise = a.get("noise")
    if noise:
        out += _noise_findings(as_mapping(noise), th)
    dist = a.get("distortion")
    if dist:
        out += _distortion_findings(as_mapping(dist), th)
    out += _compliance_findings(a.get("compliance") or ())
    # what needs attention comes first, then by how much it matters (a loud note must not
    # push an out-of-limit finding down the list)
    rank = {ATTENTION: 0, NOTE: 1, GOOD: 2}
    out.sort(key=lambda f: (rank.get(f.level, 1), -f.severity, f.category))
    if not any(f.level == ATTENTION for f in out):
        checked = []
        if a.get("modes") is not None:
            checked.append(f"no room mode stands {th.mode_attention_db:.0f} dB above its surroundings")
        if a.get("reflections") is not None:
            checked.append(f"early reflections stay {abs(th.reflection_criterion_db):.0f} dB below the direct sound")
        if ir is not None and ir.n_channels >= 2:
            checked.append("the speakers arrive together and match in level")
        text = "Nothing alarming: " + ("; ".join(checked) if checked else "no problem found in what was measured") + "."
        out.append(Finding(0.0, GOOD, "summary", text, "Every figure is within the thresholds listed in the report.",
                           "Keep verifying on schedule.", ""))
    return out
