"""The difference signal's parts for the null test (:mod:`mixes.balance_null`): the bass's
fundamental per frame and its partials notched out, the voice's harmonic comb, the inverse STFT,
and the voice detector of :mod:`mixes.balance` run on the difference (it must show a vibrato).

Split from :mod:`mixes.balance_null` (the gate and the figures) by topic; the constants are
defined here and re-exported by :mod:`mixes.balance_null`, whose docstring explains them.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.fft

__all__ = []

BASS_CLEAR_BINS = 1           # comb bins within this of a bass partial are left out,
BASS_CLEAR_MAX_HZ = 1000.0    # ... up to here
COMB_REL = 0.03               # a partial h f0 covers +-3 % (vibrato) and at least +-1.5 bins
COMB_MIN_BINS = 1.5
VOICE_MAX_HZ = 8000.0         # the voice's comb is counted up to here
VIBRATO_HZ = (4.0, 8.0)       # the voice found in d must show a vibrato in this range
NOMINAL_LUFS = -23.0          # d is brought to this loudness for the voice detector


def _bass_f0_hz(P: np.ndarray, fk: np.ndarray) -> np.ndarray:
    """Per frame, the bass's fundamental (Hz): the lowest peak in 35-130 Hz of ``P`` (frames x
    bins) within 10 dB of the strongest there (the octave above is often stronger), refined by
    parabolic interpolation; NaN in frames without a low end."""
    sel = np.nonzero((fk >= 35.0) & (fk <= 130.0))[0]
    pb = np.log(np.maximum(P[:, sel], 1e-30))
    top = pb.max(axis=1)
    pk = np.zeros_like(pb, dtype=bool)
    pk[:, 1:-1] = (pb[:, 1:-1] >= pb[:, :-2]) & (pb[:, 1:-1] >= pb[:, 2:]) & (pb[:, 1:-1] >= top[:, None] - math.log(10.0))
    has = pk.any(axis=1)
    k = np.where(has, np.argmax(pk, axis=1), np.argmax(pb, axis=1))
    k = np.clip(k, 1, sel.size - 2)
    rows = np.arange(pb.shape[0])
    a, b, cc = pb[rows, k - 1], pb[rows, k], pb[rows, k + 1]
    with np.errstate(invalid="ignore", divide="ignore"):
        dlt = 0.5 * (a - cc) / (a - 2 * b + cc)
    dlt = np.where(np.isfinite(dlt) & (np.abs(dlt) <= 0.5), dlt, 0.0)
    f = fk[sel][k] + dlt * (fk[1] - fk[0])
    quiet = top <= math.log(1e-6) + float(top.max(initial=0.0)) if top.size else np.zeros(0, bool)
    return np.where(quiet, np.nan, f)


def _bass_notch(D: np.ndarray, fk: np.ndarray, f_bass: np.ndarray) -> np.ndarray:
    """``D`` (ch, frames, bins) with the bins below 150 Hz and within ``BASS_CLEAR_BINS`` of
    the bass's partials (up to ``BASS_CLEAR_MAX_HZ``) set to zero: what the voice detector
    reads (a moved bass's harmonics, a held pitched source, otherwise hide the voice)."""
    df = fk[1] - fk[0]
    out = D.copy()
    out[:, :, fk < 150.0] = 0
    h = np.arange(1, int(BASS_CLEAR_MAX_HZ / 35.0) + 1)
    for t in np.nonzero(np.isfinite(f_bass))[0]:
        fh = h * f_bass[t]
        kb = np.round(fh[fh <= BASS_CLEAR_MAX_HZ] / df).astype(int)
        for j in range(-BASS_CLEAR_BINS, BASS_CLEAR_BINS + 1):
            out[:, t, np.clip(kb + j, 0, fk.size - 1)] = 0
    return out


def _istft(S: np.ndarray, nfft: int, hop: int, pad: int, n: int) -> np.ndarray:
    """Inverse of :func:`_stft` (weighted overlap-add, Hann analysis and synthesis)."""
    win = np.hanning(nfft + 1)[:-1]
    n_ch, F, _ = S.shape
    step = nfft // hop                        # frames t, t + step, ... do not overlap
    L = (F - 1) * hop + nfft + nfft
    y = np.zeros((n_ch, L))
    wsum = np.zeros(L)
    frames = scipy.fft.irfft(S, nfft, axis=-1) * win.astype(np.float32)
    for p in range(step):
        blk = frames[:, p::step]
        k = blk.shape[1]
        y[:, p * hop:p * hop + k * nfft] += blk.reshape(n_ch, -1)
        wsum[p * hop:p * hop + k * nfft] += np.tile(win ** 2, k)
    y = y / np.maximum(wsum, 1e-3)
    return y[:, pad:pad + n]


def _comb_mask(f0: np.ndarray, fk: np.ndarray, f_bass: np.ndarray) -> np.ndarray:
    """(frames, bins) True on the voice's partials ``h f0`` (+-``COMB_REL``, >= ``COMB_MIN_BINS``)
    below ``VOICE_MAX_HZ``, off the bins within ``BASS_CLEAR_BINS`` of the bass's partials
    (multiples of its strongest low partial up to ``BASS_CLEAR_MAX_HZ``)."""
    df = fk[1] - fk[0]
    F = f0.size
    mask = np.zeros((F, fk.size), dtype=bool)
    kmax = int(min(VOICE_MAX_HZ, fk[-1]) / df)
    for t in np.nonzero(np.isfinite(f0))[0]:
        h = np.arange(1, int(VOICE_MAX_HZ / f0[t]) + 1)
        fh = h * f0[t]
        w = np.maximum(COMB_REL * fh, COMB_MIN_BINS * df)
        lo = np.clip(np.ceil((fh - w) / df).astype(int), 0, kmax)
        hi = np.clip(np.floor((fh + w) / df).astype(int) + 1, 0, kmax)
        for a, b in zip(lo, hi):
            mask[t, a:b] = True
        fb = f_bass[t] if t < f_bass.size else np.nan
        if np.isfinite(fb):
            kb = np.round(np.arange(1, int(BASS_CLEAR_MAX_HZ / fb) + 1) * fb / df).astype(int)
            for kk in kb:
                mask[t, max(kk - BASS_CLEAR_BINS, 0):kk + BASS_CLEAR_BINS + 1] = False
    mask[:, fk < 150.0] = False
    return mask


def _voice_track(d: np.ndarray, fs: int):
    """The voice detector of :mod:`mixes.balance` on ``d`` brought to ``NOMINAL_LUFS``: its
    per-frame record when a vocal with a vibrato of ``VIBRATO_HZ`` is found, else None."""
    from mixes.balance import measure_balance
    from mixes.loudness import loudness
    if not float(np.max(np.abs(d), initial=0.0)) > 0:
        return None
    lufs = loudness(d, fs=fs).integrated_lufs
    if not math.isfinite(lufs):
        return None
    bal = measure_balance(d * 10.0 ** ((NOMINAL_LUFS - lufs) / 20.0), fs=fs, integrated_lufs=NOMINAL_LUFS)
    # the difference is clean: a moved bass alone (its note changes, slides) can pass the
    # detector's common-FM path; a voice in it shows a vibrato (4-8 Hz) as well
    ok = bal.vocal_found and VIBRATO_HZ[0] <= bal.vibrato_hz <= VIBRATO_HZ[1]
    return bal.frames if ok else None
