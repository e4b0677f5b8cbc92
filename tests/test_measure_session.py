"""The measurement session: safe levels, refused faulty captures, repeats, and the result
against the simulated room's truth."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from calib.errors import MeasurementError
from calib.quality import capture_snr_db, find_runs, inspect_capture
from calib.types import ImpulseResponse, SweepSpec
from hardware.backend import CaptureResult
from hardware.session import measure
from hardware.simulated import SimulatedRoom, default_room

FS = 48000
SPEC = SweepSpec(duration_s=2.0, tail_s=1.2)      # full stimulus 3.7 s; the probe's is < 2.5 s


class Wrapped:
    """Wraps a backend, records every stimulus peak, and damages full-length captures."""

    def __init__(self, inner, fault=None, n_faults=10**9):
        self.inner, self.fault, self.n_faults = inner, fault, n_faults
        self.name = "wrapped " + inner.name
        self.peaks_dbfs: list[float] = []
        self.faults_done = 0

    def play_record(self, stimulus, *, fs, output_channels, input_channels):
        self.peaks_dbfs.append(20 * np.log10(np.max(np.abs(stimulus))))
        res = self.inner.play_record(stimulus, fs=fs, output_channels=output_channels, input_channels=input_channels)
        if self.fault is None or stimulus.shape[1] < 3 * fs or self.faults_done >= self.n_faults:
            return res
        self.faults_done += 1
        rec = np.array(res.recording)
        flags, lost = (), False
        mid = int(1.5 * fs)
        if self.fault == "dropout":
            rec[:, mid:mid + 256] = 0.0
        elif self.fault == "held":
            rec[:, mid:mid + 200] = rec[0, mid]
        elif self.fault == "repeat":
            rec[:, mid + 256:mid + 512] = rec[:, mid:mid + 256]
        elif self.fault == "overflow":
            flags, lost = ("input_overflow",), True
        return dataclasses.replace(res, recording=rec, status_flags=flags, lost_samples=lost)

    def close(self):
        pass


def test_measurement_matches_truth_and_records_provenance():
    m, ir = measure(SimulatedRoom(), sweep=SPEC, speakers=[("L", 0), ("R", 1)], mic_input=0, loopback_input=1)
    truth = default_room(FS)
    got = np.array(ir.arrival_samples) - ir.onset_samples
    np.testing.assert_allclose(got, truth.arrival_samples, atol=0.05)   # exact after latency removal
    assert ir.latency_samples == pytest.approx(512, abs=0.05)
    assert m.meta["speakers"] == {"L": 1, "R": 2} and m.meta["mic_input"] == 1 and m.meta["loopback_input"] == 2
    assert m.meta["probe"]["probe_level_dbfs"] == pytest.approx(SPEC.level_dbfs - 30)
    assert m.reference is not None and m.recording.shape == m.reference.shape
    assert min(ir.snr_db) > 90      # -80 dBFS noise, -12 dBFS sweep: ~100 dB peak-to-noise


def test_never_plays_above_max_level_and_probes_first():
    be = Wrapped(SimulatedRoom())
    spec = dataclasses.replace(SPEC, level_dbfs=-3.0)
    m, _ = measure(be, sweep=spec, speakers=[("L", 0)], mic_input=0, loopback_input=1, max_level_dbfs=-10.0)
    assert max(be.peaks_dbfs) <= -10.0 + 1e-6
    assert be.peaks_dbfs[0] <= -10.0 - 30 + 1e-6           # the first thing played is the quiet check
    assert m.meta["level_dbfs"] <= -10.0


def test_level_raised_only_as_needed_for_snr():
    # noisy room: at -30 dBFS the sweep would be ~25 dB above the noise, 30 + 6 dB is wanted
    room = SimulatedRoom(noise_db=-60.0)
    spec = dataclasses.replace(SPEC, level_dbfs=-30.0)
    m, _ = measure(room, sweep=spec, speakers=[("L", 0)], mic_input=0, loopback_input=1, max_level_dbfs=-6.0)
    lv = m.meta["level_dbfs"]
    assert -30.0 < lv <= -6.0
    snr = m.meta["capture"]["L"]["snr_db"]
    # raised to reach min + margin (36 dB) within the prediction's accuracy (2 dB)
    assert snr == pytest.approx(36.0, abs=2.0)


def test_hot_input_lowers_the_level_to_keep_headroom():
    room = SimulatedRoom(input_gain_db=12.0)
    m, _ = measure(room, sweep=SPEC, speakers=[("L", 0)], mic_input=0, loopback_input=1)
    assert m.meta["level_dbfs"] < SPEC.level_dbfs
    # capture peak lands near -6 dBFS (prediction from a 1 s probe sweep: within 1.5 dB)
    assert m.meta["capture"]["L"]["peak_dbfs"] == pytest.approx(-6.0, abs=1.5)


@pytest.mark.parametrize("fault,match", [
    ("dropout", "has a dropout: 256 samples of digital silence"),
    ("held", "holds the same sample value 200 times"),
    ("repeat", "repeats a block of 256 samples at 1.5"),
    ("overflow", "input_overflow"),
])
def test_faulty_captures_are_refused(fault, match):
    be = Wrapped(SimulatedRoom(), fault)
    with pytest.raises(MeasurementError, match=match):
        measure(be, sweep=SPEC, speakers=[("L", 0)], mic_input=0, loopback_input=1, retries=1)
    assert be.faults_done == 2       # tried once more, then refused


def test_a_lost_capture_is_retried_not_averaged_in():
    be = Wrapped(SimulatedRoom(), "dropout", n_faults=1)
    m, ir = measure(be, sweep=SPEC, speakers=[("L", 0)], mic_input=0, loopback_input=1, repeats=2)
    assert be.faults_done == 1
    assert not find_runs(m.recording[0] == 0.0, 32)      # the damaged capture was not averaged in
    assert ir.snr_db[0] > 90


def test_clipped_capture_is_refused_with_advice():
    with pytest.raises(MeasurementError, match="clips.*lower the mic input gain by at least 6 dB"):
        measure(SimulatedRoom(input_gain_db=30.0), sweep=SPEC, speakers=[("L", 0)], mic_input=0, probe=False)
    with pytest.raises(MeasurementError, match="clips already during the quiet level check"):
        measure(SimulatedRoom(input_gain_db=50.0), sweep=SPEC, speakers=[("L", 0)], mic_input=0)


def test_ten_db_snr_capture_is_refused():
    # -12 dBFS sweep through the default room (2 s sweep) is ~63.5 dB above -80 dBFS noise:
    # -26.5 dBFS noise -> ~10 dB
    room = SimulatedRoom(noise_db=-26.5)
    with pytest.raises(MeasurementError, match=r"only (9|10|11)\.\d dB above the background noise, 30 dB is needed"):
        measure(room, sweep=SPEC, speakers=[("L", 0)], mic_input=0, probe=False)
    with pytest.raises(MeasurementError, match="would be only .* dB above the background noise"):
        measure(SimulatedRoom(noise_db=-25.0), sweep=SPEC, speakers=[("L", 0)], mic_input=0, max_level_dbfs=-12.0)


def test_repeats_average_and_improve_snr():
    one = measure(SimulatedRoom(noise_db=-50, seed=1), sweep=SPEC, speakers=[("L", 0)], mic_input=0,
                  loopback_input=1, probe=False)[1]
    four = measure(SimulatedRoom(noise_db=-50, seed=1), sweep=SPEC, speakers=[("L", 0)], mic_input=0,
                   loopback_input=1, repeats=4, probe=False)[1]
    # 4 averages: +6.0 dB of peak-to-noise (noise estimates scatter ~0.5 dB)
    assert four.snr_db[0] - one.snr_db[0] == pytest.approx(6.0, abs=1.0)


def test_bad_arguments():
    room = SimulatedRoom()
    with pytest.raises(MeasurementError, match="no speakers"):
        measure(room, sweep=SPEC, speakers=[], mic_input=0)
    with pytest.raises(MeasurementError, match="unique"):
        measure(room, sweep=SPEC, speakers=[("L", 0), ("L", 1)], mic_input=0)
    with pytest.raises(MeasurementError, match="repeats"):
        measure(room, sweep=SPEC, speakers=[("L", 0)], mic_input=0, repeats=0)


def test_quality_checks_directly():
    fs = FS
    x = np.zeros(fs)
    x[fs // 4:] = 0.1 * np.sin(np.arange(3 * fs // 4) * 0.05)
    rep = inspect_capture(x, fs=fs, sweep_start=fs // 8, min_snr_db=None)
    assert rep.ok and rep.n_clipped == 0 and rep.snr_db == float("inf")   # digital silence before
    x2 = x.copy()
    x2[30000:30040] = 0.0
    assert inspect_capture(x2, fs=fs, sweep_start=fs // 8).dropouts == ((30000 / fs, 40),)
    noisy = x + np.random.default_rng(0).standard_normal(fs) * 0.001
    # sine RMS 0.0707 over noise RMS 0.001: 37.0 dB (within 0.3 dB of estimation scatter)
    assert capture_snr_db(noisy, fs=fs, sweep_start=fs // 8) == pytest.approx(36.99, abs=0.3)
    assert find_runs(np.array([0, 1, 1, 1, 0, 1], bool), 2) == [(1, 3)]


def test_probe_finds_a_dead_loopback_and_a_deaf_mic():
    silent = ImpulseResponse(samples=np.zeros(100), fs=FS, channel_names=("X",))
    with pytest.raises(MeasurementError, match="the mic does not hear output 1"):
        measure(SimulatedRoom(silent), sweep=SPEC, speakers=[("X", 0)], mic_input=0)

    class NoLoop(Wrapped):
        def play_record(self, stimulus, *, fs, output_channels, input_channels):
            res = super().play_record(stimulus, fs=fs, output_channels=output_channels, input_channels=input_channels)
            rec = np.array(res.recording)
            rec[1:] = 0.0
            return dataclasses.replace(res, recording=rec)

    with pytest.raises(MeasurementError, match="loopback input 2 does not carry the sweep"):
        measure(NoLoop(SimulatedRoom()), sweep=SPEC, speakers=[("L", 0)], mic_input=0, loopback_input=1)


def test_the_level_check_is_retried_after_an_xrun():
    class FirstXrun(Wrapped):
        def play_record(self, stimulus, *, fs, output_channels, input_channels):
            res = self.inner.play_record(stimulus, fs=fs, output_channels=output_channels, input_channels=input_channels)
            self.faults_done += 1
            if self.faults_done == 1:
                return dataclasses.replace(res, status_flags=("input_overflow",), lost_samples=True)
            return res

    be = FirstXrun(SimulatedRoom())
    m, _ir = measure(be, sweep=SPEC, speakers=[("L", 0)], mic_input=0, loopback_input=1)
    assert be.faults_done == 3          # probe (lost), probe again, the sweep
    assert m.meta["probe"]["probe_level_dbfs"] == pytest.approx(-42.0)


def test_silent_capture_is_named_as_such():
    rep = inspect_capture(np.zeros(FS), fs=FS, sweep_start=FS // 4)
    assert not rep.ok and "digital silence: nothing reached the input" in rep.problems[0]
