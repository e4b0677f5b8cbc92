"""A spectral envelope of a mix that the song's notes cannot move: the broadband floor per band.

Why not the band's mean power
    In the low octaves a third-octave band holds three to four semitones (56-71 Hz at 63 Hz).
    A song's bass line sustains a few notes of its key, and whether they fall into the band
    decides its mean power by 5-10 dB: the long-term average measures the song's key as much
    as the room.  Over eight songs in different keys this does not average out (the issue's
    example: 2.25 dB rms error, wrong by 7 dB at 80 Hz with confidence 0.88).  What every mix
    from one room shares is the colouration of *everything*, including the broadband parts
    (drums, breath and consonants, reverb tails, instrument noise) that fill the gaps between
    the partials.

The estimator
    The long-term power spectrum is taken at about 1.5 Hz resolution (Hann-windowed segments
    of ``2^ceil(log2(fs / 1.5 Hz))`` samples, 32768 at 48 kHz, 1.46 Hz bins, overlapping by
    half so every instant weighs the same; see :func:`mixes.ltas._segment_power`).  A bass
    partial's main lobe then covers about +-3 Hz; a bass line's roots and fifths rarely put
    two partials into one third-octave at the same time, so gaps between notes stay visible.
    Per band, the ``FLOOR_PERCENTILE``-th percentile of the bins' powers is read: a sparse set
    of partials occupies the upper part of the distribution and leaves the low percentile on
    the floor between them, which follows the room like everything else in the mix.  The
    floor density times the band's width gives ``floor_db``, a band level (a smooth noise
    spectrum reads a few dB below its mean level; the offset is the same in every band and
    disappears in the level alignment of the fingerprint).

    Measured on 32 synthetic songs (``mixes.songs``: bass lines, held chords, a voice with
    vibrato, drums and reverb, each in its own key; 20 s excerpts), the song-to-song spread
    of the level-aligned band level, rms over the third-octaves 40 Hz-12 kHz: mean power
    2.04 dB, floor at the 10th/20th/50th percentile 1.63/1.69/2.25 dB; at 50-126 Hz the mean
    power spreads 1.3-2.7 dB, the floor 0.7-1.6 dB.  The 10th percentile was chosen; lower
    follows the random dips of the bins, higher reaches into the partials' skirts.  Without
    the half overlap the floor spread 2.2 dB rms (2.7 dB at 63 Hz): drum hits that recur with
    the beat fell on the windows' edges in one song and on their centres in the next.
    Splitting bands into sub-bands (to follow deviations narrower than a band) added more
    noise than it removed bias and is not done.

Tonal density
    A band full of partials (dense chords with vibrato, a choir) has no floor: its percentile
    sits on the partials' skirts and moves with the arrangement.  ``floor_gap_db`` (mean
    power over floor, dB) says how tonal each band was; it is not used to correct anything,
    because the song-to-song spread of ``floor_db`` already widens the fingerprint's
    interval where the floor is not stable (:mod:`mixes.fingerprint`).

The percentile of a finite average is biased low by the bins' own randomness (``chi^2`` with
about ``2 K`` degrees of freedom for ``K`` averaged segments): a dB or two for a 20 s excerpt,
a few tenths for a 10-minute file.  Noise-like floors share that offset in every band, so it
too goes with the level alignment; mixes and references of very different lengths (a 20 s
excerpt against full songs) are still best avoided.

Cost: one FFT pass over the file (the same pass gives the LTAS band levels; the half overlap
with half-length segments costs about what non-overlapping 65536-point segments would) and a
percentile per band (about 1 ms for 16385 bins).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["FLOOR_PERCENTILE", "FLOOR_RESOLUTION_HZ", "floor_nfft", "band_floor_db"]

FLOOR_PERCENTILE = 10.0
FLOOR_RESOLUTION_HZ = 1.5
_MIN_BINS = 3          # fewer bins than this in a band: the floor is the band's mean (no choice)


def floor_nfft(fs: int, resolution_hz: float = FLOOR_RESOLUTION_HZ) -> int:
    """FFT length giving bins no wider than ``resolution_hz`` (a power of two)."""
    return 1 << int(math.ceil(math.log2(fs / resolution_hz)))


def band_floor_db(power: np.ndarray, *, fs: int, nfft: int, lo_hz: np.ndarray, hi_hz: np.ndarray,
                  gain_db: float = 0.0, percentile: float = FLOOR_PERCENTILE) -> tuple[np.ndarray, np.ndarray]:
    """Broadband floor and tonal gap per band from a one-sided mean-square spectrum.

    Parameters
    ----------
    power : ndarray, shape (nfft // 2 + 1,)
        Mean square per bin (as :func:`mixes.ltas._segment_power` returns it: both sides
        together sum to the signal's mean square).
    fs : int
        Sample rate (Hz).
    nfft : int
        FFT length the spectrum was taken with (bins ``fs / nfft`` Hz apart).
    lo_hz, hi_hz : ndarray (n_bands,)
        Band edges (Hz).
    gain_db : float
        Added to the floor (the loudness normalisation).
    percentile : float
        Percentile of the bins' powers taken as the floor (0..100).

    Returns
    -------
    floor_db : ndarray (n_bands,)
        ``10 lg(percentile density * band width)`` + ``gain_db``: the band's level if all of
        it were at the floor.  -200 dB for an empty band.
    floor_gap_db : ndarray (n_bands,)
        Mean power of the band's bins over the floor (dB, >= 0 up to the percentile's own
        spread): near 1-2 dB for noise, 10 dB and more where partials dominate.
    """
    df = fs / nfft
    p = np.asarray(power, dtype=np.float64)
    floor = np.empty(lo_hz.size)
    gap = np.zeros(lo_hz.size)
    for i, (lo, hi) in enumerate(zip(lo_hz, hi_hz)):
        a = int(math.ceil(lo / df))
        b = min(int(math.ceil(hi / df)), p.size)
        v = p[a:b]
        width_bins = (hi - lo) / df
        if v.size < _MIN_BINS:
            # too few bins to tell a floor from a peak: the band's mean, no tonal gap
            mean = float(np.mean(v)) if v.size else 0.0
            floor[i] = 2.0 * mean * width_bins
            continue
        fl = float(np.percentile(v, percentile))
        floor[i] = 2.0 * fl * width_bins              # one-sided: both halves of the spectrum
        gap[i] = 10.0 * math.log10(max(float(np.mean(v)), 1e-30) / max(fl, 1e-30))
    return 10.0 * np.log10(np.maximum(floor, 1e-20)) + gain_db, gap
