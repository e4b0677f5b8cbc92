"""The real-time callback's general path (taken when the host flags an xrun) is compiled and loaded
before audio starts: in a live 16-channel run its first call loaded kernels from numba's cache
inside the callback (~35 ms of the audio thread's CPU), an overload and an xrun at the first
host xrun of every run (issue 15: no overload caused by processing)."""

import subprocess
import sys
from pathlib import Path

import pytest

from monitor import period_kernel

ROOT = Path(__file__).resolve().parent.parent

SCRIPT = r"""
import time, numpy as np
from calib.profile import CalibrationProfile, SpeakerCorrection
from monitor import period_kernel
from monitor.engine import Engine
from monitor.realtime import RealtimeProcessor
h = np.zeros(4096); h[0] = 1.0
prof = CalibrationProfile(name="t", speakers=tuple(SpeakerCorrection(f"s{i}", i, fir={48000: h})
                                                   for i in range(3)), design_fs=48000)
eng = Engine(fs=48000, n_channels=3, block=128)
eng.load(prof, "A")
loaded = len(period_kernel.host_period.signatures)
proc = RealtimeProcessor(eng, n_inputs=3, n_outputs=3)
ind = np.random.default_rng(0).standard_normal((128, 3)).astype(np.float32) * 0.1
out = np.zeros((128, 3), np.float32)
for i in range(20):
    proc.callback(ind, out, 128, 0)
best = []
for flag in (1, 1):
    c = time.thread_time()
    proc.callback(ind, out, 128, flag)
    best.append(time.thread_time() - c)
print(loaded, best[0], best[1])
"""


@pytest.mark.skipif(not period_kernel.available(), reason="numba engine not available")
def test_first_xrun_flag_runs_without_loading_kernels():
    r = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    loaded, first_s, second_s = r.stdout.split()[-3:]
    # the general path's kernel has a compiled signature before any audio
    assert int(loaded) >= 1
    # and its first call costs what a later one does, not a load from the cache (35 ms before);
    # 8 ms leaves room for a loaded machine (the call itself is ~0.03 ms)
    assert float(first_s) < 0.008, (first_s, second_s)
