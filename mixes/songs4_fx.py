"""Effects and the master bus for :mod:`mixes.songs4`.

* :func:`place` — stereo placement: a level difference (constant-power law) plus a small
  inter-channel delay (0-0.6 ms on the far side), as a spaced pair hears a source off centre.
* :func:`fdn_reverb` — an 8-line feedback delay network (Householder feedback matrix, mutually
  prime line lengths, per-line gain ``10**(-3 d / (RT60 fs))`` and a one-pole low-pass in each
  loop so the highs die sooner), rendered in blocks no longer than the shortest line so that a
  whole block of every line's output is already known; the send is pre-delayed and high-passed,
  left and right feed and tap different lines (a decorrelated stereo tail).
* :func:`slapback`, :func:`ping_pong` — single and tempo-synced alternating echoes, each
  repeat darker (a one-pole low-pass per repeat, as tape and analog delays do).
* :func:`bus_compressor` and :func:`lookahead_limiter` return a per-sample GAIN computed from
  the full mix; the caller applies it to every stem, so the stems still sum to the mix exactly
  (the stems are what the mastered mix is made of, as "printed through the bus").
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage, signal


def place(x: np.ndarray, fs: int, position: float, delay_ms_max: float = 0.6) -> np.ndarray:
    """Mono ``x`` to ``(2, n)`` at ``position`` (-1 left ... +1 right): level and a small delay."""
    p = float(np.clip(position, -1.0, 1.0))
    th = (p + 1.0) * np.pi / 4.0
    left, right = np.cos(th) * x, np.sin(th) * x
    d = int(round(abs(p) * delay_ms_max * 1e-3 * fs))
    if d > 0:
        if p > 0:       # source on the right: the left hears it later
            left = np.concatenate([np.zeros(d), left[:-d]])
        else:
            right = np.concatenate([np.zeros(d), right[:-d]])
    return np.stack([left, right])


def one_pole_lp(x: np.ndarray, fs: int, cutoff_hz: float, axis: int = -1) -> np.ndarray:
    """A one-pole low-pass (6 dB/octave) at ``cutoff_hz``."""
    a = float(np.exp(-2.0 * np.pi * cutoff_hz / fs))
    return signal.lfilter([1.0 - a], [1.0, -a], x, axis=axis)


def fdn_reverb(send: np.ndarray, fs: int, rt60_s: float, *, predelay_s: float = 0.02, size: float = 1.0,
               damping_hz: float = 5000.0, highpass_hz: float = 150.0, seed: int = 0) -> np.ndarray:
    """The wet return ``(2, n)`` of a stereo send ``(2, n)`` through an 8-line FDN.

    Parameters
    ----------
    send : ndarray (2, n) or (k, 2, n)
        One stereo send, or k of them through the same network (one return each).
    fs : int
        Sample rate (Hz).
    rt60_s : float
        Decay time (s) at low-mid frequencies (the loop low-pass shortens the highs).
    predelay_s : float
        Delay before the send enters the network (s).
    size : float
        Scales the line lengths (0.5: a small room or plate, 1.5: a hall).
    damping_hz : float
        Cut-off of the one-pole low-pass in each loop (Hz).
    highpass_hz : float
        2nd-order high-pass on the send (Hz), as a return is EQ'd on a console.
    seed : int
        Chooses the line lengths and tap signs.
    """
    batch = send.ndim == 3
    x = send if batch else send[None]
    nb, _, n = x.shape
    rng = np.random.default_rng([seed, 44])
    sos = signal.butter(2, highpass_hz / (fs / 2), "high", output="sos")
    x = signal.sosfilt(sos, x, axis=-1)
    pd = int(predelay_s * fs)
    if 0 < pd < n:
        x = np.concatenate([np.zeros((nb, 2, pd)), x[..., :n - pd]], axis=-1)
    base_s = np.array([0.0297, 0.0371, 0.0411, 0.0437, 0.0533, 0.0587, 0.0671, 0.0797])
    d = np.maximum((base_s * size * rng.uniform(0.93, 1.07, 8) * fs).astype(int), 64)
    d = np.array(sorted(set(int(v) | 1 for v in d)))
    while d.size < 8:
        d = np.append(d, d[-1] + 2 * d.size + 1)
    g = 10.0 ** (-3.0 * d / (rt60_s * fs))
    m = np.eye(8) - 2.0 / 8.0 * np.ones((8, 8))
    inj = np.zeros((8, 2))
    inj[:4, 0] = rng.choice([-1.0, 1.0], 4)
    inj[4:, 1] = rng.choice([-1.0, 1.0], 4)
    tap = np.zeros((2, 8))
    tap[0] = rng.choice([-1.0, 1.0], 8) * np.array([1, 0.3] * 4)
    tap[1] = rng.choice([-1.0, 1.0], 8) * np.array([0.3, 1] * 4)
    a = float(np.exp(-2.0 * np.pi * damping_hz / fs))
    zi = np.zeros((nb, 8, 1))
    hist = int(d.max())
    s = np.zeros((nb, 8, hist + n))          # what enters each line; index hist + t is time t
    out = np.zeros((nb, 8, n))
    b_len = int(d.min())
    inp = np.matmul(inj, x)
    for t0 in range(0, n, b_len):
        t1 = min(t0 + b_len, n)
        blk = np.stack([s[:, i, hist + t0 - d[i]: hist + t1 - d[i]] for i in range(8)], axis=1)
        blk, zi = signal.lfilter([1.0 - a], [1.0, -a], blk * g[None, :, None], axis=-1, zi=zi)
        out[..., t0:t1] = blk
        s[..., hist + t0: hist + t1] = np.matmul(m, blk) + inp[..., t0:t1]
    wet = np.matmul(tap, out) / np.sqrt(np.sum(tap[0] ** 2))
    return wet if batch else wet[0]


def slapback(x: np.ndarray, fs: int, delay_s: float, level: float = 0.35, lp_hz: float = 3500.0) -> np.ndarray:
    """One darker repeat of ``x`` (any shape, time last) ``delay_s`` later."""
    k = int(delay_s * fs)
    y = np.zeros_like(x)
    y[..., k:] = one_pole_lp(x[..., :x.shape[-1] - k], fs, lp_hz)
    return level * y


def ping_pong(x: np.ndarray, fs: int, delay_s: float, feedback: float = 0.5, lp_hz: float = 3000.0) -> np.ndarray:
    """Mono ``x`` to ``(2, n)`` echoes alternating right/left, each ``feedback`` quieter and darker."""
    n = x.size
    k = int(delay_s * fs)
    out = np.zeros((2, n))
    y = x.copy()
    gain = 1.0
    rep = 1
    while gain > 1e-3 and rep * k < n:
        y = one_pole_lp(y, fs, lp_hz)
        gain *= feedback
        out[rep % 2, rep * k:] += gain * y[:n - rep * k]
        rep += 1
    return out


def bus_compressor(mix: np.ndarray, fs: int, threshold_db: float, ratio: float, *, attack_ms: float = 10.0,
                   release_ms: float = 120.0) -> np.ndarray:
    """Per-sample gain ``(n,)`` of a feed-forward RMS bus compressor (soft knee 6 dB).

    The detector is the rms of the louder channel over 5 ms; the gain reduction (dB) is smoothed
    by a peak-hold-and-release on a 1-ms grid (attack ``attack_ms``, release ``release_ms``).
    """
    lvl = np.max(mix ** 2, axis=0)
    w = max(int(0.005 * fs), 1)
    env_db = 10 * np.log10(ndimage.uniform_filter1d(lvl, w) + 1e-12)
    over = env_db - threshold_db
    knee = 6.0
    gr = np.where(over <= -knee / 2, 0.0,
                  np.where(over >= knee / 2, over * (1 - 1 / ratio), (1 - 1 / ratio) * (over + knee / 2) ** 2 / (2 * knee)))
    hop = max(int(0.001 * fs), 1)
    g = gr[::hop]
    a_att = np.exp(-1.0 / max(attack_ms, 0.1))
    a_rel = np.exp(-1.0 / max(release_ms, 0.1))
    y = np.empty_like(g)
    cur = 0.0
    for i, v in enumerate(g):
        cur = a_att * cur + (1 - a_att) * v if v > cur else a_rel * cur + (1 - a_rel) * v
        y[i] = cur
    gr_s = np.interp(np.arange(mix.shape[1]), np.arange(g.size) * hop, y)
    return 10.0 ** (-gr_s / 20.0)


def lookahead_limiter(mix: np.ndarray, fs: int, ceiling: float, *, lookahead_ms: float = 1.5,
                      release_db_per_s: float = 60.0) -> np.ndarray:
    """Per-sample gain ``(n,)`` that keeps ``|mix * gain| <= ceiling`` (sample peaks).

    The gain each sample needs is ``min(1, ceiling / |x|)``; its minimum over +-lookahead, a
    release at most ``release_db_per_s`` (a running minimum of a rising line, in dB), then a
    moving average over the look-ahead: every averaged value comes from minima whose windows
    include the sample, so the result never exceeds the need (no overshoot, no steps).
    """
    pk = np.max(np.abs(mix), axis=0)
    need = np.minimum(1.0, ceiling / np.maximum(pk, 1e-12))
    la = max(int(lookahead_ms * 1e-3 * fs), 1)
    m = ndimage.minimum_filter1d(need, 2 * la + 1)
    m_db = 20 * np.log10(m)
    rel = release_db_per_s / fs
    t = np.arange(m.size)
    rel_db = np.minimum(rel * t + np.minimum.accumulate(m_db - rel * t), 0.0)
    g = ndimage.uniform_filter1d(10.0 ** (rel_db / 20.0), la)
    return np.minimum(g, need)
