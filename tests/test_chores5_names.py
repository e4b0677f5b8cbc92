"""One rule for speaker/channel names (calib.names), each command keeping its own words:
``measure --channels`` speaks of channels, ``rig start --channels`` of the rig's speakers."""

from __future__ import annotations

import numpy as np
import pytest

from calib.audio_io import write_wav_atomic


def test_the_rule_itself():
    from calib.errors import ConfigError
    from calib.names import check_names

    assert check_names([" L", "R ", "SUB_1", "Ls-2", "A" * 16], noun="speaker", given="x") == (
        "L", "R", "SUB_1", "Ls-2", "A" * 16)
    for bad in ("1L", "_L", "L R", "L.R", "A" * 17, "", "Lé"):
        with pytest.raises(ConfigError, match=r"x: '.*' is not usable as speaker name; a name must start with a letter"):
            check_names(["L", bad], noun="speaker", given="x")
    with pytest.raises(ConfigError, match=r"'1a', '2b' are not usable as channel names"):
        check_names(["1a", "2b"], noun="channel", given="y")
    with pytest.raises(ConfigError, match=r"^y repeats channel names C, L; give each channel its own name$"):
        check_names(["L", "C", "L", "R", "C"], noun="channel", given="y")


@pytest.fixture
def three_speaker_ir(tmp_path):
    ir = np.zeros((3, 4800))
    for c, d in enumerate((100, 110, 120)):
        ir[c, d] = 0.3
    f = tmp_path / "room3.wav"
    write_wav_atomic(f, ir, fs=48_000)
    return f


def test_measure_channels_messages(run_cli, tmp_path, three_speaker_ir):
    out = tmp_path / "m"
    for spec, want in (("L,9x", "error: --channels 'L,9x': '9x' is not usable as channel name"),
                       ("L,R,L", "error: --channels 'L,R,L' repeats channel name L; give each channel its own name"),
                       (",", "error: --channels ',' names no channel")):
        code, _, err = run_cli("measure", "--simulate-ir", three_speaker_ir, "--channels", spec, "--out", out)
        assert code == 2 and err.startswith(want) and err.count("\n") == 1, err
        assert not out.exists()


def test_rig_start_channels_messages(run_cli, tmp_path, monkeypatch, three_speaker_ir):
    # refused before anything starts: no JACK needed, nothing left behind
    monkeypatch.setenv("ROOMTRUTH_RIG_DIR", str(tmp_path / "rigdir"))
    monkeypatch.setenv("ROOMTRUTH_RIG_SERVER", "rt-chores5-names")
    for spec, want in (("L,R,C-3.1", "error: rig start --channels 'L,R,C-3.1': 'C-3.1' is not usable as speaker name"),
                       ("L,L,C", "error: rig start --channels 'L,L,C' repeats speaker name L; give each speaker its "
                                 "own name")):
        code, _, err = run_cli("rig", "start", "--ir", three_speaker_ir, "--channels", spec)
        assert code == 2 and err.startswith(want) and err.count("\n") == 1, err
    assert not (tmp_path / "rigdir").exists()
