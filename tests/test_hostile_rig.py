"""Issue 17: ``rig start --channels`` names the virtual room's speakers, so ``measure --device
rig --channels`` takes the same names as ``measure --simulate-ir --channels`` (the hostile run:
'the virtual room has speakers S1, not L')."""

from __future__ import annotations

import json

import numpy as np
import pytest
from rig_fixture import rig_env  # noqa: F401  (fixture)

from calib.audio_io import write_wav_atomic

pytestmark = pytest.mark.jack


def test_rig_start_channels_names_the_speakers(rig_env, run_cli, tmp_path):  # noqa: F811
    from hardware.jackrig import _state_path

    ir = np.zeros((3, 4800))
    for c, d in enumerate((100, 110, 120)):
        ir[c, d] = 0.3
    f = tmp_path / "room3.wav"
    write_wav_atomic(f, ir, fs=48_000)
    # one name per IR channel, checked before anything starts
    code, out, err = run_cli("rig", "start", "--ir", f, "--channels", "L,R")
    assert code == 2 and "--channels names 2 speaker(s)" in err and err.count("\n") == 1
    assert not _state_path(rig_env).exists()
    code, out, err = run_cli("rig", "start", "--ir", f, "--channels", "L,L,C")
    assert code == 2 and "repeat" in err
    code, out, err = run_cli("rig", "start", "--ir", f, "--channels", "L,R,C", "--json")
    assert code == 0, err
    assert json.loads(out)["speaker_names"] == ["L", "R", "C"]
    code, out, err = run_cli("rig", "status", "--json")
    assert json.loads(out)["state"]["speaker_names"] == ["L", "R", "C"]
    code, out, err = run_cli("rig", "status")
    assert "L=1, R=2, C=3" in out
    code, out, err = run_cli("measure", "--device", "rig", "--channels", "C", "--sweep-s", "0.5",
                             "--out", tmp_path / "m", "--json")
    assert code == 0, err
    assert json.loads((tmp_path / "m" / "measurement.json").read_text())["channels"] == ["C"]
    code, out, err = run_cli("measure", "--device", "rig", "--channels", "S1", "--sweep-s", "0.5",
                             "--out", tmp_path / "m2")
    assert code == 2 and "the virtual room has speakers L, R, C, not S1" in err
