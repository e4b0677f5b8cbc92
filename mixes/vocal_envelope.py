"""The vowel cue: a voice changes its spectral envelope from note to note, an instrument keeps it.

A singer's partials are shaped by the vocal tract, whose resonances (formants) move with every
vowel; a violin's, a guitar's or a reed's partials are shaped by a fixed body.  Both move their
pitch (vibrato, bends, glides), and both move all partials together, so the cues of
:mod:`mixes.vocal_frames` (a centred harmonic source with common frequency modulation) accept
both.  Between notes they differ: per voice-like segment the mean level of its partials in
third octaves 200 Hz - 5 kHz (floored 30 dB under the segment's strongest band, the mean over
the bands both segments cover removed) gives an envelope; the rms difference between the
envelopes of two segments is a few dB for a fixed body (the partials sample it at other
frequencies) and larger for a voice singing other vowels.

Measured (vocal5, 20-s songs, the segments of both detection paths, overlapping ones once):
centred leads over no-voice backings of :mod:`mixes.songs` at -3 dB against them, median over
segment pairs: bent lead guitar 1.41 / 1.54 / 2.19 dB, violin with vibrato 1.36 / 1.37 / 3.87;
voices of :mod:`mixes.songs` and :mod:`mixes.songs_alt` (32 songs, 29 with pairs) 1.73 (one),
2.17, 2.54, the others 3.5-13.7 dB.  The no-voice songs_alt mixes still taken for a voice read
3.0-5.9 dB (their "partials" come from several instruments): this cue does not catch them.
A voice with few segments can read low too (songs_alt 503, three segments: 0.76 dB), so the
cue judges only with >= 6 pairs (4 segments): with 3 pairs the alt patterns album lost a
track's vocal.  Effect (leads 6 dB under the backing, 6 backings each): violin 6 -> 4, bent
guitar 6 -> 3 taken for a voice; whistle-like and harmonica-like leads unchanged (5, 3: too
few partials or segments); voiced songs: songs_alt found in both files 23 -> 22 of 24 at 30 s
(the figure still given through the reference), nothing else changed.

The same cue over every note of the tracked source (vocal7, :func:`track_envelope_change_db`,
applied in :func:`mixes.balance.measure_balance` after the pluck cue).  The voice-like segments
are few (on 12-20 s songs often one or two: nothing to compare), but the level contours follow
the source through all its notes (``VoiceFrames.f0_hz``); their envelopes, compared pairwise as
above, must change by ``TRACK_MIN_CHANGE_DB`` (median over >= ``TRACK_MIN_PAIRS`` pairs, i.e.
at least four notes).  Measured (one file, the song at 0 dB; before -> after):
leads at -6 dB over 6 + 6 no-voice backings of mixes.songs and songs_alt (20 s) taken for a voice:
violin 10 -> 2, bent guitar 3 -> 0, whistle 9 -> 7, harmonica 5 -> 4 of 12; songs3
``voice=False`` 20 s 2 -> 1 of 12; voices found: mixes.songs 20 s 33 -> 32 and 30 s 38 -> 37 of
40, songs_alt 20 s 23 -> 21 of 24, songs3 30 s 12 -> 11 of 12; every other set unchanged
(mixes.songs 12 s, songs_alt 12/30 s, songs3 12/20 s, songs4 12/20/30 s, all no-voice sets of
mixes.songs and songs4).  Median change over the tracked notes: violins 1.7-3.0 dB (two at 3.8
and 4.2), guitars 0.9-2.1, voices mostly 3.3-13 (four at 1.6-2.9).  With >= 2 pairs instead of
6 a songs_alt no-voice song more was caught (20 s 3 -> 2) but a songs4 voice with three notes
of one vowel (0.8 dB) was lost.
Measured and not used: the same change in harmonic numbers (partials 1..12 instead of Hz: a
fixed source spectrum such as an FM e-piano, a reed or a synth keeps it).  The songs3 lounge
e-piano read 3.5 dB, but a mixes.songs voice over held pads read 2.9 (the pads' partials at the
sung pitch hold the pattern): it cannot tell them apart.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["envelope_change_db", "track_envelope_change_db", "ENVELOPE_MIN_CHANGE_DB", "ENVELOPE_MIN_PAIRS",
           "TRACK_MIN_CHANGE_DB", "TRACK_MIN_PAIRS"]

ENVELOPE_MIN_CHANGE_DB = 2.0        # median change between segments: a voice changes vowels above
ENVELOPE_MIN_PAIRS = 6              # ... judged only with this many segment pairs (4 segments)
ENVELOPE_BANDS_HZ = 200.0 * 2.0 ** (np.arange(15) / 3.0)   # third-octave edges 200 Hz .. 5 kHz
ENVELOPE_FLOOR_DB = 30.0
ENVELOPE_MIN_BANDS = 4              # bands two segments must share to be compared
# the tracked source's notes (vocal7, see track_envelope_change_db and the module docstring)
TRACK_MIN_CHANGE_DB = 3.0           # median change between the tracked notes: a voice above
TRACK_MIN_PAIRS = 6                 # judged with at least this many note pairs (>= 4 notes)
TRACK_MAX_NOTES = 120               # notes compared at most (evenly spread): 7140 pairs


def _envelope(hc: np.ndarray, df_hz: float, seg: np.ndarray, f0_hz: np.ndarray) -> np.ndarray:
    """Mean partial power (dB) per third octave of a segment; NaN where no partial falls."""
    f0 = f0_hz[seg].astype(np.float64)
    n_h = int(ENVELOPE_BANDS_HZ[-1] // float(np.min(f0)))
    fh = np.arange(1, n_h + 1)[None, :] * f0[:, None]
    k0 = np.clip(np.rint(fh / df_hz).astype(np.int64), 1, hc.shape[1] - 2)
    rows = seg[:, None]
    p = np.maximum(np.maximum(hc[rows, k0 - 1], hc[rows, k0]), hc[rows, k0 + 1]).astype(np.float64)
    b = np.searchsorted(ENVELOPE_BANDS_HZ, fh) - 1
    n_b = ENVELOPE_BANDS_HZ.size - 1
    ok = (b >= 0) & (b < n_b) & (p > 0)
    s = np.bincount(b[ok], weights=p[ok], minlength=n_b)
    c = np.bincount(b[ok], minlength=n_b)
    out = np.full(n_b, np.nan)
    have = c > 0
    out[have] = 10.0 * np.log10(np.maximum(s[have] / c[have], 1e-30))
    return out - np.nanmax(out) if have.any() else out


def envelope_change_db(hc: np.ndarray, df_hz: float, segs: list[tuple[np.ndarray, np.ndarray]]) -> tuple[float, int]:
    """Median rms change (dB) of the partials' envelope between voice-like segments.

    Parameters
    ----------
    hc : ndarray (frames x bins)
        Centre power spectrum (K-weighted) of the frame pass.
    df_hz : float
        Bin spacing (Hz).
    segs : list of (frame indices, f0 per frame in Hz)
        The voice-like segments; a segment sharing more than half its frames with an earlier
        one is skipped.

    Returns
    -------
    (median change in dB or NaN, number of segment pairs compared)
    """
    used = np.zeros(hc.shape[0], dtype=bool)
    envs = []
    for seg, f0 in segs:
        if seg.size == 0 or np.count_nonzero(used[seg]) > seg.size // 2:
            continue
        used[seg] = True
        envs.append(_envelope(hc, df_hz, seg, f0))
    if len(envs) < 2:
        return math.nan, 0
    return _pair_change_db(envs, ENVELOPE_MIN_BANDS)


def _pair_change_db(envs: list[np.ndarray], min_bands: int) -> tuple[float, int]:
    """Median over pairs of envelopes (dB, NaN where absent; shorter ones padded with NaN) of
    the rms difference of the mean-removed envelopes over the bands both cover (floored
    ``ENVELOPE_FLOOR_DB`` down, bands where both are under the floor skipped); only pairs
    sharing ``min_bands`` bands count.  Returns ``(median or NaN, number of pairs)``."""
    if len(envs) < 2:
        return math.nan, 0
    n = max(v.size for v in envs)
    e = np.full((len(envs), n), np.nan)
    for i, v in enumerate(envs):
        e[i, :v.size] = v
    a, b = e[:, None, :], e[None, :, :]
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(a) & np.isfinite(b) & (np.fmax(a, b) > -ENVELOPE_FLOOR_DB)
    x = np.where(ok, np.maximum(np.nan_to_num(a, nan=-ENVELOPE_FLOOR_DB), -ENVELOPE_FLOOR_DB), 0.0)
    y = np.where(ok, np.maximum(np.nan_to_num(b, nan=-ENVELOPE_FLOOR_DB), -ENVELOPE_FLOOR_DB), 0.0)
    cnt = ok.sum(axis=-1)
    n_ok = np.maximum(cnt, 1)[..., None]
    dd = np.where(ok, (x - x.sum(-1, keepdims=True) / n_ok) - (y - y.sum(-1, keepdims=True) / n_ok), 0.0)
    rms = np.sqrt((dd ** 2).sum(-1) / np.maximum(cnt, 1))
    iu = np.triu_indices(len(envs), k=1)
    sel = cnt[iu] >= min_bands
    d = rms[iu][sel]
    return (float(np.median(d)) if d.size else math.nan), int(d.size)


def track_envelope_change_db(hc: np.ndarray, df_hz: float, notes: list[np.ndarray],
                             f0_hz: np.ndarray) -> tuple[float, int]:
    """Median rms change (dB) of the tracked source's spectral envelope between its notes.

    Parameters
    ----------
    hc : ndarray (frames x bins)
        Centre power spectrum (K-weighted) of the frame pass.
    df_hz : float
        Bin spacing (Hz).
    notes : list of ndarray of int
        The notes of the tracked source (pitch-continuous runs of frames); at most
        ``TRACK_MAX_NOTES`` are used, evenly spread.
    f0_hz : ndarray
        The tracked pitch per frame (Hz).

    Returns
    -------
    (median change in dB or NaN, number of note pairs compared)
        The envelope of each note as in :func:`envelope_change_db` (mean partial power per
        third octave 200 Hz - 5 kHz); pairs sharing fewer than ``ENVELOPE_MIN_BANDS`` bands
        are not counted.
    """
    if len(notes) > TRACK_MAX_NOTES:
        notes = [notes[i] for i in np.linspace(0, len(notes) - 1, TRACK_MAX_NOTES).round().astype(int)]
    return _pair_change_db([_envelope(hc, df_hz, s, f0_hz) for s in notes], ENVELOPE_MIN_BANDS)
