"""CamillaDSP export parses as YAML with the structure and vocabulary of CamillaDSP's own samples."""

from __future__ import annotations

import numpy as np
import pytest

from calib.exports.camilladsp import format_camilladsp
from calib.profile import Biquad, CalibrationProfile, SpeakerCorrection
from conftest import shared_data

yaml = pytest.importorskip("yaml")


def _profile(fir: bool) -> CalibrationProfile:
    peq = (Biquad("peaking", 46.4, -3.0, 12.6),)
    return CalibrationProfile("t", (
        SpeakerCorrection("L", 0, trim_db=-0.5, delay_s=0.0002, peq=peq,
                          fir={48_000: np.r_[1.0, np.zeros(15)]} if fir else {}),
        SpeakerCorrection("R", 1, polarity=-1, peq=peq)), preamp_db=-3.0)


def test_structure_matches_the_samples():
    simple = yaml.safe_load(shared_data("camilladsp", "simpleconfig.yml").read_text())
    biq = yaml.safe_load(shared_data("camilladsp", "all_biquads.yml").read_text())
    cfg = yaml.safe_load(format_camilladsp(_profile(fir=False)))
    assert set(cfg) == set(simple)  # devices, filters, mixers, pipeline
    assert set(simple["devices"]) >= {"samplerate", "chunksize", "capture", "playback"}
    assert cfg["devices"]["samplerate"] == 48_000
    assert set(cfg["devices"]["capture"]) == set(biq["devices"]["capture"])
    peaking = cfg["filters"]["peq_L_1"]
    sample = biq["filters"]["peaking_using_q"]
    assert peaking["type"] == sample["type"] == "Biquad"
    assert set(peaking["parameters"]) == set(sample["parameters"])
    assert peaking["parameters"] == {"type": "Peaking", "freq": 46.4, "gain": -3.0, "q": 12.6}
    m_ours, m_sample = cfg["mixers"]["route"], simple["mixers"]["monomix"]
    assert set(m_ours) == set(m_sample)
    assert set(m_ours["mapping"][0]) == set(m_sample["mapping"][0])
    assert set(m_ours["mapping"][0]["sources"][0]) == set(m_sample["mapping"][0]["sources"][0])
    steps = cfg["pipeline"]
    assert steps[0] == {"type": "Mixer", "name": "route"}
    assert set(steps[1]) == set(simple["pipeline"][1]) == {"type", "channels", "names"}
    assert steps[1]["channels"] == [0] and steps[1]["names"] == ["preamp", "trim_L", "delay_L", "peq_L_1"]
    assert cfg["filters"]["trim_R"]["parameters"]["inverted"] is True
    assert cfg["filters"]["delay_L"]["parameters"] == {"delay": 0.2, "unit": "ms", "subsample": True}
    assert cfg["filters"]["preamp"]["parameters"]["gain"] == -3.0


def test_fir_as_wav_conv():
    simple = yaml.safe_load(shared_data("camilladsp", "simpleconfig.yml").read_text())
    cfg = yaml.safe_load(format_camilladsp(_profile(fir=True)))
    conv = cfg["filters"]["fir_L"]
    assert conv["type"] == simple["filters"]["lowpass_fir"]["type"] == "Conv"
    assert conv["parameters"] == {"type": "Wav", "filename": "fir_L_48000.wav", "channel": 0}
    assert "peq_L_1" not in cfg["filters"] and "peq_R_1" in cfg["filters"]
