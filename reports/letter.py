"""A letter to a mix engineer: what was consistent across the studio's mixes and what in
their room likely causes it.

The input is a studio's room fingerprint (``mixes.types.RoomFingerprint`` or its mapping):
per band, how the studio's mixes deviate from the reference (dB, positive = too much) and
a confidence 0..1, plus the studio name and the number of mixes it was estimated from;
optionally the per-mix deviations (``per_mix_excess_db``, n_mixes × n_bands) to count on
how many tracks a deviation appeared.  The physics of
the feedback loop: an engineer balances what the room lets them hear, so a room that
exaggerates a band (a mode's peak at the seat) produces mixes that lack it, and a room with
a dip (a null, or absorption) produces mixes with too much of it.  Mix excess = −room
deviation.  The letter speaks about the mixes first (what the mastering engineer had to
do) and about the room second (the likely cause and what to try).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from reports.findings import as_mapping

__all__ = ["Region", "consistent_regions", "write_letter", "band_name", "normalise_fingerprint",
           "write_patterns_letter", "pattern_paragraphs"]

_RANGES = (
    (0.0, 60.0, "sub-bass"),
    (60.0, 250.0, "low end"),
    (250.0, 500.0, "low mids"),
    (500.0, 2000.0, "midrange"),
    (2000.0, 6000.0, "presence range"),
    (6000.0, 1e9, "top end"),
)


def band_name(f_hz: float) -> str:
    """Plain-language name of the range a frequency belongs to."""
    for lo, hi, name in _RANGES:
        if lo <= f_hz < hi:
            return name
    return "top end"


@dataclass(frozen=True)
class Region:
    """A run of adjacent bands where the mixes deviate consistently.

    ``mix_excess_db`` > 0: the mixes carry too much there (the room hides it);
    < 0: too little (the room exaggerates it).  ``n_consistent`` of ``n_mixes`` mixes
    deviate the same way (−1 when per-mix data are absent: then only the fingerprint's
    confidence speaks for the consistency).
    """

    lo_hz: float
    hi_hz: float
    centre_hz: float
    mix_excess_db: float
    confidence: float
    n_consistent: int
    n_mixes: int

    @property
    def name(self) -> str:
        return band_name(self.centre_hz)


def _arr(x: Any) -> np.ndarray:
    return np.asarray([float("nan") if v is None else float(v) for v in np.ravel(np.asarray(x, dtype=object))],
                      dtype=np.float64)


def studio_display_name(fp: Mapping[str, Any]) -> str:
    """The studio's name as people write it.

    A fingerprint's ``studio`` is a folder-safe name (``Studio-Nord``: letters, digits,
    ``.``, ``_``, ``-``, see ``mixes.fingerprint.valid_studio_name``); a letter addresses
    ``Studio Nord``.  An explicit ``display_name`` wins."""
    shown = fp.get("display_name")
    if shown:
        return str(shown)
    name = str(fp.get("studio") or fp.get("name") or "").strip()
    if not name:
        return "your studio"
    return name if " " in name else " ".join(p for p in re.split(r"[-_]+", name) if p) or name


def normalise_fingerprint(fingerprint: Any) -> dict[str, Any]:
    """``{studio, n_mixes, bands_hz, room_deviation_db, confidence, per_mix_excess_db}``
    from a RoomFingerprint or mapping.

    Accepts ``deviation_db`` / ``mix_deviation_db`` (how the mixes deviate from the
    reference, positive = too much: ``mixes.types.RoomFingerprint``'s convention) or
    ``room_deviation_db`` (the room's own deviation, the opposite sign)."""
    fp = dict(as_mapping(fingerprint))
    bands = _arr(fp.get("bands_hz", fp.get("freqs_hz", ())))
    if "room_deviation_db" in fp:
        room = _arr(fp["room_deviation_db"])
    elif "deviation_db" in fp:
        room = -_arr(fp["deviation_db"])
    elif "mix_deviation_db" in fp:
        room = -_arr(fp["mix_deviation_db"])
    else:
        raise ValueError("fingerprint has no deviation (deviation_db, mix_deviation_db or room_deviation_db)")
    conf = _arr(fp.get("confidence", np.ones_like(room)))
    if not (bands.shape == room.shape == conf.shape):
        raise ValueError(f"fingerprint arrays differ in length: bands {bands.size}, deviation {room.size}, "
                         f"confidence {conf.size}")
    per_mix = fp.get("per_mix_excess_db", fp.get("per_mix_deviation_db"))
    per = None
    if per_mix is not None:
        per = np.asarray(per_mix, dtype=np.float64)
        if per.ndim != 2 or per.shape[1] != bands.size:
            per = None
    n = int(fp.get("n_mixes", per.shape[0] if per is not None else 0) or 0)
    return {"studio": studio_display_name(fp), "n_mixes": n,
            "bands_hz": bands, "room_deviation_db": room, "confidence": conf, "per_mix_excess_db": per}


def consistent_regions(fingerprint: Any, *, min_db: float = 2.0, min_confidence: float = 0.6) -> list[Region]:
    """Adjacent bands where the mixes deviate by at least ``min_db`` the same way with at
    least ``min_confidence``, largest |deviation| first."""
    fp = normalise_fingerprint(fingerprint)
    f, room, conf, per = fp["bands_hz"], fp["room_deviation_db"], fp["confidence"], fp["per_mix_excess_db"]
    excess = -room
    ok = np.isfinite(excess) & np.isfinite(conf) & (np.abs(excess) >= min_db) & (conf >= min_confidence)
    regions: list[Region] = []
    i = 0
    while i < f.size:
        if not ok[i]:
            i += 1
            continue
        j = i
        while j + 1 < f.size and ok[j + 1] and np.sign(excess[j + 1]) == np.sign(excess[i]):
            j += 1
        sl = slice(i, j + 1)
        k = i + int(np.argmax(np.abs(excess[sl])))
        mean = float(np.mean(excess[sl]))
        if per is not None:
            same = np.sign(np.mean(per[:, sl], axis=1)) == np.sign(mean)
            n_cons = int(np.sum(same))
            n_mix = per.shape[0]
        else:
            n_mix = fp["n_mixes"]
            n_cons = -1  # unknown: only the fingerprint's confidence says how consistent it was
        regions.append(Region(float(f[i]), float(f[j]), float(f[k]), mean, float(np.mean(conf[sl])), n_cons, n_mix))
        i = j + 1
    regions.sort(key=lambda r: -abs(r.mix_excess_db))
    return regions


def _hz(v: float) -> str:
    """A band centre by its nominal IEC 61260 name: 79.4 → "80 Hz", 3162 → "3.15 kHz"."""
    from calib.analysis.bands import nominal_label

    try:
        label = nominal_label(float(v))
    except Exception:  # noqa: BLE001 - a centre off the series: plain rounding
        return f"{v / 1000:.1f} kHz" if v >= 1000 else f"{v:.0f} Hz"
    return f"{label[:-1]} kHz" if label.endswith("k") else f"{label} Hz"


def _range_text(r: Region) -> str:
    hz = _hz
    if r.hi_hz / max(r.lo_hz, 1e-9) < 1.1:  # a single band
        return f"around {hz(r.centre_hz)}"
    return f"between {hz(r.lo_hz)} and {hz(r.hi_hz)}"


def _how_often(r: Region) -> str:
    if r.n_mixes <= 0:
        return "consistently"
    if r.n_consistent < 0:
        return f"consistently across the {r.n_mixes} mixes" if r.confidence >= 0.8 else \
            f"in most of the {r.n_mixes} mixes"
    if r.n_consistent >= r.n_mixes:
        return "on every track" if r.n_mixes > 2 else ("on both tracks" if r.n_mixes == 2 else "on the track")
    return f"on {r.n_consistent} of {r.n_mixes} tracks"


def _cause(r: Region) -> str:
    low = r.centre_hz < 300
    if r.mix_excess_db > 0:
        if low:
            return ("That is the signature of a room with a dip there at your listening position — usually a "
                    "room mode's null or a cancellation from the wall behind the speakers: you hear too little, "
                    "so you add more.")
        if r.centre_hz >= 2000:
            return ("That usually means the room or the speakers sound dull up there (a lot of absorption, "
                    "speakers not aimed at your ears, or a tweeter level set low), so you brighten to compensate.")
        return "That suggests your monitors or room are recessed in that range, so you push it up."
    if low:
        return ("That is the signature of a room that piles up bass there — a room mode's peak at the "
                "listening position: the room plays that range loud, so you turn it down.")
    if r.centre_hz >= 2000:
        return ("That suggests a bright room or speakers (hard reflective surfaces near the desk, a tweeter "
                "level set high), so you tame it.")
    return "That suggests your room or monitors exaggerate that range, so you pull it back."


def _advice(r: Region) -> str:
    if r.centre_hz < 300:
        return ("Bass traps in the corners, moving your chair 20–30 cm forward or back, and checking the low "
                "end on headphones or with a reference track before printing would help.")
    return "Comparing against two or three reference tracks you know well at the same loudness would help."


def write_letter(fingerprint: Any, *, mixes: Sequence[Any] = (), sender: str = "your mastering engineer",
                 per_mix_excess_db: Any = None, min_db: float = 2.0, min_confidence: float = 0.6,
                 patterns: Any = None) -> str:
    """The letter, as plain text paragraphs separated by blank lines.

    ``mixes`` (MixAnalysis or mappings with ``integrated_lufs``) add a sentence about
    loudness consistency when present; ``per_mix_excess_db`` (n_mixes × n_bands, positive =
    too much) lets the letter count on how many tracks each deviation appeared; ``patterns``
    (the ``mix patterns --json`` result, or its ``"patterns"`` list) adds what was consistent
    across the tracks (:func:`pattern_paragraphs`)."""
    if per_mix_excess_db is not None:
        fingerprint = {**dict(as_mapping(fingerprint)), "per_mix_excess_db": per_mix_excess_db}
    fp = normalise_fingerprint(fingerprint)
    regions = consistent_regions(fingerprint, min_db=min_db, min_confidence=min_confidence)
    n = fp["n_mixes"] or len(mixes)
    paras = [f"Dear {fp['studio']} team," if fp["studio"] != "your studio" else "Dear mix engineer,"]
    count = f"{n} of your mixes" if n else "your mixes"
    if not regions:
        paras.append(f"I have been through {count}, and nothing in their tonal balance points to your room: "
                     "no frequency range came out too strong or too weak consistently. Whatever your room does, "
                     "you are hearing past it. Keep doing what you are doing.")
    else:
        main = regions[0]
        what = "too much" if main.mix_excess_db > 0 else "too little"
        paras.append(
            f"I have been through {count}, and I noticed something in the {main.name} that you might want to know "
            f"about. The {main.name} needed attention {_how_often(main)}: the mixes carry {what} "
            f"{_range_text(main)} — {abs(main.mix_excess_db):.1f} dB on average against a neutral balance "
            f"(confidence {main.confidence:.0%}). {_cause(main)}")
        others = []
        for r in regions[1:3]:
            w = "more" if r.mix_excess_db > 0 else "less"
            others.append(f"{abs(r.mix_excess_db):.1f} dB {w} than neutral {_range_text(r)} ({r.name}, "
                          f"{_how_often(r)})")
        if others:
            paras.append("Smaller but also consistent: " + "; ".join(others) + ".")
        paras.append(_advice(main) + " None of this is a criticism of the mixes — it is the room talking, and "
                     "once you know what it says, you can mix past it.")
    extra = pattern_paragraphs(patterns, intro="Across the tracks, beyond the room:") if patterns else []
    paras.extend(extra)
    lufs = []
    for m in mixes:
        mm = as_mapping(m)
        v = mm.get("integrated_lufs")
        try:
            v = float(v)
        except (TypeError, ValueError):
            continue
        if math.isfinite(v):
            lufs.append(v)
    if len(lufs) >= 2:
        spread = max(lufs) - min(lufs)
        paras.append(f"On loudness the mixes sit between {min(lufs):.1f} and {max(lufs):.1f} LUFS integrated "
                     f"({spread:.1f} LU apart)" + (", nicely consistent." if spread <= 3 else
                                                   "; consider evening them out before mastering."))
    paras.append(f"Best regards,\n{sender}")
    return "\n\n".join(paras)


# --- patterns across a client's tracks (mixes.patterns) --------------------------------------

_PATTERN_ADVICE = {
    ("vocal_vs_reference", -1): ("A vocal that sits low track after track usually comes from mixing loud (at high "
                                 "volume a voice seems present enough) or from monitors that exaggerate the upper "
                                 "mids; check the vocal at a quiet listening level and against a reference before printing."),
    ("vocal_vs_reference", 1): ("A vocal that sits high track after track usually comes from mixing quietly or from a "
                                "dull-sounding room; check it at a normal level against a reference."),
    ("bass_vs_reference", 1): ("A heavy low end on most tracks is the signature of a room with a bass dip at your "
                               "seat: you hear too little, so you add more. Check the low end on headphones or with "
                               "a reference before printing."),
    ("bass_vs_reference", -1): ("A light low end on most tracks is the signature of a room that piles up bass at "
                                "your seat; bass traps or moving the chair, and a reference, would help."),
    ("plr_vs_reference", -1): ("The mix-bus compression and limiting is heavier than on your references; leave "
                               "the loudness to mastering and the transients will survive."),
    ("lr_balance", 1): "A lean that repeats on every song is the monitors or the seat, not the songs: check speaker levels and your position.",
    ("lr_balance", -1): "A lean that repeats on every song is the monitors or the seat, not the songs: check speaker levels and your position.",
    ("low_end_wide", 1): "Keep the low end mono below about 120 Hz (a stereo widener or reverb on the bass is the usual cause).",
    ("polarity_inverted", 1): "A channel is flipped somewhere in the master chain; check the mix-bus plugins and the export.",
    ("channel_offset", 1): ("The same delay between the channels on track after track points at the chain: a plugin "
                            "on one side whose latency is not compensated."),
    ("audible_clicks", 1): "Clicks on most tracks point at the export chain or an interface buffer setting, not the edits.",
}


def _pattern_list(patterns: Any) -> list[Mapping[str, Any]]:
    if isinstance(patterns, Mapping):
        patterns = patterns.get("patterns", [])
    out = []
    for p in patterns or []:
        out.append(as_mapping(p) if not isinstance(p, Mapping) else p)
    return out


def pattern_paragraphs(patterns: Any, *, intro: str = "") -> list[str]:
    """Paragraphs about the consistent findings across a client's tracks (empty without any).

    Each says what, on how many tracks and which ones, and (where there is one) what usually
    causes it; the figures come from :mod:`mixes.patterns`, which reports a finding only when it
    holds on at least 70 % of the tracks and passes a sign test."""
    paras = []
    for p in _pattern_list(patterns):
        what = str(p.get("what", "")).strip()
        if not what:
            continue
        evidence = [e for e in p.get("evidence") or [] if isinstance(e, Mapping)]
        with_ = [str(e.get("file")) for e in evidence if e.get("with")]
        # "with": null = the track has no figure for this measure (e.g. no vocal level could be
        # measured): neither with nor without the pattern
        without = [str(e.get("file")) for e in evidence if not e.get("with") and e.get("with") is not None]
        no_value = [str(e.get("file")) for e in evidence if e.get("with") is None]
        text = what[0].upper() + what[1:] + "."
        if without and len(without) <= 3:
            text += f" The exception{'s' if len(without) > 1 else ''}: {', '.join(without)}."
        elif with_ and len(with_) <= 3:
            text += f" ({', '.join(with_)}.)"
        if no_value and not all(f in what for f in no_value):   # mixes.patterns' sentence may name them
            label = "vocal level" if str(p.get("measure", "")).startswith("vocal") else "figure"
            shown = ", ".join(no_value[:3]) + (", ..." if len(no_value) > 3 else "")
            text += f" No {label} on {shown}."
        also = [str(a) for a in p.get("also") or [] if a]
        if also:
            text += " The spectrum says the same: " + "; ".join(also) + "."
        measure = str(p.get("measure", ""))
        v = p.get("value_db")
        sign = -1 if isinstance(v, (int, float)) and v < 0 else 1
        advice = _PATTERN_ADVICE.get((measure, sign))
        if advice is None and measure.startswith("spectrum_"):
            region = measure[len("spectrum_"):]
            advice = (f"The same correction in the {region} on track after track is what a room does: it "
                      "shows you that range louder or quieter than it is.")
        if advice:
            text += " " + advice
        paras.append(text)
    if paras and intro:
        paras[0] = intro + " " + paras[0]
    return paras


def write_patterns_letter(result: Any, *, sender: str = "your mastering engineer") -> str:
    """A letter to a client (mix engineer, producer, studio) about what was consistent across
    their tracks, from the ``mix patterns --json`` result ``{"client", "n_mixes", "patterns"}``."""
    r = as_mapping(result) if not isinstance(result, Mapping) else result
    name = studio_display_name({"studio": r.get("client")})
    n = int(r.get("n_mixes") or 0)
    paras = [f"Dear {name}," if name != "your studio" else "Dear mix engineer,"]
    body = pattern_paragraphs(r.get("patterns"))
    count = f"the {n} mixes of yours I have analysed" if n else "your mixes"
    if not body:
        paras.append(f"I have been through {count}, and nothing repeats from track to track: where a mix differs "
                     "from the references it is that song's own decision, not a habit or the room. Keep doing "
                     "what you are doing.")
    else:
        paras.append(f"I have been through {count}, and " + (
            "one thing came up on most of them — not a one-off decision but a pattern worth knowing about."
            if len(body) == 1 else
            "a few things came up on most of them — not one-off decisions but patterns worth knowing about."))
        paras.extend(body)
        paras.append("None of this is a criticism of the mixes; it is what the numbers say across the album, and "
                     "once you know it, you can mix past it.")
    paras.append(f"Best regards,\n{sender}")
    return "\n\n".join(paras)
