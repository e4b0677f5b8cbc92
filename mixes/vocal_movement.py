"""Pitch movement seen by the reassigned frequencies, vibrato regularity, and the pluck cue.

Used by :func:`mixes.balance.measure_balance` on the detection segments of
:mod:`mixes.vocal_frames` (path 1) and on all voice-like segments (the pluck cue).

Why the salience's pitch is not enough.  The detection contours' pitch is the peak of a
harmonic-summation salience on a 10-cent grid, refined by a parabola.  On a clean tone it
follows a vibrato; in the mixes it often does not: on :mod:`mixes.songs` 12-s songs, voices
tracked within 5 cents of their true pitch read 1.4-2.5 cents rms of movement on notes whose
partials swing by +-20 cents (measured on the partials of the voice stem), below
``VOICE_MOVEMENT_CENTS`` (8), and the vocal was "not found: a pitched source at the centre
holds its notes".  The likely cause: energy held at the note's mean pitch (a pad on the sung
note, the voice's own reverb) fills the kernel around the partials and pins the peak.

The reassigned instantaneous frequencies of the partials are exact to a small fraction of a
bin.  :func:`if_track_cents` sums, frame by frame, the signed relative frequency change of the
partials of the tracked pitch (magnitude-weighted, the same salience kernel: the quantity whose
coherence :func:`mixes.pitch.fm_coherence` measures) and integrates it: a pitch track in cents
that follows the vibrato of the source that owns the partials.  Its rms deviation from the
running median (as :func:`mixes.vocal_frames._movement_cents`) is the movement; the larger of
the two estimates is used.

Vibrato regularity (:func:`periodicity`).  A singer's vibrato is a quasi-periodic 4-8 Hz
modulation; the apparent movement of keys, plucked notes' onsets, chorused pads and reverb tails
in a contour is not.  The normalised autocorrelation of the segment's deviation, at its best lag
between 1/8 and 1/4 s, must reach ``DETECT_MIN_PERIODICITY`` for a detection segment to count
as moving (segments shorter than 12 frames read 0).  Measured (vocal6, 20-s songs, the segments
that pass the other rules): voice segments median 0.2-0.5; those of songs_alt ``voice=False``
songs median 0 (most are short and irregular).  A vibrato instrument (violin, whistle) passes,
as it should by this cue alone.  Effect (the song at 0 dB, with the reassigned movement):
mixes.songs voices found 12 s 22 -> 25, 20 s 31 -> 33 of 40 (without the gate the movement
alone gave 28 / 37 but songs_alt ``voice=False`` 12 / 20 / 30 s 2 / 6 / 3 of 24 instead of
1 / 3 / 1); songs_alt ``voice=False`` with the gate and the pluck cue 0 / 3 / 0.  The same
gate on the common-FM path (``COMMON_MIN_PERIODICITY``) is off: see its comment.

The pluck cue (:func:`decay_share`).  A plucked or struck string (a bent lead guitar, a
harp, the acoustic guitars of songs_alt) decays from its attack: the summed power of its
partials falls by tens of dB per second through the note.  A voice, a bowed string or a reed
holds the note.  Per voice-like segment the slope of a line fitted to the partials' summed
level (dB against time); the share of the voice-like time in segments falling faster than
``DECAY_SLOPE_DB_PER_S``.  Measured (vocal6): bent guitars over mixes.songs backings 0.86-1.0,
two songs_alt ``voice=False`` songs taken for a voice 1.0; voices of both generators <= 0.7.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

__all__ = ["if_track_cents", "if_deviation_cents", "periodicity", "voice_movement_cents", "decay_share",
           "DETECT_MIN_PERIODICITY", "COMMON_MIN_PERIODICITY", "DECAY_SLOPE_DB_PER_S", "DECAY_MAX_SHARE"]

DETECT_MIN_PERIODICITY = 0.2       # vibrato regularity a moving detection segment needs
COMMON_MIN_PERIODICITY = 0.0       # ... and a common-FM segment (vocal_frames._common_fm_time): at 0.0
                                   # only segments anticorrelated at every vibrato lag are dropped (the
                                   # figures were measured so).  0.1 removed songs_alt voice=False 2053
                                   # (20 s: 3 -> 2 of 24) but lost 3 of 40 mixes.songs 15-s voices in
                                   # pairs (27 -> 24 found in both)
PERIODICITY_RATE_HZ = (4.0, 8.0)   # vibrato rates looked at (lags 1/8 .. 1/4 s)
PERIODICITY_MIN_FRAMES = 12        # shorter segments read 0 (under ~0.26 s: no vibrato cycle)
DECAY_SLOPE_DB_PER_S = -8.0        # a segment whose partials fall faster than this decays
DECAY_MAX_SHARE = 0.8              # decaying share of the voice-like time that means "plucked"
DECAY_MIN_SEGMENTS = 1             # ... judged on at least this many segments.  2 kept one 20-s
                                   # mixes.songs voice of 40 (one decaying segment) but let two
                                   # songs_alt voice=False songs back in (20 s 2 -> 3, 30 s 0 -> 1 of 24)
DECAY_MAX_HZ = 5000.0              # partials summed for the level (as the steady-shape cue)
DECAY_HARMONICS = 12


_ROWS: dict[int, tuple[np.ndarray, np.ndarray]] = {}


def _rows(matrix: np.ndarray) -> np.ndarray:
    """The salience matrix transposed, C-contiguous (one kernel per candidate row), cached per
    matrix object (:func:`mixes.vocal_frames._salience` keeps a few)."""
    hit = _ROWS.get(id(matrix))
    if hit is None or hit[0] is not matrix:
        if len(_ROWS) > 8:
            _ROWS.clear()
        hit = (matrix, np.ascontiguousarray(matrix.T))
        _ROWS[id(matrix)] = hit
    return hit[1]


def if_track_cents(fr, seg: np.ndarray, f0_hz: np.ndarray) -> np.ndarray:
    """Pitch track (cents, starting at 0) of a segment from its partials' reassigned frequencies.

    Parameters
    ----------
    fr : mixes.vocal_frames._Frames
        The frame pass (uses ``fm_signed``, ``fm_weight``, ``sal_matrix``, ``f0_grid_hz``).
    seg : ndarray of int
        Consecutive frame indices.
    f0_hz : ndarray
        Tracked pitch per frame (Hz), indexed by ``seg``.

    Returns
    -------
    ndarray (len(seg),)
        Cumulative sum of the magnitude-weighted mean relative frequency change of the
        pitch's partials between consecutive frames, in cents.
    """
    grid = fr.f0_grid_hz
    step_cents = 1200.0 * math.log2(float(grid[1]) / float(grid[0]))
    g = np.rint(np.log2(f0_hz[seg] / float(grid[0])) * 1200.0 / step_cents).astype(np.int64)
    g = np.clip(g, 0, grid.size - 1)
    m = _rows(fr.sal_matrix)[g]                               # (frames, bins): each frame's kernel
    num = np.einsum("tk,tk->t", fr.fm_signed[seg], m)
    den = np.einsum("tk,tk->t", fr.fm_weight[seg], m)
    d = np.where(den > 0, num / np.maximum(den, 1e-30), 0.0)  # relative change to the next frame
    return np.concatenate(([0.0], np.cumsum(d[:-1]))) * (1200.0 / math.log(2.0))


def periodicity(dev_cents: np.ndarray, hop_s: float) -> float:
    """Largest normalised autocorrelation of a pitch deviation at lags of one vibrato cycle
    (``PERIODICITY_RATE_HZ``); 0 for segments shorter than ``PERIODICITY_MIN_FRAMES``."""
    d = np.asarray(dev_cents, dtype=np.float64)
    d = d - d.mean()
    if d.size < PERIODICITY_MIN_FRAMES or not np.any(d):
        return 0.0
    lo = int(round(1.0 / PERIODICITY_RATE_HZ[1] / hop_s))
    hi = min(int(round(1.0 / PERIODICITY_RATE_HZ[0] / hop_s)), d.size - 2)
    if hi <= lo:
        return 0.0
    e0 = float(np.dot(d, d))
    return max(float(np.dot(d[:-lag], d[lag:])) for lag in range(lo, hi + 1)) / e0


def if_deviation_cents(fr, seg: np.ndarray, f0_hz: np.ndarray, median_s: float) -> np.ndarray:
    """Deviation (cents) of :func:`if_track_cents` from its ``median_s`` running median."""
    c = if_track_cents(fr, seg, f0_hz)
    width = max(int(round(median_s / fr.hop_s)) | 1, 3)
    return c - ndimage.median_filter(c, size=width, mode="nearest")


def voice_movement_cents(fr, seg: np.ndarray, f0_hz: np.ndarray, salience_move: tuple[float, np.ndarray],
                         median_s: float) -> float:
    """Movement (cents rms) of a detection segment for the voice-like test.

    The larger of the salience pitch's movement (``salience_move``, from
    :func:`mixes.vocal_frames._movement_cents`) and the reassigned-frequency track's
    (:func:`if_track_cents`, deviation from a ``median_s`` running median); 0 when the
    deviation that gave it is not periodic at a vibrato rate (:func:`periodicity` below
    ``DETECT_MIN_PERIODICITY``).
    """
    a, dev_a = salience_move
    dev_b = if_deviation_cents(fr, seg, f0_hz, median_s)
    b = float(np.sqrt(np.mean(dev_b ** 2)))
    move, dev = (a, dev_a) if a >= b else (b, dev_b)
    return move if periodicity(dev, fr.hop_s) >= DETECT_MIN_PERIODICITY else 0.0


def decay_share(fr, segs: list[tuple[np.ndarray, np.ndarray]]) -> float:
    """Share (0..1) of the voice-like frames in segments whose partials decay.

    Per segment ``(frames, f0 per frame in Hz)``: the centre power of partials ``h f0`` below
    ``DECAY_MAX_HZ`` (at most ``DECAY_HARMONICS``; the strongest bin within one bin), summed,
    in dB; the slope of a line fitted against time.  Segments falling faster than
    ``DECAY_SLOPE_DB_PER_S`` count as decaying.  NaN with fewer than ``DECAY_MIN_SEGMENTS``
    segments (one segment is one note: too little to judge).
    """
    hc = fr.harm_spectra[0]
    n_dec = 0
    n_all = 0
    n_seg = 0
    for seg, f0_all in segs:
        if seg.size < 4:
            continue
        f0 = f0_all[seg].astype(np.float64)
        n_h = max(1, min(DECAY_HARMONICS, int(DECAY_MAX_HZ // float(np.max(f0)))))
        k0 = np.rint(np.arange(1, n_h + 1)[None, :] * f0[:, None] / fr.df_hz).astype(np.int64)
        k0 = np.clip(k0, 1, hc.shape[1] - 2)
        rows = seg[:, None]
        p = np.maximum(np.maximum(hc[rows, k0 - 1], hc[rows, k0]), hc[rows, k0 + 1]).astype(np.float64)
        level_db = 10.0 * np.log10(np.maximum(p.sum(axis=1), 1e-30))
        t = np.arange(seg.size) * fr.hop_s
        slope = float(np.polyfit(t, level_db, 1)[0])
        n_all += seg.size
        n_seg += 1
        n_dec += seg.size if slope < DECAY_SLOPE_DB_PER_S else 0
    return n_dec / n_all if n_all and n_seg >= DECAY_MIN_SEGMENTS else math.nan
