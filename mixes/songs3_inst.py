"""Pitched instruments for :mod:`mixes.songs3`: basses and chord instruments.

Each renderer returns a mono note (1-D float64, peak about 1) from its parameters alone, so
notes are cached and a repeated note costs nothing (``lru_cache``; the arrays are read-only).

* ``picked`` string (bass and guitar): additive partials with the pluck position's comb
  (``sin(pi k beta) / k``), stiff-string inharmonicity ``f_k = k f0 sqrt(1 + B k^2)`` and
  per-partial decay that shortens with frequency (``tau_k = tau / (1 + c k^2)``); damped at
  note-off.
* ``sub`` bass: a sine line with glides (rendered as a line, see :func:`sub_line`).
* ``808`` bass: a sine whose pitch drops from up to an octave above onto the note in ~40 ms,
  long decay, soft saturation; ``fm`` variant: a 1:1 FM growl whose index decays.
* ``saw`` bass and pads/plucks: PolyBLEP sawtooth (Välimäki 2007), low-passed; the filter
  "envelope" is a crossfade from a bright to a dark filtering.
* ``epiano``: two-operator FM (Chowning 1973) 1:1 body with a decaying index plus a 14:1 "tine"
  transient; ``organ``: additive drawbars.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy import signal


def hz(midi: float) -> float:
    """Equal-tempered frequency (Hz) of a MIDI note (A4 = 69 = 440 Hz)."""
    return 440.0 * 2.0 ** ((midi - 69.0) / 12.0)


def _ro(x: np.ndarray) -> np.ndarray:
    x.setflags(write=False)
    return x


def polyblep_saw(freq_hz: np.ndarray | float, n: int, fs: int, phase0: float = 0.0) -> np.ndarray:
    """Band-limited sawtooth in [-1, 1] (PolyBLEP residual at each wrap)."""
    dt = np.broadcast_to(np.asarray(freq_hz, float) / fs, (n,))
    p = (phase0 + np.cumsum(dt)) % 1.0
    y = 2.0 * p - 1.0
    a = p < dt
    u = p[a] / dt[a]
    y[a] -= u + u - u * u - 1.0
    b = p > 1.0 - dt
    u = (p[b] - 1.0) / dt[b]
    y[b] -= u * u + u + u + 1.0
    return y


@lru_cache(maxsize=32)
def _lp(fc_hz: float, fs: int, order: int = 2) -> np.ndarray:
    return signal.butter(order, min(fc_hz, 0.45 * fs) / (fs / 2.0), output="sos")


@lru_cache(maxsize=512)
def picked(midi: int, n: int, fs: int, beta: float, tau_s: float, bright: float, damp_s: float = 0.03,
           max_hz: float = 5000.0, attack_s: float = 0.002) -> np.ndarray:
    """A plucked string of ``n`` samples (the last ``damp_s`` damped to silence).

    ``beta`` pluck position (fraction of the string), ``tau_s`` decay of the fundamental (s),
    ``bright`` 0-1 (slope of the partials' amplitudes and decays), ``attack_s`` the pick's or
    finger's release time (s: ~1 ms pick, ~5 ms finger).
    """
    f0 = hz(midi)
    n_k = int(min(28, max_hz / f0))
    inh = 1e-4 if midi < 50 else 3e-5
    t = np.arange(n, dtype=np.float32) / np.float32(fs)
    y = np.zeros(n, dtype=np.float32)
    for k in range(1, n_k + 1):
        fk = k * f0 * np.sqrt(1.0 + inh * k * k)
        if fk >= 0.45 * fs:
            break
        amp = abs(np.sin(np.pi * k * beta)) / k ** (1.3 - 0.5 * bright)
        tauk = tau_s / (1.0 + (0.02 - 0.015 * bright) * k * k)
        m = min(n, int(7.0 * tauk * fs))                    # to -60 dB, then nothing
        tt = t[:m]
        y[:m] += np.float32(amp) * np.exp(tt * np.float32(-1.0 / tauk)) * np.sin(tt * np.float32(2 * np.pi * fk))
    y = y.astype(np.float64)
    y *= np.minimum(t / attack_s, 1.0)
    nd = min(int(damp_s * fs), n)
    if nd:
        y[n - nd:] *= np.cos(0.5 * np.pi * np.arange(nd) / nd) ** 2
    return _ro(y / (np.max(np.abs(y)) + 1e-12))


@lru_cache(maxsize=256)
def bass808(midi: int, n: int, fs: int, drop_st: float, tau_s: float, drive: float, fm: bool) -> np.ndarray:
    """808-style sine bass with a pitch drop (or a decaying-index FM growl when ``fm``)."""
    t = np.arange(n) / fs
    f = hz(midi) * 2.0 ** (drop_st * np.exp(-t / 0.04) / 12.0)
    ph = 2 * np.pi * np.cumsum(f) / fs
    if fm:
        y = np.sin(ph + (0.6 + 2.4 * np.exp(-t / 0.12)) * np.sin(ph))
    else:
        y = np.sin(ph)
    y = np.tanh(drive * y) / np.tanh(drive)
    env = np.exp(-t / tau_s) * np.minimum(t / 0.003, 1.0)
    nd = min(int(0.03 * fs), n)
    env[n - nd:] *= np.linspace(1.0, 0.0, nd)
    return _ro(y * env)


@lru_cache(maxsize=256)
def saw_note(midi: int, n: int, fs: int, fc_hz: float, env_s: float, detune_ct: float, attack_s: float,
             release_s: float, decay_s: float = 0.0) -> np.ndarray:
    """Two detuned PolyBLEP saws, low-passed with a bright-to-dark filter crossfade."""
    f = hz(midi)
    y = polyblep_saw(f * 2 ** (detune_ct / 1200), n, fs) + polyblep_saw(f * 2 ** (-detune_ct / 1200), n, fs, 0.37)
    dark = signal.sosfilt(_lp(fc_hz, fs), y)
    t = np.arange(n) / fs
    if env_s > 0:
        bright = signal.sosfilt(_lp(min(4 * fc_hz, 9000.0), fs), y)
        y = dark + (bright - dark) * np.exp(-t / env_s)
    else:
        y = dark
    env = np.minimum(t / max(attack_s, 1e-3), 1.0)
    if decay_s > 0:
        env *= np.exp(-t / decay_s)
    nr = min(int(release_s * fs), n)
    env[n - nr:] *= np.linspace(1.0, 0.0, nr) ** 2
    return _ro(y * env / 2.0)


def sub_line(fs: int, n_samples: int, notes: list[tuple], glide_s: float) -> np.ndarray:
    """A sine bass line (plus a little 2nd harmonic) that glides between touching notes.

    ``notes``: ``(start_s, end_s, midi, velocity)``.
    """
    st = np.full(n_samples, np.nan)
    env = np.zeros(n_samples)
    prev = None
    for (t0, t1, mid, vel) in notes:
        i0, i1 = int(t0 * fs), min(int(t1 * fs), n_samples)
        if i1 <= i0:
            continue
        p = np.full(i1 - i0, float(mid))
        if prev is not None and abs(prev[0] - t0) < 0.02 and prev[1] != mid:
            g = min(int(glide_s * fs), i1 - i0)
            p[:g] = prev[1] + (mid - prev[1]) * np.arange(g) / max(g, 1)
        st[i0:i1] = p
        e = np.full(i1 - i0, vel)
        a, r = min(int(0.006 * fs), i1 - i0), min(int(0.02 * fs), i1 - i0)
        if prev is None or abs(prev[0] - t0) >= 0.02:
            e[:a] *= np.linspace(0, 1, a)
        e[-r:] *= np.linspace(1, 0, r) if not any(abs(q[0] - t1) < 0.02 for q in notes) else 1.0
        env[i0:i1] = e
        prev = (t1, mid)
    idx = np.where(~np.isnan(st), np.arange(n_samples), 0)
    np.maximum.accumulate(idx, out=idx)
    st = st[idx]
    st[np.isnan(st)] = 40.0
    ph = 2 * np.pi * np.cumsum(440.0 * 2 ** ((st - 69) / 12)) / fs
    return (np.sin(ph) + 0.12 * np.sin(2 * ph)) * env


@lru_cache(maxsize=512)
def epiano(midi: int, n: int, fs: int, vel: float, bright: float) -> np.ndarray:
    """FM electric piano: 1:1 body with decaying index plus a 14:1 tine transient, damper at the end."""
    f = hz(midi)
    t = np.arange(n) / fs
    w = 2 * np.pi * f * t
    idx = (0.4 + 1.6 * vel * bright) * np.exp(-t / 0.35)
    body = np.sin(w + idx * np.sin(w))
    tine = np.sin(w + 0.6 * np.sin(14.0 * w)) * np.exp(-t / 0.03) * (0.3 * vel) if 14 * f < 0.4 * fs else 0.0
    y = (body + tine) * np.exp(-t / (1.6 * np.sqrt(262.0 / f))) * np.minimum(t / 0.002, 1.0)
    nd = min(int(0.08 * fs), n)
    y[n - nd:] *= np.linspace(1.0, 0.0, nd) ** 2
    return _ro(y * vel)


@lru_cache(maxsize=256)
def organ(midi: int, n: int, fs: int, drawbars: tuple) -> np.ndarray:
    """Additive tonewheel organ (footages 16', 8', 5 1/3', 4', 2 2/3', 2') with key click."""
    f = hz(midi)
    t = np.arange(n) / fs
    y = np.zeros(n)
    for ratio, lv in zip((0.5, 1.0, 1.5, 2.0, 3.0, 4.0), drawbars):
        if lv > 0 and ratio * f < 0.45 * fs:
            y += lv * np.sin(2 * np.pi * ratio * f * t)
    a, r = min(int(0.005 * fs), n), min(int(0.02 * fs), n)
    y[:a] *= np.linspace(0, 1, a)
    y[n - r:] *= np.linspace(1, 0, r)
    return _ro(y / max(sum(drawbars), 1e-9))


def strum(fs: int, notes: tuple, n: int, *, down: bool, vel: float, spread_s: float, tau_s: float,
          bright: float) -> np.ndarray:
    """A strum: the chord's strings plucked one after another (low to high when ``down``)."""
    order = list(notes) if down else list(notes)[::-1]
    out = np.zeros(n)
    for j, mid in enumerate(order):
        d = int(j * spread_s * fs)
        if d >= n - 64:
            break
        x = picked(int(mid), n - d, fs, 0.13, tau_s, bright, 0.04, 6000.0)     # cached per length
        out[d:] += x * vel * (0.85 + 0.15 * (j % 2))
    return out
