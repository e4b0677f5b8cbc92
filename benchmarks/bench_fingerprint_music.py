"""Accuracy of studio fingerprints on music: the new estimator against the old one.

Usage::

    python benchmarks/bench_fingerprint_music.py [--studios 4] [--seconds 20] [--trials 200]

Held-out synthetic studios (``mixes.songs`` songs, each in its own key, filtered by a smooth
room deviation; eight mixes against eight reference songs, the issue's studio first, then
random deviations), analysed end to end with :func:`mixes.analysis.analyze_array`.  Per studio
and method it prints: the share of third-octaves 40 Hz-12 kHz whose 90 % interval holds the
truth (``cover``), the share of sure bands (interval <= 3 dB wide), the rms error over the sure
bands and over all bands.  The old method is the mean band power of non-overlapping
16384-point segments, averaged over tracks (what ``mix fingerprint`` did before issue 12); it
has no interval, so for it ``worst sure`` says how wrong it was where its confidence was >= 0.8.

Then ``--trials`` more studios, cheaply: a 32-song bank's spectra with a random deviation added
per band (a smooth deviation scales a band's floor and mean alike), random 8/8 splits:
mean coverage, the chance that a studio has >= 85 % coverage, mean sure share and the chance
of >= 80 % sure bands.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mixes import ltas as _ltas  # noqa: E402
from mixes.analysis import analyze_array  # noqa: E402
from mixes.fingerprint import fingerprint_from_mixes  # noqa: E402
from mixes.loudness import loudness  # noqa: E402
from mixes.songs import make_song  # noqa: E402
from mixes.types import Ltas  # noqa: E402

FS = 48000
FIFTHS = (0, 7, 2, 9, 4, 11, 6, 1, 8, 3, 10, 5)
SEL = (39.0, 12_100.0)


def bump(f, fc, a, s):
    return a * np.exp(-0.5 * (np.log2(np.maximum(f, 1.0) / fc) / s) ** 2)


def issue_room(f):
    return bump(f, 63, -5.0, 0.35) + bump(f, 160, 2.5, 0.3) + bump(f, 3000, 3.0, 0.5)


def random_room(seed):
    r = np.random.default_rng(seed)
    comps = [(float(np.exp(r.uniform(np.log(40), np.log(12_000)))), float(r.uniform(-5, 5)),
              float(r.uniform(0.3, 1.0))) for _ in range(5)]
    return lambda f: sum(bump(f, *c) for c in comps)


def colour(x, room):
    spec = np.fft.rfft(x, axis=-1)
    return np.fft.irfft(spec * 10 ** (room(np.fft.rfftfreq(x.shape[-1], 1 / FS)) / 20), n=x.shape[-1], axis=-1)


def truth(room, fc):
    t = np.array([10 * np.log10(np.mean(10 ** (room(np.geomspace(c * 10 ** -0.05, c * 10 ** 0.05, 64)) / 10)))
                  for c in fc])
    sel = (fc >= SEL[0]) & (fc <= SEL[1])
    return t - t[sel].mean()


def old_spectrum(x):
    """The pre-issue-12 LTAS: mean power of non-overlapping 16384-point Hann segments."""
    lres = loudness(x, fs=FS)
    p = _ltas._segment_power(x.astype(np.float32), 16384)
    return _ltas.ltas_from_power(p, fs=FS, nfft=16384, gain_db=-23.0 - lres.integrated_lufs, with_floor=False)


def old_fingerprint(mixes, refs):
    """The pre-issue-12 estimate: mean level-aligned deviation, Wiener confidence."""
    f = mixes[0].freqs_hz
    sel = (f >= 40) & (f <= 12_000)

    def lf(a):
        return a - a[:, sel].mean(axis=1, keepdims=True)
    m, r = lf(np.vstack([s.level_db for s in mixes])), lf(np.vstack([s.level_db for s in refs]))
    d = m.mean(0) - r.mean(0)
    d -= d[sel].mean()
    se2 = (m - r.mean(0)).var(0, ddof=1) / len(mixes) + r.var(0, ddof=1) / len(refs)
    return d, d * d / (d * d + se2)


def score(fp, t):
    f = fp.freqs_hz
    sel = (f >= SEL[0]) & (f <= SEL[1])
    iv = fp.interval_db
    inside = (t >= iv[:, 0]) & (t <= iv[:, 1])
    sure = (iv[:, 1] - iv[:, 0]) <= 3.0
    err = fp.deviation_db - t
    rs = math.sqrt(float(np.mean(err[sel & sure] ** 2))) if (sel & sure).any() else math.nan
    return inside[sel].mean(), sure[sel].mean(), rs, math.sqrt(float(np.mean(err[sel] ** 2)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--studios", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--trials", type=int, default=200)
    ap.add_argument("--bank", type=int, default=32, help="songs in the bank for the cheap trials (0: skip)")
    a = ap.parse_args()
    t0 = time.time()
    ref_audio = [make_song(1 + i, key=FIFTHS[(i + 5) % 12], duration_s=a.seconds).mix() for i in range(8)]
    refs = [analyze_array(x, fs=FS, checks=False).ltas for x in ref_audio]
    refs_old = [old_spectrum(x) for x in ref_audio]
    print(f"{a.studios} studios, 8 mixes vs 8 references, {a.seconds:g} s songs; third-octaves 40 Hz-12 kHz")
    print(f"{'studio':8s} {'method':5s} {'cover':>6s} {'sure':>5s} {'rms sure':>9s} {'rms all':>8s} {'worst sure (old)':>17s}")
    for k in range(a.studios):
        room = issue_room if k == 0 else random_room(k)
        audio = [colour(make_song(11 + 10 * k + i, key=FIFTHS[i], duration_s=a.seconds).mix(), room) for i in range(8)]
        mixes = [analyze_array(x, fs=FS, checks=False).ltas for x in audio]
        fp = fingerprint_from_mixes("s", mixes, refs)
        t = truth(room, fp.freqs_hz)
        c, s, rs, ra = score(fp, t)
        name = "issue" if k == 0 else f"random{k}"
        print(f"{name:8s} {'new':5s} {c:6.2f} {s:5.2f} {rs:8.2f}  {ra:7.2f}")
        d, conf = old_fingerprint([old_spectrum(x) for x in audio], refs_old)
        sel = (fp.freqs_hz >= SEL[0]) & (fp.freqs_hz <= SEL[1])
        err = d - t
        worst = float(np.max(np.abs(err[sel & (conf >= 0.8)]), initial=0.0))
        print(f"{'':8s} {'old':5s} {'-':>6s} {'-':>5s} {'-':>8s}  {math.sqrt(float(np.mean(err[sel] ** 2))):7.2f}"
              f"  {worst:9.2f} dB")
    if a.bank:
        bank = [analyze_array(make_song(7000 + i, duration_s=a.seconds).mix(), fs=FS, checks=False).ltas
                for i in range(a.bank)]
        f = bank[0].freqs_hz
        rng = np.random.default_rng(0)
        res = []
        for k in range(a.trials):
            t = truth(issue_room if k == 0 else random_room(100 + k), f)
            idx = rng.permutation(len(bank))
            mixes = [Ltas(f, bank[i].level_db + t, 3, -23.0, bank[i].floor_db + t) for i in idx[:8]]
            res.append(score(fingerprint_from_mixes("s", mixes, [bank[i] for i in idx[8:16]]), t))
        r = np.array(res)
        print(f"{a.trials} bank studios: coverage mean {r[:, 0].mean():.3f} (>= 0.85 in {np.mean(r[:, 0] >= 0.85):.0%}), "
              f"sure mean {r[:, 1].mean():.2f} (>= 0.80 in {np.mean(r[:, 1] >= 0.8):.0%}), "
              f"rms over sure bands mean {np.nanmean(r[:, 2]):.2f} dB (<= 1.0 in {np.mean(r[:, 2] <= 1.0):.0%})")
    print(f"({time.time() - t0:.0f} s)")


if __name__ == "__main__":
    main()
