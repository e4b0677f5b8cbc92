"""Instrument voices for :mod:`mixes.songs_alt` (the second, independent song generator).

Every function returns a mono (or ``(2, n)``) float64 signal at ``fs``; levels are relative
(the arrangement scales each stem).  Nothing here shares code with :mod:`mixes.songs`:

* oscillators — PolyBLEP band-limited sawtooth and square (time-varying frequency allowed);
* Karplus–Strong plucked string, vectorised one period at a time (a four-tap loop filter that
  sets both the fractional delay and the damping);
* piano — stretched (inharmonic) partials ``f_k = k f0 sqrt(1 + B k^2)``, hammer-position comb,
  two-stage decay per partial, string-pair beating, hammer noise;
* bass timbres — sine sub, filter-enveloped saw/square, FM, plucked (pick or finger);
* organ (drawbars, tremolo), string/supersaw ensembles, distorted guitar chords;
* drum kit — kicks, snares, cross-stick, clap, metallic hats/ride/crash, toms, shaker, brushes;
* reverb — early reflections feeding an 8-line feedback delay network (Hadamard mixing, per-line
  frequency-dependent absorption), run block-wise to an impulse response.
"""

from __future__ import annotations

import functools

import numpy as np
from scipy import signal

__all__ = [
    "blep_saw", "blep_square", "ks_pluck", "piano_note", "bass_note", "organ_chord", "ensemble_chord",
    "guitar_chord", "DrumKit", "fdn_ir", "adsr", "fade_edges", "midi_hz",
]


def midi_hz(note: float) -> float:
    """Equal-tempered frequency (Hz) of MIDI note ``note`` (A4 = 69 = 440 Hz)."""
    return 440.0 * 2.0 ** ((note - 69.0) / 12.0)


def _sos(fs: int, kind: str, f_hz, order: int = 2):
    """Butterworth second-order sections, edges kept inside (0, 0.45 fs) (designs are cached:
    a song asks for the same few filters hundreds of times)."""
    key = tuple(np.round(np.atleast_1d(np.asarray(f_hz, dtype=float)), 3))
    return _sos_cached(int(fs), kind, key, int(order))


@functools.lru_cache(maxsize=512)
def _sos_cached(fs: int, kind: str, f_hz: tuple, order: int):
    f = np.asarray(f_hz, dtype=float)
    f = np.clip(f, 10.0, 0.45 * fs)
    if kind == "band" and f[1] <= f[0] * 1.05:
        f = np.array([min(f[0], 0.4 * fs), 0.45 * fs])
    return signal.butter(order, f if f.size > 1 else float(f[0]), kind, fs=fs, output="sos")


def fade_edges(x: np.ndarray, fs: int, in_s: float = 0.002, out_s: float = 0.01) -> np.ndarray:
    """``x`` (last axis time) with raised-cosine fades at both ends: no note starts or stops
    with a step."""
    x = np.array(x, dtype=float, copy=True)
    n = x.shape[-1]
    for m, sl, rev in ((int(in_s * fs), slice(0, None), False), (int(out_s * fs), slice(None), True)):
        m = min(m, n)
        if m > 1:
            w = 0.5 - 0.5 * np.cos(np.pi * np.arange(m) / m)
            if rev:
                x[..., n - m:] *= w[::-1]
            else:
                x[..., :m] *= w
    return x


def adsr(n: int, fs: int, attack_s: float, decay_s: float, sustain: float, release_s: float,
         curve: float = 1.0) -> np.ndarray:
    """Linear-attack, exponential-decay envelope with a cosine release over its last
    ``release_s``; ``curve`` > 1 makes the attack slower at first (bowed/blown onsets)."""
    t = np.arange(n) / fs
    a = np.clip(t / max(attack_s, 1e-5), 0.0, 1.0) ** curve
    env = a * (sustain + (1.0 - sustain) * np.exp(-np.maximum(t - attack_s, 0.0) / max(decay_s, 1e-5)))
    m = min(int(release_s * fs), n)
    if m > 1:
        env[n - m:] *= 0.5 + 0.5 * np.cos(np.pi * np.arange(m) / m)
    return env


# ----------------------------------------------------------------------------- oscillators
def _blep(ph: np.ndarray, dt: np.ndarray) -> np.ndarray:
    """PolyBLEP residual of a unit downward step at phase wrap (phase in [0, 1))."""
    out = np.zeros_like(ph)
    m = ph < dt
    t = ph[m] / dt[m]
    out[m] = t + t - t * t - 1.0
    m = ph > 1.0 - dt
    t = (ph[m] - 1.0) / dt[m]
    out[m] = t * t + t + t + 1.0
    return out


def _phase(f_hz, n: int, fs: int, phase0: float):
    f = np.broadcast_to(np.asarray(f_hz, dtype=float), (n,))
    dt = np.minimum(f / fs, 0.45)
    return (phase0 + np.cumsum(dt)) % 1.0, dt


def blep_saw(f_hz, n: int, fs: int, phase0: float = 0.0) -> np.ndarray:
    """Band-limited rising sawtooth in [-1, 1] (PolyBLEP), ``f_hz`` scalar or per sample."""
    ph, dt = _phase(f_hz, n, fs, phase0)
    return 2.0 * ph - 1.0 - _blep(ph, dt)


def blep_square(f_hz, n: int, fs: int, phase0: float = 0.0, duty: float = 0.5) -> np.ndarray:
    """Band-limited pulse wave (difference of two PolyBLEP saws)."""
    ph, dt = _phase(f_hz, n, fs, phase0)
    ph2 = (ph + duty) % 1.0
    return (2.0 * ph - _blep(ph, dt)) - (2.0 * ph2 - _blep(ph2, dt))


# ----------------------------------------------------------------------------- strings
def ks_pluck(f0_hz: float, n: int, fs: int, rng: np.random.Generator, *, t60_s: float = 3.0,
             brightness: float = 0.6, pick_pos: float = 0.18) -> np.ndarray:
    """Karplus–Strong plucked string of ``n`` samples.

    The loop is ``y[t] = x[t] + g * sum_j h[j] y[t - L - j]`` with ``h`` = (fractional-delay
    two-tap) * (damping three-tap [c, 1-2c, c]); its delay is exactly ``fs / f0``.  Because the
    shortest lag is a whole period ``L``, a period is computed at once from the previous one.
    """
    p = fs / f0_hz
    L = max(int(np.floor(p)) - 1, 4)
    d = p - np.floor(p)
    c = 0.04 + 0.2 * (1.0 - brightness)
    h = np.convolve([1.0 - d, d], [c, 1.0 - 2.0 * c, c])
    g = 10.0 ** (-3.0 / (t60_s * f0_hz))
    # initial displacement: the string's triangle at the plucking point (a finger or pick pulls
    # it aside, then lets go), as its Fourier series at the loop's exact period p (so the first
    # period joins the recursion without a seam), low-passed by ``brightness``, plus a little
    # noise (the nail or pick)
    kk = np.arange(1, int(p / 2))
    fc = (800.0 + 5000.0 * brightness) / f0_hz
    a_k = np.sin(np.pi * kk * pick_pos) / kk ** 2 / (1.0 + (kk / fc) ** 2)
    i = np.arange(L + 3) - 3
    hist = np.cos(2.0 * np.pi * np.outer(i, kk) / p) @ a_k
    hist += 0.02 * np.max(np.abs(hist)) * signal.lfilter([0.5], [1.0, -0.5], rng.standard_normal(L + 3))
    hist -= hist.mean()
    exc = hist[3:]
    nb = n // L + 2
    y = np.zeros((nb + 1) * L + 3)
    y[:3 + L] = hist
    for b in range(1, nb):
        s = 3 + b * L
        pe = y[s - L - 3:s]
        y[s:s + L] = g * (h[0] * pe[3:] + h[1] * pe[2:-1] + h[2] * pe[1:-2] + h[3] * pe[:-3])
    out = y[3:3 + n] / max(np.max(np.abs(exc)), 1e-9)
    m = min(n, max(2, int(0.0012 * fs)))             # the pick leaves the string over ~1 ms
    out[:m] *= 0.5 - 0.5 * np.cos(np.pi * np.arange(m) / m)
    return out


def piano_note(midi: float, n: int, fs: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A piano tone: ``(body, bright)`` mono parts; a key struck at velocity ``v`` sounds
    ``v * body + v**2 * bright`` (louder is brighter).  Partials are stretched by the string's
    stiffness, filtered by the hammer position (about 1/8 of the string), decay two-stage
    (prompt then aftersound, higher partials faster), and beat (two strings a cent apart)."""
    f0 = midi_hz(midi)
    b_inh = 2.5e-4 * 2.0 ** ((midi - 60.0) / 12.0 * 0.9)
    k = np.arange(1, 40)
    fk = k * f0 * np.sqrt(1.0 + b_inh * k * k)
    k = k[fk < min(0.45 * fs, 9000.0)][:14]
    fk = fk[: k.size]
    amp = np.abs(np.sin(np.pi * k * rng.uniform(0.11, 0.14))) / k ** 0.9
    tau0 = float(np.clip(9.0 * 2.0 ** (-(midi - 40.0) / 18.0), 0.8, 9.0))
    step = 32
    ts = np.arange(0, n + step, step) / fs
    t = (np.arange(n) / fs).astype(np.float32)
    body = np.zeros(n, dtype=np.float32)
    bright = np.zeros(n, dtype=np.float32)
    for i, (kk, f, a) in enumerate(zip(k, fk, amp)):
        tau = tau0 / (1.0 + 0.12 * kk ** 1.3)
        beat = np.cos(np.pi * rng.uniform(0.3, 1.5) * 1e-3 * f * ts) ** 2 * 0.6 + 0.4
        env_s = (0.65 * np.exp(-ts / (0.18 * tau)) + 0.35 * np.exp(-ts / tau)) * beat
        env = np.interp(t, ts, env_s).astype(np.float32)          # smooth (a staircase would modulate)
        x = np.float32(a) * env * np.sin(np.float32(2.0 * np.pi * f) * t + np.float32(rng.uniform(0, 6.28)))
        if kk <= 4:
            body += x
        else:
            bright += x
    m = int(0.006 * fs)
    ham = signal.sosfilt(_sos(fs, "band", [300.0, 3000.0]), rng.standard_normal(m))
    ham *= np.exp(-np.arange(m) / (0.0015 * fs)) * np.sin(np.pi * np.minimum(np.arange(m) / (0.0008 * fs), 0.5))
    bright[:m] += 0.12 * ham / max(np.max(np.abs(ham)), 1e-9)
    att = np.minimum(1.0, np.arange(n) / max(1, int(0.0015 * fs)))
    return body.astype(float) * att, bright.astype(float) * att


# ----------------------------------------------------------------------------- bass
def bass_note(kind: str, f0_hz, n: int, fs: int, rng: np.random.Generator, vel: float = 1.0) -> np.ndarray:
    """One bass note of ``n`` samples; ``f0_hz`` scalar or per sample (slides).

    ``kind``: ``"sub"`` (sine, slight tube-like saturation), ``"saw"``/``"square"`` (PolyBLEP
    through a low-pass whose cutoff falls after the attack: the filter envelope, done as a
    cross-fade of a bright and a dark filtering), ``"fm"`` (two-operator FM with a decaying
    index), ``"pick"``/``"finger"`` (plucked: partials decaying at their own rates, a pick or
    finger transient).
    """
    f = np.broadcast_to(np.asarray(f0_hz, dtype=float), (n,))
    fm = float(np.mean(f))
    t = np.arange(n) / fs
    if kind == "sub":
        ph = 2.0 * np.pi * np.cumsum(f) / fs
        x = np.tanh(1.6 * np.sin(ph)) / np.tanh(1.6)
        env = adsr(n, fs, 0.006, 0.4, 0.8, 0.03)
    elif kind in ("saw", "square"):
        osc = blep_saw(f, n, fs, rng.uniform()) if kind == "saw" else blep_square(f, n, fs, rng.uniform(), 0.5)
        dark = signal.sosfilt(_sos(fs, "low", 2.2 * fm, 2), osc)
        brt = signal.sosfilt(_sos(fs, "low", min(14.0 * fm, 2500.0), 2), osc)
        fe = np.exp(-t / rng.uniform(0.06, 0.18)) * vel
        x = dark * (1.0 - fe) + brt * fe
        env = adsr(n, fs, 0.004, 0.5, 0.75, 0.03)
    elif kind == "fm":
        ph = 2.0 * np.pi * np.cumsum(f) / fs
        idx = (1.2 + 2.5 * vel * np.exp(-t / 0.09))
        x = np.sin(ph + idx * np.sin(ph))
        env = adsr(n, fs, 0.004, 0.35, 0.6, 0.03)
    else:   # plucked: additive partials with own decays
        ph = 2.0 * np.pi * np.cumsum(f) / fs
        k = np.arange(1, 13)
        k = k[k * fm < 0.4 * fs]
        pos = 0.25 if kind == "finger" else 0.12
        a = np.abs(np.sin(np.pi * k * pos)) / k ** (1.3 if kind == "finger" else 0.9)
        tau = (1.4 if kind == "finger" else 1.0) / (1.0 + 0.5 * (k - 1))
        step = 32
        ts = np.arange(0, n + step, step) / fs
        x = np.zeros(n)
        for kk, aa, tt in zip(k, a, tau):
            x += aa * np.interp(t, ts, np.exp(-ts / tt)) * np.sin(kk * ph)
        m = int(0.004 * fs)
        tr = signal.sosfilt(_sos(fs, "band", [600.0, 4000.0] if kind == "pick" else [150.0, 900.0]),
                            rng.standard_normal(m))
        tr *= np.hanning(m)
        x[:m] += (0.25 if kind == "pick" else 0.15) * vel * tr / max(np.max(np.abs(tr)), 1e-9)
        env = adsr(n, fs, 0.002, 10.0, 1.0, 0.03)
    return fade_edges(x * env, fs, 0.001, 0.012)


# ----------------------------------------------------------------------------- chords
def organ_chord(notes, n: int, fs: int, rng: np.random.Generator) -> np.ndarray:
    """Drawbar organ chord ``(2, n)``: harmonics 1/2, 1, 2, 3, 4, 6, 8 at per-song drawbar
    levels, a rotating-speaker tremolo in antiphase left/right, a soft key click."""
    draw = rng.choice([0.0, 0.3, 0.6, 1.0], size=7)
    draw[1] = 1.0
    mult = np.array([0.5, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0])
    t = np.arange(n) / fs
    x = np.zeros(n)
    for note in notes:
        f0 = midi_hz(note)
        for m_, d in zip(mult, draw):
            if d > 0 and m_ * f0 < 0.4 * fs:
                x += d / m_ ** 0.5 * np.sin(2.0 * np.pi * m_ * f0 * t + rng.uniform(0, 6.28))
    rate = rng.uniform(0.8, 6.5)
    trem = 0.15 * np.sin(2.0 * np.pi * rate * t)
    env = adsr(n, fs, 0.01, 1.0, 1.0, 0.05)
    return fade_edges(np.stack([x * (1.0 + trem), x * (1.0 - trem)]) * env, fs)


def ensemble_chord(notes, n: int, fs: int, rng: np.random.Generator, *, attack_s: float = 0.5,
                   cutoff_hz: float = 3500.0, voices: int = 2, vib_hz: float = 5.0) -> np.ndarray:
    """String-section / supersaw chord ``(2, n)``: per channel ``voices`` detuned PolyBLEP saws
    per note with slow vibrato, low-passed, slow (curved) attack."""
    t = np.arange(n) / fs
    out = np.zeros((2, n))
    # every player has their own vibrato (rate, phase, depth ~5-12 cents): a section's vibrato is
    # incoherent across notes and channels, unlike a single voice's
    step = 64
    ts = np.arange(0, n + step, step) / fs
    for c in range(2):
        for note in notes:
            f0 = midi_hz(note)
            for v in range(voices):
                det = 2.0 ** (rng.uniform(-12.0, 12.0) / 1200.0)
                cents = rng.uniform(5.0, 12.0) * np.sin(2.0 * np.pi * max(vib_hz + rng.uniform(-0.8, 0.8), 0.1) * ts
                                                        + rng.uniform(0, 6.28))
                vib = np.interp(t, ts, 2.0 ** (cents / 1200.0))
                out[c] += blep_saw(f0 * det * vib, n, fs, rng.uniform())
    out = signal.sosfilt(_sos(fs, "low", cutoff_hz, 2), out, axis=1)
    env = adsr(n, fs, attack_s, 2.0, 0.85, min(0.4, n / fs / 3), curve=1.8)
    return fade_edges(out * env, fs, 0.005, 0.05)


def guitar_chord(notes, n: int, fs: int, rng: np.random.Generator, drive: float = 4.0) -> np.ndarray:
    """A sustained distorted-guitar chord (mono): detuned saw pairs through a tanh stage and
    a cabinet-like band-pass (90 Hz–4.5 kHz); the caller gates it into a rhythm."""
    x = np.zeros(n)
    for note in notes:
        f0 = midi_hz(note)
        for det in (-4.0, 3.0):
            x += blep_saw(f0 * 2.0 ** (det / 1200.0), n, fs, rng.uniform())
    x = signal.sosfilt(_sos(fs, "low", 3000.0, 1), x)
    y = np.tanh(drive * x / max(len(notes), 1))
    return signal.sosfilt(_sos(fs, "band", [90.0, 4500.0], 2), y)


# ----------------------------------------------------------------------------- drums
class DrumKit:
    """One-shot drum sounds for a song, rendered once (a few variants each) and placed by the
    arrangement.  ``flavour``: ``"rock"``, ``"electronic"``, ``"soft"`` (ballad/acoustic)."""

    def __init__(self, fs: int, rng: np.random.Generator, flavour: str):
        self.fs, self.rng, self.flavour = fs, rng, flavour
        self.kick = self._kick()
        self.snare = [self._snare(b) for b in (0.0, 1.0)]      # soft (ghost) and full
        self.xstick = self._xstick()
        self.clap = self._clap()
        self.metal = self._metal(1.0)
        self.ride_metal = self._metal(1.37)
        self.tom_hz = sorted(rng.uniform(80.0, 210.0, 3))

    def _t(self, dur_s: float) -> np.ndarray:
        return np.arange(int(dur_s * self.fs)) / self.fs

    def _noise(self, n: int) -> np.ndarray:
        return self.rng.standard_normal(n)

    def _kick(self) -> np.ndarray:
        fs, rng = self.fs, self.rng
        if self.flavour == "electronic":
            t = self._t(0.7)
            f = 48.0 + 70.0 / (1.0 + t / 0.01)
            body = np.sin(2.0 * np.pi * np.cumsum(f) / fs) * np.exp(-t / rng.uniform(0.25, 0.4))
            body = np.tanh(1.5 * body)
        else:
            t = self._t(0.4)
            f = rng.uniform(50.0, 62.0) + 100.0 / (1.0 + t / 0.008)
            body = np.sin(2.0 * np.pi * np.cumsum(f) / fs) * np.exp(-t / (0.09 if self.flavour == "rock" else 0.12))
        m = int(0.003 * fs)
        click = signal.sosfilt(_sos(fs, "high", 1500.0), self._noise(m)) * np.hanning(m)
        body[:m] += (0.35 if self.flavour == "rock" else 0.12) * click / max(np.max(np.abs(click)), 1e-9)
        return fade_edges(body, fs, 0.0005, 0.02)

    def _snare(self, bright: float) -> np.ndarray:
        fs = self.fs
        t = self._t(0.3)
        head = 0.6 * np.sin(2 * np.pi * 182.0 * t) * np.exp(-t / 0.04) + 0.35 * np.sin(2 * np.pi * 331.0 * t) * np.exp(-t / 0.025)
        wires = signal.sosfilt(_sos(fs, "band", [1800.0 - 600.0 * bright, 9000.0]), self._noise(t.size))
        wires = wires / np.std(wires) * np.exp(-t / (0.09 + 0.05 * bright)) * (0.35 + 0.25 * bright)
        x = np.tanh(1.2 * (head + wires))
        return fade_edges(x, fs, 0.0007, 0.03)

    def _xstick(self) -> np.ndarray:
        t = self._t(0.08)
        x = signal.sosfilt(_sos(self.fs, "band", [1200.0, 2600.0], 2), self._noise(t.size))
        x = x / np.std(x) * np.exp(-t / 0.012) + 0.5 * np.sin(2 * np.pi * 520 * t) * np.exp(-t / 0.02)
        return fade_edges(x, self.fs, 0.0005, 0.01)

    def _clap(self) -> np.ndarray:
        t = self._t(0.35)
        nz = signal.sosfilt(_sos(self.fs, "band", [900.0, 2600.0], 2), self._noise(t.size))
        nz /= np.std(nz)
        env = 0.6 * np.exp(-np.maximum(t - 0.03, 0.0) / 0.11) * (t >= 0.03)
        for d in (0.0, 0.010, 0.021, 0.030):
            env += np.where(t >= d, np.exp(-(t - d) / 0.004), 0.0) * np.minimum(1.0, np.maximum(t - d, 0) / 0.0005)
        return fade_edges(nz * env, self.fs, 0.0005, 0.02)

    def _metal(self, ratio: float) -> np.ndarray:
        """Metallic noise (six square waves at inharmonic frequencies, high-passed), 2 s."""
        fs = self.fs
        t = self._t(2.0)
        x = np.zeros(t.size)
        for f in (205.3, 304.4, 369.6, 522.7, 540.0, 800.0):
            x += np.sign(np.sin(2.0 * np.pi * f * ratio * self.rng.uniform(0.98, 1.02) * t + self.rng.uniform(0, 6.28)))
        x = signal.sosfilt(_sos(fs, "high", 6000.0 if fs > 20000 else 0.3 * fs, 4), x + 0.8 * self._noise(t.size))
        return x / np.std(x)

    def hat(self, open_: bool) -> np.ndarray:
        dec = self.rng.uniform(0.18, 0.35) if open_ else self.rng.uniform(0.025, 0.05)
        n = int(min(5.0 * dec, 1.5) * self.fs)
        i0 = int(self.rng.integers(0, self.metal.size - n))
        return fade_edges(self.metal[i0:i0 + n] * np.exp(-np.arange(n) / self.fs / dec), self.fs, 0.0004, 0.01)

    def ride(self) -> np.ndarray:
        n = int(1.5 * self.fs)
        i0 = int(self.rng.integers(0, self.ride_metal.size - n))
        t = np.arange(n) / self.fs
        bell = np.sin(2 * np.pi * 3300.0 * t) * np.exp(-t / 0.25) * 0.3
        return fade_edges((self.ride_metal[i0:i0 + n] * 0.5 + bell) * np.exp(-t / 0.7), self.fs, 0.0004, 0.05)

    def crash(self) -> np.ndarray:
        """Stereo crash ``(2, n)``: decorrelated metallic noise per channel, 2 s decay."""
        fs = self.fs
        n = int(2.5 * fs)
        t = np.arange(n) / fs
        out = np.empty((2, n))
        for c in range(2):
            nz = signal.sosfilt(_sos(fs, "high", 3000.0, 2), self._noise(n))
            met = np.roll(self.metal, int(self.rng.integers(self.metal.size)))[:n]
            met = np.pad(met, (0, n - met.size))
            out[c] = (nz / np.std(nz) + 0.6 * met) * np.exp(-t / 0.7)
        return fade_edges(out, fs, 0.0006, 0.1)

    def tom(self, i: int) -> np.ndarray:
        t = self._t(0.45)
        f0 = self.tom_hz[i % 3]
        f = f0 * (1.0 + 0.5 * np.exp(-t / 0.03))
        x = np.sin(2 * np.pi * np.cumsum(f) / self.fs) * np.exp(-t / 0.18)
        nz = signal.sosfilt(_sos(self.fs, "band", [400.0, 4000.0]), self._noise(t.size)) * np.exp(-t / 0.02)
        return fade_edges(x + 0.3 * nz / np.std(nz), self.fs, 0.0005, 0.03)

    def shaker(self) -> np.ndarray:
        """One of four pre-rendered shaker strokes."""
        if not hasattr(self, "_shakers"):
            self._shakers = [self._shaker() for _ in range(4)]
        return self._shakers[int(self.rng.integers(4))]

    def _shaker(self) -> np.ndarray:
        t = self._t(0.09)
        x = signal.sosfilt(_sos(self.fs, "band", [4500.0, 11000.0]), self._noise(t.size))
        env = np.minimum(1.0, t / 0.012) * np.exp(-np.maximum(t - 0.012, 0) / 0.025)
        return fade_edges(x / np.std(x) * env, self.fs, 0.001, 0.01)

    def brush_tap(self) -> np.ndarray:
        """One of three pre-rendered brush taps."""
        if not hasattr(self, "_taps"):
            self._taps = [self._brush_tap() for _ in range(3)]
        return self._taps[int(self.rng.integers(3))]

    def _brush_tap(self) -> np.ndarray:
        t = self._t(0.25)
        x = signal.sosfilt(_sos(self.fs, "band", [1500.0, 8000.0]), self._noise(t.size))
        return fade_edges(x / np.std(x) * np.exp(-t / 0.06) * np.minimum(1.0, t / 0.003), self.fs, 0.001, 0.02)

    def brush_swish(self, dur_s: float) -> np.ndarray:
        """A swish of ``dur_s``: a slice of a pre-filtered noise with a sine-squared swell."""
        n = int(dur_s * self.fs)
        if getattr(self, "_swish", np.zeros(0)).size < 4 * n:
            self._swish = signal.sosfilt(_sos(self.fs, "band", [2000.0, 7000.0]), self._noise(max(4 * n, self.fs)))
        i0 = int(self.rng.integers(0, self._swish.size - n))
        x = self._swish[i0:i0 + n]
        env = np.sin(np.pi * np.arange(n) / n) ** 2
        return x / np.std(x) * env


# ----------------------------------------------------------------------------- reverb
_HADAMARD8 = np.array([[1.0]])
for _ in range(3):
    _HADAMARD8 = np.block([[_HADAMARD8, _HADAMARD8], [_HADAMARD8, -_HADAMARD8]])
_HADAMARD8 /= np.sqrt(8.0)


def fdn_ir(rng: np.random.Generator, fs: int, rt60_s: float, *, hf_ratio: float = 0.5,
           predelay_s: float = 0.01, n_reflections: int = 10, length_s: float | None = None) -> np.ndarray:
    """Stereo reverb impulse response ``(2, n)`` from early reflections feeding an 8-line
    feedback delay network.

    Delay lines of 11–47 ms (mutually different lengths), a Hadamard feedback matrix (lossless,
    maximally mixing), in each line a one-pole low-pass whose DC and Nyquist gains give the
    line a 60 dB decay in ``rt60_s`` at low frequencies and ``hf_ratio * rt60_s`` at the top.
    The network is run in blocks no longer than its shortest delay, so each block depends only
    on earlier ones (vectorised).  Left and right take different output mixes of the lines
    (decorrelated), and get their own early reflections.  Unit energy per channel.
    """
    n = int((length_s if length_s else min(1.3 * rt60_s + 0.1, 3.5)) * fs)
    d = np.sort(rng.choice(np.arange(int(0.011 * fs), int(0.047 * fs)), size=8, replace=False))
    blk = int(d[0])
    g_dc = 10.0 ** (-3.0 * d / (rt60_s * fs))
    g_ny = 10.0 ** (-3.0 * d / (hf_ratio * rt60_s * fs))
    # absorption per line: two-tap FIR b0 + b1 z^-1 with gains g_dc at 0 Hz and g_ny at fs/2
    b0, b1 = (0.5 * (g_dc + g_ny))[:, None], (0.5 * (g_dc - g_ny))[:, None]
    pre = int(predelay_s * fs)
    # early reflections: per channel, diffuse (each a 1-3 ms decaying noise burst, walls are
    # not mirrors at all frequencies), darker with delay
    er = np.zeros((2, n))
    for c in range(2):
        times = np.sort(rng.uniform(0.003, 0.045, n_reflections)) + predelay_s
        for tt in times:
            i = int(tt * fs)
            m = int(rng.uniform(0.001, 0.003) * fs)
            if i + m < n:
                burst = rng.standard_normal(m) * np.exp(-np.arange(m) / (0.3 * m)) * np.hanning(m + 2)[1:-1] ** 0.5
                er[c, i:i + m] += burst / np.sqrt(np.sum(burst ** 2)) * 0.8 * np.exp(-(tt - predelay_s) / 0.03)
    er = signal.sosfilt(_sos(fs, "low", 5000.0, 2), er, axis=1)
    inp = np.zeros(n + blk)
    inp[pre] = 1.0
    inp[:n] += 0.5 * er.sum(axis=0)
    in_g = rng.choice([-1.0, 1.0], 8) * rng.uniform(0.5, 1.0, 8)
    x = np.zeros((8, n + blk + 1))      # line inputs, one leading zero (index shift by 1)
    s = np.zeros((8, n + blk))          # line outputs (after delay and absorption)
    rows = np.arange(8)[:, None]
    ar = np.arange(blk)[None, :]
    for t0 in range(0, n, blk):
        idx = np.maximum(t0 - d[:, None] + ar + 1, 0)      # +1: x is stored shifted by one
        y = b0 * x[rows, idx] + b1 * x[rows, np.maximum(idx - 1, 0)]
        s[:, t0:t0 + blk] = y
        x[:, t0 + 1:t0 + blk + 1] = in_g[:, None] * inp[t0:t0 + blk][None, :] + _HADAMARD8 @ y
    out = np.empty((2, n))
    for c in range(2):
        w = rng.standard_normal(8)
        out[c] = w @ s[:, :n] + 0.6 * er[c]
        out[c, :pre] = 0.0
        out[c] /= np.sqrt(np.sum(out[c] ** 2))
    return out
