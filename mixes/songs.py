"""Synthetic songs: realistic programme material with known parts, for the demo, rehearsals and tests.

A room's fingerprint, a click's audibility, a vocal's level or a speaker's drift measured from
programme can only be trusted if they are tried on material that behaves like music: a bass line
of a few sustained notes *in a key*, held chords, a singing voice with vibrato and formants,
drums with hi-hats, reverb.  Lab signals (noise, sweeps) hide exactly the failures real songs
provoke.  Each :class:`Song` keeps its stems separate, so a test can offset the vocal by a
known number of dB, or plant a room colouration, and know the truth.

Everything is synthesised from a seed (no samples, no models):

* **key and harmony** — a random tonic (any of the 12 pitch classes), major or minor, and a
  four-chord progression from that scale, one chord per bar;
* **bass** — the chord roots in octave 1–2 (about 41–110 Hz fundamentals), a band-limited
  sawtooth-like tone with a plucked envelope, on a per-song rhythm, centred;
* **drums** — a pitched-down sine kick (centred), a noise-and-tone snare, hi-hats of
  high-passed noise on eighths (panned slightly), with per-hit level variation;
* **pads** — the held chord, detuned oscillators per channel (wide, partly decorrelated);
* **keys** — plucked arpeggios of the chord tones with slightly inharmonic partials, panned;
* **voice** — a melody on the scale with glides between notes, vibrato (about 5–6 Hz, ±0.3
  semitone, starting after the note's onset), a glottal-like harmonic source shaped by vowel
  formants that change from note to note, and a little breath noise; phrases with rests;
  the dry voice exactly centred (identical in both channels), its reverb stereo;
* **reverb** — a stereo, exponentially decaying noise tail (RT60 per song, faster decay at
  high frequencies) added as a send to pads, keys, voice and snare; the wet part belongs to
  each stem, so the stems sum exactly to the mix.

The song has sections (intro without voice and drums, verse, a louder chorus) so dynamics and
sections have something to find.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import numpy as np
from scipy import fft as sp_fft, signal

__all__ = ["Song", "make_song", "STEMS", "midi_hz"]

STEMS = ("bass", "drums", "pads", "keys", "voice")
_MAJOR = (0, 2, 4, 5, 7, 9, 11)
_MINOR = (0, 2, 3, 5, 7, 8, 10)
# Progressions as scale degrees (0-based), one chord per bar.
_PROGRESSIONS = ((0, 4, 5, 3), (0, 5, 3, 4), (5, 3, 0, 4), (0, 3, 4, 0), (0, 6, 5, 4), (0, 2, 3, 4))
# Vowel formants F1..F3 (Hz) and bandwidths (Hz): textbook averages for a singing voice [U].
_VOWELS = {
    "a": ((800.0, 1150.0, 2900.0), (80.0, 90.0, 120.0)),
    "e": ((400.0, 1600.0, 2700.0), (60.0, 80.0, 120.0)),
    "i": ((300.0, 2200.0, 3000.0), (50.0, 90.0, 120.0)),
    "o": ((450.0, 800.0, 2830.0), (70.0, 80.0, 100.0)),
    "u": ((325.0, 700.0, 2530.0), (50.0, 60.0, 170.0)),
}
_PEAK_DBFS = -3.0   # the default mix (all stems at 0 dB) peaks here
_ENV_STEP = 16


def midi_hz(note: float) -> float:
    """Equal-tempered frequency (Hz) of a MIDI note number (A4 = 69 = 440 Hz)."""
    return 440.0 * 2.0 ** ((note - 69.0) / 12.0)


@dataclass(frozen=True)
class Song:
    """A synthetic song with its stems.

    Attributes
    ----------
    fs : int
        Sample rate (Hz).
    stems : mapping of str to ndarray (2, n_samples)
        float64 stereo stems (``STEMS``), reverb included; they sum to the mix.
    key : str
        E.g. ``"F# minor"``.
    tonic_midi : int
        MIDI note of the tonic in octave 3 (48–59).
    tempo_bpm : float
    sections : tuple of (str, float, float)
        ``(name, start_s, end_s)``.
    notes : mapping
        What was played: ``"bass"`` and ``"voice"`` lists of ``(start_s, end_s, midi)``.
    """

    fs: int
    stems: Mapping[str, np.ndarray]
    key: str
    tonic_midi: int
    tempo_bpm: float
    sections: tuple[tuple[str, float, float], ...]
    notes: Mapping[str, list] = field(default_factory=dict)

    @property
    def n_samples(self) -> int:
        return next(iter(self.stems.values())).shape[1]

    @property
    def duration_s(self) -> float:
        return self.n_samples / self.fs

    def mix(self, gains_db: Mapping[str, float] | None = None) -> np.ndarray:
        """The stereo mix ``(2, n_samples)`` float64, each stem scaled by ``gains_db[stem]``
        (dB, default 0; a stem can be dropped with ``-inf``)."""
        gains_db = dict(gains_db or {})
        unknown = set(gains_db) - set(self.stems)
        if unknown:
            raise ValueError(f"no stem named {', '.join(sorted(unknown))}; stems: {', '.join(self.stems)}")
        out = np.zeros((2, self.n_samples))
        for name, x in self.stems.items():
            g_db = float(gains_db.get(name, 0.0))
            if g_db == -np.inf:
                continue
            out += x * 10.0 ** (g_db / 20.0)
        return out


def _env_adsr(n: int, fs: int, attack_s: float, decay_s: float, sustain: float, release_s: float) -> np.ndarray:
    """Attack-decay-sustain envelope of ``n`` samples with a release at its end."""
    t = np.arange(n) / fs
    env = np.where(t < attack_s, t / max(attack_s, 1e-6),
                   sustain + (1.0 - sustain) * np.exp(-(t - attack_s) / max(decay_s, 1e-6)))
    n_rel = min(int(release_s * fs), n)
    if n_rel > 0:
        env[n - n_rel:] *= np.linspace(1.0, 0.0, n_rel) ** 2
    return env


def _harmonic_tone(f0_hz: np.ndarray | float, n: int, fs: int, amps, phase0: float = 0.0,
                   inharm: float = 0.0) -> np.ndarray:
    """Sum of partials ``k = 1..len(amps)`` of a (possibly time-varying) fundamental, each
    partial dropped above 0.45 fs (band-limited, no aliasing)."""
    f0 = np.broadcast_to(np.asarray(f0_hz, dtype=np.float64), (n,))
    f_max = float(np.max(f0))
    if inharm == 0.0:
        # harmonic partials by complex powers: z_k = z_1^k (one complex product per partial)
        z1 = np.exp(1j * (2.0 * np.pi * np.cumsum(f0) / fs + phase0))
        zk = np.ones(n, dtype=np.complex128)
        out = np.zeros(n)
        for k, a in enumerate(amps, start=1):
            if k * f_max >= 0.45 * fs:
                break
            zk *= z1
            out += a * zk.imag
        return out
    ph = 2.0 * np.pi * np.cumsum(f0) / fs + phase0
    out = np.zeros(n)
    for k, a in enumerate(amps, start=1):
        stretch = k * np.sqrt(1.0 + inharm * k * k)
        if stretch * f_max >= 0.45 * fs:
            break
        out += a * np.sin(stretch * ph + 0.37 * k)
    return out


def _tail_fade(x: np.ndarray, fs: int, fade_s: float = 0.008) -> np.ndarray:
    """``x`` with its last ``fade_s`` faded out (raised cosine): a note that stops while it still
    sounds would end in a step, which is a click."""
    n = min(int(fade_s * fs), x.size)
    if n > 1:
        x = x.copy()
        x[-n:] *= 0.5 * (1.0 + np.cos(np.pi * np.arange(n) / (n - 1)))
    return x


def _place(dst: np.ndarray, x: np.ndarray, start: int, pan: float = 0.0) -> None:
    """Add mono ``x`` into stereo ``dst`` at ``start`` with a constant-power pan (−1 L … +1 R)."""
    n = min(x.size, dst.shape[1] - start)
    if n <= 0:
        return
    theta = (pan + 1.0) * np.pi / 4.0
    g_l, g_r = (1.0, 1.0) if pan == 0.0 else (np.cos(theta) * np.sqrt(2.0), np.sin(theta) * np.sqrt(2.0))
    dst[0, start:start + n] += g_l * x[:n]
    dst[1, start:start + n] += g_r * x[:n]


def _reverb_ir(rng: np.random.Generator, fs: int, rt60_s: float) -> np.ndarray:
    """Stereo reverb tail ``(2, n)``: decorrelated noise, exponential decay with RT60 falling
    above 2 kHz (air and wall absorption), a 12 ms pre-delay, unit energy per channel."""
    n = int(min(rt60_s * 1.2, 3.0) * fs)
    t = np.arange(n) / fs
    out = np.empty((2, n))
    sos_lo = signal.butter(2, 2000.0, "low", fs=fs, output="sos")
    for c in range(2):
        noise = rng.standard_normal(n)
        lo = signal.sosfilt(sos_lo, noise)
        hi = noise - lo
        # 60 dB decay in rt60 s: amplitude exp(-6.91 t / rt60)
        out[c] = lo * np.exp(-6.91 * t / rt60_s) + hi * np.exp(-6.91 * t / (0.5 * rt60_s))
        out[c, : int(0.012 * fs)] = 0.0
        out[c] /= np.sqrt(np.sum(out[c] ** 2))
    return out


def _add_reverb(stems: dict, ir: np.ndarray, wet_db: Mapping[str, float]) -> None:
    """Add to each named stereo stem its reverb send (mono sum into the stereo tail) at
    ``wet_db[name]``; one FFT of the tail serves every stem."""
    names = list(wet_db)
    n = next(iter(stems.values())).shape[1]
    n_fft = sp_fft.next_fast_len(n + ir.shape[1] - 1, True)
    ir_f = sp_fft.rfft(ir.astype(np.float32), n_fft, axis=1)                # (2, F)
    sends = np.stack([0.5 * (stems[k][0] + stems[k][1]) * 10.0 ** (wet_db[k] / 20.0)
                      for k in names]).astype(np.float32)
    send_f = sp_fft.rfft(sends, n_fft, axis=1)                              # (S, F)
    for i, k in enumerate(names):
        wet = sp_fft.irfft(send_f[i][None, :] * ir_f, n_fft, axis=1)[:, :n]
        stems[k] = stems[k] + wet


def _formant_gain(freqs_hz: np.ndarray, vowel: str) -> np.ndarray:
    """Magnitude of a cascade of three two-pole formant resonances at ``freqs_hz`` (normalised
    to 1 at its largest formant peak); the spectral envelope of a sung vowel."""
    fc, bw = _VOWELS[vowel]
    g = np.ones_like(freqs_hz)
    for f, b in zip(fc, bw):
        g = g / np.sqrt((1.0 - (freqs_hz / f) ** 2) ** 2 + (freqs_hz * b / (f * f)) ** 2)
    return g / np.max(_formant_peak_norm(vowel))


def _formant_peak_norm(vowel: str) -> np.ndarray:
    fc, bw = _VOWELS[vowel]
    f = np.asarray(fc)
    g = np.ones_like(f)
    for c, b in zip(fc, bw):
        g = g / np.sqrt((1.0 - (f / c) ** 2) ** 2 + (f * b / (c * c)) ** 2)
    return g


def _voice_note(rng, f_start_hz: float, f_hz: float, n: int, fs: int, vowel: str) -> np.ndarray:
    """One sung note: glide from the previous pitch, delayed vibrato, formant-shaped harmonics."""
    t = np.arange(n) / fs
    glide_s = 0.06
    f0 = f_hz * (f_start_hz / f_hz) ** np.exp(-t / (glide_s / 3.0))
    vib_hz = rng.uniform(5.0, 6.2)
    depth = rng.uniform(0.2, 0.35) * np.clip((t - 0.15) / 0.3, 0.0, 1.0)   # semitones
    f0 = f0 * 2.0 ** (depth * np.sin(2 * np.pi * vib_hz * t + rng.uniform(0, 6.28)) / 12.0)
    f0 = f0 * 2.0 ** (0.03 * np.cumsum(rng.standard_normal(n)) / np.sqrt(fs) / 12.0)  # slow jitter
    ph = 2.0 * np.pi * np.cumsum(f0) / fs
    out = np.zeros(n)
    k_max = int(0.45 * fs / max(float(f0.max()), 1.0))
    f0_slow = f0[::_ENV_STEP]                  # the formant gain moves slowly: evaluate every 16th sample
    z1 = np.exp(1j * ph)
    zk = np.ones(n, dtype=np.complex128)
    for k in range(1, min(k_max, 60) + 1):
        a_src = k ** -1.1                                     # glottal source tilt ≈ −6.6 dB/oct
        zk *= z1
        g = np.repeat(_formant_gain(k * f0_slow, vowel), _ENV_STEP)[:n]
        out += a_src * g * zk.imag
    breath = signal.sosfilt(signal.butter(2, [1500.0, min(6000.0, 0.45 * fs)], "band", fs=fs, output="sos"),
                            rng.standard_normal(n))
    out += 0.02 * np.std(out) * breath / max(np.std(breath), 1e-12)
    return out * _env_adsr(n, fs, 0.04, 0.4, 0.8, min(0.08, n / fs / 3))


def make_song(seed: int, *, duration_s: float = 30.0, fs: int = 48000, key: int | None = None,
              minor: bool | None = None, tempo_bpm: float | None = None, voice: bool = True,
              drums: bool = True, reverb: bool = True) -> Song:
    """Synthesise a song.

    Parameters
    ----------
    seed : int
        Everything not given is drawn from it (key, mode, tempo, progression, voicings, pans,
        reverb time, melody).
    duration_s : float
        Length (s), at least 2 s.
    fs : int
        Sample rate (Hz), keyword-only.
    key : int, optional
        Tonic pitch class 0–11 (0 = C).
    minor : bool, optional
    tempo_bpm : float, optional
    voice, drums, reverb : bool
        Leave a part out (its stem is then silent).

    Returns
    -------
    Song
    """
    if duration_s < 2.0:
        raise ValueError(f"duration_s must be at least 2 s, got {duration_s}")
    rng = np.random.default_rng(seed)
    pc = int(rng.integers(12)) if key is None else int(key) % 12
    is_minor = bool(rng.integers(2)) if minor is None else bool(minor)
    bpm = float(rng.uniform(78.0, 132.0)) if tempo_bpm is None else float(tempo_bpm)
    scale = _MINOR if is_minor else _MAJOR
    prog = _PROGRESSIONS[int(rng.integers(len(_PROGRESSIONS)))]
    tonic = 48 + pc
    names = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
    n = int(round(duration_s * fs))
    beat = 60.0 / bpm
    bar = 4 * beat
    n_bars = int(np.ceil(duration_s / bar))
    intro_end = min(2 * bar, 0.2 * duration_s)
    chorus_start = max(intro_end, 0.6 * duration_s)
    sections = (("intro", 0.0, intro_end), ("verse", intro_end, chorus_start), ("chorus", chorus_start, duration_s))

    def degree(d: int) -> int:           # scale degree (any integer) -> semitones above tonic
        return 12 * (d // 7) + scale[d % 7]

    def chord(b: int) -> tuple[int, ...]:
        r = prog[b % len(prog)]
        return (degree(r), degree(r + 2), degree(r + 4))

    def section_gain(t_s: float) -> float:
        return 1.0 if t_s < chorus_start else 1.4

    stems = {s: np.zeros((2, n)) for s in STEMS}
    tone_cache: dict = {}

    def tone(f_hz: float, m: int, amps, inharm: float = 0.0) -> np.ndarray:
        # a song repeats its notes: each (pitch, length, timbre) is synthesised once
        key_ = (round(f_hz, 6), m, id(amps), inharm)
        if key_ not in tone_cache:
            tone_cache[key_] = _harmonic_tone(f_hz, m, fs, amps, 0.61 * (len(tone_cache) % 10), inharm)
        return tone_cache[key_]
    notes: dict[str, list] = {"bass": [], "voice": []}

    # bass: roots (sometimes the fifth) in octave 1-2, per-song rhythm, centred
    bass_oct = 24 + pc + (12 if pc < 4 else 0)            # MIDI 28..39: E1..Eb2 roots
    rhythm = [(0.0, 1.5), (1.5, 0.5), (2.0, 2.0)] if rng.integers(2) else [(0.0, 2.0), (2.0, 1.0), (3.0, 1.0)]
    bass_amps = [1.0 / k ** 1.3 for k in range(1, 16)]
    for b in range(n_bars):
        root = chord(b)[0] % 12
        for j, (start_beats, len_beats) in enumerate(rhythm):
            t0 = b * bar + start_beats * beat
            if t0 >= duration_s:
                break
            note = bass_oct + root + (7 if (j == 2 and rng.random() < 0.3) else 0)
            m = int(len_beats * beat * 0.95 * fs)
            x = tone(midi_hz(note), m, bass_amps)
            x = x * _env_adsr(m, fs, 0.005, 0.35, 0.55, 0.05) * rng.uniform(0.85, 1.0) * section_gain(t0)
            _place(stems["bass"], 0.2 * x, int(t0 * fs))
            notes["bass"].append((t0, t0 + m / fs, note))

    # drums: kick 1 and 3, snare 2 and 4, hats on eighths (none in the intro)
    if drums:
        k_n = int(0.35 * fs)
        tk = np.arange(k_n) / fs
        kick = _tail_fade(np.sin(2 * np.pi * np.cumsum(45.0 + 75.0 * np.exp(-tk / 0.03)) / fs) * np.exp(-tk / 0.12), fs)
        n_b = int(0.002 * fs)     # the beater's noise: 2 ms, shaped (a rectangular burst is itself a click)
        kick[:n_b] += 0.3 * rng.standard_normal(n_b) * np.sin(np.pi * np.arange(n_b) / n_b)
        s_n = int(0.2 * fs)
        ts = np.arange(s_n) / fs
        snare_noise = signal.sosfilt(signal.butter(2, [1000.0, min(8000.0, 0.45 * fs)], "band", fs=fs,
                                                   output="sos"), rng.standard_normal(s_n))
        snare = _tail_fade((0.6 * snare_noise / np.std(snare_noise) * 0.25 + 0.5 * np.sin(2 * np.pi * 185.0 * ts))
                           * np.exp(-ts / 0.06), fs)
        h_n = int(0.06 * fs)
        hat_pan = rng.uniform(0.1, 0.4)
        sos_hat = signal.butter(2, min(4000.0, 0.4 * fs), "high", fs=fs, output="sos")   # cymbal-like: from ~4 kHz up
        for b in range(n_bars):
            for e in range(8):
                t0 = b * bar + e * beat / 2
                if t0 < intro_end or t0 >= duration_s:
                    continue
                g = section_gain(t0) * rng.uniform(0.85, 1.0)
                i0 = int(t0 * fs)
                if e in (0, 4):
                    _place(stems["drums"], 0.6 * g * kick, i0)
                if e in (2, 6):
                    _place(stems["drums"], 0.55 * g * snare, i0)
                hat = _tail_fade(signal.sosfilt(sos_hat, rng.standard_normal(h_n)) * np.exp(-np.arange(h_n) / fs / 0.015), fs,
                                 0.004)
                _place(stems["drums"], 0.15 * g * rng.uniform(0.6, 1.0) * hat, i0, pan=hat_pan)

    # pads: held chords, detuned per channel (wide)
    pad_amps = [1.0 / k ** 1.6 for k in range(1, 10)]
    detune = rng.uniform(0.004, 0.009)
    for b in range(n_bars):
        t0 = b * bar
        m = min(int(bar * fs * 1.02), n - int(t0 * fs))
        if m <= 0:
            break
        env = _env_adsr(m, fs, 0.25, 1.0, 0.9, 0.2)
        for iv in chord(b):
            note = tonic + 12 + iv
            for c, sgn in ((0, -1.0), (1, 1.0)):
                x = tone(midi_hz(note) * (1 + sgn * detune), m, pad_amps)
                stems["pads"][c, int(t0 * fs):int(t0 * fs) + m] += 0.06 * env * x

    # keys: plucked arpeggio of the chord tones, eighths, panned
    keys_pan = -rng.uniform(0.2, 0.6)
    keys_amps = [0.9 ** k / k for k in range(1, 14)]
    for b in range(n_bars):
        ch = chord(b)
        for e in range(8):
            t0 = b * bar + e * beat / 2
            if t0 >= duration_s or rng.random() < 0.25:
                continue
            note = tonic + 24 + ch[e % 3] - (12 if e >= 4 else 0)
            m = int(1.2 * beat * fs)
            x = tone(midi_hz(note), m, keys_amps, inharm=2e-4)
            x = _tail_fade(x * np.exp(-np.arange(m) / fs / 0.35) * np.sin(0.5 * np.pi * np.minimum(np.arange(m) / (0.004 * fs), 1.0)), fs)
            _place(stems["keys"], 0.12 * rng.uniform(0.7, 1.0) * x, int(t0 * fs), pan=keys_pan)

    # voice: phrases of two bars with a rest, melody on the scale around the tonic's octave 4
    if voice:
        vowels = list(_VOWELS)
        voice_base = tonic + 12 if tonic + 12 <= 64 else tonic
        prev_hz = midi_hz(voice_base + degree(4))
        deg = 4
        b = int(np.ceil(intro_end / bar))
        while b * bar < duration_s:
            t = b * bar
            phrase_end = min((b + 2) * bar - beat, duration_s)
            while t < phrase_end - 0.1:
                deg = int(np.clip(deg + rng.choice([-2, -1, -1, 0, 1, 1, 2, 3]), 0, 9))
                note = voice_base + degree(deg)
                len_s = float(rng.choice([0.5, 1.0, 1.0, 1.5, 2.0])) * beat
                len_s = min(len_s, phrase_end - t)
                m = int(len_s * fs)
                x = _voice_note(rng, prev_hz, midi_hz(note), m, fs, vowels[int(rng.integers(len(vowels)))])
                _place(stems["voice"], 0.3 * section_gain(t) * x, int(t * fs))
                notes["voice"].append((t, t + len_s, note))
                prev_hz = midi_hz(note)
                t += len_s
            b += 3

    if reverb:
        ir = _reverb_ir(rng, fs, rt60_s=float(rng.uniform(0.9, 2.0)))
        # sends: pads and keys wettest, the voice less, the drums (the snare's room) a little
        _add_reverb(stems, ir, {"pads": -8.0, "keys": -10.0, "voice": -12.0, "drums": -20.0})

    peak = np.max(np.abs(sum(stems.values())))
    scale = 10.0 ** (_PEAK_DBFS / 20.0) / peak if peak > 0 else 1.0
    for name in stems:
        stems[name] *= scale
        stems[name].setflags(write=False)
    return Song(fs=fs, stems=stems, key=f"{names[pc]} {'minor' if is_minor else 'major'}", tonic_midi=tonic,
                tempo_bpm=bpm, sections=sections, notes=notes)
