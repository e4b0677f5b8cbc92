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
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

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

ATTENTION, NOTE, GOOD = "attention", "note", "good"
_ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth")
_AXIS_NAMES = ("length", "width", "height")
_AXIS_WALLS = ("front and back walls", "side walls", "floor and ceiling")


@dataclass(frozen=True)
class Finding:
    """One finding.

    Attributes
    ----------
    severity : float
        How much it matters, 0 (good news) .. ~10 (fix first); the ranking key.
    level : str
        ``"attention"`` (outside a standard's limit or clearly audible), ``"note"``
        (worth knowing) or ``"good"``.
    category : str
        ``mode``, ``reflection``, ``timing``, ``level``, ``decay``, ``noise``,
        ``compliance``, ``verification`` or ``summary``.
    sentence : str
        The plain-language headline.
    evidence : str
        The figures it rests on.
    action : str
        What to do, or what the correction already does.
    figure : str
        Key of the report figure that shows it ("" if none).
    """

    severity: float
    level: str
    category: str
    sentence: str
    evidence: str
    action: str
    figure: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"severity": round(self.severity, 2), "level": self.level, "category": self.category,
                "sentence": self.sentence, "evidence": self.evidence, "action": self.action, "figure": self.figure}


@dataclass(frozen=True)
class FindingThresholds:
    """When something becomes worth saying.

    mode_note_db, mode_attention_db : float
        Prominence of a mode above the local average (dB).  3 dB is the analysis issue's
        detection floor; 6 dB is about where a single bass note clearly stands out.
    reflection_criterion_db, reflection_window_ms : float
        EBU Tech 3276: reflections within 15 ms ≥ 10 dB below the direct sound
        (STANDARDS.md §3.3, [S]).  Reflections within 5 dB of the criterion are notes.
    arrival_note_ms, arrival_attention_ms : float
        Arrival-time difference of a speaker pair.  BS.1116 asks ≤ 10 µs for the monitors
        themselves (§3.8, [U]); 0.05 ms is our noticeable-in-principle line and 0.1 ms
        (a 3.4 cm path difference) already shifts a centred phantom image.
    level_note_db, level_attention_db : float
        Level match of a pair, 250 Hz–2 kHz: < 0.5 dB front pair, ≤ 1 dB any two channels
        (EBU Tech 3343, §3.5, [V]).
    noise_preferred_nr, noise_limit_nr : float
        ≤ NR 10 preferred, never > NR 15 (Tech 3276 / BS.1116, §3.6, [U]).
    mode_match_rel : float
        Relative frequency tolerance for naming a detected mode after a predicted one.
    distortion_lf_pct, distortion_hf_pct, distortion_split_hz : float
        BS.1116 monitor distortion limits: ≤ 3 % below 250 Hz, ≤ 1 % above (at 90 dB SPL;
        §3.8, [U]), judged over ``distortion_lo_hz``..``distortion_hi_hz``.
    """

    mode_note_db: float = 3.0
    mode_attention_db: float = 6.0
    reflection_criterion_db: float = -10.0
    reflection_window_ms: float = 15.0
    reflection_note_margin_db: float = 5.0
    arrival_note_ms: float = 0.05
    arrival_attention_ms: float = 0.1
    level_note_db: float = 0.5
    level_attention_db: float = 1.0
    noise_preferred_nr: float = 10.0
    noise_limit_nr: float = 15.0
    mode_match_rel: float = 0.04
    eq_match_octaves: float = 1.0 / 6.0
    distortion_lf_pct: float = 3.0
    distortion_hf_pct: float = 1.0
    distortion_split_hz: float = 250.0
    distortion_lo_hz: float = 40.0
    distortion_hi_hz: float = 10_000.0


# ---------------------------------------------------------------------------- helpers
def as_mapping(obj: Any) -> Mapping[str, Any]:
    """A result object as a mapping: itself, its ``to_dict()``, or its public attributes."""
    if obj is None:
        return {}
    if isinstance(obj, Mapping):
        return obj
    if hasattr(obj, "to_dict"):
        return obj.to_dict()
    if hasattr(obj, "__dataclass_fields__"):
        return {k: getattr(obj, k) for k in obj.__dataclass_fields__}
    return {k: getattr(obj, k) for k in dir(obj) if not k.startswith("_")}


def _num(x: Any, default: float = float("nan")) -> float:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return default
    return v if math.isfinite(v) else default


def _signed(v: float, spec: str) -> str:
    """A number with a typographic minus sign (−6, not -6)."""
    return format(v, spec).replace("-", "\u2212")


def speed_of_sound_m_s(temperature_c: float = 20.0) -> float:
    """c = 331.3·√(1 + θ/273.15) m/s (STANDARDS.md quick table, textbook)."""
    return 331.3 * math.sqrt(1.0 + temperature_c / 273.15)


def rayleigh_modes(dims_m: Sequence[float], *, max_hz: float = 300.0, temperature_c: float = 20.0,
                   max_index: int = 8) -> list[dict[str, Any]]:
    """Modes of a rigid rectangular room (STANDARDS.md §4.1), sorted by frequency.

    ``f = (c/2)·√((nx/Lx)² + (ny/Ly)² + (nz/Lz)²)``; kind axial/tangential/oblique by the
    number of non-zero indices.  Each entry: ``freq_hz``, ``indices`` (nx, ny, nz), ``kind``.
    """
    lx, ly, lz = (float(d) for d in dims_m)
    c = speed_of_sound_m_s(temperature_c)
    out = []
    rng = range(max_index + 1)
    for nx in rng:
        for ny in rng:
            for nz in rng:
                if nx == ny == nz == 0:
                    continue
                f = 0.5 * c * math.sqrt((nx / lx) ** 2 + (ny / ly) ** 2 + (nz / lz) ** 2)
                if f <= max_hz:
                    k = sum(1 for n in (nx, ny, nz) if n)
                    out.append({"freq_hz": f, "indices": (nx, ny, nz),
                                "kind": ("axial", "tangential", "oblique")[k - 1]})
    return sorted(out, key=lambda m: m["freq_hz"])


def _indices_of(pred: Any) -> tuple[int, int, int] | None:
    if pred is None or pred is False:
        return None
    p = as_mapping(pred) if not isinstance(pred, (list, tuple)) else {"indices": pred}
    idx = p.get("indices") or p.get("n") or p.get("order")
    if idx is None and all(k in p for k in ("nx", "ny", "nz")):
        idx = (p["nx"], p["ny"], p["nz"])
    if idx is None or len(idx) != 3:
        return None
    return tuple(int(i) for i in idx)  # type: ignore[return-value]


def describe_mode(indices: tuple[int, int, int], dims_m: Sequence[float] | None) -> tuple[str, str]:
    """(what it is, where to treat it) for a mode with Rayleigh indices (nx, ny, nz).

    Axial modes are named by the dimension they span ("the first width mode of the room
    (side walls 3.65 m apart)"); their pressure maxima lie at those walls, so bass trapping
    goes in the corners where those walls meet the others."""
    nonzero = [i for i, n in enumerate(indices) if n]
    if len(nonzero) == 1:
        ax = nonzero[0]
        n = indices[ax]
        order = _ORDINALS[n - 1] if n <= len(_ORDINALS) else f"{n}th"
        where = f" ({_AXIS_WALLS[ax]} {float(dims_m[ax]):.2f} m apart)" if dims_m is not None else ""
        what = f"the {order} {_AXIS_NAMES[ax]} mode of the room{where}"
        treat = f"bass trapping in the corners of the {_AXIS_WALLS[ax]}"
        return what, treat
    idx = ",".join(str(i) for i in indices)
    if len(nonzero) == 2:
        what = f"a tangential mode ({idx}) between the {_AXIS_WALLS[nonzero[0]]} and the {_AXIS_WALLS[nonzero[1]]}"
    else:
        what = f"an oblique mode ({idx}) involving all six room surfaces"
    treat = "bass trapping in the room's corners (tri-corners first)"
    return what, treat


_SURFACE_ACTIONS = (
    (("desk", "console", "table", "meter bridge"),
     "angle the desk surface, move the speakers forward of the desk edge, or put them on stands behind it"),
    (("floor",), "a thick rug between the speakers and the listening position"),
    (("ceiling",), "an absorber (a cloud) on the ceiling at the first-reflection point"),
    (("side", "left wall", "right wall", "left", "right"),
     "broadband absorption (10 cm or more) at the first-reflection point on the side wall — find it with a mirror"),
    (("front",), "move the speakers further from the front wall, or absorb behind them"),
    (("back", "rear"), "absorption or diffusion on the back wall"),
)


def surface_action(surface: str | None) -> str:
    """What to do about a reflection off ``surface`` (a name from the analysis)."""
    s = (surface or "").lower()
    for keys, action in _SURFACE_ACTIONS:
        if any(k in s for k in keys):
            return action
    return "find the reflecting surface with a mirror at the listening position and absorb or re-angle it"


def _speaker_word(name: str) -> str:
    return {"L": "left", "R": "right", "C": "centre", "SUB": "subwoofer", "LFE": "LFE"}.get(name.upper(), name)


def _peq_near(profile: Any, freq_hz: float, octaves: float) -> list[tuple[str, Any]]:
    """Peaking cuts of the profile within ±``octaves`` of ``freq_hz`` as (speaker, biquad)."""
    if profile is None:
        return []
    hits = []
    for s in getattr(profile, "speakers", ()):
        for bq in getattr(s, "peq", ()):
            if bq.kind == "peaking" and bq.gain_db < 0 and abs(math.log2(bq.freq_hz / freq_hz)) <= octaves:
                hits.append((s.name, bq))
    return hits


def _has_fir(profile: Any) -> bool:
    return profile is not None and any(getattr(s, "fir", None) for s in getattr(profile, "speakers", ()))


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
            spk = sorted({s for s, _ in cuts})
            g = min(bq.gain_db for _, bq in cuts)
            fc = [bq.freq_hz for _, bq in cuts if bq.gain_db == g][0]
            eq = f"an EQ cut of {abs(g):.1f} dB at {fc:.0f} Hz is applied ({', '.join(spk)})"
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


def _reflection_findings(reflections: Sequence[Any], th: FindingThresholds) -> list[Finding]:
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
            per = "; ".join(f"{m.get('channel', '?')}: {_num(m.get('delay_ms')):.2f} ms, {_num(m.get('level_db')):.1f} dB"
                            for m in members)
            evidence = f"{per} (re direct sound); {path:.2f} m extra path for the loudest; "
        else:
            ch = rm.get("channel")
            evidence = (f"{d:.2f} ms after the direct sound{f' of {ch}' if ch else ''}, {lv:.1f} dB re direct, "
                        f"{path:.2f} m extra path; ")
        evidence += (f"{verdict} the Tech 3276 limit ({th.reflection_criterion_db:.0f} dB within "
                     f"{th.reflection_window_ms:.0f} ms).")
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
    first = float(arr.min())
    out = []
    for i, name in enumerate(names):
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


def _band_level_db(x: np.ndarray, fs: int, lo_hz: float = 250.0, hi_hz: float = 2000.0) -> float:
    spec = np.abs(np.fft.rfft(x)) ** 2
    f = np.fft.rfftfreq(x.size, 1.0 / fs)
    band = (f >= lo_hz) & (f <= hi_hz)
    return 10.0 * math.log10(max(float(spec[band].mean()), 1e-30))


def _level_findings(ir: Any, profile: Any, th: FindingThresholds) -> list[Finding]:
    if ir is None or ir.n_channels < 2:
        return []
    names = list(ir.channel_names)
    levels = [_band_level_db(ir.samples[i], ir.fs) for i in range(len(names))]
    ref = float(np.min(levels))
    out = []
    for i, name in enumerate(names):
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
    out += _reflection_findings(a.get("reflections") or (), th)
    out += _timing_findings(ir, profile, th)
    out += _level_findings(ir, profile, th)
    noise = a.get("noise")
    if noise:
        out += _noise_findings(as_mapping(noise), th)
    dist = a.get("distortion")
    if dist:
        out += _distortion_findings(as_mapping(dist), th)
    out += _compliance_findings(a.get("compliance") or ())
    out.sort(key=lambda f: (-f.severity, f.category))
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
