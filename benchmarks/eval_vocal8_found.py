"""vocal8: the vocal found on one file, across generators, against vibrato instrument leads.

For each generator (mixes.songs, songs_alt, songs3, songs4, songs5 when present) and duration,
``--n`` songs on seeds ``--seed0 + 100 * duration + k`` (fresh seeds, not the ones the
thresholds were chosen on), the song at 0 dB:

* ``voice``: with its voice -> how often ``vocal_found`` is true, and ``|vocal_db - truth|``
  when a level is given (truth: the voice stem's K-weighted power over the frames where it
  sings -- within 20 dB of its 95th-percentile 100-ms frame -- against the mix's power over
  the BS.1770-gated frames; the same definition ``vocal_db`` documents: "the vocal's level while
  it sings").
* ``novoice``: ``voice=False`` -> found must be false.
* ``lead:<kind>`` (``--leads``): a centred vibrato instrument lead over the no-voice song, at
  ``--lead-db`` against the backing's rms: violin (fixed body), sax (reed + fixed bore
  resonances, tongued onsets with a noise puff), synth (saw through a fixed low-pass, LFO
  vibrato from the onset), epiano (FM tine with a pitch LFO, decaying), guitar (plucked string
  with finger vibrato).  Found must be false: none is a voice.

    .venv/bin/python benchmarks/eval_vocal8_found.py [--gens songs,songs_alt,songs3,songs4,songs5]
        [--secs 12,20] [--n 6] [--seed0 30000] [--jobs 2] [--leads] [--lead-db -6] [--verbose]
        [--out rows.json]
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from scipy import signal

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

FS = 48000
LEAD_KINDS = ("violin", "sax", "synth", "epiano", "guitar")


def _notes(n: int, rng, lo_s: float, hi_s: float) -> list[tuple[int, int, float]]:
    """Legato-ish notes (start, length in samples, MIDI) in a minor scale over ``n`` samples."""
    root = 57 + int(rng.integers(0, 7))
    out, i = [], int(0.2 * FS)
    while i < n - int(0.3 * FS):
        m = min(int(rng.uniform(lo_s, hi_s) * FS), n - i)
        out.append((i, m, root + (0, 2, 3, 5, 7, 8, 10, 12)[int(rng.integers(0, 8))]))
        i += m + (int(rng.uniform(0.05, 0.4) * FS) if rng.random() < 0.35 else 0)
    return out


def _body(fk: np.ndarray, peaks) -> np.ndarray:
    """Fixed resonances (Hz, width Hz, gain) evaluated at the partial frequencies ``fk``."""
    g = np.full_like(fk, 0.2)
    for f, w, a in peaks:
        g += a * np.exp(-0.5 * ((fk - f) / w) ** 2)
    return g


def lead(kind: str, n: int, rng) -> np.ndarray:
    """A centred vibrato instrument lead (mono, arbitrary scale); see the module docstring."""
    short = kind in ("sax", "synth", "guitar")
    notes = _notes(n, rng, 0.25 if short else 0.45, 0.8 if short else 1.2)
    out = np.zeros(n)
    rate = rng.uniform(4.8, 6.5)
    depth = rng.uniform(15, 35)
    for i0, m, midi in notes:
        t = np.arange(m) / FS
        f0 = 440.0 * 2 ** ((midi - 69) / 12)
        onset = {"violin": 0.15, "sax": 0.2, "synth": 0.0, "epiano": 0.0, "guitar": 0.1}[kind]
        vib = depth * np.sin(2 * np.pi * rate * t + rng.uniform(0, 6.3)) * np.clip((t - onset) / 0.2, 0, 1)
        f = f0 * 2 ** (vib / 1200)
        ph = 2 * np.pi * np.cumsum(f) / FS
        y = np.zeros(m)
        if kind == "epiano":                       # FM tine: carrier 1:1, index decaying
            idx = 2.5 * np.exp(-t / 0.3) + 0.3
            y = np.sin(ph + idx * np.sin(ph)) * np.exp(-t / 1.2)
        else:
            kmax = int(min(40, 0.45 * FS / f0 / 1.02))
            for k in range(1, kmax + 1):
                fk = k * f
                if kind == "violin":
                    a = _body(fk, ((450, 120, 4), (1100, 250, 3), (2800, 500, 2))) / k
                elif kind == "sax":
                    a = _body(fk, ((550, 150, 4), (1500, 300, 2.5), (3200, 600, 1))) / k ** 0.8
                elif kind == "synth":
                    a = np.where(fk < 2500, 1.0, (2500 / fk) ** 4) / k
                else:                              # guitar: brighter partials decay faster
                    a = np.exp(-t * (1.5 + 0.6 * k)) / k * (1 + np.sin(np.pi * k * 0.23))
                y += a * np.sin(k * ph)
            if kind == "sax":                      # tongued onset: a short noise puff
                puff = rng.standard_normal(min(m, int(0.03 * FS))) * 0.3
                b, a2 = signal.butter(2, [1500 / (FS / 2), 6000 / (FS / 2)], "band")
                y[:puff.size] += signal.lfilter(b, a2, puff) * np.hanning(puff.size)
        env = np.minimum(1.0, np.minimum(t / 0.02, (t[::-1] + 1e-3) / 0.05))
        out[i0:i0 + m] += y * env
    return out


def _kpow(x: np.ndarray) -> np.ndarray:
    """K-weighted power per 100-ms frame, summed over channels."""
    from mixes.loudness import k_weighting_sos
    y = signal.sosfilt(k_weighting_sos(fs=FS), x, axis=-1)
    h = int(0.1 * FS)
    m = y.shape[-1] // h
    return np.sum((y[..., :m * h] ** 2).reshape(y.shape[0], m, h).mean(axis=-1), axis=0)


def truth_vocal_db(mix: np.ndarray, voice: np.ndarray) -> float:
    """The voice stem's level while it sings against the mix's gated level (dB)."""
    pm, pv = _kpow(mix), _kpow(voice)
    blk = np.convolve(pm, np.ones(4) / 4, mode="same")
    lufs = -0.691 + 10 * np.log10(np.maximum(blk, 1e-30))
    g0 = lufs > -70
    integ = -0.691 + 10 * np.log10(np.mean(blk[g0]))
    gated = lufs > max(-70.0, integ - 10.0)
    sing = pv > np.percentile(pv, 95) * 10 ** (-20 / 10)
    return float(10 * np.log10(np.mean(pv[sing]) / np.mean(pm[gated])))


def _one(job):
    gen, seed, secs, kind, lead_db = job
    from mixes.balance import measure_balance
    from mixes.loudness import loudness
    s = importlib.import_module(f"mixes.{gen}").make_song(seed, duration_s=secs, fs=FS, voice=(kind == "voice"))
    x = s.mix()
    truth = math.nan
    if kind == "voice" and "voice" in s.stems and np.any(s.stems["voice"]):
        truth = truth_vocal_db(x, s.stems["voice"])
    if kind.startswith("lead:"):
        y = lead(kind[5:], x.shape[1], np.random.default_rng(seed * 7 + LEAD_KINDS.index(kind[5:])))
        x = x + (y * math.sqrt(np.mean(x ** 2) / np.mean(y ** 2)) * 10 ** (lead_db / 20))[None, :]
    b = measure_balance(x, fs=FS, integrated_lufs=loudness(x, fs=FS).integrated_lufs)
    meta = getattr(s, "notes", {}).get("meta", {}) if isinstance(getattr(s, "notes", None), dict) else {}
    return dict(gen=gen, secs=secs, kind=kind, seed=seed, style=str(getattr(s, "style", "")),
                singer=str(meta.get("voice_kind", "")), found=bool(b.vocal_found),
                vocal_db=None if not math.isfinite(b.vocal_db) else float(b.vocal_db),
                truth_db=None if not math.isfinite(truth) else truth, note=(b.notes[:1] or ("",))[0])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gens", default="songs,songs_alt,songs3,songs4,songs5")
    ap.add_argument("--secs", default="12,20")
    ap.add_argument("--n", type=int, default=6)
    ap.add_argument("--seed0", type=int, default=30000)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--leads", action="store_true")
    ap.add_argument("--lead-db", type=float, default=-6.0)
    ap.add_argument("--kinds", default="voice,novoice")
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("--out", default="")
    a = ap.parse_args(argv)
    gens = [g for g in a.gens.split(",") if importlib.util.find_spec(f"mixes.{g}") is not None]
    kinds = tuple(a.kinds.split(",")) + (tuple(f"lead:{k}" for k in LEAD_KINDS) if a.leads else ())
    secs = [float(s) for s in a.secs.split(",")]
    jobs = [(g, a.seed0 + 100 * int(s) + k, s, kind, a.lead_db) for g in gens for s in secs
            for kind in kinds for k in range(a.n)]
    with ProcessPoolExecutor(a.jobs) as ex:
        rows = list(ex.map(_one, jobs))
    if a.out:
        Path(a.out).write_text(json.dumps(rows, indent=1))
    print(f"vocal_found on one file (song at 0 dB), {a.n} songs per row, seeds {a.seed0}+100*secs+k, "
          f"leads at {a.lead_db:+.0f} dB")
    for g in gens:
        for s in secs:
            parts = []
            for k in kinds:
                v = [r for r in rows if r["gen"] == g and r["secs"] == s and r["kind"] == k]
                parts.append(f"{k.replace('lead:', '')} {sum(r['found'] for r in v)}/{len(v)}")
                if k == "voice":
                    err = [r["vocal_db"] - r["truth_db"] for r in v if r["vocal_db"] is not None and r["truth_db"] is not None]
                    if err:
                        parts[-1] += (f" (level {len(err)}: median |err| {np.median(np.abs(err)):.1f} dB, "
                                      f"bias {np.median(err):+.1f})")
            print(f"  {g:9s} {s:4.0f} s  " + "  ".join(parts))
            if a.verbose:
                for r in rows:
                    if r["gen"] == g and r["secs"] == s and r["found"] != (r["kind"] == "voice"):
                        print(f"      {r['kind']:12s} {r['seed']} {r['style']:9s} {r['singer']:22s} {r['note'][:100]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
