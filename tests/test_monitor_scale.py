"""The compiled, scheduled monitor engine (monitor/fastconv.py, monitor/kernels.py) against
exact convolution and against the numpy reference (monitor/convolver.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.signal as ss

from calib.errors import ConfigError, SignalError
from calib.profile import Biquad, CalibrationProfile, SpeakerCorrection
from monitor import conv_kernels as ck
from monitor import kernels
from monitor.convolver import Level, PartitionedConvolver
from monitor.dsp import DelayLine

pytestmark = pytest.mark.skipif(not kernels.available(), reason=f"compiled engine off: {kernels.why_unavailable()}")

if kernels.available():
    from monitor.fastconv import ScheduledConvolver, _COST_FFT, _COST_MAC, _COST_PASS, fft_size, plan_scheduled

FS = 48_000


def null_db(y: np.ndarray, ref: np.ndarray) -> float:
    err = float(np.sqrt(np.mean((np.asarray(y, np.float64) - ref) ** 2)))
    return 20 * math.log10(max(err, 1e-300) / float(np.sqrt(np.mean(ref ** 2))))


def decaying_firs(rng, C: int, taps: int) -> np.ndarray:
    """Room-correction-like FIRs: a main peak at a different tap per channel, a decaying tail."""
    h = rng.standard_normal((C, taps)) * np.exp(-np.arange(taps) / (taps / 6)) * 0.05
    for c in range(C):
        h[c, (37 * c) % max(taps // 4, 1)] += 0.8
    return h


def stream(conv, x: np.ndarray, sizes) -> np.ndarray:
    y = np.zeros_like(x)
    s = k = 0
    while s < x.shape[1]:
        n = min(sizes[k % len(sizes)], x.shape[1] - s)
        conv.process(x[:, s:s + n], y[:, s:s + n])
        s += n
        k += 1
    return y


# float32 FFTs and float32 spectra: the error of partitioned convolution is about 2^-24 per
# operation, accumulated over a few dozen partitions: nulls of -130..-140 dB; -120 dB leaves
# a margin of 10 dB and still catches any misplaced block (which nulls above -20 dB).
@pytest.mark.parametrize("C,block,taps", [(1, 64, 9000), (2, 127, 12000), (7, 33, 5000), (16, 128, 8192),
                                          (2, 1, 60), (3, 1000, 20000)])
def test_streaming_nulls_against_exact_convolution(C, block, taps):
    rng = np.random.default_rng(C * 1000 + block)
    h = decaying_firs(rng, C, taps)
    n = block * (taps // block + 40)
    x = rng.standard_normal((C, n)).astype(np.float32)
    conv = ScheduledConvolver(h, block=block)
    y = stream(conv, x, [block])
    for c in range(C):
        ref = ss.oaconvolve(x[c].astype(np.float64), h[c])[:n]
        assert null_db(y[c], ref) <= -120.0, (C, block, c)
    conv.close()


def test_chunks_of_many_periods_equal_streaming_bit_for_bit():
    """The kernel loops over periods either way: mixed chunk sizes give the same samples."""
    rng = np.random.default_rng(3)
    h = decaying_firs(rng, 5, 7000)
    x = rng.standard_normal((5, 96 * 200)).astype(np.float32)
    a = stream(ScheduledConvolver(h, block=96), x, [96])
    b = stream(ScheduledConvolver(h, block=96, max_block=96 * 8), x, [96 * 3, 96, 96 * 8, 96 * 2])
    assert np.array_equal(a, b)


def test_matches_the_numpy_reference_and_places_an_impulse_exactly():
    rng = np.random.default_rng(4)
    h = decaying_firs(rng, 2, 30000)
    x = rng.standard_normal((2, 256 * 150)).astype(np.float32)
    ya = stream(ScheduledConvolver(h, block=256), x, [256])
    yb = stream(PartitionedConvolver(h, block=256), x, [256])
    for c in range(2):
        assert null_db(ya[c], yb[c].astype(np.float64)) <= -120.0
    # a unit impulse at sample 1000 returns the FIR itself from sample 1000 (no latency added)
    d = np.zeros((1, 128 * 300), np.float32)
    d[0, 1000] = 1.0
    g = np.zeros(20000)
    g[5432] = 1.0
    y = stream(ScheduledConvolver(g, block=128), d, [128])
    assert int(np.argmax(np.abs(y[0]))) == 6432 and abs(float(y[0, 6432]) - 1.0) < 1e-6
    assert float(np.max(np.abs(np.delete(y[0], 6432)))) < 1e-6      # FFT round-off elsewhere


def test_reset_restarts_from_silence():
    rng = np.random.default_rng(5)
    h = decaying_firs(rng, 3, 4000)
    x = rng.standard_normal((3, 64 * 120)).astype(np.float32)
    conv = ScheduledConvolver(h, block=64)
    first = stream(conv, x, [64])
    conv.reset()
    assert np.array_equal(stream(conv, x, [64]), first)


def modelled_period_costs(conv) -> tuple[np.ndarray, float]:
    """Modelled cost of every period of the hyper-period, read back from the task tables
    (independently of the scheduler): kind 0/2 an FFT, kind 1 a bin range of all partitions,
    kind 3 the paired pass over a bin range, kind 4 one partition; and the biggest task."""
    ilv, tasks, tptr = conv._ilv, conv._tasks, conv._tptr
    R = int((ilv[:, ck.I_R] * ilv[:, ck.I_G]).max())
    per = np.zeros(R)
    biggest = 0.0
    for li in range(ilv.shape[0]):
        M, r, F, pb, G, CH = (int(ilv[li, k]) for k in (ck.I_M, ck.I_R, ck.I_F, ck.I_PB, ck.I_G, ck.I_CH))
        K = F // 2 + 1
        for u in range(G * r):
            for ti in range(tptr[pb + u], tptr[pb + u + 1]):
                kind, arg = int(tasks[ti, 0]), int(tasks[ti, 2])
                n = min(CH, K - arg * CH)
                cost = {0: _COST_FFT * F * math.log2(F), 2: _COST_FFT * F * math.log2(F),
                        1: _COST_MAC * M * n, 3: _COST_PASS * 2 * M * n, 4: _COST_MAC * K}[kind]
                per[np.arange(R) % (G * r) == u] += cost
                biggest = max(biggest, cost)
    return per, biggest


@pytest.mark.parametrize("pair_min", [None, 128, 10 ** 9])
def test_work_is_spread_evenly_over_the_periods(pair_min):
    """The modelled cost of the busiest period is within one task of the mean (a whole 8192
    level's FFTs in one period would be 4-16x the mean), for a stereo and a 16-channel room,
    with and without the paired passes: with 2 channels a 16384-point FFT is the indivisible
    unit."""
    for C in (2, 16):
        conv = ScheduledConvolver(np.ones((C, 65536)), block=128, _pair_min=pair_min)
        per, biggest = modelled_period_costs(conv)
        assert per.max() <= per.mean() + biggest, (C, per.max() / per.mean())
        if C == 16:
            assert per.max() <= 1.25 * per.mean(), per.max() / per.mean()
        conv.close()


def test_fft_sizes_are_smooth_and_large_enough():
    for n in (2, 66, 254, 508, 2000, 2032, 16384, 20002):
        f = fft_size(n)
        assert f >= n and f < 1.25 * n + 2
        m = f
        for p in (2, 3, 5, 7):
            while m % p == 0:
                m //= p
        assert m == 1


def test_plan_leaves_each_level_its_periods_and_covers_the_filter():
    for block in (64, 127, 128, 256, 1000):
        lv = plan_scheduled(65536, block=block)
        assert lv[0] == Level(block, lv[0].n_parts, 0) and lv[-1].end >= 65536
        for x in lv[1:]:
            assert x.size % block == 0 and x.offset >= 2 * x.size - block


def test_bad_filters_and_schemes_are_refused():
    with pytest.raises(SignalError, match="NaN or Inf"):
        ScheduledConvolver(np.array([1.0, np.nan]), block=32)
    with pytest.raises(SignalError, match="n_taps >= 1"):
        ScheduledConvolver(np.zeros((1, 0)), block=32)
    with pytest.raises(ConfigError, match="block size"):
        ScheduledConvolver(np.ones(4), block=0)
    with pytest.raises(ConfigError, match="multiple of block"):
        ScheduledConvolver(np.ones(4), block=32, max_block=48)
    # a 1024 level at tap 256 cannot be spread before its deadline (needs >= 2 * 1024 - 256)
    with pytest.raises(ConfigError, match="spread before its deadline"):
        ScheduledConvolver(np.ones(2048), block=256, levels=(Level(256, 1, 0), Level(1024, 2, 256)))
    with pytest.raises(ConfigError, match="cover"):
        ScheduledConvolver(np.ones(2048), block=256, levels=(Level(256, 2, 0),))


def test_compiled_delay_line_equals_the_numpy_path_bit_for_bit(monkeypatch):
    rng = np.random.default_rng(6)
    g = np.array([1.0, -0.5, 1.7, 0.25], np.float32)
    x = rng.standard_normal((4, 64 * 30)).astype(np.float32)
    fast = DelayLine([0, 3, 100, 1000], max_block=64)
    a = np.zeros_like(x)
    for s in range(0, x.shape[1], 64):
        fast.process(x[:, s:s + 64], a[:, s:s + 64], gains=g)
    monkeypatch.setattr(kernels, "available", lambda: False)
    slow = DelayLine([0, 3, 100, 1000], max_block=64)
    b = np.zeros_like(x)
    for s in range(0, x.shape[1], 64):
        slow.process(x[:, s:s + 64], b[:, s:s + 64], gains=g)
    assert not slow._compiled and np.array_equal(a, b)


def _profile(rng, C: int, taps: int) -> CalibrationProfile:
    h = decaying_firs(rng, C, taps)
    sp = []
    for c in range(C):
        if c % 3 == 2:      # every third speaker on biquads: FIR and PEQ speakers in one chain
            sp.append(SpeakerCorrection(f"s{c}", c, trim_db=-1.5, delay_s=0.37e-3 * c,
                                        peq=(Biquad("peaking", 80.0, -4.0, 4.0),)))
        else:
            sp.append(SpeakerCorrection(f"s{c}", c, trim_db=-0.5 * c, polarity=-1 if c == 1 else 1,
                                        delay_s=0.21e-3 * c, fir={FS: h[c]}))
    return CalibrationProfile(name="scale", speakers=tuple(sp), design_fs=FS)


@pytest.mark.parametrize("C,block", [(7, 127), (16, 128)])
def test_engine_compiled_equals_engine_numpy(monkeypatch, C, block):
    """The whole engine (gains, delays, Thiran all-passes, biquads, FIRs, limiter) on the
    compiled path nulls against the numpy path; the hash and latencies are the same."""
    from monitor.engine import Engine

    rng = np.random.default_rng(C)
    prof = _profile(rng, C, 6000)
    x = (rng.standard_normal((C, block * 200)) * 0.05).astype(np.float32)

    def run() -> tuple[np.ndarray, dict]:
        eng = Engine(fs=FS, n_channels=C, block=block, fir_worker=True)
        eng.load(prof, "A")
        y = np.zeros_like(x)
        for s in range(0, x.shape[1], block):
            eng.process(x[:, s:s + block], y[:, s:s + block])
        st = eng.status()
        eng.close()
        return y, st

    ya, sa = run()
    monkeypatch.setattr(kernels, "available", lambda: False)
    yb, sb = run()
    assert sa["running_hash"] == sb["running_hash"] and sa["bulk_latency_samples"] == sb["bulk_latency_samples"]
    for c in range(C):
        assert null_db(ya[c], yb[c].astype(np.float64)) <= -120.0, c


def _fir_profile(rng, C: int, taps: int, name: str, trim_db: float) -> CalibrationProfile:
    """FIR speakers with whole-sample delays, trims, a polarity flip; the last channel has no
    speaker (pass-through): the chains the engine runs as one compiled call each."""
    h = decaying_firs(rng, C, taps)
    sp = [SpeakerCorrection(f"s{c}", c, trim_db=trim_db - 0.5 * c, polarity=-1 if c == 1 else 1,
                            delay_s=(7 * c) / FS, fir={FS: h[c]}) for c in range(C - 1)]
    return CalibrationProfile(name=name, speakers=tuple(sp), design_fs=FS)


@pytest.mark.parametrize("C,block", [(3, 64), (16, 128)])
def test_compiled_period_equals_numpy_period_through_ab_switches(monkeypatch, C, block):
    """Slots A and B (loudness-matched), bypass, A -> B -> bypass crossfades, a loud passage the
    limiter holds and NaNs: the compiled period (one call per chain, compiled limiter) nulls
    <= -120 dB against the numpy engine, and the counters agree."""
    from monitor.engine import Engine

    rng = np.random.default_rng(40 + C)
    pa = _fir_profile(rng, C, 3000, "A", 0.0)
    pb = _fir_profile(rng, C, 3000, "B", -3.0)
    x = (rng.standard_normal((C, block * 400)) * 0.05).astype(np.float32)
    x[:, block * 150:block * 170] *= 30.0          # over the ceiling: the limiter acts
    x[0, block * 10 + 3] = np.nan

    def run() -> tuple[np.ndarray, dict]:
        eng = Engine(fs=FS, n_channels=C, block=block, fade_s=0.01)
        eng.load(pa, "A")
        eng.load(pb, "B", activate=False)
        eng._running = True
        y = np.zeros_like(x)
        for k, s in enumerate(range(0, x.shape[1], block)):
            if k == 100:
                eng.post("select", "B")
            if k == 250:
                eng.post("select", "bypass")
            eng.process(x[:, s:s + block], y[:, s:s + block])
        st = eng.status()
        eng.close()
        return y, st

    ya, sa = run()
    monkeypatch.setattr(kernels, "available", lambda: False)
    yb, sb = run()
    assert sa["swaps"] == sb["swaps"] == 2
    for k in ("limited_samples", "clipped_samples", "nonfinite_samples", "jumps"):
        assert sa["limiter"][k] == sb["limiter"][k], k
    assert sa["limiter"]["limited_samples"] > 0 and sa["limiter"]["nonfinite_samples"] == 1
    for c in range(C):
        assert null_db(ya[c], yb[c].astype(np.float64)) <= -120.0, c


def test_no_compilation_happens_in_the_callback():
    """Building an engine compiles (or loads) every kernel version the callback uses: running
    blocks through the real-time callback adds no new machine code."""
    from monitor.engine import Engine
    from monitor.realtime import RealtimeProcessor

    rng = np.random.default_rng(8)
    eng = Engine(fs=FS, n_channels=3, block=64, fir_worker=True)
    eng.load(_profile(rng, 3, 3000), "A")
    from monitor import limkernels

    fns = {"conv": kernels.conv_run, "delay": kernels.delay_run, "peak": kernels.peak_run,
           "align": kernels.ring_delay_run, "chain": kernels.chain_run,
           "sanitise_peak": kernels.sanitise_peak_run, "limiter": limkernels.limiter_run,
           "sanitise": limkernels.sanitise_run}
    before = {k: len(f.signatures) for k, f in fns.items()}
    proc = RealtimeProcessor(eng, n_inputs=2, n_outputs=4)       # fewer inputs, more outputs
    y = np.zeros((64, 4), np.float32)
    for _ in range(50):
        proc.callback(rng.standard_normal((64, 2)).astype(np.float32), y, 64, 0)
    after = {k: len(f.signatures) for k, f in fns.items()}
    assert after == before and proc.errors == 0
    eng.close()


def test_without_the_compiled_engine_chains_fall_back_to_the_numpy_convolver(monkeypatch):
    from monitor.chain import make_convolver

    h = np.ones((2, 3000))
    assert isinstance(make_convolver(h, block=64, max_block=64), ScheduledConvolver)
    monkeypatch.setattr(kernels, "available", lambda: False)
    c = make_convolver(h, block=64, max_block=64, fir_worker=True)
    assert isinstance(c, PartitionedConvolver) and c.async_min == 256
    c.close()


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_compiled_biquad_cascade_equals_sosfilt_bit_for_bit():
    """kernels.sos_run runs SosCascade's sections in sosfilt's order of operations: identical
    float32 output and float64 state; an unstable section silences its channel and restarts,
    as the Python cascade does."""
    from monitor.dsp import SosCascade, k_weighting_sos, thiran_allpass

    b, a = thiran_allpass(2.37)
    unstable = np.array([[1.0, 0.0, 0.0, 1.0, -2.5, 1.0]])       # a pole outside the unit circle
    sos = [k_weighting_sos(fs=FS), ss.tf2sos(b, a), None, unstable]
    ref, fast = SosCascade(sos), SosCascade(sos)
    rng = np.random.default_rng(5)
    x = (rng.standard_normal((4, 256 * 12)) * 0.3).astype(np.float32)
    ya, yb = x.copy(), x.copy()
    for s in range(0, x.shape[1], 256):
        ref.process(ya[:, s:s + 256])
        kernels.sos_run(yb[:, s:s + 256], fast.sos_all, fast.sec_ptr, fast.zi_all)
    assert np.array_equal(ya, yb) and np.array_equal(ref.zi_all, fast.zi_all)
    # the unstable channel grows 2^n: it overflowed and was silenced for a block at least once
    assert any(np.all(ya[3, s:s + 256] == 0.0) for s in range(0, x.shape[1], 256))
    assert np.array_equal(ya[2], x[2])


def test_meter_and_input_cleaning_kernels_match_numpy():
    """peak_run / sanitise_peak_run compare bit patterns of |x| (a vectorised integer maximum):
    same peaks as numpy's |x|.max() for any level, -0.0, column slices, and rows with NaN/Inf
    (zeroed and counted by sanitise_peak_run)."""
    rng = np.random.default_rng(12)
    for trial in range(60):
        x = (rng.standard_normal((3, 300)) * rng.uniform(1e-6, 10)).astype(np.float32)
        if trial % 3 == 0:
            x[1, rng.integers(300)] = np.nan
        if trial % 5 == 0:
            x[2, rng.integers(300)] = -np.inf
        if trial % 7 == 0:
            x[0] = -0.0
        xs = x[:, :257] if trial % 2 else x
        nbad = int(np.count_nonzero(~np.isfinite(xs)))
        clean = np.where(np.isfinite(xs), xs, 0).astype(np.float32)
        peak = np.zeros(3, np.float32)
        assert kernels.sanitise_peak_run(xs, peak) == nbad
        assert np.array_equal(xs, clean) and np.array_equal(peak, np.abs(clean).max(axis=1))
        q = np.zeros(3, np.float32)
        kernels.peak_run(clean, q)
        assert np.array_equal(q, np.abs(clean).max(axis=1))



# the paired pass over the filter spectra (monitor/conv_kernels.py, G = 2): forced on for every
# level with >= 3 partitions, odd blocks and odd channel counts (channels alternate the parity
# of their pass block, so an odd count leaves one window with more passes)
@pytest.mark.parametrize("C,block,taps", [(1, 37, 6000), (3, 127, 20000), (5, 64, 9000)])
def test_paired_passes_null_against_exact_convolution(C, block, taps):
    rng = np.random.default_rng(C * 77 + block)
    h = decaying_firs(rng, C, taps)
    n = block * (taps // block + 60)
    x = rng.standard_normal((C, n)).astype(np.float32)
    paired = ScheduledConvolver(h, block=block, max_block=4 * block, _pair_min=1)
    single = ScheduledConvolver(h, block=block, max_block=4 * block, _pair_min=10 ** 9)
    assert set(paired._ilv[:, ck.I_G]) == {2} and set(single._ilv[:, ck.I_G]) == {1}
    yp = stream(paired, x, [block, 4 * block, 2 * block])
    ys = stream(single, x, [block])
    for c in range(C):
        ref = ss.oaconvolve(x[c].astype(np.float64), h[c])[:n]
        assert null_db(yp[c], ref) <= -120.0, (C, block, c)
        assert null_db(ys[c], ref) <= -120.0, (C, block, c)
    paired.reset()
    assert np.array_equal(stream(paired, x, [block]), yp)      # reset: the pass slots restart too
