"""Composition for :mod:`mixes.songs6`: the clock (tempo drift, swing), harmony, form and melody.

Times are counted in *pulses* (the notated beat: a quarter in 4/4 and 3/4, an eighth in 6/8) and
turned into seconds by a :class:`Clock` whose tempo wanders (a live band: a smooth random drift
of a percent or two and a push in the choruses) or stays on the grid (programmed styles).  Swing
moves the off-beat of each pulse (or of each half pulse, for swung sixteenths) later by a
continuous map, so swung and straight parts of one song share one clock.
"""

from __future__ import annotations

import numpy as np

MODES = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10),
}
NAMES = ("C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")

# progressions as scale degrees (0-based), per style (a song picks one)
PROGRESSIONS = {
    "jazztrio": [(1, 4, 0, 0), (1, 4, 0, 5), (0, 5, 1, 4)],
    "folk": [(0, 3, 0, 4), (0, 4, 5, 3), (0, 0, 3, 4)],
    "soul": [(0, 5, 3, 4), (0, 3, 0, 4), (5, 3, 0, 4)],
    "bossa": [(0, 1, 1, 4), (0, 0, 1, 4), (1, 4, 0, 5)],
    "bigroom": [(5, 3, 0, 4), (0, 5, 3, 4), (0, 6, 5, 6)],
    "lofi": [(1, 4, 0, 5), (3, 2, 1, 0), (0, 5, 3, 4)],
    "songwriter": [(0, 4, 5, 3), (0, 3, 5, 4), (5, 3, 0, 4)],
    "gospel": [(0, 3, 0, 4), (3, 4, 2, 5), (0, 2, 3, 4)],
    "rocklive": [(0, 6, 3, 0), (0, 3, 4, 3), (5, 3, 0, 4)],
}
SEVENTHS = {"jazztrio", "bossa", "lofi", "gospel", "soul"}

CONSONANTS = ("", "", "s", "sh", "f", "t", "k", "p", "h", "l", "m", "n", "d", "", "s", "t")
VOWELS = ("a", "e", "i", "o", "u", "ae", "er")


def key_name(pc: int, mode: str) -> str:
    return f"{NAMES[pc % 12]} {mode}"


class Clock:
    """Pulses -> seconds under a drifting tempo with swing.

    ``bpm`` is in pulses per minute; ``drift`` the relative size of the tempo wander (0 = grid);
    ``swing`` the position of the off-beat within its unit (0.5 straight, 0.67 hard triplet);
    ``swing_unit`` 1.0 swings eighths against a quarter pulse, 0.5 swings sixteenths.
    """

    def __init__(self, bpm: float, n_pulses: float, rng: np.random.Generator, *, drift: float = 0.0,
                 swing: float = 0.5, swing_unit: float = 1.0, push: list | None = None):
        self.bpm, self.swing, self.unit = float(bpm), float(swing), float(swing_unit)
        res = 16
        m = int(np.ceil(n_pulses + 8)) * res
        p = np.arange(m + 1) / res
        w = np.zeros(p.size)
        if drift > 0:                                   # smooth wander: a few slow sinusoids with random phases
            for k in range(1, 5):
                per = rng.uniform(6, 40)                # pulses per cycle
                w += rng.uniform(0.3, 1.0) / k * np.sin(2 * np.pi * p / per + rng.uniform(0, 2 * np.pi))
            w = drift * w / max(np.max(np.abs(w)), 1e-9)
        for a, b, amt in push or ():                    # a push (choruses rush a little), eased in and out
            x = np.clip((p - a) / 2.0, 0, 1) * np.clip((b - p) / 2.0, 0, 1)
            w += amt * np.sin(0.5 * np.pi * x) ** 2
        dur = 60.0 / (self.bpm * (1 + w))               # seconds per pulse
        self._p = p
        self._t = np.concatenate([[0.0], np.cumsum(dur[:-1] / res)])

    def swung(self, p):
        """The swing map (continuous, monotone) in pulses."""
        p = np.asarray(p, float)
        u = p / self.unit
        i = np.floor(u)
        f = u - i
        s = self.swing
        g = np.where(f < 0.5, f * 2 * s, s + (f - 0.5) * 2 * (1 - s))
        return (i + g) * self.unit

    def t(self, p, swing: bool = True):
        """Seconds at pulse position(s) ``p``."""
        q = self.swung(p) if swing else np.asarray(p, float)
        return np.interp(q, self._p, self._t)

    def local_bpm(self, p) -> float:
        h = 1e-3
        return float(60.0 * 2 * h / (self.t(p + h, False) - self.t(p - h, False)))


def chord(tonic: int, mode: str, degree: int, seventh: bool) -> list[int]:
    """MIDI notes of the diatonic chord on ``degree`` (root in octave 3-4), as a stack of thirds."""
    sc = MODES[mode]
    out = []
    for j in range(4 if seventh else 3):
        d = degree + 2 * j
        out.append(tonic + sc[d % 7] + 12 * (d // 7))
    return out


def make_form(n_bars: int, rng: np.random.Generator, bars_per_phrase: int = 4) -> list[str]:
    """Section name per bar: intro, verse, chorus, (bridge), chorus ..., outro."""
    intro = 0 if n_bars <= 2 else 1 if n_bars < 10 else int(rng.integers(1, 3))
    outro = 0 if n_bars < 8 else 1
    body = max(n_bars - intro - outro, 1)
    plan = ["verse", "chorus", "verse", "chorus", "bridge", "chorus", "chorus"]
    out = ["intro"] * intro
    i = 0
    while len(out) < intro + body:
        out += [plan[i % len(plan)]] * bars_per_phrase
        i += 1
    return (out[:intro + body] + ["outro"] * outro)[:n_bars]


RHYTHMS = {
    4: [((0, 1), (1, 1), (2, 1.5), (3.5, 0.5)), ((0, .5), (.5, .5), (1, 1), (2, 2)), ((0, 1.5), (1.5, .5), (2, 1), (3, 1)),
        ((.5, .5), (1, 1), (2, 1), (3, .5), (3.5, .5)), ((0, 2), (2, 1), (3, 1)), ((0, 1), (1, .5), (1.5, 1.5), (3, 1))],
    3: [((0, 1), (1, 1), (2, 1)), ((0, 2), (2, 1)), ((0, 1.5), (1.5, .5), (2, 1)), ((0, 1), (1, 2))],
    6: [((0, 2), (2, 1), (3, 3)), ((0, 3), (3, 2), (5, 1)), ((0, 1), (1, 1), (2, 1), (3, 3)), ((0, 3), (3, 3))],
}


def melody(form: list[str], bpb: int, chords: list[list[int]], scale_of_bar, lo: int, hi: int,
           rng: np.random.Generator) -> list[tuple]:
    """Lead notes ``(pulse, dur_pulses, midi, velocity, syllable)`` in the sung bars.

    Two-bar phrases; the second bar of each phrase leaves its last part free (a breath); strong
    positions take chord tones, weak ones step through the scale; the range is ``lo``..``hi``.
    """
    out = []
    pats = RHYTHMS[bpb]
    cur = (lo + hi) // 2
    motif = None
    for b, sec in enumerate(form):
        if sec not in ("verse", "chorus", "bridge"):
            continue
        sc = scale_of_bar(b)                            # (tonic midi, mode) at this bar (keys may modulate)
        tones = [(sc[0] + s) % 12 for s in MODES[sc[1]]]
        ctones = [c % 12 for c in chords[b]]
        if motif is None or rng.random() < 0.45:
            motif = pats[int(rng.integers(len(pats)))]
        notes = list(motif)
        second = (b % 2 == 1)
        if second:                                      # end of phrase: rest over the last quarter of the bar
            notes = [(p, min(d, 0.75 * bpb - p)) for p, d in notes if p < 0.7 * bpb]
        lift = 2 if sec == "chorus" else 0
        for p, d in notes:
            strong = (p % (3 if bpb == 6 else 1) == 0) and p in (0, 2, 3) or p == 0
            cands = np.arange(lo + lift, hi + 1)
            if strong:
                cands = cands[np.isin(cands % 12, ctones)]
            else:
                cands = cands[np.isin(cands % 12, tones)]
            if cands.size == 0:
                cands = np.arange(lo, hi + 1)
            step = rng.choice([-3, -2, -1, 1, 1, 2, 2, 4]) if not strong else rng.integers(-4, 5)
            target = cur + step
            cur = int(cands[np.argmin(np.abs(cands - target) + rng.uniform(0, 0.8, cands.size))])
            vel = float(rng.uniform(0.75, 1.0) * (1.08 if sec == "chorus" else 1.0))
            syl = str(rng.choice(CONSONANTS)) + "-" + str(rng.choice(VOWELS))
            out.append((b * bpb + p, max(d, 0.4), cur, vel, syl))
    return out
