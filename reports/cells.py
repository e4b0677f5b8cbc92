"""Table cells of the report: numbers with their units, compliance checks and verification
limits written the way a standard states them (a count and the worst band for per-band
checks, ±/≤/≥ for limits), typographic minus signs."""

from __future__ import annotations

import math
from typing import Any, Mapping

__all__ = ["compliance_cells", "fmt_value", "summarise", "minus", "verification_limit"]


def _fmt(x: Any, spec: str = ".2f", unit: str = "") -> str:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return "—" if x is None else str(x)
    if not math.isfinite(v):
        return "—"
    return f"{v:{spec}}{(' ' + unit) if unit else ''}"


def _summarise(v: Any, unit: str) -> str:
    """A compliance value or limit as one short cell: numbers with their unit, a range as
    lo–hi, long per-band lists and tables as a count (the figure shows them)."""
    if isinstance(v, Mapping):
        if all(isinstance(x, (list, tuple)) for x in v.values()):
            n = max((len(x) for x in v.values()), default=0)
            return f"per band ({n} bands, see figure)"
        return ", ".join(f"{k.replace('_', ' ')} {_summarise(x, '')}" for k, x in v.items())
    if isinstance(v, (list, tuple)):
        if len(v) == 2 and all(isinstance(x, (int, float)) for x in v):
            return f"{_fmt(v[0], '.2f')}–{_fmt(v[1], '.2f', unit)}"
        nums = [float(x) for x in v if isinstance(x, (int, float)) and math.isfinite(float(x))]
        if len(v) > 3 and nums:
            return f"{min(nums):.2f} … {max(nums):.2f} {unit} ({len(v)} bands)".strip()
        return ", ".join(_summarise(x, unit) for x in v)
    if isinstance(v, str):
        return v
    return _fmt(v, ".2f", unit)


_CHECK_LABELS = {
    "reverberation_time": "Reverberation time (mean 200 Hz–4 kHz)",
    "reverberation_mask": "Reverberation time per third-octave band",
    "reverberation_adjacent": "Reverberation, neighbouring bands",
    "early_reflections": "Early reflections (1–8 kHz, first 15 ms)",
    "room_response": "Response at the listening position",
    "background_noise": "Background noise",
    "level_matching": "Level matching",
    "response_matching": "Response matching (250 Hz–2 kHz)",
    "arrival_matching": "Arrival matching",
    "polarity": "Polarity",
    "floor_area": "Floor area",
    "proportions": "Room proportions",
}


def _minus(text: str) -> str:
    """Typographic minus signs in a number string (−6.4, not -6.4)."""
    return text.replace("-", "\u2212")


def compliance_cells(cm: Mapping[str, Any]) -> tuple[str, str, str, str]:
    """(check, measured, limit, detail) of one compliance check as short, readable cells.

    Per-band checks are summarised by count and worst band (the figures show every band);
    everything else is a number with its unit and the limit written the way the standard
    states it (≤, <, a range)."""
    from reports.findings_checks import _band, mask_summary, response_summary

    name = str(cm.get("check", cm.get("name", "")))
    value, limit, unit = cm.get("value"), cm.get("limit"), str(cm.get("unit", "") or "")
    detail = str(cm.get("detail") or "")
    label = _CHECK_LABELS.get(name, name.replace("_", " ").capitalize())
    num = _fmt(value, ".2f", unit) if value is not None else "—"
    lim = _summarise(limit, unit)
    if name == "reverberation_mask":
        ms = mask_summary(value, limit)
        if ms is not None:
            num = f"{ms['n_out']} of {ms['n_bands']} bands outside"
            lim = "Tech 3276 mask around Tm (figure below)"
            if ms["worst"] is not None:
                fb, t, lw, up = ms["worst"]
                detail = (f"furthest at {_band(fb)}: {t:.2f} s, "
                          + (f"limit {up:.2f} s" if t > up else f"at least {lw:.2f} s"))
            else:
                detail = "every band inside the mask"
    elif name == "room_response":
        rs = response_summary(value, limit)
        if rs is not None:
            num = f"{rs['n_out']} of {rs['n_values']} band levels outside"
            lim = "Tech 3276 tolerance (figures below)"
            if rs["outside"]:
                _, ch, fb, v, lw, up = rs["outside"][0]
                detail = _minus(f"furthest: {ch} {_band(fb)} {v:+.1f} dB (tolerance {lw:+.1f} to {up:+.1f} dB)")
    elif name == "reverberation_adjacent" and isinstance(limit, Mapping):
        n = int(_num_or(value, 0))
        num = "none" if n == 0 else f"{n} step{'s' if n != 1 else ''} too large"
        split = _num_or(limit.get("split_hz"))
        lim = (f"≤ {_num_or(limit.get('max_diff_s')):g} s apart above {split:g} Hz, "
               f"≤ {100 * _num_or(limit.get('max_ratio')):g} % below")
    elif name == "level_matching" and isinstance(limit, Mapping):
        lim = (f"front pair < {_num_or(limit.get('front_pair_db')):g} dB, "
               f"any two ≤ {_num_or(limit.get('any_pair_db')):g} dB")
        detail = detail or ""
    elif name == "proportions" and isinstance(value, (list, tuple)) and len(value) == 3:
        num = " : ".join(f"{float(v):.2f}" for v in value) + " (H : W : L)"
    elif name == "background_noise":
        num = "—" if value is None else f"NR {_num_or(value):.0f}"
        lim = f"≤ NR {_num_or(limit):g}" if isinstance(limit, (int, float)) else lim
    elif name == "polarity":
        lim = "all the same" if limit == "same" else lim
    elif name == "floor_area":
        num = _fmt(value, ".1f", unit)
        if isinstance(limit, (list, tuple)) and len(limit) == 2:
            lim = f"{_num_or(limit[0]):g}–{_num_or(limit[1]):g} {unit}"
    elif isinstance(limit, (int, float)) and not isinstance(limit, bool) and isinstance(value, (int, float)):
        # a one-sided limit: at most (or, for a level re direct, at least this far below)
        sign = "≤"
        lim = f"{sign} {_fmt(limit, 'g', unit)}"
        num = _fmt(value, ".2f", unit)
    return label, _minus(num), _minus(lim), _minus(detail) if name != "room_response" else detail


#: verification checks judged on |value| (a change either way): their limit reads ±x
_SYMMETRIC_CHECKS = ("level", "channel_match", "arrival", "band_deviation", "temperature")


def _verification_limit(name: str, limit: Any, unit: str) -> str:
    """A verification check's limit the way it is judged: ±x for a change either way, ≥ x
    for the polarity correlation (inverted below 0), ≤ x for the rest (a drop, a shift,
    a distortion level)."""
    txt = _fmt(limit, ".2f", unit)
    if txt == "—":
        return txt
    sign = "±" if name in _SYMMETRIC_CHECKS else "≥ " if name == "polarity" else "≤ "
    return _minus(sign + txt)


def _num_or(x: Any, default: float = float("nan")) -> float:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return default
    return v if math.isfinite(v) else default


fmt_value = _fmt
summarise = _summarise
minus = _minus
verification_limit = _verification_limit
