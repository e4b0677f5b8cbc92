"""The null test's time-frequency groundwork (:mod:`mixes.balance_null`): the lag between a mix and
its same-song reference, their aligned common stretch, and the Hann STFTs both are compared in.

Split out of :mod:`mixes.balance_null` (session 7) to keep that module under ~600 lines; the
method is described there.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.fft

MAX_LAG_S = 2.0               # the reference may start up to this much earlier or later
LAG_EXCERPT_S = 5.0           # the mix excerpt cross-correlated against the reference
MAX_NULL_S = 60.0             # at most this much of the overlap is analysed (the middle)


def _nfft(fs: int) -> int:
    """Twice the frame of :mod:`mixes.vocal_frames` (4096 at 48 kHz: 11.7-Hz bins)."""
    from mixes.vocal_frames import _nfft as vf_nfft
    return 2 * vf_nfft(fs)


def _stft(x: np.ndarray, nfft: int, hop: int, pad: int) -> np.ndarray:
    """Hann STFT of each channel, frames starting at ``j*hop - pad``: (ch, frames, bins), c64."""
    xp = np.pad(x, ((0, 0), (pad, nfft)))
    n_fr = 1 + (x.shape[1] + pad - nfft // 2) // hop if x.shape[1] > 0 else 0
    n_fr = max(1, min(n_fr, 1 + (xp.shape[1] - nfft) // hop))
    win = (np.hanning(nfft + 1)[:-1]).astype(np.float32)
    out = np.empty((x.shape[0], n_fr, nfft // 2 + 1), dtype=np.complex64)
    for c in range(x.shape[0]):
        v = np.lib.stride_tricks.sliding_window_view(xp[c].astype(np.float32), nfft)[::hop][:n_fr]
        for i in range(0, n_fr, 512):
            out[c, i:i + 512] = scipy.fft.rfft(v[i:i + 512] * win, axis=-1)
    return out


def _third_octave_edges(fs: int) -> np.ndarray:
    centres = 1000.0 * 2.0 ** (np.arange(-15, 14) / 3.0)          # 31.5 Hz .. 16 kHz
    centres = centres[centres * 2 ** (1 / 6) < 0.45 * fs]
    return np.stack([centres * 2 ** (-1 / 6), centres * 2 ** (1 / 6)], axis=1)


def _band_sum(p: np.ndarray, idx: list[np.ndarray]) -> np.ndarray:
    """(frames, bins) -> (frames, bands) sums over the bins of each band."""
    return np.stack([p[:, i].sum(axis=1) for i in idx], axis=1)


def _find_lag(m: np.ndarray, r: np.ndarray, fs: int) -> tuple[int, float]:
    """Integer lag of ``r`` against ``m`` (``r[n + lag] ~ m[n]``) and the normalised
    cross-correlation at it (signed), from a ``LAG_EXCERPT_S`` excerpt in the middle of the mix."""
    mm = m.sum(axis=0)
    rr = r.sum(axis=0)
    max_lag = int(MAX_LAG_S * fs)
    # an excerpt that leaves room for a lag either way (at least half the mix)
    L = min(int(LAG_EXCERPT_S * fs), max(mm.size - 2 * max_lag, mm.size // 2))
    s0 = max((mm.size - L) // 2, 0)
    e = mm[s0:s0 + L]
    lo = max(s0 - max_lag, 0)
    hi = min(s0 + L + max_lag, rr.size)
    seg = rr[lo:hi]
    if seg.size < L // 2 or not np.any(e):
        return 0, 0.0
    n = scipy.fft.next_fast_len(seg.size + L, real=True)
    xc = scipy.fft.irfft(scipy.fft.rfft(seg, n) * np.conj(scipy.fft.rfft(e, n)), n)[:seg.size]
    # the reference's energy in the window under each lag (sliding sum of squares)
    cs = np.concatenate([[0.0], np.cumsum(seg.astype(np.float64) ** 2)])
    k = np.arange(seg.size)
    k_end = np.minimum(k + L, seg.size)
    er = cs[k_end] - cs[k]
    # lags where the excerpt lies wholly inside the reference segment; lag = lo + k - s0
    valid = (k + L <= seg.size) & (np.abs(lo + k - s0) <= max_lag)
    if not np.any(valid):
        valid = np.abs(lo + k - s0) <= max_lag
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = xc / np.sqrt(float(np.dot(e, e)) * np.maximum(er, 1e-300))
    rho = np.where(valid, rho, 0.0)
    i = int(np.argmax(np.abs(rho)))
    return int(lo + i - s0), float(rho[i])


def _overlap_starts(n_m: int, n_r: int, lag: int, fs: int) -> tuple[int, int, int]:
    """Where the aligned common stretch starts in the mix and in the reference (samples) and
    its length (at most ``MAX_NULL_S``, from the middle; length <= 0 when none)."""
    i0 = max(0, -lag)
    j0 = i0 + lag
    n = min(n_m - i0, n_r - j0)
    cap = int(MAX_NULL_S * fs)
    if n > cap:
        off = (n - cap) // 2
        i0, j0, n = i0 + off, j0 + off, cap
    return i0, j0, n


def _overlap(m: np.ndarray, r: np.ndarray, lag: int, fs: int) -> tuple[np.ndarray, np.ndarray]:
    """The aligned common stretch (at most ``MAX_NULL_S``, from the middle)."""
    i0, j0, n = _overlap_starts(m.shape[1], r.shape[1], lag, fs)
    if n <= 0:
        return m[:, :0], r[:, :0]
    return m[:, i0:i0 + n], r[:, j0:j0 + n]


@dataclass
class _Spec:
    M: np.ndarray
    R: np.ndarray
    fk: np.ndarray
    fs: int
    nfft: int
    hop: int
    m: np.ndarray
    r: np.ndarray


def _spectra(m: np.ndarray, r: np.ndarray, fs: int) -> _Spec:
    nfft = _nfft(fs)
    hop = nfft // 4                      # = the hop of mixes.vocal_frames (its frame / 2)
    pad = nfft // 4                      # frame j centred where vocal_frames' frame j is
    M = _stft(m, nfft, hop, pad)
    R = _stft(r, nfft, hop, pad)
    return _Spec(M=M, R=R, fk=np.arange(nfft // 2 + 1) * fs / nfft, fs=fs, nfft=nfft, hop=hop, m=m, r=r)
