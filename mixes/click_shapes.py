"""Shape tests of the click detector (:mod:`mixes.clicks`), split out to keep it short.

- :func:`hole_test`: does a weak event light up a band the music leaves empty (a click between
  a piano's notes and a hi-hat's top)?
- :func:`first_edges`: where a verified event may be the *second* edge of a held step, the
  position of its first edge (so the step is reported where it starts).
"""

from __future__ import annotations

import numpy as np

__all__ = ["hole_test", "first_edges", "HOLE_DB"]

HOLE_DB = 20.0            # the event's bin stands this far above the medians before and after it


def _bh4(n: int) -> np.ndarray:
    """4-term Blackman-Harris window (sidelobes -92 dB: a hi-hat does not leak into the gap)."""
    t = 2 * np.pi * np.arange(n) / n
    return 0.35875 - 0.48829 * np.cos(t) + 0.14128 * np.cos(2 * t) - 0.01168 * np.cos(3 * t)


def hole_test(S: np.ndarray, c: int, guard: int) -> np.ndarray:
    """Second verification path: does the event light up a band the music leaves empty?

    Short frames (~1.3 ms, 4-term Blackman-Harris, hop 1/4) across the window; per FFT bin, the
    frame at the event (the strongest within +-``guard``) against the median of the frames
    before and the median of the frames after.  A click in a spectral hole
    (between a piano's notes and a hi-hat's top) stands ``HOLE_DB`` above both in some bin; a
    musical onset does not stand above what follows it, and noise in a band does not stand
    20 dB above its own median.
    """
    K, N = S.shape
    n = 64 if N >= 512 else 32
    hop = n // 4
    starts = np.arange(0, N - n + 1, hop)
    centre = starts + n // 2
    fr = np.lib.stride_tricks.sliding_window_view(S, n, axis=1)[:, starts]          # (K, F, n)
    P = np.abs(np.fft.rfft(fr * _bh4(n), axis=2)[:, :, 1:]) ** 2                    # (K, F, bins)
    at = np.abs(centre - c) <= guard
    pre = centre < c - guard - n // 2
    post = centre > c + guard + n // 2
    # (other candidates in the window are one frame or two among ~30: the medians ignore them)
    ev = P[:, at].max(axis=1)
    ref = np.maximum(np.median(P[:, pre], axis=1), np.median(P[:, post], axis=1)) + 1e-30
    out = np.max(ev / ref, axis=1) > 10 ** (HOLE_DB / 10)
    return out


def first_edges(x: np.ndarray, onsets: list[int], fs: int, lo_s: float, hi_s: float) -> np.ndarray:
    """Where a verified event may be the *second* edge of a held step: the first edge.

    Stage 1 of :mod:`mixes.clicks` keeps one peak per 2 ms, so of a step held 0.2-2 ms only the stronger edge
    may be a candidate, and the first pass then reports the step at its end.  The third
    difference turns an edge of height h into (h, -2h, h); a held step's two edges have
    opposite signs and like heights.  For each event, the strongest third-difference sample
    ``lo_s`` to ``hi_s`` before it is returned when its sign is opposite
    to the event's and its height within a factor of 2 of it (the wide pass then decides).
    """
    lo, hi = int(lo_s * fs), int(hi_s * fs)
    out = []
    for o in onsets:
        a, b = o - hi - 4, o + 6
        if a < 0 or b > x.size:
            continue
        seg = x[a:b].astype(np.float64)
        d3 = seg[3:] - 3 * seg[2:-1] + 3 * seg[1:-2] - seg[:-3]     # d3[i] <-> x[a + 3 + i]
        e0 = o - 2 - (a + 3)
        ev = d3[e0: e0 + 6]
        ie = int(np.argmax(np.abs(ev)))
        before = d3[: e0 - lo]
        if before.size == 0:
            continue
        ib = int(np.argmax(np.abs(before)))
        hb, he = before[ib], ev[ie]
        if hb * he < 0 and 0.5 <= abs(hb) / max(abs(he), 1e-30) <= 2.0:
            out.append(a + 3 + ib - 1)
    return np.asarray(out, dtype=np.int64)
