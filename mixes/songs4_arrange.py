"""Arrangement of :mod:`mixes.songs4`: which instrument plays what, where it sits, what it sends.

:func:`render` returns the dry stems (effects that belong to a part, such as a leslie, a
slapback or the voice's ping-pong delay, included), the reverb sends per stem, the notes
played and the choices made.  Each part uses its own random stream ``ctx.rng(seed, part)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy import signal

from mixes import songs4_drums as dr
from mixes import songs4_fx as fx
from mixes import songs4_inst as inst
from mixes import songs4_parts as parts
from mixes import songs4_voice as vc

STEMS = ("bass", "drums", "keys", "pads", "guitar", "voice")


@dataclass
class Context:
    fs: int
    n: int
    seed: int
    style: str
    tonic: int
    scale: tuple
    bpm: float
    bars: int
    sections: list
    chord_degs: list
    rng: Callable

    @property
    def beat_s(self) -> float:
        return 60.0 / self.bpm

    def idx(self, beats: float) -> int:
        return int(round(beats * self.beat_s * self.fs))

    def section_of(self, bar: int) -> str:
        for name, b0, nb in self.sections:
            if b0 <= bar < b0 + nb:
                return name
        return "outro"


def put(buf: np.ndarray, x: np.ndarray, i0: int) -> None:
    """Add ``x`` (mono or (2, m)) into ``buf`` at sample ``i0`` (cut at both ends)."""
    n = buf.shape[-1]
    if i0 >= n:
        return
    s = max(0, -i0)
    m = min(x.shape[-1] - s, n - i0 - s)
    if m > 0:
        buf[..., i0 + s: i0 + s + m] += x[..., s: s + m]


def _chord_notes(ctx, bar, low, high, prev, sevenths=False):
    d = ctx.chord_degs[min(bar, len(ctx.chord_degs) - 1)]
    return parts.voice_lead(prev, parts.chord(ctx.tonic, ctx.scale, d, sevenths), low, high)


# ----------------------------------------------------------------------------- bass
def _bass(ctx, meta, notes_out):
    r = ctx.rng(ctx.seed, 1)
    fs, st = ctx.fs, ctx.style
    low = {"trap": 26, "ambient": 36, "acappella": 40, "cinematic": 31}.get(st, 28)
    line = parts.bass_line(r, st, ctx.tonic, ctx.scale, ctx.chord_degs, ctx.bars, low)
    mono = np.zeros(ctx.n)
    kind = {"metal": "picked", "funk": "plucked", "folk": "upright", "bigband": "upright", "dub": "sub",
            "trap": "808", "cinematic": "bowed", "ambient": "drone", "acappella": "bass singer"}[st]
    meta["bass_kind"] = kind
    if kind == "bass singer":
        singer = vc.random_singer(r, female=False, straight=True, breathy=False, trained=True)
        phrases = [[(b * ctx.beat_s, (b + ln) * ctx.beat_s, m, str(r.choice(("u", "o", "uh"))), str(r.choice(("d", "m", ""))))]
                   for b, ln, m, v in line]
        mono = vc.sing(fs, ctx.n, phrases, singer, r)
    prev = None
    for b, ln, m, v in line:
        i0, dur = ctx.idx(b), ln * ctx.beat_s
        notes_out.append((b * ctx.beat_s, b * ctx.beat_s + dur, m))
        if kind == "bass singer":
            continue
        if kind in ("picked", "plucked", "upright"):
            br = {"picked": 0.55, "plucked": 0.75, "upright": 0.22}[kind]
            dec = {"picked": 1.6, "plucked": 0.9, "upright": 1.1}[kind]
            tone = inst.hz(m) * {"picked": 14.0, "plucked": 10.0, "upright": 5.0}[kind]
            x = inst.pluck(fs, m, dur, decay_s=dec, bright=br, pos=0.15 if kind != "upright" else 0.3,
                           seed=int(r.integers(1000)), release_s=0.025, tone_hz=tone)
            if kind == "picked":
                x = np.tanh(1.8 * x) / np.tanh(1.8)
        elif kind == "808":
            glide = prev is not None and prev != m and r.random() < 0.6
            x = inst.bass808(fs, m, dur, prev_midi=prev if glide else None, glide_s=0.07, drive=1.8)
        elif kind == "sub":
            x = dr._sum(inst.bass808(fs, m, dur, drive=1.2), 0.15 * inst.bass808(fs, m + 12, dur, drive=1.0))
        elif kind == "bowed":
            x = dr._sum(inst.bowed(fs, m, dur, 0.8, r, attack_s=0.12), 0.7 * inst.bowed(fs, m + 12, dur, 0.7, r, attack_s=0.12))
        else:
            x = inst.bass808(fs, m, dur + 0.3, drive=0.6)
        put(mono, v * x, i0)
        prev = m
    if kind in ("upright", "picked", "plucked"):                                    # the amp / the wood
        lp = {"upright": 1000.0, "picked": 2500.0, "plucked": 3000.0}[kind]
        mono = signal.sosfilt(signal.butter(2, lp / (fs / 2), output="sos"), mono)
    pos = float(r.uniform(-0.06, 0.06))
    out = fx.place(mono, fs, pos, 0.0)
    send = out * (0.3 if kind in ("bowed", "bass singer") else 0.0)
    return out, send


# ----------------------------------------------------------------------------- drums
def _drums(ctx, meta):
    r = ctx.rng(ctx.seed, 2)
    fs, st = ctx.fs, ctx.style
    kit_name = {"cinematic": "orchestral", "metal": "metal", "dub": "dub", "funk": "rock", "ambient": None,
                "trap": "808", "folk": "folk", "acappella": "beatbox", "bigband": "jazz"}[st]
    if st in ("folk", "acappella") and r.random() < 0.5:
        kit_name = None
    meta["kit"] = kit_name or "none"
    out, send = np.zeros((2, ctx.n)), np.zeros((2, ctx.n))
    if kit_name is None:
        return out, send
    pieces = dr.kit(kit_name, fs, r)
    pat = {"folk": "folk_drums"}.get(st, st)
    hits = dr.pattern(pat, ctx.bars, r)
    bufs = {k: np.zeros(ctx.n) for k in pieces}
    for beat, piece, vel in hits:
        if piece not in pieces:
            continue
        bar = int(beat // 4)
        if ctx.section_of(bar) == "intro" and st not in ("trap", "dub"):
            if piece not in ("hat", "ride") and r.random() < 0.7:
                continue
        t = beat * ctx.beat_s + r.normal(0, 0.003 if st != "trap" else 0.0005)
        v = vel * pieces[piece][2] * (1 + r.normal(0, 0.08))
        put(bufs[piece], pieces[piece][0] * v, int(max(t, 0) * fs))
    for k, b in bufs.items():
        y = fx.place(b, fs, pieces[k][1])
        out += y
        if k != "kick" or kit_name == "orchestral":
            send += y * (0.35 if kit_name == "orchestral" else 0.18)
    return out, send


# ----------------------------------------------------------------------------- keys
def _keys(ctx, meta):
    r = ctx.rng(ctx.seed, 3)
    fs, st = ctx.fs, ctx.style
    out = np.zeros((2, ctx.n))
    kind = {"cinematic": str(r.choice(("harp", "celesta"))), "metal": None, "dub": "organ", "funk": "tines",
            "ambient": "vibes", "trap": "bells", "folk": "harmonium" if r.random() < 0.5 else None,
            "acappella": None, "bigband": "piano"}[st]
    meta["keys"] = kind or "none"
    if kind is None:
        return out, out.copy()
    mono = np.zeros(ctx.n)
    prev = None
    loop = None
    for bar in range(ctx.bars):
        o = 4.0 * bar
        ch = _chord_notes(ctx, bar, 55, 74, prev, sevenths=kind in ("tines", "piano"))
        prev = ch
        if kind == "harp":
            arp = sorted(ch + [c + 12 for c in ch])
            for i in range(8):
                put(mono, 0.6 * inst.pluck(fs, arp[i % len(arp)], 1.6, decay_s=2.5, bright=0.5, pos=0.4, seed=i), ctx.idx(o + i / 2))
        elif kind == "celesta":
            for i in range(4):
                if r.random() < 0.7:
                    put(mono, 0.5 * inst.mallet(fs, int(r.choice(ch)) + 24, 0.5, 0.6, vibes=True), ctx.idx(o + i))
        elif kind == "organ":                                                      # skank on 2 and 4
            for k in (1, 3):
                x = sum(inst.drawbar_organ(fs, c, 0.35 * ctx.beat_s, bars=(0, 8, 0, 6, 0, 4), rng=r) for c in ch)
                put(mono, x, ctx.idx(o + k))
        elif kind == "tines":
            for pos in (0.0, 0.75, 1.5, 2.5, 3.25):
                if r.random() < 0.65:
                    vel = float(r.uniform(0.4, 0.9))
                    x = sum(inst.tine(fs, c, 0.4 * ctx.beat_s, vel) for c in ch)
                    put(mono, 0.4 * x, ctx.idx(o + pos))
        elif kind == "vibes":
            for i in range(4):
                if r.random() < 0.35:
                    put(mono, 0.5 * inst.mallet(fs, int(r.choice(ch)) + 12, 2.0, 0.5, vibes=True), ctx.idx(o + i))
        elif kind == "bells":
            if loop is None:
                loop = [int(r.choice(ch)) + 12 for _ in range(8)]
            for i, m in enumerate(loop):
                put(mono, 0.5 * inst.mallet(fs, m, 0.4, 0.7), ctx.idx(o + i / 2))
        elif kind == "harmonium":
            x = sum(inst.drawbar_organ(fs, c, 4 * ctx.beat_s, bars=(0, 6, 3, 5, 2, 0)) for c in ch)
            put(mono, 0.5 * x, ctx.idx(o))
        elif kind == "piano":
            for pos in (0.0, 1.0 + 2 / 3):                                        # charleston, swung
                x = sum(inst.piano(fs, c, 0.5 * ctx.beat_s, float(r.uniform(0.4, 0.7))) for c in ch)
                put(mono, 0.4 * x, ctx.idx(o + pos + (2 if r.random() < 0.4 else 0)))
    if kind == "organ":
        y = inst.leslie(mono, fs, float(r.uniform(0.7, 1.2)))
        y = y + fx.slapback(y, fs, float(r.uniform(0.09, 0.13)), 0.3)
        pos = float(r.uniform(0.2, 0.5))
        y = y * np.array([[np.cos((pos + 1) * np.pi / 4)], [np.sin((pos + 1) * np.pi / 4)]]) * np.sqrt(2)
    elif kind == "tines" and r.random() < 0.6:
        t = np.arange(ctx.n) / fs
        lfo = 0.6 * np.sin(2 * np.pi * r.uniform(3, 6) * t)
        y = np.stack([mono * (1 - lfo) / np.sqrt(2), mono * (1 + lfo) / np.sqrt(2)])
    else:
        y = fx.place(mono, fs, float(r.uniform(-0.5, 0.5)))
    return y, y * (0.3 if kind != "harmonium" else 0.2)


# ----------------------------------------------------------------------------- pads
def _pads(ctx, meta):
    r = ctx.rng(ctx.seed, 4)
    fs, st = ctx.fs, ctx.style
    out = np.zeros((2, ctx.n))
    kind = {"cinematic": "strings", "metal": "strings" if r.random() < 0.5 else None,
            "dub": "melodica" if r.random() < 0.5 else None, "funk": "horns", "ambient": "swell", "trap": "dark",
            "folk": None, "acappella": "choir", "bigband": "brass section"}[st]
    meta["pads"] = kind or "none"
    meta["sung_backing"] = kind == "choir"
    if kind is None:
        return out, out.copy()
    if kind == "choir":
        singers = [vc.random_singer(r, female=f, straight=bool(r.random() < 0.5), breathy=False) for f in (True, False, True)]
        ranges = ((62, 74), (52, 62), (57, 67))
        pos_list = (-0.6, 0.65, -0.25)
        for j, (sg, rg, pos) in enumerate(zip(singers, ranges, pos_list)):
            phrases, prev = [], None
            for bar in range(0, ctx.bars, 2):
                ch = _chord_notes(ctx, bar, rg[0], rg[1], prev)
                prev = ch
                m = ch[j % len(ch)]
                vw = "u" if ctx.section_of(bar) in ("intro", "verse") else "a"
                nxt = _chord_notes(ctx, bar + 1, rg[0], rg[1], ch)
                phrases.append([(4 * bar * ctx.beat_s, (4 * bar + 3.6) * ctx.beat_s, m, vw, ""),
                                ((4 * bar + 4) * ctx.beat_s, (4 * bar + 7.5) * ctx.beat_s, nxt[j % len(nxt)], vw, "")])
            out += fx.place(vc.sing(fs, ctx.n, phrases, sg, r), fs, pos)
        return out, out * 0.4
    voices = {"strings": 4, "swell": 4, "dark": 3, "melodica": 2, "horns": 3, "brass section": 4}[kind]
    rng_lo, rng_hi = {"strings": (48, 76), "swell": (52, 79), "dark": (45, 64), "melodica": (60, 76),
                      "horns": (55, 77), "brass section": (53, 79)}[kind]
    pos_list = np.linspace(-0.7, 0.7, voices) if kind != "melodica" else (0.45, 0.5)
    prev = None
    bufs = [np.zeros(ctx.n) for _ in range(voices)]
    for bar in range(ctx.bars):
        sec = ctx.section_of(bar)
        ch = _chord_notes(ctx, bar, rng_lo, rng_hi, prev, sevenths=voices == 4 and kind == "brass section")
        prev = ch
        ch = (ch * 2)[:voices]
        o = 4.0 * bar
        for j, m in enumerate(ch):
            if kind in ("strings", "swell", "dark"):
                if kind == "strings" and sec == "intro" and j > 1:
                    continue
                att = {"strings": 0.3, "swell": 1.5, "dark": 0.6}[kind]
                x = inst.bowed(fs, m, 4 * ctx.beat_s, 0.5, r, attack_s=att)
                if kind == "swell":
                    x = dr._sum(x, 0.5 * inst.drawbar_organ(fs, m, 4 * ctx.beat_s, bars=(0, 5, 0, 3, 0, 0)))
                put(bufs[j], x, ctx.idx(o))
            elif kind == "melodica":
                if bar % 2 == 1:
                    put(bufs[j], 0.6 * inst.brass(fs, m, 1.8 * ctx.beat_s, 0.3, r), ctx.idx(o + 2))
            elif kind == "horns":
                if sec == "chorus" or bar % 2 == 1:
                    for pos in (0.0, 1.5) if sec == "chorus" else (3.5,):
                        put(bufs[j], inst.brass(fs, m, 0.35 * ctx.beat_s, 0.9, r), ctx.idx(o + pos))
            else:                                                                  # brass section
                if sec == "chorus":
                    put(bufs[j], inst.brass(fs, m, 3.8 * ctx.beat_s, 0.7, r), ctx.idx(o))
                elif sec != "intro":
                    put(bufs[j], inst.brass(fs, m, 0.5 * ctx.beat_s, 0.9, r), ctx.idx(o + 2 + 2 / 3))
    for b, pos in zip(bufs, pos_list):
        if kind == "dark":
            b = fx.one_pole_lp(b, fs, 1200.0)
        out += fx.place(b, fs, float(pos))
    return out, out * (0.5 if kind in ("swell", "strings") else 0.3)


# ----------------------------------------------------------------------------- guitar
def _guitar(ctx, meta):
    r = ctx.rng(ctx.seed, 5)
    fs, st = ctx.fs, ctx.style
    out = np.zeros((2, ctx.n))
    kind = {"metal": "distorted", "funk": "chank", "dub": "skank", "folk": "fingerpicked"}.get(st)
    meta["guitar"] = kind or "none"
    if kind is None:
        return out, out.copy()
    if kind == "distorted":
        for take, pos in enumerate((-0.9, 0.9)):
            mono = np.zeros(ctx.n)
            for bar in range(ctx.bars):
                d = ctx.chord_degs[bar]
                root = parts.deg2midi(ctx.tonic, ctx.scale, d)
                root = root - 12 * ((root - 40) // 12)
                sec = ctx.section_of(bar)
                hits = [(i / 2, 0.4, 0.15) for i in range(8)] if sec in ("verse", "intro") else [(0, 1.9, 1.5), (2, 1.9, 1.5)]
                for b, ln, dec in hits:
                    x = sum(inst.pluck(fs, m, ln * ctx.beat_s, decay_s=dec, bright=0.6, seed=take * 3 + k)
                            for k, m in enumerate((root, root + 7, root + 12)))
                    put(mono, x, ctx.idx(4 * bar + b) + int(r.normal(0, 0.004) * fs) + 200)
            y = inst.cabinet(mono, fs, gain=float(r.uniform(8, 20)))
            out += fx.place(y, fs, pos, 0.0)
        return out, out * 0.12
    mono = np.zeros(ctx.n)
    prev = None
    for bar in range(ctx.bars):
        o = 4.0 * bar
        ch = _chord_notes(ctx, bar, 52, 71, prev)
        prev = ch
        if kind == "chank":
            for i in range(16):
                if i % 4 in (1, 3) and r.random() < 0.6 or i % 8 == 4:
                    x = sum(inst.pluck(fs, c, 0.09, decay_s=0.08, bright=0.8, seed=k) for k, c in enumerate(ch))
                    put(mono, (1.0 if i % 8 == 4 else 0.5) * x, ctx.idx(o + i / 4) + int(0.004 * fs * np.arange(1)[0]))
        elif kind == "skank":
            for k in (1, 3):
                x = sum(inst.pluck(fs, c + 12, 0.25 * ctx.beat_s, decay_s=0.2, bright=0.7, seed=j) for j, c in enumerate(ch))
                put(mono, x, ctx.idx(o + k))
        else:                                                                      # Travis-like picking
            low = parts.deg2midi(ctx.tonic, ctx.scale, ctx.chord_degs[bar])
            low = low - 12 * ((low - 40) // 12)
            seq = [low, ch[1], ch[2], ch[0] + 12, low + 7, ch[2], ch[1], ch[0] + 12]
            for i, m in enumerate(seq):
                put(mono, (0.9 if i % 2 == 0 else 0.65) * inst.pluck(fs, m, 1.4 * ctx.beat_s, decay_s=2.2, bright=0.45,
                                                                      pos=0.18, seed=i), ctx.idx(o + i / 2))
    pos = float(r.uniform(0.3, 0.6)) * (1 if r.random() < 0.5 else -1)
    y = fx.place(mono, fs, pos)
    if kind == "skank":
        y = y + fx.slapback(y, fs, 0.75 * ctx.beat_s, 0.25)
    if kind == "fingerpicked":                       # a second mic across (a lone guitar must not lean the mix)
        y = y + float(r.uniform(0.6, 0.85)) * fx.place(fx.one_pole_lp(mono, fs, 3000), fs, -pos)
    return y, y * 0.2


# ----------------------------------------------------------------------------- voice
def _voice(ctx, meta, notes_out):
    r = ctx.rng(ctx.seed, 6)
    fs, st = ctx.fs, ctx.style
    rap = st == "trap" and r.random() < 0.65
    opts = {"cinematic": dict(straight=False, trained=True), "metal": dict(female=False, straight=False),
            "funk": dict(female=False, falsetto=bool(r.random() < 0.5)), "ambient": dict(female=True, breathy=True,
                                                                                         straight=bool(r.random() < 0.7)),
            "trap": dict(rap=rap, straight=True), "folk": dict(straight=bool(r.random() < 0.5), trained=False),
            "bigband": dict(straight=False, trained=True), "dub": {}, "acappella": dict(breathy=False)}[st]
    singer = vc.random_singer(r, **opts)
    centre = (66 if singer.female else 55) + (7 if singer.falsetto else 0) + int(r.integers(-2, 3))
    if rap:
        phrases = parts.rap_line(r, ctx.sections, ctx.bpm, centre - 3)
    else:
        phrases = parts.melody(r, ctx.tonic, ctx.scale, lambda tb: ctx.chord_degs[min(int(tb // 4), len(ctx.chord_degs) - 1)],
                               ctx.sections, ctx.bpm, centre, st)
    full = []
    for ph in phrases:
        syl = vc.syllables(r, len(ph))
        full.append([(t0, t1, m, v, c) for (t0, t1, m, _a, _b), (v, c) in zip(ph, syl)])
    notes_out += [(t0, t1, m) for ph in full for (t0, t1, m, _v, _c) in ph]
    lead = vc.sing(fs, ctx.n, full, singer, r)
    out = np.stack([lead, lead]) * np.sqrt(0.5)
    chorus = [ph for ph in full if ctx.section_of(int(ph[0][0] / ctx.beat_s // 4)) == "chorus"]
    extra = str(r.choice(("none", "double", "harmony"))) if not rap else str(r.choice(("none", "double")))
    meta["voice_kind"] = singer.kind
    meta["backing_vocals"] = extra if chorus else "none"
    if chorus and extra == "double":
        for pos in (-0.7, 0.7):
            dt = float(r.uniform(0.012, 0.03))
            shifted = [[(t0 + dt, t1 + dt, m + 0.07 * pos, v, c) for (t0, t1, m, v, c) in ph] for ph in chorus]
            out += fx.place(vc.sing(fs, ctx.n, shifted, singer, r), fs, pos) * 10 ** (-7 / 20)
    elif chorus and extra == "harmony":
        sc = ctx.scale
        def third_up(m):                                                           # noqa: E306
            for k in (3, 4):
                if (int(round(m)) + k - ctx.tonic) % 12 in sc:
                    return m + k
            return m + 4
        harm = [[(t0, t1, third_up(m), v, c) for (t0, t1, m, v, c) in ph] for ph in chorus]
        pos = float(r.choice((-0.55, 0.55)))
        out += fx.place(vc.sing(fs, ctx.n, harm, singer, r), fs, pos) * 10 ** (-6 / 20)
    if st == "dub" or (st in ("trap", "funk") and r.random() < 0.3):
        out += fx.ping_pong(lead, fs, 0.75 * ctx.beat_s, 0.45, 2500.0) * 0.35
        meta["voice_delay"] = "ping-pong 3/8"
    elif st in ("folk", "bigband") and r.random() < 0.5:
        out += fx.slapback(out, fs, float(r.uniform(0.08, 0.12)), 0.2)
        meta["voice_delay"] = "slapback"
    send = out * (0.5 if st in ("ambient", "cinematic") else 0.25)
    return out, send


def render(ctx: Context):
    """``(stems, sends, notes, meta)`` of the song (see the module docstring)."""
    meta: dict = {"style": ctx.style}
    notes = {"voice": [], "bass": [], "chords": []}
    stems, sends = {}, {}
    stems["bass"], sends["bass"] = _bass(ctx, meta, notes["bass"])
    stems["drums"], sends["drums"] = _drums(ctx, meta)
    stems["keys"], sends["keys"] = _keys(ctx, meta)
    stems["pads"], sends["pads"] = _pads(ctx, meta)
    stems["guitar"], sends["guitar"] = _guitar(ctx, meta)
    stems["voice"], sends["voice"] = _voice(ctx, meta, notes["voice"])
    prev = None
    for bar in range(ctx.bars):
        prev = _chord_notes(ctx, bar, 55, 74, prev)
        t0 = 4 * bar * ctx.beat_s
        if t0 < ctx.n / ctx.fs:
            notes["chords"].append((t0, t0 + 4 * ctx.beat_s, tuple(prev)))
    return stems, sends, notes, meta
