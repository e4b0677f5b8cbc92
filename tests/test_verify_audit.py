"""Audit of `roomtruth verify` as a new user types it: rehearsals of a drifted room from a
profile folder alone (--simulate reference, --drift), and hostile options refused up front."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import verify_synth as S
from calib.profile import CalibrationProfile, SpeakerCorrection

pytest.importorskip("hardware.simulated")

FAST = ("--repeats", "2", "--sweep-s", "1", "--noise-db", "-65")


@pytest.fixture(scope="module")
def prof(tmp_path_factory):
    """A profile whose reference IR was measured (with its 5 ms pre-delay) through a synthetic room."""
    from calib.types import ImpulseResponse
    from hardware.simulated import SimulatedRoom
    from roomtruth.cmd_verify import _measure_repeats

    d = tmp_path_factory.mktemp("verify-audit")
    room, names = S.base_room()
    sim = SimulatedRoom(ImpulseResponse(samples=room, fs=S.FS, channel_names=names), noise_db=-65.0, seed=7)
    ref = _measure_repeats(sim, [("L", 0), ("R", 1)], fs=S.FS, sweep_s=1.0, repeats=1, ir_length_s=0.5,
                           level_dbfs=-12.0)[0]
    assert ref.onset_samples > 0  # the trap: the stored IR file does not start at emission
    p = d / "main"
    CalibrationProfile(name="main", speakers=(SpeakerCorrection("L", 0), SpeakerCorrection("R", 1)),
                       reference=ref).save(p)
    return p


def _verify(run_cli, prof, *extra):
    code, out, err = run_cli("verify", "--profile", prof, "--json", *FAST, *extra)
    return code, (json.loads(out) if out.strip() else None), err


def _check(res, name, channel, band_hz=None):
    return [c for c in res["checks"] if c["name"] == name and c["channel"] == channel
            and (band_hz is None or c["band_hz"] == pytest.approx(band_hz))][0]


def test_reference_rehearsal_of_the_unchanged_room_passes(run_cli, prof):
    code, res, err = _verify(run_cli, prof, "--simulate", "reference")
    assert code == 0, err
    assert res["verdict"] == "pass"
    # the unchanged room: level within the 0.02 dB uncertainty floor, arrival within 2 us
    assert abs(_check(res, "level", "L")["value"]) < 0.02
    assert abs(_check(res, "arrival", "R")["value"]) < 0.002  # ms


def test_profiles_own_reference_file_is_taken_from_its_time_origin(run_cli, prof):
    """reference.ir.wav keeps a pre-delay; given back as --simulate-ir it is the same room, not a moved mic."""
    code, res, err = _verify(run_cli, prof, "--simulate-ir", prof / "reference.ir.wav")
    assert code == 0, err
    assert res["verdict"] == "pass"


def test_a_copy_with_pre_delay_is_refused_with_the_way_out(run_cli, prof, tmp_path):
    import soundfile as sf

    data, fs = sf.read(prof / "reference.ir.wav", always_2d=True)
    copy = tmp_path / "copy.wav"
    sf.write(copy, data, fs, subtype="DOUBLE")
    code, res, err = _verify(run_cli, prof, "--simulate-ir", copy)
    assert code == 2
    assert err.startswith("error: the mic is not where the baseline was measured")
    assert "--simulate reference" in err and err.count("\n") == 1


@pytest.mark.parametrize(
    "drift, name, channel, band_hz, expected, tol",
    [
        # 0.5 dB gain: reads 0.5 dB within 0.02 dB (the level uncertainty floor)
        ("level:L:+0.5", "level", "L", None, 0.5, 0.02),
        # 0.1 ms later: reads 0.100 ms within 2 us (0.1 sample at 48 kHz, the arrival floor)
        ("delay:R:0.1", "arrival", "R", None, 0.1, 0.002),
        # polarity flip: the correlation with the baseline's direct sound turns negative
        ("polarity:R", "polarity", "R", None, -0.9, 0.1),
        # +2 dB RBJ peak of one-third-octave bandwidth at 1 kHz: the band's mean power rises by
        # 10 lg(mean |H|^2 over 891..1122 Hz) = 1.6 dB; 0.1 dB allows for the band edges
        ("band:L:1000:+2", "band_deviation", "L", 1000.0, 1.63, 0.1),
    ],
)
def test_each_drift_is_detected_and_named(run_cli, prof, drift, name, channel, band_hz, expected, tol):
    code, res, err = _verify(run_cli, prof, "--simulate", "reference", "--drift", drift)
    assert code == 3, err
    assert res["verdict"] == "fail"
    c = _check(res, name, channel, band_hz)
    assert c["verdict"] == "fail"
    assert c["value"] == pytest.approx(expected, abs=tol)
    failed = {(x["name"], x["channel"]) for x in res["checks"] if x["verdict"] == "fail"}
    assert failed == {(name, channel)}  # nothing else is blamed


def test_drift_on_the_builtin_room(run_cli, tmp_path):
    from hardware.simulated import SimulatedRoom
    from roomtruth.cmd_verify import _measure_repeats

    ref = _measure_repeats(SimulatedRoom(None, noise_db=-80.0, seed=5), [("L", 0), ("R", 1)], fs=48_000,
                           sweep_s=1.0, repeats=1, ir_length_s=0.5, level_dbfs=-12.0)[0]
    p = tmp_path / "p"
    CalibrationProfile(name="demo", speakers=(SpeakerCorrection("L", 0), SpeakerCorrection("R", 1)),
                       reference=ref).save(p)
    code, res, err = _verify(run_cli, p, "--simulate", "default", "--drift", "level:all:-1")
    assert code == 3, err
    for ch in ("L", "R"):
        assert _check(res, "level", ch)["value"] == pytest.approx(-1.0, abs=0.02)
    assert _check(res, "channel_match", "L-R")["verdict"] == "pass"  # both moved together


def test_apply_drifts_against_analytic_truth():
    from monitor.verify_parts import THIRD_OCTAVE_Q, apply_drifts, parse_drift

    # RBJ bandwidth N octaves <-> Q = sqrt(2^N)/(2^N - 1); N = 1/3 -> 4.318
    assert THIRD_OCTAVE_Q == pytest.approx(4.3185, abs=1e-4)
    fs = 48_000
    h = np.zeros((2, 4096))
    h[:, 100] = 1.0
    y = apply_drifts(h, ("L", "R"), [parse_drift("delay:L:0.5"), parse_drift("polarity:R"),
                                     parse_drift("level:R:-6.0206")], fs=fs)
    assert int(np.argmax(np.abs(y[0]))) == 124  # 0.5 ms = 24 samples later, exactly
    assert y[0, 124] == pytest.approx(1.0, abs=1e-9)
    assert y[1, 100] == pytest.approx(-0.5, abs=1e-6)  # -6.0206 dB = x0.5, inverted
    assert np.array_equal(h[:, 100], [1.0, 1.0])  # the input is not changed
    b = apply_drifts(h[:1], ("L",), [parse_drift("band:L:1000:+2")], fs=fs)
    g_db = 20 * math.log10(abs(np.fft.rfft(b[0], fs)[1000]))
    assert g_db == pytest.approx(2.0, abs=1e-6)  # the peak gain at the centre frequency


@pytest.mark.parametrize(
    "extra, message",
    [
        (("--simulate", "reference", "--drift", "level:L"), "is not understood"),
        (("--simulate", "reference", "--drift", "wobble:L:1"), "is not understood"),
        (("--simulate", "reference", "--drift", "level:L:nan"), "must be a number in -20..20"),
        (("--simulate", "reference", "--drift", "delay:L:1e9"), "must be a number in -3..10"),
        (("--simulate", "reference", "--drift", "level:C:1"), "speaker 'C'"),
        (("--simulate", "reference", "--drift", "band:L:23000:1"), "above 0.45 x 48000 Hz"),
        (("--drift", "level:L:1"), "--drift changes a simulated room"),
        (("--simulate", "reference", "--level-dbfs", "nan"), "not a usable sweep level"),
        (("--simulate", "reference", "--level-dbfs", "-1e9"), "not a usable sweep level"),
        (("--simulate", "reference", "--report", "{tmp}"), "is a folder"),
        (("--simulate", "reference", "--history", "{bad}"), "is not a usable history database"),
        (("--simulate", "moon"), "--simulate reference"),
    ],
)
def test_hostile_options_one_line_exit_2_before_measuring(run_cli, prof, tmp_path, extra, message):
    bad = tmp_path / "not.sqlite"
    bad.write_text("hello, not a database")
    args = [a.format(tmp=tmp_path, bad=bad) for a in extra]
    code, out, err = run_cli("verify", "--profile", prof, *FAST, *args)
    assert code == 2, (out, err)
    assert err.startswith("error: ") and message in err and err.count("\n") == 1
    assert out == ""  # refused before anything was measured or printed
    assert bad.read_text() == "hello, not a database"


# ------------------------------------------------------------------ EBU Tech 3343 absolute pair matching
def _pair_profile(trims_db, *, fir=None, names=("L", "R", "C")):
    """Three identical speaker IRs (same distance, so the mic check passes), trims per speaker."""
    h = S.speaker_ir(3.0, seed=1)
    room = np.stack([h] * len(names))
    ref = S.measure(room, names, seed=1000)
    spk = tuple(SpeakerCorrection(n, i, trim_db=t, fir={} if fir is None or n not in fir else {S.FS: fir[n]})
                for i, (n, t) in enumerate(zip(names, trims_db)))
    prof = CalibrationProfile(name="p", speakers=spk, reference=ref)
    reps = [S.measure(room, names, seed=s, noise_db=-60.0) for s in (1, 2)]
    return prof, reps


def _pairs(res):
    return {c.channel: c for c in res.checks if c.name == "pair_level"}


def test_pair_level_against_tech_3343_limits():
    from monitor.verify import verify_profile

    # identical IRs: the corrected difference is exactly the trim difference; the 0.05 dB
    # tolerance covers the -60 dB noise of the two repeats
    prof, reps = _pair_profile((0.0, -0.7, -1.2))
    res = verify_profile(prof, reps)
    p = _pairs(res)
    assert set(p) == {"L-R", "L-C", "R-C"}
    assert p["L-R"].value == pytest.approx(0.7, abs=0.05) and p["L-R"].verdict == "warn"   # front pair: < 0.5 dB
    assert p["L-R"].limit == 0.5
    assert p["L-C"].value == pytest.approx(1.2, abs=0.05) and p["L-C"].verdict == "warn"   # any pair: <= 1 dB
    assert p["R-C"].value == pytest.approx(0.5, abs=0.05) and p["R-C"].verdict == "pass"
    assert p["R-C"].limit == 1.0
    assert res.verdict == "warn"  # never a fail: the room is unchanged against its baseline
    assert "EBU Tech 3343" in res.message and "re-align the speaker trims" in res.message

    prof, reps = _pair_profile((0.0, -0.3, 0.6))
    p = _pairs(verify_profile(prof, reps))
    assert p["L-R"].verdict == "pass" and p["L-C"].verdict == "pass" and p["R-C"].verdict == "pass"


def test_pair_level_reads_the_fir_the_engine_runs():
    from monitor.verify import verify_profile

    # R's FIR is a pure gain of 0.5 (-6.02 dB) and R's trim +6.02 dB: matched again
    prof, reps = _pair_profile((0.0, 20 * math.log10(2.0)), fir={"R": np.array([0.5, 0.0, 0.0])}, names=("L", "R"))
    p = _pairs(verify_profile(prof, reps))
    assert p["L-R"].value == pytest.approx(0.0, abs=0.05) and p["L-R"].verdict == "pass"


def test_correction_power_of_peq_and_trim():
    from calib.profile import Biquad
    from monitor.verify_parts import correction_power_db

    s = SpeakerCorrection("L", 0, trim_db=-1.5, peq=(Biquad("peaking", 1000.0, 4.0, 2.0),))
    f = np.array([1000.0, 20.0])
    c = correction_power_db(s, f, fs=48_000)
    assert c[0] == pytest.approx(-1.5 + 4.0, abs=1e-9)   # peak gain at the centre, exactly (RBJ)
    assert c[1] == pytest.approx(-1.5, abs=0.01)         # far below the peak: the trim alone


# ------------------------------------------------------------------ noise floor against a longer baseline sweep
def test_noise_floor_normalised_by_the_baseline_measurement_json(run_cli, tmp_path):
    """A profile from `roomtruth correct` keeps the baseline IR but not its sweep; the sweep is
    read back from the source measurement.json so a 1 s verification sweep is compared fairly
    with a 5 s baseline (SNR grows 10 lg(5/1) = 7.0 dB with the sweep length)."""
    from dataclasses import replace

    from calib.types import ImpulseResponse
    from hardware.simulated import SimulatedRoom
    from roomtruth.cmd_verify import _measure_repeats

    room, names = S.base_room()
    sim = SimulatedRoom(ImpulseResponse(samples=room, fs=S.FS, channel_names=names), noise_db=-65.0, seed=3)
    ref = _measure_repeats(sim, [("L", 0), ("R", 1)], fs=S.FS, sweep_s=5.0, repeats=1, ir_length_s=0.5,
                           level_dbfs=-12.0)[0]
    mdir = tmp_path / "measurements" / "base"
    mdir.mkdir(parents=True)
    (mdir / "measurement.json").write_text(json.dumps({
        "sweep": {"duration_s": 5.0, "level_dbfs": float(ref.meta.get("level_dbfs", -12.0))},
        "meta": {"level_dbfs": float(ref.meta.get("level_dbfs", -12.0)), "repeats": 1}}))
    stripped = replace(ref, meta={"seat": "base"}, source_id="base")
    spk = (SpeakerCorrection("L", 0), SpeakerCorrection("R", 1))
    p = tmp_path / "p"
    CalibrationProfile(name="p", speakers=spk, reference=stripped,
                       provenance={"measurements": [{"source_id": "base", "source": str(mdir)}]}).save(p)

    def drops(profile_dir):
        code, out, err = run_cli("verify", "--profile", profile_dir, "--simulate-ir", S_IR(tmp_path, room), "--json",
                                 "--repeats", "2", "--sweep-s", "1", "--noise-db", "-65")
        assert code in (0, 3), err
        return [c["value"] for c in json.loads(out)["checks"] if c["name"] == "noise_floor"]

    # same room, same noise: the normalised drop is 0; 1.5 dB covers the noise estimate of one
    # baseline and two 1 s sweeps (the pre-roll noise power is a chi-square estimate)
    for d in drops(p):
        assert abs(d) < 1.5
    # without the measurement the raw SNRs differ by the sweep length's 7 dB
    (mdir / "measurement.json").unlink()
    for d in drops(p):
        assert d == pytest.approx(10 * math.log10(5.0), abs=1.5)


def S_IR(tmp_path, room):
    from calib.audio_io import write_wav_atomic

    path = tmp_path / "room.wav"
    if not path.exists():
        write_wav_atomic(path, room, fs=S.FS, subtype="DOUBLE")
    return path


def test_bad_tolerances_in_the_profile_refused_before_measuring(run_cli, prof, tmp_path):
    import shutil

    p = tmp_path / "bad"
    shutil.copytree(prof, p)
    d = json.loads((p / "profile.json").read_text())
    d["tolerances"] = {"verify": {"level": {"fail_db": "x", "bogus": 1}}}
    (p / "profile.json").write_text(json.dumps(d))
    from profile_tamper import restamp

    restamp(p)  # a hand edit is refused by the content hash; re-stamped, the tolerances are judged
    hist = tmp_path / "h.sqlite"
    code, out, err = run_cli("verify", "--profile", p, "--simulate", "reference", "--history", hist, *FAST)
    assert code == 2 and out == ""
    assert err.startswith(f"error: {p / 'profile.json'}: verification tolerances are invalid")
    assert "unknown key level.bogus" in err and "level.fail_db must be a number" in err and err.count("\n") == 1
    assert not hist.exists()  # nothing measured, nothing recorded


def test_old_history_is_migrated_and_a_newer_one_refused_before_measuring(run_cli, prof, tmp_path):
    import sqlite3

    from monitor.history import SCHEMA_VERSION

    old = tmp_path / "old.sqlite"
    sqlite3.connect(old).close()  # schema version 0: verify is a writing command, it migrates
    code, out, err = run_cli("verify", "--profile", prof, "--simulate", "reference", "--history", old, "--json", *FAST)
    assert code == 0, err
    code, out, err = run_cli("history", "--db", old, "--json")
    assert code == 0 and json.loads(out)["verifications"][0]["verdict"] == "pass"
    newer = tmp_path / "newer.sqlite"
    con = sqlite3.connect(newer)
    con.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    con.close()
    code, out, err = run_cli("verify", "--profile", prof, "--simulate", "reference", "--history", newer, *FAST)
    assert code == 2 and out == "" and "newer than this roomtruth" in err and err.count("\n") == 1


def test_drifted_rehearsal_stays_out_of_the_rooms_history(run_cli, prof, tmp_path):
    import shutil

    ws = tmp_path / "ws"
    shutil.copytree(prof, ws / "profiles" / "main")
    code, out, err = run_cli("verify", "--room", ws, "--profile", "main", "--simulate", "reference",
                             "--drift", "polarity:L", *FAST)
    assert code == 3, err
    assert not (ws / "history.sqlite").exists() and not (ws / "reports").exists()
    h = tmp_path / "rehearsals.sqlite"  # asked for explicitly: recorded
    code, out, err = run_cli("verify", "--room", ws, "--profile", "main", "--simulate", "reference",
                             "--drift", "polarity:L", "--history", h, "--json", *FAST)
    assert code == 3 and h.is_file()
    assert "drifted: polarity:L" in json.loads(out)["meta"]["source"]
