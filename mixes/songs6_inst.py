"""Instruments for :mod:`mixes.songs6`: modal (resonator-bank) and wavetable voices.

* :func:`modal_note` — a struck or plucked string, bar or tine as a bank of two-pole resonators
  excited by a short Hann pulse (its width sets the brightness: a soft hammer or the flesh of a
  thumb is wide, a pick narrow).  Per-partial frequencies (with stiffness inharmonicity),
  amplitudes (striking/plucking position) and decay times come from a *model* (:data:`MODELS`:
  piano with a detuned second string for beating and two-stage decay, vibraphone with motor
  tremolo, Rhodes-like tine, nylon guitar, upright bass with finger noise, flatwound electric
  bass, picked bass, synth pluck).  The note is released by a raised-cosine damper, so it starts
  from zero through the pulse and ends at zero: no step anywhere.
* :func:`table_note` — a sustained harmonic tone read from a band-limited single-cycle table
  along a continuous phase: bowed strings (vibrato, bow jitter in pitch and pressure), organ
  drawbars with a rotating speaker, reed harmonium, supersaw, soft pad, sub bass, drive guitar.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import butter, lfilter, sosfilt

from mixes.songs6_room import ramp


def hz(midi) -> np.ndarray:
    return 440.0 * 2 ** ((np.asarray(midi, float) - 69) / 12)


def _smooth_noise(n: int, fs: int, rate_hz: float, rng: np.random.Generator) -> np.ndarray:
    """Zero-mean noise low-passed to ``rate_hz`` (unit rms)."""
    if n <= 0:
        return np.zeros(0)
    a = np.exp(-2 * np.pi * rate_hz / fs)
    x = lfilter([1 - a], [1, -a], lfilter([1 - a], [1, -a], rng.standard_normal(n)))
    return x / (np.std(x) + 1e-12)


# ----------------------------------------------------------------------------- modal
def _model(name: str, f0: float, vel: float, rng: np.random.Generator):
    """(ratios, amps, taus_s, pulse_ms, release_s) for one note."""
    k = np.arange(1, 25, dtype=float)
    if name == "piano":
        B = 0.00025 * (f0 / 130.0) ** 0.5
        r = k * np.sqrt(1 + B * k * k)
        a = np.abs(np.sin(np.pi * k / 7.3)) / k ** 0.9
        t0 = float(np.clip(5.0 * (130.0 / f0) ** 0.6, 0.6, 9.0))
        tau = t0 / (1 + 0.3 * (k - 1))
        return r[:14], a[:14], tau[:14], 3.8 - 2.6 * vel, 0.12
    if name == "vibes":
        r = np.array([1.0, 3.98, 9.86, 2.0])
        a = np.array([1.0, 0.35 * vel, 0.12 * vel, 0.05])
        tau = np.array([3.0, 1.1, 0.35, 1.5])
        return r, a, tau, 2.5 - 1.2 * vel, 0.25
    if name == "tine":
        r = np.array([1.0, 2.0, 3.0, 7.1, 1.0015])
        a = np.array([1.0, 0.25, 0.08, 0.3 * vel, 0.3])
        tau = np.array([2.6, 1.3, 0.6, 0.25, 3.0])
        return r, a, tau, 3.0 - 1.5 * vel, 0.15
    if name == "nylon":
        p = rng.uniform(0.12, 0.28)
        r = k * np.sqrt(1 + 2e-5 * k * k)
        a = np.abs(np.sin(np.pi * k * p)) / k ** 1.1
        t0 = float(np.clip(2.2 * (110.0 / f0) ** 0.4, 0.5, 3.0))
        tau = t0 / (1 + 0.45 * (k - 1))
        return r[:16], a[:16], tau[:16], 2.2 - 0.8 * vel, 0.08
    if name == "upright":
        r = k * np.sqrt(1 + 6e-5 * k * k)
        a = np.abs(np.sin(np.pi * k * 0.21)) / k ** 0.8
        tau = 1.3 / (1 + 0.6 * (k - 1))
        return r[:10], a[:10], tau[:10], 4.5 - 1.0 * vel, 0.07
    if name == "flatwound":
        r = k
        a = 1.0 / k ** 1.6
        tau = 2.2 / (1 + 0.5 * (k - 1))
        return r[:8], a[:8], tau[:8], 3.5 - 1.0 * vel, 0.05
    if name == "picked":
        r = k * np.sqrt(1 + 4e-5 * k * k)
        a = np.abs(np.sin(np.pi * k * 0.12)) / k ** 0.7
        tau = 1.8 / (1 + 0.35 * (k - 1))
        return r[:16], a[:16], tau[:16], 1.0, 0.05
    if name == "pluck":                                  # synth pluck: a saw whose highs die first
        a = 1.0 / k
        tau = 0.7 / (1 + 0.5 * (k - 1))
        return k, a, tau, 0.8, 0.06
    raise ValueError(name)


def modal_note(model: str, midi: float, dur_s: float, vel: float, fs: int, rng: np.random.Generator) -> np.ndarray:
    """One note (mono) of ``dur_s`` plus its release; starts and ends at zero."""
    f0 = float(hz(midi))
    ratios, amps, taus, pulse_ms, rel = _model(model, f0, vel, rng)
    L = int((dur_s + rel) * fs) + 1
    w = max(3, int(pulse_ms * 1e-3 * fs))
    exc = np.zeros(L)
    exc[:w] = np.hanning(w + 2)[1:-1]
    exc[:w] /= exc[:w].sum()
    y = np.zeros(L)
    lim = 0.42 * fs
    for r, a, tau in zip(ratios, amps, taus):
        f = f0 * r
        if f >= min(lim, 16000.0):
            continue
        for det, share in ((0.0, 1.0),) if model != "piano" else ((0.0, 0.75), (rng.uniform(0.3, 1.2), 0.25)):
            om = 2 * np.pi * (f + det) / fs
            rr = np.exp(-1.0 / ((tau * (3.0 if det else 1.0)) * fs))
            y += lfilter([a * share * np.sin(om)], [1, -2 * rr * np.cos(om), rr * rr], exc)
    if model == "upright":                               # the finger on the string: a soft low thump
        m = int(0.025 * fs)
        th = lfilter([0.08], [1, -0.92], rng.standard_normal(m)) * np.hanning(m) * 0.35
        y[:m] += th
    if model == "vibes":                                 # motor tremolo
        t = np.arange(L) / fs
        y *= 1 - 0.3 * (0.5 - 0.5 * np.cos(2 * np.pi * 5.2 * t))
    peak = np.max(np.abs(y)) + 1e-12
    y *= vel / peak
    r = int(rel * fs)
    s = L - r
    y[s:] *= ramp(r)[::-1]
    return y


# ----------------------------------------------------------------------------- wavetable
def _table(amps: np.ndarray, size: int = 4096) -> np.ndarray:
    ph = np.arange(size) / size
    k = np.arange(1, len(amps) + 1)
    return (amps[:, None] * np.sin(2 * np.pi * k[:, None] * ph[None, :])).sum(axis=0)


def _read(table: np.ndarray, phase: np.ndarray) -> np.ndarray:
    n = table.size
    x = (phase % 1.0) * n
    i = np.floor(x).astype(int)
    f = x - i
    return table[i % n] * (1 - f) + table[(i + 1) % n] * f


SPECTRA = {
    "saw": lambda k: 1.0 / k,
    "bow": lambda k: (1.0 / k) * (1 + 0.6 * np.abs(np.sin(np.pi * k * 0.13))) / 1.6,
    "reed": lambda k: np.where(k % 2 == 1, 1.0, 0.55) / k ** 1.3,
    "soft": lambda k: 1.0 / k ** 2.2,
    "sub": lambda k: np.where(k == 1, 1.0, np.where(k == 2, 0.12, 0.0)),
    "organ": lambda k: np.select([k == 1, k == 2, k == 3, k == 4, k == 6, k == 8], [0.7, 1.0, 0.6, 0.7, 0.4, 0.35], 0.0),
}


def table_note(spectrum: str, midi: float, dur_s: float, vel: float, fs: int, rng: np.random.Generator, *,
               attack_s: float = 0.02, release_s: float = 0.15, vibrato: tuple = (0.0, 5.5, 0.3),
               jitter: float = 0.0, detune_cents: float = 0.0, max_hz: float = 9000.0) -> np.ndarray:
    """A sustained tone (mono): ``vibrato = (depth_semitones, rate_hz, delay_s)``, bow ``jitter``
    (relative pitch wander, plus 8x that as pressure wander)."""
    f0 = float(hz(midi)) * 2 ** (detune_cents / 1200)
    base = f0 / 2 if spectrum == "organ" else f0
    L = int((dur_s + release_s) * fs) + 1
    t = np.arange(L) / fs
    dev = np.zeros(L)
    depth, rate, delay = vibrato
    if depth > 0:
        on = np.clip((t - delay) / 0.4, 0, 1)
        dev += depth * on * np.sin(2 * np.pi * rate * t + rng.uniform(0, 2 * np.pi))
    amp = np.ones(L)
    if jitter > 0:
        dev += 12 * np.log2(1 + jitter * _smooth_noise(L, fs, 3.0, rng))
        amp *= 1 + 8 * jitter * _smooth_noise(L, fs, 5.0, rng)
    f = base * 2 ** (dev / 12)
    kmax = int(max(1, min(max_hz, 0.42 * fs) // (base * 2 ** (max(depth, 0) / 12 + 0.02))))
    k = np.arange(1, kmax + 1, dtype=float)
    top = min(max_hz, 0.42 * fs)
    taper = np.cos(0.5 * np.pi * np.clip(k * base / top, 0, 1)) ** 2     # no Gibbs-sharp edges at the band limit
    tab = _table(np.asarray(SPECTRA[spectrum](k), float) * taper)
    tab /= np.max(np.abs(tab)) + 1e-12
    ph = rng.uniform(0, 1) + np.cumsum(f) / fs
    y = _read(tab, ph) * amp * vel
    a = max(2, int(attack_s * fs))
    r = max(2, int(release_s * fs))
    env = np.ones(L)
    env[:a] = ramp(a) if a < L else ramp(L)[:a]
    env[L - r:] *= ramp(r)[::-1]
    return y * env


def add(track: np.ndarray, start_s: float, sig: np.ndarray, fs: int, gain: float = 1.0) -> None:
    """Add ``sig`` into ``track`` (mono) at ``start_s`` (clipped to the track)."""
    i = int(round(start_s * fs))
    if i >= track.size or i + sig.size <= 0:
        return
    a = max(0, -i)
    b = min(sig.size, track.size - i)
    track[i + a:i + b] += gain * sig[a:b]


def pan(x: np.ndarray, p: float) -> np.ndarray:
    """Constant-power pan of a mono signal, ``p`` in [-1, 1]."""
    th = (p + 1) * np.pi / 4
    return np.stack([np.cos(th) * x, np.sin(th) * x])


def peaking(x: np.ndarray, f0: float, gain_db: float, q: float, fs: int) -> np.ndarray:
    """An RBJ peaking biquad (along the last axis)."""
    A = 10 ** (gain_db / 40)
    w = 2 * np.pi * f0 / fs
    al = np.sin(w) / (2 * q)
    b = np.array([1 + al * A, -2 * np.cos(w), 1 - al * A])
    a = np.array([1 + al / A, -2 * np.cos(w), 1 - al / A])
    return lfilter(b / a[0], a / a[0], x, axis=-1)


def drive(x: np.ndarray, amount: float, fs: int, cab_hz: float = 4500.0) -> np.ndarray:
    """Amp distortion and a cabinet (tanh, then two low-passes and a presence dip)."""
    pk = np.max(np.abs(x)) + 1e-12
    y = np.tanh(amount * x / pk) / np.tanh(amount)
    y = sosfilt(butter(4, min(cab_hz, 0.3 * fs), "low", fs=fs, output="sos"), y, axis=-1)
    y = sosfilt(butter(1, 90.0, "high", fs=fs, output="sos"), y, axis=-1)
    return peaking(y, 1800.0, -3.0, 1.0, fs) * pk
