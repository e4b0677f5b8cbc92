"""What is played in a :mod:`mixes.songs5` song: form, chords, bass lines, melodies, lyrics.

Notes are tuples ``(t0_s, dur_s, midi, velocity)`` (velocity 0-1); a chord is
``(t0_s, dur_s, (midi, ...))``.  Harmony is diatonic in the song's mode, with a progression per
style (roman-numeral degrees), voiced near the previous chord (smallest total motion).  The
melody moves mostly by step on chord tones at strong beats, phrases of 1-2 bars with breaths.
"""

from __future__ import annotations

import numpy as np

MODES = {"major": (0, 2, 4, 5, 7, 9, 11), "minor": (0, 2, 3, 5, 7, 8, 10), "dorian": (0, 2, 3, 5, 7, 9, 10),
         "mixolydian": (0, 2, 4, 5, 7, 9, 10), "harmonic minor": (0, 2, 3, 5, 7, 8, 11)}
NOTE_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")

PROGRESSIONS = {     # scale degrees (0 = I), one chord per bar (two per bar where a tuple)
    "pop": ((0, 4, 5, 3), (5, 3, 0, 4), (0, 5, 3, 4), (3, 0, 4, 5)),
    "trap": ((0, 5, 3, 4), (0, 0, 5, 5), (0, 3, 5, 4)),
    "jazz": (((1, 4), 0, (1, 4), 0), ((5, 1), (4, 0), (1, 4), 0), (0, 5, 1, 4)),
    "orchestral": ((0, 5, 3, 4), (0, 3, 5, 4), (5, 3, 0, 4), (0, 6, 5, 4)),
    "metal": ((0, 5, 6, 4), (0, 0, 5, 6), (0, 6, 5, 6)),
    "reggae": ((0, 3, 0, 4), (0, 3, 4, 3), (1, 4, 1, 4)),
    "edm": ((5, 3, 0, 4), (0, 4, 5, 3), (5, 4, 3, 4)),
    "songwriter": ((0, 3, 0, 4), (0, 5, 3, 4), (3, 4, 0, 0), (0, 4, 5, 3)),
    "latin": ((0, 3, 4, 0), (1, 4, 0, 0), (0, 3, 4, 4)),
    "gospel": ((0, 3, 0, 4), (3, 3, 0, 5), ((1, 4), 0, (3, 4), 0)),
}

CONSONANTS = ("", "", "m", "n", "l", "r", "s", "sh", "t", "k", "d", "b", "f", "h", "w", "y", "p", "g", "th", "ch")
VOWELS = ("a", "e", "i", "o", "u", "ae", "oh", "eh", "uh", "ih", "ay", "ai", "ou")


def key_name(tonic_pc: int, mode: str) -> str:
    return f"{NOTE_NAMES[tonic_pc % 12]} {mode}"


def chord_notes(root_midi: int, degree: int, scale: tuple, n_notes: int = 3, seventh: bool = False) -> list[int]:
    """The diatonic triad (or seventh chord) on ``degree`` of ``scale`` above ``root_midi``."""
    out = []
    for k in range(n_notes + int(seventh)):
        d = degree + 2 * k
        out.append(root_midi + scale[d % 7] + 12 * (d // 7))
    return out


def voice_near(chord: list[int], prev: list[int] | None, lo: int, hi: int) -> list[int]:
    """Place the chord's pitch classes in [lo, hi] closest to ``prev`` (voice leading)."""
    pcs = sorted({c % 12 for c in chord})
    best, best_cost = None, np.inf
    target = np.mean(prev) if prev else (lo + hi) / 2
    for base in range(lo, hi - 6):
        v = sorted(base + ((pc - base) % 12) for pc in pcs)
        if v[-1] > hi:
            continue
        cost = abs(np.mean(v) - target) + (0 if prev is None else 0.3 * sum(min(abs(a - b) for b in prev) for a in v))
        if cost < best_cost:
            best, best_cost = v, cost
    return best if best is not None else sorted(lo + (pc - lo) % 12 for pc in pcs)


def make_form(n_bars: int, rng: np.random.Generator, *, intro_max: int = 2) -> list[str]:
    """Section name per bar: intro, verse, chorus, bridge, break, outro (short songs keep verse+chorus)."""
    if n_bars <= 4:
        return ["verse"] * (n_bars // 2) + ["chorus"] * (n_bars - n_bars // 2)
    intro = int(rng.integers(0, intro_max + 1)) if n_bars >= 8 else int(rng.integers(0, 2))
    plan = ["intro"] * intro
    blocks = [("verse", 4), ("chorus", 4), ("verse", 4), ("chorus", 4)]
    if rng.random() < 0.5:
        blocks.insert(3, ("break", int(rng.integers(1, 3))))
    else:
        blocks.insert(3, ("bridge", 2))
    blocks += [("chorus", 4), ("outro", 2)]
    for name, m in blocks:
        plan += [name] * m
    plan = plan[:n_bars]
    if n_bars >= 10:
        plan[-1] = "outro"
    return plan


def progression(style: str, form: list[str], rng: np.random.Generator) -> list[tuple]:
    """Chord degree(s) per bar; the chorus takes a second progression where the style has one."""
    progs = PROGRESSIONS[style]
    i_v = int(rng.integers(len(progs)))
    i_c = int(rng.integers(len(progs)))
    out, count = [], {}
    for sec in form:
        p = progs[i_c if sec == "chorus" else i_v]
        k = count.get(sec, 0)
        count[sec] = k + 1
        d = p[k % len(p)]
        out.append(d if isinstance(d, tuple) else (d,))
    return out


def bass_line(style: str, bar_chords: list, bar_s: float, beats: int, tonic: int, scale: tuple,
              form: list[str], rng: np.random.Generator, swing: float = 0.0) -> list[tuple]:
    """The bass notes of a song per style: roots and fifths, walking quarters, 808 slides, tumbao ..."""
    beat = bar_s / beats
    notes = []
    lo = tonic - 24 if tonic - 24 >= 28 else tonic - 12
    for b, (degs, sec) in enumerate(zip(bar_chords, form)):
        t_bar = b * bar_s
        if sec == "break" and style not in ("reggae",):
            continue
        roots = [lo + scale[d % 7] for d in degs]
        roots = [r + 12 if r < 28 else r for r in roots]
        per = bar_s / len(roots)
        for j, r in enumerate(roots):
            t0 = t_bar + j * per
            fifth = r + 7
            if style == "jazz":                                      # walking quarters to the next root
                nxt = roots[j + 1] if j + 1 < len(roots) else (
                    lo + scale[bar_chords[(b + 1) % len(bar_chords)][0] % 7])
                steps = int(round(per / beat))
                line = [r]
                for q in range(1, steps):
                    target = nxt + (1 if q == steps - 1 and rng.random() < 0.5 else 0)
                    cand = line[-1] + int(rng.choice([-2, -1, 1, 2, 3, 4]))
                    if q == steps - 1:
                        cand = target + int(rng.choice([-1, 1]))
                    line.append(int(np.clip(cand, 28, 52)))
                for q, m in enumerate(line):
                    notes.append((t0 + q * beat, beat * 0.92, m, 0.75 + 0.2 * rng.random()))
            elif style == "trap":                                    # long 808 notes, some slides
                notes.append((t0, per * 0.95, r, 0.9))
                if rng.random() < 0.4:
                    notes.append((t0 + per * 0.75, per * 0.22, r + 12 if rng.random() < 0.5 else r + 7, 0.8))
            elif style in ("orchestral", "songwriter"):
                notes.append((t0, per * 0.98, r, 0.8))
                if style == "songwriter" and per >= 2 * beat:        # thumb on 1 and 3
                    notes[-1] = (t0, per / 2 * 0.95, r, 0.8)
                    notes.append((t0 + per / 2, per / 2 * 0.95, fifth - 12 if fifth - 12 >= 40 else fifth, 0.7))
            elif style == "metal":                                   # 8ths locked to the guitars
                for q in range(int(round(per / (beat / 2)))):
                    notes.append((t0 + q * beat / 2, beat / 2 * 0.8, r, 0.85))
            elif style == "reggae":                                  # one-drop bass: drop beat 1, melodic
                pat = ((0.5, r, 0.9), (1.0, fifth, 0.6), (1.75, r + 12 if rng.random() < .3 else r, 0.5),
                       (2.5, r + scale[2], 1.0), (3.0, fifth, 0.9))
                for pos, m, d in pat:
                    if pos * beat < per:
                        notes.append((t0 + pos * beat, d * beat * 0.9, m, 0.85))
            elif style == "latin":                                   # tumbao: the "and" of 2 and beat 4
                for pos, m in ((1.5, fifth), (3.0, r + 12 if r + 12 < 55 else r)):
                    if pos * beat < per:
                        notes.append((t0 + pos * beat, min(1.5 * beat, per - pos * beat) * 0.95, m, 0.85))
            elif style == "edm":                                     # offbeat 8ths
                for q in range(int(round(per / beat))):
                    notes.append((t0 + (q + 0.5) * beat, beat * 0.45, r, 0.9))
            else:                                                    # pop, gospel: root-fifth 8ths/quarters
                step = beat if rng.random() < 0.5 else beat / 2
                q = 0
                while q * step < per - 1e-9:
                    m = r if q % 4 != 3 else (fifth if rng.random() < 0.5 else r + 12)
                    notes.append((t0 + q * step, step * 0.85, m, 0.7 + 0.2 * (q % 2 == 0)))
                    q += 1
    if swing:
        notes = [(t + swing * beat / 2 if abs((t / (beat / 2)) % 2 - 1) < 1e-6 else t, d, m, v) for t, d, m, v in notes]
    return notes


def melody(bar_chords: list, form: list[str], bar_s: float, beats: int, tonic: int, scale: tuple,
           lo: int, hi: int, rng: np.random.Generator, *, density: float = 0.6,
           sections=("verse", "chorus", "bridge")) -> list[tuple]:
    """A sung line: ``(t0_s, dur_s, midi, velocity, syllable)``; phrases with breaths between them."""
    beat = bar_s / beats
    out = []
    cur = int(np.clip(tonic + 12 + scale[2], lo, hi))
    scale_notes = sorted(m for m in range(lo, hi + 1) if (m - tonic) % 12 in scale)
    for b, (degs, sec) in enumerate(zip(bar_chords, form)):
        if sec not in sections or (b % 2 == 1 and rng.random() < 0.2):
            continue
        chord_pcs = {(tonic + scale[(degs[0] + 2 * k) % 7]) % 12 for k in range(3)}
        grid = 0.5 if rng.random() < density else 1.0
        t = b * bar_s + beat * (0.5 if rng.random() < 0.4 else 0.0)
        end = (b + 1) * bar_s - (beat if b % 2 == 1 else beat * 0.25)
        if bar_s < 2.4:                                          # fast songs: the phrase ends earlier, its last note held
            end_notes = end - beat * float(rng.choice([1.0, 1.5, 2.0]))
        else:
            end_notes = end - beat * float(rng.choice([0.5, 1.0]))
        lift = 2 if sec == "chorus" else 0
        while t < end_notes - 0.05:
            d = grid * beat * float(rng.choice([1, 1, 1, 2, 2, 3]))
            d = min(d, end_notes - t)
            if d < 0.08:
                break
            strong = abs(((t - b * bar_s) / beat) % 1) < 1e-6
            i = int(np.searchsorted(scale_notes, cur))
            step = int(rng.choice([-2, -1, -1, 0, 1, 1, 2, 3]) + (1 if lift and rng.random() < 0.3 else 0))
            i = int(np.clip(i + step, 0, len(scale_notes) - 1))
            m = scale_notes[i]
            if strong:
                near = [x for x in scale_notes if x % 12 in chord_pcs]
                m = min(near, key=lambda x: abs(x - m)) if near else m
            cur = m
            syl = str(rng.choice(CONSONANTS)) + "-" + str(rng.choice(VOWELS))
            out.append((t, d, int(m), 0.75 + 0.25 * rng.random(), syl))
            t += d
        # a phrase ends on a held note (where a singer's vibrato blooms), up to the breath
        if out and out[-1][0] >= b * bar_s:
            t0, d, m, v, syl = out[-1]
            if end - t0 > d:
                out[-1] = (t0, end - t0, m, v, syl)
    return out


def harmony_line(lead: list[tuple], tonic: int, scale: tuple, interval_steps: int) -> list[tuple]:
    """A diatonic harmony: every lead note moved ``interval_steps`` scale steps (e.g. +2 = a third above)."""
    out = []
    for t0, d, m, v, syl in lead:
        pcs = sorted((tonic + s) % 12 for s in scale)
        pc = m % 12
        if pc not in pcs:
            out.append((t0, d, m + (3 if interval_steps > 0 else -4), v, syl))
            continue
        i = pcs.index(pc)
        j = i + interval_steps
        m2 = m - pc + pcs[j % 7] + 12 * (j // 7)
        out.append((t0, d, int(m2), v, syl))
    return out
