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

A file on a fine grid holds values too: a 16-bit recording made louder (the real piano +12 dB
and more: ``k * g / 32768``) repeats a value wherever its waveform moves less than one step in
a sample, at -45...-30 dBFS on low notes.  Those holds are its word length, not a
requantisation: :func:`quantisation_holds` reads the file's grid around the stretch
(:func:`file_grid`) and drops a stretch whose holds are entered and left by a step or two of
that grid (a few-bit grid or a clipper enters them by hundreds or thousands of steps).

A *hard-clipped master* (driven into a clipper: flat tops on every loud hit) is digital
distortion too, but not a short error: it is reported once per file (:func:`_flat_tops`:
``CLIPPED_MIN_RUNS`` runs of ``CLIPPED_RUN`` or more equal samples at the file's largest
magnitude, ``duration_s`` 0 so it hides nothing else), whether the flat tops are at full scale
(where :func:`mixes.renderchecks.find_clipping` also lists every run) or below it (a clipped
master turned down, which ``clipping`` does not see).  A true-peak (look-ahead) limiter's
smooth gain holds no value that long and is not reported.
"""

from __future__ import annotations

import math

import numpy as np

from mixes.types import RenderEvent

__all__ = ["held_bursts", "file_grid", "on_grid", "quantisation_holds"]

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
CLIPPED_RUN = 6              # equal samples in a row at the ceiling: a clipper's flat top ...
CLIPPED_MIN_RUNS = 8         # ... this many in a file: a hard-clipped master
CLIPPED_MIN_SPAN_S = 0.5      # ... spread over at least this long (16 flat tops inside one 6-ms
                              # burst driven into a clipper are that burst, not a clipped master)
CLIPPED_MIN_LEVEL = 0.1      # ... with its ceiling at least -20 dBFS
GRID_CONTEXT_S = 0.250       # the file's own word length is read from this much around the burst
GRID_TOL = 0.01              # of a step: float32 storage of a 16-bit value times a gain
GRID_MIN_VALUES = 32         # distinct values needed to read a grid
GRID_EDGE = 4.0              # holds entered and left by at most this many grid steps: the word length


def _db(v: float) -> float:
    return 20.0 * math.log10(v) if v > 0 else -math.inf


def file_grid(v: np.ndarray) -> float:
    """The quantisation step ``q`` of samples ``v`` when they all lie on a grid ``k * q``, else 0.

    A 16-bit file read as floats and scaled by any gain lies on ``k * g / 32768``: its step is
    the smallest difference between its distinct values, and every value is a whole number of
    steps (within ``GRID_TOL``); the largest magnitude is left out (a clipper's ceiling, 1.0,
    is off a scaled grid).  Float material, or too few distinct values, gives 0.
    """
    u = np.unique(np.abs(v[v != 0]))[:-1]           # the top value may be a clipper's ceiling
    if u.size < GRID_MIN_VALUES:
        return 0.0
    q = float(np.min(np.diff(u)))
    if q <= 0.0 or q < 1e-7 * float(u[-1]):
        return 0.0                                   # finer than 24 bits: float material
    # refine the step on ever larger values (float32 storage blurs a difference of two large
    # values by ~1e-7 of them, so the smallest difference alone is not exact enough)
    for lim in (64.0, 4096.0, math.inf):
        w = u[u <= lim * q]
        k = np.round(w / q)
        kk = float(np.dot(k, k))
        if kk <= 0.0:
            return 0.0
        q = float(np.dot(w, k)) / kk
    if not q > 0.0:
        return 0.0
    k = u / q
    if float(np.max(np.abs(k - np.round(k)))) > GRID_TOL:
        return 0.0
    return q


def on_grid(v: np.ndarray, q: float) -> bool:
    """Whether all samples ``v`` but the largest magnitude lie on the grid ``k * q`` (``GRID_TOL``)."""
    a = np.abs(v)
    a = a[a < a.max()]
    k = a / q
    return bool(a.size) and float(np.max(np.abs(k - np.round(k)))) <= GRID_TOL


def quantisation_holds(burst: np.ndarray, q: float) -> bool:
    """Whether the holds of a stretch are the file's own word length, not a requantisation.

    A file on a fine grid ``q`` (16 bits, then a gain: ``q`` = ``g`` / 32768) holds a value
    wherever its waveform moves less than ``q`` in a sample (the crest of a low note at -40
    dBFS), so it enters and leaves each hold by a step or two of its grid.  A stretch
    requantised to a few bits moves between the levels of its own coarse grid (a 2-6-bit grid in
    a 16-bit file is 1024-16384 of its steps), and a clipper cuts into a waveform moving fast:
    both enter and leave their holds by many steps.  So: the median step into and out of the
    holds is at most ``GRID_EDGE`` steps of the grid read around the stretch (:func:`file_grid`).

    Parameters
    ----------
    burst : ndarray
        The stretch's samples.
    q : float
        The file's grid around it (:func:`file_grid`; 0: none, the holds are not explained).
    """
    if q <= 0.0:
        return False
    eq = burst[1:] == burst[:-1]
    if not eq.any():
        return False
    d = np.abs(np.diff(burst))
    # runs of equal pairs: the step before each run starts and after each run ends
    start = np.flatnonzero(eq & ~np.r_[False, eq[:-1]])
    end = np.flatnonzero(eq & ~np.r_[eq[1:], False])
    edges = np.r_[d[start[start >= 1] - 1], d[end[end + 1 < d.size] + 1]]
    if edges.size == 0:
        return False
    return float(np.median(edges)) <= GRID_EDGE * q


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
    tops: list[tuple[int, int, int, int, float]] = []     # per channel: runs, first, last, longest, level
    top_ch: list[int] = []                                  # ... and that channel
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
        top = _flat_tops(eq, v, ceiling)
        if top is not None:
            tops.append(top)
            top_ch.append(c)
        grid = 0.0                               # the channel's grid, read at its first candidate
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
            inside = eq_all[np.searchsorted(eq_all, s * hop): np.searchsorted(eq_all, e * hop)]
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
            gc = int(GRID_CONTEXT_S * fs)
            ctx = np.r_[xc[max(i0 - gc, 0): i0], xc[i1: i1 + gc]].astype(np.float64)
            if not (grid > 0.0 and on_grid(np.r_[ctx, burst], grid)):
                grid = file_grid(np.r_[ctx, burst])    # read once, again only where it does not fit
            if quantisation_holds(burst, grid):
                continue                               # the file's word length after a gain
            lvl = _db(math.sqrt(float(np.mean(burst ** 2))))
            dur = (i1 - i0) / fs
            n_vals = np.unique(burst).size
            top = float(np.max(np.abs(burst)))
            flat = float(np.mean(np.abs(burst) >= 0.999 * top)) if top > 0 else 0.0
            how = (f"is clipped flat ({flat * 100:.0f} % of its samples sit at its {_db(top):.1f} dBFS ceiling)"
                   if flat >= 0.2 else f"takes only {n_vals} distinct sample values (requantised to a few bits)")
            out.append(RenderEvent(
                "digital_distortion", i0 / fs, lvl, c, dur,
                detail=f"at {i0 / fs:.3f} s a {dur * 1000:.1f} ms stretch at {lvl:.0f} dBFS {how} inside "
                       "clean programme: a digital error; re-render or repair the passage"))
    if tops and (max(t[2] for t in tops) - min(t[1] for t in tops)) / fs < CLIPPED_MIN_SPAN_S:
        # all within one short stretch: a burst driven into a clipper, not a clipped master
        # (reported once: here unless a held burst above already covers it)
        a = min(t[1] for t in tops)
        b = max(t[2] for t in tops) + max(t[3] for t in tops)
        if not any(ev.time_s - 0.002 <= a / fs <= ev.time_s + ev.duration_s + 0.002 for ev in out):
            n_runs = sum(t[0] for t in tops)
            lvl = max(t[4] for t in tops)
            out.append(RenderEvent(
                "digital_distortion", a / fs, lvl, -1 if len(tops) > 1 else top_ch[0], (b - a) / fs,
                detail=f"at {a / fs:.3f} s a {(b - a) / fs * 1000:.1f} ms stretch is clipped flat ({n_runs} flat "
                       f"tops of {CLIPPED_RUN} or more equal samples at {lvl:.1f} dBFS) inside clean "
                       "programme: a digital error; re-render or repair the passage"))
        tops = []
    if tops:
        n_runs = sum(t[0] for t in tops)
        t0, t1 = min(t[1] for t in tops) / fs, max(t[2] for t in tops) / fs
        longest = max(t[3] for t in tops) / fs
        lvl = max(t[4] for t in tops)
        # one finding for the file (duration 0: it must not swallow splices or clicks elsewhere)
        out.append(RenderEvent(
            "digital_distortion", t0, lvl, -1 if len(tops) > 1 else top_ch[0], 0.0,
            detail=f"hard-clipped: {n_runs} flat tops of {CLIPPED_RUN} or more equal samples at "
                   f"{lvl:.1f} dBFS from {t0:.1f} s to {t1:.1f} s (the longest {longest * 1000:.1f} ms): "
                   "the master was driven into a clipper, and its flat tops are digital distortion; "
                   "use a true-peak limiter or less drive"))
    return out


def _flat_tops(eq: np.ndarray, v: np.ndarray, ceiling: float) -> tuple[int, int, int, int, float] | None:
    """Flat tops of a hard clipper in one channel, from its equal pairs ``eq`` (positions ``i``
    with ``x[i] == x[i - 1]``), their magnitudes ``v`` and the channel's largest magnitude
    ``ceiling``: runs of ``CLIPPED_RUN`` equal samples at the ceiling.

    A smooth (look-ahead, true-peak) limiter never holds a value that long: a 16-bit sample
    repeats at a crest only where the waveform moves less than an LSB over the run (below
    ~20 Hz for six samples at full scale).

    Returns
    -------
    (n_runs, first, last, longest, level_db) or None
        Sample indices of the first and last flat top, the longest in samples, the ceiling (dBFS).
    """
    if eq.size < CLIPPED_MIN_RUNS * (CLIPPED_RUN - 1) or ceiling < CLIPPED_MIN_LEVEL:
        return None
    top = eq[v >= 0.999 * ceiling]
    if top.size < CLIPPED_MIN_RUNS * (CLIPPED_RUN - 1):
        return None
    brk = np.flatnonzero(np.diff(top) != 1)
    starts = top[np.r_[0, brk + 1]]
    lens = np.diff(np.r_[0, brk + 1, top.size]) + 1          # samples per run of equal pairs
    long_ = lens >= CLIPPED_RUN
    if int(long_.sum()) < CLIPPED_MIN_RUNS:
        return None
    return int(long_.sum()), int(starts[long_][0]) - 1, int(starts[long_][-1]) - 1, int(lens.max()), _db(ceiling)
