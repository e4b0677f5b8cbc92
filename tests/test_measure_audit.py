"""Acceptance audit (issues 2-4): data that is not an impulse response, given where one is
expected, is refused with one line and exit 2, and no output is left behind."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from conftest import shared_data

from calib.errors import SignalError
from calib.quality import MIN_IR_CREST_DB, check_impulse_response
from calib.sweep import build_stimulus, generate_sweep
from calib.types import SweepSpec

FS = 48000


def _one_error_line(code, err):
    assert code == 2
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    return lines[0]


@pytest.fixture
def noise_wav(tmp_path):
    p = tmp_path / "noise.wav"
    sf.write(p, np.random.default_rng(1).standard_normal((FS, 2)) * 0.1, FS, subtype="PCM_16")
    return p


@pytest.fixture
def sweep_recording(tmp_path):
    """A sweep as recorded (what a new user might pass instead of the IR)."""
    p = tmp_path / "recording.wav"
    sf.write(p, 0.5 * build_stimulus(SweepSpec(duration_s=1.0, tail_s=0.5)), FS, subtype="FLOAT")
    return p


def test_real_impulse_responses_pass_the_crest_check():
    # the figures quoted beside MIN_IR_CREST_DB: every real IR stands well above it
    for parts in (("spatialaudio-exercises", "rir_clap.wav"), ("openair", "living_room_1.wav")):
        x, _ = sf.read(shared_data(*parts), always_2d=True)
        check_impulse_response(x.T, what=parts[-1])
    rs = np.fromfile(shared_data("drc-fir", "rs.pcm"), "<f4")
    check_impulse_response(rs, what="rs.pcm")
    check_impulse_response(np.eye(1, 4096, 100), what="a unit impulse")   # crest 36 dB for 4096 samples
    check_impulse_response(np.eye(1, 64, 0), what="a 64-tap wire")        # crest 18 dB: short IRs pass too
    with pytest.raises(SignalError, match="15 dB out"):                   # 64 samples of noise: ~8 dB
        check_impulse_response(np.random.default_rng(5).standard_normal(64), what="64 noise samples")


def test_noise_and_sweeps_fail_the_crest_check():
    noise = np.random.default_rng(0).standard_normal(10 * FS)   # 4.8e5 samples peak ~14 dB over RMS
    with pytest.raises(SignalError, match=f"only 1[3-6].[0-9] dB above its RMS.*{MIN_IR_CREST_DB:g} dB"):
        check_impulse_response(noise, what="noise")
    with pytest.raises(SignalError, match="channel 2 does not look like an impulse response"):
        check_impulse_response(np.stack([np.eye(1, 4096, 10)[0], generate_sweep(SweepSpec(duration_s=0.5))[:4096]]),
                               what="x")


@pytest.mark.parametrize("cmd", ["analyze", "correct"])
def test_analyze_and_correct_refuse_what_is_not_an_ir(run_cli, tmp_path, noise_wav, sweep_recording, cmd):
    for f in (noise_wav, sweep_recording):
        args = [cmd, f] + (["--out", tmp_path / "prof"] if cmd == "correct" else [])
        line = _one_error_line(*run_cli(*args)[::2])
        assert "does not look like an impulse response" in line and "roomtruth ir" in line
    assert not (tmp_path / "prof").exists()


def test_ir_refuses_a_recording_without_the_sweep(run_cli, tmp_path, noise_wav):
    out = tmp_path / "ir.wav"
    line = _one_error_line(*run_cli("ir", noise_wav, "--f1", "20", "--f2", "20000", "--sweep-s", "0.5",
                                    "-o", out)[::2])
    assert "does not seem to hold this sweep" in line
    assert not out.exists()


def test_measure_refuses_noise_as_the_simulated_room(run_cli, tmp_path, noise_wav):
    line = _one_error_line(*run_cli("measure", "--simulate-ir", noise_wav, "--out", tmp_path / "m",
                                    "--sweep-s", "1")[::2])
    assert "--simulate-ir" in line and "impulse response" in line
    assert not (tmp_path / "m").exists()


def test_an_unwritable_output_folder_is_refused_before_any_sound(run_cli, tmp_path, monkeypatch):
    """Found by the audit: the sweeps played, then writing failed.  Now the folder is checked
    first (os.access is patched: tests may run as root, for whom every folder is writable)."""
    import os

    import roomtruth.cmd_measure as cm

    ro = tmp_path / "ro"
    ro.mkdir()
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if str(p) == str(ro) else real_access(p, mode, **kw))

    def no_sound(*a, **k):
        raise AssertionError("a backend was opened for an unwritable output folder")

    monkeypatch.setattr(cm, "_backend_for", no_sound)
    line = _one_error_line(*run_cli("measure", "--out", ro / "m" / "x", "--sweep-s", "1")[::2])
    assert f"the folder {ro} is not writable" in line
    assert list(ro.iterdir()) == []


@pytest.mark.parametrize("bad", ["../../etc/passwd", None, 3, "sub/L.ir.wav"])
def test_measurement_json_naming_files_outside_the_folder_is_refused(run_cli, tmp_path, bad):
    import json
    import shutil

    from roomtruth.workspace import load_measurement_dir

    src = tmp_path / "m"
    assert run_cli("measure", "--out", src, "--sweep-s", "0.5")[0] == 0
    bad_dir = tmp_path / "bad"
    shutil.copytree(src, bad_dir)
    doc = json.loads((bad_dir / "measurement.json").read_text())
    doc["files"]["L"] = bad
    (bad_dir / "measurement.json").write_text(json.dumps(doc))
    with pytest.raises(SignalError, match="names no IR file inside the folder for channel L"):
        load_measurement_dir(bad_dir)
    assert load_measurement_dir(src).channel_names == ("L", "R")
