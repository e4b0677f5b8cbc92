"""room.toml validation, the init template, the workspace and the measurement folder format."""

from __future__ import annotations

import json
import tomllib

import numpy as np
import pytest

from calib.errors import ConfigError, SignalError
from calib.types import ImpulseResponse
from roomtruth.config import load_room_config, parse_room_config, room_template
from roomtruth.workspace import Workspace, load_measurement_dir, write_measurement_dir


def test_template_validates_and_round_trips(tmp_path):
    ws = Workspace.init(tmp_path / "room", name="Studio A")
    cfg = ws.load_config()
    assert cfg.name == "Studio A" and cfg.speaker_names == ("L", "R")
    assert cfg.mic_input_index == 0 and cfg.loopback_input_index == 1 and cfg.loopback_output_index is None
    assert cfg.max_level_dbfs == -6.0 and cfg.device == "simulated"
    spec = cfg.sweep_spec()
    assert spec.fs == 48000 and spec.level_dbfs == -12.0 and spec.f_stop_hz == 22000.0
    assert cfg.sweep_spec(fs=44100).f_stop_hz == 22000.0
    assert cfg.sweep_spec(fs=32000).f_stop_hz == 16000.0      # clipped at Nyquist
    for d in (ws.measurements_dir, ws.profiles_dir, ws.reports_dir):
        assert d.is_dir()
    with pytest.raises(ConfigError, match="already exists"):
        Workspace.init(tmp_path / "room")
    Workspace.init(tmp_path / "room", force=True)


def test_all_problems_listed_at_once():
    data = tomllib.loads(room_template())
    data["colour"] = "blue"                                   # unknown section
    data["interface"]["fs"] = 12                              # out of range
    data["interface"]["samplerate"] = 48000                   # unknown key
    data["sweep"]["level_dbfs"] = -3.0                        # above max_level_dbfs
    data["speakers"][1]["output"] = 1                         # output used twice
    data["speakers"][0]["gain"] = 3                           # unknown speaker key
    with pytest.raises(ConfigError) as exc:
        parse_room_config(data)
    msg = str(exc.value)
    assert msg.startswith("room.toml has 6 problems")
    for part in ("unknown section or key [colour]", "interface.fs is 12", "unknown key interface.samplerate",
                 "sweep.level_dbfs -3.0 is above safety.max_level_dbfs -6.0", "output 1 is used by two speakers",
                 "unknown key 'gain' in speakers #1"):
        assert part in msg


def test_type_errors_and_missing_file(tmp_path):
    p = tmp_path / "room.toml"
    p.write_text('[interface]\nmic_input = "one"\nloopback_input = 1\n[mic]\ncalibration_file = "nope.txt"\n')
    with pytest.raises(ConfigError, match=r"interface.mic_input is 'one'.*mic.calibration_file 'nope.txt' does not exist"):
        load_room_config(p)
    p.write_text("[room\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_room_config(p)
    with pytest.raises(ConfigError, match="no such file; create a room with `roomtruth init"):
        load_room_config(tmp_path / "nowhere")
    with pytest.raises(ConfigError, match="no such room folder"):
        Workspace(tmp_path / "nowhere").load_config()
    (tmp_path / "bare").mkdir()
    with pytest.raises(ConfigError, match="is not a room workspace"):
        Workspace(tmp_path / "bare").load_config()


def test_pass_through_sections_are_kept():
    data = tomllib.loads(room_template())
    data["correction"] = {"max_boost_db": 3.0}
    cfg = parse_room_config(data)
    assert cfg.sections["correction"] == {"max_boost_db": 3.0}


def _ir(n_ch=2):
    rng = np.random.default_rng(0)
    s = rng.standard_normal((n_ch, 2000)) * 0.01
    s[:, 300] = [0.5, -0.4][:n_ch]
    h = {2: rng.standard_normal((n_ch, 500)) * 1e-3, 3: rng.standard_normal((n_ch, 300)) * 1e-3}
    return ImpulseResponse(samples=s, fs=48000, channel_names=("L", "R")[:n_ch], onset_samples=240,
                           arrival_samples=(300.25, 300.5)[:n_ch], latency_samples=512.0, harmonics=h,
                           snr_db=(90.0, float("nan"))[:n_ch], meta={"stamp": "2026-11-25T18:00:00Z"})


def test_measurement_folder_round_trip(tmp_path):
    ir = _ir()
    out = write_measurement_dir(tmp_path / "m1", ir, backend="test", label="baseline")
    doc = json.loads((out / "measurement.json").read_text())
    assert doc["format"] == "roomtruth-measurement" and doc["snr_db"]["R"] is None   # NaN -> null
    back = load_measurement_dir(out)
    # float32 WAV: 6e-8 relative
    np.testing.assert_allclose(back.samples, ir.samples, rtol=0, atol=1e-7)
    assert back.onset_samples == 240 and back.arrival_samples == (300.25, 300.5)
    assert back.latency_samples == 512.0 and back.snr_db[0] == 90.0 and np.isnan(back.snr_db[1])
    assert set(back.harmonics) == {2, 3} and back.harmonics[2].shape == (2, 500)
    with pytest.raises(SignalError, match="exists and is not empty"):
        write_measurement_dir(tmp_path / "m1", ir)


def test_measurement_folder_errors(tmp_path):
    with pytest.raises(SignalError, match="no such measurement folder"):
        load_measurement_dir(tmp_path / "none")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SignalError, match="not a measurement folder"):
        load_measurement_dir(tmp_path / "empty")
    out = write_measurement_dir(tmp_path / "m", _ir())
    (out / "R.ir.wav").write_bytes(b"junk")
    with pytest.raises(SignalError, match="not a readable audio file"):
        load_measurement_dir(out)
    (out / "measurement.json").write_text("{")
    with pytest.raises(SignalError, match="damaged"):
        load_measurement_dir(out)


def test_workspace_measurement_dirs(tmp_path):
    ws = Workspace.init(tmp_path / "w")
    p = ws.new_measurement_dir("my label!")
    assert p.parent == ws.measurements_dir and p.name.endswith("-my-label")
    with pytest.raises(ConfigError, match="holds no measurement"):
        ws.latest_measurement()
    write_measurement_dir(p, _ir(1), label="my-label")
    assert ws.latest_measurement() == p


def test_positions_must_lie_inside_the_room():
    data = tomllib.loads(room_template())
    data["room"]["mic_position_m"] = [6.0, 1.0, 1.2]
    data["speakers"][0]["position_m"] = [0.5, -0.2, 1.2]
    with pytest.raises(ConfigError, match=r"2 problems.*mic_position_m \[6.0, 1.0, 1.2\] lies outside.*speaker L position_m"):
        parse_room_config(data)
