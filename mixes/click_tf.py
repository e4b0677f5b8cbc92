"""A time-frequency click detector for clicks inside noise-like percussion (:mod:`mixes.clicks`).

Why a second detector.  Stages 1-2 of :mod:`mixes.clicks` find a click as an excursion of an
order-16 AR model's prediction error over ~12 ms (after Vaseghi; Godsill & Rayner, *Digital Audio
Restoration*, 1998, ch. 5).  Inside a hi-hat or snare stroke that model is fitted over samples
with and without the stroke and cannot predict noise; and a click whose energy lies below
~3 kHz (a step or burst held 0.5-2 ms: a sinc spectrum) is not proposed by stage 1's
third-difference whitening at all.  Yet such a click stands out in the bands the percussion
leaves free, against the level *those bands* have around it.

The detector (on the programme decimated to ~8 kHz that the low-band path already computes,
:mod:`mixes.click_decimate`):

1. Short-time band powers: 2 ms Hann frames every 0.5 ms (``FRAME_S``, ``HOP_S``), DFT bins
   grouped into ``BANDS_HZ`` (roughly octaves from 250 Hz to the 3.4 kHz cut).
2. Each band normalised by its *own* local level, two-sided and excluding the event: the
   geometric mean of the band's power over ``SIDE_S`` before and over ``SIDE_S`` after the
   frame, leaving ``GAP_S`` either side out; the reference is the larger of the two (an onset
   is louder after, a decay louder before: a click must stand above both).  The band's
   log-ratio over that reference is ``z_b``.
3. Evidence combined across bands as a generalized likelihood ratio for an energy increase of
   unknown size in each band (a chi-square power with ``dof`` degrees of freedom:
   ``dof/2 (r - 1 - ln r)`` for a ratio r > 1), summed over the bands: a broadband,
   time-aligned excess adds up; a tonal onset in one band does not reach the threshold.
4. A local maximum of that score over +-``PEAK_S`` above ``SCORE_MIN`` is an event, placed at
   the full rate by least-squares AR interpolation (:func:`mixes.click_lsar.isolate`) over the
   span it covers, so stage 3 (:mod:`mixes.click_masking`) judges its whole waveform; the
   audibility stays the project's one margin.

Two clicks 16 ms apart are two maxima (each frame spans 2 ms, the references leave
``GAP_S`` out and take a geometric mean, so a partner in the side window moves it little).
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import maximum_filter1d, uniform_filter1d

__all__ = ["band_scores", "peaks", "centres", "FRAME_S", "HOP_S", "BANDS_HZ", "SCORE_MIN"]

FRAME_S = 0.002
HOP_S = 0.0005
BANDS_HZ = ((250.0, 750.0), (750.0, 1250.0), (1250.0, 2250.0), (2250.0, 3250.0))
GAP_S = 0.0015           # left out either side of the frame in its reference
SIDE_S = 0.006           # reference taken over this much before and after
PEAK_S = 0.001           # an event is the largest score within this
SCORE_MIN = 40.0         # GLRT threshold (set on clean material; see the clicks7 note)
Z_MIN = 1.0              # frames where no band's log-ratio exceeds this score 0 (cost)
REFINE_MIN = 4.0         # half-hop frames computed beside frames scoring above this (cost)
_DFT: dict[int, tuple[np.ndarray, np.ndarray]] = {}


def _dft(n: int) -> tuple[np.ndarray, np.ndarray]:
    if n not in _DFT:
        k = np.arange(n // 2 + 1)[None, :]
        t = np.arange(n)[:, None]
        w = np.hanning(n + 2)[1:-1][:, None]
        _DFT[n] = ((np.cos(2 * np.pi * k * t / n) * w).astype(np.float32),
                   (np.sin(2 * np.pi * k * t / n) * w).astype(np.float32))
    return _DFT[n]


def _band_powers(xd: np.ndarray, starts: np.ndarray | None, n: int, hop: int, W: np.ndarray,
                 sel: list[np.ndarray]) -> np.ndarray:
    """Band powers (frames, bands) of the frames xd[s : s + n]: every ``hop`` samples, or at
    ``starts``.  The DFT of the chosen bins by einsum (its own loops: a BLAS call here would
    start threads, which cost more CPU than they save)."""
    xf = np.asarray(xd, dtype=np.float32)
    if starts is None:
        fr = np.lib.stride_tricks.sliding_window_view(xf, n)[::hop]
    else:
        fr = xf[starts[:, None] + np.arange(n)[None, :]]
    m = fr.shape[0]
    nb = W.shape[1] // 2
    P = np.empty((m, len(sel)), dtype=np.float32)
    step = 1 << 14
    for i0 in range(0, m, step):
        i1 = min(i0 + step, m)
        Y = np.einsum("ij,jk->ik", np.ascontiguousarray(fr[i0:i1]), W)
        pw = Y[:, :nb] ** 2 + Y[:, nb:] ** 2
        j = 0
        for b, sb in enumerate(sel):
            P[i0:i1, b] = pw[:, j: j + sb.size].sum(axis=1)
            j += sb.size
    return P


def _glrt(L: np.ndarray, dof: np.ndarray) -> np.ndarray:
    """Summed GLRT of log-ratios ``L`` (frames, bands) over their references, where any is hot."""
    score = np.zeros(L.shape[0], dtype=np.float32)
    hot = np.flatnonzero(L.max(axis=1) > Z_MIN)
    z = np.maximum(L[hot], 0.0)
    score[hot] = ((dof / 2)[None, :] * (np.exp(z) - 1.0 - z)).sum(axis=1)
    return score


def band_scores(xd: np.ndarray, fd: float) -> tuple[np.ndarray, int, int]:
    """GLRT score per frame of the decimated programme ``xd`` (rate ``fd`` Hz).

    Frames are taken every ``2 HOP_S``; where a frame or the next scores above ``REFINE_MIN``,
    the frame half-way between them is computed too (a 2 ms Hann
    frame weighs a click 0.5 ms off its centre by -2 dB, 1 ms off by -7 dB: the half-hop frames
    keep that loss at 2 dB for a quarter of the work of computing them everywhere).

    Returns
    -------
    score : ndarray (n_frames,)
        Summed per-band GLRT of the frame's power over its two-sided local reference (0 for
        half-hop frames not computed: nothing stood out there).
    n_frame, hop : int
        Frame length and hop (samples of ``xd``); frame i covers xd[i hop : i hop + n_frame].
    """
    n = max(int(round(FRAME_S * fd)), 8)
    hop = max(int(round(HOP_S * fd)), 1)
    hop2 = 2 * hop
    m2 = (xd.size - n) // hop2 + 1
    if m2 < 8:
        return np.zeros(0), n, hop
    C, S = _dft(n)
    f = np.arange(n // 2 + 1) * fd / n
    sel = [np.flatnonzero((f >= lo) & (f < hi)) for lo, hi in BANDS_HZ]
    sel = [s for s in sel if s.size]
    cols = np.concatenate(sel)
    W = np.concatenate([C[:, cols], S[:, cols]], axis=1)            # (n, 2 nb)
    dof = np.array([2.0 * s.size for s in sel], dtype=np.float32)
    L = np.log(_band_powers(xd, None, n, hop2, W, sel) + np.float32(1e-30))   # (m2, bands)
    gap = max(int(round(GAP_S / (2 * HOP_S))), 1)
    side = max(int(round(SIDE_S / (2 * HOP_S))), 2)
    # mean log power over ``side`` frames: U[i] = mean of L[i - side // 2 .. i - side // 2 + side - 1]
    U = uniform_filter1d(L, side, axis=0, mode="nearest")
    h = side // 2
    sh_b = gap + side - h                                          # before[i] = U[i - sh_b]
    sh_a = gap + 1 + h                                             # after[i] = U[i + sh_a]
    before = np.empty_like(L)
    after = np.empty_like(L)
    before[sh_b:] = U[: m2 - sh_b]
    after[: m2 - sh_a] = U[sh_a:]
    # (too little context on one side, at the file's ends: that side alone)
    before[:sh_b] = after[:sh_b]
    after[m2 - sh_a:] = before[m2 - sh_a:]
    # geometric mean of an exponential power lies exp(-0.5772) below its mean (Euler's gamma);
    # a band of k bins: the mean of k such, close enough to correct by the same for k <= 2
    corr = (0.5772 / np.sqrt(dof / 2))[None, :]
    ref = np.maximum(before, after) + corr
    score2 = _glrt(L - ref, dof)
    # the half-hop frames between hot neighbours: their reference the earlier frame's before
    # and the later frame's after
    hot = score2 > REFINE_MIN
    i = np.flatnonzero((hot[:-1] | hot[1:]) & (np.arange(m2 - 1) * hop2 + hop + n <= xd.size))
    score = np.zeros(2 * m2 - 1, dtype=np.float32)
    score[::2] = score2
    if i.size:
        Lh = np.log(_band_powers(xd, i * hop2 + hop, n, hop, W, sel) + np.float32(1e-30))
        score[2 * i + 1] = _glrt(Lh - (np.maximum(before[i], after[i + 1]) + corr), dof)
    return score, n, hop


def peaks(score: np.ndarray, hop: int, fd: float, score_min: float = SCORE_MIN) -> np.ndarray:
    """Frames whose score exceeds ``score_min`` and is the largest within +-``PEAK_S``."""
    if score.size == 0:
        return np.zeros(0, dtype=np.int64)
    w = max(int(round(PEAK_S * fd / hop)), 1)
    mx = maximum_filter1d(score, 2 * w + 1, mode="nearest")
    return np.flatnonzero((score > score_min) & (score >= mx)).astype(np.int64)


# --- candidates at the full rate -----------------------------------------------------------

def centres(xd: np.ndarray, fs: int, d: int, n_taps: int, score_min: float = SCORE_MIN) -> tuple[np.ndarray, np.ndarray]:
    """Full-rate positions (samples) of this detector's events and their scores.

    ``xd`` is the programme decimated by ``d`` through an FIR of ``n_taps`` taps
    (:func:`mixes.click_decimate._decimate`: xd[j] <-> x[j d + (n_taps - 1) / 2]); each event
    is placed at its frame's centre (a 2 ms frame: stage 2 of :mod:`mixes.clicks` searches
    +-1 ms around it).
    """
    fd = fs / d
    score, n, hop = band_scores(xd, fd)
    pk = peaks(score, hop, fd, score_min)
    return (pk * hop + n // 2) * d + (n_taps - 1) // 2, score[pk]
