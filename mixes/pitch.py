"""Pitch (f0) in a mix: harmonic-summation salience and pitch contours.

YIN (de Cheveigné & Kawahara, JASA 111(4), 2002) is the classic *monophonic* estimator; on a
full mix it fails: tried here on the centre power of synthetic songs (bass, drums, wide pads,
panned keys, a centred voice at the loudness of each other part) it named the voice's pitch
within a semitone in only 25–45 % of the sung frames.  A mix needs a *predominant* f0: the
pitch whose harmonic series holds the most energy, as in the salience functions of Klapuri
("Multiple fundamental frequency estimation by summing harmonic amplitudes", ISMIR 2006) and
Salamon & Gómez (MELODIA, IEEE TASLP 20(6), 2012):

    S(f0) = sum_h  alpha^(h-1) * sum_k  K_h(k; f0) * |X_k|

over the partials ``h f0`` below ``f_harm_max_hz``, ``K_h`` a triangular kernel around bin
``h f0 / df`` (half-width one bin, or 3 % of ``h f0`` where vibrato spreads the partial), on a
grid of candidate f0 every ``GRID_CENTS``.  The weights ``alpha^(h-1)`` (alpha = 0.8, as in
MELODIA) make a candidate an octave below the true pitch (which collects only every second
partial, with smaller weights) lose to it.  The sum is one matrix product of the magnitude
spectra with a fixed ``(n_bins, n_candidates)`` matrix.

Taking each frame's maximum (the predominant f0) still names another part's note in about half
of the sung frames of a dense mix, so pitches are followed as *contours* (Salamon & Gómez
2012, section III-B, simplified): grown frame by frame from seed frames within a few tens of
cents, the seeds chosen by the caller (see :mod:`mixes.balance`: frames where moving partials
are strong).  Contour pitches are refined by a parabola through the log-frequency grid.
"""

from __future__ import annotations

import numpy as np

__all__ = ["salience_matrix", "salience", "grow_contours", "refine", "signed_fm", "fm_coherence",
           "GRID_CENTS", "SALIENCE_ALPHA"]

GRID_CENTS = 10.0          # candidate spacing
SALIENCE_ALPHA = 0.8       # harmonic weight decay (Salamon & Gómez 2012)


def salience_matrix(*, df_hz: float, n_bins: int, f_min_hz: float, f_max_hz: float,
                    f_harm_max_hz: float, alpha: float = SALIENCE_ALPHA,
                    grid_cents: float = GRID_CENTS) -> tuple[np.ndarray, np.ndarray]:
    """Harmonic-summation weights.

    Parameters
    ----------
    df_hz : float
        Bin spacing of the spectra (Hz).
    n_bins : int
        Bins ``0 .. n_bins - 1`` of the spectra that will be multiplied.
    f_min_hz, f_max_hz : float
        Candidate f0 range (Hz).
    f_harm_max_hz : float
        Partials above this frequency are not summed.

    Returns
    -------
    f0_grid_hz : ndarray (n_candidates,)
    matrix : ndarray (n_bins, n_candidates), float32
    """
    n_cand = int(np.floor(1200.0 * np.log2(f_max_hz / f_min_hz) / grid_cents)) + 1
    f0 = f_min_hz * 2.0 ** (np.arange(n_cand) * grid_cents / 1200.0)
    k = np.arange(n_bins, dtype=np.float64)
    m = np.zeros((n_bins, n_cand), dtype=np.float64)
    h = 1
    while True:
        fh = h * f0
        ok = fh < min(f_harm_max_hz, (n_bins - 1) * df_hz)
        if not ok.any():
            break
        pos = fh[ok] / df_hz
        hw = np.maximum(1.0, 0.03 * fh[ok] / df_hz)
        lo = np.floor(pos - hw).astype(int)
        # each partial touches at most 2 hw + 2 bins: fill them column by column
        span = int(np.ceil(2 * hw.max())) + 2
        cols = np.nonzero(ok)[0]
        for j in range(span):
            kk = lo + j
            valid = (kk >= 0) & (kk < n_bins)
            w = np.clip(1.0 - np.abs(kk - pos) / hw, 0.0, None) * alpha ** (h - 1)
            m[kk[valid], cols[valid]] += w[valid]      # (bin, candidate) pairs unique per j
        h += 1
    return f0, m.astype(np.float32)


def salience(mag: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Salience of every candidate in every frame, ``(n_frames, n_candidates)`` float32."""
    return np.asarray(mag, dtype=np.float32) @ matrix


def grow_contours(sal: np.ndarray, f0_grid_hz: np.ndarray, *, seed_ratio: float, keep_ratio: float,
                  max_step_cents: float, breaks: np.ndarray | None = None,
                  seed_salience: np.ndarray | None = None, relative_to_seed: bool = False,
                  seed_percentile: float = 50.0, seed_reference: float | None = None,
                  keep_frame_ratio: float = 0.0) -> np.ndarray:
    """Pitch contours grown from the clearest frames (a simple form of the contour creation
    of Salamon & Gómez 2012, section III-B).

    Frames are taken as seeds in order of their peak salience (at least ``seed_ratio`` times
    the ``seed_percentile`` percentile of the frames' peaks, or of ``seed_reference``).  From a seed the contour follows, frame by frame forward and
    backward, the largest salience within ``max_step_cents`` of its last pitch, while that
    value stays above ``keep_ratio`` times the frame's own maximum; it stops at a frame that is
    already part of a contour or where ``breaks`` is True (e.g. the join of two excerpts).
    With ``seed_salience`` (same shape) the seeds and their pitch come from it instead (e.g. a
    salience of the moving partials only), the growth from ``sal``.  With
    ``relative_to_seed`` the contour goes on while its salience keeps ``keep_ratio`` of its
    value at the seed (the source against itself, not against the loudest other source: so
    how far a note is followed does not depend on how loud it is against the accompaniment),
    and also at least ``keep_frame_ratio`` of the frame's own peak.

    Returns
    -------
    contour_grid_index : ndarray (n_frames,) of int
        Candidate index of the contour pitch per frame, -1 outside contours.
    """
    n_frames, n_cand = sal.shape
    idx = np.full(n_frames, -1, dtype=np.int64)
    if n_frames == 0:
        return idx
    peak = sal.max(axis=1)
    seed_sal = sal if seed_salience is None else seed_salience
    seed_peak = seed_sal.max(axis=1)
    if seed_reference is not None:
        ref = float(seed_reference)
    else:
        ref = float(np.percentile(seed_peak[seed_peak > 0], seed_percentile)) if np.any(seed_peak > 0) else 0.0
    if ref <= 0:
        return idx
    step = max(int(round(max_step_cents / (1200.0 * np.log2(f0_grid_hz[1] / f0_grid_hz[0])))), 1)
    brk = np.zeros(n_frames, dtype=bool) if breaks is None else np.asarray(breaks, dtype=bool)
    order = np.argsort(-seed_peak)
    for t0 in order:
        if seed_peak[t0] < seed_ratio * ref:
            break
        if idx[t0] >= 0:
            continue
        idx[t0] = int(np.argmax(seed_sal[t0]))
        own = float(sal[t0, idx[t0]])
        for direction in (1, -1):
            c = idx[t0]
            t = t0
            while True:
                nxt = t + direction
                if nxt < 0 or nxt >= n_frames or idx[nxt] >= 0 or brk[max(t, nxt)]:
                    break
                lo, hi = max(c - step, 0), min(c + step + 1, n_cand)
                j = lo + int(np.argmax(sal[nxt, lo:hi]))
                floor = (max(keep_ratio * own, keep_frame_ratio * peak[nxt]) if relative_to_seed
                         else keep_ratio * peak[nxt])
                if sal[nxt, j] < floor or sal[nxt, j] <= 0:
                    break
                idx[nxt] = j
                c, t = j, nxt
    return idx


def refine(sal: np.ndarray, f0_grid_hz: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """f0 (Hz) at grid indices ``idx`` refined by a parabola; NaN where ``idx < 0``."""
    out = np.full(idx.shape, np.nan)
    ok = np.nonzero(idx >= 0)[0]
    if ok.size == 0:
        return out
    i = idx[ok]
    n = sal.shape[1]
    y1 = sal[ok, i].astype(np.float64)
    y0 = sal[ok, np.clip(i - 1, 0, n - 1)].astype(np.float64)
    y2 = sal[ok, np.clip(i + 1, 0, n - 1)].astype(np.float64)
    den = y0 - 2.0 * y1 + y2
    shift = np.where(den < -1e-20, 0.5 * (y0 - y2) / np.where(den < -1e-20, den, -1.0), 0.0)
    shift = np.where((i > 0) & (i < n - 1), np.clip(shift, -0.5, 0.5), 0.0)
    out[ok] = f0_grid_hz[i] * (f0_grid_hz[1] / f0_grid_hz[0]) ** shift
    return out


def signed_fm(mag: np.ndarray, peak_mag: np.ndarray, inst_hz: np.ndarray, breaks: np.ndarray, *,
              max_rel: float) -> tuple[np.ndarray, np.ndarray]:
    """Signed frequency movement of the spectral peaks, for :func:`fm_coherence`.

    Parameters
    ----------
    mag : ndarray (n_frames, n_bins)
        Magnitude used as weight (e.g. the centre magnitude of a stereo mix).
    peak_mag : ndarray (n_frames, n_bins)
        Magnitude whose local maxima are the peaks (e.g. one channel).
    inst_hz : ndarray (n_frames, n_bins)
        Instantaneous frequency of each bin (Hz, by reassignment).
    breaks : ndarray (n_frames,) of bool
        True where a frame does not follow the previous one (excerpt joins).
    max_rel : float
        Relative changes per frame above this are noise and count 0.

    Returns
    -------
    (weighted_change, weight) : ndarrays (n_frames, n_bins), float32
        ``mag`` at peaks times the signed relative frequency change to the next frame, and
        ``mag`` at peaks.
    """
    peak = np.zeros(peak_mag.shape, dtype=bool)
    peak[:, 1:-1] = (peak_mag[:, 1:-1] >= peak_mag[:, :-2]) & (peak_mag[:, 1:-1] >= peak_mag[:, 2:])
    rel = np.zeros(peak_mag.shape, dtype=np.float32)
    rel[:-1] = np.diff(inst_hz, axis=0) / np.maximum(inst_hz[1:], 1.0)
    rel[:-1][np.asarray(breaks)[1:]] = 0.0
    rel[np.abs(rel) > max_rel] = 0.0
    w = (mag * peak).astype(np.float32)
    return w * rel, w


def fm_coherence(weighted_change: np.ndarray, weight: np.ndarray, matrix: np.ndarray,
                 grid_idx: np.ndarray) -> tuple[float, float]:
    """Common frequency modulation of a pitch's partials over a run of frames.

    With ``a_h(t)`` the signed relative frequency change of the partials of the pitch
    ``grid_idx[t]`` (weighted by magnitude and the salience kernel, ``matrix`` of
    :func:`salience_matrix`): ``coherence = sum_t |sum_h a_h| / sum_t sum_h |a_h|`` (0..1; near
    1 when the partials rise and fall together, as those of one source in vibrato or a glide,
    lower for beating or unrelated partials) and ``rate = sum_t |sum_h a_h| / sum_t sum_h w_h``,
    the mean common relative change per frame.

    Returns
    -------
    (coherence, rate) : floats
    """
    m = matrix[:, grid_idx]                          # (bins, frames): each frame's own pitch
    signed = np.abs(np.einsum("tk,kt->t", weighted_change, m)).sum()
    unsigned = np.einsum("tk,kt->t", np.abs(weighted_change), m).sum()
    total = np.einsum("tk,kt->t", weight, m).sum()
    return float(signed / max(float(unsigned), 1e-30)), float(signed / max(float(total), 1e-30))
