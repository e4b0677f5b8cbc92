"""The one-call steady period (monitor/period_kernel.py, monitor/period_plan.py) against the
stage-by-stage engine: the same output bit for bit, through every kind of transition."""

from __future__ import annotations

import numpy as np
import pytest

from calib.profile import Biquad, CalibrationProfile, SpeakerCorrection
from monitor import kernels
from monitor import period_kernel as pk

pytestmark = pytest.mark.skipif(not pk.available(), reason=f"compiled engine off: {kernels.why_unavailable()}")

FS = 48_000


def _profile(rng, C: int, taps: int, name: str, peak_tap: int, trim_db: float) -> CalibrationProfile:
    """FIR speakers on channels 0..C-3 (main peak at ``peak_tap``: the bulk latency, so two
    such profiles need alignment padding), a PEQ speaker on C-2, no speaker on C-1."""
    sp = []
    for c in range(C - 2):
        h = rng.standard_normal(taps) * np.exp(-np.arange(taps) / (taps / 6)) * 0.05
        h[peak_tap + 3 * c] += 0.9
        sp.append(SpeakerCorrection(f"s{c}", c, trim_db=trim_db - 0.7 * c, polarity=-1 if c == 1 else 1,
                                    delay_s=(5 * c + 0.3) / FS, fir={FS: h}))
    sp.append(SpeakerCorrection("peq", C - 2, trim_db=trim_db,
                                peq=(Biquad("peaking", 90.0, -5.0, 3.0), Biquad("highshelf", 6000.0, 2.0))))
    return CalibrationProfile(name=name, speakers=tuple(sp), design_fs=FS)


def _signal(rng, C: int, n_blocks: int, block: int) -> np.ndarray:
    x = (rng.standard_normal((C, n_blocks * block)) * 0.05).astype(np.float32)
    x[:, block * 60:block * 75] *= 40.0                 # far over the ceiling: the limiter acts
    x[1, block * 20 + 5] = np.nan                       # cleaned and counted
    x[0, block * 21 + 7] = np.inf
    return x


def _run(C: int, block: int, x: np.ndarray, profiles, *, one_call: bool, monkeypatch) -> tuple:
    """Engine through select B, select bypass, a reload of A on the air, select A."""
    from monitor import engine as engine_mod
    from monitor.engine import Engine

    if not one_call:
        monkeypatch.setattr(engine_mod, "_make_plan", lambda eng: None)
    eng = Engine(fs=FS, n_channels=C, block=block, fade_s=0.004)
    eng.load(profiles[0], "A")
    eng.load(profiles[1], "B", activate=False)
    eng._running = True
    y = np.zeros_like(x)
    steady = 0
    for k, s in enumerate(range(0, x.shape[1], block)):
        if k == 30:
            eng.post("select", "B")
        elif k == 90:
            eng.post("select", "bypass")
        elif k == 120:
            eng.post("install_activate", "A", eng.build(profiles[2]))
        elif k == 230:
            eng.post("select", "A")
        eng.process(x[:, s:s + block], y[:, s:s + block])
        if eng.in_transition or eng._mailbox is not None:
            assert eng._plan is None            # never a table across a change of state
        steady += eng._plan is not None
        eng.collect()
    st = eng.status()
    eng.close()
    monkeypatch.undo()
    return y, st, steady


@pytest.mark.parametrize("C,block,taps", [(5, 96, 2500), (16, 128, 3000)])
def test_one_call_period_equals_stage_by_stage_bit_for_bit(monkeypatch, C, block, taps):
    rng = np.random.default_rng(C + block)
    profiles = [_profile(rng, C, taps, "A", 10, 0.0), _profile(rng, C, taps, "B", 70, -3.0),
                _profile(rng, C, taps, "A2", 25, -1.0)]
    n_blocks = 300
    x = _signal(rng, C, n_blocks, block)
    ya, sa, steady = _run(C, block, x, profiles, one_call=True, monkeypatch=monkeypatch)
    yb, sb, none = _run(C, block, x, profiles, one_call=False, monkeypatch=monkeypatch)
    assert none == 0 and steady > n_blocks // 2           # most periods ran as one call
    assert sa["swaps"] == sb["swaps"] >= 3
    assert sa["limiter"] == sb["limiter"] and sa["limiter"]["limited_samples"] > 0
    assert sa["limiter"]["nonfinite_samples"] == 2
    assert sa["slots"]["A"]["align_samples"] == sb["slots"]["A"]["align_samples"] > 0
    np.testing.assert_array_equal(ya, yb)
    assert np.abs(ya).max() > 0.1


def test_host_period_equals_the_staged_callback(monkeypatch):
    """The callback's one-call period (host layout in and out, fewer inputs than channels,
    more outputs, column slices of wider host buffers) equals the staged callback."""
    from monitor import engine as engine_mod
    from monitor.engine import Engine
    from monitor.realtime import RealtimeProcessor

    rng = np.random.default_rng(3)
    C, block = 4, 64
    prof = _profile(rng, C, 1500, "A", 12, 0.0)
    xin = (rng.standard_normal((block * 120, C + 1)) * 0.1).astype(np.float32)   # a 5-channel host
    outs = []
    for one_call in (True, False):
        if not one_call:
            monkeypatch.setattr(engine_mod, "_make_plan", lambda eng: None)
        eng = Engine(fs=FS, n_channels=C, block=block)
        eng.load(prof, "A")
        proc = RealtimeProcessor(eng, n_inputs=C - 1, n_outputs=C + 2)
        wide = np.full((block, C + 4), 7.0, np.float32)
        y = np.zeros((block * 120, C + 2), np.float32)
        for b in range(120):
            ind = xin[b * block:(b + 1) * block, :C - 1]          # column slice of the host block
            out = wide[:, :C + 2]
            proc.callback(ind, out, block, 0)
            y[b * block:(b + 1) * block] = out
        assert proc.errors == 0 and proc.callbacks == 120
        assert (eng._plan is not None) == one_call
        eng.close()
        outs.append(y)
        monkeypatch.undo()
    np.testing.assert_array_equal(outs[0], outs[1])
    assert not outs[0][:, C:].any() and np.abs(outs[0][:, :C - 2]).max() > 0.01


def test_one_call_period_compiles_nothing_in_the_callback():
    from monitor.engine import Engine
    from monitor.realtime import RealtimeProcessor

    rng = np.random.default_rng(9)
    eng = Engine(fs=FS, n_channels=3, block=32)
    eng.load(_profile(rng, 3, 800, "A", 4, 0.0), "A")
    before = (len(pk.engine_period.signatures), len(pk.host_period.signatures))
    proc = RealtimeProcessor(eng, n_inputs=3, n_outputs=3)
    y = np.zeros((32, 3), np.float32)
    for _ in range(40):
        proc.callback(rng.standard_normal((32, 3)).astype(np.float32), y, 32, 0)
    x = np.zeros((3, 32), np.float32)
    eng.process(x, np.zeros((3, 32), np.float32))
    assert (len(pk.engine_period.signatures), len(pk.host_period.signatures)) == before
    assert eng._plan is not None and proc.errors == 0
    eng.close()


def test_cache_of_a_caller_follows_the_modules_it_calls(tmp_path):
    """The numba cache stamp of a module registered with period_cache.depend_on changes when a
    module it calls changes (a stale copy of the callee is never loaded)."""
    from monitor.period_cache import depend_on
    from numba.core import caching

    caller, callee = tmp_path / "caller.py", tmp_path / "callee.py"
    caller.write_text("def f(x):\n    return x\n")
    callee.write_text("A = 1\n")
    ns: dict = {}
    exec(compile(caller.read_text(), str(caller), "exec"), ns)
    assert depend_on(str(caller), [str(callee)])
    impl = getattr(caching, "CacheImpl", None) or getattr(caching, "_CacheImpl")
    loc = next(c.from_function(ns["f"], str(caller)) for c in impl._locator_classes
               if c.from_function(ns["f"], str(caller)) is not None)
    assert type(loc).__name__.startswith("Dependent")
    s1 = loc.get_source_stamp()
    callee.write_text("A = 2  # changed\n")
    assert loc.get_source_stamp() != s1
    other = tmp_path / "other.py"
    other.write_text("def g(x):\n    return x\n")
    exec(compile(other.read_text(), str(other), "exec"), ns)
    assert all(c.from_function(ns["g"], str(other)) is None for c in impl._locator_classes
               if c.__name__.startswith("Dependent"))
