"""Digital artifacts a fresh listener catches: splices, bursts of garbage, missing dither,
inverted polarity, dual mono.

Each detector is cheap (a few passes over the samples) and each finding is a
:class:`~mixes.types.RenderEvent` with ``kind``, ``time_s``, ``channel`` (-1: both) and a
one-sentence ``detail``:

``discontinuity``
    A bad edit: the waveform (or its slope) jumps at one sample.  Found on its own by
    :func:`mixes.artifact_splice.find_splices` (a one-sample jump of the waveform in all
    channels at once, whatever the level after it: a join into a louder chorus is still a
    splice; ``channel`` -1), and among the impulsive
    events of :mod:`mixes.clicks` (which also says whether it is audible): within 1 ms of the
    event exactly one first difference (a step of the waveform, which stays: 3 samples on, the
    waveform is still displaced by about the step) or one second difference (a step of its
    slope) stands ``SPLICE_RATIO`` times above all others, where a click leaves a pair
    (``a, -a``) or more and returns to the waveform.  ``level_db``: the jump (dBFS).
``digital_distortion``
    A burst of garbage (a few ms of hard-clipped, bit-crushed or random samples): the energy of
    the first difference in 2.5 ms hops jumps ``BURST_RISE_DB`` above its 100 ms median, stays
    there 1-30 ms, and starts and stops within one hop (``BURST_EDGE_DB``; the start is judged
    against the quieter of the two hops before, so a drum stroke just before does not hide
    it) - acoustic sounds decay, garbage stops.  A burst that starts a louder sound, overall or
    below ~200 Hz (a drum's beater noise before its body), is music.  ``level_db``: the burst's RMS (dBFS).
    A few ms requantised to 2-6 bits or clipped flat below the file's ceiling can stay under
    that energy jump in loud, bright material; :mod:`mixes.artifact_crush` finds those by the
    exact repeats of sample values they leave (reported with the same kind).
``truncation``
    Word length reduced to 16 bits without dither, audible in quiet fades as granular
    distortion that follows the signal down.  In quiet blocks (between -100 and -60 dBFS) whose
    samples all lie on the 16-bit grid, the second difference of the sample values (in LSB)
    measures the noise riding on the signal: TPDF dither alone gives a variance of 1.5 LSB^2
    (6 x 1/4), undithered rounding or truncation far less because the error follows the signal
    as a staircase.  Bright material (hi-hats, a crash) keeps that variance high down to
    ~-85 dBFS, and a song's own fade can cross the rest of the range in a second; the tail
    below, where an undithered signal lives on its last 2-4 values and changes value only
    when the waveform crosses a step (``TRUNC_MAX_CHANGE`` of its samples; TPDF dither changes
    it at ~40 % even with no signal), is the second test.  Blocks meeting either over at least
    ``TRUNC_MIN_S`` are reported.  ``level_db``: level of the quiet passage (dBFS).
``polarity_inverted``
    One channel inverted: the correlation of L and R below ~150 Hz (boxcar-decimated to
    400 Hz), over the whole file or over ``POLARITY_MIN_S`` of consecutive 5 s sections, is
    below ``POLARITY_CORR`` (bass and kick sit in the centre in every normal mix).
    ``level_db``: NaN.
``dual_mono``
    Two channels identical to the last bit: a mono mix delivered as stereo.  ``level_db``: NaN.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage, signal

from mixes.artifact_crush import held_bursts
from mixes.artifact_splice import BG_HOPS, DiffStats, diff_stats, find_splices, splice_stays
from mixes.types import RenderEvent

__all__ = ["find_artifacts", "dual_mono", "polarity_inverted", "truncation", "digital_distortion",
           "splice_jump", "at_flat_top"]

SPLICE_WINDOW_S = 0.001
SPLICE_RATIO = 2.5
SPLICE_NET_SAMPLES = 3
SPLICE_RETURN_S = 0.0025      # an opposite jump this close: a pulse (a click), not a splice
BURST_RISE_DB = 20.0
BURST_EDGE_DB = 10.0
BURST_EDGE_STEP = 4.0         # a run is extended by one partly filled hop only before a drop this large
BURST_MAX_S = 0.030
BURST_MIN_S = 0.001
BURST_FOLLOW_HOPS = 8         # a louder sound within this many hops after: the burst belongs to it
BURST_MIN_DBFS = -50.0
BURST_ONSET_RISE = 4.0        # energy ratio after/before: the burst starts a louder sound
LSB16 = 1.0 / 32768.0
TRUNC_BLOCK = 4096
TRUNC_MAX_H_VAR = 0.75        # LSB^2; TPDF dither alone gives 1.5
TRUNC_MIN_S = 0.25
TRUNC_LEVELS_DBFS = (-100.0, -60.0)
TRUNC_TAIL_VALUES = 4         # a block on this few 16-bit values ...
TRUNC_MAX_CHANGE = 0.2        # ... changing value at fewer of its samples: an undithered tail
TRUNC_GRID_TOL = 1.0 / 64     # 16-bit LSB: samples this close to the grid are on it (a 24-bit dither on top)
TRUNC_SPARSE_MAX = 0.2        # below -100 dBFS: fewer non-zero samples than TPDF dither's 25 %
TRUNC_MAX_BLOCKS = 400        # quiet blocks examined per channel (the last ones: fades and tails end files)
POLARITY_RATE_HZ = 400
POLARITY_SECTION_S = 5.0
POLARITY_MIN_S = 10.0
POLARITY_CORR = -0.5
POLARITY_MIN_DBFS = -60.0
POLARITY_LP_HZ = 100.0


def _db(v: float) -> float:
    return 20.0 * math.log10(v) if v > 0 else -math.inf


def dual_mono(x: np.ndarray, *, fs: int) -> list[RenderEvent]:
    """Both channels bit-identical (and not silent)."""
    if x.shape[0] != 2:
        return []
    n = x.shape[1]
    step = 1 << 18
    for a in range(0, n, step):                     # early exit on the first difference
        if not np.array_equal(x[0, a:a + step], x[1, a:a + step]):
            return []
    if not np.any(x[0]):
        return []
    return [RenderEvent("dual_mono", 0.0, math.nan, -1, n / fs,
                        detail="left and right are identical to the last bit: a mono mix delivered as "
                               "two channels (deliver it as mono, or check the bounce's panning)")]


def polarity_inverted(x: np.ndarray, *, fs: int, stats: DiffStats | None = None) -> list[RenderEvent]:
    """One channel in inverted polarity (strongly negative L/R correlation at low frequencies).

    ``stats``: :func:`mixes.artifact_splice.diff_stats` of ``x`` if the caller has it (its hop
    means are the boxcar average, when its hop is ``fs // POLARITY_RATE_HZ``).
    """
    if x.shape[0] != 2:
        return []
    m = max(fs // POLARITY_RATE_HZ, 1)
    if stats is not None and stats.hop == m:
        lo = stats.mean.astype(np.float64)            # boxcar average: < ~150 Hz survives
        n_b = lo.shape[1]
    else:
        n_b = x.shape[1] // m
        lo = np.empty((2, n_b))
        for c in range(2):                            # boxcar average: < ~150 Hz survives
            lo[c] = x[c, : n_b * m].reshape(n_b, m) @ np.full(m, 1.0 / m, dtype=x.dtype)
    if n_b < 8:
        return []
    lo -= lo.mean(axis=1, keepdims=True)
    rate = fs / m
    # the boxcar's sidelobes let through some of 200-700 Hz, where a wide mix is wide: the
    # correlation is also read below POLARITY_LP_HZ (a 2nd-order low-pass of the 400-Hz series:
    # the same filter on both channels, so its phase does not matter), and the more negative of
    # the two counts (songs5 703, wide: the boxcar series of the inverted mix correlates -0.16,
    # below 100 Hz -0.77; songs4 700 the other way)
    lo2 = None
    if n_b > 12 and rate > 2.5 * POLARITY_LP_HZ:
        lo2 = np.ascontiguousarray(       # (rows contiguous: the section dot products use BLAS)
            signal.sosfilt(signal.butter(2, POLARITY_LP_HZ, fs=rate, output="sos"), lo, axis=1))

    def sections(v: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """L/R correlation (0 where a channel is silent) and level (dBFS, the louder channel) of
        each span [starts, ends) of ``v``, from running sums (vectorised)."""
        sums = []
        for prod in (v[0] * v[0], v[1] * v[1], v[0] * v[1]):
            c = np.concatenate([[0.0], np.cumsum(prod)])
            sums.append(c[ends] - c[starts])
        ll, rr, lr = sums
        ok = (ll > 0) & (rr > 0)
        r = np.where(ok, lr / np.sqrt(np.where(ok, ll * rr, 1.0)), 0.0)
        with np.errstate(divide="ignore"):
            level = 10 * np.log10(np.maximum(ll, rr) / np.maximum(ends - starts, 1))
        return r, level

    def correlation(starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per span: the more negative of the boxcar series' and the < 100 Hz series' correlation,
        and the boxcar series' level."""
        r, level = sections(lo, starts, ends)
        if lo2 is not None:
            r = np.minimum(r, sections(lo2, starts, ends)[0])
        return r, level

    w_r, w_level = correlation(np.array([0]), np.array([n_b]))
    whole, level = float(w_r[0]), float(w_level[0])
    if level < POLARITY_MIN_DBFS:
        return []
    if whole < POLARITY_CORR:
        return [RenderEvent("polarity_inverted", 0.0, math.nan, -1, x.shape[1] / fs,
                            detail=f"left and right are negatively correlated below ~150 Hz over the whole "
                                   f"file (r = {whole:.2f}): one channel is in inverted polarity, and the "
                                   "bass cancels in mono; flip one channel")]
    sec = int(POLARITY_SECTION_S * rate)
    starts = np.arange(0, max(n_b - sec // 2, 0), sec)
    ends = np.minimum(starts + sec, n_b)
    r_sec, lvl_sec = correlation(starts, ends)
    cs = list(zip(r_sec.tolist(), lvl_sec.tolist()))
    bad = [c < POLARITY_CORR and lvl >= POLARITY_MIN_DBFS for c, lvl in cs]
    need = int(math.ceil(POLARITY_MIN_S / POLARITY_SECTION_S))
    out = []
    i = 0
    while i < len(bad):
        if bad[i]:
            j = i
            while j < len(bad) and bad[j]:
                j += 1
            if j - i >= need:
                r = float(np.mean([cs[k][0] for k in range(i, j)]))
                t0, t1 = i * POLARITY_SECTION_S, min(j * POLARITY_SECTION_S, x.shape[1] / fs)
                out.append(RenderEvent("polarity_inverted", t0, math.nan, -1, t1 - t0,
                                       detail=f"from {t0:.1f} s to {t1:.1f} s left and right are negatively "
                                              f"correlated below ~150 Hz (r = {r:.2f}): one channel is in "
                                              "inverted polarity there (a flipped track or edit)"))
            i = j
        else:
            i += 1
    return out


def truncation(x: np.ndarray, *, fs: int) -> list[RenderEvent]:
    """Quiet passages on the 16-bit grid without dither (per channel)."""
    out = []
    B = TRUNC_BLOCK
    lo_rms, hi_rms = 10 ** (TRUNC_LEVELS_DBFS[0] / 20), 10 ** (TRUNC_LEVELS_DBFS[1] / 20)
    need = max(int(math.ceil(TRUNC_MIN_S * fs / B)), 1)
    for c in range(x.shape[0]):
        n_b = x.shape[1] // B
        if n_b == 0:
            continue
        X = x[c, : n_b * B].reshape(n_b, B)
        ms = np.einsum("ij,ij->i", X, X).astype(np.float64) / B
        quiet = np.flatnonzero((ms > 0.0) & (ms < hi_rms ** 2))
        if quiet.size < need:
            continue
        flagged, h_vars, levels = [], [], []
        n_sparse = n_near = 0
        for b in quiet[-TRUNC_MAX_BLOCKS:]:
            q = X[b].astype(np.float64) / LSB16
            qr = np.round(q)
            if float(np.max(np.abs(q - qr))) > TRUNC_GRID_TOL:
                continue                              # finer than 16 bits here: not truncated
            # (within TRUNC_GRID_TOL of the grid: a 16-bit staircase re-dithered at 24 bits or
            # in float keeps it, and its distortion, under the new dither)
            near = not np.array_equal(q, qr)
            q = qr
            if ms[b] <= lo_rms ** 2:
                # below -100 dBFS only an undithered tail lives: a decaying signal rounded to
                # 0 with sparse +-1-2 LSB where it crosses half a step.  TPDF dither leaves no
                # block like that (it sets >= ~25 % of the samples to +-1 LSB even in silence)
                nz = float(np.mean(q != 0.0))
                if 0.0 < nz < TRUNC_SPARSE_MAX and float(np.max(np.abs(q))) <= 2.0:
                    n_sparse += 1
                    n_near += near
                    flagged.append(int(b))
                    h_vars.append(float(np.mean(np.diff(q, 2) ** 2)))
                    levels.append(0.5 * _db(ms[b]))
                continue
            h = q[2:] - 2.0 * q[1:-1] + q[:-2]
            hv = float(np.mean(h * h))
            n_vals = np.unique(q).size
            # at the last bits (a few LSB) undithered samples hold a value until the signal
            # crosses the next step (a slow staircase of 2-4 values); TPDF dither changes the
            # value at ~40 % of the samples even with no signal at all
            slow = n_vals <= TRUNC_TAIL_VALUES and float(np.mean(q[1:] != q[:-1])) < TRUNC_MAX_CHANGE
            if (hv < TRUNC_MAX_H_VAR and n_vals >= 3) or (n_vals >= 2 and slow):
                n_near += near
                flagged.append(int(b))
                h_vars.append(hv)
                levels.append(0.5 * _db(ms[b]))
        if len(flagged) >= need:
            t0 = flagged[0] * B / fs
            dur = len(flagged) * B / fs
            grid = ("lie within 1/64 step of the 16-bit grid (a finer dither was added after the "
                    "16-bit rounding, which does not undo it)" if n_near * 2 > len(flagged) else
                    "lie on the 16-bit grid")
            if n_sparse * 2 > len(flagged):
                how = (f"{grid} as a decaying tail rounded to zero with sparse 1-2 step blips and no "
                       "dither noise under it")
            else:
                margin = 10 * math.log10(1.5 / max(float(np.median(h_vars)), 1e-6))
                how = f"{grid} with {margin:.0f} dB less noise than TPDF dither"
            out.append(RenderEvent(
                "truncation", t0, float(np.median(levels)), c, dur,
                detail=f"from {t0:.1f} s, {dur:.1f} s of quiet passages (around "
                       f"{np.median(levels):.0f} dBFS) {how}: the word length was reduced to 16 bits "
                       "without (TPDF) dither; requantise from the source with dither"))
    return out


def _low_ms(w: np.ndarray, fs: int) -> float:
    """Mean square of ``w`` below ~200 Hz (2.5 ms moving average): a kick's body."""
    n = max(int(0.0025 * fs), 2)
    if w.size <= n:
        return 0.0
    c = np.cumsum(np.r_[0.0, w])
    m = (c[n:] - c[:-n]) / n
    return float(np.dot(m, m) / m.size)


def _median_bg(E: np.ndarray) -> np.ndarray:
    """Running median of each channel's hop energy over ``BG_HOPS`` (1-D filters: the 2-D call is
    several times slower)."""
    return np.vstack([ndimage.median_filter(e, size=BG_HOPS, mode="nearest") for e in E])


def digital_distortion(x: np.ndarray, *, fs: int, stats: DiffStats | None = None,
                       bg: np.ndarray | None = None) -> list[RenderEvent]:
    """Short bursts of broadband garbage with abrupt start and stop (per channel).

    ``stats`` / ``bg``: :func:`mixes.artifact_splice.diff_stats` of ``x`` and its hop energy
    median-filtered over ``BG_HOPS``, if the caller has them (``find_artifacts`` shares them
    with the splice detector).
    """
    if stats is None:
        stats = diff_stats(x, fs=fs)
    hop = stats.hop
    if bg is None:
        bg = _median_bg(stats.energy)
    out = []
    rise = 10 ** (BURST_RISE_DB / 10)
    edge = 10 ** (BURST_EDGE_DB / 10)
    max_hops = int(BURST_MAX_S * fs / hop) + 1
    for c in range(x.shape[0]):
        xc = x[c]
        E = stats.energy[c]
        n_h = E.size
        if n_h < 8:
            continue
        bgc = bg[c] + 1e-20
        hot = E > rise * bgc
        if not hot.any():
            continue
        idx = np.flatnonzero(np.diff(np.r_[0, hot.view(np.int8), 0]))
        found: list[tuple[int, float]] = []
        n_before = len(out)
        for s, e in zip(idx[::2], idx[1::2]):        # runs of hot hops [s, e)
            # a burst over two hops can leave one of them below the rise: the run takes in the
            # hop beside it within BURST_EDGE_DB of its top, if the energy then drops abruptly
            top = E[s:e].max()
            if s > 2 and E[s - 1] * edge > top:
                s -= 1
            if e < n_h - 1 and E[e] * edge > top and E[e] > BURST_EDGE_STEP * E[e + 1]:
                e += 1
            if e - s > max_hops or s < 2 or e >= n_h:
                continue
            top = E[s:e].max()
            # the start is judged against the quieter of the two hops before it (a hi-hat or snare
            # stroke just before the burst is not a gradual start); the stop against the next hop
            if not (min(E[s - 1], E[s - 2]) * edge < top and E[e] * edge < top):
                continue                               # gradual start or decay: acoustic
            if E[e: e + BURST_FOLLOW_HOPS].max(initial=0.0) > top:
                continue                               # a louder sound follows at once: a clap's first burst
            a, b = s * hop, e * hop
            seg = xc[a - hop: b + hop].astype(np.float64)
            dd = np.abs(np.diff(seg))
            big = np.flatnonzero(dd > 0.3 * dd.max())
            dur = (big[-1] - big[0] + 1) / fs
            if dur < BURST_MIN_S:
                continue                               # a click: mixes.clicks judges it
            w = int(0.010 * fs)
            after = xc[b + hop: b + hop + w].astype(np.float64)
            before = xc[max(a - hop - w, 0): a - hop].astype(np.float64)
            if after.size and before.size and (
                    np.mean(after ** 2) > BURST_ONSET_RISE * np.mean(before ** 2) + 1e-20
                    or _low_ms(after, fs) > BURST_ONSET_RISE * _low_ms(before, fs) + 1e-20):
                continue                               # starts a louder sound: a drum hit (its body)
            burst = xc[a - hop + big[0]: a - hop + big[-1] + 1].astype(np.float64)
            lvl = _db(math.sqrt(float(np.mean(burst ** 2))))
            if lvl < BURST_MIN_DBFS:
                continue
            t0 = (a - hop + big[0]) / fs
            found.append((a - hop + big[0], dur))
            out.append(RenderEvent(
                "digital_distortion", t0, lvl, c, dur,
                detail=f"at {t0:.3f} s a {dur * 1000:.1f} ms burst of broadband garbage at {lvl:.0f} dBFS "
                       f"rises {10 * math.log10(top / bgc[s]):.0f} dB above the programme and stops "
                       "abruptly (a digital error: clipped, bit-crushed or corrupt samples); re-render or "
                       "repair the passage"))
        if found:
            # a burst that comes back, with the sound after it, at another of the channel's
            # transients is the music's (a sampled kick's beater noise, a clap sample): the
            # musical-context test of the click detector (mixes.click_recur); a digital error
            # does not recur with the music that follows it
            from mixes.click_recur import recurs
            partners = np.array([s0 * hop + int(np.argmax(np.abs(np.diff(xc[s0 * hop: e0 * hop + 1]))))
                                 for s0, e0 in zip(idx[::2], idx[1::2]) if e0 > s0], dtype=np.int64)
            r = recurs(xc, np.array([f[0] for f in found], dtype=np.int64),
                       np.array([f[1] for f in found]), partners, fs=fs)
            out[n_before:] = [ev for ev, rec in zip(out[n_before:], r) if not rec]
    return out


FLAT_RUN = 3                  # equal samples in a row: a clipper's flat top
FLAT_MIN = 0.1                # ... at least this level (-20 dBFS)
FLAT_NEAR_S = 0.0002          # ... this close to the event
FLAT_AROUND_S = 0.010         # ... and the top of the waveform over this much either side


def at_flat_top(xc: np.ndarray, onset: int, span: int, *, fs: int) -> bool:
    """Whether an event sits at the corner of a clipped (flat-topped) stretch of ``xc``.

    A hard clipper bends the waveform at one sample into a run of equal samples: its slope
    steps, which :func:`splice_jump` would take for an edit.  The corner is the clipping's
    (``clipping`` in :mod:`mixes.renderchecks`, a clipped master's ``digital_distortion`` in
    :mod:`mixes.artifact_crush`): a run of ``FLAT_RUN`` equal samples of at least ``FLAT_MIN``
    within ``FLAT_NEAR_S`` of the event, at the largest magnitude within ``FLAT_AROUND_S``.
    """
    w = max(int(FLAT_NEAR_S * fs), FLAT_RUN + 1)
    a, b = max(onset - w, 0), min(onset + span + w, xc.size)
    seg = xc[a:b]
    if seg.size < FLAT_RUN:
        return False
    eq = seg[1:] == seg[:-1]
    run = eq[:-1] & eq[1:] if FLAT_RUN == 3 else eq
    for i in np.flatnonzero(run):
        v = abs(float(seg[i]))
        if v < FLAT_MIN:
            continue
        r = int(FLAT_AROUND_S * fs)
        if v >= 0.999 * float(np.max(np.abs(xc[max(onset - r, 0): onset + span + r]))):
            return True
    return False


def splice_jump(x: np.ndarray, onset: int, span: int, *, fs: int) -> tuple[float, float]:
    """The outstanding jump of a suspected splice, against the next largest one around it.

    In the ``SPLICE_WINDOW_S`` around the event, a splice leaves exactly one outstanding first
    difference (the waveform steps) or one outstanding second difference (its slope steps); a
    click leaves several (``a, -a`` for a single sample, ``a, -2a, a`` in the second
    difference, more for doublets and bursts).  Both the step and the slope step must stay
    (:func:`mixes.artifact_splice.splice_stays` of the first or second difference): a click returns within its few samples, a splice does not (3-sample clicks and
    doublets in loud, bright music otherwise passed the 3-sample line test and were reported as
    splices, not clicks).

    Returns
    -------
    (jump, ref) : tuple of float
        The largest first (or second) difference and the largest other one in the window, of
        whichever order has the larger ratio (full scale).
    """
    w = max(int(SPLICE_WINDOW_S * fs), 8)
    a, b = max(onset - w, 0), min(onset + span + w, x.size)
    seg = x[a:b].astype(np.float64)
    best = (0.0, math.inf)
    back = max(int(SPLICE_RETURN_S * fs), 4)
    for order in (1, 2):
        d = np.diff(seg, order)
        if d.size < 3:
            continue
        med = float(np.median(d))
        ds = d - med
        d = np.abs(ds)                                 # the local slope (curvature) is music
        i = int(np.argmax(d))
        top = float(d[i])
        if order == 1:
            # a held step that comes back (the waveform returns within SPLICE_RETURN_S: a
            # rectangular pulse, a click of two edges) is not a splice
            i0, i1 = a + i + 1 - back, a + i + 1 + back
            if i0 >= 1 and i1 < x.size:
                dd = np.diff(x[i0 - 1: i1 + 1].astype(np.float64)) - med
                dd[back - 1: back + 2] = 0.0           # the jump itself
                if np.any(dd * np.sign(ds[i]) < -0.5 * top):
                    continue
            # a step stays: the waveform 3 samples after it is displaced from the line through
            # the samples before by about the step; after a click it is back on the line
            k = SPLICE_NET_SAMPLES
            if i - 2 * k < 0 or i + 1 + 2 * k >= seg.size:
                continue
            # the local slope from the k samples on either side of the 2k + 1 around the jump
            slope = float(seg[i - k] - seg[i - 2 * k] + seg[i + 1 + 2 * k] - seg[i + 1 + k]) / (2 * k)
            net = abs(float(seg[i + 1 + k] - seg[i - k]) - slope * (2 * k + 1))
        else:
            # a slope step stays too: the slope over the k samples after the corner differs
            # from the slope over the k before by about the step; around a click it does not
            k = SPLICE_NET_SAMPLES
            if i + 1 - k < 0 or i + 1 + k >= seg.size:
                continue
            net = abs(float(seg[i + 1 + k] - 2 * seg[i + 1] + seg[i + 1 - k]) / k - med * k)
        if net < 0.5 * top:
            continue
        d[i] = 0.0
        ref = float(d.max()) + 1e-12
        if top / ref > best[0] / best[1]:
            # (the stay is asked only of a jump that would be a splice: SPLICE_RATIO)
            if top / ref > SPLICE_RATIO and not splice_stays(x, a + i, order=order):
                continue                               # it comes back: a click
            best = (top, ref)
    return best


def _paired_jumps(events: list[RenderEvent]) -> tuple[list[RenderEvent], list[RenderEvent]]:
    """Two splices ``BURST_MIN_S`` to ``BURST_MAX_S`` apart are the two edges of one short stretch
    that does not belong (a few ms bit-crushed to zeros or clipped in quiet music, whose energy
    stays under the burst detector's rise, or a snippet pasted in): one ``digital_distortion``
    from the first jump to the second.  Returns (the other events, those bursts)."""
    sp = sorted((ev for ev in events if ev.kind == "discontinuity"), key=lambda ev: ev.time_s)
    used: set[int] = set()
    bursts = []
    for i in range(len(sp) - 1):
        a, b = sp[i], sp[i + 1]
        gap = b.time_s - a.time_s
        if id(a) in used or not BURST_MIN_S <= gap <= BURST_MAX_S:
            continue
        used.update((id(a), id(b)))
        lvl = max(a.level_db, b.level_db)
        bursts.append(RenderEvent(
            "digital_distortion", a.time_s, lvl, a.channel, gap,
            detail=f"at {a.time_s:.3f} s the waveform jumps away ({a.level_db:.0f} dBFS) and jumps back "
                   f"{gap * 1000:.1f} ms later ({b.level_db:.0f} dBFS): a short stretch of wrong samples "
                   "(clipped, bit-crushed, zeroed or pasted in); re-render or repair the passage"))
    return [ev for ev in events if id(ev) not in used], bursts


def find_artifacts(x: np.ndarray, *, fs: int) -> list[RenderEvent]:
    """Splices, bursts of digital distortion, missing dither, inverted polarity and dual mono.

    Splices (``discontinuity``) here are the one-sample jumps of
    :func:`mixes.artifact_splice.find_splices`; :func:`mixes.renderchecks.render_checks` adds
    those it finds among the impulsive events of :mod:`mixes.clicks` (sorted into clicks and
    splices with :func:`splice_jump`).

    Parameters
    ----------
    x : ndarray, shape (n_channels, n_samples)
        Full scale 1.0.
    fs : int
        Sample rate (Hz), keyword-only.
    """
    stats = diff_stats(x, fs=fs)
    out = dual_mono(x, fs=fs)
    if not out:
        out += polarity_inverted(x, fs=fs, stats=stats)
    out += truncation(x, fs=fs)
    bursts: list[RenderEvent] = []
    if stats.energy.shape[1] >= 8:
        bg = _median_bg(stats.energy)
        out += find_splices(x, fs=fs, stats=stats, bg=bg)
        bursts = digital_distortion(x, fs=fs, stats=stats, bg=bg)
    for ev in held_bursts(x, fs=fs):           # requantised / clipped stretches (mixes.artifact_crush)
        if not any((b.channel == ev.channel or -1 in (b.channel, ev.channel))
                   and b.time_s - 0.002 <= ev.time_s <= b.time_s + b.duration_s + 0.002 for b in bursts):
            bursts.append(ev)
    # the edges of a burst are jumps too: the burst is the one event
    out = [ev for ev in out if not (ev.kind == "discontinuity" and any(
        b.time_s - 0.002 <= ev.time_s <= b.time_s + b.duration_s + 0.002 for b in bursts))]
    out, paired = _paired_jumps(out)          # a stretch between two jumps: one burst
    out += bursts + paired
    out.sort(key=lambda ev: ev.time_s)
    return out
