"""Instruments of :mod:`mixes.songs4`: physical and modal models rather than oscillators.

Every function returns a mono note (1-D float64, peak near 1 before the velocity) at ``fs``.

* :func:`pluck` — a Karplus-Strong string: the string's triangle shape at release plus pick
  noise (combed at the pluck position, low-passed for brightness) circulating in a delay loop with a two-point average (the string's
  frequency-dependent loss) and a first-order all-pass for the fractional part of the period,
  run as one IIR filter (``lfilter``) whose denominator is the loop; low notes are rendered at
  a lower rate and resampled.  Used for guitars, upright and electric bass, harp.
* :func:`tine` — a Rhodes-like electric piano: a decaying fundamental, a short inharmonic tine
  "ping" near 7x the pitch, and an asymmetric soft saturation that grows with velocity (the bark).
* :func:`drawbar_organ` — a Hammond-like tone wheel organ: sine drawbars at 16', 8', 5 1/3',
  4', 2 2/3', 2' footages and a soft key click (low-passed, 4 ms); :func:`leslie` rotates it.
* :func:`brass` — additive harmonics whose brightness follows the breath envelope (harmonic k
  weighted ``exp(-k / B(t))``), a lip "blip" at the onset, breath noise, delayed vibrato.
* :func:`bowed` — additive saw-like bowed string with vibrato, slow bow attack and bow noise.
* :func:`bass808` — a sine with a falling pitch attack and a glide from the previous note, soft
  clipped for audible harmonics.
* :func:`mallet` — modal bar (marimba/vibraphone ratios 1, 3.9, 9.2 / 1, 4, 10) with a
  strike envelope; :func:`piano` — partials with string inharmonicity ``f_k = k f0 sqrt(1+B k^2)``,
  two decay stages and a hammer thump.
* :func:`cabinet` — distortion and a guitar speaker cabinet (high-pass 90 Hz, a 400 Hz scoop,
  a 2.2 kHz presence peak, a steep low-pass near 5 kHz).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy import signal


def hz(midi: float) -> float:
    return 440.0 * 2.0 ** ((midi - 69.0) / 12.0)


def _smooth_env(m: int, fs: int, attack_s: float, release_s: float) -> np.ndarray:
    """1 inside, raised-cosine ramps at both ends (never a step)."""
    e = np.ones(m)
    a = min(max(int(attack_s * fs), 1), m // 2)
    r = min(max(int(release_s * fs), 1), m // 2)
    e[:a] = 0.5 - 0.5 * np.cos(np.pi * np.arange(a) / a)
    e[m - r:] = 0.5 + 0.5 * np.cos(np.pi * np.arange(r) / r)
    return e


@lru_cache(maxsize=512)
def _ks(f0_hz: float, m: int, fs: int, loss: float, bright: float, pos: float, seed: int, finger: bool) -> np.ndarray:
    rate = fs
    while rate > 6000 and rate / f0_hz > 260 and rate % 2 == 0:       # low notes at a lower rate
        rate //= 2
    mm = int(np.ceil(m * rate / fs)) + 8
    period = rate / f0_hz
    n_int = int(np.floor(period - 0.6))
    frac = period - n_int - 0.5
    c = (1.0 - frac) / (1.0 + frac)
    rng = np.random.default_rng(seed)
    p = max(int(pos * n_int), 1)
    ramp = np.concatenate([np.linspace(0, 1, p, endpoint=False), np.linspace(1, 0, n_int - p)])
    noise = rng.uniform(-1, 1, n_int)
    noise = noise - np.concatenate([np.zeros(p), noise[:-p]])          # combed at the pluck position
    # the string's triangle shape at release (harmonics ~ sin(k pi pos) / k^2) plus pick noise
    exc = (ramp - ramp.mean()) * 2.0 + (0.08 if finger else 0.25) * noise
    a_b = np.exp(-2 * np.pi * min(bright * 8000.0, 0.45 * rate) / rate)
    # 12 dB/octave, filtered as one period of a periodic signal (no start-up transient in the loop)
    exc = signal.lfilter([(1 - a_b) ** 2], [1, -2 * a_b, a_b * a_b], np.tile(exc, 4))[-n_int:]
    g = loss
    den = np.zeros(n_int + 3)
    den[0], den[1] = 1.0, c
    den[n_int] += -g * c / 2
    den[n_int + 1] += -g * (1 + c) / 2
    den[n_int + 2] += -g / 2
    # the loop starts full: its past output is the excitation, periodically (the delay line
    # holds the string's shape at release), so the first recirculation has no start-up step
    past = np.concatenate([exc[::-1], exc[::-1][:2]])
    zi = signal.lfiltic([1.0, c], den, past)
    y = signal.lfilter([1.0, c], den, np.zeros(mm), zi=zi)[0]
    if rate != fs:
        y = signal.resample_poly(y, fs // rate, 1)
    y = y[:m]
    return y / (np.max(np.abs(y)) + 1e-12)


def pluck(fs: int, midi: float, dur_s: float, *, decay_s: float = 2.0, bright: float = 0.5, pos: float = 0.2,
          seed: int = 0, release_s: float = 0.03, tone_hz: float | None = None) -> np.ndarray:
    """A Karplus-Strong string note (see module docstring); ``decay_s`` ~ the 60 dB time;
    the string starts from its triangle shape (harmonics ~ sin(k pi pos) / k^2) plus pick noise,
    low-passed (12 dB/octave) at ``bright * 8 kHz``; with ``tone_hz`` (a bass plucked with the finger) little
    noise and a low-pass at ``tone_hz``."""
    if tone_hz is not None:
        bright = tone_hz / 8000.0
    f0 = hz(midi)
    m = max(int(dur_s * fs), 16)
    per_loop = f0
    loss = float(np.clip(10 ** (-3.0 / (decay_s * per_loop)), 0.9, 0.99995))
    y = _ks(round(f0, 3), m, fs, round(loss, 6), round(bright, 3), round(pos, 3), int(seed) % 7, tone_hz is not None).copy()
    if y.size < m:
        y = np.concatenate([y, np.zeros(m - y.size)])
    return y * _smooth_env(m, fs, 0.0006 if tone_hz is not None else 0.0012, release_s)


def tine(fs: int, midi: float, dur_s: float, vel: float = 0.7, rng=None) -> np.ndarray:
    """A Rhodes-like note (see module docstring)."""
    f0 = hz(midi)
    m = max(int((dur_s + 0.25) * fs), 16)
    t = np.arange(m) / fs
    dec = 1.6 * (440.0 / f0) ** 0.35
    body = np.sin(2 * np.pi * f0 * t) * np.exp(-t / dec)
    body += 0.25 * np.sin(2 * np.pi * 2 * f0 * t + 0.3) * np.exp(-t / (0.6 * dec))
    ping = 0.35 * vel * np.sin(2 * np.pi * 7.13 * f0 * t) * np.exp(-t / 0.018) if 7.13 * f0 < 0.45 * fs else 0.0
    x = body + ping
    drive = 0.5 + 2.5 * vel
    y = np.tanh(drive * (x + 0.15)) - np.tanh(drive * 0.15)
    env = _smooth_env(m, fs, 0.002, 0.12)
    env[int(dur_s * fs):] *= np.exp(-np.arange(m - int(dur_s * fs)) / (0.05 * fs))
    return y / drive * env


def drawbar_organ(fs: int, midi: float, dur_s: float, bars=(6, 8, 4, 3, 0, 2), rng=None) -> np.ndarray:
    """A tone wheel organ note; ``bars`` = levels 0-8 of 16', 8', 5 1/3', 4', 2 2/3', 2'."""
    f0 = hz(midi)
    m = max(int(dur_s * fs), 16)
    t = np.arange(m) / fs
    x = np.zeros(m)
    for mult, lvl in zip((0.5, 1.0, 1.5, 2.0, 3.0, 4.0), bars):
        if lvl and mult * f0 < 0.45 * fs:
            x += 10 ** ((lvl - 8) * 3 / 20) * np.sin(2 * np.pi * mult * f0 * t + mult)
    x *= _smooth_env(m, fs, 0.004, 0.006)
    if rng is not None:
        k = int(0.004 * fs)
        click = rng.standard_normal(k) * np.hanning(k) * 0.08
        x[:k] += signal.lfilter(*signal.butter(2, 3000 / (fs / 2)), click)
    return x / 3.0


def leslie(x: np.ndarray, fs: int, rate_hz: float, depth_ms: float = 0.35) -> np.ndarray:
    """Mono ``x`` to ``(2, n)`` through a rotating speaker: Doppler (a modulated delay) and
    amplitude modulation, the two microphones 120 degrees apart."""
    n = x.size
    t = np.arange(n) / fs
    outs = []
    for ph in (0.0, 2.1):
        lfo = np.sin(2 * np.pi * rate_hz * t + ph)
        d = (1.0 + depth_ms * 1e-3 * fs * (1 + lfo))
        y = np.interp(np.arange(n) - d, np.arange(n), x, left=0.0)
        outs.append(y * (1.0 + 0.25 * lfo))
    return np.stack(outs)


def brass(fs: int, midi: float, dur_s: float, vel: float = 0.7, rng=None) -> np.ndarray:
    """A trumpet/trombone-like note (see module docstring)."""
    rng = rng or np.random.default_rng(0)
    f0 = hz(midi)
    m = max(int((dur_s + 0.08) * fs), 16)
    t = np.arange(m) / fs
    env = _smooth_env(m, fs, 0.03, 0.07)
    vib = 1 + 0.004 * np.sin(2 * np.pi * 5.2 * t) * np.clip((t - 0.3) / 0.3, 0, 1)
    blip = 1 + 0.02 * np.exp(-t / 0.02) * np.sin(2 * np.pi * 30 * t)
    ph = 2 * np.pi * np.cumsum(f0 * vib * blip) / fs
    bright = 2.0 + 9.0 * vel * np.minimum(1.0, t / 0.06) * (0.85 + 0.15 * env)
    x = np.zeros(m)
    kmax = int(min(30, 0.4 * fs / f0))
    for k in range(1, kmax + 1):
        x += np.exp(-k / bright) * np.sin(k * ph) / k ** 0.3
    noise = signal.lfilter(*signal.butter(2, [1500 / (fs / 2), 5000 / (fs / 2)], "band"), rng.standard_normal(m))
    x = x / (np.max(np.abs(x)) + 1e-12) + 0.02 * noise
    return x * env


def bowed(fs: int, midi: float, dur_s: float, vel: float = 0.6, rng=None, attack_s: float = 0.25) -> np.ndarray:
    """A bowed string note (see module docstring); ``rng`` is unused (the note's own random
    choices come from its pitch and length, so repeated notes are rendered once)."""
    return vel * _bowed(fs, float(midi), int(max(int((dur_s + 0.2) * fs), 16)), round(float(attack_s), 4)).copy()


@lru_cache(maxsize=256)
def _bowed(fs: int, midi: float, m: int, attack_s: float) -> np.ndarray:
    rng = np.random.default_rng([int(midi * 100), m % 100003, 5])
    f0 = hz(midi)
    rate = fs // 2 if fs >= 32000 and fs % 2 == 0 else fs
    mr = int(np.ceil(m * rate / fs))
    t = np.arange(mr) / rate
    vib_hz = rng.uniform(4.8, 6.2)
    vib = 1 + 0.003 * np.sin(2 * np.pi * vib_hz * t + rng.uniform(0, 6)) * np.clip(t / 0.6, 0, 1)
    ph = 2 * np.pi * np.cumsum(f0 * vib) / rate
    kmax = int(min(16, 0.4 * rate / f0))
    z = np.exp(1j * ph)
    zk = z.copy()
    acc = np.zeros(mr, complex)
    for k in range(1, kmax + 1):
        acc += zk * (np.exp(1j * rng.uniform(0, 6)) / k * (1.0 if k < 8 else 0.7))
        zk *= z
    x = acc.imag
    if rate != fs:
        x = signal.resample_poly(x, fs // rate, 1)[:m]
    x /= np.max(np.abs(x)) + 1e-12
    x += 0.01 * signal.lfilter(*signal.butter(2, [2000 / (fs / 2), 6000 / (fs / 2)], "band"), rng.standard_normal(m))
    return x * _smooth_env(m, fs, attack_s, 0.2)


def bass808(fs: int, midi: float, dur_s: float, prev_midi: float | None = None, glide_s: float = 0.06,
            drive: float = 1.5) -> np.ndarray:
    """An 808-style bass note with a glide from ``prev_midi`` (see module docstring)."""
    m = max(int(dur_s * fs), 16)
    t = np.arange(m) / fs
    f1 = hz(midi)
    f_start = hz(prev_midi) if prev_midi is not None else f1 * 1.5
    g_s = glide_s if prev_midi is not None else 0.012
    f = f1 + (f_start - f1) * np.exp(-t / g_s)
    ph = 2 * np.pi * np.cumsum(f) / fs
    x = np.sin(ph) * np.exp(-t / max(dur_s * 1.2, 0.3))
    y = np.tanh(drive * x) / np.tanh(drive)
    return y * _smooth_env(m, fs, 0.003, 0.03)


def mallet(fs: int, midi: float, dur_s: float, vel: float = 0.7, vibes: bool = False) -> np.ndarray:
    """A struck bar (see module docstring)."""
    f0 = hz(midi)
    m = max(int((dur_s + 0.6) * fs), 16)
    t = np.arange(m) / fs
    ratios = (1.0, 4.0, 10.0) if vibes else (1.0, 3.93, 9.2)
    decays = (1.8, 0.4, 0.1) if vibes else (0.6, 0.12, 0.03)
    x = np.zeros(m)
    for r, d, a in zip(ratios, decays, (1.0, 0.5 * vel, 0.25 * vel)):
        if r * f0 < 0.45 * fs:
            x += a * np.sin(2 * np.pi * r * f0 * t) * np.exp(-t / d)
    if vibes:
        x *= 1 + 0.35 * np.sin(2 * np.pi * 5.5 * t)
    return x * _smooth_env(m, fs, 0.0008, 0.05)


def piano(fs: int, midi: float, dur_s: float, vel: float = 0.6, rng=None) -> np.ndarray:
    """A piano-like note (see module docstring)."""
    f0 = hz(midi)
    m = max(int((dur_s + 0.3) * fs), 16)
    t = np.arange(m) / fs
    b_inh = 0.0004 * (f0 / 261.6) ** 0.5
    x = np.zeros(m)
    kmax = int(min(20, 0.4 * fs / f0))
    for k in range(1, kmax + 1):
        fk = k * f0 * np.sqrt(1 + b_inh * k * k)
        if fk > 0.45 * fs:
            break
        a = vel ** (0.5 + 0.15 * k) / k
        fast, slow = 0.25 / k ** 0.5, 3.0 * (261.6 / f0) ** 0.5 / k ** 0.3
        x += a * np.sin(2 * np.pi * fk * t + 0.7 * k) * (0.6 * np.exp(-t / fast) + 0.4 * np.exp(-t / slow))
    env = _smooth_env(m, fs, 0.0015, 0.1)
    env[int(dur_s * fs):] *= np.exp(-np.arange(m - int(dur_s * fs)) / (0.08 * fs))
    return x * env / (np.max(np.abs(x)) + 1e-12)


def cabinet(x: np.ndarray, fs: int, gain: float = 12.0) -> np.ndarray:
    """Distortion into a guitar speaker cabinet (see module docstring)."""
    pre = signal.sosfilt(signal.butter(1, 700 / (fs / 2), "high", output="sos"), x)
    y = np.tanh(gain * (pre + 0.1 * x)) - np.tanh(gain * 0.0)
    sos = np.vstack([signal.butter(2, 90 / (fs / 2), "high", output="sos"),
                     signal.butter(4, 5000 / (fs / 2), output="sos")])
    y = signal.sosfilt(sos, y)
    for f, g_db, q in ((400.0, -5.0, 1.0), (2200.0, 4.0, 1.2)):
        b, a = _peaking(f, g_db, q, fs)
        y = signal.lfilter(b, a, y)
    return y


def _peaking(f_hz: float, gain_db: float, q: float, fs: int):
    a = 10 ** (gain_db / 40)
    w = 2 * np.pi * f_hz / fs
    al = np.sin(w) / (2 * q)
    b = np.array([1 + al * a, -2 * np.cos(w), 1 - al * a])
    den = np.array([1 + al / a, -2 * np.cos(w), 1 - al / a])
    return b / den[0], den / den[0]
