"""Composition for :mod:`mixes.songs4`: modes, chords, form, melodies, rap lines and bass lines.

Everything works in scale degrees of the song's mode (``deg2midi``); chords are stacked
diatonic thirds of a degree (sevenths in the jazz and funk styles).  A melody is made of
phrases (one per two bars, a rest of 0.5-1.5 beats after each) moving mostly by step and
landing on chord tones at phrase ends; a rap line is syllables on a 16th grid with a speaking
pitch (small accents, a falling line); bass lines per style (roots, root-fifth-octave riffs,
syncopated funk 16ths, a walking line with chromatic approach notes, held drones, 808 slides).
"""

from __future__ import annotations

import numpy as np

MODES = {
    "major": (0, 2, 4, 5, 7, 9, 11), "minor": (0, 2, 3, 5, 7, 8, 10), "dorian": (0, 2, 3, 5, 7, 9, 10),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10), "phrygian": (0, 1, 3, 5, 7, 8, 10), "lydian": (0, 2, 4, 6, 7, 9, 11),
}

# progressions (0-based scale degrees) per style
PROGRESSIONS = {
    "cinematic": ((0, 5, 2, 6), (0, 3, 5, 4), (5, 3, 0, 4)),
    "metal": ((0, 5, 6, 0), (0, 1, 0, 6), (0, 3, 5, 6)),
    "dub": ((0, 3), (0, 6), (0, 0, 3, 4)),
    "funk": ((0, 3), (0, 0, 3, 3), (0, 6, 3, 0)),
    "ambient": ((0, 3), (0, 5, 3, 4), (3, 0)),
    "trap": ((0, 5, 2, 6), (0, 5, 3, 4), (0, 3)),
    "folk": ((0, 4, 5, 3), (0, 3, 0, 4), (0, 5, 3, 4)),
    "acappella": ((0, 5, 3, 4), (0, 3, 4, 0), (5, 3, 0, 4)),
    "bigband": ((1, 4, 0, 5), (0, 5, 1, 4), (2, 5, 1, 4)),
}


def deg2midi(tonic: int, scale, deg: int) -> int:
    return int(tonic + scale[deg % 7] + 12 * (deg // 7))


def chord(tonic: int, scale, root_deg: int, sevenths: bool = False) -> list[int]:
    """MIDI notes of the diatonic chord on ``root_deg`` (root position, from the tonic's octave)."""
    degs = [root_deg, root_deg + 2, root_deg + 4] + ([root_deg + 6] if sevenths else [])
    return [deg2midi(tonic, scale, d) for d in degs]


def voice_lead(prev: list[int] | None, notes: list[int], low: int, high: int) -> list[int]:
    """Place the chord's pitch classes in ``low..high`` as close as possible to ``prev``."""
    pcs = [n % 12 for n in notes]
    cands = sorted({p + 12 * o for p in pcs for o in range(0, 11) if low <= p + 12 * o <= high})
    if not cands:
        return notes
    k = len(notes)
    if prev is None:
        centre = (low + high) / 2
        start = min(range(len(cands)), key=lambda i: abs(np.mean(cands[i:i + k]) - centre) if i + k <= len(cands) else 1e9)
        return cands[start:start + k]
    best, best_cost = None, 1e9
    for i in range(len(cands) - k + 1):
        v = cands[i:i + k]
        if len({x % 12 for x in v}) < min(k, len(set(pcs))):
            continue
        cost = sum(min(abs(a - b) for b in prev) for a in v)
        if cost < best_cost:
            best, best_cost = v, cost
    return best or cands[:k]


def form(bars_total: int, rng, style: str) -> list[tuple[str, int, int]]:
    """Sections ``(name, first bar, bars)`` covering at least ``bars_total`` bars."""
    intro = 1 if style in ("trap", "acappella") or bars_total < 12 else int(rng.integers(1, 3))
    plan = [("intro", intro)]
    seq = (("verse", 8), ("chorus", 8), ("verse", 8), ("chorus", 8), ("bridge", 4), ("chorus", 8), ("outro", 4))
    if style == "ambient":
        seq = (("verse", 8), ("chorus", 8), ("verse", 8), ("chorus", 8), ("outro", 8))
    plan += list(seq)
    out, b = [], 0
    for name, nb in plan:
        if b >= bars_total:
            break
        out.append((name, b, nb))
        b += nb
    while b < bars_total:
        out.append(("chorus", b, 8))
        b += 8
    return out


def melody(rng, tonic: int, scale, chords_by_beat, sections, bpm: float, centre_midi: int, style: str,
           sung_sections=("verse", "chorus", "bridge")) -> list[list[tuple]]:
    """Phrases of ``(t0_s, t1_s, midi, vowel, consonant)`` (vowel/consonant filled by the caller as None)."""
    beat = 60.0 / bpm
    palette = {"cinematic": (2, 1.5, 1, 3, 1), "ambient": (3, 2, 4, 2), "metal": (1, 0.5, 1.5, 2, 1),
               "dub": (1, 0.5, 1.5, 1, 2), "funk": (0.5, 0.75, 0.25, 1, 0.5), "folk": (1, 0.5, 1.5, 2, 1),
               "acappella": (1, 0.5, 1.5, 2), "bigband": (1, 2 / 3, 1 / 3, 2, 1.5), "trap": (0.5, 1, 0.5, 1.5)}[style]
    ctr_deg = min(range(-14, 28), key=lambda d: abs(deg2midi(tonic, scale, d) - centre_midi))
    phrases = []
    for name, b0, nb in sections:
        if name not in sung_sections:
            continue
        for p0 in range(b0, b0 + nb, 2):
            t_beats = 4.0 * p0 + (0.0 if rng.random() < 0.6 else 0.5)
            end_beats = 4.0 * (p0 + 2) - rng.uniform(0.5, 1.6)
            if style in ("ambient", "cinematic") and rng.random() < 0.3:
                continue
            d = ctr_deg + int(rng.integers(-2, 3))
            ph = []
            while t_beats < end_beats - 0.2:
                dur = float(rng.choice(palette))
                dur = min(dur, end_beats - t_beats)
                ch = chords_by_beat(t_beats)
                last = t_beats + dur >= end_beats - 0.2
                r = rng.random()
                if last or r < 0.15:                      # to the nearest chord tone
                    tones = [x for x in range(d - 4, d + 5) if (x - ch) % 7 in (0, 2, 4)]
                    d = min(tones, key=lambda x: abs(x - d) + 0.3 * abs(x - ctr_deg))
                elif r < 0.75:
                    d += int(rng.choice((-1, 1)))
                else:
                    d += int(rng.choice((-2, 2, -3, 3)))
                d = int(np.clip(d, ctr_deg - 5, ctr_deg + 6))
                legato = 0.95 if style in ("ambient", "cinematic", "acappella") else 0.88
                ph.append((t_beats * beat, (t_beats + dur * legato) * beat, deg2midi(tonic, scale, d), None, None))
                t_beats += dur
            if ph:
                phrases.append(ph)
    return phrases


def rap_line(rng, sections, bpm: float, base_midi: int) -> list[list[tuple]]:
    """Phrases of rap syllables: a 16th grid, 55-85 % filled, one phrase per bar."""
    beat = 60.0 / bpm
    six = beat / 4
    phrases = []
    for name, b0, nb in sections:
        if name not in ("verse", "chorus", "bridge"):
            continue
        for bar in range(b0, b0 + nb):
            fill = rng.uniform(0.55, 0.85)
            ph = []
            i = int(rng.integers(0, 2))
            while i < 15:
                if rng.random() < fill:
                    ln = 1 if rng.random() < 0.7 else 2
                    acc = float(rng.choice((0, 0, 0, 1, 2, -1)))
                    t0 = (4.0 * bar) * beat + i * six
                    ph.append((t0, t0 + ln * six * 0.85, base_midi + acc, None, None))
                    i += ln
                else:
                    if ph and rng.random() < 0.3:
                        phrases.append(ph)
                        ph = []
                    i += 1
            if ph:
                phrases.append(ph)
    return phrases


def bass_line(rng, style: str, tonic: int, scale, chord_degs: list[int], bars: int, low_midi: int) -> list[tuple]:
    """Notes ``(start beat, length beats, midi, velocity)`` for the whole song."""
    out = []
    root = lambda d: deg2midi(tonic, scale, d) - 12 * ((deg2midi(tonic, scale, d) - low_midi) // 12)   # noqa: E731
    for b in range(bars):
        d = chord_degs[b]
        r = root(d)
        o = 4.0 * b
        if style in ("cinematic", "ambient"):
            out.append((o, 4.0, r, 0.8))
        elif style == "metal":
            out += [(o + i / 2, 0.45, r + (12 if i == 7 and rng.random() < 0.3 else 0), 0.9) for i in range(8)]
        elif style == "dub":
            riff = ((0, 1.5, 0), (1.5, 0.5, 7), (2.5, 1.0, 12), (3.5, 0.5, 10 if scale[6] == 10 else 11))
            for st, ln, iv in riff:
                if rng.random() < 0.85:
                    out.append((o + st, ln * 0.95, r + iv, 0.9))
        elif style == "funk":
            for i in range(16):
                if (i in (0, 6, 10)) or rng.random() < 0.3:
                    iv = int(rng.choice((0, 0, 12, 7, 10)))
                    out.append((o + i / 4, 0.2 if iv == 12 else 0.22, r + iv, 1.0 if i == 0 else 0.75))
        elif style == "trap":
            out.append((o, 1.5, r, 1.0))
            out.append((o + 1.75, 0.7, r, 0.9))
            out.append((o + 2.5, 1.4, r + int(rng.choice((0, 7, -5, 12))), 0.95))
        elif style == "folk":
            fifth = root(d + 4)
            out += [(o, 1.8, r, 0.8), (o + 2, 1.8, fifth if fifth - r <= 7 else fifth - 12, 0.75)]
        elif style == "acappella":
            out += [(o, 0.9, r, 0.8), (o + 1.5, 0.4, r, 0.6), (o + 2, 0.9, r + 7 if rng.random() < 0.5 else r, 0.8),
                    (o + 3, 0.9, r, 0.7)]
        elif style == "bigband":
            nxt = root(chord_degs[(b + 1) % bars])
            tones = [r, root(d + 2), root(d + 4), root(d + 2)]
            tones = [t if t - r < 12 else t - 12 for t in tones]
            tones[3] = nxt + (1 if rng.random() < 0.5 else -1)                    # chromatic approach
            out += [(o + i, 0.9, tones[i], 0.8 + 0.1 * (i == 0)) for i in range(4)]
    return out
