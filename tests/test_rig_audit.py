"""Acceptance audit (issue 2, the rig): a noise file is not a room IR, and `rig start --ir`
runs at the IR's own rate unless --fs says otherwise (no JACK needed: start_rig is stubbed)."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from calib.errors import ConfigError, SignalError
from hardware import jackrig


def test_noise_is_refused_as_the_room_ir(tmp_path):
    p = tmp_path / "noise.wav"
    sf.write(p, np.random.default_rng(2).standard_normal((48_000, 2)) * 0.1, 48_000, subtype="FLOAT")
    with pytest.raises(SignalError, match="does not look like an impulse response"):
        jackrig._load_ir(p, 48_000)


def test_rig_start_defaults_to_the_ir_files_rate(run_cli, tmp_path, monkeypatch):
    seen = []

    def fake_start(ir, *, fs, period):
        seen.append(fs)
        raise ConfigError(f"stub at {fs} Hz")

    monkeypatch.setattr(jackrig, "start_rig", fake_start)
    x = np.zeros((2, 4410))
    x[:, 10] = 1.0
    p = tmp_path / "room44.wav"
    sf.write(p, x.T, 44_100, subtype="FLOAT")
    assert run_cli("rig", "start", "--ir", p)[0] == 2
    assert run_cli("rig", "start")[0] == 2                          # built-in room: 48 kHz
    assert run_cli("rig", "start", "--ir", p, "--fs", "96000")[0] == 2   # explicit rate kept
    assert seen == [44_100, 48_000, 96_000]
