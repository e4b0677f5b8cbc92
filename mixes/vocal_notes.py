"""The struck-or-plucked cue over every note of the tracked centre source (vocal8).

A voice is driven for as long as it sings: through a note its level holds (or swells), and its
spectral tilt follows its effort, which holds with the level.  A struck or plucked source (an
electric piano's tine, a guitar or harp string, a mallet) is excited once per note and then
rings down: its level falls through every note, and its upper partials fall faster than the
lower ones (the note darkens as it decays; an FM e-piano's modulation index falls too).  Given
a pitch LFO or a finger vibrato such a lead has every cue the vocal detector looks for
(centred, harmonic, a regular 4-8 Hz vibrato moving all partials together), so the earlier
pluck cue (:func:`mixes.vocal_movement.decay_share`) looked only at the few voice-like
segments and needed 80 % of them to fall faster than 8 dB/s: an e-piano's slower decay
(5-7 dB/s) and a guitar heard through one or two segments passed.

Here every note the level contours follow (:class:`mixes.vocal_frames.VoiceFrames`
``f0_hz``, split into pitch-continuous runs as the vowel cue does) of at least
``NOTE_MIN_FRAMES`` frames is judged.  Per note, from the centre power of partials
``h f0`` (``h = 1 .. STRUCK_HARMONICS`` below ``STRUCK_MAX_HZ``; strongest bin within one
bin): the slope (dB/s, least squares) of the summed partial level, and of the level of
partials 3 and up against partials 1-2 (the "brightness").  A note *rings down* when its level
falls faster than ``RING_FAST_DB_PER_S`` (a plucked string), or faster than
``RING_SLOW_DB_PER_S`` while its brightness falls faster than ``DARKEN_DB_PER_S`` (a struck
tine or string).  When rung-down notes hold ``STRUCK_MIN_SHARE`` of the judged note time
(at least ``STRUCK_MIN_NOTES`` notes), the source is taken for an instrument.

Measured (benchmarks/eval_vocal8_found.py material, cached: seeds 312xx/412xx at 12 s and
420xx at 20 s of the five generators, and the 30-s mixes.songs voices of tests/test_mix_balance.py
at four vocal offsets; leads 6 dB under the backing), share of rung-down note time over the
files that reach the cue: voices 0-0.48 (62 files; the highest are mixes.songs 30-s voices,
whose notes fade and darken at phrase ends), e-piano leads with a pitch LFO 0.47-1.0 (39 of 44
at >= 0.55), guitar leads with finger vibrato 0.46-1.0 (17 of 18).  A first version (plucked
below -8 dB/s, share 0.5) rejected the 30-s mixes.songs voice of seed 7 at -3 dB (0.62): the
plucked rate is now -12 dB/s (guitar notes fall at 14-18 dB/s), the share 0.55.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["struck_share", "struck_note"]

NOTE_MIN_FRAMES = 6                 # notes shorter than this (~0.13 s at 48 kHz) are not judged
STRUCK_HARMONICS = 12               # partials summed (as the decay cue of mixes.vocal_movement)
STRUCK_MAX_HZ = 5000.0
RING_FAST_DB_PER_S = -12.0          # a note falling faster than this rings down (plucked)
RING_SLOW_DB_PER_S = -3.0           # ... or faster than this while it darkens (struck)
DARKEN_DB_PER_S = -6.0              # upper partials (3+) against partials 1-2, dB/s
STRUCK_MIN_SHARE = 0.55             # rung-down share of the judged note time: an instrument
STRUCK_MIN_NOTES = 4                # judged with at least this many notes


def _note_slopes(hc: np.ndarray, df_hz: float, hop_s: float, note: np.ndarray,
                 f0_hz: np.ndarray) -> tuple[float, float]:
    """(level slope, brightness slope) of one note in dB/s; brightness NaN with < 3 partials."""
    f0 = f0_hz[note].astype(np.float64)
    n_h = max(1, min(STRUCK_HARMONICS, int(STRUCK_MAX_HZ // float(np.max(f0)))))
    k0 = np.rint(np.arange(1, n_h + 1)[None, :] * f0[:, None] / df_hz).astype(np.int64)
    k0 = np.clip(k0, 1, hc.shape[1] - 2)
    rows = note[:, None]
    p = np.maximum(np.maximum(hc[rows, k0 - 1], hc[rows, k0]), hc[rows, k0 + 1]).astype(np.float64)
    t = np.arange(note.size) * hop_s
    t = t - t.mean()
    tt = float(np.dot(t, t))
    level = 10.0 * np.log10(np.maximum(p.sum(axis=1), 1e-30))
    slope = float(np.dot(t, level - level.mean())) / tt
    if n_h < 3:
        return slope, math.nan
    b = 10.0 * np.log10(np.maximum(p[:, 2:].sum(axis=1), 1e-30) / np.maximum(p[:, :2].sum(axis=1), 1e-30))
    return slope, float(np.dot(t, b - b.mean())) / tt


def struck_share(hc: np.ndarray, df_hz: float, hop_s: float, notes: list[np.ndarray],
                 f0_hz: np.ndarray) -> tuple[float, int]:
    """Share of the notes' time that rings down like a struck or plucked string.

    Parameters
    ----------
    hc : ndarray (frames x bins)
        Centre power spectrum (K-weighted) of the frame pass.
    df_hz, hop_s : float
        Bin spacing (Hz) and frame hop (s).
    notes : list of ndarray of int
        Pitch-continuous runs of frames of the tracked source.
    f0_hz : ndarray
        The tracked pitch per frame (Hz).

    Returns
    -------
    (share 0..1 or NaN, number of notes judged)
        Notes shorter than ``NOTE_MIN_FRAMES`` are not judged; see the module docstring.
    """
    ring = 0
    total = 0
    n = 0
    for note in notes:
        if note.size < NOTE_MIN_FRAMES:
            continue
        slope, bright = _note_slopes(hc, df_hz, hop_s, note, f0_hz)
        rung = slope < RING_FAST_DB_PER_S or (slope < RING_SLOW_DB_PER_S and bright < DARKEN_DB_PER_S)
        ring += note.size if rung else 0
        total += note.size
        n += 1
    return (ring / total if total else math.nan), n


def struck_note(fr, vf) -> str:
    """A "no vocal found" note when the tracked source rings down through its notes, else "".

    ``fr`` is the frame pass (:func:`mixes.vocal_frames.frame_pass`), ``vf`` its
    :class:`mixes.vocal_frames.VoiceFrames` (the tracked pitch and the gated frames).
    """
    from mixes.vocal_frames import _segments
    f0 = vf.f0_hz.astype(np.float64)
    notes = _segments(fr, np.isfinite(f0) & vf.gated, f0)
    share, n = struck_share(fr.harm_spectra[0], fr.df_hz, fr.hop_s, notes, f0)
    if n >= STRUCK_MIN_NOTES and share >= STRUCK_MIN_SHARE:
        return (f"no vocal found: the pitched centre source rings down through its notes like a struck or "
                f"plucked string ({100 * share:.0f} % of the time of its {n} notes falls in level and darkens; "
                f"a voice holds its notes), so it is taken for an instrument")
    return ""
