"""Instruments of :mod:`mixes.songs5` (mono note renderers and line renderers).

Every tonal instrument renders one note into a buffer that is cached per (pitch, length) and
reused (as a sampler plays its samples), scaled by the note's velocity:

* ``piano`` — partials with stiffness inharmonicity ``f_k = k f0 sqrt(1 + B k^2)``, a hammer-position
  comb, two-stage decay (prompt and after-sound), two strings detuned for the low partials (beats),
  a hammer thump;
* ``pluck`` — plucked strings (acoustic guitar, upright and electric bass): partials weighted by the
  pluck position ``sin(pi k beta) / k^p``, each decaying faster with its number, damped at release;
* ``wt`` — wavetable voices (saw/square mixtures, organ drawbars) with detuned unison, slow attack,
  vibrato: strings, pads, supersaws, organ;
* ``sub808`` — a whole 808 line on one running phase (glides between tied notes), saturated;
* the real piano recording (``pyloudnorm-piano/piano.wav``) transposed into the song's key as a
  sampled layer (its key estimated from its chroma against the Krumhansl-Kessler profiles).
"""

from __future__ import annotations

import functools
from fractions import Fraction

import numpy as np
from scipy import signal

from mixes.songs5_dsp import shared_data_dir

TABLE = 2048


def hz(midi: float) -> float:
    return 440.0 * 2 ** ((midi - 69) / 12)


def _ramp(x: np.ndarray, fs: int, attack_s: float, release_s: float) -> np.ndarray:
    a = max(int(attack_s * fs), 1)
    r = max(int(release_s * fs), 1)
    x[:a] *= np.linspace(0, 1, a) if a <= x.size else 1
    if r < x.size:
        x[-r:] *= np.cos(np.linspace(0, np.pi / 2, r)) ** 2
    return x


def piano_note(midi: float, dur_s: float, fs: int, seed: int = 0) -> np.ndarray:
    """One piano note (mono), ringing for ``dur_s`` then damped (0.12 s)."""
    f0 = hz(midi)
    L = int((min(dur_s, 4.0) + 0.12) * fs)
    t = np.arange(L) / fs
    B = 4e-4 * (f0 / 261.6) ** 0.5
    K = int(min(18, 7500 / f0))
    y = np.zeros(L)
    for k in range(1, K + 1):
        fk = k * f0 * np.sqrt(1 + B * k * k)
        if fk > 0.45 * fs:
            break
        a = abs(np.sin(np.pi * k / 7.3)) / k ** 1.1
        tau1 = 0.35 / k ** 0.5 * (261.6 / f0) ** 0.3
        tau2 = 3.5 * (261.6 / f0) ** 0.5 / k ** 0.6
        env = 0.65 * np.exp(-t / tau1) + 0.35 * np.exp(-t / tau2)
        if k <= 6:
            d = fk * 2 ** (0.8 / 1200) - fk
            y += a * env * 0.5 * (np.sin(2 * np.pi * fk * t) + np.sin(2 * np.pi * (fk + d) * t))
        else:
            y += a * env * np.sin(2 * np.pi * fk * t)
    rng = np.random.default_rng(seed + int(midi * 10))
    th = int(0.01 * fs)
    thump = rng.standard_normal(th) * np.exp(-np.arange(th) / (0.002 * fs))
    y[:th] += 0.05 * signal.lfilter([0.1], [1, -0.9], thump)
    return _ramp(y, fs, 0.0015, 0.12)


def pluck_note(midi: float, dur_s: float, fs: int, *, beta: float = 0.2, power: float = 1.4,
               tau_s: float = 1.5, damp: float = 0.15, kmax: int = 24, thump: float = 0.0,
               attack_s: float = 0.002) -> np.ndarray:
    """A plucked string: partials weighted by the pluck position, decaying faster with number."""
    f0 = hz(midi)
    L = int((min(dur_s, 4.0) + 0.06) * fs)
    t = np.arange(L) / fs
    y = np.zeros(L)
    for k in range(1, kmax + 1):
        fk = k * f0 * (1 + 1e-4 * k * k)
        if fk > min(0.45 * fs, 9000):
            break
        a = abs(np.sin(np.pi * k * beta)) / k ** power
        y += a * np.exp(-t / (tau_s / (1 + damp * k ** 1.3))) * np.sin(2 * np.pi * fk * t)
    if thump:
        y += thump * np.sin(2 * np.pi * f0 * 0.5 * t) * np.exp(-t / 0.03)
    return _ramp(y, fs, attack_s, 0.06)


@functools.lru_cache(maxsize=256)
def _table(harm: tuple) -> np.ndarray:
    spec = np.zeros(TABLE // 2 + 1, complex)
    for k, a in enumerate(harm, start=1):
        if k < spec.size:
            spec[k] = -1j * a
    t = np.fft.irfft(spec, TABLE)
    return t / np.max(np.abs(t))


def wave(kind: str, f0: float, fs: int) -> tuple:
    """Harmonic amplitudes of a band-limited wave for ``f0`` (saw, square, soft, organ)."""
    K = max(1, min(80, int(0.45 * fs / f0 * 0.9), int(12000 / f0)))
    if kind == "saw":
        return tuple(1 / k for k in range(1, K + 1))
    if kind == "square":
        return tuple((1 / k if k % 2 else 0.0) for k in range(1, K + 1))
    if kind == "soft":                                       # a string-section-like tilt
        return tuple(1 / k ** 1.6 for k in range(1, K + 1))
    if kind == "organ":                                      # drawbars 88 8800 000-ish on f0 (sub at 1/2 omitted)
        h = np.zeros(K)
        for m, a in ((1, 1.0), (2, 0.8), (3, 0.6), (4, 0.5), (6, 0.3), (8, 0.25)):
            if m <= K:
                h[m - 1] = a
        return tuple(h)
    raise ValueError(kind)


def wt_note(midi: float, dur_s: float, fs: int, *, kind: str = "saw", voices: int = 3, detune_cents: float = 8.0,
            attack_s: float = 0.2, release_s: float = 0.3, vib_cents: float = 0.0, seed: int = 0) -> np.ndarray:
    """A wavetable note with detuned unison voices, attack/release and optional delayed vibrato."""
    f0 = hz(midi)
    L = int((dur_s + release_s) * fs)
    t = np.arange(L) / fs
    tab = _table(wave(kind, f0 * 2 ** (detune_cents / 1200), fs))
    rng = np.random.default_rng(seed + int(midi * 100))
    y = np.zeros(L)
    vib = vib_cents / 1200 * np.clip((t - 0.25) / 0.3, 0, 1) * np.sin(2 * np.pi * 5.3 * t + rng.uniform(0, 6))
    for v in range(voices):
        c = 0.0 if voices == 1 else detune_cents * (2 * v / (voices - 1) - 1)
        f = f0 * 2 ** (c / 1200 + vib)
        ph = (np.cumsum(f) / fs + rng.uniform()) * TABLE
        i = ph.astype(np.int64)
        fr = ph - i
        y += tab[i % TABLE] * (1 - fr) + tab[(i + 1) % TABLE] * fr
    env = np.ones(L)
    a = min(int(attack_s * fs), L)
    env[:a] = np.linspace(0, 1, a) ** 1.5
    r = min(int(release_s * fs), L)
    env[L - r:] *= np.linspace(1, 0, r) ** 2
    return y * env / voices ** 0.5


def render(notes, n: int, fs: int, note_fn, cache: dict, *, key: str = "") -> np.ndarray:
    """Sum ``note_fn(midi, dur_s)`` for ``notes`` ``(t0_s, dur_s, midi, vel, ...)`` into (n,), cached."""
    y = np.zeros(n)
    for nt in notes:
        t0, d, m, v = nt[:4]
        s0 = int(round(t0 * fs))
        if s0 >= n or d <= 0:
            continue
        ck = (key, round(float(m), 2), int(round(d * 50)))
        x = cache.get(ck)
        if x is None:
            x = note_fn(m, round(d * 50) / 50)
            cache[ck] = x
        e = min(n, s0 + x.size)
        y[s0:e] += v * x[: e - s0]
    return y


def sub808(notes, n: int, fs: int, *, glide_s: float = 0.07, decay_s: float = 1.2, drive: float = 2.0) -> np.ndarray:
    """An 808 bass line on one running phase: a note that starts as the previous ends glides to it."""
    f = np.zeros(n)
    amp = np.zeros(n)
    prev_f, prev_end = None, -1.0
    for t0, d, m, v in notes:
        s0, s1 = int(t0 * fs), min(int((t0 + d) * fs), n)
        if s1 <= s0:
            continue
        L = s1 - s0
        ft = np.full(L, hz(m))
        tt = np.arange(L) / fs
        tied = prev_f is not None and t0 - prev_end < 0.02
        if tied:                                    # glide from the previous pitch (exponential in log f)
            ft = hz(m) * (prev_f / hz(m)) ** np.exp(-tt / (glide_s / 3))
            e = np.full(L, amp[s0 - 1] if s0 > 0 else v) * np.exp(-tt / decay_s)
        else:
            e = v * np.exp(-tt / decay_s) * np.minimum(1, tt / 0.004)
        rel = int(min(0.03 * fs, L))
        e[-rel:] *= np.linspace(1, 0, rel) ** 2
        f[s0:s1] = ft
        amp[s0:s1] = e
        prev_f, prev_end = hz(m), t0 + d
    # silence holds the last pitch (the phase stays continuous)
    last = np.maximum.accumulate(np.where(f > 0, np.arange(n), 0))
    f = np.where(f > 0, f, f[last])
    f[f <= 0] = 50.0
    ph = 2 * np.pi * np.cumsum(f) / fs
    return np.tanh(drive * np.sin(ph) * amp) / np.tanh(drive)


# ----------------------------------------------------------------------------- the real piano
@functools.lru_cache(maxsize=1)
def _piano_recording():
    d = shared_data_dir()
    if d is None:
        return None
    try:
        import soundfile as sf
        x, fs0 = sf.read(str(d / "pyloudnorm-piano" / "piano.wav"), dtype="float64", always_2d=True)
    except (OSError, RuntimeError, ValueError):
        return None
    x = x.T
    # key estimate: chroma of the whole clip against the Krumhansl-Kessler major/minor profiles
    m = x.mean(axis=0)
    f, _, S = signal.stft(m, fs0, nperseg=8192)
    P = np.abs(S) ** 2
    sel = (f > 60) & (f < 2000)
    pc = np.round(12 * np.log2(f[sel] / 440.0) + 69).astype(int) % 12
    chroma = np.bincount(pc, weights=P[sel].sum(axis=1), minlength=12)
    maj = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
    mnr = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
    best = max(((np.corrcoef(np.roll(prof, k), chroma)[0, 1], k, nm) for prof, nm in ((maj, "major"), (mnr, "minor"))
                for k in range(12)))
    return x, int(fs0), best[1], best[2]


@functools.lru_cache(maxsize=8)
def piano_layer(fs: int, tonic_pc: int) -> np.ndarray | None:
    """The real piano recording transposed to ``tonic_pc`` (-6..+5 semitones) at ``fs``; None if absent."""
    rec = _piano_recording()
    if rec is None:
        return None
    x, fs0, pc0, _mode = rec
    d = ((tonic_pc - pc0 + 6) % 12) - 6
    ratio = Fraction(fs / fs0 / 2 ** (d / 12)).limit_denominator(300)
    y = signal.resample_poly(x, ratio.numerator, ratio.denominator, axis=1)
    return y / np.max(np.abs(y))
