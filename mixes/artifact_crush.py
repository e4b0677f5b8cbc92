"""Short bursts of requantisation (bit-crush) or hard clipping inside otherwise clean programme.

:func:`mixes.artifacts.digital_distortion` finds bursts of garbage by the jump of the first
difference's energy; a few ms of programme requantised to 2-6 bits, or clipped flat at some
level, can stay under that jump in loud, bright material (a 6 ms 2-bit burst in a full-level
song rises only ~10-15 dB).  What such a burst does leave is exact: the samples *repeat*.  A
requantised or clipped waveform holds the same value for several consecutive samples (the
level steps of a 2-6-bit grid are 1/2-1/32 of full scale, far coarser than the waveform
moves in one sample; a clipper holds its ceiling), while a mix at 16 bits or finer, whose
sum of stems and dither moves every sample, repeats a value only near the crest of a deep
bass note (a run of 2-3 samples at 16 bits) or in digital silence.

The test, in ``CRUSH_HOP_S`` hops: a hop is *held* when at least ``CRUSH_MIN_FRACTION`` of its
consecutive sample pairs are exactly equal at a level of at least ``CRUSH_MIN_LEVEL`` (so
digital silence and the quiet end of a 16-bit fade do not count) and the hop's RMS is above
``CRUSH_MIN_DBFS``.  A run of held hops 1-30 ms long, with no held hop within
``CRUSH_CLEAN_S`` on either side, is a burst: a programme that is lo-fi throughout, or
clipped at full scale everywhere (a loud master: :func:`mixes.renderchecks.find_clipping`
reports that), is not a short digital error.  Smooth saturation (a tanh-like drive on a
guitar or a bus, a look-ahead limiter) never holds a value exactly and is not reported.

Holds at the file's own ceiling (its largest magnitude) are what a clipped master looks like,
so they count only in a file with few of them (``CRUSH_CEILING_MAX_HOPS``), and only where the
ceiling stands out: the programme within ``CRUSH_AROUND_S`` stays ``CRUSH_ABOVE`` below it, or
the rest of the file never comes within ``CRUSH_REST`` of it.  A few ms of a song pushed 10-30x
into a clipper (a gain or DSP glitch) hold there; a master that clips on its loud hits does not
qualify.
"""

from __future__ import annotations

import math

import numpy as np

from mixes.types import RenderEvent

__all__ = ["held_bursts"]

CRUSH_HOP_S = 0.001          # 1 ms hops: a 2 ms burst fills at least one hop
CRUSH_MIN_FRACTION = 0.25    # of the hop's consecutive pairs exactly equal
CRUSH_MIN_LEVEL = 2.0 ** -7  # ~-42 dBFS: an equal pair below this is not counted (quiet 16-bit)
CRUSH_MIN_DBFS = -45.0
CRUSH_ZERO_DBFS = -30.0      # a hop holding exact zeros counts only this loud
CRUSH_MAX_S = 0.030
CRUSH_CLEAN_S = 0.100        # no held hop this long before and after the burst
CRUSH_BRIDGE = 3             # held hops this many hops apart belong to one burst
CRUSH_CEILING = 0.98         # holds at the file's own ceiling (a clipped master) count only ...
CRUSH_CEILING_MAX_HOPS = 40  # ... in a file with at most this many hops holding it ...
CRUSH_ABOVE = 1.4            # ... where the programme around stays this far below the ceiling,
CRUSH_REST = 0.97            # ... or where the rest of the file stays this far below it
CRUSH_GUARD_S = 0.002
CRUSH_AROUND_S = 0.050


def _db(v: float) -> float:
    return 20.0 * math.log10(v) if v > 0 else -math.inf


def held_bursts(x: np.ndarray, *, fs: int) -> list[RenderEvent]:
    """Bursts of held (requantised or clipped) samples, per channel (see module docstring).

    Parameters
    ----------
    x : ndarray, shape (n_channels, n_samples)
        Full scale 1.0.
    fs : int
        Sample rate (Hz), keyword-only.

    Returns
    -------
    list of RenderEvent
        kind ``"digital_distortion"``, ``time_s`` the burst's first held pair, ``duration_s``
        its length, ``level_db`` its RMS (dBFS).
    """
    hop = max(int(CRUSH_HOP_S * fs), 8)
    clean = int(math.ceil(CRUSH_CLEAN_S * fs / hop))
    max_hops = int(CRUSH_MAX_S * fs / hop) + 1
    min_ms = 10 ** (CRUSH_MIN_DBFS / 10)
    out: list[RenderEvent] = []
    for c in range(x.shape[0]):
        xc = x[c]
        n_h = (xc.size - 1) // hop
        if n_h < 3:
            continue
        # equal consecutive pairs are rare in a mix at 16 bits or finer: find them sparsely
        # (two passes over the samples), then judge only the hops that have them
        eq = np.flatnonzero(xc[1:] == xc[:-1]) + 1
        if eq.size < int(CRUSH_MIN_FRACTION * hop):
            continue
        eq_all = eq
        v = np.abs(xc[eq])
        ceiling = float(np.max(np.abs(xc)))
        # a hold counts at a level (not the quiet end of a 16-bit passage) or at exact zero (a
        # 2-bit grid rounds the quiet half of a loud waveform to 0), not at the file's ceiling
        # (a clipped or brick-walled master: find_clipping's business)
        at_ceiling = v >= CRUSH_CEILING * ceiling
        ceil_hops = np.unique(eq[at_ceiling] // hop)
        keep = v >= CRUSH_MIN_LEVEL
        if ceil_hops.size > CRUSH_CEILING_MAX_HOPS:
            keep &= ~at_ceiling                  # clipped all through: a loud master
        zero = eq[(v == 0) & (eq < n_h * hop)] // hop
        eq = eq[keep]
        eq = eq[eq < n_h * hop]
        counts = np.bincount(eq // hop, minlength=n_h)
        with_zero = counts + np.bincount(zero, minlength=n_h)
        need = CRUSH_MIN_FRACTION * hop
        cand = np.flatnonzero(with_zero >= need)
        if cand.size == 0:
            continue
        X = xc[: n_h * hop].reshape(n_h, hop)[cand].astype(np.float64)
        ms = np.einsum("ij,ij->i", X, X) / hop
        # holds at a level need a hop above CRUSH_MIN_DBFS; holds at exact zero (a 2-bit grid
        # rounds the quiet half of a loud waveform to 0) need a loud hop, CRUSH_ZERO_DBFS
        ok = ((counts[cand] >= need) & (ms >= min_ms)) | (ms >= 10 ** (CRUSH_ZERO_DBFS / 10))
        cand = cand[ok]
        if cand.size == 0:
            continue
        # runs of held hops, gaps of up to CRUSH_BRIDGE hops bridged (a 2-bit waveform crossing
        # a step leaves a hop or so without holds)
        brk = np.flatnonzero(np.diff(cand) > CRUSH_BRIDGE + 1)
        starts = cand[np.r_[0, brk + 1]]
        ends = cand[np.r_[brk, cand.size - 1]] + 1
        for k, (s, e) in enumerate(zip(starts, ends)):
            if e - s > max_hops:
                continue
            # no other held hop within CRUSH_CLEAN_S on either side
            if (k > 0 and s - ends[k - 1] < clean) or (k + 1 < starts.size and starts[k + 1] - e < clean):
                continue
            inside = eq_all[(eq_all >= s * hop) & (eq_all < e * hop)]
            i0, i1 = int(inside[0]) - 1, int(inside[-1]) + 1
            burst = xc[i0:i1].astype(np.float64)
            if np.any(np.isin(np.arange(s, e), ceil_hops)):
                # held at the file's ceiling: a digital error only if the programme around never
                # comes near that level (a sudden gain jump into the clipper), not a loud passage
                # or never reaches it anywhere else in the file (a loud master limited below
                # full scale that hits it only here)
                g, r = int(CRUSH_GUARD_S * fs), int(CRUSH_AROUND_S * fs)
                around = np.r_[xc[max(i0 - r, 0): max(i0 - g, 0)], xc[i1 + g: i1 + r]]
                if around.size == 0:
                    continue
                if CRUSH_ABOVE * float(np.max(np.abs(around))) > ceiling:
                    rest = max(float(np.max(np.abs(xc[: max(i0 - g, 0)]), initial=0.0)),
                               float(np.max(np.abs(xc[i1 + g:]), initial=0.0)))
                    if rest > CRUSH_REST * ceiling:
                        continue
            lvl = _db(math.sqrt(float(np.mean(burst ** 2))))
            dur = (i1 - i0) / fs
            n_vals = np.unique(burst).size
            out.append(RenderEvent(
                "digital_distortion", i0 / fs, lvl, c, dur,
                detail=f"at {i0 / fs:.3f} s a {dur * 1000:.1f} ms stretch at {lvl:.0f} dBFS holds its "
                       f"samples on {n_vals} values (requantised to a few bits or clipped flat) inside "
                       "clean programme: a digital error; re-render or repair the passage"))
    return out
