"""Mic calibration files (miniDSP/UMIK, REW, DRC) and SPL calibration from a 94 dB calibrator."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import shared_data

from calib.errors import SignalError
from calib.miccal import apply_to_ir, apply_to_response, db_spl, dbfs_of, read_mic_calibration, spl_calibration
from calib.types import FrequencyResponse, ImpulseResponse

FS = 48000


def test_drc_ecm8000_three_columns():
    cal = read_mic_calibration(shared_data("drc-fir", "ecm8000.txt"))
    # 126 rows, the 0 Hz row dropped (no place on a log axis)
    assert cal.freqs_hz.size == 125 and cal.freqs_hz[0] == 20.0
    assert cal.phase_deg is not None and cal.fmt == "text" and cal.sens_factor_db is None
    assert cal.response_at(np.array([20.0]))[0] == pytest.approx(-0.07)
    assert cal.response_at(np.array([5.0]))[0] == pytest.approx(-0.07)     # held flat below


def test_minidsp_umik_file(tmp_path):
    p = tmp_path / "7103946.txt"
    p.write_text('"Sens Factor =-1.378dB, AGain =18dB, SERNO: 7103946"\n10.054\t-6.0206\n100.0\t-0.5\n'
                 "1000\t0.0\n10000\t1.5\n20000\t-2.0\n")
    cal = read_mic_calibration(p)
    assert cal.fmt == "minidsp" and cal.sens_factor_db == pytest.approx(-1.378) and cal.serial == "7103946"
    assert cal.phase_deg is None
    # log-frequency interpolation: halfway (in log f) between 1 kHz (0 dB) and 10 kHz (1.5 dB)
    assert cal.response_at(np.array([math.sqrt(1000 * 10000)]))[0] == pytest.approx(0.75, abs=1e-12)


def test_rew_text_with_header_and_decimal_comma(tmp_path):
    p = tmp_path / "rew.txt"
    p.write_text("* REW calibration\nFreq(Hz) SPL(dB)\n20 -1.0\n1000 0\n20000 2.0\n")
    cal = read_mic_calibration(p)
    assert cal.freqs_hz.tolist() == [20, 1000, 20000]
    q = tmp_path / "comma.txt"
    q.write_text("20\t-1,5\n1000\t0\n20000\t2,25\n")
    assert read_mic_calibration(q).response_db.tolist() == [-1.5, 0.0, 2.25]
    c = tmp_path / "csv.txt"
    c.write_text("20,-1.5\n1000,0\n20000,2.25\n")
    assert read_mic_calibration(c).response_db.tolist() == [-1.5, 0.0, 2.25]


def test_bad_calibration_files(tmp_path):
    with pytest.raises(SignalError, match="no such mic calibration file"):
        read_mic_calibration(tmp_path / "none.txt")
    b = tmp_path / "bin.txt"
    b.write_bytes(b"RIFF\x00\x00\x00\x00WAVE")
    with pytest.raises(SignalError, match="not a text file"):
        read_mic_calibration(b)
    for body, match in [("20 1\nabc def\n", "line 2"), ("20 1\n", "at least two"),
                        ("20 1\n10 2\n", "rise strictly"), ("20 1\n30 500\n", "implausible"),
                        ("20 1\n30 nan\n", "NaN")]:
        p = tmp_path / "x.txt"
        p.write_text(body)
        with pytest.raises(SignalError, match=match):
            read_mic_calibration(p)


def test_apply_to_response_and_ir(tmp_path):
    p = tmp_path / "c.txt"
    p.write_text("20 0\n1000 0\n2000 6\n20000 6\n")
    cal = read_mic_calibration(p)
    fr = FrequencyResponse(freqs_hz=np.array([100.0, 1000.0, 4000.0]), magnitude_db=np.zeros((1, 3)),
                           channel_names=("L",))
    np.testing.assert_allclose(apply_to_response(fr, cal).magnitude_db, [[0, 0, -6]], atol=1e-12)
    h = np.zeros(4800)
    h[500] = 1.0
    ir = ImpulseResponse(samples=h, fs=FS, channel_names=("L",), arrival_samples=(500.0,))
    out = apply_to_ir(ir, cal)
    H = np.abs(np.fft.rfft(out.samples[0]))
    f = np.fft.rfftfreq(4800, 1 / FS)
    # zero-phase correction: -6 dB above 2 kHz, 0 dB below 1 kHz (to 0.01 dB: kernel truncation)
    assert np.max(np.abs(20 * np.log10(H[(f > 3000) & (f < 15000)]) + 6)) < 0.01
    assert np.max(np.abs(20 * np.log10(H[(f > 30) & (f < 800)]))) < 0.01
    assert int(np.argmax(np.abs(out.samples[0]))) == 500 and out.meta["mic_calibration"] == str(p)


def test_spl_calibration_from_a_calibrator_tone():
    t = np.arange(3 * FS) / FS
    # a 94 dB calibrator read at -30 dBFS (AES17: sine peak 10^(-30/20))
    amp = 10 ** (-30 / 20)
    x = amp * np.sin(2 * np.pi * 1000 * t) + np.random.default_rng(0).standard_normal(t.size) * 1e-5
    assert dbfs_of(amp * np.sin(2 * np.pi * 1000 * t)) == pytest.approx(-30.0, abs=1e-6)
    sens = spl_calibration(x, fs=FS)
    # band-pass passband ripple and noise: within 0.05 dB
    assert sens == pytest.approx(-30.0, abs=0.05)
    # a 114 dB calibrator (pistonphone) at the same reading means a 20 dB less sensitive chain
    assert spl_calibration(x, fs=FS, calibrator_db_spl=114.0) == pytest.approx(-50.0, abs=0.05)
    assert db_spl(-40.0, sensitivity_dbfs=-30.0) == pytest.approx(84.0)


def test_spl_calibration_refusals():
    t = np.arange(2 * FS) / FS
    with pytest.raises(SignalError, match="at least 1 s"):
        spl_calibration(np.zeros(100), fs=FS)
    with pytest.raises(SignalError, match="clips"):
        spl_calibration(np.sin(2 * np.pi * 1000 * t) * 1.2, fs=FS)
    with pytest.raises(SignalError, match="1000 Hz tone"):
        spl_calibration(np.random.default_rng(0).standard_normal(t.size) * 0.01, fs=FS)
    wobble = 0.1 * np.sin(2 * np.pi * 1000 * t) * (1 + 0.3 * np.sin(2 * np.pi * 0.7 * t))
    with pytest.raises(SignalError, match="wanders"):
        spl_calibration(wobble, fs=FS)


def test_spl_cal_command_stores_sensitivity(run_cli, tmp_path):
    import soundfile as sf

    run_cli("init", tmp_path / "r")
    t = np.arange(2 * FS) / FS
    sf.write(str(tmp_path / "cal.wav"), 10 ** (-25 / 20) * np.sin(2 * np.pi * 1000 * t), FS, subtype="FLOAT")
    code, out, err = run_cli("spl-cal", tmp_path / "cal.wav", "--room", tmp_path / "r")
    assert code == 0, err
    from roomtruth.config import load_room_config

    assert load_room_config(tmp_path / "r").mic_sensitivity_dbfs == pytest.approx(-25.0, abs=0.05)
    code, out, err = run_cli("spl-cal", tmp_path / "cal.wav", "--channel", "2")
    assert code == 2 and "--channel 2 does not exist" in err


def test_measure_applies_the_rooms_mic_calibration(run_cli, tmp_path):
    from roomtruth.workspace import load_measurement_dir

    run_cli("init", tmp_path / "r")
    (tmp_path / "r" / "mic.txt").write_text("20 0\n1000 0\n2000 6\n24000 6\n")
    toml = tmp_path / "r" / "room.toml"
    toml.write_text(toml.read_text().replace('calibration_file = ""', 'calibration_file = "mic.txt"'))
    code, out, err = run_cli("measure", "--room", tmp_path / "r", "--out", tmp_path / "m", "--sweep-s", "1",
                             "--channels", "L")
    assert code == 0, err
    ir = load_measurement_dir(tmp_path / "m")
    assert ir.meta["mic_calibration"].endswith("mic.txt")
    code, out, err = run_cli("measure", "--out", tmp_path / "m0", "--sweep-s", "1", "--channels", "L")
    raw = load_measurement_dir(tmp_path / "m0")
    n = min(ir.n_samples, raw.n_samples)
    H = np.abs(np.fft.rfft(ir.samples[0, :n])) / np.abs(np.fft.rfft(raw.samples[0, :n]))
    f = np.fft.rfftfreq(n, 1 / FS)
    # the stored IR is 6 dB lower above 2 kHz than the uncorrected one (noise: 0.05 dB)
    assert np.median(20 * np.log10(H[(f > 3000) & (f < 15000)])) == pytest.approx(-6.0, abs=0.05)
    toml.write_text(toml.read_text().replace('"mic.txt"', '"gone.txt"'))
    code, out, err = run_cli("measure", "--room", tmp_path / "r", "--out", tmp_path / "m2")
    assert code == 2 and "mic.calibration_file 'gone.txt' does not exist" in err
