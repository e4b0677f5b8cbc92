"""One compiled call per period: the engine's steady state end to end.

Why (measured, ``roomtruth monitor bench``, 2 ch x 65,536 taps at 128, thread CPU per period):
with one compiled call per stage the convolution itself cost ~8 us, but the period cost
~30 us: numba's dispatcher unboxes every array argument (~0.06-0.1 us each; ``chain_run``
takes 31, once per loaded chain, the limiter 17), and the engine's and the callback's Python
glue between the calls (transposed copies, meters, slot loop) cost as much again.

Here the whole steady-state period -- host block in (transposed), input cleaning and meter,
every loaded chain (:func:`monitor.kernels.chain_run`: gain, delay, biquads, the FIR group's
scheduled convolution, match gain, alignment ring), the safety limiter
(:func:`monitor.limkernels.limiter_run`), the output meter, host block out -- is ONE call with
a handful of arguments: the engine's arrays are described once, when the engine reaches a
steady state, in an int64 table ``tab`` of ``(address, rows, columns)`` triples
(:mod:`monitor.period_plan` builds it and keeps every array it describes alive), and the
kernel views them again with ``numba.carray`` on pointers made from those addresses (a small
intrinsic, the same kind as the FFTW call in :mod:`monitor.kernels`; the kernel stays
cacheable).  The same kernels run in the same order on the same arrays as the per-stage
path, so the output is the same bit for bit (tested).

Python decides when the state is not steady (crossfades, A/B switch, reload, alignment fades,
match-gain ramps, routing, a command waiting): then the engine runs its per-stage path and
builds a new table when the state is steady again (:class:`monitor.engine.Engine`).
"""

from __future__ import annotations

import numpy as np

from monitor import kernels as _kernels
from monitor import limkernels as _lk
from monitor import rt_account as _ra

__all__ = ["available", "engine_period", "host_period", "rt_period", "warm_up", "E_HDR", "CH_HDR", "CH_ARRAYS",
           "E_ARRAYS"]

# --- table layout -------------------------------------------------------------------------
# engine header: C, N (max_block), active slot, chain table offsets of slots 0..2 (-1: none)
E_C, E_N, E_ACTIVE, E_OFF0 = 0, 1, 2, 3
E_HDR = 6
# engine arrays (triples from E_HDR): input buffer, meters, the three slot outputs, the
# limiter output (host path), then the limiter's state and scratch in limiter_run's order
E_ARRAYS = ("x", "in_peak", "out_peak", "y0", "y1", "y2", "out",
            "xin", "xd", "a_hist", "r_hist", "h_hist", "fir", "span", "peak", "cacc", "req", "req2", "cs",
            "st", "prm")
# chain header: conv (0/1), iir (0/1), ga, gb, adelay (-1: no alignment ring)
CH_CONV, CH_IIR, CH_GA, CH_GB, CH_ADELAY = range(5)
CH_HDR = 5
CH_ARRAYS = ("w", "dbuf", "delays", "dpos", "gains", "sos", "sptr", "zi", "xring", "acc", "X", "H", "Y",
             "sin", "sspec", "stime", "ilv", "tasks", "tptr", "cstate", "plain", "abuf", "apos", "match")


def _ea(name: str) -> int:
    return E_HDR + 3 * E_ARRAYS.index(name)


def _ca(name: str) -> int:
    return CH_HDR + 3 * CH_ARRAYS.index(name)


(A_X, A_INPK, A_OUTPK, A_Y0, A_OUT, A_XIN, A_XD, A_AH, A_RH, A_HH, A_FIR, A_SPAN, A_PEAK, A_CACC, A_REQ,
 A_REQ2, A_CS, A_ST, A_PRM) = (_ea(k) for k in ("x", "in_peak", "out_peak", "y0", "out", "xin", "xd", "a_hist",
                                                 "r_hist", "h_hist", "fir", "span", "peak", "cacc", "req", "req2",
                                                 "cs", "st", "prm"))
(C_W, C_DBUF, C_DEL, C_DPOS, C_GAINS, C_SOS, C_SPTR, C_ZI, C_XRING, C_ACC, C_X, C_H, C_Y, C_SIN, C_SSPEC,
 C_STIME, C_ILV, C_TASKS, C_TPTR, C_CSTATE, C_PLAIN, C_ABUF, C_APOS, C_MATCH) = (_ca(k) for k in CH_ARRAYS)

try:
    import numba as _nb
    from numba import types as _types
    from numba.extending import intrinsic as _intrinsic
except Exception:  # noqa: BLE001 - no numba: the per-stage path runs
    _nb = None

if _nb is not None:
    # the kernels below compile the chain, convolution, meter and limiter kernels into
    # themselves: their cached machine code must follow those modules' sources too
    import os as _os

    from monitor.period_cache import depend_on as _depend_on

    _HERE = _os.path.dirname(_os.path.abspath(__file__))
    _depend_on(__file__, [_os.path.join(_HERE, f) for f in ("kernels.py", "conv_kernels.py", "limkernels.py",
                                                                  "rt_account.py")])


def available() -> bool:
    """True when the one-call period can run (the compiled engine and limiter are there)."""
    return _nb is not None and _kernels.available() and _lk.available()


if _nb is not None:
    def _pointer_intrinsic(dtype):
        ptr_t = _types.CPointer(dtype)

        @_intrinsic
        def _ptr(typingctx, addr):
            """``(dtype *) addr``: a typed pointer from an address (cacheable)."""
            sig = ptr_t(_types.int64)

            def codegen(context, builder, signature, args):
                return builder.inttoptr(args[0], context.get_value_type(ptr_t))

            return sig, codegen

        return _ptr

    _p_f32 = _pointer_intrinsic(_types.float32)
    _p_f64 = _pointer_intrinsic(_types.float64)
    _p_i64 = _pointer_intrinsic(_types.int64)
    _p_c64 = _pointer_intrinsic(_types.complex64)

    _jit = _nb.njit(cache=True, nogil=True, boundscheck=False)
    _carray = _nb.carray

    @_jit
    def _f32_2(t, i):  # pragma: no cover - compiled
        return _carray(_p_f32(t[i]), (t[i + 1], t[i + 2]))

    @_jit
    def _f32_1(t, i):  # pragma: no cover - compiled
        return _carray(_p_f32(t[i]), (t[i + 1],))

    @_jit
    def _f64_2(t, i):  # pragma: no cover - compiled
        return _carray(_p_f64(t[i]), (t[i + 1], t[i + 2]))

    @_jit
    def _f64_1(t, i):  # pragma: no cover - compiled
        return _carray(_p_f64(t[i]), (t[i + 1],))

    @_jit
    def _i64_2(t, i):  # pragma: no cover - compiled
        return _carray(_p_i64(t[i]), (t[i + 1], t[i + 2]))

    @_jit
    def _i64_1(t, i):  # pragma: no cover - compiled
        return _carray(_p_i64(t[i]), (t[i + 1],))

    @_jit
    def _c64_1(t, i):  # pragma: no cover - compiled
        return _carray(_p_c64(t[i]), (t[i + 1],))

    @_jit
    def _chain(t, b, x, out, n):  # pragma: no cover - compiled
        """The chain described at ``t[b:]``: ``chain_run`` on ``x`` into ``out`` (``(C, n)``)."""
        abuf = _f32_2(t, b + C_ABUF)
        apos = _i64_1(t, b + C_APOS)
        adelay = t[b + CH_ADELAY]
        p = apos[0]
        conv = t[b + CH_CONV] != 0
        # without a FIR group the gain + delay write straight into out (as Chain.process)
        w = _f32_2(t, b + C_W)[:, :n] if conv else out
        _kernels.chain_run(
            x, w, out, _f32_2(t, b + C_DBUF), _i64_1(t, b + C_DEL),
            _i64_1(t, b + C_DPOS), _f32_1(t, b + C_GAINS), t[b + CH_IIR] != 0, _f64_2(t, b + C_SOS),
            _i64_1(t, b + C_SPTR), _f64_2(t, b + C_ZI), conv, t[b + CH_GA], t[b + CH_GB],
            _f32_2(t, b + C_XRING), _f32_2(t, b + C_ACC), _c64_1(t, b + C_X), _c64_1(t, b + C_H),
            _c64_1(t, b + C_Y), _f32_1(t, b + C_SIN), _c64_1(t, b + C_SSPEC), _f32_1(t, b + C_STIME),
            _i64_2(t, b + C_ILV), _i64_2(t, b + C_TASKS), _i64_1(t, b + C_TPTR), _i64_1(t, b + C_CSTATE),
            _i64_1(t, b + C_PLAIN), _f32_1(t, b + C_MATCH)[0], abuf, p, adelay)
        if adelay >= 0:
            apos[0] = (p + n) % abuf.shape[1]

    @_jit
    def _core(t, x, out, n, host):  # pragma: no cover - compiled
        """Input cleaning + meter, every loaded chain, the limiter, the output meter: the
        steady-state ``Engine.process`` on the engine's input buffer ``x`` into ``out``
        (``host``: ``out`` is the plan's own output buffer).  The meters and the cleaning
        run on the whole buffers when the period fills them (contiguous rows: the integer
        maxima vectorise, 2.5x faster; the same values)."""
        st = _f64_1(t, A_ST)
        xf = _f32_2(t, A_X)
        if n == xf.shape[1]:
            nb = _kernels.sanitise_peak_run(xf, _f32_1(t, A_INPK))
        else:
            nb = _kernels.sanitise_peak_run(x, _f32_1(t, A_INPK))
        if nb:
            st[_lk.S_NONFINITE] += nb
        for k in range(3):
            b = t[E_OFF0 + k]
            if b >= 0:
                _chain(t, b, x, _f32_2(t, A_Y0 + 3 * k)[:, :n], n)
        mixf = _f32_2(t, A_Y0 + 3 * t[E_ACTIVE])
        of = _f32_2(t, A_OUT)
        if host and n == of.shape[1] and n == mixf.shape[1]:
            # whole contiguous buffers: the limiter's copies and maxima vectorise (its float
            # arithmetic runs in the same order for every layout: the same output)
            _lk.limiter_run(mixf, of, True, _f32_2(t, A_XIN), _f32_2(t, A_XD), _f64_1(t, A_AH),
                            _f64_1(t, A_RH), _f64_1(t, A_HH), _f32_2(t, A_FIR), _f32_1(t, A_SPAN),
                            _f32_1(t, A_PEAK), _f32_1(t, A_CACC), _f64_1(t, A_REQ), _f64_1(t, A_REQ2),
                            _f64_1(t, A_CS), st, _f64_1(t, A_PRM))
        else:
            _lk.limiter_run(mixf[:, :n], out, True, _f32_2(t, A_XIN), _f32_2(t, A_XD), _f64_1(t, A_AH),
                            _f64_1(t, A_RH), _f64_1(t, A_HH), _f32_2(t, A_FIR), _f32_1(t, A_SPAN),
                            _f32_1(t, A_PEAK), _f32_1(t, A_CACC), _f64_1(t, A_REQ), _f64_1(t, A_REQ2),
                            _f64_1(t, A_CS), st, _f64_1(t, A_PRM))
        if host and n == of.shape[1]:
            _kernels.peak_run(of, _f32_1(t, A_OUTPK))
        else:
            _kernels.peak_run(out, _f32_1(t, A_OUTPK))

    @_jit
    def engine_period(x, out, n, t):  # pragma: no cover - compiled
        """``Engine.process(x, out)`` in the steady state: ``x``, ``out`` ``(C, n)`` float32."""
        xe = _f32_2(t, A_X)[:, :n]
        C = xe.shape[0]
        for c in range(C):
            for i in range(n):
                xe[c, i] = x[c, i]
        _core(t, xe, out[:, :n], n, False)   # a slice: one compiled _core for every layout

    @_jit
    def _host_fits(indata, outdata, n, n_in, n_out, t):  # pragma: no cover - compiled
        C = t[E_C]
        return not (n > t[E_N] or indata.shape[0] < n or indata.shape[1] < n_in or outdata.shape[0] < n
                    or outdata.shape[1] < n_out or n_in > C or n_out > C)

    @_jit
    def _host_body(indata, outdata, n, n_in, n_out, t):  # pragma: no cover - compiled
        xe = _f32_2(t, A_X)[:, :n]
        C = xe.shape[0]
        for c in range(n_in):
            for i in range(n):
                xe[c, i] = indata[i, c]
        for c in range(n_in, C):
            for i in range(n):
                xe[c, i] = 0.0
        of = _f32_2(t, A_OUT)
        _core(t, xe, of[:, :n], n, True)
        W = outdata.shape[1]
        if n_out == W:
            for i in range(n):
                for c in range(n_out):
                    outdata[i, c] = of[c, i]
        else:
            for i in range(n):
                for c in range(n_out):
                    outdata[i, c] = of[c, i]
                for c in range(n_out, W):
                    outdata[i, c] = 0.0

    @_jit
    def host_period(indata, outdata, n, n_in, n_out, t):  # pragma: no cover - compiled
        """The real-time callback's period in the steady state: ``indata``/``outdata``
        ``(frames, channels)`` as the host gives them; input ``c < n_in`` feeds engine channel
        ``c`` (the others are silence), engine channel ``c < n_out`` plays on output ``c``
        (the other outputs are silent).  False (nothing done) when the blocks do not have
        those shapes."""
        if not _host_fits(indata, outdata, n, n_in, n_out, t):
            return False                     # not the stream's shape: the caller's general path
        _host_body(indata, outdata, n, n_in, n_out, t)
        return True

    @_jit
    def rt_period(indata, outdata, n, n_in, n_out, t, acc, t0):  # pragma: no cover - compiled
        """:func:`host_period` with the real-time callback's bookkeeping
        (:meth:`monitor.realtime.RealtimeProcessor._account`) in the same call: ``acc`` holds
        the processor's counters and clocks (:mod:`monitor.rt_account`), ``t0`` the wall clock
        (``time.perf_counter``, s) the callback read on entry.  0: nothing done (not the
        stream's shape, or ``n`` not a multiple of the engine's block: the caller's general
        path); 1: done; 2: done and the period was an overload (the caller logs the event)."""
        blk = np.int64(acc[_ra.BLOCK])
        if n <= 0 or n % blk != 0 or not _host_fits(indata, outdata, n, n_in, n_out, t):
            return 0
        fn = acc.view(np.int64)[_ra.CLOCK_FN]
        c0 = np.float64(_ra.clock_ns(fn, _ra.CLOCK_THREAD)) / 1e9
        cb = acc[_ra.CALLBACKS] + 1.0
        acc[_ra.CALLBACKS] = cb
        if cb == 1.0:
            acc[_ra.PROCESS_CPU0] = np.float64(_ra.clock_ns(fn, _ra.CLOCK_PROCESS)) / 1e9
        _host_body(indata, outdata, n, n_in, n_out, t)
        dt = np.float64(_ra.clock_ns(fn, _ra.CLOCK_MONO)) / 1e9 - t0
        return _ra.account(acc, dt, c0, n)
else:  # pragma: no cover
    engine_period = host_period = rt_period = None


_WARM = [False]


def warm_up() -> None:
    """Compile (or load from numba's cache) both entry points for the layouts the engine and
    the hosts hand them (contiguous blocks, column slices of wider buffers), off the audio
    thread.  Needs a steady engine: built here on tiny data."""
    if _WARM[0] or not available():
        return
    _WARM[0] = True                   # the engine built below calls this again

    try:
        _warm_run()
    except BaseException:
        _WARM[0] = False
        raise


def _warm_run() -> None:
    import numpy as _np

    from calib.profile import CalibrationProfile, SpeakerCorrection
    from monitor.engine import Engine

    h = _np.zeros(8)
    h[0] = 1.0
    prof = CalibrationProfile(name="warm", speakers=(SpeakerCorrection("a", 0, fir={48000: h}),), design_fs=48000)
    eng = Engine(fs=48000, n_channels=2, block=2, max_block=4)
    eng.load(prof, "A")
    for xin in (_np.ones((2, 4), _np.float32), _np.ones((2, 6), _np.float32)[:, :4]):
        for y in (_np.zeros((2, 4), _np.float32), _np.zeros((2, 6), _np.float32)[:, :4]):
            eng.process(xin, y)
            eng.process(xin, y)                    # the second call runs the one-call period
    from monitor.realtime import RealtimeProcessor

    proc = RealtimeProcessor(eng, n_inputs=2, n_outputs=2)
    for ind in (_np.ones((4, 2), _np.float32), _np.ones((6, 3), _np.float32)[:4, :2]):
        for outd in (_np.zeros((4, 2), _np.float32), _np.zeros((6, 3), _np.float32)[:4, :2]):
            proc.callback(ind, outd, 4, 0)
            proc.callback(ind, outd, 4, 0)
            # an xrun flag takes the general path (Engine.process_host): without this its first
            # call in a live run loaded the kernels from numba's cache inside the callback
            # (~35 ms of the audio thread's CPU: an overload and an xrun at the first host xrun)
            proc.callback(ind, outd, 4, 1)
    eng.close()
