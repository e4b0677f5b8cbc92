"""Building blocks of the findings: the :class:`Finding` record, the thresholds, and the
room-physics helpers (Rayleigh modes, naming a mode after its walls, what to do about a
reflecting surface) shared by :mod:`reports.findings` and :mod:`reports.findings_checks`."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

__all__ = [
    "ATTENTION", "NOTE", "GOOD", "Finding", "FindingThresholds", "as_mapping", "speed_of_sound_m_s",
    "rayleigh_modes", "describe_mode", "surface_action",
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
        treat = f"bass trapping at the {_AXIS_WALLS[ax]}, in the corners where they meet the other surfaces"
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

