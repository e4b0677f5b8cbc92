"""The real-time callback's bookkeeping inside the compiled period (monitor.rt_account,
monitor.period_kernel.rt_period): the fast path is taken in the steady state and counts
exactly as the general path does."""

from __future__ import annotations

import time

import numpy as np
import pytest

from calib.profile import CalibrationProfile, SpeakerCorrection
from monitor import period_kernel as pk
from monitor import rt_account as ra
from monitor.engine import Engine
from monitor.realtime import RealtimeProcessor

pytestmark = pytest.mark.skipif(not (pk.available() and ra.compiled()), reason="compiled engine not available")


def _engine(C=3, block=64):
    rng = np.random.default_rng(5)
    h = rng.standard_normal((C, 300)) * np.exp(-np.arange(300) / 40.0)
    prof = CalibrationProfile(name="p", design_fs=48000, speakers=tuple(
        SpeakerCorrection(f"s{c}", c, fir={48000: h[c]}) for c in range(C)))
    eng = Engine(fs=48000, n_channels=C, block=block, max_block=2 * block, limiter={"ceiling_dbfs": -1.0})
    eng.load(prof, "A")
    return eng


def test_clock_matches_python_clocks():
    # the compiled clock reads the same clocks as time.perf_counter / thread_time / process_time
    acc = ra.new_state(fs=48000, block=64, overload_threshold=0.8, blame_window=2)
    fn = int(acc.view(np.int64)[0])
    assert fn != 0
    for clk, py in ((ra.CLOCK_MONO, time.perf_counter), (ra.CLOCK_PROCESS, time.process_time)):
        a = py()
        b = time.clock_gettime_ns(clk) / 1e9
        c = py()
        assert a <= b <= c + 1e-6        # monotone clocks of the same source (1 us slack: float rounding)


def test_steady_callbacks_run_in_one_call_and_count_like_the_general_path():
    eng = _engine()
    n_per = 200
    # a threshold no period reaches on a stalled shared machine, except the one forced below
    proc = RealtimeProcessor(eng, n_inputs=3, n_outputs=4, trace_periods=n_per, overload_threshold=1e9)
    rng = np.random.default_rng(2)
    x = (rng.standard_normal((n_per * 64, 3)) * 0.1).astype(np.float32)
    y = np.zeros((64, 4), np.float32)
    staged = []
    orig = eng.process_host

    def spy(*a):                        # the general path calls process_host; the fast path does not
        staged.append(1)
        return orig(*a)

    eng.process_host = spy
    for b in range(n_per):
        proc.callback(x[b * 64:(b + 1) * 64], y, 64, 0)
    assert proc.callbacks == n_per and proc.errors == 0
    assert 0 < len(staged) < 5          # the first periods (warming), then the compiled call only
    loads, cpus = proc.trace()
    assert np.all(loads > 0) and np.all(loads < 1e4)
    assert cpus[0] == 0.0 and np.all(cpus[1:] > 0)
    # the smoothed load is the exponential average of the traced loads (alpha 0.05)
    sm = 0.0
    for v in loads:
        sm += 0.05 * (v - sm)
    assert proc.load == pytest.approx(sm, rel=1e-12)
    assert proc.load_max == pytest.approx(loads.max(), rel=0)
    assert proc.last_load == loads[-1] and proc.last_cpu_load == cpus[-1]
    # a forced overload on the fast path: counted, event logged with its callback index,
    # thread CPU read (exact cpu_load_max / cpu_overloads), blame of the next xrun
    proc.overload_threshold = -1.0
    proc.callback(x[:64], y, 64, 0)
    proc.overload_threshold = 1e9
    assert len(staged) < 5
    ev = [e for e in proc.drain_events() if e[0] == "overload"]
    assert ev == [("overload", n_per + 1, pytest.approx(proc.last_load))]
    assert proc.overloads == 1 and proc.cpu_overloads == 1 and proc.cpu_load_max > 0
    proc.callback(x[:64], y, 64, 2)      # an xrun right after: processing's
    st = proc.stats()
    assert (st["xruns"], st["xruns_processing"], st["xruns_host"]) == (1, 1, 0)
    assert st["process_cpu_s_streaming"] is not None and st["process_cpu_s_streaming"] > 0
    # odd frames on the fast path's entry: the general path counts a bad block
    proc.callback(x[:50], y, 50, 0)
    assert proc.bad_frames == 1 and proc.callbacks == n_per + 3
    eng.close()


def test_fast_path_output_equals_the_staged_callback_bit_for_bit():
    rng = np.random.default_rng(9)
    x = (rng.standard_normal((150 * 64, 3)) * 0.3).astype(np.float32)
    x[5000:5003] = 40.0                  # the limiter works too
    outs = []
    for fast in (True, False):
        eng = _engine()
        proc = RealtimeProcessor(eng, n_inputs=3, n_outputs=3)
        if not fast:
            proc._rt = None              # the general path (process_host) every period
        y = np.zeros((150 * 64, 3), np.float32)
        for b in range(150):
            proc.callback(x[b * 64:(b + 1) * 64], y[b * 64:(b + 1) * 64], 64, 0)
        outs.append(y)
        eng.close()
    assert np.array_equal(outs[0], outs[1])
    assert np.abs(outs[0]).max() <= 10 ** (-1 / 20) + 1e-6
