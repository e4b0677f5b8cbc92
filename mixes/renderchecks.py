"""Render checks: clicks and pops, dropouts (digital silence, held samples), clipping, DC offset.

Every finding carries its time in the file.  Inter-sample overs come from
:mod:`mixes.truepeak` (they need the oversampled waveform).

Clicks are found and judged by ear in :mod:`mixes.clicks` (``audibility_db``: dB above the
programme's local masking threshold); digital artifacts (splices, bursts of digital distortion,
missing dither, inverted polarity, dual mono) in :mod:`mixes.artifacts`.

Dropouts: a run of exactly-zero samples on all channels, at least ``MIN_SILENCE_S`` long,
with programme above ``CONTEXT_MIN_DBFS`` within 50 ms on both sides (leading, trailing and
musical silences are not dropouts).  Held samples: a run of identical non-zero samples at
least ``MIN_HELD_S`` long above -60 dBFS.  Clipping: at least ``MIN_CLIP_SAMPLES``
consecutive samples at ``CLIP_LEVEL`` or above.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from calib.errors import SignalError
from mixes.artifacts import SPLICE_RATIO, at_flat_top, find_artifacts, splice_jump
from mixes.clicks import POP_MIN_S, audibility, detect_impulsive, find_clicks
from mixes.programme import as_programme
from mixes.types import RenderEvent

__all__ = ["RenderReport", "render_checks", "render_check_parts", "find_clicks", "find_dropouts", "find_clipping",
           "dc_offset_dbfs"]

MIN_SILENCE_S = 0.002
MIN_HELD_S = 0.001
HELD_MIN_LEVEL = 10 ** (-60 / 20)
CONTEXT_MIN_DBFS = -50.0
CLIP_LEVEL = 0.99995
MIN_CLIP_SAMPLES = 3
DC_WARN_DBFS = -40.0
SPLICE_MERGE_S = 0.003
PULSE_MAX_S = 0.0025


@dataclass(frozen=True)
class RenderReport:
    clicks: tuple[RenderEvent, ...]
    dropouts: tuple[RenderEvent, ...]
    clipping: tuple[RenderEvent, ...]
    dc_offset_dbfs: tuple[float, ...]
    warnings: tuple[str, ...]
    artifacts: tuple[RenderEvent, ...] = ()


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


def _clicks_and_splices(x: np.ndarray, fs: int, channels=None,
                        merge: bool = True) -> tuple[list[RenderEvent], list[RenderEvent]]:
    """Audible impulsive events of every channel (or of ``channels``), sorted into clicks and
    splices (discontinuities); ``merge=False`` leaves out the merge across channels
    (:func:`_merge_splices`), for channels analysed apart and merged later."""
    clicks: list[RenderEvent] = []
    splices: list[RenderEvent] = []
    for c in (range(x.shape[0]) if channels is None else channels):
        imp = detect_impulsive(x[c], fs=fs)
        aud = audibility(x[c], imp, fs=fs, other=x[1 - c] if x.shape[0] == 2 else None)
        for k in range(len(imp.onset)):
            if not aud[k] > 0.0:
                continue
            t = imp.onset[k] / fs
            if at_flat_top(x[c], imp.onset[k], imp.click[k].size, fs=fs):
                # a clipper's corner: the clipping's (reported as clipping, or as a hard-clipped
                # master's digital_distortion), neither an edit nor a click
                continue
            jump, res = splice_jump(x[c], imp.onset[k], imp.click[k].size, fs=fs)
            if jump > SPLICE_RATIO * res:
                splices.append(RenderEvent(
                    "discontinuity", t, _db(jump), c, 0.0, audibility_db=float(aud[k]),
                    detail=f"at {t:.4f} s the waveform jumps by {_db(jump):.0f} dBFS at one sample "
                           f"({aud[k]:.0f} dB above the masking threshold): a bad edit or splice; "
                           "crossfade it"))
            else:
                kind = "pop" if imp.width_s[k] >= POP_MIN_S else "click"
                clicks.append(RenderEvent(kind, t, imp.level_db[k], c, audibility_db=float(aud[k])))
    return _merge_splices(clicks, splices) if merge else (clicks, splices)


def _merge_splices(clicks: list[RenderEvent], splices: list[RenderEvent]) -> tuple[list[RenderEvent], list[RenderEvent]]:
    """One splice is one event: impulsive events just beside it (in any channel: an edit cuts
    them all) belong to it."""
    clicks = [ev for ev in clicks if not any(abs(sp.time_s - ev.time_s) <= SPLICE_MERGE_S for sp in splices)]
    clicks.sort(key=lambda ev: ev.time_s)
    return clicks, splices


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
    parts, combine = render_check_parts(x, fs=fs)
    return combine([part() for part in parts])


def render_check_parts(x: np.ndarray, *, fs: int) -> tuple[list[Callable[[], Any]], Callable[[list], RenderReport]]:
    """:func:`render_checks` as independent parts, for threads: ``(parts, combine)``;
    ``combine([part() for part in parts])`` is the :class:`RenderReport` (the same whichever
    thread ran each part, and in whatever order).  ``x`` must already be finite (not checked
    here).  Parts: the impulsive events of each channel (:mod:`mixes.clicks`, the largest),
    the digital artifacts (:mod:`mixes.artifacts`), then dropouts, clipping and DC offset."""
    x = _check(x)
    n_ch = x.shape[0]
    parts: list[Callable[[], Any]] = [
        functools.partial(_clicks_and_splices, x, fs, (c,), False) for c in range(n_ch)]
    parts.append(functools.partial(find_artifacts, x, fs=fs))
    parts.append(lambda: (find_dropouts(x, fs=fs), find_clipping(x, fs=fs), dc_offset_dbfs(x)))

    def combine(results: list) -> RenderReport:
        per_channel = results[:n_ch]
        clicks, splices = _merge_splices([ev for cl, _ in per_channel for ev in cl],
                                         [ev for _, sp in per_channel for ev in sp])
        return _combine(clicks, splices, results[n_ch], *results[n_ch + 1])

    return parts, combine


def _combine(clicks: list[RenderEvent], splices: list[RenderEvent], artifacts: list[RenderEvent],
             dropouts: list[RenderEvent], clipping: list[RenderEvent], dc: tuple[float, ...]) -> RenderReport:
    """The render report from its parts (events found by two detectors are one)."""
    # a "burst" of at most PULSE_MAX_S around a click the click detector verified is that click
    # (a held step of 1-2 ms, a short noise burst); longer bursts swallow the clicks inside them
    def inside(ev, b):
        return b.channel in (ev.channel, -1) and b.time_s - 0.002 <= ev.time_s <= b.time_s + b.duration_s + 0.002

    # (the click starts within the burst or just before it: an edge just after a burst's end is
    # the burst's own return, e.g. a 4-ms x10 clip burst whose clipped middle is the burst found)
    def starts_in(ev, b):
        return b.channel in (ev.channel, -1) and b.time_s - 0.002 <= ev.time_s <= b.time_s + b.duration_s

    artifacts = [a for a in artifacts if not (a.kind == "digital_distortion" and a.duration_s <= PULSE_MAX_S
                                              and any(starts_in(ev, a) for ev in clicks))]
    bursts = [a for a in artifacts if a.kind == "digital_distortion"]
    clicks = [ev for ev in clicks if not any(inside(ev, b) for b in bursts)]
    # a splice found both among the impulsive events and by the jump test is one event
    near_new = [a.time_s for a in artifacts if a.kind == "discontinuity"]
    splices = [sp for sp in splices if not any(abs(t - sp.time_s) <= SPLICE_MERGE_S for t in near_new)]
    # ... and a jump at a burst's edge is the burst's (one event per error)
    splices = [sp for sp in splices if not any(inside(sp, b) for b in bursts)]
    clicks = [ev for ev in clicks if not any(abs(t - ev.time_s) <= SPLICE_MERGE_S for t in near_new)]
    artifacts = sorted(artifacts + splices, key=lambda ev: ev.time_s)
    # the jumps into and out of a dropout (digital silence, a held sample), and a burst that is
    # the dropout (a few ms requantised to zeros), are the dropout's: one event per error
    def in_drop(a, d):
        return (d.channel in (a.channel, -1) and d.time_s - 0.002 <= a.time_s
                and a.time_s + a.duration_s <= d.time_s + d.duration_s + 0.002)

    artifacts = [a for a in artifacts if not (a.kind in ("discontinuity", "digital_distortion") and any(
        in_drop(a, d) for d in dropouts))]
    warnings = []
    for c, v in enumerate(dc):
        if v > DC_WARN_DBFS:
            warnings.append(f"channel {c + 1} has a DC offset of {v:.1f} dBFS (above {DC_WARN_DBFS:g} dBFS); "
                            "high-pass the mix below 10 Hz")
    return RenderReport(
        clicks=tuple(clicks),
        artifacts=tuple(artifacts),
        dropouts=tuple(dropouts),
        clipping=tuple(clipping),
        dc_offset_dbfs=dc,
        warnings=tuple(warnings),
    )
