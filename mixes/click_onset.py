"""Stage 3 of :mod:`mixes.clicks`, continued: is a heard transient the attack of a sound in the mix?

A drum's beater, a pick on a string, a plectrum's scrape are sharp, broadband transients, as loud
for a moment as any click, yet a listener hears them as the start of the drum or the note: they
*start* a sound, and they come from where that sound comes from.  Two cues of auditory scene
analysis decide whether parts of a sound are heard as one object (Bregman, *Auditory Scene
Analysis*, 1990, ch. 3; Darwin & Carlyon 1995): a common onset (components that start together
fuse; an onset asynchrony of a few tens of ms already segregates), and a common location (the
same interaural level and time difference).  A source placed in a stereo mix by a pan-pot puts
its whole sound, attack and body, into both channels at one level ratio and no delay (a stereo
pair: at one small delay).  A digital click is an error in one channel's sample stream, or, on
both channels, a disturbance unrelated to what is playing.

So, for an event that starts a sound (some critical band louder after it than before:
:meth:`mixes.click_masking._Bands.margin_db`'s ``rise``), the part of the event that the other
channel explains, at one gain and a delay of at most ``MAX_LAG_S``, is the sound's own attack,
and only the rest is judged against the masking threshold (:func:`incoherent_part`).  A click
planted in one channel at a drum's onset is not explained by the other channel (which holds the
drum's attack, not the click): it keeps its audibility and is still found.  Limits, said
plainly: a click that is identical in both channels (a dual-mono file, a mono source's click)
*and* falls exactly on the onset of a new sound is taken as that sound's attack; a click on a
hard-panned source's channel with nothing in the other channel gets no help from this rule.

The event on the other channel is isolated the same way :mod:`mixes.clicks` isolates a click:
least-squares AR interpolation over the event's span (Godsill & Rayner, *Digital Audio
Restoration*, 1998, eq. 5.15), with an order-``ORDER`` model fitted on ``CONTEXT_S`` either side.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import solve_toeplitz

__all__ = ["isolate", "coherent_share", "onset_rise_db"]

ORDER = 16            # AR order of the other channel's model (as mixes.clicks.LPC_ORDER)
CONTEXT_S = 0.012     # model fitted on this much either side of the span (as mixes.clicks.CONTEXT_S)
PAD_S = 0.0003        # the span interpolated: the event's, widened by this either side
NEAR_S = 0.002        # the unexplained part's background: this long either side of the span
RISE_WIN_S = 0.021     # a sound starting at the event: band powers over this long just after vs just before
RISE_GAP_S = 0.001     # ... leaving this much either side of the event out
RISE_BEFORE = 3        # ... louder than in each of this many windows before it (63 ms)
LOCATION_TOL_DB = 3.0  # the new sound's level ratio between the channels is the event's within this
RISE_BANDS_PER_OCT = 3  # ... in third-octave bands from RISE_LO_HZ
RISE_LO_HZ = 40.0
RISE_FLOOR_DB = -30.0   # ... over the bands within this of the loudest band after the event
OTHER_MIN_RATIO = 2.0   # the other channel has an event: its span's energy this many times its surroundings'
MAX_LAG_S = 0.0       # inter-channel delay allowed (a pan-pot's: none)


def _ar(seg: list[np.ndarray], p: int) -> np.ndarray | None:
    """AR coefficients [1, a1..ap] (autocorrelation method, Hann-windowed pieces summed)."""
    r = np.zeros(p + 1)
    for s in seg:
        if s.size <= p:
            continue
        w = s * np.hanning(s.size)
        full = np.correlate(w, w, "full")[w.size - 1: w.size + p]
        r[: full.size] += full
    if r[0] <= 1e-30:
        return None
    r[0] *= 1.0 + 1e-9
    r[1:] *= np.exp(-0.5 * (0.0005 * np.arange(1, p + 1)) ** 2)   # lag window: stable on pure tones
    try:
        a = solve_toeplitz(r[:p], -r[1: p + 1])
    except np.linalg.LinAlgError:
        return None
    return np.concatenate([[1.0], a])


def isolate(x: np.ndarray, start: int, n: int, *, fs: int, order: int = ORDER) -> np.ndarray:
    """The transient in ``x[start:start + n]``: observed minus LSAR-interpolated samples.

    Parameters
    ----------
    x : ndarray (n_samples,)
        One channel.
    start, n : int
        First sample and length (samples) of the span to interpolate.
    fs : int
        Sample rate (Hz), keyword-only.
    order : int
        AR model order.

    Returns
    -------
    ndarray (n,)
        Zeros where the span or its context leaves the signal or the model cannot be fitted.
    """
    p = order
    ctx = int(CONTEXT_S * fs)
    a0, b0 = start - ctx, start + n + ctx
    out = np.zeros(n)
    if a0 < 0 or b0 > x.size or n < 1:
        return out
    x = np.asarray(x, dtype=np.float64)
    a = _ar([x[a0:start], x[start + n: b0]], p)
    if a is None:
        return out
    # prediction errors e_t = sum_k a_k x[t-k], t = start .. start+n+p-1 (every row that holds an
    # unknown sample); split into unknown (the span) and known columns
    w = x[start - p: start + n + p]                      # columns: w index j <-> x[start - p + j]
    rows = n + p
    A = np.zeros((rows, n + 2 * p))
    for k in range(p + 1):
        A[np.arange(rows), np.arange(rows) + p - k] = a[k]
    Au = A[:, p: p + n]
    known = w.copy()
    known[p: p + n] = 0.0
    rhs = -(A @ known)
    try:
        u, *_ = np.linalg.lstsq(Au, rhs, rcond=None)
    except np.linalg.LinAlgError:
        return out
    return w[p: p + n] - u


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
        new_here, new_there = aft[k] - bef[k], Q[0, k] - Q[1:, k].max()
        if not (new_here > 0 and new_there > 0) or \
                abs(10 * np.log10(new_here / new_there) - gain_db) > LOCATION_TOL_DB:
            return -np.inf
    return float(10 * np.log10(r[k]))
