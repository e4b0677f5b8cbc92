"""Every artifact kind planted realistically on every song generator (issue 12, session 8).

For each generator (``mixes.songs``, ``songs_alt``, ``songs3``, ``songs4``, ``songs5`` when it
exists, and the real piano) and each seed, the clean mix and three clean variants go through
:func:`mixes.renderchecks.render_checks` (what ``mix analyze`` reports; any artifact is a false
alarm): the mix itself, the mix faded out and written at 16 bits *with* TPDF dither (must not
be ``truncation``), and a nearly-mono mix (the mix summed to mono plus a tiny decorrelated
stereo reverb 30 dB down: must not be ``dual_mono`` nor ``polarity_inverted``).

Planted (each a separate copy of the mix; found = an event of the kind at the planted place):

* ``discontinuity``: cuts between two takes (the mix from ``t1`` joined to the mix from
  ``t2``), at a random sample, at zero crossings of both takes (channel 0), and with linear
  crossfades that are too short (2 / 4 / 8 / 24 samples); counted as realistic when the step the
  join leaves (without the fade) is >= 6x the louder side's rms first difference (the splice
  module's rule), for a crossfade of k samples >= 6x the music's rms k-sample difference (the
  step spread over k samples against the music's own motion over as many: at 8 samples almost
  no cut qualifies, median 1.4-2.4x); a DC step (8x); joins into a section 6 and 8 dB louder
  (``louder6`` / ``louder8``, counted whatever their size);
* ``digital_distortion``: bursts of a clipper driven x10 / x30 (2-20 ms), bit-crushed to 3-6
  bits (3-20 ms), aliasing (sample-and-hold decimation by 6-12, 5-25 ms), random +-0.5 (3 ms);
* ``truncation``: a fade-out (2 or 6 s to -100 dB) floored or rounded to 16 bits; a quiet
  reverb tail after the music stops (decorrelated noise, RT60 1.5 s, starting at -40 / -55 /
  -70 dBFS) rounded to 16 bits; a file truncated to 16 bits and then re-dithered wrongly (TPDF
  at 24 bits, stored on the 24-bit grid: the 16-bit staircase stays);
* ``polarity_inverted``: one channel inverted, of the mix and of the mix made wider (side above
  ~250 Hz x2.5);
* ``dual_mono``: the mix summed to mono, in both channels.

Usage::

    .venv/bin/python benchmarks/eval_artifacts7.py [--gen all|songs|songs_alt|songs3|songs4|songs5|piano]
        [--seeds 4] [--seed0 700] [--seconds 20] [--only kind,...]

Mixes are cached in ``/tmp/eval_artifacts7_cache`` (the generators are slow).
"""

from __future__ import annotations

import argparse
import importlib
import math
import sys
import time
from pathlib import Path

import numpy as np
from scipy import signal

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CACHE = Path("/tmp/eval_artifacts7_cache")
GENS = ("songs", "songs_alt", "songs3", "songs4", "songs5", "piano")
PIANO = ROOT.parent / "shared" / "data" / "pyloudnorm-piano" / "piano.wav"


def material(gen: str, seed: int, seconds: float):
    """(name, x (2, n) float64, fs) or None."""
    if gen == "piano":
        if not PIANO.exists():
            return None
        import soundfile as sf
        p, fs = sf.read(str(PIANO), dtype="float64", always_2d=True)
        g = 10 ** ((seed % 3 - 1) * 6 / 20)            # -6, 0, +6 dB by seed
        return f"piano {20 * math.log10(g):+.0f}dB", np.clip(p.T * g, -1, 1), fs
    CACHE.mkdir(exist_ok=True)
    f = CACHE / f"{gen}_{seed}_{seconds:g}.npy"
    if f.exists():
        return f"{gen} {seed}", np.load(f), 48000
    try:
        mod = importlib.import_module(f"mixes.{gen}")
    except ImportError:
        return None
    s = mod.make_song(seed, duration_s=seconds)
    x = np.asarray(s.mix(), dtype=np.float64)
    np.save(f, x)
    return f"{gen} {seed}", x, 48000


def ratio(z: np.ndarray, c0: int, fs: int, k: int = 1) -> float:
    """The step at c0 against the louder side's rms ``k``-sample difference over 10 ms (channels
    summed): ``k`` = 1 is the splice module's size rule; for a crossfade of ``k`` samples the
    step is spread over ``k`` samples and competes with the music's own motion over as many."""
    w = int(0.010 * fs)
    step = z[:, c0] - z[:, c0 - 1]
    left = np.mean((z[:, c0 - w + k: c0] - z[:, c0 - w: c0 - k]) ** 2, axis=1).sum()
    right = np.mean((z[:, c0 + k: c0 + w] - z[:, c0: c0 + w - k]) ** 2, axis=1).sum()
    return math.sqrt(float(np.sum(step ** 2)) / max(left, right, 1e-30))


def _zero_cross(v: np.ndarray, near: int, span: int) -> int:
    a = max(near - span, 1)
    s = np.flatnonzero(np.signbit(v[a: near + span]) != np.signbit(v[a - 1: near + span - 1]))
    return int(a + s[np.argmin(np.abs(s + a - near))]) if s.size else near


def join(x: np.ndarray, c0: int, c1: int, fade: int = 0, gain_before: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """x[:c0] (times ``gain_before``) joined to x[c1:], with a linear crossfade of ``fade``
    samples centred on the join; returns (the joined file, the file without the fade)."""
    step_z = np.concatenate([x[:, :c0] * gain_before, x[:, c1:]], axis=1)
    if fade:
        # A continues fade samples past the join, B starts fade samples before it: the
        # crossfade spans [c0 - fade // 2, c0 + fade // 2)
        h = fade // 2
        za = x[:, :c0 + h] * gain_before
        zb = x[:, c1 - h:]
        head = za[:, : c0 - h]
        ov_a, ov_b = za[:, c0 - h: c0 + h], zb[:, : 2 * h]
        g = (np.arange(2 * h) + 0.5) / (2 * h)
        z = np.concatenate([head, ov_a * (1 - g) + ov_b * g, zb[:, 2 * h:]], axis=1)
    else:
        z = step_z
    return z, step_z


def plant_all(x: np.ndarray, fs: int, rng: np.random.Generator, only: set[str] | None):
    """Yield (kind, label, y, t_s, tol_s, realistic) for every plant."""
    n = x.shape[1]
    dur = n / fs

    def want(k):
        return only is None or k in only

    if want("discontinuity"):
        for style in ("random", "zero", "xfade2", "xfade4", "xfade8", "xfade24", "dc", "louder6", "louder8"):
            for _ in range(2):
                c0 = int(rng.uniform(0.2, 0.45) * n)
                c1 = int(rng.uniform(c0 / n + 0.1, 0.9) * n)
                if style == "zero":
                    c0 = _zero_cross(x[0], c0, int(0.01 * fs))
                    c1 = _zero_cross(x[0], c1, int(0.01 * fs))
                fade = int(style[5:]) if style.startswith("xfade") else 0
                if style == "dc":
                    y = x.copy()
                    w = int(0.010 * fs)
                    ms = max(np.mean(np.diff(x[:, c0 - w: c0], axis=1) ** 2, axis=1).sum(),
                             np.mean(np.diff(x[:, c0: c0 + w], axis=1) ** 2, axis=1).sum())
                    y[:, c0:] += max(0.02, 8.0 * math.sqrt(ms / x.shape[0]))
                    yield "discontinuity", style, y, c0 / fs, 0.002, True
                    continue
                g = 10 ** (-float(style[6:]) / 20) if style.startswith("louder") else 1.0
                z, z0 = join(x, c0, c1, fade, g)
                r = ratio(z0, c0, fs, max(fade, 1))
                yield "discontinuity", style, z, c0 / fs, 0.002, bool(r >= 6.0 or style.startswith("louder"))
    if want("digital_distortion"):
        for style in ("clip10", "clip30", "crush3", "crush4", "crush6", "alias", "random"):
            p = int(rng.uniform(0.1, 0.85) * n)
            y = x.copy()
            if style.startswith("clip"):
                m = int(rng.uniform(0.002, 0.020) * fs)
                y[:, p:p + m] = np.clip(float(style[4:]) * y[:, p:p + m], -1, 1)
            elif style.startswith("crush"):
                m = int(rng.uniform(0.003, 0.020) * fs)
                q = 2.0 ** (int(style[5:]) - 1)
                y[:, p:p + m] = np.round(y[:, p:p + m] * q) / q
            elif style == "alias":
                m = int(rng.uniform(0.005, 0.025) * fs)
                k = int(rng.integers(6, 13))
                seg = y[:, p:p + m]
                y[:, p:p + m] = np.repeat(seg[:, ::k], k, axis=1)[:, :m]
            else:
                m = int(0.003 * fs)
                y[:, p:p + m] = rng.uniform(-0.5, 0.5, (x.shape[0], m))
            yield "digital_distortion", style, y, p / fs, (m / fs, 0.005), True
    if want("truncation"):
        t = np.arange(n) / fs
        for style in ("fade2 floor", "fade6 round", "tail-40", "tail-55", "tail-70", "redither24"):
            if style.startswith("fade"):
                L = float(style[4])
                t0 = dur - L - 0.5
                f = x * np.where(t < t0, 1.0, 10 ** (-100 / 20 * np.clip((t - t0) / L, 0, 1)))
                f[:, t >= t0 + L] = 0.0
                q = np.floor if "floor" in style else np.round
                y = q(f * 32768) / 32768
            elif style.startswith("tail"):
                lvl = float(style[4:])
                t0 = dur - 4.0
                i0 = int(t0 * fs)
                y = x.copy()
                # the music stops (a 50-ms release) and its reverb tail rings on: decorrelated
                # low-passed noise entering over 50 ms, then -60 dB in 1.5 s
                r = int(0.05 * fs)
                y[:, i0 - r: i0] *= np.linspace(1.0, 0.0, r)
                y[:, i0:] = 0.0
                k = n - i0 + r
                tail = signal.lfilter([1.0], [1.0, -0.9], rng.standard_normal((2, k)), axis=1)
                tail *= 10 ** (lvl / 20) / np.sqrt(np.mean(tail[:, : int(0.1 * fs)] ** 2))
                tail *= 10 ** (-3 * (np.arange(k) / fs) / 1.5)
                tail[:, :r] *= np.linspace(0.0, 1.0, r)
                y[:, i0 - r:] += tail
                y = np.round(y * 32768) / 32768
            else:
                t0 = dur - 6.5
                f = x * np.where(t < t0, 1.0, 10 ** (-100 / 20 * np.clip((t - t0) / 6.0, 0, 1)))
                y16 = np.floor(f * 32768) / 32768
                q24 = 2.0 ** -23
                d = rng.uniform(-0.5, 0.5, y16.shape) + rng.uniform(-0.5, 0.5, y16.shape)
                y = np.round(y16 / q24 + d) * q24
            yield "truncation", style, y, None, None, True
    if want("polarity_inverted"):
        yield "polarity_inverted", "plain", x * np.array([[1.0], [-1.0]]), None, None, True
        # a wide mix: the side above ~250 Hz x2.5, the low end as it was (bass and kick centred)
        m, s = 0.5 * (x[0] + x[1]), 0.5 * (x[0] - x[1])
        s = s + 1.5 * signal.sosfiltfilt(signal.butter(2, 250, "highpass", fs=fs, output="sos"), s)
        wide = np.vstack([m + s, m - s])
        wide /= max(1.0, np.abs(wide).max() / 0.99)
        yield "polarity_inverted", "wide", wide * np.array([[1.0], [-1.0]]), None, None, True
    if want("dual_mono"):
        m = 0.5 * (x[0] + x[1])
        yield "dual_mono", "summed", np.vstack([m, m]), None, None, True


def clean_variants(x: np.ndarray, fs: int, rng: np.random.Generator):
    """(label, y): clean files that must give no artifact report."""
    from mixes.artifact_clean import faded, to_bits
    yield "clean", x
    yield "fade 16b TPDF", to_bits(faded(x, fs=fs, fade_s=min(6.0, x.shape[1] / fs / 3), silence_s=0.5), 16,
                                   seed=int(rng.integers(1 << 30)))
    m = 0.5 * (x[0] + x[1])
    k = int(1.2 * fs)
    ir = rng.standard_normal((2, k)) * 10 ** (-3 * (np.arange(k) / fs) / 1.2)
    ir /= np.sqrt(np.sum(ir ** 2, axis=1, keepdims=True))
    rev = np.vstack([signal.fftconvolve(m, ir[c])[: m.size] for c in range(2)])
    yield "nearly mono", np.vstack([m, m]) + 10 ** (-30 / 20) * rev


def found(kind: str, y: np.ndarray, fs: int, t_s, tol) -> tuple[bool, list]:
    """Whether ``render_checks`` (what ``mix analyze`` reports) finds the plant; a burst that left
    digital silence counts as found when it is reported as that dropout."""
    from mixes.renderchecks import render_checks
    r = render_checks(y, fs=fs)
    ev = list(r.artifacts)
    hits = [e for e in ev if e.kind == kind]
    if kind == "digital_distortion":
        hits += [e for e in r.dropouts if e.kind == "silence"]
    if t_s is None:
        return bool(hits), ev
    if isinstance(tol, tuple):
        span, pad = tol
        return any(t_s - pad <= e.time_s <= t_s + span + pad for e in hits), ev
    return any(abs(e.time_s - t_s) <= tol for e in hits), ev


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--gen", default="all")
    ap.add_argument("--seeds", type=int, default=4)
    ap.add_argument("--seed0", type=int, default=700)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--only", default="", help="comma-separated kinds (default all)")
    ap.add_argument("--no-clean", action="store_true")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every miss")
    a = ap.parse_args()
    from mixes.renderchecks import render_checks
    only = set(a.only.split(",")) if a.only else None
    gens = GENS if a.gen == "all" else tuple(a.gen.split(","))
    t_start = time.time()
    grand: dict[str, dict[str, list[int]]] = {}
    for gen in gens:
        tally: dict[str, list[int]] = {}
        false_files = [0, 0]
        seeds = range(3) if gen == "piano" else range(a.seed0, a.seed0 + a.seeds)
        for seed in seeds:
            mat = material(gen, seed, a.seconds)
            if mat is None:
                print(f"  ({gen} not available)")
                break
            name, x, fs = mat
            rng = np.random.default_rng(seed * 7919 + len(gen))
            if not a.no_clean:
                for label, y in clean_variants(x, fs, rng):
                    r = render_checks(y, fs=fs)
                    false = [(e.kind, round(e.time_s, 3), e.channel) for e in r.artifacts]
                    false_files[0] += bool(false)
                    false_files[1] += 1
                    if false:
                        print(f"  FALSE {name} [{label}]: {false}", flush=True)
            for kind, style, y, t_s, tol, realistic in plant_all(x, fs, rng, only):
                ok, ev = found(kind, y, fs, t_s, tol)
                key = f"{kind}:{style}" + ("" if realistic else " (small)")
                tally.setdefault(key, [0, 0])
                tally[key][0] += ok
                tally[key][1] += 1
                if not ok and realistic and a.verbose:
                    print(f"    miss {name} {kind}:{style} t={t_s} got {[(e.kind, round(e.time_s, 4)) for e in ev]}",
                          flush=True)
        if false_files[1]:
            print(f"{gen}: clean files with a false artifact report {false_files[0]}/{false_files[1]}")
        for k in sorted(tally):
            print(f"  {gen:9s} {k:40s} {tally[k][0]}/{tally[k][1]}")
        grand[gen] = tally
        grand[gen]["__clean_false"] = false_files
        print(f"  ({time.time() - t_start:.0f} s)", flush=True)
    print("SUMMARY per kind (realistic plants; clean false files):")
    for gen, tally in grand.items():
        per: dict[str, list[int]] = {}
        for k, v in tally.items():
            if k.startswith("__") or "(small)" in k:
                continue
            kk = k.split(":")[0]
            if k.startswith("discontinuity:louder"):
                kk = "louder_join"
            per.setdefault(kk, [0, 0])
            per[kk][0] += v[0]
            per[kk][1] += v[1]
        cf = tally["__clean_false"]
        print(f"  {gen:9s} clean false {cf[0]}/{cf[1]}; " + ", ".join(f"{k} {v[0]}/{v[1]}" for k, v in per.items()))
    print(f"({time.time() - t_start:.0f} s)")


if __name__ == "__main__":
    main()
