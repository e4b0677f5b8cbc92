"""Parts of a :mod:`mixes.songs_alt` song: drums, keys, pads, vocals, reverb (arrangement).

Each function renders one stem ``(2, n)`` at ``fs`` from the song's plan (chords, sections,
tempo); the instruments themselves are in :mod:`mixes.songs_alt_synth` and
:mod:`mixes.songs_alt_voice`.
"""

from __future__ import annotations

import numpy as np
from scipy import fft as sp_fft, signal

from mixes.songs_alt_synth import (DrumKit, _sos, adsr, ensemble_chord, fade_edges, fdn_ir,
                                   guitar_chord, ks_pluck, midi_hz, organ_chord, piano_note)
from mixes.songs_alt_voice import VOWELS, sing


class Layer:
    """A stereo stem rendered at ``fs / factor`` (parts without high content are cheaper there)."""

    def __init__(self, n: int, fs: int, factor: int):
        self.factor = factor if fs % factor == 0 and fs // factor >= 11000 else 1
        self.fs = fs // self.factor
        self.x = np.zeros((2, n // self.factor + 16))

    def add(self, x: np.ndarray, t_s: float, pan: float = 0.0) -> None:
        """Add mono or stereo ``x`` at ``t_s`` (s), mono ones with a constant-power pan."""
        i0 = int(round(t_s * self.fs))
        if i0 < 0:            # a humanised note before the song's start: cut, faded in (no step)
            x, i0 = fade_edges(x[..., -i0:], self.fs, 0.003, 0.0), 0
        m = min(x.shape[-1], self.x.shape[1] - i0)
        if m <= 0:
            return
        if x.ndim == 2:
            self.x[:, i0:i0 + m] += x[:, :m]
            return
        th = (np.clip(pan, -1.0, 1.0) + 1.0) * np.pi / 4.0
        gl, gr = (1.0, 1.0) if pan == 0.0 else (np.cos(th) * np.sqrt(2.0), np.sin(th) * np.sqrt(2.0))
        self.x[0, i0:i0 + m] += gl * x[:m]
        self.x[1, i0:i0 + m] += gr * x[:m]

    def full(self, n: int) -> np.ndarray:
        y = self.x if self.factor == 1 else signal.resample_poly(self.x, self.factor, 1, axis=1)
        out = np.zeros((2, n))
        m = min(n, y.shape[1])
        out[:, :m] = y[:, :m]
        return out


# ----------------------------------------------------------------------------- drums
def _drums(rng, fs, n, style, sections, beat, bar, swung, dur_s, log=None):
    """The drum stem; each hit is appended to ``log`` as ``(time_s, kind)``."""
    flav = {"rock": "rock", "electronic": "electronic"}.get(style, "soft")
    kit = DrumKit(fs, rng, flav)
    lay = Layer(n, fs, 1)
    hat_pan, ride_pan = rng.uniform(0.25, 0.5), -rng.uniform(0.3, 0.5)
    jit = 0.0 if style == "electronic" else 0.005
    brushes = style == "acoustic" or (style == "ballad" and rng.random() < 0.4)

    names = {}

    def hit(x, t, vel, pan=0.0, kind=None):
        if 0.0 <= t < dur_s:
            t = t + rng.normal(0, jit) if jit else t
            lay.add(x * vel * 10 ** (rng.normal(0, 1.2) / 20), t, pan)
            if log is not None:
                log.append((max(t, 0.0), kind or names.get(id(x), "hit")))

    names.update({id(kit.kick): "kick", id(kit.snare[0]): "ghost", id(kit.snare[1]): "snare",
                  id(kit.xstick): "cross-stick", id(kit.clap): "clap"})
    for si, (name, a, b) in enumerate(sections):
        if name == "intro" and style != "electronic":
            continue
        g = {"verse": 0.85, "chorus": 1.0, "bridge": 0.8, "breakdown": 0.7, "outro": 1.0, "intro": 0.6}[name]
        if name in ("chorus", "outro") or (name == "verse" and si > 1):
            if style != "acoustic":
                hit(kit.crash(), a, 0.5 * g, kind="crash")
        n_bars = int(np.ceil((b - a) / bar - 1e-6))
        for k in range(n_bars):
            t_bar = a + k * bar
            last_bar = k == n_bars - 1 and si < len(sections) - 1
            for s16 in range(16):
                pos = s16 / 4.0
                t = t_bar + (swung(pos) if pos % 1 == 0.5 else pos * beat)
                if t >= b:
                    break
                on_beat, eighth = s16 % 4 == 0, s16 % 2 == 0
                bt = s16 // 4
                if style == "electronic":
                    if name != "breakdown" and on_beat:
                        hit(kit.kick, t, 0.9 * g)
                    if on_beat and bt in (1, 3) and name != "intro":
                        hit(kit.clap, t, 0.55 * g)
                    if s16 % 4 == 2 and name not in ("intro",):
                        hit(kit.hat(True), t, 0.22 * g, hat_pan, "open hat")
                    if name != "intro":
                        hit(kit.shaker(), t_bar + s16 * beat / 4 + (0.02 * beat if s16 % 2 else 0), (0.12 if s16 % 2 else 0.18) * g, -hat_pan, "shaker")
                    continue
                if last_bar and bt >= 2 and style == "rock" and s16 % 2 == 0:      # a tom fill
                    hit(kit.tom(2 - (s16 - 8) // 3), t, 0.6 * g, [0.4, 0.0, -0.4][min(2, (s16 - 8) // 3)], "tom")
                    continue
                kick_here = (on_beat and bt in (0, 2)) or (style == "rock" and s16 == 10 and rng.random() < 0.6)
                if kick_here:
                    hit(kit.kick, t, (0.85 if style == "rock" else 0.6) * g)
                if on_beat and bt in (1, 3):
                    if style == "ballad" and name == "verse":
                        hit(kit.xstick, t, 0.3 * g, 0.1)
                    elif brushes:
                        hit(kit.brush_tap(), t, 0.35 * g, 0.1, "brush")
                    else:
                        hit(kit.snare[1], t, 0.7 * g, 0.05)
                elif style == "rock" and s16 % 2 == 1 and rng.random() < 0.1:
                    hit(kit.snare[0], t, 0.12, 0.05)                                  # ghost note
                if brushes and on_beat:
                    sw = kit.brush_swish(beat * 0.9)
                    hit(sw, t, 0.1 * g, -0.2, "swish")
                elif eighth and not brushes:
                    if name == "bridge" and style == "rock" or (style == "ballad" and name == "chorus"):
                        if on_beat or style == "rock":
                            hit(kit.ride(), t, 0.2 * g, ride_pan, "ride")
                    elif style != "ballad" or name == "chorus":
                        open_ = style == "rock" and name == "chorus" and s16 == 14
                        hit(kit.hat(open_), t, (0.28 if on_beat else 0.18) * g, hat_pan, "open hat" if open_ else "hat")
                if style == "acoustic" and name == "chorus" and s16 % 2 == 1:
                    hit(kit.shaker(), t, 0.1 * g, -hat_pan, "shaker")
    return lay.full(n)


# ----------------------------------------------------------------------------- keys
def _keys(rng, fs, n, style, chords, voicings, beat, swung, section_at, sec_gain, dur_s, tonic):
    lay = Layer(n, fs, 2)
    fsl = lay.fs
    cache: dict = {}
    if style == "ballad":
        max_len = min(max(c1 - c0 for c0, c1, _r, _t in chords) + 0.4, 3.0)
        m_max = int(max_len * fsl)
        broken = rng.random() < 0.5
        for (c0, c1, root, _t), v in zip(chords, voicings):
            sg = sec_gain[section_at(c0 + 1e-6)] ** 0.5
            lh = tonic - 12 + root
            lh = lh - 12 if lh > 50 else lh
            strikes = [(0.0, lh)] + ([(0.5 * (i + 1), v[i % len(v)]) for i in range(int((c1 - c0) / beat * 2) - 1)]
                                     if broken else [(0.0, x) for x in v] + [(2.0, x) for x in v if (c1 - c0) > 2.5 * beat])
            for pos, mid in strikes:
                t0 = c0 + swung(pos)
                if t0 >= dur_s:
                    continue
                if mid not in cache:
                    cache[mid] = piano_note(mid, m_max, fsl, rng)
                body, bright = cache[mid]
                vel = rng.uniform(0.55, 0.9) * sg
                m = min(int((c1 - t0 + 0.3) * fsl), m_max)
                x = fade_edges((vel * body[:m] + vel * vel * bright[:m]), fsl, 0.0, 0.15)
                lay.add(0.25 * x, t0, float(np.clip((mid - 62) / 24.0, -0.6, 0.6)))
    elif style == "rock":
        for ch, pan in ((0, -0.8), (1, 0.8)):
            r2 = np.random.default_rng(rng.integers(1 << 31))
            for ci, (c0, c1, root, tones) in enumerate(chords):
                name = section_at(c0 + 1e-6)
                if name == "intro" and ch == 1:
                    continue
                low = 40 + (tonic + root - 40) % 12
                notes_ = (low, low + 7, low + 12) if name != "chorus" else (low, low + 7, low + 12, low + tones[1] - root + 12)
                m = int((c1 - c0 + 0.1) * fsl)
                key_ = (ch, notes_, m // 256)
                if key_ not in cache:
                    cache[key_] = guitar_chord(notes_, m, fsl, r2, drive=r2.uniform(3.0, 7.0))
                x = cache[key_][:m]
                t = np.arange(m) / fsl
                if name in ("verse", "bridge", "intro"):          # palm-muted eighths
                    e = np.zeros(m)
                    for k in range(int((c1 - c0) / beat * 2)):
                        i0 = int(k * beat / 2 * fsl)
                        tt = t[: m - i0]
                        e[i0:] = np.maximum(e[i0:] * (tt > 0.02), np.exp(-tt / 0.07) * np.minimum(1, tt / 0.002))
                    env = e * 0.8
                else:
                    env = adsr(m, fsl, 0.003, 0.8, 0.7, 0.05)
                lay.add(fade_edges(0.3 * x * env, fsl, 0.001, 0.02), c0 + r2.normal(0, 0.006), pan)
    elif style == "electronic":
        pat = [0, 3, 6, 8, 11, 14] if rng.random() < 0.5 else [2, 6, 10, 14]
        for (c0, c1, _r, _t), v in zip(chords, voicings):
            if section_at(c0 + 1e-6) == "intro" and rng.random() < 0.5:
                continue
            for s in range(int(round((c1 - c0) / beat * 4))):
                if s % 16 not in pat:
                    continue
                mid = v[s % len(v)] + 12
                m = int(0.35 * fsl)
                if mid not in cache:
                    tt = np.arange(m) / fsl
                    f = midi_hz(mid)
                    ph = 2 * np.pi * f * tt
                    x = np.sin(ph + 1.8 * np.exp(-tt / 0.05) * np.sin(ph)) + 0.15 * np.sin(14 * ph) * np.exp(-tt / 0.015) * (14 * f < 0.45 * fsl)
                    cache[mid] = fade_edges(x * np.exp(-tt / 0.15), fsl, 0.001, 0.03)
                lay.add(0.18 * rng.uniform(0.7, 1.0) * cache[mid], c0 + s * beat / 4, 0.4 if s % 2 else -0.4)
    else:   # acoustic: Travis picking on a Karplus-Strong guitar
        pan = rng.choice([-0.35, 0.35])
        for (c0, c1, root, tones), v in zip(chords, voicings):
            low = 40 + (tonic + root - 40) % 12
            fifth = low + 7 if low + 7 <= 52 else low - 5
            for e in range(int(round((c1 - c0) / beat * 2))):
                mids = [(low if (e // 2) % 2 == 0 else fifth)] if e % 2 == 0 else [v[(e // 2) % len(v)] + (12 if v[0] < 55 else 0)]
                if e % 4 == 2 and rng.random() < 0.5:
                    mids.append(v[-1] + (12 if v[-1] < 60 else 0))
                t0 = c0 + swung(e / 2)
                if t0 >= dur_s:
                    continue
                for mid in mids:
                    k_ = (mid, int(rng.integers(2)))
                    if k_ not in cache:
                        cache[k_] = ks_pluck(midi_hz(mid), int(1.6 * fsl), fsl, rng, t60_s=2.5, brightness=rng.uniform(0.5, 0.8))
                    x = cache[k_]
                    m = min(x.size, int((c1 - t0 + 0.2) * fsl))
                    lay.add(0.2 * rng.uniform(0.6, 1.0) * fade_edges(x[:m], fsl, 0.0, 0.05), t0 + rng.normal(0, 0.004), pan)
    return lay.full(n)


# ----------------------------------------------------------------------------- pads
def _pads(rng, fs, n, style, chords, voicings, beat, section_at, sec_gain, dur_s):
    lay = Layer(n, fs, 4)
    fsl = lay.fs
    kind = {"ballad": "strings", "electronic": "supersaw"}.get(style) or ("organ" if rng.random() < 0.5 else "strings")
    cache: dict = {}
    for (c0, c1, _r, _t), v in zip(chords, voicings):
        name = section_at(c0 + 1e-6)
        if style in ("rock", "acoustic") and name in ("intro", "verse") and rng.random() < 0.7:
            continue
        m = int((min(c1, dur_s) - c0 + 0.3) * fsl)
        key_ = (tuple(v), m // 256)
        if key_ not in cache:
            if kind == "organ":
                cache[key_] = organ_chord(v, m, fsl, rng)
            elif kind == "strings":
                cache[key_] = ensemble_chord(v, m, fsl, rng, attack_s=rng.uniform(0.3, 0.8), cutoff_hz=3200.0)
            else:
                cache[key_] = ensemble_chord(v, m, fsl, rng, attack_s=0.05, cutoff_hz=4500.0, vib_hz=0.3)
        lay.add(0.1 * sec_gain[name] * fade_edges(cache[key_][:, :m], fsl, 0.0, 0.03), c0)
    if style == "electronic":          # side-chain pumping to the four-on-the-floor kick
        t = np.arange(lay.x.shape[1]) / fsl
        ph = (t / beat) % 1.0
        depth = rng.uniform(0.5, 0.8)
        # gain falls in ~8 ms (the compressor's attack) at each beat, recovers over ~half a beat
        att = 0.008 / beat
        rec = np.clip((ph - att) / 0.55, 0.0, 1.0)
        pump = np.where(ph < att, 1.0 - depth * (0.5 - 0.5 * np.cos(np.pi * ph / att)),
                        1.0 - depth * (1.0 - rec) ** 2)
        # the end of the previous beat's recovery meets the next attack: both at 1 - 0 ... continuous
        lay.x *= pump
    return lay.full(n)


# ----------------------------------------------------------------------------- vocals
def _vocals(rng, fs, n, style, chords, sections, beat, bar, degree, tonic, section_at, sec_gain, dur_s):
    female = rng.random() < (0.65 if style == "electronic" else 0.45)
    centre = 67 if female else 57
    base = tonic + 12 * round((centre - tonic) / 12.0)
    vowels = list(VOWELS)
    lead = []
    deg = 2
    for name, a, b in sections:
        if name == "intro" or (name == "breakdown" and rng.random() < 0.5):
            continue
        lift = 2 if name == "chorus" else 0
        t = a + (rng.choice([0.0, 0.5, 1.0]) * beat if b - a > 2 * beat else 0.0)
        while t < b - 0.25:
            phrase_end = min(t + rng.choice([1.0, 1.5, 2.0]) * bar - beat * rng.choice([0.5, 1.0]), b)
            while t < phrase_end - 0.15:
                step = rng.choice([-2, -1, -1, 0, 1, 1, 2, 3, -3])
                deg = int(np.clip(deg + step, -2 + lift, 7 + lift))
                mid = base + degree(deg)
                lens = [0.5, 1.0, 1.0, 1.5, 2.0] if name != "chorus" else [1.0, 1.0, 1.5, 2.0, 3.0]
                d = min(float(rng.choice(lens)) * beat, phrase_end - t)
                if d < 0.12:
                    break
                v = str(rng.choice(vowels))
                v2 = str(rng.choice(vowels)) if rng.random() < 0.15 else None
                cons = str(rng.choice(["s", "t", "k"])) if rng.random() < 0.4 else None
                vel = rng.uniform(0.75, 1.0) * sec_gain[name] ** 0.5
                lead.append((t, t + d, mid, v, v2, cons, vel))
                t += d
            t = phrase_end + rng.choice([0.5, 1.0, 1.5]) * beat
    lead_mono = sing(lead, n, fs, rng, female=female, breath=rng.uniform(0.05, 0.3),
                     oq=rng.uniform(0.5, 0.7), rise=rng.uniform(0.65, 0.8))
    out = np.stack([lead_mono, lead_mono])
    back = []
    mode = rng.choice(["none", "double", "harmony"], p=[0.3, 0.35, 0.35])
    if mode != "none":
        for (t0, t1, mid, v, v2, cons, vel) in lead:
            if section_at(t0 + 1e-6) != "chorus":
                continue
            if mode == "double":
                back.append((t0 + rng.uniform(0.01, 0.03), t1, mid, v, v2, cons, vel))
            else:
                s = [degree(d) + base for d in range(-7, 21)]
                above = [x for x in s if x > mid]
                back.append((t0, t1, above[1] if len(above) > 1 else mid + 4, v, v2, None, vel))
        if back:
            r2 = np.random.default_rng(rng.integers(1 << 31))
            bm = sing(back, n, fs, r2, female=female if mode == "double" else not female,
                      breath=0.2, oq=rng.uniform(0.5, 0.7), rise=0.7)
            g = 10 ** (rng.uniform(-7.0, -3.0) / 20)
            pan = rng.choice([-1.0, 1.0]) * rng.uniform(0.5, 0.85)
            th = (pan + 1.0) * np.pi / 4.0
            out = out + g * np.stack([np.cos(th) * np.sqrt(2) * bm, np.sin(th) * np.sqrt(2) * bm])
    return out, lead_mono, lead, back


# ----------------------------------------------------------------------------- reverb
def _reverb(rng, fs, n, style, stems, lead_mono, lead_notes, beat, rt_lo, rt_hi):
    """Add each stem's reverb (its own mix of a short room and a longer hall) to the stem; the
    lead vocal sometimes gets ping-pong delay throws on a phrase end."""
    room = fdn_ir(rng, fs, rng.uniform(0.3, 0.6), hf_ratio=0.6, predelay_s=0.003, length_s=None)
    hall = fdn_ir(rng, fs, rng.uniform(rt_lo, rt_hi), hf_ratio=rng.uniform(0.35, 0.6),
                  predelay_s=rng.uniform(0.01, 0.04))
    L = max(room.shape[1], hall.shape[1])
    room = np.pad(room, ((0, 0), (0, L - room.shape[1])))
    hall = np.pad(hall, ((0, 0), (0, L - hall.shape[1])))
    sends = {   # (room dB, hall dB) per stem
        "ballad": {"drums": (-14, -18), "keys": (-20, -9), "pads": (-30, -7), "voice": (-18, -10)},
        "rock": {"drums": (-11, -24), "keys": (-14, -20), "pads": (-20, -10), "voice": (-16, -12)},
        "electronic": {"drums": (-18, -18), "keys": (-20, -8), "pads": (-30, -8), "voice": (-20, -9)},
        "acoustic": {"drums": (-12, -20), "keys": (-14, -13), "pads": (-24, -10), "voice": (-15, -13)},
    }[style]
    names = [k for k in sends if np.any(stems[k])]
    n_fft = sp_fft.next_fast_len(n + L, True)
    irs_f = sp_fft.rfft(np.concatenate([room, hall]).astype(np.float32), n_fft, axis=1)   # (4, F)
    sends_f = sp_fft.rfft(np.stack([0.5 * (stems[k][0] + stems[k][1]) for k in names]).astype(np.float32),
                          n_fft, axis=1)
    for i, name in enumerate(names):
        jr, jh = (rng.uniform(-2, 2) for _ in range(2))
        gr, gh = 10 ** ((sends[name][0] + jr) / 20), 10 ** ((sends[name][1] + jh) / 20)
        spec = sends_f[i][None, :] * (np.float32(gr) * irs_f[:2] + np.float32(gh) * irs_f[2:])
        stems[name] = stems[name] + sp_fft.irfft(spec, n_fft, axis=1)[:, :n]
    if lead_mono is not None and style != "acoustic" and rng.random() < 0.6 and lead_notes:
        # delay throws: the end of some phrases echoes left-right, darker each time
        dn = int(beat * float(rng.choice([0.5, 0.75, 1.0])) * fs)
        ends = [b for (a, b, _m), nxt in zip(lead_notes, lead_notes[1:] + [(1e9, 0, 0)]) if nxt[0] - b > 0.3]
        wet = np.zeros((2, n))
        for e in ends:
            if rng.random() >= 0.4:
                continue
            i0, i1 = int((e - 0.5) * fs), min(int(e * fs), n)
            if i0 <= 0 or i1 - i0 < 16:
                continue
            y = signal.sosfilt(_sos(fs, "band", [300.0, 5000.0], 1), lead_mono[i0:i1] * np.hanning(i1 - i0) ** 0.3)
            for k in range(1, 5):
                y = signal.sosfilt(_sos(fs, "low", 6000.0 / k, 1), y)
                j0 = i0 + k * dn
                m = min(y.size, n - j0)
                if m <= 0:
                    break
                wet[(k + 1) % 2, j0:j0 + m] += 0.45 ** k * y[:m]
        stems["voice"] = stems["voice"] + 0.6 * wet
