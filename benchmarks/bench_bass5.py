"""bass_vs_reference_db against known bass offsets (issue 12), per style, before/after bass5.

Each case: a song (mixes.songs, mixes.songs_alt in its four styles, or bass5's own low-end
material, see :func:`own_song`), its reference = the song at nominal balance, its mix = the bass
moved by U(-6, 6) dB and the vocal by U(-3, 3) dB *together*, the whole brought U(-12, 0) dB
down.  ``compare_balance`` of mix against reference must read the bass offset within 1 dB.

"before" is the running median over 0.35 s on all 40-120 Hz bins (the held low end up to
bass5), "after" is :func:`mixes.bass_tonal.held_low_energy`; both read the same frame pass and
the same comparison (the frame records are rebuilt with the other ``e_low_tonal``).  CPU of the
held-low-end step is printed for a 10-minute file's frame count.

Usage::

    .venv/bin/python benchmarks/bench_bass5.py [--seconds 12 20 30] [--per-style 4] [--own 2]
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
import time
from pathlib import Path

import numpy as np
from scipy import ndimage, signal

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import mixes.balance as B                                  # noqa: E402
import mixes.vocal_frames as VF                            # noqa: E402
from mixes import songs, songs_alt                         # noqa: E402
from mixes.bass_tonal import held_low_energy               # noqa: E402
from mixes.loudness import loudness                        # noqa: E402

FS = 48000
_captured: dict = {}
_frame_pass = VF.frame_pass


def _capture(x, fs):
    fr = _frame_pass(x, fs)
    _captured["fr"] = fr
    return fr


B.frame_pass = _capture        # the benchmark keeps each file's frame pass to re-read the low end


def before_estimator(pb: np.ndarray, hop_s: float) -> np.ndarray:
    """The held low end as vocal_frames computed it before bass5 (0.35 s median, all bins)."""
    width = max(int(round(0.35 / hop_s)) | 1, 3)
    pb = pb.astype(np.float64)
    return np.minimum(pb, ndimage.median_filter(pb, size=(width, 1), mode="nearest")).sum(axis=1)


def after_estimator(fr) -> np.ndarray:
    k0 = math.ceil(VF.BASS_BAND_HZ[0] / fr.df_hz)
    return held_low_energy(fr.pbass, (k0 + np.arange(fr.pbass.shape[1])) * fr.df_hz, fr.hop_s)


# ----------------------------------------------------------------------------- own material
def _kick(fs, n, f_end_hz, tau_s, glide_hz=70.0, click=0.1, rng=None):
    t = np.arange(n) / fs
    f = f_end_hz + glide_hz / (1.0 + t / 0.012)
    x = np.sin(2 * np.pi * np.cumsum(f) / fs) * np.exp(-t / tau_s)
    m = int(0.002 * fs)
    x[:m] += click * (rng.standard_normal(m) if rng is not None else 0.0) * np.hanning(m)
    return x


def _pluck(fs, n, f0, tau_s, bright):
    t = np.arange(n) / fs
    x = np.zeros(n)
    for k in range(1, 9):
        if k * f0 > 0.4 * fs:
            break
        x += bright ** (k - 1) / k * np.exp(-t * k / tau_s) * np.sin(2 * np.pi * k * f0 * t)
    a = int(0.002 * fs)
    x[:a] *= np.linspace(0.0, 1.0, a)
    r = min(int(0.01 * fs), n)
    x[n - r:] *= np.linspace(1.0, 0.0, r)
    return x


def own_song(seed: int, duration_s: float, kind: str) -> songs.Song:
    """bass5's own low-end material over the voice, keys and pads of a mixes.songs song.

    kinds: ``"sub4"`` sustained sine sub bass (whole bars) under a four-on-the-floor kick with a
    0.3 s tail; ``"slap"`` picked/slapped bass in sixteenths with octave jumps under a short rock
    kick on 1 and 3; ``"duck"`` held saw bass side-chained to a four-on-the-floor kick (-9 dB,
    0.18 s recovery); ``"tuned"`` a kick tuned to the key's tonic with a 0.5 s tail on every
    beat, bass notes in the key (eighths)."""
    rng = np.random.default_rng([seed, 0xBA55])
    base = songs.make_song(seed, duration_s=duration_s, fs=FS)
    n = base.n_samples
    bpm = float(rng.uniform(100, 128))
    beat = 60.0 / bpm
    tonic = 28 + (base.tonic_midi % 12)                 # MIDI 28-39: 41-78 Hz
    degrees = (0, 5, 7, 3, 0, 8, 5, 7)
    hz = lambda m: 440.0 * 2.0 ** ((m - 69) / 12.0)     # noqa: E731
    bass = np.zeros(n)
    kick = np.zeros(n)
    env = np.ones(n)
    n_beats = int(duration_s / beat)
    kick_tau = {"sub4": 0.3, "slap": 0.08, "duck": 0.2, "tuned": 0.5}[kind]
    kick_f = hz(tonic + 12) if kind == "tuned" and hz(tonic) < 45 else hz(tonic) if kind == "tuned" else 50.0
    kick_x = _kick(FS, int(min(4 * kick_tau, 1.0) * FS), kick_f, kick_tau, click=0.15, rng=rng)
    for b in range(n_beats):
        if kind == "slap" and b % 2 == 1:
            continue
        i = int(b * beat * FS)
        m = min(kick_x.size, n - i)
        kick[i:i + m] += kick_x[:m] * 10 ** (rng.normal(0, 1.0) / 20)
        if kind == "duck":
            d = np.arange(n - i) / FS
            env[i:] = np.minimum(env[i:], 1.0 - (1.0 - 10 ** (-9 / 20)) * np.exp(-d / 0.18))
    bar = 4 * beat
    for k in range(int(duration_s / bar) + 1):
        root = tonic + degrees[k % len(degrees)]
        root = root - 12 if root > 46 else root
        t0 = k * bar
        if kind in ("sub4", "duck"):
            i0, i1 = int(t0 * FS), min(int((t0 + bar) * FS), n)
            if i1 <= i0:
                continue
            t = np.arange(i1 - i0) / FS
            if kind == "sub4":
                x = np.tanh(1.5 * np.sin(2 * np.pi * hz(root) * t))
            else:
                x = signal.sawtooth(2 * np.pi * hz(root) * t)
                x = signal.lfilter(*signal.butter(2, 300.0, fs=FS), x)
            fade = min(int(0.01 * FS), x.size // 2)
            x[:fade] *= np.linspace(0, 1, fade)
            x[-fade:] *= np.linspace(1, 0, fade)
            bass[i0:i1] += x
        else:
            step = beat / 4 if kind == "slap" else beat / 2
            for j in range(int(bar / step)):
                if kind == "slap" and rng.random() < 0.3:
                    continue
                m_ = root + (12 if (kind == "slap" and j % 4 == 2) else int(rng.choice([0, 0, 7, 3])))
                m_ = m_ - 12 if m_ > 46 else m_
                i0 = int((t0 + j * step) * FS)
                L = int(step * (0.7 if kind == "slap" else 0.9) * FS)
                if i0 >= n:
                    break
                L = min(L, n - i0)
                x = _pluck(FS, L, hz(m_), 0.25 if kind == "slap" else 0.6, 0.6 if kind == "slap" else 0.3)
                bass[i0:i0 + L] += x * rng.uniform(0.7, 1.0)
    bass *= env
    st = dict(base.stems)
    ref_rms = np.sqrt(np.mean(st["voice"] ** 2)) or 0.05
    bass_gain = ref_rms * 10 ** (rng.uniform(-3, 0) / 20) / max(np.sqrt(np.mean(bass ** 2)), 1e-12)
    st["bass"] = np.stack([bass, bass]) * bass_gain
    # the kick's peak 0-4 dB above the bass line's (a kick matched in rms would peak far above)
    kick_peak = np.max(np.abs(st["bass"])) * 10 ** (rng.uniform(0, 4) / 20)
    kick = kick * kick_peak / max(np.max(np.abs(kick)), 1e-12)
    st["drums"] = np.stack([kick, kick]) + base.stems["drums"] * 0.3
    return dataclasses.replace(base, stems=st, tempo_bpm=bpm, notes={"style": [kind]})


# ----------------------------------------------------------------------------- the comparison
def _analyse(x):
    lufs = loudness(x, fs=FS).integrated_lufs
    bal = B.measure_balance(x, fs=FS, integrated_lufs=lufs)
    return bal, _captured.pop("fr")


def _with(bal, e_low):
    return dataclasses.replace(bal, frames=dataclasses.replace(bal.frames, e_low_tonal=e_low))


def run_case(song, seed: int) -> dict:
    rng = np.random.default_rng([seed, 777])
    gb, gv, lvl = float(rng.uniform(-6, 6)), float(rng.uniform(-3, 3)), float(rng.uniform(-12, 0))
    ref, fr_r = _analyse(song.mix())
    mix, fr_m = _analyse(song.mix({"bass": gb, "voice": gv}) * 10 ** (lvl / 20))
    out = {"gb": gb}
    for name, est in (("before", lambda fr: before_estimator(fr.pbass, fr.hop_s)), ("after", after_estimator)):
        b, _ = B.compare_balance(_with(mix, est(fr_m)), [_with(ref, est(fr_r))])
        out[name] = math.nan if b is None else b - gb
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, nargs="+", default=[12.0, 20.0, 30.0])
    ap.add_argument("--per-style", type=int, default=4, help="songs_alt songs per style and length")
    ap.add_argument("--songs", type=int, default=4, help="mixes.songs songs per length")
    ap.add_argument("--own", type=int, default=2, help="own-material songs per kind and length")
    ap.add_argument("--seed0", type=int, default=5000)
    a = ap.parse_args()
    rows: dict[str, list] = {}
    for secs in a.seconds:
        cases = []
        for i in range(4 * a.per_style):
            cases.append(("alt", a.seed0 + i))
        for i in range(a.songs):
            cases.append(("songs", a.seed0 + i))
        for kind in ("sub4", "slap", "duck", "tuned"):
            for i in range(a.own):
                cases.append((kind, a.seed0 + i))
        for gen, seed in cases:
            seed = seed + int(secs) * 100
            if gen == "alt":
                s = songs_alt.make_song(seed, duration_s=secs, fs=FS)
                style = s.notes["style"][0]
            elif gen == "songs":
                s, style = songs.make_song(seed, duration_s=secs, fs=FS), "songs"
            else:
                s, style = own_song(seed, secs, gen), "own:" + gen
            r = run_case(s, seed)
            rows.setdefault(style, []).append((secs, r))
            print(f"{secs:4.0f} s {style:14s} seed {seed}: bass {r['gb']:+5.2f} dB, error before {r['before']:+5.2f}, "
                  f"after {r['after']:+5.2f}", flush=True)
    print("\nwithin 1 dB (count, rms error, worst), per style, all lengths:")
    tot = {"before": [], "after": []}
    for style, lst in sorted(rows.items()):
        line = f"  {style:14s}"
        for k in ("before", "after"):
            e = np.array([r[k] for _, r in lst])
            tot[k].append(e)
            line += (f" | {k} {np.sum(np.abs(e) <= 1)}/{e.size} rms {np.sqrt(np.nanmean(e ** 2)):.2f} "
                     f"worst {np.nanmax(np.abs(e)):.2f}")
        print(line)
    for k, v in tot.items():
        e = np.concatenate(v)
        print(f"  ALL {k}: {np.sum(np.abs(e) <= 1)}/{e.size} ({np.mean(np.abs(e) <= 1):.0%}), "
              f"rms {np.sqrt(np.nanmean(e ** 2)):.2f}, worst {np.nanmax(np.abs(e)):.2f}")
    # CPU of the step on a 10-minute file's frame count (MAX_FRAMES excerpts)
    pb = np.random.default_rng(0).random((VF.MAX_FRAMES, 4)).astype(np.float32) + 0.01
    freqs = np.array([46.875, 70.3125, 93.75, 117.1875])
    for name, f in (("before", lambda: before_estimator(pb, 0.021333)),
                    ("after", lambda: held_low_energy(pb, freqs, 0.021333))):
        f()
        t = time.process_time()
        for _ in range(20):
            f()
        print(f"  CPU {name}: {(time.process_time() - t) / 20 * 1000:.1f} ms per 10-minute file "
              f"({VF.MAX_FRAMES} frames)")


if __name__ == "__main__":
    main()
