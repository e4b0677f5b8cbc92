"""Panning, reverb and delay for :mod:`mixes.songs3`.

* Panning: the constant-power sine/cosine law (-3 dB in the centre).
* Reverb: a synthetic stereo impulse response per song — a pre-delay, a dozen early
  reflections at different times and signs in the two channels, and a late tail of independent
  (decorrelated) noise per channel whose decay differs per band (four bands, the low ones
  decaying slower, as in a real room: RT60 per band, amplitude ``exp(-6.91 t / RT60)``).
  The return is high-passed (100-200 Hz per song) as mixers do.  Sends are mono and convolved with both channels of the IR by FFT (one forward transform per
  send, one inverse per channel), float32 inside (the tail is 60 dB down within 1.2 RT60).
* Delay: a tempo-synced ping-pong echo (taps alternating left/right, each darker and quieter).
"""

from __future__ import annotations

import numpy as np
from scipy import fft as sfft
from scipy import signal


def pan(x: np.ndarray, position: float) -> np.ndarray:
    """Mono ``x`` to ``(2, n)`` at ``position`` (-1 left ... +1 right), constant power."""
    th = (float(np.clip(position, -1, 1)) + 1.0) * np.pi / 4.0
    return np.stack([np.cos(th) * x, np.sin(th) * x])


def stereo_ir(rng: np.random.Generator, fs: int, rt60_s: float, predelay_s: float, highpass_hz: float = 0.0) -> np.ndarray:
    """A synthetic stereo room impulse response ``(2, m)``, each channel of unit energy.

    Parameters
    ----------
    rng : numpy.random.Generator
    fs : int
        Sample rate (Hz).
    rt60_s : float
        Mid-band reverberation time (s); the bands below 250 Hz decay 1.25x slower, 2-6 kHz
        0.7x and above 6 kHz 0.45x.
    predelay_s : float
        Time from the direct sound to the first reflection (s).
    highpass_hz : float
        The return's high-pass (2nd-order Butterworth; 0: none), as mixers EQ a reverb return
        so it does not muddy or lean the low end.
    """
    m = int((predelay_s + 1.25 * rt60_s * 1.25) * fs)
    t = np.arange(m) / fs
    nyq = fs / 2.0
    edges = [250.0, 2000.0, 6000.0]
    rts = [1.25, 1.0, 0.7, 0.45]
    ir = np.zeros((2, m))
    p0 = int(predelay_s * fs)
    for ch in range(2):
        z = rng.standard_normal(m)
        late = np.zeros(m)
        for k, r in enumerate(rts):
            if k == 0:
                sos = signal.butter(3, edges[0] / nyq, output="sos")
            elif k == len(rts) - 1:
                sos = signal.butter(3, edges[-1] / nyq, btype="high", output="sos")
            else:
                sos = signal.butter(3, [edges[k - 1] / nyq, edges[k] / nyq], btype="band", output="sos")
            late += signal.sosfilt(sos, z) * np.exp(-6.91 * np.maximum(t - predelay_s, 0) / (rt60_s * r))
        build = np.clip((t - predelay_s - 0.005) / 0.04, 0, 1) ** 2            # diffuse build-up
        late *= build
        er = np.zeros(m)
        for _ in range(int(rng.integers(8, 16))):
            d = predelay_s + rng.uniform(0.002, 0.07)
            i = int(d * fs)
            if i < m:
                er[i] += rng.choice([-1.0, 1.0]) * rng.uniform(0.3, 1.0) * np.exp(-(d - predelay_s) / 0.05)
        late /= np.sqrt(np.sum(late ** 2)) + 1e-12
        er /= np.sqrt(np.sum(er ** 2)) + 1e-12
        ir[ch] = 0.45 * er + late
        ir[ch, :p0] = 0.0
        if highpass_hz > 0:
            ir[ch] = signal.sosfilt(signal.butter(2, highpass_hz / nyq, btype="high", output="sos"), ir[ch])
        ir[ch] /= np.sqrt(np.sum(ir[ch] ** 2)) + 1e-12
    return ir


def convolve_sends(sends: list[np.ndarray], ir: np.ndarray) -> list[np.ndarray]:
    """Each mono send (n,) convolved with the stereo IR, cut to n: a list of ``(2, n)``."""
    if not sends:
        return []
    n = sends[0].size
    nfft = sfft.next_fast_len(n + ir.shape[1], real=True)
    h = sfft.rfft(ir.astype(np.float32), nfft, axis=1)
    out = []
    for s in sends:
        if not np.any(s):
            out.append(np.zeros((2, n)))
            continue
        xs = sfft.rfft(s.astype(np.float32), nfft)
        y = sfft.irfft(h * xs[None, :], nfft, axis=1)[:, :n]
        out.append(y.astype(np.float64))
    return out


def ping_pong(x: np.ndarray, fs: int, delay_s: float, feedback: float, n_taps: int = 4) -> np.ndarray:
    """Echoes of mono ``x`` alternating right/left every ``delay_s``, each pair ``feedback`` quieter, each
    tap darker (a first-order low-pass at 3.5 kHz); ``(2, n)``."""
    n = x.size
    out = np.zeros((2, n))
    d = int(delay_s * fs)
    y = x
    sos = signal.butter(1, min(3500.0, 0.4 * fs) / (fs / 2.0), output="sos")
    for k in range(1, n_taps + 1):                  # right at d, 3d, ...; left at 2d, 4d, ...
        if k * d >= n:
            break
        y = signal.sosfilt(sos, y) * (feedback if k % 2 else 1.0)     # equal energy left and right
        out[k % 2, k * d:] += y[: n - k * d]
    return out
