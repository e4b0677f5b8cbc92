"""Benchmark: ``roomtruth mix analyze`` against ``ffmpeg -af ebur128=peak=true``.

Processing time = wall(10-minute file) - wall(1-second file), the same for both tools, so the
start-up of the interpreter / of ffmpeg cancels.  Both run in the same session, interleaved,
``--repeats`` times; medians are printed, with the integrated loudness both report (they must
agree within 0.1 LU).

    .venv/bin/python benchmarks/bench_mix.py [--minutes 10] [--repeats 3] [--keep DIR]

The test programme is synthetic music-like material (stereo 48 kHz, PCM 24): pink-ish noise
with a slow loudness envelope, transients and a few quiet passages, so every analysis stage
(gating, true-peak pruning, click candidates) does real work.
"""

from __future__ import annotations

import argparse
import json
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
    print(f"programme: {args.minutes:g} min stereo 48 kHz PCM24 ({long_f}); {args.repeats} repeats, medians")
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
    print("roomtruth also does: 8x true peak, LRA, 10 ms momentary/short-term, clicks/dropouts/overs, LTAS, platforms")
    print(f"integrated: roomtruth {i_ours:.2f} LUFS, ffmpeg {i_ff:.1f} LUFS, difference {abs(i_ours - i_ff):.2f} LU "
          f"({'within' if abs(i_ours - i_ff) <= 0.1 else 'OUTSIDE'} 0.1 LU; ffmpeg prints 0.1 LU steps)")
    print(f"true peak: roomtruth {tp_ours:.2f} dBTP (8x), ffmpeg {tp_ff:.1f} dBFS (ffmpeg's 4x true peak)")
    if args.keep is None:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
