"""Benchmark: ``roomtruth mix analyze`` against ``ffmpeg -af ebur128=peak=true``.

Processing time = wall(10-minute file) - wall(1-second file), the same for both tools, so the
start-up of the interpreter / of ffmpeg cancels.  Both run in the same session, interleaved,
``--repeats`` times; medians are printed, with the integrated loudness both report (they must
agree within 0.1 LU).

    .venv/bin/python benchmarks/bench_mix.py [--minutes 10] [--repeats 3] [--keep DIR]
                                             [--album 12] [--album-seconds 60] [--no-stages]

The test programme is synthetic music-like material (stereo 48 kHz, PCM 24): pink-ish noise
with a slow loudness envelope, transients and a few quiet passages, so every analysis stage
(gating, true-peak pruning, click candidates) does real work.

Also printed: the CPU time of each analysis stage on the long file (in this process, one
thread each, as mix analyze's task queue cuts them and in its order: read, loudness, true
peak, artifacts, LTAS, clicks of channel 1, balance, clicks of channel 2, dynamics, stereo
image, dropouts/clipping/DC), their sum against one in-process analysis on both threads, and
an album of ``--album`` files analysed with one worker (in-process, two threads per file) and
with one worker process per core (one thread per file), best of ``--repeats`` each: the
speed-up and the cores in use (CPU seconds of the whole process tree, sampled from /proc, over
wall seconds).  The load average is printed: on a shared machine only the CPU figures mean
something.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parent.parent
ROOMTRUTH = [str(ROOT / ".venv" / "bin" / "roomtruth")] if (ROOT / ".venv" / "bin" / "roomtruth").exists() \
    else [sys.executable, "-m", "roomtruth"]


def make_programme(path: Path, seconds: float, *, fs: int = 48_000, seed: int = 1) -> None:
    """Write a music-like stereo test file block by block (bounded memory)."""
    rng = np.random.default_rng(seed)
    from scipy.signal import lfilter

    n_total = int(seconds * fs)
    block = fs * 10
    zi = np.zeros((1, 2))
    with sf.SoundFile(str(path), "w", samplerate=fs, channels=2, subtype="PCM_24") as fh:
        for start in range(0, n_total, block):
            n = min(block, n_total - start)
            w = rng.standard_normal((n, 2))
            y, zi = lfilter([0.06], [1, -0.96], w, axis=0, zi=np.repeat(zi, 1, axis=0).reshape(1, 2))
            y += 0.02 * w                                   # some HF
            t = (start + np.arange(n)) / fs
            env = 0.45 + 0.35 * np.sin(2 * np.pi * 0.05 * t) + 0.15 * (np.sin(2 * np.pi * 2 * t) > 0.9)
            env[(t % 90) > 85] *= 0.05                      # a quiet passage every 90 s
            y *= env[:, None]
            fh.write(np.clip(y * 0.8, -0.999, 0.999))


_CPU: dict[str, list[float]] = {}


def wall(cmd: list[str], key: str = "") -> tuple[float, str]:
    """Wall time of one run; its CPU time (user + sys of the child) is kept under ``key``."""
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True)
    dt = time.perf_counter() - t
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if key:
        _CPU.setdefault(key, []).append((r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime))
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({p.returncode}): {p.stderr[-400:]}")
    return dt, p.stdout + p.stderr


def _tree_cpu_s(root: int) -> dict[int, float]:
    """utime + stime (s) of ``root`` and every descendant, from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    parent, cpu = {}, {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as fh:
                f = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parent[int(d)] = int(f[1])
        cpu[int(d)] = (int(f[11]) + int(f[12])) / tick
    out = {}
    for pid in cpu:
        q = pid
        while q in parent and q != root and q > 1:
            q = parent[q]
        if q == root:
            out[pid] = cpu[pid]
    return out


def cores_used(cmd: list[str]) -> tuple[float, float]:
    """``(wall s, CPU s of the process tree)`` of one run, the tree sampled every 50 ms (a
    process's last CPU before it exits is counted from its last sample)."""
    t = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    seen: dict[int, float] = {}
    while p.poll() is None:
        seen.update(_tree_cpu_s(p.pid))
        time.sleep(0.05)
    dt = time.perf_counter() - t
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({p.returncode}): {p.stderr.read()[-400:]}")
    return dt, sum(seen.values())


def stages(path: Path) -> list[tuple[str, float]]:
    """CPU seconds of each analysis stage on ``path`` (this process, one thread each), as the
    pipeline's task queue cuts them (mixes.analysis._plan), then one in-process
    ``analyze_file`` (both threads): its wall and CPU seconds."""
    sys.path.insert(0, str(ROOT))
    from mixes.analysis import _spectrum, analyze_file, read_mix
    from mixes.loudness import LoudnessMeter
    from mixes.renderchecks import render_check_parts
    from mixes.stereo import measure_stereo
    from mixes.truepeak import TruePeakMeter

    out = []

    def run(name, fn):
        t = time.process_time()
        r = fn()
        out.append((name, time.process_time() - t))
        return r

    x, fs = run("read file", lambda: read_mix(path))

    def meter(m, finish):
        for i in range(0, x.shape[1], 1 << 16):
            m.feed(x[:, i:i + (1 << 16)])
        return finish()

    lm = LoudnessMeter(fs=fs, n_channels=x.shape[0])
    lr = run("loudness (BS.1770, LRA)", lambda: meter(lm, lm.result))
    tp = TruePeakMeter(fs=fs, n_channels=x.shape[0])
    tres = run("true peak (8x)", lambda: meter(tp, tp.finish))
    parts, _ = render_check_parts(x, fs=fs)
    n_click = len(parts) - 2
    # in the order of the task queue (mixes.analysis._plan)
    run("artifacts", parts[n_click])
    run("LTAS spectrum", lambda: _spectrum(x, fs))
    run("clicks, channel 1", parts[0])
    try:
        from mixes.balance import measure_balance

        run("balance (bass, vocal)", lambda: measure_balance(x, fs=fs, integrated_lufs=lr.integrated_lufs))
    except ImportError:
        pass
    for c in range(1, n_click):
        run(f"clicks, channel {c + 1}", parts[c])
    try:
        from mixes.dynamics import measure_dynamics

        run("dynamics", lambda: measure_dynamics(x, fs=fs, integrated_lufs=lr.integrated_lufs,
                                                 true_peak_dbtp=tres.true_peak_dbtp, short_term_lufs=lr.short_term_lufs))
    except ImportError:
        pass
    run("stereo image", lambda: measure_stereo(x, fs=fs))
    for part in parts[n_click + 1:]:
        run("dropouts + clipping + DC", part)
    del x
    out.append(("sum of the stages", sum(sec for _, sec in out)))
    t, c = time.perf_counter(), time.process_time()
    analyze_file(path)
    w = time.perf_counter() - t
    out.append((f"analyze_file in-process: wall {w:.2f} s, CPU", time.process_time() - c))
    return out


def ffmpeg_cmd(f: Path) -> list[str]:
    return ["ffmpeg", "-nostats", "-hide_banner", "-i", str(f), "-af", "ebur128=peak=true", "-f", "null", "-"]


def ours_cmd(f: Path) -> list[str]:
    return ROOMTRUTH + ["mix", "analyze", "--json", str(f)]


def ffmpeg_integrated(text: str) -> float:
    summary = text[text.rfind("Summary:"):]
    m = re.search(r"I:\s+(-?[\d.]+) LUFS", summary)
    return float(m.group(1)) if m else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--keep", type=Path, default=None, help="keep/reuse the test files in this folder")
    ap.add_argument("--album", type=int, default=12, help="files in the album run (0: skip it)")
    ap.add_argument("--album-seconds", type=float, default=60.0)
    ap.add_argument("--no-stages", action="store_true", help="skip the per-stage CPU breakdown")
    args = ap.parse_args()
    if shutil.which("ffmpeg") is None:
        raise SystemExit("ffmpeg is not installed")
    tmp = args.keep or Path(tempfile.mkdtemp(prefix="bench_mix_"))
    tmp.mkdir(parents=True, exist_ok=True)
    long_f, short_f = tmp / f"prog_{args.minutes:g}min.wav", tmp / "prog_1s.wav"
    if not long_f.exists():
        make_programme(long_f, args.minutes * 60)
    if not short_f.exists():
        make_programme(short_f, 1.0)
    runs: dict[str, list[float]] = {k: [] for k in ("ffmpeg_long", "ffmpeg_short", "ours_long", "ours_short")}
    i_ff = i_ours = tp_ff = tp_ours = float("nan")
    for _ in range(args.repeats):
        for name, cmd_fn in (("ffmpeg", ffmpeg_cmd), ("ours", ours_cmd)):
            for size, f in (("long", long_f), ("short", short_f)):
                dt, out = wall(cmd_fn(f), f"{name}_{size}")
                runs[f"{name}_{size}"].append(dt)
                if size == "long" and name == "ffmpeg":
                    i_ff = ffmpeg_integrated(out)
                    m = re.search(r"Peak:\s+(-?[\d.]+) dBFS", out[out.rfind("Summary:"):])
                    tp_ff = float(m.group(1)) if m else float("nan")
                if size == "long" and name == "ours":
                    d = json.loads(out)["mixes"][0]
                    i_ours, tp_ours = d["integrated_lufs"], d["true_peak_dbtp"]
    med = {k: statistics.median(v) for k, v in runs.items()}
    proc_ff = med["ffmpeg_long"] - med["ffmpeg_short"]
    proc_ours = med["ours_long"] - med["ours_short"]
    print(f"programme: {args.minutes:g} min stereo 48 kHz PCM24 ({long_f}); {args.repeats} repeats, medians; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (wall times mean something only near 0)")
    print(f"{'tool':34s} {'wall long':>10s} {'wall 1 s':>9s} {'processing':>11s}")
    print(f"{'ffmpeg ebur128=peak=true':34s} {med['ffmpeg_long']:9.2f}s {med['ffmpeg_short']:8.2f}s {proc_ff:10.2f}s")
    print(f"{'roomtruth mix analyze':34s} {med['ours_long']:9.2f}s {med['ours_short']:8.2f}s {proc_ours:10.2f}s")
    print(f"ratio roomtruth / ffmpeg processing time: {proc_ours / proc_ff:.2f} "
          f"({'not slower' if proc_ours <= proc_ff else 'SLOWER'})")
    cpu = {k: statistics.median(v) for k, v in _CPU.items()}
    cff = cpu["ffmpeg_long"] - cpu["ffmpeg_short"]
    cours = cpu["ours_long"] - cpu["ours_short"]
    print(f"CPU time (user+sys, long - short): ffmpeg {cff:.2f} s, roomtruth {cours:.2f} s, ratio {cours / cff:.2f} "
          "(roomtruth uses two threads; on a loaded machine wall time is noisy, CPU time is not)")
    print("roomtruth also does: 8x true peak, LRA, 10 ms momentary/short-term, clicks/dropouts/overs, artifacts, "
          "LTAS, stereo image, bass/vocal balance, dynamics, platforms")
    print(f"integrated: roomtruth {i_ours:.2f} LUFS, ffmpeg {i_ff:.1f} LUFS, difference {abs(i_ours - i_ff):.2f} LU "
          f"({'within' if abs(i_ours - i_ff) <= 0.1 else 'OUTSIDE'} 0.1 LU; ffmpeg prints 0.1 LU steps)")
    print(f"true peak: roomtruth {tp_ours:.2f} dBTP (8x), ffmpeg {tp_ff:.1f} dBFS (ffmpeg's 4x true peak)")
    if not args.no_stages:
        print(f"CPU per stage on the {args.minutes:g}-minute file (one thread each):")
        for name, sec in stages(long_f):
            print(f"  {name:46s} {sec:6.2f} s")
    if args.album > 0:
        album = tmp / f"album_{args.album}x{args.album_seconds:g}s"
        album.mkdir(exist_ok=True)
        for i in range(args.album):
            f = album / f"track{i:02d}.wav"
            if not f.exists():
                make_programme(f, args.album_seconds, seed=100 + i)
        # interleaved, best of --repeats (one worker: in-process, two threads per file; one per
        # core: a worker process per core, one thread per file)
        one, per_core = [], []
        for _ in range(max(1, args.repeats)):
            one.append(cores_used(ROOMTRUTH + ["mix", "analyze", "--json", "--jobs", "1", str(album)]))
            per_core.append(cores_used(ROOMTRUTH + ["mix", "analyze", "--json", str(album)]))
        w1, c1 = min(one)
        wn, cn = min(per_core)
        print(f"album of {args.album} x {args.album_seconds:g} s (best of {len(one)}): one worker {w1:.1f} s wall "
              f"({c1 / w1:.2f} cores, {c1:.1f} s CPU), one per core ({os.cpu_count()}) {wn:.1f} s wall "
              f"({cn / wn:.2f} cores in use, {cn:.1f} s CPU), speed-up {w1 / wn:.2f}; load average {os.getloadavg()[0]:.1f}")
    if args.keep is None:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
