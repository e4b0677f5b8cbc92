"""Signal processing for the fifth song generator (:mod:`mixes.songs5`): rooms, panning, filters, bus dynamics.

Reverb here is *convolution with measured room impulse responses* where the third-party data
beside the checkout is present (``../shared/data``, or ``$ROOMTRUTH_SHARED_DATA``):

* ``hall`` — the OpenAIR sports centre (University of York, omni, 96 kHz, RT60 ~ 4-8 s), its decay
  shortened by an extra exponential to the style's RT60 (a big hall of 1.6-3.5 s);
* ``room`` — the DRC sample response ``rs.pcm`` (a loudspeaker in its author's listening room,
  44.1 kHz raw float32, polarity inverted upstream; flipped here), from 1 ms before its peak;
* ``small`` — the OpenAIR living room (0.9 s) and ``plate`` — the seminar-room clap
  (spatialaudio exercises) with a longer synthetic tail added.

A mono IR is made stereo by reading the right channel from the same IR stretched by 1.3 %
(its tail decorrelates, its decay and colour stay).  Without the data every room is synthetic:
early reflections (image-like taps 3-45 ms) and a tail of noise in three bands decaying with the
band's own RT60 (shorter above 4 kHz, as air absorption does), pre-delay by room size.

Dynamics: a feed-forward RMS bus compressor (gain smoothed in dB) and a look-ahead peak limiter
(the per-sample gain needed for the ceiling, a running minimum over the look-ahead, smoothed by a
Hann window of the same length, then a slower release); both return *gain curves* so that the
same gain can be applied to every stem (the stems then still sum to the mastered mix).
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np
from scipy import ndimage, signal
from scipy.fft import irfft, next_fast_len, rfft

ROOT = Path(__file__).resolve().parent.parent


def shared_data_dir() -> Path | None:
    """The third-party data folder (``$ROOMTRUTH_SHARED_DATA`` or ``../shared/data``), None if absent."""
    p = Path(os.environ.get("ROOMTRUTH_SHARED_DATA", ROOT.parent / "shared" / "data"))
    return p if p.is_dir() else None


# ----------------------------------------------------------------------------- filters
def biquad(kind: str, f_hz: float, fs: int, q: float = 0.707, gain_db: float = 0.0) -> np.ndarray:
    """One RBJ-cookbook biquad as an ``sos`` row (1, 6): lp, hp, bp, peak, lowshelf, highshelf."""
    f_hz = float(np.clip(f_hz, 5.0, 0.45 * fs))
    w = 2 * np.pi * f_hz / fs
    cw, sw = np.cos(w), np.sin(w)
    al = sw / (2 * q)
    a = 10 ** (gain_db / 40)
    if kind == "lp":
        b = [(1 - cw) / 2, 1 - cw, (1 - cw) / 2]
        den = [1 + al, -2 * cw, 1 - al]
    elif kind == "hp":
        b = [(1 + cw) / 2, -(1 + cw), (1 + cw) / 2]
        den = [1 + al, -2 * cw, 1 - al]
    elif kind == "bp":
        b = [al, 0.0, -al]
        den = [1 + al, -2 * cw, 1 - al]
    elif kind == "peak":
        b = [1 + al * a, -2 * cw, 1 - al * a]
        den = [1 + al / a, -2 * cw, 1 - al / a]
    elif kind in ("lowshelf", "highshelf"):
        s = 1 if kind == "lowshelf" else -1
        sa = 2 * np.sqrt(a) * al
        b = [a * ((a + 1) - s * (a - 1) * cw + sa), s * 2 * a * ((a - 1) - s * (a + 1) * cw),
             a * ((a + 1) - s * (a - 1) * cw - sa)]
        den = [(a + 1) + s * (a - 1) * cw + sa, -s * 2 * ((a - 1) + s * (a + 1) * cw), (a + 1) + s * (a - 1) * cw - sa]
    else:
        raise ValueError(f"unknown filter kind {kind!r}")
    b, den = np.asarray(b) / den[0], np.asarray(den) / den[0]
    return np.concatenate([b, den])[None, :]


def eq(x: np.ndarray, fs: int, *bands: tuple) -> np.ndarray:
    """Apply ``(kind, f_hz, q, gain_db)`` biquads in series along the last axis."""
    if not bands:
        return x
    sos = np.vstack([biquad(k, f, fs, q, g) for k, f, q, g in bands])
    return signal.sosfilt(sos, x, axis=-1)


def pan(x: np.ndarray, p: float) -> np.ndarray:
    """Constant-power pan of a mono signal, ``p`` in [-1 (left), 1 (right)] -> (2, n)."""
    th = (np.clip(p, -1, 1) + 1) * np.pi / 4
    return np.stack([x * np.cos(th), x * np.sin(th)]) * np.sqrt(2)


def saturate(x: np.ndarray, drive: float) -> np.ndarray:
    """Soft clipping ``tanh(drive x) / tanh(drive)`` (unity at full scale)."""
    return np.tanh(drive * x) / np.tanh(drive)


# ----------------------------------------------------------------------------- rooms
def _decorrelate(ir: np.ndarray, stretch: float = 1.013) -> np.ndarray:
    """A second channel: the IR read 1.3 % slower (linear interpolation), its first 1 ms kept."""
    n = ir.size
    t = np.arange(n) / stretch
    r = np.interp(t, np.arange(n), ir)
    k = min(48, n)
    r[:k] = ir[:k]
    return np.stack([ir, r])


def _shape(ir: np.ndarray, fs: int, rt_now_s: float, rt_want_s: float, max_s: float) -> np.ndarray:
    """Shorten an IR's decay from ``rt_now_s`` to ``rt_want_s`` (an extra exponential), cut and fade."""
    t = np.arange(ir.size) / fs
    if rt_want_s < rt_now_s:
        ir = ir * np.exp(-6.908 * t * (1 / rt_want_s - 1 / rt_now_s))
    n = min(ir.size, int(max_s * fs))
    ir = ir[:n].copy()
    f = min(n // 4, int(0.2 * fs))
    ir[n - f:] *= np.cos(np.linspace(0, np.pi / 2, f)) ** 2
    return ir


@functools.lru_cache(maxsize=16)
def _measured(name: str, fs: int) -> np.ndarray | None:
    """A measured mono IR at ``fs`` from its direct sound on (unit energy), None if absent."""
    d = shared_data_dir()
    if d is None:
        return None
    try:
        if name == "room":
            p = d / "drc-fir" / "rs.pcm"
            x, fs0 = -np.fromfile(p, dtype="<f4").astype(np.float64), 44100
        else:
            import soundfile as sf
            p = {"hall": d / "openair" / "ir_sportscentre_omni.wav", "small": d / "openair" / "living_room_1.wav",
                 "plate": d / "spatialaudio-exercises" / "rir_clap.wav"}[name]
            x, fs0 = sf.read(str(p), dtype="float64", always_2d=True)
            x = x[:, 0]
    except (OSError, RuntimeError, ValueError):
        return None
    if x.size < 100 or not np.all(np.isfinite(x)):
        return None
    i0 = max(int(np.argmax(np.abs(x))) - int(0.001 * fs0), 0)
    x = x[i0:]
    if name == "room":
        x = x[: int(0.9 * fs0)]
    if fs0 != fs:
        g = np.gcd(int(fs0), int(fs))
        x = signal.resample_poly(x, fs // g, fs0 // g)
    return x / np.sqrt(np.sum(x ** 2))


def synthetic_ir(rt60_s: float, fs: int, rng: np.random.Generator, size: float = 1.0) -> np.ndarray:
    """A synthetic mono room: early reflections and a three-band exponentially decaying noise tail."""
    n = int(min(rt60_s * 1.2 + 0.1, 6.0) * fs)
    t = np.arange(n) / fs
    ir = np.zeros(n)
    ir[0] = 1.0
    for k in range(int(6 + 6 * size)):                           # early reflections (image-like taps)
        d = int(rng.uniform(0.003, 0.045) * size * fs)
        if 0 < d < n:
            ir[d] += rng.choice([-1, 1]) * rng.uniform(0.2, 0.6) / (1 + 20 * d / fs)
    pre = int((0.004 + 0.012 * size) * fs)                      # pre-delay grows with the room
    noise = rng.standard_normal(n)
    tail = np.zeros(n)
    edges = ((None, 500.0, 1.0), (500.0, 4000.0, 0.85), (4000.0, None, 0.5))
    for lo, hi, rt_scale in edges:
        if lo is None:
            b = signal.butter(2, hi, "low", fs=fs, output="sos")
        elif hi is None:
            b = signal.butter(2, lo, "high", fs=fs, output="sos")
        else:
            b = signal.butter(2, (lo, hi), "band", fs=fs, output="sos")
        tail += signal.sosfilt(b, noise) * np.exp(-6.908 * t / (rt60_s * rt_scale))
    onset = np.clip((t - pre / fs) / (0.02 * size + 0.005), 0, 1)
    tail *= onset * 0.35
    ir += tail
    return ir / np.sqrt(np.sum(ir ** 2))


def room_ir(kind: str, rt60_s: float, fs: int, rng: np.random.Generator) -> tuple[np.ndarray, str]:
    """A stereo IR (2, L) for ``kind`` (hall, room, small, plate) near ``rt60_s``; and its source."""
    meas = _measured(kind, fs)
    size = {"hall": 2.0, "room": 0.7, "small": 0.4, "plate": 0.8}[kind]
    if meas is None:
        ir = synthetic_ir(rt60_s, fs, rng, size)
        return _decorrelate(_shape(ir, fs, rt60_s, rt60_s, rt60_s * 1.2 + 0.1)), "synthetic"
    if kind == "hall":
        ir = _shape(meas, fs, 6.5, rt60_s, min(rt60_s * 1.3, 5.0))
    elif kind == "plate":                                         # the clap's room + a longer smooth tail
        tail = synthetic_ir(rt60_s, fs, rng, size)
        ir = np.zeros(max(tail.size, meas.size))
        ir[: meas.size] += meas
        ir[: tail.size] += 0.8 * tail
        ir = _shape(ir / np.sqrt(np.sum(ir ** 2)), fs, rt60_s, rt60_s, rt60_s * 1.2)
    else:
        ir = _shape(meas, fs, 1.0, 10.0, 1.0)
    return _decorrelate(ir / np.sqrt(np.sum(ir ** 2))), "measured"


def convolve_sends(sends: dict, ir: np.ndarray, n: int) -> dict:
    """Convolve mono sends ``{name: (n,)}`` with a stereo IR (2, L); returns ``{name: (2, n)}``
    (the tail past the song's end is dropped: the song's own ending fades before it)."""
    nfft = next_fast_len(n + ir.shape[1] - 1, real=True)
    irf = rfft(ir.astype(np.float32), nfft, axis=-1)            # float32: a room's -100 dB is plenty
    out = {}
    for k, x in sends.items():
        if not np.any(x):
            out[k] = np.zeros((2, n))
            continue
        y = irfft(rfft(x.astype(np.float32), nfft)[None, :] * irf, nfft, axis=-1)[:, :n]
        out[k] = y.astype(np.float64)
    return out


# ----------------------------------------------------------------------------- dynamics
def _onepole(x: np.ndarray, tau_s: float, fs: float) -> np.ndarray:
    a = np.exp(-1.0 / max(tau_s * fs, 1.0))
    y, _ = signal.lfilter([1 - a], [1, -a], x, zi=[x[0] * a])
    return y


HOP = 32            # dynamics run on 32-sample blocks (0.7 ms at 48 kHz), gains interpolated back


def _up(g_blocks: np.ndarray, n: int) -> np.ndarray:
    """Block values (at block centres) to a per-sample curve by linear interpolation."""
    centres = np.arange(g_blocks.size) * HOP + (HOP - 1) / 2
    return np.interp(np.arange(n), centres, g_blocks)


def compressor_gain(x: np.ndarray, fs: int, *, threshold_db: float, ratio: float, attack_s: float = 0.01,
                    release_s: float = 0.15, knee_db: float = 6.0) -> np.ndarray:
    """Gain (n,) of a feed-forward RMS compressor on the bus ``x`` (channels, n)."""
    n = x.shape[-1]
    m = -(-n // HOP)
    p = np.mean(x ** 2, axis=0)
    p = np.pad(p, (0, m * HOP - n)).reshape(m, HOP).mean(axis=1)
    p = _onepole(p, attack_s, fs / HOP)
    lev = 10 * np.log10(p + 1e-12)
    over = lev - threshold_db
    red = np.where(over <= -knee_db / 2, 0.0,
                   np.where(over >= knee_db / 2, over, (over + knee_db / 2) ** 2 / (2 * knee_db)))
    g_db = _onepole(-red * (1 - 1 / ratio), release_s, fs / HOP)
    return _up(10 ** (g_db / 20), n)


def limiter_gain(x: np.ndarray, fs: int, *, ceiling: float, lookahead_s: float = 0.004,
                 release_s: float = 0.06) -> np.ndarray:
    """Gain (n,) of a look-ahead peak limiter: ``|x| * gain <= ceiling`` at every sample.

    Runs on 32-sample blocks: the gain a block needs (its loudest sample), a running minimum over
    the look-ahead on either side, smoothed by a Hann window of that length; then a slower release
    (the same over ``release_s``) averaged in.  Every block value is at most what the blocks in its
    window need, and a sample's two neighbouring block values both have the sample's block in their
    window, so the interpolated gain never lets a sample past the ceiling.
    """
    n = x.shape[-1]
    m = -(-n // HOP)
    pk = np.max(np.abs(x), axis=0)
    pk = np.pad(pk, (0, m * HOP - n)).reshape(m, HOP).max(axis=1)
    need = np.minimum(1.0, ceiling / np.maximum(pk, 1e-12))
    L = max(int(lookahead_s * fs / HOP), 1) + 1
    hold = ndimage.minimum_filter1d(need, 2 * L + 1, mode="nearest")
    w = np.hanning(2 * L + 3)[1:-1]
    g = np.convolve(hold, w / w.sum(), mode="same")
    R = max(int(release_s * fs / HOP), L)
    slow = ndimage.minimum_filter1d(need, 2 * R + 1, mode="nearest")
    w2 = np.hanning(2 * R + 3)[1:-1]
    slow = np.convolve(slow, w2 / w2.sum(), mode="same")
    g = np.minimum(g, 0.5 * (g + slow))
    g = np.minimum(g, ndimage.minimum_filter1d(need, 3, mode="nearest"))     # (rounding: exact at the blocks)
    return _up(g, n)
