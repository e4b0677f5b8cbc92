"""The files' own pitch tracks, aligned to the null test's frames (:mod:`mixes.balance_null`).

When the voice detector finds no voice in the difference ``d`` but a file found the vocal, the
null test used to read 0 dB ("the vocal did not move").  A voice the detector could not follow
in ``d`` (short notes, a straight tone, a bass moved +5 dB beside it) then read 0 dB where it
had moved -5.8 dB (songs4 804 funk, 20 s) or -2.5 dB (906 folk, 30 s): a confident wrong
figure.  The balance analysis of each file already tracked the pitch of its centred source
(:class:`mixes.vocal_frames.VoiceFrames` ``f0_hz``, on the same frame grid as the null test's
STFT: hop ``nfft / 4``, frame ``j`` centred at ``j`` hops); shifted by where the aligned
overlap starts in each file, it tells where the voice's comb lies in ``d`` (the mix's track
first, the reference's where the mix has none).  The null test then reads the comb figure
over it as for a voice found in ``d``, and 0 dB only when that comb holds too little of ``d``.
"""

from __future__ import annotations

import math

import numpy as np

from mixes.balance_null_stft import _overlap_starts

__all__ = ["aligned_file_track"]


def _one(f0_hz, hop_s: float, start_samples: int, n_file: int, fs: int, hop: int, n_frames: int) -> np.ndarray | None:
    """One file's track on the null test's frames, or None when the grids differ (another hop,
    or a long file analysed in excerpts)."""
    if f0_hz is None or not math.isfinite(hop_s) or abs(hop_s * fs - hop) > 0.5:
        return None
    f0 = np.asarray(f0_hz, dtype=np.float64)
    # the file analysed whole: one frame per hop (excerpted long files have fewer)
    if abs(f0.size - n_file / hop) > 3:
        return None
    shift = int(round(start_samples / hop))
    out = np.full(n_frames, np.nan)
    j = np.arange(n_frames) + shift
    ok = (j >= 0) & (j < f0.size)
    out[ok] = f0[j[ok]]
    return out


def aligned_file_track(tracks, *, lag_samples: int, n_mix: int, n_ref: int, fs: int, hop: int,
                       n_frames: int) -> np.ndarray | None:
    """The files' pitch track (Hz per null-test frame, NaN where neither tracked a pitch).

    Parameters
    ----------
    tracks : tuple
        ``(f0_mix_hz, f0_ref_hz, hop_s)``: the two files' ``VoiceFrames.f0_hz`` (either may be
        None) and their frame hop (s).
    lag_samples, n_mix, n_ref, fs : int
        The gate's lag and the two files' lengths (samples), the sample rate (Hz).
    hop, n_frames : int
        The null test's STFT hop (samples) and frame count.

    Returns
    -------
    ndarray or None
        None when neither file's track can be aligned or none holds a pitch.
    """
    if tracks is None:
        return None
    f0_m, f0_r, hop_s = tracks
    i0, j0, n = _overlap_starts(n_mix, n_ref, lag_samples, fs)
    if n <= 0:
        return None
    a = _one(f0_m, hop_s, i0, n_mix, fs, hop, n_frames)
    b = _one(f0_r, hop_s, j0, n_ref, fs, hop, n_frames)
    if a is None and b is None:
        return None
    out = a if a is not None else b
    if a is not None and b is not None:
        out = np.where(np.isfinite(a), a, b)
    return out if np.any(np.isfinite(out)) else None
