"""Issue 12's done-means, re-run on the second song generator (:mod:`mixes.songs_alt`).

The project's own evaluations use :mod:`mixes.songs`; the owners check on material we do not
see.  This script runs the same criteria on independently synthesised songs (other styles,
instruments, voice and reverb) and prints one table per criterion:

* ``fingerprint`` — held-out studios as in ``bench_fingerprint_music.py`` (the issue's room,
  then random smooth rooms; 8 coloured mixes against 8 reference songs, each in its own key):
  coverage of the 90 % intervals, share of sure bands, rms over sure bands;
* ``clicks`` — clicks planted as in ``eval_clicks.py`` into alt songs (and the same 30 dB
  quieter / fading): recall over audible clicks, precision; plus every click reported on the
  *clean* songs (the "nothing on the clean file" criterion);
* ``balance`` — vocal and bass offset against the identical song as reference; vocal found
  rate; no-voice songs;
* ``stereo`` — normal songs report no image problem; planted inverted polarity, out-of-phase
  and Haas-widened low end, 2 dB imbalance are found;
* ``artifacts`` — clean music (alt songs of every style, mixes.songs, the dense rock and
  sparse ballad of :mod:`mixes.artifact_material`, the real piano) reports no artifact;
  planted dual mono, polarity, truncation in fast and slow fades (floored and rounded),
  bursts (clipped 30x and 10x, random samples, 4-bit) and splices cut at random points are
  found;
* ``patterns`` — an album of 10 alt songs, the vocal 2.5 dB low on 8, through the CLI
  (``mix analyze --client``, ``mix patterns``): exactly that pattern; a clean album: none.

Usage::

    .venv/bin/python benchmarks/eval_alt_material.py [--part all|fingerprint|clicks|...]
        [--seeds 8] [--seconds 20]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mixes import studio_curves  # noqa: E402
from mixes.analysis import analyze_array  # noqa: E402
from mixes.balance import compare_balance  # noqa: E402
from mixes.renderchecks import render_checks  # noqa: E402
from mixes.songs_alt import make_song  # noqa: E402
from mixes.stereo import measure_stereo  # noqa: E402

FS = 48000
FIFTHS = (0, 7, 2, 9, 4, 11, 6, 1, 8, 3, 10, 5)


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


# ----------------------------------------------------------------------------- fingerprint
SEL_HZ = (39.0, 12_100.0)      # third-octave centres 40 Hz-12 kHz


issue_room = studio_curves.issue_room
random_room = studio_curves.smooth_room


def colour(x, room):
    return studio_curves.colour(x, room, FS)


def room_truth(room, fc):
    """The room's deviation per third-octave (power mean over the band), level-aligned over 40 Hz-12 kHz."""
    return studio_curves.band_truth_db(room, fc, SEL_HZ)


def part_fingerprint(a) -> None:
    from mixes.fingerprint import fingerprint_from_mixes
    for secs in a.fp_seconds:
        st = a.fp_style
        refs = [analyze_array(make_song(1 + i, key=FIFTHS[(i + 5) % 12], duration_s=secs, style=st).mix(), fs=FS,
                              checks=False).ltas for i in range(8)]
        print(f"fingerprint, {secs:g} s alt songs ({st or 'all four styles mixed'}), 8 mixes vs 8 references "
              "(third-octaves 40 Hz-12 kHz)")
        print(f"  {'studio':8s} {'cover':>6s} {'sure':>5s} {'rms sure':>9s} {'rms all':>8s} {'width':>6s}   worst sure band")
        for k in range(a.studios):
            room = issue_room if k == 0 else random_room(k)
            mixes = [analyze_array(colour(make_song(11 + 10 * k + i, key=FIFTHS[i], duration_s=secs, style=st).mix(), room),
                                   fs=FS, checks=False).ltas for i in range(8)]
            fp = fingerprint_from_mixes("s", mixes, refs)
            f = fp.freqs_hz
            t = room_truth(room, f)
            sel = (f >= SEL_HZ[0]) & (f <= SEL_HZ[1])
            iv = fp.interval_db
            inside = (t >= iv[:, 0]) & (t <= iv[:, 1])
            sure = sel & ((iv[:, 1] - iv[:, 0]) <= 3.0)
            err = fp.deviation_db - t
            c, s = float(inside[sel].mean()), float(sure.sum() / sel.sum())
            rs = math.sqrt(float(np.mean(err[sure] ** 2))) if sure.any() else math.nan
            ra = math.sqrt(float(np.mean(err[sel] ** 2)))
            j = int(np.argmax(np.where(sure, np.abs(err), -1.0)))
            worst = f"{f[j]:.0f} Hz: {fp.deviation_db[j]:+.1f} vs truth {t[j]:+.1f}" if sure.any() else "-"
            out = [fc for fc, ok in zip(f[sel], inside[sel]) if not ok]
            name = "issue" if k == 0 else f"random{k}"
            ok = "PASS" if (c >= 0.85 and s >= 0.8 and rs <= 1.0) else "FAIL"
            wid = float(np.median(iv[sel, 1] - iv[sel, 0]))
            print(f"  {name:8s} {c:6.2f} {s:5.2f} {rs:8.2f}  {ra:7.2f} {wid:6.2f}   {worst}  [{ok}]"
                  f"  (covariates {fp.meta.get('covariates', 0)})"
                  + (f"  truth outside the interval at {', '.join(f'{x:.0f}' for x in out)} Hz" if out else ""),
                  flush=True)


# ----------------------------------------------------------------------------- clicks
def part_clicks(a) -> None:
    ec = _load("eval_clicks")
    rng = np.random.default_rng(1)
    tot = np.zeros(5, int)
    clean_total = 0
    print(f"clicks: planted in {a.seeds} alt songs ({a.seconds:g} s) and their quiet/fading versions")
    for seed in range(a.seeds):
        s = make_song(100 + seed, duration_s=a.seconds, key=(seed * 5) % 12)
        m = s.mix()
        mats = [(f"alt{100 + seed} {s.notes['style'][0]}", m)]
        if seed % 2 == 0:
            mats.append((f"alt{100 + seed} -30 dB", m * 10 ** (-30 / 20)))
        else:
            t = np.arange(m.shape[1]) / FS
            env = np.where(t < 4, 1.0, 10 ** (-60 / 20 * (t - 4) / 2.0))
            mats.append((f"alt{100 + seed} fade", m * env + 10 ** (-96 / 20) * rng.standard_normal(m.shape)))
        for name, x in mats:
            clean = render_checks(x, fs=FS)
            clean_total += len(clean.clicks)
            y, truth = ec.plant(x, FS, rng, min(a.clicks, int(x.shape[1] / FS / 0.07)))
            r = render_checks(y, fs=FS)
            h, n, fa, nf, missed, false = ec.score(r.clicks, truth, clean.clicks)
            disc = [e for e in r.artifacts if e.kind == "discontinuity"]
            h2 = ec.score(list(r.clicks) + disc, truth, clean.clicks)[0]
            tot += [h, n, fa, nf, h2]
            own = ", ".join(f"{c.time_s:.3f}s ch{c.channel} {c.audibility_db:+.1f}dB" for c in clean.clicks[:6])
            print(f"  {name:24s} clean: {len(clean.clicks):2d} clicks{(' (' + own + (' ...' if len(clean.clicks) > 6 else '') + ')') if own else ''}")
            print(f"  {'':24s} planted {len(truth)}, audible {n}: recall {h / max(n, 1):.3f} "
                  f"(with splice reports {h2 / max(n, 1):.3f}), false {fa}/{nf}")
            if a.verbose:
                for mm in missed:
                    print(f"  {'':24s}   missed t={mm[0]:.4f} ch{mm[1]} audibility {mm[2]:+.1f} dB")
    h, n, fa, nf, h2 = tot
    print(f"  ALL: recall {h / max(n, 1):.3f} ({h}/{n}; {h2 / max(n, 1):.3f} with splices), "
          f"precision {(nf - fa) / max(nf, 1):.3f}; clicks reported on the clean material: {clean_total}")


# ----------------------------------------------------------------------------- balance
def _bal(x):
    return analyze_array(x, fs=FS).balance


def part_balance(a) -> None:
    print("balance: offsets against the identical song (vocal -2.5 / +2, bass +3 / -3), found rate, no voice")
    rows = []
    for secs in a.bal_seconds:
        found = n_v = 0
        errs_v, errs_b, none_v = [], [], 0
        for seed in range(a.seeds):
            s = make_song(200 + seed, duration_s=secs)
            ref = _bal(s.mix())
            n_v += 1
            found += bool(ref.vocal_found)
            line = []
            for stem, off in (("voice", -2.5), ("voice", 2.0), ("bass", 3.0), ("bass", -3.0)):
                b = _bal(s.mix({stem: off}))
                bvs, vvs = compare_balance(b, [ref])
                got = vvs if stem == "voice" else bvs
                if got is None:
                    none_v += stem == "voice"
                    line.append(f"{stem[0]}{off:+g}: none")
                    continue
                (errs_v if stem == "voice" else errs_b).append(got - off)
                flag = "" if abs(got - off) <= 1.0 else " <-- FAIL"
                line.append(f"{stem[0]}{off:+g}: {got:+.2f}{flag}")
            nv = _bal(make_song(200 + seed, duration_s=secs, voice=False).mix())
            print(f"  {secs:4.0f} s seed {200 + seed} {s.notes['style'][0]:10s} found {str(ref.vocal_found):5s} "
                  f"| {' | '.join(line)} | no voice: found {nv.vocal_found}" + (" <-- FAIL" if nv.vocal_found else ""))
        ev, eb = np.abs(errs_v), np.abs(errs_b)
        rows.append((secs, found, n_v, ev, eb, none_v))
    for secs, found, n_v, ev, eb, none_v in rows:
        print(f"  {secs:4.0f} s: vocal found {found}/{n_v}; vocal offsets within 1 dB {np.sum(ev <= 1)}/{ev.size} "
              f"(worst {ev.max() if ev.size else math.nan:.2f} dB, {none_v} without a figure); bass within 1 dB "
              f"{np.sum(eb <= 1)}/{eb.size} (worst {eb.max() if eb.size else math.nan:.2f} dB)")


# ----------------------------------------------------------------------------- stereo
def part_stereo(a) -> None:
    print("stereo: normal alt songs report nothing; planted problems found")
    n_false = n_miss = n_band = 0
    for seed in range(a.seeds):
        s = make_song(300 + seed, duration_s=a.seconds, fs=44100 if seed % 3 == 2 else FS)
        x = s.mix()
        fs = s.fs
        im = measure_stereo(x, fs=fs)
        bad = im.polarity_inverted or im.low_end_wide or im.low_end_out_of_phase or im.lr_imbalanced or im.problems
        n_false += bool(bad)
        stems = dict(s.stems)
        d = int(0.004 * fs)
        cases = {
            "inverted R": (x * np.array([[1.0], [-1.0]]), lambda m: m.polarity_inverted),
            "bass out of phase": (x - s.stems["bass"] + s.stems["bass"] * np.array([[1.0], [-1.0]]),
                                  lambda m: m.low_end_wide or m.low_end_out_of_phase),
            "Haas bass 4 ms": (x - stems["bass"] + np.stack([stems["bass"][0], np.roll(stems["bass"][1], d)]),
                               lambda m: m.low_end_wide or m.low_end_out_of_phase),
            "+2 dB left": (x * np.array([[10 ** (1 / 20)], [10 ** (-1 / 20)]]), lambda m: m.lr_imbalanced),
            "-2 dB left": (x * np.array([[10 ** (-1 / 20)], [10 ** (1 / 20)]]), lambda m: m.lr_imbalanced),
        }
        got = []
        for name, (y, ok) in cases.items():
            m = measure_stereo(y, fs=fs)
            hit = bool(ok(m))
            n_miss += not hit
            low_band = [p for p in m.problems if p.kind == "out_of_phase" and p.band_hz and p.band_hz < 180]
            n_band += (not hit) and bool(low_band)
            got.append(f"{name}: " + ("found" if hit else (
                f"low end not flagged (corr {m.low_end_correlation:+.2f}), only the 125 Hz octave out of phase"
                if low_band else f"MISSED (low-end corr {m.low_end_correlation:+.2f}, lr {m.lr_balance_db:+.2f})")))
        print(f"  seed {300 + seed} {s.notes['style'][0]:10s} {fs} Hz | normal: "
              + (f"REPORTED {[p.kind for p in im.problems]} lowcorr {im.low_end_correlation:.2f} lr {im.lr_balance_db:.2f}"
                 if bad else f"nothing (low-end corr {im.low_end_correlation:.2f}, lr {im.lr_balance_db:+.2f} dB)")
              + " | " + "; ".join(got))
    print(f"  ALL: false reports on normal songs {n_false}/{a.seeds}; planted problems not flagged {n_miss}/{5 * a.seeds}"
          f" ({n_band} of them reported only as a 125 Hz octave out of phase)")


# ----------------------------------------------------------------------------- artifacts
SPLICE_REAL_RATIO = 6.0       # a splice of realistic size (mixes.artifact_splice): r >= 6


def _splice_ratio(z, c0, fs):
    """The join's step against the rms first difference over 10 ms on the louder side."""
    w = int(0.010 * fs)
    step = z[:, c0] - z[:, c0 - 1]
    left = np.mean(np.diff(z[:, c0 - w: c0], axis=1) ** 2, axis=1).sum()
    right = np.mean(np.diff(z[:, c0: c0 + w], axis=1) ** 2, axis=1).sum()
    return math.sqrt(float(np.sum(step ** 2)) / max(left, right, 1e-30))


def _artifact_material(a):
    """(name, x, fs): alt songs of every style, mixes.songs songs, own rock/ballad, the real piano."""
    from mixes.artifact_material import dense_rock, sparse_ballad
    from mixes.songs import make_song as make_song_a
    out = []
    for seed in range(a.seeds):
        s = make_song(400 + seed, duration_s=a.seconds)
        out.append((f"alt{400 + seed} {s.notes['style'][0]}", s.mix(), FS))
    for seed in range(a.seeds):
        out.append((f"songs{seed}", make_song_a(seed, duration_s=a.seconds).mix(), FS))
    for seed in (1, 2):
        out.append((f"rock{seed}", dense_rock(seed, duration_s=a.seconds), FS))
        out.append((f"ballad{seed}", sparse_ballad(seed, duration_s=a.seconds), FS))
    piano = ROOT.parent / "shared" / "data" / "pyloudnorm-piano" / "piano.wav"
    if piano.exists():
        x, fs = sf.read(str(piano), dtype="float64", always_2d=True)
        out.append(("piano", x.T.copy(), fs))
    return out


def part_artifacts(a) -> None:
    """Every kind planted several times in every piece; clean pieces through render_checks."""
    from mixes.artifacts import find_artifacts
    print("artifacts: none on clean music (render_checks); each planted kind found (find_artifacts)")
    rng = np.random.default_rng(12)
    tally: dict[str, list[int]] = {}
    n_false = 0
    small = [0, 0]

    def hit(kind, y, fs, t=None, tol=0.005):
        ev = [e for e in find_artifacts(y, fs=fs) if e.kind == kind]
        return bool(ev) if t is None else any(abs(e.time_s - t) <= tol for e in ev)

    for name, x, fs in _artifact_material(a):
        r = render_checks(x, fs=fs)
        n_false += bool(r.artifacts)
        dur = x.shape[1] / fs
        res: dict[str, list[bool]] = {k: [] for k in ("dual_mono", "polarity_inverted", "truncation",
                                                       "digital_distortion", "discontinuity")}
        res["dual_mono"].append(hit("dual_mono", np.vstack([x[0], x[0]]), fs))
        res["polarity_inverted"].append(hit("polarity_inverted", x * np.array([[1.0], [-1.0]]), fs))
        t = np.arange(x.shape[1]) / fs
        for fade_s in (2.0, 6.0):                              # -100 dB fades, fast and slow
            t0 = dur - 0.5 - fade_s
            f = x * np.where(t < t0, 1.0, 10 ** (-100 / 20 * (t - t0) / fade_s))
            for q in (np.floor, np.round):
                res["truncation"].append(hit("truncation", q(f * 32768) / 32768, fs))
        for k in range(4):                                     # 3-4 ms bursts at random places
            p = int(rng.uniform(0.1, 0.9) * dur * fs)
            y = x.copy()
            if k < 2:
                m = int(0.004 * fs)
                y[:, p:p + m] = np.clip((30 if k == 0 else 10) * y[:, p:p + m], -1, 1)
            elif k == 2:
                m = int(0.003 * fs)
                y[:, p:p + m] = rng.uniform(-0.5, 0.5, (x.shape[0], m))
            else:
                m = int(0.004 * fs)
                y[:, p:p + m] = np.round(y[:, p:p + m] * 8) / 8       # 4 bits
            res["digital_distortion"].append(hit("digital_distortion", y, fs, p / fs))
        for k in range(6):                                     # bad edits at random points
            t1 = rng.uniform(0.15, 0.45) * dur
            t2 = rng.uniform(t1 + 0.5, 0.95 * dur)
            c0 = int(t1 * fs)
            z = np.concatenate([x[:, :c0], x[:, int(t2 * fs):]], axis=1)
            found = hit("discontinuity", z, fs, c0 / fs, 0.001)
            if _splice_ratio(z, c0, fs) >= SPLICE_REAL_RATIO:
                res["discontinuity"].append(found)
            else:
                small[0] += found
                small[1] += 1
        for kind, v in res.items():
            tt = tally.setdefault(kind, [0, 0])
            tt[0] += sum(v)
            tt[1] += len(v)
        print(f"  {name:16s} clean: "
              + (f"REPORTED {[(e.kind, round(e.time_s, 3)) for e in r.artifacts]}" if r.artifacts else "none")
              + " | " + "; ".join(f"{k} {sum(v)}/{len(v)}" for k, v in res.items()), flush=True)
    print(f"  ALL: clean pieces with artifact reports {n_false}; found per kind "
          + ", ".join(f"{k} {v[0]}/{v[1]}" for k, v in tally.items())
          + f" (splices of realistic size, step >= {SPLICE_REAL_RATIO:g}x the louder side's rms first"
          f" difference); smaller splices found {small[0]}/{small[1]}")


# ----------------------------------------------------------------------------- patterns
def part_patterns(a) -> None:
    exe = str(ROOT / ".venv" / "bin" / "roomtruth")
    low = {0, 1, 2, 4, 5, 6, 8, 9}
    with tempfile.TemporaryDirectory() as td:
        d = Path(td)
        for i in range(10):
            s = make_song(500 + i, duration_s=a.seconds)
            sf.write(str(d / f"track{i:02d}.wav"), s.mix({"voice": -2.5} if i in low else None).T, FS, subtype="FLOAT")
            sf.write(str(d / f"ref{i:02d}.wav"), s.mix().T, FS, subtype="FLOAT")
            g = float(np.random.default_rng(i).uniform(-0.5, 0.5))
            sf.write(str(d / f"clean{i:02d}.wav"), s.mix({"voice": g, "bass": -g}).T, FS, subtype="FLOAT")
        for client, prefix in (("Alt Low", "track"), ("Alt Clean", "clean")):
            vv = []
            for i in range(10):
                out = subprocess.run([exe, "mix", "analyze", "--json", "--client", client, "-w", str(d / "ws"),
                                      "-r", str(d / f"ref{i:02d}.wav"), str(d / f"{prefix}{i:02d}.wav")],
                                     capture_output=True, text=True)
                b = json.loads(out.stdout)["mixes"][0]["balance"]
                vv.append(b["vocal_vs_reference_db"])
            res = json.loads(subprocess.run([exe, "mix", "patterns", "--client", client, "-w", str(d / "ws"), "--json"],
                                            capture_output=True, text=True).stdout)
            print(f"patterns, client {client!r} ({a.seconds:g} s alt songs 500-509"
                  + (", vocal -2.5 dB on tracks 0,1,2,4,5,6,8,9)" if prefix == "track" else ", +-0.5 dB only)"))
            print("  vocal_vs_reference_db per track: " + ", ".join("-" if v is None else f"{v:+.2f}" for v in vv))
            for p in res["patterns"]:
                print(f"  pattern: {p['what']} (value {p['value_db']}, {p['tracks_with']} of {p['tracks_total']})")
            if not res["patterns"]:
                print("  no pattern")


PARTS = {"fingerprint": part_fingerprint, "clicks": part_clicks, "balance": part_balance, "stereo": part_stereo,
         "artifacts": part_artifacts, "patterns": part_patterns}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--part", default="all", choices=["all", *PARTS])
    ap.add_argument("--seeds", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--studios", type=int, default=4)
    ap.add_argument("--fp-seconds", type=float, nargs="+", default=[20.0, 30.0])
    ap.add_argument("--fp-style", default=None, help="one style for a studio's mixes and references")
    ap.add_argument("--bal-seconds", type=float, nargs="+", default=[12.0, 20.0, 30.0])
    ap.add_argument("--clicks", type=int, default=60)
    ap.add_argument("--verbose", action="store_true")
    a = ap.parse_args()
    t0 = time.time()
    for name, fn in PARTS.items():
        if a.part in ("all", name):
            fn(a)
            print(f"({name}: {time.time() - t0:.0f} s so far)", flush=True)


if __name__ == "__main__":
    main()
