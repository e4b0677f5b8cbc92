"""A fifth, independent song generator: ten styles, measured rooms, a glottal voice, mastering.

Same API as :mod:`mixes.songs` and the other generators::

    from mixes.songs5 import make_song, STYLES
    s = make_song(seed, duration_s=30.0, fs=48000, key=None, voice=True, drums=True, reverb=True)
    s.stems["voice"]            # (2, n) float64; also "bass", "drums", "pads", "keys", "guitar"
    s.mix({"voice": -2.5})      # the song with the voice 2.5 dB down (stems sum to s.mix())
    s.key, s.tempo_bpm, s.style, s.sections, s.notes["meta"]

``style = STYLES[seed % 10]`` unless ``style=`` is given: pop, trap (808 with glides, hat rolls),
jazz (trio: walking upright bass, brushes and ride, piano), orchestral (strings, timpani, a big
hall), metal (double-tracked distorted guitars, double kick), reggae (one drop, organ bubble and
guitar skank), edm (four on the floor, supersaw, sidechain pumping), songwriter (acoustic guitar
and voice only: the guitar's thumb notes are the "bass" stem), latin (congas, shaker, clave,
piano montuno, tumbao bass), gospel (organ, piano, a choir behind the lead).

How it differs from the other generators (written without reading their synthesis): reverb is
convolution with *measured* room responses from ``../shared/data`` where present (sports-centre
hall shortened to the style's RT60, a listening room, a living room, a seminar room; synthetic
rooms otherwise — see :mod:`mixes.songs5_dsp`), the real piano recording is a sampled layer in
some songs (:func:`mixes.songs5_inst.piano_layer`), and the voice is a Rosenberg glottal source
through time-varying formant resonators with consonants (:mod:`mixes.songs5_voice`).  Songs have
sections (intro, verse, chorus, bridge or break, outro), some fade out, and are mastered by a bus
compressor and a look-ahead limiter to -7 ... -23 LUFS (loud styles loud, jazz/orchestral/
songwriter dynamic).  The master's gain curve is computed on the full song (voice included)
and applied to every stem, so the stems still sum to the mix and ``voice=False`` leaves every
other stem bit-identical.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mixes import songs5_parts as parts
from mixes.songs5_arrange import arrange
from mixes.songs5_dsp import compressor_gain, convolve_sends, limiter_gain, room_ir

STYLES = ("pop", "trap", "jazz", "orchestral", "metal", "reggae", "edm", "songwriter", "latin", "gospel")
STEMS = ("bass", "drums", "pads", "keys", "guitar", "voice")

STYLE_SPEC = {   # bpm range, modes, swing, room (kind, rt60 range), loudness target range (LUFS), ceiling dBFS
    "pop": dict(bpm=(88, 124), modes=("major", "major", "minor"), swing=0.0, room=("room", (0.6, 1.2)),
                lufs=(-12, -8), ceil=-1.0),
    "trap": dict(bpm=(130, 160), modes=("minor", "harmonic minor"), swing=0.0, room=("plate", (0.8, 1.6)),
                 lufs=(-9, -7), ceil=-0.5),
    "jazz": dict(bpm=(100, 180), modes=("major", "dorian"), swing=0.33, room=("small", (0.5, 0.9)),
                 lufs=(-22, -16), ceil=-1.5),
    "orchestral": dict(bpm=(70, 110), modes=("minor", "major"), swing=0.0, room=("hall", (1.8, 3.2)),
                       lufs=(-23, -16), ceil=-1.0),
    "metal": dict(bpm=(110, 170), modes=("minor",), swing=0.0, room=("room", (0.6, 1.0)), lufs=(-9, -7), ceil=-0.3),
    "reggae": dict(bpm=(66, 84), modes=("minor", "major"), swing=0.2, room=("plate", (1.0, 2.0)),
                   lufs=(-13, -9), ceil=-1.0),
    "edm": dict(bpm=(120, 130), modes=("minor",), swing=0.0, room=("hall", (1.5, 2.5)), lufs=(-9, -7), ceil=-0.3),
    "songwriter": dict(bpm=(72, 112), modes=("major", "major", "mixolydian"), swing=0.0, room=("small", (0.4, 0.8)),
                       lufs=(-20, -14), ceil=-1.0),
    "latin": dict(bpm=(90, 120), modes=("minor", "major"), swing=0.0, room=("room", (0.8, 1.4)),
                  lufs=(-12, -9), ceil=-1.0),
    "gospel": dict(bpm=(70, 100), modes=("major",), swing=0.15, room=("hall", (1.6, 2.6)), lufs=(-14, -9), ceil=-1.0),
}


@dataclass(frozen=True)
class Song5:
    """A synthesised song and its stems.

    Attributes
    ----------
    fs : int
        Sample rate (Hz).
    stems : dict of str to ndarray (2, n_samples)
        float64 stereo stems (:data:`STEMS`), reverb and master gain included; they sum to the mix.
    key : str
        E.g. ``"F# minor"``.
    tonic_midi : int
        MIDI note of the tonic in octave 3 (48-59).
    scale : tuple of int
        Semitones of the mode above the tonic.
    tempo_bpm : float
    style : str
    sections : tuple of (str, float, float)
        ``(name, start_s, end_s)``.
    notes : dict
        ``"voice"`` (lead notes ``(t0_s, dur_s, midi, velocity, syllable)``), ``"bass"``, ``"chords"``,
        ``"meta"`` (singer, master chain, room, loudness target, fade-out, piano layer ...).
    """

    fs: int
    stems: dict
    key: str
    tonic_midi: int
    scale: tuple
    tempo_bpm: float
    style: str
    sections: tuple
    notes: dict = field(default_factory=dict)

    @property
    def n_samples(self) -> int:
        return next(iter(self.stems.values())).shape[1]

    @property
    def duration_s(self) -> float:
        return self.n_samples / self.fs

    def mix(self, gains_db: dict | None = None) -> np.ndarray:
        """The sum of the stems, each scaled by ``gains_db[name]`` (dB; ``-inf`` removes it)."""
        gains_db = dict(gains_db or {})
        for k in gains_db:
            if k not in self.stems:
                raise ValueError(f"no stem named {k!r} (stems: {', '.join(self.stems)})")
        out = np.zeros_like(next(iter(self.stems.values())))
        for k, x in self.stems.items():
            g = gains_db.get(k)
            if g is None:
                out = out + x
            elif np.isfinite(g) or g > 0:
                out = out + x * 10 ** (g / 20)
        return out


def _rng(seed: int, part: int) -> np.random.Generator:
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, part])


def make_song(seed: int, *, duration_s: float = 30.0, fs: int = 48000, key: int | None = None, voice: bool = True,
              drums: bool = True, reverb: bool = True, style: str | None = None) -> Song5:
    """Synthesise a song (see the module docstring).

    Parameters
    ----------
    seed : int
        Chooses everything (the style is ``STYLES[seed % 10]`` unless ``style`` is given).
    duration_s : float
        Length in seconds (> 0, at most 900).
    fs : int
        Sample rate (Hz, 8000-192000).
    key : int, optional
        Tonic pitch class 0-11 (0 = C); random by default.
    voice, drums, reverb : bool
        ``voice=False`` / ``drums=False`` zero those stems (every other stem is unchanged);
        ``reverb=False`` leaves out the rooms (a different master follows).
    style : str, optional
        One of :data:`STYLES`.
    """
    if not (np.isfinite(duration_s) and 0 < duration_s <= 900):
        raise ValueError(f"duration_s must be in (0, 900] seconds, got {duration_s!r}")
    if not (isinstance(fs, (int, np.integer)) and 8000 <= fs <= 192000):
        raise ValueError(f"fs must be an integer sample rate 8000-192000 Hz, got {fs!r}")
    if key is not None and not (isinstance(key, (int, np.integer)) and 0 <= key <= 11):
        raise ValueError(f"key must be a pitch class 0-11 or None, got {key!r}")
    if style is None:
        style = STYLES[int(seed) % len(STYLES)]
    if style not in STYLES:
        raise ValueError(f"unknown style {style!r} (styles: {', '.join(STYLES)})")
    fs = int(fs)
    n = int(round(duration_s * fs))
    spec = STYLE_SPEC[style]
    rng = _rng(seed, 0)
    tonic_pc = int(rng.integers(12)) if key is None else int(key)
    mode = str(rng.choice(spec["modes"]))
    scale = parts.MODES[mode]
    tempo = float(np.round(rng.uniform(*spec["bpm"]), 1))
    beats = 3 if style in ("jazz", "orchestral") and rng.random() < 0.2 else 4
    bar_s = 60.0 / tempo * beats
    n_bars = max(1, int(np.floor((duration_s - 0.9) / bar_s)) + (1 if (duration_s - 0.9) % bar_s > 0.5 * bar_s else 0))
    form = parts.make_form(n_bars, _rng(seed, 1), intro_max=1 if duration_s < 20 else 2)
    chords = parts.progression(style, form, _rng(seed, 2))
    tonic_midi = 48 + tonic_pc
    stop_s = max(duration_s - 0.9, bar_s * 0.5)
    sections, t = [], 0.0
    for b, sec in enumerate(form):
        if sections and sections[-1][0] == sec:
            sections[-1] = (sec, sections[-1][1], min((b + 1) * bar_s, duration_s))
        else:
            sections.append((sec, b * bar_s, min((b + 1) * bar_s, duration_s)))
    ctx = dict(style=style, fs=fs, n=n, tonic=tonic_midi, scale=scale, bar_s=bar_s, beats=beats, form=form,
               chords=chords, swing=spec["swing"], stop_s=stop_s, seed=int(seed), tonic_pc=tonic_pc)
    dry, sends, notes, meta = arrange(ctx)              # stems (2, n) before the room, mono sends, what was played

    # the room: one stereo IR per song, each stem's send convolved with it
    kind, rt = spec["room"]
    rrng = _rng(seed, 7)
    rt60 = float(rrng.uniform(*rt))
    ir, src = room_ir(kind, rt60, fs, rrng)
    wet = convolve_sends(sends, ir, n) if reverb else {k: np.zeros((2, n)) for k in sends}
    stems = {k: dry[k] + wet.get(k, 0.0) for k in STEMS}
    if style == "edm":                                  # sidechain pumping from the kick (dry + wet)
        pump = meta.pop("_pump")
        for k in ("bass", "pads", "keys"):
            stems[k] = stems[k] * pump
    meta.pop("_pump", None)

    # the end: either a fade-out over the last bars, or the last chord ringing into a short fade
    mrng = _rng(seed, 8)
    t = np.arange(n) / fs
    fade_out = bool(mrng.random() < 0.3 and duration_s >= 12)
    if fade_out:
        f0 = duration_s - min(6.0, 0.25 * duration_s)
        env = np.where(t < f0, 1.0, np.cos(np.clip((t - f0) / (duration_s - f0), 0, 1) * np.pi / 2) ** 2)
    else:
        f0 = duration_s - 0.5
        env = np.where(t < f0, 1.0, np.cos(np.clip((t - f0) / 0.5, 0, 1) * np.pi / 2) ** 2)
    # master: level to the target loudness, bus compressor, look-ahead limiter (one gain for every stem)
    from mixes.loudness import loudness
    lufs = float(mrng.uniform(*spec["lufs"]))
    if style in ("pop", "latin", "reggae", "gospel") and mrng.random() < 0.25:
        lufs = float(mrng.uniform(-9, -7))              # some songs of any style are mastered loud
    mix = sum(stems.values()) * env
    try:
        now = loudness(mix, fs=fs).integrated_lufs
    except Exception:                                   # noqa: BLE001 (a silent or very short song)
        now = float(10 * np.log10(np.mean(mix ** 2) + 1e-20))
    if not np.isfinite(now):
        now = -70.0
    ceil = 10 ** (spec["ceil"] / 20)
    chain = []
    if lufs <= -15:                                     # dynamic: peak-normalised 0-4 dB under the ceiling
        g = env * ceil * 10 ** (-mrng.uniform(0, 4) / 20) / max(float(np.max(np.abs(mix))), 1e-12)
    else:                                               # bus compressor + limiter, driven until the target is met
        ratio = float(mrng.uniform(2, 4))
        drive_db = lufs - now
        chain = ["comp", "limit"]
        last = None
        for _ in range(6):                              # secant steps: compressor and limiter give back part of a drive
            pre = 10 ** (drive_db / 20)
            cg = compressor_gain(mix * pre, fs, threshold_db=lufs - 6, ratio=ratio, attack_s=0.01, release_s=0.12)
            g = env * pre * cg
            g = g * limiter_gain(mix * g, fs, ceiling=ceil)
            got = loudness(mix * g, fs=fs).integrated_lufs if n > 0.5 * fs else lufs
            if not np.isfinite(got) or abs(got - lufs) < 0.3:
                break
            slope = 1.0 if last is None else float(np.clip((got - last[1]) / (drive_db - last[0] + 1e-9), 0.15, 1.0))
            last = (drive_db, got)
            drive_db += float(np.clip((lufs - got) / slope, -10, 12))
    out = {k: x * g for k, x in stems.items()}
    pk = float(np.max(np.abs(sum(out.values()))))
    if pk > ceil:                                       # (the limiter's smoothing keeps this rare: a safety)
        out = {k: x * (ceil / pk) for k, x in out.items()}
    if not voice:
        out["voice"] = np.zeros((2, n))
    if not drums:
        out["drums"] = np.zeros((2, n))
    meta.update(room=kind, room_ir=src, rt60_s=round(rt60, 2), lufs_target=round(lufs, 1),
                master="+".join(chain) or "none", fade_out=fade_out, mode=mode, beats_per_bar=beats)
    notes["meta"] = meta
    return Song5(fs=fs, stems=out, key=parts.key_name(tonic_pc, mode), tonic_midi=tonic_midi, scale=tuple(scale),
                 tempo_bpm=tempo, style=style, sections=tuple(sections), notes=notes)
