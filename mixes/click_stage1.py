"""Stage 1 of the click detector (:mod:`mixes.clicks`): candidates from a cheap whitening.

The only stage that touches every sample.  ``_whitened_abs`` whitens the programme with the
third difference and an order-2 predictor per 10 ms sub-block (made for the top octaves, where
a click stands out of music's low bulk and a hi-hat's top); ``_stage1`` keeps per sub-block the
two strongest peaks that stand out of the local background (see :mod:`mixes.clicks`).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from mixes.lpc import levinson_rows

__all__ = ["candidates", "CANDIDATE_RATIO", "OWN_RATIO", "MERGE_S"]

CANDIDATE_RATIO = 5.0
OWN_RATIO = 4.0
MERGE_S = 0.002
MAX_CANDIDATES = 20_000
CAND_ORDER = 2
# the own-sub-block test compares a peak with the sub-block's RMS *without* the +-MERGE_S around
# the sub-block's strongest peak (recall9): a 1-2 ms burst or held step, a doublet, carries most of its
# sub-block's energy itself, so against the whole sub-block it stood only ~3.3-3.8x out (under
# OWN_RATIO) however far it stood out of the music (eval piano + hats: 9 of 17 misses, 10-46 dB
# audible, stood 12-2000x above the background and got no candidate); Gaussian noise's largest
# peak over a sub-block stays ~3.3x its RMS either way, so the test still refuses a noise-like block
OWN_EXCLUDE = True
OWN_EXCLUDE_FULL = False   # ... in the full-band path too (sub-blocks over 100 samples)


def _whitened_abs(x: np.ndarray, a: int, b: int, sub: int) -> np.ndarray:
    """|whitened programme| for samples a..b-1 (b - a a multiple of ``sub``), shape (n, sub).

    Two cheap whitening steps: the third difference ``(1 - z^-1)^3`` (fixed: takes out the
    low-frequency bulk of music, -51 dB at 1 kHz re 12 kHz at 48 kHz), then an order-2 linear
    predictor fitted per 10 ms sub-block on that difference (adaptive: takes out a hi-hat's or
    cymbal's top octaves while they sound), so a click stands out in whatever band the music
    leaves free.  Element (i, j) belongs to x[a + i sub + j].
    """
    P = CAND_ORDER
    h = 3 + P                                        # 3 samples for the difference, P for the predictor
    if a >= h:
        seg = x[a - h: b]
    else:
        seg = np.concatenate([np.zeros(h - a, dtype=x.dtype), x[:b]])
    d = seg[3:] - seg[:-3]
    t = seg[1:-2] - seg[2:-1]
    t *= 3
    d += t                                           # d[i] belongs to x[a - P + i]
    n_rows = (b - a) // sub
    D = [d[P - k: d.size - k].reshape(n_rows, sub) for k in range(P + 1)]
    r = np.empty((n_rows, P + 1))
    for k in range(P + 1):
        r[:, k] = np.einsum("ij,ij->i", D[0], D[k])
    r[:, 0] = r[:, 0] * (1.0 + 1e-6) + 1e-30
    A = levinson_rows(r).astype(x.dtype)
    e = D[0].copy()
    t = t[: n_rows * sub].reshape(n_rows, sub)       # reuse as scratch
    for k in range(1, P + 1):
        np.multiply(D[k], A[:, k:k + 1], out=t)
        e += t
    return np.abs(e, out=e)


def _stage1(x: np.ndarray, sub: int, gap: int, ratio: float = CANDIDATE_RATIO, own: float = OWN_RATIO,
            whiten=None) -> np.ndarray:
    """Indices where ``_whitened_abs(x)`` stands ``CANDIDATE_RATIO`` above its background.

    One pass: per sub-block the RMS and the two strongest peaks at least ``gap`` apart (two
    clicks in one 10 ms sub-block stay two).  A peak is a candidate when it stands
    ``CANDIDATE_RATIO`` times above the background (the 210 ms median of the sub-block RMS, or
    the quieter neighbour sub-block: a click between two hi-hat strokes is judged against the
    gap, not against the strokes) and ``OWN_RATIO`` times above its own sub-block's RMS
    (without the +-``gap`` around the sub-block's strongest peak: ``OWN_EXCLUDE``).
    """
    n_sub = x.size // sub
    if n_sub < 3:
        return np.zeros(0, dtype=np.int64)
    rms = np.empty(n_sub)
    excl = OWN_EXCLUDE and (OWN_EXCLUDE_FULL or sub <= 100)
    own_rms = rms if not excl else np.empty(n_sub)
    v = np.empty((n_sub, 2))
    j = np.empty((n_sub, 2), dtype=np.int64)
    per = max((1 << 16) // sub, 1)
    cols = np.arange(sub)
    for i0 in range(0, n_sub, per):
        i1 = min(i0 + per, n_sub)
        e = (whiten or _whitened_abs)(x, i0 * sub, i1 * sub, sub)
        rows = np.arange(i1 - i0)
        rms[i0:i1] = np.sqrt(np.einsum("ij,ij->i", e, e) / sub)
        k1 = e.argmax(axis=1)
        v[i0:i1, 0] = e[rows, k1]
        e[np.abs(cols[None, :] - k1[:, None]) <= gap] = 0.0
        if excl:
            # the sub-block's RMS without the +-gap around its strongest peak (the event itself)
            n_rest = sub - (np.minimum(k1 + gap, sub - 1) - np.maximum(k1 - gap, 0) + 1)
            rest = np.sqrt(np.einsum("ij,ij->i", e, e) / np.maximum(n_rest, 1))
        k2 = e.argmax(axis=1)
        v[i0:i1, 1] = e[rows, k2]
        j[i0:i1, 0], j[i0:i1, 1] = k1, k2
        if excl:
            own_rms[i0:i1] = rest
    bg = ndimage.median_filter(rms, size=21, mode="nearest")
    nb = np.minimum(np.r_[rms[1:], np.inf], np.r_[np.inf, rms[:-1]])
    floor = 10 ** (-110 / 20)
    thr = np.maximum(ratio * np.maximum(np.minimum(bg, nb), floor), own * own_rms)
    hot = v > thr[:, None]
    blk, which = np.nonzero(hot)
    if blk.size > MAX_CANDIDATES:
        keep = np.argsort(-(v[blk, which] / thr[blk]))[:MAX_CANDIDATES]
        blk, which = blk[keep], which[keep]
    return np.unique(blk * sub + j[blk, which]).astype(np.int64)


def candidates(x: np.ndarray, fs: int, ratio: float = CANDIDATE_RATIO, own: float = OWN_RATIO,
               whiten=None) -> np.ndarray:
    """Stage 1: sample indices where the whitened programme stands out of its local background
    (``whiten``: the whitening, :func:`_whitened_abs` by default)."""
    return _stage1(x, max(int(fs // 100), 8), max(int(MERGE_S * fs), 1), ratio, own, whiten)


def _whitened_abs_lpc(x: np.ndarray, a: int, b: int, sub: int, order: int = 8) -> np.ndarray:
    """|whitened programme| for samples a..b-1 by an order-``order`` predictor per sub-block.

    The first difference (a mild tilt that keeps the predictor well conditioned), then a linear
    predictor per ``sub`` block fitted on its two *neighbour* blocks (not on the block itself,
    so a step or burst does not train away its own prominence).  Unlike the third difference,
    this follows whatever band holds the music: a step's or burst's energy below ~1 kHz stands
    out of a piano held there once its partials are predicted.  Shape (n, sub).
    """
    P = order
    n_rows = (b - a) // sub
    lo = a - sub - P - 1
    hi = b + sub
    if lo >= 0 and hi <= x.size:
        seg = np.asarray(x[lo:hi], dtype=np.float64)
    else:
        seg = np.zeros(hi - lo)
        s0, s1 = max(lo, 0), min(hi, x.size)
        seg[s0 - lo: s1 - lo] = x[s0:s1]
    d = seg[1:] - seg[:-1]                           # d[i] belongs to x[lo + 1 + i]; row 0 starts at d[P]
    m = n_rows + 2
    D = [d[P - k: P - k + m * sub].reshape(m, sub) for k in range(P + 1)]
    r = np.empty((m, P + 1))
    for k in range(P + 1):
        r[:, k] = np.einsum("ij,ij->i", D[0], D[k])
    rf = r[:-2] + r[2:]
    rf[:, 0] = rf[:, 0] * (1.0 + 1e-6) + 1e-30
    A = levinson_rows(rf)
    e = D[0][1:-1].copy()
    for k in range(1, P + 1):
        e += D[k][1:-1] * A[:, k:k + 1]
    return np.abs(e, out=e)
