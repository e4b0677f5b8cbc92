"""Compiled kernel of the scheduled partitioned convolution (:class:`monitor.fastconv.ScheduledConvolver`).

One call runs whole periods for all channels and all partition levels; FFTW's single-precision
real FFTs are executed from inside the compiled code by address (see :mod:`monitor.kernels`
for why numba + FFTW).  What this kernel does to keep the 16-channel, 65,536-tap job cheap
(measured on the project machine, ``benchmarks/bench_engine_scale.py``, note in
``benchmarks/results/engine3_2026-12-07.json``):

* **FFTs straight into and out of the spectra.**  The forward FFT writes its spectrum into the
  level's frequency-domain delay line (``fftwf_execute_dft_r2c`` on new arrays) and the
  inverse reads the accumulated spectrum in place (``fftwf_execute_dft_c2r``), instead of
  copying every spectrum through scratch buffers.  Every spectrum slot starts on a 64-byte
  boundary (``Kp`` bins per slot, ``Kp >= K`` a multiple of 8), which FFTW's new-array execute
  requires (same alignment as at planning) and which the vector loops like.
* **Two blocks per pass over the filter spectra** (levels with ``G = 2``).  The
  multiply-accumulates of the large levels are memory-bound: 16 channels x 65,536 taps hold
  ~9 MB of filter spectra and ~9 MB of input spectra, read once per block.  Output block
  ``j`` needs ``sum_m X[j-m] H[m]`` and block ``j+1`` needs ``sum_m X[j+1-m] H[m]``; every
  term of block ``j+1`` except ``X[j+1] H[0]`` is known once ``X[j]`` is, so one task
  accumulates both blocks over a bin range: the second sum reads the same ``X[j-m]`` and
  ``H[m+1]`` again from the cache (a range of ~1024 bins of every partition fits in L2).
  The next block then only adds ``X[j+1] H[0]``.  Half the memory traffic per block;
  channels alternate the parity of their pass block, so every block window carries the same
  work.  The pass is cut into bin ranges (tasks) so the scheduler can spread it over the
  window's periods.
* **Vector multiply-accumulates** (:func:`_dot`): 8 complex64 bins per ``<16 x float>``
  operation with in-lane shuffles only (an LLVM-vector intrinsic; numba's own loop split
  re/im with cross-lane permutes, which bound it), up to four partitions summed in
  registers per load and store of the accumulator.  Measured (engine5,
  ``benchmarks/bench_engine5_ab.py``): with the recalibrated scheme, 16 channels x 65,536
  taps at 128 cost 66 us per period against 75 us with the old loops (82 us before both).

Task kinds (``tasks[i] = (kind, channel, arg)``):

0. forward FFT of the block's frame into its spectrum slot;
1. ``G = 1``: all partitions' multiply-accumulates over bins ``[arg * CH, (arg + 1) * CH)``;
2. inverse FFT of the block's accumulated spectrum, overlap-save output into ``acc``;
3. ``G = 2``: the paired pass over bins ``[arg * CH, (arg + 1) * CH)``;
4. ``G = 2``: the finishing term ``X[j] H[0]`` of a block whose other terms the pass made.
"""

from __future__ import annotations

import numpy as np

try:  # pragma: no branch
    import numba as _nb
    from llvmlite import ir as _ir
    from numba import types as _types
    from numba.extending import intrinsic as _intrinsic
except Exception:  # noqa: BLE001 - monitor.kernels reports why the compiled engine is off
    _nb = None

__all__ = ["conv_run", "ILV_COLS", "STATE_LEN"]

# columns of ``ilv`` (one row per level)
(I_P, I_M, I_R, I_O, I_XO, I_YO, I_PLAN_F, I_PLAN_I, I_PB, I_F, I_KP, I_G, I_CH) = range(13)
ILV_COLS = 13
# ``state`` = (t, block, fftwf_execute, fftwf_execute_dft_r2c, fftwf_execute_dft_c2r)
STATE_LEN = 5

if _nb is not None:
    @_intrinsic
    def _call_3(typingctx, fnptr, a, b, c):
        """``((void (*)(void *, void *, void *)) fnptr)(a, b, c)`` (addresses as int64)."""
        sig = _types.void(_types.int64, _types.int64, _types.int64, _types.int64)

        def codegen(context, builder, signature, args):
            i64 = _ir.IntType(64)
            fnty = _ir.FunctionType(_ir.VoidType(), [i64, i64, i64])
            f = builder.inttoptr(args[0], fnty.as_pointer())
            builder.call(f, [args[1], args[2], args[3]])
            return context.get_dummy_value()

        return sig, codegen

    def _cmul8(builder, x, h):
        """``x * h`` for 8 interleaved complex64 values in a ``<16 x float>``, with in-lane
        shuffles only (``re = xr hr - xi hi``, ``im = xi hr + xr hi``, the same products and
        sums as a scalar complex multiply)."""
        i32 = _ir.IntType(32)

        def m(lanes):
            return _ir.Constant(_ir.VectorType(i32, 16), lanes)

        hre = builder.shuffle_vector(h, h, m([i & ~1 for i in range(16)]))
        him = builder.shuffle_vector(h, h, m([i | 1 for i in range(16)]))
        xsw = builder.shuffle_vector(x, x, m([i ^ 1 for i in range(16)]))
        t1 = builder.fmul(x, hre)
        t2 = builder.fmul(xsw, him)
        return builder.shuffle_vector(builder.fsub(t1, t2), builder.fadd(t1, t2),
                                      m([i if i % 2 == 0 else 16 + i for i in range(16)]))

    def _make_cmac8(n_terms, init):
        """Intrinsic ``f(y, xs, hs)``: ``y[0:8] (+)= sum_t xs[t][0:8] * hs[t][0:8]`` (complex64
        by address, ``n_terms`` products summed in registers, ``y`` loaded and stored once;
        ``init``: ``=`` instead of ``+=``)."""
        @_intrinsic
        def cmac8(typingctx, ya, xs, hs):
            sig = _types.void(_types.int64, _types.UniTuple(_types.int64, n_terms),
                              _types.UniTuple(_types.int64, n_terms))

            def codegen(context, builder, signature, args):
                vty = _ir.VectorType(_ir.FloatType(), 16)

                def ld(a):
                    return builder.load(builder.inttoptr(a, vty.as_pointer()), align=4)

                acc = None
                for t in range(n_terms):
                    p = _cmul8(builder, ld(builder.extract_value(args[1], t)),
                               ld(builder.extract_value(args[2], t)))
                    acc = p if acc is None else builder.fadd(acc, p)
                if not init:
                    acc = builder.fadd(ld(args[0]), acc)
                builder.store(acc, builder.inttoptr(args[0], vty.as_pointer()), align=4)
                return context.get_dummy_value()

            return sig, codegen

        return cmac8

    _cm1 = _make_cmac8(1, False)
    _cm2 = _make_cmac8(2, False)
    _cm4 = _make_cmac8(4, False)
    _cm1i = _make_cmac8(1, True)
    _cm2i = _make_cmac8(2, True)
    _cm4i = _make_cmac8(4, True)

    _jit = _nb.njit(cache=True, nogil=True, boundscheck=False)

    @_jit
    def _cp(dst, src, n):  # pragma: no cover - compiled
        for k in range(n):
            dst[k] = src[k]

    @_jit
    def _addto(dst, src, n):  # pragma: no cover - compiled
        for k in range(n):
            dst[k] += src[k]

    @_jit
    def _dot(X, H, Y, xb, hb, yb, j, M, Kp, n, nt, hs, add):  # pragma: no cover - compiled
        """``Y[yb + k] (+)= sum_{m < nt} X[xb + ((j - m) % M) Kp + k] H[hb + (m + hs) Kp + k]``
        for ``k < n`` (``nt >= 1``; ``+=`` when ``add``): one channel's bin range of a block's
        sum over partitions.

        Eight bins at a time, up to four partitions summed in registers before the
        accumulator is loaded and stored once (the loop is bound by its loads and stores;
        the old one-partition-per-sweep loop also shuffled across lanes to split re/im);
        the accumulator chunk stays in the cache while every partition is added.  The last
        ``n % 8`` bins run scalar."""
        Xa = X.ctypes.data
        Ha = H.ctypes.data
        ya = Y.ctypes.data + 8 * yb
        h0b = hb + hs * Kp
        n8 = n // 8
        m = 0
        while m < nt:
            g = nt - m
            if g >= 4:
                g = 4
            elif g == 3:
                g = 2
            x0 = Xa + 8 * (xb + ((j - m) % M) * Kp)
            h0 = Ha + 8 * (h0b + m * Kp)
            if g == 4:
                x1 = Xa + 8 * (xb + ((j - m - 1) % M) * Kp)
                x2 = Xa + 8 * (xb + ((j - m - 2) % M) * Kp)
                x3 = Xa + 8 * (xb + ((j - m - 3) % M) * Kp)
                for i in range(n8):
                    o = 64 * i
                    xs = (x0 + o, x1 + o, x2 + o, x3 + o)
                    hv = (h0 + o, h0 + 8 * Kp + o, h0 + 16 * Kp + o, h0 + 24 * Kp + o)
                    if m == 0 and not add:
                        _cm4i(ya + o, xs, hv)
                    else:
                        _cm4(ya + o, xs, hv)
            elif g == 2:
                x1 = Xa + 8 * (xb + ((j - m - 1) % M) * Kp)
                for i in range(n8):
                    o = 64 * i
                    if m == 0 and not add:
                        _cm2i(ya + o, (x0 + o, x1 + o), (h0 + o, h0 + 8 * Kp + o))
                    else:
                        _cm2(ya + o, (x0 + o, x1 + o), (h0 + o, h0 + 8 * Kp + o))
            else:
                for i in range(n8):
                    o = 64 * i
                    if m == 0 and not add:
                        _cm1i(ya + o, (x0 + o,), (h0 + o,))
                    else:
                        _cm1(ya + o, (x0 + o,), (h0 + o,))
            m += g
        for k in range(n8 * 8, n):
            v = X[xb + (j % M) * Kp + k] * H[h0b + k]
            for mm in range(1, nt):
                v += X[xb + ((j - mm) % M) * Kp + k] * H[h0b + mm * Kp + k]
            if add:
                Y[yb + k] += v
            else:
                Y[yb + k] = v

    @_jit
    def _accum(X, H, Y, xo, yb, c, j, M, Kp, k0, n):  # pragma: no cover - compiled
        """Bins ``k0:k0+n`` of ``Y[yb:] = sum_m X[j-m] H[m]`` for channel ``c``."""
        xb = xo + c * M * Kp + k0
        _dot(X, H, Y, xb, xb, yb, j, M, Kp, n, M, 0, False)

    @_jit
    def _pass(X, H, Y, xo, yo, c, j, M, Kp, k0, n):  # pragma: no cover - compiled
        """Bins ``k0:k0+n`` of block ``j`` (complete) and of block ``j+1`` (all terms but
        ``X[j+1] H[0]``), channel ``c``: two sums over the same ``X[j-m]``, the second read
        from the cache (a bin range of every partition fits in L2)."""
        xb = xo + c * M * Kp + k0
        y0 = yo + (c * 2 + j % 2) * Kp + k0
        y1 = yo + (c * 2 + (j + 1) % 2) * Kp + k0
        _dot(X, H, Y, xb, xb, y0, j, M, Kp, n, M, 0, False)
        if M > 1:
            _dot(X, H, Y, xb, xb, y1, j, M, Kp, n, M - 1, 1, False)
        else:                                  # M == 1: block j+1 has no earlier terms
            for k in range(n):
                Y[y1 + k] = 0.0

    @_jit
    def conv_run(x, out, n, xring, acc, X, H, Y, sin, sspec, stime, ilv, tasks, tptr, state):  # pragma: no cover - compiled
        """Run ``n`` samples (a multiple of the block) of a scheduled partitioned convolution.

        ``x``/``out`` ``(C, >= n)`` float32; ``xring`` ``(C, L)`` input history (time ``t`` at
        ``t % L``); ``acc`` ``(C, Lout)`` output accumulator (likewise); ``X``, ``H``, ``Y``
        flat complex64, per level from ``ilv[l, I_XO]`` / ``ilv[l, I_YO]``: input spectra ring
        ``(C, M, Kp)``, filter spectra ``(C, M, Kp)`` scaled by ``1/F``, accumulators
        ``(C, G, Kp)`` (``K = F/2 + 1`` bins used of ``Kp``); ``sin``/``sspec``/``stime``
        FFTW scratch (the plans were made on them); ``ilv`` rows: see ``I_*``; ``tasks``: see
        the module docstring; the tasks of level ``l`` in phase ``u`` (``0 <= u < G r``) are
        ``tptr[ilv[l, I_PB] + u] .. tptr[ilv[l, I_PB] + u + 1]``; ``state``: see
        ``STATE_LEN``.  Overlap-save (Wefers 2015, sec. 3.3).
        """
        C = x.shape[0]
        L = xring.shape[1]
        Lout = acc.shape[1]
        B = state[1]
        ex_f = state[3]
        ex_i = state[4]
        sin_a = sin.ctypes.data
        stime_a = stime.ctypes.data
        X_a = X.ctypes.data
        Y_a = Y.ctypes.data
        NL = ilv.shape[0]
        for b in range(n // B):
            t = state[0]
            p = t % L
            for c in range(C):
                _cp(xring[c, p:], x[c, b * B:], B)
            t += B
            state[0] = t
            q = t // B - 1                       # index of this period
            for li in range(NL):
                P = ilv[li, I_P]
                M = ilv[li, I_M]
                r = ilv[li, I_R]
                xo = ilv[li, I_XO]
                yo = ilv[li, I_YO]
                F = ilv[li, I_F]
                Kp = ilv[li, I_KP]
                G = ilv[li, I_G]
                K = F // 2 + 1
                s = (q + 1) % r                  # phase: 0 in the period that completes a block
                j = (q + 1 - s) // r - 1         # the block whose work runs in this period
                if j < 0:
                    continue
                u = ilv[li, I_PB] + (j % G) * r + s
                for ti in range(tptr[u], tptr[u + 1]):
                    kind = tasks[ti, 0]
                    c = tasks[ti, 1]
                    if kind == 0:
                        # frame [(j+1)P - F, (j+1)P) of channel c -> spectrum into slot j % M
                        s0 = ((j + 1) * P - F) % L
                        n1 = min(F, L - s0)
                        _cp(sin, xring[c, s0:], n1)
                        _cp(sin[n1:], xring[c], F - n1)
                        _call_3(ex_f, ilv[li, I_PLAN_F], sin_a, X_a + 8 * (xo + (c * M + j % M) * Kp))
                    elif kind == 3:
                        CH = ilv[li, I_CH]
                        k0 = tasks[ti, 2] * CH
                        _pass(X, H, Y, xo, yo, c, j, M, Kp, k0, min(CH, K - k0))
                    elif kind == 1:
                        CH = ilv[li, I_CH]
                        k0 = tasks[ti, 2] * CH
                        _accum(X, H, Y, xo, yo + c * Kp + k0, c, j, M, Kp, k0, min(CH, K - k0))
                    elif kind == 4:
                        xb = xo + c * M * Kp
                        _dot(X, H, Y, xb, xb, yo + (c * 2 + j % 2) * Kp, j, M, Kp, K, 1, 0, True)
                    else:
                        yb = yo + (c * G + j % G) * Kp
                        _call_3(ex_i, ilv[li, I_PLAN_I], Y_a + 8 * yb, stime_a)
                        # overlap-save: the last P samples are valid; they sound from jP + o
                        d0 = (j * P + ilv[li, I_O]) % Lout
                        n1 = min(P, Lout - d0)
                        _addto(acc[c, d0:], stime[F - P:], n1)
                        _addto(acc[c], stime[F - P + n1:], P - n1)
            p0 = (t - B) % Lout
            for c in range(C):
                _cp(out[c, b * B:], acc[c, p0:], B)
                for i in range(p0, p0 + B):
                    acc[c, i] = 0.0
else:  # pragma: no cover
    conv_run = None
