"""``roomtruth monitor bench``: what ``monitor run`` costs, side by side with ``fconvolver -T``.

The job: ``channels`` speakers, each with a ``taps``-long decaying-noise FIR of unit energy
(what a room correction FIR costs, at programme level), noise at -26 dBFS in, at ``block``
samples per period.  The engine is
built exactly as ``monitor run``'s audio process builds it (``roomtruth/monitor_live.py``:
slots A and bypass, the safety limiter, ``fir_worker=True``) and driven through the same
:class:`monitor.realtime.RealtimeProcessor` callback, period after period.  Measured:

* ``cpu_s_per_audio_s``: CPU seconds of the whole process (all threads, ``time.process_time``)
  per second of audio processed: the callback plus any worker threads;
* per period, the wall time of the callback / the period (``dsp_load_mean/p99/max``) and its
  thread's CPU time / the period (``cpu_load_*``, from one period's start to the next), both
  as the callback itself measures them (the loop adds no clock reads of its own, so the
  process CPU is what ``monitor run`` spends); ``overloads``: periods whose processing
  took longer than the period (wall clock); ``overloads_80``: above 80 % (what the live
  engine counts); the per-period figures come from the callback's own trace
  (``RealtimeProcessor(trace_periods=...)``), so the loop reads nothing per period;
* ``steal_s``: CPU seconds the VM's host took during the run (``/proc/stat`` steal), and
  ``overload_events``: each wall-clock overload as [s of audio, wall load, own-CPU load, steal
  in that second] (the first 50): an overload with a small own-CPU load is a wait for the CPU;
* with ``--paced`` the periods are spaced in real time (sleep until the next period, as a
  sound card would), so caches are as cold as live; by default they run back to back;
* with ``--rt-priority N`` the periods run on a SCHED_FIFO thread of priority N, as JACK's
  audio thread does (``rt_priority`` is null in the result when the system refused): on a
  machine shared with other busy processes the wall-clock load then measures the engine, not
  the queue for the CPU.  Use it with ``--paced`` (flat out at real-time priority would hold a
  core for the whole run).

``--peer``: zita-convolver's ``fconvolver -T`` on the same job (same FIRs and input as WAV
files in a RAM folder, partition = block), its processing CPU = CPU(whole input) - CPU(1 s of
it), so loading and planning cancel; the ratio ``cpu_ratio_vs_fconvolver`` compares like with
like (fconvolver's figure still includes decoding and encoding the WAVs: a little in our
favour, said in the output).
"""

from __future__ import annotations

import math
import os
import resource
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

__all__ = ["run_bench", "run_peer"]


def _job(channels: int, taps: int, fs: int, n: int):
    rng = np.random.default_rng(1)
    t = np.arange(taps)
    h = rng.standard_normal((channels, taps)) * np.exp(-t / max(taps / 8, 1)) * 0.05
    h[:, 0] = 0.5
    # unit energy: a correction FIR keeps the programme's level (0 dB for white noise), so the
    # output (-26 dBFS rms, peaks near -12 dBFS) stays below the limiter's ceiling as in a
    # monitoring session; the limiter's cost while limiting is not the convolver's
    h /= np.sqrt(np.sum(h ** 2, axis=1, keepdims=True))
    x = (rng.standard_normal((n, channels)) * 0.05).astype(np.float32)
    return h, x


def run_peer(h: np.ndarray, x: np.ndarray, *, fs: int, block: int) -> dict:
    """``fconvolver -T`` on ``x`` (frames, channels) with FIR ``h`` (channels, taps) at
    partition ``block``: CPU seconds per audio second of its processing, or why not."""
    import soundfile as sf

    exe = shutil.which("fconvolver")
    if exe is None:
        return {"peer": None, "peer_note": "fconvolver is not installed (apt-get install jconvolver)"}
    if block & (block - 1) or not 64 <= block <= 8192:
        return {"peer": None, "peer_note": f"fconvolver needs a power-of-two partition 64..8192, not {block}"}
    C, taps = h.shape
    base = "/dev/shm" if os.path.isdir("/dev/shm") else None
    with tempfile.TemporaryDirectory(prefix="roomtruth-bench-", dir=base) as td:
        d = Path(td)
        sf.write(d / "fir.wav", h.T.astype(np.float32), fs, subtype="FLOAT")
        sf.write(d / "long.wav", x, fs, subtype="FLOAT")
        sf.write(d / "short.wav", x[:fs], fs, subtype="FLOAT")
        conf = d / "job.conf"
        conf.write_text(f"/convolver/new {C} {C} {block} {taps} 1.0\n" + "".join(
            f"/impulse/read {c + 1} {c + 1} 1.0 0 0 0 {c + 1} {d / 'fir.wav'}\n" for c in range(C)))

        def cpu_of(src: str) -> float:
            r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            p = subprocess.run([exe, "-T", str(conf), str(d / src), str(d / "out.wav")],
                               capture_output=True, text=True)
            r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            if p.returncode != 0:
                raise RuntimeError(f"fconvolver failed ({p.returncode}): {p.stderr.strip()[:300]}")
            return (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)

        longs, shorts = [], []
        for _ in range(3):              # medians of 3 alternating runs
            longs.append(cpu_of("long.wav"))
            shorts.append(cpu_of("short.wav"))
    audio_s = x.shape[0] / fs
    proc = max(float(np.median(longs)) - float(np.median(shorts)), 1e-9)
    return {"peer": "fconvolver -T", "peer_cpu_s_per_audio_s": proc / max(audio_s - 1.0, 1e-9),
            "peer_cpu_whole_run_s": float(np.median(longs))}


def _steal_s() -> float:
    """CPU seconds the VM's host took from this machine so far (``/proc/stat`` steal, all
    CPUs; 0 where there is none)."""
    try:
        with open("/proc/stat") as f:
            return int(f.readline().split()[8]) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def _set_fifo(priority: int | None):
    """Make the calling thread SCHED_FIFO ``priority`` (as JACK's audio thread); the old policy
    to restore, or None when refused or not asked."""
    if priority is None or not hasattr(os, "sched_setscheduler"):
        return None
    try:
        old = (os.sched_getscheduler(0), os.sched_getparam(0))
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(int(priority)))
        return old
    except (OSError, ValueError):
        return None


def run_bench(*, channels: int, taps: int, block: int, seconds: float, fs: int, peer: bool = False,
              paced: bool = False, offline: bool = True, rt_priority: int | None = None) -> dict:
    """Run the benchmark; a plain dict of figures (see the module docstring)."""
    from calib.profile import CalibrationProfile, SpeakerCorrection
    from monitor import kernels
    from monitor.engine import Engine
    from monitor.realtime import RealtimeProcessor

    n_blocks = max(1, int(seconds * fs) // block)
    n = n_blocks * block
    h, x = _job(channels, taps, fs, n)
    prof = CalibrationProfile(name="bench", speakers=tuple(
        SpeakerCorrection(f"ch{c + 1}", c, fir={fs: h[c]}) for c in range(channels)), design_fs=fs)
    t_build = time.perf_counter()
    eng = Engine(fs=fs, n_channels=channels, block=block, limiter={"ceiling_dbfs": -1.0}, fir_worker=True)
    eng.load(prof, "A")
    build_s = time.perf_counter() - t_build
    # the same warm-up as monitor run: every partition level fires before the stream
    warm = RealtimeProcessor(eng, n_inputs=channels, n_outputs=channels)
    zin = np.zeros((block, channels), np.float32)
    zout = np.zeros((block, channels), np.float32)
    largest = max(lv.size for lv in eng._slots[0].levels)
    for _ in range(2 * (largest // block) + 2):
        warm.callback(zin, zout, block, 0)
    proc = RealtimeProcessor(eng, n_inputs=channels, n_outputs=channels, trace_periods=n_blocks)
    outb = np.zeros((block, channels), np.float32)
    blocks = [x[b * block:(b + 1) * block] for b in range(n_blocks)]   # views, made before the clock
    per_s = max(1, fs // block)        # periods per second of audio: the host's steal read once a second
    steal = [_steal_s()]
    budget = block / fs
    import gc

    gc.collect()            # as monitor run's audio process: no collector pause in a period
    gc.freeze()
    gc.disable()
    old_policy = _set_fifo(rt_priority)
    cb = proc.callback
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    c0 = time.process_time()
    t0 = time.perf_counter()
    next_t = t0
    for b in range(n_blocks):
        if paced:
            next_t += budget
            d = next_t - time.perf_counter()
            if d > 0:
                time.sleep(d)
        # the callback keeps its own measurements (wall time of the period; its thread's CPU
        # from the previous period's start to this one's) in its trace: nothing read or
        # added here per period, so the process CPU is what monitor run spends
        cb(blocks[b], outb, block, 0)
        if b % per_s == per_s - 1:
            steal.append(_steal_s())
    wall = time.perf_counter() - t0
    cpu = time.process_time() - c0
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    steal.append(_steal_s())
    per, per_cpu = (np.array(a) for a in proc.trace())
    over = np.flatnonzero(per > 1.0)
    steal_sec = np.diff(np.array(steal))          # the host's steal in each second of audio
    if old_policy is not None:
        os.sched_setscheduler(0, old_policy[0], old_policy[1])
    gc.enable()
    gc.unfreeze()
    audio_s = n / fs
    chain = eng._slots[0]
    res = {
        "engine": "compiled" if kernels.available() else f"numpy ({kernels.why_unavailable()})",
        "channels": channels, "taps": taps, "block": block, "fs": fs, "seconds": audio_s, "paced": paced,
        "rt_priority": rt_priority if old_policy is not None else None,
        "cpu_s_per_audio_s": cpu / audio_s,
        "dsp_load_mean": float(per.mean()),
        "dsp_load_p99": float(np.percentile(per, 99)),
        "dsp_load_max": float(per.max()),
        "cpu_load_mean": float(per_cpu[1:].mean()),
        "cpu_load_p99": float(np.percentile(per_cpu[1:], 99)),
        "cpu_load_max": float(per_cpu[1:].max()),
        "overloads": int(np.count_nonzero(per > 1.0)),
        "overloads_80": int(np.count_nonzero(per > 0.8)),
        "cpu_overloads": int(np.count_nonzero(per_cpu[1:] > 1.0)),
        # the VM host's steal (/proc/stat, all CPUs, 10-ms ticks) during the run, and each
        # wall-clock overload's time (s of audio) with the steal of its second: an overload
        # with our own CPU far below the period and steal in its second is the host's
        "steal_s": float(steal[-1] - steal[0]),
        "overload_events": [[round(int(i) * budget, 3), round(float(per[i]), 2), round(float(per_cpu[i]), 3),
                             round(float(steal_sec[min(int(i) // per_s, len(steal_sec) - 1)]), 2)]
                            for i in over[:50]],
        "callback_us_mean": 1e6 * float(per.mean()) * budget,
        # the callback thread's own CPU per period (us): what a period costs, queueing excluded
        "callback_cpu_us_mean": 1e6 * float(per_cpu[1:].mean()) * budget,
        "callback_cpu_us_median": 1e6 * float(np.median(per_cpu[1:])) * budget,
        "x_realtime": audio_s / wall if not paced else audio_s / float(per.sum()),
        "involuntary_context_switches": ru1.ru_nivcsw - ru0.ru_nivcsw,
        "errors": proc.errors, "late_waits": chain.late_waits,
        "latency_samples": block, "engine_added_latency_samples": eng.latency_samples,
        "build_s": build_s,
        "partitions": [[lv.size, lv.n_parts, lv.offset] for lv in chain.levels],
        "load_average_1min": os.getloadavg()[0], "cpu_count": os.cpu_count(),
    }
    eng.close()
    if offline:
        res["offline_x_realtime"] = _offline(prof, x, fs=fs, block=block, channels=channels)
    if peer:
        res.update(run_peer(h, x, fs=fs, block=block))
        if res.get("peer"):
            res["cpu_ratio_vs_fconvolver"] = res["cpu_s_per_audio_s"] / res["peer_cpu_s_per_audio_s"]
            # the same figures per period (us): process CPU and fconvolver's, side by side
            res["cpu_us_per_period"] = 1e6 * res["cpu_s_per_audio_s"] * block / fs
            res["peer_cpu_us_per_period"] = 1e6 * res["peer_cpu_s_per_audio_s"] * block / fs
    res["load_average_1min_end"] = os.getloadavg()[0]
    return res


def _offline(prof, x: np.ndarray, *, fs: int, block: int, channels: int) -> float:
    """``monitor render``'s path (large chunks and partitions, two threads): x real time."""
    from monitor.engine import Engine, render_chunks
    from roomtruth.cmd_monitor import RENDER_CHUNK, _offline_fir_block

    n = x.shape[0]
    fir_block = _offline_fir_block(block)
    chunk = fir_block * max(1, RENDER_CHUNK // fir_block)
    eng = Engine(fs=fs, n_channels=channels, block=block, max_block=chunk, fir_block=fir_block,
                 threads=min(2, os.cpu_count() or 1, channels), limiter={"jump_duck_db": 0.0}, bypass=False)
    eng.load(prof, "A")
    xt = np.ascontiguousarray(x.T)
    t1 = time.perf_counter()
    for _ in render_chunks(eng, (xt[:, s:s + chunk] for s in range(0, n, chunk)), n, copy=False):
        pass
    dt = time.perf_counter() - t1
    eng.close()
    return (n / fs) / dt if dt > 0 else math.inf
