"""Test material for the null test (:mod:`mixes.balance_null`): what a mastering chain does to
one side of a same-song pair, and a singer without vibrato.

- :func:`lookahead_limiter`: a look-ahead peak limiter (the louder master of a revision): the
  programme driven ``drive_db`` above its own peak into a ``ceiling_db`` ceiling; the gain
  reduction needed per sample is held over the look-ahead, released exponentially (in dB) and
  ramped in over the look-ahead, so it is never less than needed (no overs) and smooth.
- :func:`bus_compressor`: an RMS bus compressor (stereo-linked, ``ratio`` 2:1-4:1, attack and
  release on the detector), its threshold ``drive_db`` under the programme's RMS level, make-up
  gain restoring the level.
- :func:`straight_voice`: a centred singing-like voice with formants (vowels per note), legato
  pitch steps (a 60-ms glide between notes) and no vibrato at all: the straight tone of an
  early-music singer, a choir boy or a vocoder-free pop "flat" delivery.

All are written here for the tests and benchmarks (no code from elsewhere).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage, signal

__all__ = ["lookahead_limiter", "bus_compressor", "straight_voice"]


def _decay_max(a: np.ndarray, k: float) -> np.ndarray:
    """``y[n] = max(a[n], k y[n-1])`` for ``a >= 0``, ``0 < k < 1``, without a loop: in logs
    ``log y[n] = n log k + max_{j <= n} (log a[j] - j log k)``."""
    lk = math.log(k)
    j = np.arange(a.size, dtype=np.float64)
    la = np.log(np.maximum(a, 1e-12)) - j * lk
    return np.exp(np.maximum.accumulate(la) + j * lk)


def lookahead_limiter(x: np.ndarray, fs: int, *, drive_db: float, ceiling_db: float = -1.0,
                      lookahead_s: float = 0.005, release_s: float = 0.15) -> np.ndarray:
    """A look-ahead peak limiter, stereo-linked.

    Parameters
    ----------
    x : ndarray, shape (n_channels, n_samples)
    fs : int
        Sample rate (Hz).
    drive_db : float
        The programme is brought to its peak at ``ceiling_db`` and then ``drive_db`` louder:
        the loudest peak is reduced by ``drive_db`` (dB).
    ceiling_db : float
        Output ceiling (dBFS, sample peak).
    lookahead_s, release_s : float
        Look-ahead (= attack ramp, s) and release time constant of the gain reduction (s).

    Returns
    -------
    ndarray
        The limited programme (same shape), peaks <= ``ceiling_db``.
    """
    x = np.asarray(x, dtype=np.float64)
    ceil = 10.0 ** (ceiling_db / 20.0)
    pk = float(np.max(np.abs(x)))
    if pk <= 0:
        return x.copy()
    y = x * (ceil / pk) * 10.0 ** (drive_db / 20.0)
    peak = np.max(np.abs(y), axis=0)
    att = np.maximum(20.0 * np.log10(np.maximum(peak, 1e-12) / ceil), 0.0)       # dB needed
    half = max(1, int(round(lookahead_s * fs / 2)))
    att = ndimage.maximum_filter1d(att, 2 * half + 1, mode="nearest")           # held
    att = _decay_max(att, math.exp(-1.0 / (release_s * fs)))                    # released
    att = ndimage.uniform_filter1d(att, 2 * half + 1, mode="nearest")           # ramped in
    # the box mean of a value held over the same span never falls under what was needed
    g = 10.0 ** (-att / 20.0)
    out = y * g
    return np.clip(out, -ceil, ceil)          # float rounding only: the gain already holds it


def bus_compressor(x: np.ndarray, fs: int, *, drive_db: float, ratio: float = 3.0,
                   attack_s: float = 0.010, release_s: float = 0.150,
                   block: int = 32) -> np.ndarray:
    """An RMS bus compressor, stereo-linked, hard knee, with make-up gain.

    Parameters
    ----------
    x : ndarray, shape (n_channels, n_samples)
    fs : int
        Sample rate (Hz).
    drive_db : float
        The threshold sits this far under the programme's RMS level (dB) over its loud half.
    ratio : float
        Compression ratio above the threshold (2-4 for a bus).
    attack_s, release_s : float
        Time constants of the RMS detector rising / falling (s).
    block : int
        The detector runs per block of this many samples (the gain is interpolated between).

    Returns
    -------
    ndarray
        The compressed programme, brought back to the input's RMS level.
    """
    x = np.asarray(x, dtype=np.float64)
    p = np.mean(x ** 2, axis=0)
    nb = p.size // block
    if nb < 2:
        return x.copy()
    pb = p[:nb * block].reshape(nb, block).mean(axis=1)
    ka = math.exp(-block / (attack_s * fs))
    kr = math.exp(-block / (release_s * fs))
    env = np.empty(nb)
    e = pb[0]
    for i in range(nb):                      # the detector (block rate: ~50 k steps a minute)
        k = ka if pb[i] > e else kr
        e = k * e + (1.0 - k) * pb[i]
        env[i] = e
    lev_db = 10.0 * np.log10(np.maximum(env, 1e-20))
    loud = lev_db[lev_db >= np.median(lev_db)]
    thr = 10.0 * math.log10(float(np.mean(10.0 ** (loud / 10.0)))) - drive_db
    gr_db = np.where(lev_db > thr, (lev_db - thr) * (1.0 - 1.0 / ratio), 0.0)
    tb = (np.arange(nb) + 0.5) * block
    g = 10.0 ** (-np.interp(np.arange(p.size), tb, gr_db) / 20.0)
    y = x * g
    return y * math.sqrt(float(np.mean(x ** 2)) / max(float(np.mean(y ** 2)), 1e-30))


def straight_voice(n_samples: int, fs: int, *, seed: int, f0_range_hz=(180.0, 400.0),
                   note_s: float = 0.6, level: float = 0.2) -> np.ndarray:
    """A centred singing-like voice without vibrato: stereo (2, n).

    Notes of ``note_s`` on a scale within ``f0_range_hz``, joined legato (60-ms glides), phrases
    of 3-6 notes with rests between, a vowel per note (two formants, 80-150 Hz wide, over 20
    partials with a -6 dB/octave source), a soft onset and release per phrase and a little
    breath noise shaped by the same formants.  No vibrato, no jitter beyond 0.1 %."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_samples) / fs
    lo, hi = f0_range_hz
    scale = lo * 2.0 ** (np.array([0, 2, 4, 5, 7, 9, 11, 12, 14, 16]) / 12.0)
    scale = scale[scale <= hi]
    n_notes = int(math.ceil(n_samples / (note_s * fs))) + 1
    notes = rng.choice(scale, size=n_notes)
    idx = np.minimum((t / note_s).astype(int), n_notes - 1)
    f0 = notes[idx]
    # legato: a 60-ms glide into each note
    glide = max(1, int(0.06 * fs))
    f0 = np.exp(ndimage.uniform_filter1d(np.log(f0), glide, mode="nearest"))
    f0 = f0 * (1.0 + 0.001 * ndimage.uniform_filter1d(rng.standard_normal(n_samples), int(0.05 * fs)))
    ph = 2 * np.pi * np.cumsum(f0) / fs
    # phrases: 3-6 notes sung, 1-2 notes rest
    env = np.zeros(n_samples)
    i = 0
    while i < n_notes:
        k = int(rng.integers(3, 7))
        a, b = int(i * note_s * fs), min(int((i + k) * note_s * fs), n_samples)
        if a < b:
            w = np.ones(b - a)
            r = min(int(0.08 * fs), (b - a) // 2)
            w[:r] = np.linspace(0, 1, r) ** 2
            w[-r:] = np.linspace(1, 0, r) ** 2
            env[a:b] = w
        i += k + int(rng.integers(1, 3))
    vowels = [(300, 2300), (400, 2000), (600, 1700), (700, 1200), (500, 900), (350, 1800)]
    vi = rng.integers(0, len(vowels), size=n_notes)
    F1 = ndimage.uniform_filter1d(np.array([vowels[j][0] for j in vi], float)[idx], glide, mode="nearest")
    F2 = ndimage.uniform_filter1d(np.array([vowels[j][1] for j in vi], float)[idx], glide, mode="nearest")
    v = np.zeros(n_samples)
    for h in range(1, 21):
        fh = h * f0
        amp = (1.0 / h) * (0.15 + np.exp(-((fh - F1) / 120.0) ** 2) + 0.6 * np.exp(-((fh - F2) / 150.0) ** 2))
        amp = np.where(fh < 0.45 * fs, amp, 0.0)
        v += amp * np.sin(h * ph)
    b, a = signal.butter(2, [800 / (fs / 2), 4000 / (fs / 2)], btype="band")
    breath = signal.lfilter(b, a, rng.standard_normal(n_samples)) * 0.02
    v = (v + breath) * env * level
    return np.stack([v, v])
