"""Wiring of the null test (:mod:`mixes.balance_null`) into the comparison with references.

:func:`may_be_same_song` is the cheap test on the frame records the balance analysis already
keeps (no audio read): only when it passes are the two files read again for the null test;
:func:`compare_balance_null` is :func:`mixes.balance.compare_balance` with the null test for
same-song references (used by :func:`mixes.batch.mix_dict`).
"""

from __future__ import annotations

import math

import numpy as np
import scipy.signal

from calib.errors import RoomtruthError
from mixes.balance_null import MAX_LAG_S, null_balance

__all__ = ["may_be_same_song", "compare_balance_null", "PRECHECK_MIN_CORR"]

PRECHECK_MIN_CORR = 0.5       # accompaniment envelopes correlate at least this (best lag):
# 0.8 at first; a songs3 pop song of 12 s with the bass moved +5.4 dB (its harmonics are in the
# accompaniment's bands) and the vocal -3 dB correlated 0.77 with its reference and was never
# null-tested (vocal read -7.6 from 0.7 s of voice; the null test reads -3.01 / +5.39 for
# -2.99 / +5.36).  Different songs of one style reached 0.25-0.45; a false pass costs only the
# re-read and the null test's refusal.
PRECHECK_CELL_WINDOW_DB = 1.0  # ... or at least PRECHECK_MIN_CELL_SHARE of the e_bands cells
PRECHECK_MIN_CELL_SHARE = 0.25  # lie in one window this wide (see _cells_agree): same song
# with a part moved 0.59 (songs4 801), different songs of one style 0.03-0.10


def may_be_same_song(mix_frames, ref_frames) -> bool:
    """The cheap test, on the frame records the balance analysis already keeps (no audio read):
    the accompaniment's log frame energies of the two files (or their ranks) correlate >=
    ``PRECHECK_MIN_CORR`` at the best frame lag within ``MAX_LAG_S``, or their third-octave
    cells mostly agree on one ratio (:func:`_cells_agree`).  False when either record is
    missing."""
    if mix_frames is None or ref_frames is None or abs(mix_frames.hop_s - ref_frames.hop_s) > 1e-9:
        return False
    a = np.log10(np.maximum(np.asarray(mix_frames.e_acc, dtype=np.float64), 1e-30))
    b = np.log10(np.maximum(np.asarray(ref_frames.e_acc, dtype=np.float64), 1e-30))
    # also their ranks: a limiter or compressor on one side bends the envelope monotonically
    # (an 8-dB limiter on a mixes.songs reference: Pearson 0.05 at the right lag, one silent
    # frame dominating; ranks 0.71)
    ra = np.argsort(np.argsort(a, kind="stable"), kind="stable").astype(np.float64)
    rb = np.argsort(np.argsort(b, kind="stable"), kind="stable").astype(np.float64)
    ga, gb = np.asarray(mix_frames.gated), np.asarray(ref_frames.gated)
    max_lag = int(math.ceil(MAX_LAG_S / mix_frames.hop_s)) + 1
    best = -1.0
    for lag in range(-max_lag, max_lag + 1):
        i0 = max(0, -lag)
        n = min(a.size - i0, b.size - i0 - lag)
        if n < 16:
            continue
        g = ga[i0:i0 + n] & gb[i0 + lag:i0 + lag + n]
        if np.count_nonzero(g) < 16:
            continue
        for aa, bb in ((a, b), (ra, rb)):
            x, y = aa[i0:i0 + n][g], bb[i0 + lag:i0 + lag + n][g]
            if np.std(x) == 0 or np.std(y) == 0:
                continue
            best = max(best, float(np.corrcoef(x, y)[0, 1]))
    if best >= PRECHECK_MIN_CORR:
        return True
    return _cells_agree(mix_frames, ref_frames, max_lag) >= PRECHECK_MIN_CELL_SHARE


def _cells_agree(mix_frames, ref_frames, max_lag: int) -> float:
    """The share of the (frame, third-octave) cells of the two records' ``e_bands`` whose log
    ratio lies in the densest ``PRECHECK_CELL_WINDOW_DB`` window, at the frame lag where their
    broadband log energies (the sum over the bands) correlate best within ``max_lag`` frames,
    and at lag 0.  0.0 when either record has no ``e_bands``.

    The same song with a part moved keeps every cell its accompaniment owns at one ratio (the
    overall gain); another song spreads the ratios over tens of dB.  Unlike the accompaniment
    envelope ``e_acc`` (the frame's energy less the *tracked* voice), it does not depend on the
    voice being tracked: a +4.5-dB voice with its 2.6-s hall in a sparse cinematic song (songs4
    801, 20 s) left ``e_acc`` uncorrelated (the untracked voice and hall in it) and the pair went
    to the frame comparison, which read +4.46 dB as -2.06; its cells agree at 0.59, different
    songs of one style 0.03-0.10 (songs4, 12 pairs)."""
    ea, eb = getattr(mix_frames, "e_bands", None), getattr(ref_frames, "e_bands", None)
    if ea is None or eb is None or ea.ndim != 2 or ea.shape[1] != eb.shape[1]:
        return 0.0
    A, B = np.asarray(ea, dtype=np.float64), np.asarray(eb, dtype=np.float64)
    ga, gb = np.asarray(mix_frames.gated, dtype=bool), np.asarray(ref_frames.gated, dtype=bool)
    if ga.size != A.shape[0] or gb.size != B.shape[0]:
        return 0.0
    # the lag: the cross-correlation (FFT) of the broadband log energies' changes over the
    # gated frames (ungated frames 0), within max_lag frames either way
    ta = np.log10(np.maximum(A.sum(axis=1), 1e-30))
    tb = np.log10(np.maximum(B.sum(axis=1), 1e-30))
    # (their frame-to-frame changes: the onsets line up sharply; the slow envelope of a short
    # song favoured a wrong lag, 7 frames for 14, on a mixes.songs song 0.3 s late)
    # (clipped to +-5 dB: a jump out of digital silence outweighed every onset of the song)
    va = ga & (ta > ta.max(initial=0.0) - 6.0)
    vb = gb & (tb > tb.max(initial=0.0) - 6.0)
    x = np.where(va[1:] & va[:-1], np.clip(np.diff(ta), -0.5, 0.5), 0.0)
    y = np.where(vb[1:] & vb[:-1], np.clip(np.diff(tb), -0.5, 0.5), 0.0)
    lags, best_lag = [0], 0
    if x.size >= 16 and y.size >= 16:
        xc = scipy.signal.correlate(y, x, mode="full", method="fft")     # index k: lag k - (x.size - 1)
        lag_axis = np.arange(xc.size) - (x.size - 1)
        near = np.abs(lag_axis) <= max_lag
        if np.any(near):
            best_lag = int(lag_axis[near][np.argmax(xc[near])])
    if best_lag != 0:
        lags.append(best_lag)
    share = 0.0
    for lag in lags:
        i0 = max(0, -lag)
        n = min(A.shape[0] - i0, B.shape[0] - i0 - lag)
        if n < 16:
            continue
        g = ga[i0:i0 + n] & gb[i0 + lag:i0 + lag + n]
        a, b = A[i0:i0 + n][g], B[i0 + lag:i0 + lag + n][g]
        if a.size == 0:
            continue
        floor = 1e-6 * max(float(a.max()), float(b.max()))
        ok = (a > floor) & (b > floor)
        if np.count_nonzero(ok) < 64:
            continue
        d = np.sort(np.log10(a[ok] / b[ok]) * 10.0)
        hi = np.searchsorted(d, d + PRECHECK_CELL_WINDOW_DB, side="right")
        share = max(share, float((hi - np.arange(d.size)).max() / d.size))
    return share


def compare_balance_null(mix_balance, ref_balances, load_mix, load_refs, ref_names):
    """:func:`mixes.balance.compare_balance` with the null test for same-song references.

    Parameters
    ----------
    mix_balance : mixes.balance.Balance
    ref_balances : sequence of Balance
    load_mix : callable
        ``load_mix() -> (x, fs)``: the mix's audio, read only when a reference may be the
        same song (:func:`may_be_same_song`).
    load_refs : sequence of callable
        The same for each reference.
    ref_names : sequence of str
        Named in the notes.

    Returns
    -------
    bass_vs_reference_db, vocal_vs_reference_db : float or None
        The mean over the references (dB), as ``compare_balance``.
    vocal_by_null : bool
        The vocal was found in the difference against a same-song reference.
    notes : list of str
        What the null test said, per reference where it was tried.
    """
    from mixes.balance import _same_frames, compare_balance
    bass_d, vocal_d, notes = [], [], []
    as_other: list[str] = []
    by_null = False
    mix_audio = None
    for rb, load_ref, name in zip(ref_balances, load_refs, ref_names):
        res = None
        b0, v0 = compare_balance(mix_balance, [rb])
        mf, rf = getattr(mix_balance, "frames", None), getattr(rb, "frames", None)
        # the frame comparison's vocal is a same-song figure only on the same frames
        v_same = v0 if mf is not None and rf is not None and _same_frames(mf, rf) else None
        maybe_same = may_be_same_song(getattr(mix_balance, "frames", None), getattr(rb, "frames", None))
        if maybe_same:
            try:
                if mix_audio is None:
                    mix_audio = load_mix()
                r, fs_r = load_ref()
            except (RoomtruthError, OSError) as exc:        # e.g. an array, not a file
                notes.append(f"not compared by the null test against {name}: {exc}")
                r = None
            tracks = None
            if mf is not None and rf is not None and abs(mf.hop_s - rf.hop_s) <= 1e-9:
                tracks = (mf.f0_hz, rf.f0_hz, mf.hop_s)
            res = None if r is None else null_balance(mix_audio[0], r, fs=mix_audio[1], fs_ref=fs_r,
                                                      vocal_in_files=bool(mix_balance.vocal_found or rb.vocal_found),
                                                      vocal_fallback_db=v_same, file_tracks=tracks)
            if res is not None and not res.gate.same:
                notes.append(f"not compared by the null test against {name}: {res.gate.reason}")
                if res.gate.dynamics_db > 0:
                    # the same song through a limiter or compressor on one side: the frame
                    # comparison reads its gain reduction as the parts' (2-7 dB low): no figure
                    continue
                res = None
        if res is None:
            b, v = b0, v0
            if not maybe_same and (b is not None or v is not None):
                as_other.append(name)
        else:
            b, v = res.bass_vs_reference_db, res.vocal_vs_reference_db
            notes.append(f"compared with {name} by the null test: {res.gate.reason}")
            notes.extend(f"against {name}: {n}" for n in res.notes)
            if res.vocal_in_difference:
                by_null = True
                notes.append(f"vocal found by the null test against {name} (the same song: the "
                             f"difference holds the changed voice, {res.voice_seconds:.1f} s tracked)")
            elif v is not None:
                notes.append(f"the null test against {name} finds no change of the vocal")
        if b is not None:
            bass_d.append(b)
        if v is not None:
            vocal_d.append(v)
    if as_other:
        # say what such a figure is: the balance of two songs side by side, not a fader offset
        # (a same-song reference the cheap check missed would otherwise give an unexplained figure)
        names = ", ".join(as_other[:3]) + (f" and {len(as_other) - 3} more" if len(as_other) > 3 else "")
        one = len(as_other) == 1
        notes.append(f"compared with {names} as {'a different song' if one else 'different songs'}: the bass "
                     f"and vocal figures are how this mix balances them against its loudness, relative to "
                     f"{'that song' if one else 'those songs'} (not a fader offset: the same-song check did not pass)")
    bass = float(np.mean(bass_d)) if bass_d else None
    vocal = float(np.mean(vocal_d)) if vocal_d else None
    return bass, vocal, by_null, notes
