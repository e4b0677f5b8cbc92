"""A third, independent song generator: six styles of multitrack songs with a sung voice.

Written without reference to the synthesis of :mod:`mixes.songs` or :mod:`mixes.songs_alt`
(only their API is shared), so detectors tuned on those meet other choices here:

* **styles** (``seed % 6`` unless given): ``radio`` (pop: e-piano and pad, saw or picked bass,
  backbeat), ``boombap`` (hip-hop: 16th swing, sampled kit, 808/FM/sub bass, half-time
  variant), ``garage`` (rock: double-tracked distorted power chords, organ, picked bass in 8ths,
  tom fills and crashes), ``lounge`` (jazz-ish: seventh chords, walking bass, swung ride,
  brushes), ``fireside`` (singer-songwriter: strummed acoustic guitar, root-fifth bass, shaker),
  ``club`` (EDM: four-on-the-floor, sampled kit, sub bass with glides or saw, supersaw pad,
  offbeat plucks with ping-pong delay); tempi 70-140 BPM;
* **voice** (:mod:`mixes.songs3_voice`): Rosenberg glottal pulses through five moving formants,
  vowels per syllable, consonants, breaths, scoops, portamento, late vibrato; in some songs a
  harmony a third above, double-tracked and panned off centre in the choruses, and a
  ping-pong delay;
* **instruments** (:mod:`mixes.songs3_inst`), **drums** (:mod:`mixes.songs3_drums`),
  **composition** (:mod:`mixes.songs3_parts`: form, voice-led diatonic chords, melody in 2-bar
  phrases with rests, bass lines), **effects** (:mod:`mixes.songs3_fx`: a per-song synthetic
  stereo reverb with per-band decay, delays).

Every part draws from its own random stream (``numpy.random.default_rng([seed, 3, part])``),
and the level normalisation is computed with every part present, so ``voice=False`` or
``drums=False`` leave the other stems bit-identical.

Example
-------
>>> s = make_song(7, duration_s=20.0)
>>> s.style, s.key, round(s.tempo_bpm)            # doctest: +SKIP
('radio', 'E minor', 112)
>>> x = s.mix({"voice": -2.5})                    # (2, n) float64
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import numpy as np

from mixes import songs3_drums as drums_mod
from mixes import songs3_fx as fx
from mixes import songs3_inst as inst
from mixes import songs3_parts as parts
from mixes.songs3_voice import CONSONANTS, VOWEL_NAMES, Singer, random_singer, render_line

STYLES = ("radio", "boombap", "garage", "lounge", "fireside", "club")
STEMS = ("bass", "drums", "keys", "pads", "guitar", "voice")
NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")

# bpm range, swing range, swing period (16ths), bass kinds, chord instruments, P(sampled kit),
# reverb RT60 range (s), melody feel, stem levels (dB, rms relative to the voice)
_STYLE = {
    "radio": ((96, 124), (0.5, 0.52), 2, ("saw", "picked"), ("epiano", "pad"), 0.6, (0.8, 1.6), "plain",
              {"bass": -3, "drums": -1, "keys": -7, "pads": -10, "guitar": -9}),
    "boombap": ((80, 96), (0.54, 0.62), 2, ("808", "fm", "sub"), ("epiano", "pad"), 1.0, (0.6, 1.2), "busy",
                {"bass": -1, "drums": 0, "keys": -7, "pads": -12, "guitar": -9}),
    "garage": ((112, 140), (0.5, 0.5), 2, ("picked",), ("guitar_dist", "organ"), 0.0, (0.7, 1.4), "plain",
               {"bass": -3, "drums": 0, "keys": -10, "pads": -10, "guitar": -4}),
    "lounge": ((70, 112), (0.6, 0.67), 4, ("picked",), ("epiano",), 0.0, (0.9, 1.8), "plain",
               {"bass": -4, "drums": -6, "keys": -4, "pads": -10, "guitar": -9}),
    "fireside": ((70, 100), (0.5, 0.54), 2, ("picked",), ("guitar_ac", "pad"), 0.3, (1.0, 2.2), "slow",
                 {"bass": -6, "drums": -9, "keys": -8, "pads": -12, "guitar": -3}),
    "club": ((120, 130), (0.5, 0.5), 2, ("sub", "saw"), ("pad", "pluck"), 1.0, (1.2, 2.2), "plain",
             {"bass": -2, "drums": 0, "keys": -8, "pads": -8, "guitar": -9}),
}
_STEM_OF = {"epiano": "keys", "organ": "keys", "pluck": "keys", "pad": "pads", "guitar_ac": "guitar",
            "guitar_dist": "guitar"}


@dataclass(frozen=True)
class Song3:
    """A synthesised song and its stems.

    Attributes
    ----------
    fs : int
        Sample rate (Hz).
    stems : mapping of str to ndarray (2, n_samples)
        float64 stereo stems (:data:`STEMS`), effects included; they sum to the mix.
    key : str
        E.g. ``"F# minor"``.
    tonic_midi : int
        MIDI note of the tonic in octave 3 (48-59).
    scale : tuple of int
        Semitones of the scale above the tonic.
    tempo_bpm : float
    style : str
        One of :data:`STYLES`.
    sections : tuple of (str, float, float)
        ``(name, start_s, end_s)``.
    notes : mapping
        What was played: ``"bass"``, ``"voice"`` (lead), ``"harmony"``, ``"chords"`` lists of
        ``(start_s, end_s, midi)``; ``"meta"``: a dict of choices (bass kind, instruments, ...).
    """

    fs: int
    stems: Mapping[str, np.ndarray]
    key: str
    tonic_midi: int
    scale: tuple
    tempo_bpm: float
    style: str
    sections: tuple
    notes: Mapping[str, object] = field(default_factory=dict)

    @property
    def n_samples(self) -> int:
        return next(iter(self.stems.values())).shape[1]

    @property
    def duration_s(self) -> float:
        return self.n_samples / self.fs

    def mix(self, gains_db: Mapping[str, float] | None = None) -> np.ndarray:
        """The stereo mix ``(2, n_samples)`` float64: the stems times ``10**(gains_db[stem]/20)``.

        Parameters
        ----------
        gains_db : mapping of str to float, optional
            Per-stem gain (dB, default 0; ``-inf`` drops the stem).

        Raises
        ------
        ValueError
            A gain for a stem that does not exist.
        """
        gains_db = dict(gains_db or {})
        unknown = set(gains_db) - set(self.stems)
        if unknown:
            raise ValueError(f"no stem named {', '.join(sorted(unknown))}; stems: {', '.join(self.stems)}")
        out = np.zeros((2, self.n_samples))
        for name, x in self.stems.items():
            g = float(gains_db.get(name, 0.0))
            if g != -np.inf:
                out += x * 10.0 ** (g / 20.0)
        return out


def _rng(seed: int, part: int) -> np.random.Generator:
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, 3, part])


def make_song(seed: int, *, duration_s: float = 30.0, fs: int = 48000, key: int | None = None,
              minor: bool | None = None, tempo_bpm: float | None = None, voice: bool = True, drums: bool = True,
              reverb: bool = True, style: str | None = None) -> Song3:
    """Synthesise a song.

    Parameters
    ----------
    seed : int
        Everything not given is drawn from it (style, key, mode, tempo, form, chords, melody,
        singer, instruments, kit, pans, reverb).
    duration_s : float
        Length (s), at least 2 s.
    fs : int
        Sample rate (Hz), keyword-only.
    key : int, optional
        Tonic pitch class 0-11 (0 = C).
    minor : bool, optional
        Mode (default drawn: minor more often in the hip-hop and EDM styles).
    tempo_bpm : float, optional
        Tempo (default drawn in the style's range, 70-140 BPM).
    voice, drums, reverb : bool
        Leave the voice or the drums out (their stems are then zeros; the other stems are
        unchanged) or render everything dry.
    style : str, optional
        One of :data:`STYLES` (default ``STYLES[seed % 6]``).

    Returns
    -------
    Song3

    Raises
    ------
    ValueError
        ``duration_s`` below 2 s, a tempo outside 40-240 BPM or an unknown style.
    """
    if not duration_s >= 2.0:
        raise ValueError(f"duration_s must be at least 2 s, got {duration_s}")
    style = STYLES[int(seed) % len(STYLES)] if style is None else style
    if style not in STYLES:
        raise ValueError(f"unknown style {style!r}; styles: {', '.join(STYLES)}")
    bpm_r, sw_r, period, bass_kinds, chord_insts, p_sampled, rt_r, feel, levels = _STYLE[style]
    if tempo_bpm is not None and not 40.0 <= float(tempo_bpm) <= 240.0:
        raise ValueError(f"tempo_bpm must be 40-240 BPM, got {tempo_bpm}")
    rng = _rng(seed, 0)
    pc_drawn = int(rng.integers(12))
    pc = pc_drawn if key is None else int(key) % 12
    minor_drawn = bool(rng.random() < (0.6 if style in ("boombap", "club") else 0.4))
    minor = minor_drawn if minor is None else bool(minor)
    bpm_drawn = float(rng.uniform(*bpm_r))
    bpm = bpm_drawn if tempo_bpm is None else float(tempo_bpm)
    swing = float(rng.uniform(*sw_r))
    groove = int(rng.integers(2))
    bass_kind = bass_kinds[int(rng.integers(len(bass_kinds)))]
    female = bool(rng.random() < 0.55)
    backing = bool(rng.random() < 0.45)
    vdelay = bool(rng.random() < (0.7 if style in ("club", "radio") else 0.3))
    sampled = bool(rng.random() < p_sampled)
    scale = parts.MINOR if minor else parts.MAJOR
    tonic = 48 + pc
    n = int(round(duration_s * fs))
    step_s = 60.0 / bpm / 4.0
    bar_s = 16 * step_s
    n_bars = int(np.ceil(duration_s / bar_s)) + 1
    sections = parts.sections_for(n_bars, _rng(seed, 1))

    # harmony: one chord per bar, the chorus with its own progression
    r_h = _rng(seed, 2)
    table = parts.JAZZ if style == "lounge" else parts.PROGRESSIONS
    pv = table[minor][int(r_h.integers(len(table[minor])))]
    pc_ = table[minor][int(r_h.integers(len(table[minor])))]
    sect_of_bar = []
    for name, b0, nb in sections:
        sect_of_bar += [name] * nb
    degrees = [(pc_ if sect_of_bar[b] == "chorus" else pv)[b % 4] for b in range(n_bars)]
    seventh = style == "lounge"
    chords = [parts.chord_pcs(pc, scale, d, seventh) for d in degrees]

    def at(bar: int, step: float, human_s: float = 0.0, r=None) -> float:
        t = bar * bar_s + parts.step_time(step, step_s, swing, period)
        return max(t + (r.normal(0, human_s) if (r is not None and human_s > 0) else 0.0), 0.0)

    live = style in ("garage", "lounge", "fireside")
    stems = {k: np.zeros((2, n)) for k in STEMS}
    sends = {k: np.zeros(n) for k in STEMS}
    notes_out: dict[str, object] = {}

    # ---- voice
    r_v = _rng(seed, 3)
    centre = int(r_v.integers(64, 70)) if female else int(r_v.integers(53, 59))
    mel = parts.melody(r_v, sections, chords, pc, scale, centre - 8, centre + 9, feel)
    lead, prev_end = [], -1.0
    for bar, step, dur, mid in mel:
        t0 = at(bar, step, 0.008, r_v)
        t1 = at(bar, step + dur) - r_v.uniform(0.02, 0.08) * (dur >= 2)
        if t0 >= duration_s - 0.1:
            continue
        gap = t0 - prev_end
        if gap < 0.06 and r_v.random() < 0.35:
            cons = "legato"
        else:
            cons = [None, None, *CONSONANTS][int(r_v.integers(len(CONSONANTS) + 2))]
        lead.append((t0, max(t1, t0 + 0.06), mid, VOWEL_NAMES[int(r_v.integers(len(VOWEL_NAMES)))], cons))
        prev_end = t1
    singer = random_singer(r_v, female=female)
    vox = render_line(r_v, fs, n, lead, singer)
    v_st = fx.pan(vox, 0.0) * np.sqrt(2.0)                                 # centred, unit per channel
    notes_out["voice"] = [(a, b, m) for a, b, m, _, _ in lead]
    notes_out["harmony"] = []
    if backing:
        sn = parts.scale_notes(pc, scale, 40, 90)
        harm = [(a, b, sn[min(sn.index(m) + 2, len(sn) - 1)], v, c) for a, b, m, v, c in lead
                if sect_of_bar[min(int(a // bar_s), n_bars - 1)] == "chorus"]
        if harm:
            g = 10 ** (r_v.uniform(-10.0, -6.0) / 20)
            side = r_v.uniform(0.5, 0.8)
            for k, sgn in enumerate((-1.0, 1.0)):
                s2 = Singer(**{**singer.__dict__, "formant_scale": singer.formant_scale * r_v.uniform(0.97, 1.04),
                               "vib_depth_st": singer.vib_depth_st * 0.6})
                take = [(a + r_v.normal(0, 0.012), b + r_v.normal(0, 0.012), m, v, c) for a, b, m, v, c in harm]
                v_st += fx.pan(render_line(r_v, fs, n, take, s2), sgn * side) * g
            notes_out["harmony"] = [(a, b, m) for a, b, m, _, _ in harm]
    stems["voice"] = v_st
    sends["voice"] = vox * r_v.uniform(0.15, 0.3)
    if vdelay:
        stems["voice"] += fx.ping_pong(vox, fs, 0.75 * 4 * step_s, r_v.uniform(0.25, 0.45)) * r_v.uniform(0.2, 0.35)

    # ---- bass
    r_b = _rng(seed, 4)
    bl = parts.bass_line(r_b, style, sections, degrees, pc, scale, groove)
    b_notes = []
    for bar, step, dur, mid, vel in bl:
        t0 = at(bar, step, 0.004 if live else 0.0, r_b)
        t1 = t0 + at(bar, step + dur) - at(bar, step)
        if t0 < duration_s:
            b_notes.append((t0, t1, mid, vel))
    bass = np.zeros(n)
    if bass_kind == "sub":
        bass = inst.sub_line(fs, n, b_notes, r_b.uniform(0.03, 0.09))
    else:
        prm = (r_b.uniform(0.12, 0.25), r_b.uniform(0.8, 2.0), r_b.uniform(0.1, 0.6), r_b.uniform(1.2, 3.0),
               r_b.uniform(300, 800), r_b.uniform(4, 12), r_b.choice([0.001, 0.002, 0.004, 0.006]))
        for t0, t1, mid, vel in b_notes:
            i0 = int(t0 * fs)
            ln = int(round((t1 - t0) * fs / 480.0)) * 480                      # cached lengths
            if bass_kind == "picked":
                x = inst.picked(mid, ln, fs, prm[0], prm[1] * (0.5 if style == "lounge" else 1.0), prm[2], 0.025,
                                5000.0, prm[6])
            elif bass_kind in ("808", "fm"):
                x = inst.bass808(mid, ln, fs, 7.0 + 5.0 * prm[2], 0.6 + 0.5 * prm[1], prm[3], bass_kind == "fm")
            else:
                x = inst.saw_note(mid, ln, fs, prm[4], 0.08, prm[5], 0.004, 0.02)
            m = min(ln, n - i0)
            if m > 0:
                bass[i0:i0 + m] += vel * x[:m]
    if bass_kind in ("picked", "saw"):
        bass = np.tanh(1.5 * bass / (np.max(np.abs(bass)) + 1e-12))
    stems["bass"] = fx.pan(bass, 0.0) * np.sqrt(2.0)
    notes_out["bass"] = [(a, b, m) for a, b, m, _ in b_notes]

    # ---- drums
    r_d = _rng(seed, 5)
    kit = drums_mod.Kit(r_d, fs, sampled, style)
    hits = []
    for si, (name, b0, nb) in enumerate(sections):
        for k in range(nb):
            for step, piece, vel in drums_mod.bar_pattern(style, groove, k, nb, name, si == len(sections) - 1, r_d):
                hits.append((at(b0 + k, step, 0.004 if live else 0.0, r_d), piece, vel))
    d_dry, d_send = drums_mod.render(kit, hits, n)
    stems["drums"], sends["drums"] = d_dry, d_send

    # ---- chords
    r_c = _rng(seed, 6)
    notes_out["chords"] = []
    for ins in chord_insts:
        lo, hi, ctr = {"guitar_ac": (40, 67, 55), "guitar_dist": (40, 57, 47), "organ": (53, 76, 64),
                       "pluck": (60, 79, 69), "pad": (52, 74, 62)}.get(ins, (50, 74, 61))
        prev = None
        buf = np.zeros((2, n))
        bright = r_c.uniform(0.3, 1.0)
        width = r_c.uniform(0.3, 0.8)
        side = -kit.pan_flip * r_c.uniform(0.15, 0.4)          # across from the hi-hat
        double = ins == "guitar_ac" and r_c.random() < 0.6       # two takes, hard left and right
        d_off = int(r_c.uniform(0.008, 0.02) * fs)
        for bar in range(n_bars):
            v = parts.voice_lead(prev, chords[bar], lo, hi, ctr)
            prev = v
            if ins == "guitar_dist":
                v = [v[0] - 12 * (v[0] - 12 >= 40), v[0] - 12 * (v[0] - 12 >= 40) + 7]     # power chord
                v = v + [v[0] + 12]
            elif ins == "guitar_ac":
                v = sorted(set(v + [v[0] + 12, v[1] + 12]))[:6]
            for step, dur, vel in parts.comp_pattern(ins, style, bar, r_c):
                t0 = at(bar, step, 0.006 if live else 0.0, r_c)
                i0 = int(t0 * fs)
                if i0 >= n or i0 < 0:
                    continue
                ln = int(round(dur * step_s * fs / 480.0)) * 480 + 480
                m = min(ln, n - i0)
                if ins == "epiano":
                    x = sum(inst.epiano(mid, ln, fs, round(vel, 1), round(bright, 1)) for mid in v)
                    y = fx.pan(x, side)
                elif ins == "organ":
                    x = sum(inst.organ(mid, ln, fs, (0.0, 1.0, 0.6, 0.8, 0.3, 0.4)) for mid in v)
                    y = np.stack([x, x])
                elif ins == "pad":
                    y = np.stack([sum(inst.saw_note(mid, ln, fs, 1800.0, 0.0, 7.0 + 4 * c, 0.4, 0.5)
                                      for mid in v) for c in range(2)]) * 0.7
                elif ins == "pluck":
                    x = sum(inst.saw_note(mid, ln, fs, 1400.0, 0.05, 9.0, 0.002, 0.03, 0.12) for mid in v)
                    y = fx.pan(x, side)
                elif ins == "guitar_ac":
                    down = step % 4 == 0
                    x = inst.strum(fs, tuple(v), ln, down=down, vel=vel, spread_s=0.012, tau_s=1.2, bright=0.7)
                    if double:
                        # the second take is played (and released) within the note, not cut at its end
                        x2 = inst.strum(fs, tuple(v), ln - d_off, down=down, vel=vel, spread_s=0.016, tau_s=1.1,
                                        bright=0.6)
                        y = fx.pan(x, -0.75) + fx.pan(np.concatenate([np.zeros(d_off), x2]), 0.75)
                    else:
                        y = fx.pan(x, side)
                else:                                                             # double-tracked distortion
                    x = inst.strum(fs, tuple(v), ln, down=True, vel=vel, spread_s=0.004, tau_s=0.3, bright=0.9)
                    y = np.stack([x, np.roll(x, int(r_c.uniform(0.006, 0.018) * fs))])
                    y = np.tanh(6.0 * y)
                buf[:, i0:i0 + m] += vel * y[:, :m]
                notes_out["chords"].append((t0, t0 + ln / fs, tuple(v)))
        if ins == "guitar_dist":
            from scipy import signal as _sg
            buf = _sg.sosfilt(_sg.butter(2, 4500.0 / (fs / 2), output="sos"), buf, axis=1)
            buf = np.stack([buf[0] + 0.25 * buf[1], buf[1] + 0.25 * buf[0]]) * np.array([[1.0], [1.0]])
        if ins == "organ":                                                        # rotating speaker
            t = np.arange(n) / fs
            rate = r_c.uniform(0.8, 6.5)
            buf = buf * np.stack([1 + 0.3 * np.sin(2 * np.pi * rate * t), 1 + 0.3 * np.sin(2 * np.pi * rate * t + 2.5)])
        if ins == "epiano" and r_c.random() < 0.5:                                # auto-pan tremolo
            t = np.arange(n) / fs
            lfo = 0.5 * width * np.sin(2 * np.pi * r_c.uniform(2.5, 5.5) * t)
            buf = buf * np.stack([1 - lfo, 1 + lfo])
        stem = _STEM_OF[ins]
        stems[stem] += buf
        sends[stem] += 0.5 * (buf[0] + buf[1]) * (0.25 if stem != "guitar" else 0.15)
        if ins == "pluck":
            stems[stem] += fx.ping_pong(0.5 * (buf[0] + buf[1]), fs, 3 * step_s, 0.45) * 0.4

    # ---- levels: each stem to its rms relative to the voice, then the full mix to its peak
    r_m = _rng(seed, 7)
    rt = r_m.uniform(*rt_r)
    ir = fx.stereo_ir(r_m, fs, rt, r_m.uniform(0.008, 0.04), r_m.uniform(100.0, 200.0))
    wet = fx.convolve_sends([sends[k] for k in STEMS], ir) if reverb else [np.zeros((2, n))] * len(STEMS)
    v_rms = np.sqrt(np.mean(stems["voice"] ** 2)) + 1e-12
    for k, w in zip(STEMS, wet):
        x = stems[k] + w
        if k != "voice":
            r = np.sqrt(np.mean(x ** 2))
            if r > 0:
                x = x * (v_rms / r) * 10 ** ((levels[k] + r_m.normal(0, 1.0)) / 20)
        stems[k] = x
    pk = np.max(np.abs(sum(stems.values())))
    g = 10 ** (-r_m.uniform(1.0, 4.0) / 20) / (pk + 1e-12)
    for k in STEMS:
        stems[k] *= g
    if not voice:
        stems["voice"] = np.zeros((2, n))
    if not drums:
        stems["drums"] = np.zeros((2, n))
    notes_out["meta"] = {"bass_kind": bass_kind, "instruments": chord_insts, "sampled_kit": sampled,
                         "female": female, "backing": backing and bool(notes_out["harmony"]), "delay": vdelay,
                         "rt60_s": rt, "swing": swing, "groove": groove}
    secs = tuple((nm, b0 * bar_s, min((b0 + nb) * bar_s, duration_s)) for nm, b0, nb in sections if b0 * bar_s < duration_s)
    return Song3(fs=fs, stems=stems, key=f"{NAMES[pc]} {'minor' if minor else 'major'}", tonic_midi=tonic,
                 scale=scale, tempo_bpm=bpm, style=style, sections=secs, notes=notes_out)
