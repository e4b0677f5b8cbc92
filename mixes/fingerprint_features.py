"""Room-invariant descriptors of a track's arrangement, read from the analysis's frame floors.

Why
    A studio fingerprint compares the band floors of the studio's mixes with those of the
    reference tracks (:mod:`mixes.fingerprint`).  Where the two sets hold different kinds of
    music, each band differs by the arrangement as much as by the room, and
    :mod:`mixes.fingerprint_covariates` takes out of the comparison what descriptors of the
    arrangement explain.  Those descriptors must not see the room: a room multiplies
    everything in a band by (nearly) one gain, so a *ratio of two quantities of the same band*
    is blind to it.  Two such ratios per band are used:

    * the tonal gap, ``level_db - floor_db`` (``Ltas.floor_gap_db``): how far the band's mean
      power stands over its broadband floor (sustained partials against drums, breath, reverb);
    * the floor's modulation over time, :func:`floor_modulation_db`: the interquartile range,
      over the 0.68 s frames, of the band's frame floor in dB.  A floor that drums fill hit by
      hit, or that a breakdown empties, moves a lot from frame to frame; a floor of pads,
      reverb or a steady shaker stays put.  It tells which kind of source fills the floor the
      fingerprint compares, which the tonal gap does not (a band full of cymbals and one full
      of reverb both have a gap near 1-2 dB).  Since every frame's floor moves by the room's
      gain in dB, the range does not.

Measured (the fingerprint's analysis of covariance, k chosen as in
:mod:`mixes.fingerprint_covariates`; held-out studios, 8 mixes + 8 references drawn from banks
of 20 s songs, random rooms as in ``benchmarks/bench_fingerprint_music.py``; cover (share of
studios with cover >= 0.85) / sure; the same studios in each row pair)::

                                   gap only (session 5)    gap + floor modulation
    songs3, six styles mixed, 150  0.911 (78 %) / 0.11     0.927 (83 %) / 0.17
    songs_alt, styles mixed, 150   0.931 (85 %) / 0.21     0.939 (87 %) / 0.25
    mixes.songs, 150               0.934 (89 %) / 0.89     0.933 (88 %) / 0.88

Other room-invariant descriptors measured and not kept (songs_alt mixed, 120 studios; cover /
sure with the gap): band-power modulation (IQR of the band's frame power) 0.908 / 0.22,
mean per-frame tonal gap 0.911 / 0.28, correlation of adjacent bands' frame floors over time
0.920 / 0.27 (40 studios); all of them together 0.911 / 0.30.

Cost: one percentile over the frames per band (about 1 ms for a 10-minute file).
"""

from __future__ import annotations

import numpy as np

from mixes.envelope import FloorGrid

__all__ = ["FLOOR_MOD_PERCENTILES", "floor_modulation_db"]

FLOOR_MOD_PERCENTILES = (25.0, 75.0)   # the range read over the frames (interquartile)


def floor_modulation_db(frames: np.ndarray, grid: FloorGrid) -> np.ndarray:
    """Interquartile range over time of each band's frame floor (dB).

    Parameters
    ----------
    frames : ndarray (n_frames, n_sub)
        Half-band floors of each frame (:func:`mixes.envelope.frame_floors`, power per bin).
    grid : FloorGrid
        The grid they were read on (half bands -> bands).

    Returns
    -------
    ndarray (n_bands,)
        ``p75 - p25`` over the frames of ``10 lg(sum of the band's half-band floors)`` (dB,
        >= 0); 0 for one frame or an empty band.  A room's gain on the band shifts every
        frame alike and leaves it unchanged.
    """
    fr = np.asarray(frames, dtype=np.float64)
    n_bands = grid.n_bands
    if fr.ndim != 2 or fr.shape[0] < 2:
        return np.zeros(n_bands)
    onehot = np.zeros((fr.shape[1], n_bands))
    onehot[np.arange(fr.shape[1]), grid.band_of] = 1.0
    band = fr @ onehot
    empty = ~np.any(band > 0, axis=0)
    lv = 10.0 * np.log10(np.maximum(band, 1e-30))
    lo, hi = np.percentile(lv, FLOOR_MOD_PERCENTILES, axis=0)
    return np.where(empty, 0.0, hi - lo)
