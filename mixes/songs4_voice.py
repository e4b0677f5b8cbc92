"""Voices of :mod:`mixes.songs4`: additive harmonic singing through moving vowel formants.

Not a pulse train into filters: each harmonic ``k`` of the pitch track is a sinusoid whose
amplitude is the glottal source's tilt ``k**-tilt`` times the vocal tract's response at
``k f0(t)`` — the product of five resonances (F1-F5 with bandwidths, a cascade formant model
evaluated analytically on a 128-sample control grid and interpolated), so the partials follow
the formants as vowels change and as the pitch moves.  Harmonics up to ~7 kHz; above, and in
the gaps, aspiration noise (band-passed, following the voiced envelope) makes a voice breathy.

Singers (:func:`random_singer`) differ in range (male 45-64, female 55-76 MIDI, falsetto ~+7),
tilt (pressed 0.9 ... breathy/falsetto 2.2), vibrato (none = straight tone; or 4.5-6.8 Hz,
15-70 cents, starting 0.1-0.35 s into a note), scoops, a singer's formant (F3-F5 pulled
together near 3 kHz: a trained voice), and breath.  ``rap=True`` gives speech rhythm: syllables
on a 16th grid near a speaking pitch with a falling intonation per phrase, no vibrato, more
consonants.  Consonants are smooth-edged noise (s, sh, f, h) or short bursts (t, k), never a step.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import signal

# F1-F5 (Hz) of adult male vowels; female formants are scaled up by ~1.17
VOWELS = {
    "a": (730, 1090, 2440, 3400, 4200), "e": (530, 1840, 2480, 3500, 4300), "i": (290, 2250, 3000, 3600, 4400),
    "o": (570, 840, 2410, 3300, 4100), "u": (320, 870, 2240, 3300, 4100), "ae": (660, 1720, 2410, 3400, 4200),
    "er": (490, 1350, 1690, 3300, 4200), "uh": (600, 1170, 2390, 3400, 4200),
}
VOWEL_NAMES = tuple(VOWELS)
BANDWIDTHS = (70.0, 90.0, 130.0, 180.0, 250.0)
CONSONANTS = ("", "", "s", "t", "k", "m", "h", "sh", "f", "l", "d")


@dataclass(frozen=True)
class Singer:
    female: bool
    tilt: float
    vib_rate_hz: float
    vib_cents: float
    vib_onset_s: float
    breath: float
    scoop: float
    trained: bool
    rap: bool = False
    falsetto: bool = False

    @property
    def kind(self) -> str:
        v = "rap" if self.rap else ("straight" if self.vib_cents == 0 else "vibrato")
        return f"{'female' if self.female else 'male'} {v}" + (" falsetto" if self.falsetto else "") \
            + (" breathy" if self.breath > 0.25 else "")


def random_singer(rng, *, female=None, rap=False, straight=None, breathy=None, falsetto=False, trained=None) -> Singer:
    female = bool(rng.random() < 0.5) if female is None else female
    straight = bool(rng.random() < 0.25) if straight is None else straight
    breathy = bool(rng.random() < 0.3) if breathy is None else breathy
    trained = bool(rng.random() < 0.4) if trained is None else trained
    tilt = rng.uniform(0.9, 1.3) + (0.6 if breathy else 0.0) + (0.8 if falsetto else 0.0)
    return Singer(female=female, tilt=tilt, vib_rate_hz=rng.uniform(4.5, 6.8),
                  vib_cents=0.0 if (straight or rap) else rng.uniform(15, 70), vib_onset_s=rng.uniform(0.1, 0.35),
                  breath=rng.uniform(0.3, 0.6) if breathy else rng.uniform(0.03, 0.12),
                  scoop=0.0 if rap else rng.uniform(0.0, 1.0), trained=trained, rap=rap, falsetto=falsetto)


def _smooth(x: np.ndarray, fs_ctrl: float, cutoff_hz: float) -> np.ndarray:
    if x.size < 16:
        return x
    b, a = signal.butter(1, min(cutoff_hz / (fs_ctrl / 2), 0.99))
    return signal.filtfilt(b, a, x, padlen=min(3 * 3, x.size - 1))


def render_phrase(fs: int, notes: list, singer: Singer, rng, effort: float = 1.0) -> tuple[int, np.ndarray]:
    """One phrase of ``notes`` = ``[(t0_s, t1_s, midi, vowel, consonant), ...]`` (legato inside a
    phrase).  Returns ``(start sample, mono signal)``."""
    hop = 128
    t_start = notes[0][0] - 0.15
    t_end = notes[-1][1] + 0.15
    i_start = max(int(t_start * fs), 0)
    n = int(t_end * fs) - i_start
    n_c = n // hop + 2
    tc = i_start / fs + np.arange(n_c) * hop / fs
    midi_c = np.full(n_c, float(notes[0][2]))
    amp_c = np.zeros(n_c)
    fmt_c = np.zeros((5, n_c))
    vib_c = np.zeros(n_c)
    scale_f = (1.17 if singer.female else 1.0) * (1.05 if singer.falsetto else 1.0)
    for j, (t0, t1, midi, vowel, _c) in enumerate(notes):
        sel = tc >= t0
        midi_c[sel] = midi
        if singer.scoop > 0.5 and t1 - t0 > 0.25:
            sc = (tc >= t0) & (tc < t0 + 0.08)
            midi_c[sc] -= 0.6 * singer.scoop
        inside = (tc >= t0) & (tc < t1)
        fv = np.array(VOWELS[vowel], float) * scale_f
        if singer.trained:
            fv[2:] = (2750.0, 3050.0, 3350.0) if not singer.female else (2950.0, 3250.0, 3600.0)
        fmt_c[:, sel] = fv[:, None]
        amp_c[inside] = 1.0
        if singer.vib_cents > 0:
            age = tc[inside] - t0
            ramp = np.clip((age - singer.vib_onset_s) / 0.15, 0.0, 1.0)
            vib_c[inside] = singer.vib_cents / 100.0 * ramp * np.sin(2 * np.pi * singer.vib_rate_hz * age
                                                                      + rng.uniform(0, 6))
        if j + 1 < len(notes) and notes[j + 1][0] - t1 < 0.08:                   # legato: keep sounding
            amp_c[(tc >= t1) & (tc < notes[j + 1][0])] = 0.85
    fs_c = fs / hop
    port = 14.0 if not singer.rap else 9.0
    midi_c = _smooth(midi_c, fs_c, port)
    drift = _smooth(np.cumsum(rng.standard_normal(n_c)) * 0.01, fs_c, 1.5)
    midi_c = midi_c + vib_c + drift - drift.mean()
    if singer.rap:                                                                 # speech: declination
        midi_c += np.linspace(1.0, -1.5, n_c)
    amp_c = np.clip(_smooth(amp_c, fs_c, 12.0), 0.0, 1.0)
    amp_c[:3] = 0.0
    amp_c[-3:] = 0.0
    amp_c = np.clip(_smooth(amp_c, fs_c, 20.0), 0.0, 1.0) * effort
    fmt_c = np.stack([_smooth(f, fs_c, 18.0) for f in fmt_c])
    f0_c = 440.0 * 2.0 ** ((midi_c - 69.0) / 12.0)
    ts = np.arange(n)
    idx = ts / hop
    f0 = np.interp(idx, np.arange(n_c), f0_c)
    phase = 2 * np.pi * np.cumsum(f0) / fs + rng.uniform(0, 6)
    k_max = int(min(48, 7000.0 / f0_c.max()))
    kk = np.arange(1, k_max + 1)[:, None]
    f_k = kk * f0_c[None, :]
    resp = np.ones_like(f_k)
    for i in range(5):
        fi = fmt_c[i][None, :]
        resp *= fi ** 2 / np.sqrt((fi ** 2 - f_k ** 2) ** 2 + (BANDWIDTHS[i] * f_k) ** 2)
    a_k = resp * kk ** (-singer.tilt) * amp_c[None, :]
    a_k[f_k > 0.45 * fs] = 0.0
    y = np.zeros(n)
    step = 16384
    for s0 in range(0, n, step):
        s1 = min(s0 + step, n)
        ii = idx[s0:s1]
        i0 = np.minimum(ii.astype(int), n_c - 2)
        w = ii - i0
        amp = a_k[:, i0] * (1 - w) + a_k[:, i0 + 1] * w
        z = np.exp(1j * phase[s0:s1])
        zk = z.copy()
        acc = np.zeros(s1 - s0)
        for k in range(k_max):
            acc += amp[k] * zk.imag
            zk *= z
        y[s0:s1] = acc
    y /= np.max(np.abs(y)) + 1e-12
    amp_s = np.interp(idx, np.arange(n_c), amp_c)
    breath = signal.sosfilt(signal.butter(2, [900 / (fs / 2), min(7500, 0.45 * fs) / (fs / 2)], "band",
                                          output="sos"), rng.standard_normal(n))
    breath *= (1 + 0.5 * np.sin(phase)) * amp_s * singer.breath * 0.35
    y = y + breath
    for (t0, t1, midi, vowel, c) in notes:                                         # consonants
        if c and c not in ("m", "l", "d"):      # m, l, d: voiced, carried by the vowel envelope
            y += _consonant(fs, c, t0 - i_start / fs, n, rng) * (0.25 if c in ("s", "sh") else 0.15)
    return i_start, y


def _consonant(fs: int, c: str, t_s: float, n: int, rng) -> np.ndarray:
    out = np.zeros(n)
    dur = {"s": 0.09, "sh": 0.1, "f": 0.07, "h": 0.06, "t": 0.018, "k": 0.022}[c]
    band = {"s": (4500, 10000), "sh": (2000, 6000), "f": (1500, 8000), "h": (600, 3000), "t": (2500, 7000),
            "k": (1500, 4000)}[c]
    m = int(dur * fs)
    a0 = int(t_s * fs) - m
    if a0 < 0:
        return out
    x = signal.sosfilt(signal.butter(2, [band[0] / (fs / 2), min(band[1], 0.45 * fs) / (fs / 2)], "band", output="sos"),
                       rng.standard_normal(m))
    env = np.hanning(m) if c not in ("t", "k") else np.hanning(m) ** 0.7
    out[a0:a0 + m] = x[:n - a0] * env[:n - a0]
    return out


def syllables(rng, count: int) -> list[tuple[str, str]]:
    """``count`` (vowel, consonant) pairs."""
    return [(VOWEL_NAMES[int(rng.integers(len(VOWEL_NAMES)))], CONSONANTS[int(rng.integers(len(CONSONANTS)))])
            for _ in range(count)]


def sing(fs: int, n: int, phrases: list, singer: Singer, rng, effort: float = 1.0) -> np.ndarray:
    """Mono voice ``(n,)`` from ``phrases`` (each a list of ``(t0, t1, midi, vowel, consonant)``)."""
    out = np.zeros(n)
    for ph in phrases:
        if not ph:
            continue
        i0, y = render_phrase(fs, ph, singer, rng, effort)
        m = min(y.size, n - i0)
        if m > 0:
            fade = np.ones(m)
            out[i0:i0 + m] += y[:m] * fade
    return out
