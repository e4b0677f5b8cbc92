"""One pass over a mix file: loudness, true peak, render checks, stereo image, LTAS, platform
preview, bass/vocal balance and dynamics.

The file is read once, in blocks of 65536 float32 frames, into a preallocated channels-first
array (a plain PCM/float WAV decoded straight into the rows, :mod:`mixes.wavread`; other
formats through libsndfile, each block transposed); every block is handed, as soon as it is
read, to a second thread that feeds the streaming loudness and true-peak meters (BS.1770 K-filter state carried across blocks).  Everything else
needs the whole array: it is cut into tasks (the digital artifacts, the spectrum, the impulsive
events of each channel, balance, dynamics, the stereo image, dropouts/clipping/DC) put in one
queue, longest first, and both threads take the next task whenever they are free: the reading
thread as soon as the file is read, the side thread when the meters are done.  So the two
cores stay busy to the end whatever the file (the render checks alone used to keep one core
busy while the other waited).  Each task computes exactly what the single-threaded stage did
(same functions, same inputs), so the results do not depend on the threads.
"""

from __future__ import annotations

import math
import queue
import threading
from concurrent.futures import Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any, Callable

import numpy as np
import soundfile as sf

from calib.audio_io import refuse_mpeg_audio, refuse_truncated_wav, sf_name
from calib.errors import SignalError
from mixes.programme import as_programme
from mixes import ltas as _ltas
from mixes.loudness import LoudnessMeter
from mixes.platforms import PlatformTable, preview
from mixes._blas import single_threaded_blas
from mixes._heap import heap_kept
from mixes.renderchecks import render_check_parts
from mixes.stereo import measure_stereo
from mixes.truepeak import TruePeakMeter
from mixes.types import MixAnalysis, RenderEvent
from mixes.wavread import pcm_layout, read_into

__all__ = ["analyze_array", "analyze_file", "read_mix", "BLOCK_S"]

BLOCK_S = 10.0            # blocks fed to analyze_array's meters
READ_FRAMES = 1 << 16     # frames per read: the interleaved buffer stays in cache
MIN_DURATION_S = 0.4
# Below this rate the bass/vocal balance is not measured: its vocal band reaches 5 kHz
# (mixes.vocal_frames.PITCH_BAND_HZ), above an 8 or 10 kHz file's Nyquist frequency (at 8 kHz
# the frame pass failed with a matmul shape error; 11.025 kHz works).
MIN_BALANCE_FS = 11025
# A floating-point sample beyond this (+60 dBFS) is no mix: the file was written at the wrong
# scale (integer sample values stored as float, e.g. +-32767 = +90.3 dBFS).  Such values were
# "analysed" into +75 LUFS, or (near 1e30) overflowed the float32 stages into a "silent" file
# with a +520 dBFS DC offset and a screen of numpy warnings.  Values between 1.0 and this are
# measured as they are (overs, true peak above 0 dBTP).
FLOAT_CEILING = 1000.0
# Memory of one analysis, measured with /usr/bin/time on 48 kHz stereo 24-bit files of 150, 300
# and 900 s (maxrss 344, 416, 683 MB): ~270 MB of code and fixed buffers plus ~1.16x the float32
# array.  A file that would need more than the memory available is refused before it is read
# (a 1-hour 48 kHz stereo mix needs ~1.9 GB, a 1-hour 192 kHz stereo one ~6.7 GB).
_MEM_BASE = 300e6
_MEM_PER_SAMPLE = 4 * 1.25


def broken_link(p: Path) -> str:
    """What is wrong with a symbolic link that leads to no file (one sentence naming it)."""
    import os

    try:
        target = os.readlink(p)
    except OSError:
        target = "?"
    try:
        p.resolve(strict=True)
    except RuntimeError:
        return f"{p} is a symbolic link that loops (through {target}); point it at the audio file"
    except OSError:
        pass
    return f"{p} is a symbolic link to {target}, which does not exist; point it at the audio file"


def _open_info(path: Path) -> sf._SoundFileInfo:
    if not path.exists():
        if path.is_symlink():
            raise SignalError(broken_link(path))
        raise SignalError(f"{path}: no such file")
    if path.is_dir():
        raise SignalError(f"{path} is a folder, expected an audio file")
    import stat as _stat

    try:
        regular = _stat.S_ISREG(path.stat().st_mode)
    except OSError:
        regular = True                         # the open below names what is wrong
    if not regular:                            # a named pipe would block the open for ever
        raise SignalError(f"{path} is not a regular file (a pipe, socket or device); give an audio file")
    try:
        open(sf_name(path), "rb").close()
    except PermissionError:
        raise SignalError(f"{path}: permission denied (this user cannot read the file)") from None
    except OSError as exc:
        raise SignalError(f"{path} cannot be opened: {exc.strerror or exc}") from None
    refuse_mpeg_audio(path)   # before libsndfile: its MPEG decoder writes notes to stderr itself
    try:
        return sf.info(sf_name(path))   # bytes: names need not be UTF-8
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
        raise SignalError(f"{path} is not a readable audio file: {_sf_reason(exc, path)}") from None


def _sf_reason(exc: BaseException, path: Path) -> str:
    """libsndfile's reason without soundfile's ``Error opening b'/the/path': `` prefix (the
    path is already named, and the bytes repr of it is noise)."""
    msg = str(exc)
    for name in (sf_name(path), str(path)):
        prefix = f"Error opening {name!r}: "
        if msg.startswith(prefix):
            return msg[len(prefix):].strip() or msg
    return msg


def _mem_available() -> float | None:
    """Bytes of memory available to a new allocation (Linux ``MemAvailable``), else None."""
    try:
        with open("/proc/meminfo", "rb") as fh:
            for line in fh:
                if line.startswith(b"MemAvailable:"):
                    return float(line.split()[1]) * 1024.0
    except (OSError, ValueError, IndexError):
        return None
    return None


def _check_memory(p: Path, n_ch: int, n: int, fs: int) -> None:
    """Refuse a file whose analysis would not fit in the memory available (one line, instead
    of the kernel killing the process half-way or a MemoryError traceback)."""
    need = _MEM_BASE + _MEM_PER_SAMPLE * n_ch * float(n)
    if need < 1e9:
        return
    avail = _mem_available()
    if avail is not None and need > avail:
        raise SignalError(
            f"{p} is {n / fs / 60:.0f} min of {n_ch}-channel audio at {fs} Hz: analysing it needs about "
            f"{need / 1e9:.1f} GB of memory and {avail / 1e9:.1f} GB is available; analyse it alone "
            f"(-j 1), on a machine with more memory, or split it into parts")


def _memory_error(p) -> SignalError:
    return SignalError(f"{p}: ran out of memory while analysing it; close other programs, analyse it "
                       f"alone (-j 1) or split it into parts")




def read_mix(path: str | Path, *, feed=None) -> tuple[np.ndarray, int]:
    """Read a mix as float32 ``(n_channels, n_samples)``, calling ``feed(block)`` per block.

    Raises
    ------
    SignalError
        Missing, unreadable, empty, truncated or too short file; NaN/Inf samples.
    """
    p = Path(path)
    info = _open_info(p)
    fs, n_ch, n = int(info.samplerate), int(info.channels), int(info.frames)
    if n <= 0:
        raise SignalError(f"{p} holds no audio samples")
    refuse_truncated_wav(sf_name(p), fs=fs, frames_held=n, shown=p)   # WAV, AIFF, RF64, W64
    _check_memory(p, n_ch, n, fs)
    try:
        x = np.empty((n_ch, n), dtype=np.float32)
    except MemoryError:
        raise _memory_error(p) from None
    pos = 0
    # integer PCM cannot hold NaN/Inf: only float files are checked (by a sum, which any
    # NaN/Inf poisons; the exact place is searched only when it is), and for values no mix holds
    subtype = str(info.subtype).upper()
    check = subtype in ("FLOAT", "DOUBLE")

    def block(start: int, m: int) -> None:
        chunk = x[:, start:start + m]
        if check:
            with np.errstate(all="ignore"):      # inf - inf in the sum: no numpy warning on stderr
                total = float(chunk.sum(dtype=np.float64))
            if not math.isfinite(total):
                bad = np.argwhere(~np.isfinite(chunk))
                if bad.size:          # (a sum can also overflow on absurd but finite values)
                    beyond = " or values beyond the float range" if subtype == "DOUBLE" else ""
                    raise SignalError(
                        f"{p} contains NaN or Inf samples{beyond} (first at channel {bad[0][0] + 1}, "
                        f"{(start + bad[0][1]) / fs:.3f} s); the file is damaged")
            if chunk.size:
                peak = max(float(chunk.max()), -float(chunk.min()))
                if peak > FLOAT_CEILING:
                    i, c = np.unravel_index(int(np.argmax(np.abs(chunk.T) > FLOAT_CEILING)), chunk.T.shape)
                    raise SignalError(
                        f"{p} holds samples up to {20 * math.log10(peak):+.1f} dBFS ({peak:.6g} x full scale; "
                        f"first beyond {20 * math.log10(FLOAT_CEILING):+.0f} dBFS at channel {c + 1}, "
                        f"{(start + i) / fs:.3f} s): a floating-point mix peaks near 1.0, so it was written "
                        f"at the wrong scale (integer sample values stored as float?); rescale it and export again")
        if feed is not None:
            feed(chunk)

    # plain PCM/float WAV: decoded straight into the rows, bit-identical to libsndfile
    layout = pcm_layout(sf_name(p), n_channels=n_ch, n_frames=n)
    if layout is not None:
        try:
            pos = read_into(sf_name(p), layout, x, block_frames=READ_FRAMES, on_block=block)
        except OSError as exc:
            raise SignalError(f"{p} could not be read to the end: {exc}") from None
        if pos < n:
            x = x[:, :pos]
        return x, fs
    try:
        with sf.SoundFile(sf_name(p)) as fh:
            buf = np.empty((READ_FRAMES, n_ch), dtype=np.float32)
            while pos < n:
                data = fh.read(min(READ_FRAMES, n - pos), dtype="float32", always_2d=True,
                               out=buf[: min(READ_FRAMES, n - pos)])
                if data.shape[0] == 0:
                    break
                x[:, pos:pos + data.shape[0]] = data.T
                block(pos, data.shape[0])
                pos += data.shape[0]
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise SignalError(f"{p} could not be read to the end: {exc}") from None
    if pos < n:
        x = x[:, :pos]
    return x, fs


def _events_from_overs(overs) -> tuple[RenderEvent, ...]:
    return tuple(RenderEvent("over", t, lvl, ch, 0.0) for t, lvl, ch in overs)


class _Tasks:
    """Work pulled in order by whichever of the two threads is free (:func:`analyze_file`).

    ``add(fn)`` returns a :class:`~concurrent.futures.Future`; ``drain()`` runs tasks until
    none is left (each thread calls it); ``cancel()`` drops the tasks not started yet.  A task
    may wait for an earlier one's future: tasks are taken in order, so the one it waits for is
    already running on the other thread (no deadlock with two threads).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: list[tuple[Callable[[], Any], Future]] = []
        self._next = 0

    def add(self, fn: Callable[[], Any]) -> Future:
        fut: Future = Future()
        with self._lock:
            self._items.append((fn, fut))
        return fut

    def drain(self) -> None:
        while True:
            with self._lock:
                if self._next >= len(self._items):
                    return
                fn, fut = self._items[self._next]
                self._next += 1
            if not fut.set_running_or_notify_cancel():
                continue
            try:
                fut.set_result(fn())
            except BaseException as exc:         # handed to whoever asks for the result
                fut.set_exception(exc)

    def cancel(self) -> None:
        with self._lock:
            rest = self._items[self._next:]
            self._next = len(self._items)
        for _, fut in rest:
            fut.cancel()


def _plan(tasks: _Tasks, x: np.ndarray, fs: int, lm_fut: Future, tp_fut: Future, *, checks: bool,
          extras: bool) -> dict[str, Future]:
    """Queue every whole-array measurement, the longest first (so the two threads end close
    together); balance and dynamics need the meters, which run first on the side thread.
    CPU per 10 min of 48 kHz stereo, one thread (quiet machine, 2026-12-07 20:20): artifacts
    0.55 s, spectrum 0.44 s, balance 0.37 s, clicks 0.35 + 0.27 s (channels 1, 2), dynamics
    0.32 s, stereo 0.19 s, dropouts + clipping + DC 0.11 s; the meters 0.46 s (loudness) +
    0.27 s (true peak) on the side thread while the file is read (0.1 s).  Scheduled on two
    idle cores in this order the two threads end 1.74 s after the start, against 1.81 s in the
    previous order (spectrum and clicks first, artifacts sixth) and 1.72 s for a perfect split."""
    rc_parts: list[Future] = []
    futs: dict[str, Future] = {}
    combine = None
    parts: list = []
    n_click = 0
    if checks:
        parts, combine = render_check_parts(x, fs=fs)
        n_click = len(parts) - 2           # the impulsive events of each channel come first
        artifacts = tasks.add(parts[n_click])
    futs["spectrum"] = tasks.add(lambda: _spectrum(x, fs))
    clicks = [tasks.add(part) for part in parts[:min(n_click, 1)]]
    if extras:
        def bal() -> Any:
            lres = lm_fut.result()
            if not math.isfinite(lres.integrated_lufs) or fs < MIN_BALANCE_FS:
                return None
            from mixes.balance import measure_balance
            return measure_balance(x, fs=fs, integrated_lufs=lres.integrated_lufs)

        def dyn() -> Any:
            lres, tres = lm_fut.result(), tp_fut.result()
            if not math.isfinite(lres.integrated_lufs):
                return None
            from mixes.dynamics import measure_dynamics
            return measure_dynamics(x, fs=fs, integrated_lufs=lres.integrated_lufs,
                                    true_peak_dbtp=tres.true_peak_dbtp, short_term_lufs=lres.short_term_lufs)

        futs["balance"] = tasks.add(bal)
    clicks += [tasks.add(part) for part in parts[1:n_click]]
    if extras:
        futs["dynamics"] = tasks.add(dyn)
        futs["stereo"] = tasks.add(lambda: measure_stereo(x, fs=fs))
    if checks:
        rc_parts = clicks + [artifacts] + [tasks.add(part) for part in parts[n_click + 1:]]  # dropouts, clipping, DC
        futs["render_checks"] = _Combined(rc_parts, combine)
    return futs


class _Combined:
    """The render report once all its parts are done (a future-like ``result()``)."""

    def __init__(self, parts: list[Future], combine: Callable[[list], Any]) -> None:
        self._parts, self._combine = parts, combine

    def result(self) -> Any:
        return self._combine([f.result() for f in self._parts])


def _run(tasks: _Tasks, side: Callable[[], None] | None = None):
    """Run ``side`` (then the tasks) on a second thread and the tasks on this one; wait for both."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        fut = pool.submit(lambda: (side() if side is not None else None, tasks.drain()))
        try:
            tasks.drain()
        except BaseException:
            tasks.cancel()
            raise
        finally:
            wait([fut])
        fut.result()


def _spectrum(x: np.ndarray, fs: int) -> tuple[int, np.ndarray]:
    """``(nfft, mean power spectrum)`` for the LTAS."""
    nfft = _ltas.spectrum_nfft(fs)          # ~1.5 Hz bins: band levels and band floors in one pass
    power = _ltas._segment_power(x, nfft, overlap=True, floors_fs=fs)   # frame floors for floor_db
    return nfft, power


def _result(name: str, x: np.ndarray, fs: int, lres, tres, futs: dict[str, Future], *, bands_per_octave: int,
            platforms: PlatformTable | None) -> MixAnalysis:
    """The :class:`MixAnalysis` from the meters and the finished tasks."""
    n_ch, n = x.shape
    rc = futs["render_checks"].result() if "render_checks" in futs else None
    nfft, power = futs["spectrum"].result()
    bal = futs["balance"].result() if "balance" in futs else None
    dyn = futs["dynamics"].result() if "dynamics" in futs else None
    stereo = futs["stereo"].result() if "stereo" in futs else None
    warnings = list(rc.warnings) if rc is not None else []
    if "balance" in futs and fs < MIN_BALANCE_FS:
        warnings.append(f"at {fs} Hz the bass and vocal balance is not measured (the vocal band reaches "
                        f"5 kHz; it needs a rate of {MIN_BALANCE_FS} Hz or more)")
    if math.isfinite(lres.integrated_lufs):
        spec = _ltas.ltas_from_power(power, fs=fs, nfft=nfft, bands_per_octave=bands_per_octave,
                                     gain_db=_ltas.DEFAULT_NORMALISE_LUFS - lres.integrated_lufs)
    else:
        spec = None
        warnings.append("the file is silent (no block above -70 LUFS): no loudness, no spectrum")
    overs = _events_from_overs(tres.overs)
    if rc is not None:
        overs = tuple(sorted(overs + rc.clipping, key=lambda e: e.time_s))
    return MixAnalysis(
        file=name, fs=fs, n_channels=n_ch, duration_s=n / fs,
        integrated_lufs=lres.integrated_lufs, momentary_max_lufs=lres.momentary_max_lufs,
        short_term_max_lufs=lres.short_term_max_lufs, lra_lu=lres.lra_lu,
        true_peak_dbtp=tres.true_peak_dbtp, true_peak_per_channel_dbtp=tres.true_peak_per_channel_dbtp,
        sample_peak_dbfs=tres.sample_peak_dbfs, oversample=tres.oversample,
        dc_offset_dbfs=rc.dc_offset_dbfs if rc is not None else (),
        platforms=preview(lres.integrated_lufs, tres.true_peak_dbtp, platforms),
        clicks=rc.clicks if rc is not None else (),
        dropouts=rc.dropouts if rc is not None else (),
        overs=overs, ltas=spec, warnings=tuple(warnings),
        artifacts=rc.artifacts if rc is not None else (),
        stereo=stereo, balance=bal, dynamics=dyn,
    )


def _check_length(name: str, n: int, fs: int) -> None:
    if n < MIN_DURATION_S * fs:
        raise SignalError(
            f"{name} is {n / fs:.3f} s long; loudness needs at least {MIN_DURATION_S} s (one 400 ms block)")


def analyze_file(path: str | Path, *, bands_per_octave: int = 3, platforms: PlatformTable | None = None,
                 checks: bool = True, channel_weights=None, extras: bool | None = None,
                 threads: int = 2) -> MixAnalysis:
    """Analyse one mix file (everything ``roomtruth mix analyze`` reports).

    Two threads: this one reads the file (libsndfile releases the GIL) while the other feeds
    each block, as soon as it is read, to the loudness and true-peak meters; then both take
    the whole-array measurements from one queue, the longest first (:func:`_plan`).  NumPy,
    SciPy and libsndfile release the GIL in their loops, so both cores work; BLAS stays on
    one thread meanwhile (its own threads would only wait for ours), and freed memory stays in
    the heap (:mod:`mixes._heap`).  ``extras`` (default: as ``checks``) switches the stereo
    image, balance and dynamics.  ``threads=1``: all on this thread (the meters fed as each
    block is read, then the queue), for a worker of an album that has a core of its own
    (:mod:`mixes.batch`); the results are the same.

    Raises
    ------
    SignalError
        Unreadable/damaged/truncated/too short file, unsupported channel layout or sample rate.
    """
    try:
        return _analyze_file(path, bands_per_octave=bands_per_octave, platforms=platforms, checks=checks,
                             channel_weights=channel_weights, extras=extras, threads=threads)
    except MemoryError:
        raise _memory_error(path) from None


def _analyze_file(path, *, bands_per_octave, platforms, checks, channel_weights, extras, threads) -> MixAnalysis:
    p = Path(path)
    info = _open_info(p)
    fs, n_ch = int(info.samplerate), int(info.channels)
    extras = checks if extras is None else extras
    lm = LoudnessMeter(fs=fs, n_channels=n_ch, channel_weights=channel_weights)
    tp = TruePeakMeter(fs=fs, n_channels=n_ch)
    q: queue.SimpleQueue = queue.SimpleQueue()
    lm_fut: Future = Future()
    tp_fut: Future = Future()
    tasks = _Tasks()

    def meters() -> None:
        """The side thread's first job: the streaming meters, block by block as read."""
        try:
            while True:
                chunk = q.get()
                if chunk is None:
                    break
                lm.feed(chunk)
                tp.feed(chunk)
            lres, tres = lm.result(), tp.finish()
        except BaseException as exc:
            lm_fut.set_exception(exc)
            tp_fut.set_exception(exc)
            while q.get() is not None:           # let the reader finish
                pass
            return
        lm_fut.set_result(lres)
        tp_fut.set_result(tres)

    futs: dict[str, Future] = {}
    if threads <= 1:
        def feed(chunk: np.ndarray) -> None:
            lm.feed(chunk)
            tp.feed(chunk)

        with single_threaded_blas(), heap_kept():
            x, fs = read_mix(p, feed=feed)
            _check_length(str(path), x.shape[1], fs)
            lm_fut.set_result(lm.result())
            tp_fut.set_result(tp.finish())
            futs = _plan(tasks, x, fs, lm_fut, tp_fut, checks=checks, extras=extras)
            tasks.drain()
            return _result(str(path), x, fs, lm_fut.result(), tp_fut.result(), futs,
                           bands_per_octave=bands_per_octave, platforms=platforms)
    with single_threaded_blas(), heap_kept():
        with ThreadPoolExecutor(max_workers=1) as pool:
            side = pool.submit(lambda: (meters(), tasks.drain()))
            try:
                try:
                    x, fs = read_mix(p, feed=q.put)
                    _check_length(str(path), x.shape[1], fs)
                    futs = _plan(tasks, x, fs, lm_fut, tp_fut, checks=checks, extras=extras)
                finally:
                    q.put(None)
                tasks.drain()
            except BaseException:
                tasks.cancel()
                raise
            finally:
                wait([side])
            side.result()
        return _result(str(path), x, fs, lm_fut.result(), tp_fut.result(), futs,
                       bands_per_octave=bands_per_octave, platforms=platforms)


def analyze_array(x: np.ndarray, *, fs: int, name: str = "<array>", bands_per_octave: int = 3,
                  platforms: PlatformTable | None = None, checks: bool = True, channel_weights=None,
                  extras: bool | None = None, threads: int = 2) -> MixAnalysis:
    """Same as :func:`analyze_file` for a ``(n_channels, n_samples)`` array (the meters are
    two more tasks of the queue; ``threads=1``: the queue drained on this thread alone)."""
    arr = as_programme(x)
    x32 = np.ascontiguousarray(arr, dtype=np.float32)
    extras = checks if extras is None else extras
    lm = LoudnessMeter(fs=fs, n_channels=x32.shape[0], channel_weights=channel_weights)
    tp = TruePeakMeter(fs=fs, n_channels=x32.shape[0])
    _check_length(name, x32.shape[1], fs)
    step = max(int(BLOCK_S * fs), 1)

    def meter(m, finish):
        for i in range(0, x32.shape[1], step):
            m.feed(x32[:, i:i + step])
        return finish()

    tasks = _Tasks()
    with single_threaded_blas(), heap_kept():
        lm_fut = tasks.add(lambda: meter(lm, lm.result))
        tp_fut = tasks.add(lambda: meter(tp, tp.finish))
        futs = _plan(tasks, x32, fs, lm_fut, tp_fut, checks=checks, extras=extras)
        if threads <= 1:
            tasks.drain()
        else:
            _run(tasks)
        return _result(name, x32, fs, lm_fut.result(), tp_fut.result(), futs, bands_per_octave=bands_per_octave,
                       platforms=platforms)
