"""``roomtruth correct`` end to end: files written, --json contract, rollback, errors -> exit 2."""

from __future__ import annotations

import json

import numpy as np
import pytest

from calib.audio_io import write_wav_atomic
from calib.profile import CalibrationProfile
from conftest import shared_data
from test_correction_rooms import room_seats


@pytest.fixture
def seat_files(tmp_path):
    paths = []
    for i, s in enumerate(room_seats(3)):
        p = tmp_path / f"seat{i + 1}.wav"
        write_wav_atomic(p, s.samples, fs=s.fs)
        paths.append(p)
    return paths


def test_correct_writes_profile_and_exports(run_cli, seat_files, tmp_path):
    out = tmp_path / "room" / "profiles" / "main"
    code, stdout, stderr = run_cli("correct", *seat_files, "--out", out, "--range", "20,300", "--fir-taps", "4096",
                                   "--json")
    assert code == 0, stderr
    res = json.loads(stdout)
    assert set(res) >= {"peq", "preamp_db", "seats", "predicted"}
    assert set(res["peq"][0]) == {"type", "freq_hz", "gain_db", "q"}
    assert [s["name"] for s in res["seats"]] == ["seat1", "seat2", "seat3"]
    assert all(s["rms_dev_after_db"] < s["rms_dev_before_db"] for s in res["seats"])
    pred = res["predicted"]
    assert len(pred["freqs_hz"]) == len(pred["before_db"]) == len(pred["after_db"])
    names = {p.name for p in out.iterdir()}
    assert {"profile.json", "fir_main.wav", "camilladsp.yml", "equalizer_apo.txt", "rew_filters.txt",
            "correction_report.json", "minidsp_main_48000.txt", "camilladsp_96000.yml"} <= names
    assert {f"fir_main_{r}.wav" for r in (44100, 48000, 88200, 96000, 176400, 192000)} <= names
    prof = CalibrationProfile.load(out)
    assert prof.content_hash() == res["content_hash"]
    # the default rule (the demo's too): house target, broad cuts of at most 3 dB
    assert prof.target["kind"] == "house"
    assert prof.provenance["settings"]["peq"]["broad_max_cut_db"] == 3.0
    assert prof.preamp_db == res["preamp_db"] <= 0
    # a second run keeps the first profile for rollback
    code, stdout, _ = run_cli("correct", *seat_files, "--out", out, "--range", "20,300", "--peq", "4", "--json")
    assert code == 0
    prev = json.loads(stdout)["previous_profile"]
    assert prev and CalibrationProfile.load(prev).content_hash() == res["content_hash"]
    assert len(CalibrationProfile.load(out).speakers[0].peq) <= 4


def test_human_output_and_peq_file(run_cli, seat_files, tmp_path):
    rew = shared_data("rsantct-drc", "rew_R.txt")
    code, stdout, stderr = run_cli("correct", seat_files[0], "--out", tmp_path / "p", "--peq-file", rew)
    assert code == 0, stderr
    assert "54.4 Hz -10.0 dB" in stdout and "wrote" in stdout
    prof = CalibrationProfile.load(tmp_path / "p")
    assert [b.freq_hz for b in prof.speakers[0].peq] == [46.4, 54.4, 86.8, 450.0]


def test_rs_pcm_needs_fs_and_works_with_it(run_cli, tmp_path):
    rs = shared_data("drc-fir", "rs.pcm")
    code, _, err = run_cli("correct", rs, "--out", tmp_path / "a")
    assert code == 2 and "--fs" in err and err.count("\n") == 1
    code, out, err = run_cli("correct", rs, "--fs", "44100", "--out", tmp_path / "b", "--range", "20,300", "--json")
    assert code == 0, err
    res = json.loads(out)
    assert res["seats"][0]["rms_dev_after_db"] < res["seats"][0]["rms_dev_before_db"]
    # the IR is polarity-inverted (data/README.md): a single speaker gets no alignment, no false flag
    assert res["alignment"] is None


@pytest.mark.parametrize("args, match", [
    (["--target", "TARGETFILE"], "line 2"),
    (["--peq-file", "FILTERFILE"], "not a REW filter-settings file"),
    (["--range", "300,20"], "0 < LO < HI"),
    (["--fir-taps", "10"], "fir-taps"),
    (["--fir-phase", "linear"], "fir-phase"),
    (["--band-limit-hz", "50"], "band-limit-hz"),
    (["--weights", "1,x"], "weights"),
    (["--weights", "1,1"], "one weight per seat"),
    (["--fs", "44100"], "resampled"),
    (["--speakers", "L,R"], "speakers"),
])
def test_bad_options_exit_2_with_one_line(run_cli, seat_files, tmp_path, args, match):
    bad_target = tmp_path / "target.txt"
    bad_target.write_text("20 0\n100 zero\n")
    bad_filters = tmp_path / "filters.txt"
    bad_filters.write_text("nothing useful\n")
    args = [str(bad_target) if a == "TARGETFILE" else str(bad_filters) if a == "FILTERFILE" else a for a in args]
    code, out, err = run_cli("correct", seat_files[0], "--out", tmp_path / "p", *args)
    assert code == 2
    assert err.startswith("error: ") and err.count("\n") == 1
    assert match in err
    assert not (tmp_path / "p").exists()  # nothing half-written


def test_malformed_measurement_file_and_existing_out(run_cli, seat_files, tmp_path):
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"RIFF not really a wav")
    code, _, err = run_cli("correct", junk, "--out", tmp_path / "p")
    assert code == 2 and "not a readable audio file" in err and err.count("\n") == 1
    empty = tmp_path / "meas"
    empty.mkdir()
    code, _, err = run_cli("correct", empty, "--out", tmp_path / "p")
    assert code == 2 and "measurement" in err and err.count("\n") == 1
    other = tmp_path / "taken"
    other.mkdir()
    (other / "x.txt").write_text("x")
    code, _, err = run_cli("correct", seat_files[0], "--out", other)
    assert code == 2 and "--replace" in err
    assert (other / "x.txt").read_text() == "x"


def test_measurement_folders_as_seats(run_cli, tmp_path):
    ws = pytest.importorskip("roomtruth.workspace")
    folders = []
    for i, s in enumerate(room_seats(2, names=("L", "R"))):
        d = tmp_path / f"m{i}"
        ws.write_measurement_dir(d, s)
        folders.append(d)
    code, out, err = run_cli("correct", *folders, "--out", tmp_path / "p", "--range", "20,300", "--json")
    assert code == 0, err
    res = json.loads(out)
    assert [s["name"] for s in res["speakers"]] == ["L", "R"]
    # R arrives 7.3 samples later in the synthetic room, so L is delayed by 7.3 samples (0.05 sample)
    assert res["alignment"]["L"]["delay_ms"] * 48 == pytest.approx(7.3, abs=0.05)
    assert {"rew_filters_L.txt", "rew_filters_R.txt"} <= {p.name for p in (tmp_path / "p").iterdir()}


def test_peq_file_in_equalizer_apo_syntax(run_cli, seat_files, tmp_path):
    eq = shared_data("autoeq", "hd650_parametric_eq.txt")
    code, _, err = run_cli("correct", seat_files[0], "--out", tmp_path / "p", "--peq-file", eq)
    assert code == 0, err
    peq = CalibrationProfile.load(tmp_path / "p").speakers[0].peq
    assert len(peq) == 10 and peq[0].kind == "lowshelf" and peq[0].freq_hz == 105.0
    code, _, err = run_cli("correct", seat_files[0], "--out", tmp_path / "q", "--peq-file", tmp_path / "none.txt")
    assert code == 2 and "does not exist" in err
