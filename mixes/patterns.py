"""Patterns across a client's body of work: what is consistent from track to track.

One track with a low vocal is a mix decision; the vocal low against the references on most
tracks of an album is a habit (or a room, or a monitor level) worth a letter.  Each stored mix
record (:mod:`mixes.clients`) gives a handful of figures against the references of its run:
the vocal and the low end (:mod:`mixes.balance`), the peak-to-loudness ratio
(:mod:`mixes.dynamics`), the spectrum per range (the LTAS comparison), the left/right balance
and yes/no findings (wide low end, inverted polarity, audible clicks, each artifact kind).

The rule (stated, and the same for every measure)
    For a figure ``v_i`` on the ``n`` tracks where it exists, and each direction ``s = ±1``:
    a track *has* the pattern when ``s v_i >= min_effect`` (the measure's minimum effect: 1 dB
    for the vocal (about the just-noticeable level difference), 1.5 dB for the low end (it is
    measured against the rest of the mix, which a vocal 2.5 dB low moves by up to ~0.9 dB on
    synthesized songs), 1.5 dB of PLR, 2 dB for a spectral range, 1 dB of L/R
    balance of the centred low end (monitors or a channel gain move it, panning does not);
    for a yes/no finding, when it is yes).  For a spectral range the yardstick is the larger
    of 2 dB and the references' own spread there (the LTAS comparison's tolerance):
    the sub-bass of songs in different keys varies by several dB, and a mix within that spread
    is not beyond its references.  With ``k`` such tracks the pattern is
    reported when

    * ``k / n >= MIN_SHARE`` (0.7), ``n >= MIN_TRACKS`` (3), and
    * a one-sided binomial (sign) test rejects chance: ``P(X >= k | n, P_CHANCE) <= ALPHA``
      with ``P_CHANCE = 0.25`` and ``ALPHA = 0.01``.  ``P_CHANCE`` is the probability that a
      track *without* the habit lands beyond the minimum effect on one given side anyway
      (song-to-song variation and measurement scatter); 0.25 is deliberately generous (the
      balance figures scatter well under the minimum effects on matched material), so a chance
      pattern is rare: 8 of 10 gives p = 4e-4, 4 of 4 gives 0.004, 3 of 3 (0.016) is not enough.

    Its figure is the median over the tracks that have it; the evidence lists every track.  A
    track analysed against references where the vocal's level could not be measured (no vocal
    found, or its level unsure) has no figure: ``n`` counts the tracks with one, and the
    sentence says how many had none and which (``"... on 8 of 9 tracks with a vocal level (no
    vocal level on 1: track05.wav)"``); the evidence lists them with ``"with": null``.
    A spectral pattern that a balance pattern explains (the low end's level and the sub-bass /
    low-end ranges; the vocal and the midrange / presence ranges, same direction) is folded
    into it (``also``), so one cause is said once.
    About 20 measure-directions are tested per client: at ``ALPHA = 0.01`` and the generous
    ``P_CHANCE`` the expected number of chance patterns per client is at most 0.2.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

__all__ = ["Pattern", "find_patterns", "patterns_for_client", "MIN_SHARE", "MIN_TRACKS", "P_CHANCE", "ALPHA", "binomial_tail"]

MIN_SHARE = 0.7
MIN_TRACKS = 3
P_CHANCE = 0.25
ALPHA = 0.01

# spectral ranges (Hz) of the LTAS comparison, named as the letter names them
RANGES = (
    ("sub-bass", 25.0, 56.0),
    ("low end", 56.0, 180.0),
    ("low mids", 180.0, 450.0),
    ("midrange", 450.0, 1800.0),
    ("presence range", 1800.0, 5600.0),
    ("top end", 5600.0, 18000.0),
)


def binomial_tail(k: int, n: int, p: float) -> float:
    """``P(X >= k)`` for ``X ~ Binomial(n, p)``."""
    if k <= 0:
        return 1.0
    return float(sum(math.comb(n, i) * p ** i * (1 - p) ** (n - i) for i in range(k, n + 1)))


@dataclass(frozen=True)
class Pattern:
    """One consistent finding across a client's tracks.

    Attributes
    ----------
    measure : str
        Machine name (``"vocal_vs_reference"``, ``"spectrum_low end"``, ``"low_end_wide"``, ...).
    what : str
        The sentence ("the vocal sits 2.5 dB lower than your references on 8 of 10 tracks").
    value_db : float or None
        Median figure over the tracks with the pattern (dB; None for a yes/no finding).
    tracks_with, tracks_total : int
    p_value : float
        One-sided binomial tail at ``P_CHANCE``.
    evidence : tuple of dict
        Per track: ``{"file", "value_db" | "value", "with"}``.
    """

    measure: str
    what: str
    value_db: float | None
    tracks_with: int
    tracks_total: int
    p_value: float
    evidence: tuple[dict, ...]
    also: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        d = {"what": self.what, "measure": self.measure,
             "value_db": None if self.value_db is None else round(float(self.value_db), 2),
             "tracks_with": self.tracks_with, "tracks_total": self.tracks_total,
             "p_value": float(f"{self.p_value:.3g}"), "evidence": [dict(e) for e in self.evidence]}
        if self.also:
            d["also"] = list(self.also)
        return d


# a balance pattern explains a spectral one in its own range and direction: a low end 4 dB high
# IS the low end needing a cut (the sign says: part higher <-> the range needs a cut, s = +1)
_EXPLAINS = {
    "bass_vs_reference": ("spectrum_sub-bass", "spectrum_low end"),
    "vocal_vs_reference": ("spectrum_midrange", "spectrum_presence range"),
}


def _explain_away(pats: list[Pattern]) -> list[Pattern]:
    """Fold spectral patterns that a balance pattern of the same direction explains into it
    (``also``), so one cause is said once."""
    by = {p.measure: p for p in pats}
    drop = set()
    out = []
    for p in pats:
        extra = []
        for m in _EXPLAINS.get(p.measure, ()):
            q = by.get(m)
            if q is not None and p.value_db is not None and q.value_db is not None \
                    and (p.value_db > 0) == (q.value_db > 0):
                drop.add(m)
                extra.append(q.what)
        out.append(Pattern(p.measure, p.what, p.value_db, p.tracks_with, p.tracks_total, p.p_value,
                           p.evidence, tuple(extra)) if extra else p)
    return [p for p in out if p.measure not in drop]


def _f(v: Any) -> float | None:
    try:
        v = float(v)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _get(d: Any, *keys: str) -> Any:
    for k in keys:
        if not isinstance(d, Mapping):
            return None
        d = d.get(k)
    return d


def _vocal(r: Mapping) -> float | None:
    if _get(r, "balance", "vocal_found") is False:
        return None
    return _f(_get(r, "balance", "vocal_vs_reference_db"))


def _range_mean(lo: float, hi: float) -> Callable[[Mapping], tuple[float, float] | None]:
    """The mean deviation over a range's bands and the mean reference tolerance there (the
    references' own song-to-song spread: a track within it is not beyond the references)."""
    def get(r: Mapping) -> tuple[float, float] | None:
        cmp = r.get("ltas_vs_reference")
        if not isinstance(cmp, Mapping):
            return None
        freqs = cmp.get("freqs_hz") or []
        devs = cmp.get("deviation_db") or []
        tols = cmp.get("tolerance_db") or [None] * len(freqs)
        vals, tol = [], []
        for f, d, t in zip(freqs, devs, tols):
            if _f(f) is not None and lo <= float(f) < hi and _f(d) is not None:
                vals.append(float(d))
                if _f(t) is not None:
                    tol.append(float(t))
        if not vals:
            return None
        return sum(vals) / len(vals), (sum(tol) / len(tol) if tol else 0.0)
    return get


def _ref_word(records: Sequence[Mapping]) -> str:
    return "your references" if any(r.get("references") for r in records) else "the built-in reference balance"


# (measure, minimum effect dB or None for yes/no, getter, sentence(value, sign, k, n, refs))
def _level_text(what: str) -> Callable:
    def text(v, s, k, n, refs):
        return f"{what} sits {abs(v):.1f} dB {'higher' if s > 0 else 'lower'} than {refs} on {_of(k, n)}"
    return text


def _of(k: int, n: int) -> str:
    if k == n:
        return f"all {n} tracks" if n > 2 else "both tracks"
    return f"{k} of {n} tracks"


def _measures() -> list[tuple[str, float | None, Callable, Callable]]:
    ms: list[tuple[str, float | None, Callable, Callable]] = [
        ("vocal_vs_reference", 1.0, _vocal, _level_text("the vocal")),
        ("bass_vs_reference", 1.5, lambda r: _f(_get(r, "balance", "bass_vs_reference_db")),
         _level_text("the low end (bass and kick, 40-120 Hz)")),
        ("plr_vs_reference", 1.5, lambda r: _f(_get(r, "dynamics", "plr_vs_reference_db")),
         lambda v, s, k, n, refs: (f"the mixes are {'less' if s > 0 else 'more'} compressed than {refs}: "
                                   f"{abs(v):.1f} dB {'more' if s > 0 else 'less'} peak-to-loudness ratio "
                                   f"(PLR) on {_of(k, n)}")),
        # the centred low end shows a monitor or channel-gain lean (the arrangement's panning does
        # not move it); older records without it fall back to the whole mix's balance
        ("lr_balance", 1.0,
         lambda r: _f(_get(r, "stereo", "lr_balance_low_end_db")) if _f(_get(r, "stereo", "lr_balance_low_end_db"))
         is not None else _f(_get(r, "stereo", "lr_balance_db")),
         lambda v, s, k, n, refs: (f"the mixes lean {'left' if s > 0 else 'right'} by {abs(v):.1f} dB "
                                   f"(the centred low end) on {_of(k, n)}")),
    ]
    for name, lo, hi in RANGES:
        ms.append((f"spectrum_{name}", 2.0, _range_mean(lo, hi),
                   (lambda name: lambda v, s, k, n, refs: (
                       f"the {name} needed the same {'cut' if s > 0 else 'boost'} of about {abs(v):.1f} dB "
                       f"against {refs} on {_of(k, n)}"))(name)))
    ms += [
        ("low_end_wide", None, lambda r: _get(r, "stereo", "low_end_wide"),
         lambda v, s, k, n, refs: f"the low end is wide or out of phase (a vinyl and club problem) on {_of(k, n)}"),
        ("polarity_inverted", None, lambda r: _get(r, "stereo", "polarity_inverted"),
         lambda v, s, k, n, refs: f"one channel is in inverted polarity on {_of(k, n)}"),
        ("channel_offset", None,
         lambda r: None if not isinstance(r.get("stereo"), Mapping) or "channel_offset_ms" not in r["stereo"]
         else r["stereo"]["channel_offset_ms"] is not None,
         lambda v, s, k, n, refs: (f"one channel is late against the other (a delay on one side of the chain, or "
                                   f"spaced microphones) on {_of(k, n)}")),
        ("audible_clicks", None,
         lambda r: None if r.get("n_clicks") is None else (int(r.get("n_clicks") or 0) > 0),
         lambda v, s, k, n, refs: f"audible clicks on {_of(k, n)}"),
    ]
    for kind, text in (("truncation", "no dither: the fades are truncated"),
                       ("digital_distortion", "bursts of digital distortion"),
                       ("discontinuity", "edit discontinuities (steps at splices)"),
                       ("dual_mono", "a mono mix delivered as two identical channels")):
        ms.append((f"artifact_{kind}", None,
                   (lambda kind: lambda r: None if not isinstance(r.get("artifacts"), list)
                    else kind in r["artifacts"])(kind),
                   (lambda text: lambda v, s, k, n, refs: f"{text} on {_of(k, n)}")(text)))
    return ms


def find_patterns(records: Sequence[Mapping[str, Any]]) -> list[Pattern]:
    """The consistent findings across a client's stored mix records (see the module rule).

    Parameters
    ----------
    records : sequence of mapping
        :func:`mixes.clients.mix_record` dicts.

    Returns
    -------
    list of Pattern
        Most consistent first (share of tracks, then size of the effect).
    """
    refs = _ref_word(records)
    out: list[Pattern] = []
    for measure, min_effect, get, text in _measures():
        vals = []
        missing = []      # tracks analysed against references where this figure could not be given
        for r in records:
            v = get(r)
            name = str(r.get("name") or r.get("file") or "?")
            if v is None:
                if measure == "vocal_vs_reference" and r.get("references") and isinstance(r.get("balance"), Mapping):
                    missing.append(name)
                continue
            vals.append((name, v))
        n = len(vals)
        if n < MIN_TRACKS:
            continue
        if min_effect is None:
            flags = [bool(v) for _, v in vals]
            k = sum(flags)
            p = binomial_tail(k, n, P_CHANCE)
            if k / n >= MIN_SHARE and p <= ALPHA:
                ev = tuple({"file": name, "value": bool(v), "with": bool(v)} for name, v in vals)
                out.append(Pattern(measure, text(None, 1, k, n, refs), None, k, n, p, ev))
            continue
        # a getter may give (value, the track's own yardstick), e.g. the references' spread
        limits = [max(min_effect, v[1]) if isinstance(v, tuple) else min_effect for _, v in vals]
        vals = [(name, v[0] if isinstance(v, tuple) else v) for name, v in vals]
        for s in (1.0, -1.0):
            flags = [s * float(v) >= lim for (_, v), lim in zip(vals, limits)]
            k = sum(flags)
            p = binomial_tail(k, n, P_CHANCE)
            if k / n >= MIN_SHARE and p <= ALPHA:
                med = statistics.median(float(v) for (_, v), w in zip(vals, flags) if w)
                ev = tuple({"file": name, "value_db": round(float(v), 2), "with": w}
                           for (name, v), w in zip(vals, flags))
                what = text(med, s, k, n, refs)
                if missing:
                    # said, not hidden: "8 of 9 tracks" is over the tracks with a figure
                    ev += tuple({"file": name, "value_db": None, "with": None} for name in missing)
                    what += (f" with a vocal level (no vocal level on {len(missing)}: "
                             f"{', '.join(missing[:3])}{', ...' if len(missing) > 3 else ''})")
                out.append(Pattern(measure, what, med, k, n, p, ev))
    out = _explain_away(out)
    out.sort(key=lambda p: (-p.tracks_with / p.tracks_total, -(abs(p.value_db) if p.value_db is not None else 0)))
    return out


def patterns_for_client(workspace, client: str) -> dict[str, Any]:
    """``{"client", "n_mixes", "patterns", "files", "skipped"}``: the patterns of a client stored
    in ``workspace`` (the ``mix patterns --json`` object).

    Raises
    ------
    ProfileError
        Bad client name or no mixes stored for the client (:func:`mixes.clients.load_client`).
    """
    from mixes.clients import load_client

    name, records, skipped = load_client(workspace, client)
    pats = find_patterns(records)
    return {"client": name, "n_mixes": len(records), "patterns": [p.to_dict() for p in pats],
            "files": [r.get("file") for r in records], "skipped": skipped}
