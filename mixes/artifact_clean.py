"""Clean deliveries of many kinds, for checking that the artifact detectors stay silent on them.

Each function takes a programme ``x`` (shape (n_channels, n_samples), full scale 1.0) and
returns what a studio, a phone or a tape machine would deliver from it, with no digital error:

* :func:`to_bits` - word length reduced with TPDF dither (16 or 24 bits), as every DAW does;
* :func:`tp_limited_master` - driven loud into a look-ahead limiter whose ceiling is a true
  peak (4x oversampled) of -1 dBTP: smooth gain, no flat tops;
* :func:`clipped_master` - driven into a hard clipper (flat tops on every loud hit), then
  optionally turned down: an intended loud master (its clipping *is* reported, see
  :mod:`mixes.artifact_crush`);
* :func:`faded` - a long fade to silence and digital silence after it;
* :func:`voice_memo` - a phone's voice memo: one microphone, room tone, level riding, the mono
  channel written to both sides of a stereo file (a real ``dual_mono`` finding);
* :func:`tape_like` - a tape transfer: wow and flutter (a slowly varying speed), hiss,
  soft saturation, a high-frequency roll-off and a small azimuth delay between the channels.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage, signal

__all__ = ["to_bits", "tp_limited_master", "clipped_master", "faded", "voice_memo", "tape_like",
           "true_peak"]


def to_bits(x: np.ndarray, bits: int, *, seed: int = 0, dither: bool = True) -> np.ndarray:
    """``x`` on a ``bits``-bit grid, with TPDF dither of +-1 LSB (or plain rounding)."""
    q = 2.0 ** -(bits - 1)
    rng = np.random.default_rng(seed)
    d = (rng.uniform(-0.5, 0.5, x.shape) + rng.uniform(-0.5, 0.5, x.shape)) if dither else 0.0
    return np.clip(np.round(x / q + d), -1 / q, 1 / q - 1) * q


def true_peak(x: np.ndarray) -> float:
    """Largest magnitude of the 4x oversampled waveform (full scale 1.0)."""
    return float(max(np.abs(signal.resample_poly(c, 4, 1)).max() for c in np.atleast_2d(x)))


def tp_limited_master(x: np.ndarray, *, fs: int, drive_db: float = 10.0,
                      ceiling_dbtp: float = -1.0) -> np.ndarray:
    """A loud master: ``x`` peak-normalised, driven ``drive_db``, limited to ``ceiling_dbtp``.

    The gain is the smallest needed within +-25 ms of each sample (a look-ahead hold),
    smoothed by a 10 ms moving average (which never exceeds the gain needed at any peak it
    covers), computed on the 4x oversampled peak of all channels; a second pass catches the
    last overs.
    """
    y = x / np.abs(x).max() * 10 ** (drive_db / 20)
    c = 10 ** (ceiling_dbtp / 20)
    hold, smooth = int(0.025 * fs), int(0.010 * fs)
    for _ in range(2):
        up = np.abs(signal.resample_poly(y, 4, 1, axis=1)).max(axis=0)
        pk = up[: y.shape[1] * 4].reshape(-1, 4).max(axis=1)
        need = np.minimum(1.0, 0.995 * c / np.maximum(pk, 1e-12))
        g = ndimage.minimum_filter1d(need, 2 * hold + 1, mode="nearest")
        g = ndimage.uniform_filter1d(g, smooth, mode="nearest")
        y = y * g
    return y


def clipped_master(x: np.ndarray, *, drive_db: float = 8.0, out_db: float = 0.0) -> np.ndarray:
    """``x`` peak-normalised, driven ``drive_db`` into a hard clipper at full scale, then
    turned to ``out_db`` (0: the flat tops at full scale; -0.3: at -0.3 dBFS)."""
    y = np.clip(x / np.abs(x).max() * 10 ** (drive_db / 20), -1.0, 1.0)
    return y * 10 ** (out_db / 20)


def faded(x: np.ndarray, *, fs: int, fade_s: float = 6.0, silence_s: float = 1.0,
          floor_db: float = -100.0) -> np.ndarray:
    """The last ``fade_s + silence_s`` of ``x`` faded (linear in dB) to ``floor_db``, then 0."""
    n = x.shape[1]
    t = np.arange(n) / fs
    t0 = n / fs - fade_s - silence_s
    g = np.where(t < t0, 1.0, 10 ** (floor_db / 20 * np.clip((t - t0) / fade_s, 0, 1)))
    g[t >= t0 + fade_s] = 0.0
    return x * g


def voice_memo(voice: np.ndarray, *, fs: int, seed: int = 0) -> np.ndarray:
    """A phone's voice memo of a (mono or stereo) voice: (2, n), both channels identical.

    The voice (summed to mono) through a 100 Hz high-pass and a 7 kHz low-pass (a small
    microphone), room tone at about -58 dBFS, a slow level rider (+-3 dB over seconds),
    peak about -6 dBFS, 16 bits with dither; written as two identical channels.
    """
    rng = np.random.default_rng(seed)
    v = np.atleast_2d(voice).mean(axis=0)
    v = signal.sosfilt(signal.butter(2, [100, 7000], "bandpass", fs=fs, output="sos"), v)
    n = v.size
    room = signal.sosfilt(signal.butter(1, 800, "lowpass", fs=fs, output="sos"), rng.standard_normal(n))
    room *= 10 ** (-58 / 20) / np.sqrt(np.mean(room ** 2))
    t = np.arange(n) / fs
    v *= 10 ** (3 * np.sin(2 * np.pi * 0.13 * t + rng.uniform(0, 6)) / 20)
    y = v / np.abs(v).max() * 10 ** (-6 / 20) + room
    m = to_bits(y[None, :], 16, seed=seed)[0]
    return np.vstack([m, m])


def tape_like(x: np.ndarray, *, fs: int, seed: int = 0) -> np.ndarray:
    """A tape transfer of ``x`` (see module docstring); about the same level as ``x``."""
    rng = np.random.default_rng(seed)
    n = x.shape[1]
    t = np.arange(n) / fs
    # speed: wow (0.1 % at ~0.6 Hz) and flutter (0.03 % at ~7 Hz) -> a read position in samples
    speed = 1 + 0.001 * np.sin(2 * np.pi * rng.uniform(0.4, 0.8) * t + rng.uniform(0, 6)) \
        + 0.0003 * np.sin(2 * np.pi * rng.uniform(5, 9) * t + rng.uniform(0, 6))
    pos = np.cumsum(speed) - speed[0]
    pos *= (n - 2) / pos[-1]
    lp = signal.butter(2, 14000, "lowpass", fs=fs, output="sos")
    peak = np.abs(x).max()
    out = np.empty((x.shape[0], n))
    for c in range(x.shape[0]):
        p = pos + (0.4 if c == 1 else 0.0)               # azimuth: right head 0.4 sample late
        p = np.clip(p, 0, n - 1)
        i = np.floor(p).astype(np.int64)
        i1 = np.minimum(i + 1, n - 1)
        f = p - i
        y = x[c, i] * (1 - f) + x[c, i1] * f
        y = np.tanh(1.6 * y / peak) / np.tanh(1.6) * peak       # soft tape saturation
        y = signal.sosfilt(lp, y)
        hiss = signal.sosfilt(signal.butter(1, 2000, "highpass", fs=fs, output="sos"), rng.standard_normal(n))
        out[c] = y + hiss * 10 ** (-62 / 20) / np.sqrt(np.mean(hiss ** 2))
    return out
