"""Bass and vocal balance of a mix: the low end and the vocal against the mix's loudness.

Classical signal processing only (no learned models).  How the vocal is found and tracked
(a centred harmonic source whose partials move together: vibrato, glides) is in
:mod:`mixes.vocal_frames`; this module turns the per-frame record into levels and compares
them with references.

Levels
------
``bass_db`` and ``vocal_db`` are K-weighted levels relative to the mix's loudness over the
frames that pass the loudness gate (``integrated_lufs - 10 LU``, BS.1770's relative gate),
so they read like LU: ``bass_db = -6`` means the low end alone would measure 6 LU below the
mix.  ``vocal_db`` is the vocal's level *while it sings* (over the frames where it was found).

``vocal_db`` reads higher than the voice stem's own K-weighted loudness against the mix
(by ~4 dB on the synthetic songs) because it is the level while the voice is *tracked*, not
averaged over its rests; compare it with references rather than reading it absolutely.

Against references the comparison is the one a mix engineer acts on: the level of the part
against the *accompaniment* (the mix without the low end and the tracked voice, measured from
``ACC_LOW_HZ`` up, above the bass line's strong harmonics), so a vocal 2 dB louder on the fader
reads +2 dB even though the whole mix also rose, and a vocal and a bass moved together each
read their own offset.  The low end compared is its *held* part (the bass instrument; the
kick's bursts are cut per bin by a running rank filter, :mod:`mixes.bass_tonal`), so a bass
fader alone reads itself.

*Same-song references* (an earlier mix of the song, the reference mix it was built from: the
issue's "otherwise identical references").  Each :class:`Balance` keeps a per-frame record
(:class:`mixes.vocal_frames.VoiceFrames`: tracked pitch, its harmonic energy, the
accompaniment, the held low end).  When a reference has the same frames and its accompaniment
rises and falls with the mix's (log frame-energy correlation >= ``MATCH_MIN_CORR``), and the
two tracked pitches agree (within ``MATCH_CENTS``) on >= ``MATCH_MIN_S``, the vocal is
compared over exactly those frames (the same notes against the same notes: no selection bias
from a quieter voice being tracked on fewer, clearer frames), normalised by the accompaniment
where neither file tracks a voice; the low end over the frames gated in both.  The
accompaniment's gain (mix against reference) is read from the third-octave energies of every
frame (:func:`_common_gain_db`): the cells that hold the accompaniment alone all read the same
ratio, and their densest cluster is taken, so the untracked parts of the voice and a moved bass
line's upper harmonics, which sit in a mean over frames, do not pull it toward their offsets
(vocal5: mixes.songs_alt vocal offsets read ~35 % short before, -2.5 dB as -1.6).  This needs the
vocal found in both files, or in one and the other's track following the same pitch movement
(vibrato) there.  Otherwise (a different song) the whole-file figures ``*_to_rest_db`` are
compared, and ``compare_balance`` averages the references in dB.

Long files are analysed in excerpts: at most ``MAX_FRAMES`` frames (about 2 min of audio at
48 kHz), in runs of ``RUN_FRAMES`` consecutive frames spread evenly over the file.

Accuracy (vocal3, 12:20 UTC; :mod:`mixes.songs`, 40 songs per duration on seeds 1200-1239,
1500-1539, 2000-2039, 3000-3039, their own keys, modes and tempi; each mix with the vocal at
U(-3, 3) dB and the bass at U(-3, 3) dB *together*, brought to U(-30, -8) LUFS, against the
same song at 0 dB): the vocal's offset given and within 1 dB on 62 % (12 s), 78 % (15 s),
85 % (20 s), 90 % (30 s) of the songs (82 / 88 % at 20 / 30 s after
vocal4's steady-partial check, one song each); where given, rms error 0.35 / 0.28 / 0.61 / 0.35 dB
(worst 0.97 / 0.70 / 2.85 / 1.01: two 20-s songs where the vocal was found only in the
reference read 1.7 and 2.9 dB off).  The low end within 1 dB on every song (rms 0.31-0.38,
worst 0.91).  No voice: not found on 0 of 160 songs (8 before; 1 of 40 at 30 s when the bass
was also moved), nor on the real piano.  On :mod:`mixes.songs_alt` (24 songs each, other styles) the
detector is NOT reliable: no-voice songs taken for a voice on 1 (12 s), 4 (20 s), 6 (30 s)
of 24 (centred pads and keys whose pitch moves: guitars, organ, FM piano, strings; the voiced
songs' stems without the voice), 1, 3, 3 since the steady-partial check (DETECT_MAX_SHAPE_STEP_DB,
see mixes.vocal_frames; ``voice=False`` songs: 20 s 6 -> 3, 30 s 3 -> 1 of 24; it costs 1 of
40 mixes.songs voices at 20 and 30 s), the vocal within 1 dB on 62-83 %, the bass on
some songs 1.3-2.5 dB off (moving, short bass notes).
With the common gain (vocal5, same harness and songs): songs_alt vocal error rms
0.79 / 0.76 / 0.68 -> 0.22 / 0.21 / 0.07 dB at 12 / 20 / 30 s (worst 0.94 / 0.78 / 0.30), within
1 dB on every song with a figure (20 / 23 / 23 of 24; the rest: no vocal found); the bass rms
0.90 / 0.86 / 0.68 -> 0.43 / 0.48 / 0.39 dB; mixes.songs vocal rms 0.27 / 0.19 / 0.46 / 0.21 dB
at 12 / 15 / 20 / 30 s (before 0.35 / 0.28 / 0.61 / 0.34), bass rms 0.15-0.22 dB (0.31-0.38).
Against *other* songs the vocal-to-rest figure carries each song's arrangement: its bias
against a stem-based truth varies by 1.6 dB (std) from song to song.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
from scipy import ndimage

from calib.errors import SignalError
from mixes.loudness import LOUDNESS_OFFSET_DB, RELATIVE_GATE_LU, ABSOLUTE_GATE_LUFS
from mixes._blas import single_threaded_blas
from mixes.programme import as_programme
from mixes.vocal_notes import struck_note
from mixes.vocal_envelope import (ENVELOPE_MIN_CHANGE_DB, ENVELOPE_MIN_PAIRS, TRACK_MIN_CHANGE_DB,
                                  TRACK_MIN_PAIRS, envelope_change_db, track_envelope_change_db)
from mixes.vocal_movement import DECAY_MAX_SHARE, DECAY_SLOPE_DB_PER_S, decay_share, voice_movement_cents
from mixes.vocal_frames import (BASS_BAND_HZ, VOICE_F0_RANGE_HZ, VOICE_MIN_S, VOICE_MIN_FRACTION,
                                VOICE_MOVEMENT_CENTS, MOVEMENT_MEDIAN_S, MIN_FRAME_SHARE_DB, CENTRE_MAX_DB,
                                COMMON_EVIDENCE_S, DETECT_MIN_COHERENCE, DETECT_MAX_SHAPE_STEP_DB, EVIDENCE_MIN_SHARE, LEVEL_SEED_RATIOS, LEVEL_MAX_SPREAD_DB,
                                ACC_MODE_WIDTH_DB, MATCH_CENTS, MATCH_MIN_S, MATCH_MIN_CORR, MATCH_MIN_MOVE_CORR, VoiceFrames, _db,
                                _coherence, _common_fm_time, _harmonic_energy, _level_sums, _movement_cents,
                                _segments, _shape_step_db, _vibrato_hz, _voice_frames, frame_pass)

__all__ = ["Balance", "VoiceFrames", "measure_balance", "compare_balance", "BASS_BAND_HZ", "VOICE_F0_RANGE_HZ"]


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
    voice_evidence_s : float
        Seconds of voice-like evidence (coherently moving centred pitch: the detection
        segments plus the common-FM segments); found at ``VOICE_MIN_S`` / ``COMMON_EVIDENCE_S``.
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
    voice_evidence_s: float = 0.0
    frames: "VoiceFrames | None" = field(default=None, repr=False, compare=False)

    def to_dict(self, bass_vs_reference_db: float | None = None,
                vocal_vs_reference_db: float | None = None) -> dict[str, Any]:
        """The ``balance`` object of ``mix analyze --json`` (non-finite values become None).

        A mix whose vocal was not found on its own but was compared with a same-song reference
        that found it (:func:`compare_balance`: the same sung pitches at the same frames, moving
        alike) is reported found, with a note saying so; its own ``vocal_db`` stays null."""
        vocal_vs = _num(vocal_vs_reference_db)
        found = bool(self.vocal_found)
        notes = list(self.notes)
        if vocal_vs is not None and not found:
            found = True
            notes = [n for n in notes if not n.startswith("no vocal found")]
            notes.append("the vocal was found through the reference (the same song: the same sung "
                         "pitches at the same times), not in this mix on its own; no level of its own is given")
        return {
            "bass_db": _num(self.bass_db),
            "vocal_db": _num(self.vocal_db) if self.vocal_found else None,
            "bass_vs_reference_db": _num(bass_vs_reference_db),
            "vocal_vs_reference_db": vocal_vs,
            "vocal_found": found,
            "notes": notes,
        }


def _matched(a: "VoiceFrames", b: "VoiceFrames") -> np.ndarray | None:
    """Frames where two analyses of *the same song* track the same sung pitch, or None when
    they are not the same song's frames (other length or hop; the accompaniment's frame
    energies correlate (log) below ``MATCH_MIN_CORR``; or the tracked pitches agree on less
    than ``MATCH_MIN_S``)."""
    if a.f0_hz.size != b.f0_hz.size or abs(a.hop_s - b.hop_s) > 1e-9:
        return None
    both = np.isfinite(a.f0_hz) & np.isfinite(b.f0_hz) & a.gated & b.gated
    n_both = int(np.count_nonzero(both))
    if n_both == 0:
        return None
    with np.errstate(invalid="ignore", divide="ignore"):
        agree = both & (np.abs(1200.0 * np.log2(a.f0_hz / b.f0_hz)) <= MATCH_CENTS)
    n = int(np.count_nonzero(agree))
    if n * a.hop_s < MATCH_MIN_S:
        return None
    # the same song: its accompaniment rises and falls at the same frames (log energy
    # correlation over the frames gated in both)
    if not _same_song(a, b):
        return None
    return agree & (a.e_voice > 0) & (b.e_voice > 0)


def _same_song(a: "VoiceFrames", b: "VoiceFrames") -> bool:
    """True when two analyses with the same frames are of the same song: the accompaniment's
    frame energies (log) correlate >= ``MATCH_MIN_CORR`` over the frames gated in both."""
    if not _same_frames(a, b):
        return False
    g = a.gated & b.gated
    if np.count_nonzero(g) < 8:
        return False
    la, lb = (np.log10(np.maximum(f.e_acc[g], 1e-30)) for f in (a, b))
    return float(np.corrcoef(la, lb)[0, 1]) >= MATCH_MIN_CORR


BASS_COMMON_GAIN = True


def _same_movement(a: "VoiceFrames", b: "VoiceFrames", m: np.ndarray) -> bool:
    """True when the two tracks move together over the matched frames ``m``: the correlation of
    their frame-to-frame pitch changes (cents) is at least ``MATCH_MIN_MOVE_CORR``."""
    pair = m[1:] & m[:-1]
    if np.count_nonzero(pair) < 8:
        return False
    da, db = (np.diff(1200.0 * np.log2(f.f0_hz.astype(np.float64)))[pair] for f in (a, b))
    if np.std(da) == 0 or np.std(db) == 0:
        return False
    return float(np.corrcoef(da, db)[0, 1]) >= MATCH_MIN_MOVE_CORR


def _same_frames(a: "VoiceFrames", b: "VoiceFrames") -> bool:
    return a.f0_hz.size == b.f0_hz.size and abs(a.hop_s - b.hop_s) <= 1e-9


def _common_gain_db(a: "VoiceFrames", b: "VoiceFrames", g: np.ndarray) -> float:
    """The gain (dB) of the accompaniment of ``a`` against that of ``b`` (the same song) over
    the frames ``g``: the median of the densest ``ACC_MODE_WIDTH_DB`` window of the log ratios
    of the third-octave energies (from ``ACC_LOW_HZ`` up) of every frame and band.  NaN with
    fewer than 8 values.

    In a same-song comparison the bands and frames that hold only the accompaniment (drums,
    pads, keys; the cymbals above the voice; the pauses between phrases) all read one ratio,
    the overall gain of the mix against the reference, while those that also hold the voice
    (untracked quiet notes, consonants, breath, its reverb) or the upper harmonics of a moved
    bass line lean toward that part's offset.  A mean over frames leans with them: the vocal
    offsets of mixes.songs_alt (a loud lead singing most of the time) read about 35 % short
    (-2.5 dB as -1.6) with the mean over the frames where no voice was tracked; the densest
    cluster of band ratios does not lean, since many (frame, band) cells hold the accompaniment
    alone."""
    if a.e_bands is None or b.e_bands is None or a.e_bands.shape != b.e_bands.shape:
        return math.nan
    ea = a.e_bands[g].astype(np.float64)
    eb = b.e_bands[g].astype(np.float64)
    # cells at least 60 dB under the loudest cell of the file carry rounding and noise
    floor = 1e-6 * max(float(ea.max(initial=0.0)), float(eb.max(initial=0.0)))
    ok = (ea > floor) & (eb > floor)
    if np.count_nonzero(ok) < 8:
        return math.nan
    d = np.sort(10.0 * np.log10(ea[ok] / eb[ok]))
    hi = np.searchsorted(d, d + ACC_MODE_WIDTH_DB, side="right")
    i = int(np.argmax(hi - np.arange(d.size)))
    return float(np.median(d[i:hi[i]]))


def compare_balance(mix: Balance, refs: Sequence[Balance]) -> tuple[float | None, float | None]:
    """Bass and vocal of a mix against references (dB; positive = louder than the references).

    Each part is compared against the accompaniment of its own mix (the mix without the low
    end and the vocal: a vocal and a bass moved together each read their own offset), the mean
    over the references taken in dB.  When a reference is *the same song* (an earlier mix, the
    unprocessed reference: same frames, and the tracked vocal pitches agree, see
    :func:`_matched`) the vocal is compared over the frames where both track it, and the low
    end over the frames gated in both: the same notes against the same notes.  Otherwise the
    whole-file figures (``*_to_rest_db``) are compared.

    Returns
    -------
    (bass_vs_reference_db, vocal_vs_reference_db)
        None when there are no references, or (vocal) when no comparison is possible: no
        vocal in the mix or in any reference.
    """
    refs = list(refs)
    if not refs:
        return None, None
    bass_d, vocal_d = [], []
    mf = mix.frames
    for r in refs:
        rf = r.frames
        same = mf is not None and rf is not None and _same_frames(mf, rf)
        if same:
            g = mf.gated & rf.gated
            # against the accompaniment where neither tracks a voice (a vocal fader moves the rest)
            quiet = g & ~np.isfinite(mf.f0_hz) & ~np.isfinite(rf.f0_hz)
            if np.count_nonzero(quiet) * mf.hop_s < MATCH_MIN_S:
                quiet = g
            num = [float(np.sum(f.e_low_tonal[g])) for f in (mf, rf)]
            den = [float(np.sum(f.e_acc[quiet])) for f in (mf, rf)]
            # the same song: against the accompaniment's common gain (see _common_gain_db)
            c_db = _common_gain_db(mf, rf, g) if BASS_COMMON_GAIN and _same_song(mf, rf) else math.nan
            if min(num) > 0 and math.isfinite(c_db):
                bass_d.append(_db(num[0] / num[1]) - c_db)
            elif min(num) > 0 and min(den) > 0:
                bass_d.append(_db(num[0] / den[0]) - _db(num[1] / den[1]))
        elif math.isfinite(mix.bass_to_rest_db) and math.isfinite(r.bass_to_rest_db):
            bass_d.append(mix.bass_to_rest_db - r.bass_to_rest_db)
        m = _matched(mf, rf) if same else None
        # both found the vocal, or one did and the other's track follows the same pitch
        # movement (vibrato) in the matched frames: not a held note of another part at the pitch
        if m is not None and (mix.vocal_found and r.vocal_found
                              or (mix.vocal_found or r.vocal_found) and _same_movement(mf, rf, m)) \
                and np.count_nonzero(m) * mf.hop_s >= MATCH_MIN_S:
            v = [float(np.sum(f.e_voice[m])) for f in (mf, rf)]
            # the accompaniment's gain: the ratio that the frames of the accompaniment alone
            # share (see _common_gain_db; a mean over "quiet" frames also holds the untracked
            # parts of the voice and reads the offset short)
            c_db = _common_gain_db(mf, rf, mf.gated & rf.gated)
            if min(v) > 0 and math.isfinite(c_db):
                vocal_d.append(_db(v[0] / v[1]) - c_db)
                continue
        if mix.vocal_found and r.vocal_found and math.isfinite(mix.vocal_to_rest_db) \
                and math.isfinite(r.vocal_to_rest_db):
            vocal_d.append(mix.vocal_to_rest_db - r.vocal_to_rest_db)
    bass = float(np.mean(bass_d)) if bass_d else None
    vocal = float(np.mean(vocal_d)) if vocal_d else None
    return bass, vocal


def _fixed_envelope(fr, vf: "VoiceFrames") -> str:
    """A "no vocal found" note when the tracked source keeps one spectral envelope from note to
    note (:func:`mixes.vocal_envelope.track_envelope_change_db`), else ``""``."""
    f0 = vf.f0_hz.astype(np.float64)
    notes = _segments(fr, np.isfinite(f0) & vf.gated, f0)
    env_db, pairs = track_envelope_change_db(fr.harm_spectra[0], fr.df_hz, notes, f0)
    if pairs >= TRACK_MIN_PAIRS and env_db < TRACK_MIN_CHANGE_DB:
        return (f"no vocal found: the pitched centre source keeps one spectral envelope across its notes "
                f"({env_db:.1f} dB of change over {len(notes)} notes; a voice changing vowels changes it more), "
                f"like the fixed body of a string or wind instrument, so it is taken for an instrument")
    return ""


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
        fr = frame_pass(arr, fs)
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
    # voice-like: the pitch moves (vibrato, glides) and all its partials move together (common
    # FM; without it reverb-smeared pads and keys' onsets passed on 6 of 40 no-voice songs).
    # The movement is also read from the partials' reassigned frequencies, and must be periodic
    # at a vibrato rate (mixes.vocal_movement: the salience's pitch misses most of a vibrato)
    v_moves = [voice_movement_cents(fr, s, f0d, m, MOVEMENT_MEDIAN_S) for s, m in zip(segs, moves)]
    voice_segs = [s for s, m in zip(segs, v_moves)
                  if m >= VOICE_MOVEMENT_CENTS and _coherence(fr, s, fr.detect_idx)[0] >= DETECT_MIN_COHERENCE
                  and not _shape_step_db(fr, s, f0d) > DETECT_MAX_SHAPE_STEP_DB]
    movement = float(np.median([m for m, _ in moves])) if moves else math.nan
    vib = _vibrato_hz([d for m, d in moves if m >= VOICE_MOVEMENT_CENTS], fr.hop_s)
    v_idx = np.concatenate(voice_segs) if voice_segs else np.zeros(0, dtype=np.int64)
    v_time = v_idx.size * fr.hop_s
    n_gated = int(np.count_nonzero(gated))
    common = dict(bass_db=bass_db, bass_to_rest_db=bass_rest, voice_movement_cents=movement,
                  vibrato_hz=vib, analysed_s=analysed_s, vocal_time_s=v_time)
    pitched_time = sum(s.size for s in segs) * fr.hop_s
    cfm_segs: list = []
    common_fm_s = _common_fm_time(fr, gated, cfm_segs) if arr.shape[0] == 2 else 0.0
    common["voice_evidence_s"] = v_time + common_fm_s
    detected = v_time >= VOICE_MIN_S and v_idx.size >= VOICE_MIN_FRACTION * max(n_gated, 1)
    def not_found(**extra) -> Balance:
        if pitched_time >= VOICE_MIN_S and movement >= VOICE_MOVEMENT_CENTS:
            notes.append(f"no vocal found: a pitched source at the centre moves its pitch ({movement:.0f} cents) "
                         f"but not as a voice does (a vibrato's regular 4-8 Hz swing with all partials moving "
                         f"together), so it is taken for an instrument")
        elif pitched_time >= VOICE_MIN_S:
            notes.append(f"no vocal found: a pitched source at the centre holds its notes "
                         f"({movement:.0f} cents of pitch movement; a voice moves more), so it "
                         f"is taken for an instrument")
        else:
            notes.append("no vocal found")
        return Balance(vocal_db=math.nan, vocal_found=False, notes=tuple(notes), **extra, **common)

    # the level: level contours (see _level_sums) for three seed ratios; their part-to-rest
    # figures are averaged in dB (each set of contours is a few seconds of notes: the average
    # of the overlapping sets steadies the figure; 0.6 was left out: in a sparse mix it caught
    # bass notes and drums, -15 dB where the others read -3)
    sums = [_level_sums(fr, r, gated) for r in LEVEL_SEED_RATIOS]
    vf = _voice_frames(fr, gated, sums, v_idx)
    common["frames"] = vf
    e_acc = float(np.sum(vf.e_acc[gated]))
    common["bass_to_rest_db"] = _db(float(np.sum(vf.e_low_tonal[gated])) / e_acc) if e_acc > 0 else math.nan
    # chance coherent movements of instruments (bent or plucked strings, organ, FM keys, chorused
    # pads) add up with the length of the file: a floor on the evidence's share of the analysed
    # time (EVIDENCE_MIN_SHARE, off: see its comment for the measured trade)
    enough = v_time + common_fm_s >= EVIDENCE_MIN_SHARE * analysed_s
    if (not detected and common_fm_s < COMMON_EVIDENCE_S) or not enough:
        return not_found()
    # the vowel cue (mixes.vocal_envelope): a fixed body keeps its partials' envelope from note
    # to note (violin, bent guitar), a voice changes vowels
    env_db, env_pairs = envelope_change_db(fr.harm_spectra[0], fr.df_hz,
                                           [(s, f0d) for s in voice_segs] + cfm_segs)
    if env_pairs >= ENVELOPE_MIN_PAIRS and env_db < ENVELOPE_MIN_CHANGE_DB:
        notes.append(f"no vocal found: the pitched centre source keeps one spectral envelope from note to "
                     f"note ({env_db:.1f} dB of change; a voice changing vowels changes it more), so it is "
                     f"taken for an instrument")
        return Balance(vocal_db=math.nan, vocal_found=False, notes=tuple(notes), **common)
    # the pluck cue (mixes.vocal_movement): a plucked or struck string decays through its notes,
    # a voice holds them
    dec = decay_share(fr, [(s, f0d) for s in voice_segs] + cfm_segs)
    if dec >= DECAY_MAX_SHARE:
        notes.append(f"no vocal found: the pitched centre source decays through its notes like a plucked or "
                     f"struck string ({100 * dec:.0f} % of its voice-like time falls faster than "
                     f"{-DECAY_SLOPE_DB_PER_S:.0f} dB/s; a voice holds its notes), so it is taken for an instrument")
        return Balance(vocal_db=math.nan, vocal_found=False, notes=tuple(notes), **common)
    # the vowel cue again, over every note of the tracked source (mixes.vocal_envelope, vocal7):
    # the voice-like segments are often one or two notes, too few to judge; the level contours
    # follow the source through all its notes
    why = _fixed_envelope(fr, vf) or struck_note(fr, vf)   # and rings down like a struck string (vocal8)
    if why:
        notes.append(why)
        return Balance(vocal_db=math.nan, vocal_found=False, notes=tuple(notes), **common)
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
