"""Drums and percussion of :mod:`mixes.songs5`: synthesized hits and per-style patterns.

Hits are short mono samples (three round-robin variants each, as a sampled kit has): kicks as
sine sweeps with a beater click (acoustic, 808, EDM, jazz), snare as two shell modes and band-passed
wires, claps as four noise bursts and a tail, hats as six detuned square waves high-passed
(the classic metallic spectrum), ride/crash as many inharmonic partials with long decays, brushes
as band-passed noise (taps and swept strokes), timpani and toms as membrane modes (ratios of the
ideal circular membrane, tuned), congas as a tone with a slight pitch drop plus a slap, shakers and
tambourines as noise grains.  A pattern returns hits ``(t_s, drum, velocity)``; :func:`render_kit`
places them with a pan per drum (the drummer's view).
"""

from __future__ import annotations

import numpy as np
from scipy import signal

from mixes.songs5_dsp import pan

PAN = {"kick": 0.0, "kick2": 0.0, "snare": 0.05, "clap": 0.0, "hat": -0.35, "ohat": -0.35, "ride": 0.4,
       "crash": -0.5, "crash2": 0.55, "tom1": -0.2, "tom2": 0.15, "tom3": 0.4, "brush": 0.05, "swish": 0.05,
       "timp": -0.25, "taiko": 0.2, "conga_hi": -0.3, "conga_lo": 0.3, "slap": -0.3, "shaker": 0.55,
       "clave": -0.45, "cowbell": 0.35, "tamb": 0.6, "rim": 0.05, "swell": 0.0}


def _bp(x, lo, hi, fs, order=2):
    return signal.sosfilt(signal.butter(order, (lo, min(hi, 0.45 * fs)), "band", fs=fs, output="sos"), x)


def _hp(x, f, fs, order=2):
    return signal.sosfilt(signal.butter(order, min(f, 0.45 * fs), "high", fs=fs, output="sos"), x)


def make_hit(name: str, fs: int, rng: np.random.Generator, tune_hz: float = 0.0) -> np.ndarray:
    """One sample of drum ``name`` (mono, peak 1)."""
    def t_(sec):
        return np.arange(int(sec * fs)) / fs
    if name in ("kick", "kick2"):
        t = t_(0.45)
        f = 48 + 90 * np.exp(-t / 0.035) * rng.uniform(0.9, 1.1)
        y = np.sin(2 * np.pi * np.cumsum(f) / fs) * np.exp(-t / 0.18)
        c = _hp(rng.standard_normal(t.size), 2500, fs) * np.exp(-t / 0.0015) * 0.35
        y = y + c
    elif name == "kick808":
        t = t_(1.2)
        f = 45 + 70 * np.exp(-t / 0.02)
        y = np.tanh(1.8 * np.sin(2 * np.pi * np.cumsum(f) / fs) * np.exp(-t / 0.45))
    elif name == "kickedm":
        t = t_(0.4)
        f = 50 + 150 * np.exp(-t / 0.025)
        y = np.tanh(2.5 * np.sin(2 * np.pi * np.cumsum(f) / fs) * np.exp(-t / 0.16))
        y = y + _hp(rng.standard_normal(t.size), 4000, fs) * np.exp(-t / 0.002) * 0.3
    elif name == "kickjazz":
        t = t_(0.4)
        y = np.sin(2 * np.pi * np.cumsum(62 + 20 * np.exp(-t / 0.03)) / fs) * np.exp(-t / 0.2)
    elif name in ("snare", "rim"):
        t = t_(0.35)
        tone = (np.sin(2 * np.pi * 185 * t) + 0.6 * np.sin(2 * np.pi * 330 * t)) * np.exp(-t / 0.05)
        wires = _bp(rng.standard_normal(t.size), 1500, 9000, fs) * np.exp(-t / (0.11 if name == "snare" else 0.02))
        y = 0.6 * tone + 1.3 * wires
        if name == "rim":
            y = _bp(rng.standard_normal(t.size), 800, 3000, fs) * np.exp(-t / 0.012) + 0.4 * tone * np.exp(-t / 0.01)
    elif name == "clap":
        t = t_(0.3)
        env = sum(np.where(t >= d, np.exp(-(t - d) / 0.006), 0) for d in (0, 0.011, 0.022)) + \
            np.where(t >= 0.033, np.exp(-(t - 0.033) / 0.09), 0)
        y = _bp(rng.standard_normal(t.size), 900, 4000, fs) * env
    elif name in ("hat", "ohat", "tamb"):
        t = t_(0.06 if name == "hat" else 0.5)
        y = sum(signal.square(2 * np.pi * f * 1.71 * t + rng.uniform(0, 6)) for f in
                (205.3, 304.4, 369.6, 522.7, 540.0, 800.0))
        y = _hp(y, 7000 if name != "tamb" else 5000, fs, 4) * np.exp(-t / (0.018 if name == "hat" else 0.18))
        if name == "tamb":
            y = y * (1 + 0.8 * np.sin(2 * np.pi * 18 * t)) + _hp(rng.standard_normal(t.size), 6000, fs) * np.exp(-t / 0.06)
    elif name in ("ride", "crash", "crash2"):
        t = t_(2.2 if name == "ride" else 1.8)
        fr = np.sort(rng.uniform(300, 9000, 16))
        taus = (1.8 if name == "ride" else 1.1) * (1000 / fr) ** 0.4
        y = np.zeros(t.size)
        for f, ta in zip(fr, taus):
            y += np.sin(2 * np.pi * f * t + rng.uniform(0, 6)) * np.exp(-t / ta) * rng.uniform(0.3, 1)
        y = _hp(y, 400, fs)
        if name != "ride":
            y = y + 1.5 * _hp(rng.standard_normal(t.size), 3000, fs) * np.exp(-t / 0.7)
        else:
            y = y + 0.5 * _hp(rng.standard_normal(t.size), 5000, fs) * np.exp(-t / 0.01)
    elif name == "brush":
        t = t_(0.12)
        y = _bp(rng.standard_normal(t.size), 1500, 9000, fs) * np.exp(-t / 0.03) * np.minimum(1, t / 0.004)
    elif name == "swish":                                  # a swept brush stroke (half a beat long)
        t = t_(0.3)
        y = _bp(rng.standard_normal(t.size), 2000, 8000, fs) * np.sin(np.pi * t / t[-1]) ** 2 * 0.5
    elif name in ("tom1", "tom2", "tom3", "timp", "taiko"):
        f0 = tune_hz or {"tom1": 180.0, "tom2": 130.0, "tom3": 95.0, "timp": 90.0, "taiko": 60.0}[name]
        t = t_(2.2 if name == "timp" else 0.8)
        ratios = (1.0, 1.504, 1.742, 2.0, 2.245, 2.494) if name == "timp" else (1.0, 1.594, 2.136)
        tau = 1.2 if name == "timp" else (0.5 if name == "taiko" else 0.3)
        y = sum(np.sin(2 * np.pi * f0 * r * t * (1 + 0.03 * np.exp(-t / 0.05))) * np.exp(-t / (tau / r)) / r
                for r in ratios)
        y = y + _bp(rng.standard_normal(t.size), 200, 3000, fs) * np.exp(-t / 0.01) * 0.3
    elif name in ("conga_hi", "conga_lo", "slap"):
        f0 = {"conga_hi": 330.0, "conga_lo": 220.0, "slap": 330.0}[name]
        t = t_(0.4)
        y = np.sin(2 * np.pi * np.cumsum(f0 * (1 + 0.08 * np.exp(-t / 0.01))) / fs) * np.exp(-t / 0.12)
        y = y + 0.4 * np.sin(2 * np.pi * 1.52 * f0 * t) * np.exp(-t / 0.05)
        if name == "slap":
            y = 0.4 * y + _bp(rng.standard_normal(t.size), 1000, 6000, fs) * np.exp(-t / 0.015) * 1.2
    elif name == "shaker":
        t = t_(0.09)
        env = np.sin(np.pi * t / t[-1]) ** 3 * (1 + 0.5 * np.exp(-t / 0.01))
        y = _bp(rng.standard_normal(t.size), 4500, 11000, fs) * env
    elif name == "clave":
        t = t_(0.08)
        y = np.sin(2 * np.pi * 2500 * t) * np.exp(-t / 0.018)
    elif name == "cowbell":
        t = t_(0.3)
        y = _bp(signal.square(2 * np.pi * 540 * t) + signal.square(2 * np.pi * 800 * t), 400, 3000, fs) * np.exp(-t / 0.07)
    elif name == "swell":                                  # a cymbal swell rolled with mallets (1.5 s up)
        t = t_(1.6)
        y = _hp(rng.standard_normal(t.size), 2500, fs) * (t / t[-1]) ** 2.5
        y[-int(0.01 * fs):] *= np.linspace(1, 0, int(0.01 * fs))
    else:
        raise ValueError(name)
    y = y * np.minimum(1, np.arange(y.size) / max(0.0005 * fs, 1))        # no step at the first sample
    f = y.size * 2 // 5                                                   # nor at the last: a sample that stops
    y[-f:] *= np.cos(np.linspace(0, np.pi / 2, f)) ** 2                   # mid-decay is a click (found on songs5)
    return y / np.max(np.abs(y))


def _grid(bar: int, bar_s: float, beats: int, pos: float, swing: float) -> float:
    """Time of beat position ``pos`` (in beats) in ``bar``; off-8ths (x.5) are delayed by the swing."""
    beat = bar_s / beats
    frac = pos % 1
    if abs(frac - 0.5) < 1e-6:
        pos += swing * 0.5
    elif abs(frac - 0.25) < 1e-6 or abs(frac - 0.75) < 1e-6:
        pos += swing * 0.25
    return bar * bar_s + pos * beat


def pattern(style: str, form: list[str], bar_s: float, beats: int, rng: np.random.Generator,
            swing: float = 0.0) -> list[tuple]:
    """Hits ``(t_s, drum, velocity)`` of a style over the song's form."""
    hits = []
    n_bars = len(form)
    if style == "songwriter":                                # acoustic guitar and voice only
        return hits

    def add(b, pos, name, vel):
        hits.append((_grid(b, bar_s, beats, pos, swing), name, float(np.clip(vel * rng.uniform(0.85, 1.0), 0, 1))))

    for b, sec in enumerate(form):
        last_of_sec = b + 1 < n_bars and form[b + 1] != sec
        first_of_sec = b == 0 or form[b - 1] != sec
        big = sec == "chorus"
        if sec == "break" and style not in ("latin",):
            if style in ("edm", "pop", "gospel") and last_of_sec:            # build-up roll into the next section
                for q in range(beats * 4):
                    add(b, q / 4, "snare", 0.3 + 0.6 * q / (beats * 4))
            continue
        if style == "orchestral":
            if big:
                add(b, 0, "timp", 0.9)
                add(b, 0, "taiko", 0.8)
                add(b, 2, "taiko", 0.6)
            if last_of_sec and form[b + 1] == "chorus":
                for q in range(beats * 4):
                    add(b, q / 4, "timp", 0.25 + 0.6 * q / (beats * 4))
                add(b, beats - 1.6 / (bar_s / beats), "swell", 0.7)
            continue
        if sec == "intro" and style in ("edm", "trap", "metal"):
            for q in range(beats * 2 if style != "metal" else beats):
                add(b, q / 2 if style != "metal" else q, "hat" if style != "metal" else "ride", 0.5)
            continue
        if first_of_sec and sec in ("chorus", "verse", "bridge") and style not in ("jazz", "latin", "reggae"):
            add(b, 0, "crash", 0.8 if big else 0.6)
        if style == "pop":
            for pos in (0, 2) + ((2.5,) if rng.random() < 0.4 else ()):
                add(b, pos, "kick", 0.9)
            for pos in (1, 3):
                add(b, pos, "snare", 0.85)
            for q in range(beats * 2):
                add(b, q / 2, "hat" if not (big and q == 7) else "ohat", 0.6 - 0.2 * (q % 2))
        elif style == "trap":
            for pos in (0, 1.75 if rng.random() < .5 else 2.5, 3.25 if rng.random() < .5 else 3.5):
                add(b, pos, "kick", 0.9)
            add(b, 2, "clap", 0.9)
            add(b, 2, "snare", 0.5)
            q = 0.0
            while q < beats - 1e-9:
                if rng.random() < (0.25 if big else 0.12):                  # a hat roll: 16ths, 32nds or triplets
                    div = int(rng.choice([4, 6, 8]))
                    for r in range(div // 2):
                        add(b, q + r / div, "hat", 0.35 + 0.4 * r / div)
                else:
                    add(b, q, "hat", 0.6)
                q += 0.5
        elif style == "jazz":
            for pos, v in ((0, .7), (1, .8), (1 + 2 / 3, .5), (2, .7), (3, .8), (3 + 2 / 3, .5)):
                if pos < beats:
                    hits.append((b * bar_s + pos * bar_s / beats, "ride", v * rng.uniform(.85, 1.)))
            for pos in (1, 3):
                if pos < beats:
                    add(b, pos, "hat", 0.35)
            for q in range(beats):
                add(b, q, "swish", 0.5)
                add(b, q, "kickjazz", 0.25)
            if rng.random() < 0.5:
                add(b, 2 + 2 / 3 if beats > 3 else 1.5, "brush", 0.6)
            if rng.random() < 0.25:
                add(b, beats - 1 / 3, "rim", 0.4)
        elif style == "metal":
            if big:
                for q in range(beats * 4):                          # double kick: alternate feet
                    add(b, q / 4, "kick" if q % 2 == 0 else "kick2", 0.8)
            else:
                for pos in (0, 0.5, 1.5, 2, 2.5, 3.5):
                    add(b, pos, "kick", 0.85)
            for pos in (1, 3):
                add(b, pos, "snare", 1.0)
            for q in range(beats * 2):
                add(b, q / 2, "ride" if big else "hat", 0.6)
        elif style == "reggae":
            add(b, 2, "kick", 0.9)
            add(b, 2, "rim", 0.8)
            for q in range(beats * 2):
                add(b, q / 2, "hat", 0.45 + 0.15 * (q % 2))
            if last_of_sec:
                for pos in (3, 3.25, 3.5, 3.75):
                    add(b, pos, "tom2" if pos < 3.5 else "tom3", 0.6)
        elif style == "edm":
            if sec != "intro":
                for q in range(beats):
                    add(b, q, "kickedm", 1.0)
                for pos in (1, 3):
                    add(b, pos, "clap", 0.8)
            for q in range(beats):
                add(b, q + 0.5, "ohat", 0.55)
            if big:
                for q in range(beats * 4):
                    add(b, q / 4, "hat", 0.35)
        elif style == "latin":
            for pos in ((0, 1.5, 3) if b % 2 == 0 else (1, 2)):              # son clave 3-2
                add(b, pos, "clave", 0.5)
            for pos, d, v in ((0, "conga_lo", .5), (1, "slap", .8), (2, "conga_hi", .5), (3, "slap", .6),
                              (3.5, "conga_hi", .8), (3.75, "conga_lo", .7)):
                add(b, pos, d, v)
            for q in range(beats * 4):
                add(b, q / 4, "shaker", 0.4 + 0.2 * (q % 2 == 0))
            if big:
                for q in range(beats):
                    add(b, q, "cowbell", 0.6)
            add(b, 3.5, "kick", 0.5)
        elif style == "gospel":
            for pos in (0, 1.5, 2.5):
                add(b, pos, "kick", 0.85)
            for pos in (1, 3):
                add(b, pos, "snare", 0.95)
                if big:
                    add(b, pos, "clap", 0.6)
                    add(b, pos, "tamb", 0.6)
            for q in range(beats * 2):
                add(b, q / 2, "hat", 0.5 - 0.15 * (q % 2))
            if last_of_sec:
                for q in range(8):
                    add(b, 2 + q / 4, ("tom1", "tom2", "tom3")[q // 3], 0.7)
    return sorted(hits)


def render_kit(hits: list[tuple], n: int, fs: int, rng: np.random.Generator, *, tune_hz: float = 0.0,
               kick_name: str = "kick", overheads: float = 0.0) -> tuple[np.ndarray, dict]:
    """The drum stem (2, n) from ``hits``; also each drum's mono track (for sends and sidechains)."""
    names = sorted({h[1] for h in hits})
    samples = {}
    for nm in names:
        real = "kick" if nm == "kick2" else nm
        if nm == "kick" and kick_name != "kick":
            real = kick_name
        samples[nm] = [make_hit(real, fs, rng, tune_hz if real in ("timp",) else 0.0) for _ in range(3)]
    tracks = {nm: np.zeros(n) for nm in names}
    count = {}
    for t, nm, v in hits:
        s0 = int(round(t * fs))
        if s0 >= n or s0 < 0 or v <= 0:
            continue
        k = count.get(nm, 0)
        count[nm] = k + 1
        x = samples[nm][k % 3]
        e = min(n, s0 + x.size)
        tracks[nm][s0:e] += v * x[: e - s0]
    if "kick2" in tracks:                         # the second pedal: the same drum, its own samples
        tracks["kick"] = tracks["kick"] + tracks.pop("kick2")
    out = np.zeros((2, n))
    for nm, x in tracks.items():
        out += pan(x, PAN.get(nm, 0.0))
    if overheads:                                 # a spaced pair over the kit: every drum in both channels,
        oh = np.zeros((2, n))                     # the far side later (up to 1 ms) and softer, kick and snare centred
        for nm, x in tracks.items():
            p = PAN.get(nm, 0.0)
            lag = int(round(abs(p) * 0.001 * fs))
            near, far = 0.5 * (1 + abs(p)), 0.5 * (1 - abs(p) * 0.6)
            y = np.zeros(n)
            y[lag:] = x[: n - lag] if lag else x
            a, b = (x * near, y * far) if p <= 0 else (y * far, x * near)
            oh[0] += a
            oh[1] += b
        hp = signal.butter(2, 250.0, "high", fs=fs, output="sos")  # the overheads' low end is cut (the close mics have it)
        out = out + overheads * signal.sosfilt(hp, oh, axis=1)
    return out, tracks
