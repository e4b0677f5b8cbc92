"""Clicks judged by ear: found by AR prediction error, weighed against the music's masking.

A click matters when a listener on accurate monitors in a quiet room would hear it, so a
fixed level threshold is the wrong question: -40 dBFS is obvious in a piano's decay and
inaudible under a crash cymbal.  Three stages, so a 10-minute file costs a fraction of a
second (only stage 1 touches every sample):

1. *Candidates*: the programme is whitened cheaply (``_whitened_abs``: the third difference,
   then an order-2 predictor per 10 ms sub-block; music is predictable, a click is not, and
   the whitening lets a click stand out above the music's low bulk and a hi-hat's top).  The
   error's RMS per 10 ms sub-block, median-filtered over 210 ms, is the local background; the two
   strongest peaks of a sub-block (``MERGE_S`` apart) above ``CANDIDATE_RATIO`` times that
   background and ``OWN_RATIO`` times the sub-block's own RMS are candidates.
2. *Verification* (AR-model click detection after Vaseghi; Godsill & Rayner, *Digital Audio
   Restoration*, 1998, ch. 5): an order-16 predictor is fitted on the 12 ms around the
   candidate (autocorrelation method, the ±1 ms of the event and of every *other* candidate
   in the window excluded, so two clicks 10-50 ms apart do not spoil each other's model), and
   the prediction error is computed across the window.  A click is a short excursion of that
   error that stands ``CLICK_RATIO`` times above the error's RMS in the ``NEAR_S`` just
   before *and* just after it (other candidates masked out).  A musical onset raises the error
   after it for tens of ms, so it fails the after-side test; a click does not.  Weaker
   excursions (``HOLE_MIN_RATIO``) get a second chance: a click in a spectral hole (between a
   piano's notes and a hi-hat's top, where an order-16 model cannot follow the dip) lights up
   some ~750 Hz bin of 1.3 ms frames ``HOLE_DB`` above the medians before and after it.
   Events that fill the whole ±1 ms (``MAX_WIDTH_S``) or that start a sound at least
   ``ONSET_RISE`` louder over the next 10 ms (a drum's beater, a plucked note; not a narrow
   event after which the first ms is no louder: a click just ahead of a hit; nor one standing
   ``ONSET_KEEP_RATIO`` out of the model at twice the programme's peak after it: a click on a
   note's start in quiet music) are music, and
   so is an event whose matched-filter excursion comes back (``REPEAT_FRACTION`` of it or
   more, 2-12 ms later): a plucked string's excitation returns one period later (a
   Karplus-Strong guitar under a band carries no level rise), a click does not; and so is an
   event with two or more like excursions within +-30 ms (``RECUR_*``: a sawtooth or square
   bass, whose edge comes back every period, longer than the 12 ms model window).
   *Wide pass*: a 1-2.5 ms burst or held step overruns the +-1 ms region, so its own tail
   spoils the reference after it; candidates standing ``WIDE_MIN_RATIO`` out of the error
   before them, not starting a louder sound, are verified again with a ``WIDE_GUARD_S`` region,
   and so is the first edge of a held step whose second edge alone was verified
   (:func:`mixes.click_shapes.first_edges`): a step found whole (flat between two sharp edges,
   :func:`mixes.click_masking.held_step`) is reported where it starts.  *Tails* (tail9): an event
   standing 10^5-10^6 times out of a reverb tail's or a fade's model keeps its edges above the
   excursion's 34-dB cut, so the LSAR region left them outside as known samples, and the tail's
   sharp model (poles near the unit circle) extrapolated them into a +8 dBFS "click" that
   stage 3 took for a drum's start (songs6 904 / 902: bursts +48 dB audible missed); a wide-pass
   isolation larger than ``DIVERGED_RATIO`` times the window's peak is redone over every sample
   whose error stands out (``ISOLATION_REGROW``), and an event starts where it first exceeds
   ``LEAD_CTX_RATIO`` times the programme's peak around it when that comes before 30 % of its
   own peak (its rise is the click's, not stage 3's masker's).
   *Low-band path*: a click inside a hi-hat stroke can be masked above ~4 kHz yet audible in
   the 1-4 kHz the hat leaves free, where the full-band whitened error is dominated by the
   hat.  So stages 1 and 2 run a second time on the programme decimated to ``LOW_FS_HZ``
   (Kaiser FIR cut at ``LOW_CUTOFF_HZ``, polyphase, about 0.1 s CPU per channel for 10 minutes
   of 48 kHz); an event found there and not by the full-band path is re-estimated at the full
   rate over the span the low band located (LSAR, :func:`mixes.click_lsar.isolate`), so stage 3
   judges it whole, top octaves included (before, it judged only the part below the cut, and
   took every such event for a smooth attack: a hat stroke after it made it music).  Not when
   that waveform is a hat stroke's start, of which the low band saw the leakage: when it holds
   over ``LOW_HF_RATIO_MAX`` times more energy above 6 kHz than below the cut, or starts a
   louder sound, broadband or in the top octaves (``starts_louder``); then the low-band
   waveform is brought back through the same FIR, and its audibility counts only its part
   below the cut (conservative: anything above is left out of the margin).
   *Recall9 additions* (each with its flag, measured in ``benchmarks/eval_clicks.py``): the low
   band's stage 1 judges a peak against its sub-block's RMS *without* the +-2 ms around it
   (:data:`mixes.click_stage1.OWN_EXCLUDE`: a 1-2 ms burst or held step is most of its own
   sub-block's energy); a low-band event the full-rate isolation refuses (the LSAR over the ~1 ms
   span the low band gives holds a hat stroke's noise and "starts" the stroke) is asked again of
   the full-rate stage 2 at the sample where that waveform peaks (``REVERIFY_LOW``: Vaseghi's
   detector at the full rate, located by the low band); a full-rate waveform 1 ms or wider from
   the low band counts only when broadband or a held step (``LOW_WIDE_HF_FRACTION``); a low-band
   event starting up to ``LOW_MATCH_S`` after another event, and a full-band event starting that
   soon after a low-band one, is that event's later part (``LOW_TAIL_DROP``); and a
   *sample-level pass*, off by default (``ONSET_SAMPLE_LEVEL``: it took a loud synthesized
   snare's noise sample for a click): candidates the onset rule refused, standing ``CLICK_RATIO``
   out of the model with no event known near, verified again with the onset rule sparing a
   broadband sample-level event (:func:`mixes.click_onset.is_attack_wide`: no mechanical attack is
   that short, the same reasoning as stage 3's since session 8); the re-verification of
   ``REVERIFY_LOW`` always spares such an event (the low band located it: a click on a hat
   stroke's first sample).
3. *Audibility* (:mod:`mixes.click_masking`): the click is isolated by least-squares AR
   interpolation (LSAR, Godsill & Rayner eq. 5.15): the samples of the event are re-estimated
   from the model and both sides, and the click is the observed minus the interpolated
   samples.  Its energy per critical band is compared with the programme's masking threshold
   there (method and constants in that module); ``audibility_db`` is the largest band margin.
   A smooth transient after which some band grows louder is a note's attack (a 4 ms keys or
   bass attack under a louder pad, which the broadband level rule of stage 2 cannot see) and
   is not reported, and neither is a transient that recurs with the sound after it at another
   of the channel's transients (a sampled drum, on the beat grid: :mod:`mixes.click_recur`).

A click is reported when ``audibility_db > min_audibility_db`` (0 dB by default).
"""

from __future__ import annotations

import math

import numpy as np

from mixes.click_decimate import LOW_CUTOFF_HZ, LOW_FS_HZ, LOW_TAPS_PER_FACTOR, _decimate, _lowpass  # noqa: F401
from mixes.lpc import autocorr_rows, levinson_rows
from mixes.click_masking import audibility, click_audibility_db, held_step
from mixes.click_onset import is_attack_wide
from mixes.click_lsar import hf_over_low, isolate, starts_louder
from mixes.click_shapes import HOLE_DB, first_edges, hole_test  # noqa: F401
from mixes.click_recur import RECUR_TOL_S, recurs_periodic  # noqa: F401
from mixes.click_tf import centres as tf_centres
from mixes.click_stage1 import CANDIDATE_RATIO, MERGE_S, OWN_RATIO, candidates as _candidates  # noqa: F401
from mixes.types import RenderEvent

__all__ = ["find_clicks", "detect_impulsive", "click_audibility_db", "Impulsive"]

CLICK_RATIO = 7.0
HOLE_MIN_RATIO = 3.0      # weaker AR excursions go to the spectral-hole test
LPC_ORDER = 16
CONTEXT_S = 0.012
GUARD_S = 0.001
NEAR_S = 0.004            # reference error RMS is taken over this much just before and after
POP_MIN_S = 0.001
MAX_WIDTH_S = 0.0015       # excursions longer than this are music (bursts of garbage: mixes.artifacts)
REPEAT_GAP_S = 0.002       # the after-range of the repeat test starts this long after the event
REPEAT_FRACTION = 0.45     # an excursion this large (re the event's) 2-12 ms after it: a plucked string
RECUR_SPAN_S = 0.030      # recurrence looked for this far either side (a 35 Hz period)
RECUR_FRACTION = 0.6      # ... at this fraction of the event's matched-filter height
LOW_RECUR_FRACTION = 0.4  # (in the low-band path)
RECUR_PAIR_SPAN_S = 0.050  # ... then looked for this far (a period's second multiple on the far side)
RECUR_SPARE_PAIRS = True  # ... not counting an excursion at another verified click (two clicks 16 ms apart)
WIDE_GUARD_S = 0.0026     # the second, wide pass: region of the event's own excursion
WIDE_MAX_WIDTH_S = 0.0025  # ... and the widest excursion it takes for a click
WIDE_MIN_RATIO = 40.0     # ... for candidates whose first-pass peak against the error before it reached this
WIDE_MIN_WIDTH_S = 0.0008  # ... and keeps only events at least this wide (narrow ones are the first pass's)
WIDE_FIRST_EDGE_S = 0.0002  # ... also candidates this far or more before a known event (a step's first edge)
ONSET_WINDOW_S = 0.010    # programme peak compared this long after and before an event
ONSET_RISE = 10 ** (6 / 10)  # louder after by this factor: a musical onset, not a click
ONSET_KEEP_RATIO = 1000.0  # ... unless the event stands this far out of the model (matched-filter units)
ONSET_SAMPLE_LEVEL = False  # ... or is sample-level (mixes.click_onset.is_attack_wide false): no attack -
                           # the sample-level pass of _detect_full (recall9); off: on 66 clean songs it
                           # added a loud synthesized snare's noise sample (songs 202, 11.77 s, both
                           # channels, +8 dB: white noise at 0.4 has sample-level 0.45 jumps)
SAMPLE_LEVEL_HF_FRACTION = 0.1   # ... and broadband: this much of its energy above 6 kHz (white: ~75 %)
# low-band path: the programme decimated to about LOW_FS_HZ (mixes.click_decimate)
LOW_CANDIDATE_RATIO = 5.0
LOW_OWN_RATIO = 4.0
LOW_CLICK_RATIO = 7.0
LOW_MATCH_S = 0.002       # a low-band event this close to a full-band one is the same click
LOW_WHITEN = None         # stage 1's whitening in the low band (None: mixes.click_stage1._whitened_abs)
REFINE_LOW = True         # low-band events re-isolated at the full rate (mixes.click_lsar)
LOW_TRIM = 0.3            # ... the click starts and ends where it reaches this fraction of its peak
# ... and is kept when its energy above 6 kHz is at most this times its energy below the cut: a
# click leaves ~5x (white; up to ~40x for a doublet's comb, under hat noise), a hi-hat stroke's
# start (of which the low band saw the leakage) ~1600x
LOW_HF_RATIO_MAX = 200.0
LOW_TOP_GAP_S = 0.005     # ... and when it starts no louder top octaves (from this far before it)
# ... and, when 1 ms or wider, only if broadband (this much of its energy above 6 kHz: a noise burst)
# or a held step; a smooth hump that wide is a drum's or a note's start (songs3 500, 7.84 s: 3.3 %),
# judged by its low-band waveform as smooth (recall9: the low band's new candidates found it)
LOW_WIDE_HF_FRACTION = 0.1
LOW_TAIL_DROP = True      # ... and dropped when it starts up to LOW_MATCH_S after a full-band event (recall9)
REVERIFY_LOW = True       # ... else the full-rate stage 2 at the sample where that waveform peaks (recall9)
# an isolated click more than this times the window's peak |programme| is the LSAR diverging:
# the click is observed minus interpolated, and the interpolated music cannot exceed the music
# (a click cancelling the music leaves at most the music's level); then the region is grown over
# the event's whole extent (ISOLATION_REGROW, tail9: bursts in reverb tails and at fade ends)
DIVERGED_RATIO = 2.0
ISOLATION_REGROW = True    # (the wide pass's events only)
LEAD_CTX_RATIO = 2.0       # a click starts where it first exceeds this times the programme's peak around it
                           # (or at 30 % of its own peak, if that comes first; tail9; 0: always 30 %)
TF_PATH = False           # the time-frequency path for clicks inside percussion (mixes.click_tf): off by
                          # default (session 8: +0.4 points of recall, 0.885 -> 0.889, for +0.27 s CPU per
                          # 10-min stereo file, which took mix analyze from ~0.85 to ~0.95-1.0x ffmpeg)
TF_CLICK_RATIO = 3.0      # ... whose events stage 2 verifies at this (matched-filter units)
TF_MAX_WIDTH_S = WIDE_MAX_WIDTH_S + 2 * LPC_ORDER / 48000   # ... up to this wide (a 2 ms step or burst)
TF_ONSET_KEEP_RATIO = 3.0  # ... and its onset rule spares them at this height, twice the peak of the ms after (a click ahead of a hit)
TF_WIDE_HF_FRACTION = 0.1  # ... those wider than MAX_WIDTH_S: this much of their energy above 6 kHz, or a held step

def _lsar(Sh: np.ndarray, eh: np.ndarray, Ah: np.ndarray, a: int, b: int, p: int) -> np.ndarray | None:
    """LSAR click on S indices a..b-1 (observed minus interpolated): ``c = G^-1 B_u^T e`` with
    ``G = B_u^T B_u`` (Toeplitz of ``Ah``'s autocorrelation); ``eh[i]`` is the error at S index i + p."""
    m = b - a
    ra = np.array([Ah[: p + 1 - k] @ Ah[k:] for k in range(p + 1)])
    lag = np.abs(np.arange(m)[:, None] - np.arange(m)[None, :])
    G = np.where(lag <= p, ra[np.minimum(lag, p)], 0.0)
    cols = (np.arange(a, b) - p)[:, None] + np.arange(p + 1)[None, :]
    try:
        return np.linalg.solve(G, eh[cols] @ Ah)
    except np.linalg.LinAlgError:
        return None


def _regrow(Sh: np.ndarray, eh: np.ndarray, Ah: np.ndarray, a: int, b: int, thr: float,
            p: int) -> tuple[int, int, np.ndarray | None]:
    """The LSAR region a..b-1 grown over the event's whole extent, and the click isolated again.

    The excursion's region (``_verify``) ends where the matched filter falls 34 dB under its
    peak; an event standing 10^5-10^6 times out of the model (a 1.8 ms noise burst in a reverb
    tail at -54 dBFS, or at a fade's end at -99 dBFS) still stands far out of it there, so its
    Hann-shaped edges are left outside the region as *known* samples, and the model (fitted on a
    decaying tail: a few poles close to the unit circle, ``G``'s condition ~1e10) extrapolates
    them across the region: the "click" came out +8 dBFS for a -21 dBFS burst, wide and with
    no top octaves, and stage 3 took it for a drum's start.  Every sample whose prediction error
    stands ``thr`` (the detection threshold in the error's units) out of the reference, in one run
    with the region (gaps up to ``p``), belongs to the event: the error trails the event by up to
    ``p`` samples, which the region may then include (interpolating a few music samples too
    costs nothing).  Returns the new (a, b, click); click None when it still diverges.
    """
    n = Sh.size
    hot = np.abs(eh) > thr                              # hot[i] <-> S index i + p
    lo, hi = a, b
    while lo - 1 >= p + 1 and hot[max(lo - 1 - p - p, 0): lo - 1 - p + 1].any():
        lo -= 1
    # (the error at S index j depends on samples j - p .. j: a hot error up to p after the region
    # may be the region's own edge, so the region grows while the error within p after it is hot)
    while hi + 1 <= n - p - 1 and hot[hi - p: min(hi + 1, n - p)].any():
        hi += 1
    if (lo, hi) == (a, b):
        return a, b, None
    clk = _lsar(Sh, eh, Ah, lo, hi, p)
    if clk is None or np.abs(clk).max() > DIVERGED_RATIO * np.abs(Sh).max():
        return a, b, None
    return lo, hi, clk


def _hf_fraction(c: np.ndarray, fs: int, hf_hz: float = 6000.0) -> float:
    """Share of the energy of ``c`` above ``hf_hz``."""
    n = max(512, c.size)
    E = np.abs(np.fft.rfft(np.asarray(c, dtype=np.float64), n)) ** 2
    f = np.fft.rfftfreq(n, 1.0 / fs)
    return float(E[f > hf_hz].sum() / max(E.sum(), 1e-300))


def _db(v: float) -> float:
    return 20.0 * math.log10(v) if v > 0 else -math.inf


# --- stage 2 --------------------------------------------------------------------------------

class Impulsive:
    """Verified impulsive events of one channel (arrays, one entry per event).

    Attributes
    ----------
    onset : ndarray of int
        First sample of the event.
    span : list of ndarray
        The click waveform (observed minus LSAR-interpolated samples), from ``onset``.
    level_db : ndarray
        Peak of the isolated click (dBFS).
    width_s : ndarray
        Length of the prediction-error excursion (s).
    """

    def __init__(self) -> None:
        self.onset: list[int] = []
        self.click: list[np.ndarray] = []
        self.level_db: list[float] = []
        self.width_s: list[float] = []
        self.low: list[bool] = []          # its waveform is the low-band path's (below LOW_CUTOFF_HZ only)
        self.from_low: list[bool] = []     # found by the low-band path (full-rate waveform or not)
        self.wide: list[bool] = []         # found by the full-band path's wide pass
        self.partners = np.zeros(0, dtype=np.int64)   # the channel's stage-1 candidates (full rate)
        self.decimated: tuple | None = None   # (programme at ~8 kHz, factor, delay): the low-band path's


def _verify(x: np.ndarray, cand: np.ndarray, others: np.ndarray, fs: int, out: Impulsive,
            max_width_s: float = MAX_WIDTH_S, click_ratio: float = CLICK_RATIO,
            guard_s: float = GUARD_S, peaks: list | None = None, repeat_test: bool = True,
            onset_keep_ratio: float = ONSET_KEEP_RATIO,
            recur_exclude: np.ndarray | None = None, recur_rejected: list | None = None,
            sample_level: bool = False, onset_rejected: list | None = None) -> None:
    """Stage 2 (and the LSAR isolation) for a batch of candidates, vectorised across them.

    ``others`` are all candidates of the channel (sorted): those inside a window are masked.
    ``guard_s``: half-width of the event's own region (excluded from the fit, searched for the
    excursion).  ``peaks``: if given, each candidate's matched-filter peak (in units of the
    reference error) is appended.  ``recur_rejected``: if given, the candidates the periodicity
    test (:func:`mixes.click_recur.recurs_periodic`) rejected are appended; ``recur_exclude``: verified onsets whose
    excursions that test does not count (then over +-``RECUR_PAIR_SPAN_S``).  ``repeat_test``: False skips the test of one excursion coming
    back 2-12 ms later (the time-frequency path's candidates, whose band powers were already
    required to stand above the level after them: a held step's second edge is its own);
    ``onset_keep_ratio``: the onset rule spares an event standing this far out of the model whose
    peak is twice the programme's over the ms after it; ``sample_level``: it spares a sample-level
    event (the full-rate sample-level pass of :func:`_detect_full`), to which the candidates the
    onset rule refused are appended when ``onset_rejected`` is given.
    """
    ctx = int(CONTEXT_S * fs)
    guard = max(int(guard_s * fs), 4)
    near = max(int(NEAR_S * fs), 32)
    p = LPC_ORDER
    c = ctx
    K = cand.size
    idx = cand[:, None] + np.arange(-ctx, ctx)[None, :]
    S = x[idx].astype(np.float64)                       # (K, 2 ctx)
    keep = np.ones_like(S)                              # 0 around other candidates
    lo = np.searchsorted(others, cand - ctx - guard)
    hi = np.searchsorted(others, cand + ctx + guard)
    for k in np.flatnonzero(hi - lo > 1):
        for o in others[lo[k]:hi[k]]:
            d = int(o - cand[k])
            if d != 0:
                keep[k, max(c + d - guard, 0): max(c + d + guard, 0)] = 0.0
    pre = (S * keep)[:, : c - guard]
    post = (S * keep)[:, c + guard + p:]
    hp, hq = np.hanning(pre.shape[1]), np.hanning(post.shape[1])
    r = autocorr_rows(pre * hp, p) + autocorr_rows(post * hq, p)
    r[:, 0] *= 1.0 + 1e-9                               # white-noise correction
    A = levinson_rows(r)
    # prediction error e[i] = sum_k A_k S[i + p - k]   (e index i <-> S index i + p)
    e = A[:, 0:1] * S[:, p:]
    for k in range(1, p + 1):
        e += A[:, k:k + 1] * S[:, p - k: S.shape[1] - k]
    # e is spoiled for p samples after a masked sample: mask those too
    ke = keep[:, p:].copy()
    for k in range(1, p + 1):
        ke *= keep[:, p - k: S.shape[1] - k]
    ce = c - p                                          # candidate index in e
    e2 = e * e
    wpre = ke[:, ce - guard - near: ce - guard]
    wpost = ke[:, ce + guard + p: ce + guard + p + near]
    ms_pre = np.einsum("ij,ij->i", e2[:, ce - guard - near: ce - guard], wpre) / np.maximum(wpre.sum(1), 1)
    ms_post = np.einsum("ij,ij->i", e2[:, ce + guard + p: ce + guard + p + near], wpost) / np.maximum(wpost.sum(1), 1)
    s_ref = np.maximum(np.sqrt(np.maximum(ms_pre, ms_post)), 1e-12)
    # matched filter for an impulse at S index s: d[s] = sum_k A_k e[s - p + k] (= B_s^T e), whose
    # noise-only standard deviation is s_ref sqrt(sum A_k^2) (Godsill & Rayner sec. 5.3)
    ra0 = np.sqrt(np.einsum("ij,ij->i", A, A))
    s0 = c - guard - p
    d = A[:, 0:1] * e[:, s0: s0 + 2 * guard]
    for k in range(1, p + 1):
        d += A[:, k:k + 1] * e[:, s0 + k: s0 + k + 2 * guard]
    core = np.abs(d) / (ra0 * s_ref)[:, None]
    peak = core.max(axis=1)
    if peaks is not None:
        # against the error before the event only (a wide event's tail spoils the after side)
        peaks.extend((peak * s_ref / np.maximum(np.sqrt(ms_pre), 1e-12)).tolist())
    onset_win = max(int(ONSET_WINDOW_S * fs), 8)
    hit = peak > click_ratio
    # (the spectral-hole path is for narrow clicks: not in the low band, nor in the wide pass)
    weak = np.flatnonzero(~hit & (peak > HOLE_MIN_RATIO)) if click_ratio == CLICK_RATIO and guard_s <= GUARD_S \
        else np.zeros(0, int)
    if weak.size:
        hit[weak] = hole_test(S[weak], c, guard)
    H = np.flatnonzero(hit)                             # the rest is for the hits only (cost)
    if H.size:
        eh, Ah, lev = e[H], A[H], (ra0 * s_ref)[H]
        # the same matched filter after the event (REPEAT_GAP_S on, to the window's end, other
        # candidates masked): a plucked string's excitation comes back one period later, a
        # click does not
        g0 = c + guard + int(REPEAT_GAP_S * fs) - p   # da[j] <-> an impulse at S index g0 + p + j
        n_after = e.shape[1] - p - g0
        again = np.zeros(H.size)
        if n_after > 8:
            da = Ah[:, 0:1] * eh[:, g0: g0 + n_after]
            for k in range(1, p + 1):
                da += Ah[:, k:k + 1] * eh[:, g0 + k: g0 + k + n_after]
            da *= ke[H, g0: g0 + n_after]
            again = np.abs(da).max(axis=1) / lev
        # and over the whole window with nothing masked: a waveform whose corner recurs every
        # period (a sawtooth or square bass, whose next edges are candidates too) shows two or
        # more excursions like the event's; a click, or a pair of clicks, at most one more
        n_all = e.shape[1] - p
        dw = Ah[:, 0:1] * eh[:, 0:n_all]
        for k in range(1, p + 1):
            dw += Ah[:, k:k + 1] * eh[:, k: k + n_all]
        big = np.abs(dw) / lev[:, None] > REPEAT_FRACTION * peak[H][:, None]
        pos = np.arange(n_all) + p                      # S index of each dw entry
        big &= np.abs(pos - c)[None, :] > guard + int(REPEAT_GAP_S * fs)
        sep = max(int(MERGE_S * fs), 1)
        recurs = np.zeros(H.size, dtype=bool)
        for k in np.flatnonzero(big.sum(axis=1) >= 2):
            j = np.flatnonzero(big[k])
            recurs[k] = 1 + np.count_nonzero(np.diff(j) > sep) >= 2
        ok = ((again <= REPEAT_FRACTION * peak[H]) | (not repeat_test)) & ~recurs
        # (at the low-band path's ~8 kHz a periodic corner's height varies with its sub-sample
        # phase, so the recurrence is looked for at a lower fraction there)
        frac = RECUR_FRACTION if fs > 2 * LOW_FS_HZ else LOW_RECUR_FRACTION
        if ok.any():
            rl = recurs_periodic(x, cand[H[ok]], Ah[ok], (lev * peak[H] * frac)[ok], guard, fs, recur_exclude,
                                 RECUR_SPAN_S if recur_exclude is None else RECUR_PAIR_SPAN_S,
                                 gap_s=REPEAT_GAP_S, merge_s=MERGE_S)
            if recur_rejected is not None:
                recur_rejected.extend(cand[H[ok]][rl].tolist())
            ok[ok] &= ~rl
        hit[H] = ok
    for h in np.flatnonzero(hit):
        # the excursion: above half the detection threshold and within 34 dB of its own peak
        over = np.flatnonzero(core[h] > max(0.5 * min(peak[h], click_ratio), 0.02 * peak[h]))
        j0, j1 = int(over[0]), int(over[-1])
        width_s = (j1 - j0 + 1) / fs
        if width_s > max_width_s:
            continue                                    # fills the window: not a local event
        if guard_s > GUARD_S and width_s < WIDE_MIN_WIDTH_S:
            continue                                    # the wide pass is for wide events only
        # LSAR: the unknown samples u = S[a:b] minimise the prediction-error energy; with
        # G = B_u^T B_u (Toeplitz of A's autocorrelation) the click is c = G^-1 B_u^T e.
        a = c - guard + j0 - 1
        b = min(c - guard + j1 + 2, S.shape[1] - p - 1)
        m = b - a
        Ah = A[h]
        ra = np.array([Ah[: p + 1 - k] @ Ah[k:] for k in range(p + 1)])
        lag = np.abs(np.arange(m)[:, None] - np.arange(m)[None, :])
        G = np.where(lag <= p, ra[np.minimum(lag, p)], 0.0)
        # (B_u^T e)[u] = sum_k A_k e[s_u - p + k]
        cols = (np.arange(a, b) - p)[:, None] + np.arange(p + 1)[None, :]
        rhs = e[h][cols] @ Ah
        try:
            clk = np.linalg.solve(G, rhs)
        except np.linalg.LinAlgError:
            continue
        if ISOLATION_REGROW and guard_s > GUARD_S and np.abs(clk).max() > DIVERGED_RATIO * np.abs(S[h]).max():
            # diverged (see DIVERGED_RATIO): the region left some of the event's samples outside,
            # taken as known; it is grown over every sample whose prediction error stands
            # click_ratio out of the reference (the event's whole extent, plus the p samples
            # the error trails it by) and the event isolated again.  In the wide pass only (the
            # pass for 1-2.5 ms bursts and steps, whose edges can overrun the region): a first-pass
            # event is at most 1.5 ms, and a held step that diverged there (eval_clicks kit1 3.42 s,
            # s4_5 7.38 s) is reported right as it is; regrown it started 0.5 ms early, read as music
            a, b, clk = _regrow(S[h], e[h], A[h], a, b, click_ratio * s_ref[h], p)
            if clk is None:
                continue
        # a transient that starts a louder sound (a drum's beater, a plucked note) is music:
        # compare the programme just after the event with just before it
        # (energy over ~10 ms, so a low note's cycle does not look like a rise)
        ea = S[h, b + 1: b + 1 + onset_win]
        eb = S[h, max(a - onset_win, 0): a]
        mb = np.dot(eb, eb) / max(eb.size, 1)
        if np.dot(ea, ea) / max(ea.size, 1) > ONSET_RISE * mb + 1e-20:
            # ... unless it is narrow and the first ms after it is no louder than before (a
            # click ahead of a hit; a wider event may be the hit's own first ms)
            e1 = S[h, b + 1: b + 1 + max(int(0.001 * fs), 4)]
            # (nor an event standing ONSET_KEEP_RATIO out of the model and twice the programme's
            # peak over the ms after it: a click on a note's start, not a held step's first edge)
            keep = peak[h] >= onset_keep_ratio and np.max(np.abs(e1), initial=0.0) < 0.5 * np.max(np.abs(clk))
            # (nor, with sample_level, a sample-level event: its isolated waveform's sample-level
            # part within a few samples, mixes.click_onset.is_attack_wide; a beater's or a
            # plectrum's contact lasts >= 0.2 ms, so an event that short is no sound's attack,
            # whatever starts after it: the rule stage 3 applies since session 8; and broadband,
            # SAMPLE_LEVEL_HF_FRACTION of its energy above 6 kHz: a slope corner's smooth hump, a
            # synthesizer's linear attack ending 2 ms into a note, leaves 0.2-3 % there)
            if not keep and sample_level:
                keep = not is_attack_wide(clk, fs=fs) and _hf_fraction(clk, fs) >= SAMPLE_LEVEL_HF_FRACTION
            if (width_s >= POP_MIN_S or np.dot(e1, e1) / max(e1.size, 1) > mb + 1e-20) and not keep:
                if onset_rejected is not None:
                    onset_rejected.append(int(cand[h]))
                continue

        # the event starts where it reaches 30 % of its peak, or (tail9) where it first exceeds
        # LEAD_CTX_RATIO times the programme's peak around the region, if that is lower: an event
        # standing far out of a quiet programme (a tail, a fade's end) has its rise, a burst's
        # Hann-shaped start 10-30 dB above the tail, kept in the click, not left in stage 3's
        # masker (a burst at a fade's end read +24 dB audible for +54).  In music louder than a
        # third of the click's peak nothing changes
        lead = 0.3 * np.abs(clk).max()
        if LEAD_CTX_RATIO:
            ctx_pk = max(np.abs(S[h, :a]).max(initial=0.0), np.abs(S[h, b:]).max(initial=0.0))
            # (never under 60 dB below its peak: in digital silence the region's music samples are
            # exact zeros, not the click's start)
            lead = max(min(lead, LEAD_CTX_RATIO * ctx_pk), 1e-3 * np.abs(clk).max())
        first = int(np.flatnonzero(np.abs(clk) >= lead)[0])
        out.onset.append(int(cand[h] - c + a + first))
        out.click.append(clk[first:])
        out.level_db.append(_db(float(np.abs(clk).max())))
        out.width_s.append(width_s)
        out.wide.append(guard_s > GUARD_S)


def _dedup(out: Impulsive, fs: int) -> Impulsive:
    """One event per click (two candidates may verify the same one): the louder within ``MERGE_S``."""
    order = np.argsort(out.onset, kind="stable")
    gap = max(int(MERGE_S * fs), 1)
    keep: list[int] = []
    step = [bool(w) and held_step(c, fs=fs) for w, c in zip(out.wide, out.click)]
    for k in order:
        if keep and step[keep[-1]] and out.onset[k] - out.onset[keep[-1]] <= out.click[keep[-1]].size + gap // 4:
            continue                                    # the held step's second edge
        if keep and out.onset[k] - out.onset[keep[-1]] <= gap:
            # a held step found whole by the wide pass is reported at its first edge, over the
            # first pass's event at its second edge; otherwise the first pass's, or the louder
            if step[keep[-1]] and not step[k]:
                continue
            if step[k] and not step[keep[-1]]:
                keep[-1] = int(k)
            elif out.wide[k] != out.wide[keep[-1]]:
                # (a wide-pass event that is not a clean step: the first pass's event is kept)
                if out.wide[keep[-1]]:
                    keep[-1] = int(k)
            elif out.level_db[k] > out.level_db[keep[-1]]:
                keep[-1] = int(k)
            continue
        keep.append(int(k))
    dedup = Impulsive()
    for k in keep:
        dedup.onset.append(out.onset[k])
        dedup.click.append(out.click[k])
        dedup.level_db.append(out.level_db[k])
        dedup.width_s.append(out.width_s[k])
        dedup.low.append(False)
        dedup.from_low.append(False)
        dedup.wide.append(out.wide[k])
    return dedup


def _detect_full(x: np.ndarray, fs: int, max_width_s: float = MAX_WIDTH_S,
                 ratio: float = CANDIDATE_RATIO, own: float = OWN_RATIO,
                 click_ratio: float = CLICK_RATIO, whiten=None) -> Impulsive:
    out = Impulsive()
    cand = _candidates(x, fs, ratio, own, whiten)
    ctx = int(CONTEXT_S * fs)
    cand = cand[(cand - ctx >= 0) & (cand + ctx <= x.size)]
    peaks: list[float] = []
    rejected: list[int] = []
    onset_rj: list[int] = []
    for i in range(0, cand.size, 256):
        _verify(x, cand[i:i + 256], cand, fs, out, max_width_s, click_ratio, peaks=peaks, recur_rejected=rejected,
                onset_rejected=onset_rj)
    if RECUR_SPARE_PAIRS and rejected and out.onset:
        # a candidate taken for a periodic corner only because another verified click stood at
        # one of its "periods" is tried again without that click (mixes.click_recur.mask_near);
        # only where a verified click is that close (elsewhere nothing would change: cost)
        known = np.sort(np.asarray(out.onset, dtype=np.int64))
        rj = np.asarray(rejected, dtype=np.int64)
        span = int((RECUR_SPAN_S + 2 * GUARD_S) * fs)
        rj = rj[np.searchsorted(known, rj + span, side="right") - np.searchsorted(known, rj - span) > 0]
        if rj.size:
            _verify(x, rj, cand, fs, out, max_width_s, click_ratio, recur_exclude=known)
    if fs > 2 * LOW_FS_HZ and cand.size:
        # wide clicks (a 1-2.5 ms burst or held step): their excursion overruns the +-1 ms
        # region, so the reference error after it holds their own tail.  Candidates that stood
        # out of the error before them (WIDE_MIN_RATIO) but were not verified are tried again
        # with a wider region.
        pk = np.asarray(peaks)
        known = np.sort(np.asarray(out.onset, dtype=np.int64))
        j = np.searchsorted(known, cand)
        near = np.zeros(cand.size, dtype=bool)
        tol = int(WIDE_GUARD_S * fs)
        first = int(WIDE_FIRST_EDGE_S * fs)
        for jj in (j - 1, j):
            ok = (jj >= 0) & (jj < known.size)
            dd = known[jj[ok]] - cand[ok]
            # (a candidate just before a known event may be a held step's first edge, whose
            # second edge was verified: it is tried, and _dedup keeps it if it is that step)
            near[ok] |= (np.abs(dd) <= tol) & ~(dd >= first)
        w = cand[(pk > WIDE_MIN_RATIO) & ~near]
        fe = first_edges(x, out.onset, fs, WIDE_FIRST_EDGE_S, WIDE_GUARD_S)
        # (and not the start of a louder sound: the stage-2 onset rule, applied before the
        # verification because most strong candidates are musical onsets)
        g, win = int(WIDE_GUARD_S * fs), max(int(ONSET_WINDOW_S * fs), 8)
        # (the width of the matched filter's excursion spreads an edge by up to the order)
        wmax = WIDE_MAX_WIDTH_S + 2 * LPC_ORDER / fs
        for w, only_steps in ((w, False), (fe, True)):
            w = w[(w - g - win >= 0) & (w + g + win <= x.size)]
            if w.size:
                seg = x[w[:, None] + np.arange(-g - win, g + win)[None, :]].astype(np.float64)
                seg *= seg
                w = w[seg[:, 2 * g + win:].sum(axis=1) <= ONSET_RISE * seg[:, :win].sum(axis=1)]
            dst = Impulsive() if only_steps else out
            for i in range(0, w.size, 256):
                _verify(x, w[i:i + 256], cand, fs, dst, wmax, click_ratio, guard_s=WIDE_GUARD_S)
            # a first edge is tried only to report a held step where it starts: other events
            # found there are dropped (the first pass's event stands)
            for k in range(len(dst.onset) if only_steps else 0):
                if held_step(dst.click[k], fs=fs):
                    out.onset.append(dst.onset[k])
                    out.click.append(dst.click[k])
                    out.level_db.append(dst.level_db[k])
                    out.width_s.append(dst.width_s[k])
                    out.wide.append(True)
    if ONSET_SAMPLE_LEVEL and fs > 2 * LOW_FS_HZ and cand.size:
        # the sample-level pass (recall9): a candidate that stood CLICK_RATIO out of the model
        # and that no event is known near (a held step found whole by the wide pass keeps its
        # place: its first edge alone is sample-level too) is verified again with the onset rule
        # sparing a sample-level event, which no attack is (a one-sample click on a note's start;
        # eval plants refused by the onset rule at 14-2334 sigma)
        pk = np.asarray(peaks)
        known = np.sort(np.asarray(out.onset, dtype=np.int64))
        j = np.searchsorted(known, cand)
        near = np.zeros(cand.size, dtype=bool)
        tol = int(WIDE_GUARD_S * fs)
        for jj in (j - 1, j):
            ok = (jj >= 0) & (jj < known.size)
            near[ok] |= np.abs(known[jj[ok]] - cand[ok]) <= tol
        # (only candidates the onset rule refused: the others would fail again; CPU)
        r = cand[(pk > click_ratio) & ~near & np.isin(cand, np.asarray(onset_rj, dtype=np.int64))]
        for i in range(0, r.size, 256):
            _verify(x, r[i:i + 256], cand, fs, out, max_width_s, click_ratio, sample_level=True)
    res = _dedup(out, fs)
    res.partners = cand
    return res


def _detect_low(x: np.ndarray, fs: int, known: list[int], partners: np.ndarray | None = None) -> Impulsive:
    """The low-band path: clicks audible below a hi-hat's band (see module docstring).

    The programme is decimated to ~``LOW_FS_HZ``, stages 1 and 2 run there, and each event not
    already in ``known`` (full-rate onsets) is brought back to the full rate: its low-band
    waveform is interpolated by the same FIR, so its audibility counts only what lies below
    ``LOW_CUTOFF_HZ`` (a conservative estimate: any part above is left out).
    """
    d, h = _lowpass(fs)
    if d < 3:
        return Impulsive()
    fd = fs / d
    xd = _decimate(x, d, h)
    L = h.size
    imp = _detect_full(xd, int(round(fd)), MAX_WIDTH_S + L / fs, LOW_CANDIDATE_RATIO, LOW_OWN_RATIO,
                       LOW_CLICK_RATIO, LOW_WHITEN)
    out = Impulsive()
    out.decimated = (xd, d, L)                      # (for the time-frequency path, mixes.click_tf)
    known_a = np.sort(np.asarray(known, dtype=np.int64))
    tol = int(LOW_MATCH_S * fs)
    for k, o in enumerate(imp.onset):
        centre = o * d + (L - 1) // 2
        j = np.searchsorted(known_a, centre)
        if any(0 <= jj < known_a.size and abs(int(known_a[jj]) - centre) <= tol for jj in (j - 1, j)):
            continue
        c = imp.click[k].astype(np.float64)
        u = np.zeros(c.size * d)
        u[::d] = c * d
        cf = np.convolve(u, h.astype(np.float64))   # cf[n] <-> x[o d + n]
        big = np.flatnonzero(np.abs(cf) >= 1e-3 * np.abs(cf).max())
        start = o * d + int(big[0])
        width_s = max(imp.width_s[k] - L / fs, 0.0)
        # the event at the full rate (mixes.click_lsar): its waveform with its top octaves, so
        # stage 3 judges it whole; the low-band waveform when that fails
        a = centre - d
        clk = isolate(x, a, centre + c.size * d + d, fs=fs, others=known_a) if REFINE_LOW else None
        if clk is not None and np.abs(clk).max() > 0:
            big = np.flatnonzero(np.abs(clk) >= LOW_TRIM * np.abs(clk).max())
        if clk is not None and np.abs(clk).max() > 0 and \
                not any(starts_louder(x, a + int(big[0]), a + int(big[-1]) + 1, width_s, fs, window_s=ONSET_WINDOW_S,
                                      rise=ONSET_RISE, pop_s=POP_MIN_S, top_gap_s=g, others=known_a)
                        for g in (None, LOW_TOP_GAP_S)) and \
                hf_over_low(clk[big[0]: big[-1] + 1], fs, LOW_CUTOFF_HZ) <= LOW_HF_RATIO_MAX and \
                (big[-1] - big[0] + 1 < POP_MIN_S * fs or held_step(clk[big[0]: big[-1] + 1], fs=fs)
                 or _hf_fraction(clk[big[0]: big[-1] + 1], fs) >= LOW_WIDE_HF_FRACTION):
            out.onset.append(int(a + big[0]))
            out.click.append(clk[big[0]: big[-1] + 1])
            out.level_db.append(_db(float(np.abs(clk).max())))
            out.low.append(False)
        else:
            # refused at the full rate over the span the low band located (~1 ms: a hat's noise
            # across it makes the LSAR waveform a burst that starts the stroke): the full-rate
            # stage 2 is asked at the sample where that waveform peaks, with its own narrow
            # region (+-GUARD_S) and all its rules (recall9: single clicks at a hat stroke's start,
            # 20-30 dB audible, that the full-band stage 1 could not see in the stroke's block)
            v = Impulsive()
            if REVERIFY_LOW and clk is not None and np.abs(clk).max() > 0:
                p0 = int(a + np.argmax(np.abs(clk)))
                ctx = int(CONTEXT_S * fs)
                if ctx <= p0 <= x.size - ctx:
                    pa = np.asarray(partners if partners is not None else [], dtype=np.int64)
                    _verify(x, np.array([p0], dtype=np.int64), np.unique(np.r_[pa, known_a, p0]), fs, v,
                            sample_level=True)
            if v.onset and abs(v.onset[0] - p0) <= tol:
                out.onset.append(int(v.onset[0]))
                out.click.append(v.click[0])
                out.level_db.append(v.level_db[0])
                out.low.append(False)
                width_s = v.width_s[0]
            else:
                out.onset.append(int(start))
                out.click.append(cf[big[0]: big[-1] + 1])
                out.level_db.append(_db(float(np.abs(cf).max())))
                out.low.append(True)
        out.width_s.append(width_s)
        out.wide.append(False)
        out.from_low.append(True)
        # (where it starts, re-estimated at the full rate, may fall up to LOW_MATCH_S after a
        # full-band event whose centre it missed: then it is inside that event's sound, e.g. a rim
        # click's noise 1.85 ms after its spike, and would only mask that event's context in
        # stage 3; one starting before a full-band event may be the click's start, which the
        # full band saw a part of, and stays)
        # (likewise after the low band's previous event: a held step's second edge)
        o_k = out.onset[-1]
        jk = np.searchsorted(known_a, o_k, side="left")
        prev = [int(known_a[jk - 1])] if jk > 0 else []
        prev += out.onset[-2:-1]
        if LOW_TAIL_DROP and any(0 < o_k - p <= tol for p in prev):
            for lst in (out.onset, out.click, out.level_db, out.low, out.width_s, out.wide, out.from_low):
                lst.pop()
    return out


def _add_tf(x: np.ndarray, fs: int, low: Impulsive, known: list[int], partners: np.ndarray) -> None:
    """The time-frequency path (:mod:`mixes.click_tf`): its events are stage-2 candidates, verified
    by the AR model at ``TF_CLICK_RATIO`` (two independent tests: the band powers against their
    own two-sided local levels, and an impulsive excursion of the prediction error with the
    repeat, recurrence, width and onset rules of stage 2); those neither other path found are
    appended to ``low`` (full-rate waveforms)."""
    xd, d, L = low.decimated
    pos, _ = tf_centres(xd, fs, d, L)
    ctx = int(CONTEXT_S * fs)
    known_a = np.sort(np.asarray(list(known) + list(low.onset), dtype=np.int64))
    tol = int(LOW_MATCH_S * fs)
    j = np.searchsorted(known_a, pos)
    near = np.zeros(pos.size, dtype=bool)
    for jj in (j - 1, j):
        ok = (jj >= 0) & (jj < known_a.size)
        near[ok] |= np.abs(known_a[jj[ok]] - pos[ok]) <= tol
    pos = pos[~near & (pos - ctx >= 0) & (pos + ctx <= x.size)]
    if not pos.size:
        return
    others = np.unique(np.concatenate([np.asarray(partners, dtype=np.int64), pos]))
    out = Impulsive()
    for i in range(0, pos.size, 256):
        _verify(x, pos[i:i + 256], others, fs, out, TF_MAX_WIDTH_S, TF_CLICK_RATIO, repeat_test=False,
                onset_keep_ratio=TF_ONSET_KEEP_RATIO)
    for k in range(len(out.onset)):
        o = out.onset[k]
        jj = np.searchsorted(known_a, o)
        if any(0 <= q < known_a.size and abs(int(known_a[q]) - o) <= tol for q in (jj - 1, jj)):
            continue
        # an event wider than the first pass takes is a click when it is broadband (a noise
        # burst: >= TF_WIDE_HF_FRACTION of its energy above 6 kHz) or a held step (flat between
        # two sharp edges); a smooth 1.5-2.5 ms hump is the model's miss in loud music (clean
        # songs_alt 9 and songs3 901: 2.8 % and 8.8 % above 6 kHz; the steps and bursts this path
        # found in the eval 20-83 %, or held steps)
        if out.width_s[k] > MAX_WIDTH_S and not held_step(out.click[k], fs=fs):
            c = np.asarray(out.click[k], dtype=np.float64)
            E = np.abs(np.fft.rfft(c, max(512, c.size))) ** 2
            f = np.fft.rfftfreq(max(512, c.size), 1.0 / fs)
            if E[f > 6000.0].sum() < TF_WIDE_HF_FRACTION * E.sum():
                continue
        low.onset.append(int(o))
        low.click.append(out.click[k])
        low.level_db.append(out.level_db[k])
        low.low.append(False)
        low.width_s.append(out.width_s[k])
        # (wider than the first pass takes: judged as the wide pass's events are, by stage 3's
        # rule that such an event with almost nothing above 6 kHz is music, not a sharp edge)
        low.wide.append(out.width_s[k] > MAX_WIDTH_S)
        low.from_low.append(False)


def detect_impulsive(x: np.ndarray, *, fs: int) -> Impulsive:
    """Stages 1 and 2 on one channel: every verified impulsive event with its isolated click
    (the full-band path, then the low-band path for what it adds)."""
    x = np.asarray(x)
    if x.dtype not in (np.float32, np.float64):
        x = x.astype(np.float64)
    full = _detect_full(x, fs)
    low = _detect_low(x, fs, full.onset, full.partners)
    if TF_PATH and low.decimated is not None:
        _add_tf(x, fs, low, full.onset, full.partners)
    for k in range(len(low.onset)):
        full.onset.append(low.onset[k])
        full.click.append(low.click[k])
        full.level_db.append(low.level_db[k])
        full.width_s.append(low.width_s[k])
        full.low.append(low.low[k])
        full.from_low.append(True)
        full.wide.append(low.wide[k])
    if not low.onset:
        return full
    order = np.argsort(full.onset, kind="stable")
    if LOW_TAIL_DROP:
        # a full-band event starting up to LOW_MATCH_S after a low-band event re-isolated at the
        # full rate is the same click seen later (a held step: the low band its first edge, the
        # full band's first pass its second): the earlier stays (reported where it starts)
        tol = int(LOW_MATCH_S * fs)
        lo_on = np.sort(np.asarray([o for o, lw in zip(low.onset, low.low) if not lw], dtype=np.int64))
        if lo_on.size:
            on = np.asarray(full.onset, dtype=np.int64)[order]
            jj = np.searchsorted(lo_on, on, side="left") - 1
            d = on - lo_on[np.maximum(jj, 0)]
            full_band = ~np.asarray(full.from_low, dtype=bool)[order]
            order = order[~((jj >= 0) & (d > 0) & (d <= tol) & full_band)]
    res = Impulsive()
    res.partners = full.partners
    for k in order:
        res.onset.append(full.onset[k])
        res.click.append(full.click[k])
        res.level_db.append(full.level_db[k])
        res.width_s.append(full.width_s[k])
        res.low.append(full.low[k])
        res.from_low.append(full.from_low[k])
        res.wide.append(full.wide[k])
    return res


def find_clicks(x: np.ndarray, *, fs: int, channel: int = 0,
                min_audibility_db: float | None = 0.0, other: np.ndarray | None = None) -> list[RenderEvent]:
    """Audible clicks and pops in one channel (see module docstring).

    Parameters
    ----------
    x : ndarray, shape (n_samples,)
        One channel, full scale 1.0.
    fs : int
        Sample rate (Hz), keyword-only.
    channel : int
        Channel number written into the events.
    min_audibility_db : float or None
        Report events whose audibility exceeds this (dB); None reports every verified event.
    other : ndarray, shape (n_samples,), optional
        The other channel of a stereo file: a drum's or a pluck's attack panned into both
        channels with the sound it starts is music (:mod:`mixes.click_onset`).

    Returns
    -------
    list of RenderEvent
        kind ``"click"`` (excursion shorter than 1 ms) or ``"pop"``; ``time_s`` is the onset;
        ``level_db`` the isolated click's peak (dBFS); ``audibility_db`` its margin over the
        masking threshold (dB).
    """
    imp = detect_impulsive(x, fs=fs)
    aud = audibility(x, imp, fs=fs, other=other)
    out = []
    for k in range(len(imp.onset)):
        if min_audibility_db is not None and not aud[k] > min_audibility_db:
            continue
        kind = "pop" if imp.width_s[k] >= POP_MIN_S else "click"
        out.append(RenderEvent(kind=kind, time_s=imp.onset[k] / fs, level_db=imp.level_db[k], channel=channel,
                               audibility_db=float(aud[k])))
    return out
