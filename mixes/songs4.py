"""A fourth, independent song generator: nine styles made with physical and modal models.

Written without reference to the synthesis of :mod:`mixes.songs`, :mod:`mixes.songs_alt` or
:mod:`mixes.songs3` (only their ``make_song``/``Song`` API is shared), so detectors tuned on
those meet other material here:

* **styles** (``seed % 9`` unless given): ``cinematic`` (bowed strings, harp or celesta,
  timpani and big toms, cymbal swells, a trained voice, a long hall), ``metal`` (double-tracked
  distorted guitars through a cabinet model, picked bass in 8ths, double kick; bus compressor
  and look-ahead limiter), ``dub`` (reggae: a heavy sub bass riff, one-drop drums, organ skank
  with a leslie and a slapback, ping-pong delay on the voice; bus compressor), ``funk``
  (syncopated plucked bass, Rhodes-like tines, muted guitar chanks, brass stabs; compressor
  and limiter), ``ambient`` (no drums, a drone, slow string and organ pads, vibraphone, a
  breathy voice, a 5-8 s reverb), ``trap`` (808 bass with glides, hat rolls, clap; a rap voice
  or a straight-tone singer; a loud limiter), ``folk`` (fingerpicked Karplus-Strong guitar,
  upright bass, stomp and tambourine in half of the songs, harmonium), ``acappella`` (a lead,
  a three-voice choir on the "pads" stem, a bass singer on the "bass" stem, beatbox in half),
  ``bigband`` (walking upright bass, swung ride, piano comping, a brass section, a crooner);
* **voice** (:mod:`mixes.songs4_voice`): additive harmonics through moving formants; male,
  female, falsetto, breathy, straight-tone or vibrato singers, rap; doubled or harmonised
  choruses (panned off centre; the lead stays centred);
* **instruments** (:mod:`mixes.songs4_inst`) and **drums** (:mod:`mixes.songs4_drums`):
  Karplus-Strong strings, modal membranes, plates and bars, tone wheels, additive brass;
* **space and bus** (:mod:`mixes.songs4_fx`): an 8-line feedback delay network reverb, slapback
  and ping-pong delays, placement by level and small delays, and in some styles a bus
  compressor and/or a look-ahead limiter whose gain (from the full mix) is applied to every
  stem, so the stems still sum to the mix.  ``s.notes["meta"]["master"]`` says which.

Levels: stems are set to per-style rms offsets from the voice (±1 dB at random), the mix is
mastered, then its sample peak set to -0.7 ... -1.5 dBFS.  Every part draws from its own random
stream (``default_rng([seed, 4, part])``) and the levels and master gain come from the full
mix, so ``voice=False`` / ``drums=False`` leave the other stems bit-identical.

Example
-------
>>> s = make_song(5, duration_s=20.0)
>>> s.style, s.key                              # doctest: +SKIP
('trap', 'F# minor')
>>> x = s.mix({"voice": -2.5})                  # (2, n) float64
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mixes.songs3 import Song3
from mixes import songs4_arrange as arrange
from mixes import songs4_fx as fx
from mixes import songs4_parts as parts

STYLES = ("cinematic", "metal", "dub", "funk", "ambient", "trap", "folk", "acappella", "bigband")
STEMS = ("bass", "drums", "keys", "pads", "guitar", "voice")
NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")

# bpm, modes, stem rms (dB re the voice), reverb (rt60 range s, size), master, send levels
STYLE_SPEC = {
    "cinematic": dict(bpm=(66, 96), modes=("minor", "minor", "major"), rt=(2.2, 3.5), size=1.5, master="none",
                      levels={"bass": -5, "drums": -4, "keys": -10, "pads": -3, "guitar": 0}),
    "metal": dict(bpm=(120, 160), modes=("minor", "phrygian"), rt=(0.8, 1.4), size=0.8, master="comp+limit",
                  levels={"bass": -3, "drums": -2, "keys": 0, "pads": -14, "guitar": 0}),
    "dub": dict(bpm=(66, 84), modes=("minor", "dorian"), rt=(0.6, 1.2), size=0.6, master="comp",
                levels={"bass": 2, "drums": -3, "keys": -9, "pads": -12, "guitar": -10}),
    "funk": dict(bpm=(96, 118), modes=("dorian", "mixolydian"), rt=(0.5, 1.0), size=0.7, master="comp+limit",
                 levels={"bass": -2, "drums": -1, "keys": -7, "pads": -8, "guitar": -9}),
    "ambient": dict(bpm=(60, 80), modes=("major", "lydian"), rt=(5.0, 8.0), size=1.8, master="none",
                    levels={"bass": -8, "drums": 0, "keys": -10, "pads": -2, "guitar": 0}),
    "trap": dict(bpm=(130, 150), modes=("minor",), rt=(0.8, 1.6), size=1.0, master="limit",
                 levels={"bass": 1, "drums": -1, "keys": -11, "pads": -12, "guitar": 0}),
    "folk": dict(bpm=(84, 116), modes=("major", "major", "mixolydian"), rt=(0.6, 1.1), size=0.6, master="none",
                 levels={"bass": -7, "drums": -10, "keys": -12, "pads": 0, "guitar": -3}),
    "acappella": dict(bpm=(76, 104), modes=("major", "minor"), rt=(1.6, 2.6), size=1.3, master="none",
                      levels={"bass": -5, "drums": -9, "keys": 0, "pads": -4, "guitar": 0}),
    "bigband": dict(bpm=(112, 150), modes=("major",), rt=(1.2, 2.0), size=1.2, master="comp",
                    levels={"bass": -6, "drums": -6, "keys": -8, "pads": -4, "guitar": 0}),
}


@dataclass(frozen=True)
class Song4(Song3):
    """A synthesised song and its stems.

    Attributes
    ----------
    fs : int
        Sample rate (Hz).
    stems : mapping of str to ndarray (2, n_samples)
        float64 stereo stems (:data:`STEMS`), effects and master gain included; they sum to the mix.
    key : str
        E.g. ``"F# minor"`` (the mode's name: major, minor, dorian, mixolydian, phrygian, lydian).
    tonic_midi : int
        MIDI note of the tonic in octave 3 (48-59).
    scale : tuple of int
        Semitones of the mode above the tonic.
    tempo_bpm : float
    style : str
        One of :data:`STYLES`.
    sections : tuple of (str, float, float)
        ``(name, start_s, end_s)``.
    notes : mapping
        ``"voice"``: the lead's notes ``(t0_s, t1_s, midi)``; ``"bass"``: ``(t0_s, t1_s, midi)``;
        ``"chords"``: ``(t0_s, t1_s, notes)`` per bar; ``"meta"``: choices (singer kind, master
        chain, kit, reverb RT60, what sings besides the lead ...).
    """

    # fields, n_samples, duration_s and mix() are the shared Song API of mixes.songs3 (the
    # generators share only that API, not their synthesis)


def _rng(seed: int, part: int) -> np.random.Generator:
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, 4, part])


def make_song(seed: int, *, duration_s: float = 30.0, fs: int = 48000, key: int | None = None, voice: bool = True,
              drums: bool = True, reverb: bool = True, style: str | None = None) -> Song4:
    """Synthesise a song (see the module docstring).

    Parameters
    ----------
    seed : int
        Chooses everything; the same arguments give the same song (bit-identical).
    duration_s : float
        Length (s), > 0.
    fs : int
        Sample rate (Hz), 16000-192000.
    key : int, optional
        Tonic pitch class 0-11 (0 = C); default from the seed.
    voice, drums : bool
        False: that stem is zeros (every other stem unchanged).
    reverb : bool
        False: no reverb returns (delays stay: they are part of the parts).
    style : str, optional
        One of :data:`STYLES` (default ``STYLES[seed % 9]``).

    Raises
    ------
    ValueError
        Unknown style, non-positive duration, a sample rate out of range or a key outside 0-11.
    """
    style = STYLES[int(seed) % len(STYLES)] if style is None else style
    if style not in STYLES:
        raise ValueError(f"unknown style {style!r}; styles: {', '.join(STYLES)}")
    if not duration_s > 0:
        raise ValueError(f"duration_s must be > 0, got {duration_s}")
    if not 16000 <= int(fs) <= 192000:
        raise ValueError(f"fs must be 16000-192000 Hz, got {fs}")
    if key is not None and not (0 <= int(key) <= 11):
        raise ValueError(f"key must be a pitch class 0-11, got {key}")
    fs = int(fs)
    spec = STYLE_SPEC[style]
    r0 = _rng(seed, 0)
    pc = int(r0.integers(12)) if key is None else int(key)
    mode = str(r0.choice(spec["modes"]))
    scale = parts.MODES[mode]
    tonic = 48 + pc
    bpm = float(r0.uniform(*spec["bpm"]))
    n = int(round(duration_s * fs))
    beat_s = 60.0 / bpm
    bars = int(np.ceil(duration_s / (4 * beat_s))) + 1
    sections = parts.form(bars, r0, style)
    progs = parts.PROGRESSIONS[style]
    pa, pb = (progs[int(i)] for i in r0.choice(len(progs), 2, replace=len(progs) < 2))
    chord_degs = []
    for name, b0, nb in sections:
        p = pb if name == "chorus" else pa
        chord_degs += [p[i % len(p)] for i in range(nb)]
    ctx = arrange.Context(fs=fs, n=n, seed=int(seed), style=style, tonic=tonic, scale=scale, bpm=bpm, bars=bars,
                          sections=sections, chord_degs=chord_degs, rng=_rng)
    stems, sends, notes, meta = arrange.render(ctx)

    # ---- reverb: one FDN per song, each stem's send through it (linear: the sum is the bus return)
    r7 = _rng(seed, 7)
    rt = float(r7.uniform(*spec["rt"]))
    pre = float(r7.uniform(0.01, 0.045))
    damp = float(r7.uniform(3500, 8000))
    hp = float(r7.uniform(120, 220))
    rv_seed = int(r7.integers(1 << 30))
    wet_k = [k for k in STEMS if reverb and np.any(sends[k])]
    if wet_k:
        wet = fx.fdn_reverb(np.stack([sends[k] for k in wet_k]), fs, rt, predelay_s=pre, size=spec["size"],
                            damping_hz=damp, highpass_hz=hp, seed=rv_seed)
        for k, w in zip(wet_k, wet):
            stems[k] = stems[k] + w

    # ---- levels relative to the voice's rms
    v_rms = float(np.sqrt(np.mean(stems["voice"] ** 2)))
    if v_rms < 1e-9:                                               # a song too short for a sung phrase
        v_rms = float(np.sqrt(np.mean(sum(stems[k] for k in STEMS) ** 2))) + 1e-12
    for k in STEMS:
        if k == "voice":
            continue
        r = float(np.sqrt(np.mean(stems[k] ** 2)))
        if r > 0:
            stems[k] = stems[k] * (v_rms / r) * 10 ** ((spec["levels"][k] + r7.normal(0.0, 1.0)) / 20)

    # ---- master: fades, bus compressor / limiter gain from the full mix, then the peak
    edge = np.ones(n)
    fi, fo = min(int(0.004 * fs), n // 4), min(int(0.06 * fs), n // 4)
    edge[:fi] = 0.5 - 0.5 * np.cos(np.pi * np.arange(fi) / max(fi, 1))
    edge[n - fo:] = 0.5 + 0.5 * np.cos(np.pi * np.arange(fo) / max(fo, 1))
    full = sum(stems[k] for k in STEMS) * edge
    target_db = float(r7.uniform(-1.5, -0.7))
    g = edge / (np.max(np.abs(full)) + 1e-12)
    full = full / (np.max(np.abs(full)) + 1e-12)
    chain = spec["master"]
    comp = {}
    if "comp" in chain:
        thr = float(r7.uniform(-20, -14))
        ratio = float(r7.uniform(2.0, 4.0))
        gc = fx.bus_compressor(full, fs, thr, ratio, attack_ms=float(r7.uniform(5, 30)), release_ms=float(r7.uniform(80, 300)))
        comp = {"threshold_db": round(thr, 1), "ratio": round(ratio, 2)}
        g = g * gc
        full = full * gc
        p = float(np.max(np.abs(full))) + 1e-12
        g, full = g / p, full / p
    if "limit" in chain:
        drive_db = float(r7.uniform(3.0, 8.0))
        ceiling = 10 ** (target_db / 20)
        gl = fx.lookahead_limiter(full * 10 ** (drive_db / 20), fs, ceiling)
        g = g * gl * 10 ** (drive_db / 20)
        comp["limiter_drive_db"] = round(drive_db, 1)
    else:
        g = g * 10 ** (target_db / 20)
    for k in STEMS:
        stems[k] = stems[k] * g
    pk = float(np.max(np.abs(sum(stems[k] for k in STEMS))))
    if pk > 10 ** (-0.5 / 20):                                     # never above -0.5 dBFS
        for k in STEMS:
            stems[k] *= 10 ** (-0.7 / 20) / pk
    if not voice:
        stems["voice"] = np.zeros((2, n))
    if not drums:
        stems["drums"] = np.zeros((2, n))
    meta.update({"master": chain, "master_settings": comp, "rt60_s": round(rt, 2), "mode": mode,
                 "peak_target_db": round(target_db, 2)})
    for k in ("voice", "bass", "chords"):                          # what is heard within the song
        notes[k] = [nt for nt in notes[k] if nt[0] < n / fs]
    notes["meta"] = meta
    secs = tuple((nm, b0 * 4 * beat_s, min((b0 + nb) * 4 * beat_s, n / fs)) for nm, b0, nb in sections
                 if b0 * 4 * beat_s < n / fs)
    return Song4(fs=fs, stems=stems, key=f"{NAMES[pc]} {mode}", tonic_midi=tonic, scale=tuple(scale), tempo_bpm=bpm,
                 style=style, sections=secs, notes=notes)
