"""``roomtruth monitor render / run / bench`` through the CLI, errors included."""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.signal as ss
import soundfile as sf

from calib.profile import Biquad, CalibrationProfile, SpeakerCorrection, peq_sos

FS = 48000


def null_db(y: np.ndarray, ref: np.ndarray) -> float:
    return float(20 * np.log10(np.sqrt(np.mean((y - ref) ** 2)) / np.sqrt(np.mean(ref ** 2))))


@pytest.fixture
def files(tmp_path):
    rng = np.random.default_rng(11)
    x = (rng.standard_normal((FS * 2 + 123, 2)) * 0.03).astype(np.float32)   # odd length on purpose
    h = rng.standard_normal((6000, 2)) * np.exp(-np.arange(6000) / 800)[:, None] * 0.02
    h[0] = 0.5
    sf.write(tmp_path / "in.wav", x, FS, subtype="FLOAT")
    sf.write(tmp_path / "fir.wav", h.astype(np.float32), FS, subtype="FLOAT")
    sf.write(tmp_path / "fir_mono.wav", h[:, 0].astype(np.float32), FS, subtype="FLOAT")
    return tmp_path, x.astype(np.float64), h.astype(np.float32).astype(np.float64)


def test_render_fir_nulls_against_exact_convolution(run_cli, files):
    d, x, h = files
    code, out, err = run_cli("monitor", "render", "--fir", d / "fir.wav", d / "in.wav", d / "out.wav",
                             "--block", "256", "--json")
    assert code == 0, err
    res = json.loads(out)
    y, fs = sf.read(d / "out.wav", dtype="float64")
    assert fs == FS and y.shape == x.shape            # input's length and channels
    for c in range(2):
        ref = ss.fftconvolve(x[:, c], h[:, c])[: x.shape[0]]
        assert null_db(y[:, c], ref) <= -100.0        # the bar
    assert res["samples"] == x.shape[0] and res["channels"] == 2
    assert len(res["content_hash"]) == 64 and res["limited_samples"] == 0
    # offline the FIR runs on large partitions (no latency to keep); `monitor run` at this
    # block would start with a 256-sample head partition
    assert res["fir_block"] == 16384 and res["partitions"] == [[16384, 1, 0]]
    assert res["realtime_partitions"][0] == [256, res["realtime_partitions"][0][1], 0]


def test_render_mono_fir_applies_to_every_channel_with_odd_block(run_cli, files):
    d, x, h = files
    code, out, err = run_cli("monitor", "render", "--fir", d / "fir_mono.wav", d / "in.wav", d / "out.wav",
                             "--block", "37")
    assert code == 0, err
    assert "out.wav" in out
    y, _ = sf.read(d / "out.wav", dtype="float64")
    for c in range(2):
        ref = ss.fftconvolve(x[:, c], h[:, 0])[: x.shape[0]]
        assert null_db(y[:, c], ref) <= -100.0


def test_render_profile_folder(run_cli, files):
    d, x, _ = files
    peq = (Biquad("peaking", 50.0, -6.0, 5.0),)
    prof = CalibrationProfile(name="room", preamp_db=-2.0, speakers=(
        SpeakerCorrection("L", 0, peq=peq), SpeakerCorrection("R", 1, polarity=-1)))
    prof.save(d / "prof")
    code, out, err = run_cli("monitor", "render", d / "prof", d / "in.wav", d / "out.wav", "--json")
    assert code == 0, err
    assert json.loads(out)["content_hash"] == prof.content_hash()
    y, _ = sf.read(d / "out.wav", dtype="float64")
    g = 10 ** (-2 / 20)
    np.testing.assert_allclose(y[:, 0], g * ss.sosfilt(peq_sos(peq, fs=FS), x[:, 0]), atol=1e-6)  # float32 path
    np.testing.assert_allclose(y[:, 1], -g * x[:, 1], atol=1e-7)


def test_render_reports_nonfinite_input_and_stays_safe(run_cli, tmp_path):
    x = np.zeros((4800, 1), np.float32)
    x[100] = np.nan
    x[200:300] = 4.0                      # +12 dBFS: the limiter and guard hold -1 dBFS
    sf.write(tmp_path / "bad.wav", x, FS, subtype="FLOAT")
    sf.write(tmp_path / "one.wav", np.array([1.0], np.float32), FS, subtype="FLOAT")
    code, out, err = run_cli("monitor", "render", "--fir", tmp_path / "one.wav", tmp_path / "bad.wav",
                             tmp_path / "o.wav", "--json")
    assert code == 0, err
    res = json.loads(out)
    assert res["nonfinite_samples"] == 1 and res["limited_samples"] > 0
    y, _ = sf.read(tmp_path / "o.wav")
    assert np.all(np.isfinite(y)) and np.max(np.abs(y)) <= 10 ** (-1 / 20) + 1e-7


@pytest.mark.parametrize("args,match", [
    (["IN", "OUT"], "render takes PROFILE_DIR IN.wav OUT.wav"),
    (["--fir", "FIR", "X", "IN", "OUT"], "with --fir, render takes IN.wav OUT.wav"),
    (["--fir", "FIR", "MISSING", "OUT"], "no such file"),
    (["--fir", "FIR", "IN", "IN"], "is the input file"),
    (["--fir", "FIR", "IN", "OUT", "--block", "16"], "--block 16 is outside 32..4096"),
    (["--fir", "FIR", "IN", "OUT", "--ceiling", "3"], "--ceiling 3.0 dBFS is outside"),
    (["--fir", "FIR44", "IN", "OUT"], "sample rates differ"),
    (["--fir", "FIR3", "IN", "OUT"], "has 3 channels but the input has 2"),
    (["NOTPROFILE", "IN", "OUT"], "not a profile folder"),
    (["PROF3", "IN", "OUT"], "output channel 3"),
    (["--fir", "FIR", "TEXT", "OUT"], "not a readable audio file"),
])
def test_render_errors(run_cli, files, args, match):
    d, _, _ = files
    sf.write(d / "fir44.wav", np.ones(8, np.float32), 44100, subtype="FLOAT")
    sf.write(d / "fir3.wav", np.ones((8, 3), np.float32), FS, subtype="FLOAT")
    (d / "text.wav").write_text("not audio")
    (d / "notprofile").mkdir()
    CalibrationProfile(name="c", speakers=(SpeakerCorrection("C", 2),)).save(d / "prof3")
    names = {"IN": d / "in.wav", "OUT": d / "out.wav", "FIR": d / "fir.wav", "X": d / "x.wav",
             "MISSING": d / "missing.wav", "FIR44": d / "fir44.wav", "FIR3": d / "fir3.wav",
             "NOTPROFILE": d / "notprofile", "PROF3": d / "prof3", "TEXT": d / "text.wav"}
    code, out, err = run_cli("monitor", "render", *[names.get(a, a) for a in args])
    assert code == 2
    assert err.startswith("error: ") and match in err
    assert "Traceback" not in err
    assert not (d / "out.wav").exists()                      # nothing half-written
    assert not [p for p in d.iterdir() if p.name.startswith(".out.wav")]


def test_bench_json(run_cli):
    code, out, err = run_cli("monitor", "bench", "--taps", "2048", "--block", "64", "--channels", "2",
                             "--seconds", "0.5", "--json")
    assert code == 0, err
    res = json.loads(out)
    assert res["latency_samples"] == 64 and res["x_realtime"] > 0 and res["offline_x_realtime"] > 0
    assert res["errors"] == 0 and res["partitions"][0][0] == 64


@pytest.mark.parametrize("args,match", [
    (["--taps", "0"], "--taps 0 is outside"), (["--channels", "0"], "--channels 0 is outside"),
    (["--seconds", "0.1"], "--seconds 0.1 is outside"), (["--block", "5000"], "--block 5000 is outside"),
])
def test_bench_errors(run_cli, args, match):
    code, _, err = run_cli("monitor", "bench", *args)
    assert code == 2 and match in err


def test_run_errors_before_any_stream_opens(run_cli, tmp_path):
    code, _, err = run_cli("monitor", "run", tmp_path / "nothing")
    assert code == 2 and "not a profile folder" in err
    CalibrationProfile(name="p", speakers=(SpeakerCorrection("L", 0),)).save(tmp_path / "p")
    code, _, err = run_cli("monitor", "run", tmp_path / "p", "--duration", "-1")
    assert code == 2 and "--duration -1.0 s must be > 0" in err
    code, _, err = run_cli("monitor", "run", tmp_path / "p", "--block", "8")
    assert code == 2 and "--block 8 is outside" in err


@pytest.mark.jack
def test_run_on_the_jack_virtual_room(run_cli, tmp_path, rig):  # noqa: F811
    """CI: `monitor run` for a few seconds through the rig: it runs, counts, reports load."""
    prof = CalibrationProfile(name="rig", speakers=(
        SpeakerCorrection("L", 0, peq=(Biquad("peaking", 60.0, -6.0, 4.0),)),
        SpeakerCorrection("R", 1, fir={FS: np.r_[0.5, np.zeros(4095)]})))
    prof.save(tmp_path / "p")
    code, out, err = run_cli("monitor", "run", tmp_path / "p", "--input", "rig", "--output", "rig",
                             "--block", "256", "--duration", "3", "--json")
    assert code == 0, err
    res = json.loads(out)
    expected = 3.0 * FS / 256
    assert res["callbacks"] >= 0.5 * expected          # the stream really ran (loaded CI: >= half)
    assert res["errors"] == 0 and res["bad_frames"] == 0
    assert 0.0 < res["dsp_load"] < 1.0                 # load is measured and reported
    assert res["engine"]["running_hash"] == prof.content_hash()


from rig_fixture import rig  # noqa: E402,F401  (pytest finds the fixture by name)


def test_render_summary_keeps_a_long_output_path_on_one_line(run_cli, tmp_path):
    """The summary line names the output file whole, however long its path (rich used to fold
    it at 80 columns, once right inside "out.wav", which broke copy-paste and a CI run)."""
    d = tmp_path / ("q" * 70)
    d.mkdir()
    sf.write(d / "in.wav", np.zeros((4800, 2)), 48000)
    h = np.zeros(64)
    h[0] = 1.0
    sf.write(d / "fir.wav", h, 48000)
    code, out, err = run_cli("monitor", "render", "--fir", str(d / "fir.wav"), str(d / "in.wav"), str(d / "out.wav"))
    assert code == 0, err
    assert str(d / "out.wav") in out.splitlines()[0]
