"""The real-time callback's bookkeeping (load, overloads, thread CPU) on one float64 array.

Why (measured, ``benchmarks/bench_engine5b_period.py``, 2 ch x 65,536 taps at 128): the
callback's Python bookkeeping around the one compiled period (two ``perf_counter`` reads, the
``thread_time`` read, ``_account``'s two dozen attribute updates, the ``process_host`` method
and its checks) cost ~3-4 us per period, a quarter of the whole period.  Here the same
arithmetic (:func:`account`) runs inside the compiled period (:func:`monitor.period_kernel.rt_period`)
on the processor's state array ``acc`` (indices below), the clocks read with
``clock_gettime`` called by address from compiled code (:func:`clock_ns`: the same clocks as
``time.perf_counter`` = ``CLOCK_MONOTONIC``, ``time.thread_time``, ``time.process_time``, and
the same ns -> s conversion).  The transition path (:meth:`RealtimeProcessor._stages`) calls
the same :func:`account`, so both paths count alike; without numba it is plain Python.

Counters are float64 (integers exact up to 2**53: 2.9 million years of 128-sample periods).
``acc[N_ACC:]`` optionally holds a trace of every period's ``last_load`` and
``last_cpu_load`` (``monitor bench`` reads it instead of two attributes per period).
"""

from __future__ import annotations

import ctypes
import time

import numpy as np

__all__ = ["new_state", "account", "clock_ns", "N_ACC", "CALLBACKS", "OVERLOADS", "LAST_OVERLOAD", "LOAD",
           "LOAD_MAX", "LAST_LOAD", "CPU_LOAD", "CPU_LOAD_MAX", "CPU_OVERLOADS", "LAST_CPU_LOAD", "THRESHOLD",
           "BLOCK", "PROCESS_CPU0", "TRACE_N", "TRACE_ORIGIN"]

(CLOCK_FN, CALLBACKS, OVERLOADS, LAST_OVERLOAD, LOAD, LOAD_MAX, LAST_LOAD, CPU_LOAD, CPU_LOAD_MAX,
 CPU_OVERLOADS, LAST_CPU_LOAD, C_PREV, BUDGET_PREV, ALPHA, INV_FS, THRESHOLD, BLOCK, PROCESS_CPU0,
 TRACE_N, TRACE_ORIGIN) = range(20)
N_ACC = 24

CLOCK_MONO = int(getattr(time, "CLOCK_MONOTONIC", 1))
CLOCK_PROCESS = int(getattr(time, "CLOCK_PROCESS_CPUTIME_ID", 2))
CLOCK_THREAD = int(getattr(time, "CLOCK_THREAD_CPUTIME_ID", 3))


def _clock_gettime_address() -> int:
    """Address of libc's ``clock_gettime`` (0 when there is none: the compiled path is off)."""
    try:
        return int(ctypes.cast(ctypes.CDLL(None).clock_gettime, ctypes.c_void_p).value or 0)
    except (OSError, AttributeError, TypeError):
        return 0


_CLOCK_GETTIME = _clock_gettime_address()

try:
    import numba as _nb
    from llvmlite import ir as _ir
    from numba import types as _types
    from numba.core import cgutils as _cgutils
    from numba.extending import intrinsic as _intrinsic
except Exception:  # noqa: BLE001 - no numba: plain Python
    _nb = None

if _nb is not None and _CLOCK_GETTIME:
    @_intrinsic
    def clock_ns(typingctx, fnptr, clk):
        """``clock_gettime(clk, &ts)`` through the function at address ``fnptr``; ``ts`` in ns
        (int64).  By address, as the FFTW calls of :mod:`monitor.kernels` (cacheable)."""
        sig = _types.int64(_types.int64, _types.int64)

        def codegen(context, builder, signature, args):
            i32 = _ir.IntType(32)
            i64 = _ir.IntType(64)
            ts_t = _ir.ArrayType(i64, 2)               # struct timespec {time_t; long} on LP64
            ts = _cgutils.alloca_once(builder, ts_t)
            fnty = _ir.FunctionType(i32, [i32, ts_t.as_pointer()])
            f = builder.inttoptr(args[0], fnty.as_pointer())
            builder.call(f, [builder.trunc(args[1], i32), ts])
            sec = builder.load(builder.gep(ts, [i32(0), i32(0)]))
            nsec = builder.load(builder.gep(ts, [i32(0), i32(1)]))
            return builder.add(builder.mul(sec, i64(1_000_000_000)), nsec)

        return sig, codegen
else:
    def clock_ns(fnptr, clk):  # noqa: ARG001 - the same signature as the compiled one
        """``time.clock_gettime_ns(clk)`` (plain Python: no numba)."""
        return time.clock_gettime_ns(clk)


def _account(acc, dt, c0, n):
    """Load bookkeeping of one period (see :meth:`monitor.realtime.RealtimeProcessor._account`):
    wall time ``dt`` (s), thread CPU clock ``c0`` (s) at its start, ``n`` frames.  1, or 2 when
    the period was an overload (the caller writes the event)."""
    budget = max(n, 1) * acc[INV_FS]
    load = dt / budget
    acc[LAST_LOAD] = load
    alpha = acc[ALPHA]
    acc[LOAD] += alpha * (load - acc[LOAD])
    prev = acc[C_PREV]
    acc[C_PREV] = c0
    if prev >= 0.0:
        cpu_ss = (c0 - prev) / acc[BUDGET_PREV]
        acc[LAST_CPU_LOAD] = cpu_ss
        acc[CPU_LOAD] += alpha * (cpu_ss - acc[CPU_LOAD])
    acc[BUDGET_PREV] = budget
    thr = acc[THRESHOLD]
    if load > acc[CPU_LOAD_MAX] or load > thr:
        cpu = (np.float64(clock_ns(acc.view(np.int64)[CLOCK_FN], CLOCK_THREAD)) / 1e9 - c0) / budget
        if cpu > acc[CPU_LOAD_MAX]:
            acc[CPU_LOAD_MAX] = cpu
        if cpu > thr:
            acc[CPU_OVERLOADS] += 1.0
    if load > acc[LOAD_MAX]:
        acc[LOAD_MAX] = load
    tn = int(acc[TRACE_N])
    if tn > 0:
        i = int(acc[CALLBACKS] - acc[TRACE_ORIGIN]) - 1
        if 0 <= i < tn:
            acc[N_ACC + i] = load
            acc[N_ACC + tn + i] = acc[LAST_CPU_LOAD]
    if load > thr:
        acc[OVERLOADS] += 1.0
        acc[LAST_OVERLOAD] = acc[CALLBACKS]
        return 2
    return 1


if _nb is not None and _CLOCK_GETTIME:
    account = _nb.njit(cache=True, nogil=True, boundscheck=False)(_account)
else:
    account = _account


def compiled() -> bool:
    """True when :func:`account` and the clocks run compiled (numba and libc's clock_gettime)."""
    return _nb is not None and bool(_CLOCK_GETTIME)


def new_state(*, fs: float, block: int, overload_threshold: float, blame_window: int,
              trace_periods: int = 0) -> np.ndarray:
    """A fresh state array (counters zero, no period seen, ``trace_periods`` traced periods)."""
    acc = np.zeros(N_ACC + 2 * max(int(trace_periods), 0), np.float64)
    acc.view(np.int64)[CLOCK_FN] = _CLOCK_GETTIME
    acc[LAST_OVERLOAD] = -(blame_window + 1)
    acc[C_PREV] = -1.0
    acc[BUDGET_PREV] = 1.0
    acc[ALPHA] = 0.05
    acc[INV_FS] = 1.0 / fs
    acc[THRESHOLD] = overload_threshold
    acc[BLOCK] = block
    acc[PROCESS_CPU0] = np.nan
    acc[TRACE_N] = max(int(trace_periods), 0)
    return acc


_WARM = [False]


def warm_up() -> None:
    """Compile (or load from numba's cache) :func:`account` before any audio (never in the callback)."""
    if _WARM[0]:
        return
    acc = new_state(fs=48000.0, block=64, overload_threshold=0.8, blame_window=2, trace_periods=1)
    account(acc, 1e-4, 0.0, 64)
    account(acc, 1e-4, 1e-5, 64)
    _WARM[0] = True
