"""Compiled inner loops of the real-time engine: numba kernels and FFTW plans.

Why this module exists (measured on the project machine, 2 cores, 16 channels x 65,536
taps at a 128-sample period, see ``benchmarks/bench_engine_scale.py``): the numpy engine
spent about 1 ms of interpreter time per period (dozens of small numpy and ``scipy.fft`` calls
per level, per-channel Python loops in the delay line) and concentrated the large partitions'
FFTs in single periods.  Here one compiled call per period does all the convolution work of a
channel group, and the FFTs are FFTW's (the library zita-convolver uses), called from inside
the compiled code.

Route chosen and why:

* **numba** (``@njit(cache=True, nogil=True)``) for the loops: a well-kept dependency that
  installs from PyPI as wheels (no compiler on the user's machine), releases the GIL, and its
  on-disk cache means the JIT runs once per machine; :func:`warm_up` runs every kernel on
  tiny data when an engine is built, so no compilation ever happens in the audio callback.
* **FFTW** (single precision, ``libfftw3f.so.3``) through ``ctypes`` for planning and through
  a numba intrinsic that calls ``fftwf_execute`` by address for execution: the address is a
  run-time argument, so the kernel stays cacheable (numba refuses to cache code that embeds a
  ctypes pointer).  The library is installed with ``jconvolver`` by ``scripts/run.sh setup``
  (fconvolver links it).  Plans are made once per level on preallocated, 64-byte aligned
  scratch buffers, so the audio thread only executes plans; planning is serialised by a lock
  (FFTW's planner is not thread-safe, execution is).  Plans are ``FFTW_MEASURE`` with the
  measurements kept on disk (:func:`wisdom_path`), see ``_MEASURE`` below.
* ``scipy.fft`` with workers was the alternative: each call costs 5-10 us of interpreter and
  allocation, and it cannot be called from compiled code.  A C extension would need a
  compiler at install time.

When numba or libfftw3f is missing, :func:`available` is False and the engine falls back to the
pure-numpy :class:`monitor.convolver.PartitionedConvolver` (the reference the compiled path is
tested against).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import threading

import numpy as np

__all__ = ["available", "why_unavailable", "Fftw", "aligned_zeros", "warm_up", "wisdom_path",
           "conv_run", "delay_run", "peak_run", "ring_delay_run", "sanitise_peak_run", "chain_run",
           "sos_run"]

_FFTW_ESTIMATE = 1 << 6
_FFTW_MEASURE = 0
_FFTW_DESTROY_INPUT = 1 << 0

try:  # pragma: no branch
    import numba as _nb
    from llvmlite import ir as _ir
    from numba import types as _types
    from numba.extending import intrinsic as _intrinsic
    _NUMBA_ERR = ""
    from monitor import conv_kernels as _conv_kernels
    from monitor.period_cache import depend_on as _depend_on
    # chain_run compiles conv_run into itself: its cache must follow conv_kernels.py too
    _depend_on(__file__, [os.path.join(os.path.dirname(os.path.abspath(__file__)), "conv_kernels.py")])
except Exception as exc:  # noqa: BLE001 - any import problem means "use the numpy path"
    _nb = None
    _NUMBA_ERR = f"numba unavailable ({type(exc).__name__}: {exc})"


def _load_fftw():
    names = ["libfftw3f.so.3", ctypes.util.find_library("fftw3f")]
    for name in names:
        if not name:
            continue
        try:
            lib = ctypes.CDLL(name)
        except OSError:
            continue
        lib.fftwf_plan_dft_r2c_1d.restype = ctypes.c_void_p
        lib.fftwf_plan_dft_r2c_1d.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_uint]
        lib.fftwf_plan_dft_c2r_1d.restype = ctypes.c_void_p
        lib.fftwf_plan_dft_c2r_1d.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_uint]
        lib.fftwf_destroy_plan.restype = None
        lib.fftwf_destroy_plan.argtypes = [ctypes.c_void_p]
        lib.fftwf_execute.restype = None
        lib.fftwf_execute.argtypes = [ctypes.c_void_p]
        lib.fftwf_import_wisdom_from_filename.restype = ctypes.c_int
        lib.fftwf_import_wisdom_from_filename.argtypes = [ctypes.c_char_p]
        lib.fftwf_export_wisdom_to_filename.restype = ctypes.c_int
        lib.fftwf_export_wisdom_to_filename.argtypes = [ctypes.c_char_p]
        return lib, ""
    return None, "libfftw3f.so.3 not found (apt-get install libfftw3-single3; jconvolver brings it)"


_FFTW, _FFTW_ERR = _load_fftw()
_PLAN_LOCK = threading.Lock()
# FFTW_MEASURE plans are about 10 % faster here than FFTW_ESTIMATE (16 x 65,536 taps at 128:
# 84 vs 94 us per period) but take seconds to make the first time (4 s for the sizes of a
# 65,536-tap filter at 128); the measurements ("wisdom") are kept in the user's cache folder,
# so only the first engine built on a machine pays.  ROOMTRUTH_FFTW_PLAN=estimate turns it off.
_MEASURE = os.environ.get("ROOMTRUTH_FFTW_PLAN", "measure").strip().lower() != "estimate"
_WISDOM = {"loaded": False}


def wisdom_path() -> str:
    """File of FFTW's kept measurements (``$XDG_CACHE_HOME/roomtruth/fftwf-wisdom``)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "roomtruth", "fftwf-wisdom")


def _load_wisdom() -> None:
    """Import the kept wisdom once per process (caller holds the plan lock)."""
    if _WISDOM["loaded"]:
        return
    _WISDOM["loaded"] = True
    path = wisdom_path()
    if os.path.isfile(path):
        _FFTW.fftwf_import_wisdom_from_filename(path.encode())


def _save_wisdom() -> None:
    """Write the wisdom atomically (temp file + rename); silently skipped where impossible."""
    path = wisdom_path()
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with _PLAN_LOCK:
            ok = _FFTW.fftwf_export_wisdom_to_filename(tmp.encode())
        if ok:
            os.replace(tmp, path)
    except OSError:
        pass
    finally:
        if os.path.exists(tmp):
            try:
                os.remove(tmp)
            except OSError:
                pass
_DISABLED = os.environ.get("ROOMTRUTH_ENGINE", "").strip().lower() == "numpy"


def available() -> bool:
    """True when the compiled engine can run (numba imported, libfftw3f loaded, not disabled
    by ``ROOMTRUTH_ENGINE=numpy``)."""
    return _nb is not None and _FFTW is not None and not _DISABLED


def why_unavailable() -> str:
    """Plain reason the compiled engine is off ("" when :func:`available`)."""
    if _DISABLED:
        return "ROOMTRUTH_ENGINE=numpy"
    return _NUMBA_ERR or _FFTW_ERR


def aligned_zeros(shape, dtype, align: int = 64) -> np.ndarray:
    """Zeroed array whose data starts on an ``align``-byte boundary (FFTW's SIMD paths)."""
    dt = np.dtype(dtype)
    n = int(np.prod(shape)) * dt.itemsize
    raw = np.zeros(n + align, np.uint8)
    off = (-raw.ctypes.data) % align
    return raw[off:off + n].view(dt).reshape(shape)


class Fftw:
    """Owner of FFTW plans on fixed buffers (made under a lock, destroyed on :meth:`close`).

    ``measure``: plan with ``FFTW_MEASURE`` (and the kept wisdom) unless turned off by the
    environment; False plans with ``FFTW_ESTIMATE`` at once.
    """

    def __init__(self, *, measure: bool = True) -> None:
        if _FFTW is None:
            raise RuntimeError(_FFTW_ERR)
        self._plans: list[int] = []
        self.execute_address = ctypes.cast(_FFTW.fftwf_execute, ctypes.c_void_p).value
        # new-array execution (same alignment as at planning): fftwf_execute_dft_r2c / _c2r
        self.execute_dft_addresses = tuple(ctypes.cast(f, ctypes.c_void_p).value for f in
                                           (_FFTW.fftwf_execute_dft_r2c, _FFTW.fftwf_execute_dft_c2r))
        self._measure = bool(measure) and _MEASURE
        self._flags = _FFTW_MEASURE if self._measure else _FFTW_ESTIMATE
        self.planning_s = 0.0           # time spent planning (large: new measurements made)

    def _plan(self, fn, n: int, src: np.ndarray, dst: np.ndarray, extra: int) -> int:
        import time

        t0 = time.perf_counter()
        with _PLAN_LOCK:
            _load_wisdom()
            # FFTW_MEASURE overwrites the buffers while it measures: they are scratch
            p = fn(int(n), src.ctypes.data, dst.ctypes.data, self._flags | extra)
        self.planning_s += time.perf_counter() - t0
        if not p:
            raise RuntimeError(f"FFTW could not plan a real FFT of {n} points")
        self._plans.append(p)
        return int(p)

    def keep_wisdom(self) -> None:
        """Save FFTW's measurements if this object's planning made new ones (> 50 ms)."""
        if self._measure and self.planning_s > 0.05:
            _save_wisdom()

    def r2c(self, n: int, src: np.ndarray, dst: np.ndarray) -> int:
        """Plan ``dst[:n//2+1] = rfft(src[:n])`` (unnormalised) on these buffers; its address."""
        return self._plan(_FFTW.fftwf_plan_dft_r2c_1d, n, src, dst, 0)

    def c2r(self, n: int, src: np.ndarray, dst: np.ndarray) -> int:
        """Plan ``dst[:n] = n * irfft(src[:n//2+1])`` (unnormalised; destroys ``src``)."""
        return self._plan(_FFTW.fftwf_plan_dft_c2r_1d, n, src, dst, _FFTW_DESTROY_INPUT)

    def close(self) -> None:
        plans, self._plans = self._plans, []
        if plans and _FFTW is not None:
            with _PLAN_LOCK:
                for p in plans:
                    _FFTW.fftwf_destroy_plan(p)


# ---------------------------------------------------------------------------- kernels
if _nb is not None:
    @_intrinsic
    def _call_void_1(typingctx, fnptr, arg):
        """``((void (*)(void *)) fnptr)(arg)``: call a C function by address (cacheable)."""
        sig = _types.void(_types.int64, _types.int64)

        def codegen(context, builder, signature, args):
            fnty = _ir.FunctionType(_ir.VoidType(), [_ir.IntType(64)])
            f = builder.inttoptr(args[0], fnty.as_pointer())
            builder.call(f, [args[1]])
            return context.get_dummy_value()

        return sig, codegen

    _jit = _nb.njit(cache=True, nogil=True, boundscheck=False)

    @_jit
    def _copy(dst, src):  # pragma: no cover - compiled
        for k in range(dst.shape[0]):
            dst[k] = src[k]

    @_jit
    def _add(dst, src):  # pragma: no cover - compiled
        for k in range(dst.shape[0]):
            dst[k] += src[k]

    conv_run = _conv_kernels.conv_run   # the scheduled convolution (monitor/conv_kernels.py)

    @_jit
    def delay_run(x, out, buf, delays, pos, gains):  # pragma: no cover - compiled
        """Per-channel integer delay of ``x * gains`` through the ring ``buf`` ``(C, S)``;
        ``pos[0]`` = write position (:class:`monitor.dsp.DelayLine`); ``out`` may be ``x``."""
        C, n = x.shape
        S = buf.shape[1]
        p = pos[0]
        n1 = min(n, S - p)
        for c in range(C):
            g = gains[c]
            row = buf[c]
            for i in range(n1):
                row[p + i] = x[c, i] * g
            for i in range(n1, n):
                row[i - n1] = x[c, i] * g
            r = (p - delays[c]) % S
            m1 = min(n, S - r)
            _copy(out[c, :m1], row[r:r + m1])
            _copy(out[c, m1:n], row[:n - m1])
        pos[0] = (p + n) % S

    @_jit
    def ring_delay_run(x, buf, p, d):  # pragma: no cover - compiled
        """Write ``x`` ``(C, n)`` into the ring ``buf`` from ``p`` and, if ``d > 0``, replace it
        by the samples ``d`` earlier (:class:`monitor.dsp.AlignmentDelay`, steady state)."""
        C, n = x.shape
        S = buf.shape[1]
        n1 = min(n, S - p)
        r = (p - d) % S
        m1 = min(n, S - r)
        for c in range(C):
            row = buf[c]
            _copy(row[p:p + n1], x[c, :n1])
            _copy(row[:n - n1], x[c, n1:n])
            if d > 0:
                _copy(x[c, :m1], row[r:r + m1])
                _copy(x[c, m1:n], row[:n - m1])

    @_jit
    def _row_absmax_bits(row, n):  # pragma: no cover - compiled
        """Sign-cleared bit pattern of the largest ``|row[i]|``, ``i < n``: for finite float32
        the order of these patterns is the order of the values (an integer maximum, which LLVM
        vectorises); ``>= 0x7f800000`` means a NaN or an Inf is there."""
        r = row.view(np.uint32)
        m = np.uint32(0)
        for i in range(n):
            v = r[i] & np.uint32(0x7fffffff)
            if v > m:
                m = v
        return m

    @_jit
    def peak_run(x, out):  # pragma: no cover - compiled
        """``out[c] = max_i |x[c, i]|`` (the engine's meters; NaN ignored), one pass per channel."""
        C, n = x.shape
        ob = out.view(np.uint32)
        for c in range(C):
            m = _row_absmax_bits(x[c], n)
            if m < np.uint32(0x7f800000):
                ob[c] = m
                continue
            mf = np.float32(0.0)             # an Inf or a NaN in the row: the float loop
            for i in range(n):
                v = abs(x[c, i])
                if v > mf:
                    mf = v
            out[c] = mf

    @_jit
    def sanitise_peak_run(x, peak):  # pragma: no cover - compiled
        """NaN/Inf in ``x`` ``(C, n)`` -> 0 (how many returned) and ``peak[c] = max |x[c]|``:
        the engine's input cleaning and input meter, one vectorised pass per clean channel."""
        C, n = x.shape
        nb = 0
        pb = peak.view(np.uint32)
        for c in range(C):
            m = _row_absmax_bits(x[c], n)
            if m < np.uint32(0x7f800000):
                pb[c] = m
                continue
            mf = np.float32(0.0)
            for i in range(n):
                v = x[c, i]
                if not np.isfinite(v):
                    x[c, i] = 0.0
                    nb += 1
                    continue
                v = abs(v)
                if v > mf:
                    mf = v
            peak[c] = mf
        return nb

    @_jit
    def sos_run(x, sos, ptr, zi):  # pragma: no cover - compiled
        """Biquad cascades per channel in place (:class:`monitor.dsp.SosCascade`): channel ``c``
        runs sections ``ptr[c]:ptr[c+1]`` of ``sos`` ``(S, 6)`` with states ``zi`` ``(S, 2)``,
        float64, direct form II transposed in ``scipy.signal.sosfilt``'s order of operations;
        a channel whose state becomes non-finite is silenced for the block and restarts."""
        C, n = x.shape
        for c in range(C):
            s0 = ptr[c]
            s1 = ptr[c + 1]
            if s1 == s0:
                continue
            for i in range(n):
                xc = np.float64(x[c, i])
                for s in range(s0, s1):
                    xn = sos[s, 0] * xc + zi[s, 0]
                    zi[s, 0] = sos[s, 1] * xc - sos[s, 4] * xn + zi[s, 1]
                    zi[s, 1] = sos[s, 2] * xc - sos[s, 5] * xn
                    xc = xn
                x[c, i] = xc
            ok = True
            for s in range(s0, s1):
                if not (np.isfinite(zi[s, 0]) and np.isfinite(zi[s, 1])):
                    ok = False
            if not ok:
                for s in range(s0, s1):
                    zi[s, 0] = 0.0
                    zi[s, 1] = 0.0
                for i in range(n):
                    x[c, i] = 0.0

    @_jit
    def chain_run(x, w, out, dbuf, delays, dpos, gains, iir, sos, sptr, zi, conv, ga, gb, xring, acc, X, H, Y,
                  sin, sspec, stime, ilv, tasks, tptr, cstate, plain, match, abuf, apos, adelay):  # pragma: no cover - compiled
        """One steady-state :meth:`monitor.chain.Chain.process` (at most one FIR group, no
        loudness-match ramp, no alignment fade): gain + delay into ``w``, biquads (``iir``), the FIR
        group ``ga:gb`` (when ``conv``) into ``out``, pass-through channels ``plain`` copied,
        the match gain ``match`` (float32, skipped when 1), the alignment ring (``apos``
        write position; ``adelay`` < 0: no ring).  The same operations as the Python chain."""
        n = x.shape[1]
        delay_run(x, w, dbuf, delays, dpos, gains)
        if iir:
            sos_run(w, sos, sptr, zi)
        if conv:
            conv_run(w[ga:gb], out[ga:gb], n, xring, acc, X, H, Y, sin, sspec, stime, ilv, tasks, tptr, cstate)
            for k in range(plain.shape[0]):
                _copy(out[plain[k], :n], w[plain[k], :n])
        if match != np.float32(1.0):
            for c in range(out.shape[0]):
                for i in range(n):
                    out[c, i] *= match
        if adelay >= 0:
            ring_delay_run(out, abuf, apos, adelay)

else:  # pragma: no cover
    conv_run = delay_run = peak_run = ring_delay_run = sanitise_peak_run = chain_run = sos_run = None


_WARM = [False]


def warm_up() -> None:
    """Compile (or load from numba's cache) every kernel on tiny data, off the audio thread.

    Called when a compiled convolver or delay line is built; idempotent and cheap afterwards.
    """
    if _WARM[0] or not available():
        return
    from monitor.fastconv import ScheduledConvolver

    h = np.zeros((2, 8))
    h[:, 0] = 1.0
    cv = ScheduledConvolver(h, block=2, max_block=4, _warm=True)
    buf = np.zeros((2, 8), np.float32)
    # contiguous buffers and column slices of wider ones (2 rows: a 1-row slice counts as
    # contiguous): numba compiles one version per memory layout
    for x in (np.ones((2, 4), np.float32), np.ones((2, 6), np.float32)[:, :4]):
        for y in (np.zeros((2, 4), np.float32), np.zeros((2, 6), np.float32)[:, :4]):
            cv.process(x, y)
            delay_run(x, y, buf, np.zeros(2, np.int64), np.zeros(1, np.int64), np.ones(2, np.float32))
            ring_delay_run(y, buf, 3, 5)
        peak_run(x, np.zeros(2, np.float32))
        sanitise_peak_run(x.copy() if x.flags.c_contiguous else x, np.zeros(2, np.float32))
    cv.close()
    _WARM[0] = True
