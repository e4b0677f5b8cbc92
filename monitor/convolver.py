"""Non-uniformly partitioned FFT convolution (float32, real FFTs, preallocated): the numpy
reference.

Real time and rendering run :class:`monitor.fastconv.ScheduledConvolver` (compiled, evenly
scheduled, same partition rules) where numba and FFTW are installed; this module is the
reference it is tested against, the fallback where they are not, and the partition planner
both use.

The filter ``h`` (length ``N``) is cut into *levels*.  Level ``k`` holds ``M_k`` partitions of
``P_k`` samples starting at tap ``o_k`` and runs as a uniformly partitioned overlap-save
convolver (UPOLS, a frequency-domain delay line of ``M_k`` spectra, FFT size ``2 P_k``):

    y = sum_k  delay_{o_k}( x * h[o_k : o_k + M_k P_k] )

(Gardner, "Efficient convolution without input-output delay", JAES 43(3) 1995; Garcia,
"Optimal filter partition for efficient convolution with short input/output delay", AES 113th
Conv. 2002; Wefers, *Partitioned convolution algorithms for real-time auralization*, 2015,
ch. 5).  The head level has ``P_0 = block`` and ``o_0 = 0``, so the convolver adds no delay:
the output of a block is complete when the block has been read.  A level of size ``P`` may
start at tap ``o >= P - block``: its input block ``[jP, (j+1)P)`` is complete at time
``(j+1)P`` and first contributes at ``jP + o``, which lies in the block being written then
or later (all times are multiples of ``block``).

One code path serves the real-time callback and offline rendering: :meth:`process` takes any
multiple of ``block`` samples; every level transforms all its blocks that became complete in
one batched ``scipy.fft.rfft`` over a 2-D array.  Rendering a file in large chunks with the
same partition scheme therefore performs the same arithmetic as the callback does block by
block (the tests prove streaming == chunked bit for bit, and both == exact convolution to
-100 dB or better).  ``monitor render`` goes further: with the whole file at hand and no
latency to keep, its convolver's ``block`` is a large chunk (16384 samples for a 256-sample
engine block, see ``Engine(fir_block=...)``), so a 65,536-tap FIR runs as 4 partitions of
16384 instead of 256 + 1024 + 8192 levels, about 3x less arithmetic; its output equals the
callback path within float32 FFT round-off (nulls about -131 dB, tested at <= -120 dB).  All
state (input histories, the frequency-domain delay lines, the per-level output rings, the
product buffers) is allocated in ``__init__``; spectral products write into it through
``out=``.  ``scipy.fft`` (pocketfft, float32; numpy's float32 rfft was 5x slower here) has no
``out=``, so each transform returns a fresh array that is released within the call.
"""

from __future__ import annotations

from dataclasses import dataclass
import math
import os
import threading
import time
import weakref

import numpy as np
import scipy.fft as _sfft

from calib.errors import ConfigError, SignalError

__all__ = ["Level", "plan_partitions", "PartitionedConvolver"]


def _worker_main(ref: "weakref.ref[PartitionedConvolver]", wake_fd: int, alive: list) -> None:
    """Body of a convolver's worker thread: wait for a byte, run the posted jobs, repeat.

    ``alive[0]`` turns False when the convolver closes (its pipe may be closed then, and the
    descriptor number reused: it is never read again)."""
    np.seterr(all="ignore")        # per thread: a float warning would print from here
    conv = ref()
    if conv is None:
        return
    if conv.worker_priority is not None and hasattr(os, "sched_setscheduler"):
        try:   # pid 0: this thread (Linux schedules threads as tasks)
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(int(conv.worker_priority)))
            conv.worker_realtime = True
        except (OSError, ValueError):
            pass
    del conv
    while alive[0]:
        try:
            os.read(wake_fd, 64)                  # blocks without the GIL
        except OSError:
            return                                # closed
        conv = ref()
        if conv is None or conv._closing:
            return
        try:
            conv._do_jobs()
        except BaseException as exc:  # noqa: BLE001 - the callback sees it through worker_error
            conv.worker_error = f"{type(exc).__name__}: {exc}"
            return
        finally:
            del conv

# Cost model of one level, measured on the project machine (numpy 2.x pocketfft, float32,
# batched): a forward plus inverse FFT of size 2P per P input samples costs about
# COST_FFT_BASE + COST_FFT_LOG2 * log2(2P), one complex multiply-accumulate pass per
# partition costs COST_MAC (all in ns per input sample per channel).  Only ratios matter.
COST_FFT_BASE = 4.0
COST_FFT_LOG2 = 2.0
COST_MAC = 2.2
MAX_PARTITION = 16384          # largest FFT partition (keeps the callback's worst case short)


@dataclass(frozen=True)
class Level:
    """One uniformly partitioned level: ``n_parts`` partitions of ``size`` taps from ``offset``."""

    size: int
    n_parts: int
    offset: int

    @property
    def end(self) -> int:
        return self.offset + self.size * self.n_parts


def _level_cost(size: int, n_parts: int) -> float:
    return COST_FFT_BASE + COST_FFT_LOG2 * math.log2(2 * size) + COST_MAC * n_parts


def _min_offset(size: int, block: int, async_min: int | None) -> int:
    """Earliest tap a level of ``size`` may start at: ``P - block`` computed in the callback,
    ``2P - block`` computed by the background worker (one whole partition of slack)."""
    if async_min is not None and size >= async_min and size > block:
        return 2 * size - block
    return size - block


def plan_partitions(n_taps: int, *, block: int, max_partition: int = MAX_PARTITION,
                    async_min: int | None = None, level_cost=None) -> tuple[Level, ...]:
    """Choose the partition scheme with the lowest modelled cost for ``n_taps`` at ``block``.

    Sizes are ``block * 2**e``; a level of size ``P`` starts at ``o >= P - block`` (see the
    module docstring), or at ``o >= 2P - block`` when ``P >= async_min`` (levels the
    background worker computes, see :class:`PartitionedConvolver`); each level ends where the
    next begins; the last covers ``n_taps``.

    Parameters
    ----------
    n_taps : int
        Filter length (samples), >= 1.
    block : int
        Head partition = processing block (samples), >= 1 (odd sizes are allowed).
    max_partition : int
        Largest partition considered (samples).
    async_min : int, optional
        Smallest partition computed off the callback (None: all in the callback).
    level_cost : callable, optional
        ``level_cost(size, n_parts)``: modelled cost per input sample of a level; default
        this module's numpy model (the compiled engine passes its own, ``monitor.fastconv``).

    Returns
    -------
    tuple of Level
    """
    if n_taps < 1:
        raise SignalError(f"a filter needs at least 1 tap, got {n_taps}")
    if block < 1:
        raise ConfigError(f"block size must be >= 1 sample, got {block}")
    sizes = [block]
    while sizes[-1] * 2 <= max(max_partition, block) and sizes[-1] < n_taps:
        sizes.append(sizes[-1] * 2)

    best: tuple[float, tuple[Level, ...]] = (math.inf, ())
    cost_of = _level_cost if level_cost is None else level_cost

    def search(idx: int, offset: int, cost: float, levels: tuple[Level, ...]) -> None:
        nonlocal best
        if cost >= best[0]:
            return
        size = sizes[idx]
        # finish here with this size
        n_last = -(-(n_taps - offset) // size)
        total = cost + cost_of(size, n_last)
        if total < best[0]:
            best = (total, levels + (Level(size, n_last, offset),))
        # or stop after some partitions and continue with a larger size
        for nxt in range(idx + 1, len(sizes)):
            need = _min_offset(sizes[nxt], block, async_min) - offset  # earliest start of the next level
            n_here = max(1, -(-need // size))
            end = offset + n_here * size
            if end >= n_taps:
                break
            search(nxt, end, cost + cost_of(size, n_here), levels + (Level(size, n_here, offset),))

    search(0, 0, 0.0, ())
    return best[1]


class _LevelState:
    """Buffers of one level for ``n_ch`` channels and up to ``max_block`` samples per call."""

    def __init__(self, lev: Level, h: np.ndarray, *, block: int, max_block: int) -> None:
        P, M = lev.size, lev.n_parts
        n_ch = h.shape[0]
        self.lev = lev
        self.P = P
        self.M = M
        self.nb_max = max_block // P + 2
        # Partition spectra, (n_ch, M, P+1) complex64: rfft of each P-tap segment padded to 2P.
        seg = np.zeros((n_ch, M * P), dtype=np.float64)
        part = h[:, lev.offset:lev.end]
        seg[:, : part.shape[1]] = part
        padded = np.zeros((n_ch, M, 2 * P), dtype=np.float64)
        padded[:, :, :P] = seg.reshape(n_ch, M, P)
        self.H = np.fft.rfft(padded, axis=-1).astype(np.complex64)
        # Input: P samples of history, then the samples not yet transformed.
        self.inbuf = np.zeros((n_ch, P + self.nb_max * P), dtype=np.float32)
        self.fill = 0
        ib = self.inbuf
        # frames of 2P with hop P over the input buffer, one view made here for all calls
        self.frames_view = np.lib.stride_tricks.as_strided(
            ib, shape=(n_ch, self.nb_max - 1, 2 * P), strides=(ib.strides[0], P * ib.strides[1], ib.strides[1]),
            writeable=False)
        # Frequency-domain delay line: the M-1 most recent spectra, oldest first (the spectra
        # of the blocks being processed are used where scipy.fft returns them)
        self.T = np.zeros((n_ch, max(M - 1, 1), P + 1), dtype=np.complex64)
        self.Y = np.empty((n_ch, self.nb_max, P + 1), dtype=np.complex64)
        self.tmp = np.empty((n_ch, self.nb_max, P + 1), dtype=np.complex64)
        self.n_done = 0  # blocks of this level transformed so far (posted, for a worker level)
        self.is_async = False

    def make_async(self, n_jobs: int) -> None:
        """Give this level the buffers of a worker level: a ring of ``n_jobs`` input frames."""
        C, P = self.inbuf.shape[0], self.P
        self.is_async = True
        self.n_jobs = int(n_jobs)
        self.jobs_in = np.zeros((self.n_jobs, C, 2 * P), dtype=np.float32)
        self.job_start = np.zeros(self.n_jobs, dtype=np.int64)
        # the last M spectra, newest first, as a window D[:, p:p+M] of a doubled ring (each
        # spectrum is written at p and p+M): one multiply and one sum per job, whatever M, so
        # the worker holds the GIL only between two long numpy calls
        self.D = np.zeros((C, 2 * self.M, P + 1), dtype=np.complex64)
        self.T = np.zeros((C, 1, 1), dtype=np.complex64)                # the callback path's, unused
        self.t_head = 0          # p: index in D of the newest spectrum
        self.Y = np.empty((C, P + 1), dtype=np.complex64)
        self.prod = np.empty((C, self.M, P + 1), dtype=np.complex64)
        self.done = 0            # jobs finished by the worker (written by the worker only)

    def reset(self) -> None:
        self.inbuf.fill(0.0)
        self.T.fill(0.0)
        self.fill = 0
        self.n_done = 0
        if self.is_async:
            self.D.fill(0.0)
            self.done = 0
            self.t_head = 0


class PartitionedConvolver:
    """Multichannel non-uniformly partitioned convolver, zero added latency.

    Parameters
    ----------
    h : ndarray, shape (n_channels, n_taps) or (n_taps,)
        One FIR per channel (float; converted to float32 spectra).
    block : int
        Processing block (samples) = head partition; every :meth:`process` call takes a
        multiple of it.  Any size >= 1, odd sizes included.
    max_block : int, optional
        Most samples per :meth:`process` call (preallocation); default ``block``.
    levels : tuple of Level, optional
        Partition scheme; default :func:`plan_partitions`.
    async_min : int, optional
        Levels whose partition is at least this many samples are computed by a background
        worker thread instead of the callback (real time only; ``None``, the default, computes
        everything in :meth:`process`).  See "Worker levels" below.
    worker_priority : int, optional
        SCHED_FIFO priority the worker thread asks for (Linux; silently stays a normal thread
        where that is refused; :attr:`worker_realtime` tells).  None: a normal thread.

    Notes
    -----
    Worker levels.  A level of ``P`` samples computed in the callback does a whole FFT pair
    of size ``2P`` and ``M`` spectral multiply-adds in the one callback that completes its
    block: for 65,536 taps at 256 samples the 8192-sample level costs a quarter of a period
    every 32nd callback while the others cost a few percent.  With ``async_min`` such a level
    starts at tap ``o >= 2P - block`` instead of ``P - block``: the block completed at time
    ``(j+1)P`` first contributes at ``jP + o >= (j+2)P - block``, so the worker has ``P - block``
    samples of time.  The callback only copies the ``2P``-sample frame into a preallocated job
    slot, bumps a counter and writes one byte to a pipe (no lock); the worker (its own frequency
    domain delay line, same arithmetic) writes the block into the level's output ring.  Before
    reading output that a job feeds, the callback checks that the job is done and, if the worker
    is late, waits for it (``late_waits`` counts those; a stall of ``WORKER_TIMEOUT_S`` raises,
    which the real-time callback turns into a silenced block).  ``max_block`` must not exceed
    the smallest worker partition (one job per level per call).  Call :meth:`close` to stop
    the thread.

    Raises
    ------
    SignalError
        Empty or non-finite filter.
    ConfigError
        Bad block sizes or an invalid scheme.
    """

    WORKER_TIMEOUT_S = 0.5
    JOBS = 4

    def __init__(self, h: np.ndarray, *, block: int, max_block: int | None = None,
                 levels: tuple[Level, ...] | None = None, async_min: int | None = None,
                 worker_priority: int | None = None) -> None:
        h = np.asarray(h, dtype=np.float64)
        if h.ndim == 1:
            h = h[np.newaxis, :]
        if h.ndim != 2 or h.shape[1] == 0:
            raise SignalError(f"FIR must be (n_channels, n_taps) with n_taps >= 1, got shape {h.shape}")
        if not np.all(np.isfinite(h)):
            raise SignalError("FIR contains NaN or Inf taps; the filter is damaged")
        block = int(block)
        if block < 1:
            raise ConfigError(f"block size must be >= 1 sample, got {block}")
        max_block = block if max_block is None else int(max_block)
        if max_block < block or max_block % block:
            raise ConfigError(f"max_block {max_block} must be a positive multiple of block {block}")
        self.n_channels, self.n_taps = h.shape
        self.block = block
        self.max_block = max_block
        if async_min is not None:
            async_min = int(async_min)
            if async_min <= block or async_min < max_block:
                raise ConfigError(f"worker partitions ({async_min}) must be larger than the block ({block}) "
                                  f"and at least max_block ({max_block})")
        self.async_min = async_min
        self.levels = (plan_partitions(self.n_taps, block=block, async_min=async_min) if levels is None
                       else tuple(levels))
        self._check_levels()
        self._st = [_LevelState(lev, h, block=block, max_block=max_block) for lev in self.levels]
        self._async = [li for li, lev in enumerate(self.levels) if self._is_async(lev.size)]
        for li in self._async:
            self._st[li].make_async(self.JOBS)
        self.late_waits = 0          # callbacks that had to wait for the worker
        self.worker_priority = worker_priority
        self.worker_realtime = False
        self.worker_error = ""
        self._closing = False
        self._thread: threading.Thread | None = None
        self._wake_r = self._wake_w = -1
        self._alive = [True]
        if self._async:
            self._wake_r, self._wake_w = os.pipe()
            os.set_blocking(self._wake_w, False)
            # the thread holds only a weak reference: a convolver nobody uses any more is freed
            # (and its thread ends) even when close() was never called
            self._thread = threading.Thread(target=_worker_main, args=(weakref.ref(self), self._wake_r, self._alive),
                                            name="roomtruth-fir-worker", daemon=True)
            self._thread.start()
        reach = max(lev.offset + lev.size for lev in self.levels)
        self._R = max_block + reach + self.levels[-1].size
        # one output ring per level: blocks of a level never overlap in time, so each ring
        # sample is written exactly once (a copy, no accumulation, no clearing), and the
        # levels are summed in a fixed order when read: the result does not depend on when
        # a level's block was computed, so streaming and chunked rendering agree bit for bit
        self._rings = np.zeros((len(self.levels), self.n_channels, self._R), dtype=np.float32)
        self._t = 0  # samples processed

    @property
    def latency_samples(self) -> int:
        """Added algorithmic delay (samples): always 0 (the head partition is the block)."""
        return 0

    def _check_levels(self) -> None:
        lv = self.levels
        if not lv or lv[0].offset != 0 or lv[0].size != self.block:
            raise ConfigError("the first level must start at tap 0 with the block size as partition")
        for a, b in zip(lv, lv[1:]):
            if b.offset != a.end:
                raise ConfigError(f"levels must be contiguous: {a} then {b}")
        for lev in lv:
            if lev.size % self.block or lev.offset < _min_offset(lev.size, self.block, self.async_min):
                raise ConfigError(f"level {lev} cannot meet the deadline at block {self.block}")
        if lv[-1].end < self.n_taps:
            raise ConfigError(f"levels cover {lv[-1].end} taps, the filter has {self.n_taps}")

    def _is_async(self, size: int) -> bool:
        return self.async_min is not None and size >= self.async_min and size > self.block

    def reset(self) -> None:
        """Clear all state (in place, no allocation; waits for the worker's pending jobs)."""
        for li in self._async:
            self._wait_done(self._st[li], self._st[li].n_done)
        for st in self._st:
            st.reset()
        self._rings.fill(0.0)
        self._t = 0

    def close(self) -> None:
        """Stop the worker thread (idempotent); the convolver must not be used afterwards."""
        th = self._thread
        if th is None:
            return
        self._thread = None
        self._closing = True
        try:
            os.write(self._wake_w, b"q")
        except OSError:
            pass
        if th is not threading.current_thread():
            th.join(2.0)
        self._alive[0] = False
        os.close(self._wake_r)
        os.close(self._wake_w)
        self._wake_r = self._wake_w = -1

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass

    # ------------------------------------------------------------------ the worker
    def _do_jobs(self) -> None:
        for li in self._async:
            st = self._st[li]
            while st.done < st.n_done and not self._closing:
                self._run_job(li, st, st.done % st.n_jobs)
                st.done += 1

    def _run_job(self, li: int, st: _LevelState, j: int) -> None:
        """One block of a worker level: ``Y = sum_m X[j-m] H_m`` over the newest-first window
        of the spectra ring, in one multiply and one reduction (the reduction over the
        partition axis adds in order m = 0, 1, ..., as :meth:`_run_level` does)."""
        M, P = st.M, st.P
        R = _sfft.rfft(st.jobs_in[j], axis=-1)            # (C, P+1)
        p = (st.t_head - 1) % M
        st.D[:, p] = R
        st.D[:, p + M] = R
        st.t_head = p
        np.multiply(st.D[:, p:p + M], st.H, out=st.prod)
        np.sum(st.prod, axis=1, out=st.Y)
        yb = _sfft.irfft(st.Y, n=2 * P, axis=-1)
        self._ring_put(self._rings[li], int(st.job_start[j]), yb[:, np.newaxis, P:], 1, P)

    def _post(self, st: _LevelState) -> None:
        """Hand the level's newest complete frame to the worker (audio thread)."""
        if st.n_done - st.done >= st.n_jobs:
            self._wait_done(st, st.n_done - st.n_jobs + 1)
        j = st.n_done % st.n_jobs
        np.copyto(st.jobs_in[j], st.frames_view[:, 0])
        st.job_start[j] = st.n_done * st.P + st.lev.offset
        st.n_done += 1
        try:
            os.write(self._wake_w, b"j")
        except OSError:
            pass    # full pipe: the worker is awake anyway; closed: _wait_done reports the stall

    def _wait_done(self, st: _LevelState, need: int) -> None:
        """Block until the worker finished ``need`` jobs of ``st`` (audio thread)."""
        if st.done >= need:
            return
        self.late_waits += 1
        t_end = time.perf_counter() + self.WORKER_TIMEOUT_S
        while st.done < need:
            if self.worker_error:
                raise RuntimeError(f"FIR worker failed: {self.worker_error}")
            if time.perf_counter() > t_end:
                raise RuntimeError("FIR worker stalled")
            time.sleep(0.0001)

    # ------------------------------------------------------------------ processing
    def _run_level(self, li: int, st: _LevelState, x: np.ndarray) -> None:
        P, M = st.P, st.M
        n = x.shape[1]
        a = P + st.fill
        st.inbuf[:, a:a + n] = x
        total = st.fill + n
        nb = total // P
        if nb and st.is_async:
            self._post(st)                      # nb == 1: max_block <= P for worker levels
            src = st.inbuf[:, P:P + P + total - P]
            st.inbuf[:, :total] = src
            st.fill = total - P
        elif nb:
            # frames of 2P with hop P over [history | new blocks]
            view = st.frames_view[:, :nb]
            R = _sfft.rfft(view, axis=-1)            # (C, nb, P+1): spectra of the new blocks
            Y = st.Y[:, :nb]
            np.multiply(R, st.H[:, 0:1], out=Y)
            if M > 1:
                T, H, tmp = st.T, st.H, st.tmp
                K = M - 1
                # Y[j] += X[j-m] H_m: X[j-m] is R[j-m] for j >= m, else the tail T[K + j - m]
                for m in range(1, M):
                    k = min(m, nb)
                    t = tmp[:, :k]
                    np.multiply(T[:, K - m:K - m + k], H[:, m:m + 1], out=t)
                    np.add(Y[:, :k], t, out=Y[:, :k])
                    if nb > m:
                        t = tmp[:, : nb - m]
                        np.multiply(R[:, : nb - m], H[:, m:m + 1], out=t)
                        np.add(Y[:, m:], t, out=Y[:, m:])
                if nb >= K:
                    T[...] = R[:, nb - K:]
                else:
                    T[:, : K - nb] = T[:, nb:].copy()
                    T[:, K - nb:] = R
            yb = _sfft.irfft(Y, n=2 * P, axis=-1)
            # overlap-save: the last P samples of each frame are valid; add them at o + jP
            start = st.n_done * P + st.lev.offset
            self._ring_put(self._rings[li], start, yb[:, :, P:], nb, P)
            st.n_done += nb
            left = total - nb * P
            # keep P samples of history plus the partial block
            src = st.inbuf[:, nb * P:nb * P + P + left]
            st.inbuf[:, :P + left] = src
            st.fill = left
        else:
            st.fill = total

    def _ring_put(self, ring: np.ndarray, start: int, blocks: np.ndarray, nb: int, P: int) -> None:
        """Write ``nb`` blocks of ``P`` samples (``(C, nb, P)``) into ``ring`` from ``start``."""
        R = self._R
        C = self.n_channels
        i0 = start % R
        if i0 + nb * P <= R:
            ring[:, i0:i0 + nb * P].reshape(C, nb, P)[...] = blocks
            return
        # wraps: the blocks before the end, the one straddling it, the ones after
        first = R - i0
        j1 = first // P
        if j1:
            ring[:, i0:i0 + j1 * P].reshape(C, j1, P)[...] = blocks[:, :j1]
        cut = first - j1 * P
        base = 0
        if cut:
            ring[:, i0 + j1 * P:R] = blocks[:, j1, :cut]
            ring[:, : P - cut] = blocks[:, j1, cut:]
            j1 += 1
            base = P - cut
        rest = nb - j1
        if rest:
            ring[:, base:base + rest * P].reshape(C, rest, P)[...] = blocks[:, j1:]

    def process(self, x: np.ndarray, out: np.ndarray) -> np.ndarray:
        """Convolve the next samples.

        Parameters
        ----------
        x : ndarray, shape (n_channels, n), float32
            ``n`` a multiple of ``block``, at most ``max_block``.
        out : ndarray, shape (n_channels, n), float32
            Receives the output for the same ``n`` samples (may not alias ``x``).

        Returns
        -------
        out
        """
        n = x.shape[1]
        for li, st in enumerate(self._st):
            self._run_level(li, st, x)
        last = self._t + n - 1
        for li in self._async:
            st = self._st[li]
            # jobs k with k P + o <= last feed this output: need done >= floor((last - o) / P) + 1
            need = (last - st.lev.offset) // st.P + 1
            if need > 0:
                self._wait_done(st, need)
        R = self._R
        i0 = self._t % R
        first = min(n, R - i0)
        rings = self._rings
        np.copyto(out[:, :first], rings[0, :, i0:i0 + first])
        for k in range(1, rings.shape[0]):
            np.add(out[:, :first], rings[k, :, i0:i0 + first], out=out[:, :first])
        if first < n:
            np.copyto(out[:, first:], rings[0, :, : n - first])
            for k in range(1, rings.shape[0]):
                np.add(out[:, first:], rings[k, :, : n - first], out=out[:, first:])
        self._t += n
        return out

    def check_block(self, n: int) -> None:
        """Raise :class:`ConfigError` unless ``n`` samples can be processed in one call."""
        if n <= 0 or n % self.block or n > self.max_block:
            raise ConfigError(
                f"{n} samples cannot be processed: need a positive multiple of {self.block} up to {self.max_block}")
