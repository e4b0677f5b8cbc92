"""A singer with a straight tone (no vibrato) in the null test's difference signal.

The voice detector the null test runs on the difference ``d`` (:mod:`mixes.balance_null_voice`)
must see a 4-8 Hz vibrato there, because a moved bass alone passed its common-FM path.  A
straight-tone singer (early music, a choir, a flat pop delivery) has none, and was not found.
In ``d`` nothing but the moved parts is left, so a voice can be recognised by what a voice is
and a moved bass, keys or pad is not, all at once (:func:`straight_voice_track`):

- *one harmonic source*: per frame the f0 (``F0_RANGE_HZ``) whose harmonic comb, less the
  energy half-way between its partials (no octave-down errors), is strongest; the comb must
  hold ``COMB_SHARE_MIN`` of the frame's 150 Hz-8 kHz energy (a chord of keys or pads spreads
  over several combs);
- *centred*: the comb's energy in the mid channel ``CENTRE_MIN_DB`` over the side's (keys and
  guitars are panned);
- *sustained and legato*: runs of such frames of at least ``RUN_MIN_S`` whose pitch moves at
  most ``STEP_MAX_ST`` per frame; within each note (a stable pitch for ``NOTE_MIN_S``) the level
  late in the note within ``SUSTAIN_MIN_DB`` of its early peak (plucked and struck notes decay);
- *vowels*: the spectral envelope (log harmonic amplitudes on a fixed frequency grid, 300 Hz-
  4 kHz) changes from note to note by ``VOWEL_MIN_DB`` rms (median over pairs of notes); an
  instrument keeps one body resonance whatever it plays;
- not the bass: an f0 at a multiple of the bass's fundamental, or a frame whose ``d`` holds
  more at 35-150 Hz than in the comb, is a moved bass's upper partials left by the notch;
- at least ``VOICED_MIN_S`` of such frames in ``NOTES_MIN`` notes.

It is tried only when the vibrato path found nothing; the f0 track it returns feeds the same
comb figure as a vibrato voice's.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["straight_voice_track"]

DEBUG: dict = {}              # the last call's cue values (for benchmarks and tests)

F0_RANGE_HZ = (160.0, 900.0)       # a moved bass's 2nd partial reaches 130-260 Hz
F0_STEP_ST = 0.125            # candidate grid (semitones)
HARM_MAX_HZ = 5000.0          # partials used for the f0 salience
COMB_SHARE_MIN = 0.45
CENTRE_MIN_DB = 6.0
RUN_MIN_S = 0.25
STEP_MAX_ST = 1.0
NOTE_MIN_S = 0.2
NOTE_TOL_ST = 0.35
SUSTAIN_MIN_DB = -6.0
SUSTAIN_ALONE_DB = -3.0       # ... when no file found a vocal (moved keys sustain -4.8 / -5.8 dB, null9)
VOWEL_MIN_DB = 4.0
VOICED_MIN_S = 3.0
NOTES_MIN = 6
COMB_REL = 0.03
BASS_MULT_REL = 0.03
BETWEEN_MAX_REL = 0.25        # a bass's in-between partials at least this (-6 dB) of the comb's: the bass's
BETWEEN_HI_HZ = 2000.0
LOW_MAX_RATIO = 2.0           # a frame whose d holds more than this x the comb's energy at 35-150 Hz
VOICE_MAX_HZ = 8000.0


def _salience_f0(A: np.ndarray, fk: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per frame the best f0 (Hz) and its salience from magnitudes ``A`` (frames x bins)."""
    df = fk[1] - fk[0]
    n_st = int(12 * math.log2(F0_RANGE_HZ[1] / F0_RANGE_HZ[0]) / F0_STEP_ST) + 1
    f0s = F0_RANGE_HZ[0] * 2.0 ** (np.arange(n_st) * F0_STEP_ST / 12.0)
    # the max over +-1 bin, so a partial between bins counts whole
    Am = np.maximum(A, np.maximum(np.roll(A, 1, axis=1), np.roll(A, -1, axis=1)))
    sal = np.zeros((A.shape[0], f0s.size), dtype=np.float32)
    for j, f0 in enumerate(f0s):
        h = np.arange(1, int(HARM_MAX_HZ / f0) + 1)
        on = np.clip(np.round(h * f0 / df).astype(int), 0, fk.size - 1)
        off = np.clip(np.round((h + 0.5) * f0 / df).astype(int), 0, fk.size - 1)
        sal[:, j] = Am[:, on].sum(axis=1) - Am[:, off].sum(axis=1)
    k = np.argmax(sal, axis=1)
    return f0s[k], sal[np.arange(A.shape[0]), k]


def _bass_between(p_row: np.ndarray, fb: float, k: int, fk: np.ndarray) -> float:
    """Mean power at the bass's partials ``j fb`` that are not multiples of ``k`` (``k >= 2``),
    150 Hz-``BETWEEN_HI_HZ``, against the mean power on the multiples of ``k fb`` there (+-1 bin
    maxima)."""
    df = fk[1] - fk[0]
    j = np.arange(1, int(BETWEEN_HI_HZ / fb) + 1)
    j = j[j * fb >= 150.0]
    if j.size == 0:
        return 0.0
    kb = np.clip(np.round(j * fb / df).astype(int), 1, fk.size - 2)
    amp = np.maximum(np.maximum(p_row[kb - 1], p_row[kb]), p_row[kb + 1])
    on = (j % max(k, 1)) == 0
    if not np.any(on) or np.all(on):
        return 1.0
    ref = float(np.mean(amp[on]))
    return float(np.mean(amp[~on])) / ref if ref > 0 else 1.0


def _octave_step(d_st: float) -> float:
    """A pitch step (semitones) less any whole octaves."""
    return abs(d_st - 12.0 * round(d_st / 12.0))


def _fold_octaves(st: np.ndarray) -> np.ndarray:
    """A run's pitches (semitones) moved by whole octaves onto one register, chosen as the
    run's most frequent octave offset from its first frame (ties: the lower; the lower f0's
    comb holds the higher one's partials)."""
    off = np.round((st - st[0]) / 12.0)
    vals, cnt = np.unique(off, return_counts=True)
    best = vals[cnt == cnt.max()].min()
    return st - 12.0 * (off - best)


def _comb(f0: float, fk: np.ndarray) -> np.ndarray:
    df = fk[1] - fk[0]
    m = np.zeros(fk.size, dtype=bool)
    for h in range(1, int(VOICE_MAX_HZ / f0) + 1):
        w = max(COMB_REL * h * f0, 1.5 * df)
        m[(fk >= h * f0 - w) & (fk <= h * f0 + w)] = True
    return m


def _envelope_db(p_row: np.ndarray, f0: float, fk: np.ndarray, grid_hz: np.ndarray) -> np.ndarray:
    """Log harmonic amplitudes of one frame interpolated on ``grid_hz`` (NaN outside)."""
    df = fk[1] - fk[0]
    h = np.arange(1, int(min(VOICE_MAX_HZ, fk[-1]) / f0) + 1)
    kb = np.clip(np.round(h * f0 / df).astype(int), 1, fk.size - 2)
    amp = np.maximum(np.maximum(p_row[kb - 1], p_row[kb]), p_row[kb + 1])
    lv = 10.0 * np.log10(np.maximum(amp, 1e-30))
    fh = h * f0
    out = np.interp(np.log(grid_hz), np.log(fh), lv, left=np.nan, right=np.nan)
    return out


def straight_voice_track(D: np.ndarray, fk: np.ndarray, hop_s: float,
                         f_bass: np.ndarray | None = None, D_raw: np.ndarray | None = None,
                         voice_in_files: bool = False) -> np.ndarray | None:
    """The f0 track (Hz per frame, NaN where not voiced) of a straight-tone voice in ``D``.

    Parameters
    ----------
    D : ndarray, shape (n_channels, frames, bins), complex
        The difference signal's STFT, the bass's partials already notched out.
    fk : ndarray
        Bin frequencies (Hz).
    hop_s : float
        Frame hop (s).
    f_bass : ndarray, optional
        The bass's fundamental per frame (Hz, NaN without one): a frame whose f0 is a multiple
        of it (within ``BASS_MULT_REL``) is the bass's upper partials left by the notch, not a
        voice (a moved bass alone in ``d`` was taken for a straight voice on a mixes.songs song).
    D_raw : ndarray, optional
        ``D`` before the notch: a frame whose 35-150 Hz holds more than ``LOW_MAX_RATIO`` times
        the comb's energy is a moved bass's (its upper partials left by the notch form the
        comb; its fundamental is far stronger); a voice moved under a much larger bass change
        is then not found (the figure falls back, never a bass read as the vocal).
    voice_in_files : bool
        A file found a vocal on its own.  Without that evidence the notes must sustain to
        ``SUSTAIN_ALONE_DB`` (not ``SUSTAIN_MIN_DB``): since null9 a comb on a multiple of the
        bass's fundamental is judged by the bass's in-between partials and octave flips continue
        a run, and moved keys in songs without a voice (mixes.songs 6002, 6003: notes sustaining
        -5.8 / -4.8 dB) then passed every other cue.

    Returns
    -------
    ndarray or None
        None unless every cue above holds.
    """
    if D.shape[0] >= 2:
        mid = 0.5 * (D[0] + D[1])
        side = 0.5 * (D[0] - D[1])
    else:
        mid, side = D[0], np.zeros_like(D[0])
    Pm = (np.abs(mid) ** 2).astype(np.float64)
    Ps = (np.abs(side) ** 2).astype(np.float64)
    band = (fk >= 150.0) & (fk <= VOICE_MAX_HZ)
    e_band = Pm[:, band].sum(axis=1)
    live = e_band > 1e-6 * float(e_band.max(initial=0.0))
    if np.count_nonzero(live) * hop_s < VOICED_MIN_S:
        return None
    f0, _ = _salience_f0(np.sqrt(Pm), fk)
    F = Pm.shape[0]
    voiced = np.zeros(F, dtype=bool)
    e_low = None
    if D_raw is not None:
        lowb = (fk >= 35.0) & (fk < 150.0)
        e_low = (np.abs(0.5 * (D_raw[0][:, lowb] + D_raw[-1][:, lowb])) ** 2).sum(axis=1)
    Pr = None
    if D_raw is not None:
        Pr = (np.abs(0.5 * (D_raw[0] + D_raw[-1])) ** 2).astype(np.float64)
    combs: dict = {}
    rej = {"bass_mult": 0, "low": 0, "share": 0, "centre": 0}
    for t in np.nonzero(live)[0]:
        cm = combs.get(float(f0[t]))
        if cm is None:
            cm = combs[float(f0[t])] = _comb(float(f0[t]), fk) & band
        e_c = float(Pm[t, cm].sum())
        if f_bass is not None and t < f_bass.size and np.isfinite(f_bass[t]) and f_bass[t] > 0:
            ratio = f0[t] / f_bass[t]
            k = max(int(round(ratio)), 1)
            if abs(ratio - k) <= BASS_MULT_REL * k:
                # f0 on a multiple k of the bass's fundamental: the comb could be the bass's own
                # partials.  A bass fills *every* multiple of its fundamental, a voice only every
                # k-th: the bass's in-between partials (150 Hz-2 kHz in d before the notch) tell
                # them apart (null9: this frame test replaced a plain rejection, which dropped
                # 40-65 % of a straight or lightly vibrating singer's frames on songs5)
                if Pr is None or _bass_between(Pr[t], float(f_bass[t]), k, fk) >= BETWEEN_MAX_REL:
                    rej["bass_mult"] += 1
                    continue
                e_low_t = 0.0             # the bass's partials are not the comb: its fundamental's level is no cue
            else:
                e_low_t = None if e_low is None else e_low[t]
        else:
            e_low_t = None if e_low is None else e_low[t]
        if e_low_t is not None and e_low_t > LOW_MAX_RATIO * e_c:
            rej["low"] += 1
            continue
        if e_c < COMB_SHARE_MIN * e_band[t]:
            rej["share"] += 1
        elif e_c < 10 ** (CENTRE_MIN_DB / 10) * float(Ps[t, cm].sum()):
            rej["centre"] += 1
        else:
            voiced[t] = True
    # runs: legato (pitch steps <= STEP_MAX_ST per frame), >= RUN_MIN_S
    st = 12.0 * np.log2(f0 / 440.0)
    keep = np.zeros(F, dtype=bool)
    t = 0
    while t < F:
        if not voiced[t]:
            t += 1
            continue
        u = t + 1
        # an octave jump continues the run: the harmonic sum flips between f0 and 2 f0 when the
        # even partials are strong (a songs5 straight-tone male alternated 196 / 392 Hz frame to
        # frame and formed no run of 0.25 s)
        while u < F and voiced[u] and _octave_step(st[u] - st[u - 1]) <= STEP_MAX_ST:
            u += 1
        if (u - t) * hop_s >= RUN_MIN_S:
            keep[t:u] = True
            st[t:u] = _fold_octaves(st[t:u])
        t = u
    f0 = 440.0 * 2.0 ** (st / 12.0)
    DEBUG.clear()
    DEBUG.update(rej, live=int(np.count_nonzero(live)))
    DEBUG.update(voiced_s=float(np.count_nonzero(voiced) * hop_s), run_s=float(np.count_nonzero(keep) * hop_s))
    if np.count_nonzero(keep) * hop_s < VOICED_MIN_S:
        return None
    # notes: stable pitch within a run
    n_min = max(2, int(round(NOTE_MIN_S / hop_s)))
    notes = []
    t = 0
    while t < F:
        if not keep[t]:
            t += 1
            continue
        u = t + 1
        while u < F and keep[u] and abs(st[u] - st[t]) <= NOTE_TOL_ST:
            u += 1
        if u - t >= n_min:
            notes.append((t, u))
        t = u
    DEBUG.update(notes=len(notes))
    if len(notes) < NOTES_MIN:
        return None
    # sustained: late level against the early peak, per note (median)
    lev = 10.0 * np.log10(np.maximum(e_band, 1e-30))
    sus = []
    for a, b in notes:
        q = max(1, (b - a) // 4)
        sus.append(float(np.mean(lev[b - q:b]) - np.max(lev[a:a + q])))
    DEBUG.update(sustain_db=float(np.median(sus)))
    if float(np.median(sus)) < (SUSTAIN_MIN_DB if voice_in_files else SUSTAIN_ALONE_DB):
        return None
    # vowels: the envelope changes from note to note
    grid = 300.0 * 2.0 ** (np.arange(0, 12) / 3.0)           # 300 Hz .. ~4 kHz, third octaves
    envs = []
    for a, b in notes:
        fr = np.mean(Pm[a:b], axis=0)
        e = _envelope_db(fr, float(np.median(f0[a:b])), fk, grid)
        envs.append(e - np.nanmean(e) if np.any(np.isfinite(e)) else e)
    diffs = []
    for i in range(len(envs)):
        for j in range(i + 1, len(envs)):
            ok = np.isfinite(envs[i]) & np.isfinite(envs[j])
            if np.count_nonzero(ok) >= 5:
                d = envs[i][ok] - envs[j][ok]
                diffs.append(float(np.sqrt(np.mean((d - d.mean()) ** 2))))
    DEBUG.update(vowel_db=float(np.median(diffs)) if diffs else math.nan)
    if not diffs or float(np.median(diffs)) < VOWEL_MIN_DB:
        return None
    return np.where(keep, f0, np.nan)
