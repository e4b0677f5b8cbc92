"""Who plays what in a :mod:`mixes.songs5` song: parts per style, levels, panning, sends.

:func:`arrange` returns the dry stems (2, n) before the room, a mono reverb send per stem, the notes
played and the choices made.  Every part gets its own random stream (``[seed, part]``), so the
voice's choices never move another stem.  Levels are set per part as an rms over the part's
active samples (dB), then panned; a part's send feeds the song's one room.
"""

from __future__ import annotations

import numpy as np
from scipy import signal

from mixes import songs5_drums as drums
from mixes import songs5_inst as inst
from mixes import songs5_parts as parts
from mixes import songs5_voice as voice
from mixes.songs5_dsp import compressor_gain, eq, pan, saturate

STEMS = ("bass", "drums", "pads", "keys", "guitar", "voice")
SEND_DB = {"bass": -30.0, "drums": -16.0, "pads": -7.0, "keys": -12.0, "guitar": -13.0, "voice": -10.0}
WET_STYLE_DB = {"orchestral": 5.0, "gospel": 2.0, "edm": 1.0, "jazz": -2.0, "metal": -4.0, "trap": -1.0,
                "songwriter": -1.0, "reggae": 2.0, "latin": 0.0, "pop": 0.0}


def _rng(seed: int, part: int) -> np.random.Generator:
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, 100 + part])


def _level(x: np.ndarray, rms_db: float) -> np.ndarray:
    """Scale ``x`` so that its rms over its active samples is ``rms_db`` dBFS."""
    a = np.abs(x if x.ndim == 1 else x.sum(axis=0))
    if not np.any(a):
        return x
    act = a > 1e-3 * a.max()
    r = np.sqrt(np.mean((x if x.ndim == 1 else x.mean(axis=0))[act] ** 2)) + 1e-12
    return x * (10 ** (rms_db / 20) / r)


def _bar_chords(ctx, lo: int, hi: int, *, seventh: bool = False, n_notes: int = 3) -> list[tuple]:
    """Voiced chords ``(t0_s, dur_s, (midi, ...))`` (one or two per bar), voice-led in [lo, hi]."""
    out, prev = [], None
    for b, degs in enumerate(ctx["chords"]):
        per = ctx["bar_s"] / len(degs)
        for j, d in enumerate(degs):
            c = parts.chord_notes(ctx["tonic"], d, ctx["scale"], n_notes, seventh)
            v = parts.voice_near(c, prev, lo, hi)
            prev = v
            out.append((b * ctx["bar_s"] + j * per, per, tuple(v), ctx["form"][b]))
    return out


def _active(ctx, sec: str, skip=("break",)) -> bool:
    return sec not in skip


def _comp(ctx, chords, rng, rhythm: str) -> list[tuple]:
    """Chord notes as ``(t0, dur, midi, vel)`` for a comping rhythm (held, quarters, stabs, montuno, skank...)."""
    beat = ctx["bar_s"] / ctx["beats"]
    notes = []
    for t0, per, ch, sec in chords:
        if sec == "break" or t0 >= ctx["stop_s"]:
            continue
        if rhythm == "held":
            hits = [(0.0, per * 0.98)]
        elif rhythm == "quarters":
            hits = [(q * beat, beat * 0.9) for q in range(int(round(per / beat)))]
        elif rhythm == "skank":                                # offbeats: 2 and 4, very short
            hits = [(q * beat, beat * 0.18) for q in range(1, int(round(per / beat)), 2)]
        elif rhythm == "bubble":                               # organ: the "ands", short
            hits = [((q + 0.5) * beat, beat * 0.35) for q in range(int(round(per / beat)))]
        elif rhythm == "montuno":
            hits = [(p * beat, beat * 0.4) for p in (0, 1.5, 2.5, 3, 3.5) if p * beat < per]
        elif rhythm == "stabs":                                # jazz comping: syncopated, varied
            hits = [(p * beat, beat * rng.uniform(0.3, 1.2)) for p in sorted(rng.choice(
                np.arange(0, per / beat, 0.5), size=min(2, int(per / beat * 2)), replace=False))]
        elif rhythm == "arp":
            hits = []
            step = beat / 4
            for q in range(int(round(per / step))):
                m = ch[q % len(ch)] + 12 * ((q // len(ch)) % 2)
                notes.append((t0 + q * step, step * 0.8, m, 0.55 + 0.3 * (q % 4 == 0)))
            continue
        else:
            raise ValueError(rhythm)
        for p, d in hits:
            spread = rng.uniform(0.0, 0.012)                   # a hand is not a chord generator
            for i, m in enumerate(ch):
                notes.append((t0 + p + i * spread * 0.3, d, m, 0.6 + 0.25 * rng.random()))
    return notes


def _strum(ctx, chords, rng, *, thumb: bool) -> tuple[list, list]:
    """An acoustic guitar: strummed or fingerpicked chords (upper strings) and the thumb's bass notes."""
    beat = ctx["bar_s"] / ctx["beats"]
    pick = rng.random() < 0.4
    up, bass = [], []
    for t0, per, ch, sec in chords:
        if t0 >= ctx["stop_s"]:
            continue
        shape = sorted({m for m in ch} | {ch[0] + 12, ch[1] + 12})
        root = ch[0] - 12 if ch[0] - 12 >= 40 else ch[0]
        if pick:                                                # fingerpicking: 8ths over the strings
            for q in range(int(round(per / (beat / 2)))):
                m = shape[(q * 2 + q // 3) % len(shape)]
                up.append((t0 + q * beat / 2, beat * 1.5, m, 0.5 + 0.2 * rng.random()))
            for q in range(0, int(round(per / beat)), 2):
                bass.append((t0 + q * beat, beat * 1.9, root if q % 4 == 0 else root + 7 - 12 * (root + 7 > 52),
                             0.75))
        else:                                                   # D D U U D U
            pat = [(0, 1), (1, 1), (1.5, -1), (2.5, -1), (3, 1), (3.5, -1)]
            ends = [p for p, _ in pat if p * beat < per] + [per / beat]
            for (p, d), nxt in zip([x for x in pat if x[0] * beat < per], ends[1:]):
                order = shape if d > 0 else shape[::-1]
                dur = (nxt - p) * beat + 0.02
                for i, m in enumerate(order):
                    up.append((t0 + p * beat + i * rng.uniform(0.006, 0.014), dur, m,
                               (0.7 if d > 0 else 0.45) * rng.uniform(0.8, 1.0)))
            bass.append((t0, min(per, 2 * beat), root, 0.8))
            if per > 2 * beat:
                bass.append((t0 + 2 * beat, per - 2 * beat, root + 7 if root + 7 <= 52 else root - 5, 0.7))
    return up, bass


def _distorted(ctx, rng, take: int) -> np.ndarray:
    """One take of a palm-muted distorted rhythm guitar (power chords), through amp and cabinet."""
    fs, n = ctx["fs"], ctx["n"]
    beat = ctx["bar_s"] / ctx["beats"]
    notes = []
    trng = np.random.default_rng([ctx["seed"] & 0xFFFFFFFF, 900 + take])
    for b, (degs, sec) in enumerate(zip(ctx["chords"], ctx["form"])):
        if sec == "break" or b * ctx["bar_s"] >= ctx["stop_s"]:
            continue
        r = ctx["tonic"] - 12 + ctx["scale"][degs[0] % 7]
        r = r + 12 if r < 40 else r
        step = beat / (4 if sec == "chorus" else 2)
        for q in range(int(round(ctx["bar_s"] / step))):
            t0 = b * ctx["bar_s"] + q * step + trng.normal(0, 0.004)
            mute = sec != "chorus" and q % 4 != 0
            for m in (r, r + 7, r + 12):
                notes.append((max(t0, 0), step * (0.5 if mute else 0.95), m, 0.9 if not mute else 0.6))
    cache: dict = {}
    x = inst.render(notes, n, fs, lambda m, d: inst.wt_note(m, d, fs, kind="saw", voices=1, attack_s=0.003,
                                                              release_s=0.02, seed=take), cache, key=f"dist{take}")
    x = eq(x, fs, ("hp", 90.0, 0.7, 0), ("peak", 700.0, 0.8, 4.0))
    x = saturate(x / (np.max(np.abs(x)) + 1e-12) * 12.0, 1.0)
    return eq(x, fs, ("lp", 5200.0, 0.7, 0), ("lp", 6500.0, 0.7, 0), ("peak", 120.0, 1.0, 3.0), ("peak", 2500, 1.5, 3))


def _piano_sample(ctx, rng) -> np.ndarray | None:
    """The real piano recording in the song's key, looped under the song (muted in breaks)."""
    fs, n = ctx["fs"], ctx["n"]
    y = inst.piano_layer(fs, ctx["tonic_pc"])
    if y is None:
        return None
    off = int(rng.integers(0, y.shape[1] // 2))
    reps = int(np.ceil((n + off) / y.shape[1])) + 1
    xf = int(0.05 * fs)
    seg = [y]
    for _ in range(reps - 1):                                  # loop with a 50-ms crossfade
        w = np.linspace(0, 1, xf)
        prev = seg[-1]
        joined = prev[:, -xf:] * (1 - w) + y[:, :xf] * w
        seg[-1] = prev[:, :-xf]
        seg += [joined, y[:, xf:]]
    z = np.concatenate(seg, axis=1)[:, off: off + n]
    g = np.ones(n)
    for b, sec in enumerate(ctx["form"]):
        if sec == "break":
            s0, s1 = int(b * ctx["bar_s"] * fs), int((b + 1) * ctx["bar_s"] * fs)
            g[s0:s1] = 0
    g[int(ctx["stop_s"] * fs):] = 0
    g = signal.oaconvolve(g, np.hanning(int(0.08 * fs)) / np.hanning(int(0.08 * fs)).sum(), mode="same")
    return z * g


def _pump(ctx, kick: np.ndarray, depth: float) -> np.ndarray:
    """A sidechain gain from the kick track: down by ``depth`` at each kick, back in ~0.15 s."""
    fs = ctx["fs"]
    env = np.abs(kick)
    env = signal.sosfilt(signal.butter(1, 20.0, fs=fs, output="sos"), env)
    env = env / (np.max(env) + 1e-12)
    L = int(0.25 * fs)
    k = np.exp(-np.arange(L) / (0.06 * fs))
    g = signal.oaconvolve(env, k / k.max() * 0.02, mode="full")[: kick.size]
    return 1 - depth * np.clip(g / (np.percentile(g[g > 0], 99) if np.any(g > 0) else 1), 0, 1)


def arrange(ctx: dict):
    """Dry stems, sends, notes and choices of a song (``ctx`` from :func:`mixes.songs5.make_song`)."""
    st, fs, n, seed = ctx["style"], ctx["fs"], ctx["n"], ctx["seed"]
    stems = {k: np.zeros((2, n)) for k in STEMS}
    sends = {k: np.zeros(n) for k in STEMS}
    meta: dict = {}
    notes: dict = {}
    cache: dict = {}
    lv = {"bass": -17.0, "drums": -17.0, "pads": -25.0, "keys": -22.0, "guitar": -21.0, "voice": -17.0}
    lv.update({"orchestral": {"pads": -18.0, "keys": -24.0, "bass": -21.0, "drums": -21.0},
               "metal": {"guitar": -15.0, "pads": -28.0, "drums": -15.0},
               "edm": {"pads": -20.0, "keys": -24.0, "bass": -18.0, "drums": -15.0},
               "songwriter": {"guitar": -17.0, "bass": -21.0},
               "trap": {"bass": -14.0, "drums": -17.0, "keys": -25.0},
               "reggae": {"bass": -14.0, "keys": -24.0, "guitar": -23.0},
               "gospel": {"pads": -21.0, "keys": -21.0}, "jazz": {"keys": -19.0, "bass": -17.0, "drums": -21.0},
               "latin": {"keys": -20.0, "pads": -25.0, "drums": -17.0}}.get(st, {}))
    lrng = _rng(seed, 0)
    lv = {k: v + lrng.uniform(-2.0, 2.0) for k, v in lv.items()}
    stop = ctx["stop_s"]

    def put(stem, x, p=0.0, send=None):
        x = np.asarray(x)
        s2 = pan(x, p) if x.ndim == 1 else x
        stems[stem] += s2
        sends[stem] += s2.mean(axis=0) * 10 ** (((SEND_DB[stem] if send is None else send) + WET_STYLE_DB[st]) / 20)

    # ---------------------------------------------------------------- bass
    brng = _rng(seed, 1)
    bl = [nt for nt in parts.bass_line(st, ctx["chords"], ctx["bar_s"], ctx["beats"], ctx["tonic"], ctx["scale"],
                                       ctx["form"], brng, ctx["swing"]) if nt[0] < stop]
    notes["bass"] = bl
    kinds = {"trap": "808", "jazz": "upright", "orchestral": "low strings", "edm": "synth", "reggae": "round",
             "songwriter": "guitar thumb", "latin": "upright" if brng.random() < 0.5 else "finger",
             "metal": "picked"}
    bk = kinds.get(st, "finger")
    meta["bass_kind"] = bk
    if bk == "808":
        b = inst.sub808(bl, n, fs, decay_s=float(brng.uniform(0.8, 1.6)), drive=float(brng.uniform(1.5, 3.0)))
    elif bk == "low strings":
        b = inst.render(bl, n, fs, lambda m, d: inst.wt_note(m, d, fs, kind="soft", voices=3, detune_cents=6,
                                                             attack_s=0.25, release_s=0.35, vib_cents=8), cache, key="lows")
    elif bk == "synth":
        b = inst.render(bl, n, fs, lambda m, d: inst.wt_note(m, d, fs, kind="saw", voices=2, detune_cents=5,
                                                             attack_s=0.004, release_s=0.03), cache, key="sb")
        b = eq(b, fs, ("lp", 900.0, 0.9, 0))
    elif bk == "round":
        b = inst.render(bl, n, fs, lambda m, d: inst.pluck_note(m, d, fs, beta=0.5, power=2.5, tau_s=3.0, kmax=5),
                        cache, key="round")
        b = eq(b, fs, ("lp", 500.0, 0.7, 0))
    elif bk == "upright":
        b = inst.render(bl, n, fs, lambda m, d: inst.pluck_note(m, d, fs, beta=0.28, power=1.8, tau_s=0.9, damp=0.35,
                                                                kmax=14, thump=0.3, attack_s=0.005),
                        cache, key="upr")
    elif bk == "guitar thumb":
        b = np.zeros(n)                                          # filled with the guitar below
    else:
        bright = 2.0 if bk == "picked" else 1.5
        b = inst.render(bl, n, fs, lambda m, d: inst.pluck_note(m, d, fs, beta=0.15 if bk == "picked" else 0.22,
                                                                power=bright, tau_s=1.6, damp=0.12, kmax=16,
                                                                attack_s=0.002 if bk == "picked" else 0.005),
                        cache, key=bk)
        if bk == "picked":
            b = saturate(b / (np.max(np.abs(b)) + 1e-12) * 2, 2.0)
    if bk != "guitar thumb":
        put("bass", _level(eq(b, fs, ("hp", 32.0, 0.7, 0)), lv["bass"]), 0.0)

    # ---------------------------------------------------------------- drums
    drng = _rng(seed, 2)
    hits = [h for h in drums.pattern(st, ctx["form"], ctx["bar_s"], ctx["beats"], drng, ctx["swing"]) if h[0] < stop]
    kick_name = {"trap": "kick", "edm": "kickedm", "jazz": "kickjazz"}.get(st, "kick")
    if hits:
        d2, tracks = drums.render_kit(hits, n, fs, drng, tune_hz=inst.hz(ctx["tonic"] - 12 + 7 * (drng.random() < .5)),
                                      kick_name=kick_name,
                                      overheads=0.0 if st in ("edm", "trap") else float(drng.uniform(0.3, 0.7)))
        g = 10 ** (lv["drums"] / 20) / (np.sqrt(np.mean(d2 ** 2)) + 1e-12) * 0.7
        kick = sum(v for k, v in tracks.items() if k.startswith("kick"))
        put("drums", d2 * g, send=None)
        sends["drums"] -= (pan(kick, 0.0).mean(axis=0) * g) * 10 ** ((SEND_DB["drums"] + WET_STYLE_DB[st]) / 20)
        if st == "edm":
            meta["_pump"] = _pump(ctx, kick, float(drng.uniform(0.5, 0.8)))
    elif st == "edm":
        meta["_pump"] = np.ones(n)
    meta["drum_hits"] = len(hits)

    # ---------------------------------------------------------------- harmony instruments
    hrng = _rng(seed, 3)
    mid = _bar_chords(ctx, 55, 72, seventh=st in ("jazz", "gospel"), n_notes=3)
    if st in ("pop", "jazz", "latin", "gospel", "orchestral", "trap", "edm", "reggae"):
        rhythm = {"pop": str(hrng.choice(["quarters", "held"])), "jazz": "stabs", "latin": "montuno",
                  "gospel": "quarters", "orchestral": "arp", "trap": "arp", "edm": "arp", "reggae": "bubble"}[st]
        kn = _comp(ctx, mid, hrng, rhythm)
        if st in ("orchestral",):                                # a harp
            k = inst.render(kn, n, fs, lambda m, d: inst.pluck_note(m, d, fs, beta=0.5, power=1.8, tau_s=2.5, kmax=10),
                            cache, key="harp")
        elif st == "reggae":                                     # organ bubble
            k = inst.render(kn, n, fs, lambda m, d: inst.wt_note(m, d, fs, kind="organ", voices=1, attack_s=0.005,
                                                                 release_s=0.04), cache, key="org")
        elif st in ("trap", "edm"):                              # bell / pluck arpeggio
            k = inst.render([(t, d, m + 12, v) for t, d, m, v in kn], n, fs,
                            lambda m, d: inst.pluck_note(m, d, fs, beta=0.1, power=1.0, tau_s=0.4, damp=0.3, kmax=20),
                            cache, key="bell")
        else:
            k = inst.render(kn, n, fs, lambda m, d: inst.piano_note(m, d, fs, seed), cache, key="pno")
        put("keys", _level(eq(k, fs, ("hp", 80.0, 0.7, 0)), lv["keys"]), float(hrng.uniform(-0.3, 0.3)))
        notes["keys"] = kn
    meta["piano_layer"] = False
    if st in ("pop", "jazz", "gospel", "latin") and hrng.random() < 0.5:
        pz = _piano_sample(ctx, hrng)
        if pz is not None:
            stems["keys"] += _level(pz, lv["keys"] - 5.0)
            sends["keys"] += _level(pz, lv["keys"] - 5.0).mean(axis=0) * 10 ** ((SEND_DB["keys"] + WET_STYLE_DB[st]) / 20)
            meta["piano_layer"] = True
    notes["chords"] = [(t, d, c) for t, d, c, _ in mid]

    # ---------------------------------------------------------------- pads
    prng = _rng(seed, 4)
    if st in ("orchestral", "edm", "gospel", "pop", "trap", "metal", "latin"):
        wide = _bar_chords(ctx, 48, 76, n_notes=4 if st in ("orchestral", "edm") else 3)
        keep = ("chorus",) if st == "metal" else ("intro", "verse", "chorus", "bridge", "outro")
        held = [(t, d, m, 0.7) for t, d, ch, sec in wide if sec in keep and t < stop for m in ch]
        kind = {"orchestral": ("saw", 3, 12, 0.35), "edm": ("saw", 3, 18, 0.02), "gospel": ("organ", 1, 0, 0.03),
                "latin": ("saw", 2, 6, 0.03)}.get(st, ("soft", 2, 10, 0.4))
        pn = [(t, d, m, v) for t, d, m, v in held]
        if st == "latin":                                        # horn stabs on the chorus
            pn = [(t + 1.5 * ctx["bar_s"] / ctx["beats"], 0.2, m, 0.8) for t, d, m, v in held
                  if ctx["form"][int(t / ctx["bar_s"])] == "chorus"]
        p = inst.render(pn, n, fs, lambda m, d: inst.wt_note(m, d, fs, kind=kind[0], voices=kind[1],
                                                             detune_cents=kind[2], attack_s=kind[3],
                                                             release_s=0.4 if kind[3] > 0.1 else 0.08,
                                                             vib_cents=10 if st == "orchestral" else 0), cache,
                        key="pad" + st)
        p = eq(p, fs, ("hp", 120.0, 0.7, 0), ("lp", 7000.0 if st != "gospel" else 5000.0, 0.7, 0))
        if st == "gospel":                                       # a rotating speaker: level and side swap
            tt = np.arange(n) / fs
            rot = 2 * np.pi * 6.2 * tt
            p2 = np.stack([p * (1 + 0.3 * np.sin(rot)), p * (1 + 0.3 * np.sin(rot + 2.2))])
            put("pads", _level(p2, lv["pads"]))
        else:
            put("pads", _level(pan(p, -0.45), lv["pads"]) * 0.5 + _level(pan(np.roll(p, int(0.011 * fs)), 0.45),
                                                                       lv["pads"]) * 0.5)
    # ---------------------------------------------------------------- guitars
    grng = _rng(seed, 5)
    if st == "metal":
        l, r = _distorted(ctx, grng, 0), _distorted(ctx, grng, 1)
        put("guitar", np.stack([_level(l, lv["guitar"]) * 1.3, _level(r, lv["guitar"]) * 1.3 * 10 ** (grng.uniform(-.5, .5) / 20)])
            * 0.8 + 0.2 * pan(_level(l + r, lv["guitar"]), 0.0))
        meta["guitar"] = "two distorted takes, hard L/R"
    elif st in ("songwriter",) or (st == "pop" and grng.random() < 0.5):
        gch = _bar_chords(ctx, 52, 67)
        up, thumb = _strum(ctx, gch, grng, thumb=st == "songwriter")
        g = inst.render(up, n, fs, lambda m, d: inst.pluck_note(m, d, fs, beta=0.18, power=1.3, tau_s=1.8, damp=0.2,
                                                                kmax=24), cache, key="ag")
        body = (("peak", 110.0, 2.0, 4.0), ("peak", 220.0, 1.5, 2.0), ("hp", 70.0, 0.7, 0), ("peak", 3000.0, 1.0, 2.0))
        g = eq(g, fs, *body)
        # two microphones (body and neck): the guitar sits slightly off centre but fills both sides
        gs = np.stack([g, np.roll(eq(g, fs, ("lp", 6000.0, 0.7, 0)), int(0.0007 * fs))])
        p = float(grng.uniform(-0.1, 0.1))
        gs = gs * np.array([[np.sqrt(1 - p)], [np.sqrt(1 + p)]])           # (|p| <= 0.1: within +-0.9 dB)
        put("guitar", _level(gs, lv["guitar"]))
        meta["guitar"] = "acoustic"
        if st == "songwriter":
            th = inst.render(thumb, n, fs, lambda m, d: inst.pluck_note(m, d, fs, beta=0.2, power=1.6, tau_s=2.2,
                                                                        damp=0.15, kmax=18), cache, key="thumb")
            th = eq(th, fs, *body)
            put("bass", _level(np.stack([th, np.roll(th, int(0.0007 * fs))]) * np.array([[np.sqrt(1 - p)],
                                                                                            [np.sqrt(1 + p)]]), lv["bass"]))
            notes["bass"] = thumb
    elif st == "reggae":                                         # the skank: muted chops on 2 and 4
        sk = _comp(ctx, _bar_chords(ctx, 60, 74), grng, "skank")
        g = inst.render(sk, n, fs, lambda m, d: inst.pluck_note(m, d, fs, beta=0.12, power=1.0, tau_s=0.3, damp=0.4,
                                                                kmax=24), cache, key="skank")
        put("guitar", _level(eq(g, fs, ("hp", 300.0, 0.7, 0), ("peak", 2000, 1, 4)), lv["guitar"]), 0.35)
        meta["guitar"] = "skank"

    # ---------------------------------------------------------------- voice
    vrng = _rng(seed, 6)
    lo, hi = (50, 67) if vrng.random() < 0.5 else (57, 76)
    sex = "male" if lo == 50 else "female"
    if st == "orchestral" and vrng.random() < 0.5:
        sex, lo, hi = "female", 60, 79
    lead = parts.melody(ctx["chords"], ctx["form"], ctx["bar_s"], ctx["beats"], ctx["tonic"], ctx["scale"], lo, hi,
                        vrng, density=0.75 if st in ("trap", "latin") else 0.55)
    lead = [x for x in lead if x[0] + x[1] < stop]
    sg = voice.singer(vrng, sex=sex, style=st, vibrato="straight" if st == "trap" and vrng.random() < 0.5 else None)
    notes["voice"] = lead
    v = voice.sing(lead, n, fs, sg, vrng)
    v = v * compressor_gain(v[None, :], fs, threshold_db=20 * np.log10(np.max(np.abs(v)) + 1e-12) - 14, ratio=3,
                            attack_s=0.005, release_s=0.08)
    p0 = float(vrng.uniform(-0.15, 0.15))
    vl = _level(v, lv["voice"])
    put("voice", vl, p0)
    extra = []
    if vrng.random() < (0.7 if st in ("metal", "pop", "edm") else 0.25):          # a double-tracked lead
        dn = voice.shift_notes(lead, vrng, 0.018, float(vrng.uniform(-8, 8)))
        d = voice.sing(dn, n, fs, dict(sg, vib_depth_cents=sg["vib_depth_cents"] * 0.8), vrng)
        put("voice", _level(d, lv["voice"] - float(vrng.uniform(4, 8))), float(np.clip(-p0 * 3, -0.5, 0.5) or 0.35))
        extra.append("double")
    if st in ("pop", "gospel", "latin", "reggae", "edm") and vrng.random() < 0.8:    # harmonies in the chorus
        ch_notes = [x for x in lead if ctx["form"][min(int(x[0] / ctx["bar_s"]), len(ctx["form"]) - 1)] == "chorus"]
        for j, steps in enumerate((2, -3) if st == "gospel" else (2,)):
            hn = voice.shift_notes(parts.harmony_line(ch_notes, ctx["tonic"], ctx["scale"], steps), vrng, 0.012, 0)
            hs = voice.singer(vrng, style=st, sex=str(vrng.choice(["male", "female"])))
            h = voice.sing(hn, n, fs, hs, vrng)
            put("voice", _level(h, lv["voice"] - 7.0), (-1) ** j * float(vrng.uniform(0.35, 0.6)))
        extra.append("harmony")
    if st == "gospel":                                          # the choir: chord tones on "oh", chorus only
        cho = [(t, dd, ch, sec) for t, dd, ch, sec in _bar_chords(ctx, 52, 74) if sec == "chorus" and t < stop]
        for j in range(3):
            cn = [(t + vrng.uniform(0, 0.02), dd * 0.95, ch[j % len(ch)], 0.7, "-oh") for t, dd, ch, _ in cho]
            h = voice.sing(cn, n, fs, voice.singer(vrng, style=st, sex="female" if j else "male"), vrng)
            put("voice", _level(h, lv["voice"] - 9.0), (j - 1) * 0.6)
        extra.append("choir")
    vk = {"full": "vibrato", "light": "light vibrato", "straight": "straight"}[sg["vibrato"]]
    meta["voice_kind"] = f"{sex} {vk} ({sg['vib_depth_cents']:.0f} cents, {sg['vib_rate_hz']:.1f} Hz)"
    meta["backing_vocals"] = extra
    meta["lead_pan"] = round(p0, 2)
    return stems, sends, notes, meta
