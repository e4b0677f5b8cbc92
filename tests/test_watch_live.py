"""The watch in `monitor run`: the callback tap and shared ring (no audio), and a short run on the
JACK virtual room whose status file carries the watch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import watch_synth as W
from monitor.watch_live import WatchRing, WatchTap, WatchWorker, view_line

ROOT = Path(__file__).resolve().parent.parent


class _Recorder:
    """Stands in for monitor.watch.Watch: keeps what it was given."""

    fs = 1000
    n_in = 0
    delay = None
    notes: list = []
    events: list = []
    current: dict = {}

    def __init__(self):
        self.x, self.y = [], []

    def push(self, x, y):
        self.x.append(x)
        self.y.append(y)
        self.n_in += y.size
        return []

    def speaker_lines(self):
        return {"L": "listening", "R": "listening"}

    def verdict(self):
        return "pass"

    def summary(self):
        return "not judged yet"


def _engine_cb(indata, outdata, frames, status):
    outdata[:frames, 0] = 2.0 * indata[:frames, 0]
    outdata[:frames, 1] = -indata[:frames, 1]


def test_tap_copies_mic_and_outputs_through_the_ring_in_order():
    ring = WatchRing.create(3, 1000)              # mic + 2 speakers, 1000 samples: blocks wrap around
    try:
        tap = WatchTap(_engine_cb, ring, mic_input=2, outputs=(0, 1))
        rec = _Recorder()
        worker = WatchWorker(ring, rec)
        rng = np.random.default_rng(0)
        ins = []
        for k in range(13):                       # 13 x 96 = 1248 samples, read twice on the way
            ind = rng.standard_normal((96, 3)).astype(np.float32)
            out = np.zeros((96, 2), np.float32)
            tap.callback(ind, out, 96, 0)
            ins.append(ind)
            if k in (5, 12):
                worker.step()
        assert tap.errors == 0 and worker.skipped_samples == 0
        x = np.concatenate(rec.x, axis=1)
        y = np.concatenate(rec.y)
        allin = np.concatenate(ins)
        np.testing.assert_array_equal(y, allin[:, 2])           # the mic column, bit for bit
        np.testing.assert_array_equal(x[0], 2.0 * allin[:, 0])   # what the engine wrote out
        np.testing.assert_array_equal(x[1], -allin[:, 1])
        # a reader that fell behind by more than the ring skips, says so, and stays in order
        for _ in range(30):
            tap.callback(np.ones((96, 3), np.float32), np.zeros((96, 2), np.float32), 96, 0)
        worker.step()
        assert worker.skipped_samples > 0
        # an engine that raises is the engine's business; a tap with a bad column counts an error
        bad = WatchTap(_engine_cb, ring, mic_input=7, outputs=(0, 1))
        bad.callback(np.zeros((96, 3), np.float32), np.zeros((96, 2), np.float32), 96, 0)
        assert bad.errors == 1
    finally:
        ring.close()


def test_view_line_says_ok_and_drift_with_the_time():
    t = time.mktime((2026, 12, 7, 11, 42, 0, 0, 0, -1))
    st = {"state": "watching", "speakers": {"L": "drift L +1.1 dB at 125 Hz", "R": "OK"}, "since_unix": {"L": t}}
    assert view_line(st) == "watching: drift L +1.1 dB at 125 Hz since 11:42, R OK"
    assert view_line({"state": "acquiring", "programme_s": 3.0}).startswith("watching: listening")


def test_monitor_run_watch_mic_errors(tmp_path, run_cli):
    from calib.profile import CalibrationProfile, SpeakerCorrection

    CalibrationProfile(name="nobase", speakers=(SpeakerCorrection("L", 0),), design_fs=48_000).save(tmp_path / "p")
    code, _, err = run_cli("monitor", "run", tmp_path / "p", "--watch-mic", "3", "--duration", "1")
    assert code == 2 and "holds no baseline measurement to watch against" in err
    code, _, err = run_cli("monitor", "run", tmp_path / "p", "--confirm-with-sweep", "--duration", "1")
    assert code == 2 and "--confirm-with-sweep needs a watch mic" in err


def test_live_path_end_to_end_judges_a_drift(tmp_path):
    """The live data path without hardware: the real-time engine block by block, the tap in its
    callback, the ring, the worker and the watch in live mode (latency and mic gain unknown),
    a history.  The mic is the room's answer to what the engine played (2 blocks + 37 samples of
    interface latency, +3 dB of mic gain); L gets 1.5 dB louder at 30 s."""
    from mixes.songs import make_song
    from monitor.engine import Engine
    from monitor.history import History
    from monitor.realtime import RealtimeProcessor
    from monitor.verify_parts import apply_drifts, parse_drift
    from monitor.watch_live import WatchTap
    from monitor.watch_rehearsal import simulate_mic
    from roomtruth.watch_run import LiveWatch

    fs, B = 16_000, 512
    room = W.stereo_room(fs=fs, rt60_s=0.25, seed=3)
    prof = W.profile_for(room, fs=fs)
    prog = make_song(7, duration_s=90.0, fs=fs).mix().astype(np.float32)
    n = prog.shape[1] // B * B

    def engine_pass(callback_of):
        eng = Engine(fs=fs, n_channels=2, block=B)
        eng.load(prof, "A")
        proc = RealtimeProcessor(eng, n_inputs=2, n_outputs=2)
        return eng, callback_of(proc)

    # pass 1: what the engine plays (deterministic), then the room's answer to it
    eng, cb = engine_pass(lambda proc: proc.callback)
    played = np.zeros((n, 2), np.float32)
    for s in range(0, n, B):
        cb(np.ascontiguousarray(prog[:, s:s + B].T), played[s:s + B], B, 0)
    eng.close()
    drifted = apply_drifts(room, ["L", "R"], [parse_drift("level:L:+1.5")], fs=fs)
    mic = simulate_mic(played.T.astype(np.float64), room, fs=fs, drifted=drifted, drift_at_s=30.0, noise_dbfs=-60.0)
    lat = 2 * B + 37
    mic = 10 ** (3 / 20) * np.concatenate([np.zeros(lat), mic[:-lat]])

    # pass 2: the same engine in a callback wrapped by the tap; the mic on input 3
    lw = LiveWatch(prof, fs=fs, watch_mic=3, history_db=tmp_path / "history.sqlite")
    try:
        f = lw.spec_fields()
        assert f["watch_mic"] == 2 and f["watch_outputs"] == (0, 1)
        eng, cb = engine_pass(lambda proc: WatchTap(proc.callback, lw.ring, mic_input=2, outputs=(0, 1)).callback)
        out = np.zeros((n, 2), np.float32)
        ind = np.zeros((n, 3), np.float32)
        ind[:, :2] = prog[:, :n].T
        ind[:, 2] = mic[:n]
        for k, s in enumerate(range(0, n, B)):
            cb(ind[s:s + B], out[s:s + B], B, 0)
            if k % 16 == 15:                                         # the worker looks every ~0.5 s
                lw.worker.step()
        eng.close()
        np.testing.assert_array_equal(out, played)                   # the tap changes nothing that plays
    finally:
        final = lw.stop()
    res = final["result"]
    fails = [e for e in res["events"] if e["verdict"] == "fail"]
    assert fails and {e["speaker"] for e in fails} == {"L"}, res["events"]
    assert 30.0 < fails[0]["time_s"] <= 90.0 and fails[0]["check"] == "level"
    assert res["meta"]["gain_offset_db"] == pytest.approx(3.0, abs=0.15)
    assert res["meta"]["latency_samples"] == pytest.approx(lat, abs=0.5)
    assert final["speakers"]["L"].startswith("drift L +1.") and final["speakers"]["R"] == "OK"
    assert final["skipped_samples"] == 0
    with History(tmp_path / "history.sqlite", readonly=True) as h:
        rows = h.verifications()
    assert rows and rows[0].meta["source"] == "programme" and rows[0].verdict == "fail"


# The live watch on the JACK virtual room, with programme flowing into monitor run's inputs and
# the room's mic on the watch-mic input: tests/test_watch_rig.py.
