"""Test material of a third kind for the artifact detectors: a dense rock mix and a sparse ballad.

Neither :mod:`mixes.songs` nor :mod:`mixes.songs_alt`: other instruments, other levels, other
densities, so the detectors in :mod:`mixes.artifacts` are not tuned to one generator only.

* :func:`dense_rock` - double-tracked overdriven power chords (left/right different takes), a
  saw bass, kick, snare, 8th-note hi-hats and a crash on every bar, through a soft bus
  clipper to about -1 dBFS peak: bright and loud all the time.
* :func:`sparse_ballad` - a piano-like voice (inharmonic partials with decay) playing a few
  notes with gaps, a soft pad, a diffuse reverb tail; about -30 dBFS RMS.

Every sound starts with a short raised-cosine attack (>= 0.3 ms) and ends with a release: the
material itself holds no one-sample jump (which would be an artifact of its own).
"""

from __future__ import annotations

import numpy as np
from scipy import signal

__all__ = ["dense_rock", "sparse_ballad"]


def _attack(n: int, fs: int, attack_s: float, release_s: float = 0.03) -> np.ndarray:
    """Raised-cosine attack and release (every sound starts and ends smoothly)."""
    env = np.ones(n)
    for dur, rev in ((attack_s, False), (release_s, True)):
        a = max(int(dur * fs), 2)
        k = min(a, n)
        ramp = 0.5 - 0.5 * np.cos(np.pi * np.arange(k) / a)
        if rev:
            env[n - k:] *= ramp[::-1]
        else:
            env[:k] *= ramp
    return env


def _add(dst: np.ndarray, src: np.ndarray, at: int) -> None:
    n = min(src.size, dst.size - at)
    if n > 0:
        dst[at: at + n] += src[:n]


def _saw(f0: float, n: int, fs: int, rng: np.random.Generator) -> np.ndarray:
    """Band-limited sawtooth (additive: 40 harmonics at most, below 0.45 fs)."""
    t = np.arange(n) / fs
    out = np.zeros(n)
    ph = rng.uniform(0, 2 * np.pi)
    for k in range(1, min(int(0.45 * fs / f0), 40) + 1):
        out += np.sin(2 * np.pi * k * f0 * t + k * ph) / k
    return out


def dense_rock(seed: int, *, duration_s: float = 20.0, fs: int = 48_000) -> np.ndarray:
    """A loud, bright, dense rock mix (2, n), peak about -1 dBFS."""
    rng = np.random.default_rng(seed)
    n = int(duration_s * fs)
    x = np.zeros((2, n))
    bpm = rng.uniform(120, 150)
    beat = int(60 / bpm * fs)
    root = 82.41 * 2 ** (rng.integers(0, 7) / 12)          # E2 .. B2
    prog = [0, 5, 3, 7]
    bar = 4 * beat
    hp = signal.butter(2, 6000, "highpass", fs=fs, output="sos")
    hp_crash = signal.butter(2, 4000, "highpass", fs=fs, output="sos")
    lp_gtr = signal.butter(2, 4500, "lowpass", fs=fs, output="sos")
    for b0 in range(0, n, bar):
        f = root * 2 ** (prog[(b0 // bar) % 4] / 12)
        m = min(bar, n - b0)
        for c in range(2):                                   # two takes, hard left and right
            g = _saw(2 * f, m, fs, rng) + _saw(3 * f * 1.001, m, fs, rng)
            g = np.tanh(4 * g * (1 + 0.1 * rng.standard_normal()))
            g = signal.sosfilt(lp_gtr, g) * _attack(m, fs, 0.003)
            _add(x[c], 0.18 * g, b0)
        bass = signal.sosfilt(signal.butter(2, 600, "lowpass", fs=fs, output="sos"), _saw(f, m, fs, rng))
        bass *= _attack(m, fs, 0.002)
        _add(x[0], 0.25 * bass, b0)
        _add(x[1], 0.25 * bass, b0)
        crash = signal.sosfilt(hp_crash, rng.standard_normal(int(1.5 * fs)))
        crash *= np.exp(-np.arange(crash.size) / (0.6 * fs)) * _attack(crash.size, fs, 0.001)
        _add(x[0], 0.10 * crash, b0)
        _add(x[1], 0.08 * crash, b0)
    for k0 in range(0, n, beat // 2):                        # 8th-note hats, kick and snare
        i = k0 // (beat // 2)
        hat = signal.sosfilt(hp, rng.standard_normal(int(0.05 * fs)))
        hat *= np.exp(-np.arange(hat.size) / (0.012 * fs)) * _attack(hat.size, fs, 0.0003)
        _add(x[1], 0.12 * hat, k0)
        _add(x[0], 0.06 * hat, k0)
        if i % 4 == 0:
            m = int(0.3 * fs)
            t = np.arange(m) / fs
            kick = np.sin(2 * np.pi * (50 * t + 60 * (1 - np.exp(-t / 0.03)) * 0.03)) * np.exp(-t / 0.12)
            kick *= _attack(m, fs, 0.001)
            _add(x[0], 0.5 * kick, k0)
            _add(x[1], 0.5 * kick, k0)
        if i % 4 == 2:
            m = int(0.2 * fs)
            t = np.arange(m) / fs
            sn = (0.6 * rng.standard_normal(m) + np.sin(2 * np.pi * 190 * t)) * np.exp(-t / 0.05)
            sn *= _attack(m, fs, 0.0005)
            _add(x[0], 0.35 * sn, k0)
            _add(x[1], 0.35 * sn, k0)
    x = np.tanh(1.5 * x / np.abs(x).max()) / np.tanh(1.5)    # soft bus clipper
    return 0.89 * x


def sparse_ballad(seed: int, *, duration_s: float = 20.0, fs: int = 48_000) -> np.ndarray:
    """A quiet, sparse piano-like ballad with a pad and reverb (2, n), about -30 dBFS RMS."""
    rng = np.random.default_rng(seed)
    n = int(duration_s * fs)
    dry = np.zeros((2, n))
    key = 220.0 * 2 ** (rng.integers(0, 12) / 12)
    scale = [0, 2, 4, 5, 7, 9, 11, 12]
    t_s = 0.3
    while t_s < duration_s - 1.0:
        f0 = key * 2 ** (scale[rng.integers(0, 8)] / 12) * 2.0 ** rng.integers(-1, 1)
        m = int(rng.uniform(1.5, 3.0) * fs)
        t = np.arange(m) / fs
        note = np.zeros(m)
        for k in range(1, 12):
            fk = k * f0 * np.sqrt(1 + 0.0004 * k * k)          # piano-like inharmonicity
            if fk > 0.45 * fs:
                break
            note += np.sin(2 * np.pi * fk * t + rng.uniform(0, 2 * np.pi)) / k ** 1.3 * np.exp(-t * (0.8 + 0.6 * k))
        note *= _attack(m, fs, 0.004, 0.2)
        pan = rng.uniform(0.3, 0.7)
        at = int(t_s * fs)
        _add(dry[0], 0.08 * (1 - pan) * note, at)
        _add(dry[1], 0.08 * pan * note, at)
        t_s += rng.uniform(0.6, 2.5)                         # gaps between notes
    t = np.arange(n) / fs
    pad = sum(np.sin(2 * np.pi * key * r * t + rng.uniform(0, 6)) for r in (1.0, 1.26, 1.5))
    pad *= 0.004 * (1 + 0.3 * np.sin(2 * np.pi * 0.1 * t)) * _attack(n, fs, 0.5, 0.5)
    dry += pad
    m = int(1.8 * fs)
    out = np.empty_like(dry)
    for c in range(2):                                       # diffuse tail: decaying noise
        h = rng.standard_normal(m) * np.exp(-np.arange(m) / (0.35 * fs)) * 0.02
        h[0] = 1.0
        out[c] = signal.fftconvolve(dry[c], h)[:n]
    return out * (10 ** (-30 / 20) / np.sqrt(np.mean(out ** 2)))
