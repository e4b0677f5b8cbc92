"""Synthetic rooms and drifted copies for the verification tests (analytic truth).

A room IR is built from known parts: a direct sound (a band-limited speaker response) at a
known distance, a few discrete reflections, and an exponentially decaying diffuse tail.  A
"measurement" plays a log sweep through it, adds background noise at a known level below the
sweep and deconvolves by regularised spectral division, so the noise reaches the IR exactly as
it would through the real measurement chain.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import signal

from calib.profile import Biquad
from calib.types import ImpulseResponse

FS = 48_000
N_IR = 24_000            # 0.5 s
SPEED_OF_SOUND = 343.2   # m/s at 20 degC


def fractional_delay(h: np.ndarray, delay_s: float, *, fs: int) -> np.ndarray:
    """Delay a 1-D IR by ``delay_s`` (sub-sample) by a linear phase in the frequency domain."""
    n = 1 << (2 * h.size - 1).bit_length()
    f = np.fft.rfftfreq(n, 1.0 / fs)
    y = np.fft.irfft(np.fft.rfft(h, n) * np.exp(-2j * np.pi * f * delay_s), n)
    return y[: h.size]


def speaker_ir(distance_m: float, *, fs: int = FS, seed: int = 0, gain: float = 1.0) -> np.ndarray:
    """One speaker-to-mic IR: 2nd-order 45 Hz high-pass speaker, reflections, diffuse tail."""
    rng = np.random.default_rng(seed)
    n = N_IR
    imp = np.zeros(n)
    imp[0] = 1.0
    hp = signal.butter(2, 45.0, "highpass", fs=fs, output="sos")
    lp = signal.butter(2, 18_000.0, "lowpass", fs=fs, output="sos")
    spk = signal.sosfilt(lp, signal.sosfilt(hp, imp))
    t0 = distance_m / SPEED_OF_SOUND
    h = fractional_delay(spk, t0, fs=fs) / distance_m
    for extra_m, refl in ((1.3, 0.45), (2.1, -0.3), (3.4, 0.25), (4.4, 0.2)):
        d = distance_m + extra_m
        h += refl * fractional_delay(spk, d / SPEED_OF_SOUND, fs=fs) / d
    t = np.arange(n) / fs
    start = int((t0 + 0.012) * fs)
    tail = rng.standard_normal(n) * np.exp(-6.91 * t / 0.3) * 0.02 / distance_m  # RT60 0.3 s
    tail[:start] = 0.0
    tail = signal.sosfilt(hp, tail)
    return gain * (h + tail)


def base_room(*, fs: int = FS) -> tuple[np.ndarray, tuple[str, ...]]:
    """Stereo pair at 3.0 m and 3.02 m (R arrives 58 us later)."""
    return np.stack([speaker_ir(3.0, seed=1), speaker_ir(3.02, seed=2)]), ("L", "R")


def log_sweep(*, fs: int = FS, duration_s: float = 1.0, f1: float = 20.0, f2: float = 20_000.0,
              level: float = 0.25) -> np.ndarray:
    """Exponential sweep (Farina 2000) with 10 ms fades."""
    t = np.arange(int(duration_s * fs)) / fs
    r = math.log(f2 / f1)
    x = np.sin(2 * np.pi * f1 * duration_s / r * (np.exp(t * r / duration_s) - 1.0))
    nf = int(0.01 * fs)
    w = np.ones_like(x)
    w[:nf] = np.sin(0.5 * np.pi * np.arange(nf) / nf) ** 2
    w[-nf:] = w[:nf][::-1]
    return level * x * w


_SWEEP_CACHE: dict[tuple[int, int], tuple[np.ndarray, np.ndarray, float]] = {}


def measure(room: np.ndarray, names: tuple[str, ...], *, noise_db: float = -50.0, seed: int = 0,
            fs: int = FS) -> ImpulseResponse:
    """Sweep-measure a synthetic room with background noise ``noise_db`` below the sweep (RMS)."""
    sweep = log_sweep(fs=fs)
    n = 1 << (sweep.size + room.shape[1]).bit_length()
    key = (n, fs)
    if key not in _SWEEP_CACHE:
        S = np.fft.rfft(sweep, n)
        f = np.fft.rfftfreq(n, 1.0 / fs)
        inband = (f >= 20.0) & (f <= 20_000.0)
        inv = np.where(inband, np.conj(S) / np.maximum(np.abs(S) ** 2, 1e-20), 0.0)
        _SWEEP_CACHE[key] = (S, inv, float(np.sqrt(np.mean(sweep**2))))
    S, inv, rms = _SWEEP_CACHE[key]
    rng = np.random.default_rng(seed)
    out = np.empty_like(room)
    for i, h in enumerate(room):
        y = np.fft.irfft(np.fft.rfft(h, n) * S, n)
        y += rng.standard_normal(n) * rms * 10 ** (noise_db / 20)
        out[i] = np.fft.irfft(np.fft.rfft(y, n) * inv, n)[: room.shape[1]]
    return ImpulseResponse(samples=out, fs=fs, channel_names=names)


def peaking(h: np.ndarray, f_hz: float, gain_db: float, *, fs: int = FS, q: float = 4.318) -> np.ndarray:
    """Apply an RBJ peaking biquad (a third-octave wide bump by default, Q = 4.318)."""
    return signal.sosfilt(Biquad("peaking", f_hz, gain_db, q).sos(fs=fs)[None, :], h)
