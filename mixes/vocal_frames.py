"""Finding and tracking the vocal of a stereo mix: the analysis behind :mod:`mixes.balance`.

One short-time Fourier pass over the two channels gives, per frame (Hann, ~43 ms, 50 % overlap):

* the K-weighted energy of the frame (BS.1770-5 K filter, its power response applied per bin),
  summed over the channels as BS.1770 sums them: the frame's share of the loudness;
* the K-weighted energy of the low end, the bins of 40–120 Hz (kick and bass together);
* the *centre* power ``Re(L R*)`` per bin.  For a source panned to the centre (``L = R = s``)
  it is ``|s|^2``; for content that differs between the channels (wide pads, reverb, panned
  instruments played hard to one side) its expectation is zero or small.  This is the
  cross-spectrum on which Avendano & Jot's panning and similarity indices are built ("A
  frequency-domain approach to multichannel upmix", JAES 52(7/8), 2004): instead of keeping
  the bins whose index says "centre", the cross term is kept directly, an unbiased estimate of
  the centre power that needs no threshold (hard masks were tried: on songs whose voice sings
  the pads' notes they drop the voice's own partials and lose the pitch more often);
* the harmonic-summation salience of the centre (:mod:`mixes.pitch`) over candidate pitches
  80–1000 Hz, and the same salience of its *moving* partials only: spectral peaks whose
  instantaneous frequency (reassignment, from one channel, where a wide pad's detuned voices
  do not beat) changes by 0.2–4 % between frames, as a sung partial does in vibrato and
  glides and a held instrument's does not;
* for the frames on a pitch contour, the energy of the contour's harmonic partials (bins
  within a few per cent of ``h f0``) minus the accompaniment under them (the mean centre power
  of the bins between the partials, per octave region), K-weighted; the same per channel
  tells where the source is panned.

Why not YIN alone: on a full mix it is a monophonic estimator among five parts; on the
synthetic songs of :mod:`mixes.songs` it named the sung pitch within a semitone in only
25–45 % of the sung frames, the predominant-f0 salience in ~50 %, while contours seeded by
moving partials are right in 97 % of their frames.

Finding the vocal.  A pitched centred source is not yet a voice: bass, pads and keys are
harmonic too.  A voice *moves*, and all its partials move *together*.  Two paths, either
finds it:

1. *Detection contours* start at frames whose moving-partial salience is at least
   ``DETECT_SEED_RATIO`` times that of the median frame and follow the pitch (steps <=
   ``CONTOUR_STEP_CENTS``) while it stays near the frame's strongest pitch.  A contour segment
   is voice-like when its pitch deviates from its own running median (~0.2 s) by more than
   ``VOICE_MOVEMENT_CENTS`` rms (vibrato, glides) *and* its partials move together
   (common-FM coherence, see 2., >= ``DETECT_MIN_COHERENCE``: without it reverb-smeared pads
   and keys passed on 8 of 160 no-voice songs of 12-30 s, 5 of 40 at 30 s); the vocal is found
   with at least ``VOICE_MIN_S`` and ``VOICE_MIN_FRACTION`` of the gated time voice-like.
   This needs the voice to be the strongest pitch of many frames.
2. *Common frequency modulation, accumulated over the file* (:func:`_common_fm_time`).
   Contours seeded lower (``COMMON_SEED_RATIO``) follow a voice that is not the loudest pitch.
   For each pitch segment the signed frequency change of every partial between frames
   (reassignment) is summed over the pitch's harmonic series with and without its sign: the
   ratio is near 1 when the partials rise and fall together, which is what one glottal source
   in vibrato or a glide does (each partial is a multiple of the same f0; McAdams, "Segregation
   of concurrent sounds. I: Effects of frequency modulation coherence", JASA 86(6), 1989, on
   common FM as the cue that fuses a voice), and well below 1 for the apparent movement of
   beating detuned pads, reverb tails and unrelated partials (no-voice songs: <= 0.89 on
   segments >= 0.3 s, mostly 0.5-0.8).  A segment counts when it moves >= ``COMMON_MIN_CENTS``
   rms (after a 3-frame median, so single-frame contour jumps do not count), lasts >=
   ``COMMON_MIN_S``, has coherence >= ``COMMON_MIN_COHERENCE`` and sits within
   ``CENTRE_MAX_DB`` between the channels; the vocal is found when such segments add up to
   ``COMMON_EVIDENCE_S`` over the file, and the level contours (below) then show a source
   whose partials stand above the accompaniment in both channels (a real piano's note changes
   gave 0.6 s of coherent segments but no such source).

3. *Steady partial levels* (path 1 only, :func:`_shape_step_db`): a detection segment is not
   voice-like when its partials' level pattern (partials 1-10 below 5 kHz, dB, the frame's
   mean removed) changes between consecutive 21-ms hops by more than
   ``DETECT_MAX_SHAPE_STEP_DB`` rms.  One glottal source's partials change smoothly (formants
   move over tens of ms); a chorused or detuned ensemble's partials, or unrelated notes near
   ``h f0``, beat and jump.  Measured per segment (vocal4): voice segments of mixes.songs_alt
   <= 7 dB (one of 118 at 11), of mixes.songs mostly <= 9 (a few to 10); the segments that
   the no-voice songs_alt mixes 4-14 dB (about half above 8).  Effect on mixes.songs_alt no-voice songs
   (``voice=False``, 24 each): 20 s 6 -> 3, 30 s 3 -> 1 taken for a voice; the voiced stems
   without the voice: 20 s 4 -> 3, 30 s 6 -> 3.  Cost: on mixes.songs 1 of 40 voiced songs
   at 20 s and at 30 s loses its figure (within +-1 dB: 85 -> 82 %, 90 -> 88 %); 12/15 s and
   all songs_alt voiced figures unchanged; no-voice mixes.songs still 0 of 40 at 30 s; 9.5 dB
   kept every voice but fixed only 1 + 3 of those.  Tried and not kept (no separation in the
   mixes): the rms change of the pattern within a segment after removing each partial's mean
   and linear trend (a formant/vowel-change cue): voice 2-7 dB, the fooling segments 3-7 dB.

4. *A changing spectral envelope* (:mod:`mixes.vocal_envelope`, applied in
   :func:`mixes.balance.measure_balance` to the segments of both paths): a source whose
   partials keep one envelope from segment to segment (median change < 2 dB over >= 3 pairs) is
   a fixed body (violin, bent guitar), not a singer changing vowels.  The same over all the
   notes the level contours track (vocal7, :func:`mixes.vocal_envelope.track_envelope_change_db`:
   median < 3 dB over >= 6 note pairs): the voice-like segments alone are often too few.

5. *Movement read from the reassigned frequencies, vibrato regularity, the pluck cue*
   (:mod:`mixes.vocal_movement`, vocal6): path 1's movement is also read from the partials'
   reassigned frequencies (the salience's pitch misses most of a vibrato in a mix) and must
   swing periodically at 4-8 Hz (the same gate on path 2 is off: ``COMMON_MIN_PERIODICITY``),
   and a source decaying through its notes is a plucked string.

Cues relied on (none specific to :mod:`mixes.songs`; a real singer has them): a harmonic
source at the centre, f0 80-1000 Hz, whose pitch moves by >= 8-12 cents rms around its notes
(vibrato, glides, scoops) with all partials moving together, for at least a few tenths of a
second over the file.  Not relied on: vibrato rate, phrase structure, the formants' positions (only that they change, 4.).  A singer with
a straight tone and no glides is not found ("no vocal found"); otherwise the notes say what was
seen ("no vocal found", "a pitched source at the centre holds its notes", "a voice-like source
sits off centre").  Limit: a source whose partials move *all the time* (a synth lead with a
constant vibrato) may be taken for a voice by path 2 (path 1 alone did not: it sets the median
itself); the synthetic steady lead (no vibrato) is not.

Measuring it.  *Level contours* start at frames whose moving-partial salience reaches
``LEVEL_SEED_RATIOS`` of the 99th percentile of the file's (the voice's own clearest frames)
and follow the note while it keeps ``LEVEL_KEEP_RATIO`` of the seed's own salience (segments
whose common-FM coherence is below ``LEVEL_MIN_COHERENCE`` are dropped: they follow another
part); which
frames count then depends on the voice against itself, not on how loud it is against the
accompaniment, so a fader offset reads as itself.  When the three seed ratios' part-to-rest figures spread
over more than ``LEVEL_MAX_SPREAD_DB`` the vocal is reported found but without a level (a
note says so): the contours then follow different things and the figure would be wrong by
several dB.

The per-frame record kept for the comparison with references (:class:`VoiceFrames`): the
tracked pitch, its harmonic energy, the accompaniment from ``ACC_LOW_HZ`` up (above the bass
line's strong harmonics, so a bass fader does not move the vocal's figure) and the tonal
(held) part of the low end, separated from the kick per bin by a running rank filter
(:func:`mixes.bass_tonal.held_low_energy`).
"""

from __future__ import annotations

import math
from functools import lru_cache
from dataclasses import dataclass

import numpy as np
import scipy.fft
from scipy import ndimage, signal

from mixes.loudness import k_weighting_sos
from mixes.pitch import fm_coherence, grow_contours, refine, salience, salience_matrix, signed_fm
from mixes.vocal_movement import COMMON_MIN_PERIODICITY, if_deviation_cents, periodicity
from mixes.vocal_cues import SHAPE_FLOOR_DB, SHAPE_HARMONICS, SHAPE_MAX_HZ, _shape_step_db, _vibrato_hz  # noqa: F401 (re-exported)

__all__ = ["VoiceFrames", "frame_pass", "BASS_BAND_HZ", "VOICE_F0_RANGE_HZ"]

BASS_BAND_HZ = (40.0, 120.0)        # issue 12: "bass instruments and kick, roughly 40-120 Hz"
VOICE_F0_RANGE_HZ = (80.0, 1000.0)  # METHODS.md §1: sung fundamentals
FRAME_S = 0.0427                    # analysis frame (2048 samples at 48 kHz)
MAX_FRAMES = 6144                   # per file (~131 s at 48 kHz); longer files: excerpts
RUN_FRAMES = 128                    # consecutive frames per excerpt (~2.7 s at 48 kHz)
HARMONIC_MAX_HZ = 8000.0            # partials counted up to here (the voice's energy lies below)
PITCH_BAND_HZ = (300.0, 5000.0)     # centre bins the salience sums (ramped in from 150 Hz: no bass)
VOICE_MOVEMENT_CENTS = 8.0          # rms deviation from the running median: voice-like above
MOVEMENT_MEDIAN_S = 0.2             # running median that follows the notes, not the vibrato
SEGMENT_MIN_S = 0.12                # shortest pitch-continuous segment considered
SEGMENT_MAX_STEP_ST = 1.0           # a larger step between frames starts a new segment
VOICE_MIN_S = 0.5                   # voice-like time needed to say "vocal found"
VOICE_MIN_FRACTION = 0.015          # ... and its share of the gated frames
CENTRE_MAX_DB = 6.0                 # |L/R| of the voice's partials: centred within this
MIN_FRAME_SHARE_DB = -25.0          # a pitched frame's partials must carry this share of the frame
FM_MIN_REL = 0.002                  # relative frequency change per hop of a moving partial
FM_MAX_REL = 0.04
DETECT_SEED_RATIO = 3.0             # detection: seeds >= 3x the median frame's moving salience
DETECT_KEEP_RATIO = 0.8             # ... followed while within 0.8 of the frame's peak salience
LEVEL_SEED_PERCENTILE = 99.0        # level: seeds >= each of LEVEL_SEED_RATIOS x the 99th
LEVEL_SEED_RATIOS = (0.7, 0.8, 0.9)  # percentile of the moving-partial salience peaks
LEVEL_KEEP_RATIO = 0.3              # ... followed while >= 0.3 of the seed's own salience
LEVEL_MIN_COHERENCE = 0.8          # ... segments whose partials move together (common FM)
LEVEL_MAX_SPREAD_DB = 2.0          # the seed ratios' part-to-rest figures must agree within this
LEVEL_KEEP_FRAME_RATIO = 0.0        # ... and this share of the frame's peak
COMMON_SEED_RATIO = 1.5            # common-FM evidence: contours seeded >= 1.5x the median frame's
COMMON_KEEP_RATIO = 0.5            # moving salience, followed while >= 0.5 of the frame's peak
COMMON_MIN_CENTS = 12.0            # a segment counts when it moves >= 12 cents rms,
COMMON_MIN_S = 0.25                # lasts >= 0.25 s,
COMMON_MIN_COHERENCE = 0.92        # its partials move together (see _common_fm_time),
COMMON_EVIDENCE_S = 0.6            # ... and such segments add up to this over the file
EVIDENCE_MIN_SHARE = 0.0           # ... and both together >= this share of the analysed time: OFF.
# Measured (vocal3): 0.034-0.037 rejects the no-voice songs_alt mixes taken for a voice (30 s:
# 6 of 24 -> 0, 20 s: 4 -> 2-3) but loses 3-5 % of the voices of mixes.songs (30 s: 90 -> 85 %
# within 1 dB at 0.037) and two tracks of the patterns album (seeds 2 and 8, 20 s): the two
# evidence distributions overlap (alt no-voice up to 1.00 s in 30 s, voices from 1.02 s).
DETECT_MIN_COHERENCE = 0.85        # a voice-like detection segment's partials move together too
DETECT_MAX_SHAPE_STEP_DB = 9.0     # ... and its partials' level pattern is steady between frames
# (see 3. in the module docstring: 9.0 trades 1 of 40 mixes.songs voices at 20 and 30 s for
# 3 + 2 of 48 songs_alt no-voice songs; 9.5 lost no voice but fixed 1 + 0)
ACC_LOW_HZ = 250.0                 # the accompaniment is measured from here up (the bass's
                                    # harmonics 2-3 lie below: a bass fader does not move it)
MATCH_CENTS = 50.0                 # same-song comparison: tracked pitches agree within this
MATCH_MIN_S = 0.5                  # ... on at least this much time
MATCH_MIN_MOVE_CORR = 0.5          # ... one file found no vocal: its track follows the other's vibrato
ACC_MODE_WIDTH_DB = 0.3            # same song: the accompaniment's gain = the densest 0.3-dB cluster
MATCH_MIN_CORR = 0.9               # same song: the accompaniment's frame energies correlate (log)
CONTOUR_STEP_CENTS = 60.0           # largest pitch step between frames (vibrato: ~40 cents/frame)
_REGION_EDGES_HZ = (0.0, 500.0, 1000.0, 2000.0, 4000.0, 8000.0)

def _db(ratio: float) -> float:
    return 10.0 * math.log10(ratio) if ratio > 0 and math.isfinite(ratio) else -math.inf



# --- the frame pass --------------------------------------------------------------------------

def _nfft(fs: int) -> int:
    return 1 << int(round(math.log2(fs * FRAME_S)))


def _frame_starts(n: int, nfft: int, hop: int) -> tuple[np.ndarray, np.ndarray]:
    """Start samples of the analysed frames and the excerpt (run) each belongs to."""
    n_total = 1 + (n - nfft) // hop if n >= nfft else 1
    if n_total <= MAX_FRAMES:
        return np.arange(n_total) * hop, np.zeros(n_total, dtype=np.int64)
    n_runs = MAX_FRAMES // RUN_FRAMES
    run0 = np.linspace(0, n_total - RUN_FRAMES, n_runs).round().astype(np.int64)
    idx = (run0[:, None] + np.arange(RUN_FRAMES)[None, :]).ravel()
    return idx * hop, np.repeat(np.arange(n_runs), RUN_FRAMES)


@lru_cache(maxsize=8)
def _salience(fs: int, nfft: int, n_bins: int) -> tuple[np.ndarray, np.ndarray]:
    return salience_matrix(df_hz=fs / nfft, n_bins=n_bins, f_min_hz=VOICE_F0_RANGE_HZ[0],
                           f_max_hz=VOICE_F0_RANGE_HZ[1], f_harm_max_hz=PITCH_BAND_HZ[1])


def _k_power(fs: int, nfft: int) -> np.ndarray:
    """|H_K(f_k)|^2 at the bins of an ``nfft``-point FFT (BS.1770-5 K filter)."""
    _, h = signal.sosfreqz(k_weighting_sos(fs=fs), worN=np.arange(nfft // 2 + 1) * fs / nfft, fs=fs)
    return (np.abs(h) ** 2).astype(np.float32)


@dataclass
class _Frames:
    etot: np.ndarray
    ebass: np.ndarray
    pbass: np.ndarray          # K-weighted power of the low-end bins (frames x bins)
    etot_mid: np.ndarray       # K-weighted energy from ACC_LOW_HZ up (above the bass's harmonics)
    run: np.ndarray
    hop_s: float
    ms_scale: float         # frame energy -> mean square per channel sum
    f0_detect_hz: np.ndarray   # pitch of the detection contours (NaN outside)
    detect_idx: np.ndarray     # ... as candidate index (-1 outside)
    ev_detect: np.ndarray
    sal: np.ndarray            # salience (frames x candidates) of the centre
    sal_moving: np.ndarray     # ... of its moving partials only
    f0_grid_hz: np.ndarray
    breaks: np.ndarray
    harm_spectra: tuple
    df_hz: float
    fm_signed: np.ndarray      # centre magnitude x signed relative frequency change, at peaks
    fm_weight: np.ndarray      # centre magnitude at peaks
    sal_matrix: np.ndarray
    e_bands: np.ndarray        # K-weighted energy per third octave from ACC_LOW_HZ up (frames x bands)


def _harmonic_energy(f0: np.ndarray, spectra: list[np.ndarray], df: float) -> list[np.ndarray]:
    """Energy of the partials ``h f0`` in each of ``spectra`` (frames x bins, already weighted),
    minus the mean level of the bins between the partials times the partials' bin count,
    per octave region."""
    n_bins = spectra[0].shape[1]
    fk = (np.arange(n_bins) * df).astype(np.float32)
    f0c = f0.astype(np.float32)[:, None]
    u = fk[None, :] / f0c
    h = np.rint(u)
    dist = np.abs(u - h) * f0c
    hw = np.minimum(np.maximum(np.float32(2.0 * df), np.float32(0.04) * h * f0c), np.float32(0.35) * f0c)
    harm = (h >= 1) & (dist <= hw)
    inter = (u >= 0.5) & (dist >= hw + df)
    reg = np.searchsorted(np.asarray(_REGION_EDGES_HZ[1:-1]), fk, side="right")
    n_reg = len(_REGION_EDGES_HZ) - 1
    R = np.zeros((n_bins, n_reg), dtype=np.float32)
    R[np.arange(n_bins), reg] = 1.0
    hm = harm.astype(np.float32)
    im = inter.astype(np.float32)
    nh = hm @ R
    ni = im @ R
    out = []
    for s in spectra:
        eh = (s * hm) @ R
        ei = (s * im) @ R
        bg = np.where(ni > 0, ei / np.maximum(ni, 1.0), 0.0)
        out.append(np.sum(eh - bg * nh, axis=1))
    return out


def _moving_partials(mag: np.ndarray, inst_hz: np.ndarray, breaks: np.ndarray) -> np.ndarray:
    """Weight (0..1) of each bin for "a partial whose frequency moves".

    A bin counts when it is a spectral peak and its instantaneous frequency changed from the
    previous or to the next frame by ``FM_MIN_REL`` .. ``FM_MAX_REL`` of itself: a sung partial
    in vibrato moves by ~0.5-1.5 % per 21 ms hop, a held instrument's partial by ~0, and noise
    by far more.  The IF comes from one channel, where a wide pad's detuned voices do not beat.
    """
    peak = np.zeros(mag.shape, dtype=bool)
    peak[:, 1:-1] = (mag[:, 1:-1] >= mag[:, :-2]) & (mag[:, 1:-1] >= mag[:, 2:])
    rel = np.abs(np.diff(inst_hz, axis=0)) / np.maximum(inst_hz[1:], 1.0)
    rel[breaks[1:]] = 0.0
    ok = (rel >= FM_MIN_REL) & (rel <= FM_MAX_REL)
    w = np.zeros(mag.shape, dtype=np.float32)
    w[1:] = ok
    w[:-1] = np.maximum(w[:-1], ok)
    return w * peak


def _band_matrix(fk: np.ndarray) -> np.ndarray:
    """0/1 matrix (bins x bands) of the third octaves from ``ACC_LOW_HZ`` to 16 kHz (or the
    Nyquist frequency) that the bins ``fk`` (Hz) fall in."""
    top = min(16000.0, float(fk[-1]))
    n_b = max(int(math.floor(3.0 * math.log2(top / ACC_LOW_HZ))), 1)
    edges = ACC_LOW_HZ * 2.0 ** (np.arange(n_b + 1) / 3.0)
    b = np.searchsorted(edges, fk, side="right") - 1
    m = np.zeros((fk.size, n_b), dtype=np.float32)
    ok = (b >= 0) & (b < n_b)
    m[np.nonzero(ok)[0], b[ok]] = 1.0
    return m


def frame_pass(x: np.ndarray, fs: int) -> _Frames:
    n_ch, n = x.shape
    nfft = _nfft(fs)
    hop = nfft // 2
    df = fs / nfft
    starts, run = _frame_starts(n, nfft, hop)
    if n < nfft:
        x = np.pad(x, ((0, 0), (0, nfft - n)))
    win = np.hanning(nfft + 1)[:-1].astype(np.float32)       # periodic Hann
    dwin = (np.pi / nfft * np.sin(2.0 * np.pi * np.arange(nfft) / nfft)).astype(np.float32)
    kw = _k_power(fs, nfft)
    kw2 = 2.0 * kw
    fk = np.arange(nfft // 2 + 1) * df
    bass_bins = (fk >= BASS_BAND_HZ[0]) & (fk <= BASS_BAND_HZ[1])
    n_harm = int(min(HARMONIC_MAX_HZ, 0.45 * fs) / df) + 1
    # pitch: the centre magnitude below PITCH_BAND_HZ[1], the bass fundamentals ramped out
    n_pitch = int(PITCH_BAND_HZ[1] / df) + 2
    fp = fk[:n_pitch]
    lo = PITCH_BAND_HZ[0]
    pw = np.clip((fp - lo / 2) / (lo / 2), 0.0, 1.0).astype(np.float32)
    f0_grid, smat = _salience(fs, nfft, n_pitch)
    views = [np.lib.stride_tricks.sliding_window_view(x[c], nfft)[::hop] for c in range(min(n_ch, 2))]
    F = starts.size
    etot = np.empty(F)
    ebass = np.empty(F)
    etot_mid = np.empty(F)
    band_kw = _band_matrix(fk) * kw[:, None]           # K weighting folded into the band sums
    e_bands = np.empty((F, band_kw.shape[1]), dtype=np.float32)
    pbass = np.empty((F, int(np.count_nonzero(bass_bins))), dtype=np.float32)
    sal_all = np.empty((F, f0_grid.size), dtype=np.float32)
    cmag = np.empty((F, n_pitch), dtype=np.float32)
    lmag = np.empty((F, n_pitch), dtype=np.float32)
    inst_hz = np.empty((F, n_pitch), dtype=np.float32)
    hc = np.empty((F, n_harm), dtype=np.float32)
    hl = np.empty((F, n_harm), dtype=np.float32)
    hr = np.empty((F, n_harm), dtype=np.float32)
    frame_idx = starts // hop
    chunk = 512
    for i in range(0, F, chunk):
        sl = slice(i, min(i + chunk, F))
        rows = frame_idx[sl]
        specs = [scipy.fft.rfft(v[rows] * win, axis=-1) for v in views]
        if n_ch > 2:
            # other channels add to the loudness and the low end (BS.1770 weights 1; the LFE and
            # surround weights are ignored here: the balance is a stereo measure)
            extra = [scipy.fft.rfft(np.lib.stride_tricks.sliding_window_view(x[c], nfft)[::hop][rows] * win,
                                    axis=-1) for c in range(2, n_ch)]
        else:
            extra = []
        p_l = specs[0].real ** 2 + specs[0].imag ** 2
        if len(specs) == 2:
            p_r = specs[1].real ** 2 + specs[1].imag ** 2
            cross = specs[0].real * specs[1].real + specs[0].imag * specs[1].imag
        else:
            p_r = p_l
            cross = p_l
        p_sum = p_l + p_r if len(specs) == 2 else p_l
        for e in extra:
            p_sum = p_sum + (e.real ** 2 + e.imag ** 2)
        etot[sl] = p_sum @ kw
        pbass[sl] = p_sum[:, bass_bins] * kw[bass_bins]
        ebass[sl] = pbass[sl].sum(axis=1)
        etot_mid[sl] = p_sum[:, fk >= ACC_LOW_HZ] @ kw[fk >= ACC_LOW_HZ]
        e_bands[sl] = p_sum @ band_kw
        mag = np.sqrt(np.maximum(cross[:, :n_pitch], 0.0)) * pw
        sal_all[sl] = salience(mag, smat)
        cmag[sl] = mag
        lh = specs[0][:, :n_pitch]
        # the derivative window w' = (pi/N) sin(2 pi n/N).  Reassignment (Auger & Flandrin,
        # IEEE TSP 43(5), 1995): omega_k - Im(X_dh / X_h) is the instantaneous frequency of the
        # partial that dominates bin k
        ld = scipy.fft.rfft(views[0][rows] * dwin, axis=-1)[:, :n_pitch]
        lmag[sl] = np.abs(lh)
        # omega_hat = omega_k - Im(X_dh / X_h)  (rad/sample)
        inst_hz[sl] = fp[None, :] - np.imag(ld / np.where(lh == 0, 1.0, lh)) * fs / (2.0 * np.pi)
        hc[sl] = cross[:, :n_harm] * kw2[:n_harm]
        hl[sl] = p_l[:, :n_harm] * kw[:n_harm]
        hr[sl] = p_r[:, :n_harm] * kw[:n_harm]
    # pitch contours over the whole pass (excerpt joins break them)
    breaks = np.concatenate(([False], np.diff(run) != 0))
    moving = _moving_partials(lmag, inst_hz, breaks)
    fm_signed, fm_weight = signed_fm(cmag, lmag, inst_hz, breaks, max_rel=FM_MAX_REL)
    sal_fm = salience(cmag * moving, smat)
    # detection contours: seeds where moving partials are strong against the median frame,
    # followed while they stay near the frame's strongest pitch (few, clean, gain-dependent)
    det = grow_contours(sal_all, f0_grid, seed_ratio=DETECT_SEED_RATIO, keep_ratio=DETECT_KEEP_RATIO,
                        max_step_cents=CONTOUR_STEP_CENTS, breaks=breaks, seed_salience=sal_fm)
    f0_det = refine(sal_all, f0_grid, det)
    ev_det = np.full(F, np.nan)
    vd = np.nonzero(np.isfinite(f0_det))[0]
    if vd.size:
        ev_det[vd] = _harmonic_energy(f0_det[vd], [hc[vd]], df)[0]
    ms_scale = 2.0 / (nfft * float(np.sum(win.astype(np.float64) ** 2)))
    return _Frames(etot=etot, ebass=ebass, pbass=pbass, etot_mid=etot_mid, run=run, hop_s=hop / fs, ms_scale=ms_scale, f0_detect_hz=f0_det, detect_idx=det,
                   ev_detect=ev_det, sal=sal_all, sal_moving=sal_fm, f0_grid_hz=f0_grid, breaks=breaks,
                   harm_spectra=(hc, hl, hr), df_hz=df, fm_signed=fm_signed, fm_weight=fm_weight,
                   sal_matrix=smat, e_bands=e_bands)


def _level_sums(fr: _Frames, seed_ratio: float, usable: np.ndarray) -> tuple[float, float, float, float, int]:
    """Level contours for one seed ratio: seeds where the moving-partial salience reaches
    ``seed_ratio`` of its 99th percentile over the pass (the voice's clearest frames, so the
    threshold moves with the voice's own level), followed while the source keeps
    ``LEVEL_KEEP_RATIO`` of its own salience.  The frames counted then hardly depend on how loud
    the voice is against the accompaniment, and a fader offset reads as itself.

    Returns the sums over the contour frames (gated, in the f0 range, segments long enough) of
    the centre harmonic energy, the total energy, the left and right harmonic energies, and the
    number of frames."""
    lev = grow_contours(fr.sal, fr.f0_grid_hz, seed_ratio=seed_ratio, keep_ratio=LEVEL_KEEP_RATIO,
                        max_step_cents=CONTOUR_STEP_CENTS, breaks=fr.breaks, seed_salience=fr.sal_moving,
                        relative_to_seed=True, seed_percentile=LEVEL_SEED_PERCENTILE,
                        keep_frame_ratio=LEVEL_KEEP_FRAME_RATIO)
    f0 = refine(fr.sal, fr.f0_grid_hz, lev)
    lo, hi = VOICE_F0_RANGE_HZ
    with np.errstate(invalid="ignore"):
        ok = usable & np.isfinite(f0) & (f0 >= lo) & (f0 <= hi)
    segs = [g for g in _segments(fr, ok, f0) if _coherence(fr, g, lev)[0] >= LEVEL_MIN_COHERENCE]
    if not segs:
        return 0.0, 0.0, 0.0, 0.0, 0, np.zeros(0, dtype=np.int64), np.zeros(0)
    idx = np.concatenate(segs)
    e_c, e_l, e_r = _harmonic_energy(f0[idx], [h[idx] for h in fr.harm_spectra], fr.df_hz)
    return (float(e_c.sum()), float(fr.etot[idx].sum()), float(e_l.sum()), float(e_r.sum()), int(idx.size),
            idx, f0[idx])


# --- decisions ---------------------------------------------------------------------------------

def _segments(fr: _Frames, cand: np.ndarray, f0_hz: np.ndarray) -> list[np.ndarray]:
    """Runs of candidate frames, consecutive within one excerpt, the pitch moving by less than
    ``SEGMENT_MAX_STEP_ST`` semitones per frame; at least ``SEGMENT_MIN_S`` long."""
    idx = np.nonzero(cand)[0]
    if idx.size == 0:
        return []
    st = 12.0 * np.log2(f0_hz[idx])
    brk = (np.diff(idx) != 1) | (np.diff(fr.run[idx]) != 0) | (np.abs(np.diff(st)) > SEGMENT_MAX_STEP_ST)
    parts = np.split(idx, np.nonzero(brk)[0] + 1)
    min_len = max(int(math.ceil(SEGMENT_MIN_S / fr.hop_s)), 3)
    return [p for p in parts if p.size >= min_len]


def _movement_cents(fr: _Frames, seg: np.ndarray, f0_hz: np.ndarray, *,
                    smooth: bool = False) -> tuple[float, np.ndarray]:
    """Rms deviation (cents) of a segment's pitch from its ~0.2 s running median, and the
    deviation.  With ``smooth`` single-frame jumps (a contour touching a neighbouring
    candidate for one frame, as at a piano's onsets) are first removed by a 3-frame median:
    a vibrato or glide moves over several frames."""
    cents = 1200.0 * np.log2(f0_hz[seg])
    if smooth:
        cents = ndimage.median_filter(cents, size=3, mode="nearest")
    width = max(int(round(MOVEMENT_MEDIAN_S / fr.hop_s)) | 1, 3)
    dev = cents - ndimage.median_filter(cents, size=width, mode="nearest")
    return float(np.sqrt(np.mean(dev ** 2))), dev


def _coherence(fr: _Frames, seg: np.ndarray, grid_idx: np.ndarray) -> tuple[float, float]:
    """Common-FM ``(coherence, rate)`` of a segment (:func:`mixes.pitch.fm_coherence`)."""
    return fm_coherence(fr.fm_signed[seg], fr.fm_weight[seg], fr.sal_matrix, grid_idx[seg])


def _common_fm_time(fr: _Frames, gated: np.ndarray, segments: list | None = None) -> float:
    """Seconds of centred pitch segments whose partials move *together* (common frequency
    modulation): the evidence, accumulated over the file, that a centred source sings.

    Contours are grown from frames with some moving-partial salience (``COMMON_SEED_RATIO`` of
    the median frame's, lower than the detection contours, so a voice that is not the loudest
    pitch of its frames is followed too).  For each pitch-continuous segment the signed
    relative frequency change of each partial (from :func:`_signed_fm`) is summed over the
    pitch's harmonic series with and without its sign; the ratio (``coherence``, 0..1) is near
    1 when all partials go up and down together, as they do in a sung vibrato or a glide (every
    partial of one glottal source is a multiple of the same f0), and well below 1 for the
    apparent movements of beating pads, reverb, or unrelated partials near the same harmonics
    (measured on no-voice songs: <= 0.89 for segments >= 0.3 s, mostly 0.5-0.8).  A segment
    counts when it also moves by ``COMMON_MIN_CENTS`` rms and sits within ``CENTRE_MAX_DB``
    between the channels.
    """
    idx = grow_contours(fr.sal, fr.f0_grid_hz, seed_ratio=COMMON_SEED_RATIO, keep_ratio=COMMON_KEEP_RATIO,
                        max_step_cents=CONTOUR_STEP_CENTS, breaks=fr.breaks, seed_salience=fr.sal_moving)
    f0 = refine(fr.sal, fr.f0_grid_hz, idx)
    lo, hi = VOICE_F0_RANGE_HZ
    with np.errstate(invalid="ignore"):
        ok = gated & np.isfinite(f0) & (f0 >= lo) & (f0 <= hi)
    total = 0.0
    min_len = int(math.ceil(COMMON_MIN_S / fr.hop_s))
    for seg in _segments(fr, ok, f0):
        if seg.size < min_len:
            continue
        if _movement_cents(fr, seg, f0, smooth=True)[0] < COMMON_MIN_CENTS:
            continue
        # (a floor on the common rate, 0.002 per hop, lost 2 of 14 short songs and did not
        # reject the piano's coherent note changes; a smoothness bound on the pitch lost most
        # of the gain: neither is used)
        if _coherence(fr, seg, idx)[0] < COMMON_MIN_COHERENCE:
            continue
        # a sung vibrato is periodic; the apparent movement of keys and pads is not (vocal6)
        if periodicity(if_deviation_cents(fr, seg, f0, MOVEMENT_MEDIAN_S), fr.hop_s) < COMMON_MIN_PERIODICITY:
            continue
        e_l, e_r = _harmonic_energy(f0[seg], [h[seg] for h in fr.harm_spectra[1:]], fr.df_hz)
        if abs(_db(max(float(e_l.sum()), 1e-30) / max(float(e_r.sum()), 1e-30))) > CENTRE_MAX_DB:
            continue
        total += seg.size * fr.hop_s
        if segments is not None:        # (frames, f0) of each counted segment, for the vowel cue
            segments.append((seg, f0))
    return total


@dataclass(frozen=True)
class VoiceFrames:
    """Per-frame record of one analysis, kept for :func:`compare_balance` (not in the JSON).

    Attributes (arrays over the analysed frames)
    ----------
    f0_hz : pitch of the tracked centred source (NaN where none was tracked)
    e_voice : its K-weighted harmonic energy (0 where none)
    e_acc : the accompaniment: the frame's K-weighted energy minus the low end (40-120 Hz)
        and the tracked voice
    e_low_tonal : the sustained (tonal) part of the low end: the bass instrument, not the kick
    gated : frames above the loudness gate
    hop_s : frame hop (s)
    e_bands : K-weighted energy per third octave from ``ACC_LOW_HZ`` up (frames x bands),
        float32: what a same-song comparison reads the accompaniment's gain from
    """

    f0_hz: np.ndarray
    e_voice: np.ndarray
    e_acc: np.ndarray
    e_low_tonal: np.ndarray
    gated: np.ndarray
    hop_s: float
    e_bands: np.ndarray | None = None


def _voice_frames(fr: _Frames, gated: np.ndarray, sums: list, v_idx: np.ndarray) -> VoiceFrames:
    """The tracked pitch (level contours first, then the detection contours' voice-like
    segments), its harmonic energy per frame, the accompaniment and the tonal low end."""
    F = fr.etot.size
    track = np.full(F, np.nan)
    for x in sums:
        if len(x) > 5 and x[5].size:
            new = np.isnan(track[x[5]])
            track[x[5][new]] = x[6][new]
    if v_idx.size:
        new = np.isnan(track[v_idx])
        track[v_idx[new]] = fr.f0_detect_hz[v_idx[new]]
    e_v = np.zeros(F)
    tr = np.nonzero(np.isfinite(track))[0]
    if tr.size:
        e_v[tr] = np.maximum(_harmonic_energy(track[tr], [fr.harm_spectra[0][tr]], fr.df_hz)[0], 0.0)
    # the held low end: the bass instrument, the kick's bursts cut (mixes.bass_tonal: a rank
    # filter along time per bin, on the bins below 80 Hz; hook by bass5)
    from mixes.bass_tonal import held_low_energy
    k0 = math.ceil(BASS_BAND_HZ[0] / fr.df_hz)
    e_low_tonal = held_low_energy(fr.pbass, (k0 + np.arange(fr.pbass.shape[1])) * fr.df_hz, fr.hop_s)
    e_acc = np.maximum(fr.etot_mid - e_v, 0.0)
    return VoiceFrames(f0_hz=track.astype(np.float32), e_voice=e_v, e_acc=e_acc, e_low_tonal=e_low_tonal,
                       gated=gated, hop_s=fr.hop_s, e_bands=fr.e_bands)
