"""The singer of :mod:`mixes.songs6`: a harmonic source shaped in the short-time spectrum.

The source is one continuous phase per phrase (so glides between notes and scoops into them are
real pitch movement), read from a band-limited table of glottal harmonics (``k**-1.2`` tilt), with
jitter and shimmer (slow random pitch and level wander).  Aspiration noise is mixed in, and the
breaths between phrases are noise alone.  The vocal tract is applied afterwards in the STFT
domain: per frame a spectral envelope made of five formant peaks (Lorentzian in frequency) that
move from vowel to vowel with each syllable, so the filter changes smoothly from frame to frame
(overlap-added).  Consonants are added after the tract: fricatives (s, sh, f, h) as shaped
noise of 60-130 ms that cross-fade into the vowel, plosives (p, t, k, d) as a short closure of the
voicing followed by a 6-15 ms noise burst.

Vibrato habits (``habit``): ``late`` (grows in after a third of the note), ``even`` (from the
start), ``wide`` (slow and wide, gospel), ``fast`` (quick and narrow), ``none`` (straight tone).
"""

from __future__ import annotations

import numpy as np
from scipy.signal import butter, istft, lfilter, sosfilt, stft

from mixes.songs6_inst import _read, _smooth_noise, _table, hz
from mixes.songs6_room import ramp

FORMANTS = {   # F1..F5 (Hz) for an adult male; bandwidths are set from the frequency
    "a": (730, 1090, 2440, 3400, 4300), "e": (530, 1840, 2480, 3500, 4400), "i": (290, 2250, 3000, 3600, 4500),
    "o": (570, 840, 2410, 3300, 4300), "u": (320, 900, 2300, 3300, 4300), "ae": (660, 1720, 2410, 3400, 4400),
    "er": (490, 1350, 1690, 3300, 4300),
}
FORMANT_GAIN = (1.0, 0.7, 0.45, 0.3, 0.2)
HABITS = {"late": (0.3, 5.4, "late"), "even": (0.25, 5.8, "even"), "wide": (0.55, 4.8, "late"),
          "fast": (0.15, 6.8, "even"), "none": (0.0, 5.5, "none")}
FRIC = {"s": (4500, 10500, 0.12), "sh": (2200, 6500, 0.11), "f": (1200, 9000, 0.05), "h": (600, 4000, 0.05)}
PLOS = {"p": (300, 3000), "t": (3000, 9000), "k": (1500, 4000), "d": (2000, 6000)}


def render(notes: list, n: int, fs: int, rng: np.random.Generator, *, habit: str = "late", female: bool = False,
           breathy: float = 0.05, detune_cents: float = 0.0, shift_s: float = 0.0) -> np.ndarray:
    """The dry voice (mono, ``n`` samples) singing ``notes`` = [(t0_s, dur_s, midi, vel, syllable)]."""
    depth, rate, when = HABITS[habit]
    out = np.zeros(n)
    if not notes:
        return out
    fscale = 1.17 if female else 1.0
    # phrases: runs of notes with gaps < 0.3 s
    phrases, cur = [], [notes[0]]
    for a, b in zip(notes, notes[1:]):
        if b[0] - (a[0] + a[1]) < 0.3:
            cur.append(b)
        else:
            phrases.append(cur)
            cur = [b]
    phrases.append(cur)
    f0_track = np.zeros(n)
    amp = np.zeros(n)
    vow = np.zeros((n // 256 + 2, 5))                   # formant frequencies per STFT hop (filled below)
    vow[:] = np.asarray(FORMANTS["er"]) * fscale
    src = np.zeros(n)
    fric = np.zeros(n)
    for ph in phrases:
        t0 = ph[0][0] + shift_s - 0.06
        t1 = ph[-1][0] + ph[-1][1] + shift_s + 0.12
        i0, i1 = max(0, int(t0 * fs)), min(n, int(t1 * fs))
        if i1 - i0 < int(0.05 * fs):
            continue
        L = i1 - i0
        t = (np.arange(L) + i0) / fs
        # pitch: step targets, then portamento (a one-pole glide of ~35 ms) and a scoop into the phrase
        target = np.full(L, float(ph[0][2]) - 1.0)
        env = np.zeros(L)
        vib = np.zeros(L)                               # vibrato: added after the glide (not smoothed by it)
        for j, (s, d, m, v, syl) in enumerate(ph):
            s += shift_s
            a, b = int((s - t0) * fs), int((s + d - t0) * fs)
            a, b = max(a, 0), min(b, L)
            target[a:] = m
            e = np.ones(max(b - a, 1)) * v
            k = min(int(0.04 * fs), e.size // 2)
            e[:k] *= 0.55 + 0.45 * ramp(k)              # each syllable's onset: a small dip
            e = e[: L - a]
            env[a:a + e.size] = np.maximum(env[a:a + e.size], e)
            # vibrato on this note
            if depth > 0 and d > 0.3:
                tt = np.arange(b - a) / fs
                start = 0.35 * d if when == "late" else 0.06
                grow = np.clip((tt - start) / 0.25, 0, 1)
                r = rate * (1 + 0.05 * rng.standard_normal())
                vib[a:b] += depth * grow * np.sin(2 * np.pi * r * tt)
            # vowel formants per hop over the note
            fv = np.asarray(FORMANTS[syl.split("-")[1]]) * fscale * rng.uniform(0.96, 1.04)
            h0, h1 = (i0 + a) // 256, (i0 + b) // 256 + 1
            vow[h0:h1] = fv
            # consonant at the note's onset
            c = syl.split("-")[0]
            if c in FRIC and s - 0.02 > t0:
                lo, hi, g = FRIC[c]
                m2 = int(rng.uniform(0.06, 0.13) * fs)
                st = int((s - t0) * fs) - m2 + int(0.02 * fs) + i0
                if st > 0 and st + m2 < n:
                    w = np.sin(np.pi * np.arange(m2) / m2) ** 2
                    fric[st:st + m2] += g * v * sosfilt(butter(2, (lo, min(hi, 0.45 * fs)), "band", fs=fs, output="sos"),
                                                       rng.standard_normal(m2)) * w
            elif c in PLOS:
                lo, hi = PLOS[c]
                cl = int(0.035 * fs)
                a2 = max(a - cl, 0)
                if a - a2 > 8:
                    env[a2:a] *= 1 - np.sin(np.pi * np.arange(a - a2) / (a - a2)) * 0.85      # the closure
                m2 = int(rng.uniform(0.006, 0.015) * fs)
                st = i0 + a
                if st + m2 < n:
                    fric[st:st + m2] += 0.18 * v * sosfilt(butter(2, (lo, min(hi, 0.45 * fs)), "band", fs=fs,
                                                                output="sos"), rng.standard_normal(m2)) * np.hanning(m2)
        # portamento: a one-pole glide through the step targets (continuous pitch)
        al = np.exp(-1.0 / (0.035 * fs))
        zi = [al * target[0]]
        glide, _ = lfilter([1 - al], [1, -al], target, zi=zi)
        f = hz(glide + vib) * 2 ** (detune_cents / 1200) * (1 + 0.0025 * _smooth_noise(L, fs, 8.0, rng))
        # level: smooth the step envelope (attack ~25 ms), fade in/out at the phrase's ends
        bl = np.exp(-1.0 / (0.025 * fs))
        env = lfilter([1 - bl], [1, -bl], env)
        env *= 1 + 0.06 * _smooth_noise(L, fs, 6.0, rng)
        k = int(0.03 * fs)
        env[:k] *= ramp(k)
        env[-k:] *= ramp(k)[::-1]
        kmax = int(min(9000, 0.42 * fs) // (f.max() * 1.02))
        kk = np.arange(1, kmax + 1, dtype=float)
        tab = _table(kk ** -1.2 * np.cos(0.5 * np.pi * kk / (kmax + 1)) ** 2)
        tab /= np.max(np.abs(tab))
        x = _read(tab, rng.uniform() + np.cumsum(f) / fs) * env
        x += breathy * env * rng.standard_normal(L) * 0.5
        src[i0:i1] += x
        # a breath before the phrase (noise alone through the tract)
        bl2 = int(rng.uniform(0.25, 0.45) * fs)
        bs = i0 - bl2 - int(0.05 * fs)
        if bs > 0:
            src[bs:bs + bl2] += 0.05 * rng.standard_normal(bl2) * np.sin(np.pi * np.arange(bl2) / bl2) ** 2
    # the tract in the STFT domain
    nper = 1024
    fr, tt, Z = stft(src, fs=fs, nperseg=nper, noverlap=nper - 256, boundary="even", padded=True)
    hop = (tt * fs / 256).astype(int).clip(0, vow.shape[0] - 1)
    F = vow[hop]                                         # (frames, 5)
    # smooth the formant paths over ~3 hops so vowel changes glide
    kern = np.ones(5) / 5
    F = np.stack([np.convolve(np.pad(F[:, j], 2, mode="edge"), kern, mode="valid") for j in range(5)], axis=1)
    H = np.zeros((fr.size, F.shape[0]))
    for j in range(5):
        bw = 60 + 0.06 * F[:, j]
        H += FORMANT_GAIN[j] / (1 + ((fr[:, None] - F[None, :, j]) / (0.5 * bw[None, :])) ** 2)
    H += 0.02
    _, y = istft(Z * H, fs=fs, nperseg=nper, noverlap=nper - 256, boundary=True)
    y = y[:n] if y.size >= n else np.pad(y, (0, n - y.size))
    y = sosfilt(butter(2, 90, "high", fs=fs, output="sos"), y)
    y = y / (np.sqrt(np.mean(y[y != 0] ** 2)) + 1e-12) * 0.1
    return y + fric * 0.1 / 0.18 * 0.25
