"""Musical context for the click detector: a transient that recurs elsewhere in the song is music.

Percussion and plucks come back: a clap, a sampled snare, a brush tap or a plucked string's
attack sounds again one or more beats or bars later with nearly the same waveform, *and with
the same sound after it* (the clap's later bursts, the drum's decay, the string's ringing).  A
click comes once; another click elsewhere may have the same shape (vinyl clicks are all
impulses), but the music that follows it does not repeat with it.  So an event is the music's
when, at some other transient of the same channel, both match (normalised cross-correlation of
the second difference, the fixed whitening that keeps a clap's or a hat's band and drops the
bass):

- the *core*: from ``CORE_PRE_S`` before the event to ``CORE_POST_S`` after its end;
- the *context*: the ``CONTEXT_POST_S`` after the core (the event itself left out, so a
  click's own shape cannot make its context match).

The other transients are the stage-1 candidates of :mod:`mixes.clicks` (every strong whitened
peak of the channel) within ``PARTNER_SPAN_S``: drums recur on the song's beat grid, and the
grid is found without a tempo (live timing jitter of +-10 ms or a swung feel do not matter,
since each partner is aligned on its own peak within ``ALIGN_S``).  The test runs only on the
events that would otherwise be reported (tens per file), at about a millisecond each.

In a dense mix (metal9) the sound after a hit is the drum's decay plus parts that do not repeat
with it (a wall of double-tracked distorted guitars), and the contexts of two hits of the same
drum correlate only at the drum's share of them (0.2-0.55 on songs5 metal), under
``CONTEXT_RHO``.  There the event is the music's when its core matches and its context
correlates at ``CONTEXT_RHO_GRID`` (far above chance) at ``RECUR_GRID_MIN`` distinct other hits:
the drum coming back on the grid.  benchmarks/eval_cleanclick9.py: songs5 metal reports 22 -> 10
(seeds 1300+, tuned on) and 16 -> 8 (fresh seeds 1400+); eval_clicks --clicks-only: no plant
lost or gained (seed-1 plants).
"""

from __future__ import annotations

import numpy as np

from mixes.lpc import autocorr_rows, levinson_rows

__all__ = ["recurs"]

CORE_PRE_S = 0.0005
CORE_POST_S = 0.0005
CONTEXT_POST_S = 0.016      # the sound after the event that must come back with it
PARTNER_SPAN_S = 6.0        # other transients looked at this far either side (a few bars)
PARTNER_MIN_GAP_S = 0.030   # ... but not the event's own neighbourhood
MAX_PARTNERS = 192          # nearest ones, per event
ALIGN_S = 0.002             # each partner aligned on the event within this
WHITEN_S = 0.010            # the music before the event that the whitening predictor is fitted on
WHITEN_ORDER = 16
RECUR_TOL_S = 0.0012        # (recurs_periodic) excursions a period apart (-T/+T or T/2T) within this
CORE_RHO = 0.85             # the event's core matches at this normalised correlation
CONTEXT_RHO = 0.7           # ... and the 16 ms after it at this one (the same lag)
# ... or, in a dense mix, at RECUR_GRID_MIN distinct other hits with the 16 ms after it at
# CONTEXT_RHO_GRID (metal9).  Where the whole band is filled by other parts (double-tracked
# distorted guitars over a double kick), what follows a hit is the drum's decay *plus* music that
# does not repeat with it, and the correlation of the whitened contexts falls to the drum's share
# of them (songs5 metal: the matching hits of a kick at multiples of 1.5 beats, 0.2-0.55).  Chance
# correlation of two unrelated whitened 16-ms contexts is ~1/sqrt(768) = 0.036 at 48 kHz, so 0.3 is
# 8 standard deviations, and it must happen at three hits: a click's context (the music after it)
# does not come back with its core at three other transients.  (At two, clicks of one shape
# planted among a clean sampled kit, tests/test_clicks4_recur.py, matched each other's core and
# twice found the same drum at the same delay after them: 3 of 10 lost; at three none.)
RECUR_GRID_MIN = 3
CONTEXT_RHO_GRID = 0.3


def _fir(x: np.ndarray, a: int, b: int, A: np.ndarray) -> np.ndarray:
    """Prediction error sum_j A_j x[i - j] for samples a..b-1 (zeros outside the signal)."""
    q = A.size - 1
    seg = np.zeros(b - a + q)
    a0, b0 = max(a - q, 0), min(b, x.size)
    seg[a0 - (a - q): b0 - (a - q)] = x[a0:b0]
    out = A[0] * seg[q:]
    for j in range(1, q + 1):
        out = out + A[j] * seg[q - j: seg.size - j]
    return out


def _ncc(seg: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Normalised cross-correlation of template t at every offset of each row of seg: (P, L) -> (P, L - n + 1)."""
    n = t.size
    w = np.lib.stride_tricks.sliding_window_view(seg, n, axis=1)      # (P, m, n)
    num = w @ t
    c = np.cumsum(np.pad(seg * seg, ((0, 0), (1, 0))), axis=1)
    en = c[:, n:] - c[:, :-n]
    return num / np.sqrt(np.maximum(en, 1e-30) * max(float(t @ t), 1e-30))


def recurs(x: np.ndarray, onsets: np.ndarray, widths_s: np.ndarray, partners: np.ndarray, *,
           fs: int, others: np.ndarray | None = None) -> np.ndarray:
    """True for each event that recurs, with what follows it, at another transient (see module).

    Parameters
    ----------
    x : ndarray (n_samples,)
        One channel.
    onsets : ndarray of int
        Event onsets (samples).
    widths_s : ndarray
        Event widths (s).
    partners : ndarray of int
        Positions of the channel's other strong transients (samples, any order).
    fs : int
        Sample rate (Hz), keyword-only.
    others : ndarray of int, optional
        Onsets of every verified event of the channel: the +-1 ms around each is left out of
        the context (a second click 10-16 ms later is not "what follows" the first; two pairs
        of like clicks 16 ms apart must not match each other).
    """
    others = np.sort(np.asarray(others if others is not None else [], dtype=np.int64))
    g1 = max(int(0.001 * fs), 1)
    onsets = np.asarray(onsets, dtype=np.int64)
    out = np.zeros(onsets.size, dtype=bool)
    partners = np.sort(np.asarray(partners, dtype=np.int64))
    if onsets.size == 0 or partners.size == 0:
        return out
    pre = int(CORE_PRE_S * fs)
    post_ctx = int(CONTEXT_POST_S * fs)
    al = int(ALIGN_S * fs)
    span = int(PARTNER_SPAN_S * fs)
    gap = int(PARTNER_MIN_GAP_S * fs)
    for k, o in enumerate(onsets):
        w = max(int(round(float(widths_s[k]) * fs)), 1)
        core_n = pre + w + int(CORE_POST_S * fs)
        n = core_n + post_ctx
        # whitening: the predictor of the music just before the event (a held chord or a
        # sustained note is predicted away, so it cannot make two contexts match; what is new
        # after the event - a drum's decay, a clap's bursts - stays)
        a0 = max(int(o) - int(WHITEN_S * fs) - pre, 0)
        hist = x[a0: max(int(o) - pre, a0 + 1)].astype(np.float64)
        if hist.size > 4 * WHITEN_ORDER:
            hist = hist * np.hanning(hist.size)
            r = autocorr_rows(hist[None, :], WHITEN_ORDER)
            r[:, 0] = r[:, 0] * (1.0 + 1e-6) + 1e-30
            A = levinson_rows(r)[0]
        else:
            A = np.array([1.0, -2.0, 1.0])
        t = _fir(x, int(o) - pre, int(o) - pre + n, A)
        tc, tx = t[:core_n], t[core_n:].copy()
        x0 = int(o) - pre + core_n                                     # tx[0] <-> x[x0]
        for q in others[np.searchsorted(others, x0 - g1): np.searchsorted(others, x0 + post_ctx + g1)]:
            tx[max(q - g1 - x0, 0): max(q + g1 - x0, 0)] = 0.0
        if not tx.any():
            continue
        # the event's own whitened peak: partners are stage-1 peaks, aligned on it
        pk = int(np.argmax(np.abs(tc)))
        lo, hi = np.searchsorted(partners, [o - span, o + span])
        p = partners[lo:hi]
        p = p[np.abs(p - (o - pre + pk)) > gap]
        if p.size == 0:
            continue
        if p.size > MAX_PARTNERS:
            p = p[np.argsort(np.abs(p - o))[:MAX_PARTNERS]]
        # segment of each partner: the template's start for alignments -al..+al
        starts = p - pk - al
        L = n + 2 * al
        q = A.size - 1
        idx = starts[:, None] + np.arange(-q, L)[None, :]
        ok = (idx >= 0) & (idx < x.size)
        raw = np.where(ok, x[np.clip(idx, 0, x.size - 1)], 0.0)
        seg = A[0] * raw[:, q:]
        for j in range(1, q + 1):
            seg += A[j] * raw[:, q - j: raw.shape[1] - j]                # (P, L)
        rc = _ncc(seg[:, : core_n + 2 * al], tc)                        # (P, 2 al + 1)
        best = rc >= CORE_RHO
        if not best.any():
            continue
        # the context only where the core matched (few alignments: cost)
        pi, di = np.nonzero(best)
        wx = seg[pi[:, None], core_n + di[:, None] + np.arange(post_ctx)[None, :]]
        rx = (wx @ tx) / np.sqrt(np.maximum(np.einsum("ij,ij->i", wx, wx), 1e-30) * max(float(tx @ tx), 1e-30))
        if np.any(rx >= CONTEXT_RHO):
            out[k] = True
        elif RECUR_GRID_MIN:
            # (a dense mix: the drum comes back at several hits, what follows it diluted by the
            # other parts; count distinct hits, a hit's several stage-1 peaks as one)
            hits = np.unique(p[pi[rx >= CONTEXT_RHO_GRID]])
            out[k] = hits.size > 0 and 1 + int(np.sum(np.diff(hits) > gap)) >= RECUR_GRID_MIN
    return out


def mask_near(cand: np.ndarray, pos: np.ndarray, exclude: np.ndarray, guard: int) -> np.ndarray:
    """(K, len(pos)) True where ``cand[k] + pos`` lies within ``guard`` samples of an ``exclude``
    position (sorted): the excursions that are another verified click, for the periodicity test
    of :mod:`mixes.clicks` (``_recurs_long``)."""
    out = np.zeros((cand.size, pos.size), dtype=bool)
    for k, c in enumerate(cand):
        lo, hi = np.searchsorted(exclude, [c + pos[0] - guard, c + pos[-1] + guard + 1])
        for e in exclude[lo:hi]:
            if abs(int(e) - int(c)) <= guard:
                continue                                   # (the event itself)
            out[k] |= np.abs(c + pos - e) <= guard
    return out


def recurs_periodic(x: np.ndarray, cand: np.ndarray, A: np.ndarray, level: np.ndarray, guard: int,
                    fs: int, exclude: np.ndarray | None = None, span_s: float = 0.030, *,
                    gap_s: float = 0.002, merge_s: float = 0.002) -> np.ndarray:
    """Does the event's excursion recur over +-``span_s``?  (A waveform corner that comes
    back every period - a sawtooth bass at 40-100 Hz, a plucked string - is the instrument's;
    a click comes once, a pair of clicks twice.)

    The prediction error of the event's own model over the longer span, through the same
    matched filter: True when two excursions beside the event's own reach ``level`` (a
    fraction of its height, matched-filter units) at positions a period apart: -T and +T, or
    T and 2T on one side (within ``RECUR_TOL_S``).  Percussion's noise reaches that height at
    random positions, a periodic waveform at multiples of its period.

    ``A``: the events' whitening polynomials (one row each); ``level``: the height per event;
    ``guard`` (samples): the event's own excursion; ``exclude``: other verified clicks' onsets,
    whose excursions are not counted; ``gap_s``: nothing is counted this close after the guard
    (the repeat test's range); ``merge_s``: samples this close are one excursion.  Moved here
    from :mod:`mixes.clicks` (which passes its ``REPEAT_GAP_S`` and stage 1's ``MERGE_S``).
    """
    K, p1 = A.shape
    p = p1 - 1
    if K == 0:
        return np.zeros(0, dtype=bool)
    L = int(span_s * fs)
    idx = np.clip(cand[:, None] + np.arange(-L - 2 * p, L + 2 * p)[None, :], 0, x.size - 1)
    S = x[idx].astype(np.float64)
    n_e = S.shape[1] - p
    e = A[:, 0:1] * S[:, p:]
    for k in range(1, p + 1):
        e += A[:, k:k + 1] * S[:, p - k: p - k + n_e]
    n_d = n_e - p
    d = A[:, 0:1] * e[:, :n_d]
    for k in range(1, p + 1):
        d += A[:, k:k + 1] * e[:, k: k + n_d]
    pos = np.arange(n_d) + p - (L + 2 * p)               # impulse position relative to the event
    big = np.abs(d) > level[:, None]
    big &= (np.abs(pos) > guard + int(gap_s * fs))[None, :]
    if exclude is not None and exclude.size:
        # (an excursion at another verified click is that click, not the waveform's period: the
        # first of two clicks 16 ms apart plus hat noise 16 ms after the second look periodic)
        big &= ~mask_near(cand, pos, exclude, guard)
    sep = max(int(merge_s * fs), 1)
    tol = max(int(RECUR_TOL_S * fs), 1)
    out = np.zeros(K, dtype=bool)
    for k in np.flatnonzero(big.sum(axis=1) >= 2):
        j = np.flatnonzero(big[k])
        # one position per excursion (its largest sample), relative to the event
        groups = np.split(j, np.flatnonzero(np.diff(j) > sep) + 1)
        if len(groups) < 2:
            continue
        cpos = np.array([pos[g[np.argmax(np.abs(d[k, g]))]] for g in groups])
        # periodic: one period before and one after (-T, +T), or T and 2T on one side
        a_, b_ = cpos[:, None], cpos[None, :]
        out[k] = bool(np.any((np.abs(a_ + b_) <= tol) | (np.abs(b_ - 2 * a_) <= tol)))
    return out
