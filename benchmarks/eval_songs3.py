"""Issue 12's done-means on the third song generator (:mod:`mixes.songs3`), through the CLI.

The detectors were developed on :mod:`mixes.songs` and :mod:`mixes.songs_alt`; the issue asks
that its done-means also hold "on material you do not see".  :mod:`mixes.songs3` was written
independently (other voice, basses, drums, chords, reverb, six styles).  This script writes its
songs as WAV files (32-bit float) and runs ``roomtruth mix analyze / fingerprint / patterns
--json`` on them as a user would, then scores each criterion against the known truth:

* ``balance`` — per song, the mix with the vocal and the bass moved by U(-6, 6) dB *together*
  and the whole mix brought U(-20, 0) dB down, against the same song at 0 dB (``-r``), at 12,
  20 and 30 s; the same song without the voice must give ``vocal_found`` false;
* ``patterns`` — an album of 10 tracks (own references) with the vocal 2.5 dB low on 8:
  exactly that pattern, 8 of 10; an album moved only +-0.5 dB at random: no pattern;
* ``stereo`` — normal mixes report no image problem; a channel in inverted polarity, the bass
  out of phase between the channels, a Haas-widened (4 ms) bass and a bass whose sides drift in
  and out of phase (the right 0.5 Hz frequency-shifted, as a detuned stereo synth bass),
  and a 2 dB left/right imbalance (either way) are each reported;
* ``clicks`` — single-sample, doublet, 3-sample and 0.2-2 ms burst clicks at -50 to -15 dBFS,
  a quarter in pairs (half of those 16 ms apart), planted in songs of every style (full level
  and 20 dB down): recall over clicks the tool's own audibility model
  (:func:`mixes.clicks.click_audibility_db`, from the clean song and the known click) calls
  >= 0 dB, each click of a pair counted; precision over all reports of the dirty file; and
  every click reported on the clean songs;
* ``artifacts`` — dual mono, one channel inverted, 16-bit truncation in a fade, a 4 ms burst of
  clipping, a splice (a stretch cut out) each planted; the clean songs report none;
* ``fingerprint`` — held-out studios (the issue's room, then random smooth rooms): 8 songs
  coloured by the room against 8 other songs as references, each in its own key, through
  ``mix fingerprint --json``: coverage of the 90 % intervals, share of sure bands (<= 3 dB
  wide) and rms error over the sure bands, third-octaves 40 Hz-12 kHz.  By default a studio's
  mixes and its references share a style (studio k: ``STYLES[k % 6]``, the issue room first:
  radio pop); ``--fp-style mixed`` gives every studio all six styles (a wider spread).

A table of met / not met with the figures ends the run (also written as JSON with ``--json``).

Usage::

    .venv/bin/python benchmarks/eval_songs3.py [--part all|balance|patterns|stereo|clicks|artifacts|fingerprint]
        [--gen songs|songs_alt|songs3|songs4|songs5|songs6] [--quick] [--seeds N] [--json PATH] [--verbose]

``--gen`` chooses the generator (default songs3, so earlier results stay reproducible); the
seeds are the same for every generator (a generator's style follows from its seed).  With
songs4, the no-voice rows are split: songs whose other stems sing (a cappella's choir on the
"pads" stem and its bass singer) are shown apart, since a voice IS there.  With songs4 and songs5 a
balance row also counts only the singers with vibrato (the done-means' voice); songs5's styles are
``STYLES[seed % 10]`` (its no-voice song is exactly the mix minus the voice stem: an instrumental of
the same master).  songs6 (styles ``STYLES[seed % 9]``) names its singer in ``notes["meta"]["voice_kind"]``
too ("straight tone" singers are counted apart, as with songs4/songs5).
"""

from __future__ import annotations

import argparse
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
from mixes.clicks import click_audibility_db  # noqa: E402
import importlib  # noqa: E402
import inspect  # noqa: E402

GEN = "songs3"
STYLES: tuple = ()
make_song = None


def use_generator(name: str) -> None:
    """Import ``mixes.<name>``'s make_song (and STYLES if it has them) as this module's."""
    global GEN, STYLES, make_song
    mod = importlib.import_module(f"mixes.{name}")
    GEN, STYLES = name, tuple(getattr(mod, "STYLES", ()) or ())
    fn = mod.make_song
    if "style" in inspect.signature(fn).parameters:
        make_song = fn
    else:
        def make_song(seed, *, style=None, **kw):                                # noqa: E306
            return fn(seed, **kw)


def _style(s) -> str:
    return str(getattr(s, "style", "-"))


def _kind(s) -> str:
    meta = (getattr(s, "notes", None) or {}).get("meta", {}) if isinstance(getattr(s, "notes", None), dict) else {}
    return str(meta.get("bass_kind", "-"))


def _voice_kind(s) -> str:
    """songs4's singer and master chain (empty for the other generators)."""
    meta = (getattr(s, "notes", None) or {}).get("meta", {}) if isinstance(getattr(s, "notes", None), dict) else {}
    return f" [{meta['voice_kind']}, master {meta.get('master')}]" if "voice_kind" in meta else ""


def _vibrato_singer(s) -> bool:
    """songs4: the lead sings with vibrato (the voice the done-means describes)."""
    meta = (getattr(s, "notes", None) or {}).get("meta", {}) if isinstance(getattr(s, "notes", None), dict) else {}
    return "vibrato" in str(meta.get("voice_kind", ""))


def _sings_elsewhere(s) -> bool:
    """True when a stem other than "voice" sings (songs4's a cappella choir or bass singer)."""
    meta = (getattr(s, "notes", None) or {}).get("meta", {}) if isinstance(getattr(s, "notes", None), dict) else {}
    return bool(meta.get("sung_backing")) or meta.get("bass_kind") == "bass singer"


use_generator("songs3")

FS = 48000
EXE = str(ROOT / ".venv" / "bin" / "roomtruth")
ROWS: list[dict] = []
FIFTHS = (0, 7, 2, 9, 4, 11, 6, 1, 8, 3, 10, 5)


def cli(*args: str, tries: int = 5) -> dict:
    """Run ``roomtruth ARGS --json`` and return the parsed JSON (exit code 0 or 2 with output).

    An internal error (the shared working tree mid-edit) is retried after 40 s, ``tries`` times.
    """
    for k in range(tries):
        p = subprocess.run([EXE, *map(str, args)], capture_output=True, text=True)
        if p.stdout.strip():
            return json.loads(p.stdout)
        print(f"  (roomtruth {' '.join(map(str, args[:2]))} failed ({p.returncode}): {p.stderr.strip()[:200]}"
              + ("; retrying in 40 s)" if k + 1 < tries else ")"), flush=True)
        if k + 1 < tries:
            time.sleep(40)
    raise RuntimeError(f"roomtruth {' '.join(map(str, args[:3]))} ... failed ({p.returncode}): {p.stderr.strip()[:400]}")


def wav(path: Path, x: np.ndarray, fs: int = FS) -> str:
    sf.write(str(path), x.T, fs, subtype="FLOAT")
    return str(path)


def row(part: str, criterion: str, met: bool, figures: str) -> None:
    ROWS.append({"part": part, "criterion": criterion, "met": bool(met), "figures": figures})
    print(f"  => {criterion}: {'MET' if met else 'NOT MET'} ({figures})", flush=True)


def by_file(out: dict) -> dict:
    return {Path(m["file"]).name: m for m in out["mixes"]}


# ----------------------------------------------------------------------------- balance
def part_balance(a, td: Path) -> None:
    print("balance: vocal and bass moved by U(-6,6) dB together, mix level U(-20,0) dB, against the same song at 0 dB")
    rng = np.random.default_rng(12)
    for secs in a.bal_seconds:
        ev, eb, none_v, nv_found, v_found, nv_sung, n_sung, ev_vib = [], [], 0, 0, 0, 0, 0, []
        n = 0
        for k in range(a.seeds):
            seed = 600 + k + int(secs) * 10
            s = make_song(seed, duration_s=secs)
            ov, ob, lvl = (float(x) for x in (rng.uniform(-6, 6), rng.uniform(-6, 6), rng.uniform(-20, 0)))
            ref = wav(td / f"ref{seed}.wav", s.mix())
            mix = wav(td / f"mix{seed}.wav", s.mix({"voice": ov, "bass": ob}) * 10 ** (lvl / 20))
            nov = wav(td / f"novoice{seed}.wav", make_song(seed, duration_s=secs, voice=False).mix())
            res = by_file(cli("mix", "analyze", "--json", "-r", ref, mix, nov))
            b, bn = res[Path(mix).name]["balance"], res[Path(nov).name]["balance"]
            n += 1
            v_found += bool(b["vocal_found"])
            if _sings_elsewhere(s):
                n_sung += 1
                nv_sung += bool(bn["vocal_found"])
            else:
                nv_found += bool(bn["vocal_found"])
            vv, bv = b["vocal_vs_reference_db"], b["bass_vs_reference_db"]
            if _vibrato_singer(s):
                ev_vib.append(math.inf if vv is None else abs(vv - ov))
            if vv is None:
                none_v += 1
            else:
                ev.append(vv - ov)
            if bv is not None:
                eb.append(bv - ob)
            flag = lambda e: "" if e is not None and abs(e) <= 1 else " <--"   # noqa: E731
            print(f"  {secs:4.0f} s {seed} {_style(s):9s} {_kind(s):6s} vocal {ov:+5.2f} -> "
                  f"{'none' if vv is None else f'{vv:+5.2f}'}{flag(None if vv is None else vv - ov)} | bass {ob:+5.2f} -> "
                  f"{'none' if bv is None else f'{bv:+5.2f}'}{flag(None if bv is None else bv - ob)} | level {lvl:+5.1f} dB"
                  f" | no voice: found {bn['vocal_found']}" + (" <--" if bn["vocal_found"] and not _sings_elsewhere(s) else "")
                  + (" (other stems sing)" if _sings_elsewhere(s) else "") + _voice_kind(s)
                  + (f"  notes: {'; '.join(b['notes'])[:160]}" if a.verbose and b["notes"] else ""), flush=True)
        ev, eb = np.abs(ev), np.abs(eb)
        rms = lambda e: math.sqrt(float(np.mean(np.square(e)))) if len(e) else math.nan   # noqa: E731
        row("balance", f"vocal_vs_reference within 1 dB ({secs:g} s)", len(ev) == n and bool(np.all(ev <= 1.0)),
            f"{int(np.sum(ev <= 1.0))}/{n} within 1 dB, {none_v} without a figure, rms {rms(ev):.2f}, "
            f"worst {ev.max() if ev.size else math.nan:.2f} dB")
        if GEN in ("songs4", "songs5", "songs6"):    # the done-means' voice: sung, with vibrato (not rap, not straight tone)
            e = np.asarray(ev_vib)
            row("balance", f"vocal within 1 dB, singers with vibrato only ({secs:g} s)", bool(np.all(e <= 1.0)),
                f"{int(np.sum(e <= 1.0))}/{e.size} within 1 dB, {int(np.sum(np.isinf(e)))} without a figure")
        row("balance", f"bass_vs_reference within 1 dB ({secs:g} s)", len(eb) == n and bool(np.all(eb <= 1.0)),
            f"{int(np.sum(eb <= 1.0))}/{n} within 1 dB, rms {rms(eb):.2f}, worst {eb.max() if eb.size else math.nan:.2f} dB")
        row("balance", f"no voice -> vocal_found false ({secs:g} s)", nv_found == 0,
            f"found on {nv_found}/{n - n_sung} songs without a voice; voice found on {v_found}/{n} voiced mixes"
            + (f"; songs whose other stems sing (a cappella): found {nv_sung}/{n_sung}" if n_sung else ""))


# ----------------------------------------------------------------------------- patterns
def part_patterns(a, td: Path) -> None:
    low = {0, 1, 2, 4, 5, 6, 8, 9}
    for client, prefix in (("S3 Low", "track"), ("S3 Clean", "clean")):
        vv = []
        for i in range(10):
            s = make_song(700 + i, duration_s=a.seconds)
            ref = wav(td / f"ref{i:02d}.wav", s.mix())
            if prefix == "track":
                x = s.mix({"voice": -2.5} if i in low else None)
            else:
                g = float(np.random.default_rng(i).uniform(-0.5, 0.5))
                x = s.mix({"voice": g, "bass": -g})
            f = wav(td / f"{prefix}{i:02d}.wav", x)
            out = cli("mix", "analyze", "--json", "--client", client, "-w", str(td / "ws"), "-r", ref, f)
            vv.append(out["mixes"][0]["balance"]["vocal_vs_reference_db"])
        res = cli("mix", "patterns", "--client", client, "-w", str(td / "ws"), "--json")
        pats = res["patterns"]
        print(f"patterns, client {client!r} ({a.seconds:g} s {GEN} 700-709"
              + (", vocal -2.5 dB on tracks 0,1,2,4,5,6,8,9)" if prefix == "track" else ", +-0.5 dB only)"))
        print("  vocal_vs_reference_db per track: " + ", ".join("-" if v is None else f"{v:+.2f}" for v in vv))
        for p in pats:
            print(f"  pattern: {p['what']} (value {p['value_db']}, {p['tracks_with']} of {p['tracks_total']})")
        if prefix == "track":
            ok = (len(pats) == 1 and "vocal" in pats[0]["what"].lower() and pats[0]["tracks_with"] == 8
                  and pats[0]["tracks_total"] == 10)
            row("patterns", "vocal 2.5 dB low on 8 of 10 -> that pattern (8 of 10) and no other", ok,
                "; ".join(f"{p['what']} ({p['tracks_with']}/{p['tracks_total']}, {p['value_db']} dB)" for p in pats)
                or "no pattern")
        else:
            row("patterns", "no consistent issue -> no pattern", not pats,
                "; ".join(f"{p['what']} ({p['tracks_with']}/{p['tracks_total']})" for p in pats) or "no pattern")


# ----------------------------------------------------------------------------- stereo
def _rotating_bass(s) -> np.ndarray:
    """The bass stem made wide as a detuned stereo synth patch sounds: the right channel
    frequency-shifted by 0.5 Hz (single-sideband), so the two sides drift in and out of phase."""
    from scipy.signal import hilbert
    b = s.stems["bass"].mean(axis=0)
    r = np.real(hilbert(b) * np.exp(2j * np.pi * 0.5 * np.arange(b.size) / FS))
    return np.stack([b, r])


STEREO_CASES = {
    "inverted R": (lambda s, x: x * np.array([[1.0], [-1.0]]), ("polarity_inverted",)),
    "bass out of phase": (lambda s, x: x - s.stems["bass"] + s.stems["bass"] * np.array([[1.0], [-1.0]]),
                          ("low_end_wide", "low_end_out_of_phase")),
    "Haas bass 4 ms": (lambda s, x: x - s.stems["bass"] + np.stack([s.stems["bass"][0], np.roll(s.stems["bass"][1],
                                                                                                 int(0.004 * FS))]),
                       ("low_end_wide", "low_end_out_of_phase")),
    "phase-drifting bass": (lambda s, x: x - s.stems["bass"] + _rotating_bass(s), ("low_end_wide", "low_end_out_of_phase")),
    "+2 dB left": (lambda s, x: x * np.array([[10 ** (1 / 20)], [10 ** (-1 / 20)]]), ("lr_imbalanced",)),
    "-2 dB left": (lambda s, x: x * np.array([[10 ** (-1 / 20)], [10 ** (1 / 20)]]), ("lr_imbalanced",)),
}
STEREO_FLAGS = ("polarity_inverted", "low_end_wide", "low_end_out_of_phase", "lr_imbalanced")


def part_stereo(a, td: Path) -> None:
    print(f"stereo: normal {GEN} mixes report nothing; planted problems are reported")
    files, songs = [], {}
    for k in range(a.seeds):
        seed = 800 + k
        s = make_song(seed, duration_s=a.seconds)
        x = s.mix()
        songs[seed] = s
        files.append(wav(td / f"n{seed}.wav", x))
        for j, (name, (fn, _)) in enumerate(STEREO_CASES.items()):
            files.append(wav(td / f"c{j}_{seed}.wav", fn(s, x)))
    res = by_file(cli("mix", "analyze", "--json", *files))
    false = 0
    miss = {name: 0 for name in STEREO_CASES}
    for seed, s in songs.items():
        st = res[f"n{seed}.wav"]["stereo"]
        bad = [f for f in STEREO_FLAGS if st.get(f)]
        false += bool(bad)
        got = []
        for j, (name, (_, flags)) in enumerate(STEREO_CASES.items()):
            sj = res[f"c{j}_{seed}.wav"]["stereo"]
            hit = any(sj.get(f) for f in flags)
            miss[name] += not hit
            got.append(f"{name}: {'found' if hit else 'MISSED'}"
                       + ("" if hit else f" (low-end corr {sj.get('low_end_correlation')}, lr {sj.get('lr_balance_db')})"))
        print(f"  {seed} {_style(s):9s} {_kind(s):6s} normal: "
              + (f"REPORTED {bad} (low-end corr {st.get('low_end_correlation')}, lr {st.get('lr_balance_db')})" if bad
                 else f"nothing (low-end corr {st.get('low_end_correlation')}, lr {st.get('lr_balance_db'):+.2f} dB"
                      f", problems {[p.get('kind') for p in st.get('problems', [])]})")
              + " | " + "; ".join(got), flush=True)
    n = len(songs)
    row("stereo", "normal mixes report none", false == 0, f"{false}/{n} normal mixes with an image flag")
    for name in STEREO_CASES:
        row("stereo", f"{name} reported", miss[name] == 0, f"missed {miss[name]}/{n}")


# ----------------------------------------------------------------------------- clicks
SHAPES = ("single", "doublet", "3-sample", "burst")


def _click(rng) -> tuple[str, np.ndarray]:
    k = int(rng.integers(len(SHAPES)))
    if k == 0:
        c = np.array([1.0])
    elif k == 1:
        c = np.zeros(int(rng.integers(2, 7)))
        c[0], c[-1] = 1.0, rng.uniform(-1, 1)
    elif k == 2:
        c = np.array([0.5, 1.0, -0.6])
    else:
        m = int(rng.uniform(0.0002, 0.002) * FS) + 1
        c = rng.standard_normal(m) * np.hanning(m + 2)[1:-1]
    return SHAPES[k], c / np.abs(c).max() * rng.choice([-1.0, 1.0])


def plant_clicks(x: np.ndarray, rng, n_clicks: int) -> tuple[np.ndarray, list]:
    """Clicks at -50 to -15 dBFS, a quarter followed by a second 16 ms (half) or 10-50 ms later;
    truth ``(time_s, channel, audibility_db, shape)`` with the tool's own audibility model."""
    y = x.copy()
    truth = []
    slots = np.sort(rng.choice(np.arange(int(0.1 * FS), x.shape[1] - int(0.15 * FS), int(0.08 * FS)),
                               n_clicks, replace=False))
    for p in slots:
        ch = int(rng.integers(2))
        group = [int(p)]
        if rng.random() < 0.25:
            group.append(int(p + (0.016 if rng.random() < 0.5 else rng.uniform(0.010, 0.050)) * FS))
        for q in group:
            shape, c = _click(rng)
            c = c * 10 ** (rng.uniform(-50, -15) / 20)
            truth.append((q / FS, ch, click_audibility_db(x[ch], c, q, fs=FS), shape))
            y[ch, q:q + c.size] += c
    return y, truth


def part_clicks(a, td: Path) -> None:
    print(f"clicks: planted in {a.seeds} {GEN} songs of every style ({a.seconds:g} s), full level and 20 dB down")
    rng = np.random.default_rng(3)
    files, truths = [], {}
    for k in range(a.seeds):
        seed = 900 + k
        s = make_song(seed, duration_s=a.seconds)
        for tag, g in (("", 1.0), ("q", 0.1)) if k % 2 == 0 else (("", 1.0),):
            x = s.mix() * g
            name = f"{seed}{tag}"
            files.append(wav(td / f"clean{name}.wav", x))
            y, truth = plant_clicks(x, rng, a.clicks)
            files.append(wav(td / f"dirty{name}.wav", y))
            truths[name] = (truth, _style(s))
    res = by_file(cli("mix", "analyze", "--json", *files))
    tol = 0.002
    tot = {"hit": 0, "aud": 0, "hit_any": 0, "rep": 0, "true_rep": 0, "own": 0, "clean": 0}
    by_shape: dict[str, list[int]] = {}
    pair_hit = pair_n = 0
    missed_all = []
    for name, (truth, style) in truths.items():
        clean = res[f"clean{name}.wav"]
        dirty = res[f"dirty{name}.wav"]
        cl = [(c["time_s"], c["channel"]) for c in clean["clicks"]]
        rep = [(c["time_s"], c["channel"]) for c in dirty["clicks"]]
        art = [(e["time_s"], e["channel"]) for e in dirty["artifacts"] if e["kind"] in ("discontinuity", "digital_distortion")]
        match = lambda t, ch, lst: any(abs(t - u) <= tol and (c == ch or c == -1) for u, c in lst)  # noqa: E731
        aud = [t for t in truth if t[2] >= 0.0]
        hits = [match(t[0], t[1], rep) for t in aud]
        hits_any = [match(t[0], t[1], rep + art) for t in aud]
        true_rep = [r for r in rep if any(abs(r[0] - t[0]) <= tol and r[1] == t[1] for t in truth)]
        own = [r for r in rep if r not in true_rep and match(r[0], r[1], cl)]
        for t, h in zip(aud, hits):
            v = by_shape.setdefault(t[3], [0, 0])
            v[0] += h
            v[1] += 1
        # pairs: both clicks of a group 10-50 ms apart on one channel
        ts = sorted(aud, key=lambda t: t[0])
        for i in range(len(ts) - 1):
            if ts[i + 1][1] == ts[i][1] and 0.0095 <= ts[i + 1][0] - ts[i][0] <= 0.051:
                pair_n += 1
                pair_hit += match(ts[i + 1][0], ts[i + 1][1], rep)
        tot["hit"] += sum(hits)
        tot["hit_any"] += sum(hits_any)
        tot["aud"] += len(aud)
        tot["rep"] += len(rep)
        tot["true_rep"] += len(true_rep)
        tot["own"] += len(own)
        tot["clean"] += len(cl)
        missed = [t for t, h in zip(aud, hits) if not h]
        missed_all += [(name, *m) for m in missed]
        print(f"  {name:6s} {style:9s} clean: {len(cl)} clicks"
              + (f" ({', '.join(f'{t:.3f}s ch{c}' for t, c in cl[:5])}{' ...' if len(cl) > 5 else ''})" if cl else "")
              + f" | planted {len(truth)}, audible {len(aud)}: found {sum(hits)} ({sum(hits_any)} with splice/distortion"
              f" reports), reports {len(rep)} of which planted {len(true_rep)}, the clean file's own {len(own)}", flush=True)
    if a.verbose:
        for m in missed_all:
            print(f"    missed {m[0]} t={m[1]:.4f} ch{m[2]} audibility {m[3]:+.1f} dB {m[4]}")
    rec = tot["hit"] / max(tot["aud"], 1)
    prec = tot["true_rep"] / max(tot["rep"], 1)
    prec_x = tot["true_rep"] / max(tot["rep"] - tot["own"], 1)
    print("  recall by shape: " + ", ".join(f"{k} {v[0]}/{v[1]}" for k, v in sorted(by_shape.items())))
    row("clicks", "recall >= 95 % over clicks >= 0 dB audibility", rec >= 0.95,
        f"{rec:.3f} ({tot['hit']}/{tot['aud']}; {tot['hit_any'] / max(tot['aud'], 1):.3f} counting splice/distortion reports)"
        f"; second click of pairs 10-50 ms apart {pair_hit}/{pair_n}")
    row("clicks", "precision >= 95 %", prec >= 0.95,
        f"{prec:.3f} ({tot['true_rep']}/{tot['rep']}; {prec_x:.3f} not counting what the clean file already reports)")
    row("clicks", "nothing on the clean file", tot["clean"] == 0, f"{tot['clean']} clicks reported on {len(truths)} clean files")


# ----------------------------------------------------------------------------- artifacts
def _splice(x, rng):
    n = x.shape[1]
    t1 = int(rng.uniform(0.2, 0.45) * n)
    t2 = int(rng.uniform(t1 / n + 0.05, 0.9) * n)
    return np.concatenate([x[:, :t1], x[:, t2:]], axis=1), t1 / FS


SPLICE_REAL_RATIO = 6.0       # a splice of realistic size (as in eval_alt_material): step >= 6x the motion


def _splice_ratio(z, c0):
    """The join's step against the rms first difference over 10 ms on the louder side."""
    w = int(0.010 * FS)
    step = z[:, c0] - z[:, c0 - 1]
    sides = [np.mean(np.diff(z[:, c0 - w: c0], axis=1) ** 2, axis=1).sum(),
             np.mean(np.diff(z[:, c0: c0 + w], axis=1) ** 2, axis=1).sum()]
    return math.sqrt(float(np.sum(step ** 2)) / max(max(sides), 1e-30))


def part_artifacts(a, td: Path) -> None:
    print(f"artifacts: each kind planted in {a.seeds} {GEN} songs ({a.seconds:g} s); the clean songs report none")
    rng = np.random.default_rng(5)
    files, plan = [], []
    for k in range(a.seeds):
        seed = 1000 + k
        s = make_song(seed, duration_s=a.seconds)
        x = s.mix()
        n = x.shape[1]
        files.append(wav(td / f"clean{seed}.wav", x))
        plan.append((seed, "clean", None, f"clean{seed}.wav", _style(s)))
        cases = {"dual_mono": (np.vstack([x[0], x[0]]), None), "polarity_inverted": (x * np.array([[1.0], [-1.0]]), None)}
        t = np.arange(n) / FS
        fade_s = float(rng.uniform(2.0, 6.0))
        t0 = a.seconds - 0.5 - fade_s
        f = x * np.where(t < t0, 1.0, 10 ** (-100 / 20 * np.clip(t - t0, 0, None) / fade_s))
        cases["truncation"] = (np.floor(f * 32768) / 32768, None)
        p = int(rng.uniform(0.15, 0.85) * n)
        m = int(0.004 * FS)
        y = x.copy()
        y[:, p:p + m] = np.clip(30 * y[:, p:p + m], -1, 1)
        cases["digital_distortion"] = (y, p / FS)
        z, tj = _splice(x, rng)
        cases["discontinuity"] = (z, tj)
        ratio = _splice_ratio(z, int(round(tj * FS)))
        for kind, (y, tt) in cases.items():
            fn = f"{kind}{seed}.wav"
            files.append(wav(td / fn, y))
            plan.append((seed, kind, tt, fn, _style(s) if kind != "discontinuity" else f"{_style(s)} step {ratio:.1f}x"))
    res = by_file(cli("mix", "analyze", "--json", *files))
    found: dict[str, list[int]] = {}
    clean_bad = 0
    lines: dict[int, list[str]] = {}
    for seed, kind, tt, fn, info in plan:
        arts = res[fn]["artifacts"]
        if kind == "clean":
            clean_bad += bool(arts)
            lines.setdefault(seed, []).insert(0, f"{info:8s} clean: " + (
                f"REPORTED {[(e['kind'], round(e['time_s'], 3)) for e in arts]}" if arts else "none"))
            continue
        tol = 0.001 if kind == "discontinuity" else 0.01
        hit = any(e["kind"] == kind and (tt is None or abs(e["time_s"] - tt) <= tol) for e in arts)
        key = kind
        if kind == "discontinuity" and float(info.rsplit("step ", 1)[1].rstrip("x")) < SPLICE_REAL_RATIO:
            key = f"discontinuity, step < {SPLICE_REAL_RATIO:g}x (not counted)"
        v = found.setdefault(key, [0, 0])
        v[0] += hit
        v[1] += 1
        lines.setdefault(seed, []).append(f"{kind} {'found' if hit else 'MISSED'}"
                                          + (f" ({info.split(' ', 1)[1]})" if kind == "discontinuity" else ""))
    for seed, ls in lines.items():
        print(f"  {seed} " + " | ".join(ls), flush=True)
    n = a.seeds
    row("artifacts", "clean music reports no artifact", clean_bad == 0, f"{clean_bad}/{n} clean songs with reports")
    for kind, (h, m) in found.items():
        if "not counted" in kind:
            print(f"  {kind}: found {h}/{m}")
            continue
        row("artifacts", f"{kind} found where planted", h == m, f"{h}/{m}" + (
            f" (splices whose step is >= {SPLICE_REAL_RATIO:g}x the louder side's rms first difference)"
            if kind == "discontinuity" else ""))


# ----------------------------------------------------------------------------- fingerprint
SEL_HZ = (39.0, 12_100.0)


def part_fingerprint(a, td: Path) -> None:
    secs = a.fp_seconds
    how = {"each": "each studio one style (studio k: STYLES[k % len(STYLES)]), references of that style",
           "mixed": "every studio all styles, references of all styles"}.get(a.fp_style, f"style {a.fp_style}")
    print(f"fingerprint: 8 coloured {GEN} mixes vs 8 {GEN} references per studio ({secs:g} s; {how}), "
          "third-octaves 40 Hz-12 kHz")
    for k in range(a.studios):
        style = None if a.fp_style == "mixed" or not STYLES else (
            STYLES[k % len(STYLES)] if a.fp_style == "each" else a.fp_style)
        refs = [wav(td / f"s{k}_ref{i}.wav", make_song(1100 + 10 * k + i, key=FIFTHS[(i + 5) % 12], duration_s=secs,
                                                       style=style).mix()) for i in range(8)]
        room = studio_curves.issue_room if k == 0 else studio_curves.smooth_room(k)
        mixes = [wav(td / f"s{k}_mix{i}.wav", studio_curves.colour(
            make_song(1200 + 10 * k + i, key=FIFTHS[i], duration_s=secs, style=style).mix(), room, FS)) for i in range(8)]
        fp = cli("mix", "fingerprint", "--studio", f"{GEN} studio {k}", "-w", str(td / "ws"), "--json", "--force",
                 *sum((["-r", r] for r in refs), []), *mixes)
        fp = fp.get("fingerprint", fp)
        f = np.asarray(fp["freqs_hz"], float)
        d = np.asarray(fp["deviation_db"], float)
        iv = np.asarray(fp["interval_db"], float)
        t = studio_curves.band_truth_db(room, f, SEL_HZ)
        sel = (f >= SEL_HZ[0]) & (f <= SEL_HZ[1])
        inside = (t >= iv[:, 0]) & (t <= iv[:, 1])
        sure = sel & ((iv[:, 1] - iv[:, 0]) <= 3.0)
        err = d - t
        cov, share = float(inside[sel].mean()), float(sure.sum() / sel.sum())
        rs = math.sqrt(float(np.mean(err[sure] ** 2))) if sure.any() else math.nan
        j = int(np.argmax(np.where(sure, np.abs(err), -1.0)))
        name = ("issue room" if k == 0 else f"random room {k}") + (f" ({style})" if style else " (mixed)")
        out = [f"{x:.0f}" for x, ok in zip(f[sel], inside[sel]) if not ok]
        print(f"  {name:14s} coverage {cov:.2f}, sure {share:.2f}, rms over sure {rs:.2f} dB, all "
              f"{math.sqrt(float(np.mean(err[sel] ** 2))):.2f} dB; worst sure band {f[j]:.0f} Hz: {d[j]:+.1f} vs {t[j]:+.1f}"
              + (f"; truth outside at {', '.join(out)} Hz" if out else ""), flush=True)
        if a.verbose:
            wide = [f"{x:.0f} ({w:.1f})" for x, w, ok in zip(f[sel], (iv[:, 1] - iv[:, 0])[sel], sure[sel]) if not ok]
            print(f"    unsure bands, Hz (interval width dB): {', '.join(wide) or 'none'}", flush=True)
        row("fingerprint", f"{name}: cover>=.85 sure>=.8 rms<=1",
            cov >= 0.85 and share >= 0.8 and rs <= 1.0, f"coverage {cov:.2f}, sure {share:.2f}, rms {rs:.2f} dB")


PARTS = {"balance": part_balance, "patterns": part_patterns, "stereo": part_stereo, "clicks": part_clicks,
         "artifacts": part_artifacts, "fingerprint": part_fingerprint}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--part", default="all", choices=["all", *PARTS])
    ap.add_argument("--gen", default="songs3", choices=["songs", "songs_alt", "songs3", "songs4", "songs5", "songs6"],
                    help="the song generator (mixes.<gen>; default songs3)")
    ap.add_argument("--quick", action="store_true", help="fewer and shorter songs (a few minutes in all)")
    ap.add_argument("--seeds", type=int, default=None, help="songs per part (default 12; 6 with --quick)")
    ap.add_argument("--seconds", type=float, default=None, help="song length for the parts other than balance")
    ap.add_argument("--studios", type=int, default=None)
    ap.add_argument("--fp-style", default="each", help="each (a style per studio), mixed, or one style name")
    ap.add_argument("--clicks", type=int, default=40, help="click groups planted per file")
    ap.add_argument("--json", default="", help="write the table of results here")
    ap.add_argument("--verbose", action="store_true")
    a = ap.parse_args()
    use_generator(a.gen)
    a.seeds = a.seeds or (6 if a.quick else 12)
    a.seconds = a.seconds or (12.0 if a.quick else 20.0)
    a.studios = a.studios or (2 if a.quick else 4)
    a.bal_seconds = (12.0, 20.0) if a.quick else (12.0, 20.0, 30.0)
    a.fp_seconds = 20.0 if a.quick else 30.0
    t0 = time.time()
    for name, fn in PARTS.items():
        if a.part in ("all", name):
            with tempfile.TemporaryDirectory() as td:
                try:
                    fn(a, Path(td))
                except RuntimeError as e:                       # one part's failure does not stop the rest
                    row(name, "the part ran", False, str(e)[:200])
            print(f"({name}: {time.time() - t0:.0f} s so far)", flush=True)
    print(f"\nissue 12 done-means on mixes.{GEN}")
    print(f"  {'part':12s} {'criterion':64s} {'':8s} figures")
    for r in ROWS:
        print(f"  {r['part']:12s} {r['criterion']:64s} {'met' if r['met'] else 'NOT MET':8s} {r['figures']}")
    if a.json:
        Path(a.json).write_text(json.dumps({"rows": ROWS, "args": {k: v for k, v in vars(a).items()
                                                                      if isinstance(v, (int, float, str, tuple))}},
                                           indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
