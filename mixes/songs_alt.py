"""A second, independent song generator: the same :class:`mixes.songs.Song` API, other music.

Detectors tuned on one generator learn its quirks (its one vibrato law, its one kick, its
noise-tail reverb).  This module makes songs from different synthesis, arrangements and styles,
so a figure that holds on both is more likely to hold on music nobody synthesised.
``make_song(seed, ...)`` takes the arguments of :func:`mixes.songs.make_song` (plus an
optional ``style``) and returns a :class:`mixes.songs.Song` with the same five stems that sum
exactly to the mix.

Styles (``seed % 4`` unless given), each with its own tempo range, instruments and mix:

* **ballad** — piano comping (stretched partials, hammer noise, sustain pedal) in the *keys*
  stem, a string section with slow attacks in *pads*, finger or sine bass with long held notes,
  sparse drums (cross-stick, soft kick, ride), a long hall;
* **rock** — double-tracked distorted guitar chords panned left/right (palm-muted eighths in
  verses, open hits in choruses) in *keys*, an organ sometimes in *pads*, pick or filtered
  square/saw bass in eighths with octave jumps and passing notes, a full kit (open hats, ghost
  notes, ride in the bridge, crashes on section starts, tom fills);
* **electronic** — lightly saturated sine sub (roots 41–78 Hz) or FM/saw bass in
  offbeat or sixteenth patterns (held in the breakdown), side-chain-pumped supersaw pads, an FM
  electric piano, four-on-the-floor long kick, claps, offbeat open hats, sixteenth shakers, a
  slight swing of the offbeat eighths, delay throws on the vocal;
* **acoustic** — Karplus–Strong guitar picking (thumb bass + fingers), upright-like finger
  bass walking with approach notes and slides, brushes (swishes and taps), shaker, swing.

Every song: a key (any tonic, major or minor), progressions with 7ths, sus chords and
inversions voiced for smooth voice leading, sections intro / verse / chorus / bridge (or
breakdown) / chorus and sometimes a fade-out outro; a lead vocal (male or female range, see
:mod:`mixes.songs_alt_voice`: glottal source, moving formants of eight vowels, consonants,
breaths, per-note vibrato 4.5–7 Hz and 0.1–1 semitone, scoops and portamento), its dry part
identical in both channels; in choruses sometimes a doubled or harmony backing vocal panned
off centre; humanised timing and velocities.  Reverb is early reflections into a feedback delay
network (see :func:`mixes.songs_alt_synth.fdn_ir`), a short room and a longer hall mixed per
stem by its own sends; the wet part belongs to the stem.  Sometimes a mix-bus compressor (one
gain for all stems, so the stems still sum to the mix) and a fade-out.  The mix peaks between
−3.5 and −1 dBFS.

How it differs from :mod:`mixes.songs`: no code shared; different oscillators (PolyBLEP,
Karplus–Strong, FM, stretched-partial piano vs. summed harmonics), different drum synthesis
(metallic square clusters, multi-burst claps, brushes vs. noise hats and a sine kick), a voice
built as source and moving filter (vs. formant-weighted harmonics with one vibrato law), an FDN
reverb (vs. a noise tail), several styles and section forms, bass lines that move (passing
notes, octaves, slides, walking) rather than roots on a fixed rhythm.
"""

from __future__ import annotations

import numpy as np
from scipy import signal

from mixes.songs import STEMS, Song
from mixes.songs_alt_parts import Layer, _drums, _keys, _pads, _reverb, _vocals
from mixes.songs_alt_synth import bass_note, midi_hz

__all__ = ["STYLES", "make_song"]

STYLES = ("ballad", "rock", "electronic", "acoustic")
_SCALES = {False: (0, 2, 4, 5, 7, 9, 11), True: (0, 2, 3, 5, 7, 8, 10)}
_PROGS = ((0, 5, 3, 4), (0, 3, 4, 3), (5, 3, 0, 4), (0, 4, 5, 3), (0, 2, 3, 4), (3, 0, 4, 5), (0, 6, 5, 4))
_BRIDGE = ((3, 4, 5, 4), (5, 4, 3, 4), (1, 4, 0, 5), (3, 3, 4, 4))
_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
_STYLE = {   # tempo range, swing range, bass timbres, hall RT60 range, p(7th)
    "ballad": ((60.0, 82.0), (0.5, 0.6), ("finger", "sub"), (1.6, 2.6), 0.5),
    "rock": ((96.0, 148.0), (0.5, 0.52), ("pick", "square", "saw"), (1.0, 1.8), 0.1),
    "electronic": ((116.0, 128.0), (0.5, 0.56), ("sub", "sub", "fm", "saw"), (1.2, 2.2), 0.4),
    "acoustic": ((80.0, 118.0), (0.54, 0.66), ("finger",), (0.8, 1.4), 0.45),
}


def _sections(rng, dur_s: float, bar_s: float, style: str):
    """``(name, start_s, end_s)`` tuples and whether the song fades out."""
    intro_end = min(bar_s * (1 if dur_s < 40 else 2), 0.15 * dur_s)
    body = dur_s - intro_end
    fade = dur_s >= 12.0 and rng.random() < 0.35
    bridge = "breakdown" if style == "electronic" else "bridge"
    if body < 4 * bar_s:
        cuts = [("verse", 0.55), ("chorus", 0.45)]
    else:
        cuts = [("verse", 0.34), ("chorus", 0.26), (bridge, 0.16), ("chorus", 0.24)]
    out, t = [("intro", 0.0, intro_end)], intro_end
    for i, (name, frac) in enumerate(cuts):
        end = dur_s if i == len(cuts) - 1 else t + frac * body
        if body >= 6 * bar_s and i < len(cuts) - 1:
            end = intro_end + round((end - intro_end) / bar_s) * bar_s
        out.append((name, t, end))
        t = end
    if fade:
        f0 = dur_s - min(0.15 * dur_s, 8.0)
        name, a, _ = out[-1]
        out[-1] = (name, a, f0)
        out.append(("outro", f0, dur_s))
    return tuple(out), fade


def make_song(seed: int, *, duration_s: float = 30.0, fs: int = 48000, key: int | None = None,
              minor: bool | None = None, tempo_bpm: float | None = None, voice: bool = True,
              drums: bool = True, reverb: bool = True, style: str | None = None) -> Song:
    """Synthesise a song (see the module docstring).

    Parameters
    ----------
    seed : int
        Everything not given is drawn from it.
    duration_s : float
        Length (s), at least 2 s.
    fs : int
        Sample rate (Hz), at least 16000.
    key : int, optional
        Tonic pitch class 0–11 (0 = C).
    minor : bool, optional
    tempo_bpm : float, optional
    voice, drums, reverb : bool
        Leave a part out (the voice and drums stems are then silent; without reverb there are
        no reverb tails, delay throws or ambience).
    style : str, optional
        One of ``STYLES``; default ``STYLES[seed % 4]``.

    Returns
    -------
    mixes.songs.Song
        ``notes`` holds ``"bass"`` and ``"voice"`` (lead) lists of ``(start_s, end_s, midi)``,
        ``"backing"`` likewise, ``"chords"`` ``(start_s, end_s, (midi, ...))`` and
        ``"style"`` ``[name]``.
    """
    if not duration_s >= 2.0:
        raise ValueError(f"duration_s must be at least 2 s, got {duration_s}")
    if int(fs) < 16000:
        raise ValueError(f"fs must be at least 16000 Hz, got {fs}")
    fs = int(fs)
    style = STYLES[int(seed) % 4] if style is None else style
    if style not in STYLES:
        raise ValueError(f"unknown style {style!r}; styles: {', '.join(STYLES)}")
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, 0x5A17])
    (bpm_lo, bpm_hi), (sw_lo, sw_hi), bass_kinds, (rt_lo, rt_hi), p7 = _STYLE[style]
    pc = int(rng.integers(12)) if key is None else int(key) % 12
    is_minor = bool(rng.random() < 0.45) if minor is None else bool(minor)
    bpm = float(rng.uniform(bpm_lo, bpm_hi)) if tempo_bpm is None else float(tempo_bpm)
    swing = float(rng.uniform(sw_lo, sw_hi))
    scale = _SCALES[is_minor]
    n = int(round(duration_s * fs))
    beat = 60.0 / bpm
    bar = 4.0 * beat
    sections, fade = _sections(rng, duration_s, bar, style)
    tonic = 48 + pc

    def degree(d: int) -> int:
        return 12 * (d // 7) + scale[d % 7]

    def section_at(t: float) -> str:
        for name, a, b in sections:
            if a <= t < b:
                return name
        return sections[-1][0]

    sec_gain = {"intro": 0.75, "verse": 1.0, "chorus": 1.3, "bridge": 0.85, "breakdown": 0.8, "outro": 1.15}

    def swung(t_beats: float) -> float:
        """Beat position -> seconds, offbeat eighths delayed by the swing ratio."""
        whole, frac = divmod(t_beats, 1.0)
        if abs(frac - 0.5) < 1e-6:
            frac = swing
        return (whole + frac) * beat

    # ---------------------------------------------------------------- harmony
    prog = _PROGS[int(rng.integers(len(_PROGS)))]
    prog_ch = _PROGS[int(rng.integers(len(_PROGS)))] if rng.random() < 0.5 else prog
    prog_br = _BRIDGE[int(rng.integers(len(_BRIDGE)))]
    chord_bars = {"ballad": [1, 2], "rock": [1, 1, 0.5], "electronic": [1, 2], "acoustic": [1]}[style]
    chord_len = bar * float(rng.choice(chord_bars))
    chords = []        # (t0, t1, root_semitones, tones_semitones)
    prev_centre = 64.0
    t, i = 0.0, 0
    while t < duration_s - 1e-9:
        name = section_at(t + 1e-6)
        p = prog_br if name in ("bridge", "breakdown") else (prog_ch if name == "chorus" else prog)
        r = p[i % 4]
        ds = [r, r + 2, r + 4]
        q = rng.random()
        if q < p7:
            ds.append(r + 6)
        elif q < p7 + 0.15:
            ds[1] = r + (1 if rng.random() < 0.5 else 3)           # sus2 / sus4
        tones = sorted({degree(d) for d in ds})
        chords.append((t, min(t + chord_len, duration_s), degree(r), tones))
        t += chord_len
        i += 1

    def voicing(tones, centre: float) -> list[int]:
        """The inversion of ``tones`` (near MIDI ``centre``) closest to the last voicing."""
        best = None
        for inv in range(len(tones)):
            v = [tonic + x + (12 if j < inv else 0) for j, x in enumerate(tones)]
            v = sorted(v)
            shift = 12 * round((centre - np.mean(v)) / 12.0)
            v = [x + shift for x in v]
            cost = abs(np.mean(v) - centre)
            if best is None or cost < best[0]:
                best = (cost, v)
        return best[1]

    voicings = []
    for (_a, _b, _r, tones) in chords:
        v = voicing(tones, prev_centre)
        prev_centre = 0.7 * prev_centre + 0.3 * np.mean(v) if abs(np.mean(v) - 64) < 6 else 64.0
        voicings.append(v)

    stems: dict[str, np.ndarray] = {}
    notes: dict[str, list] = {"bass": [], "voice": [], "backing": [], "drums": [],
                              "chords": [(a, b, tuple(v)) for (a, b, _r, _t), v in zip(chords, voicings)],
                              "style": [style]}

    def bass_midi(semi: int) -> int:
        m = 24 + (pc + semi) % 12
        return m + 12 if m < 28 else m                       # MIDI 28..39: 41-78 Hz

    # ---------------------------------------------------------------- bass
    lay = Layer(n, fs, 4)
    kind = str(rng.choice(bass_kinds))
    cache: dict = {}
    prev_note = None
    for ci, (c0, c1, root, tones) in enumerate(chords):
        name = section_at(c0 + 1e-6)
        nxt = bass_midi(chords[(ci + 1) % len(chords)][2])
        rm = bass_midi(root)
        nb = max(1, int(round((c1 - c0) / beat)))
        if style == "ballad" or name in ("intro", "breakdown"):
            pat = [(0.0, nb, rm)] if rng.random() < 0.6 or nb < 4 else [(0.0, nb - 1, rm), (nb - 1, 1, rm + 7 if rm + 7 <= 46 else rm - 5)]
        elif style == "rock":
            pat = []
            for e in range(2 * nb):
                m_ = rm + 12 if (e % 4 == 3 and rm + 12 <= 46 and rng.random() < 0.5) else rm
                if e == 2 * nb - 1 and nxt != rm:
                    m_ = rm + int(np.sign(nxt - rm)) * (2 if abs(nxt - rm) > 2 else 1)
                pat.append((e / 2, 0.45, m_))
        elif style == "electronic":
            mask = [0, 1, 0, 1, 1, 0, 1, 0] if rng.random() < 0.5 else [0, 0, 1, 0, 0, 0, 1, 1]
            pat = [(s / 4, 0.2, rm + (12 if (s % 8 == 7 and rm + 12 <= 46) else 0))
                   for s in range(4 * nb) if mask[s % 8]]
        else:   # walking
            ct = [bass_midi(x) for x in tones[1:3]]
            walk = [rm, ct[0], ct[-1], nxt + (1 if rng.random() < 0.5 else -1)]
            pat = [(b_, 0.9, walk[b_ % 4]) for b_ in range(nb)]
        for (pos, len_b, mid) in pat:
            mid = int(mid)
            while mid > 46:
                mid -= 12
            while mid < 28:
                mid += 12
            t0 = c0 + (swung(pos) if style == "acoustic" else pos * beat) + rng.normal(0, 0.004)
            t0 = max(t0, 0.0)
            if t0 >= duration_s:
                continue
            dur = min(len_b * beat * (0.95 if len_b >= 1 else 1.0), duration_s - t0)
            m = int(dur * lay.fs)
            if m < int(0.03 * lay.fs):
                continue
            vel = rng.uniform(0.8, 1.0) * sec_gain[section_at(t0)] ** 0.5
            slide = prev_note is not None and prev_note != mid and rng.random() < 0.12 and style != "electronic"
            if slide:
                tt = np.arange(m) / lay.fs
                f = midi_hz(mid) * 2.0 ** ((prev_note - mid) / 12.0 * np.exp(-tt / 0.03))
                x = bass_note(kind, f, m, lay.fs, rng, vel)
            else:
                k_ = (mid, m // 64)
                if k_ not in cache:
                    cache[k_] = bass_note(kind, midi_hz(mid), m, lay.fs, rng, 1.0)
                x = cache[k_]
            lay.add(vel * x, t0)
            notes["bass"].append((t0, t0 + dur, mid))
            prev_note = mid
    stems["bass"] = lay.full(n)

    # ---------------------------------------------------------------- drums
    stems["drums"] = np.zeros((2, n))
    if drums:
        stems["drums"] = _drums(rng, fs, n, style, sections, beat, bar, swung, duration_s, notes["drums"])

    # ---------------------------------------------------------------- keys
    stems["keys"] = _keys(rng, fs, n, style, chords, voicings, beat, swung, section_at, sec_gain, duration_s, tonic)

    # ---------------------------------------------------------------- pads
    stems["pads"] = _pads(rng, fs, n, style, chords, voicings, beat, section_at, sec_gain, duration_s)

    # ---------------------------------------------------------------- voice
    stems["voice"] = np.zeros((2, n))
    lead_mono = None
    if voice:
        stems["voice"], lead_mono, lead_notes, back_notes = _vocals(
            rng, fs, n, style, chords, sections, beat, bar, degree, tonic, section_at, sec_gain, duration_s)
        notes["voice"] = [(a, b, m) for (a, b, m, *_r) in lead_notes]
        notes["backing"] = [(a, b, m) for (a, b, m, *_r) in back_notes]

    # ---------------------------------------------------------------- balance of the parts
    def rms(x):
        e = np.sum(x * x, axis=0)
        act = e > 1e-3 * np.max(e) if np.max(e) > 0 else e > 0
        return float(np.sqrt(np.mean(e[act]))) if np.any(act) else 0.0

    lv = {"voice": 0.0, "bass": rng.uniform(-3.0, 0.0), "drums": rng.uniform(-3.0, 0.0),
          "keys": rng.uniform(-7.0, -4.0), "pads": rng.uniform(-11.0, -7.0)}
    if style == "electronic":
        lv["bass"] += 1.5
        lv["drums"] += 1.0
    if style == "rock":
        lv["keys"] += 2.0
    if style == "ballad":
        lv["keys"] += 2.0
        lv["drums"] -= 3.0
    ref = rms(stems["voice"]) if voice else 0.0
    ref_lin = ref if ref > 0 else 0.1
    for name in STEMS:
        r = rms(stems[name]) if name != "voice" else ref
        if r > 0:
            g = ref_lin * 10 ** (lv[name] / 20) / r
            stems[name] = stems[name] * g
            if name == "voice" and lead_mono is not None:
                lead_mono = lead_mono * g

    # ---------------------------------------------------------------- reverb and throws
    if reverb:
        _reverb(rng, fs, n, style, stems, lead_mono, notes["voice"], beat, rt_lo, rt_hi)

    # ---------------------------------------------------------------- bus: compression, fade, level
    total = sum(stems.values())
    gain = np.ones(n)
    if style in ("rock", "electronic") and rng.random() < 0.6:
        # level in 10 ms blocks (peak), gain reduction above the 75th percentile, smoothed
        blk = int(0.01 * fs)
        nb = n // blk
        pk = np.max(np.abs(total[:, :nb * blk]).reshape(2, nb, blk), axis=(0, 2))
        lvl = 20 * np.log10(np.maximum(pk, 1e-9))
        thr = np.percentile(lvl[lvl > np.max(lvl) - 40], 75)
        gr = -np.maximum(lvl - thr, 0.0) * (1.0 - 1.0 / rng.uniform(2.0, 4.0))
        gr = signal.sosfiltfilt(signal.butter(1, 6.0, fs=100.0, output="sos"), gr)
        gain *= 10.0 ** (np.interp(np.arange(n), (np.arange(nb) + 0.5) * blk, gr) / 20.0)
    if fade:
        f0 = sections[-1][1]
        i0 = int(f0 * fs)
        gain[i0:] *= np.linspace(1.0, 0.0, n - i0) ** 2
    peak = np.max(np.abs(total * gain))
    target = 10.0 ** (rng.uniform(-3.5, -1.0) / 20.0)
    gain *= target / peak if peak > 0 else 1.0
    for name in STEMS:
        stems[name] = np.ascontiguousarray(stems[name] * gain)
        stems[name].setflags(write=False)
    return Song(fs=fs, stems={k: stems[k] for k in STEMS},
                key=f"{_NAMES[pc]} {'minor' if is_minor else 'major'}", tonic_midi=tonic,
                tempo_bpm=bpm, sections=sections, notes=notes)

