"""vocal7: is the vocal found on one file?  Voiced and voice=False songs of every generator.

For each generator (mixes.songs, songs_alt, songs3, songs4 when present) and duration, ``--n``
songs on seeds ``--seed0 + 100 * duration + k`` (not the seeds the thresholds were chosen on),
the song at 0 dB with its voice and without (``voice=False``): how often ``vocal_found`` is true,
and the notes of the misses with ``--verbose``.  Optionally centred vibrato leads over the
no-voice backings (``--leads``): a fixed-body lead (violin-like) must not be found.

    .venv/bin/python benchmarks/eval_vocal7_found.py [--gens songs,songs_alt,songs3,songs4]
        [--secs 12,20,30] [--n 6] [--seed0 20000] [--jobs 2] [--leads] [--verbose]
"""

from __future__ import annotations

import argparse
import importlib
import math
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

FS = 48000


def _lead(n: int, rng) -> np.ndarray:
    """A bowed-string-like lead: legato notes 0.5-1.2 s, vibrato +-25 cents at 5.5 Hz after
    0.15 s, partials 1/k through three fixed body resonances (mono)."""
    f0 = np.zeros(n)
    env = np.zeros(n)
    root = 220.0 * 2 ** (int(rng.integers(0, 7)) / 12)
    i = int(0.2 * FS)
    while i < n - int(0.3 * FS):
        m = min(int(rng.uniform(0.5, 1.2) * FS), n - i)
        t = np.arange(m) / FS
        vib = 25.0 * np.sin(2 * np.pi * 5.5 * t + rng.uniform(0, 6.3)) * np.clip((t - 0.15) / 0.25, 0, 1)
        f0[i:i + m] = root * 2 ** ((0, 2, 3, 5, 7, 8, 10, 12)[int(rng.integers(0, 8))] / 12 + vib / 1200)
        env[i:i + m] = np.minimum(1.0, np.minimum(t, t[::-1]) / 0.04)
        i += m + (int(rng.uniform(0.1, 0.4) * FS) if rng.random() < 0.3 else 0)
    ph = 2 * np.pi * np.cumsum(f0) / FS
    out = np.zeros(n)
    for k in range(1, 30):
        fk = k * f0
        g = (4 * np.exp(-0.5 * ((fk - 450) / 120) ** 2) + 3 * np.exp(-0.5 * ((fk - 1100) / 250) ** 2)
             + 2 * np.exp(-0.5 * ((fk - 2800) / 500) ** 2) + 0.3)
        out += np.where(fk < 0.45 * FS, g / k, 0.0) * np.sin(k * ph)
    return out * env


def _one(job):
    gen, seed, secs, kind = job
    from mixes.balance import measure_balance
    from mixes.loudness import loudness
    s = importlib.import_module(f"mixes.{gen}").make_song(seed, duration_s=secs, fs=FS, voice=(kind == "voice"))
    x = s.mix()
    if kind == "lead":
        y = _lead(x.shape[1], np.random.default_rng(seed))
        x = x + (y * math.sqrt(np.mean(x ** 2) / np.mean(y ** 2)) * 10 ** (-6 / 20))[None, :]
    b = measure_balance(x, fs=FS, integrated_lufs=loudness(x, fs=FS).integrated_lufs)
    return gen, secs, kind, seed, getattr(s, "style", ""), b.vocal_found, (b.notes[:1] or ("",))[0]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gens", default="songs,songs_alt,songs3,songs4")
    ap.add_argument("--secs", default="12,20,30")
    ap.add_argument("--n", type=int, default=6)
    ap.add_argument("--seed0", type=int, default=20000)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--leads", action="store_true")
    ap.add_argument("--verbose", action="store_true")
    a = ap.parse_args(argv)
    gens = [g for g in a.gens.split(",") if importlib.util.find_spec(f"mixes.{g}") is not None]
    kinds = ("voice", "novoice") + (("lead",) if a.leads else ())
    jobs = [(g, a.seed0 + 100 * int(float(s)) + k, float(s), kind) for g in gens for s in a.secs.split(",")
            for kind in kinds for k in range(a.n)]
    with ProcessPoolExecutor(a.jobs) as ex:
        rows = list(ex.map(_one, jobs))
    print(f"vocal_found on one file (song at 0 dB), {a.n} songs per row, seeds {a.seed0}+100*secs+k")
    for g in gens:
        for s in a.secs.split(","):
            cnt = {k: [r for r in rows if r[0] == g and r[1] == float(s) and r[2] == k] for k in kinds}
            line = "  ".join(f"{k} found {sum(r[5] for r in v)}/{len(v)}" for k, v in cnt.items())
            print(f"  {g:9s} {float(s):4.0f} s  {line}")
            if a.verbose:
                for k, v in cnt.items():
                    for r in v:
                        if r[5] != (k == "voice"):
                            print(f"      {k:7s} {r[3]} {r[4]:9s} {r[6][:120]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
