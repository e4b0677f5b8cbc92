"""Bass and vocal balance of a mix: the low end and the vocal against the mix's loudness.

Classical signal processing only (no learned models).  One short-time Fourier pass over the
two channels gives, per frame (Hann, ~43 ms, 50 % overlap):

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
   ``VOICE_MOVEMENT_CENTS`` rms (vibrato, glides); the vocal is found with at least
   ``VOICE_MIN_S`` and ``VOICE_MIN_FRACTION`` of the gated time voice-like.  This needs the
   voice to be the strongest pitch of many frames: on 4 of 21 30-s synthetic songs it never
   was.
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

Cues relied on (none specific to :mod:`mixes.songs`; a real singer has them): a harmonic
source at the centre, f0 80-1000 Hz, whose pitch moves by >= 8-12 cents rms around its notes
(vibrato, glides, scoops) with all partials moving together, for at least a few tenths of a
second over the file.  Not relied on: vibrato rate, phrase structure, formants.  A singer with
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

Levels
------
``bass_db`` and ``vocal_db`` are K-weighted levels relative to the mix's loudness over the
frames that pass the loudness gate (``integrated_lufs - 10 LU``, BS.1770's relative gate),
so they read like LU: ``bass_db = -6`` means the low end alone would measure 6 LU below the
mix.  ``vocal_db`` is the vocal's level *while it sings* (over the frames where it was found).

Against references the comparison is the one a mix engineer acts on: the level of the part
against *the rest of the mix* (``bass_to_rest_db``, ``vocal_to_rest_db``), so a vocal 2 dB
louder on the fader reads +2 dB even though the whole mix (and so its loudness) also rose.
``compare_balance`` averages the references in dB.

Long files are analysed in excerpts: at most ``MAX_FRAMES`` frames (about 2 min of audio at
48 kHz), in runs of ``RUN_FRAMES`` consecutive frames spread evenly over the file.

Accuracy (synthetic songs, references = the same song with the part at 0 dB): vocal offsets of
-3, -1.5 and +2 dB read within 0.85 dB (rms 0.31) over 48 cases on 21 songs of 30 s (where a
figure is given; 15 of 63 cases withheld as unsure).  Found: 21 of 21 songs of 30 s at 0 and
at -2.5 dB (17 and 16 with detection contours alone), 9 and 8 of 14 songs of 12-20 s (7 and 6
before), 7 and 8 of 10 songs of 8 s (5 and 5 before); never without a voice (0 of 45 songs,
0 on a real piano recording, 0 with a steady centred synth lead).  -2.5 dB read within 0.74
dB (rms 0.34) on the 14 of 21 30-s songs with a figure at both gains.  The low end (bass and
drums moved together) within 1 dB.
Against *other* songs the vocal-to-rest figure carries each song's arrangement: its bias
against a stem-based truth varies by 1.6 dB (std) from song to song.
"""

from __future__ import annotations

import math
from functools import lru_cache
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import scipy.fft
from scipy import ndimage, signal

from calib.errors import SignalError
from mixes.loudness import k_weighting_sos, LOUDNESS_OFFSET_DB, RELATIVE_GATE_LU, ABSOLUTE_GATE_LUFS
from mixes.pitch import fm_coherence, grow_contours, refine, salience, salience_matrix, signed_fm
from mixes._blas import single_threaded_blas
from mixes.programme import as_programme

__all__ = ["Balance", "measure_balance", "compare_balance", "BASS_BAND_HZ", "VOICE_F0_RANGE_HZ"]

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
VOICE_MIN_S = 0.4                   # voice-like time needed to say "vocal found"
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
COMMON_EVIDENCE_S = 0.25           # ... and such segments add up to this over the file
CONTOUR_STEP_CENTS = 60.0           # largest pitch step between frames (vibrato: ~40 cents/frame)
_REGION_EDGES_HZ = (0.0, 500.0, 1000.0, 2000.0, 4000.0, 8000.0)


def _db(ratio: float) -> float:
    return 10.0 * math.log10(ratio) if ratio > 0 and math.isfinite(ratio) else -math.inf


def _num(v: float | None, nd: int = 2) -> float | None:
    if v is None or not math.isfinite(v):
        return None
    return round(float(v), nd)


@dataclass(frozen=True)
class Balance:
    """Bass and vocal levels of one mix.

    Attributes
    ----------
    bass_db : float
        K-weighted level of 40–120 Hz relative to the mix's gated loudness (dB, reads as LU).
    vocal_db : float
        K-weighted level of the vocal while it sings, relative to the mix's gated loudness
        (dB); NaN when no vocal was found.
    vocal_found : bool
    notes : tuple of str
        Plain sentences where the estimate is unsure.
    bass_to_rest_db, vocal_to_rest_db : float
        The part against the rest of the mix (dB): what :func:`compare_balance` compares.
    vocal_pan_db : float
        Level of the pitched source's partials left minus right (dB); NaN without one.
    vocal_time_s : float
        Duration of the frames counted as vocal (s), in the analysed excerpts.
    voice_movement_cents : float
        Median rms pitch movement of the pitched centre segments (cents).
    vibrato_hz : float
        Dominant rate of the pitch modulation in the voice-like segments (Hz), NaN if none.
    analysed_s : float
        Programme duration analysed (s); shorter than the file when excerpts were taken.
    """

    bass_db: float
    vocal_db: float
    vocal_found: bool
    notes: tuple[str, ...] = ()
    bass_to_rest_db: float = math.nan
    vocal_to_rest_db: float = math.nan
    vocal_pan_db: float = math.nan
    vocal_time_s: float = 0.0
    voice_movement_cents: float = math.nan
    vibrato_hz: float = math.nan
    analysed_s: float = 0.0

    def to_dict(self, bass_vs_reference_db: float | None = None,
                vocal_vs_reference_db: float | None = None) -> dict[str, Any]:
        """The ``balance`` object of ``mix analyze --json`` (non-finite values become None)."""
        return {
            "bass_db": _num(self.bass_db),
            "vocal_db": _num(self.vocal_db) if self.vocal_found else None,
            "bass_vs_reference_db": _num(bass_vs_reference_db),
            "vocal_vs_reference_db": _num(vocal_vs_reference_db),
            "vocal_found": bool(self.vocal_found),
            "notes": list(self.notes),
        }


def compare_balance(mix: Balance, refs: Sequence[Balance]) -> tuple[float | None, float | None]:
    """Bass and vocal of a mix against references (dB; positive = louder than the references).

    Each part is compared against the rest of its own mix (``*_to_rest_db``), the mean over the
    references taken in dB.

    Returns
    -------
    (bass_vs_reference_db, vocal_vs_reference_db)
        None when there are no references, or (vocal) when the mix or no reference has a vocal.
    """
    refs = list(refs)
    if not refs:
        return None, None
    bass_refs = [r.bass_to_rest_db for r in refs if math.isfinite(r.bass_to_rest_db)]
    bass = None
    if bass_refs and math.isfinite(mix.bass_to_rest_db):
        bass = float(mix.bass_to_rest_db - np.mean(bass_refs))
    vocal_refs = [r.vocal_to_rest_db for r in refs if r.vocal_found and math.isfinite(r.vocal_to_rest_db)]
    vocal = None
    if vocal_refs and mix.vocal_found and math.isfinite(mix.vocal_to_rest_db):
        vocal = float(mix.vocal_to_rest_db - np.mean(vocal_refs))
    return bass, vocal


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
    run: np.ndarray
    hop_s: float
    ms_scale: float         # frame energy -> mean square per channel sum
    f0_detect_hz: np.ndarray   # pitch of the detection contours (NaN outside)
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


def _frame_pass(x: np.ndarray, fs: int) -> _Frames:
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
        ebass[sl] = p_sum[:, bass_bins] @ kw[bass_bins]
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
    return _Frames(etot=etot, ebass=ebass, run=run, hop_s=hop / fs, ms_scale=ms_scale, f0_detect_hz=f0_det,
                   ev_detect=ev_det, sal=sal_all, sal_moving=sal_fm, f0_grid_hz=f0_grid, breaks=breaks,
                   harm_spectra=(hc, hl, hr), df_hz=df, fm_signed=fm_signed, fm_weight=fm_weight,
                   sal_matrix=smat)


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
        return 0.0, 0.0, 0.0, 0.0, 0
    idx = np.concatenate(segs)
    e_c, e_l, e_r = _harmonic_energy(f0[idx], [h[idx] for h in fr.harm_spectra], fr.df_hz)
    return float(e_c.sum()), float(fr.etot[idx].sum()), float(e_l.sum()), float(e_r.sum()), int(idx.size)


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


def _common_fm_time(fr: _Frames, gated: np.ndarray) -> float:
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
        e_l, e_r = _harmonic_energy(f0[seg], [h[seg] for h in fr.harm_spectra[1:]], fr.df_hz)
        if abs(_db(max(float(e_l.sum()), 1e-30) / max(float(e_r.sum()), 1e-30))) > CENTRE_MAX_DB:
            continue
        total += seg.size * fr.hop_s
    return total


def _vibrato_hz(devs: list[np.ndarray], hop_s: float) -> float:
    """Dominant modulation rate (Hz) of the pitch deviations of segments >= 0.6 s."""
    n_fft = 64
    acc = np.zeros(n_fft // 2 + 1)
    used = 0
    for d in devs:
        m = int(0.6 / hop_s)
        if d.size < m:
            continue
        for j in range(0, d.size - m + 1, max(m // 2, 1)):
            seg = d[j:j + m] - d[j:j + m].mean()
            acc += np.abs(np.fft.rfft(seg * np.hanning(m), n_fft)) ** 2
            used += 1
    if used == 0:
        return math.nan
    freqs = np.fft.rfftfreq(n_fft, hop_s)
    band = (freqs >= 2.0) & (freqs <= 12.0)
    return float(freqs[band][np.argmax(acc[band])])


def measure_balance(x: np.ndarray, *, fs: int, integrated_lufs: float) -> Balance:
    """Bass and vocal levels of a mix against its integrated loudness.

    Parameters
    ----------
    x : ndarray, shape (n_channels, n_samples)
        The mix (float32 or float64, full scale 1.0); 1 or 2 channels for the vocal (more
        channels add to the bass and the loudness only).
    fs : int
        Sample rate (Hz), keyword-only.
    integrated_lufs : float
        The mix's BS.1770 integrated loudness (LUFS); sets the loudness gate of the frames.

    Returns
    -------
    Balance

    Raises
    ------
    SignalError
        Bad shape, NaN/Inf samples, or a sample rate below 8 kHz.
    """
    arr = as_programme(x)
    if isinstance(fs, bool) or int(fs) != fs or int(fs) < 8000:
        raise SignalError(f"sample rate {fs!r} Hz is too low for the balance (needs >= 8000 Hz)")
    fs = int(fs)
    notes: list[str] = []
    if not math.isfinite(integrated_lufs):
        return Balance(bass_db=math.nan, vocal_db=math.nan, vocal_found=False,
                       notes=("the mix is silent: no bass or vocal level",))
    if arr.dtype not in (np.float32, np.float64):
        arr = arr.astype(np.float64)
    with single_threaded_blas():
        fr = _frame_pass(arr, fs)
    # loudness gate on ~400 ms of frames (BS.1770-5 gating block and relative gate)
    width = max(int(round(0.4 / fr.hop_s)), 1)
    smooth = ndimage.uniform_filter1d(fr.etot, width, mode="nearest") * fr.ms_scale
    with np.errstate(divide="ignore"):
        frame_lufs = LOUDNESS_OFFSET_DB + 10.0 * np.log10(smooth)
    gated = frame_lufs > max(ABSOLUTE_GATE_LUFS, integrated_lufs + RELATIVE_GATE_LU)
    if not gated.any():
        gated = frame_lufs > ABSOLUTE_GATE_LUFS
    e_tot = float(np.sum(fr.etot[gated]))
    e_bass = float(np.sum(fr.ebass[gated]))
    bass_db = _db(e_bass / e_tot) if e_tot > 0 else math.nan
    bass_rest = _db(e_bass / (e_tot - e_bass)) if e_tot > e_bass else math.inf
    analysed_s = fr.etot.size * fr.hop_s

    if arr.shape[0] > 2:
        notes.append(f"the vocal is looked for in stereo and mono mixes; this one has {arr.shape[0]} channels")
        return Balance(bass_db=bass_db, vocal_db=math.nan, vocal_found=False, notes=tuple(notes),
                       bass_to_rest_db=bass_rest, analysed_s=analysed_s)

    lo, hi = VOICE_F0_RANGE_HZ
    with np.errstate(invalid="ignore", divide="ignore"):
        share = fr.ev_detect / fr.etot
    f0d = fr.f0_detect_hz
    cand = (gated & np.isfinite(f0d) & (f0d >= lo) & (f0d <= hi) & (share > 10.0 ** (MIN_FRAME_SHARE_DB / 10.0)))
    segs = _segments(fr, cand, f0d)
    moves = [_movement_cents(fr, s, f0d) for s in segs]
    voice_segs = [s for s, (m, _) in zip(segs, moves) if m >= VOICE_MOVEMENT_CENTS]
    movement = float(np.median([m for m, _ in moves])) if moves else math.nan
    vib = _vibrato_hz([d for m, d in moves if m >= VOICE_MOVEMENT_CENTS], fr.hop_s)
    v_idx = np.concatenate(voice_segs) if voice_segs else np.zeros(0, dtype=np.int64)
    v_time = v_idx.size * fr.hop_s
    n_gated = int(np.count_nonzero(gated))
    common = dict(bass_db=bass_db, bass_to_rest_db=bass_rest, voice_movement_cents=movement,
                  vibrato_hz=vib, analysed_s=analysed_s, vocal_time_s=v_time)
    pitched_time = sum(s.size for s in segs) * fr.hop_s
    common_fm_s = _common_fm_time(fr, gated) if arr.shape[0] == 2 else 0.0
    detected = v_time >= VOICE_MIN_S and v_idx.size >= VOICE_MIN_FRACTION * max(n_gated, 1)
    def not_found(**extra) -> Balance:
        if pitched_time >= VOICE_MIN_S:
            notes.append(f"no vocal found: a pitched source at the centre holds its notes "
                         f"({movement:.0f} cents of pitch movement; a voice moves more), so it "
                         f"is taken for an instrument")
        else:
            notes.append("no vocal found")
        return Balance(vocal_db=math.nan, vocal_found=False, notes=tuple(notes), **extra, **common)

    if not detected and common_fm_s < COMMON_EVIDENCE_S:
        return not_found()
    # the level: level contours (see _level_sums) for three seed ratios; their part-to-rest
    # figures are averaged in dB (each set of contours is a few seconds of notes: the average
    # of the overlapping sets steadies the figure; 0.6 was left out: in a sparse mix it caught
    # bass notes and drums, -15 dB where the others read -3)
    sums = [_level_sums(fr, r, gated) for r in LEVEL_SEED_RATIOS]
    ev, et, el, er, n_lev = (sum(x[i] for x in sums) for i in range(5))
    if n_lev == 0:                      # no level contour: fall back on the detection frames
        e_c, e_l, e_r = _harmonic_energy(fr.f0_detect_hz[v_idx],
                                         [h[v_idx] for h in fr.harm_spectra], fr.df_hz)
        sums = [(float(e_c.sum()), float(fr.etot[v_idx].sum()), float(e_l.sum()), float(e_r.sum()), v_idx.size)]
        ev, et, el, er, n_lev = sums[0]
    v_time = max(x[4] for x in sums) * fr.hop_s
    common["vocal_time_s"] = v_time
    pan_db = _db(el / er) if el > 0 and er > 0 else (math.inf if el > 0 else -math.inf)
    if not math.isfinite(pan_db) and not detected:
        # found only by common FM, and the level contours show no partials standing above the
        # accompaniment in one of the channels: no clear source (e.g. a piano's note changes)
        return not_found(vocal_pan_db=pan_db)
    if not math.isfinite(pan_db) or abs(pan_db) > CENTRE_MAX_DB:
        side = "left" if pan_db > 0 else "right"
        notes.append(f"a voice-like source sits off centre ({abs(pan_db):.1f} dB toward the {side}); "
                     "it is not taken for the lead vocal")
        return Balance(vocal_db=math.nan, vocal_found=False, notes=tuple(notes), vocal_pan_db=pan_db, **common)
    if ev <= 0:
        notes.append("no vocal found: the pitched centre source does not stand above the accompaniment")
        return Balance(vocal_db=math.nan, vocal_found=False, notes=tuple(notes), vocal_pan_db=pan_db, **common)
    parts = [(x[0], x[1], x[4]) for x in sums if x[4] > 0 and 0 < x[0] < x[1]]
    if not parts:
        parts = [(ev, et, n_lev)] if 0 < ev < et else []
    if not parts:
        notes.append("no vocal found: the pitched centre source does not stand above the accompaniment")
        return Balance(vocal_db=math.nan, vocal_found=False, notes=tuple(notes), vocal_pan_db=pan_db, **common)
    vocal_db = float(np.mean([_db((e / n) / (e_tot / max(n_gated, 1))) for e, _, n in parts]))
    rests = [_db(e / (t - e)) for e, t, _ in parts]
    vocal_rest = float(np.mean(rests))
    if max(rests) - min(rests) > LEVEL_MAX_SPREAD_DB:
        # the level contours of the three seed ratios follow different things (the voice is
        # seldom clear of the accompaniment): found, but no level rather than a wrong one
        notes.append(f"the vocal was found but its level is unsure (the estimates spread over "
                     f"{max(rests) - min(rests):.1f} dB); no vocal level is given")
        return Balance(vocal_db=math.nan, vocal_found=True, notes=tuple(notes), vocal_pan_db=pan_db, **common)
    if v_time < 3 * VOICE_MIN_S:
        notes.append(f"the vocal was found in only {v_time:.1f} s of the mix: its level is unsure")
    return Balance(vocal_db=vocal_db, vocal_found=True, notes=tuple(notes), vocal_to_rest_db=vocal_rest,
                   vocal_pan_db=pan_db, **common)
