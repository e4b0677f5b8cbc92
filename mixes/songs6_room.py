"""Space and bus for :mod:`mixes.songs6`: a band-wise decaying convolution reverb, tape, bus gain.

* :func:`hall_ir` — a stereo impulse response built the way a measured one looks: a pre-delay,
  a handful of early reflections (each a short low-passed tap, level falling with delay), then
  a diffuse tail of independent noise per ear whose decay is set per octave band (``rt60`` at
  500 Hz-1 kHz, longer in the low octaves, much shorter above 4 kHz, as air and furnishings
  absorb), split with smooth (raised-cosine in log frequency) crossovers so the bands sum to one.
* :func:`wet` — a mono send convolved with the response (overlap-add FFT convolution).
* :func:`tape` — a soft saturation with a little even-order asymmetry (tape and console),
  computed 4x oversampled (a saturator run at the base rate aliases, and the click detectors
  rightly hear the aliased corners), then a gentle head-bump / roll-off EQ.
* :func:`wow` — a slowly varying delay (wow 0.5 Hz + flutter 6 Hz) read by cubic interpolation.
* :func:`bus_gain` — a feed-forward RMS compressor's gain curve (soft knee, attack/release
  smoothed in the log domain) from a signal; the caller applies it to every stem.
* :func:`smooth_env` — a raised-cosine ramp helper for fades.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import butter, lfilter, oaconvolve, resample_poly, sosfilt

OCT_HZ = (63.0, 125.0, 250.0, 500.0, 1000.0, 2000.0, 4000.0, 8000.0, 16000.0)
RT_SHAPE = (1.35, 1.25, 1.1, 1.0, 1.0, 0.85, 0.6, 0.4, 0.25)     # rt60 per band / rt60 at 500 Hz-1 kHz


def _band_masks(nfft: int, fs: int) -> np.ndarray:
    """Octave band masks on the rfft grid, cos^2 crossovers in log2 f, summing to one at every bin."""
    f = np.fft.rfftfreq(nfft, 1.0 / fs)
    u = np.interp(np.log2(np.maximum(f, 1.0)), np.log2(OCT_HZ), np.arange(len(OCT_HZ)))
    d = np.abs(u[None, :] - np.arange(len(OCT_HZ))[:, None])
    return np.where(d < 1.0, np.cos(0.5 * np.pi * np.minimum(d, 1.0)) ** 2, 0.0)


def hall_ir(rt60: float, fs: int, rng: np.random.Generator, *, predelay_s: float = 0.012,
            n_early: int = 10, width: float = 1.0) -> np.ndarray:
    """A stereo (2, m) impulse response, unit energy per ear (see the module docstring)."""
    rt = np.asarray(RT_SHAPE) * rt60 * rng.uniform(0.9, 1.1, len(RT_SHAPE))
    m = int(fs * (predelay_s + 1.2 * rt.max())) + 1
    nfft = 1 << int(np.ceil(np.log2(m)))
    masks = _band_masks(nfft, fs)
    t = np.arange(nfft) / fs
    out = np.zeros((2, m))
    d0 = int(predelay_s * fs)
    for ch in range(2):
        noise = rng.standard_normal(nfft)
        spec = np.fft.rfft(noise)
        tail = np.zeros(nfft)
        for b in range(len(OCT_HZ)):
            band = np.fft.irfft(spec * masks[b], nfft)
            tail += band * np.exp(-6.907755 * t / rt[b])
        build = 1.0 - np.exp(-t / 0.018)                  # the diffuse field builds up over ~20 ms
        tail = tail * build
        ir = np.zeros(m)
        ir[d0:] += tail[: m - d0]
        # early reflections: short low-passed taps, later = quieter (and duller)
        for k in range(n_early):
            dt = rng.uniform(0.002, 0.065)
            pos = d0 + int(dt * fs) - int(0.006 * fs)
            if pos <= 2:
                continue
            L = max(3, int(fs * rng.uniform(0.0002, 0.0008)))
            tap = np.hanning(L + 2)[1:-1]
            g = rng.choice([-1, 1]) * rng.uniform(0.4, 1.0) * 3.0 * np.exp(-dt / 0.05)
            ir[pos:pos + L] += g * tap / tap.sum()
        ir[:d0 + 1] *= np.linspace(0, 1, d0 + 1) ** 2     # nothing ahead of the pre-delay but the taps' lead-in
        out[ch] = ir / np.sqrt(np.sum(ir ** 2))
    if width < 1.0:                                       # narrower image: mix the ears
        mid = out.mean(axis=0)
        out = mid + width * (out - mid)
    return out


def wet(send: np.ndarray, ir: np.ndarray, n: int) -> np.ndarray:
    """The (2, n) reverberant part of a mono send."""
    if not np.any(send):
        return np.zeros((2, n))
    return np.stack([oaconvolve(send, ir[c])[:n] for c in range(2)])


def tape(x: np.ndarray, drive_db: float, fs: int) -> np.ndarray:
    """Soft saturation (tanh with a little asymmetry) normalised to unity small-signal gain, then
    a +1.5 dB head bump near 60 Hz and a gentle roll-off above ~15 kHz."""
    if not np.any(x):
        return x
    g = 10 ** (drive_db / 20)
    pk = float(np.max(np.abs(x))) + 1e-12
    u = resample_poly(x / pk * g, 4, 1, axis=-1)          # 4x oversampled: the curve's harmonics do not alias
    y = resample_poly(np.tanh(u + 0.08 * u * u), 1, 4, axis=-1)[..., : x.shape[-1]] / g * pk
    sos = butter(1, min(15000.0, 0.45 * fs), "low", fs=fs, output="sos")
    y = sosfilt(sos, y, axis=-1)
    y = sosfilt(butter(1, 20.0, "high", fs=fs, output="sos"), y, axis=-1)     # the asymmetry's DC
    # head bump: add a band-passed copy
    sos2 = butter(1, (45.0, 90.0), "band", fs=fs, output="sos")
    return y + 0.19 * sosfilt(sos2, y, axis=-1)


def wow(x: np.ndarray, fs: int, rng: np.random.Generator, depth_ms: float = 0.6) -> np.ndarray:
    """A tape machine's speed wander: the signal read at a slowly moving delay (cubic interpolation)."""
    n = x.shape[-1]
    t = np.arange(n) / fs
    d = (depth_ms * 1e-3 * fs) * (0.5 + 0.4 * np.sin(2 * np.pi * rng.uniform(0.3, 0.7) * t + rng.uniform(0, 6))
                                  + 0.1 * np.sin(2 * np.pi * rng.uniform(5, 7) * t))
    pos = np.arange(n) - d
    i = np.floor(pos).astype(int)
    f = pos - i
    def at(k):
        return x[..., np.clip(k, 0, n - 1)] * (k >= 0)
    xm1, x0, x1, x2 = at(i - 1), at(i), at(i + 1), at(i + 2)
    return x0 + 0.5 * f * (x1 - xm1 + f * (2 * xm1 - 5 * x0 + 4 * x1 - x2 + f * (3 * (x0 - x1) + x2 - xm1)))


def bus_gain(x: np.ndarray, fs: int, *, threshold_db: float, ratio: float, attack_s: float = 0.015,
             release_s: float = 0.2, knee_db: float = 6.0) -> np.ndarray:
    """The gain (linear, (n,)) of a feed-forward RMS compressor on ``x`` ((2, n) or (n,))."""
    p = np.mean(np.atleast_2d(x) ** 2, axis=0)
    a = np.exp(-1.0 / (0.005 * fs))
    lvl = 10 * np.log10(lfilter([1 - a], [1, -a], p) + 1e-12)
    over = lvl - threshold_db
    gr = np.where(over <= -knee_db / 2, 0.0,
                  np.where(over >= knee_db / 2, over * (1 - 1 / ratio),
                           (1 - 1 / ratio) * (over + knee_db / 2) ** 2 / (2 * knee_db)))
    # attack / release smoothing of the reduction (dB): a one-pole each way, then a second pass
    aa, ar = np.exp(-1.0 / (attack_s * fs)), np.exp(-1.0 / (release_s * fs))
    g = _attack_release(gr, aa, ar)
    b = np.exp(-1.0 / (0.002 * fs))
    g = lfilter([1 - b], [1, -b], g)
    return 10 ** (-g / 20)


def _attack_release(gr: np.ndarray, aa: float, ar: float) -> np.ndarray:
    """Gain-reduction smoothing: rises with ``aa``, falls with ``ar`` (block-wise to stay fast)."""
    # run on a decimated grid (1 ms) and interpolate: the reduction changes slowly
    step = 48                     # samples per update (1 ms at 48 kHz)
    g = gr[::step]
    out = np.empty_like(g)
    s = 0.0
    aa, ar = aa ** step, ar ** step
    for i, v in enumerate(g):
        s = aa * s + (1 - aa) * v if v > s else ar * s + (1 - ar) * v
        out[i] = s
    return np.interp(np.arange(gr.size), np.arange(g.size) * step, out)


def ramp(n: int) -> np.ndarray:
    """Raised-cosine rise 0 -> 1 over ``n`` samples."""
    if n <= 0:
        return np.ones(0)
    return 0.5 - 0.5 * np.cos(np.pi * (np.arange(n) + 0.5) / n)


def smooth_env(n: int, fs: int, fade_in_s: float, fade_out_s: float) -> np.ndarray:
    """1 with a raised-cosine fade-in at the start and a fade-out at the end (either may be 0)."""
    e = np.ones(n)
    a = min(int(fade_in_s * fs), n)
    if a > 0:
        e[:a] *= ramp(a) ** 2
    b = min(int(fade_out_s * fs), n)
    if b > 0:
        e[n - b:] *= ramp(b)[::-1] ** 1.5
    return e
