"""Equalizer APO: parse AutoEq's sample with the same reader that checks our export."""

from __future__ import annotations

import numpy as np
import pytest

from calib.errors import ConfigError
from calib.exports.eqapo import format_eqapo, parse_eqapo
from calib.profile import Biquad, CalibrationProfile, SpeakerCorrection
from conftest import shared_data


def _profile(fir: bool = False) -> CalibrationProfile:
    peq = (Biquad("peaking", 46.4, -3.0, 12.6), Biquad("peaking", 86.8, -4.0, 13.61))
    return CalibrationProfile("t", (
        SpeakerCorrection("L", 0, trim_db=-0.5, delay_s=0.000152, peq=peq,
                          fir={48_000: np.r_[1.0, np.zeros(15)]} if fir else {}),
        SpeakerCorrection("R", 1, polarity=-1, peq=peq[:1])), preamp_db=-3.2)


def test_autoeq_sample_syntax_parses():
    text = shared_data("autoeq", "hd650_parametric_eq.txt").read_text()
    cfg = parse_eqapo(text)
    assert cfg["preamp_db"] == -6.1
    peq = cfg["channels"]["all"]["peq"]
    assert len(peq) == 10
    assert (peq[0].kind, peq[0].freq_hz, peq[0].gain_db, peq[0].q) == ("lowshelf", 105.0, 6.4, 0.70)
    assert (peq[5].kind, peq[5].freq_hz, peq[5].gain_db) == ("highshelf", 10000.0, -2.1)


def test_export_round_trip_peq():
    prof = _profile()
    cfg = parse_eqapo(format_eqapo(prof))
    assert cfg["preamp_db"] == -3.2
    L, R = cfg["channels"]["L"], cfg["channels"]["R"]
    assert [(b.freq_hz, b.gain_db, b.q) for b in L["peq"]] == [(46.4, -3.0, 12.6), (86.8, -4.0, 13.61)]
    assert L["preamp_db"] == -0.5 and L["delay_ms"] == pytest.approx(0.152, abs=1e-4)
    assert R["inverted"] and len(R["peq"]) == 1


def test_export_with_fir_uses_convolution():
    cfg = parse_eqapo(format_eqapo(_profile(fir=True)))
    assert cfg["channels"]["L"]["convolution"] == "fir_L_48000.wav"
    assert cfg["channels"]["L"]["peq"] == []


@pytest.mark.parametrize("text, match", [("Preamp: loud\n", "Preamp"), ("Filter 1: ON PK Fc x Hz\n", "malformed"),
                                         ("Bogus: 1\n", "unknown")])
def test_malformed(text, match):
    with pytest.raises(ConfigError, match=match):
        parse_eqapo(text)
