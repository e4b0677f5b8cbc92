"""Render checks: clicks and pops, dropouts (digital silence, held samples), clipping, DC offset.

Every finding carries its time in the file.  Inter-sample overs come from
:mod:`mixes.truepeak` (they need the oversampled waveform).

Clicks (two stages, so a 10-minute file costs a fraction of a second):

1. *Candidates*: the third difference ``e = (1 - z^-1)^3 x`` suppresses music (-51 dB at
   1 kHz, 48 kHz) and keeps impulses (a unit spike gives a peak of 3).  Its RMS per 10 ms
   sub-block, median-filtered over 210 ms, is the local background; samples above
   ``CANDIDATE_RATIO`` times that background are candidates, merged within 2 ms.
2. *Verification* (all candidates at once, AR-model click detection after Vaseghi): an order-16
   linear predictor is fitted on the 12 ms before and after the candidate (autocorrelation
   method, the ±1 ms around the event excluded) and the prediction error is computed across
   the window.  A click is a short excursion of that error that stands
   ``CLICK_RATIO`` times above the error's RMS on *both* sides.  A musical onset raises the
   error after it for tens of ms, so it fails the after-side test; a click does not.

Dropouts: a run of exactly-zero samples on all channels, at least ``MIN_SILENCE_S`` long,
with programme above ``CONTEXT_MIN_DBFS`` within 50 ms on both sides (leading, trailing and
musical silences are not dropouts).  Held samples: a run of identical non-zero samples at
least ``MIN_HELD_S`` long above -60 dBFS.  Clipping: at least ``MIN_CLIP_SAMPLES``
consecutive samples at ``CLIP_LEVEL`` or above.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from calib.errors import SignalError
from mixes.programme import as_programme
from mixes.types import RenderEvent

__all__ = ["RenderReport", "render_checks", "find_clicks", "find_dropouts", "find_clipping", "dc_offset_dbfs"]

CANDIDATE_RATIO = 6.0
CLICK_RATIO = 9.0
LPC_ORDER = 16
CONTEXT_S = 0.012
GUARD_S = 0.001
MERGE_S = 0.002
POP_MIN_S = 0.001
MIN_SILENCE_S = 0.002
MIN_HELD_S = 0.001
HELD_MIN_LEVEL = 10 ** (-60 / 20)
CONTEXT_MIN_DBFS = -50.0
CLIP_LEVEL = 0.99995
MIN_CLIP_SAMPLES = 3
DC_WARN_DBFS = -40.0
MAX_CANDIDATES = 20_000


@dataclass(frozen=True)
class RenderReport:
    clicks: tuple[RenderEvent, ...]
    dropouts: tuple[RenderEvent, ...]
    clipping: tuple[RenderEvent, ...]
    dc_offset_dbfs: tuple[float, ...]
    warnings: tuple[str, ...]


def _db(v: float) -> float:
    return 20.0 * math.log10(v) if v > 0 else -math.inf


def _check(x: np.ndarray) -> np.ndarray:
    return as_programme(x, require_finite=False)


BLOCK = 1 << 16          # samples per block: temporaries stay in cache, no big allocations


def _runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (exclusive) indices of the True runs of a boolean vector."""
    if mask.size == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    d = np.diff(mask.view(np.int8), prepend=np.int8(0), append=np.int8(0))
    return np.flatnonzero(d == 1), np.flatnonzero(d == -1)


def _block_runs(pred, n: int) -> list[tuple[int, int]]:
    """True runs of ``pred(a, b)`` (a boolean mask of positions a..b-1) over 0..n, block by block.

    Runs that touch a block boundary are joined, so the result equals ``_runs`` on the whole.
    """
    out: list[list[int]] = []
    for a in range(0, n, BLOCK):
        b = min(a + BLOCK, n)
        m = pred(a, b)
        if not m.any():
            continue
        s_, e_ = _runs(m)
        for s, e in zip((s_ + a).tolist(), (e_ + a).tolist()):
            if out and out[-1][1] == s:
                out[-1][1] = e
            else:
                out.append([s, e])
    return [(s, e) for s, e in out]


def _third_difference_abs(x: np.ndarray) -> np.ndarray:
    """|(1 - z^-1)^3 x| (length n - 3), in the input's precision."""
    e = x[3:] - x[:-3]
    t = x[1:-2] - x[2:-1]
    t *= 3
    e += t
    np.abs(e, out=e)
    return e


def _candidates(x: np.ndarray, fs: int) -> np.ndarray:
    """Stage 1: sample indices where the third difference stands out of its local background."""
    sub = max(int(fs // 100), 8)
    n_e = x.size - 3
    n_sub = n_e // sub
    if n_sub < 3:
        return np.zeros(0, dtype=np.int64)
    rms = np.empty(n_sub)
    peak = np.empty(n_sub, dtype=x.dtype)
    per = max(BLOCK // sub, 1)
    for i0 in range(0, n_sub, per):
        i1 = min(i0 + per, n_sub)
        e = _third_difference_abs(x[i0 * sub: i1 * sub + 3]).reshape(i1 - i0, sub)
        rms[i0:i1] = np.sqrt(np.einsum("ij,ij->i", e, e) / sub)
        peak[i0:i1] = e.max(axis=1)
    bg = ndimage.median_filter(rms, size=21, mode="nearest")
    floor = 10 ** (-90 / 20)
    thr = CANDIDATE_RATIO * np.maximum(bg, floor)
    hot = np.flatnonzero(peak > thr)
    if hot.size == 0:
        return np.zeros(0, dtype=np.int64)
    idx = []
    best = {}
    for b in hot[:MAX_CANDIDATES]:
        e = _third_difference_abs(x[b * sub: (b + 1) * sub + 3])
        j = np.flatnonzero(e > thr[b])
        idx.append(b * sub + j)
        for jj in j:
            best[b * sub + int(jj)] = float(e[jj])
    cand_e = np.concatenate(idx)
    # merge within MERGE_S: keep the strongest of each cluster
    gap = max(int(MERGE_S * fs), 1)
    split = np.flatnonzero(np.diff(cand_e) > gap) + 1
    out = [max(grp.tolist(), key=best.__getitem__) for grp in np.split(cand_e, split)]
    # e[i] is centred between x[i+1] and x[i+2]
    return np.asarray(out, dtype=np.int64) + 2


def _levinson(r: np.ndarray) -> np.ndarray:
    """Levinson-Durbin for many autocorrelations at once.

    Parameters
    ----------
    r : ndarray (K, p + 1)

    Returns
    -------
    A : ndarray (K, p + 1)
        Prediction-error filters ``[1, a_1, ..., a_p]`` (e[n] = sum_k A_k x[n - k]).
    """
    K, p1 = r.shape
    p = p1 - 1
    A = np.zeros((K, p1))
    A[:, 0] = 1.0
    err = r[:, 0].copy()
    for i in range(1, p + 1):
        acc = np.einsum("kj,kj->k", A[:, :i], r[:, i:0:-1])
        with np.errstate(divide="ignore", invalid="ignore"):
            k = np.where(err > 0, -acc / err, 0.0)
        A[:, 1:i + 1] = A[:, 1:i + 1] + k[:, None] * A[:, i - 1::-1][:, :i]
        err = err * (1.0 - k * k)
    return A


def _autocorr_rows(w: np.ndarray, order: int) -> np.ndarray:
    """Autocorrelation of each row at lags 0..order: (K, n) -> (K, order + 1)."""
    n = w.shape[1]
    out = np.empty((w.shape[0], order + 1))
    for k in range(order + 1):
        out[:, k] = np.einsum("ij,ij->i", w[:, : n - k], w[:, k:])
    return out


def _verify(x: np.ndarray, cand: np.ndarray, fs: int, channel: int) -> list[RenderEvent]:
    """Stage 2 for a batch of candidates (all vectorised across candidates)."""
    ctx = int(CONTEXT_S * fs)
    guard = max(int(GUARD_S * fs), 4)
    p = LPC_ORDER
    c = ctx
    idx = cand[:, None] + np.arange(-ctx, ctx)[None, :]
    S = x[idx].astype(np.float64)                       # (K, 2 ctx)
    pre = S[:, : c - guard]
    post = S[:, c + guard + p:]
    hp, hq = np.hanning(pre.shape[1]), np.hanning(post.shape[1])
    r = _autocorr_rows(pre * hp, p) + _autocorr_rows(post * hq, p)
    r[:, 0] *= 1.0 + 1e-9                               # white-noise correction
    A = _levinson(r)
    # prediction error e[n] = sum_k A_k S[n - k] for n >= p
    e = A[:, 0:1] * S[:, p:]
    for k in range(1, p + 1):
        e += A[:, k:k + 1] * S[:, p - k: S.shape[1] - k]
    ce = c - p                                          # candidate index in e
    r_pre = e[:, : ce - guard]
    r_post = e[:, ce + guard + p:]
    s_ref = np.maximum(np.sqrt(np.maximum(np.mean(r_pre * r_pre, axis=1), np.mean(r_post * r_post, axis=1))), 1e-12)
    core = np.abs(e[:, ce - guard: ce + guard])
    peak = core.max(axis=1)
    hit = np.flatnonzero(peak > CLICK_RATIO * s_ref)
    out = []
    for h in hit:
        over = np.flatnonzero(core[h] > 0.5 * CLICK_RATIO * s_ref[h])
        width_s = (over[-1] - over[0] + 1) / fs if over.size else 0.0
        # onset: the first sample of the excursion; there the prediction uses only clean past
        # samples, so the error is the click's own first value (after it, the predictor's
        # taps spread it: for a low tone e[n0 + 1] ~ 2 e[n0])
        j = int(over[0]) if over.size else int(np.argmax(core[h]))
        t = (cand[h] - guard + j) / fs
        kind = "pop" if width_s >= POP_MIN_S else "click"
        out.append(RenderEvent(kind=kind, time_s=t, level_db=_db(float(core[h, j])), channel=channel,
                               duration_s=width_s))
    return out


def find_clicks(x: np.ndarray, *, fs: int, channel: int = 0) -> list[RenderEvent]:
    """Clicks and pops in one channel (see module docstring).

    Parameters
    ----------
    x : ndarray, shape (n_samples,)
        One channel, full scale 1.0.
    fs : int
        Sample rate (Hz), keyword-only.
    channel : int
        Channel number written into the events.

    Returns
    -------
    list of RenderEvent
        kind ``"click"`` (excursion shorter than 1 ms) or ``"pop"``; ``time_s`` is the onset;
        ``level_db`` the prediction error there (dBFS, the click's own first value).
    """
    x = np.asarray(x)
    if x.dtype not in (np.float32, np.float64):
        x = x.astype(np.float64)
    cand = _candidates(x, fs)
    ctx = int(CONTEXT_S * fs)
    cand = cand[(cand - ctx >= 0) & (cand + ctx <= x.size)]
    out: list[RenderEvent] = []
    for i in range(0, cand.size, 256):
        out += _verify(x, cand[i:i + 256], fs, channel)
    return out


def find_dropouts(x: np.ndarray, *, fs: int) -> list[RenderEvent]:
    """Digital silence inside programme and held samples (all channels considered).

    Parameters
    ----------
    x : ndarray, shape (n_channels, n_samples)
    fs : int
        Sample rate (Hz), keyword-only.
    """
    x = _check(x)
    n_ch, n = x.shape
    out: list[RenderEvent] = []
    ctx = int(0.05 * fs)

    def zero(a: int, b: int) -> np.ndarray:
        m = x[0, a:b] == 0
        for c in range(1, n_ch):
            m &= x[c, a:b] == 0
        return m

    min_len = max(int(MIN_SILENCE_S * fs), 2)
    for s, e in _block_runs(zero, n):
        if e - s < min_len or s == 0 or e == n:
            continue          # short, leading or trailing silence
        before = x[:, max(0, s - ctx): s].astype(np.float64)
        after = x[:, e: e + ctx].astype(np.float64)
        lb = _db(math.sqrt(float(np.mean(before ** 2)))) if before.size else -math.inf
        la = _db(math.sqrt(float(np.mean(after ** 2)))) if after.size else -math.inf
        if min(lb, la) >= CONTEXT_MIN_DBFS:
            out.append(RenderEvent("silence", s / fs, min(lb, la), -1, (e - s) / fs))
    held_len = max(int(MIN_HELD_S * fs), 4)
    for c in range(n_ch):
        xc = x[c]

        def same(a: int, b: int, xc=xc) -> np.ndarray:
            # position i (0-based in 0..n-2) means x[i + 1] == x[i]
            v = xc[a + 1: b + 1]
            m = v == xc[a:b]
            av = np.abs(v)
            m &= av >= HELD_MIN_LEVEL
            m &= av < CLIP_LEVEL          # full-scale runs are clipping, not holds
            return m

        for s, e in _block_runs(same, n - 1):
            if e - s + 1 >= held_len:
                out.append(RenderEvent("held", s / fs, _db(abs(float(xc[s]))), c, (e - s + 1) / fs))
    out.sort(key=lambda ev: ev.time_s)
    return out


def find_clipping(x: np.ndarray, *, fs: int) -> list[RenderEvent]:
    """Runs of at least ``MIN_CLIP_SAMPLES`` samples at full scale (per channel)."""
    x = _check(x)
    out = []
    for c in range(x.shape[0]):
        xc = x[c]
        for s, e in _block_runs(lambda a, b, xc=xc: np.abs(xc[a:b]) >= CLIP_LEVEL, xc.size):
            if e - s >= MIN_CLIP_SAMPLES:
                out.append(RenderEvent("clipping", s / fs, _db(float(np.abs(xc[s:e]).max())), c, (e - s) / fs))
    out.sort(key=lambda ev: ev.time_s)
    return out


def dc_offset_dbfs(x: np.ndarray) -> tuple[float, ...]:
    """Mean of each channel in dBFS (-inf for none)."""
    x = _check(x)
    return tuple(_db(abs(float(np.mean(x[c], dtype=np.float64)))) for c in range(x.shape[0]))


def render_checks(x: np.ndarray, *, fs: int) -> RenderReport:
    """All render checks of one programme.

    Parameters
    ----------
    x : ndarray, shape (n_channels, n_samples)
        Full scale 1.0 (float32 accepted).
    fs : int
        Sample rate (Hz), keyword-only.

    Raises
    ------
    SignalError
        Bad shape or NaN/Inf samples.
    """
    x = _check(x)
    if not math.isfinite(float(np.sum(x, dtype=np.float64))):   # any NaN/Inf poisons the sum
        raise SignalError("programme contains NaN or Inf samples")
    clicks: list[RenderEvent] = []
    for c in range(x.shape[0]):
        clicks += find_clicks(x[c], fs=fs, channel=c)
    clicks.sort(key=lambda ev: ev.time_s)
    dc = dc_offset_dbfs(x)
    warnings = []
    for c, v in enumerate(dc):
        if v > DC_WARN_DBFS:
            warnings.append(f"channel {c + 1} has a DC offset of {v:.1f} dBFS (above {DC_WARN_DBFS:g} dBFS); "
                            "high-pass the mix below 10 Hz")
    return RenderReport(
        clicks=tuple(clicks),
        dropouts=tuple(find_dropouts(x, fs=fs)),
        clipping=tuple(find_clipping(x, fs=fs)),
        dc_offset_dbfs=dc,
        warnings=tuple(warnings),
    )
