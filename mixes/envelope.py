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

The estimator: the floor of every frame, not the floor of the average
    The spectrum is taken at about 1.5 Hz resolution (Hann-windowed segments of
    ``2^ceil(log2(fs / 1.5 Hz))`` samples, 32768 at 48 kHz, 1.46 Hz bins, 0.68 s long,
    overlapping by half so every instant weighs the same; :func:`mixes.ltas._segment_power`).
    A partial's main lobe then covers about 4 bins.  Per *frame* (one segment, channels
    averaged) and per band, the ``FRAME_PERCENTILE`` (10th) percentile of the band's bins is
    read: within 0.68 s only the notes then sounding have partials, so most bins lie between
    them, on the broadband floor.  The floors of the frames are then averaged in power after
    dropping the loudest tenth of the frames (``FRAME_KEEP``; a note that fills a band in a
    few frames does not carry the mean), and ``floor_db`` is that density times the band's
    width: the band's level if all of it were at the floor.

    The previous estimator (0.7 x the 10th percentile of the *time-averaged* spectrum + 0.3 x
    the mean) lost its gaps where pads, keys and a voice play in one octave: over a whole song
    every chord tone of the key and the voice's vibrato fill the averaged band, and at
    250-630 Hz the floor spread 2-3 dB from song to song.  Song-to-song spread of the
    level-aligned band value, standard deviation over 48 synthetic songs (``mixes.songs``, each
    in its own key), rms over the third-octaves 50 Hz-10 kHz::

                                           20 s songs   15 s songs
        mean band power                      2.03 dB      2.11 dB
        old floor blend (0.7 p10 + 0.3 mean) 1.44 dB      1.54 dB
        frame floor, 10th pct, all frames    0.97 dB      1.04 dB
        frame floor, loudest 10 % dropped    1.02 dB      1.01 dB
        per-bin minimum over time            > 3 dB (intros without drums decide it)

    Dropping the loudest tenth of the frames costs little in the mid bands and halves the
    spread at 40 Hz (see narrow bands), so it is kept.

Half bands
    A percentile reads the lower part of a band's bins, so when a room's response slopes
    across the band (a dip's flank) the floor follows the low edge and the fingerprint is
    biased (up to 0.4 dB rms at 100-250 Hz on rooms with dips and peaks 0.1-1 octave wide).
    A band of at least ``2 * SUB_MIN_BINS`` bins is therefore split into two log-equal halves
    (1/6 octave each); each half gets its own frame floors and the band's floor is their
    power mean, which follows a slope like the band's power average does.  The bias fell to
    <= 0.1 dB above 80 Hz; the spread did not grow.

Narrow bands
    A band of fewer than ``NARROW_BINS`` bins (the 40 Hz third-octave: 35.6-44.9 Hz, 6 bins)
    is narrower than two partials' main lobes: a bass note there covers every bin, so no
    frame shows a floor while it sounds.  There only the time between the notes separates
    them: the lower half of the frames is kept (``NARROW_KEEP``).  Spread at 40 Hz: 4.2 dB
    with all frames, 2.8 dB with 90 %, 2.0 dB with 50 % (20 s songs).

The percentile of a frame is biased low by the bins' own randomness (a chi-squared variable
with 2-4 degrees of freedom): the same multiplicative offset for every frame and every song
with noise-like floors, so it cancels in the level alignment and in the comparison of mixes
with references (same band, same number of bins).

Cost: a percentile per half band per frame on the spectra the LTAS computes anyway, about
0.1 s per 10 minutes of stereo audio (see ``benchmarks/bench_fingerprint_music.py``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["FLOOR_PERCENTILE", "FLOOR_RESOLUTION_HZ", "FRAME_PERCENTILE", "FRAME_KEEP", "NARROW_KEEP",
           "NARROW_BINS", "SUB_MIN_BINS", "FloorGrid", "floor_grid", "frame_floors", "floors_from_frames",
           "floor_nfft", "band_floor_db"]

FLOOR_PERCENTILE = 10.0     # band_floor_db: percentile of the time-averaged spectrum (fallback)
FLOOR_RESOLUTION_HZ = 1.5
FRAME_PERCENTILE = 10.0     # per frame and half band: percentile of the bins' powers
FRAME_KEEP = 0.9            # the lowest 90 % of the frames' floors are averaged (power)
NARROW_KEEP = 0.5           # ... the lowest 50 % in bands narrower than NARROW_BINS bins
NARROW_BINS = 8             # two main lobes of a Hann-windowed partial (4 bins each)
SUB_MIN_BINS = 5            # a band is split into two halves when each gets at least this many bins
MAX_FRAME_BINS = 96         # a wider half band is read on every k-th bin (at most this many): cost
_MIN_BINS = 3          # fewer bins than this in a band: the floor is the band's mean (no choice)


@dataclass(frozen=True)
class FloorGrid:
    """Where the frame floors are read: half bands (bin ranges) of a band grid.

    Attributes
    ----------
    starts, stops : ndarray of int (n_sub,)
        Bin range ``[start, stop)`` of each half band (or whole band).
    band_of : ndarray of int (n_sub,)
        The band each range belongs to.
    width_bins : ndarray (n_bands,)
        Band width in bins (``(hi - lo) / df``): turns a floor density into a band level.
    keep : ndarray (n_bands,)
        Share of the frames (the quietest) averaged per band.
    """

    starts: np.ndarray
    stops: np.ndarray
    band_of: np.ndarray
    width_bins: np.ndarray
    keep: np.ndarray

    @property
    def n_bands(self) -> int:
        return int(self.width_bins.size)


def floor_grid(fs: int, nfft: int, lo_hz: np.ndarray, hi_hz: np.ndarray) -> FloorGrid:
    """The half bands of bands ``[lo_hz, hi_hz)`` on an ``nfft``-point spectrum at ``fs``.

    A band gets the bins ``ceil(lo/df) .. ceil(hi/df) - 1`` (at least one); with at least
    ``2 * SUB_MIN_BINS`` of them it is split at its geometric centre.  Bands above the last
    bin get an empty range and read -200 dB.
    """
    df = fs / nfft
    n_bins = nfft // 2 + 1
    starts, stops, band_of, keep = [], [], [], []
    for i, (lo, hi) in enumerate(zip(np.asarray(lo_hz, float), np.asarray(hi_hz, float))):
        a = min(int(math.ceil(lo / df)), n_bins)
        b = min(max(int(math.ceil(hi / df)), a + 1), n_bins)
        n = b - a
        keep.append(NARROW_KEEP if n < NARROW_BINS else FRAME_KEEP)
        if n >= 2 * SUB_MIN_BINS:
            m = min(max(int(round(math.sqrt(lo * hi) / df)), a + SUB_MIN_BINS), b - SUB_MIN_BINS)
            parts = ((a, m), (m, b))
        else:
            parts = ((a, b),)
        for pa, pb in parts:
            starts.append(pa)
            stops.append(pb)
            band_of.append(i)
    return FloorGrid(np.array(starts, dtype=np.int64), np.array(stops, dtype=np.int64),
                     np.array(band_of, dtype=np.int64), (np.asarray(hi_hz, float) - np.asarray(lo_hz, float)) / df,
                     np.array(keep))


def frame_floors(power: np.ndarray, grid: FloorGrid) -> np.ndarray:
    """Per frame and half band, the ``FRAME_PERCENTILE``-th percentile of the bins' powers.

    Parameters
    ----------
    power : ndarray (n_frames, n_bins)
        One-sided mean square per bin of each frame (channels averaged).
    grid : FloorGrid

    Returns
    -------
    ndarray (n_frames, n_sub)
        0 for an empty range.
    """
    out = np.zeros((power.shape[0], grid.starts.size))
    q = FRAME_PERCENTILE / 100.0
    for j, (a, b) in enumerate(zip(grid.starts, grid.stops)):
        n = int(b - a)
        if n <= 0:
            continue
        stride = -(-n // MAX_FRAME_BINS)
        v = power[:, a:b:stride]
        n = v.shape[1]
        # np.percentile's linear interpolation between the order statistics k and k + 1,
        # from one partial sort (np.percentile itself costs 3x more per call)
        pos = q * (n - 1)
        k = int(math.floor(pos))
        if k + 1 < n:
            part = np.partition(v, (k, k + 1), axis=1)
            out[:, j] = part[:, k] + (pos - k) * (part[:, k + 1] - part[:, k])
        else:
            out[:, j] = np.max(v, axis=1)
    return out


def floors_from_frames(frames: np.ndarray, grid: FloorGrid, *, gain_db: float = 0.0) -> np.ndarray:
    """Band floors (dB) from the frames' half-band floors.

    Per half band the quietest ``keep`` share of the frames is averaged (power); a band's
    floor density is the mean of its halves, times its width in bins and 2 (one-sided) gives
    a band level, plus ``gain_db``.  -200 dB for an empty band.
    """
    fr = np.asarray(frames, dtype=np.float64)
    n = fr.shape[0]
    srt = np.sort(fr, axis=0)
    sub = np.empty(grid.starts.size)
    for j in range(grid.starts.size):
        k = max(1, int(round(grid.keep[grid.band_of[j]] * n)))
        sub[j] = float(np.mean(srt[:k, j])) if n else 0.0
    dens = np.bincount(grid.band_of, weights=sub, minlength=grid.n_bands) / np.maximum(
        np.bincount(grid.band_of, minlength=grid.n_bands), 1)
    level = 2.0 * dens * grid.width_bins
    return 10.0 * np.log10(np.maximum(level, 1e-20)) + gain_db


def floor_nfft(fs: int, resolution_hz: float = FLOOR_RESOLUTION_HZ) -> int:
    """FFT length giving bins no wider than ``resolution_hz`` (a power of two)."""
    return 1 << int(math.ceil(math.log2(fs / resolution_hz)))


def band_floor_db(power: np.ndarray, *, fs: int, nfft: int, lo_hz: np.ndarray, hi_hz: np.ndarray,
                  gain_db: float = 0.0, percentile: float = FLOOR_PERCENTILE) -> tuple[np.ndarray, np.ndarray]:
    """Broadband floor and tonal gap per band from a time-averaged spectrum (the fallback when
    no frame floors were kept; a different estimator, not to be mixed with frame floors).

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
