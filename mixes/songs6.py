"""A sixth, independent song generator: acoustic-like physical models, a kit recorded in a room.

Same public interface as the other generators::

    from mixes.songs6 import make_song, STYLES
    s = make_song(seed, duration_s=30.0, fs=48000, key=None, voice=True, drums=True, reverb=True, style=None)
    s.stems["voice"]           # (2, n) float64; also "bass", "drums", "pads", "keys", "guitar"
    s.mix({"voice": -2.5})     # the mix with the voice 2.5 dB down (the stems sum to s.mix())
    s.key, s.tempo_bpm, s.style, s.sections, s.notes["meta"]

Written without reading the other generators' synthesis.  ``style = STYLES[seed % 9]``:
``jazztrio`` (walking upright bass, modal piano comping, brushes or ride with feathered kick,
3/4 jazz waltzes too), ``folk`` (6/8 or 4/4, fingerpicked nylon guitar, upright bass, harmonium,
a light kit or none), ``soul`` (motown: flatwound bass runs, piano, string section, guitar chanks on
the backbeat, ghost notes and rim shots, tape saturation and a bus compressor, a key change up
for the last chorus), ``bossa`` (nylon guitar bossa pattern, upright bass, cross-stick and
shaker, vibraphone), ``bigroom`` (EDM on the grid: sub bass, supersaw, plucks, claps,
side-chain pumping, heavy bus compression), ``lofi`` (hip hop: swung sixteenths, Rhodes-like
tines, soft pad with tape hiss, wow and flutter, a dull programmed kit), ``songwriter`` (voice
with piano or strummed guitar, soft bass and cello-like strings, often no drums, free tempo),
``gospel`` (12/8 or 4/4, organ with a rotating speaker, piano, a choir of harmonies on the
voice stem, a church, a key change), ``rocklive`` (double-tracked drive guitars, picked bass,
a loud kit with crashes and tom fills heard through overheads and room mics, bus compression).

What differs from the other generators: instruments are resonator banks excited by a pulse
(:mod:`mixes.songs6_inst`); drum kits are recorded through six microphones placed in a room
(close mics bleed, overheads comb-filter against them; :mod:`mixes.songs6_kit`); tempo drifts
and choruses push, swing can be on eighths or sixteenths, metres are 4/4, 3/4 and 6/8
(:mod:`mixes.songs6_score`); the voice is shaped by a spectral envelope in the STFT domain, with
fricatives, plosives, breaths and five vibrato habits, and doubled or harmonised lines in the
choruses on the voice stem (the lead is exactly centred; :mod:`mixes.songs6_voice`); the reverb is
a convolution with a response whose decay is set per octave band (:mod:`mixes.songs6_room`);
some songs fade in, some fade out.  The bus compressor's gain (from the full mix, voice
included) and the fades are applied to every stem, so the stems still sum to the mix and
``voice=False`` / ``drums=False`` leave every other stem bit-identical.  Nothing is cut: every
note and hit starts and ends at zero through a smooth ramp (tests check sample-to-sample
continuity).

``s.notes["meta"]`` names the singer (``voice_kind``: e.g. ``"female, late vibrato"`` or
``"male, straight tone"``), the bass (``bass_kind``), the metre, swing, modulation, fades and bus.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.signal import butter, sosfilt

from mixes import songs6_kit as kit
from mixes import songs6_room as room
from mixes.songs6_inst import add, drive, modal_note, pan, peaking, table_note
from mixes.songs6_score import MODES, PROGRESSIONS, SEVENTHS, Clock, chord, key_name, make_form, melody
from mixes.songs6_voice import render as sing

STYLES = ("jazztrio", "folk", "soul", "bossa", "bigroom", "lofi", "songwriter", "gospel", "rocklive")
STEMS = ("bass", "drums", "pads", "keys", "guitar", "voice")

SPEC = {   # bpm (pulses/min) per metre, metres, swing, drift, parts, reverb rt60, levels (dB vs the voice)
    "jazztrio": dict(metres=(4, 4, 3), bpm={4: (120, 175), 3: (130, 170)}, swing=(0.6, 0.67), drift=0.02, mode=("major", "dorian"),
                     bass="upright", keys="piano", pads=None, guitar=None, kit="jazz", rt=(0.7, 1.1),
                     habits=("late", "even", "fast"), lv=dict(bass=-4, drums=-7, keys=-5, pads=-30, guitar=-30)),
    "folk": dict(metres=(6, 6, 4), bpm={6: (150, 200), 4: (84, 110)}, swing=(0.5, 0.5), drift=0.025, mode=("major", "mixolydian"),
                 bass="upright", keys=None, pads="reed", guitar="nylon", kit="folk", rt=(1.0, 1.6),
                 habits=("none", "late", "even"), lv=dict(bass=-6, drums=-10, keys=-30, pads=-11, guitar=-4)),
    "soul": dict(metres=(4,), bpm={4: (92, 118)}, swing=(0.5, 0.56), drift=0.015, mode=("major", "minor"),
                 bass="flatwound", keys="piano", pads="bow", guitar="chank", kit="soul", rt=(1.2, 1.8),
                 habits=("wide", "even"), lv=dict(bass=-3, drums=-3, keys=-7, pads=-9, guitar=-9)),
    "bossa": dict(metres=(4,), bpm={4: (124, 146)}, swing=(0.5, 0.52), drift=0.01, mode=("major", "minor"),
                  bass="upright", keys="vibes", pads="bow", guitar="bossa", kit="bossa", rt=(0.9, 1.4),
                  habits=("none", "fast", "late"), lv=dict(bass=-6, drums=-9, keys=-9, pads=-14, guitar=-4)),
    "bigroom": dict(metres=(4,), bpm={4: (126, 128)}, swing=(0.5, 0.5), drift=0.0, mode=("minor",),
                    bass="sub", keys="pluck", pads="saw", guitar=None, kit="edm", rt=(2.0, 3.0),
                    habits=("even", "none"), lv=dict(bass=-2, drums=0, keys=-8, pads=-6, guitar=-30)),
    "lofi": dict(metres=(4,), bpm={4: (70, 88)}, swing=(0.56, 0.62), drift=0.0, mode=("dorian", "major"),
                 bass="sub", keys="tine", pads="soft", guitar=None, kit="lofi", rt=(0.5, 0.9),
                 habits=("none", "late"), lv=dict(bass=-3, drums=-2, keys=-4, pads=-12, guitar=-30)),
    "songwriter": dict(metres=(4, 4, 3), bpm={4: (70, 108), 3: (84, 120)}, swing=(0.5, 0.5), drift=0.03,
                       mode=("major", "major", "minor"), bass="upright", keys="piano", pads="bow", guitar="strum",
                       kit="brush", rt=(0.7, 1.2), habits=("late", "even", "none"),
                       lv=dict(bass=-9, drums=-12, keys=-5, pads=-15, guitar=-5)),
    "gospel": dict(metres=(6, 4), bpm={6: (160, 200), 4: (68, 84)}, swing=(0.5, 0.58), drift=0.02, mode=("major",),
                   bass="flatwound", keys="piano", pads="organ", guitar=None, kit="soul", rt=(1.8, 2.8),
                   habits=("wide", "even"), lv=dict(bass=-3, drums=-4, keys=-6, pads=-6, guitar=-30)),
    "rocklive": dict(metres=(4,), bpm={4: (108, 150)}, swing=(0.5, 0.5), drift=0.02, mode=("major", "mixolydian", "minor"),
                     bass="picked", keys=None, pads="organ", guitar="drive", kit="rock", rt=(1.4, 2.2),
                     habits=("even", "late", "none"), lv=dict(bass=-2, drums=0, keys=-30, pads=-12, guitar=-3)),
}


@dataclass(frozen=True)
class Song6:
    """A synthesised song: ``stems`` (name -> (2, n) float64, summing to the mix) and what was played."""

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
        """The stems summed, each scaled by ``gains_db[name]`` dB (``-inf`` leaves it out)."""
        g = dict(gains_db or {})
        bad = [k for k in g if k not in self.stems]
        if bad:
            raise ValueError(f"no stem named {bad[0]!r} (stems: {', '.join(self.stems)})")
        out = np.zeros((2, self.n_samples))
        for k, x in self.stems.items():
            d = g.get(k, 0.0)
            if d is None:
                d = 0.0
            if d == -np.inf:
                continue
            out += x if d == 0.0 else x * 10 ** (d / 20)
        return out


def _rng(seed: int, part: int) -> np.random.Generator:
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, 6, part])


def _rms_db(x) -> float:
    x = np.asarray(x)
    a = x[np.abs(x) > 1e-9]
    return 10 * np.log10(np.mean(a ** 2)) if a.size else -200.0


def make_song(seed: int, *, duration_s: float = 30.0, fs: int = 48000, key: int | None = None, voice: bool = True,
              drums: bool = True, reverb: bool = True, style: str | None = None) -> Song6:
    """Synthesise a song (see the module docstring).  ``key``: tonic pitch class 0-11 (random by
    default); ``voice=False`` / ``drums=False`` zero those stems and leave the others unchanged."""
    if not (isinstance(duration_s, (int, float)) and np.isfinite(duration_s) and 0 < duration_s <= 900):
        raise ValueError(f"duration_s must be in (0, 900] seconds, got {duration_s!r}")
    if not (isinstance(fs, (int, np.integer)) and 8000 <= fs <= 192000):
        raise ValueError(f"fs must be an integer sample rate 8000-192000 Hz, got {fs!r}")
    if key is not None and not (isinstance(key, (int, np.integer)) and 0 <= key <= 11):
        raise ValueError(f"key must be a pitch class 0-11 or None, got {key!r}")
    style = STYLES[int(seed) % len(STYLES)] if style is None else style
    if style not in SPEC:
        raise ValueError(f"unknown style {style!r} (styles: {', '.join(STYLES)})")
    fs, sp = int(fs), SPEC[style]
    n = int(round(duration_s * fs))
    r0 = _rng(seed, 0)
    pc = int(r0.integers(12)) if key is None else int(key)
    mode = str(r0.choice(sp["mode"]))
    bpb = int(r0.choice(sp["metres"]))
    bpm = float(np.round(r0.uniform(*sp["bpm"][bpb]), 1))
    swing = float(r0.uniform(*sp["swing"]))
    unit = 0.5 if style == "lofi" else (1.0 if bpb != 6 else 1.0)
    if bpb == 6:
        swing = 0.5
    tonic = 48 + pc
    prog = PROGRESSIONS[style][int(r0.integers(len(PROGRESSIONS[style])))]
    female = bool(r0.random() < 0.55)
    habit = str(r0.choice(sp["habits"]))
    end_s = max(duration_s - 1.0, 0.5)
    bar_s0 = 60.0 / bpm * bpb
    n_bars = max(1, int(end_s / bar_s0 * 0.98))
    form = make_form(n_bars, _rng(seed, 1))
    modulate = 0
    last_ch = max((b for b, s in enumerate(form) if s == "chorus"), default=-1)
    if style in ("soul", "gospel", "songwriter") and r0.random() < 0.6 and last_ch >= 8:
        modulate = int(r0.choice([1, 2]))
    first_last = last_ch
    while first_last > 0 and form[first_last - 1] == "chorus":
        first_last -= 1
    push = [(b0 * bpb, (b0 + 4) * bpb, 0.012) for b0 in range(len(form)) if form[b0] == "chorus"
            and (b0 == 0 or form[b0 - 1] != "chorus")] if sp["drift"] > 0 else []
    clock = Clock(bpm, n_bars * bpb, _rng(seed, 2), drift=sp["drift"], swing=swing, swing_unit=unit, push=push)

    def key_at(b):
        return (tonic + (modulate if modulate and b >= first_last else 0), mode)

    chords = [chord(key_at(b)[0], mode, prog[b % len(prog)], style in SEVENTHS) for b in range(n_bars)]
    T = lambda p: float(clock.t(p))                                       # noqa: E731
    # stop everything before the end (releases and reverb need room)
    last_t = T(n_bars * bpb)
    scale_t = min(1.0, end_s / max(last_t, 1e-9))
    if scale_t < 1.0:
        T = lambda p, _c=clock, _s=scale_t: float(_c.t(p)) * _s             # noqa: E731
    sections, cur = [], None
    for b, s in enumerate(form):
        if cur and cur[0] == s:
            cur[2] = T((b + 1) * bpb)
        else:
            cur = [s, T(b * bpb), T((b + 1) * bpb)]
            sections.append(cur)
    live = style not in ("bigroom", "lofi")
    hum = 0.008 if live else 0.0

    # ------------------------------------------------------------------ bass
    rb = _rng(seed, 3)
    bass = np.zeros(n)
    bass_notes = []
    lowest = 28 if sp["bass"] == "sub" else 31
    for b in range(n_bars):
        if form[b] == "intro" and style in ("bigroom", "songwriter"):
            continue
        root = chords[b][0]
        root = lowest + (root - lowest) % 12
        fifth = root + 7 if root + 7 <= lowest + 16 else root - 5
        nxt = lowest + (chords[(b + 1) % n_bars][0] - lowest) % 12
        p0 = b * bpb
        if sp["bass"] == "upright" and style == "jazztrio":
            tones = [root] + [root + int(rb.choice([3, 4, 7, 9, 10, 12, 5]) if rb.random() < .8 else 2) for _ in range(bpb - 2)]
            tones.append(nxt + int(rb.choice([-1, 1])))
            pat = [(p0 + i, 0.92, m) for i, m in enumerate(tones)]
        elif style == "bossa":
            pat = [(p0, 1.4, root), (p0 + 1.5, 0.45, fifth), (p0 + 2, 1.4, fifth), (p0 + 3.5, 0.45, root)]
        elif bpb == 6:
            pat = [(p0, 2.6, root), (p0 + 3, 1.6, fifth), (p0 + 5, 0.9, root + 12 if style == "gospel" else fifth)]
        elif bpb == 3:
            pat = [(p0, 1.8, root), (p0 + 2, 0.9, fifth)]
        elif style in ("soul", "gospel"):
            pat = [(p0, 0.8, root), (p0 + 1.5, 0.4, root), (p0 + 2, 0.9, fifth), (p0 + 3, 0.4, root + 12),
                   (p0 + 3.5, 0.4, nxt + int(rb.choice([-1, 1, -2])))]
        elif style == "bigroom":
            pat = ([(p0 + k + 0.5, 0.42, root) for k in range(4)] if form[b] == "chorus"
                   else [(p0, 3.8, root)])
        elif style == "lofi":
            pat = [(p0, 1.4, root), (p0 + 1.75, 0.6, root), (p0 + 2.5, 1.2, fifth)]
        elif style == "rocklive":
            pat = [(p0 + k * 0.5, 0.42, root) for k in range(8)]
        else:
            pat = [(p0, 1.8, root), (p0 + 2, 1.8, fifth)]
        for p, d, m in pat:
            t0 = T(p) + hum * rb.standard_normal() * 0.5
            dur = max(T(p + d) - T(p), 0.06)
            if t0 < 0 or t0 + dur > end_s:
                continue
            v = float(rb.uniform(0.75, 1.0))
            if sp["bass"] == "sub":
                sig = table_note("sub", m, dur, v, fs, rb, attack_s=0.006, release_s=0.04)
            else:
                sig = modal_note(sp["bass"], m, dur, v, fs, rb)
            add(bass, t0, sig, fs)
            bass_notes.append((round(t0, 4), round(dur, 4), int(m)))
    if sp["bass"] == "picked":
        bass = drive(bass, 2.0, fs, cab_hz=3500)
    if style == "jazztrio" or (sp["bass"] == "upright" and rb.random() < 0.5):
        # finger squeak on some shifts: quiet band noise
        for t0, _, _ in bass_notes[::5]:
            m2 = int(0.05 * fs)
            sq = sosfilt(butter(2, (1200, 3200), "band", fs=fs, output="sos"), rb.standard_normal(m2))
            add(bass, t0 - 0.03, 0.01 * sq * np.hanning(m2), fs)
    stems_dry = {"bass": np.stack([bass, bass])}
    sends = {"bass": bass * 0.05}

    # ------------------------------------------------------------------ keys
    rk = _rng(seed, 4)
    keys = np.zeros((2, n))
    piano = {}
    for b in range(n_bars):
        if sp["keys"] is None:
            break
        c = chords[b]
        p0 = b * bpb
        sec = form[b]
        if sp["keys"] == "piano":
            if style == "jazztrio":
                voic = [c[1] + 12, c[3 % len(c)] + 12 - (12 if c[3 % len(c)] + 12 > 72 else 0)] + ([c[0] + 24] if rk.random() < .5 else [])
                hits = [(p0 + float(rk.choice([0, 1.5, 2.5, 0.5]) % bpb), 0.6)] + ([(p0 + bpb - 0.5, 0.4)] if rk.random() < .6 else [])
            elif style == "songwriter":
                arp = [c[0] + 12, c[1] + 12, c[2] + 12, c[1] + 24]
                hits = [(p0 + k * 0.5, 0.9) for k in range(2 * bpb)]
                voic = None
            elif bpb == 6:
                voic = [m + 12 for m in c]
                hits = [(p0 + k, 0.8) for k in range(6)]
            else:
                voic = [m + 12 for m in c]
                hits = [(p0 + k, 0.85) for k in range(bpb)] + ([(p0 + 3.5, 0.4)] if rk.random() < .5 else [])
            for j, (p, d) in enumerate(hits):
                ms = [arp[j % 4]] if voic is None else voic
                for i, m in enumerate(ms):
                    t0 = T(p) + 0.006 * i + hum * rk.standard_normal() * 0.5
                    dur = max(T(p + d) - T(p), 0.08)
                    if 0 <= t0 and t0 + dur < end_s:
                        v = float(rk.uniform(0.45, 0.8) * (1.1 if j % bpb == 0 else 0.9))
                        sig = modal_note("piano", m, dur, min(v, 1.0), fs, rk)
                        slot = int(np.clip(round((m - 64) / 6), -3, 3))      # the player's view of the keyboard
                        add(piano.setdefault(slot, np.zeros(n)), t0, sig, fs)
        elif sp["keys"] in ("vibes", "tine", "pluck"):
            if sp["keys"] == "pluck":
                if sec != "chorus":
                    continue
                hits = [(p0 + k * 0.5 + 0.25 * (k % 2 == 1) * 0, 0.4, c[k % len(c)] + 24) for k in range(8)]
            elif sp["keys"] == "vibes":
                hits = [(p0 + 0.5, 1.2, c[1] + 12), (p0 + 0.5, 1.2, c[2] + 12), (p0 + 2.5, 1.0, c[0] + 24)]
            else:
                hits = [(p0, 2.2, m + 12) for m in c] + [(p0 + 2.5, 1.3, m + 12) for m in c[1:]]
            tmp = np.zeros(n)
            for i, (p, d, m) in enumerate(hits):
                t0 = T(p) + 0.004 * (i % 4)
                dur = max(T(p + d) - T(p), 0.08)
                if 0 <= t0 and t0 + dur < end_s:
                    add(tmp, t0, modal_note(sp["keys"], m, dur, float(rk.uniform(0.5, 0.9)), fs, rk), fs)
            keys += pan(tmp, float(rk.uniform(-0.3, 0.3))) if sp["keys"] != "pluck" else np.stack([tmp, 0.9 * tmp])
    for slot, tr in piano.items():
        keys += pan(tr, 0.2 * slot)
    if sp["keys"] == "pluck" and np.any(keys):                     # a ping-pong-ish 3/8 echo
        dly = int(T(0.75) * fs)
        if dly < n:
            e = np.zeros((2, n))
            e[1, dly:] = 0.45 * keys[0, :n - dly]
            keys = keys + e
    stems_dry["keys"] = keys
    sends["keys"] = keys.mean(axis=0) * 0.3

    # ------------------------------------------------------------------ guitar
    rg = _rng(seed, 5)
    gtr = np.zeros((2, n))
    gk = sp["guitar"]
    if style == "songwriter" and rg.random() < 0.5:
        gk = "strum"
    if gk:
        tracks = [np.zeros(n), np.zeros(n)]
        for b in range(n_bars):
            c = chords[b]
            p0 = b * bpb
            ev = []                                           # (pulse, dur, midi, vel, track)
            if gk == "nylon":
                thumb = [0, 3] if bpb == 6 else [0, 2] if bpb == 4 else [0]
                for p in range(bpb):
                    if p in thumb:
                        ev.append((p0 + p, 2.0, c[0] - 12 + (7 if p and rg.random() < .5 else 0), 0.8, 0))
                    else:
                        ev.append((p0 + p, 1.2, c[1 + (p % 2)] + (12 if p % 3 == 2 else 0), 0.55, 0))
                    if bpb == 4:
                        ev.append((p0 + p + 0.5, 0.8, c[(p + 1) % 3] + 12, 0.45, 0))
            elif gk == "bossa":
                ev += [(p0, 1.5, c[0] - 12, 0.8, 0), (p0 + 2, 1.5, c[2] - 12, 0.75, 0)]
                for p in ((0, 1.5, 2.5) if b % 2 == 0 else (0.5, 1.5, 3)):
                    ev += [(p0 + p, 0.6, m + 12 * (i == 0), 0.5, 0) for i, m in enumerate(c[1:])]
            elif gk == "chank":
                ev += [(p0 + p, 0.12, m + 12, 0.7, 0) for p in (1, 3) for m in c[:3]]
            elif gk == "strum":
                for k in range(2 * bpb):
                    if k % 4 == 3 and rg.random() < 0.5:
                        continue
                    down = k % 2 == 0
                    ms = [c[0] - 12, c[2] - 12, c[0], c[1], c[2], c[0] + 12]
                    ms = ms if down else ms[::-1][:4]
                    ev += [(p0 + 0.5 * k + 0.0025 * i * bpm / 60, 1.0, m, 0.5 if down else 0.35, 0) for i, m in enumerate(ms)]
            elif gk == "drive":
                pw = [c[0] - 12, c[0] - 5, c[0]]
                chorus = form[b] == "chorus"
                for tr in (0, 1):
                    if chorus:
                        ev += [(p0 + p, 1.9, m, 0.9, tr) for p in (0, 2) for m in pw]
                    else:
                        ev += [(p0 + 0.5 * k, 0.35, m, 0.8, tr) for k in range(8) for m in pw[:2]]
            for p, d, m, v, tr in ev:
                t0 = T(p) + (hum * rg.standard_normal() * 0.6 if live else 0.0) + (0.012 * tr)
                dur = max(T(p + d) - T(p), 0.05)
                if t0 < 0 or t0 + dur > end_s:
                    continue
                if gk == "drive":
                    sig = table_note("saw", m, dur, v, fs, rg, attack_s=0.004, release_s=0.05, detune_cents=7 * (tr - .5),
                                     max_hz=7000)
                else:
                    sig = modal_note("nylon" if gk != "chank" else "picked", m, dur, v * float(rg.uniform(0.85, 1.1)), fs, rg)
                add(tracks[tr], t0, sig, fs)
        if gk == "drive":
            l, r = drive(tracks[0], 6.0, fs), drive(tracks[1], 6.0, fs)
            gtr = np.stack([l + 0.15 * r, r + 0.15 * l])
        else:
            body = peaking(peaking(tracks[0], 105.0, 4.0, 3.0, fs), 220.0, 3.0, 2.5, fs)
            gtr = pan(body, float(rg.uniform(-0.45, 0.45)))
            if gk == "chank":
                gtr = pan(body, 0.5)
    stems_dry["guitar"] = gtr
    sends["guitar"] = gtr.mean(axis=0) * 0.25

    # ------------------------------------------------------------------ pads
    rp = _rng(seed, 6)
    pads = np.zeros((2, n))
    pk = sp["pads"]
    if pk:
        for b in range(n_bars):
            sec = form[b]
            if pk == "saw" and sec == "intro":
                continue
            if pk == "bow" and sec == "verse" and style != "songwriter" and rp.random() < 0.5:
                continue
            c = chords[b]
            t0, t1 = T(b * bpb), min(T((b + 1) * bpb), end_s)
            dur = t1 - t0
            if dur <= 0.1:
                continue
            for m in c:
                mm = m + (12 if pk == "saw" else 0) - (12 if style == "songwriter" and m == c[0] else 0)
                players = {"bow": 2, "saw": 5, "organ": 1, "reed": 1, "soft": 2}[pk]
                for j in range(players):
                    if pk == "bow":
                        sig = table_note("bow", mm, dur, 0.5, fs, rp, attack_s=float(rp.uniform(0.12, 0.3)), release_s=0.3,
                                         vibrato=(0.12, float(rp.uniform(5, 6)), 0.25), jitter=0.002,
                                         detune_cents=float(rp.uniform(-6, 6)))
                    elif pk == "saw":
                        sig = table_note("saw", mm, dur, 0.3, fs, rp, attack_s=0.02, release_s=0.12,
                                         detune_cents=(j - 2) * 9.0, max_hz=8000)
                    elif pk == "organ":
                        sig = table_note("organ", mm, dur, 0.5, fs, rp, attack_s=0.012, release_s=0.06, max_hz=6000)
                    elif pk == "reed":
                        sig = table_note("reed", mm, dur, 0.5, fs, rp, attack_s=0.08, release_s=0.15, jitter=0.001, max_hz=5000)
                    else:
                        sig = table_note("soft", mm + 12 * j, dur, 0.5, fs, rp, attack_s=0.4, release_s=0.5,
                                         detune_cents=4.0 * j)
                    tmp = np.zeros(n)
                    add(tmp, t0, sig, fs)
                    p = (j / max(players - 1, 1) - 0.5) * 1.4 if players > 1 else 0.0
                    pads += pan(tmp, p)
        if pk == "organ":                                   # rotating speaker: the two sides beat against each other
            t = np.arange(n) / fs
            rate = float(rp.choice([0.8, 6.6]))
            ph = 2 * np.pi * rate * t
            mono = pads.mean(axis=0)
            pads = np.stack([mono * (1 + 0.25 * np.sin(ph)), mono * (1 + 0.25 * np.sin(ph + 2.1))])
        if pk == "bow":
            pads = peaking(peaking(pads, 280.0, 3.0, 2.0, fs), 2800.0, 2.5, 1.5, fs)
        if pk == "reed":                                    # bellows
            t = np.arange(n) / fs
            pads = pads * (1 + 0.08 * np.sin(2 * np.pi * 0.35 * t))
        if pk == "soft":                                    # tape hiss under the pad
            pads = sosfilt(butter(2, 2500, "low", fs=fs, output="sos"), pads, axis=-1)
            hiss = sosfilt(butter(1, 3000, "high", fs=fs, output="sos"), rp.standard_normal((2, n)), axis=-1)
            pads = pads + hiss * 10 ** (-62 / 20) * np.max(np.abs(pads)) / 0.05
    stems_dry["pads"] = pads
    sends["pads"] = pads.mean(axis=0) * 0.4

    # ------------------------------------------------------------------ drums
    rd = _rng(seed, 7)
    kk = sp["kit"]
    if style in ("folk", "songwriter") and rd.random() < (0.35 if style == "folk" else 0.55):
        kk = None
    src = {}
    hits = {k: [] for k in ("kick", "snare", "hat", "ride", "crash", "tom1", "tom2", "brush", "clap", "shaker")}
    brush_spans = []
    if kk:
        brushes = kk in ("brush",) or (kk in ("jazz", "bossa") and rd.random() < 0.5)
        for b in range(n_bars):
            sec = form[b]
            p0 = b * bpb
            if sec == "intro" and style in ("bigroom", "songwriter", "folk"):
                continue
            if kk in ("jazz", "brush") or (kk == "bossa" and brushes):
                for q in range(bpb):
                    if brushes:
                        brush_spans.append((T(p0 + q), T(p0 + q + 1)))
                        if q % 2 == 1 or bpb == 3 and q > 0:
                            hits["brush"].append((p0 + q, 0.6, "tap"))
                    else:
                        hits["ride"].append((p0 + q, 0.7 + 0.2 * (q % 2), ""))
                        if q % 2 == 1 or (bpb == 3 and q == 2):
                            hits["ride"].append((p0 + q + 0.5, 0.5, ""))
                        if q % 2 == 1 or bpb == 3 and q > 0:
                            hits["hat"].append((p0 + q, 0.5, "pedal"))
                    hits["kick"].append((p0 + q, 0.12, ""))                    # feathered
                if not brushes and rd.random() < 0.5:
                    hits["snare"].append((p0 + float(rd.choice([1.5, 2.5, 3.5])) % bpb, 0.22, "hit"))   # comping
                if kk == "bossa":
                    for q in ((0, 1.5, 3) if b % 2 == 0 else (1, 2.5)):
                        hits["snare"].append((p0 + q, 0.7, "xstick"))
            elif kk == "bossa":
                for q in ((0, 1.5, 3) if b % 2 == 0 else (1, 2.5)):
                    hits["snare"].append((p0 + q, 0.7, "xstick"))
                for q in (0, 1.5, 2, 3.5):
                    hits["kick"].append((p0 + q, 0.5 if q in (0, 2) else 0.3, ""))
                for k in range(8):
                    hits["shaker"].append((p0 + k * 0.5, 0.7 if k % 2 else 0.45, ""))
            elif kk == "folk":
                if bpb == 6:
                    hits["kick"] += [(p0, 0.6, ""), (p0 + 3, 0.45, "")]
                    hits["snare"] += [(p0 + 3, 0.5, "xstick")]
                    hits["shaker"] += [(p0 + k, 0.5 + 0.2 * (k % 3 == 0), "") for k in range(6)]
                else:
                    hits["kick"] += [(p0, 0.6, ""), (p0 + 2, 0.5, "")]
                    hits["snare"] += [(p0 + 1, 0.5, "xstick"), (p0 + 3, 0.5, "xstick")]
                    hits["shaker"] += [(p0 + k * 0.5, 0.5, "") for k in range(8)]
            elif kk in ("soul", "rock"):
                six = bpb == 6
                back = (3,) if six else tuple(range(1, bpb, 2))
                rim = kk == "rock" and sec == "chorus" or (kk == "soul" and sec == "chorus" and rd.random() < .5)
                for q in back:
                    hits["snare"].append((p0 + q, 0.95, "rim" if rim else "hit"))
                kp = (0, 4) if six else ((0, 1.5, 2, 2.5) if kk == "soul" else (0, 2, 2.5))
                hits["kick"] += [(p0 + q, 0.9, "") for q in kp]
                step = 1 if six else 0.5
                cym = "ride" if (kk == "rock" and sec == "chorus") else "hat"
                for k in range(int(bpb / step)):
                    hits[cym].append((p0 + k * step, 0.7 if k % 2 == 0 else 0.5,
                                      "open" if (cym == "hat" and k == int(bpb / step) - 1 and rd.random() < .3) else "closed"))
                if kk == "soul" or six:                       # ghost notes on the sixteenths
                    for k in range(bpb * 2):
                        q = k * 0.5 + 0.25 if not six else k * 0.5 + 0.5
                        if rd.random() < 0.3 and all(abs(q - x) > 0.3 for x in back):
                            hits["snare"].append((p0 + q, float(rd.uniform(0.1, 0.22)), "hit"))
                if b == 0 or form[b - 1] != sec:
                    hits["crash"].append((p0, 0.9, ""))
                if b + 1 < n_bars and form[b + 1] != sec and kk == "rock":       # tom fill into the next section
                    for j, q in enumerate((bpb - 1, bpb - 0.75, bpb - 0.5, bpb - 0.25)):
                        hits["tom1" if j < 2 else "tom2"].append((p0 + q, 0.8, ""))
            elif kk == "edm":
                build = b + 1 < n_bars and form[b + 1] == "chorus" and sec != "chorus"
                for q in range(4):
                    if not build or q < 2:
                        hits["kick"].append((p0 + q, 1.0, ""))
                    hits["hat"].append((p0 + q + 0.5, 0.7, "open"))
                hits["clap"] += [(p0 + 1, 0.9, ""), (p0 + 3, 0.9, "")]
                if sec == "chorus":
                    hits["hat"] += [(p0 + k * 0.25, 0.35, "closed") for k in range(16) if k % 2]
                if build:
                    hits["snare"] += [(p0 + k * 0.25, 0.3 + 0.04 * k, "hit") for k in range(16)]
            elif kk == "lofi":
                hits["kick"] += [(p0, 0.9, ""), (p0 + 1.75, 0.6, ""), (p0 + 2.5, 0.8, "")]
                hits["snare"] += [(p0 + 1, 0.8, "hit"), (p0 + 3, 0.8, "hit")]
                hits["hat"] += [(p0 + k * 0.5, 0.55 if k % 2 == 0 else 0.35, "closed") for k in range(8)]
        kf = float(rd.uniform(48, 62))
        sf0 = float(rd.uniform(175, 230))
        for piece in hits:
            tr = np.zeros(n)
            if piece in ("ride", "crash"):
                ts = [(T(p) + hum * rd.standard_normal() * 0.5, v) for p, v, _ in hits[piece]]
                ts = [(t, v) for t, v in ts if 0 <= t < end_s]
                if ts:
                    src[piece] = kit.cymbal_track(ts, n, fs, rd, piece)
                continue
            for p, v, kind in hits[piece]:
                t0 = T(p) + hum * rd.standard_normal() * (0.5 if piece != "kick" else 0.3) + (0.018 if kk == "lofi" and piece == "snare" else 0)
                if t0 < 0 or t0 > end_s - 0.05:
                    continue
                v = v * float(rd.uniform(0.88, 1.06))
                if piece == "kick":
                    sig = kit.kick(fs, rd, v, f0=kf, tau=0.45 if kk == "edm" else 0.22,
                                   sweep=2.5 if kk == "edm" else 1.4, click=0.15 if kk == "jazz" else 0.3)
                elif piece == "snare":
                    sig = kit.snare(fs, rd, v, kind, f0=sf0)
                elif piece == "hat":
                    sig = kit.hat(fs, rd, v * 0.5, kind)
                elif piece in ("tom1", "tom2"):
                    sig = kit.tom(fs, rd, v, 150.0 if piece == "tom1" else 105.0)
                elif piece == "brush":
                    sig = kit.brush_tap(fs, rd, v)
                elif piece == "clap":
                    sig = kit.clap(fs, rd, v)
                else:
                    sig = kit.shaker(fs, rd, v)
                add(tr, t0, sig, fs)
            if np.any(tr):
                src[piece] = tr
        if brush_spans:
            src["brush"] = src.get("brush", np.zeros(n)) + kit.brush_swirl(brush_spans, n, fs, rd)
    if src:
        if live:
            dr = kit.record(src, fs, rd, room_rt=float(rd.uniform(0.35, 0.7)), close=float(rd.uniform(0.6, 1.2)))
        else:
            dr = kit.programmed(src)
            if kk == "lofi":
                dr = sosfilt(butter(2, 5500, "low", fs=fs, output="sos"), dr, axis=-1)
    else:
        dr = np.zeros((2, n))
    stems_dry["drums"] = dr
    sends["drums"] = (dr.mean(axis=0) * (0.12 if live else 0.2))

    # ------------------------------------------------------------------ voice
    rv = _rng(seed, 8)
    lo_hi = (55, 74) if female else (46, 64)
    mel = melody(form, bpb, chords, key_at, lo_hi[0], lo_hi[1], rv)
    vnotes = []
    for p, d, m, v, syl in mel:
        t0 = T(p) + 0.01 * rv.standard_normal() * (1 if live else 0.4)
        dur = max(T(p + d) - T(p) - 0.02, 0.12)
        if t0 > 0.05 and t0 + dur < end_s - 0.1:
            vnotes.append((t0, dur, m, v, syl))
    lead = sing(vnotes, n, fs, rv, habit=habit, female=female, breathy=float(rv.uniform(0.02, 0.12)))
    vox = np.stack([lead, lead])
    backing = "none"
    chorus_notes = []
    for nt in vnotes:
        b = next((i for i, s in enumerate(sections) if s[1] <= nt[0] < s[2]), None)
        if b is not None and sections[b][0] == "chorus":
            chorus_notes.append(nt)
    if chorus_notes and (style in ("gospel", "soul", "rocklive", "bigroom") or rv.random() < 0.35):
        def third_above(m, t):
            tn = key_at(n_bars - 1 if modulate and t >= T(first_last * bpb) else 0)[0]
            sc = [(tn + s) % 12 for s in MODES[mode]]
            for up in (3, 4):
                if (m + up) % 12 in sc:
                    return m + up
            return m + 4
        if style in ("gospel", "soul") or rv.random() < 0.5:
            backing = "harmony"
            parts = [([(a, d, third_above(m, a), v * 0.9, s) for a, d, m, v, s in chorus_notes], -0.55, 0.0),
                     ([(a, d, m - 5 if style == "gospel" else m, v * 0.9, s) for a, d, m, v, s in chorus_notes], 0.55, 6.0)]
        else:
            backing = "double"
            parts = [(chorus_notes, -0.8, 7.0), (chorus_notes, 0.8, -6.0)]
        for nts, p, det in parts:
            bv = sing(nts, n, fs, rv, habit="none" if habit == "none" else "even", female=female,
                      breathy=0.06, detune_cents=det, shift_s=float(rv.uniform(0.008, 0.025)))
            vox = vox + pan(bv, p) * 10 ** (float(rv.uniform(-9, -6)) / 20) * np.sqrt(2)
    stems_dry["voice"] = vox
    sends["voice"] = lead * 0.3 + (vox.mean(axis=0) - lead) * 0.5

    # ------------------------------------------------------------------ levels, space, bus
    rm = _rng(seed, 9)
    ref = _rms_db(lead) if np.any(lead) else -20.0
    lv = sp["lv"]
    for k in ("bass", "drums", "keys", "pads", "guitar"):
        x = stems_dry[k]
        if not np.any(x):
            continue
        g = 10 ** ((ref + lv[k] + float(rm.uniform(-1.5, 1.5)) - _rms_db(x.mean(axis=0) if k != "drums" else x)) / 20)
        stems_dry[k] = x * g
        sends[k] = sends[k] * g
    rt60 = float(rm.uniform(*sp["rt"]))
    stems = {}
    if reverb:
        ir = room.hall_ir(rt60, fs, rm, predelay_s=float(rm.uniform(0.008, 0.03)), n_early=int(rm.integers(6, 16)))
        for k in STEMS:
            stems[k] = stems_dry[k] + room.wet(sends[k], ir, n) * 0.5
    else:
        stems = dict(stems_dry)
    tape_db = float(rm.uniform(2, 6)) if style in ("soul", "lofi", "rocklive") or (style == "folk" and rm.random() < .5) else 0.0
    if tape_db:
        stems = {k: room.tape(x, tape_db if k != "voice" else tape_db / 2, fs) for k, x in stems.items()}
    if style == "lofi":
        wr = _rng(seed, 10)
        state = wr.bit_generator.state
        for k in ("bass", "drums", "keys", "pads", "guitar"):
            wr.bit_generator.state = state                 # one machine: the same wander on every stem
            stems[k] = room.wow(stems[k], fs, wr)
    if style == "bigroom":                                  # side-chain pump from the kick's grid
        t = np.arange(n) / fs
        beat = np.array([T(q) for q in range(n_bars * bpb + 1)])
        i = np.clip(np.searchsorted(beat, t, side="right") - 1, 0, beat.size - 1)
        since = t - beat[i]
        onset = np.clip(since / 0.004, 0, 1)
        pump = 1 - 0.55 * np.exp(-since / 0.09) * (0.5 - 0.5 * np.cos(np.pi * onset))
        pump = sosfilt(butter(1, 40, "low", fs=fs, output="sos"), pump - 1) + 1
        for k in ("bass", "pads", "keys"):
            stems[k] = stems[k] * pump
    fade_in = float(rm.uniform(1.5, 4.0)) if (rm.random() < 0.2 and duration_s >= 12 and style != "bigroom") else 0.0
    fade_out = float(rm.uniform(3.0, min(8.0, 0.3 * duration_s))) if (rm.random() < 0.35 and duration_s >= 12) else 0.6
    env = room.smooth_env(n, fs, fade_in, fade_out)
    full = sum(stems.values())
    comp = {"bigroom": (6.0, 0.005), "rocklive": (4.0, 0.01), "soul": (3.0, 0.02), "gospel": (2.5, 0.02)}.get(style)
    gain = env
    if comp:
        ratio, att = comp
        lvl = _rms_db(full)
        gain = env * room.bus_gain(full * env, fs, threshold_db=lvl - 4.0, ratio=ratio, attack_s=att, release_s=0.18)
    mixed = full * gain
    peak = float(np.max(np.abs(mixed))) + 1e-12
    target = 10 ** (-float(rm.uniform(1.0, 3.0)) / 20)
    gain = gain * (target / peak)
    out = {k: x * gain for k, x in stems.items()}
    if not voice:
        out["voice"] = np.zeros((2, n))
    if not drums:
        out["drums"] = np.zeros((2, n))
    bass_kind = {"upright": "upright", "flatwound": "finger", "picked": "pick", "sub": "sub"}[sp["bass"]]
    vib = {"late": "late vibrato", "even": "vibrato", "wide": "wide vibrato", "fast": "fast vibrato",
           "none": "straight tone"}[habit]
    meta = dict(bass_kind=bass_kind, voice_kind=f"{'female' if female else 'male'}, {vib}", metre=f"{bpb}/{8 if bpb == 6 else 4}",
                swing=round(swing, 3), drift=sp["drift"], modulation=modulate, backing=backing, kit=kk or "none",
                live_kit=bool(src) and live, rt60_s=round(rt60, 2), tape_db=round(tape_db, 1),
                bus=f"comp {comp[0]}:1" if comp else "none", fade_in_s=round(fade_in, 2), fade_out_s=round(fade_out, 2),
                guitar=gk or "none", pads=pk or "none", keys=sp["keys"] or "none", mode=mode)
    notes = {"voice": vnotes, "bass": bass_notes, "chords": chords, "meta": meta}
    return Song6(fs=fs, stems=out, key=key_name(pc, mode), tonic_midi=tonic, scale=MODES[mode], tempo_bpm=bpm,
                 style=style, sections=tuple((s, round(a, 4), round(b, 4)) for s, a, b in sections), notes=notes)
