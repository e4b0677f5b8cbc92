"""Stage 3 of :mod:`mixes.clicks`, continued: is a heard transient the attack of a sound in the mix?

A drum's beater, a pick on a string, a plectrum's scrape are sharp, broadband transients, as loud
for a moment as any click, yet a listener hears them as the start of the drum or the note: they
*start* a sound, and they come from where that sound comes from.  Two cues of auditory scene
analysis decide whether parts of a sound are heard as one object (Bregman, *Auditory Scene
Analysis*, 1990, ch. 3; Darwin & Carlyon 1995): a common onset (components that start together
fuse; an onset asynchrony of a few tens of ms already segregates), and a common location (the
same interaural level and time difference).  A source placed in a stereo mix by a pan-pot puts
its whole sound, attack and body, into both channels at one level ratio and no delay (a stereo
pair, or a source placed by time too: at one small delay, within ``MAX_LAG_S``).  A digital
click is an error in one channel's sample stream, or, on
both channels, a disturbance unrelated to what is playing.

So an event that stands above the masking threshold is judged by the part of it that the other
channel does not explain, when it starts a sound from where it comes from:

1. *Common location* (:func:`coherent_share`): over the event's span, the third differences of
   the two channels (the whitening of mixes.clicks' stage 1, where a transient dominates) are
   compared, each less what its surroundings lead one to expect there.  Their coherence gives
   the share of the event the other channel does not explain (0 for a panned source, 1 for a
   click in one channel, also one planted on a drum's onset: the other channel holds the drum's
   attack but not the click) and the event's level ratio between the channels (a pan-pot's).
2. *Common onset* (:func:`onset_rise_db`): a third-octave band is ``ONSET_RISE_DB`` (in
   :mod:`mixes.click_masking`) louder over the 21 ms after the event than in each of the three
   21-ms windows before it (the music's own ebb and flow rarely does that), looked for in the
   channel where the event is louder, and the energy that is new there stands in the two
   channels at the event's own level ratio (``LOCATION_TOL_DB``) in some band that rises that
   much (the most-rising first: a hard-panned guitar starting a chord in one channel as a
   centred kick hits must not hide the kick's own bands): the sound starts where the event
   comes from.

The event's audibility is then that of its unexplained share (the isolated waveform scaled by
it).  Not for a *sample-level* event (:func:`is_attack_wide`): an attack is mechanical (a beater
on a head, a plectrum leaving a string) and lasts a fraction of a ms; a click whose energy lies
within a few samples is no sound's attack, even when it is the same in both channels and a drum
hit follows it within 21 ms (a render glitch, a dual-mono file: identical two-channel clicks
-30..-18 dBFS in 15 drum songs of four generators, found 375 -> 472 of the 485 found without
the rule; clean reports unchanged).  Limits, said plainly: a click of 0.2 ms or more (a short
noise burst) that is the same in both channels and falls within the 21 ms before a sound panned
like it is still taken for that sound's attack; a click in a one-channel source (hard-panned or
double tracked) gets no help and no harm from this rule; a re-plucked string that rings on (a
strum over a held chord) raises no band and stays reported.

Smooth events (cleanclick9): the second span of :func:`sample_level_span_s` counts only when what
the running median leaves of the first difference is a real share of it (:func:`sharp_share`,
``RESIDUAL_MIN_SHARE``): on a smooth hump the median only rounds the difference's extremum, one
or two samples that looked like a spike and made a pick's 0.5-ms hump "sample-level".  Such a
smooth event that starts a sound is its attack in one channel too
(:data:`mixes.click_masking.SMOOTH_ONSET_RULE`).
"""

from __future__ import annotations

import numpy as np

__all__ = ["coherent_share", "onset_rise_db", "sample_level_span_s", "is_attack_wide", "sharp_share"]

PAD_S = 0.0003        # the span compared: the event's, widened by this either side
NEAR_S = 0.002        # the unexplained part's background: this long either side of the span
RISE_WIN_S = 0.021     # a sound starting at the event: band powers over this long just after vs just before
RISE_GAP_S = 0.001     # ... leaving this much either side of the event out
RISE_BEFORE = 3        # ... louder than in each of this many windows before it (63 ms)
LOCATION_TOL_DB = 3.0  # the new sound's level ratio between the channels is the event's within this
RISE_BANDS_PER_OCT = 3  # ... in third-octave bands from RISE_LO_HZ
RISE_LO_HZ = 40.0
RISE_FLOOR_DB = -30.0   # ... over the bands within this of the loudest band after the event
OTHER_MIN_RATIO = 2.0   # the other channel has an event: its span's energy this many times its surroundings'
# inter-channel delay allowed: a pan-pot's is none, but a source placed by level *and* time (a
# spaced or near-coincident pair, a Haas-panned guitar, songs4's fx.place: |pos| x 0.6 ms) reaches
# the far channel up to the head's interaural range later (~0.7 ms), and at lag 0 its attack looked
# like one channel's (metal9: songs4 funk's muted guitar chank, placed 0.2-0.4 ms apart, coherent
# share 0.85-0.999 -> 0.4-0.6).  A click in one channel still finds nothing in the other at any lag
# (OTHER_MIN_RATIO); eval_clicks --clicks-only: no plant lost or gained (seed-1 plants)
MAX_LAG_S = 0.0007
LOCATION_ANY_BAND = True  # the location is checked in every band rising RISE_ANY_DB or more, not the top one only
RISE_ANY_DB = 6.0
# an attack is a mechanical event: a beater's or a stick's contact with a head, a plectrum leaving
# a string, lasts a fraction of a ms or more; an event whose isolated waveform's sample-level part
# lies within a few samples is a digital click (also one identical in both channels), never a
# sound's attack.  The sample-level part: the first difference (the waveform with a zero either
# side) holds SPAN_FRACTION of its energy within ATTACK_MIN_S, or the first difference inside the
# event less its 5-sample running median does within ATTACK_MIN_D2_S (the interpolation across the
# event's gap can leave a smooth error larger than the click itself where the music moves fast:
# its slope, and a slope corner's step, do not move a running median; a click's spikes do).
# Measured on every event this rule cleared on clean music of four generators (60 on 66 songs):
# first-difference spans >= 11 samples (0.23 ms at 48 kHz), the other >= 6; single, 3-sample and
# doublet clicks planted identically in both channels just ahead of drum hits: 1-7 and 1-4.
ATTACK_MIN_S = 0.00018
ATTACK_MIN_D2_S = 0.0001
SPAN_FRACTION = 0.9
# ... the second span counts only when what the running median leaves holds this share of the first
# difference's energy (cleanclick9).  A running median follows a smooth waveform except at the
# extrema of its difference, which it flattens by about the curvature over +-2 samples: of an
# event smooth over >= 0.2 ms that leaves ~1 % of the difference's energy, all in one or two
# samples at the extremum, which then looked like a spike (13 clean reports on 68 songs5 and
# songs4 files, smooth pick or beater humps of 0.25-0.5 ms with 0.2-1 % of their energy above
# 6 kHz: measured 0.8-1.2 %).  A spike keeps most of its own energy there (a one-sample click on a
# smooth hump 5x its size: 25 %; the planted clicks ahead of drum hits that this span made narrow:
# 80-113 %), so 5 % holds a spike down to ~1/12 of the smooth error across the gap.
RESIDUAL_MIN_SHARE = 0.05


def _span(v: np.ndarray, fraction: float) -> int:
    """Shortest run of ``v`` (samples) holding ``fraction`` of its energy."""
    e = np.asarray(v, dtype=np.float64) ** 2
    tot = float(e.sum())
    if e.size == 0 or tot <= 0.0:
        return 0
    cs = np.concatenate([[0.0], np.cumsum(e)])
    for m in range(1, e.size + 1):
        if float(np.max(cs[m:] - cs[:-m])) >= fraction * tot:
            return m
    return e.size


def sample_level_span_s(click: np.ndarray, *, fs: int, fraction: float = SPAN_FRACTION) -> tuple[float, float]:
    """Spans (s) of an isolated event's sample-level part: the shortest stretch holding
    ``fraction`` of the energy of its first difference (with a zero either side: its edges
    count), and of its first difference inside it less the difference's 5-sample running median
    (the smooth error of the interpolation across the gap, a slope corner's step do not count;
    the whole event when what is left holds under ``RESIDUAL_MIN_SHARE`` of the difference's
    energy: the median's rounding of a smooth hump's extremum, not a spike).  About 1-3 samples for a one-sample, a 3-sample click or a close
    doublet; the contact's length (0.2-1.5 ms) for a beater's or a pick's noise."""
    from scipy.ndimage import median_filter
    c = np.asarray(click, dtype=np.float64)
    d1 = _span(np.diff(np.concatenate([[0.0], c, [0.0]])), fraction)
    if c.size >= 3:
        # inside the event, the first difference less its running median: the slope of a smooth
        # error and a slope corner's step go, a spike of a sample or two stays
        d = np.diff(c)
        r = d - median_filter(d, size=5, mode="nearest")
        d2 = _span(r, fraction) if float(r @ r) >= RESIDUAL_MIN_SHARE * float(d @ d) + 1e-300 else c.size
    else:
        d2 = c.size
    return d1 / fs, d2 / fs


def sharp_share(click: np.ndarray) -> float:
    """Share of the energy of an isolated event's first difference that its 5-sample running
    median does not follow (0 for a smooth hump or a slope corner, bar the ~1 % the median takes
    off the difference's extrema; most of it for a spike, a noise burst or a step's edge)."""
    from scipy.ndimage import median_filter
    c = np.asarray(click, dtype=np.float64)
    if c.size < 3:
        return 1.0
    d = np.diff(c)
    r = d - median_filter(d, size=5, mode="nearest")
    return float(r @ r) / max(float(d @ d), 1e-300)


def is_attack_wide(click: np.ndarray, *, fs: int) -> bool:
    """Can the event be a sound's attack at all (see ``ATTACK_MIN_S``)?  False for a
    sample-level event."""
    d1_s, d2_s = sample_level_span_s(click, fs=fs)
    return d1_s > ATTACK_MIN_S and d2_s > ATTACK_MIN_D2_S


def _whitened(x: np.ndarray, a: int, b: int, lowpass: np.ndarray | None) -> np.ndarray:
    """Third difference of ``x[a - 3:b]`` (first low-passed by the FIR ``lowpass`` when given);
    ``b - a`` samples."""
    if lowpass is None:
        return np.diff(np.asarray(x[a - 3: b], dtype=np.float64), 3)
    h = lowpass.size
    seg = np.asarray(x[a - 3 - h: b + h], dtype=np.float64)
    return np.diff(np.convolve(seg, lowpass, "same")[h: h + b - a + 3], 3)


def coherent_share(x: np.ndarray, other: np.ndarray, onset: int, n: int, *, fs: int,
                   lowpass: np.ndarray | None = None) -> tuple[float, float]:
    """Share (amplitude, 0-1) of a transient that the other channel does NOT explain.

    Over the event's span (``n`` samples from ``onset``, widened by ``PAD_S`` either side) the
    third differences of both channels are compared (the whitening of mixes.clicks' stage 1: a
    transient dominates them, the music's smooth bulk does not).  Each channel's energy over the
    span, less what its quieter ``NEAR_S`` side leads one to expect there (the music's own), is
    the event's part in that channel; the cross term likewise.  The coherence of the two event
    parts, rho^2 = C^2 / (E_own E_other), gives the unexplained share sqrt(1 - rho^2) (at the
    best delay within ``MAX_LAG_S``): ~0 for a source panned into both channels, 1 for a click in
    one channel (also one planted on a drum's onset, whose attack the other channel holds but
    whose click it does not) and wherever the other channel has no event of its own
    (``OTHER_MIN_RATIO``).  Also returns the event's level in this channel over the other's
    (dB, from the cross term: a pan-pot's ratio; nan where no event is in the other channel).
    An event found in the low band (mixes.clicks' low-band path: a
    click heard under a hi-hat's top) is compared in that band (``lowpass``: its FIR).

    Parameters
    ----------
    x, other : ndarray (n_samples,)
        The event's channel and the other channel.
    onset, n : int
        First sample and length (samples) of the event.
    fs : int
        Sample rate (Hz), keyword-only.
    """
    pad = int(round(PAD_S * fs))
    L = int(round(MAX_LAG_S * fs))
    nb = int(round(NEAR_S * fs))
    a, b = onset - pad, onset + max(n, 1) + pad
    m = b - a
    h = 0 if lowpass is None else lowpass.size
    if a - nb - 3 - L - h < 0 or b + nb + L + h > min(x.size, other.size):
        return 1.0, np.nan
    xc = _whitened(x, a - nb, b + nb, lowpass)
    # the surroundings: the quieter side (the other may hold the sound the event starts, or a
    # neighbouring part of the same attack)
    sides = (slice(0, nb), slice(nb + m, 2 * nb + m))
    out = min(sides, key=lambda sl: float(np.mean(xc[sl] ** 2)))
    dc = xc[nb: nb + m]
    ec = float(dc @ dc) - m * float(np.mean(xc[out] ** 2))
    if ec <= 0.0:
        return 1.0, np.nan
    best, gain_db = 1.0, np.nan
    for lag in range(-L, L + 1):
        xo = _whitened(other, a - nb + lag, b + nb + lag, lowpass)
        do = xo[nb: nb + m]
        bo = m * float(np.mean(xo[out] ** 2))
        eo = float(do @ do) - bo
        if eo <= (OTHER_MIN_RATIO - 1.0) * bo:
            continue                                   # no event of its own in the other channel
        cr = float(dc @ do) - m * float(np.mean(xc[out] * xo[out]))
        rho2 = min(cr * cr / (ec * eo), 1.0)
        if np.sqrt(1.0 - rho2) < best:
            best, gain_db = float(np.sqrt(1.0 - rho2)), float(20 * np.log10(max(abs(cr) / eo, 1e-12)))
    return best, gain_db

def _rise_layout(n: int, fs: int) -> np.ndarray:
    f = np.fft.rfftfreq(n, 1.0 / fs)
    k = np.floor(RISE_BANDS_PER_OCT * np.log2(np.maximum(f, 1e-9) / RISE_LO_HZ)).astype(int)
    k[f < RISE_LO_HZ] = -1
    nb = int(k.max()) + 1
    M = np.zeros((f.size, nb))
    ok = k >= 0
    M[np.flatnonzero(ok), k[ok]] = 1.0
    return M


_LAYOUT: dict[tuple[int, int], np.ndarray] = {}


def _window(x: np.ndarray, a: int, w: int, known) -> np.ndarray:
    """``x[a:a + w]`` (zeros outside the signal: silence before and after a file) with the known
    events (sorted onsets, their isolated waveforms) subtracted."""
    s = np.zeros(w)
    a0, b0 = max(a, 0), min(a + w, x.size)
    if b0 > a0:
        s[a0 - a: b0 - a] = x[a0:b0]
    if known is not None:
        on, clicks = known
        for j in range(max(int(np.searchsorted(on, a - 4096)), 0), int(np.searchsorted(on, a + w))):
            o, c = int(on[j]), clicks[j]
            i0, i1 = max(o, a), min(o + c.size, a + w)
            if i1 > i0:
                s[i0 - a: i1 - a] -= c[i0 - o: i1 - o]
    return s


def _band_powers(x: np.ndarray, starts: list[int], w: int, fs: int, known) -> np.ndarray:
    key = (w, fs)
    if key not in _LAYOUT:
        _LAYOUT[key] = _rise_layout(w, fs)
    seg = np.vstack([_window(x, a, w, known) for a in starts]) * np.hanning(w)
    return (np.abs(np.fft.rfft(seg, axis=1)) ** 2) @ _LAYOUT[key]


def onset_rise_db(x: np.ndarray, onset: int, n: int, *, fs: int, known=None,
                  other: np.ndarray | None = None, gain_db: float = 0.0) -> float:
    """How much louder (dB) the loudest-rising third-octave band is just after an event than in
    any of the ``RISE_BEFORE`` windows just before it.

    The programme over ``RISE_WIN_S`` from ``RISE_GAP_S`` after the event's end is compared with
    each of ``RISE_BEFORE`` windows of that length ending ``RISE_GAP_S`` before its onset (Hann;
    bands more than ``-RISE_FLOOR_DB`` under the loudest band after it are left out; a band must
    be louder than in every window before, so the music's own ebb and flow rarely counts).  A
    drum hit or a note that starts at the event rises in its own bands (a kick's body by 8-30 dB
    even under a bass line); a click on a held sound leaves every band as it was.  ``known``
    (sorted onsets, isolated waveforms: the channel's verified events) are taken out of the
    windows; outside the signal is silence (a file that starts on a drum hit starts a sound).

    With ``other`` (the other channel), the sound must also start where the event comes from:
    in the band that rises most, the energy that is new after the event must stand in the two
    channels at the event's level ratio ``gain_db`` (within ``LOCATION_TOL_DB``), else -inf.
    """
    w = int(round(RISE_WIN_S * fs))
    g = int(round(RISE_GAP_S * fs))
    starts = [onset + max(n, 1) + g] + [onset - g - w * (j + 1) for j in range(RISE_BEFORE)]
    P = _band_powers(x, starts, w, fs, known)
    aft, bef = P[0], P[1:].max(axis=0)
    if aft.max() <= 1e-30:
        return -np.inf
    r = np.where(aft >= aft.max() * 10 ** (RISE_FLOOR_DB / 10), aft / (bef + 1e-30 * aft.max() + 1e-300), 0.0)
    k = int(np.argmax(r))
    if other is not None:
        Q = _band_powers(other, starts, w, fs, None)
        # (any band that rises enough, the most-rising first: where a hard-panned guitar starts a
        # chord in one channel as a centred kick hits, the kick's own bands carry its location)
        cands = [k] if not LOCATION_ANY_BAND else \
            [int(j) for j in np.argsort(-r) if r[j] >= 10 ** (RISE_ANY_DB / 10)] or [k]
        for k in cands:
            new_here, new_there = aft[k] - bef[k], Q[0, k] - Q[1:, k].max()
            if new_here > 0 and new_there > 0 and \
                    abs(10 * np.log10(new_here / new_there) - gain_db) <= LOCATION_TOL_DB:
                return float(10 * np.log10(r[k]))
        return -np.inf
    return float(10 * np.log10(r[k]))
