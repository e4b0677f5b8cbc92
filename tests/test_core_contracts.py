"""Core data types, atomic I/O and the calibration profile contract."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import scipy.signal as sps

from calib.audio_io import atomic_directory, read_audio, read_raw_float32, to_json, write_wav_atomic
from calib.errors import ProfileError, SignalError
from calib.profile import Biquad, CalibrationProfile, SpeakerCorrection, peq_sos
from calib.types import FrequencyResponse, ImpulseResponse, Measurement, SweepSpec

ROOT_DIR = __import__('pathlib').Path(__file__).resolve().parent.parent


# ---------------------------------------------------------------- SweepSpec
def test_synchronized_sweep_rate_makes_f1_l_integer():
    spec = SweepSpec(f_start_hz=20.0, f_stop_hz=20_000.0, duration_s=5.0, fs=48_000)
    # Novak et al. 2015 eq. 32: f1*L is an integer
    assert spec.rate_l_s * spec.f_start_hz == pytest.approx(round(spec.rate_l_s * spec.f_start_hz), abs=1e-9)
    # the actual duration stays within half a period of f1 scaled by ln(f2/f1)
    assert abs(spec.actual_duration_s - 5.0) <= math.log(1000) / (2 * 20.0) + 1e-12


def test_sweep_spec_rejects_bad_band_and_level():
    with pytest.raises(SignalError, match="sweep band"):
        SweepSpec(f_start_hz=100, f_stop_hz=30_000, fs=48_000)
    with pytest.raises(SignalError, match="above full scale"):
        SweepSpec(level_dbfs=3.0)
    with pytest.raises(SignalError, match="sample rate"):
        SweepSpec(fs=100)


def test_sweep_spec_round_trip():
    spec = SweepSpec(f_start_hz=15, f_stop_hz=20_000, duration_s=3, fs=44_100, level_dbfs=-20)
    assert SweepSpec.from_dict(spec.to_dict()) == spec


# ---------------------------------------------------------------- arrays
def test_impulse_response_is_read_only_and_checked():
    ir = ImpulseResponse(samples=np.eye(2, 16), fs=48_000, channel_names=("L", "R"))
    assert ir.samples.shape == (2, 16)
    with pytest.raises(ValueError):
        ir.samples[0, 0] = 2.0
    assert ir.channel("R")[1] == 1.0
    with pytest.raises(SignalError, match="no channel 'C'"):
        ir.channel("C")
    with pytest.raises(SignalError, match="NaN or Inf"):
        ImpulseResponse(samples=np.array([[1.0, np.nan]]), fs=48_000, channel_names=("L",))
    with pytest.raises(SignalError, match="2 channel names for 1"):
        ImpulseResponse(samples=np.zeros((1, 4)), fs=48_000, channel_names=("L", "R"))


def test_measurement_checks_rates_and_shapes():
    spec = SweepSpec(fs=48_000)
    with pytest.raises(SignalError, match="44100 Hz"):
        Measurement(recording=np.zeros((1, 10)), fs=44_100, sweep=spec, channel_names=("L",))
    with pytest.raises(SignalError, match="reference shape"):
        Measurement(recording=np.zeros((1, 10)), fs=48_000, sweep=spec, channel_names=("L",),
                    reference=np.zeros((1, 9)))


def test_frequency_response_shapes():
    fr = FrequencyResponse(freqs_hz=[10, 20, 30], magnitude_db=[1, 2, 3], channel_names=("L",))
    assert fr.magnitude_db.shape == (1, 3)
    with pytest.raises(SignalError, match="3 frequencies"):
        FrequencyResponse(freqs_hz=[10, 20, 30], magnitude_db=[1, 2], channel_names=("L",))


# ---------------------------------------------------------------- audio I/O
def test_wav_round_trip_float32_exact(tmp_path):
    rng = np.random.default_rng(1)
    x = (rng.standard_normal((2, 1000)) * 0.1).astype(np.float32).astype(np.float64)
    p = write_wav_atomic(tmp_path / "x.wav", x, fs=48_000)
    y, fs = read_audio(p)
    assert fs == 48_000
    np.testing.assert_array_equal(x, y)  # float32 WAV stores float32 exactly
    assert [q.name for q in tmp_path.iterdir()] == ["x.wav"]  # no temp files left behind


@pytest.mark.parametrize(
    "content, match",
    [(None, "no such file"), (b"hello, not audio", "not a readable audio file")],
)
def test_read_audio_errors(tmp_path, content, match):
    p = tmp_path / "bad.wav"
    if content is not None:
        p.write_bytes(content)
    with pytest.raises(SignalError, match=match):
        read_audio(p)


def test_read_audio_rejects_empty_and_nan(tmp_path):
    import soundfile as sf

    sf.write(tmp_path / "empty.wav", np.zeros((0, 1)), 48_000, subtype="FLOAT")
    with pytest.raises(SignalError, match="no audio samples"):
        read_audio(tmp_path / "empty.wav")
    sf.write(tmp_path / "nan.wav", np.array([0.0, np.nan, 0.0]), 48_000, subtype="FLOAT")
    with pytest.raises(SignalError, match="NaN or Inf"):
        read_audio(tmp_path / "nan.wav")
    with pytest.raises(SignalError, match="refusing to write"):
        write_wav_atomic(tmp_path / "out.wav", np.array([np.inf]), fs=48_000)
    assert not (tmp_path / "out.wav").exists()


def test_raw_float32_reader(tmp_path):
    x = np.array([0.5, -0.25, 1.0], dtype="<f4")
    (tmp_path / "a.pcm").write_bytes(x.tobytes())
    y = read_raw_float32(tmp_path / "a.pcm", fs=44_100)
    np.testing.assert_array_equal(y[0], x)
    (tmp_path / "b.pcm").write_bytes(b"\x00" * 7)
    with pytest.raises(SignalError, match="not a whole number of float32"):
        read_raw_float32(tmp_path / "b.pcm", fs=44_100)


def test_atomic_directory_leaves_nothing_on_failure(tmp_path):
    dest = tmp_path / "prof"
    with pytest.raises(RuntimeError):
        with atomic_directory(dest) as tmp:
            (tmp / "a.txt").write_text("half")
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_to_json_turns_nan_into_null():
    assert json.loads(to_json({"a": float("nan"), "b": np.float64(1.5), "c": np.arange(2)})) == {
        "a": None, "b": 1.5, "c": [0, 1]}


# ---------------------------------------------------------------- biquads (RBJ cookbook)
@pytest.mark.parametrize("fs", [44_100, 48_000, 96_000])
def test_peaking_biquad_gain_at_centre_and_unity_far_away(fs):
    bq = Biquad("peaking", 1000.0, gain_db=-6.0, q=2.0)
    w, h = sps.sosfreqz(bq.sos(fs=fs)[None, :], worN=[1000.0, 20.0, 15_000.0], fs=fs)
    db = 20 * np.log10(np.abs(h))
    assert db[0] == pytest.approx(-6.0, abs=1e-9)  # exact at f0 by construction
    assert abs(db[1]) < 0.05 and abs(db[2]) < 0.1  # far from f0 the section is transparent


def test_peaking_boost_and_cut_cancel():
    fs = 48_000
    sos = np.vstack([Biquad("peaking", 63.0, 8.0, 5.0).sos(fs=fs), Biquad("peaking", 63.0, -8.0, 5.0).sos(fs=fs)])
    _, h = sps.sosfreqz(sos, worN=512, fs=fs)
    assert np.max(np.abs(20 * np.log10(np.abs(h)))) < 1e-9  # RBJ: equal-Q boost and cut cancel


def test_shelves_reach_their_gain():
    fs = 48_000
    _, h = sps.sosfreqz(Biquad("lowshelf", 200.0, 4.0).sos(fs=fs)[None], worN=[5.0, 200.0, 20_000.0], fs=fs)
    db = 20 * np.log10(np.abs(h))
    assert db[0] == pytest.approx(4.0, abs=0.01) and db[1] == pytest.approx(2.0, abs=0.01) and abs(db[2]) < 0.01
    _, h = sps.sosfreqz(Biquad("highshelf", 5000.0, -3.0).sos(fs=fs)[None], worN=[20.0, 5000.0], fs=fs)
    db = 20 * np.log10(np.abs(h))
    assert abs(db[0]) < 0.01 and db[1] == pytest.approx(-1.5, abs=0.01)


def test_biquad_validation():
    with pytest.raises(ProfileError, match="unknown biquad type"):
        Biquad("bell", 100.0)
    with pytest.raises(ProfileError, match="Nyquist"):
        Biquad("peaking", 30_000.0, 1.0).sos(fs=48_000)
    assert peq_sos((), fs=48_000).shape == (1, 6)


# ---------------------------------------------------------------- profile
def _profile(fir: bool = True) -> CalibrationProfile:
    taps = np.zeros(64)
    taps[0] = 0.5
    taps[3] = 0.25
    spk = SpeakerCorrection(
        name="L", output_channel=0, trim_db=-1.0, delay_s=0.0001, polarity=1,
        peq=(Biquad("peaking", 47.0, -6.0, 8.0),), fir={48_000: taps, 44_100: taps[:32]} if fir else {},
    )
    ref = ImpulseResponse(samples=np.eye(2, 256), fs=48_000, channel_names=("L", "R"), arrival_samples=(0.0, 1.0))
    return CalibrationProfile(
        name="main", speakers=(spk, SpeakerCorrection(name="R", output_channel=1)), preamp_db=-3.0,
        reference=ref, provenance={"measurements": ["m1"]}, tolerances={"level_db": 0.5},
    )


def test_profile_save_load_round_trip_and_hash(tmp_path):
    prof = _profile()
    prof.save(tmp_path / "p")
    files = sorted(p.name for p in (tmp_path / "p").iterdir())
    assert files == ["fir_L.wav", "fir_L_44100.wav", "fir_L_48000.wav", "profile.json", "reference.ir.wav"]
    back = CalibrationProfile.load(tmp_path / "p")
    assert back.content_hash() == prof.content_hash()
    assert back.speaker("L").peq == prof.speaker("L").peq
    np.testing.assert_array_equal(back.reference.samples, prof.reference.samples)
    # the hash changes with anything that changes the sound ...
    changed = CalibrationProfile(name="main", speakers=prof.speakers, preamp_db=-3.5, reference=prof.reference)
    assert changed.content_hash() != prof.content_hash()
    # ... and not with the name
    assert prof.with_name("other").content_hash() == prof.content_hash()


def test_profile_load_detects_tampering_and_garbage(tmp_path):
    _profile().save(tmp_path / "p")
    taps, fs = read_audio(tmp_path / "p" / "fir_L_48000.wav")
    taps[0, 5] = 0.1
    write_wav_atomic(tmp_path / "p" / "fir_L_48000.wav", taps, fs=fs)
    with pytest.raises(ProfileError, match="content hash"):
        CalibrationProfile.load(tmp_path / "p")
    with pytest.raises(ProfileError, match="not a profile folder"):
        CalibrationProfile.load(tmp_path / "nothing")
    (tmp_path / "q").mkdir()
    (tmp_path / "q" / "profile.json").write_text("{not json")
    with pytest.raises(ProfileError, match="not valid JSON"):
        CalibrationProfile.load(tmp_path / "q")
    (tmp_path / "q" / "profile.json").write_text(json.dumps({"schema_version": 99}))
    with pytest.raises(ProfileError, match="schema version 99"):
        CalibrationProfile.load(tmp_path / "q")


def test_profile_save_refuses_non_empty_folder(tmp_path):
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "keep.txt").write_text("user data")
    with pytest.raises(SignalError, match="not empty"):
        _profile().save(tmp_path / "p")
    assert (tmp_path / "p" / "keep.txt").read_text() == "user data"


def test_speaker_validation():
    with pytest.raises(ProfileError, match="polarity"):
        SpeakerCorrection(name="L", output_channel=0, polarity=0)
    with pytest.raises(ProfileError, match="no spaces"):
        SpeakerCorrection(name="L R", output_channel=0)
    with pytest.raises(ProfileError, match="repeat"):
        CalibrationProfile(name="x", speakers=(SpeakerCorrection("L", 0), SpeakerCorrection("L", 1)))


def test_atomic_writes_get_normal_permissions(tmp_path):
    import os
    import stat

    mask = os.umask(0o022)
    try:
        p = write_wav_atomic(tmp_path / "a.wav", np.zeros(4), fs=48_000)
        with atomic_directory(tmp_path / "d") as d:
            (d / "f.txt").write_text("x")
    finally:
        os.umask(mask)
    assert stat.S_IMODE(p.stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "d").stat().st_mode) == 0o755


def test_fir_taps_that_are_not_float32_exact_survive_save_load(tmp_path):
    taps = np.random.default_rng(3).standard_normal(101) * 0.1  # float64, not float32-exact
    prof = CalibrationProfile(name="p", speakers=(SpeakerCorrection("L", 0, fir={48_000: taps}),))
    np.testing.assert_allclose(prof.speaker("L").fir[48_000], taps, rtol=1e-7)  # float32 precision
    prof.save(tmp_path / "p")
    assert CalibrationProfile.load(tmp_path / "p").content_hash() == prof.content_hash()


def test_unwritable_destination_names_the_folder_not_a_temp_file():
    """Root ignores permission bits, so the write runs as an unprivileged user (setpriv)."""
    import os
    import shutil
    import subprocess
    import sys
    import tempfile

    base = tempfile.mkdtemp(prefix="rt-perm-")
    try:
        os.chmod(base, 0o755)
        ro = os.path.join(base, "ro")
        os.mkdir(ro, 0o555)
        os.chmod(ro, 0o555)
        code = (
            "import sys, numpy as np\n"
            "from calib.audio_io import write_wav_atomic\n"
            "from calib.errors import StorageError\n"
            "try:\n"
            f"    write_wav_atomic({ro!r} + '/x.wav', np.zeros(4), fs=48000)\n"
            "except StorageError as e:\n"
            "    print(e); sys.exit(0)\n"
            "sys.exit(1)\n"
        )
        cmd = [sys.executable, "-c", code]
        if os.geteuid() == 0:
            setpriv = shutil.which("setpriv")
            if setpriv is None:
                pytest.skip("running as root without setpriv: cannot drop privileges")
            cmd = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", *cmd]
        env = dict(os.environ, PYTHONPATH=str(ROOT_DIR))
        p = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=base)
        assert p.returncode == 0, p.stderr
        assert p.stdout.strip().endswith(f"no permission to write in {ro}")
        assert os.listdir(ro) == []  # no temp file left behind
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_file_in_place_of_a_folder_is_a_storage_error(tmp_path):
    from calib.errors import StorageError

    (tmp_path / "f").write_text("a file")
    with pytest.raises(StorageError, match="is not a folder"):
        write_wav_atomic(tmp_path / "f" / "x.wav", np.zeros(4), fs=48_000)
    with pytest.raises(StorageError, match="is not a folder"):
        with atomic_directory(tmp_path / "f" / "d"):
            pass


@pytest.mark.parametrize("bad_fs, match", [("48k", "malformed"), (44_100, "profile.json says 44100 Hz")])
def test_profile_reference_rate_must_match_its_file(tmp_path, bad_fs, match):
    _profile().save(tmp_path / "p")
    pj = tmp_path / "p" / "profile.json"
    raw = json.loads(pj.read_text())
    raw["reference"]["fs"] = bad_fs
    pj.write_text(json.dumps(raw))
    with pytest.raises(ProfileError, match=match):
        CalibrationProfile.load(tmp_path / "p")
