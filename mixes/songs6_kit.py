"""Drums for :mod:`mixes.songs6`: a kit recorded in a room, or a programmed one.

Each piece is synthesised as a mono *source* track over the whole song (kick: a membrane whose
pitch falls as the skin relaxes, plus the beater; snare: membrane modes plus wires, with rim
shots, cross-stick and ghost notes; brushes: taps and a continuous swirl; hi-hat: metallic
partials and noise, closed/open/pedal; ride and crash: banks of inharmonic resonators excited
by the stick; toms).  A live kit is then *recorded*: every piece sits at a position in the
room and reaches every microphone (kick and snare close mics, a spaced overhead pair, a room
pair 4 m away) with its own delay and 1/r level, so the close mics bleed and the overheads
comb-filter against them exactly as a real kit does.  Programmed kits (big-room EDM, lo-fi
hip hop) are panned sources.  Every hit rises over >= 0.4 ms and decays to zero: no steps.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import butter, lfilter, oaconvolve, sosfilt

from mixes.songs6_inst import add, pan
from mixes.songs6_room import hall_ir, ramp

C = 343.0
POS = {"kick": (0.0, 0.35, 0.3), "snare": (-0.25, 0.0, 0.6), "hat": (-0.5, -0.05, 0.85), "ride": (0.55, 0.1, 0.9),
       "crash": (-0.35, 0.35, 1.1), "tom1": (-0.05, 0.25, 0.75), "tom2": (0.4, 0.2, 0.55), "brush": (-0.25, 0.0, 0.6)}
MICS = {"kick_in": (0.0, 0.3, 0.3), "snare_top": (-0.22, -0.05, 0.68), "oh_l": (-0.65, 0.0, 1.7),
        "oh_r": (0.65, 0.0, 1.7), "room_l": (-2.4, 3.8, 1.6), "room_r": (2.4, 3.8, 1.6)}


def _bp_noise(n: int, lo: float, hi: float, fs: int, rng) -> np.ndarray:
    hi = min(hi, 0.45 * fs)
    x = rng.standard_normal(n)
    return sosfilt(butter(2, (lo, hi), "band", fs=fs, output="sos"), x)


def _env(n: int, fs: int, attack_s: float, tau_s: float) -> np.ndarray:
    t = np.arange(n) / fs
    e = np.exp(-t / tau_s)
    a = max(2, int(attack_s * fs))
    e[:a] *= ramp(a)
    e[-max(2, n // 8):] *= ramp(max(2, n // 8))[::-1]        # reach zero at the end of the buffer
    return e


def kick(fs, rng, vel, f0=55.0, tau=0.25, sweep=1.6, click=0.3):
    n = int(fs * 6 * tau)
    t = np.arange(n) / fs
    f = f0 * (1 + sweep * np.exp(-t / 0.018))
    y = np.sin(2 * np.pi * np.cumsum(f) / fs) * _env(n, fs, 0.0007, tau)
    m = int(0.004 * fs)
    y[:m] += click * sosfilt(butter(2, 3500, "low", fs=fs, output="sos"), rng.standard_normal(m)) * np.hanning(m)
    return vel * y


def snare(fs, rng, vel, kind="hit", f0=190.0):
    n = int(0.45 * fs)
    t = np.arange(n) / fs
    y = np.zeros(n)
    if kind == "xstick":
        for f, tau, a in ((520, 0.02, 1.0), (1650, 0.012, 0.6), (2350, 0.008, 0.4)):
            y += a * np.sin(2 * np.pi * f * t) * _env(n, fs, 0.0004, tau)
        return 0.6 * vel * y
    for r, tau, a in ((1.0, 0.09, 1.0), (1.59, 0.06, 0.6), (2.14, 0.05, 0.4), (2.30, 0.04, 0.3), (2.65, 0.035, 0.25)):
        y += a * np.sin(2 * np.pi * f0 * r * t * (1 + 0.04 * np.exp(-t / 0.01))) * _env(n, fs, 0.0006, tau)
    wires = _bp_noise(n, 1800, 9000, fs, rng) * _env(n, fs, 0.0012, 0.11 + 0.06 * vel)
    y = 0.5 * y + 1.6 * wires * (0.4 + 0.6 * vel)
    if kind == "rim":                                   # rim shot: a crack and the rim's ring
        m = int(0.003 * fs)
        y[:m] += 2.5 * _bp_noise(m, 3000, 11000, fs, rng) * np.hanning(m)
        y += 0.5 * np.sin(2 * np.pi * 880 * t) * _env(n, fs, 0.0004, 0.03)
    return vel * y


def brush_tap(fs, rng, vel):
    n = int(0.25 * fs)
    return vel * _bp_noise(n, 500, 8000, fs, rng) * _env(n, fs, 0.003, 0.06)


def hat(fs, rng, vel, kind="closed"):
    tau = {"closed": 0.035, "open": 0.32, "pedal": 0.02}[kind]
    n = int(fs * min(1.2, 6 * tau))
    t = np.arange(n) / fs
    y = np.zeros(n)
    for f in (3150, 4720, 5930, 7340, 8610, 10230):
        if f < 0.45 * fs:
            y += np.sin(2 * np.pi * f * t + rng.uniform(0, 6)) * 0.15
    y += _bp_noise(n, 6000, 14000, fs, rng)
    y *= _env(n, fs, 0.0004 if kind != "pedal" else 0.002, tau)
    return vel * y * (0.5 if kind == "pedal" else 1.0)


def tom(fs, rng, vel, f0):
    n = int(0.8 * fs)
    t = np.arange(n) / fs
    y = np.zeros(n)
    for r, a in ((1.0, 1.0), (1.59, 0.4), (2.14, 0.2)):
        y += a * np.sin(2 * np.pi * np.cumsum(f0 * r * (1 + 0.15 * np.exp(-t / 0.05))) / fs)
    return vel * y * _env(n, fs, 0.0008, 0.22)


def clap(fs, rng, vel):
    n = int(0.35 * fs)
    y = np.zeros(n)
    for j, d in enumerate((0.0, 0.009, 0.017, 0.026)):
        i = int(d * fs)
        m = n - i if j == 3 else int(0.012 * fs)
        y[i:i + m] += _bp_noise(m, 900, 5500, fs, rng) * _env(m, fs, 0.0005, 0.12 if j == 3 else 0.004)
    return vel * y


def shaker(fs, rng, vel):
    n = int(0.12 * fs)
    return vel * 0.5 * _bp_noise(n, 4000, 11000, fs, rng) * _env(n, fs, 0.008, 0.03)


def _bank(exc: np.ndarray, fs: int, rng, freqs: np.ndarray, taus: np.ndarray, gains: np.ndarray) -> np.ndarray:
    y = np.zeros_like(exc)
    for f, tau, g in zip(freqs, taus, gains):
        if f >= 0.44 * fs:
            continue
        om = 2 * np.pi * f / fs
        r = np.exp(-1.0 / (tau * fs))
        y += lfilter([g * np.sin(om)], [1, -2 * r * np.cos(om), r * r], exc)
    return y


def cymbal_track(hits: list, n: int, fs: int, rng, kind: str) -> np.ndarray:
    """A ride or crash over the whole song: stick pulses (or a splash of noise) into a resonator bank."""
    exc = np.zeros(n)
    w = int((0.0006 if kind == "ride" else 0.008) * fs) + 2
    win = np.hanning(w + 2)[1:-1]
    for t, v in hits:
        i = int(t * fs)
        if 0 <= i < n - w:
            exc[i:i + w] += v * win * (rng.standard_normal(w) if kind == "crash" else 1.0)
    m = 28 if kind == "ride" else 36
    f = np.exp(rng.uniform(np.log(380), np.log(11000), m))
    taus = (2.2 if kind == "ride" else 3.0) * (400 / f) ** 0.35 * rng.uniform(0.7, 1.3, m)
    y = _bank(exc, fs, rng, f, taus, rng.uniform(0.3, 1.0, m) / np.sqrt(m))
    if kind == "ride":                                  # the bell
        y += _bank(exc, fs, rng, np.array([780.0, 1420.0, 2230.0]) * rng.uniform(0.95, 1.05),
                   np.array([1.8, 1.2, 0.9]), np.array([0.25, 0.18, 0.12]))
    y = sosfilt(butter(1, 300, "high", fs=fs, output="sos"), y)
    return y / (np.max(np.abs(y)) + 1e-12) * max((v for _, v in hits), default=0.0)


def brush_swirl(spans: list, n: int, fs: int, rng) -> np.ndarray:
    """The brush circling on the head: band noise whose level rises and falls with each stroke."""
    y = np.zeros(n)
    for t0, t1 in spans:
        i0, i1 = int(t0 * fs), min(int(t1 * fs), n)
        m = i1 - i0
        if m < 16:
            continue
        tt = np.arange(m) / m
        env = np.sin(np.pi * tt) ** 2 * (0.6 + 0.4 * np.sin(2 * np.pi * 2 * tt) ** 2)
        y[i0:i1] += 0.12 * _bp_noise(m, 1200, 7000, fs, rng) * env
    return y


def _delay(x: np.ndarray, d: float) -> np.ndarray:
    """Delay by ``d`` samples (linear interpolation between two integer delays)."""
    i = int(np.floor(d))
    f = d - i
    y = np.zeros_like(x)
    if i < x.size:
        y[i:] += (1 - f) * x[:x.size - i]
    if i + 1 < x.size:
        y[i + 1:] += f * x[:x.size - i - 1]
    return y


def record(sources: dict, fs: int, rng, room_rt: float, close: float = 1.0) -> np.ndarray:
    """The (2, n) kit as the microphones hear it (close mics centred, overheads and room wide)."""
    n = next(iter(sources.values())).size
    mics = {}
    for m, mp in MICS.items():
        acc = np.zeros(n)
        for piece, x in sources.items():
            pp = np.asarray(POS.get(piece, POS["snare"]))
            d = max(float(np.linalg.norm(pp - np.asarray(mp))), 0.04)
            g = 0.08 / d
            if m in ("kick_in", "snare_top") and piece in ("ride", "crash", "hat"):
                g *= 0.5                                # cymbals off-axis of the close mics
            acc += _delay(x, d / C * fs) * g
        mics[m] = acc
    oh = np.stack([mics["oh_l"], mics["oh_r"]])
    ir = hall_ir(room_rt, fs, rng, predelay_s=0.004, n_early=14)
    room = np.stack([oaconvolve(mics["room_l"], ir[0])[:n], oaconvolve(mics["room_r"], ir[1])[:n]]) * 0.6
    closes = (mics["kick_in"] * 0.5 + mics["snare_top"] * 0.35) * close
    out = oh * 1.4 + room * 0.8 + np.stack([closes, closes])
    return sosfilt(butter(1, 30, "high", fs=fs, output="sos"), out, axis=-1)


PANS = {"kick": 0.0, "snare": 0.0, "hat": -0.35, "ride": 0.4, "crash": -0.3, "tom1": -0.15, "tom2": 0.3,
        "clap": 0.0, "shaker": 0.45, "brush": 0.0}


def programmed(sources: dict) -> np.ndarray:
    return sum(pan(x, PANS.get(k, 0.0)) for k, x in sources.items())
