"""Drums for :mod:`mixes.songs3`: synthesised kit pieces and per-style patterns.

Pieces (all synthesised, no samples from elsewhere):

* kick — a sine whose frequency sweeps exponentially from 150-260 Hz down to 42-62 Hz, an
  exponential amplitude decay, a 2 ms high-passed noise "beater click", soft-clipped;
* snare — two damped body modes (~190 and ~330 Hz, pitch dropping slightly) plus band-passed
  noise (the wires); rim/brush variants;
* clap — three or four band-passed noise bursts ~10 ms apart and a short tail;
* hats — high-passed noise plus six inharmonic band-limited square waves (a metallic cluster,
  rendered once per kit; each hit takes its own stretch of it),
  closed (~40 ms) and open (~300 ms); crash — long, decorrelated L/R;
* toms — sines with a small pitch drop and a little noise.

A kit is either *sampled* (each piece rendered once: every hit identical, scaled by velocity,
as a drum machine or sample pack does) or *played* (each hit rendered afresh with small random
changes in pitch, decay and noise, and a few ms of timing drift).  Patterns are 16-step grids per
style (backbeat, boom-bap, half-time, four-on-the-floor, swung ride, sparse) with fills at the
end of sections and velocity accents.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy import signal

PAN = {"kick": 0.0, "snare": 0.05, "clap": 0.0, "hat": 0.35, "open": 0.35, "tom_hi": -0.35, "tom_mid": 0.1,
       "tom_lo": 0.45, "crash": -0.4, "brush": 0.05, "rim": 0.05, "shaker": -0.3}
SEND = {"kick": 0.0, "snare": 0.5, "clap": 0.5, "hat": 0.15, "open": 0.2, "tom_hi": 0.4, "tom_mid": 0.4,
        "tom_lo": 0.4, "crash": 0.3, "brush": 0.4, "rim": 0.4, "shaker": 0.2}


@lru_cache(maxsize=32)
def _sos(kind: str, lo: float, hi: float, fs: int) -> np.ndarray:
    nyq = fs / 2.0
    if kind == "hp":
        return signal.butter(2, lo / nyq, btype="high", output="sos")
    return signal.butter(2, [lo / nyq, min(hi, 0.45 * fs) / nyq], btype="band", output="sos")


def _kick(rng, fs, p, jit):
    n = int(6.5 * p["k_ta"] * 1.3 * fs)
    t = np.arange(n) / fs
    f = p["k_lo"] * jit(0.02) + (p["k_hi"] * jit(0.04) - p["k_lo"]) * np.exp(-t / p["k_tp"])
    body = np.sin(2 * np.pi * np.cumsum(f) / fs) * np.exp(-t / (p["k_ta"] * jit(0.08)))
    m = int(0.004 * fs)                                      # beater: ~1 ms of high-passed noise
    z = signal.sosfilt(_sos("hp", 1500.0, 0, fs), rng.standard_normal(m))
    click = np.zeros(n)
    click[:m] = z / (np.max(np.abs(z)) + 1e-12) * np.minimum(t[:m] / 0.0003, 1.0) * np.exp(-t[:m] / 0.0008)
    return np.tanh(p["k_drive"] * (body + p["k_click"] * click)) / np.tanh(p["k_drive"])


def _snare(rng, fs, p, jit, wires=1.0, body=1.0, length=1.0):
    n = int((0.2 + 6.0 * p["s_tn"]) * length * fs)
    t = np.arange(n) / fs
    f1 = p["s_f"] * jit(0.03) * (1 + 0.15 * np.exp(-t / 0.01))
    b = (np.sin(2 * np.pi * np.cumsum(f1) / fs) + 0.5 * np.sin(2 * np.pi * np.cumsum(1.72 * f1) / fs))
    b *= np.exp(-t / (0.05 * jit(0.1)))
    z = signal.sosfilt(_sos("bp", 1200.0, 9000.0, fs), rng.standard_normal(n))
    z *= np.exp(-t / (p["s_tn"] * length * jit(0.1)))
    y = body * b + wires * p["s_wire"] * z / (np.std(z[: int(0.02 * fs)]) + 1e-9) * 0.5
    y[: int(0.0005 * fs)] *= np.linspace(0, 1, int(0.0005 * fs))
    return y


def _clap(rng, fs, p, jit):
    n = int(0.6 * fs)
    t = np.arange(n) / fs
    env = np.exp(-t / 0.09) * 0.5 * (0.5 - 0.5 * np.cos(np.pi * np.clip(t / 0.0003, 0.0, 1.0)))
    for k in range(p["c_n"]):
        d = k * 0.0105 * jit(0.1)
        # each burst rises over 0.3 ms (hands meeting and the air between them take that long; an
        # instant step of band-passed noise is a one-sample edge the click detector rightly hears)
        rise = np.clip((t - d) / 0.0003, 0.0, 1.0)
        env += np.where(t >= d, np.exp(-(t - d) / 0.004), 0.0) * (0.5 - 0.5 * np.cos(np.pi * rise))
    return signal.sosfilt(_sos("bp", 800.0, 3200.0, fs), rng.standard_normal(n)) * env


def metal_cluster(rng: np.random.Generator, fs: int, base_hz: float, seconds: float = 2.5) -> np.ndarray:
    """Six inharmonic PolyBLEP square waves summed (an 808-like metallic cluster), ``seconds`` long."""
    from mixes.songs3_inst import polyblep_saw
    n = int(seconds * fs)
    y = np.zeros(n)
    for r in (1.0, 1.4836, 1.8009, 2.5452, 2.6306, 3.8964):
        ph = rng.uniform(0, 1)
        y += 0.25 * (polyblep_saw(base_hz * r, n, fs, ph) - polyblep_saw(base_hz * r, n, fs, (ph + 0.5) % 1.0))
    return y


def _metal(rng, fs, p, jit, tau_s, cluster):
    n = int(6.5 * tau_s * fs)
    t = np.arange(n) / fs
    i = int(rng.integers(0, cluster.size - n)) if cluster.size > n else 0
    y = rng.standard_normal(n) * 0.7
    y[: min(n, cluster.size - i)] += cluster[i:i + n]
    y = signal.sosfilt(_sos("hp", p["h_hp"], 0, fs), y)
    return y * np.exp(-t / (tau_s * jit(0.1))) * np.minimum(t / 0.0007, 1)


def _tom(rng, fs, p, jit, f_hz):
    n = int(1.3 * fs)
    t = np.arange(n) / fs
    f = f_hz * jit(0.02) * (1 + 0.25 * np.exp(-t / 0.05))
    y = np.sin(2 * np.pi * np.cumsum(f) / fs) * np.exp(-t / 0.22)
    z = signal.sosfilt(_sos("bp", 300.0, 4000.0, fs), rng.standard_normal(n)) * np.exp(-t / 0.03) * 0.3
    return y + z


class Kit:
    """One song's drum kit.

    Parameters
    ----------
    rng : numpy.random.Generator
    fs : int
        Sample rate (Hz).
    sampled : bool
        Every hit of a piece identical (scaled by velocity) rather than synthesised per hit.
    style : str
        A :data:`mixes.songs3.STYLES` name (sets the kit's character).
    """

    def __init__(self, rng: np.random.Generator, fs: int, sampled: bool, style: str) -> None:
        self.rng, self.fs, self.sampled = rng, fs, sampled
        deep = style in ("boombap", "club")
        self.p = {"k_hi": rng.uniform(150, 260), "k_lo": rng.uniform(42, 62), "k_tp": rng.uniform(0.015, 0.04),
                  "k_ta": rng.uniform(0.15, 0.35) if deep else rng.uniform(0.12, 0.3), "k_click": rng.uniform(0.1, 0.35),
                  "k_drive": rng.uniform(1.0, 2.5), "s_f": rng.uniform(170, 230), "s_tn": rng.uniform(0.08, 0.2),
                  "s_wire": rng.uniform(0.6, 1.4), "c_n": int(rng.integers(3, 5)), "h_f": rng.uniform(280, 420),
                  "h_hp": rng.uniform(6000, 8500), "toms": sorted(rng.uniform(85, 230, 3))}
        self.pan_flip = -1.0 if rng.random() < 0.5 else 1.0          # drummer's or audience's view
        self.cluster = metal_cluster(rng, fs, self.p["h_f"], 3.0)
        self._cache: dict[str, np.ndarray] = {}

    def sound(self, piece: str) -> np.ndarray:
        """The mono waveform of one hit of ``piece`` (peak 1)."""
        if self.sampled and piece in self._cache:
            return self._cache[piece]
        rng, fs, p = self.rng, self.fs, self.p
        jit = (lambda s: 1.0) if self.sampled else (lambda s: float(np.exp(rng.normal(0, s))))
        if piece == "kick":
            y = _kick(rng, fs, p, jit)
        elif piece == "snare":
            y = _snare(rng, fs, p, jit)
        elif piece == "rim":
            y = _snare(rng, fs, p, jit, wires=0.2, body=0.6, length=0.3)
        elif piece == "brush":
            y = _snare(rng, fs, p, jit, wires=0.6, body=0.05, length=0.6)
        elif piece == "clap":
            y = _clap(rng, fs, p, jit)
        elif piece in ("hat", "shaker"):
            y = _metal(rng, fs, p, jit, 0.035 if piece == "hat" else 0.02, self.cluster)
        elif piece == "open":
            y = _metal(rng, fs, p, jit, 0.28, self.cluster)
        elif piece == "crash":
            y = _metal(rng, fs, p, jit, 1.1, self.cluster)
        else:
            y = _tom(rng, fs, p, jit, p["toms"][("tom_lo", "tom_mid", "tom_hi").index(piece)])
        nf = min(int(0.02 * fs), y.size)                     # every sample ends in a fade, never a step
        y[y.size - nf:] *= np.cos(0.5 * np.pi * np.arange(nf) / nf) ** 2
        y = y / (np.max(np.abs(y)) + 1e-12)
        if self.sampled:
            y.setflags(write=False)
            self._cache[piece] = y
        return y


def render(kit: Kit, hits: list[tuple[float, str, float]], n_samples: int) -> tuple[np.ndarray, np.ndarray]:
    """Place hits ``(time_s, piece, velocity)``.

    Returns
    -------
    dry : ndarray (2, n_samples)
        The panned kit.
    send : ndarray (n_samples,)
        The mono reverb send (snare, toms, claps much; kick hardly).
    """
    fs = kit.fs
    dry = np.zeros((2, n_samples))
    send = np.zeros(n_samples)
    lvl = {"kick": 1.0, "snare": 0.8, "clap": 0.6, "hat": 0.22, "open": 0.22, "crash": 0.3, "brush": 0.35,
           "rim": 0.45, "shaker": 0.12, "tom_lo": 0.7, "tom_mid": 0.65, "tom_hi": 0.6}
    for t_s, piece, vel in hits:
        i = int(round(t_s * fs))
        if i < 0 or i >= n_samples:
            continue
        y = kit.sound(piece)
        m = min(y.size, n_samples - i)
        g = lvl[piece] * vel
        pan = PAN[piece] * kit.pan_flip
        th = (pan + 1) * np.pi / 4
        if piece in ("crash", "open"):                                 # a little width
            dry[0, i:i + m] += g * np.cos(th) * y[:m]
            dry[1, i + 7:i + m] += g * np.sin(th) * y[:max(m - 7, 0)]
        else:
            dry[0, i:i + m] += g * np.cos(th) * y[:m]
            dry[1, i:i + m] += g * np.sin(th) * y[:m]
        send[i:i + m] += SEND[piece] * g * y[:m]
    return dry, send


def bar_pattern(style: str, groove: int, bar: int, n_bars: int, section: str, last_section: bool,
                rng: np.random.Generator) -> list[tuple[float, str, float]]:
    """One bar's hits ``(step, piece, velocity)``; ``step`` in 16ths (0-16, may be fractional).

    ``groove`` picks a variant of the style (e.g. half-time); ``bar`` counts within the section.
    """
    h: list[tuple[float, str, float]] = []
    fill = bar == n_bars - 1 and not last_section and n_bars >= 2
    loud = 1.0 if section == "chorus" else 0.85
    if section == "intro" and style in ("fireside", "lounge"):
        return [(0.0, "shaker", 0.5)] if style == "fireside" else []
    if style == "club":
        h += [(s, "kick", 1.0) for s in (0, 4, 8, 12)]
        h += [(s, "clap", 0.9) for s in (4, 12)]
        h += [(s, "hat", 0.5 + 0.3 * (s % 4 == 2)) for s in range(0, 16, 2 if section == "intro" else 1) if s % 4 != 2]
        h += [(s, "open", 0.7) for s in (2, 6, 10, 14)]
        if fill:
            h += [(s, "snare", 0.3 + 0.04 * s) for s in range(8, 16)]
    elif style == "boombap":
        half = groove == 1
        kicks = (0, 7, 10) if not half else (0, 3, 10)
        h += [(s, "kick", 1.0 if s == 0 else 0.85) for s in kicks]
        h += [(8, "snare", 1.0)] if half else [(4, "snare", 1.0), (12, "snare", 1.0)]
        step = 1 if half else 2
        h += [(s, "hat", 0.75 if s % 4 == 0 else 0.5) for s in range(0, 16, step)]
        if half and bar % 2 == 1:
            h += [(14 + k / 3, "hat", 0.4) for k in range(3)]                  # a triplet roll
    elif style == "garage":
        h += [(s, "kick", 1.0) for s in (0, 8, 10 if groove else 6)]
        h += [(4, "snare", 1.0), (12, "snare", 1.0)]
        h += [(s, "open" if (s == 14 and bar % 2) else "hat", 0.8 if s % 4 == 0 else 0.6)
              for s in range(0, 16, 2)]
        if bar == 0 and section != "intro":
            h += [(0, "crash", 0.9)]
        if fill:
            h = [x for x in h if x[0] < 8]
            h += [(8 + k, ("tom_hi", "tom_hi", "tom_mid", "tom_mid", "tom_lo", "tom_lo", "snare", "snare")[k],
                   0.7 + 0.04 * k) for k in range(8)]
    elif style == "lounge":
        h += [(s, "hat", 0.7 if s in (4, 12) else 0.5) for s in (0, 4, 6, 8, 12, 14)]   # ride pattern
        h += [(s, "kick", 0.35) for s in (0, 8)]
        h += [(s, "rim", 0.6) for s in (4, 12)] if groove else [(s, "brush", 0.6) for s in range(0, 16, 4)]
        h += [(s, "brush", 0.2) for s in (6, 10, 14) if rng.random() < 0.4]               # ghost notes
        if fill:
            h += [(12 + 4 * k / 3, "snare", 0.45) for k in range(3)]
    elif style == "fireside":
        h += [(s, "kick", 0.7) for s in (0, 8)]
        h += [(s, "rim" if groove else "clap", 0.6) for s in (4, 12)]
        h += [(s, "shaker", 0.6 if s % 2 == 0 else 0.35) for s in range(16)]
    else:                                                                  # radio pop
        h += [(s, "kick", 1.0) for s in ((0, 6, 8) if groove else (0, 3, 8, 11))]
        h += [(4, "snare", 1.0), (12, "snare", 1.0)]
        h += [(s, "hat", 0.7 if s % 4 == 0 else 0.45) for s in range(0, 16, 2)]
        if section == "chorus":
            h += [(4, "clap", 0.5), (12, "clap", 0.5)]
        if fill:
            h += [(s, "snare", 0.35 + 0.05 * (s - 12)) for s in (13, 14, 15)]
    out = []
    for s, piece, v in h:
        v = v * loud * float(np.clip(rng.normal(1.0, 0.06), 0.8, 1.15))
        out.append((float(s), piece, min(v, 1.2)))
    return out
