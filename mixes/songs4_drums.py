"""Modal drums and per-style patterns for :mod:`mixes.songs4`.

Each drum is a sum of decaying modes (a membrane's Bessel-zero ratios 1, 1.59, 2.14, 2.30,
2.65, 2.92; a metal plate's dense inharmonic modes) excited by a short, smoothed strike, plus a
filtered noise part where the instrument has one (snare wires, a brush, a shaker's beads).
No oscillator is a square or a saw; nothing starts or ends with a step (every hit has a
raised-cosine onset of >= 0.3 ms and decays to < -80 dB before its buffer ends).

Kits: ``"rock"`` (tight kick, snare, closed/open hats, crash; ``"metal"``: the same, a shorter kick), ``"808"`` (long sine kick, clap of
four bursts 8-12 ms apart, ticking hats with rolls), ``"jazz"`` (ride, brushes, feathered kick),
``"orchestral"`` (timpani, big toms, a suspended cymbal swell), ``"dub"`` (deep kick, rim shot,
sparse hats), ``"folk"`` (a stomp, tambourine, shaker), ``"beatbox"`` (mouth kick "b", snare "k"
and hat "ts": formant-shaped noise).
"""

from __future__ import annotations

import numpy as np
from scipy import signal

MEMBRANE = (1.0, 1.59, 2.14, 2.30, 2.65, 2.92, 3.16, 3.50)


def _onset(m: int, fs: int, rise_s: float = 0.0004) -> np.ndarray:
    e = np.ones(m)
    r = min(max(int(rise_s * fs), 2), m)
    e[:r] = 0.5 - 0.5 * np.cos(np.pi * np.arange(r) / r)
    return e


def _bp(x, fs, lo, hi, order=2):
    hi = min(hi, 0.45 * fs)
    return signal.sosfilt(signal.butter(order, [lo / (fs / 2), hi / (fs / 2)], "band", output="sos"), x)


def membrane(fs: int, f0: float, decay_s: float, *, sweep: float = 0.0, sweep_s: float = 0.03, n_modes: int = 6,
             tilt: float = 1.2, rng=None, len_s: float | None = None) -> np.ndarray:
    """A struck membrane: modes at ``f0 * MEMBRANE`` (higher ones decaying faster), the pitch
    starting ``sweep`` x higher and settling within ``sweep_s`` (a tight head)."""
    rng = rng or np.random.default_rng(0)
    m = int((len_s or decay_s * 7) * fs)
    t = np.arange(m) / fs
    bend = 1 + sweep * np.exp(-t / sweep_s)
    x = np.zeros(m)
    for i, r in enumerate(MEMBRANE[:n_modes]):
        f = f0 * r
        if f > 0.45 * fs:
            break
        ph = 2 * np.pi * np.cumsum(f * bend) / fs + rng.uniform(0, 6)
        x += np.sin(ph) * np.exp(-t / (decay_s / (1 + 0.8 * i))) / (1 + i) ** tilt
    return x * _onset(m, fs) * _fade_out(m, fs, 0.03)


def plate(fs: int, decay_s: float, lo_hz: float, hi_hz: float, n_modes: int, rng, len_s: float | None = None,
          rise_s: float = 0.0005) -> np.ndarray:
    """A metal plate/cymbal: ``n_modes`` random inharmonic modes in ``lo_hz..hi_hz``."""
    m = int((len_s or min(decay_s * 5, 2.5)) * fs)
    t = np.arange(m) / fs
    f = np.exp(rng.uniform(np.log(lo_hz), np.log(min(hi_hz, 0.45 * fs)), n_modes))
    d = decay_s * rng.uniform(0.5, 1.5, n_modes) * (lo_hz / f) ** 0.3
    x = np.zeros(m)
    for fi, di in zip(f, d):
        k = min(m, int(di * 12 * fs) + 1)                  # each mode to -100 dB
        x[:k] += np.sin(2 * np.pi * fi * t[:k] + rng.uniform(0, 6)) * np.exp(-t[:k] / di)
    x /= np.sqrt(n_modes)
    return x * _onset(m, fs, rise_s) * _fade_out(m, fs, 0.05)


def noise_hit(fs: int, decay_s: float, lo: float, hi: float, rng, rise_s: float = 0.0008) -> np.ndarray:
    m = int(decay_s * 8 * fs)
    t = np.arange(m) / fs
    return _bp(rng.standard_normal(m), fs, lo, hi) * np.exp(-t / decay_s) * _onset(m, fs, rise_s) * _fade_out(m, fs, 0.01)


def _norm(x):
    return x / (np.max(np.abs(x)) + 1e-12)


def _sum(*xs):
    """Sum of 1-D arrays of different lengths (zero-padded to the longest)."""
    out = np.zeros(max(x.size for x in xs))
    for x in xs:
        out[:x.size] += x
    return out


def kit(name: str, fs: int, rng) -> dict:
    """The kit's pieces: name -> (mono sample, pan position, default level)."""
    p = {}
    if name in ("rock", "metal", "dub", "folk"):
        f_k = rng.uniform(48, 62)
        k = membrane(fs, f_k, {"dub": 0.35, "metal": 0.07}.get(name, 0.16), sweep=1.2, sweep_s=0.012, n_modes=3, rng=rng)
        p["kick"] = (_norm(k), 0.0, 1.0)
    if name in ("rock", "metal"):
        sn = membrane(fs, rng.uniform(170, 210), 0.09, sweep=0.15, n_modes=6, rng=rng)
        sn = _sum(_norm(sn), 0.8 * _norm(noise_hit(fs, 0.08, 1800, 9000, rng)))
        p["snare"] = (_norm(sn), rng.uniform(-0.1, 0.1), 0.8)
        p["hat"] = (_norm(_sum(plate(fs, 0.03, 5000, 15000, 30, rng), 0.5 * noise_hit(fs, 0.02, 7000, 15000, rng))),
                    rng.choice([-0.45, 0.45]), 0.25)
        p["open"] = (_norm(plate(fs, 0.25, 4000, 15000, 40, rng)), p["hat"][1], 0.22)
        p["crash"] = (_norm(plate(fs, 1.2, 2500, 14000, 60, rng, rise_s=0.002)), -p["hat"][1], 0.3)
        p["tom"] = (_norm(membrane(fs, rng.uniform(90, 130), 0.3, sweep=0.3, sweep_s=0.05, rng=rng)), 0.3, 0.7)
    elif name == "808":
        f_k = rng.uniform(42, 52)
        p["kick"] = (_norm(membrane(fs, f_k, 0.5, sweep=2.0, sweep_s=0.02, n_modes=1, rng=rng)), 0.0, 1.0)
        m = int(0.25 * fs)
        clap = np.zeros(m)
        for j, dt in enumerate((0.0, 0.009, 0.019, 0.030)):
            h = noise_hit(fs, 0.006 if j < 3 else 0.06, 900, 4000, rng, rise_s=0.0006)
            i0 = int(dt * fs)
            clap[i0:i0 + h.size] += h[:m - i0]
        p["snare"] = (_norm(clap), 0.0, 0.8)
        p["hat"] = (_norm(plate(fs, 0.018, 6000, 16000, 24, rng)), rng.choice([-0.3, 0.3]), 0.22)
        p["open"] = (_norm(plate(fs, 0.15, 5000, 16000, 30, rng)), p["hat"][1], 0.2)
    elif name == "jazz":
        p["kick"] = (_norm(membrane(fs, rng.uniform(55, 70), 0.25, sweep=0.3, n_modes=4, rng=rng)), 0.0, 0.5)
        brush = noise_hit(fs, 0.12, 1500, 8000, rng, rise_s=0.01)
        p["snare"] = (_norm(_sum(brush, 0.3 * _norm(membrane(fs, 190, 0.06, n_modes=6, rng=rng)))), -0.1, 0.45)
        p["ride"] = (_norm(plate(fs, 0.9, 2500, 12000, 50, rng, len_s=4.0)), 0.5, 0.3)
        p["hat"] = (_norm(plate(fs, 0.04, 3000, 12000, 30, rng)), -0.4, 0.15)
    elif name == "orchestral":
        p["kick"] = (_norm(membrane(fs, rng.uniform(70, 90), 0.8, sweep=0.02, n_modes=5, tilt=0.8, rng=rng,
                                    len_s=4.0)), -0.2, 1.0)                    # timpani
        p["tom"] = (_norm(membrane(fs, rng.uniform(55, 75), 0.5, sweep=0.2, sweep_s=0.04, rng=rng)), 0.3, 0.9)
        m = int(3.0 * fs)
        sw = plate(fs, 3.0, 2000, 14000, 60, rng, len_s=3.0, rise_s=0.8) * np.linspace(0.2, 1, m) ** 2
        p["crash"] = (_norm(sw * _fade_out(m, fs, 0.3)), 0.4, 0.35)
    if name == "dub":
        rim = _sum(membrane(fs, rng.uniform(380, 450), 0.03, n_modes=4, rng=rng), 0.4 * noise_hit(fs, 0.01, 2000, 7000, rng))
        p["snare"] = (_norm(rim), 0.15, 0.6)
        p["hat"] = (_norm(plate(fs, 0.035, 5000, 14000, 30, rng)), -0.35, 0.2)
    if name == "folk":
        p["kick"] = (_norm(_sum(membrane(fs, rng.uniform(60, 80), 0.12, sweep=0.2, n_modes=4, rng=rng),
                                0.2 * noise_hit(fs, 0.04, 200, 1200, rng, rise_s=0.003))), 0.0, 0.8)
        tamb = _sum(plate(fs, 0.12, 5000, 14000, 40, rng), 0.5 * noise_hit(fs, 0.06, 4000, 12000, rng, rise_s=0.003))
        p["hat"] = (_norm(tamb), 0.4, 0.25)
        p["snare"] = (_norm(noise_hit(fs, 0.05, 3000, 10000, rng, rise_s=0.01)), -0.4, 0.2)      # shaker
    if name == "beatbox":
        b = _sum(membrane(fs, 70, 0.08, sweep=0.5, n_modes=2, rng=rng), 0.3 * noise_hit(fs, 0.03, 100, 900, rng, 0.004))
        p["kick"] = (_norm(b), 0.0, 0.9)
        p["snare"] = (_norm(noise_hit(fs, 0.06, 1200, 5000, rng, rise_s=0.003)), 0.0, 0.6)
        p["hat"] = (_norm(noise_hit(fs, 0.05, 5000, 11000, rng, rise_s=0.008)), 0.0, 0.25)
    return p


def _fade_out(m, fs, s):
    e = np.ones(m)
    r = min(int(s * fs), m)
    e[m - r:] = 0.5 + 0.5 * np.cos(np.pi * np.arange(r) / r)
    return e


def pattern(style: str, bars: int, rng) -> list[tuple[float, str, float]]:
    """Hits ``(time in beats from the start, piece, velocity)`` for ``bars`` 4/4 bars."""
    hits = []
    for b in range(bars):
        o = 4.0 * b
        fill = (b % 8 == 7)
        if style == "metal":
            for i in range(16):
                hits.append((o + i / 4, "kick", 0.8 + 0.2 * rng.random()))
            hits += [(o + 1, "snare", 1.0), (o + 3, "snare", 1.0)]
            hits += [(o + i / 2, "open" if i % 2 else "hat", 0.7) for i in range(8)]
            if b % 4 == 0:
                hits.append((o, "crash", 1.0))
            if fill:
                hits += [(o + 3 + i / 4, "tom", 0.9) for i in range(4)]
        elif style in ("funk", "folk_drums"):
            ks = (0, 0.75, 2.5) if style == "funk" else (0, 2)
            hits += [(o + k, "kick", 0.9) for k in ks]
            hits += [(o + 1, "snare", 1.0), (o + 3, "snare", 1.0)]
            if style == "funk":
                hits += [(o + 1.75, "snare", 0.25), (o + 3.5, "snare", 0.2)]          # ghost notes
                hits += [(o + i / 4, "hat", 0.5 + 0.4 * (i % 2 == 0)) for i in range(16)]
            else:
                hits += [(o + i / 2, "hat", 0.6 + 0.3 * (i % 2)) for i in range(8)]
        elif style == "dub":                                                        # one drop
            hits += [(o + 2, "kick", 1.0), (o + 2, "snare", 0.9)]
            hits += [(o + i / 2 + 0.5, "hat", 0.5) for i in range(0, 8, 2)]
            if fill:
                hits += [(o + 3.5, "snare", 0.5), (o + 3.75, "snare", 0.6)]
        elif style == "trap":
            hits += [(o, "kick", 1.0), (o + 1.75, "kick", 0.8), (o + 2.5, "kick", 0.9)]
            hits += [(o + 2, "snare", 1.0)]
            i = 0.0
            while i < 4:
                if rng.random() < 0.18:                                              # a roll
                    for j in range(3):
                        hits.append((o + i + j / 6, "hat", 0.4 + 0.2 * j))
                    i += 0.5
                else:
                    hits.append((o + i, "hat", 0.6 if (i * 2) % 2 == 0 else 0.45))
                    i += 0.5
            if b % 4 == 3:
                hits.append((o + 3.5, "open", 0.6))
        elif style == "bigband":                                                    # swung ride
            hits += [(o + k, "ride", 0.7) for k in (0, 1, 2, 3)]
            hits += [(o + k + 2 / 3, "ride", 0.5) for k in (1, 3)]
            hits += [(o + k, "hat", 0.5) for k in (1, 3)]
            hits += [(o + k, "kick", 0.35) for k in (0, 1, 2, 3)]                   # feathered
            hits += [(o + k, "snare", 0.6) for k in (0.0, 1.0, 2.0, 3.0)]           # brush sweeps
        elif style == "cinematic":
            if b % 2 == 0:
                hits += [(o, "kick", 1.0), (o + 1.5, "tom", 0.7), (o + 2, "kick", 0.8), (o + 3, "tom", 0.9)]
            if b % 8 == 6:
                hits.append((o + 1.0, "crash", 1.0))
        elif style == "acappella":
            hits += [(o, "kick", 0.9), (o + 1, "snare", 0.8), (o + 2.5, "kick", 0.7), (o + 3, "snare", 0.8)]
            hits += [(o + i / 2, "hat", 0.5) for i in range(8)]
    return hits
