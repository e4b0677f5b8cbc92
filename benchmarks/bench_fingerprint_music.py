"""Accuracy and cost of studio fingerprints on music, on two independent song generators.

Usage::

    python benchmarks/bench_fingerprint_music.py [--lengths 15,20,30,60] [--gens songs,songs_alt]
        [--bank 32] [--studios 200] [--e2e 3] [--e2e-lengths 20] [--json benchmarks/results/fingerprint_music.json]

1. End to end (``--e2e`` studios per length and generator, the issue's studio first): eight
   songs filtered by the studio's room (FFT filter of the audio) and eight reference songs, each
   in its own key, analysed by :func:`mixes.analysis.analyze_array` and fingerprinted by
   :func:`mixes.fingerprint.fingerprint_from_mixes`.
2. Many held-out studios, cheaply: a bank of ``--bank`` songs per length and generator is
   analysed once into per-frame power spectra (the analysis's own segments: 32768-point Hann,
   half overlap, channels averaged); a studio draws 8 mixes and 8 references from the bank at
   random and a random room, which multiplies the mixes' frame spectra bin by bin (what
   filtering the audio does to a 0.68 s frame, for responses smooth over a few Hz).  Band
   floors and levels then come from the module's own functions
   (:func:`mixes.envelope.frame_floors`, :func:`mixes.ltas.ltas_from_power`).  Rooms: 3-6
   dips and peaks of -6..+4 dB at random frequencies 30 Hz-14 kHz, 0.08-1 octave wide (standard
   deviation of a Gaussian on log frequency; narrow ones are narrower than a third-octave),
   plus a tilt of -3..+3 dB over 40 Hz-12 kHz.
3. Earlier methods on the same studios: ``plain`` (session 4's comparison without covariates,
   ``mixes.fingerprint.COVARIATES = False``) and ``before`` (session 6's shipped code: the
   covariates from the tonal gaps and the floors' modulation, ``SMOOTH_UNSURE = False``);
   ``after`` is the current code (unsure bands borrow from their neighbours,
   :mod:`mixes.fingerprint_smooth`).  ``--style`` makes the bank of one style (mixes and
   references of one kind of music; any generator whose ``make_song`` takes ``style=``:
   songs_alt, songs3, songs4); ``--gens`` takes any generator module with ``make_song``.
   ``--seed0`` moves every song and room seed (held-out material).

Scores per studio, third-octaves 40 Hz-10 kHz (centres <= 12 kHz): ``cover`` = share of bands
whose 90 % interval holds the truth (the room's power average over the band, level-aligned),
``sure`` = share with an interval <= 3 dB wide, ``rms_sure`` = rms error over the sure bands.
The issue asks cover >= 0.85, sure >= 0.80, rms_sure <= 1.0 per studio; the table gives the
means and the share of studios meeting each and all three.

4. Speed: the spectrum pass (what ``mix analyze`` and ``mix fingerprint`` run per file) with and
   without the frame floors over 16 songs of 20 s, and on a 10-minute stereo file (CPU time).
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import scipy.fft

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mixes import fingerprint as _fp  # noqa: E402
from mixes import ltas as _ltas  # noqa: E402
from mixes import studio_curves  # noqa: E402
from mixes.analysis import analyze_array  # noqa: E402
from mixes.envelope import frame_floors  # noqa: E402
from mixes.fingerprint import fingerprint_from_mixes  # noqa: E402
from mixes.loudness import loudness  # noqa: E402

FS = 48000
NFFT = 32768
KEEP_BINS = 8400                      # frame spectra kept up to 12.3 kHz (the 10 kHz band ends at 11.2 kHz)
FIFTHS = (0, 7, 2, 9, 4, 11, 6, 1, 8, 3, 10, 5)
SEL = (39.0, 12_000.0)


bump = studio_curves.bump_db
issue_room = studio_curves.issue_room
random_room = studio_curves.varied_room


def colour(x, room):
    return studio_curves.colour(x, room, FS)


def truth(room, fc):
    return studio_curves.band_truth_db(room, fc, SEL)


def score(fp, t):
    f = fp.freqs_hz
    sel = (f >= SEL[0]) & (f <= SEL[1])
    iv = fp.interval_db
    inside = (t >= iv[:, 0]) & (t <= iv[:, 1])
    sure = (iv[:, 1] - iv[:, 0]) <= 3.0
    err = fp.deviation_db - t
    rs = math.sqrt(float(np.mean(err[sel & sure] ** 2))) if (sel & sure).any() else math.nan
    return float(inside[sel].mean()), float(sure[sel].mean()), rs


def previous(fn, *args, covariates=False, smooth=False, **kw):
    """Run ``fn`` as an earlier session shipped it: ``covariates=False`` the plain comparison
    (session 4), ``covariates=True, smooth=False`` session 6 (tonal-gap and floor-modulation
    covariates, no smoothing across bands)."""
    saved = _fp.COVARIATES, _fp.SMOOTH_UNSURE
    _fp.COVARIATES, _fp.SMOOTH_UNSURE = covariates, smooth
    try:
        return fn(*args, **kw)
    finally:
        _fp.COVARIATES, _fp.SMOOTH_UNSURE = saved


def frame_spectra(x):
    """Per-frame power (channels averaged), the analysis's segments, bins < KEEP_BINS, float32."""
    w = np.hanning(NFFT)
    norm = NFFT * np.sum(w * w)
    out = []
    for o in range(0, x.shape[1] - NFFT + 1, NFFT // 2):
        s = scipy.fft.rfft(x[:, o:o + NFFT] * w, axis=-1)[:, :KEEP_BINS]
        out.append((s.real ** 2 + s.imag ** 2).mean(0) / norm)
    return np.array(out, dtype=np.float32)


def spectra_from_frames(P, gain_db, room_pow=None):
    """The Ltas of one track from its frame spectra (twice: the comparison uses the same)."""
    full = np.zeros((P.shape[0], NFFT // 2 + 1))
    full[:, :KEEP_BINS] = P if room_pow is None else P * room_pow
    grid = _ltas.third_octave_floor_grid(FS, NFFT)
    power = full.mean(0)
    new = _ltas.ltas_from_power(_ltas.SpectrumFrames(power, frame_floors(full, grid), grid), fs=FS, nfft=NFFT,
                                gain_db=gain_db)
    return new, new


def bank(gen, seconds, n, first_seed, style=None):
    mod = importlib.import_module(f"mixes.{gen}")
    out = []
    for i in range(n):
        kw = {"style": style} if style else {}
        x = mod.make_song(first_seed + i, duration_s=seconds, **kw).mix()
        out.append((frame_spectra(x), -23.0 - loudness(x, fs=FS).integrated_lufs))
    return out


def many_studios(bk, n_studios, seed, room_seed0=10_000):
    fb = np.arange(KEEP_BINS) * FS / NFFT
    base = [spectra_from_frames(P, g) for P, g in bk]
    rng = np.random.default_rng(seed)
    res = {"after": [], "before": [], "plain": []}
    for k in range(n_studios):
        room = random_room(room_seed0 + k)
        rp = (10 ** (room(fb) / 10)).astype(np.float32)
        idx = rng.permutation(len(bk))
        mixes = [spectra_from_frames(bk[i][0], bk[i][1], rp) for i in idx[:8]]
        refs = [base[i] for i in idx[8:16]]
        t = truth(room, base[0][0].freqs_hz)
        res["after"].append(score(fingerprint_from_mixes("s", [m[0] for m in mixes], [r[0] for r in refs]), t))
        res["before"].append(score(previous(fingerprint_from_mixes, "s", [m[1] for m in mixes], [r[1] for r in refs],
                                            covariates=True), t))
        res["plain"].append(score(previous(fingerprint_from_mixes, "s", [m[1] for m in mixes], [r[1] for r in refs]), t))
    return res


def summary(rows):
    r = np.array(rows, dtype=float)
    ok = (r[:, 0] >= 0.85) & (r[:, 1] >= 0.80) & (r[:, 2] <= 1.0)
    return {"n": int(r.shape[0]), "cover_mean": round(float(r[:, 0].mean()), 3),
            "cover_ge_085": round(float(np.mean(r[:, 0] >= 0.85)), 3),
            "sure_mean": round(float(r[:, 1].mean()), 3), "sure_ge_080": round(float(np.mean(r[:, 1] >= 0.80)), 3),
            "rms_sure_mean_db": round(float(np.nanmean(r[:, 2])), 3),
            "rms_sure_le_1": round(float(np.mean(r[:, 2] <= 1.0)), 3), "all_three": round(float(np.mean(ok)), 3)}


def end_to_end(gen, seconds, n_studios):
    mod = importlib.import_module(f"mixes.{gen}")
    refs = [analyze_array(mod.make_song(1 + i, key=FIFTHS[(i + 5) % 12], duration_s=seconds).mix(), fs=FS,
                          checks=False).ltas for i in range(8)]
    rows = []
    for k in range(n_studios):
        room = issue_room if k == 0 else random_room(k)
        mixes = [analyze_array(colour(mod.make_song(11 + 10 * k + i, key=FIFTHS[i], duration_s=seconds).mix(), room),
                               fs=FS, checks=False).ltas for i in range(8)]
        fp = fingerprint_from_mixes("s", mixes, refs)
        c, s, rs = score(fp, truth(room, fp.freqs_hz))
        rows.append({"studio": "issue" if k == 0 else f"random{k}", "cover": round(c, 3), "sure": round(s, 3),
                     "rms_sure_db": round(rs, 3)})
    return rows


def speed(n_songs=16, seconds=20.0):
    from mixes.songs import make_song

    xs = [make_song(300 + i, duration_s=seconds).mix().astype(np.float32) for i in range(n_songs)]
    long = np.tile(xs[0], (1, int(math.ceil(600 / seconds))))[:, :600 * FS]
    out = {}
    for label, kw in (("mean_only", {}), ("with_frame_floors", {"floors_fs": FS})):
        t0 = time.process_time()
        for x in xs:
            _ltas._segment_power(x, NFFT, overlap=True, **kw)
        t1 = time.process_time()
        _ltas._segment_power(long, NFFT, overlap=True, **kw)
        out[label] = {"songs_cpu_s": round(t1 - t0, 3), "ten_minutes_cpu_s": round(time.process_time() - t1, 3)}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lengths", default="15,20,30,60")
    ap.add_argument("--gens", default="songs,songs_alt")
    ap.add_argument("--bank", type=int, default=32)
    ap.add_argument("--studios", type=int, default=200)
    ap.add_argument("--e2e", type=int, default=3)
    ap.add_argument("--e2e-lengths", default="20", help="song lengths (s) of the end-to-end studios")
    ap.add_argument("--json", default="")
    ap.add_argument("--style", "--alt-style", default="",
                    help="one style for the whole bank (songs_alt: ballad, rock, ...; songs3: radio, ...; songs4: funk, ...)")
    ap.add_argument("--seed0", type=int, default=20_000, help="first song seed of the banks (rooms: seed0 // 2 + ...)")
    ap.add_argument("--skip-speed", action="store_true", help="leave out the spectrum-pass timing (4.)")
    a = ap.parse_args()
    t0 = time.time()
    results = {} if a.skip_speed else {"speed": speed()}
    if not a.skip_speed:
        print("speed (CPU s):", results["speed"])
    for gen in a.gens.split(","):
        for sec in (float(v) for v in a.lengths.split(",")):
            key = f"{gen} {sec:g} s"
            entry = {}
            if a.e2e and sec in [float(v) for v in a.e2e_lengths.split(",")]:
                entry["end_to_end"] = end_to_end(gen, sec, a.e2e)
                for row in entry["end_to_end"]:
                    print(f"{key:18s} e2e {row['studio']:8s} cover {row['cover']:.2f} sure {row['sure']:.2f} "
                          f"rms sure {row['rms_sure_db']:.2f} dB")
            if a.bank and a.studios:
                style = a.style if gen != "songs" else ""
                if style:
                    key += f" {style}"
                res = many_studios(bank(gen, sec, a.bank, a.seed0 + int(sec) * 100, style or None), a.studios,
                                   int(sec) + a.seed0 - 20_000, room_seed0=a.seed0 // 2)
                for which in ("plain", "before", "after"):
                    s = summary(res[which])
                    entry[which] = s
                    print(f"{key:18s} {which:6s} {s['n']} studios: cover {s['cover_mean']:.3f} (>=.85 {s['cover_ge_085']:.0%})"
                          f"  sure {s['sure_mean']:.2f} (>=.80 {s['sure_ge_080']:.0%})  rms sure {s['rms_sure_mean_db']:.2f} dB"
                          f" (<=1 {s['rms_sure_le_1']:.0%})  all three {s['all_three']:.0%}", flush=True)
            results[key] = entry
            results["wall_s"] = round(time.time() - t0, 1)
            save(a.json, results)
    print(f"({results['wall_s']:.0f} s)")


def save(path, results):
    """Write (merge into) the results JSON after every entry, so a long run keeps what it has."""
    if not path:
        return
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    old = json.loads(p.read_text()) if p.is_file() else {}
    old.update(results)
    p.write_text(json.dumps(old, indent=1) + "\n")


if __name__ == "__main__":
    main()
