"""A singing voice for :mod:`mixes.songs5`: a glottal pulse train through time-varying formants.

Source: a Rosenberg glottal-flow pulse (opening ``0.5 (1 - cos(pi phi / t_p))``, closing
``cos(pi/2 (phi - t_p) / t_n)``, closed for the rest of the cycle) evaluated on the running phase
of the f0 track, differentiated (flow derivative = lip radiation), with per-cycle shimmer, fast
f0 jitter, and aspiration noise gated by the flow (breathy singers more).  The f0 track carries
the notes with portamento (legato glides of 40-140 ms), scoops into some notes, slow drift, and a
vibrato whose rate and depth vary per note and that starts after an onset delay (straight-tone
singers have almost none).

Filter: five cascaded two-pole resonators (unity gain at DC), their frequencies and bandwidths
moving per 256-sample block along vowel targets per syllable (diphthongs glide), with consonant
loci at syllable onsets; the cascade runs block by block with its state carried across.
Consonants: fricatives (s, sh, f, th) as band-passed noise, plosives as a closure then a burst,
nasals as a murmur with a low first formant, /h/ as noise through the vowel's formants, and
breaths before phrases.
"""

from __future__ import annotations

import numpy as np
from scipy import signal

from mixes.songs5_dsp import biquad

VOWELS_HZ = {   # adult male F1..F5 (Hz); female/child scale these up
    "a": (730, 1090, 2440, 3400, 4200), "e": (420, 2000, 2550, 3400, 4300), "i": (280, 2250, 3000, 3500, 4500),
    "o": (500, 850, 2400, 3300, 4200), "u": (310, 870, 2240, 3300, 4200), "ae": (660, 1720, 2410, 3400, 4300),
    "oh": (590, 880, 2540, 3300, 4200), "eh": (530, 1840, 2480, 3400, 4300), "uh": (640, 1190, 2390, 3300, 4200),
    "ih": (390, 1990, 2550, 3400, 4400), "m": (280, 1000, 2300, 3300, 4200), "n": (280, 1500, 2500, 3300, 4200),
}
DIPHTHONGS = {"ay": ("e", "i"), "ai": ("a", "i"), "ou": ("a", "u")}
F2_LOCUS = {"b": 800, "p": 800, "m": 900, "w": 700, "f": 1000, "d": 1700, "t": 1800, "n": 1600, "l": 1200,
            "s": 1700, "th": 1500, "k": 2200, "g": 2100, "y": 2300, "sh": 2000, "ch": 2000, "r": 1300, "h": None}
FRICATIVE = {"s": (4500, 9500, 0.09, 1.0), "sh": (2200, 6000, 0.10, 0.9), "f": (1500, 9000, 0.07, 0.25),
             "th": (1500, 8000, 0.06, 0.2), "ch": (2200, 6500, 0.07, 0.8)}       # lo, hi Hz, duration s, level
PLOSIVE = {"t": (3000, 7000, 0.35), "k": (1500, 3500, 0.3), "p": (300, 2500, 0.25), "d": (2500, 6000, 0.15),
           "g": (1200, 3000, 0.12), "b": (200, 2000, 0.1)}
BW_HZ = np.array([70.0, 90.0, 120.0, 160.0, 200.0, 300.0, 400.0, 500.0])
HIGHER_HZ = (5500.0, 6500.0, 7500.0)      # fixed higher formants: a uniform tube's next resonances
CTRL = 64           # control-rate hop (samples)
BLOCK = 256         # formant-filter block (samples)


def singer(rng: np.random.Generator, *, sex: str | None = None, vibrato: str | None = None,
           style: str = "pop") -> dict:
    """Random singer parameters (f0 range, formant scale, vibrato, jitter, breath ...)."""
    sex = sex or str(rng.choice(["male", "female"]))
    vibrato = vibrato or str(rng.choice(["full", "full", "full", "light", "straight"]))
    depth = {"full": rng.uniform(35, 75), "light": rng.uniform(12, 25), "straight": rng.uniform(0, 6)}[vibrato]
    return dict(
        sex=sex, vibrato=vibrato, vib_depth_cents=float(depth), vib_rate_hz=float(rng.uniform(4.6, 6.4)),
        vib_delay_s=float(rng.uniform(0.12, 0.35)), jitter=float(rng.uniform(0.002, 0.006)),
        shimmer=float(rng.uniform(0.02, 0.07)), breath=float(rng.uniform(0.01, 0.08) * (2.5 if rng.random() < .25 else 1)),
        t_p=float(rng.uniform(0.36, 0.46)), t_n=float(rng.uniform(0.07, 0.16)),
        fscale=float(rng.uniform(0.95, 1.05) * (1.17 if sex == "female" else 1.0)),
        porta_s=float(rng.uniform(0.04, 0.14)), scoop_cents=float(rng.uniform(0, 120) if style in
                                                                   ("gospel", "pop", "songwriter", "trap") else rng.uniform(0, 40)),
        ring=style in ("orchestral", "gospel", "metal") and sex == "male",
    )


def _f0_track(notes, n_ctrl: int, fs: int, sg: dict, rng: np.random.Generator):
    """Per control point: midi pitch (with glides, scoops, vibrato, drift), amplitude, voiced flag."""
    tc = np.arange(n_ctrl) * CTRL / fs
    midi = np.full(n_ctrl, np.nan)
    amp = np.zeros(n_ctrl)
    onset_since = np.full(n_ctrl, -1.0)          # seconds since the note's onset (for the vibrato delay)
    note_id = np.full(n_ctrl, -1)
    prev_end = -10.0
    for k, (t0, d, m, v, _syl) in enumerate(notes):
        i0, i1 = int(t0 * fs / CTRL), int((t0 + d) * fs / CTRL)
        if i1 <= i0:
            continue
        legato = t0 - prev_end < 0.04
        midi[i0:i1] = m
        onset_since[i0:i1] = tc[i0:i1] - t0
        note_id[i0:i1] = k
        a_ms = 0.012 if legato else rng.uniform(0.02, 0.05)
        r_ms = rng.uniform(0.04, 0.09)
        tt = tc[i0:i1] - t0
        env = np.minimum(1.0, tt / a_ms) * np.minimum(1.0, np.maximum(d - tt, 0) / r_ms) * (1 - 0.15 * tt / max(d, 0.1))
        if legato:                                    # a small dip, not a new attack
            env = np.maximum(env, 0.8 * np.minimum(1.0, np.maximum(d - tt, 0) / r_ms))
        amp[i0:i1] = np.maximum(amp[i0:i1], env * (0.55 + 0.45 * v))
        if legato and i0 > 0:                         # fill the gap between legato notes
            j = i0 - 1
            while j >= 0 and np.isnan(midi[j]):
                midi[j] = notes[k - 1][2]
                amp[j] = amp[j + 1] if j + 1 < n_ctrl else 0
                j -= 1
        prev_end = t0 + d
    voiced = ~np.isnan(midi)
    # unvoiced points take the next note's pitch (no glide in from silence)
    idx = np.where(voiced, np.arange(n_ctrl), n_ctrl)
    nxt = np.minimum.accumulate(idx[::-1])[::-1]
    filled = np.where(voiced, midi, np.where(nxt < n_ctrl, midi[np.minimum(nxt, n_ctrl - 1)], 60.0))
    filled = np.nan_to_num(filled, nan=60.0)
    # portamento: one-pole glide in log-frequency (runs forward; onsets after rests start on pitch)
    a = np.exp(-CTRL / fs / max(sg["porta_s"] / 3, 1e-3))
    glide, _ = signal.lfilter([1 - a], [1, -a], filled, zi=[filled[0] * a])
    p = np.where(voiced, glide, filled)
    # scoop from below into notes after a rest
    starts = np.where(voiced & ~np.r_[False, voiced[:-1]])[0]
    for i in starts:
        if rng.random() < 0.6:
            L = int(rng.uniform(0.05, 0.12) * fs / CTRL)
            p[i:i + L] -= sg["scoop_cents"] / 100 * np.exp(-np.arange(min(L, n_ctrl - i)) / max(L / 3, 1))
    # vibrato: rate drifts, depth per note, after the onset delay, ramped over 0.2 s
    rate = sg["vib_rate_hz"] * (1 + 0.06 * np.sin(2 * np.pi * 0.23 * tc + rng.uniform(0, 6)))
    ph = 2 * np.pi * np.cumsum(rate) * CTRL / fs
    depth_note = sg["vib_depth_cents"] * rng.uniform(0.6, 1.3, size=max(len(notes), 1))
    depth = np.where(note_id >= 0, depth_note[np.maximum(note_id, 0)], 0.0)
    ramp = np.clip((onset_since - sg["vib_delay_s"] * rng.uniform(0.7, 1.3)) / 0.2, 0, 1)
    p = p + depth / 100 * ramp * np.sin(ph)
    drift = signal.lfilter([0.02], [1, -0.98], rng.standard_normal(n_ctrl)) * 0.5
    p = p + drift * 0.08
    return p, amp, voiced


def _formant_track(notes, n_ctrl: int, fs: int, sg: dict, p_midi: np.ndarray):
    """Formant frequencies (n_ctrl, 5) following the syllables' vowels and consonant loci."""
    tc = np.arange(n_ctrl) * CTRL / fs
    keys_t, keys_f = [0.0], [np.array(VOWELS_HZ["uh"], float)]
    for t0, d, m, v, syl in notes:
        cons, vow = syl.split("-")
        v1, v2 = DIPHTHONGS.get(vow, (vow, vow))
        f1 = np.array(VOWELS_HZ[v1], float)
        f2 = np.array(VOWELS_HZ[v2], float)
        loc = F2_LOCUS.get(cons)
        if cons in ("m", "n"):
            keys_t.append(t0 - 0.06)
            keys_f.append(np.array(VOWELS_HZ[cons], float))
        elif loc is not None:
            f = f1.copy()
            f[1] = loc
            f[0] = min(f[0], 350.0)
            keys_t.append(t0 - 0.01)
            keys_f.append(f)
        keys_t.append(t0 + 0.05)
        keys_f.append(f1)
        keys_t.append(t0 + max(d * 0.55, 0.06))
        keys_f.append(f1)
        if v2 != v1:
            keys_t.append(t0 + max(d * 0.9, 0.1))
            keys_f.append(f2)
    order = np.argsort(keys_t, kind="stable")
    kt = np.asarray(keys_t)[order]
    kf = np.asarray(keys_f)[order]
    F = np.stack([np.interp(tc, kt, kf[:, j]) for j in range(5)] + [np.full(n_ctrl, h) for h in HIGHER_HZ],
                 axis=1) * sg["fscale"]
    if sg.get("ring"):                                # the singer's formant: F3-F5 drawn together near 2.9 kHz
        F[:, 2:5] = 0.5 * F[:, 2:5] + 0.5 * np.array([2700.0, 3000.0, 3300.0])
    f0 = 440.0 * 2 ** ((p_midi - 69) / 12)
    F[:, 0] = np.maximum(F[:, 0], 1.08 * f0)         # formant tuning: F1 stays above f0 on high notes
    F[:, 1] = np.maximum(F[:, 1], F[:, 0] + 250)
    return F


def _cascade(src: np.ndarray, F: np.ndarray, bw: np.ndarray, fs: int) -> np.ndarray:
    """Two-pole resonators in series (one per column of ``F``), coefficients per BLOCK samples, state carried."""
    n = src.size
    out = np.zeros(n)
    nf = F.shape[1]
    active = np.zeros(n // BLOCK + 2, bool)
    nz = np.flatnonzero(np.abs(src) > 0)
    if nz.size == 0:
        return out
    blocks = np.unique(nz // BLOCK)
    for k in range(16):                               # ring out 16 blocks after input ends
        active[np.minimum(blocks + k, active.size - 1)] = True
    step = BLOCK // CTRL
    rr = np.exp(-np.pi * bw / fs)
    idx = np.flatnonzero(active)
    idx = idx[idx * BLOCK < n]
    f = F[np.minimum(idx * step + step // 2, F.shape[0] - 1)]                # (blocks, 5)
    th = 2 * np.pi * np.minimum(f, 0.45 * fs) / fs
    a1 = -2 * rr * np.cos(th)
    a2 = np.broadcast_to(rr ** 2, a1.shape)
    sos_all = np.stack([1 + a1 + a2, np.zeros_like(a1), np.zeros_like(a1), np.ones_like(a1), a1, a2], axis=2)
    prev = -2
    for j, b in enumerate(idx):
        s0 = b * BLOCK
        s1 = min(s0 + BLOCK, n)
        if b != prev + 1:
            zi = np.zeros((nf, 2))
        out[s0:s1], zi = signal.sosfilt(sos_all[j], src[s0:s1], zi=zi)
        prev = b
    return out


def sing(notes: list[tuple], n: int, fs: int, sg: dict, rng: np.random.Generator) -> np.ndarray:
    """Render a sung line (mono, ``n`` samples); notes are ``(t0_s, dur_s, midi, velocity, "c-v")``."""
    if not notes:
        return np.zeros(n)
    n_ctrl = n // CTRL + 2
    p, amp, voiced = _f0_track(notes, n_ctrl, fs, sg, rng)
    F = _formant_track(notes, n_ctrl, fs, sg, p)
    bw = BW_HZ * (1.4 if sg["breath"] > 0.1 else 1.0)
    ts = np.arange(n) / CTRL
    ic = np.arange(n_ctrl)
    midi_s = np.interp(ts, ic, p)
    amp_s = np.interp(ts, ic, amp)
    f0 = 440.0 * 2 ** ((midi_s - 69) / 12)
    jit = signal.lfilter([0.3], [1, -0.7], rng.standard_normal(n)) * sg["jitter"] * 1.7
    phase = np.cumsum(f0 * (1 + jit)) / fs
    cyc = np.floor(phase).astype(np.int64)
    frac = phase - cyc
    shim = 1 + sg["shimmer"] * rng.standard_normal(int(cyc[-1]) + 2)
    tp, tn = sg["t_p"], sg["t_n"]
    flow = np.where(frac < tp, 0.5 * (1 - np.cos(np.pi * frac / tp)),
                    np.where(frac < tp + tn, np.cos(0.5 * np.pi * (frac - tp) / tn), 0.0))
    flow *= shim[cyc]
    noise = rng.standard_normal(n)
    hmask = np.zeros(n_ctrl)
    frics = np.zeros((len(FRICATIVE), n))
    plos = np.zeros((len(PLOSIVE), n))
    prev_end = -10.0
    for t0, d, m, v, syl in notes:
        cons = syl.split("-")[0]
        if t0 - prev_end > 0.6 and t0 > 0.4:          # a breath before a phrase
            i0, i1 = int((t0 - 0.35) * fs / CTRL), int((t0 - 0.08) * fs / CTRL)
            hmask[i0:i1] = np.maximum(hmask[i0:i1], 0.08 * np.sin(np.linspace(0, np.pi, max(i1 - i0, 1))))
        if cons == "h":
            i0, i1 = int((t0 - 0.07) * fs / CTRL), int((t0 + 0.01) * fs / CTRL)
            hmask[i0:i1] = np.maximum(hmask[i0:i1], 0.5 * v)
        elif cons in FRICATIVE:
            lo, hi, dur, lev = FRICATIVE[cons]
            j = list(FRICATIVE).index(cons)
            s0, s1 = int((t0 - dur) * fs), int(t0 * fs)
            if s0 >= 0:
                frics[j, s0:s1] += lev * v * np.hanning(s1 - s0 + 2)[1:-1] ** 0.7
        elif cons in PLOSIVE:
            lo, hi, lev = PLOSIVE[cons]
            j = list(PLOSIVE).index(cons)
            s0 = int((t0 - 0.012) * fs)
            L = int(0.014 * fs)
            if s0 >= 0:
                plos[j, s0:s0 + L] += lev * v * np.exp(-np.arange(L) / (0.004 * fs))
            c0, c1 = int((t0 - 0.05) * fs / CTRL), int((t0 - 0.012) * fs / CTRL)
            if cons in ("t", "k", "p") and c0 > 0:    # closure: the voice stops before the burst
                amp_s[c0 * CTRL:c1 * CTRL] *= 0.1
        prev_end = t0 + d
    src = np.diff(flow, prepend=0.0) * amp_s * (fs / 1000.0)
    # aspiration: noise gated by the flow; /h/ and breaths: noise into the tract
    asp = noise * (0.25 + flow) * amp_s * sg["breath"] * 6
    hm = np.interp(ts, ic, hmask)
    src = src + asp + noise * hm * 0.6
    y = _cascade(src, F, bw, fs)
    # fricatives and bursts bypass the tract
    for j, (lo, hi, _dur, _lev) in enumerate(FRICATIVE.values()):
        if np.any(frics[j]):
            sos = signal.butter(2, (lo, min(hi, 0.45 * fs)), "band", fs=fs, output="sos")
            y += signal.sosfilt(sos, noise * frics[j]) * 0.25
    for j, (lo, hi, _lev) in enumerate(PLOSIVE.values()):
        if np.any(plos[j]):
            sos = signal.butter(2, (lo, min(hi, 0.45 * fs)), "band", fs=fs, output="sos")
            y += signal.sosfilt(sos, np.roll(noise, 7919) * plos[j]) * 0.4
    # the poles above F5 (a formant synthesiser's higher-pole correction), presence, and the low cut
    y = signal.sosfilt(np.vstack([biquad("hp", 90.0, fs, 0.7), biquad("peak", 3000.0, fs, 1.0, 2.0),
                                  biquad("highshelf", 5000.0, fs, 0.5, 6.0)]), y)
    return y


def shift_notes(notes: list[tuple], rng: np.random.Generator, spread_s: float, cents: float) -> list[tuple]:
    """Another take of the same line (double tracking): timing moved by up to ``spread_s``, pitch by ``cents``."""
    out = []
    for t0, d, m, v, syl in notes:
        dt = rng.uniform(-spread_s, spread_s)
        out.append((max(t0 + dt, 0.0), d * rng.uniform(0.95, 1.02), m + cents / 100, v * rng.uniform(0.9, 1.05), syl))
    return out
