"""Composition for :mod:`mixes.songs3`: form, chords with voice leading, melody, bass lines, comping.

Everything stays in the key: chords are the scale's own triads (sevenths in the jazz-ish style),
the bass plays chord tones and diatonic passing notes, the melody walks the scale and lands on
chord tones on strong beats.  Time is in 16th-note steps within a bar; :func:`step_time` turns a
step into seconds with the song's swing.
"""

from __future__ import annotations

import numpy as np

MAJOR = (0, 2, 4, 5, 7, 9, 11)
MINOR = (0, 2, 3, 5, 7, 8, 10)
PROGRESSIONS = {
    False: [(0, 4, 5, 3), (0, 5, 3, 4), (5, 3, 0, 4), (0, 3, 4, 3), (0, 2, 3, 4), (3, 4, 0, 0)],
    True: [(0, 5, 2, 6), (0, 3, 4, 0), (0, 6, 5, 6), (0, 3, 6, 2), (5, 6, 0, 0), (0, 2, 5, 4)],
}
JAZZ = {False: [(1, 4, 0, 0), (1, 4, 0, 5), (0, 5, 1, 4)], True: [(1, 4, 0, 0), (3, 6, 2, 5), (0, 3, 1, 4)]}


def degree_midi(tonic_midi: int, scale: tuple, d: int) -> int:
    """MIDI note of scale degree ``d`` (0-based, may exceed 6 or be negative)."""
    return tonic_midi + scale[d % 7] + 12 * (d // 7)


def scale_notes(tonic_pc: int, scale: tuple, lo: int, hi: int) -> list[int]:
    """All MIDI notes of the key in ``[lo, hi]``."""
    pcs = {(tonic_pc + s) % 12 for s in scale}
    return [m for m in range(lo, hi + 1) if m % 12 in pcs]


def chord_pcs(tonic_pc: int, scale: tuple, d: int, seventh: bool) -> list[int]:
    """Pitch classes of the diatonic triad (or seventh) on degree ``d``, root first."""
    ds = (d, d + 2, d + 4, d + 6) if seventh else (d, d + 2, d + 4)
    return [(tonic_pc + scale[x % 7]) % 12 for x in ds]


def voice_lead(prev: list[int] | None, pcs: list[int], lo: int, hi: int, centre: int) -> list[int]:
    """Close voicing of ``pcs`` in ``[lo, hi]`` moving least from ``prev`` (or nearest ``centre``)."""
    best, best_cost = None, np.inf
    for base in range(lo, hi - 11):
        v = sorted(base + (pc - base) % 12 for pc in pcs)
        if v[-1] > hi:
            continue
        if prev is None or len(prev) != len(v):
            cost = abs(np.mean(v) - (centre if prev is None else np.mean(prev)))
        else:
            cost = float(np.sum(np.abs(np.array(v) - np.array(sorted(prev)))))
        if cost < best_cost:
            best, best_cost = v, cost
    return best


def sections_for(n_bars: int, rng: np.random.Generator) -> list[tuple[str, int, int]]:
    """Song form as ``(name, first_bar, n_bars)``: intro, verses and choruses (4 or 8 bars), outro."""
    intro = 1 if n_bars <= 10 else 2
    out = [("intro", 0, intro)]
    b = intro
    names = ["verse", "chorus"]
    k = 0
    while b < n_bars:
        ln = 4 if n_bars < 20 or rng.random() < 0.5 else 8
        ln = min(ln, n_bars - b)
        out.append((names[k % 2], b, ln))
        b += ln
        k += 1
    return out


def step_time(step: float, step_s: float, swing: float, period: int) -> float:
    """Seconds from the bar's start of 16th ``step``, swung over ``period`` steps (2: 16ths, 4: 8ths)."""
    q = np.floor(step / period)
    u = (step - q * period) / period
    w = u * 2 * swing if u < 0.5 else swing + (u - 0.5) * 2 * (1 - swing)
    return float((q + w) * period * step_s)


CELLS = {"plain": [[4, 4, 8], [2, 2, 4, 8], [6, 2, 4, 4], [4, 2, 2, 8], [8, 4, 4], [12, 4], [2, 2, 2, 2, 8]],
         "busy": [[2, 2, 2, 2, 4, 4], [3, 3, 2, 4, 4], [1, 1, 2, 2, 2, 4, 4], [2, 1, 1, 4, 8], [3, 3, 2, 8]],
         "slow": [[8, 8], [12, 4], [4, 4, 8], [6, 2, 8], [16]]}


def melody(rng: np.random.Generator, sections, chords_by_bar, tonic_pc: int, scale: tuple, lo: int, hi: int,
           feel: str) -> list[tuple[int, float, float, int]]:
    """The lead line in 2-bar phrases with rests, in the key, chord tones on strong beats.

    Parameters
    ----------
    rng : numpy.random.Generator
    sections : list of (name, first_bar, n_bars)
        The form (:func:`sections_for`); the intro has no melody, the chorus sits higher.
    chords_by_bar : list of list of int
        The chord's pitch classes per bar.
    tonic_pc : int
        Tonic pitch class (0 = C).
    scale : tuple of int
        Semitones of the scale (:data:`MAJOR` / :data:`MINOR`).
    lo, hi : int
        The singer's range (MIDI).
    feel : str
        A key of :data:`CELLS` (rhythm cells in 16ths).

    Returns
    -------
    list of (bar, step, dur_steps, midi)
        ``step`` and ``dur_steps`` in 16th notes.
    """
    notes = scale_notes(tonic_pc, scale, lo, hi)
    out = []
    pos = len(notes) // 2
    for name, b0, nb in sections:
        if name == "intro":
            continue
        lift = 2 if name == "chorus" else 0
        for pb in range(b0, b0 + nb, 2):
            span = min(2, b0 + nb - pb) * 16
            s = int(rng.choice([0, 0, 2, 4]))
            target_len = span - int(rng.choice([4, 4, 6, 8])) if span > 16 else span - 4
            cells = CELLS[feel]
            pos = int(np.clip(pos + lift - (lift if rng.random() < 0.5 else 0), 2, len(notes) - 3))
            line = []
            while s < target_len:
                for d in cells[int(rng.integers(len(cells)))]:
                    if s >= target_len:
                        break
                    d = min(d, target_len - s)
                    line.append((s, d))
                    s += d
            for j, (s, d) in enumerate(line):
                bar = pb + s // 16
                pcs = chords_by_bar[min(bar, len(chords_by_bar) - 1)]
                step = int(rng.choice([-2, -1, -1, 0, 1, 1, 2, 3, -3], p=[.08, .22, .12, .1, .2, .12, .08, .04, .04]))
                pos = int(np.clip(pos + step, 0, len(notes) - 1))
                if s % 8 == 0 or j == len(line) - 1:                      # chord tone on strong beats
                    cand = [i for i, m in enumerate(notes) if m % 12 in pcs]
                    pos = min(cand, key=lambda i: (abs(i - pos), rng.random()))
                out.append((bar, float(s % 16), float(d), notes[pos]))
    return out


def bass_line(rng: np.random.Generator, style: str, sections, degrees_by_bar, tonic_pc: int, scale: tuple,
              groove: int) -> list[tuple[int, float, float, int, float]]:
    """Bass notes ``(bar, step, dur_steps, midi, velocity)`` following the chord roots."""
    def root(bar):
        d = degrees_by_bar[min(bar, len(degrees_by_bar) - 1)]
        pc = (tonic_pc + scale[d % 7]) % 12
        return 28 + (pc - 4) % 12, d

    def deg_note(d):                             # the scale degree d in the bass octave of degree 0
        base = 28 + (tonic_pc - 4) % 12
        return base + scale[d % 7] + 12 * (d // 7)

    out = []
    n_bars = sum(nb for _, _, nb in sections)
    for name, b0, nb in sections:
        for bar in range(b0, b0 + nb):
            r, d = root(bar)
            nxt, _ = root(bar + 1) if bar + 1 < n_bars else (r, d)
            if style == "fireside" or (name == "intro" and style not in ("club", "boombap")):
                fifth = deg_note(d + 4)
                fifth = fifth - 12 if fifth - r > 12 else fifth
                out += [(bar, 0.0, 8.0, r, 0.9), (bar, 8.0, 8.0, fifth if name != "intro" else r, 0.8)]
            elif style == "club":
                if groove:
                    out += [(bar, float(s), 2.0, r, 0.9) for s in (2, 6, 10, 14)]
                else:
                    out += [(bar, 0.0, 16.0, r, 1.0)]
            elif style == "boombap":
                ks = (0, 7, 10) if groove == 0 else (0, 3, 10)
                for j, s in enumerate(ks):
                    e = ks[j + 1] if j + 1 < len(ks) else 16
                    mid = r if j < 2 or rng.random() < 0.6 else deg_note(d + 4) - (12 if deg_note(d + 4) - r > 12 else 0)
                    out.append((bar, float(s), float(e - s), mid, 1.0 if j == 0 else 0.85))
            elif style == "lounge":                           # walking quarters, diatonic
                tones = [r, deg_note(d + 2), deg_note(d + 4)]
                tones = [t - 12 if t - r >= 12 else t for t in tones]
                b2 = tones[int(rng.integers(1, 3))]
                b3 = tones[2] if b2 != tones[2] else tones[1]
                up = nxt + (1 if rng.random() < 0.5 else -1) * 2
                cands = [m for m in scale_notes(tonic_pc, scale, 26, 52) if abs(m - nxt) in (1, 2)]
                b4 = min(cands, key=lambda m: abs(m - up)) if cands else r
                out += [(bar, float(4 * k), 4.0, m, 0.85 + 0.1 * (k == 0)) for k, m in enumerate((r, b2, b3, b4))]
            elif style == "garage":
                for s in range(0, 16, 2):
                    mid = r
                    if s == 14 and nxt != r:
                        cands = [m for m in scale_notes(tonic_pc, scale, 26, 52) if 0 < abs(m - nxt) <= 2]
                        mid = min(cands, key=lambda m: abs(m - r)) if cands else r
                    out.append((bar, float(s), 2.0, mid, 1.0 if s % 4 == 0 else 0.85))
            else:                                             # radio pop: 8ths with octave pops
                for s in range(0, 16, 2):
                    mid = r + 12 if (s in (6, 14) and groove and rng.random() < 0.6) else r
                    out.append((bar, float(s), 2.0 if s != 0 else 3.0, mid, 1.0 if s % 8 == 0 else 0.8))
    return out


def comp_pattern(instrument: str, style: str, bar: int, rng: np.random.Generator) -> list[tuple[float, float, float]]:
    """Chord hits in one bar ``(step, dur_steps, velocity)`` for a chord instrument."""
    if instrument in ("pad", "organ"):
        return [(0.0, 16.0, 0.8)]
    if instrument == "pluck":
        return [(float(s), 1.5, 0.8) for s in (2, 6, 10, 14)] + ([(7.0, 1.0, 0.5)] if bar % 2 else [])
    if instrument == "guitar_ac":
        pat = [(0, 4, 1.0), (4, 2, 0.7), (6, 4, 0.6), (10, 2, 0.6), (12, 2, 0.8), (14, 2, 0.55)]
        return [(float(s), float(d), v) for s, d, v in pat]
    if instrument == "guitar_dist":
        return [(float(s), 2.0, 0.9 if s % 4 == 0 else 0.75) for s in range(0, 16, 2)]
    if style == "lounge":                                     # Charleston and friends
        opts = [[(0, 3, 0.8), (6, 4, 0.7)], [(2, 2, 0.6), (6, 2, 0.7), (12, 4, 0.6)], [(0, 6, 0.8), (10, 4, 0.6)]]
        return [(float(s), float(d), v) for s, d, v in opts[int(rng.integers(3))]]
    if style == "boombap":
        return [(0.0, 7.0, 0.8), (7.0, 9.0, 0.6)]
    return [(0.0, 6.0, 0.8), (6.0, 4.0, 0.6), (10.0, 6.0, 0.7)]
