"""A singing voice for :mod:`mixes.songs_alt`: glottal pulses filtered by moving formants.

Source–filter synthesis, independent of :mod:`mixes.songs` (which sums formant-weighted
harmonics):

* **pitch** — per note: a scoop from below or a portamento from the previous note, vibrato
  whose rate (4.5–7 Hz), depth (0.1–1 semitone peak to peak) and onset differ per note, a slow
  drift, and cycle-to-cycle jitter (~0.5 %) and shimmer (~0.4 dB);
* **source** — a smooth glottal flow pulse per cycle (open quotient and closing slope vary by
  singer), differentiated (lip radiation), plus aspiration noise gated by the open phase;
* **filter** — five formants of eight vowels (Peterson & Barney's averages for F1–F3, scaled
  up for a female singer, F1 raised to the pitch when a soprano sings above it), moving
  smoothly between notes and inside diphthongs, applied frame by frame in a short-time Fourier
  transform (cascade-resonator magnitude);
* **consonants and breath** — s (4.5–10 kHz hiss), t (a short high burst after a closure),
  k (a mid burst), and an inhale before phrases that follow a rest.

It is rendered at half the sample rate (content stops near 10 kHz) and resampled, except the
consonants, which are added at the full rate.
"""

from __future__ import annotations

import numpy as np
from scipy import signal

from mixes.songs_alt_synth import _sos, fade_edges, midi_hz

__all__ = ["VOWELS", "sing"]

# F1, F2, F3 (Hz), adult male averages (Peterson & Barney 1952); F4, F5 added per singer.
VOWELS = {
    "i": (270.0, 2290.0, 3010.0), "e": (530.0, 1840.0, 2480.0), "ae": (660.0, 1720.0, 2410.0),
    "a": (730.0, 1090.0, 2440.0), "o": (570.0, 840.0, 2410.0), "u": (300.0, 870.0, 2240.0),
    "uh": (640.0, 1190.0, 2390.0), "er": (490.0, 1350.0, 1690.0),
}
_BW = np.array([70.0, 100.0, 140.0, 220.0, 280.0])
VIBRATO_RATE_HZ = (4.5, 7.0)       # drawn per note
VIBRATO_DEPTH_ST = (0.1, 1.0)      # peak to peak, semitones, drawn per note
DRIFT_ST = 0.08                    # rms slow pitch drift (semitones)
JITTER_ST = 0.08                   # rms fast pitch jitter (semitones, ~0.5 % in f0)


def _formants(vowel: str, female: bool) -> np.ndarray:
    f = np.array(VOWELS[vowel] + (3400.0, 4300.0))
    if female:
        f = f * np.array([1.17, 1.17, 1.12, 1.08, 1.08])
    return f


def _smooth_noise(rng, n: int, fs: int, cutoff_hz: float) -> np.ndarray:
    x = signal.sosfilt(_sos(fs, "low", cutoff_hz, 1), rng.standard_normal(n))
    return x / max(np.std(x), 1e-12)


def _pitch_contour(notes, p0: int, m: int, fs: int, rng) -> np.ndarray:
    """MIDI pitch per sample over a phrase starting at sample ``p0`` (length ``m``)."""
    pitch = np.empty(m)
    t_all = np.arange(m) / fs
    prev = None
    for i, (t0, t1, midi, *_rest) in enumerate(notes):
        a = max(int(t0 * fs) - p0, 0)
        b = m if i == len(notes) - 1 else max(int(notes[i + 1][0] * fs) - p0, a + 1)
        t = t_all[a:b] - t_all[a]
        p = np.full(b - a, float(midi))
        if prev is not None and rng.random() < 0.85:            # portamento from the last note
            gl = rng.uniform(0.04, 0.12)
            w = np.clip(t / gl, 0.0, 1.0)
            p += (prev - midi) * (0.5 + 0.5 * np.cos(np.pi * w))
        elif rng.random() < 0.5:                                  # a scoop up into the note
            gl = rng.uniform(0.08, 0.16)
            w = np.clip(t / gl, 0.0, 1.0)
            p -= rng.uniform(0.7, 2.0) * (0.5 + 0.5 * np.cos(np.pi * w))
        dur = t1 - t0
        if dur > 0.3:
            rate = rng.uniform(*VIBRATO_RATE_HZ)
            depth_pp = rng.uniform(*VIBRATO_DEPTH_ST)
            onset = rng.uniform(0.12, 0.35) * min(1.0, dur / 0.8)
            ramp = np.clip((t - onset) / 0.25, 0.0, 1.0)
            p += 0.5 * depth_pp * ramp * np.sin(2 * np.pi * rate * t + rng.uniform(0, 6.28))
        pitch[a:b] = p
        prev = midi
    pitch += DRIFT_ST * _smooth_noise(rng, m, fs, 3.0)            # slow drift, ~8 cents
    pitch += JITTER_ST * _smooth_noise(rng, m, fs, 300.0)         # jitter, ~0.5 % in f0
    return pitch


def _glottal(f0: np.ndarray, fs: int, rng, oq: float, rise: float, breath: float) -> np.ndarray:
    """Flow-derivative pulses (one per cycle) plus open-phase-gated aspiration noise."""
    ph = np.cumsum(f0 / fs) % 1.0
    u = ph / oq
    g = np.where(u < rise, 0.5 - 0.5 * np.cos(np.pi * u / rise),
                 np.where(u < 1.0, np.cos(0.5 * np.pi * (u - rise) / (1.0 - rise)) ** 2, 0.0))
    src = np.diff(g, prepend=0.0) * (fs / f0)          # derivative per cycle fraction (level ~ f0-independent)
    src -= np.mean(src)
    asp = signal.sosfilt(_sos(fs, "high", 1200.0, 1), rng.standard_normal(f0.size)) * (0.4 + 0.6 * (u < 1.0))
    return src + breath * np.std(src) * asp


def _formant_filter(x: np.ndarray, fs: int, times_s: np.ndarray, formants: np.ndarray,
                    f0_frames: np.ndarray) -> np.ndarray:
    """Filter ``x`` by formants changing per frame (STFT, sqrt-Hann, 50 % overlap);
    ``formants`` ``(k, 5)`` and ``f0_frames`` ``(k,)`` are natural logs of Hz at ``times_s``."""
    n_fft = 512 if fs <= 26000 else 1024
    hop = n_fft // 2
    m = x.size
    nf = m // hop + 2
    xp = np.zeros((nf + 1) * hop)
    xp[hop:hop + m] = x
    win = np.sqrt(0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft))
    frames = np.lib.stride_tricks.sliding_window_view(xp, n_fft)[::hop][:nf] * win
    spec = np.fft.rfft(frames, axis=1)
    fr_t = np.arange(nf) * hop / fs          # frame centre time relative to x[0]
    # log-frequency interpolation between the key points
    fmt = np.exp(np.stack([np.interp(fr_t, times_s, formants[:, j]) for j in range(5)], axis=1))   # (nf, 5)
    f0f = np.exp(np.interp(fr_t, times_s, f0_frames))
    fmt[:, 0] = np.maximum(fmt[:, 0], 1.05 * f0f)                 # a soprano opens F1 to her pitch
    fmt[:, 1] = np.maximum(fmt[:, 1], fmt[:, 0] + 200.0)
    freqs = np.fft.rfftfreq(n_fft, 1.0 / fs)[None, :, None].astype(np.float32)
    F = fmt[:, None, :].astype(np.float32)
    B = _BW[None, None, :].astype(np.float32)
    mag = np.prod(F * F / np.sqrt((F * F - freqs * freqs) ** 2 + (B * freqs) ** 2), axis=2)
    y = np.fft.irfft(spec * mag, n_fft, axis=1) * win
    out = np.zeros((nf + 1, hop))
    out[:nf] += y[:, :hop]
    out[1:nf + 1] += y[:, hop:]
    return out.reshape(-1)[hop:hop + m]


def _consonant(kind: str, fs: int, rng) -> np.ndarray:
    if kind == "s":
        n = int(rng.uniform(0.07, 0.14) * fs)
        x = signal.sosfilt(_sos(fs, "band", [4500.0, 10000.0], 2), rng.standard_normal(n))
        return 0.5 * x / np.std(x) * np.sin(np.pi * np.arange(n) / n) ** 2
    if kind == "t":
        n = int(0.03 * fs)
        x = signal.sosfilt(_sos(fs, "high", 3000.0, 2), rng.standard_normal(n))
        return 0.45 * x / np.std(x) * np.exp(-np.arange(n) / (0.006 * fs)) * np.minimum(1.0, np.arange(n) / (0.0012 * fs))
    n = int(0.035 * fs)                                            # "k"
    x = signal.sosfilt(_sos(fs, "band", [1400.0, 3600.0], 2), rng.standard_normal(n))
    return 0.4 * x / np.std(x) * np.exp(-np.arange(n) / (0.008 * fs)) * np.minimum(1.0, np.arange(n) / (0.0012 * fs))


def sing(notes, n_total: int, fs: int, rng: np.random.Generator, *, female: bool,
         breath: float = 0.15, oq: float = 0.6, rise: float = 0.72) -> np.ndarray:
    """A sung line, mono, ``n_total`` samples at ``fs``.

    Parameters
    ----------
    notes : sequence of (start_s, end_s, midi, vowel, vowel2 or None, consonant or None, vel)
        Sorted; notes closer than 0.12 s are sung legato (one phrase).  ``vowel2`` makes a
        diphthong; ``consonant`` (``"s"``, ``"t"``, ``"k"``) is sounded just before the onset.
    female : bool
        Formant scaling.
    breath : float
        Aspiration noise relative to the pulses.
    """
    fs_v = fs // 2 if (fs >= 32000 and fs % 2 == 0) else fs
    low = np.zeros(int(np.ceil(n_total * fs_v / fs)) + 8)
    full = np.zeros(n_total)                  # consonants and breaths, at the full rate
    phrases, cur = [], []
    for nt in notes:
        if cur and nt[0] - cur[-1][1] > 0.12:
            phrases.append(cur)
            cur = []
        cur.append(nt)
    if cur:
        phrases.append(cur)
    prev_end = -10.0
    for ph in phrases:
        t_start, t_end = ph[0][0], ph[-1][1]
        p0 = int(t_start * fs_v)
        rel = rng.uniform(0.06, 0.14)
        m = min(int((t_end - t_start + rel) * fs_v), low.size - p0)
        if m < int(0.05 * fs_v):
            continue
        pitch = _pitch_contour(ph, p0, m, fs_v, rng)
        f0 = np.array([midi_hz(p) for p in pitch[::64]])
        f0 = np.interp(np.arange(m), np.arange(0, m, 64), f0)
        src = _glottal(f0, fs_v, rng, oq, rise, breath)
        # amplitude: per-note dynamics, legato dips, consonant closures, attack and release
        t = np.arange(m) / fs_v
        amp = np.ones(m)
        for i, (t0, t1, _midi, _v, _v2, cons, vel) in enumerate(ph):
            a = max(int((t0 - t_start) * fs_v), 0)
            amp[a:] = vel
            if i > 0:
                gap = 0.035 if cons in ("t", "k") else (0.08 if cons == "s" else 0.0)
                if gap:
                    g0 = max(int((t0 - t_start - gap) * fs_v), 0)
                    amp[g0:a] = 0.0
                    r = min(int(0.025 * fs_v), m - a)
                    amp[a:a + r] *= np.linspace(0.0, 1.0, r)
                else:
                    w = np.exp(-((t - (t0 - t_start)) / 0.03) ** 2)
                    amp *= 1.0 - 0.25 * w
        att = rng.uniform(0.03, 0.08)
        amp *= np.clip(t / att, 0, 1) ** 1.5
        amp *= np.clip((t[-1] - t) / rel, 0, 1) ** 1.2
        amp *= 10.0 ** (0.4 * _smooth_noise(rng, m, fs_v, 200.0) / 20.0)     # shimmer ~0.4 dB
        # formant trajectory: key points per note, diphthongs inside notes
        fem = female
        kt, kf = [], []
        for (t0, t1, _midi, v, v2, _c, _vel) in ph:
            a, b = t0 - t_start, t1 - t_start
            kt.append(a + min(0.03, 0.2 * (b - a)))
            kf.append(_formants(v, fem))
            if v2:
                kt += [a + 0.55 * (b - a), a + 0.85 * (b - a)]
                kf += [_formants(v, fem), _formants(v2, fem)]
            kt.append(b - min(0.03, 0.2 * (b - a)))
            kf.append(_formants(v2 or v, fem))
        kt = np.maximum.accumulate(np.asarray(kt))
        # 40 ms of silence on both sides: the frame-wise filter smears a few ms, and the phrase
        # must start and end at zero (a truncated tail would be a step)
        pad = int(0.04 * fs_v)
        y = _formant_filter(np.pad(src * amp, pad), fs_v, kt + pad / fs_v, np.log(np.array(kf)),
                            np.log(f0[::64][np.minimum((kt * fs_v / 64).astype(int), f0[::64].size - 1)]))
        y = fade_edges(y, fs_v, 0.01, 0.01)
        y /= max(np.sqrt(np.mean(y[pad:pad + m][amp > 0.3 * np.max(amp)] ** 2)), 1e-12)
        q0 = p0 - pad
        a0 = max(0, -q0)
        q1 = min(low.size, q0 + y.size)
        low[q0 + a0:q1] += y[a0:q1 - q0]
        # consonants and the inhale (full rate)
        for (t0, _t1, _midi, _v, _v2, cons, vel) in ph:
            if cons:
                c = _consonant(cons, fs, rng) * 0.5 * vel
                i0 = int((t0 - (0.03 if cons != "s" else c.size / fs * 0.8)) * fs)
                if i0 >= 0 and i0 + c.size <= n_total:
                    full[i0:i0 + c.size] += c
        if t_start - prev_end > 0.45 and t_start > 0.4:
            nb = int(rng.uniform(0.2, 0.32) * fs)
            i0 = int((t_start - 0.06) * fs) - nb
            if i0 >= 0:
                br = signal.sosfilt(_sos(fs, "band", [600.0, 5000.0], 2), rng.standard_normal(nb))
                full[i0:i0 + nb] += 0.05 * br / np.std(br) * np.sin(np.pi * np.arange(nb) / nb) ** 2
        prev_end = t_end
    return _to_full_rate(low, full, fs, fs_v)


def _to_full_rate(low: np.ndarray, full: np.ndarray, fs: int, fs_v: int) -> np.ndarray:
    up = low if fs_v == fs else signal.resample_poly(low, 2, 1)
    n = full.size
    up = np.pad(up[:n], (0, max(0, n - up.size)))
    return up + full
